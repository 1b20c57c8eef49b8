"""A text histogram of the variants per sample."""
import collections
import sys

per_sample = collections.Counter()
for line in list(open(sys.argv[1]))[1:]:
    per_sample[line.split("\t")[2]] += int(line.split("\t")[3])
for sample, n in sorted(per_sample.items()):
    print(f"{sample} {'#' * n} {n}")
