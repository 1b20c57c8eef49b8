#!/usr/bin/env python3
"""Timing half of bench/prims.sh: lock and counter round-trips from several
processes at once, through maestro, flock(1) and GNU parallel's sem.

Called by prims.sh, which parses the options and finds the tools. Each
runner is P copies of a shell loop of K operations started together in a
fresh temporary directory; its time is the wall time until the last loop
ends, divided by P x K. Counter runners are checked to end at P x K: a
lost update fails the runner. Standard library only (Python 3.11).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True
from benchlib import clean_env, fmt_table  # noqa: E402

TARGET_VS_FLOCK = 2.0  # maestro lock at most this times flock(1) per round-trip
TARGET_VS_SEM = 10.0  # and at least this many times faster than sem

# `read n < c; echo $((n+1)) > c`: the increment a script does by hand.
INCREMENT = 'read n < c; echo $((n+1)) > c'


@dataclass
class Runner:
    name: str
    kind: str  # "lock" or "counter"
    operation: str  # one shell command, run K times per process
    ops: int
    per_op: list[float] = field(default_factory=list)
    failure: str | None = None


def runners(maestro: str, sem: str, ops: int, sem_ops: int) -> list[Runner]:
    found = [
        Runner("maestro_lock", "lock", f"'{maestro}' lock L -- true", ops),
        Runner("flock_lock", "lock", "flock L true", ops),
        Runner("maestro_counter", "counter", f"'{maestro}' counter add c 1 >/dev/null", ops),
        Runner("flock_counter", "counter", f"flock L sh -c '{INCREMENT}'", ops),
    ]
    if sem:
        found += [
            Runner("sem_lock", "lock", f"'{sem}' --will-cite --fg --id L true", sem_ops),
            # sem hands its arguments to a shell, joined: the increment goes whole.
            Runner("sem_counter", "counter", f"'{sem}' --will-cite --fg --id C '{INCREMENT}'", sem_ops),
        ]
    return found


def run_once(runner: Runner, procs: int, maestro: str) -> None:
    with tempfile.TemporaryDirectory(prefix="maestro-bench-prims-") as tmp:
        work = Path(tmp)
        (work / "c").write_text("0\n")
        env = clean_env()
        env["HOME"] = tmp  # sem keeps its state under ~/.parallel
        loop = f"i=0; while [ $i -lt {runner.ops} ]; do {runner.operation}; i=$((i+1)); done"
        start = time.perf_counter()
        children = [subprocess.Popen(["sh", "-c", loop], cwd=work, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                    for _ in range(procs)]
        errors = [child.communicate()[1] for child in children]
        wall = time.perf_counter() - start
        if any(child.returncode != 0 for child in children):
            runner.failure = "a loop failed: " + next(e for e in errors if e).decode()[:200]
            return
        if runner.kind == "counter":
            if runner.name.startswith("maestro"):
                got = subprocess.run([maestro, "counter", "get", "c"], cwd=work, env=env,
                                     capture_output=True, text=True).stdout.strip()
            else:
                got = (work / "c").read_text().strip()
            if got != str(procs * runner.ops):
                runner.failure = f"counter ended at {got}, not {procs * runner.ops}"
                return
        runner.per_op.append(wall / (procs * runner.ops))


def main() -> int:
    parser = argparse.ArgumentParser()
    for option in ("--procs", "--ops", "--sem-ops", "--reps"):
        parser.add_argument(option, type=int, required=True)
    parser.add_argument("--maestro", required=True)
    parser.add_argument("--sem", default="")
    args = parser.parse_args()

    all_runners = runners(args.maestro, args.sem, args.ops, args.sem_ops)
    print(f"plan:     {args.procs} processes at once, {args.ops} operations each "
          f"({args.sem_ops} for sem), {args.reps} reps\n")
    for rep in range(args.reps):
        for runner in all_runners:
            if runner.failure is None:
                run_once(runner, args.procs, args.maestro)
        print(f"  rep {rep + 1}/{args.reps} done")

    median = {r.name: statistics.median(r.per_op) for r in all_runners if r.per_op and not r.failure}
    rows = [["runner", "ops", "us/op", "ops/s", "x flock", "sem / it"]]
    for r in all_runners:
        if r.failure:
            rows.append([r.name, str(args.procs * r.ops), "FAILED", r.failure, "", ""])
            continue
        us = median[r.name]
        base = median.get(f"flock_{r.kind}")
        sem = median.get(f"sem_{r.kind}")
        rows.append([r.name, str(args.procs * r.ops), f"{us * 1e6:.0f}", f"{1 / us:.0f}",
                     f"{us / base:.2f}x" if base else "-", f"{sem / us:.1f}x" if sem else "-"])
    print()
    print(fmt_table(rows, right={1, 2, 3, 4, 5}))
    print("\nus/op: median over reps of wall time / (processes x operations); x flock: us/op over "
          "flock(1)'s for the same kind;\nsem / it: how many times faster than GNU parallel's sem.")
    # A competitor that loses updates is shown, not a failure of this
    # benchmark (GNU parallel's sem has been seen to, now and then).
    failed = any(r.failure for r in all_runners if r.name.startswith("maestro"))
    lock, flock = median.get("maestro_lock"), median.get("flock_lock")
    if lock and flock:
        verdict = "met" if lock / flock <= TARGET_VS_FLOCK else "MISSED"
        print(f"\ntarget: maestro lock within {TARGET_VS_FLOCK}x of flock(1): {lock / flock:.2f}x, {verdict}")
    sem_lock = median.get("sem_lock")
    if lock and sem_lock:
        verdict = "met" if sem_lock / lock >= TARGET_VS_SEM else "MISSED"
        print(f"target: at least {TARGET_VS_SEM:.0f}x faster than sem: {sem_lock / lock:.0f}x, {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
