//! `--executor slurm --workers N`: workers in Slurm allocations, on the
//! project's one-machine Slurm (see `slurm.rs`).

use std::process::{Child, Command};
use std::time::Duration;

use crate::slurm::{eventually, share_node};
use crate::support::{Project, finish, is_dead, items};
use crate::workers::recorded_once_each;

/// A wrapper first on PATH: each submission (`sbatch --parsable`, not
/// `--version`) that Slurm takes adds its job id to `sbatch-calls`.
const SBATCH: &str = r#"#!/bin/sh
test "$1" = --parsable || exec /usr/bin/sbatch "$@"
out=$(/usr/bin/sbatch "$@") || { status=$?; echo "$out"; exit $status; }
echo "$out" >> "$(dirname "$0")/../sbatch-calls"
echo "$out"
"#;

/// A project whose submissions are noted by [`SBATCH`].
fn counted(flow: &str) -> Project {
    let p = Project::with_flow(flow);
    p.file("bin/sbatch", SBATCH);
    std::fs::set_permissions(
        p.path("bin/sbatch"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    p
}

fn command(p: &Project, args: &[&str]) -> Command {
    let path = format!("{}:{}", p.path("bin").display(), std::env::var("PATH").unwrap_or_default());
    let mut command = p.command(args);
    command.env("PATH", path);
    command
}

fn spawn(p: &Project, args: &[&str]) -> Child {
    command(p, args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The jobs the project submitted that Slurm still has (queued, running
/// or ending).
fn worker_jobs(p: &Project) -> Vec<String> {
    let ours = std::fs::read_to_string(p.path("sbatch-calls")).unwrap_or_default();
    let output = Command::new("squeue")
        .args(["--me", "-h", "-t", "PENDING,RUNNING,COMPLETING,CONFIGURING", "-o", "%i"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|id| ours.lines().any(|line| line.trim() == *id))
        .map(str::to_string)
        .collect()
}

#[test]
#[cfg_attr(no_slurm, ignore = "needs a running Slurm (scripts/slurm-cluster.sh start)")]
fn two_thousand_tiny_tasks_run_in_two_allocations() {
    let _node = share_node();
    let flow = format!(
        "[slurm]\nworker_cpus = 2\n\n[tasks.tiny]\nfor_each = [{}]\ncmd = \"echo {{}} >> ran\"\n",
        items(2000)
    );
    let p = counted(&flow);
    let (code, _, stderr) = finish(spawn(&p, &["run", "--executor", "slurm", "--workers", "2"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("2000 ok"), "{stderr}");
    let mut ran: Vec<u32> = p.read("ran").lines().map(|l| l.parse().unwrap()).collect();
    ran.sort();
    assert_eq!(ran, (1..=2000).collect::<Vec<_>>(), "each task once");
    let calls = p.read("sbatch-calls").lines().count();
    assert!((1..=2).contains(&calls), "{calls} sbatch calls");
    assert!(
        eventually(Duration::from_secs(30), || worker_jobs(&p).is_empty()),
        "{:?}",
        worker_jobs(&p)
    );
}

#[test]
#[cfg_attr(no_slurm, ignore = "needs a running Slurm (scripts/slurm-cluster.sh start)")]
fn a_worker_whose_allocation_ends_hands_its_work_to_the_next() {
    let _node = share_node();
    // One worker of one CPU at a time, for a minute (draining at 45 s):
    // the third task, started at about 40 s, is still running when Slurm
    // ends the allocation, and runs again in the next one.
    let flow = format!(
        "[slurm]\nworkers = 1\nworker_cpus = 1\nworker_time = \"1m\"\n\n[tasks.t]\nfor_each = [{}]\ncmd = \"echo {{}} >> started; sleep 20; echo {{}} >> done\"\n",
        items(4)
    );
    let p = counted(&flow);
    let (code, _, stderr) = finish(spawn(&p, &["run", "--executor", "slurm"]));
    assert_eq!(code, 0, "{stderr}");
    let mut done: Vec<String> = p.read("done").lines().map(str::to_string).collect();
    done.sort();
    assert_eq!(done, ["1", "2", "3", "4"], "each task ended once");
    let calls = p.read("sbatch-calls").lines().count();
    assert!(calls >= 2, "a second allocation took over: {calls} sbatch calls");
    let lost = (1..=4)
        .filter(|i| p.read(&format!(".maestro/logs/1/t:{i}.log")).contains("was lost"))
        .count();
    assert!(lost <= 1, "{lost} tasks lost their worker");
}

#[test]
#[cfg_attr(no_slurm, ignore = "needs a running Slurm (scripts/slurm-cluster.sh start)")]
fn ctrl_c_cancels_the_allocations_and_leaves_no_task() {
    let _node = share_node();
    let flow = format!(
        "[slurm]\nworker_cpus = 1\n\n[tasks.t]\nfor_each = [{}]\ncmd = \"echo $$ > pid-{{}}; sleep 300\"\n",
        items(2)
    );
    let p = counted(&flow);
    let run = spawn(&p, &["run", "--executor", "slurm", "--workers", "2"]);
    let started = eventually(Duration::from_secs(120), || {
        p.path("pid-1").exists() && p.path("pid-2").exists()
    });
    assert!(started, "the tasks never started");
    // SAFETY: kill sends a signal to our own child.
    unsafe { libc::kill(run.id() as i32, libc::SIGINT) };
    let (code, _, stderr) = finish(run);
    assert_eq!(code, 130, "{stderr}");
    assert!(
        eventually(Duration::from_secs(30), || worker_jobs(&p).is_empty()),
        "{:?}",
        worker_jobs(&p)
    );
    for i in 1..=2 {
        let pid: i32 = p.read(&format!("pid-{i}")).trim().parse().unwrap();
        assert!(eventually(Duration::from_secs(10), || is_dead(pid)), "task {i} outlived the run");
    }
}

#[test]
#[cfg_attr(no_slurm, ignore = "needs a running Slurm (scripts/slurm-cluster.sh start)")]
fn map_prints_the_same_as_jobs_in_workers_and_locally() {
    let _node = share_node();
    let p = counted("");
    let args = ["-k", "echo {}; echo e{} >&2; test {} != c", ":::", "a", "b", "c", "d"];
    let local = p.maestro(&[&["map"], &args[..]].concat());
    assert_eq!((local.code, local.stdout.as_str()), (1, "a\nb\nc\nd\n"), "{local:?}");
    for elsewhere in [&["--executor", "slurm"][..], &["--executor", "slurm", "--workers", "1"]] {
        let ours = command(&p, &[&["map"], elsewhere, &args[..]].concat()).output().unwrap();
        let stdout = String::from_utf8_lossy(&ours.stdout);
        assert_eq!(
            (ours.status.code(), stdout.as_ref()),
            (Some(1), local.stdout.as_str()),
            "{elsewhere:?}"
        );
        let stderr = String::from_utf8_lossy(&ours.stderr);
        assert_eq!(stderr.lines().filter(|l| l.starts_with('e')).count(), 4, "{stderr}");
    }
    // One job per input, then one allocation.
    assert_eq!(p.read("sbatch-calls").lines().count(), 5);
}

#[test]
#[cfg_attr(no_slurm, ignore = "needs a running Slurm (scripts/slurm-cluster.sh start)")]
fn a_worker_killed_in_its_allocation_is_replaced_and_loses_nothing() {
    let _node = share_node();
    // Each task notes its worker (its parent); the test kills the worker of
    // the first, whose tasks run again in a new allocation.
    let flow = format!(
        "[slurm]\nworker_cpus = 2\n\n[tasks.t]\nfor_each = [{}]\ncmd = \"echo $PPID > worker-{{}}; echo {{}} >> started; sleep 3; echo {{}} >> done\"\n",
        items(4)
    );
    let p = counted(&flow);
    let run = spawn(&p, &["run", "--executor", "slurm", "--workers", "1", "--json"]);
    assert!(
        eventually(Duration::from_secs(120), || p.path("worker-1").exists()),
        "no task started"
    );
    std::thread::sleep(Duration::from_millis(300));
    let worker: i32 = p.read("worker-1").trim().parse().unwrap();
    // SAFETY: kill sends a signal; the pid is the worker that ran task 1.
    unsafe { libc::kill(worker, libc::SIGKILL) };
    let (code, stdout, stderr) = finish(run);
    assert_eq!(code, 0, "{stderr}");
    let mut done: Vec<String> = p.read("done").lines().map(str::to_string).collect();
    done.sort();
    assert_eq!(done, ["1", "2", "3", "4"], "each task ended once");
    recorded_once_each(&stdout, 4);
    assert!(p.read("sbatch-calls").lines().count() >= 2, "no allocation replaced the first");
}
