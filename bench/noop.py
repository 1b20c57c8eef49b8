#!/usr/bin/env python3
"""Timing half of bench/noop.sh: a no-op run of N tasks beside ninja's.

Called by noop.sh, which parses the options and finds the tools; run it
through that script. This file generates, in a temporary directory, one
directory per tool holding N input files and the flow (maestro.toml) or
build.ninja copying each to an output; runs one untimed full build with each
tool and checks every output; then times R no-op runs of each, alternating
which tool goes first, and checks that no run rewrote any output. Peak
memory is the tool's ru_maxrss from os.wait4 on its pid (the tool is started
through a small sh, see run_once). Standard library only (Python 3.11).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# The shared helpers sit beside this file (and leave no __pycache__ there).
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True
from benchlib import (become_subreaper, binary_id, clean_env, fmt_table,  # noqa: E402
                      report_rebuilt, run_rusage)

TARGET_RATIO = 2.0  # maestro's no-op median at most this times ninja's
TARGET_MB = 100.0  # and its peak RSS under this (MB = 10^6 bytes)


@dataclass
class Runner:
    name: str
    argv: list[str]
    cwd: Path
    # ninja says "no work to do" on stdout when it has nothing to run.
    expect_stdout: str | None = None
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    build_failure: str | None = None
    # Runs that succeeded but rewrote outputs: real times, but not of a no-op.
    rebuild_walls: list[float] = field(default_factory=list)
    rebuild_rss_kib: list[int] = field(default_factory=list)
    mtimes: list[int] = field(default_factory=list)


@dataclass
class Outcome:
    ok: bool
    wall: float
    cpu: float
    maxrss_kib: int
    detail: str


def mb(kib: int) -> float:
    return kib * 1024 / 1e6


def run_once(runner: Runner, env: dict[str, str], timeout: float, noop: bool) -> Outcome:
    """One run, its peak RSS measured as benchlib.run_rusage says."""
    stdout_path = runner.cwd.parent / f"{runner.name}.stdout"
    out = run_rusage(runner.argv, runner.cwd, env, timeout,
                     stdout=stdout_path if runner.expect_stdout else None)
    if not out.ok:
        return Outcome(False, out.wall, out.cpu, out.maxrss_kib, out.detail)
    if noop and runner.expect_stdout:
        text = stdout_path.read_text(errors="replace")
        if runner.expect_stdout not in text:
            what = f"no '{runner.expect_stdout}' on stdout"
            return Outcome(False, out.wall, out.cpu, out.maxrss_kib, what)
    return Outcome(True, out.wall, out.cpu, out.maxrss_kib, "ok")


def write_fixtures(tool_dir: Path, n: int, jobs: int, ninja: bool) -> None:
    (tool_dir / "in").mkdir(parents=True)
    (tool_dir / "out").mkdir()
    for i in range(n):
        (tool_dir / "in" / f"{i}.txt").write_text(f"input {i}\n")
    if ninja:
        lines = ["rule cp", "  command = cp $in $out", ""]
        lines += [f"build out/{i}.txt: cp in/{i}.txt" for i in range(n)]
        (tool_dir / "build.ninja").write_text("\n".join(lines) + "\n")
    else:
        width = len(str(n - 1))
        flow = [f"jobs = {jobs}"]
        for i in range(n):
            flow += [
                "",
                f"[tasks.t{i:0{width}d}]",
                f'cmd = "cp in/{i}.txt out/{i}.txt"',
                f'inputs = ["in/{i}.txt"]',
                f'outputs = ["out/{i}.txt"]',
            ]
        (tool_dir / "maestro.toml").write_text("\n".join(flow) + "\n")


def check_outputs(tool_dir: Path, n: int) -> str | None:
    """None if every out/i.txt is a copy of in/i.txt, else what is wrong."""
    bad = 0
    for i in range(n):
        out = tool_dir / "out" / f"{i}.txt"
        try:
            same = out.read_bytes() == (tool_dir / "in" / f"{i}.txt").read_bytes()
        except FileNotFoundError:
            same = False
        bad += not same
    return f"{bad}/{n} outputs missing or wrong" if bad else None


def output_mtimes(tool_dir: Path, n: int) -> list[int]:
    return [os.stat(tool_dir / "out" / f"{i}.txt").st_mtime_ns for i in range(n)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--reps", type=int, required=True)
    p.add_argument("--jobs", type=int, required=True)
    p.add_argument("--maestro", required=True)
    p.add_argument("--ninja", default="")
    a = p.parse_args()

    become_subreaper()
    env = clean_env()
    maestro_id = binary_id(a.maestro)
    # Generous: a full build takes well under 1 ms per task.
    timeout = max(120.0, a.n * 0.05)
    j = a.jobs

    with tempfile.TemporaryDirectory(prefix="maestro-bench-") as tmp:
        root = Path(tmp)
        runners = [
            Runner("maestro_run",
                   [a.maestro, "run", "-f", "maestro.toml", "-j", str(j), "--output", "quiet"],
                   root / "maestro"),
        ]
        if a.ninja:
            runners.append(Runner(f"ninja_j{j}", [a.ninja, f"-j{j}", "-f", "build.ninja"],
                                  root / "ninja", expect_stdout="no work to do"))
        for r in runners:
            write_fixtures(r.cwd, a.n, j, ninja=r.name.startswith("ninja"))
        # What the launcher alone costs: /bin/true started the same way.
        true_bin = shutil.which("true") or "/bin/true"
        floor = Runner("launcher_floor", [true_bin], root / "maestro")
        floor_runs = [run_once(floor, env, timeout, noop=False) for _ in range(5)]
        if not all(o.ok for o in floor_runs):
            print("noop: cannot launch /bin/true through sh: "
                  + ", ".join(o.detail for o in floor_runs), file=sys.stderr)
            return 2
        floor_ms = statistics.median(o.wall for o in floor_runs) * 1e3
        floor_mb = mb(max(o.maxrss_kib for o in floor_runs))
        print(f"runners:  {' '.join(r.name for r in runners)}")
        print(f"plan:     N={a.n} tasks (cp in/i.txt out/i.txt), {j} slots, 1 untimed full "
              f"build, then {a.reps} no-op reps, alternating which tool goes first")
        print(f"floor:    {true_bin} launched the same way: {floor_ms:.1f} ms, peak RSS "
              f"{floor_mb:.1f} MB (part of every time and RSS below)")
        print()

        for r in runners:
            out = run_once(r, env, timeout, noop=False)
            wrong = check_outputs(r.cwd, a.n) if out.ok else None
            if not out.ok or wrong:
                r.build_failure = out.detail if not out.ok else wrong
            else:
                r.mtimes = output_mtimes(r.cwd, a.n)
            print(f"  full build {r.name:<12} {out.wall:7.3f}s  peak RSS {mb(out.maxrss_kib):6.1f} MB"
                  f"  {r.build_failure or 'ok, every output checked'}", flush=True)
        live = [r for r in runners if r.build_failure is None]
        if not live:
            print("  no no-op reps: every full build failed")
        for rep in range(1, a.reps + 1 if live else 1):
            order = live if rep % 2 else live[::-1]
            parts = []
            for r in order:
                out = run_once(r, env, timeout, noop=True)
                rewrote = 0
                if out.ok:
                    mtimes = output_mtimes(r.cwd, a.n)
                    rewrote = sum(old != new for old, new in zip(r.mtimes, mtimes))
                    r.mtimes = mtimes
                if out.ok and not rewrote:
                    r.walls.append(out.wall)
                    r.cpus.append(out.cpu)
                    r.rss_kib.append(out.maxrss_kib)
                    parts.append(f"{r.name} {out.wall * 1e3:.1f} ms {mb(out.maxrss_kib):.1f} MB")
                elif out.ok:
                    r.failures.append("not a no-op: rewrote outputs")
                    r.rebuild_walls.append(out.wall)
                    r.rebuild_rss_kib.append(out.maxrss_kib)
                    parts.append(f"{r.name} NOT A NO-OP ({rewrote}/{a.n} outputs rewritten, "
                                 f"{out.wall:.3f}s)")
                else:
                    r.failures.append(out.detail)
                    parts.append(f"{r.name} FAILED ({out.detail})")
            print(f"  rep {rep}/{a.reps}: " + ", ".join(parts), flush=True)
        created = sum(len(files) for _, _, files in os.walk(root))

    def good(r: Runner | None) -> bool:
        return r is not None and bool(r.walls) and not r.failures and r.build_failure is None

    maestro = runners[0]
    ninja = runners[1] if len(runners) > 1 else None
    ninja_med = statistics.median(ninja.walls) if good(ninja) else None

    header = ["runner", "ok", "median ms", "min-max ms", "us/task", "x ninja", "cpu ms",
              "peak RSS MB", "target"]
    rows = [header]
    for r in runners:
        ok = f"{len(r.walls)}/{a.reps}"
        target = f"<= {TARGET_RATIO:g}x, < {TARGET_MB:g} MB" if r is maestro else ""
        if not good(r):
            reasons = ([f"full build: {r.build_failure}"] if r.build_failure
                       else sorted(set(r.failures)) or ["no run"])
            rows.append([r.name, ok, "FAILED", ", ".join(reasons), "", "", "", "", target])
            continue
        med = statistics.median(r.walls)
        rows.append([
            r.name,
            ok,
            f"{med * 1e3:.1f}",
            f"{min(r.walls) * 1e3:.1f}-{max(r.walls) * 1e3:.1f}",
            f"{med / a.n * 1e6:.0f}",
            f"{med / ninja_med:.2f}x" if ninja_med else "-",
            f"{statistics.median(r.cpus) * 1e3:.1f}",
            f"{mb(max(r.rss_kib)):.1f}",
            target,
        ])
    print()
    print(fmt_table(rows, right={1, 2, 3, 4, 5, 6, 7}))
    print()
    print("median/min-max: wall milliseconds of the whole no-op run; us/task: median / N; "
          "x ninja: median / ninja's median;")
    print("cpu: median user+sys milliseconds of the process tree; peak RSS: largest ru_maxrss over "
          "the reps (MB = 10^6 bytes).")
    print("A runner with any failed run, or any run that rewrote an output, is shown FAILED, "
          "not timed.")

    for r in runners:
        if r.rebuild_walls:
            med = statistics.median(r.rebuild_walls)
            vs = f", {med / ninja_med:.2f}x ninja's no-op" if ninja_med and r is not ninja else ""
            print(f"note: {r.name} rewrote outputs in {len(r.rebuild_walls)}/{a.reps} no-op reps "
                  f"(so it re-ran tasks): those runs took median {med:.3f}s{vs}, peak RSS "
                  f"{mb(max(r.rebuild_rss_kib)):.1f} MB")
    if good(maestro):
        med = statistics.median(maestro.walls)
        peak = mb(max(maestro.rss_kib))
        mem = "MET" if peak < TARGET_MB else "MISSED"
        if ninja_med:
            speed = "MET" if med <= TARGET_RATIO * ninja_med else "MISSED"
            speed_text = f"{speed} ({med / ninja_med:.2f}x)"
        else:
            speed_text = "not judged (no ninja)"
        print(f"target:   no-op within {TARGET_RATIO:g}x of ninja's: {speed_text}; "
              f"peak RSS under {TARGET_MB:g} MB: {mem} ({peak:.1f} MB)")
    else:
        print("target:   not judged: maestro has no successful no-op run")
    if not a.ninja:
        print("note: ninja not installed, so no ratio (apt-get install -y ninja-build)")
    print(f"note: {created} files were just deleted: on ext4, wait ~35 s before a benchmark "
          "that creates files (see bench/README.md)")
    failed = not all(good(r) for r in runners)
    if report_rebuilt(a.maestro, maestro_id):
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
