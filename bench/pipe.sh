#!/usr/bin/env bash
# maestro map --pipe and --pipepart beside GNU parallel's: throughput of
# `wc -l` on blocks of a text file of MB MiB, against one `wc -l` of the whole
# file. One run, interleaved; every run's line counts must add up.
# Run from anywhere after `cargo build --release`; see bench/README.md.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/pipe.sh [--mb MB] [--jobs J] [--reps R] [--from-pipe] [--only REGEX] [--seed S]
                    [--baseline BIN]

  --mb MB        size of the input file in MiB, CSV-like lines (default 1024)
  --jobs J       job slots for every runner (default 2)
  --reps R       timed repetitions; each runs every runner once, shuffled (default 3)
  --from-pipe    feed the --pipe runners and wc_l through `cat FILE |` (stdin a pipe)
                 instead of `< FILE` (stdin the regular file itself)
  --only REGEX   run only runners whose name matches (Python regex, searched)
  --seed S       seed for the shuffled order (default: random, printed)
  --baseline BIN also time another maestro binary (say, one built from an earlier commit)
                 as maestro_pipe_base and maestro_pipepart_base, side by side in the same run
                 (skipped with a note if it refuses --pipe or --pipepart)

Runners, each counting the file's lines with `wc -l` on J slots: wc_l (`wc -l < FILE`,
one process, the 1.00x reference), maestro_pipe (`maestro map -jJ --pipe wc -l < FILE`),
parallel_pipe (`parallel --will-cite -jJ --pipe wc -l < FILE`), maestro_pipepart
(`maestro map -jJ --pipepart -a FILE wc -l`), parallel_pipepart (the same with GNU
parallel). The counts a run prints must add up to the file's line count, else it fails.
The file is written once under $TMPDIR (default /tmp) and removed at the end.
Quick check: bench/pipe.sh --mb 64 --reps 1.
Needs target/release/maestro: run `cargo build --release` first.
EOF
}

mb=1024 jobs=2 reps=3 from_pipe=0 only="" seed="" baseline=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --mb) mb="${2:?--mb needs a value}"; shift 2 ;;
        --jobs) jobs="${2:?--jobs needs a value}"; shift 2 ;;
        --reps) reps="${2:?--reps needs a value}"; shift 2 ;;
        --only) only="${2:?--only needs a value}"; shift 2 ;;
        --seed) seed="${2:?--seed needs a value}"; shift 2 ;;
        --baseline) baseline="${2:?--baseline needs a value}"; shift 2 ;;
        --from-pipe) from_pipe=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "pipe: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

# The helpers shared with the other benchmarks; messages start with "$prog:".
prog=pipe
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check_positive "mb:$mb" "jobs:$jobs" "reps:$reps"
if [[ -n $seed && ! $seed =~ ^[0-9]+$ ]]; then
    echo "pipe: --seed must be a non-negative integer, got '$seed'" >&2
    exit 2
fi

need_maestro
if [[ -n $baseline && ! -x $baseline ]]; then
    echo "pipe: --baseline $baseline is not an executable file" >&2
    exit 2
fi
need python3 wc cat git

parallel_bin=""
if command -v parallel >/dev/null 2>&1 && parallel --version 2>/dev/null | grep -q '^GNU parallel'; then
    parallel_bin="$(command -v parallel)"
else
    notes+=("GNU parallel not installed: skipping parallel_pipe and parallel_pipepart (apt-get install -y parallel)")
fi
if [[ -n ${PARALLEL-} ]]; then
    notes+=("PARALLEL is set in the environment ('$PARALLEL'): removed for every runner")
fi

header_start pipe
tool_line parallel "$parallel_bin"
tool_line wc
tool_line cat
header_end

args=(--mb "$mb" --jobs "$jobs" --reps "$reps" --only "$only" --maestro "$maestro"
      --wc "$(command -v wc)" --cat "$(command -v cat)" --parallel "$parallel_bin")
[[ -n $seed ]] && args+=(--seed "$seed")
[[ -n $baseline ]] && args+=(--baseline "$(realpath "$baseline")")
[[ $from_pipe == 1 ]] && args+=(--from-pipe)
exec python3 "$bench_dir/pipe.py" "${args[@]}"
