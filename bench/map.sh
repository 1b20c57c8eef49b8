#!/usr/bin/env bash
# maestro map, the GNU parallel drop-in: dispatch overhead of N no-op jobs on
# J slots against a raw posix_spawn loop, xargs, GNU parallel (and rush); then
# throughput with 1 MiB of output per job against `cat`. One run, interleaved.
# Run from anywhere after `cargo build --release`; see bench/README.md.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/map.sh [--n N] [--jobs J] [--reps R] [--files M] [--only REGEX] [--no-parallel] [--seed S]
                   [--baseline BIN]

  --n N          no-op jobs per dispatch run (default 5000)
  --jobs J       job slots for every runner (default 2)
  --reps R       timed repetitions; each runs every runner once, shuffled (default 5)
  --files M      throughput: jobs of 1 MiB of output each (default 200)
  --only REGEX   run only runners whose name matches (Python regex, searched)
  --no-parallel  leave GNU parallel out (the slowest runner: ~7x the raw loop)
  --seed S       seed for the shuffled order (default: random, printed)
  --baseline BIN also time another maestro binary (say, one built from an earlier commit)
                 as maestro_map_base and maestro_map_k_base, side by side in the same run

Dispatch runners (N jobs `true <n>`, inputs 1..N on stdin): raw_spawn_loop (the 1.00x
reference), maestro_map, xargs_PJ, parallel_jJ (if installed), rush_jJ (if installed).
Throughput runners (M files of 1 MiB, stdout into a pipe this script reads): cat (the
1.00x reference), maestro_map_k (`maestro map -k -jJ cat ::: FILES`), parallel_k.
Needs target/release/maestro: run `cargo build --release` first.
EOF
}

n=5000 jobs=2 reps=5 files=200 only="" no_parallel=0 seed="" baseline=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --n) n="${2:?--n needs a value}"; shift 2 ;;
        --jobs) jobs="${2:?--jobs needs a value}"; shift 2 ;;
        --reps) reps="${2:?--reps needs a value}"; shift 2 ;;
        --files) files="${2:?--files needs a value}"; shift 2 ;;
        --only) only="${2:?--only needs a value}"; shift 2 ;;
        --seed) seed="${2:?--seed needs a value}"; shift 2 ;;
        --baseline) baseline="${2:?--baseline needs a value}"; shift 2 ;;
        --no-parallel) no_parallel=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "map: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

# The helpers shared with the other benchmarks; messages start with "$prog:".
prog=map
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check_positive "n:$n" "jobs:$jobs" "reps:$reps" "files:$files"
if [[ -n $seed && ! $seed =~ ^[0-9]+$ ]]; then
    echo "map: --seed must be a non-negative integer, got '$seed'" >&2
    exit 2
fi

need_maestro
if [[ -n $baseline && ! -x $baseline ]]; then
    echo "map: --baseline $baseline is not an executable file" >&2
    exit 2
fi
need python3 cc xargs cat git
find_true
build_spawnloop

parallel_bin=""
if [[ $no_parallel == 1 ]]; then
    notes+=("--no-parallel: parallel_j$jobs and parallel_k left out")
elif command -v parallel >/dev/null 2>&1 && parallel --version 2>/dev/null | grep -q '^GNU parallel'; then
    parallel_bin="$(command -v parallel)"
else
    notes+=("GNU parallel not installed: skipping parallel_j$jobs and parallel_k (apt-get install -y parallel)")
fi
rush_bin=""
if command -v rush >/dev/null 2>&1; then
    rush_bin="$(command -v rush)"
else
    notes+=("rush not installed: skipped rush_j$jobs")
fi

header_start map
tool_line xargs
tool_line cat
if [[ $no_parallel == 0 ]]; then
    tool_line parallel "$parallel_bin"
fi
tool_line rush "$rush_bin"
tool_line cc
header_end

args=(--n "$n" --jobs "$jobs" --reps "$reps" --files "$files" --only "$only"
      --spawnloop "$spawnloop" --true-bin "$true_bin" --maestro "$maestro"
      --xargs "$(command -v xargs)" --cat "$(command -v cat)"
      --parallel "$parallel_bin" --rush "$rush_bin")
[[ -n $seed ]] && args+=(--seed "$seed")
[[ -n $baseline ]] && args+=(--baseline "$(realpath "$baseline")")
exec python3 "$bench_dir/map.py" "${args[@]}"
