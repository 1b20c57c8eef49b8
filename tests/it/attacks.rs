//! Hostile and unlucky input, as the attacks of our issue found it: each
//! case here once panicked, ran away with memory or lost work.

use crate::support::Project;

#[test]
fn a_value_that_is_not_utf8_passes_through_map_as_bytes() {
    use std::os::unix::ffi::OsStrExt;
    let p = Project::new();
    let value = std::ffi::OsStr::from_bytes(b"\xff");
    let output = p.command(&["map", "printf", "%s"]).arg(":::").arg(value).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(output.stdout, b"\xff");
    let history = p.maestro(&["history"]);
    assert!(history.stdout.contains("map printf %s ::: \u{fffd}"), "{}", history.stdout);
}

#[test]
fn timeouts_too_long_for_a_duration_are_usage_errors() {
    let p = Project::new();
    for (args, code) in [
        (&["map", "--timeout", "1e99", "echo", ":::", "a"][..], 255),
        (&["lock", "l", "--timeout", "1e99", "--", "true"], 2),
        (&["sem", "s", "--limit", "1", "--timeout", "1e99", "--", "true"], 2),
        (&["event", "wait", "e", "--timeout", "1e99"], 2),
        (&["queue", "get", "q", "--timeout", "1e99"], 2),
    ] {
        let run = p.maestro(args);
        assert_eq!((run.code, run.stderr.as_str()), (code, "error: --timeout 1e99: too long\n"));
    }
    let run = p.maestro(&["event", "wait", "e", "--timeout", "18446744073709551615"]);
    assert_eq!(run.stderr, "error: --timeout 18446744073709551615: too long\n");
}

