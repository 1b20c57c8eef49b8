#!/usr/bin/env bash
# A layered random DAG of no-op tasks (`true`): the same graph through make,
# ninja and maestro, executed on J slots and dry-run, wall time and peak RSS
# of each tool's own process.
# Run from anywhere after `cargo build --release`; see bench/README.md.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/dag.sh [--n N] [--layers L] [--jobs J] [--reps R] [--only REGEX] [--seed S]
                    [--dry-n N] [--quick] [--baseline BIN]

  --n N           tasks of the executed DAG (default 100000)
  --layers L      layers of the DAG, N/L tasks each (default 100)
  --jobs J        job slots for the executing runners (default 2)
  --reps R        timed repetitions; each runs every runner once, shuffled (default 3)
  --only REGEX    run only runners whose name matches (Python regex, searched)
  --seed S        seed of the DAG and of the shuffled order (default 1)
  --dry-n N       tasks of the DAG given to the dry-run runners (default 1000000)
  --quick         the bounded form, for CI: --n 10000 --dry-n 100000 --reps 1
                  (options given beside it win)
  --baseline BIN  also time another maestro binary (say, one built from an earlier commit)
                  as maestro_run_jJ_base and maestro_dryrun_base, side by side in the same run

Every task of a layer after the first depends on 1 to 3 random tasks of the layer before.
Runners: make_jJ, ninja_jJ (if ninja is installed), maestro_run_jJ, and the dry runs
make_dryrun, ninja_dryrun, maestro_dryrun. The full form takes several minutes and ~1 GB
of temporary files (under $TMPDIR, removed at the end).
Needs target/release/maestro: run `cargo build --release` first.
EOF
}

n="" layers=100 jobs=2 reps="" only="" seed=1 dry_n="" quick=0 baseline=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --n) n="${2:?--n needs a value}"; shift 2 ;;
        --layers) layers="${2:?--layers needs a value}"; shift 2 ;;
        --jobs) jobs="${2:?--jobs needs a value}"; shift 2 ;;
        --reps) reps="${2:?--reps needs a value}"; shift 2 ;;
        --only) only="${2:?--only needs a value}"; shift 2 ;;
        --seed) seed="${2:?--seed needs a value}"; shift 2 ;;
        --dry-n) dry_n="${2:?--dry-n needs a value}"; shift 2 ;;
        --quick) quick=1; shift ;;
        --baseline) baseline="${2:?--baseline needs a value}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "dag: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
if [[ $quick == 1 ]]; then
    n="${n:-10000}" dry_n="${dry_n:-100000}" reps="${reps:-1}"
else
    n="${n:-100000}" dry_n="${dry_n:-1000000}" reps="${reps:-3}"
fi

# The helpers shared with the other benchmarks; messages start with "$prog:".
prog=dag
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check_positive "n:$n" "layers:$layers" "jobs:$jobs" "reps:$reps" "dry-n:$dry_n"
if ! [[ $seed =~ ^[0-9]+$ ]]; then
    echo "dag: --seed must be a non-negative integer, got '$seed'" >&2
    exit 2
fi

need_maestro
if [[ -n $baseline && ! -x $baseline ]]; then
    echo "dag: --baseline $baseline is not an executable file" >&2
    exit 2
fi
need python3 make git
find_ninja "ninja_j$jobs and ninja_dryrun, so no RSS ratios"

header_start dag
tool_line make
tool_line ninja "$ninja_bin"
if [[ -n $baseline ]]; then
    tool_line baseline "$baseline"
fi
header_end

args=(--n "$n" --layers "$layers" --jobs "$jobs" --reps "$reps" --only "$only"
      --seed "$seed" --dry-n "$dry_n" --maestro "$maestro" --make "$(command -v make)"
      --ninja "$ninja_bin")
[[ -n $baseline ]] && args+=(--baseline "$(realpath "$baseline")")
exec python3 "$bench_dir/dag.py" "${args[@]}"
