#!/bin/sh
# A stand-in for a long simulation: takes NAME and SECONDS, "computes" a
# total, writes it to out/NAME.txt and reports it to maestro as an output.
set -eu
name=$1
seconds=$2
echo "simulation $name: running for ${seconds}s"
sleep "$seconds"
total=$(( $(printf '%s' "$name" | od -An -tu1 | tr -d ' ') * 100 + seconds ))
mkdir -p out
echo "$total" > "out/$name.txt"
echo "total=$total" >> "$MAESTRO_OUTPUT"
echo "simulation $name: total $total"
