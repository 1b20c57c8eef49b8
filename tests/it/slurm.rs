//! `--executor slurm` on the real one-machine Slurm that
//! `scripts/slurm-cluster.sh start` runs (with or without accounting:
//! `.ci/run` runs these tests in both modes). Every task here is a real job;
//! the cluster's scheduling (about two jobs a second on two CPUs) is what
//! these tests wait for, so they keep their jobs few and short.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Project, python, render, report_data};

/// The one node all these tests' jobs run on: the test that takes it down
/// holds this for writing, the others for reading.
static NODE: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Shares the node with the other tests (but the one taking it down).
pub fn share_node() -> std::sync::RwLockReadGuard<'static, ()> {
    NODE.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The jobs maestro submitted for the project that Slurm still has
/// (queued, running, or ending).
fn live_jobs(project: &Project) -> Vec<String> {
    let mut ours = Vec::new();
    for run in std::fs::read_dir(project.path(".maestro/jobs")).into_iter().flatten().flatten() {
        let submitted = std::fs::read_to_string(run.path().join("submitted")).unwrap_or_default();
        ours.extend(submitted.lines().filter_map(|l| l.split(' ').nth(1)).map(str::to_string));
    }
    let output = Command::new("squeue")
        .args(["--me", "-h", "-t", "PENDING,RUNNING,COMPLETING,CONFIGURING", "-o", "%i"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.trim().to_string())
        .filter(|id| ours.contains(id))
        .collect()
}

/// Waits until the project's `path` exists: a job got somewhere (after
/// waiting in the queue behind the other tests' jobs).
fn wait_for_job(project: &Project, path: &str) {
    let there = eventually(Duration::from_secs(180), || project.path(path).exists());
    assert!(there, "{path} never appeared");
}

/// Waits up to `limit` for `check` to hold.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    check()
}

const FAST: &str = "[slurm]\npoll_min = \"1s\"\npoll_max = \"2s\"\n";

#[test]
#[cfg_attr(no_slurm, ignore = "needs a running Slurm (scripts/slurm-cluster.sh start)")]
fn a_flow_runs_as_slurm_jobs_and_skips_what_is_fresh() {
    let _node = share_node();
    let flow = format!(
        r#"executor = "slurm"
{FAST}
[tasks.prepare]
cmd = "mkdir -p out && echo prepared > out/base.txt && echo on $SLURM_JOB_ID"
outputs = ["out/base.txt"]

[tasks.count]
for_each = ["a", "b"]
cmd = "cat out/base.txt > out/{{}}.txt; echo {{}} >> out/{{}}.txt; echo cpus=$SLURM_CPUS_PER_TASK"
inputs = ["out/base.txt"]
outputs = ["out/{{}}.txt"]
deps = ["prepare"]
cpus = 2
"#
    );
    let p = Project::with_flow(&flow);
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.read("out/a.txt"), "prepared\na\n");
    assert_eq!(p.read("out/b.txt"), "prepared\nb\n");
    // Each task ran in a job of its own, which asked for its CPUs.
    let header = run.stdout.lines().find(|l| l.starts_with("=== prepare (ok")).unwrap();
    assert!(header.ends_with(" in the queue)"), "{header}");
    let on = run.stdout.lines().find(|l| l.starts_with("on ")).unwrap();
    assert!(on["on ".len()..].parse::<u64>().is_ok(), "{on}");
    assert_eq!(run.stdout.matches("cpus=2").count(), 2, "{run:?}");
    let log = p.read(".maestro/logs/1/count:a.log");
    assert_eq!(log, "cpus=2\n");

    let again = p.maestro(&["run"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stderr.contains("3 skipped"), "{again:?}");
    assert!(!p.path(".maestro/jobs/2").exists(), "nothing was submitted");
}

/// The CPUs of the cluster's node.
fn node_cpus() -> u32 {
    let output = Command::new("sinfo").args(["-h", "-o", "%c"]).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim().parse().unwrap_or_else(|_| panic!("sinfo says {text:?}"))
}

