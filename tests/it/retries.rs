//! Retries of a flow's tasks when the run stops while one waits for its
//! next attempt.

use std::io::{BufRead, BufReader};

use crate::support::Project;

/// The `--json` events named `event`.
fn events<'a>(lines: &'a [String], event: &str) -> Vec<&'a String> {
    let tag = format!("{{\"event\":\"{event}\"");
    lines.iter().filter(|l| l.starts_with(&tag)).collect()
}

#[test]
fn ctrl_c_while_a_task_waits_for_its_retry_keeps_its_failure() {
    let p = Project::with_flow("[tasks.t]\ncmd = \"exit 3\"\nretries = 2\n");
    let mut child = p.spawn(&["run", "--json"]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    // The first attempt failed: the retry waits 250 ms.
    while !lines.last().is_some_and(|l: &String| l.contains("\"task_finished\"")) {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "{lines:?}");
        lines.push(line);
    }
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    lines.extend(stdout.lines().map(Result::unwrap));
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let finished = events(&lines, "task_finished");
    assert_eq!(finished.len(), 1, "{lines:#?}");
    assert!(finished[0].contains("\"exit_code\":3"), "{}", finished[0]);
    // The task's time is its one attempt's.
    let duration = |line: &str, key: &str| -> String {
        let from = line.find(key).unwrap() + key.len();
        line[from..].chars().take_while(char::is_ascii_digit).collect()
    };
    let run_finished = events(&lines, "run_finished")[0];
    assert_eq!(
        duration(run_finished, "\"task_us\":"),
        duration(finished[0], "\"duration_us\":"),
        "{run_finished}"
    );
    let log = p.maestro(&["log", "t", "--json"]);
    assert!(log.stdout.contains("\"status\":\"failed\",\"exit_code\":3"), "{}", log.stdout);
}

#[test]
fn after_another_task_fails_a_pending_retry_never_starts() {
    let p = Project::with_flow(
        "[tasks.retried]\ncmd = \"exit 3\"\nretries = 2\n\n\
         [tasks.failing]\ncmd = \"sleep 0.1; exit 1\"\n",
    );
    let run = p.maestro(&["run", "-j", "2", "--json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let lines: Vec<String> = run.stdout.lines().map(String::from).collect();
    let retried: Vec<&String> = events(&lines, "task_started")
        .into_iter()
        .filter(|l| l.contains("\"task\":\"retried\""))
        .collect();
    assert_eq!(retried.len(), 1, "{lines:#?}");
    assert_eq!(p.read(".maestro/logs/1/retried.log"), "maestro: failed: exit 3\n");
}
