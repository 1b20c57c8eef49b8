//! `--json`: every event type, validated against docs/events.schema.json.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::{Project, python};

/// Validates every line of `lines` against the events schema; returns the
/// event types seen. The script also checks that the schema rejects a
/// damaged event, so a validator that accepts anything fails the test.
fn validate(lines: &str) -> BTreeSet<String> {
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/events.schema.json");
    let script = format!(
        r#"
import json, sys, jsonschema
schema = json.load(open({schema:?}))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
seen = []
for number, line in enumerate(sys.stdin, 1):
    event = json.loads(line)
    errors = list(validator.iter_errors(event))
    if errors:
        sys.exit(f"line {{number}}: {{line.strip()}}\n" + "\n".join(e.message for e in errors))
    seen.append(event)
    print(event["event"])
damaged = dict(seen[-1])
del damaged["status"]
if validator.is_valid(damaged):
    sys.exit("the schema accepts an event without its status")
"#
    );
    python(&script, lines).lines().map(str::to_string).collect()
}

const FLOW: &str = r#"
[tasks.base]
cmd = "echo base > base.txt"
outputs = ["base.txt"]

[tasks.flaky]
cmd = "test -e flaky.ok || { touch flaky.ok; exit 1; }"
retries = 1

[tasks.broken]
cmd = "echo 'broke <here>'; exit 3"

[tasks.after]
cmd = "true"
deps = ["broken"]

[tasks.out]
cmd = "echo answer=42 >> $MAESTRO_OUTPUT"
"#;

#[test]
#[cfg_attr(
    no_jsonschema,
    ignore = "needs python3's jsonschema (python3 -m pip install jsonschema)"
)]
fn every_event_type_matches_the_schema() {
    let p = Project::with_flow(FLOW);
    let first = p.maestro(&["run", "-k", "--json", "-j", "2"]);
    assert_eq!(first.code, 1, "{}", first.stderr);
    let second = p.maestro(&["run", "-k", "--json", "base"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let mut seen = validate(&first.stdout);
    seen.extend(validate(&second.stdout));

    p.file("slow.toml", "[tasks.slow]\ncmd = \"touch started; sleep 30\"\n");
    let child = p.spawn(&["run", "-f", "slow.toml", "--json"]);
    p.wait_for("started");
    // SAFETY: kill(2) on the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let interrupted = child.wait_with_output().unwrap();
    assert_eq!(interrupted.status.code(), Some(130));
    seen.extend(validate(&String::from_utf8_lossy(&interrupted.stdout)));

    let map = p.maestro(&["map", "--json", "exit {}", ":::", "0", "1"]);
    assert_eq!(map.code, 1, "{}", map.stderr);
    seen.extend(validate(&map.stdout));

    let all = [
        "run_started",
        "task_started",
        "task_finished",
        "task_skipped",
        "task_not_run",
        "interrupted",
        "run_finished",
    ];
    assert_eq!(seen, all.iter().map(|s| s.to_string()).collect(), "event types seen");
}

#[test]
fn stdout_carries_only_events_and_they_say_what_happened() {
    let p = Project::with_flow(FLOW);
    let run = p.maestro(&["run", "-k", "--json", "-j", "1"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines.iter().all(|l| l.starts_with("{\"event\":\"")), "{}", run.stdout);
    assert!(!run.stdout.contains("broke <here>\n"), "task output leaked: {}", run.stdout);
    assert!(lines[0].contains("\"version\":1") && lines[0].contains("\"total\":5"), "{}", lines[0]);
    assert!(lines.last().unwrap().starts_with("{\"event\":\"run_finished\""));
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    assert!(has("\"task\":\"flaky\",\"attempt\":1,\"status\":\"failed\""), "{}", run.stdout);
    assert!(has("\"will_retry\":true"), "{}", run.stdout);
    assert!(has("\"task\":\"broken\",\"attempt\":1,\"status\":\"failed\",\"exit_code\":3"));
    assert!(has("\"event\":\"task_not_run\"") && has("\"why\":\"dep_failed\""));
    assert!(has("\"outputs\":[[\"answer\",\"42\"]]"), "{}", run.stdout);
    // maestro's own words still go to stderr.
    assert!(run.stderr.contains("failed: broken"), "{}", run.stderr);
}

#[test]
fn json_and_a_task_output_mode_do_not_mix() {
    let p = Project::with_flow(FLOW);
    let run = p.maestro(&["run", "--json", "--output", "stream"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("'--json' cannot be used with '--output"), "{}", run.stderr);
    let map = p.maestro(&["map", "--json", "-k", "echo", ":::", "a"]);
    assert_eq!(map.code, 255, "{}", map.stderr);
}

#[test]
fn map_json_keeps_every_log_and_prints_no_job_output() {
    let p = Project::new();
    let map = p.maestro(&["map", "--json", "echo out-{}", ":::", "a", "b"]);
    assert_eq!(map.code, 0, "{}", map.stderr);
    assert!(!map.stdout.contains("out-a\n"), "{}", map.stdout);
    assert!(map.stdout.lines().next().unwrap().contains("\"total\":null"), "{}", map.stdout);
    let log = p.maestro(&["log", "1"]);
    assert_eq!(log.stdout, "out-a\n", "{}", log.stderr);
}

#[test]
fn a_closed_stdout_does_not_stop_the_run() {
    let p = Project::with_flow(
        "[tasks.a]\ncmd = \"sleep 0.2; touch a.done\"\n[tasks.b]\ncmd = \"true\"\ndeps = [\"a\"]\n",
    );
    let mut child = p
        .command(&["run", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(p.path("a.done").exists());
    std::thread::sleep(Duration::from_millis(10));
    let history = p.maestro(&["history", "--json"]);
    assert!(history.stdout.contains("\"status\":\"ok\",\"ok\":2"), "{}", history.stdout);
}