#[test]
fn timeouts_past_what_the_clock_counts_mean_no_limit() {
    let p = Project::new();
    let run = p.maestro(&["map", "--timeout", "1e18", "echo", ":::", "a"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "a\n"), "{run:?}");
    // Once three jobs succeeded, the median times 1e300% overflows.
    let run = p.maestro(&["map", "-j1", "--timeout", "1e300%", "echo", ":::", "a", "b", "c", "d"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "a\nb\nc\nd\n"), "{run:?}");
    let run = p.maestro(&["lock", "l", "--timeout", "1e18", "--", "echo", "held"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "held\n"), "{run:?}");
    let flow = Project::with_flow("[tasks.a]\ncmd = \"echo ran\"\ntimeout = \"100000000000d\"\n");
    let run = flow.maestro(&["run"]);
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn billions_of_job_slots_make_no_billions_of_anything() {
    let p = Project::new();
    let run = p.maestro(&["par", "-j", "4294967295", "true", "true"]);
    assert_eq!(run.code, 0, "{run:?}");
}

/// Runs maestro with `args` in `p`, its stdout into /dev/null (or into
/// `stdout` when given); returns its exit status and the peak resident
/// memory, in MiB, of it and its tasks (measured by a python3 parent).
fn peak_rss_mib(p: &Project, args: &[&str], stdout: Option<&str>) -> (i32, u64) {
    let script = "import resource, subprocess, sys\n\
                  out = open(sys.argv[1], 'wb') if sys.argv[1] else subprocess.DEVNULL\n\
                  code = subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.DEVNULL).returncode\n\
                  print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)";
    let output = std::process::Command::new("python3")
        .args(["-c", script, stdout.unwrap_or(""), env!("CARGO_BIN_EXE_maestro")])
        .args(args)
        .current_dir(&p.dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let mut fields = text.split_whitespace().map(|f| f.parse::<i64>().unwrap());
    let (code, kib) = (fields.next().unwrap(), fields.next().unwrap());
    (code as i32, kib as u64 / 1024)
}

/// 64 MiB of output from one task: a line of `x`s (in `map`, of `{}`).
const FLOOD: &str = "head -c 67108864 /dev/zero | tr '\\0' x";
const MAP_FLOOD: &str = "head -c 67108864 /dev/zero | tr '\\0' {}";

#[test]
fn a_task_s_whole_output_never_sits_in_memory() {
    let p = Project::new();
    for mode in ["grouped", "stream"] {
        let (code, mib) = peak_rss_mib(&p, &["par", "--output", mode, FLOOD], None);
        assert_eq!(code, 0, "{mode}");
        assert!(mib < 50, "--output {mode}: {mib} MiB for 64 MiB of output");
    }
    for args in
        [&["map", MAP_FLOOD, ":::", "x"][..], &["map", "--line-buffer", MAP_FLOOD, ":::", "x"]]
    {
        let (code, mib) = peak_rss_mib(&p, args, None);
        assert_eq!(code, 0, "{args:?}");
        assert!(mib < 50, "{args:?}: {mib} MiB for 64 MiB of output");
    }
}

#[test]
fn a_line_without_end_is_streamed_in_pieces_under_the_task_s_name() {
    let p = Project::new();
    let run = p.maestro(&["par", "--output", "stream", "head -c 200000 /dev/zero | tr '\\0' x"]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    // The name is cut to the prefix's width; the status line comes last.
    let prefix = "head -c 200000 /dev/zero | ";
    let pieces: Vec<usize> =
        lines[..4].iter().map(|l| l.strip_prefix(prefix).unwrap().len()).collect();
    assert_eq!(pieces, [65536, 65536, 65536, 3392], "{:?}", &run.stdout[..100]);
}

#[test]
fn a_failure_s_summary_shows_a_bounded_tail_of_its_log() {
    let p = Project::new();
    let run =
        p.maestro(&["par", "--output", "quiet", "head -c 5000000 /dev/zero | tr '\\0' x; exit 1"]);
    assert_eq!(run.code, 1);
    let tail: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("  | ")).collect();
    assert_eq!(tail.len(), 1, "{tail:?}");
    assert_eq!(tail[0], format!("  | {}…", "x".repeat(300)));
}

#[test]
fn endless_input_is_refused_before_memory_runs_out() {
    let p = Project::new();
    let run = p.maestro(&["map", "echo", "::::", "/dev/zero"]);
    assert_eq!(run.code, 255);
    assert_eq!(
        run.stderr,
        "error: cannot read input /dev/zero: a value longer than 131072 bytes, more than a command \
         line can hold\n"
    );
    let run = p.maestro(&["run", "-f", "/dev/zero"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr, "error: /dev/zero: larger than 256 MiB, too big for a flow file\n");
}

#[test]
fn everything_maestro_writes_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::with_flow("[tasks.a]\ncmd = \"echo a\"\n[tasks.b]\ncmd = \"exit 1\"\n");
    for args in
        [&["run", "--keep-going"][..], &["par", "echo hi"], &["map", "-k", "exit", ":::", "1"]]
    {
        let mut command = p.command(args);
        // SAFETY: umask(2) only sets the child's file mode mask.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                libc::umask(0);
                Ok(())
            });
        }
        command.output().unwrap();
    }
    let mut loose = Vec::new();
    let mut dirs = vec![p.path(".maestro")];
    while let Some(dir) = dirs.pop() {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        if mode != 0o700 {
            loose.push(format!("{:o} {}", mode, dir.display()));
        }
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if !path.ends_with("1.outputs") {
                let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                if mode != 0o600 {
                    loose.push(format!("{:o} {}", mode, path.display()));
                }
            }
        }
    }
    assert!(loose.is_empty(), "not private: {loose:?}");
}

