"""Maps each read (sequence and quality) to where it fits the genome best:
prints `position sequence quality`, one line per read."""
import sys

genome = open(sys.argv[1]).read().strip()
for line in open(sys.argv[2]):
    read, quality = line.split()
    best = min(range(len(genome) - len(read) + 1),
               key=lambda p: sum(a != b for a, b in zip(read, genome[p:p + len(read)])))
    print(best, read, quality)
