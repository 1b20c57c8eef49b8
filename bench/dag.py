#!/usr/bin/env python3
"""Timing half of bench/dag.sh: a layered random DAG of no-op tasks through
make, ninja and maestro, wall time and peak memory.

Called by dag.sh, which parses the options and finds the tools; run it
through that script. This file generates, in a temporary directory, the DAG
of N tasks (and one of DRY_N tasks for the dry runs) as a Makefile, a
build.ninja and a maestro flow; runs every selected runner once untimed, then
R repetitions, each running every runner once in a shuffled order; and prints
the table and the targets. Wall time, CPU and peak RSS come from os.wait4 on
the tool's own pid (benchlib.run_rusage). Standard library only (Python 3.11).
"""

from __future__ import annotations

import argparse
import os
import random
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
from benchlib import (  # noqa: E402
    Outcome, become_subreaper, binary_id, clean_env, fmt_table, measure_shuffled,
    report_file_create, report_rebuilt, run_rusage, selection_and_order,
)

# Targets (from our issue), judged and printed, never failed on.
TARGET_RUN_N = 100_000  # the run targets are stated for this many tasks:
# maestro's peak RSS at or below ninja's, its wall time at or below make's.
TARGET_DRY_N = 1_000_000  # the dry-run targets for this many tasks:
TARGET_DRY_S = 3.0  # maestro's dry run under 3 s
TARGET_DRY_MB = 1000.0  # and under 1 GB (MB = 10^6 bytes)


@dataclass
class Runner:
    name: str
    kind: str  # "run" (N tasks, executed) or "dry" (DRY_N tasks, dry run)
    tasks: int
    argv: list[str]
    cwd: Path
    timeout: float
    # maestro's state directory, moved aside before every run (see reset).
    state: Path | None = None
    # Files deleted before every run (ninja's log).
    delete: list[Path] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warmup_failure: str | None = None


def mb(kib: float) -> float:
    return kib * 1024 / 1e6


# --- the DAG -----------------------------------------------------------------

def layered_dag(n: int, layers: int, seed: int) -> list[list[int]]:
    """deps[i] for tasks 0..n-1 in `layers` layers of n/layers tasks (the first
    n % layers layers one more; fewer layers if n < layers): every task of a
    layer after the first depends on 1 to 3 (uniform) distinct random tasks of
    the layer before, fewer if that layer is smaller. Sorted, reproducible
    from `seed`."""
    rng = random.Random(seed)
    layers = min(layers, n)
    size, extra = divmod(n, layers)
    deps: list[list[int]] = []
    prev: range | None = None
    start = 0
    for layer in range(layers):
        end = start + size + (layer < extra)
        if prev is None:
            deps.extend([] for _ in range(start, end))
        else:
            sample, randint, most = rng.sample, rng.randint, len(prev)
            deps.extend(sorted(sample(prev, min(randint(1, 3), most)))
                        for _ in range(start, end))
        prev = range(start, end)
        start = end
    return deps


def write_fixture(where: Path, deps: list[list[int]]) -> tuple[int, int]:
    """Write the DAG into `where` as Makefile, build.ninja and flow.toml;
    return (edges, bytes written). Each file is built as one string."""
    where.mkdir()
    n = len(deps)
    names = [f"t{i}" for i in range(n)]
    dep_lists = [" ".join([names[d] for d in ds]) for ds in deps]
    all_names = " ".join(names)

    # Phony targets, each running `true`; `all` lists every task.
    make = [f".PHONY: all {all_names}\nall: {all_names}\n"]
    make += [f"{t}: {d}\n\ttrue\n" if d else f"{t}:\n\ttrue\n"
             for t, d in zip(names, dep_lists)]

    # One edge per task whose output is never created, so every run redoes
    # every edge; the deps as explicit inputs; the default is the tasks
    # nobody depends on.
    depended = bytearray(n)
    for ds in deps:
        for d in ds:
            depended[d] = 1
    ninja = ["rule r\n  command = true\n\n"]
    ninja += [f"build {t}: r {d}\n" if d else f"build {t}: r\n"
              for t, d in zip(names, dep_lists)]
    ninja.append("\ndefault " + " ".join(t for t, used in zip(names, depended) if not used)
                 + "\n")

    flow = [f'[tasks.{t}]\ncmd = "true"\n'
            + ("deps = [" + ", ".join([f'"{names[d]}"' for d in ds]) + "]\n" if ds else "")
            for t, ds in zip(names, deps)]

    written = 0
    for file, parts in (("Makefile", make), ("build.ninja", ninja), ("flow.toml", flow)):
        text = ("\n" if file == "flow.toml" else "").join(parts).encode()
        (where / file).write_bytes(text)
        written += len(text)
    return sum(map(len, deps)), written


