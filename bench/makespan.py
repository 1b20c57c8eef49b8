#!/usr/bin/env python3
"""Timing half of bench/makespan.sh: does recorded history shorten the makespan?

Called by makespan.sh, which parses the options and finds the tools; run it
through that script. Each repetition generates the flow and the equivalent
Makefile in a fresh temporary directory, times `make -jJ` once, then
`maestro run` K times in that same directory (run 1 with a fresh `.maestro/`,
so no history; run k with the durations recorded by runs 1..k-1), and prints
the medians against the lower bound max(critical path, total work / J).
Standard library only (Python 3.11).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# The shared helpers sit beside this file (and leave no __pycache__ there).
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True
from benchlib import (binary_id, clean_env, failure, fmt_table,  # noqa: E402
                      report_rebuilt, run_timed)

# The graph at scale 1: (name, seconds, deps), in declaration order. The short
# tasks come first and the long one last, so a scheduler that knows no
# durations (ties broken by declaration order) starts the long task late.
SHORT_TASKS, SHORT_S, CHAIN_S, LONG_S = 16, 0.5, 0.25, 4.0


@dataclass
class Task:
    name: str
    seconds: float
    sleep_arg: str
    deps: list[str]


@dataclass
class Runner:
    name: str
    label: str
    argv: list[str]
    walls: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    ok: bool
    wall: float
    detail: str


def make_tasks(scale: float) -> list[Task]:
    def task(name: str, seconds: float, deps: list[str]) -> Task:
        arg = f"{seconds * scale:.6g}"
        # The bound is computed from what `sleep` is actually given.
        return Task(name, float(arg), arg, deps)

    width = len(str(SHORT_TASKS))
    tasks = [task(f"s{i:0{width}d}", SHORT_S, []) for i in range(1, SHORT_TASKS + 1)]
    tasks += [task("c1", CHAIN_S, []), task("c2", CHAIN_S, ["c1"]), task("c3", CHAIN_S, ["c2"])]
    tasks.append(task("long", LONG_S, []))
    return tasks


def remaining_path(tasks: list[Task], weight: dict[str, float]) -> dict[str, float]:
    """Longest path from each task to the end, the task's own weight included."""
    succs: dict[str, list[str]] = {t.name: [] for t in tasks}
    for t in tasks:
        for d in t.deps:
            succs[d].append(t.name)
    memo: dict[str, float] = {}

    def rp(name: str) -> float:
        if name not in memo:
            memo[name] = weight[name] + max((rp(s) for s in succs[name]), default=0.0)
        return memo[name]

    return {t.name: rp(t.name) for t in tasks}


def list_schedule(tasks: list[Task], jobs: int, weight: dict[str, float]) -> float:
    """Makespan of an ideal list scheduler: whenever a slot is free, start the
    ready task with the longest remaining path by `weight` (ties: declaration
    order), with the true durations and no overhead."""
    prio = remaining_path(tasks, weight)
    order = {t.name: k for k, t in enumerate(tasks)}
    by_name = {t.name: t for t in tasks}
    done: set[str] = set()
    started: set[str] = set()
    running: list[tuple[float, str]] = []
    now = 0.0
    while len(done) < len(tasks):
        ready = [t.name for t in tasks
                 if t.name not in started and all(d in done for d in t.deps)]
        ready.sort(key=lambda n: (-prio[n], order[n]))
        for name in ready[: jobs - len(running)]:
            started.add(name)
            running.append((now + by_name[name].seconds, name))
        now = min(end for end, _ in running)
        done.update(name for end, name in running if end == now)
        running = [(end, name) for end, name in running if end != now]
    return now


def write_fixtures(root: Path, tasks: list[Task], jobs: int) -> None:
    flow = [f"jobs = {jobs}"]
    for t in tasks:
        flow += ["", f"[tasks.{t.name}]", f'cmd = "sleep {t.sleep_arg}"']
        if t.deps:
            flow.append("deps = [" + ", ".join(f'"{d}"' for d in t.deps) + "]")
    (root / "maestro.toml").write_text("\n".join(flow) + "\n")

    names = " ".join(t.name for t in tasks)
    make = [f".PHONY: all {names}", f"all: {names}"]
    for t in tasks:
        make.append(f"{t.name}:{''.join(' ' + d for d in t.deps)}\n\tsleep {t.sleep_arg}")
    (root / "Makefile").write_text("\n".join(make) + "\n")


