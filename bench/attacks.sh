#!/usr/bin/env bash
# maestro attacked: random SIGKILLs, kill-and-resume trials, floods, many
# tasks, killed lock holders; counts printed at the end (see bench/README.md).
#   bench/attacks.sh            # full: about an hour
#   bench/attacks.sh --quick    # bounded: minutes (what CI runs)
set -euo pipefail
prog=attacks
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_maestro
need python3
exec python3 "$bench_dir/attacks.py" --maestro "$maestro" "$@"