# --- runs --------------------------------------------------------------------

def reset(runner: Runner, trash: Path) -> None:
    """Untimed, before each run: delete ninja's log, and move maestro's
    .maestro/ aside (renamed into `trash`, deleted with the temporary
    directory at the end) so that every run starts from no state. Moved,
    not deleted: deleting the N log files of the run before would make the
    next file creations on this ext4 several times slower (bench/README.md)."""
    for path in runner.delete:
        if path.exists():
            path.unlink()
    if runner.state is not None and runner.state.exists():
        runner.state.rename(trash / f"{runner.name}-{time.monotonic_ns()}")


def last_line(path: Path) -> str:
    """The last non-blank line of the file (of its last 4 KiB), shortened."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            lines = f.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    line = lines[-1].strip() if lines else ""
    return line if len(line) <= 160 else line[:157] + "..."


def run_once(runner: Runner, env: dict[str, str], trash: Path) -> Outcome:
    reset(runner, trash)
    stderr = runner.cwd.parent / f"{runner.name}.stderr"
    out = run_rusage(runner.argv, runner.cwd, env, runner.timeout, stderr)
    if out.ok:
        out.detail = f"ok, peak RSS {mb(out.maxrss_kib or 0):.1f} MB"
    elif said := last_line(stderr):
        # Why, in the tool's words: the table shows it in the FAILED row.
        out.detail = f"{out.detail}: {said}"
    return out


def build_runners(root: Path, a: argparse.Namespace) -> list[Runner]:
    j = a.jobs
    run, dry = root / "run", root / "dry"
    # Generous timeouts: a task takes ~0.5 ms of dispatch on 2 slots; a dry
    # run a few microseconds per task.
    run_timeout = max(300.0, a.n * 0.01)
    dry_timeout = max(300.0, a.dry_n * 0.0005)
    runners = [
        Runner(f"make_j{j}", "run", a.n, [a.make, "-s", f"-j{j}", "-f", "Makefile"], run,
               run_timeout),
    ]
    if a.ninja:
        runners.append(Runner(f"ninja_j{j}", "run", a.n,
                              [a.ninja, "--quiet", f"-j{j}", "-f", "build.ninja"], run,
                              run_timeout, delete=[run / ".ninja_log", run / ".ninja_deps"]))
    binaries = [("", a.maestro)] + ([("_base", a.baseline)] if a.baseline else [])
    for suffix, maestro in binaries:
        runners.append(Runner(f"maestro_run_j{j}{suffix}", "run", a.n,
                              [maestro, "run", "-f", "flow.toml", "-j", str(j),
                               "--output", "quiet"], run, run_timeout,
                              state=run / ".maestro"))
    runners.append(Runner("make_dryrun", "dry", a.dry_n, [a.make, "-n", "-f", "Makefile"], dry,
                          dry_timeout))
    if a.ninja:
        runners.append(Runner("ninja_dryrun", "dry", a.dry_n,
                              [a.ninja, "-n", "-f", "build.ninja"], dry, dry_timeout,
                              delete=[dry / ".ninja_log", dry / ".ninja_deps"]))
    for suffix, maestro in binaries:
        runners.append(Runner(f"maestro_dryrun{suffix}", "dry", a.dry_n,
                              [maestro, "run", "-f", "flow.toml", "-n"], dry, dry_timeout,
                              state=dry / ".maestro"))
    return runners


# --- main --------------------------------------------------------------------

def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--layers", type=int, required=True)
    p.add_argument("--jobs", type=int, required=True)
    p.add_argument("--reps", type=int, required=True)
    p.add_argument("--only", default="")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--dry-n", type=int, required=True)
    p.add_argument("--maestro", required=True)
    p.add_argument("--make", required=True)
    p.add_argument("--ninja", default="")
    p.add_argument("--baseline", default="")
    a = p.parse_args()

    chosen = selection_and_order("dag", a.only, a.seed)
    if chosen is None:
        return 2
    only, seed, rng = chosen
    become_subreaper()
    env = clean_env()
    maestro_id = binary_id(a.maestro)

    with tempfile.TemporaryDirectory(prefix="maestro-bench-") as tmp:
        root = Path(tmp)
        trash = root / "trash"
        trash.mkdir()
        runners = [r for r in build_runners(root, a) if only.search(r.name)]
        if not runners:
            print(f"dag: --only {a.only!r} selects no runner", file=sys.stderr)
            return 2
        print(f"runners:  {' '.join(r.name for r in runners)}")
        print(f"plan:     {a.jobs} slots, 1 warm-up + {a.reps} reps, shuffled order per rep "
              f"(seed {seed}); .maestro/ moved aside and .ninja_log deleted before each run")
        for kind, n in (("run", a.n), ("dry", a.dry_n)):
            if not any(r.kind == kind for r in runners):
                continue
            start = time.perf_counter()
            deps = layered_dag(n, a.layers, seed)
            edges, written = write_fixture(root / kind, deps)
            del deps
            print(f"dag {kind}:  {n} tasks in {min(a.layers, n)} layers, {edges} deps "
                  f"(1-3 per task after layer 0, seed {seed}); Makefile, build.ninja, flow.toml: "
                  f"{written / 1e6:.1f} MB, written in {time.perf_counter() - start:.1f}s")
        # What the launcher alone costs: /bin/true started the same way.
        true_bin = shutil.which("true") or "/bin/true"
        floor = [run_rusage([true_bin], root, env, 60.0) for _ in range(5)]
        if not all(o.ok for o in floor):
            print("dag: cannot launch /bin/true through sh: "
                  + ", ".join(o.detail for o in floor), file=sys.stderr)
            return 2
        print(f"floor:    {true_bin} launched the same way: "
              f"{statistics.median(o.wall for o in floor) * 1e3:.1f} ms, peak RSS "
              f"{mb(max(o.maxrss_kib or 0 for o in floor)):.1f} MB (part of every number below)")
        report_file_create(root)
        print()

        measure_shuffled(runners, a.reps, rng, lambda r: run_once(r, env, trash))
        created = sum(len(files) for _, _, files in os.walk(root))
        print(f"  cleaning up {created} files...", flush=True)

    def good(r: Runner | None) -> bool:
        return r is not None and bool(r.walls) and not r.failures

    def find(name: str) -> Runner | None:
        return next((r for r in runners if r.name == name), None)

    j = a.jobs
    make_of = {"run": find(f"make_j{j}"), "dry": find("make_dryrun")}
    ninja_of = {"run": find(f"ninja_j{j}"), "dry": find("ninja_dryrun")}
    wall_med = {r.name: statistics.median(r.walls) for r in runners if good(r)}
    rss_med = {r.name: statistics.median(r.rss_kib) for r in runners if good(r)}

    header = ["runner", "ok", "tasks", "median s", "min-max s", "us/task", "x make", "cpu s",
              "peak RSS MB", "min-max MB", "RSS x ninja"]
    rows = [header]
    for r in runners:
        ok = f"{len(r.walls)}/{a.reps}"
        if not good(r):
            reasons = sorted(set(r.failures)) or ["no run"]
            rows.append([r.name, ok, str(r.tasks), "FAILED", ", ".join(reasons)]
                        + [""] * 6)
            continue
        med, rss = wall_med[r.name], rss_med[r.name]
        make, ninja = make_of[r.kind], ninja_of[r.kind]
        x_make = f"{med / wall_med[make.name]:.2f}x" if good(make) else "-"
        x_ninja = f"{rss / rss_med[ninja.name]:.2f}x" if good(ninja) else "-"
        rows.append([
            r.name,
            ok,
            str(r.tasks),
            f"{med:.3f}",
            f"{min(r.walls):.3f}-{max(r.walls):.3f}",
            f"{med / r.tasks * 1e6:.1f}",
            x_make,
            f"{statistics.median(r.cpus):.2f}",
            f"{mb(rss):.1f}",
            f"{mb(min(r.rss_kib)):.1f}-{mb(max(r.rss_kib)):.1f}",
            x_ninja,
        ])
    print()
    print(fmt_table(rows, right=set(range(1, len(header)))))
    print()
    print("median/min-max s: wall seconds of the whole run; us/task: median / tasks; x make: "
          "median / make's median (make_jJ for runs, make_dryrun for dry runs);")
    print("cpu: median user+sys seconds of the tool and its children; peak RSS: median (and "
          "min-max) ru_maxrss of the tool's own process from wait4, MB = 10^6 bytes;")
    print("RSS x ninja: peak RSS median / ninja's (of the same kind). A runner with any failed "
          "run is shown FAILED, not timed.")

    def judged(what: str, n_wanted: int, n_here: int, checks: list[tuple[str, bool]]) -> None:
        text = "; ".join(f"{label}: {'MET' if met else 'NOT MET'}" for label, met in checks)
        scale = "" if n_here == n_wanted else f" (judged at {n_here} tasks here)"
        print(f"target:   {what}{scale}: {text}")

    maestro_run, maestro_dry = find(f"maestro_run_j{j}"), find("maestro_dryrun")
    if maestro_run is not None:
        checks = []
        ninja, make = ninja_of["run"], make_of["run"]
        if good(maestro_run) and good(ninja):
            ratio = rss_med[maestro_run.name] / rss_med[ninja.name]
            checks.append((f"peak RSS <= ninja's ({mb(rss_med[maestro_run.name]):.1f} MB, "
                           f"{ratio:.2f}x)", ratio <= 1.0))
        else:
            print("target:   RSS against ninja not judged: maestro or ninja has no good run "
                  "(or was not selected)")
        if good(maestro_run) and good(make):
            ratio = wall_med[maestro_run.name] / wall_med[make.name]
            checks.append((f"wall <= make's ({wall_med[maestro_run.name]:.3f}s, "
                           f"{ratio:.2f}x)", ratio <= 1.0))
        else:
            print("target:   time against make not judged: maestro or make has no good run "
                  "(or was not selected)")
        if checks:
            judged(f"{TARGET_RUN_N}-task run", TARGET_RUN_N, a.n, checks)
    if maestro_dry is not None:
        if good(maestro_dry):
            wall, rss = wall_med[maestro_dry.name], mb(rss_med[maestro_dry.name])
            judged(f"{TARGET_DRY_N}-task dry run", TARGET_DRY_N, a.dry_n, [
                (f"under {TARGET_DRY_S:g} s ({wall:.3f}s)", wall < TARGET_DRY_S),
                (f"under 1 GB ({rss:.1f} MB)", rss < TARGET_DRY_MB),
            ])
        else:
            print("target:   dry run not judged: maestro_dryrun has no good run")

    for r in runners:
        if r.warmup_failure:
            print(f"note: warm-up of {r.name} failed ({r.warmup_failure})")
    if not a.ninja:
        print("note: ninja not installed, so no RSS ratios (apt-get install -y ninja-build)")
    if any(r.state is not None for r in runners):
        print(f"note: {created} files were just deleted: on ext4, wait ~35 s before a benchmark "
              "that creates files (see bench/README.md)")
    failed = not all(good(r) and not r.warmup_failure for r in runners)
    if report_rebuilt(a.maestro, maestro_id):
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
