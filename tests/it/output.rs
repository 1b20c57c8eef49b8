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

/// The names in a run's log directory, sorted.
fn logs_of_run(p: &Project, run: u32) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(p.path(&format!(".maestro/logs/{run}")))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn only_tasks_that_started_have_a_log() {
    // One slot: b is next in line while a runs (its log is made ahead
    // then), but a's failure stops the run before b starts.
    let p = Project::with_flow(
        "[tasks.a]\ncmd = \"sleep 0.2; exit 1\"\n[tasks.b]\ncmd = \"echo b\"\n[tasks.c]\ncmd = \"echo c\"\n",
    );
    let run = p.maestro(&["run", "-j", "1"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(logs_of_run(&p, 1), ["a.log"]);
    // Interrupted with b running and c next in line: c gets no log either.
    let p = Project::with_flow(
        "[tasks.b]\ncmd = \"touch started; sleep 30\"\n[tasks.c]\ncmd = \"echo c\"\n",
    );
    let mut child = p.spawn(&["run", "-j", "1"]);
    p.wait_for("started");
    // SAFETY: signalling the maestro just spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_eq!(logs_of_run(&p, 1), ["b.log"]);
}

#[test]
fn a_task_found_fresh_gets_no_log() {
    let p = Project::with_flow(
        "[tasks.always]\ncmd = \"sleep 0.2\"\n[tasks.made]\ncmd = \"echo x > out.txt\"\noutputs = [\"out.txt\"]\n",
    );
    assert_eq!(p.maestro(&["run", "-j", "1"]).code, 0);
    let run = p.maestro(&["run", "-j", "1"]);
    assert!(run.stderr.contains("1 ok, 1 skipped"), "{run:?}");
    assert_eq!(logs_of_run(&p, 2), ["always.log"]);
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

/// Runs maestro under a pseudo-terminal (util-linux `script`).
fn on_a_terminal(p: &Project, args: &str, env: &[(&str, &str)]) -> String {
    on_a_terminal_of(p, None, args, env)
}

/// As `on_a_terminal`, on a terminal `columns` wide when given.
fn on_a_terminal_of(p: &Project, columns: Option<u16>, args: &str, env: &[(&str, &str)]) -> String {
    let maestro = env!("CARGO_BIN_EXE_maestro");
    let mut command = std::process::Command::new("script");
    let resize = columns.map_or(String::new(), |c| format!("stty cols {c}; "));
    command.args(["-qec", &format!("{resize}{maestro} {args}"), "/dev/null"]).current_dir(&p.dir);
    command.env("TERM", "xterm").env_remove("NO_COLOR");
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
#[cfg_attr(no_script, ignore = "needs script (apt-get install util-linux)")]
fn a_terminal_gets_a_live_status_line_that_is_erased_before_output() {
    let p = Project::new();
    let screen = on_a_terminal(&p, "par 'sleep 0.6' 'sleep 0.3; echo hi'", &[]);
    assert!(
        screen.contains("\r\x1b[K[0/2] running: sleep 0.6 (0s) sleep 0.3; echo hi (0s)"),
        "{screen:?}"
    );
    assert!(screen.contains("\r\x1b[K[1/2] running: sleep 0.6 (0s)"), "{screen:?}");
    // Every status line is erased before anything else is printed.
    for segment in screen.split("\r\x1b[K").filter(|s| s.starts_with('[')) {
        assert!(!segment.contains("===") && !segment.contains('\n'), "{segment:?} in {screen:?}");
    }
}

#[test]
#[cfg_attr(no_script, ignore = "needs script (apt-get install util-linux)")]
fn the_status_line_shows_an_eta_once_durations_are_known() {
    let p = Project::with_flow(
        "[tasks.a]\ncmd = \"sleep 0.5\"\n[tasks.b]\ncmd = \"sleep 0.5\"\ndeps = [\"a\"]\n",
    );
    let first = on_a_terminal(&p, "run", &[]);
    assert!(first.contains("[0/2] running: a"), "{first:?}");
    assert!(!first.contains("ETA"), "no history, no ETA: {first:?}");
    let second = on_a_terminal(&p, "run", &[]);
    // About a second for a then b (rounded up), then half a second for b.
    let at_start = ["[0/2] ETA 1s running: a (0s)", "[0/2] ETA 2s running: a (0s)"];
    assert!(at_start.iter().any(|line| second.contains(line)), "{second:?}");
    assert!(second.contains("[1/2] ETA 1s running: b (0s)"), "{second:?}");
}

#[test]
#[cfg_attr(no_script, ignore = "needs script (apt-get install util-linux)")]
fn no_color_and_dumb_terminals_get_plain_lines() {
    let p = Project::new();
    for env in [[("NO_COLOR", "1")], [("TERM", "dumb")]] {
        let screen = on_a_terminal(&p, "par 'sleep 0.3'", &env);
        assert!(!screen.contains('\x1b'), "{env:?}: {screen:?}");
        assert!(screen.contains("=== sleep 0.3 (ok, "), "{screen:?}");
    }
}

/// The status lines drawn on `screen`, escapes and all.
fn status_lines(screen: &str) -> Vec<&str> {
    screen
        .split("\r\x1b[K")
        .filter(|s| s.starts_with('['))
        .map(|s| s.split(['\r', '\n']).next().unwrap_or(s))
        .collect()
}

#[test]
#[cfg_attr(no_script, ignore = "needs script (apt-get install util-linux)")]
fn map_shows_the_status_line_too_and_clears_it_for_output() {
    let p = Project::new();
    let args = "map -j2 'sleep 0.4; echo out-{}' ::: a b c";
    let screen = on_a_terminal(&p, args, &[]);
    assert!(screen.contains("\r\x1b[K[0/3] running: a (0s) b (0s)"), "{screen:?}");
    for segment in screen.split("\r\x1b[K").filter(|s| s.starts_with('[')) {
        assert!(!segment.contains("out-"), "output on the status line: {segment:?}");
    }
    for job in ["a", "b", "c"] {
        assert!(screen.contains(&format!("out-{job}\r\n")), "{screen:?}");
    }
    // --bar replaces it.
    let bar = on_a_terminal(&p, "map --bar 'sleep 0.3' ::: a", &[]);
    assert!(!bar.contains("running:"), "{bar:?}");
}

#[test]
#[cfg_attr(no_script, ignore = "needs script (apt-get install util-linux)")]
fn a_narrow_terminal_gets_a_cut_status_line() {
    let p = Project::new();
    let args = "par 'sleep 0.5; echo one' 'sleep 0.5; echo two' 'sleep 0.5; echo three'";
    let screen = on_a_terminal_of(&p, Some(30), args, &[]);
    let lines = status_lines(&screen);
    assert!(!lines.is_empty(), "{screen:?}");
    let mut cut = 0;
    for line in lines {
        let visible: String = line
            .split('\x1b')
            .enumerate()
            .map(
                |(i, part)| {
                    if i == 0 { part } else { part.split_once('m').map_or("", |(_, rest)| rest) }
                },
            )
            .collect();
        assert!(visible.chars().count() < 30, "{visible:?} is wider than the terminal");
        // A line with nothing running (between one task's end and the next
        // start on a loaded machine) is short enough as it is.
        cut += usize::from(visible.ends_with('…'));
    }
    assert!(cut > 0, "no line was cut: {screen:?}");
}