#[test]
#[cfg_attr(not_root, ignore = "needs root: only root can give a directory to another user")]
fn no_command_writes_into_another_user_s_state_directory() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::with_flow("[tasks.a]\ncmd = \"echo a\"\n");
    std::fs::create_dir(p.path(".maestro")).unwrap();
    std::os::unix::fs::chown(p.path(".maestro"), Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(p.path(".maestro"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let said = format!(
        "error: {} belongs to user 65534, not to you (user 0): maestro will not share state with \
         another user\n  = hint: move it away: maestro keeps state only in a directory of your own \
         (the primitives can be given one: --state DIR)\n",
        p.path(".maestro").display()
    );
    for (args, code) in
        [(&["run"][..], 2), (&["par", "true"], 2), (&["map", "echo", ":::", "a"], 255)]
    {
        let run = p.maestro(args);
        assert_eq!((run.code, run.stderr.as_str()), (code, said.as_str()), "{args:?}");
    }
    assert_eq!(std::fs::read_dir(p.path(".maestro")).unwrap().count(), 0, "nothing written");
}

/// Values an attacker would name files or inputs with.
const HOSTILE: &[&str] = &[
    "$(touch pwned)",
    "`touch pwned`",
    "; touch pwned",
    "&& touch pwned",
    "| touch pwned",
    "' ; touch pwned ; '",
    "\" ; touch pwned ; \"",
    "\\\"; touch pwned; \\\"",
    "$(touch${IFS}pwned)",
    "${PWD}",
    "$HOME",
    "$((1+1))",
    "'",
    "''",
    "\"",
    "\\",
    "\\\\",
    "a\\",
    "\\'",
    "\\\"",
    "*",
    "?",
    "[a]",
    "~",
    "~root",
    "-n",
    "-e",
    "--",
    "!",
    "!!",
    "{}",
    "{a,b}",
    "a=b",
    "<(touch pwned)",
    ">pwned",
    "#x",
    "a b",
    "  a  ",
    "\t",
    "a\tb",
    "é",
    "日本",
    "%1",
    "^x",
    "\u{7f}",
    "a'b\"c`d$e",
];

#[test]
fn no_hostile_value_runs_as_code_through_map_whatever_the_quotes() {
    assert!(HOSTILE.len() >= 40);
    let p = Project::new();
    for template in ["printf '[%s]\\n' {}", "printf '[%s]\\n' '{}'", "printf '[%s]\\n' \"{}\""] {
        let mut args = vec!["map", "-k", template, ":::"];
        args.extend(HOSTILE);
        let run = p.maestro(&args);
        assert_eq!(run.code, 0, "{template}: {}", run.stderr);
        let expected: String = HOSTILE.iter().map(|v| format!("[{v}]\n")).collect();
        assert_eq!(run.stdout, expected, "{template}");
        assert!(!p.path("pwned").exists(), "{template} ran a value");
    }
}

#[test]
fn no_hostile_file_name_runs_as_code_through_for_each() {
    let p = Project::with_flow(
        "[tasks.show]\nfor_each = \"in/*.in\"\ncmd = \"cat \\\"{}\\\" && printf '%s\\\\n' '{/.}' >> names\"\n",
    );
    std::fs::create_dir(p.path("in")).unwrap();
    let names: Vec<&str> = HOSTILE
        .iter()
        .copied()
        .filter(|v| !v.contains('/') && !v.is_empty() && !v.starts_with('-'))
        .collect();
    for (i, name) in names.iter().enumerate() {
        std::fs::write(p.path("in").join(format!("{name}.in")), format!("{i}\n")).unwrap();
    }
    let run = p.maestro(&["run", "-j", "4"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!p.path("pwned").exists(), "a file name ran as code");
    let mut shown: Vec<String> = p.read("names").lines().map(String::from).collect();
    let mut want: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    shown.sort();
    want.sort();
    assert_eq!(shown, want);
}

#[test]
fn a_flow_nested_beyond_reason_is_an_error_at_its_place_in_a_few_lines() {
    let deep_key = format!("[tasks.a]\ncmd = \"x\"\n{} = 1\n", vec!["k"; 20_000].join("."));
    let deep_array =
        format!("[tasks.a]\ncmd = \"x\"\nx = {}{}\n", "[".repeat(20_000), "]".repeat(20_000));
    for (flow, first) in [
        (deep_key, "maestro.toml:3:1: error: recursion limit: a key of 20000 dotted parts"),
        (deep_array, "maestro.toml:3:85: error: cannot recurse further; max recursion depth met"),
    ] {
        let p = Project::with_flow(&flow);
        let run = p.maestro(&["run"]);
        assert_eq!(run.code, 2);
        assert_eq!(run.stderr.lines().next(), Some(first));
        assert!(run.stderr.len() < 600, "{} bytes of message", run.stderr.len());
    }
}

#[test]
fn the_history_reads_even_when_nothing_can_be_written() {
    use std::os::unix::process::CommandExt;
    let p = Project::new();
    // A run cut short by SIGKILL: showing it means marking it interrupted.
    let mut killed = p.spawn(&["par", "touch started; sleep 30"]);
    p.wait_for("started");
    std::thread::sleep(std::time::Duration::from_millis(300));
    killed.kill().unwrap();
    killed.wait().unwrap();
    // As on a full disk: no file may grow (SIGXFSZ ignored, so writes fail
    // with EFBIG, which SQLite reports as a full disk).
    let wal = std::fs::metadata(p.path(".maestro/state.db-wal")).map_or(0, |m| m.len());
    let mut command = p.command(&["history"]);
    // SAFETY: setrlimit and signal are async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit { rlim_cur: wal, rlim_max: wal };
            libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
            Ok(())
        });
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("par touch started; sleep 30"));
    assert!(stderr.starts_with("maestro: warning: runs cut short are not marked so: "), "{stderr}");
}

