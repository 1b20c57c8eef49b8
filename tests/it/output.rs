//! What the terminal shows: grouped, stream, quiet; logs on disk.

use crate::support::Project;

const NOISY: &str = "for i in 1 2 3 4 5; do echo \"$0 line $i\"; sleep 0.05; done";

fn noisy(name: &str) -> String {
    format!("sh -c '{NOISY}' {name}")
}

#[test]
fn grouped_output_keeps_each_task_together() {
    let p = Project::new();
    let run = p.maestro(&["par", &noisy("a"), &noisy("b")]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 12, "{}", run.stdout);
    for block in lines.chunks(6) {
        assert!(block[0].starts_with("=== sh -c"), "{block:?}");
        let owner = block[1].split(' ').next().unwrap();
        assert!(block[1..].iter().all(|l| l.starts_with(owner)), "interleaved: {block:?}");
    }
}

#[test]
fn stream_output_prefixes_whole_lines() {
    let p = Project::new();
    let run = p.maestro(&["par", "--output", "stream", &noisy("a"), "printf 'no newline'"]);
    assert_eq!(run.code, 0, "{run:?}");
    let a_lines: Vec<&str> = run.stdout.lines().filter(|l| l.contains(" | a line")).collect();
    assert_eq!(a_lines.len(), 5, "{}", run.stdout);
    assert!(run.stdout.contains("| no newline\n"), "{}", run.stdout);
    // Logs get the same bytes as with grouped output.
    assert_eq!(
        p.read(".maestro/logs/1/1.log"),
        "a line 1\na line 2\na line 3\na line 4\na line 5\n"
    );
}

#[test]
fn quiet_output_shows_only_the_summary_and_failures() {
    let p = Project::new();
    let run = p.maestro(&["par", "--output", "quiet", "echo hidden", "echo bad; exit 4"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("1 ok, 1 failed"), "{}", run.stderr);
    assert!(run.stderr.contains("failed: echo bad; exit 4 (log: "), "{}", run.stderr);
    assert!(run.stderr.contains("  | bad"), "{}", run.stderr);
}

#[test]
fn logs_hold_stdout_and_stderr_per_task_per_run() {
    let p = Project::new();
    p.maestro(&["par", "echo out; echo err >&2"]);
    p.maestro(&["par", "echo second"]);
    assert_eq!(p.read(".maestro/logs/1/1.log"), "out\nerr\n");
    assert_eq!(p.read(".maestro/logs/2/1.log"), "second\n");
}

#[test]
fn no_status_line_escapes_when_not_a_terminal() {
    let p = Project::new();
    let run = p.maestro(&["par", "sleep 0.3"]);
    assert!(!run.stderr.contains('\x1b') && !run.stdout.contains('\x1b'), "{run:?}");
}