def run_once(argv: list[str], cwd: Path, env: dict[str, str], timeout: float,
             bound: float) -> Outcome:
    code, wall, expired = run_timed(argv, cwd, env, timeout)
    what = failure(code, expired, timeout)
    if what:
        return Outcome(False, wall, what)
    # Every task sleeps, so no correct run can beat the bound: a faster one
    # skipped tasks or ran more than J at once, and its time means nothing.
    if wall < bound * 0.99:
        return Outcome(False, wall, f"{wall:.3f}s, under the lower bound: tasks skipped "
                                    "or more than J run at once")
    return Outcome(True, wall, "ok")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scale", type=float, required=True)
    p.add_argument("--reps", type=int, required=True)
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--jobs", type=int, required=True)
    p.add_argument("--maestro", required=True)
    p.add_argument("--make", required=True)
    a = p.parse_args()

    tasks = make_tasks(a.scale)
    seconds = {t.name: t.seconds for t in tasks}
    total = sum(seconds.values())
    critical = max(remaining_path(tasks, seconds).values())
    bound = max(critical, total / a.jobs)
    blind = list_schedule(tasks, a.jobs, {t.name: 1.0 for t in tasks})
    informed = list_schedule(tasks, a.jobs, seconds)
    env = clean_env()
    timeout = 30.0 + 3 * total
    maestro_id = binary_id(a.maestro)

    j = a.jobs
    maestro_argv = [a.maestro, "run", "-f", "maestro.toml", "-j", str(j), "--output", "quiet"]
    make = Runner(f"make_j{j}", f"make -j{j}", [a.make, "-s", f"-j{j}", "-f", "Makefile"])
    runs = [
        Runner(f"maestro_run{k}",
               f"maestro run {k} " + ("(no history)" if k == 1 else
                                      f"(history: {k - 1} run{'s' if k > 2 else ''})"),
               maestro_argv)
        for k in range(1, a.runs + 1)
    ]
    runners = [make] + runs

    short, chain, long = tasks[0], tasks[SHORT_TASKS], tasks[-1]
    print(f"graph:    {SHORT_TASKS} x sleep {short.sleep_arg} (declared first), chain "
          f"c1->c2->c3 of sleep {chain.sleep_arg}, 1 x sleep {long.sleep_arg} (declared last); "
          f"scale {a.scale:g}")
    print(f"bound:    {bound:.3f}s = max(critical path {critical:.3f}s, "
          f"total work {total:.3f}s / {j} slots)")
    print(f"ideal:    a list scheduler by longest remaining path (ties: declaration order), "
          f"no overhead, gives")
    print(f"          {blind:.3f}s ({blind / bound:.2f}x) counting every task the same (no history), "
          f"{informed:.3f}s ({informed / bound:.2f}x) with the true durations")
    print(f"plan:     {a.reps} reps, each in a fresh directory: make -j{j} once, then "
          f"maestro run {a.runs} times in a row (fresh .maestro/ before run 1)")
    print()

    with tempfile.TemporaryDirectory(prefix="maestro-bench-") as tmp:
        for rep in range(1, a.reps + 1):
            root = Path(tmp) / f"rep{rep}"
            root.mkdir()
            write_fixtures(root, tasks, j)
            parts = []
            for r in runners:
                out = run_once(r.argv, root, env, timeout, bound)
                if out.ok:
                    r.walls.append(out.wall)
                    parts.append(f"{r.name} {out.wall:.3f}s")
                else:
                    r.failures.append(out.detail)
                    parts.append(f"{r.name} FAILED ({out.detail})")
            print(f"  rep {rep}/{a.reps}: " + ", ".join(parts), flush=True)

    def expected(r: Runner) -> str:
        if r is make:
            return "-"
        return f"{(blind if r is runs[0] else informed) / bound:.2f}x"

    header = ["runner", "ok", "median s", "min-max s", "x bound", "ideal x"]
    rows = [header, ["lower bound", "", f"{bound:.3f}", "", "1.00x", ""]]
    medians: dict[str, float] = {}
    for r in runners:
        ok = f"{len(r.walls)}/{a.reps}"
        if r.failures or not r.walls:
            reasons = sorted(set(r.failures))
            rows.append([r.label, ok, "FAILED", ", ".join(reasons) or "no run", "", ""])
            continue
        med = statistics.median(r.walls)
        medians[r.name] = med
        rows.append([
            r.label,
            ok,
            f"{med:.3f}",
            f"{min(r.walls):.3f}-{max(r.walls):.3f}",
            f"{med / bound:.2f}x",
            expected(r),
        ])
    print()
    print(fmt_table(rows, right={1, 2, 3, 4, 5}))
    print()
    print("median/min-max: wall seconds of the whole process (the makespan); x bound: median / "
          "lower bound;")
    print("ideal x: what the list scheduler above would give, for comparison. A runner with any "
          "failed run is shown FAILED, not timed.")

    run1, run2 = medians.get("maestro_run1"), medians.get("maestro_run2")
    if run1 is None or run2 is None:
        print("target:   not judged: maestro run 1 or run 2 failed")
    else:
        met = run2 <= 1.05 * bound and run1 > 1.05 * bound
        print(f"target:   run 2 within 1.05x of the bound while run 1 is not: "
              f"{'MET' if met else 'MISSED'} (run 1 {run1 / bound:.2f}x, "
              f"run 2 {run2 / bound:.2f}x)")
    failed = any(r.failures or not r.walls for r in runners)
    if report_rebuilt(a.maestro, maestro_id):
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
