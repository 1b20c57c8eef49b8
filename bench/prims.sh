#!/usr/bin/env bash
# Primitives: round-trips of `maestro lock` and `maestro counter add` from
# several processes at once, beside flock(1) and GNU parallel's `sem` doing
# the same work. Run from anywhere after `cargo build --release`; see
# bench/README.md.
set -euo pipefail

usage() {
    cat <<'EOF_USAGE'
usage: bench/prims.sh [--procs P] [--ops K] [--sem-ops S] [--reps R]

  --procs P    processes at once (default 4)
  --ops K      operations per process for maestro and flock (default 250)
  --sem-ops S  operations per process for GNU parallel's sem, which takes
               about 0.2 s each (default 10)
  --reps R     timed repetitions of each runner (default 3)

Each process runs a shell loop of K operations; the wall time of all P
loops gives the time per operation. Lock: `maestro lock L -- true`,
`flock L true`, `sem --fg --id L true`. Counter: `maestro counter add c 1`,
and a file incremented under `flock` or `sem` (`read n < c; echo $((n+1)) >
c`); each counter run is checked to end at P x K. Needs
target/release/maestro, python3 and flock(1); GNU parallel is optional.
EOF_USAGE
}

procs=4 ops=250 sem_ops=10 reps=3
while [[ $# -gt 0 ]]; do
    case "$1" in
        --procs) procs="${2:?--procs needs a value}"; shift 2 ;;
        --ops) ops="${2:?--ops needs a value}"; shift 2 ;;
        --sem-ops) sem_ops="${2:?--sem-ops needs a value}"; shift 2 ;;
        --reps) reps="${2:?--reps needs a value}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "prims: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

# The helpers shared with the other benchmarks; messages start with "$prog:".
prog=prims
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check_positive "procs:$procs" "ops:$ops" "sem-ops:$sem_ops" "reps:$reps"

need_maestro
need python3 flock git
sem_bin=""
if command -v sem >/dev/null 2>&1 && sem --version 2>/dev/null | grep -q '^GNU parallel'; then
    sem_bin="$(command -v sem)"
else
    notes+=("GNU parallel's sem not installed: skipping the sem runners (apt-get install -y parallel)")
fi

header_start primitives
tool_line flock
tool_line sem "$sem_bin"
header_end

exec python3 "$bench_dir/prims.py" --procs "$procs" --ops "$ops" --sem-ops "$sem_ops" \
    --reps "$reps" --maestro "$maestro" --sem "$sem_bin"
