#!/usr/bin/env python3
"""Timing half of bench/map.sh: `maestro map` against a raw spawn loop, xargs,
GNU parallel (and rush), then with 1 MiB of output per job against `cat`.

Called by map.sh, which parses the options, builds the spawn loop and finds
the tools; run it through that script. This file generates the fixtures in a
temporary directory and runs two measurements, one after the other: for
each, every runner once untimed, then R repetitions, each running every
selected runner once in a shuffled order; then it prints both tables and the
targets. Standard library only (Python 3.11).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# The shared helpers sit beside this file (and leave no __pycache__ there).
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True
from benchlib import (Outcome, binary_id, clean_env, failure, fmt_table,  # noqa: E402
                      measure_shuffled, report_rebuilt, run_piped, run_timed,
                      selection_and_order)

MIB = 1 << 20
# Every throughput file is one 64-byte line repeated: "file 000007 of 000200 ..."
LINE = 64
TAG = len("file 000000")

# The targets, from the project's issue.
DISPATCH_TARGET = 1.1   # maestro_map within 1.1x of raw_spawn_loop
THROUGHPUT_TARGET = 1.5  # maestro_map_k within 1.5x of cat, with 1 MB per job


@dataclass
class Runner:
    name: str
    argv: list[str]
    cwd: Path
    # Dispatch: stdin from this file (else /dev/null), stdout to /dev/null.
    stdin: Path | None = None
    # Throughput: stdout into a pipe read and checked by this script.
    piped: bool = False
    # Run before every run, untimed, output to /dev/null.
    prepare: list[str] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warmup_failure: str | None = None


def file_line(k: int, m: int) -> bytes:
    """The line file k (from 1) of m repeats: 64 bytes, newline included."""
    head = f"file {k:06d} of {m:06d} "
    return (head + "." * (LINE - 1 - len(head)) + "\n").encode()


class StreamCheck:
    """Checks the concatenation of files 1..m as it is read: the byte count,
    and in each piece read, the first line that starts in it must name the
    file that covers that offset (catches files out of order, lost or
    repeated pieces). One comparison per read, so it costs next to nothing."""

    def __init__(self, m: int) -> None:
        self.m = m
        self.pos = 0
        self.bad: str | None = None

    def __call__(self, piece: memoryview) -> None:
        start = self.pos
        self.pos += len(piece)
        if self.bad is not None:
            return
        off = -start % LINE
        if off + TAG > len(piece):
            return
        at = start + off
        k = at // MIB + 1
        if k > self.m:
            return  # past the expected end: the byte count says so
        want = f"file {k:06d}".encode()
        got = bytes(piece[off:off + TAG])
        if got != want:
            self.bad = f"wrong data at byte {at}: {got!r}, want {want!r}"

    def verdict(self, total: int) -> str | None:
        want = self.m * MIB
        if total != want:
            return f"{total} bytes, want {want}"
        return self.bad


def cpu_now() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_once(runner: Runner, env: dict[str, str], timeout: float, files: int) -> Outcome:
    if runner.piped:
        # Written back now, untimed, so that no run pays for the writeback of
        # what an earlier one wrote (maestro's logs, parallel's temp files).
        os.sync()
    if runner.prepare:
        subprocess.run(runner.prepare, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       env=env, check=False)
    before = cpu_now()
    if runner.piped:
        check = StreamCheck(files)
        code, wall, expired, total = run_piped(runner.argv, runner.cwd, env, timeout, check)
        what = failure(code, expired, timeout) or check.verdict(total)
    else:
        stdin = open(runner.stdin, "rb") if runner.stdin else subprocess.DEVNULL
        try:
            code, wall, expired = run_timed(runner.argv, runner.cwd, env, timeout, stdin)
        finally:
            if runner.stdin:
                stdin.close()
        what = failure(code, expired, timeout)
    # Not counted for a run killed on timeout.
    cpu = 0.0 if expired else cpu_now() - before
    return Outcome(what is None, wall, cpu, what or "ok")


def write_dispatch_fixtures(root: Path, n: int) -> None:
    (root / "inputs.txt").write_text("".join(f"{i}\n" for i in range(1, n + 1)))
    (root / "map").mkdir()
    (root / "map_base").mkdir()


def data_paths(root: Path, m: int) -> list[str]:
    """The throughput files, in order: data/f001 ... data/f200."""
    width = len(str(m))
    return [str(root / "data" / f"f{k:0{width}d}") for k in range(1, m + 1)]


def write_throughput_fixtures(root: Path, m: int) -> None:
    (root / "data").mkdir()
    for k, path in enumerate(data_paths(root, m), 1):
        Path(path).write_bytes(file_line(k, m) * (MIB // LINE))
    (root / "map_k").mkdir()
    (root / "map_k_base").mkdir()


def maestro_binaries(a: argparse.Namespace) -> list[tuple[str, str]]:
    """The maestro under test, and the `--baseline` one (names end `_base`)."""
    return [("", a.maestro)] + ([("_base", a.baseline)] if a.baseline else [])


def dispatch_runners(root: Path, a: argparse.Namespace) -> list[Runner]:
    n, j = a.n, a.jobs
    inputs = root / "inputs.txt"
    runners = [
        # `true N`, as every runner here runs (each value is appended).
        Runner("raw_spawn_loop", [a.spawnloop, "--numbered", str(n), str(j), a.true_bin], root),
        # Its .maestro/ (the history) is kept between runs, as a user's is.
        Runner(f"xargs_P{j}", [a.xargs, f"-P{j}", "-n1", "true"], root, stdin=inputs),
    ]
    for suffix, maestro in maestro_binaries(a):
        runners.append(Runner(f"maestro_map{suffix}", [maestro, "map", f"-j{j}", "true"],
                              root / f"map{suffix}", stdin=inputs))
    if a.parallel:
        runners.append(Runner(f"parallel_j{j}", [a.parallel, "--will-cite", f"-j{j}", "true"],
                              root, stdin=inputs))
    if a.rush:
        runners.append(Runner(f"rush_j{j}", [a.rush, f"-j{j}", "true"], root, stdin=inputs))
    return runners


def throughput_runners(root: Path, a: argparse.Namespace, paths: list[str]) -> list[Runner]:
    j = a.jobs
    # Every run finds the files in the page cache: they are read just before.
    read = [a.cat] + paths
    runners = [
        Runner("cat", [a.cat] + paths, root, piped=True, prepare=read),
    ]
    for suffix, maestro in maestro_binaries(a):
        runners.append(Runner(f"maestro_map_k{suffix}",
                              [maestro, "map", "-k", f"-j{j}", "cat", ":::"] + paths,
                              root / f"map_k{suffix}", piped=True, prepare=read))
    if a.parallel:
        runners.append(Runner("parallel_k",
                              [a.parallel, "--will-cite", "-k", f"-j{j}", "cat", ":::"] + paths,
                              root, piped=True, prepare=read))
    return runners


def measure(title: str, runners: list[Runner], reps: int, rng: random.Random,
            env: dict[str, str], timeout: float, files: int) -> None:
    print(f"{title}:", flush=True)
    measure_shuffled(runners, reps, rng, lambda r: run_once(r, env, timeout, files))
    print()


def good(r: Runner | None) -> bool:
    return r is not None and bool(r.walls) and not r.failures


def failed_row(r: Runner, reps: int, width: int) -> list[str]:
    reasons = sorted(set(r.failures))
    row = [r.name, f"{len(r.walls)}/{reps}", "FAILED", ", ".join(reasons) or "no run"]
    return row + [""] * (width - len(row))


def dispatch_table(runners: list[Runner], a: argparse.Namespace) -> str:
    base = next((r for r in runners if r.name == "raw_spawn_loop"), None)
    base_med = statistics.median(base.walls) if good(base) else None
    rows = [["runner", "ok", "median s", "min-max s", "us/job", "x raw", "cpu s", "cpu us/job"]]
    for r in runners:
        if not good(r):
            rows.append(failed_row(r, a.reps, len(rows[0])))
            continue
        med = statistics.median(r.walls)
        cpu = statistics.median(r.cpus)
        rows.append([
            r.name,
            f"{len(r.walls)}/{a.reps}",
            f"{med:.3f}",
            f"{min(r.walls):.3f}-{max(r.walls):.3f}",
            f"{med / a.n * 1e6:.0f}",
            f"{med / base_med:.2f}x" if base_med else "-",
            f"{cpu:.2f}",
            f"{cpu / a.n * 1e6:.0f}",
        ])
    return fmt_table(rows, right=set(range(1, len(rows[0]))))


def throughput_table(runners: list[Runner], a: argparse.Namespace) -> str:
    base = next((r for r in runners if r.name == "cat"), None)
    base_med = statistics.median(base.walls) if good(base) else None
    mb = a.files * MIB / 1e6
    rows = [["runner", "ok", "median s", "min-max s", "MB/s", "x cat", "cpu s"]]
    for r in runners:
        if not good(r):
            rows.append(failed_row(r, a.reps, len(rows[0])))
            continue
        med = statistics.median(r.walls)
        rows.append([
            r.name,
            f"{len(r.walls)}/{a.reps}",
            f"{med:.3f}",
            f"{min(r.walls):.3f}-{max(r.walls):.3f}",
            f"{mb / med:.0f}",
            f"{med / base_med:.2f}x" if base_med else "-",
            f"{statistics.median(r.cpus):.2f}",
        ])
    return fmt_table(rows, right=set(range(1, len(rows[0]))))


def target_line(what: str, runner: Runner | None, base: Runner | None, limit: float) -> str:
    if runner is None or base is None:
        return f"target:   {what}: not judged (left out by --only)"
    if not good(runner) or not good(base):
        return f"target:   {what}: not judged ({runner.name} or {base.name} failed)"
    ratio = statistics.median(runner.walls) / statistics.median(base.walls)
    verdict = "MET" if ratio <= limit else "MISSED"
    return f"target:   {what}: {verdict} ({ratio:.2f}x)"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--jobs", type=int, required=True)
    p.add_argument("--reps", type=int, required=True)
    p.add_argument("--files", type=int, required=True)
    p.add_argument("--only", default="")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--spawnloop", required=True)
    p.add_argument("--true-bin", required=True)
    p.add_argument("--maestro", required=True)
    p.add_argument("--xargs", required=True)
    p.add_argument("--cat", required=True)
    p.add_argument("--parallel", default="")
    p.add_argument("--rush", default="")
    p.add_argument("--baseline", default="")
    a = p.parse_args()

    chosen = selection_and_order("map", a.only, a.seed)
    if chosen is None:
        return 2
    only, seed, rng = chosen
    env = clean_env()
    maestro_id = binary_id(a.maestro)
    # Generous: the slowest runner (GNU parallel) needs ~3 ms per no-op job
    # and ~10 ms per MiB.
    dispatch_timeout = max(120.0, a.n * 0.05)
    throughput_timeout = max(120.0, a.files * 0.5)

    with tempfile.TemporaryDirectory(prefix="maestro-bench-") as tmp:
        root = Path(tmp)
        write_dispatch_fixtures(root, a.n)
        dispatch = [r for r in dispatch_runners(root, a) if only.search(r.name)]
        throughput = [r for r in throughput_runners(root, a, data_paths(root, a.files))
                      if only.search(r.name)]
        if not dispatch and not throughput:
            print(f"map: --only {a.only!r} selects no runner", file=sys.stderr)
            return 2
        print(f"runners:  dispatch: {' '.join(r.name for r in dispatch) or '(none)'}")
        print(f"          throughput: {' '.join(r.name for r in throughput) or '(none)'}")
        print(f"plan:     dispatch: N={a.n} no-op jobs (`true <n>`), {a.jobs} slots; "
              f"throughput: {a.files} files of 1 MiB, {a.jobs} slots;")
        print(f"          each: 1 warm-up + {a.reps} reps, shuffled order per rep (seed {seed})")
        print()

        if dispatch:
            measure("dispatch", dispatch, a.reps, rng, env, dispatch_timeout, a.files)
        if throughput:
            # Written only now, so that their writeback does not disturb the
            # dispatch runs (the first throughput run syncs them, untimed).
            write_throughput_fixtures(root, a.files)
            measure("throughput (1 MiB per job)", throughput, a.reps, rng, env,
                    throughput_timeout, a.files)

    def find(runners: list[Runner], name: str) -> Runner | None:
        return next((r for r in runners if r.name == name), None)

    if dispatch:
        print(f"dispatch: N={a.n} no-op jobs, {a.jobs} slots")
        print(dispatch_table(dispatch, a))
        print()
        print("median/min-max: wall seconds of the whole run; us/job: median / N; "
              "x raw: median / raw_spawn_loop median;")
        print("cpu: median user+sys seconds of the runner's whole process tree.")
        print()
    if throughput:
        print(f"throughput: {a.files} jobs of 1 MiB each ({a.files * MIB / 1e6:.0f} MB), "
              f"{a.jobs} slots, stdout into a pipe read by this script")
        print(throughput_table(throughput, a))
        print()
        print("MB/s: 10^6 bytes per second of median wall time; x cat: median / cat median; "
              "every run must deliver exactly")
        print(f"{a.files} MiB, the files in order (checked as read).")
        print()
    print("A runner with any failed run is shown FAILED, not timed.")
    for r in dispatch + throughput:
        if r.warmup_failure:
            print(f"note: warm-up of {r.name} failed ({r.warmup_failure})")
    if dispatch and not find(dispatch, "raw_spawn_loop"):
        print("note: raw_spawn_loop not selected by --only, so no dispatch ratios")
    if throughput and not find(throughput, "cat"):
        print("note: cat not selected by --only, so no throughput ratios")
    print(target_line(f"maestro_map within {DISPATCH_TARGET}x of raw_spawn_loop",
                      find(dispatch, "maestro_map"), find(dispatch, "raw_spawn_loop"),
                      DISPATCH_TARGET))
    print(target_line(f"with 1 MB per job, maestro_map_k within {THROUGHPUT_TARGET}x of cat",
                      find(throughput, "maestro_map_k"), find(throughput, "cat"),
                      THROUGHPUT_TARGET))

    failed = any(not good(r) for r in dispatch + throughput)
    if report_rebuilt(a.maestro, maestro_id):
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
