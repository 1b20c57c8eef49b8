//! Ctrl-C, SIGTERM and SIGKILL of maestro: no task process survives.

use std::time::Duration;

use crate::support::{Project, alive_after, pids_in};

/// Two tasks that each leave a background grandchild and a foreground
/// child, all recording their pids, then sleep.
const TREE: &str = r#"
[tasks.one]
cmd = "mkdir -p pids; sleep 300 & echo $! > pids/one-bg; sh -c 'echo $$ > pids/one; sleep 300'"
[tasks.two]
cmd = "mkdir -p pids; sleep 300 & echo $! > pids/two-bg; sh -c 'echo $$ > pids/two; sleep 300'"
"#;

fn started(p: &Project) -> Vec<i32> {
    for f in ["pids/one", "pids/two", "pids/one-bg", "pids/two-bg"] {
        p.wait_for(f);
    }
    std::thread::sleep(Duration::from_millis(50));
    let pids = pids_in(&p.path("pids"));
    assert_eq!(pids.len(), 4);
    pids
}

fn signal(child: &std::process::Child, signal: i32) {
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, signal) };
}

#[test]
fn ctrl_c_stops_every_task_and_exits_130() {
    let p = Project::with_flow(TREE);
    let child = p.spawn(&["run", "-j", "2"]);
    let pids = started(&p);
    signal(&child, libc::SIGINT);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SIGINT received"), "{stderr}");
    assert!(stderr.contains("2 interrupted"), "{stderr}");
    assert_eq!(alive_after(&pids, Duration::from_secs(2)), Vec::<i32>::new());
}

#[test]
fn sigterm_does_the_same() {
    let p = Project::with_flow(TREE);
    let mut child = p.spawn(&["run", "-j", "2"]);
    let pids = started(&p);
    signal(&child, libc::SIGTERM);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_eq!(alive_after(&pids, Duration::from_secs(2)), Vec::<i32>::new());
}

#[test]
fn a_second_ctrl_c_kills_tasks_that_ignore_the_first() {
    let p = Project::with_flow(
        "[tasks.stubborn]\ncmd = \"trap '' TERM INT; echo $$ > pid; while true; do sleep 0.05; done\"\n",
    );
    let child = p.spawn(&["run"]);
    p.wait_for("pid");
    std::thread::sleep(Duration::from_millis(100));
    let pid: i32 = p.read("pid").trim().parse().unwrap();
    signal(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        alive_after(&[pid], Duration::ZERO) == vec![pid],
        "TERM is ignored, it should still run"
    );
    signal(&child, libc::SIGINT);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    assert_eq!(alive_after(&[pid], Duration::from_secs(1)), Vec::<i32>::new());
}

#[test]
fn sigkill_of_maestro_leaves_no_task_process_behind() {
    let p = Project::with_flow(TREE);
    let mut child = p.spawn(&["run", "-j", "2"]);
    let pids = started(&p);
    signal(&child, libc::SIGKILL);
    child.wait().unwrap();
    assert_eq!(alive_after(&pids, Duration::from_secs(2)), Vec::<i32>::new());
}

#[test]
fn started_with_sigchld_ignored_maestro_still_sees_its_tasks_end() {
    use std::os::unix::process::CommandExt;
    let p = Project::new();
    let mut command = p.command(&["par", "echo hi", "exit 3"]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGCHLD, libc::SIG_IGN);
            Ok(())
        });
    }
    let child = command.stdout(std::process::Stdio::piped()).spawn().unwrap();
    let (done, exited) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output().unwrap());
    });
    let output =
        exited.recv_timeout(Duration::from_secs(20)).expect("maestro never saw its tasks end");
    // The exit statuses are known: one task failed with 3.
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("exit 3"));
}

/// Kills maestro with SIGKILL `rounds` times while it starts tasks as fast
/// as it can, each task leaving a background process that records its pid;
/// returns those still alive. A task must be guarded from the moment it
/// exists, not from when maestro gets round to noting it.
fn killed_while_starting(p: &Project, args: &[&str], rounds: u32) -> Vec<i32> {
    let mut pids = Vec::new();
    for round in 0..rounds {
        let _ = std::fs::remove_file(p.path("pids"));
        let mut child = p.spawn(args);
        std::thread::sleep(Duration::from_millis(200 + 50 * u64::from(round % 4)));
        signal(&child, libc::SIGKILL);
        child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let text = p.read("pids");
        pids.extend(text.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
    }
    let alive = alive_after(&pids, Duration::from_secs(2));
    for &pid in &alive {
        // SAFETY: killing a leaked test process.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    alive
}

/// Each task: a grandchild that outlives it by far, its pid appended.
const LEAVES_A_SLEEPER: &str = "sh -c 'sleep 300 & echo $! >> pids'; true";

#[test]
fn sigkill_of_map_while_it_starts_jobs_leaves_no_job_process_behind() {
    let p = Project::new();
    let inputs: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
    let mut args = vec!["map", "-j", "16", LEAVES_A_SLEEPER, ":::"];
    args.extend(inputs.iter().map(String::as_str));
    assert_eq!(killed_while_starting(&p, &args, 6), Vec::<i32>::new());
}

#[test]
fn sigkill_of_run_while_it_starts_tasks_leaves_no_task_process_behind() {
    let items: Vec<String> = (0..3000).map(|i| format!("\"{i}\"")).collect();
    let p = Project::with_flow(&format!(
        "jobs = 16\n[tasks.t]\nfor_each = [{}]\ncmd = \"{}\"\n",
        items.join(", "),
        LEAVES_A_SLEEPER
    ));
    assert_eq!(killed_while_starting(&p, &["run", "--output", "quiet"], 6), Vec::<i32>::new());
}

#[test]
fn a_signal_ignored_when_maestro_starts_stays_ignored_by_maestro_and_its_tasks() {
    use std::os::unix::process::CommandExt;
    let p = Project::new();
    // As `nohup maestro par ...` starts it.
    let mut command =
        p.command(&["par", "echo started > started; sleep 0.5; kill -HUP $$; echo done > done"]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            Ok(())
        });
    }
    let child = command.stdout(std::process::Stdio::piped()).spawn().unwrap();
    p.wait_for("started");
    signal(&child, libc::SIGHUP);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(p.read("done"), "done\n");
}
