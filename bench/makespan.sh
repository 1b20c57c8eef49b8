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
for pair in "reps:$reps" "runs:$runs" "jobs:$jobs"; do
    if ! [[ ${pair#*:} =~ ^[1-9][0-9]*$ ]]; then
        echo "makespan: --${pair%%:*} must be a positive integer, got '${pair#*:}'" >&2
        exit 2
    fi
done
if (( runs < 2 )); then
    echo "makespan: --runs must be at least 2 (run 2 is the first with history), got '$runs'" >&2
    exit 2
fi
if ! [[ $scale =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)$ ]] || [[ $scale =~ ^[0.]+$ ]]; then
    echo "makespan: --scale must be a positive number, got '$scale'" >&2
    exit 2
fi

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$bench_dir/.." && pwd)"
maestro="$repo/target/release/maestro"
if [[ ! -x $maestro ]]; then
    echo "makespan: $maestro not found; run 'cargo build --release' first" >&2
    exit 2
fi

need() {
    command -v "$1" >/dev/null 2>&1 || { echo "makespan: '$1' is required but not installed" >&2; exit 2; }
}
need python3
need make
need sleep
need git

notes=()
commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if ! git -C "$repo" diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null; then
    commit="$commit (+ uncommitted changes in src/Cargo)"
fi
if [[ -n $(find "$repo/src" "$repo/Cargo.toml" -newer "$maestro" -print -quit 2>/dev/null) ]]; then
    notes+=("target/release/maestro is older than the source: run 'cargo build --release'")
fi

first() { "$@" 2>&1 | head -n1 || true; }
echo "== maestro makespan benchmark =="
echo "date:     $(date '+%Y-%m-%d %H:%M:%S %z')"
echo "host:     nproc $(nproc), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo "maestro:  commit $commit, $(first "$maestro" --version)"
echo "make:     $(first make --version)"
echo "sleep:    $(first sleep --version)"
echo "python:   $(first python3 --version)"
for note in "${notes[@]+"${notes[@]}"}"; do
    echo "note:     $note"
done

exec python3 "$bench_dir/makespan.py" --scale "$scale" --reps "$reps" --runs "$runs" \
    --jobs "$jobs" --maestro "$maestro" --make "$(command -v make)"