#[test]
#[cfg_attr(
    any(no_slurm, no_chromium),
    ignore = "needs a running Slurm (scripts/slurm-cluster.sh start) and chromium (apt-get install chromium)"
)]
fn the_report_tells_the_wait_in_the_queue_from_the_run() {
    let _node = share_node();
    // Each job takes the whole node: one waits for the other to end.
    let cpus = node_cpus();
    let flow = format!(
        "executor = \"slurm\"\n{FAST}\n[tasks.one]\ncmd = \"sleep 2\"\ncpus = {cpus}\n\n[tasks.two]\ncmd = \"sleep 2\"\ncpus = {cpus}\n"
    );
    let p = Project::with_flow(&flow);
    let run = p.maestro(&["run", "--json", "--report", "run.html"]);
    assert_eq!(run.code, 0, "{run:?}");
    let html = p.read("run.html");
    let checks = python(
        r#"
import json, sys
data = json.loads(sys.stdin.read())
attempts = data["attempts"]
assert len(attempts) == 2, attempts
for a in attempts:
    # It ran its 2 s, give or take how late its start and end were seen.
    assert 1900 <= a["duration_ms"] < 4000, a
    assert a["queued_ms"] > 0, a
    assert a["job_id"].isdigit(), a
# The second waited for the first to end.
assert max(a["queued_ms"] for a in attempts) >= 1500, attempts
# The run's task time is the time the jobs ran, not their wait.
assert data["summary"]["task_ms"] < 8000, data["summary"]
print("ok")
"#,
        report_data(&html),
    );
    assert_eq!(checks.trim(), "ok");
    let finished: Vec<&str> =
        run.stdout.lines().filter(|l| l.contains("\"task_finished\"")).collect();
    assert_eq!(finished.len(), 2, "{run:?}");
    assert!(finished.iter().all(|l| l.contains("\"queued_us\":")), "{finished:?}");
    assert!(finished.iter().all(|l| l.contains("\"job_id\":\"")), "{finished:?}");
    let rendered = render(&p.path("run.html"));
    assert_eq!(rendered.console, Vec::<String>::new(), "console output");
    assert_eq!(rendered.dom.matches("class=\"bar queued").count(), 2, "{}", rendered.dom);
    assert!(rendered.dom.contains("<button type=\"button\">Queued</button>"), "{}", rendered.dom);
}

#[test]
#[cfg_attr(no_slurm, ignore = "needs a running Slurm (scripts/slurm-cluster.sh start)")]
fn a_failing_job_is_retried_as_a_new_job() {
    let _node = share_node();
    let flow = format!(
        "executor = \"slurm\"\n{FAST}\n[tasks.flaky]\ncmd = \"echo try $SLURM_JOB_ID; test -e marker || {{ touch marker; exit 3; }}\"\nretries = 1\n\n[tasks.broken]\ncmd = \"echo no; exit 4\"\n"
    );
    let p = Project::with_flow(&flow);
    let run = p.maestro(&["run", "-k"]);
    assert_eq!(run.code, 1, "{run:?}");
    let log = p.read(".maestro/logs/1/flaky.log");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 4, "{log}");
    assert_eq!(&lines[1..3], ["maestro: failed: exit 3", "maestro: --- attempt 2 ---"]);
    let job = |line: &str| line.strip_prefix("try ").unwrap().parse::<u64>().unwrap();
    assert_ne!(job(lines[0]), job(lines[3]), "each attempt a job of its own: {log}");
    assert_eq!(p.read(".maestro/logs/1/broken.log"), "no\nmaestro: failed: exit 4\n");
}

#[test]
#[cfg_attr(no_slurm, ignore = "needs a running Slurm (scripts/slurm-cluster.sh start)")]
fn a_timeout_cancels_the_job() {
    let _node = share_node();
    let flow = format!(
        "executor = \"slurm\"\n{FAST}\n[tasks.slow]\ncmd = \"echo started; sleep 120\"\ntimeout = \"2s\"\n"
    );
    let p = Project::with_flow(&flow);
    let started = Instant::now();
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("timed out after 2.00s"), "{run:?}");
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
    assert!(
        eventually(Duration::from_secs(20), || live_jobs(&p).is_empty()),
        "{:?}",
        live_jobs(&p)
    );
}

