#!/usr/bin/env python3
"""Timing half of bench/pipe.sh: `maestro map --pipe` and `--pipepart` beside
GNU parallel's, each running `wc -l` on the blocks of one text file, against
one `wc -l` of the whole file.

Called by pipe.sh, which parses the options and finds the tools; run it
through that script. This file writes the input file in a temporary
directory (under $TMPDIR), probes the --baseline binary, then runs every
runner once untimed and R repetitions, each running every selected runner
once in a shuffled order; then it prints the table and the ratios. A run
whose line counts do not add up to the file's is a failed run. Standard
library only (Python 3.11).
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
import time
from dataclasses import dataclass, field
from pathlib import Path

# The shared helpers sit beside this file (and leave no __pycache__ there).
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True
from benchlib import (Outcome, binary_id, clean_env, failure, fmt_table,  # noqa: E402
                      measure_shuffled, report_rebuilt, selection_and_order,
                      wait_or_kill)

MIB = 1 << 20
# The input is this many bytes of lines, repeated, the last copy cut at a line's end.
CHUNK = 8 * MIB

# A runner that prints more than this prints more than counts (say, the input).
MAX_PRINTED = MIB

# The target, from the project's issue: --pipe at least 3x GNU parallel's throughput.
PIPE_TARGET = 3.0


@dataclass
class Runner:
    name: str
    argv: list[str]
    cwd: Path
    # Its stdin: "input" (the file, or `cat FILE |` with --from-pipe) or "none" (/dev/null).
    stdin: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warmup_failure: str | None = None
    # The counts printed (one per job) by each successful run, warm-up included.
    jobs: list[int] = field(default_factory=list)


@dataclass
class Fixture:
    path: Path
    size: int
    lines: int


def chunk_lines() -> bytes:
    """CHUNK bytes or a little more of CSV-like lines: "123,sample_45,0.123456"."""
    lines = []
    size = 0
    i = 0
    while size < CHUNK:
        line = f"{i},sample_{i % 100},{(i * 7919) % 1000003 / 1000003:.6f}\n"
        lines.append(line)
        size += len(line)
        i += 1
    return "".join(lines).encode()


def write_fixture(path: Path, mb: int) -> Fixture:
    """Writes the input: the chunk repeated, cut at the last line's end at or
    before mb MiB; returns its exact size and line count."""
    chunk = chunk_lines()
    per_chunk = chunk.count(b"\n")
    want = mb * MIB
    size = lines = 0
    with open(path, "wb") as f:
        while size < want:
            piece = chunk
            if size + len(chunk) > want:
                piece = chunk[:chunk.rfind(b"\n", 0, want - size) + 1]
                if not piece:
                    break
            f.write(piece)
            size += len(piece)
            lines += per_chunk if piece is chunk else piece.count(b"\n")
    return Fixture(path, size, lines)


def cpu_now() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_counted(runner: Runner, env: dict[str, str], timeout: float, fixture: Fixture,
                cat: str, from_pipe: bool) -> tuple[int, int | None, float, bool, bytes]:
    """Run the runner with stdout into a pipe read to its end and stderr to
    /dev/null, its stdin the input file (`< FILE`), `cat FILE |` (from_pipe)
    or /dev/null. Returns (its exit code, the feeding cat's or None, wall
    seconds until both have exited and stdout is at its end, whether they were
    killed for taking over `timeout` seconds, what it printed)."""
    feeder = None
    start = time.perf_counter()
    if runner.stdin == "input" and from_pipe:
        # A process group of its own, which the runner joins: killed together on timeout.
        feeder = subprocess.Popen([cat, str(fixture.path)], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                                  process_group=0)
        stdin = feeder.stdout
        group = {"process_group": feeder.pid}
    else:
        stdin = open(fixture.path, "rb") if runner.stdin == "input" else subprocess.DEVNULL
        group = {"start_new_session": True}
    try:
        proc = subprocess.Popen(runner.argv, cwd=runner.cwd, stdin=stdin,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                                bufsize=0, **group)
    except BaseException:
        if feeder is not None:
            feeder.kill()
            feeder.wait()
        raise
    finally:
        if stdin is not subprocess.DEVNULL:
            stdin.close()

    def drain_and_wait() -> tuple[int, int | None, bytes]:
        # Counts are a few bytes per job: past MAX_PRINTED, read on but keep none.
        printed = bytearray()
        with proc.stdout as out:
            while piece := out.read(1 << 16):
                if len(printed) <= MAX_PRINTED:
                    printed += piece
        code = proc.wait()
        return code, (feeder.wait() if feeder else None), bytes(printed)

    pgid = feeder.pid if feeder is not None else proc.pid
    (code, feeder_code, printed), expired = wait_or_kill(drain_and_wait, pgid, timeout)
    return code, feeder_code, time.perf_counter() - start, expired, printed


def count_verdict(printed: bytes, want: int) -> tuple[str | None, int]:
    """Why the counts printed (one number per line) are wrong, or None if they
    add up to `want`; and how many there are (the jobs run)."""
    if len(printed) > MAX_PRINTED:
        return f"printed over {MAX_PRINTED} bytes, not counts", 0
    total = jobs = 0
    for line in printed.splitlines():
        if not line.strip().isdigit():
            return f"unexpected output {line[:40]!r}", jobs
        total += int(line)
        jobs += 1
    if total != want:
        return f"{total} lines counted, want {want}", jobs
    return None, jobs


def run_once(runner: Runner, env: dict[str, str], timeout: float, fixture: Fixture,
             cat: str, from_pipe: bool) -> Outcome:
    # Untimed: what earlier runs wrote (maestro's state, parallel's temporary
    # files) is written back, and the input is read once, so that every run
    # finds it in the page cache.
    os.sync()
    subprocess.run([cat, str(fixture.path)], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, env=env, check=False)
    before = cpu_now()
    code, feeder_code, wall, expired, printed = run_counted(runner, env, timeout, fixture, cat,
                                                            from_pipe)
    what = failure(code, expired, timeout)
    if what is None and feeder_code is not None:
        what = failure(feeder_code, False, timeout)
        what = what and f"cat: {what}"
    jobs = 0
    if what is None:
        what, jobs = count_verdict(printed, fixture.lines)
    if what is None:
        runner.jobs.append(jobs)
    # Not counted for a run killed on timeout.
    cpu = 0.0 if expired else cpu_now() - before
    return Outcome(what is None, wall, cpu, what or "ok")


def refusal(maestro: str, flag: str, root: Path, env: dict[str, str]) -> str | None:
    """The first line of the error if this maestro refuses `map FLAG` as an
    unknown option (exit 255, "unexpected argument"), else None."""
    probe = root / "probe"
    probe.mkdir(exist_ok=True)
    (probe / "empty.txt").touch()
    argv = [maestro, "map", flag] + (["-a", "empty.txt"] if flag == "--pipepart" else []) + ["true"]
    try:
        p = subprocess.run(argv, cwd=probe, stdin=subprocess.DEVNULL, capture_output=True,
                           env=env, timeout=60)
    except subprocess.TimeoutExpired:
        return None  # not a refusal: its runs will say what is wrong
    err = p.stderr.decode(errors="replace")
    if p.returncode == 255 and "unexpected argument" in err:
        return next((line for line in err.splitlines() if "unexpected argument" in line),
                    err.strip())
    return None


def runners_for(root: Path, fixture: Fixture, a: argparse.Namespace,
                base_skips: set[str]) -> list[Runner]:
    j = a.jobs
    path = str(fixture.path)
    maestros = [("", a.maestro)] + ([("_base", a.baseline)] if a.baseline else [])
    runners = [Runner("wc_l", [a.wc, "-l"], root, "input")]

    def maestro_runner(name: str, maestro: str, argv: list[str], stdin: str) -> Runner:
        # A directory of its own, whose .maestro/ is kept between runs, as a user's is.
        cwd = root / name
        cwd.mkdir()
        return Runner(name, [maestro, "map", f"-j{j}"] + argv, cwd, stdin)

    for suffix, maestro in maestros:
        if f"--pipe{suffix}" not in base_skips:
            runners.append(maestro_runner(f"maestro_pipe{suffix}", maestro,
                                          ["--pipe", a.wc, "-l"], "input"))
    if a.parallel:
        runners.append(Runner("parallel_pipe",
                              [a.parallel, "--will-cite", f"-j{j}", "--pipe", a.wc, "-l"],
                              root, "input"))
    for suffix, maestro in maestros:
        if f"--pipepart{suffix}" not in base_skips:
            runners.append(maestro_runner(f"maestro_pipepart{suffix}", maestro,
                                          ["--pipepart", "-a", path, a.wc, "-l"], "none"))
    if a.parallel:
        runners.append(Runner("parallel_pipepart",
                              [a.parallel, "--will-cite", f"-j{j}", "--pipepart", "-a", path,
                               a.wc, "-l"], root, "none"))
    return runners


def good(r: Runner | None) -> bool:
    return r is not None and bool(r.walls) and not r.failures


def table(runners: list[Runner], a: argparse.Namespace, fixture: Fixture) -> str:
    base = next((r for r in runners if r.name == "wc_l"), None)
    base_med = statistics.median(base.walls) if good(base) else None
    mb = fixture.size / 1e6
    rows = [["runner", "ok", "median s", "min-max s", "MB/s", "x wc_l", "cpu s", "jobs"]]
    for r in runners:
        if not good(r):
            reasons = sorted(set(r.failures))
            row = [r.name, f"{len(r.walls)}/{a.reps}", "FAILED", ", ".join(reasons) or "no run"]
            rows.append(row + [""] * (len(rows[0]) - len(row)))
            continue
        med = statistics.median(r.walls)
        jobs = f"{min(r.jobs)}" if min(r.jobs) == max(r.jobs) else f"{min(r.jobs)}-{max(r.jobs)}"
        rows.append([
            r.name,
            f"{len(r.walls)}/{a.reps}",
            f"{med:.3f}",
            f"{min(r.walls):.3f}-{max(r.walls):.3f}",
            f"{mb / med:.0f}",
            f"{med / base_med:.2f}x" if base_med else "-",
            f"{statistics.median(r.cpus):.2f}",
            jobs,
        ])
    return fmt_table(rows, right=set(range(1, len(rows[0]))))


def ratio_line(mode: str, ours: str, theirs: str, whose: str, target: float | None,
               runners: list[Runner], digits: int = 1) -> str:
    """"--pipe: maestro 4.1x GNU parallel's throughput (target >= 3x: MET)":
    the median of the runner named `theirs` over that of `ours`."""
    found = {r.name: r for r in runners}
    wanted = f" (target >= {target:g}x)" if target else ""
    head = f"{mode}: maestro against {whose} throughput: not judged{wanted}"
    missing = [name for name in (ours, theirs) if name not in found]
    if missing:
        return f"{head} ({' and '.join(missing)} not run: --only, skipped or not installed)"
    bad = [name for name in (ours, theirs) if not good(found[name])]
    if bad:
        return f"{head} ({' and '.join(bad)} failed)"
    ratio = statistics.median(found[theirs].walls) / statistics.median(found[ours].walls)
    if target:
        wanted = f" (target >= {target:g}x: {'MET' if ratio >= target else 'MISSED'})"
    return f"{mode}: maestro {ratio:.{digits}f}x {whose} throughput{wanted}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mb", type=int, required=True)
    p.add_argument("--jobs", type=int, required=True)
    p.add_argument("--reps", type=int, required=True)
    p.add_argument("--only", default="")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--from-pipe", action="store_true")
    p.add_argument("--maestro", required=True)
    p.add_argument("--wc", required=True)
    p.add_argument("--cat", required=True)
    p.add_argument("--parallel", default="")
    p.add_argument("--baseline", default="")
    a = p.parse_args()

    chosen = selection_and_order("pipe", a.only, a.seed)
    if chosen is None:
        return 2
    only, seed, rng = chosen
    env = clean_env()
    # GNU parallel prepends $PARALLEL to its options.
    env.pop("PARALLEL", None)
    maestro_id = binary_id(a.maestro)
    # Generous: GNU parallel --pipe moves about 100-300 MB/s here.
    timeout = max(120.0, a.mb * 0.5)

    with tempfile.TemporaryDirectory(prefix="maestro-bench-") as tmp:
        root = Path(tmp)
        skips: set[str] = set()
        notes: list[str] = []
        if a.baseline:
            for flag in ("--pipe", "--pipepart"):
                refused = refusal(a.baseline, flag, root, env)
                if refused:
                    skips.add(f"{flag}_base")
                    notes.append(f"--baseline refuses {flag} ({refused.strip()}): "
                                 f"maestro_{flag[2:]}_base skipped")
        start = time.perf_counter()
        fixture = write_fixture(root / "input.csv", a.mb)
        wrote = time.perf_counter() - start
        runners = [r for r in runners_for(root, fixture, a, skips) if only.search(r.name)]
        if not runners:
            print(f"pipe: --only {a.only!r} selects no runner", file=sys.stderr)
            return 2
        stdin = "`cat FILE |` (a pipe)" if a.from_pipe else "`< FILE` (the regular file)"
        print(f"runners:  {' '.join(r.name for r in runners)}")
        print(f"input:    {fixture.path} ({fixture.size} bytes, {fixture.lines} lines, "
              f"written in {wrote:.1f}s)")
        print(f"plan:     `wc -l` on {a.jobs} slots; stdin of wc_l and the --pipe runners: "
              f"{stdin};")
        print(f"          1 warm-up + {a.reps} reps, shuffled order per rep (seed {seed}); "
              f"timeout {timeout:.0f}s per run")
        for note in notes:
            print(f"note:     {note}")
        print()
        measure_shuffled(runners, a.reps, rng,
                         lambda r: run_once(r, env, timeout, fixture, a.cat, a.from_pipe))
        print()

    print(f"pipe: `wc -l` on {fixture.size / MIB:.0f} MiB ({fixture.size / 1e6:.0f} MB, "
          f"{fixture.lines} lines), {a.jobs} slots, stdin {stdin}")
    print(table(runners, a, fixture))
    print()
    print("median/min-max: wall seconds of the whole run; MB/s: 10^6 bytes of input per second "
          "of median wall time;")
    print("x wc_l: median / wc_l median; cpu: median user+sys seconds of the runner's process "
          "tree; jobs: counts printed.")
    print(f"Every run must print counts that add up to {fixture.lines} lines, else it is FAILED, "
          "not timed.")
    for r in runners:
        if r.warmup_failure:
            print(f"note: warm-up of {r.name} failed ({r.warmup_failure})")
    if not any(r.name == "wc_l" for r in runners):
        print("note: wc_l not selected by --only, so no x wc_l ratios")
    print(ratio_line("--pipe", "maestro_pipe", "parallel_pipe", "GNU parallel's", PIPE_TARGET,
                     runners))
    print(ratio_line("--pipepart", "maestro_pipepart", "parallel_pipepart", "GNU parallel's", None,
                     runners))
    if a.baseline:
        for mode in ("pipe", "pipepart"):
            print(ratio_line(f"--{mode}", f"maestro_{mode}", f"maestro_{mode}_base",
                             "the baseline's", None, runners, digits=2))

    failed = any(not good(r) for r in runners)
    if report_rebuilt(a.maestro, maestro_id):
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
