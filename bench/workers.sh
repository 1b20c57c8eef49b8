#!/usr/bin/env bash
# Workers: N tiny tasks (`true`) through `maestro run --executor slurm
# --workers 1` (one allocation of this machine's CPUs), beside the same
# tasks as one Slurm job each (timed on a sample of them: at about one
# scheduling pass per CPU slot, all N would take minutes) and a local
# `maestro run` on the same CPUs. Counts the sbatch calls the workers'
# run made. Needs a running Slurm (scripts/slurm-cluster.sh start) and
# target/release/maestro (cargo build --release).
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/workers.sh [--tasks N] [--sample M] [--reps R]

  --tasks N    tiny tasks through the workers and locally (default 1000)
  --sample M   tasks run as one job each, to time that way (default 100)
  --reps R     runs of the workers and of the local run, alternating (default 5)
EOF
}

tasks=1000
sample=100
reps=5
while [[ $# -gt 0 ]]; do
    case "$1" in
        --tasks) tasks="${2:?--tasks needs a value}"; shift 2 ;;
        --sample) sample="${2:?--sample needs a value}"; shift 2 ;;
        --reps) reps="${2:?--reps needs a value}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "workers: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

prog=workers
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check_positive "tasks:$tasks" "sample:$sample" "reps:$reps"
need_maestro
need_slurm
cpus=$(nproc)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }

# Submissions counted by a wrapper first on PATH.
mkdir -p "$work/bin"
real=$(command -v sbatch)
printf '#!/bin/sh\ntest "$1" = --parsable && echo x >> %s/sbatch.count\nexec %s "$@"\n' "$work" "$real" >"$work/bin/sbatch"
chmod +x "$work/bin/sbatch"

flow() { # DIR COUNT [EXTRA TOML]
    mkdir -p "$1"
    local items
    items=$(seq 1 "$2" | sed 's/.*/"&"/' | paste -sd, -)
    printf '%s\n[tasks.tiny]\nfor_each = [%s]\ncmd = "true"\n' "${3:-}" "$items" >"$1/maestro.toml"
}
# DIR COMMAND...: "wall steady" seconds: the whole run, and from the first
# task's start to the last one's end (its --json events say when).
timed() {
    local dir=$1 start wall
    shift
    rm -rf "$dir/.maestro"
    start=$(now)
    (cd "$dir" && PATH="$work/bin:$PATH" "$@" --json >"$work/events" 2>/dev/null)
    wall=$(echo "$(now) - $start" | bc)
    steady=$(python3 - "$work/events" <<'PY'
import json, sys
first, last = None, None
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event"] != "task_finished":
        continue
    ran = e["started_ms"] * 1000 + e["queued_us"]
    end = ran + e["duration_us"]
    first = ran if first is None else min(first, ran)
    last = end if last is None else max(last, end)
print((last - first) / 1e6)
PY
)
    echo "$wall $steady"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

flow "$work/jobs" "$sample"
flow "$work/workers" "$tasks" "[slurm]
worker_cpus = $cpus"
flow "$work/local" "$tasks"

per_job=$(timed "$work/jobs" "$maestro" run --executor slurm -j "$sample" | cut -d' ' -f1)
: >"$work/workers.times"
: >"$work/local.times"
for ((rep = 1; rep <= reps; rep++)); do
    rm -f "$work/sbatch.count"
    timed "$work/workers" "$maestro" run --executor slurm --workers 1 >>"$work/workers.times"
    calls=$(wc -l <"$work/sbatch.count")
    timed "$work/local" "$maestro" run -j "$cpus" >>"$work/local.times"
done
w_wall=$(cut -d' ' -f1 "$work/workers.times" | median)
w_steady=$(cut -d' ' -f2 "$work/workers.times" | median)
l_wall=$(cut -d' ' -f1 "$work/local.times" | median)
l_steady=$(cut -d' ' -f2 "$work/local.times" | median)

ratio() { echo "$1 / $2" | bc -l; }
us() { echo "$1 * 1000000 / $tasks" | bc -l; }
jobs_rate=$(ratio "$sample" "$per_job")
printf 'tasks: %d, %d CPUs, medians of %d runs each (one job per task: %d tasks, once)\n' \
    "$tasks" "$cpus" "$reps" "$sample"
printf 'one Slurm job per task: %8.1f tasks/s\n' "$jobs_rate"
printf '                         %-28s %s\n' "whole run" "first task's start to last end"
printf 'workers (1 allocation): %6.0f tasks/s %6.0f us/task   %6.0f tasks/s %6.0f us/task  (%d sbatch calls)\n' \
    "$(ratio "$tasks" "$w_wall")" "$(us "$w_wall")" "$(ratio "$tasks" "$w_steady")" "$(us "$w_steady")" "$calls"
printf 'local maestro run:      %6.0f tasks/s %6.0f us/task   %6.0f tasks/s %6.0f us/task\n' \
    "$(ratio "$tasks" "$l_wall")" "$(us "$l_wall")" "$(ratio "$tasks" "$l_steady")" "$(us "$l_steady")"
printf 'workers against one job per task: %.0fx (whole run)\n' "$(echo "$tasks / $w_wall / $jobs_rate" | bc -l)"
printf 'workers against local: %.2fx (whole run), %.2fx (first start to last end)\n' \
    "$(ratio "$l_wall" "$w_wall")" "$(ratio "$l_steady" "$w_steady")"
