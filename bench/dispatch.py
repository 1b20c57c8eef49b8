#!/usr/bin/env python3
"""Timing half of bench/dispatch.sh: dispatch overhead of N no-op jobs.

Called by dispatch.sh, which parses the options, builds the spawn loop and
finds the tools; run it through that script. This file generates the
fixtures in a temporary directory, runs every runner once untimed, then R
repetitions, each running every selected runner once in a shuffled order,
and prints the table. Standard library only (Python 3.11).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# The shared helpers sit beside this file (and leave no __pycache__ there).
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True
from benchlib import (  # noqa: E402
    Outcome, clean_env, failure, fmt_table, measure_shuffled, report_file_create, run_timed,
    selection_and_order,
)


@dataclass
class Runner:
    name: str
    argv: list[str]
    cwd: Path
    stdin: Path | None = None
    # Paths (files or directories) deleted before every run, untimed.
    reset: list[Path] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warmup_failure: str | None = None


def reset(runner: Runner) -> None:
    for path in runner.reset:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def run_once(runner: Runner, env: dict[str, str], timeout: float) -> Outcome:
    reset(runner)
    stdin = open(runner.stdin, "rb") if runner.stdin else subprocess.DEVNULL
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        code, wall, expired = run_timed(runner.argv, runner.cwd, env, timeout, stdin)
        cpu = 0.0  # not counted for a run killed on timeout
        if not expired:
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    finally:
        if runner.stdin:
            stdin.close()
    what = failure(code, expired, timeout)
    return Outcome(what is None, wall, cpu, what or "ok")


def write_fixtures(root: Path, n: int, jobs: int) -> None:
    width = len(str(n - 1))
    names = [f"t{i:0{width}d}" for i in range(n)]

    (root / "inputs.txt").write_text("".join(f"{i}\n" for i in range(n)))

    make = [".PHONY: all " + " ".join(names), "all: " + " ".join(names)]
    make += [f"{t}:\n\ttrue" for t in names]
    (root / "Makefile").write_text("\n".join(make) + "\n")

    # Outputs are never created, so every run redoes every edge.
    ninja = ["rule r", "  command = true", ""]
    ninja += [f"build out_{t}: r" for t in names]
    ninja += ["", "default " + " ".join(f"out_{t}" for t in names)]
    (root / "build.ninja").write_text("\n".join(ninja) + "\n")

    flow = [f'[tasks.{t}]\ncmd = "true"' for t in names]
    for suffix in ("", "_base"):
        (root / f"run{suffix}").mkdir()
        (root / f"run{suffix}" / "flow.toml").write_text("\n".join(flow) + "\n")
        (root / f"par{suffix}").mkdir()


def build_runners(root: Path, a: argparse.Namespace) -> list[Runner]:
    n, j = a.n, a.jobs
    runners = [
        Runner("raw_spawn_loop", [a.spawnloop, str(n), str(j), a.true_bin], root),
        Runner(
            "raw_spawn_loop_logs",
            [a.spawnloop, "--logs", "logs", str(n), str(j), a.true_bin],
            root,
        ),
        Runner(f"make_j{j}", [a.make, "-s", f"-j{j}", "-f", "Makefile"], root),
    ]
    if a.ninja:
        runners.append(
            Runner(
                f"ninja_j{j}",
                [a.ninja, "--quiet", f"-j{j}", "-f", "build.ninja"],
                root,
                reset=[root / ".ninja_log", root / ".ninja_deps"],
            )
        )
    runners.append(
        Runner(f"xargs_P{j}", [a.xargs, f"-P{j}", "-n1", "true"], root, stdin=root / "inputs.txt")
    )
    # maestro's .maestro/ (one log dir per run) is kept between runs, as a
    # user's is. Deleting thousands of just-written logs before each run would
    # measure ext4 instead: its inode allocator then scans the recently freed
    # inodes on every create (seen: over half of maestro's CPU time).
    binaries = [("", a.maestro)] + ([("_base", a.baseline)] if a.baseline else [])
    for suffix, maestro in binaries:
        runners.append(
            Runner(
                f"maestro_par{suffix}",
                [maestro, "par", "-j", str(j), "--output", "quiet"] + ["true"] * n,
                root / f"par{suffix}",
            )
        )
        runners.append(
            Runner(
                f"maestro_run{suffix}",
                [maestro, "run", "-f", "flow.toml", "-j", str(j), "--output", "quiet"],
                root / f"run{suffix}",
            )
        )
    if a.parallel:
        runners.append(
            Runner(
                f"parallel_j{j}",
                [a.parallel, "--will-cite", f"-j{j}", "true"],
                root,
                stdin=root / "inputs.txt",
            )
        )
    return runners


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--jobs", type=int, required=True)
    p.add_argument("--reps", type=int, required=True)
    p.add_argument("--only", default="")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--spawnloop", required=True)
    p.add_argument("--true-bin", required=True)
    p.add_argument("--maestro", required=True)
    p.add_argument("--make", required=True)
    p.add_argument("--xargs", required=True)
    p.add_argument("--ninja", default="")
    p.add_argument("--parallel", default="")
    p.add_argument("--baseline", default="")
    a = p.parse_args()

    chosen = selection_and_order("dispatch", a.only, a.seed)
    if chosen is None:
        return 2
    only, seed, rng = chosen
    env = clean_env()
    # Generous: the slowest runner (GNU parallel) needs ~5 ms per job.
    timeout = max(120.0, a.n * 0.05)

    with tempfile.TemporaryDirectory(prefix="maestro-bench-") as tmp:
        root = Path(tmp)
        write_fixtures(root, a.n, a.jobs)
        runners = [r for r in build_runners(root, a) if only.search(r.name)]
        if not runners:
            print(f"dispatch: --only {a.only!r} selects no runner", file=sys.stderr)
            return 2
        print(f"runners:  {' '.join(r.name for r in runners)}")
        print(f"plan:     N={a.n} jobs, {a.jobs} slots, 1 warm-up + {a.reps} reps, "
              f"shuffled order per rep (seed {seed})")
        report_file_create(root)
        print()

        measure_shuffled(runners, a.reps, rng, lambda r: run_once(r, env, timeout))

    def median_of(name: str) -> float | None:
        r = next((r for r in runners if r.name == name), None)
        return statistics.median(r.walls) if r and r.walls and not r.failures else None

    base = next((r for r in runners if r.name == "raw_spawn_loop"), None)
    base_med = median_of("raw_spawn_loop")
    logs_med = median_of("raw_spawn_loop_logs")

    header = ["runner", "ok", "median s", "min-max s", "us/job", "x raw", "x logs", "cpu s",
              "cpu us/job"]
    rows = [header]
    for r in runners:
        ok = f"{len(r.walls)}/{a.reps}"
        if r.failures or not r.walls:
            reasons = sorted(set(r.failures))
            rows.append([r.name, ok, "FAILED", ", ".join(reasons) or "no run", "", "", "", "", ""])
            continue
        med = statistics.median(r.walls)
        cpu = statistics.median(r.cpus)
        ratio = f"{med / base_med:.2f}x" if base_med else "-"
        logs_ratio = f"{med / logs_med:.2f}x" if logs_med else "-"
        rows.append([
            r.name,
            ok,
            f"{med:.3f}",
            f"{min(r.walls):.3f}-{max(r.walls):.3f}",
            f"{med / a.n * 1e6:.0f}",
            ratio,
            logs_ratio,
            f"{cpu:.2f}",
            f"{cpu / a.n * 1e6:.0f}",
        ])
    print()
    print(fmt_table(rows, right={1, 2, 3, 4, 5, 6, 7, 8}))
    print()
    print("median/min-max: wall seconds of the whole run; us/job: median / N; "
          "x raw: median / raw_spawn_loop median;")
    print("x logs: median / raw_spawn_loop_logs median (the floor for a runner that keeps "
          "a log file per job, as maestro does);")
    print("cpu: median user+sys seconds of the runner's whole process tree. "
          "A runner with any failed run is shown FAILED, not timed.")
    warm = [r for r in runners if r.warmup_failure]
    for r in warm:
        print(f"note: warm-up of {r.name} failed ({r.warmup_failure})")
    if base is None:
        print("note: raw_spawn_loop not selected by --only, so no ratios")
    return 1 if any(r.failures or not r.walls for r in runners) else 0


if __name__ == "__main__":
    sys.exit(main())
