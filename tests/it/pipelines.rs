//! What real pipelines need of a flow: a strict shell, outputs that never
//! lie, per-item chains, aggregation, variables, targets.

use crate::support::{Project, finish};

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

#[test]
fn a_failed_tasks_outputs_are_removed_unless_it_keeps_them() {
    let p = Project::with_flow(
        r#"
[tasks.truncated]
cmd = "echo half > calls/all.vcf; exit 3"
outputs = ["calls/all.vcf"]
[tasks.kept]
cmd = "echo half > kept.txt; exit 3"
outputs = ["kept.txt"]
keep_outputs = true
[tasks.missing]
cmd = "echo one > one.txt"
outputs = ["one.txt", "two.txt"]
"#,
    );
    let run = p.maestro(&["run", "-k", "--output", "quiet"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(!p.path("calls/all.vcf").exists(), "a failed task's output stayed");
    assert!(p.path("calls").is_dir(), "the output's folder was made");
    assert_eq!(p.read("kept.txt"), "half\n");
    assert!(!p.path("one.txt").exists(), "an output of a task missing another stayed");
    assert_eq!(
        p.maestro(&["log", "truncated"]).stdout,
        "maestro: failed: exit 3\nmaestro: removed its outputs: calls/all.vcf\n"
    );
}

#[test]
fn old_outputs_are_removed_before_a_task_runs_again() {
    let p = Project::with_flow(
        r#"
[tasks.once]
cmd = "set -o noclobber; cat in.txt > out.txt"
inputs = ["in.txt"]
outputs = ["out.txt"]
"#,
    );
    p.file("in.txt", "1\n");
    assert_eq!(p.maestro(&["run"]).code, 0);
    p.file("in.txt", "2\n");
    let again = p.maestro(&["run"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(p.read("out.txt"), "2\n");
}

#[test]
fn an_interrupted_tasks_outputs_are_removed() {
    let p = Project::with_flow(
        r#"
[tasks.long]
cmd = "echo partial > big.out; touch started; sleep 30"
outputs = ["big.out"]
"#,
    );
    let child = p.spawn(&["run"]);
    p.wait_for("started");
    // SAFETY: a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let (code, _, stderr) = finish(child);
    assert_eq!(code, 130, "{stderr}");
    assert!(!p.path("big.out").exists(), "an interrupted task's output stayed");
    assert!(
        p.maestro(&["log", "long"]).stdout.ends_with("maestro: removed its outputs: big.out\n")
    );
}
