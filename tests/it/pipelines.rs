//! What real pipelines need of a flow: a strict shell, outputs that never
//! lie, per-item chains, aggregation, variables, targets.

use crate::support::Project;

#[test]
fn a_failing_line_or_pipeline_stage_fails_the_task() {
    let p = Project::with_flow(
        r#"
[tasks.lines]
cmd = """
false
echo after > lines.out
"""
[tasks.pipe]
cmd = "false | cat"
[tasks.simple]
cmd = "echo simple > simple.out"
"#,
    );
    let run = p.maestro(&["run", "-k", "--output", "quiet"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("1 ok, 2 failed"), "{}", run.stderr);
    assert!(!p.path("lines.out").exists(), "the line after `false` ran");
    assert_eq!(p.read("simple.out"), "simple\n");
    assert!(p.maestro(&["log", "pipe"]).stdout.ends_with("maestro: failed: exit 1\n"));
}

#[test]
fn the_shell_key_names_what_runs_the_commands() {
    let p = Project::with_flow(
        r#"
shell = "sh -c"
[tasks.lenient]
cmd = "false; echo went on > lenient.out"
[tasks.python]
shell = ["python3", "-c"]
cmd = "open('python.out', 'w').write(str(6 * 7))"
[tasks.bash]
shell = "bash"
cmd = "echo ${BASH_VERSION%%.*} > bash.out"
"#,
    );
    let run = p.maestro(&["run", "--output", "quiet"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.read("lenient.out"), "went on\n");
    assert_eq!(p.read("python.out"), "42");
    assert!(p.read("bash.out").trim().parse::<u32>().is_ok(), "{}", p.read("bash.out"));
}

#[test]
fn a_shell_that_is_not_installed_is_said_as_such() {
    let p = Project::with_flow("[tasks.t]\nshell = \"no-such-shell -c\"\ncmd = \"echo hi\"\n");
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        p.maestro(&["log", "t"]).stdout,
        "maestro: could not start: cannot run the task's shell: no-such-shell: command not found (a flow's `shell` key names another)\n"
    );
}
