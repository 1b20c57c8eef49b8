#!/usr/bin/env bash
# Slurm: N tiny tasks through maestro's Slurm executor beside what a user
# would write by hand: a loop of one `sbatch` per task, then `sbatch --wait`
# on a job that waits for them all. On a one-machine Slurm the limit is
# Slurm's scheduling (about one job per CPU slot per second), so the ratio
# says what maestro's submitting and polling cost on top. Also counts the
# status queries maestro made (squeue and sacct, through counting wrappers
# put first on PATH). Needs a running Slurm (scripts/slurm-cluster.sh start)
# and target/release/maestro (cargo build --release).
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/slurm.sh [--tasks N]

  --tasks N   tiny tasks (`true`) per side (default 200)
EOF
}

tasks=200
while [[ $# -gt 0 ]]; do
    case "$1" in
        --tasks) tasks="${2:?--tasks needs a value}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "slurm: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

prog=slurm
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check_positive "tasks:$tasks"
need_maestro
need_slurm

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }

# The raw loop: one sbatch per task, then wait for all with sbatch --wait.
mkdir -p "$work/raw" && cd "$work/raw"
start=$(now)
ids=()
for ((i = 1; i <= tasks; i++)); do
    ids+=("$(sbatch --parsable -o /dev/null --wrap true)")
done
deps=$(IFS=:; echo "${ids[*]}")
sbatch --wait --parsable -o /dev/null --dependency="afterany:$deps" --wrap true >/dev/null
raw=$(echo "$(now) - $start" | bc)

# maestro, with wrappers counting its status queries.
mkdir -p "$work/bin" "$work/flow"
for command in squeue sacct; do
    real=$(command -v "$command")
    printf '#!/bin/sh\necho x >> %s/%s.count\nexec %s "$@"\n' "$work" "$command" "$real" >"$work/bin/$command"
    chmod +x "$work/bin/$command"
done
items=$(seq 1 "$tasks" | sed 's/.*/"&"/' | paste -sd, -)
cat >"$work/flow/maestro.toml" <<EOF
executor = "slurm"
[tasks.tiny]
for_each = [$items]
cmd = "true"
EOF
cd "$work/flow"
start=$(now)
PATH="$work/bin:$PATH" "$maestro" run -j "$tasks" --output quiet
ours=$(echo "$(now) - $start" | bc)
count() { if [[ -f $work/$1.count ]]; then wc -l <"$work/$1.count"; else echo 0; fi; }

printf 'tasks: %d\n' "$tasks"
printf 'sbatch loop + sbatch --wait: %6.1f s\n' "$raw"
printf 'maestro --executor slurm:    %6.1f s  (%.2fx the loop)\n' "$ours" "$(echo "$ours / $raw" | bc -l)"
printf 'maestro status queries:      %d squeue, %d sacct\n' "$(count squeue)" "$(count sacct)"
