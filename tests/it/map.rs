//! `maestro map` where it goes beyond, or on purpose differs from, GNU
//! parallel (the shared behaviour is checked against parallel itself in
//! `map_oracle.rs`): the engine it shares with `run` (history, logs, signal
//! handling), streaming inputs, and the differences the README documents.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use crate::support::{Project, alive_after, pids_in};

fn map(p: &Project, args: &[&str]) -> crate::support::Run {
    let mut all = vec!["map"];
    all.extend_from_slice(args);
    p.maestro(&all)
}

/// `maestro map ARGS` started with its stdin, stdout and stderr piped; its
/// stdin is handed back apart.
fn spawn_map(p: &Project, args: &[&str]) -> (std::process::Child, std::process::ChildStdin) {
    let mut all = vec!["map"];
    all.extend_from_slice(args);
    let mut child = p
        .command(&all)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    (child, stdin)
}

#[test]
fn an_input_with_a_newline_reaches_the_command_whole() {
    // Deliberate difference: parallel splits a `:::` value at newlines, into
    // two jobs here; an input must reach the command intact.
    let p = Project::new();
    let run = map(&p, &["-k", "printf '[%s]\\n'", ":::", "a\nb", "c"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "[a\nb]\n[c]\n");
}

#[test]
fn map_runs_are_recorded_with_each_jobs_log() {
    let p = Project::new();
    let run = map(&p, &["-k", "echo out {}; echo err {} >&2; exit {}", ":::", "0", "3"]);
    assert_eq!(run.code, 1, "{run:?}");
    let history = p.maestro(&["history"]);
    let line = history.stdout.lines().nth(1).unwrap_or_default().to_string();
    assert!(line.starts_with("1 ") && line.contains(" failed "), "{}", history.stdout);
    assert!(line.ends_with("map -k echo out {}; echo err {} >&2; exit {} ::: 0 3"), "{line}");
    let json = p.maestro(&["history", "--json"]).stdout;
    assert!(json.contains(r#""kind":"map""#), "{json}");
    assert!(json.contains(r#""ok":1,"failed":1,"skipped":0"#), "{json}");
    assert_eq!(p.maestro(&["log", "2", "--run", "1"]).stdout, "out 3\nerr 3\n");
    let json = p.maestro(&["log", "2", "--json"]).stdout;
    assert!(json.contains(r#""status":"failed","exit_code":3"#), "{json}");
}

#[test]
fn two_running_jobs_never_share_a_slot() {
    let p = Project::new();
    // A job takes its slot's directory; a second holder would fail mkdir.
    let run = map(
        &p,
        &[
            "-j3",
            "mkdir slot{%} && sleep 0.0{} && rmdir slot{%} && echo {%}",
            ":::",
            "5",
            "1",
            "3",
            "2",
            "4",
            "1",
            "5",
            "2",
            "3",
            "1",
            "4",
            "2",
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let mut slots: Vec<&str> = run.stdout.lines().collect();
    slots.sort_unstable();
    slots.dedup();
    assert_eq!(slots, ["1", "2", "3"]);
}

#[test]
fn a_jobs_output_is_never_mixed_with_another_jobs() {
    let p = Project::new();
    let run = map(
        &p,
        &["-j4", "for i in 1 2 3 4 5; do echo {} $i; sleep 0.01; done", ":::", "a", "b", "c", "d"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 20);
    for block in lines.chunks(5) {
        let job = &block[0][..1];
        let want: Vec<String> = (1..=5).map(|i| format!("{job} {i}")).collect();
        assert_eq!(block, want, "{}", run.stdout);
    }
}

#[test]
fn jobs_start_before_stdin_ends() {
    // Inputs stream: the job for the first line runs while maestro still
    // waits for the second.
    let p = Project::new();
    let (mut child, mut stdin) = spawn_map(&p, &["-j2", "touch"]);
    writeln!(stdin, "first").unwrap();
    p.wait_for("first");
    writeln!(stdin, "second").unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    assert!(p.path("second").exists());
}

#[test]
fn a_pipe_job_that_stops_reading_is_judged_by_its_own_status() {
    // Deliberate difference: parallel counts such a job as killed by
    // SIGPIPE when it ended before its block was written (so the exit
    // status varies from run to run); what a job did not read was not
    // wanted, and its status is its own.
    let p = Project::new();
    let (child, mut stdin) = spawn_map(&p, &["-k", "--pipe", "-N5000", "head -1"]);
    let lines: String = (1..=50_000).map(|n| format!("{n}\n")).collect();
    stdin.write_all(lines.as_bytes()).unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let firsts: String = (0..10).map(|block| format!("{}\n", block * 5000 + 1)).collect();
    assert_eq!(String::from_utf8_lossy(&output.stdout), firsts);
}

#[test]
fn round_robin_runs_a_job_per_slot_and_every_block_reaches_one() {
    // How the blocks spread depends on how fast each job reads: GNU
    // parallel's counts vary from run to run too, their sum not.
    let p = Project::new();
    let (child, mut stdin) = spawn_map(&p, &["--round-robin", "-j3", "wc -l"]);
    let lines: String = (1..=200_000).map(|n| format!("{n}\n")).collect();
    stdin.write_all(lines.as_bytes()).unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let counts: Vec<u64> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert_eq!(counts.iter().sum::<u64>(), 200_000);
}

#[test]
fn a_regex_header_is_read_before_jobs_run() {
    // Its perl was once started from the reading thread, while the loop
    // ran: the loop reaped it first, now and then, and the run failed with
    // "No child processes".
    let p = Project::new();
    for _ in 0..20 {
        let (child, mut stdin) =
            spawn_map(&p, &["-k", "--pipe", "--header", "(%.*\\n)*", "--block", "20", "cat"]);
        stdin.write_all(b"%h1\n%h2\n1\n2\n3\n").unwrap();
        drop(stdin);
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert!(String::from_utf8_lossy(&output.stdout).starts_with("%h1\n%h2\n1\n"), "{output:?}");
    }
}

#[test]
fn a_pipe_job_is_retried_with_its_whole_block() {
    let p = Project::new();
    let (child, mut stdin) = spawn_map(
        &p,
        &[
            "-k",
            "--pipe",
            "-N2",
            "--retries",
            "3",
            "wc -l; test -e again || { touch again; exit 1; }",
        ],
    );
    stdin.write_all(b"a\nb\nc\n").unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "2\n1\n");
}

#[test]
fn files_keeps_each_jobs_stdout_in_a_file_whose_name_is_printed() {
    // GNU parallel's names are random: the names differ, what they hold not.
    let p = Project::new();
    let run = map(&p, &["-k", "--files", "echo {}; echo to-stderr >&2", ":::", "a", "b"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stderr, "to-stderr\nto-stderr\n");
    let held: Vec<String> =
        run.stdout.lines().map(|path| std::fs::read_to_string(path).unwrap()).collect();
    assert_eq!(held, ["a\n", "b\n"]);
    for path in run.stdout.lines() {
        std::fs::remove_file(path).unwrap();
    }
}

#[test]
fn progress_and_eta_draw_parallels_counts_on_stderr() {
    let p = Project::new();
    for (option, last) in [("--progress", "local:0/3/100%/"), ("--eta", "ETA: 0s Left: 0 AVG: ")] {
        let run = map(&p, &["-j1", option, "echo", ":::", "a", "b", "c"]);
        assert_eq!(run.code, 0, "{run:?}");
        assert_eq!(run.stdout, "a\nb\nc\n");
        assert!(run.stderr.starts_with("\nComputers / CPU cores / Max jobs to run\n1:local / "));
        let drawn = run.stderr.rsplit('\r').next().unwrap();
        assert!(drawn.starts_with(last), "{option}: {drawn:?}");
    }
}

#[test]
fn a_termination_sequence_stops_jobs_with_its_signals() {
    let p = Project::new();
    // TERM is ignored: INT stops the job, before TERM's 3 s grace would
    // have run out.
    let job = "trap '' TERM; trap 'echo got INT; exit 3' INT; sleep 30 & wait; : {}";
    let started = std::time::Instant::now();
    let run =
        map(&p, &["--timeout", "0.3", "--term-seq", "TERM,100,INT,2000,KILL,25", job, ":::", "x"]);
    assert!(started.elapsed() < Duration::from_millis(2800), "{:?}", started.elapsed());
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stdout, "got INT\n");
    // A sequence that does not kill is ended by a kill after its waits.
    let job = "trap '' TERM INT; sleep 30 & wait; : {}";
    let started = std::time::Instant::now();
    let run = map(&p, &["--timeout", "0.2", "--term-seq", "TERM,100,INT,100", job, ":::", "x"]);
    assert!(started.elapsed() < Duration::from_millis(2800), "{:?}", started.elapsed());
    assert_eq!(run.code, 1, "{run:?}");
}

/// `maestro map ARGS` with `HOME` in the project (where `--semaphore`
/// keeps its semaphores): (exit status, stdout, stderr).
fn map_at_home(p: &Project, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["map"];
    all.extend_from_slice(args);
    let output = p.command(&all).env("HOME", p.path(".")).stdin(Stdio::null()).output().unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code().unwrap_or(-1), text(&output.stdout), text(&output.stderr))
}

/// `maestro map --semaphore ARGS` started in the background (its output
/// not waited for: the command it leaves running holds it); its status.
fn semaphore_in_background(p: &Project, args: &[&str]) -> i32 {
    let mut all = vec!["map", "--semaphore"];
    all.extend_from_slice(args);
    let mut command = p.command(&all);
    command.env("HOME", p.path(".")).stdin(Stdio::null()).stdout(Stdio::null());
    command.stderr(Stdio::null()).status().unwrap().code().unwrap_or(-1)
}

#[test]
fn semaphore_runs_commands_in_the_background_one_slot_at_a_time() {
    let p = Project::new();
    let started = std::time::Instant::now();
    for n in 1..=3 {
        let job = format!("echo start >> log; sleep 0.3; echo end {n} >> log");
        assert_eq!(semaphore_in_background(&p, &["--id", "s", &job]), 0);
    }
    // Each call waited for the slot before going on: the first two ran one
    // after the other, the third runs now.
    assert!(started.elapsed() >= Duration::from_millis(550), "{:?}", started.elapsed());
    let (code, _, stderr) = map_at_home(&p, &["--semaphore", "--id", "s", "--wait"]);
    assert_eq!(code, 0, "{stderr}");
    let log = std::fs::read_to_string(p.path("log")).unwrap();
    assert_eq!(log, "start\nend 1\nstart\nend 2\nstart\nend 3\n");
}

#[test]
fn semaphore_in_the_foreground_gives_the_commands_status_and_can_time_out() {
    let p = Project::new();
    assert_eq!(map_at_home(&p, &["--semaphore", "--fg", "exit 3"]).0, 3);
    assert_eq!(semaphore_in_background(&p, &["--id", "t", "sleep 2"]), 0);
    let gave_up =
        map_at_home(&p, &["--semaphore", "--id", "t", "--fg", "--st", "-0.2", "echo ran"]);
    assert_eq!(
        gave_up,
        (1, String::new(), "maestro: the semaphore timed out: the command does not run\n".into())
    );
    let anyway = map_at_home(&p, &["--semaphore", "--id", "t", "--fg", "--st", "0.2", "echo ran"]);
    assert_eq!(
        anyway,
        (0, "ran\n".into(), "maestro: the semaphore timed out: the command runs anyway\n".into())
    );
}

#[test]
fn memfree_starts_no_job_while_memory_is_short() {
    let p = Project::new();
    let child = p.spawn(&["map", "--memfree", "100P", "touch", ":::", "ran"]);
    std::thread::sleep(Duration::from_millis(1200));
    assert!(!p.path("ran").exists(), "a job started without the memory asked");
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{output:?}");
    let run = map(&p, &["--memfree", "1M", "touch", ":::", "ran"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(p.path("ran").exists());
}

#[test]
fn a_timeout_in_percent_kills_jobs_far_slower_than_the_median() {
    let p = Project::new();
    let run = map(
        &p,
        &[
            "-k",
            "-j1",
            "--joblog",
            "jl",
            "--timeout",
            "300%",
            "sleep {}; echo {}",
            ":::",
            "0.1",
            "0.1",
            "0.1",
            "30",
        ],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stdout, "0.1\n0.1\n0.1\n");
    assert!(run.stderr.contains("job 4 killed after"), "{}", run.stderr);
    let joblog = p.read("jl");
    let last: Vec<&str> = joblog.lines().last().unwrap().split('\t').collect();
    assert_eq!((last[0], last[6], last[7]), ("4", "-1", "15"), "{joblog}");
}

#[test]
fn a_job_the_run_stopped_is_not_in_the_joblog_and_resume_runs_it() {
    let p = Project::new();
    let job = "if [ {} = slow ]; then touch started; sleep 30; fi; echo {}";
    let child = p.spawn(&["map", "-k", "--joblog", "jl", job, ":::", "quick", "slow"]);
    p.wait_for("started");
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(130));
    let listed = |p: &Project| {
        let log = std::fs::read_to_string(p.path("jl")).unwrap();
        log.lines()
            .skip(1)
            .map(|line| line.split('\t').next_back().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(&p), ["if [ quick = slow ]; then touch started; sleep 30; fi; echo quick"]);
    let job = "echo {}";
    let run = map(&p, &["-k", "--resume", "--joblog", "jl", job, ":::", "quick", "slow"]);
    assert_eq!(run.stdout, "slow\n", "{run:?}");
}

#[test]
fn a_script_can_have_map_as_its_interpreter() {
    // As GNU parallel's --shebang and --shebang-wrap: the kernel gives the
    // #! line's words as one argument, then the script and its arguments.
    let p = Project::new();
    std::fs::write(p.path("urls"), "#!x --shebang -r echo\n\nb\na\n").unwrap();
    let run = map(&p, &["--shebang -k -r echo", "urls"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "b\na\n"), "{run:?}");
    std::fs::write(p.path("script.sh"), "#!x --shebang-wrap /bin/sh\necho \"[$1]\"\n").unwrap();
    let run = map(&p, &["--shebang-wrap -k /bin/sh", "script.sh", "A", "B C"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "[A]\n[B C]\n"), "{run:?}");
    // Split by `env -S`: the same.
    let run = map(&p, &["--shebang-wrap", "-k", "/bin/sh", "script.sh", "A"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "[A]\n"), "{run:?}");
}

#[test]
fn ctrl_c_stops_every_job_and_exits_130() {
    let p = Project::new();
    let child = p.spawn(&[
        "map",
        "-j2",
        "mkdir -p pids; echo $$ > pids/{}; sleep 300",
        ":::",
        "a",
        "b",
        "c",
    ]);
    p.wait_for("pids/a");
    p.wait_for("pids/b");
    std::thread::sleep(Duration::from_millis(50));
    let pids = pids_in(&p.path("pids"));
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&output.stderr).contains("SIGINT received"));
    assert_eq!(alive_after(&pids, Duration::from_secs(2)), Vec::<i32>::new());
    assert!(!p.path("pids/c").exists(), "a job started after Ctrl-C");
}

#[test]
fn errors_exit_255_with_what_is_wrong() {
    let p = Project::new();
    for (args, says) in [
        (
            &["--nosuchoption", "echo", ":::", "a"][..],
            "error: unexpected argument '--nosuchoption' found\n\n  tip: to pass \
             '--nosuchoption' as a value, use '-- --nosuchoption'\n\nUsage: maestro map \
             [OPTIONS] [COMMAND]...\n\nFor more information, try '--help'.\n",
        ),
        (
            &["echo", "::::", "missing.txt"],
            "error: cannot read input missing.txt: No such file or directory (os error 2)\n",
        ),
        (&["echo", "::::", "."], "error: cannot read input .: Is a directory (os error 21)\n"),
        (&["-j", "x", "echo", ":::", "a"], "error: -j x: expected N, N%, +N, -N or 0\n"),
        (
            &["--halt", "later", "echo", ":::", "a"],
            "error: --halt later: expected never, or now|soon,fail|success|done[=N|=N%] \
             (e.g. now,fail=1)\n",
        ),
        (
            &["-d", "ab", "echo", ":::", "a"],
            "error: -d ab: expected one character, or an escape such as \\n, \\t, \\0 or \\x2c\n",
        ),
        (&["--trim", "x", "echo", ":::", "a"], "error: --trim x: expected n, l, r, lr or rl\n"),
        (
            &["--plus", "echo", "{%.txt}", ":::", "a.txt"],
            "error: '{%.txt}' uses '.', which GNU parallel reads as part of a regular expression; \
             maestro takes plain text there\n",
        ),
        (
            &["--plus", "echo", "{2choose_k}", ":::", "A", "B", ":::", "A", "B"],
            "error: '{2choose_k}' (one of GNU parallel's --plus strings) is not supported by \
             maestro map\n",
        ),
        (
            &["--delay", "50ms", "echo", ":::", "a"],
            "error: --delay 50ms: expected seconds (e.g. 0.5) or a duration (2s, 1m30s)\n",
        ),
        (
            &["--timeout", "0", "echo", ":::", "a"],
            "error: --timeout 0: expected seconds (e.g. 2.5) or N% of the median run time\n",
        ),
        (
            &["--resume", "echo", ":::", "a"],
            "error: the following required arguments were not provided:\n  --joblog <FILE>\n\n\
             Usage: maestro map --joblog <FILE> --resume <COMMAND>...\n\n\
             For more information, try '--help'.\n",
        ),
        (
            &["-k", "echo", "{= s/a/ =}", ":::", "a"],
            "error: cannot use {= s/a/ =}: Substitution replacement not terminated\n",
        ),
        (
            &["-k", "echo", "{= die 'no such file' =}", ":::", "a"],
            "error: a Perl expression failed for job 1: no such file\n",
        ),
        (
            &["--rpl", "{..}", "echo", "{..}", ":::", "a"],
            "error: --rpl {..}: expected a replacement string, a blank, then its Perl code (e.g. \
             --rpl '{..} s:\\.[^.]+$::;s:\\.[^.]+$::;')\n",
        ),
        (
            &["--parens", ",,,", "echo", ":::", "a"],
            "error: --parens ,,,: expected what opens then what closes a Perl expression, of one \
             length (e.g. ,,,, for ,,s/a/b/,,)\n",
        ),
        (
            &["--tagstring", "{= $_ =}", "echo", "{= $_ =}", ":::", "a"],
            "error: --tagstring: a Perl expression ({= =}) is not supported there\n",
        ),
        (
            &["--pipe", "echo", ":::", "a"],
            "error: --pipe cuts stdin into blocks: it takes no ::: or :::: sources\n  \
             = hint: feed the input on stdin, or cut files with --pipepart -a FILE\n",
        ),
        (
            &["--pipepart", "echo", ":::", "a"],
            "error: --pipepart cuts files: it takes no ::: values or stdin\n  \
             = hint: give the files with -a FILE or :::: FILE\n",
        ),
        (
            &["--pipe", "--block", "1X", "wc"],
            "error: --block 1X: expected a size such as 1M, 500k or 4096\n",
        ),
        (
            &["--pipe", "--block", "-2", "wc"],
            "error: --block -2: --pipe needs at least one byte (a negative size is --pipepart's \
             parts per job slot)\n",
        ),
        (
            &["--pipepart", "-a", "f", "--header", "^#.*", "cat"],
            "error: --header ^#.*: --pipepart takes a number of lines (or :) as its header\n",
        ),
        (
            &["--block", "10", "echo", ":::", "a"],
            "error: --block works with --pipe or --pipepart only (maestro map has no other use for \
             it yet)\n",
        ),
        (
            &["--pipepart", "-N2", "-a", "missing", "cat"],
            "error: --pipepart cuts at --recend and --recstart only: -N, -L and --rrs need --pipe\n",
        ),
        (
            &["--header", "2", "echo", ":::", "a"],
            "error: --header 2: without --pipe, the header is the first value of each source: \
             write --header :\n",
        ),
        (
            &["--results", "out.csv", "echo", ":::", "a"],
            "error: --results out.csv: maestro map writes no CSV, TSV or JSON file: give a folder \
             (the joblog, --joblog FILE, is a table of the jobs)\n",
        ),
        (&["--memfree", "0", "echo", ":::", "a"], "error: --memfree 0: expected a size above 0\n"),
        (
            &["--term-seq", "TERM,1,NOPE,2", "echo", ":::", "a"],
            "error: --term-seq TERM,1,NOPE,2: 'NOPE' is no signal (e.g. TERM,200,TERM,100,KILL,25)\n",
        ),
        (
            &["--group-by", "1", "--rrs", "wc"],
            "error: --group-by 1: it cuts blocks itself: leave out --rrs, --recstart and \
             --round-robin\n",
        ),
        (
            &["--pipepart", "-a", ".", "cat"],
            "error: cannot read input .: --pipepart cuts regular files: this is not one\n",
        ),
    ] {
        let run = map(&p, args);
        assert_eq!(run.code, 255, "{args:?}: {run:?}");
        assert_eq!(run.stderr, says, "{args:?}");
    }
}

#[test]
fn jobs_run_with_the_shell_that_started_maestro_as_parallel_s_do() {
    let p = Project::new();
    let maestro = env!("CARGO_BIN_EXE_maestro");
    // `; true` keeps the shell alive above maestro (a last command is exec'd).
    let line = format!("{maestro} map -k 'echo ${{BASH_VERSION:+bash}}-{{}}' ::: a; true");
    let under = |shell: &str| {
        let output = std::process::Command::new(shell)
            .args(["-c", &line])
            .current_dir(&p.dir)
            .env("SHELL", "/bin/sh")
            .env_remove("PARALLEL_SHELL")
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert_eq!(under("bash"), "bash-a\n");
    assert_eq!(under("dash"), "-a\n");
}

#[test]
fn parallel_s_options_from_the_environment_are_read_and_said_when_wrong() {
    let p = Project::new();
    let with = |options: &str| {
        let output = p
            .command(&["map", "echo", ":::", "a", "b"])
            .env("PARALLEL", options)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        (output.status.code(), text(&output.stdout), text(&output.stderr))
    };
    assert_eq!(with("-k --tag"), (Some(0), "a\ta\nb\tb\n".into(), String::new()));
    assert_eq!(
        with("-k 'open"),
        (Some(255), String::new(), "error: $PARALLEL (-k 'open) leaves a quote open\n".into())
    );
    let (code, _, stderr) = with("--nosuch");
    assert_eq!(code, Some(255));
    assert!(stderr.ends_with("note: $PARALLEL adds these options: --nosuch\n"), "{stderr}");
}

#[test]
fn delay_spaces_the_starts_of_jobs_that_could_all_start_at_once() {
    let p = Project::new();
    let run =
        map(&p, &["-j4", "--delay", "0.3", "date +%s.%N >> starts; : {}", ":::", "a", "b", "c"]);
    assert_eq!(run.code, 0, "{run:?}");
    let mut starts: Vec<f64> = p.read("starts").lines().map(|l| l.parse().unwrap()).collect();
    starts.sort_by(f64::total_cmp);
    assert_eq!(starts.len(), 3);
    for pair in starts.windows(2) {
        assert!(pair[1] - pair[0] >= 0.29, "starts too close: {starts:?}");
    }
}

#[test]
fn the_bar_shows_progress_on_stderr() {
    let p = Project::new();
    let run = map(&p, &["--bar", "true", ":::", "a", "b", "c", "d"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("100% [####################] 4/4, 0 failed"), "{:?}", run.stderr);
}

#[test]
fn keep_order_wins_over_line_buffer() {
    // Deliberate difference: parallel prints the first job's lines as they
    // come and holds the others; maestro prints each job whole, in order.
    let p = Project::new();
    let run = map(&p, &["-k", "--line-buffer", "-j2", "sleep 0.{}; echo {}", ":::", "3", "1"]);
    assert_eq!(run.stdout, "3\n1\n");
}

/// Runs `maestro map -j2 true` over `n` lines of stdin; returns its peak
/// resident memory in KiB.
fn peak_memory_of_map_over(p: &Project, n: usize) -> i64 {
    let input: String = (1..=n).map(|i| format!("{i}\n")).collect();
    usage_of_map(p, &["-j2", "true"], input).ru_maxrss
}

/// Runs `maestro map ARGS` with `input` through a pipe on its stdin;
/// returns what it used (its jobs included), once it exited 0.
fn usage_of_map(p: &Project, args: &[&str], input: String) -> libc::rusage {
    let (child, mut stdin) = spawn_map(p, args);
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let mut status = 0;
    // SAFETY: waiting for our own child; rusage is zeroed and filled.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::wait4(child.id() as i32, &mut status, 0, &mut usage), child.id() as i32);
        usage
    };
    writer.join().unwrap().unwrap();
    assert_eq!(status, 0);
    usage
}

#[test]
fn memory_stays_flat_as_inputs_grow() {
    let p = Project::new();
    let small = peak_memory_of_map_over(&p, 200);
    let large = peak_memory_of_map_over(&p, 4_000);
    // 20 times the inputs: jobs are read as they run, not held.
    assert!(large - small < 4 * 1024, "peak {small} KiB for 200 jobs, {large} KiB for 4,000");
    let history = p.maestro(&["history", "--json"]).stdout;
    assert!(history.contains(r#""ok":4000"#), "{history}");
}

#[test]
fn a_slow_producer_holds_back_neither_output_nor_ctrl_c() {
    use std::io::BufRead;
    let p = Project::new();
    let (mut child, mut stdin) = spawn_map(&p, &["-j2", "echo got {}"]);
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let _ = lines.send(line.unwrap());
        }
    });
    writeln!(stdin, "a").unwrap();
    // Printed while maestro waits for the next line.
    assert_eq!(received.recv_timeout(Duration::from_secs(10)).unwrap(), "got a");
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let (done, exited) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait().unwrap());
    });
    let status = exited.recv_timeout(Duration::from_secs(10)).expect("Ctrl-C went unanswered");
    assert_eq!(status.code(), Some(130));
    drop(stdin);
}

#[test]
fn a_reader_that_goes_away_stops_the_run_quietly_with_141() {
    use std::io::BufRead;
    let p = Project::new();
    // 500 jobs of 4 KB each: far more than a pipe holds.
    let values: Vec<String> = (1..=500).map(|n| n.to_string()).collect();
    let mut args = vec!["map", "-k", "seq 1000; true", ":::"];
    args.extend(values.iter().map(String::as_str));
    let mut child = p
        .command(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, "1\n");
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    // As a shell reports a process killed by SIGPIPE, which parallel is.
    assert_eq!(output.status.code(), Some(141));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn only_failed_jobs_keep_their_output_unless_asked() {
    let p = Project::new();
    let run = map(&p, &["-k", "echo out {}; exit {}", ":::", "0", "4"]);
    assert_eq!((run.code, run.stdout.as_str()), (1, "out 0\nout 4\n"), "{run:?}");
    assert_eq!(p.maestro(&["log", "2"]).stdout, "out 4\n");
    let kept = p.maestro(&["log", "1"]);
    assert_eq!(kept.code, 2, "{kept:?}");
    assert!(kept.stderr.contains("was printed, not kept"), "{}", kept.stderr);
    assert!(kept.stderr.contains("--keep-logs"), "{}", kept.stderr);
    assert!(!p.path(".maestro/logs/1/1.log").exists());

    let run = map(&p, &["--keep-logs", "echo kept {}", ":::", "a"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.maestro(&["log", "1", "--run", "2"]).stdout, "kept a\n");
}

#[test]
fn a_retried_job_prints_only_its_last_attempt_and_logs_every_failed_one() {
    let p = Project::new();
    // Fails at the first attempt, succeeds at the second.
    let job = "touch n; echo try {} $(wc -l < n); echo x >> n; [ $(wc -l < n) -ge 2 ]";
    let run = map(&p, &["--retries", "3", job, ":::", "a"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "try a 1\n");
    assert_eq!(p.read(".maestro/logs/1/1.log"), "try a 0\n");
}

#[test]
fn waiting_for_jobs_after_the_inputs_ended_costs_no_cpu() {
    // The input thread is gone once stdin ends; its wake-up pipe must not
    // make the loop spin while the job runs.
    let p = Project::new();
    let usage = usage_of_map(&p, &["sleep 1; echo {}"], "a\n".to_string());
    let cpu = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let used = cpu(usage.ru_utime) + cpu(usage.ru_stime);
    assert!(used < Duration::from_millis(300), "{used:?} of CPU to wait 1 s");
}

#[test]
fn keep_order_with_many_finished_jobs_waiting_still_retries_the_head() {
    // Job 1 fails slowly, once: meanwhile more jobs finish than may wait
    // for their turn, so no new job starts; its retry must still run.
    let p = Project::new();
    let job = "if [ {} = 1 ] && [ ! -e tried ]; then touch tried; sleep 1.5; exit 1; fi; echo {}";
    let values: Vec<String> = (1..=400).map(|n| n.to_string()).collect();
    let mut args = vec!["map", "-k", "-j2", "--retries", "2", job, ":::"];
    args.extend(values.iter().map(String::as_str));
    let child = p.spawn(&args);
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output().unwrap());
    });
    let output = finished.recv_timeout(Duration::from_secs(60)).expect("map hung");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let want: String = (1..=400).map(|n| format!("{n}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&output.stdout), want);
}

#[test]
fn with_k_the_files_of_jobs_held_for_their_turn_are_reused_once_printed() {
    // Odd jobs are slow, so each even job finishes first and waits for its
    // turn. Once printed, its two output files must serve later jobs, not
    // stay on disk for the rest of the run: each job counts them.
    let p = Project::new();
    let count = "ls .maestro/map-* | grep -c . >&2";
    let command = format!("if [ $(({{}} % 2)) = 1 ]; then sleep 0.1; fi; echo {{}}; {count}");
    let inputs: Vec<String> = (1..=30).map(|n| n.to_string()).collect();
    let mut args = vec!["-k", "-j2", command.as_str(), ":::"];
    args.extend(inputs.iter().map(String::as_str));
    let run = map(&p, &args);
    assert_eq!(run.code, 0, "{run:?}");
    let expected: String = inputs.iter().map(|n| format!("{n}\n")).collect();
    assert_eq!(run.stdout, expected);
    let most = run.stderr.lines().filter_map(|l| l.trim().parse::<u32>().ok()).max();
    assert!(most.is_some_and(|most| most <= 8), "files in use: {most:?}\n{}", run.stderr);
}

#[test]
fn the_output_files_a_killed_map_left_are_removed_by_the_next_map() {
    let p = Project::new();
    let (mut child, stdin) = spawn_map(&p, &["echo {} > started; sleep 30", ":::", "a"]);
    drop(stdin);
    p.wait_for("started");
    assert!(p.path(".maestro/map-1").is_dir());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(p.path(".maestro/map-1").is_dir(), "SIGKILL gave it no chance to clean up");
    let next = map(&p, &["echo", ":::", "b"]);
    assert_eq!(next.stdout, "b\n", "{next:?}");
    assert!(!p.path(".maestro/map-1").exists(), "the killed run's files are left");
}