#[test]
#[cfg_attr(no_slurm, ignore = "needs a running Slurm (scripts/slurm-cluster.sh start)")]
fn a_missing_directory_is_said_as_locally() {
    let _node = share_node();
    let flow =
        format!("executor = \"slurm\"\n{FAST}\n[tasks.nowhere]\ncmd = \"true\"\ndir = \"gone\"\n");
    let p = Project::with_flow(&flow);
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 1, "{run:?}");
    let gone = p.path("gone");
    let expected = format!("could not start: cannot run in {}: no such directory", gone.display());
    assert!(run.stderr.contains(&expected), "{run:?}");
}

#[test]
#[cfg_attr(no_slurm, ignore = "needs a running Slurm (scripts/slurm-cluster.sh start)")]
fn ctrl_c_cancels_every_job_of_the_run() {
    let _node = share_node();
    let flow = format!(
        "executor = \"slurm\"\n{FAST}\n[tasks.long]\nfor_each = [\"1\", \"2\", \"3\", \"4\"]\ncmd = \"touch started-{{}}; sleep 300\"\n"
    );
    let p = Project::with_flow(&flow);
    let child = p.spawn(&["run"]);
    wait_for_job(&p, "started-1");
    let pid = child.id() as i32;
    // SAFETY: kill sends a signal; the pid is our child's.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{output:?}");
    assert!(
        eventually(Duration::from_secs(20), || live_jobs(&p).is_empty()),
        "{:?}",
        live_jobs(&p)
    );
}

#[test]
fn dry_run_shows_what_each_job_asks_for() {
    let flow = r#"executor = "slurm"
[slurm]
partition = "short"
sbatch_args = ["--constraint=avx2"]

[tasks.fit]
cmd = "python fit.py"
cpus = 4
timeout = "90m"
mem = "16G"
gpus = 1
qos = "high"
"#;
    let p = Project::with_flow(flow);
    let run = p.maestro(&["run", "-n"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "would submit fit (no inputs or outputs declared): sbatch --cpus-per-task=4 --time=91 --mem=16G --gres=gpu:1 --partition=short --qos=high --constraint=avx2\n    python fit.py\n"
    );
}

/// Kills maestro at once, as a lost login session or an OOM killer would.
fn kill_hard(child: std::process::Child) {
    // SAFETY: kill sends a signal; the pid is our child's.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait_with_output();
}

#[test]
#[cfg_attr(no_slurm, ignore = "needs a running Slurm (scripts/slurm-cluster.sh start)")]
fn a_killed_maestro_s_jobs_are_reattached_and_nothing_runs_twice() {
    let _node = share_node();
    let flow = format!(
        "executor = \"slurm\"\n{FAST}\n\
         [tasks.slow]\ncmd = \"echo slow >> ran; touch started-slow; sleep 5; echo slow output\"\n\
         [tasks.quick]\ncmd = \"echo quick >> ran\"\n\
         [tasks.after]\ncmd = \"echo after >> ran\"\ndeps = [\"slow\"]\n"
    );
    let p = Project::with_flow(&flow);
    let child = p.spawn(&["run"]);
    wait_for_job(&p, "started-slow");
    kill_hard(child);
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 0, "{run:?}");
    let mut ran: Vec<String> = p.read("ran").lines().map(str::to_string).collect();
    ran.sort();
    assert_eq!(ran, ["after", "quick", "slow"], "every task ran once");
    let log = p.read(".maestro/logs/2/slow.log");
    assert!(
        log.starts_with("maestro: reattached to the job of an earlier run; its log: "),
        "{log}"
    );
    assert!(log.ends_with("slow output\n"), "{log}");
    assert!(!p.path(".maestro/jobs").read_dir().unwrap().any(|_| true), "job files left behind");
}

