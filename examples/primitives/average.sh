#!/bin/sh
# average.sh: the average of what the partial sums added up to.
set -eu
maestro=${MAESTRO:-maestro}
sum=$("$maestro" counter get "sum-$MAESTRO_RUN")
count=$("$maestro" counter get "count-$MAESTRO_RUN")
sort partials.txt
awk -v sum="$sum" -v count="$count" 'BEGIN { printf "average of %d numbers: %.1f\n", count, sum / count }'
