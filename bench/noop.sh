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
for pair in "n:$n" "reps:$reps" "jobs:$jobs"; do
    if ! [[ ${pair#*:} =~ ^[1-9][0-9]*$ ]]; then
        echo "noop: --${pair%%:*} must be a positive integer, got '${pair#*:}'" >&2
        exit 2
    fi
done

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$bench_dir/.." && pwd)"
maestro="$repo/target/release/maestro"
if [[ ! -x $maestro ]]; then
    echo "noop: $maestro not found; run 'cargo build --release' first" >&2
    exit 2
fi

need() {
    command -v "$1" >/dev/null 2>&1 || { echo "noop: '$1' is required but not installed" >&2; exit 2; }
}
need python3
need cp
need git

ninja_bin=""
notes=()
if command -v ninja >/dev/null 2>&1; then
    ninja_bin="$(command -v ninja)"
else
    notes+=("ninja not installed: skipping ninja_j$jobs, so no ratio (apt-get install -y ninja-build)")
fi

commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if ! git -C "$repo" diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null; then
    commit="$commit (+ uncommitted changes in src/Cargo)"
fi
if [[ -n $(find "$repo/src" "$repo/Cargo.toml" -newer "$maestro" -print -quit 2>/dev/null) ]]; then
    notes+=("target/release/maestro is older than the source: run 'cargo build --release'")
fi

first() { "$@" 2>&1 | head -n1 || true; }
echo "== maestro no-op benchmark =="
echo "date:     $(date '+%Y-%m-%d %H:%M:%S %z')"
echo "host:     nproc $(nproc), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo "maestro:  commit $commit, $(first "$maestro" --version)"
if [[ -n $ninja_bin ]]; then echo "ninja:    $(first "$ninja_bin" --version)"; else echo "ninja:    not installed"; fi
echo "cp:       $(first cp --version)"
echo "python:   $(first python3 --version)"
for note in "${notes[@]+"${notes[@]}"}"; do
    echo "note:     $note"
done

exec python3 "$bench_dir/noop.py" --n "$n" --reps "$reps" --jobs "$jobs" \
    --maestro "$maestro" --ninja "$ninja_bin"
