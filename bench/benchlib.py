"""Helpers shared by the timing halves dispatch.py, makespan.py, noop.py, map.py and dag.py.

Not a benchmark itself: each script puts its own directory on sys.path and
imports this module. Standard library only (Python 3.11).
"""

from __future__ import annotations

import ctypes
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def clean_env() -> dict[str, str]:
    """This process's environment without make's variables: an outer make must
    not hand its jobserver or flags to a runner (make, ninja) or to the tasks."""
    env = dict(os.environ)
    for key in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEFILES", "GNUMAKEFLAGS"):
        env.pop(key, None)
    return env


# Creating an empty file from Python costs 10-12 us on an idle ext4; within minutes
# after a mass delete, ext4 without a journal can take ten times that (see
# README.md). Above this, the file-creating runners' times are suspect.
SLOW_CREATE_US = 30.0


def file_create_us(where: Path, n: int = 500) -> float:
    """Microseconds per creation of an empty file in a new directory under
    `where` (left in place: deleting the files would slow the next creates)."""
    probe = where / "create-probe"
    probe.mkdir()
    start = time.perf_counter()
    for i in range(n):
        os.close(os.open(probe / f"{i}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
    return (time.perf_counter() - start) / n * 1e6


def report_file_create(where: Path) -> None:
    """Prints what creating a file costs here, and a note when it is slow."""
    us = file_create_us(where)
    print(f"create:   {us:.1f} us per empty file in the benchmark's directory")
    if us > SLOW_CREATE_US:
        print(f"note: creating a file costs over {SLOW_CREATE_US:.0f} us here; after a mass delete "
              "(a test run, an earlier benchmark's cleanup) wait a few minutes or set TMPDIR "
              "to another directory, and rerun: until then, runners that create files look "
              "slower than they are")


@dataclass
class Outcome:
    """One timed run of a runner; maxrss_kib is its peak RSS in KiB, when
    measured (run_rusage)."""
    ok: bool
    wall: float
    cpu: float
    detail: str
    maxrss_kib: int | None = None


def measure_shuffled(runners: list[Any], reps: int, rng: random.Random,
                     run: Callable[[Any], Outcome]) -> None:
    """One untimed warm-up of every runner, then `reps` repetitions, each
    running every runner once in a shuffled order, so that drift in the
    machine's speed hits all alike. A runner needs the lists `walls`, `cpus`
    and `failures` and a `warmup_failure`, filled here, and the list
    `rss_kib` if `run` measures peak RSS; progress is printed."""
    for r in runners:
        out = run(r)
        if not out.ok:
            r.warmup_failure = out.detail
        print(f"  warm-up {r.name:<16} {out.wall:7.3f}s  {out.detail}", flush=True)
    for rep in range(1, reps + 1):
        order = runners[:]
        rng.shuffle(order)
        parts = []
        for r in order:
            out = run(r)
            if out.ok:
                r.walls.append(out.wall)
                r.cpus.append(out.cpu)
                if out.maxrss_kib is not None:
                    r.rss_kib.append(out.maxrss_kib)
                parts.append(f"{r.name} {out.wall:.3f}s")
            else:
                r.failures.append(out.detail)
                parts.append(f"{r.name} FAILED ({out.detail})")
        print(f"  rep {rep}/{reps}: " + ", ".join(parts), flush=True)


def binary_id(path: str) -> tuple[int, int, int]:
    """Changes when the file is rebuilt (cargo replaces or rewrites it)."""
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def report_rebuilt(path: str, before: tuple[int, int, int]) -> bool:
    """True, after printing a note, if the maestro binary at `path` no longer
    has the binary_id `before` it had when the benchmark started."""
    if binary_id(path) == before:
        return False
    print("note: target/release/maestro was rebuilt during the benchmark, so the runs mix "
          "two builds: run it again")
    return True


def wait_or_kill(wait: Callable[[], T], pgid: int, timeout: float) -> tuple[T, bool]:
    """Return (wait(), whether it timed out): `wait` is a blocking wait for a
    child, and if it has not returned after `timeout` seconds the process group
    `pgid` is killed (SIGKILL) so that it does. A blocking wait with a timer,
    because Popen.wait(timeout=) polls with sleeps of up to 50 ms, which would
    round every time up."""
    expired = threading.Event()

    def kill_on_timeout() -> None:
        expired.set()
        os.killpg(pgid, signal.SIGKILL)

    timer = threading.Timer(timeout, kill_on_timeout)
    timer.start()
    try:
        result = wait()
    finally:
        timer.cancel()
    return result, expired.is_set()


def run_timed(argv: list[str], cwd: Path, env: dict[str, str], timeout: float,
              stdin=subprocess.DEVNULL) -> tuple[int, float, bool]:
    """Run argv in a new session with stdout and stderr to /dev/null and
    return (exit code as Popen gives it, wall seconds by time.perf_counter,
    whether it was killed for taking over `timeout` seconds)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdin=stdin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    code, expired = wait_or_kill(proc.wait, proc.pid, timeout)
    return code, time.perf_counter() - start, expired


# Peak memory of a tool's own process: ru_maxrss from os.wait4 on its pid, the
# peak RSS of the tool or of any descendant it waited for, whichever is
# largest (KiB on Linux). The tool must not be started by this script
# directly: at exec the kernel folds the RSS of the process image being
# replaced into ru_maxrss, and a child forked (or vforked) from Python would
# report this script's RSS even for /bin/true. So a small sh forks the tool in
# the background, hands its pid back on its stderr (a pipe; the tool's stderr
# goes to the file named by the launcher's first argument) and exits; as a
# child subreaper (become_subreaper), this script then inherits the tool and
# waits for it.
PR_SET_CHILD_SUBREAPER = 36
LAUNCHER = 'err=$1; shift; "$@" 2>"$err" & echo $! >&2'


def become_subreaper() -> None:
    """Make this process the reaper of its orphaned descendants, as
    run_rusage needs."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(err)}")


def run_rusage(argv: list[str], cwd: Path, env: dict[str, str], timeout: float,
               stderr: Path | None = None, stdout: Path | None = None) -> Outcome:
    """Run argv through the launcher above (call become_subreaper first), with
    stdout into the file `stdout` and stderr into the file `stderr` (each
    else /dev/null), in a new session killed on timeout, and return its
    Outcome: wall seconds (the ~2 ms launcher included), CPU (user+sys) and
    peak RSS of the tool and the descendants it waited for."""
    r, w = os.pipe()
    start = time.perf_counter()
    try:
        with open(stdout or os.devnull, "wb") as out:
            launcher = subprocess.Popen(
                ["/bin/sh", "-c", LAUNCHER, "sh", str(stderr or os.devnull), *argv],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=w,
                env=env,
                start_new_session=True,
            )
    finally:
        os.close(w)
    with os.fdopen(r) as pipe:
        pid_text = pipe.read().strip()
    launcher.wait()  # exits right after printing the pid
    if not pid_text.isdigit() or launcher.returncode != 0:
        return Outcome(False, 0.0, 0.0, f"launcher failed (exit {launcher.returncode})")
    # The tool stays in the launcher's process group, killed on timeout.
    try:
        (_, status, usage), expired = wait_or_kill(
            lambda: os.wait4(int(pid_text), 0), launcher.pid, timeout)
    except ChildProcessError:
        # Only if sh reaped the tool before exiting (bash may, dash does not).
        return Outcome(False, 0.0, 0.0, "tool reaped by the launcher, no rusage")
    wall = time.perf_counter() - start
    what = failure(os.waitstatus_to_exitcode(status), expired, timeout)
    return Outcome(what is None, wall, usage.ru_utime + usage.ru_stime, what or "ok",
                   usage.ru_maxrss)


def run_piped(argv: list[str], cwd: Path, env: dict[str, str], timeout: float,
              consume: Callable[[memoryview], None] | None = None,
              chunk: int = 1 << 20) -> tuple[int, float, bool, int]:
    """Like run_timed, but with stdout into a pipe that this process reads to
    its end, up to `chunk` bytes per read, handing each piece read to
    `consume` (if given; valid only during the call). Returns (exit code,
    wall seconds until the runner has exited and its stdout is at its end,
    whether it was killed for taking over `timeout` seconds, bytes read)."""
    buf = bytearray(chunk)
    view = memoryview(buf)
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
        bufsize=0,
    )

    def drain_and_wait() -> tuple[int, int]:
        total = 0
        with proc.stdout as out:
            while got := out.readinto(view):
                total += got
                if consume is not None:
                    consume(view[:got])
        return proc.wait(), total

    (code, total), expired = wait_or_kill(drain_and_wait, proc.pid, timeout)
    return code, time.perf_counter() - start, expired, total


