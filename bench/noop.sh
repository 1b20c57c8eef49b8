#!/usr/bin/env bash
# No-op run: N up-to-date tasks (cp in/i.txt out/i.txt, with declared input
# and output), `maestro run` beside ninja's no-op build of the same N edges:
# wall time and peak memory of the second, nothing-to-do run.
# Run from anywhere after `cargo build --release`; see bench/README.md.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/noop.sh [--n N] [--reps R] [--jobs J]

  --n N       tasks (and ninja edges) (default 10000; 2000 for a quick check)
  --reps R    timed no-op runs of each tool, alternating which goes first (default 5)
  --jobs J    job slots for both (default 2)

Each task copies in/i.txt to out/i.txt and declares both. After one untimed
full build with each tool, R no-op runs are timed: maestro run -f maestro.toml
-jJ --output quiet, and ninja -jJ -f build.ninja (skipped with a note if ninja
is not installed). A run that rewrites any output is not a no-op and is shown
FAILED. Needs target/release/maestro: run `cargo build --release` first.
EOF
}

n=10000 reps=5 jobs=2
while [[ $# -gt 0 ]]; do
    case "$1" in
        --n) n="${2:?--n needs a value}"; shift 2 ;;
        --reps) reps="${2:?--reps needs a value}"; shift 2 ;;
        --jobs) jobs="${2:?--jobs needs a value}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "noop: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

# The helpers shared with the other benchmarks; messages start with "$prog:".
prog=noop
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check_positive "n:$n" "reps:$reps" "jobs:$jobs"

need_maestro
need python3 cp git
find_ninja "ninja_j$jobs, so no ratio"

header_start no-op
tool_line ninja "$ninja_bin"
tool_line cp
header_end

exec python3 "$bench_dir/noop.py" --n "$n" --reps "$reps" --jobs "$jobs" \
    --maestro "$maestro" --ninja "$ninja_bin"