#[test]
#[cfg_attr(no_slurm, ignore = "needs a running Slurm (scripts/slurm-cluster.sh start)")]
fn cancel_stops_the_jobs_of_a_killed_maestro() {
    let _node = share_node();
    let flow = format!(
        "executor = \"slurm\"\n{FAST}\n[tasks.long]\nfor_each = [\"1\", \"2\"]\ncmd = \"touch started-{{}}; sleep 300\"\n"
    );
    let p = Project::with_flow(&flow);
    let child = p.spawn(&["run"]);
    wait_for_job(&p, "started-1");
    kill_hard(child);
    let jobs = live_jobs(&p);
    assert!(!jobs.is_empty());
    let cancel = p.maestro(&["cancel"]);
    assert_eq!(cancel.code, 0, "{cancel:?}");
    assert!(
        cancel.stderr.starts_with("maestro: cancelled the Slurm jobs of run 1: "),
        "{cancel:?}"
    );
    // The jobs' files went with the cancel: ask Slurm for the ids noted.
    let still = || {
        let output = Command::new("squeue")
            .args(["--me", "-h", "-t", "PENDING,RUNNING,COMPLETING,CONFIGURING", "-o", "%i"])
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&output.stdout).into_owned();
        jobs.iter().filter(|job| listed.lines().any(|l| l.trim() == job.as_str())).count()
    };
    assert!(eventually(Duration::from_secs(30), || still() == 0), "{jobs:?} still in the queue");
    let again = p.maestro(&["cancel"]);
    assert_eq!(again.stderr, "maestro: nothing to cancel: no run is going on here\n");
}

#[test]
#[cfg_attr(no_slurm, ignore = "needs a running Slurm (scripts/slurm-cluster.sh start)")]
#[cfg_attr(
    all(no_slurm_accounting, not(no_slurm)),
    ignore = "needs Slurm with accounting (scripts/slurm-cluster.sh start --accounting)"
)]
fn a_submit_limit_holds_jobs_back_instead_of_failing_them() {
    let _node = share_node();
    // The cluster's QOS 'maestro-limit' lets a user have 3 jobs at once.
    let flow = format!(
        "executor = \"slurm\"\n{FAST}\n[tasks.many]\nfor_each = [\"1\", \"2\", \"3\", \"4\", \"5\", \"6\", \"7\"]\ncmd = \"sleep 1; echo {{}} >> done\"\nqos = \"maestro-limit\"\n"
    );
    let p = Project::with_flow(&flow);
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 0, "{run:?}");
    let mut done: Vec<String> = p.read("done").lines().map(str::to_string).collect();
    done.sort();
    assert_eq!(done, ["1", "2", "3", "4", "5", "6", "7"]);
    assert!(
        run.stderr.contains("maestro: Slurm holds further jobs back (")
            && run.stderr.contains("QOSMaxSubmitJobPerUserLimit"),
        "{run:?}"
    );
}

#[test]
#[cfg_attr(no_slurm, ignore = "needs a running Slurm (scripts/slurm-cluster.sh start)")]
fn a_job_requeued_after_its_node_failed_is_the_same_attempt() {
    let _node = NODE.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    let flow = format!(
        "executor = \"slurm\"\n{FAST}\n[tasks.survivor]\ncmd = \"echo run >> runs; touch started; sleep 4; echo done\"\n"
    );
    let p = Project::with_flow(&flow);
    let child = p.spawn(&["run"]);
    wait_for_job(&p, "started");
    let node =
        String::from_utf8(Command::new("hostname").arg("-s").output().unwrap().stdout).unwrap();
    let node = format!("nodename={}", node.trim());
    let scontrol = |state: &[&str]| {
        let status = Command::new("scontrol").args(["update", &node]).args(state).status().unwrap();
        assert!(status.success(), "scontrol update {node} {state:?}");
    };
    scontrol(&["state=down", "reason=maestro-test"]);
    std::thread::sleep(Duration::from_secs(1));
    scontrol(&["state=resume"]);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(p.read("runs"), "run\nrun\n", "Slurm ran it again");
    let log = p.read(".maestro/logs/1/survivor.log");
    assert!(!log.contains("attempt 2"), "the same attempt: {log}");
    assert!(log.ends_with("done\n"), "{log}");
}