def failure(code: int, expired: bool, timeout: float) -> str | None:
    """Why a run failed ("timeout after 120s", "exit 1", "signal 9"; `code`
    negative for a signal, as Popen and waitstatus_to_exitcode give it), or
    None if it succeeded."""
    if expired:
        return f"timeout after {timeout:.0f}s"
    if code != 0:
        return f"signal {-code}" if code < 0 else f"exit {code}"
    return None


def fmt_table(rows: list[list[str]], right: set[int]) -> str:
    """Lay out rows (the first is the header, underlined with dashes) in
    columns two spaces apart; the columns numbered in `right` are right-aligned."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    out = []
    for k, row in enumerate(rows):
        cells = [
            cell.rjust(widths[c]) if c in right else cell.ljust(widths[c])
            for c, cell in enumerate(row)
        ]
        out.append("  ".join(cells).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def selection_and_order(prog: str, only: str, seed: int | None
                        ) -> tuple[re.Pattern[str], int, random.Random] | None:
    """The runners `--only` selects (a regex searched in their names), the
    shuffle seed (`--seed`, else a random one, to be printed) and its
    generator; None, after saying why on stderr, for a bad regex."""
    try:
        selected = re.compile(only)
    except re.error as e:
        print(f"{prog}: bad --only regex {only!r}: {e}", file=sys.stderr)
        return None
    if seed is None:
        seed = random.SystemRandom().randrange(1 << 31)
    return selected, seed, random.Random(seed)
