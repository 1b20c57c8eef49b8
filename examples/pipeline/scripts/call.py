"""Calls variants: a base that differs from the genome in a read of at
least the minimum quality. Prints `position base sample count`."""
import collections
import os
import sys

genome = open(os.path.join(os.path.dirname(__file__), "..", "data", "genome.txt")).read().strip()
min_quality = int(sys.argv[1])
counts = collections.Counter()
for path in sys.argv[2:]:
    sample = os.path.splitext(os.path.basename(path))[0]
    for line in open(path):
        position, read, quality = line.split()
        if int(quality) < min_quality:
            continue
        for offset, base in enumerate(read):
            at = int(position) + offset
            if genome[at] != base:
                counts[(at, base, sample)] += 1
print("position\tbase\tsample\tcount")
for (at, base, sample), n in sorted(counts.items()):
    print(f"{at}\t{base}\t{sample}\t{n}")
