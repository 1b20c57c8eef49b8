#!/usr/bin/env bash
# Dispatch overhead: N no-op jobs (`true`) on J slots through each runner,
# interleaved in one run, against a raw posix_spawn loop as the floor.
# Run from anywhere after `cargo build --release`; see bench/README.md.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/dispatch.sh [--n N] [--jobs J] [--reps R] [--only REGEX] [--with-parallel] [--seed S]
                        [--baseline BIN]

  --n N            no-op jobs per run (default 5000)
  --jobs J         job slots for every runner (default 2)
  --reps R         timed repetitions; each runs every runner once, shuffled (default 5)
  --only REGEX     run only runners whose name matches (Python regex, searched)
  --with-parallel  also time GNU parallel (slow: ~8x the raw loop)
  --seed S         seed for the shuffled order (default: random, printed)
  --baseline BIN   also time another maestro binary (say, one built from an earlier commit)
                   as maestro_par_base and maestro_run_base, side by side in the same run

Runners: raw_spawn_loop, raw_spawn_loop_logs, make_jJ, ninja_jJ (if ninja is installed), xargs_PJ,
maestro_par, maestro_run, parallel_jJ (with --with-parallel, if installed).
Needs target/release/maestro: run `cargo build --release` first.
EOF
}

n=5000 jobs=2 reps=5 only="" with_parallel=0 seed="" baseline=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --n) n="${2:?--n needs a value}"; shift 2 ;;
        --jobs) jobs="${2:?--jobs needs a value}"; shift 2 ;;
        --reps) reps="${2:?--reps needs a value}"; shift 2 ;;
        --only) only="${2:?--only needs a value}"; shift 2 ;;
        --seed) seed="${2:?--seed needs a value}"; shift 2 ;;
        --baseline) baseline="${2:?--baseline needs a value}"; shift 2 ;;
        --with-parallel) with_parallel=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "dispatch: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

# The helpers shared with the other benchmarks; messages start with "$prog:".
prog=dispatch
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check_positive "n:$n" "jobs:$jobs" "reps:$reps"
if [[ -n $seed && ! $seed =~ ^[0-9]+$ ]]; then
    echo "dispatch: --seed must be a non-negative integer, got '$seed'" >&2
    exit 2
fi

need_maestro
if [[ -n $baseline && ! -x $baseline ]]; then
    echo "dispatch: --baseline $baseline is not an executable file" >&2
    exit 2
fi
need python3 cc make xargs git
find_true
build_spawnloop

find_ninja "ninja_j$jobs"
parallel_bin=""
if [[ $with_parallel == 1 ]]; then
    if command -v parallel >/dev/null 2>&1 && parallel --version 2>/dev/null | grep -q '^GNU parallel'; then
        parallel_bin="$(command -v parallel)"
    else
        notes+=("GNU parallel not installed: skipping parallel_j$jobs (apt-get install -y parallel)")
    fi
fi

header_start dispatch
tool_line make
tool_line ninja "$ninja_bin"
tool_line xargs
if [[ $with_parallel == 1 ]]; then
    tool_line parallel "$parallel_bin"
fi
tool_line cc
header_end

args=(--n "$n" --jobs "$jobs" --reps "$reps" --only "$only"
      --spawnloop "$spawnloop" --true-bin "$true_bin" --maestro "$maestro"
      --make "$(command -v make)" --xargs "$(command -v xargs)"
      --ninja "$ninja_bin" --parallel "$parallel_bin")
[[ -n $seed ]] && args+=(--seed "$seed")
[[ -n $baseline ]] && args+=(--baseline "$(realpath "$baseline")")
exec python3 "$bench_dir/dispatch.py" "${args[@]}"
