//! `--executor workers` and `maestro worker`: workers started by hand (by
//! the test, here) join a run over TCP on this machine.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Project, finish, is_dead, items, python, report_data};

/// The join file of the project's first run, once the run has written it.
fn join_file(p: &Project) -> String {
    p.wait_for(".maestro/workers/1.join");
    p.path(".maestro/workers/1.join").display().to_string()
}

fn worker(p: &Project, join: &str, slots: u32) -> Child {
    p.spawn(&["worker", "--join", join, "--slots", &slots.to_string()])
}

fn lines(p: &Project, path: &str) -> Vec<String> {
    let mut lines: Vec<String> = p.read(path).lines().map(str::to_string).collect();
    lines.sort_by_key(|line| line.parse::<u32>().unwrap_or(u32::MAX));
    lines
}

/// Waits until `n` tasks wrote their line into `started`.
fn wait_until_started(p: &Project, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while p.path("started").exists().then(|| lines(p, "started").len()) != Some(n) {
        assert!(Instant::now() < deadline, "{n} tasks never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Checks that the `--json` events in `stdout` record `n` ends, each of a
/// first attempt: a task that ran again after its worker was lost is the
/// same attempt, recorded once.
pub fn recorded_once_each(stdout: &str, n: usize) {
    let finished: Vec<&str> = stdout.lines().filter(|l| l.contains("\"task_finished\"")).collect();
    assert_eq!(finished.len(), n, "one end recorded per task: {finished:?}");
    assert!(finished.iter().all(|l| l.contains("\"attempt\":1,")), "{finished:?}");
}

fn numbers(n: u32) -> Vec<String> {
    (1..=n).map(|i| i.to_string()).collect()
}

fn for_each(n: u32, cmd: &str) -> String {
    format!("[tasks.t]\nfor_each = [{}]\ncmd = \"{cmd}\"\n", items(n))
}

#[test]
fn tasks_run_once_each_on_the_workers_that_join() {
    let flow = for_each(200, "echo {} >> ran; echo out {}; echo err {} >&2; sleep 0.02");
    let p = Project::with_flow(&flow);
    let run = p.spawn(&["run", "--executor", "workers", "--report", "run.html"]);
    let join = join_file(&p);
    let workers = [worker(&p, &join, 2)];
    // The second joins once the first is in: worker numbers follow.
    p.wait_for("ran");
    let workers = [workers.into_iter().next().unwrap(), worker(&p, &join, 3)];
    let (code, stdout, stderr) = finish(run);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr
            .starts_with(&format!("maestro: waiting for workers: maestro worker --join {join}\n")),
        "{stderr}"
    );
    assert!(stderr.contains("200 ok"), "{stderr}");
    assert_eq!(lines(&p, "ran"), numbers(200));
    // Each task's output, written into its log by the run, both streams.
    assert_eq!(p.read(".maestro/logs/1/t:57.log"), "out 57\nerr 57\n");
    assert!(stdout.contains("=== t:57 (ok, "), "{stdout}");
    for worker in workers {
        let (code, _, stderr) = finish(worker);
        assert_eq!(code, 0, "{stderr}");
    }
    assert!(!p.path(".maestro/workers/1.join").exists(), "the join file outlived its run");
    // The report's timeline has a row per worker slot.
    let checks = python(
        r#"
import json, sys
data = json.loads(sys.stdin.read())
host = data["attempts"][0]["worker"].split(" #")[0]
rows = [f"{host} #1 · 1", f"{host} #1 · 2"] + [f"{host} #2 · {s}" for s in (1, 2, 3)]
assert data["run"]["rows"] == rows, data["run"]["rows"]
assert data["run"]["jobs"] == 5
for a in data["attempts"]:
    assert a["worker"] in (f"{host} #1", f"{host} #2"), a
    assert len(a["slots"]) == 1 and 1 <= a["slots"][0] <= 5, a
print("ok")
"#,
        report_data(&p.read("run.html")),
    );
    assert_eq!(checks.trim(), "ok");
}

#[test]
fn a_worker_killed_mid_run_loses_no_task_and_runs_none_twice_in_the_record() {
    let flow = for_each(6, "echo {} >> started; sleep 2; echo {} >> done");
    let p = Project::with_flow(&flow);
    let run = p.spawn(&["run", "--executor", "workers", "--json"]);
    let join = join_file(&p);
    let doomed = worker(&p, &join, 3);
    wait_until_started(&p, 3);
    // SAFETY: kill sends a signal to our own child.
    unsafe { libc::kill(doomed.id() as i32, libc::SIGKILL) };
    let _ = finish(doomed);
    let rescuer = worker(&p, &join, 6);
    let (code, stdout, stderr) = finish(run);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines(&p, "done"), numbers(6), "every task ended once");
    // The three on the killed worker started again elsewhere.
    assert_eq!(lines(&p, "started").len(), 9);
    recorded_once_each(&stdout, 6);
    let lost = (1..=6)
        .filter(|i| p.read(&format!(".maestro/logs/1/t:{i}.log")).contains("was lost"))
        .count();
    assert_eq!(lost, 3, "the logs of the tasks that ran again say why");
    assert_eq!(finish(rescuer).0, 0);
}

#[test]
fn ctrl_c_stops_the_workers_and_leaves_no_task_process() {
    let flow = for_each(3, "echo $$ > pid-{}; sleep 60");
    let p = Project::with_flow(&flow);
    let run = p.spawn(&["run", "--executor", "workers"]);
    let join = join_file(&p);
    let helper = worker(&p, &join, 3);
    for i in 1..=3 {
        p.wait_for(&format!("pid-{i}"));
    }
    // SAFETY: kill sends a signal to our own child.
    unsafe { libc::kill(run.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let (code, _, stderr) = finish(run);
    assert_eq!(code, 130, "{stderr}");
    assert_eq!(finish(helper).0, 0, "the worker leaves when told");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    for i in 1..=3 {
        let pid: i32 = p.read(&format!("pid-{i}")).trim().parse().unwrap();
        assert!(is_dead(pid), "task {i} (pid {pid}) outlived the run");
    }
}

#[test]
fn a_worker_with_a_join_file_of_another_run_is_turned_away() {
    let p = Project::with_flow(&for_each(1, "true"));
    let run = p.spawn(&["run", "--executor", "workers"]);
    let join = join_file(&p);
    let text = p.read(".maestro/workers/1.join");
    let secret = text.lines().find(|l| l.starts_with("secret ")).unwrap();
    p.file("stale.join", &text.replace(secret, "secret 00"));
    let stale = p.maestro(&["worker", "--join", "stale.join"]);
    assert_eq!(stale.code, 1, "{stale:?}");
    assert_eq!(
        stale.stderr,
        "error: the run did not let this worker in: its join file is from another run, or stale\n"
    );
    let missing = p.maestro(&["worker", "--join", "nowhere.join"]);
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(missing.stderr.starts_with("error: cannot read nowhere.join: "), "{missing:?}");
    let helper = worker(&p, &join, 1);
    assert_eq!(finish(run).0, 0);
    assert_eq!(finish(helper).0, 0);
}

#[test]
fn tasks_on_different_workers_share_counters_and_queues() {
    // Counted from ten tasks at once; three tasks wait on a queue that a
    // fourth, on whichever worker, fills. MAESTRO_STATE_SHARED=1 makes the
    // waits also look again every so often, as on a network file system.
    let flow = r#"
[tasks.count]
for_each = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]
cmd = "for i in 1 2 3 4 5 6 7 8 9 10; do $MAESTRO counter add hits 1 >/dev/null; done"

[tasks.take]
for_each = ["1", "2", "3"]
cmd = "$MAESTRO queue get --timeout 30 work > got-{}"

[tasks.give]
cmd = "sleep 0.5; $MAESTRO queue put work a b c"
"#;
    let p = Project::with_flow(flow);
    let shared = |args: &[&str]| {
        p.command(args)
            .env("MAESTRO_STATE_SHARED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let run = shared(&["run", "--executor", "workers"]);
    let join = join_file(&p);
    let spawn = |slots: &str| shared(&["worker", "--join", &join, "--slots", slots]);
    let workers = [spawn("4"), spawn("4")];
    let (code, _, stderr) = finish(run);
    assert_eq!(code, 0, "{stderr}");
    let counter = p.maestro(&["counter", "get", "hits"]);
    assert_eq!(counter.stdout, "100\n", "{counter:?}");
    let mut got: Vec<String> = (1..=3).map(|i| p.read(&format!("got-{i}"))).collect();
    got.sort();
    assert_eq!(got, ["a", "b", "c"]);
    for worker in workers {
        assert_eq!(finish(worker).0, 0);
    }
}

#[test]
fn dry_runs_say_where_the_workers_come_from_and_bad_asks_are_refused() {
    let p = Project::with_flow(&for_each(1, "true"));
    let by_hand = p.maestro(&["run", "-n", "--executor", "workers"]);
    assert_eq!(
        by_hand.stdout.lines().next(),
        Some("would wait for workers started by hand (maestro worker --join FILE)")
    );
    let ssh = p.maestro(&["run", "-n", "--hosts", "a,4/me@b"]);
    assert_eq!(
        ssh.stdout.lines().next(),
        Some("would start a worker over ssh on each of: a, me@b")
    );
    let refused = |args: &[&str], code: i32, stderr: &str| {
        let run = p.maestro(args);
        assert_eq!((run.code, run.stderr.as_str()), (code, stderr), "{args:?}");
    };
    refused(
        &["run", "--workers", "2"],
        2,
        "error: --workers 2: workers need a launcher\n  = hint: add --executor slurm (or use --executor workers and start them by hand)\n",
    );
    refused(
        &["run", "--hosts", ":"],
        2,
        "error: --hosts: ':': name a host to reach with ssh\n  = hint: write --hosts a,b or --hosts 4/user@a\n",
    );
    refused(
        &["run", "--hosts", "a", "--executor", "slurm"],
        2,
        "error: --hosts starts workers over ssh: it goes with no --executor and no --workers\n",
    );
    refused(
        &["worker", "--stdio", "--slots", "0"],
        2,
        "error: --slots 0: a worker runs at least one task\n",
    );
    refused(
        &["map", "-S", "0/a", "echo", ":::", "x"],
        255,
        "error: -S: '0/a': the number before '/' must be 1 or more\n  = hint: write -S host, -S user@host or -S 4/host\n",
    );
}

#[test]
fn a_worker_gone_silent_is_lost_within_seconds_and_its_tasks_run_elsewhere() {
    let flow = for_each(2, "echo {} >> started; sleep 2");
    let p = Project::with_flow(&flow);
    let run = p.spawn(&["run", "--executor", "workers", "--json"]);
    let join = join_file(&p);
    let silent = worker(&p, &join, 2);
    wait_until_started(&p, 2);
    // Stopped, it neither ends nor speaks: as behind a cut network.
    // SAFETY: kill sends a signal to our own child.
    unsafe { libc::kill(silent.id() as i32, libc::SIGSTOP) };
    let stopped = Instant::now();
    let rescuer = worker(&p, &join, 2);
    let (code, stdout, stderr) = finish(run);
    assert_eq!(code, 0, "{stderr}");
    let took = stopped.elapsed();
    assert!(took < Duration::from_secs(15), "lost after {took:?}");
    recorded_once_each(&stdout, 2);
    for i in 1..=2 {
        let log = p.read(&format!(".maestro/logs/1/t:{i}.log"));
        assert!(log.contains("was lost (it went silent); it runs again"), "{log}");
    }
    // SAFETY: kill sends signals to our own child.
    unsafe { libc::kill(silent.id() as i32, libc::SIGKILL) };
    let _ = finish(silent);
    assert_eq!(finish(rescuer).0, 0);
}

#[test]
fn freshness_resume_and_par_work_on_workers_as_locally() {
    let flow = r#"
[tasks.make]
for_each = ["a", "b"]
cmd = "echo {} > {}.out"
outputs = ["{}.out"]

[tasks.flaky]
cmd = "test -e ok && touch flaky.done"
outputs = ["flaky.done"]
deps = ["make"]
"#;
    let p = Project::with_flow(flow);
    let on_workers = |args: &[&str], run_id: u32| {
        let run = p.spawn(args);
        let join = format!(".maestro/workers/{run_id}.join");
        p.wait_for(&join);
        let helper = worker(&p, &p.path(&join).display().to_string(), 2);
        let ended = finish(run);
        assert_eq!(finish(helper).0, 0);
        ended
    };
    let (code, _, stderr) = on_workers(&["run", "--executor", "workers"], 1);
    assert_eq!(code, 1, "{stderr}");
    p.file("ok", "");
    let (code, _, stderr) = on_workers(&["run", "--executor", "workers", "--resume"], 2);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("1 ok, 2 skipped"), "{stderr}");
    // All fresh: no worker is needed, and none is waited for.
    let fresh = p.maestro(&["run", "--executor", "workers"]);
    assert_eq!(fresh.code, 0, "{fresh:?}");
    assert!(fresh.stderr.contains("3 skipped"), "{fresh:?}");
    let (code, stdout, stderr) =
        on_workers(&["par", "--executor", "workers", "echo a", "echo b", "--then", "echo c"], 4);
    assert_eq!(code, 0, "{stderr}");
    let c = stdout.find("\nc\n").expect("c printed");
    assert!(stdout.find("\na\n").unwrap() < c && stdout.find("\nb\n").unwrap() < c, "{stdout}");
}
