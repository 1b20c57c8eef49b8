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
fn tasks_read_dev_null_and_start_with_no_signal_blocked_or_ignored_by_maestro() {
    let p = Project::with_flow(
        r#"
[tasks.stdin]
cmd = "readlink /proc/$$/fd/0 > stdin"

# Run directly, not through a shell, which may reset its signal mask.
[tasks.signals]
cmd = "cat /proc/self/status"
"#,
    );
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.read("stdin"), "/dev/null\n");
    let signals = p.read(".maestro/logs/1/signals.log");
    let mask = |name: &str| {
        let line = signals.lines().find(|l| l.starts_with(name)).unwrap();
        u64::from_str_radix(line[name.len()..].trim(), 16).unwrap()
    };
    assert_eq!(mask("SigBlk:"), 0, "{signals}");
    // maestro ignores SIGPIPE and handles these; the task must get neither.
    for signal in [libc::SIGPIPE, libc::SIGCHLD, libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        assert_eq!(mask("SigIgn:") & (1 << (signal - 1)), 0, "signal {signal}: {signals}");
    }
}

#[test]
fn a_program_that_cannot_be_executed_fails_its_task_and_the_run_goes_on() {
    let p = Project::new();
    p.file("data.txt", "not a program\n");
    let run = p.maestro(&["par", "-k", "./data.txt", "echo after > after"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        p.read(".maestro/logs/1/1.log"),
        "maestro: could not start: ./data.txt: permission denied\n"
    );
    assert_eq!(p.read("after"), "after\n");
}

#[test]
fn a_missing_task_dir_fails_the_task_with_the_dir_named() {
    let p = Project::with_flow("[tasks.a]\ncmd = \"pwd\"\ndir = \"nowhere\"\n");
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 1, "{run:?}");
    let log = p.read(".maestro/logs/1/a.log");
    assert!(log.contains("cannot run in ") && log.contains("nowhere: no such directory"), "{log}");
}

#[test]
fn a_nul_byte_in_a_command_is_a_failure_to_start_not_a_crash() {
    let p = Project::with_flow("[tasks.nul]\ncmd = \"echo a\\u0000b\"\n");
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 1, "{run:?}");
    let log = p.read(".maestro/logs/1/nul.log");
    assert!(log.contains(r"'echo a\0b': command contains a NUL byte"), "{log}");
}

#[test]
fn with_its_standard_fds_closed_maestro_still_logs_each_task_apart() {
    let p = Project::new();
    let script = format!(
        "exec '{}' par 'echo one' 'echo two >&2' <&- >&- 2>&-",
        env!("CARGO_BIN_EXE_maestro")
    );
    let status = std::process::Command::new("/bin/sh")
        .args(["-c", &script])
        .current_dir(&p.dir)
        .status()
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(p.read(".maestro/logs/1/1.log"), "one\n");
    assert_eq!(p.read(".maestro/logs/1/2.log"), "two\n");
}
