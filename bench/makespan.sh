#!/usr/bin/env bash
# Makespan: does recorded history make maestro's scheduling better? One long
# task declared last among many short ones, on J slots: maestro run 1 (no
# history), run 2, run 3 (with history) and make -jJ against the lower bound.
# Run from anywhere after `cargo build --release`; see bench/README.md.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/makespan.sh [--scale S] [--reps R] [--runs K] [--jobs J]

  --scale S   multiply every sleep by S (default 1.0; 0.2 for a quick check)
  --reps R    repetitions, each in a fresh fixture directory (default 3)
  --runs K    maestro runs per repetition in the same directory: run 1 has no
              history, run k has the durations of runs 1..k-1 (default 3, at least 2)
  --jobs J    job slots for maestro and make (default 2)

The flow (sleep lengths at scale 1): 16 independent tasks `sleep 0.5` declared
first, a chain c1 -> c2 -> c3 of `sleep 0.25`, then one task `sleep 4` declared
last; no inputs or outputs, so every task runs every time. The lower bound is
max(critical path, total work / J). Also times `make -jJ` on the same graph.
Needs target/release/maestro: run `cargo build --release` first.
EOF
}

scale=1.0 reps=3 runs=3 jobs=2
while [[ $# -gt 0 ]]; do
    case "$1" in
        --scale) scale="${2:?--scale needs a value}"; shift 2 ;;
        --reps) reps="${2:?--reps needs a value}"; shift 2 ;;
        --runs) runs="${2:?--runs needs a value}"; shift 2 ;;
        --jobs) jobs="${2:?--jobs needs a value}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "makespan: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

# The helpers shared with the other benchmarks; messages start with "$prog:".
prog=makespan
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check_positive "reps:$reps" "runs:$runs" "jobs:$jobs"
if (( runs < 2 )); then
    echo "makespan: --runs must be at least 2 (run 2 is the first with history), got '$runs'" >&2
    exit 2
fi
if ! [[ $scale =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)$ ]] || [[ $scale =~ ^[0.]+$ ]]; then
    echo "makespan: --scale must be a positive number, got '$scale'" >&2
    exit 2
fi

need_maestro
need python3 make sleep git

header_start makespan
tool_line make
tool_line sleep
header_end

exec python3 "$bench_dir/makespan.py" --scale "$scale" --reps "$reps" --runs "$runs" \
    --jobs "$jobs" --maestro "$maestro" --make "$(command -v make)"
