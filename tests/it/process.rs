//! What a task's process starts with: its environment, PATH search,
//! stdin, and signal dispositions.

use std::os::unix::fs::PermissionsExt;

use crate::support::Project;

#[test]
fn a_task_env_path_is_searched_relative_to_the_task_dir() {
    let p = Project::with_flow(
        r#"
[tasks.hello]
cmd = "hello world"
dir = "sub"
env = { PATH = "tools:/usr/bin:/bin" }
"#,
    );
    p.file("sub/tools/hello", "#!/bin/sh\necho \"hello $1\" > said\n");
    let tool = p.path("sub/tools/hello");
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.read("sub/said"), "hello world\n");
}

#[test]
fn a_task_variable_replaces_maestros_own_once() {
    let p = Project::with_flow(
        r#"
[tasks.env]
cmd = "env > seen"
env = { HOME = "/elsewhere" }
"#,
    );
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 0, "{run:?}");
    let seen = p.read("seen");
    let homes: Vec<&str> = seen.lines().filter(|l| l.starts_with("HOME=")).collect();
    assert_eq!(homes, ["HOME=/elsewhere"]);
    assert!(seen.lines().any(|l| l == "MAESTRO_TASK=env"));
}

#[test]
fn tasks_read_dev_null_and_do_not_inherit_ignored_sigpipe() {
    let p = Project::with_flow(
        r#"
[tasks.probe]
cmd = "readlink /proc/$$/fd/0 > stdin; grep SigIgn /proc/$$/status > ignored"
"#,
    );
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.read("stdin"), "/dev/null\n");
    let mask = p.read("ignored");
    let mask = u64::from_str_radix(mask.trim().trim_start_matches("SigIgn:").trim(), 16).unwrap();
    assert_eq!(mask & (1 << (libc::SIGPIPE - 1)), 0, "SIGPIPE is ignored in the task");
}

#[test]
fn a_nul_byte_in_a_command_is_a_failure_to_start_not_a_crash() {
    let p = Project::with_flow("[tasks.nul]\ncmd = \"echo a\\u0000b\"\n");
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 1, "{run:?}");
    let log = p.read(".maestro/logs/1/nul.log");
    assert!(log.contains(r"'echo a\0b': command contains a NUL byte"), "{log}");
}
