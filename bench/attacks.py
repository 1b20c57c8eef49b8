#!/usr/bin/env python3
"""maestro attacked: random SIGKILLs, kill-and-resume trials, output floods,
many tasks at once and killed lock holders, with the counts our targets are
about printed at the end. `attacks.sh` runs it; `--quick` is the bounded
form CI runs (minutes), the default the full one (about an hour).

Every trial runs in a fresh temporary directory. Exit status 1 when a count
misses its target.
"""

import argparse
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def pids_in(path: Path) -> list[int]:
    pids = []
    for file in path.glob("*"):
        pids += [int(p) for p in file.read_text().split() if p.isdigit()]
    return pids


# A task that leaves a sleeper in its group, and says where: what a SIGKILL
# of maestro must not leave behind.
LEAVER = "mkdir -p pids; sleep 300 & echo $$ $! >> pids/$$; sleep 0.02"


def kill_trials(maestro: str, trials: int, wait: float) -> dict:
    """SIGKILL of maestro at a random moment, in each way it starts tasks;
    the task processes alive `wait` seconds later."""
    items = ", ".join(f'"{i}"' for i in range(400))
    flow = f'jobs = 8\n[tasks.t]\nfor_each = [{items}]\ncmd = "{LEAVER}"\n'
    modes = {
        "run": ([maestro, "run", "--output", "quiet"], flow),
        "par": ([maestro, "par", "-j", "8", "--output", "quiet"] + [LEAVER] * 400, None),
        "map": ([maestro, "map", "-j", "8", LEAVER, ":::"] + [str(i) for i in range(400)], None),
        "lock": ([maestro, "lock", "l", "--", "sh", "-c", LEAVER + "; sleep 300"], None),
        "sem": ([maestro, "sem", "s", "--limit", "2", "--", "sh", "-c", LEAVER + "; sleep 300"], None),
    }
    survivors = {mode: 0 for mode in modes}
    for trial in range(trials):
        mode = list(modes)[trial % len(modes)]
        argv, flow_text = modes[mode]
        with tempfile.TemporaryDirectory(prefix="maestro-attack-") as tmp:
            root = Path(tmp)
            if flow_text:
                (root / "maestro.toml").write_text(flow_text)
            proc = subprocess.Popen(argv, cwd=root, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(random.uniform(0.05, 1.0))
            proc.kill()
            proc.wait()
            time.sleep(wait)
            left = [p for p in pids_in(root / "pids") if alive(p)] if (root / "pids").exists() else []
            survivors[mode] += len(left)
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    return {"kills": trials, "surviving task processes": sum(survivors.values()),
            "by mode": survivors}


def resume_trials(maestro: str, trials: int) -> dict:
    """A flow run killed at a random moment, resumed (and the resume killed
    too, at times), until a resume finishes: every task must complete, and
    none twice once its end was recorded (a task killed after its last act
    but before it exited is reported apart: it must run again); the
    database must pass `integrity_check`; no run may stay "running"."""
    items = ", ".join(f'"{i}"' for i in range(60))
    # The completion is the task's last act: a kill between it and the exit
    # is a window of one exec, not counted as a double.
    flow = (f'jobs = 4\n[tasks.t]\nfor_each = [{items}]\n'
            'cmd = "sleep 0.0$(( {} % 7 )); echo {} >> completions"\n')
    lost = doubled = unknowable = bad_db = left_running = 0
    for _ in range(trials):
        with tempfile.TemporaryDirectory(prefix="maestro-attack-") as tmp:
            root = Path(tmp)
            (root / "maestro.toml").write_text(flow)
            run = lambda *args: subprocess.Popen(  # noqa: E731
                [maestro, "run", "--output", "quiet", *args], cwd=root,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            first = run()
            time.sleep(random.uniform(0.05, 1.0))
            first.kill()
            first.wait()
            for _ in range(random.randint(0, 3)):
                again = run("--resume")
                time.sleep(random.uniform(0.0, 0.5))
                again.kill()
                again.wait()
            final = run("--resume")
            final.wait(timeout=120)
            done = (root / "completions").read_text().split() if (root / "completions").exists() else []
            counts = {str(i): done.count(str(i)) for i in range(60)}
            lost += sum(1 for c in counts.values() if c == 0)
            subprocess.run([maestro, "history"], cwd=root, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            db = sqlite3.connect(root / ".maestro" / "state.db")
            for item, count in counts.items():
                if count < 2:
                    continue
                # Run again although its end was recorded: maestro's fault.
                # Its first run recorded interrupted: killed between its last
                # act and its exit, which no runner can tell apart.
                oks = db.execute("SELECT count(*) FROM attempts WHERE instance = ? AND status = 'ok'",
                                 (f"t:{item}",)).fetchone()[0]
                if oks > 1:
                    doubled += 1
                else:
                    unknowable += 1
            if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                bad_db += 1
            left_running += db.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0]
            db.close()
    return {"trials": trials, "tasks lost": lost, "tasks completed twice": doubled,
            "killed after their last act (run again, as they must)": unknowable,
            "integrity_check failures": bad_db, "runs left running": left_running}


def peak(argv: list[str], cwd: Path) -> tuple[int, float, float]:
    """Runs `argv` in a child of a fresh python (so that only its own
    descendants count); exit status, peak RSS in MiB, seconds."""
    script = ("import resource, subprocess, sys, time\n"
              "t = time.monotonic()\n"
              "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL,"
              " stderr=subprocess.DEVNULL).returncode\n"
              "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
              " time.monotonic() - t)")
    out = subprocess.run([sys.executable, "-c", script, *argv], cwd=cwd, capture_output=True,
                         text=True).stdout.split()
    return int(out[0]), int(out[1]) / 1024, float(out[2])


def floods(maestro: str, mib: int) -> dict:
    """`mib` MiB of output from one task, with and without newlines, in
    every output mode and through `map`: peak memory and time."""
    results = {}
    size = mib * 1024 * 1024
    lines = f"yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -c {size}"
    endless = f"head -c {size} /dev/zero | tr '\\0' x"
    with tempfile.TemporaryDirectory(prefix="maestro-attack-") as tmp:
        root = Path(tmp)
        for shape, cmd in (("lines", lines), ("no newline", endless)):
            for mode in ("grouped", "stream", "quiet"):
                code, rss, took = peak([maestro, "par", "--output", mode, cmd], root)
                results[f"par --output {mode}, {shape}"] = (code, rss, took)
            map_cmd = cmd.replace("tr '\\0' x", "tr '\\0' {}").replace("xxxx", "{}xxx", 1)
            for extra in ([], ["-k"], ["--line-buffer"]):
                code, rss, took = peak([maestro, "map", *extra, map_cmd, ":::", "x"], root)
                results[f"map {' '.join(extra)}, {shape}".replace("  ", " ")] = (code, rss, took)
    return results


def many_tasks(maestro: str, n: int, jobs: int) -> dict:
    """`n` no-op tasks at `-j jobs`: maestro's open descriptors and its
    unreaped children, sampled while it runs."""
    with tempfile.TemporaryDirectory(prefix="maestro-attack-") as tmp:
        root = Path(tmp)
        proc = subprocess.Popen([maestro, "par", "-j", str(jobs), "--output", "quiet"]
                                + ["true"] * n, cwd=root, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        fds, zombies, samples = [], [], 0
        while proc.poll() is None:
            try:
                fds.append(len(os.listdir(f"/proc/{proc.pid}/fd")))
                children = open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()
                zombies.append(sum(1 for c in children if not alive(int(c))))
                samples += 1
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(0.005)
        code = proc.wait()
    return {"tasks": n, "jobs": jobs, "exit": code, "samples": samples,
            "fds first/max/last": (fds[0], max(fds), fds[-1]) if fds else None,
            "unreaped children max": max(zombies) if zombies else None}


def lock_kills(maestro: str, trials: int) -> dict:
    """A lock holder whose command writes without pause is SIGKILLed while
    another waits: lines of the killed holder after the next one started."""
    overlapping = 0
    with tempfile.TemporaryDirectory(prefix="maestro-attack-") as tmp:
        root = Path(tmp)
        for trial in range(trials):
            for name in ("held", "log"):
                (root / name).unlink(missing_ok=True)
            holding = ["lock", "l"] if trial % 2 == 0 else ["sem", "s", "--limit", "1"]
            first = subprocess.Popen([maestro, *holding, "--", "sh", "-c",
                                      "touch held; while :; do echo A >> log; done"], cwd=root)
            while not (root / "held").exists():
                time.sleep(0.002)
            nxt = subprocess.Popen([maestro, *holding, "--", "sh", "-c", "echo B >> log"], cwd=root)
            time.sleep(0.05)
            first.kill()
            first.wait()
            nxt.wait()
            lines = (root / "log").read_text().split()
            overlapping += lines[lines.index("B") + 1:].count("A") if "B" in lines else 0
    return {"holder kills": trials, "lines after the next holder started": overlapping}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--maestro", required=True)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seed", type=int, default=None)
    a = p.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    random.seed(seed)
    quick = a.quick
    print(f"attacks: {'quick' if quick else 'full'} run, seed {seed}, maestro {a.maestro}")
    failures = []

    kills = kill_trials(a.maestro, 25 if quick else 200, 1.0 if quick else 2.0)
    print(f"SIGKILL at random moments: {kills}")
    if kills["surviving task processes"]:
        failures.append("task processes outlived a SIGKILL of maestro")

    resumes = resume_trials(a.maestro, 10 if quick else 100)
    print(f"kill-and-resume: {resumes}")
    for key in ("tasks lost", "tasks completed twice", "integrity_check failures", "runs left running"):
        if resumes[key]:
            failures.append(f"kill-and-resume: {key}")

    flood_mib = 128 if quick else 1024
    for name, (code, rss, took) in floods(a.maestro, flood_mib).items():
        print(f"flood {flood_mib} MiB, {name}: exit {code}, peak {rss:.0f} MiB, {took:.2f} s")
        if code != 0 or rss >= 50:
            failures.append(f"flood {name}: exit {code}, {rss:.0f} MiB")

    many = many_tasks(a.maestro, 2000 if quick else 10_000, 64)
    print(f"many tasks: {many}")
    first, most, last = many["fds first/max/last"] or (0, 0, 0)
    if many["exit"] != 0 or most > first + 3 * 64 or (many["unreaped children max"] or 0) > 64:
        failures.append("many tasks: descriptors or children pile up")

    locks = lock_kills(a.maestro, 20 if quick else 100)
    print(f"lock holders killed: {locks}")
    if locks["lines after the next holder started"]:
        failures.append("two lock holders ran at once")

    print()
    if failures:
        print("MISSED: " + "; ".join(failures))
        return 1
    print("every target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
