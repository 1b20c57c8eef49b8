//! Bad flow files: exit 2, `file:line:col`, the problem, a hint; nothing runs.
//! Each message is pinned whole: the quoted source line holds the words of
//! most messages, so a search for them would pass whatever was said.

use crate::support::Project;

/// Runs a flow expecting exit 2; returns stderr, with the project's
/// directory written `{dir}`.
fn rejected(flow: &str) -> String {
    let p = Project::with_flow(flow);
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 2, "expected exit 2 for:\n{flow}\ngot {run:?}");
    assert_eq!(run.stdout, "");
    assert!(!p.path(".maestro").exists(), "a rejected flow must not start a run");
    run.stderr.replace(&p.dir.display().to_string(), "{dir}")
}

#[test]
fn unknown_key_points_at_it_and_suggests_the_near_one() {
    assert_eq!(
        rejected("[tasks.a]\ncmd = \"true\"\ndpes = [\"b\"]\n"),
        "maestro.toml:3:1: error: unknown key 'dpes' in task 'a'
  |
3 | dpes = [\"b\"]
  | ^^^^
  = hint: did you mean 'deps'?
"
    );
}

#[test]
fn unknown_dep_suggests_a_near_task() {
    assert_eq!(
        rejected(
            "[tasks.fetch]\ncmd = \"true\"\n[tasks.clean]\ncmd = \"true\"\ndeps = [\"fetchh\"]\n"
        ),
        "maestro.toml:5:9: error: task 'clean' depends on 'fetchh', which does not exist
  |
5 | deps = [\"fetchh\"]
  |         ^^^^^^^^
  = hint: did you mean 'fetch'?
"
    );
}

#[test]
fn cycles_are_spelled_out() {
    let flow = "[tasks.a]\ncmd = \"x\"\ndeps = [\"b\"]\n[tasks.b]\ncmd = \"x\"\ndeps = [\"c\"]\n\
                [tasks.c]\ncmd = \"x\"\ndeps = [\"a\"]\n";
    assert_eq!(
        rejected(flow),
        "maestro.toml:3:9: error: dependency cycle: a -> b -> c -> a
  |
3 | deps = [\"b\"]
  |         ^^^
"
    );
}

#[test]
fn each_documented_mistake_is_caught() {
    let cases: &[(&str, &str)] = &[
        (
            "[tasks.a]\ncmd = \"\"\n",
            "maestro.toml:2:7: error: empty 'cmd' in task 'a'
  |
2 | cmd = \"\"
  |       ^^
",
        ),
        (
            "[tasks.a]\ndeps = []\n",
            "maestro.toml:1:8: error: task 'a' has no 'cmd'
  |
1 | [tasks.a]
  |        ^
  = hint: add a line like cmd = \"./run.sh\" under the task's header
",
        ),
        (
            "[tasks.a]\ncmd = \"x\"\ndeps = [\"a\"]\n",
            "maestro.toml:3:9: error: task 'a' depends on itself
  |
3 | deps = [\"a\"]
  |         ^^^
",
        ),
        (
            "jobs = 0\n[tasks.a]\ncmd = \"x\"\n",
            "maestro.toml:1:8: error: 'jobs' must be at least 1
  |
1 | jobs = 0
  |        ^
",
        ),
        (
            "[tasks.a]\ncmd = \"x\"\ntimeout = \"5x\"\n",
            "maestro.toml:3:11: error: bad timeout '5x' in task 'a': unknown unit 'x' in '5x' \
             (use ms, s, m, h or d)
  |
3 | timeout = \"5x\"
  |           ^^^^
",
        ),
        (
            "[resources]\nprinter = 1\n[tasks.a]\ncmd = \"x\"\nresources = { printer = 2 }\n",
            "maestro.toml:5:25: error: task 'a' needs 2 of 'printer', which has only 1
  |
5 | resources = { printer = 2 }
  |                         ^
",
        ),
        (
            "[tasks.a]\ncmd = \"x\"\nresources = { gpu = 1 }\n",
            "maestro.toml:3:15: error: task 'a' uses resource 'gpu', which is not declared
  |
3 | resources = { gpu = 1 }
  |               ^^^
  = hint: declare it under [resources], e.g. gpu = 1
",
        ),
        (
            "[tasks.'a b']\ncmd = \"x\"\n",
            "maestro.toml:1:8: error: invalid task name 'a b': use only letters, digits, '_', '-' \
             and '.'
  |
1 | [tasks.'a b']
  |        ^^^^^
",
        ),
        (
            "[tasks.a]\ncmd = \"x\"\nretries = \"2\"\n",
            "maestro.toml:3:11: error: 'retries' must be a non-negative integer, not a string
  |
3 | retries = \"2\"
  |           ^^^
",
        ),
        (
            "[tasks.a\ncmd = \"x\"\n",
            "maestro.toml:1:9: error: unclosed table, expected `]`
  |
1 | [tasks.a
  |         ^
",
        ),
        (
            "",
            "maestro.toml: error: no tasks in flow file
  = hint: add a task, for example:
    [tasks.hello]
    cmd = \"echo hello\"
",
        ),
        (
            "[tasks.a]\ncmd = \"x\"\nfor_each = \"nothing/*.csv\"\n",
            "maestro.toml:3:12: error: for_each glob 'nothing/*.csv' matches no file in {dir}
  |
3 | for_each = \"nothing/*.csv\"
  |            ^^^^^^^^^^^^^^^
  = hint: globs are expanded when the run starts, relative to the task's dir; files a task \
             makes later are not seen
",
        ),
        (
            "[tasks.a]\ncmd = \"x\"\nfor_each = [\"1\", \"1\"]\n",
            "maestro.toml:3:13: error: items '1' and '1' both make the instance 'a:1'
  |
3 | for_each = [\"1\", \"1\"]
  |             ^^^
  = hint: every for_each item must give a distinct instance name
",
        ),
    ];
    for (flow, expected) in cases {
        assert_eq!(rejected(flow), *expected, "for flow:\n{flow}");
    }
}

#[test]
fn missing_and_unreadable_files_say_so() {
    let p = Project::new();
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "error: no maestro.toml in this directory
  = hint: write one (see README.md) or name it with -f FILE
"
    );
    let run = p.maestro(&["run", "-f", "other.toml"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "error: cannot read other.toml: No such file or directory (os error 2)\n"
    );
    std::fs::write(p.path("bin.toml"), b"[tasks.a]\ncmd = \"\xff\"\n").unwrap();
    let run = p.maestro(&["run", "-f", "bin.toml"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "bin.toml:2:8: error: not valid UTF-8\n  |\n2 | cmd = \"\u{fffd}\"\n  |        ^\n"
    );
}

#[test]
fn a_flood_of_problems_shows_the_first_twenty_and_counts_the_rest() {
    let flow: String = (0..50).map(|i| format!("t{i} = \"true\"\n")).collect();
    let err = rejected(&format!("[tasks]\n{flow}"));
    assert_eq!(err.matches(": error: task 't").count(), 20, "{err}");
    assert!(
        err.starts_with(
            "maestro.toml:2:6: error: task 't0' must be a table, not a string\n  |\n2 | t0 = \"true\"\n"
        ),
        "{err}"
    );
    assert!(err.ends_with("error: 30 more problems in maestro.toml, not shown\n"), "{err}");
}

#[test]
fn slurm_keys_are_checked_before_anything_is_submitted() {
    assert_eq!(
        rejected("executor = \"pbs\"\n[tasks.a]\ncmd = \"true\"\n"),
        "maestro.toml:1:12: error: unknown executor 'pbs'
  |
1 | executor = \"pbs\"
  |            ^^^^^
  = hint: use one of: local, slurm, workers
"
    );
    assert_eq!(
        rejected("[tasks.a]\ncmd = \"true\"\nmem = \"1.5G\"\n"),
        "maestro.toml:3:7: error: bad 'mem' in task 'a': '1.5G' is not a size
  |
3 | mem = \"1.5G\"
  |       ^^^^^^
  = hint: write a number of megabytes, or one with K, M, G or T after it: \"500M\", \"4G\"
"
    );
    assert_eq!(
        rejected("[slurm]\nsbatch_args = [\"--time=10\"]\n[tasks.a]\ncmd = \"true\"\n"),
        "maestro.toml:2:16: error: sbatch_args: maestro sets '--time=10' itself
  |
2 | sbatch_args = [\"--time=10\"]
  |                ^^^^^^^^^^^
  = hint: use the task's 'timeout'
"
    );
    assert_eq!(
        rejected("[slurm]\npartiton = \"short\"\n[tasks.a]\ncmd = \"true\"\n"),
        "maestro.toml:2:1: error: unknown key 'partiton' in [slurm]
  |
2 | partiton = \"short\"
  | ^^^^^^^^
  = hint: did you mean 'partition'?
"
    );
    assert_eq!(
        rejected("[tasks.a]\ncmd = \"true\"\npartition = \"a b\"\n"),
        "maestro.toml:3:13: error: 'partition' in task 'a' must be a name without blanks, not 'a b'
  |
3 | partition = \"a b\"
  |             ^^^^^
"
    );
}

#[test]
fn the_slurm_executor_says_when_slurm_is_not_here() {
    let p = Project::with_flow("[tasks.a]\ncmd = \"true\"\n");
    let mut command = p.command(&["run", "--executor", "slurm"]);
    command.env("PATH", "/nonexistent");
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: --executor slurm: sbatch: command not found\n  = hint: run maestro where Slurm's commands are (a cluster's login node)\n"
    );
    assert!(!p.path(".maestro/logs").exists());
}

#[test]
fn keys_other_tools_use_point_to_maestro_s() {
    assert_eq!(
        rejected("[tasks.a]\ncmd = \"true\"\nthreads = 4\n"),
        "maestro.toml:3:1: error: unknown key 'threads' in task 'a'
  |
3 | threads = 4
  | ^^^^^^^
  = hint: did you mean 'cpus'?
"
    );
    assert!(
        rejected("[tasks.a]\ncmd = \"true\"\nneeds = [\"b\"]\n").contains("did you mean 'deps'?")
    );
}

#[test]
fn a_shell_must_name_a_program() {
    assert_eq!(
        rejected("shell = \"  \"\n[tasks.a]\ncmd = \"true\"\nshell = 3\n"),
        "maestro.toml:1:9: error: empty 'shell' in the flow
  |
1 | shell = \"  \"
  |         ^^^^
  = hint: write shell = \"bash -euo pipefail -c\": the command follows as the last argument

maestro.toml:4:9: error: 'shell' must be a string or an array of strings, not an integer
  |
4 | shell = 3
  |         ^
  = hint: write shell = \"bash -euo pipefail -c\": the command follows as the last argument
"
    );
}

#[test]
fn default_tasks_must_exist_and_want_to_be() {
    assert_eq!(
        rejected(
            "default = [\"buid\", \"clean\"]\n[tasks.build]\ncmd = \"true\"\n\
             [tasks.clean]\ncmd = \"true\"\ndefault = false\n"
        ),
        "maestro.toml:1:12: error: default task 'buid' does not exist
  |
1 | default = [\"buid\", \"clean\"]
  |            ^^^^^^
  = hint: did you mean 'build'?

maestro.toml:1:20: error: 'clean' is in the default tasks and says default = false
  |
1 | default = [\"buid\", \"clean\"]
  |                    ^^^^^^^
"
    );
}