/// The files of `tests/corpus/`.
fn corpus(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(name)
}

/// The command lines of a `.jsonl` corpus file: one JSON array of strings
/// per line (strings without escapes but `\"` and `\\`).
fn command_lines(name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(corpus(name)).unwrap();
    text.lines()
        .map(|line| {
            let inner = line.trim().strip_prefix('[').unwrap().strip_suffix(']').unwrap();
            let mut args = Vec::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c != '"' {
                    continue;
                }
                let mut arg = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => arg.push(chars.next().unwrap()),
                        '"' => break,
                        c => arg.push(c),
                    }
                }
                args.push(arg);
            }
            args
        })
        .collect()
}

#[test]
fn the_corpus_of_bad_inputs_gets_clear_errors_and_no_panic() {
    let mut checked = 0;
    let mut flows: Vec<_> =
        std::fs::read_dir(corpus("flows")).unwrap().map(|e| e.unwrap().path()).collect();
    flows.sort();
    for flow in flows {
        let p = Project::new();
        std::fs::copy(&flow, p.path("maestro.toml")).unwrap();
        let run = p.maestro(&["run"]);
        let name = flow.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(run.code, 2, "{name}: {run:?}");
        assert!(!run.stderr.contains("panicked"), "{name}: {}", run.stderr);
        assert!(!p.path(".maestro").exists(), "{name}: a run started");
        assert!(run.stderr.len() < 4000, "{name}: {} bytes of message", run.stderr.len());
        for line in run.stderr.lines().filter(|l| l.contains(": error: ")) {
            let placed = line.split(": error: ").next().unwrap().split(':').count() == 3;
            let whole_file = line.ends_with("no tasks in flow file");
            assert!(line.starts_with("maestro.toml:") && (placed || whole_file), "{name}: {line}");
        }
        checked += 1;
    }
    for (file, command, code) in [("map.jsonl", Some("map"), 255), ("prims.jsonl", None, 2)] {
        for args in command_lines(file) {
            let p = Project::new();
            let mut all: Vec<&str> = command.into_iter().collect();
            all.extend(args.iter().map(String::as_str));
            let run = p.maestro(&all);
            assert_eq!(run.code, code, "{all:?}: {run:?}");
            assert!(run.stderr.starts_with("error: "), "{all:?}: {}", run.stderr);
            assert!(!run.stderr.contains("panicked"), "{all:?}: {}", run.stderr);
            checked += 1;
        }
    }
    assert!(checked >= 150, "{checked} bad inputs");
}
