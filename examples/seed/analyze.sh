#!/bin/sh
# Reads every simulation's result file and prints their mean. The totals also
# arrive as variables, from what each simulation wrote to $MAESTRO_OUTPUT.
set -eu
sum=0
for file in "$@"; do
    sum=$(( sum + $(cat "$file") ))
done
echo "mean of $# simulations: $(( sum / $# ))"
echo "simulate_a reported total=$MAESTRO_DEP_SIMULATE_A_TOTAL"
