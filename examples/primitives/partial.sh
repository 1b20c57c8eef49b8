#!/bin/sh
# partial.sh PART: sums part PART (1 to 5) of the numbers 1..1000 and adds
# the sum and the count to this run's shared counters.
set -eu
maestro=${MAESTRO:-maestro}
part=$1
first=$(( (part - 1) * 200 + 1 ))
last=$(( part * 200 ))
sum=0
count=0
i=$first
while [ "$i" -le "$last" ]; do
    sum=$(( sum + i ))
    count=$(( count + 1 ))
    i=$(( i + 1 ))
done
# Named after the run: each run starts from zero.
"$maestro" counter add "sum-$MAESTRO_RUN" "$sum" > /dev/null
"$maestro" counter add "count-$MAESTRO_RUN" "$count" > /dev/null
# One writer at a time: the lines never mix.
"$maestro" lock partials -- sh -c "echo 'part $part: $count numbers from $first, sum $sum' >> partials.txt"
echo "part $part added $sum"
