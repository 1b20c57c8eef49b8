//! What runs remember: freshness and its reasons, `--force`, `--resume`,
//! the database after a SIGKILL, one run at a time, history and logs.

use std::time::Duration;

use crate::support::{Project, STAMP};

/// Two cleaning instances and a report over their outputs.
const PIPELINE: &str = r#"
[tasks.clean]
for_each = ["a", "b"]
cmd = "sh stamp clean:{} 0 && cp data/{}.csv out/{}.csv"
inputs = ["data/{}.csv"]
outputs = ["out/{}.csv"]

[tasks.report]
cmd = "sh stamp report 0 && cat out/*.csv > report.txt"
deps = ["clean"]
inputs = ["out/*.csv"]
outputs = ["report.txt"]
"#;

fn pipeline() -> Project {
    let p = Project::with_flow(PIPELINE);
    p.file("stamp", STAMP).file("data/a.csv", "1,2\n").file("data/b.csv", "3,4\n");
    std::fs::create_dir_all(p.path("out")).unwrap();
    p
}

/// Runs maestro, expecting success; returns the names of the instances
/// that started (and forgets them for the next call).
fn run_and_list_started(p: &Project, args: &[&str]) -> Vec<String> {
    let run = p.maestro(args);
    assert_eq!(run.code, 0, "{run:?}");
    let mut started: Vec<String> =
        p.events().into_iter().filter(|e| e.0 == "start").map(|e| e.1).collect();
    started.sort();
    let _ = std::fs::remove_file(p.path("events"));
    started
}

fn dry_run(p: &Project) -> Vec<String> {
    let run = p.maestro(&["run", "-n"]);
    assert_eq!(run.code, 0, "{run:?}");
    let mut lines: Vec<String> = run.stdout.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

#[test]
fn a_second_run_skips_what_is_fresh_and_touching_changes_nothing() {
    let p = pipeline();
    assert_eq!(run_and_list_started(&p, &["run"]), ["clean:a", "clean:b", "report"]);
    assert_eq!(
        dry_run(&p),
        ["skip clean:a (fresh)", "skip clean:b (fresh)", "skip report (fresh)"]
    );
    let touched = std::process::Command::new("touch")
        .args(["-d", "2030-01-01", "data/a.csv", "out/b.csv"])
        .current_dir(&p.dir)
        .status()
        .unwrap();
    assert!(touched.success());
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.read("events"), "", "nothing should run after a touch");
    assert!(run.stderr.contains("0 ok, 3 skipped"), "{}", run.stderr);
    assert!(!p.path(".maestro/logs/2").exists(), "a run that ran nothing leaves no log directory");
}

#[test]
fn one_changed_byte_reruns_exactly_what_is_downstream_of_it() {
    let p = pipeline();
    run_and_list_started(&p, &["run"]);
    p.file("data/a.csv", "1,3\n");
    assert_eq!(
        dry_run(&p),
        [
            "skip clean:b (fresh)",
            "would run clean:a (input data/a.csv changed): sh stamp clean:a 0 && cp data/a.csv out/a.csv",
            "would run report (dep clean:a will run): sh stamp report 0 && cat out/*.csv > report.txt",
        ]
    );
    assert_eq!(run_and_list_started(&p, &["run"]), ["clean:a", "report"]);
    assert_eq!(p.read("report.txt"), "1,3\n3,4\n");
    assert_eq!(run_and_list_started(&p, &["run"]), Vec::<String>::new());
}

#[test]
fn each_reason_is_the_real_one() {
    let p = pipeline();
    p.file("maestro.toml", &format!("{PIPELINE}\n[tasks.plain]\ncmd = \"true\"\n"));
    let first = dry_run(&p);
    assert!(first.iter().any(|l| l.starts_with("would run clean:a (never ran)")), "{first:?}");
    assert!(first.iter().any(|l| l.starts_with("would run plain (no inputs or outputs declared)")));
    run_and_list_started(&p, &["run"]);

    std::fs::remove_file(p.path("out/b.csv")).unwrap();
    assert!(
        dry_run(&p).iter().any(|l| l.starts_with("would run clean:b (output out/b.csv missing)"))
    );
    run_and_list_started(&p, &["run"]);

    p.file("maestro.toml", &PIPELINE.replace("cat out/*.csv", "cat out/a.csv out/b.csv"));
    assert!(dry_run(&p).iter().any(|l| l.starts_with("would run report (command changed)")));
    run_and_list_started(&p, &["run"]);

    p.file(
        "maestro.toml",
        &PIPELINE
            .replace("cat out/*.csv", "cat out/a.csv out/b.csv")
            .replace("deps = [\"clean\"]", "deps = [\"clean\"]\nenv = { LANG = \"C\" }"),
    );
    assert!(dry_run(&p).iter().any(|l| l.starts_with("would run report (env changed)")));
    assert_eq!(run_and_list_started(&p, &["run"]), ["report"]);

    p.file("out/a.csv", "edited by hand\n");
    let lines = dry_run(&p);
    assert!(lines.iter().any(|l| l.starts_with("would run clean:a (output out/a.csv changed)")));
    assert!(lines.iter().any(|l| l.starts_with("would run report (dep clean:a will run)")));
}

#[test]
fn force_runs_everything() {
    let p = pipeline();
    run_and_list_started(&p, &["run"]);
    let run = p.maestro(&["run", "-n", "--force"]);
    assert!(run.stdout.lines().all(|l| l.contains("(forced)")), "{}", run.stdout);
    assert_eq!(run_and_list_started(&p, &["run", "--force"]), ["clean:a", "clean:b", "report"]);
}

#[test]
fn a_skipped_tasks_results_still_reach_its_dependents() {
    let p = Project::with_flow(
        r#"
[tasks.count]
cmd = "echo n=42 > $MAESTRO_OUTPUT; touch counted"
outputs = ["counted"]
[tasks.use]
cmd = "echo got $MAESTRO_DEP_COUNT_N >> got.txt"
deps = ["count"]
"#,
    );
    assert_eq!(p.maestro(&["run"]).code, 0);
    let second = p.maestro(&["run"]);
    assert_eq!(second.code, 0, "{second:?}");
    assert!(second.stderr.contains("1 ok, 1 skipped"), "{}", second.stderr);
    assert!(!second.stderr.contains("critical path"), "a skipped task is on no path: {second:?}");
    assert_eq!(p.read("got.txt"), "got 42\ngot 42\n");
}

#[test]
fn a_failure_forgets_the_last_success() {
    let p = Project::with_flow(
        r#"
[tasks.t]
cmd = "test \"$(cat in.txt)\" != bad && cp in.txt out.txt"
inputs = ["in.txt"]
outputs = ["out.txt"]
"#,
    );
    p.file("in.txt", "good\n");
    assert_eq!(p.maestro(&["run"]).code, 0);
    p.file("in.txt", "bad\n");
    assert_eq!(p.maestro(&["run"]).code, 1);
    p.file("in.txt", "good\n");
    let lines = dry_run(&p);
    assert!(lines[0].starts_with("would run t (failed last time)"), "{lines:?}");
}

#[test]
fn resume_reruns_only_what_failed_or_never_ran() {
    let p = Project::with_flow(
        r#"
[tasks.a]
cmd = "sh stamp a 0"
[tasks.b]
cmd = "sh stamp b 0 && test ! -e broken"
deps = ["a"]
[tasks.c]
cmd = "sh stamp c 0"
deps = ["b"]
"#,
    );
    p.file("stamp", STAMP).file("broken", "");
    assert_eq!(p.maestro(&["run"]).code, 1);
    let _ = std::fs::remove_file(p.path("events"));
    std::fs::remove_file(p.path("broken")).unwrap();
    let plan = p.maestro(&["run", "-n", "--resume"]);
    assert!(plan.stdout.starts_with("skip a (done in run 1)\n"), "{}", plan.stdout);
    assert_eq!(run_and_list_started(&p, &["run", "--resume"]), ["b", "c"]);
    // Resuming a run that succeeded runs nothing.
    assert_eq!(run_and_list_started(&p, &["run", "--resume"]), Vec::<String>::new());
}

#[test]
fn a_resume_killed_before_it_recorded_anything_loses_nothing_for_the_next() {
    // `b` fails in run 1; run 2 resumes and is killed at once, before its
    // first commit; run 3 must still know that `a` is done (from run 1).
    let p = Project::with_flow(
        r#"
[tasks.a]
cmd = "sh stamp a 0"
[tasks.b]
cmd = "sh stamp b 0; touch started; if [ -e hang ]; then sleep 30; fi; test ! -e broken"
deps = ["a"]
"#,
    );
    p.file("stamp", STAMP).file("broken", "");
    assert_eq!(p.maestro(&["run"]).code, 1);
    std::fs::remove_file(p.path("started")).unwrap();
    p.file("hang", "");
    let mut killed = p.spawn(&["run", "--resume"]);
    p.wait_for("started");
    killed.kill().unwrap();
    killed.wait().unwrap();
    std::fs::remove_file(p.path("broken")).unwrap();
    std::fs::remove_file(p.path("hang")).unwrap();
    let _ = std::fs::remove_file(p.path("events"));
    let plan = p.maestro(&["run", "-n", "--resume"]);
    assert!(plan.stdout.starts_with("skip a (done in run 1)\n"), "{}", plan.stdout);
    assert_eq!(run_and_list_started(&p, &["run", "--resume"]), ["b"]);
}

#[test]
fn a_task_that_ended_just_before_maestro_was_killed_is_not_run_again() {
    // `quick` ends, and maestro is killed at once: within the 200 ms before
    // its end is committed. Its end was journaled, so `--resume` knows it.
    let p = Project::with_flow(
        r#"
[tasks.quick]
cmd = "sh stamp quick 0"
[tasks.slow]
cmd = "touch started; if [ -e hang ]; then sleep 30; fi"
"#,
    );
    p.file("stamp", STAMP).file("hang", "");
    let mut killed = p.spawn(&["run", "-j", "2"]);
    p.wait_for("started");
    while !p.read("events").contains("end quick") {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    killed.kill().unwrap();
    killed.wait().unwrap();
    std::fs::remove_file(p.path("hang")).unwrap();
    let _ = std::fs::remove_file(p.path("events"));
    assert_eq!(run_and_list_started(&p, &["run", "--resume"]), Vec::<String>::new());
    let log = p.maestro(&["log", "quick", "--json"]);
    assert!(log.stdout.contains(r#""status":"ok""#), "{}", log.stdout);
}

#[test]
fn sigkill_mid_run_leaves_a_sound_database_and_the_attempt_marked_interrupted() {
    let p = Project::with_flow(
        r#"
[tasks.quick]
cmd = "true"
[tasks.slow]
cmd = "if [ ! -e started ]; then touch started; sleep 30; fi"
deps = ["quick"]
"#,
    );
    let mut child = p.spawn(&["run"]);
    p.wait_for("started");
    // The start is committed within 200 ms.
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();

    let db = rusqlite::Connection::open(p.path(".maestro/state.db")).unwrap();
    let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    drop(db);

    let slow = p.maestro(&["log", "slow", "--json"]);
    assert_eq!(slow.code, 0, "{slow:?}");
    assert!(slow.stdout.contains(r#""status":"interrupted""#), "{}", slow.stdout);
    let history = p.maestro(&["history", "--json"]);
    assert!(history.stdout.contains(r#""status":"interrupted""#), "{}", history.stdout);

    let next = p.maestro(&["run", "--resume"]);
    assert_eq!(next.code, 0, "{next:?}");
    assert!(next.stderr.contains("1 ok, 1 skipped"), "{}", next.stderr);
}

#[test]
fn a_killed_run_shows_interrupted_while_another_maestro_runs_beside_it() {
    let p = Project::new();
    // `par` holds the state's lock shared: the killed run's lock is not
    // free, so only its dead maestro can tell it ended.
    let mut beside = p.spawn(&["par", "touch beside; sleep 30"]);
    p.wait_for("beside");
    let mut killed = p.spawn(&["par", "touch started; sleep 30"]);
    p.wait_for("started");
    // The start is committed within 200 ms.
    std::thread::sleep(Duration::from_millis(500));
    killed.kill().unwrap();
    killed.wait().unwrap();

    let history = p.maestro(&["history", "--json"]);
    assert_eq!(history.code, 0, "{history:?}");
    let status_of = |id: &str| {
        let line = history.stdout.lines().find(|l| l.contains(&format!("\"id\":{id},")));
        let line = line.unwrap_or_else(|| panic!("no run {id}: {}", history.stdout));
        line.split("\"status\":\"").nth(1).unwrap().split('"').next().unwrap().to_string()
    };
    assert_eq!(status_of("2"), "interrupted");
    assert_eq!(status_of("1"), "running");
    let log = p.maestro(&["log", "1", "--run", "2", "--json"]);
    assert!(log.stdout.contains(r#""status":"interrupted""#), "{log:?}");

    // SAFETY: signalling the maestro spawned above.
    unsafe { libc::kill(beside.id() as i32, libc::SIGINT) };
    assert_eq!(beside.wait().unwrap().code(), Some(130));
}

#[test]
fn a_second_maestro_on_the_same_flow_waits_for_the_first() {
    let p = Project::with_flow("[tasks.t]\ncmd = \"sh stamp t 1\"\n");
    p.file("stamp", STAMP);
    let first = p.spawn(&["run"]);
    p.wait_for("events");
    let second = p.maestro(&["run"]);
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success());
    assert_eq!(second.code, 0, "{second:?}");
    assert!(second.stderr.contains("waiting for it to finish"), "{}", second.stderr);
    let order: Vec<String> = p.events().into_iter().map(|e| e.0).collect();
    assert_eq!(order, ["start", "end", "start", "end"], "the runs overlapped");
}

#[test]
fn a_dry_run_does_not_wait_for_a_run_in_progress() {
    let p = Project::with_flow("[tasks.t]\ncmd = \"sh stamp t 2\"\n");
    p.file("stamp", STAMP);
    let mut first = p.spawn(&["run"]);
    p.wait_for("events");
    let plan = p.maestro(&["run", "-n"]);
    assert!(!p.read("events").contains("end"), "the dry run waited for the run to end");
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(plan.stderr.contains("this shows the state as it is now"), "{}", plan.stderr);
    assert!(plan.stdout.starts_with("would run t"), "{}", plan.stdout);
    assert!(first.wait().unwrap().success());
}

#[test]
fn history_and_log_show_earlier_runs() {
    let p = Project::with_flow(
        "[tasks.hello]\ncmd = \"echo hello $MAESTRO_RUN\"\n[tasks.bad]\ncmd = \"echo oops; exit 3\"\n",
    );
    assert_eq!(p.maestro(&["run", "-k"]).code, 1);
    assert_eq!(p.maestro(&["run", "hello"]).code, 0);

    let history = p.maestro(&["history"]);
    assert_eq!(history.code, 0, "{history:?}");
    let lines: Vec<&str> = history.stdout.lines().collect();
    assert!(lines[0].starts_with("run  started"), "{}", history.stdout);
    assert!(lines[1].starts_with("2 ") && lines[1].contains(" ok "), "{}", history.stdout);
    assert!(lines[2].starts_with("1 ") && lines[2].contains(" failed "), "{}", history.stdout);

    let json = p.maestro(&["history", "--json"]);
    let rows: Vec<&str> = json.stdout.lines().collect();
    assert_eq!(rows.len(), 2);
    assert!(rows[1].starts_with(r#"{"id":1,"kind":"run","flow":"maestro.toml","#), "{}", rows[1]);
    assert!(rows[1].contains(r#""ok":1,"failed":1,"skipped":0,"not_run":0}"#), "{}", rows[1]);

    assert_eq!(p.maestro(&["log", "hello"]).stdout, "hello 2\n");
    assert_eq!(p.maestro(&["log", "hello", "--run", "1"]).stdout, "hello 1\n");
    let bad = p.maestro(&["log", "bad", "--json"]);
    assert!(bad.stdout.contains(r#""status":"failed","exit_code":3"#), "{}", bad.stdout);
    assert!(bad.stdout.contains(r#""log":"oops\nmaestro: failed: exit 3\n""#), "{}", bad.stdout);

    let unknown = p.maestro(&["log", "helo"]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("did you mean 'hello'?"), "{}", unknown.stderr);
    assert_eq!(p.maestro(&["log", "hello", "--run", "9"]).code, 2);
}

#[test]
fn logs_of_an_older_maestro_are_kept_and_numbering_goes_on() {
    let p = Project::with_flow("[tasks.t]\ncmd = \"echo new\"\n");
    for run in 1..=3 {
        p.file(&format!(".maestro/logs/{run}/t.log"), "old\n");
    }
    assert_eq!(p.maestro(&["run"]).code, 0);
    assert_eq!(p.read(".maestro/logs/4/t.log"), "new\n");
    assert_eq!(p.read(".maestro/logs/1/t.log"), "old\n");
}

#[test]
fn a_state_file_that_is_not_a_database_is_refused_and_left_alone() {
    let p = Project::with_flow("[tasks.t]\ncmd = \"touch ran\"\n");
    let garbage = "these are my notes, not a database\n".repeat(100);
    p.file(".maestro/state.db", &garbage);
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("state.db: not a maestro state database"), "{}", run.stderr);
    assert_eq!(p.read(".maestro/state.db"), garbage);
    assert!(!p.path("ran").exists());
}

#[test]
fn reasons_for_globs_declared_outputs_and_deps_changed_in_another_run() {
    let p = pipeline();
    run_and_list_started(&p, &["run"]);

    // The report's glob gains a file, then loses it.
    p.file("out/c.csv", "5,6\n");
    assert!(dry_run(&p).iter().any(|l| l.starts_with("would run report (input out/c.csv added)")));
    run_and_list_started(&p, &["run"]);
    std::fs::remove_file(p.path("out/c.csv")).unwrap();
    assert!(
        dry_run(&p).iter().any(|l| l.starts_with("would run report (input out/c.csv removed)"))
    );
    run_and_list_started(&p, &["run"]);

    // clean:a re-runs alone; the report, not part of that run, sees it next time.
    p.file("data/a.csv", "7,8\n");
    assert_eq!(run_and_list_started(&p, &["run", "clean:a"]), ["clean:a"]);
    assert!(dry_run(&p).iter().any(|l| l.starts_with("would run report (dep clean changed)")));
    run_and_list_started(&p, &["run"]);

    p.file(
        "maestro.toml",
        &PIPELINE.replace("outputs = [\"report.txt\"]", "outputs = [\"report.txt\", \"out\"]"),
    );
    assert!(
        dry_run(&p).iter().any(|l| l.starts_with("would run report (declared outputs changed)"))
    );
}

#[test]
fn a_state_file_of_schema_version_1_is_migrated_with_its_history() {
    let p =
        Project::with_flow("[tasks.a]\ncmd = \"echo new a\"\n[tasks.b]\ncmd = \"echo new b\"\n");
    let flow = p.path("maestro.toml").display().to_string();
    let logs = p.path(".maestro/logs/1");
    p.file(".maestro/logs/1/a.log", "old a, attempt 2\n").file(".maestro/logs/1/b.log", "old b\n");
    let db = p.path(".maestro/state.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(maestro::store::schema::MIGRATIONS[0]).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA application_id = 1836282994; PRAGMA user_version = 1;
             INSERT INTO runs (id, kind, flow, argv, pid, started_ms, ended_ms, status, ok, failed)
                 VALUES (1, 'run', '{flow}', 'maestro\nrun', 1, 1000, 5000, 'ok', 2, 0);
             INSERT INTO attempts (run_id, instance, number, started_ms, ended_ms, status,
                                   exit_code, log)
                 VALUES (1, 'b', 1, 1000, 2000, 'ok', 0, '{logs}/b.log'),
                        (1, 'a', 1, 1500, 2500, 'failed', 1, '{logs}/a.log'),
                        (1, 'a', 2, 3000, 4000, 'ok', 0, '{logs}/a.log');",
            logs = logs.display()
        ))
        .unwrap();
    }

    assert_eq!(p.maestro(&["log", "a"]).stdout, "old a, attempt 2\n");
    let history = p.maestro(&["history", "--json"]);
    assert!(history.stdout.contains(r#""id":1,"kind":"run""#), "{history:?}");
    assert_eq!(p.maestro(&["run"]).code, 0);
    assert_eq!(p.maestro(&["log", "a"]).stdout, "new a\n");
    assert_eq!(p.maestro(&["log", "a", "--run", "1"]).stdout, "old a, attempt 2\n");
    let old = p.maestro(&["log", "a", "--run", "1", "--json"]);
    assert!(old.stdout.contains(r#""attempt":2,"#), "{}", old.stdout);
    // Runs from before slots and commands were recorded still report.
    assert_eq!(p.maestro(&["report", "1", "-o", "old.html"]).code, 0);
    assert!(p.read("old.html").contains(r#""task":"a","number":2,"final":true,"slots":[1]"#));
    let trace = p.maestro(&["report", "1", "--format", "trace", "-o", "-"]);
    assert!(
        trace.stdout.contains(r#""name":"a","cat":"ok","ph":"X","ts":2000000,"dur":1000000"#),
        "{}",
        trace.stdout
    );

    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, maestro::store::schema::LATEST);
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let mut order =
        conn.prepare("SELECT run_id, instance, number FROM attempts ORDER BY id").unwrap();
    let order: Vec<(i64, String, i64)> = order
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(&order[..3], [(1, "b".into(), 1), (1, "a".into(), 1), (1, "a".into(), 2)]);
    assert_eq!(order.len(), 5, "{order:?}");
}

#[test]
fn what_a_resume_ran_is_fresh_afterwards() {
    // The resumed deps' keys were left out of their dependent's record, so
    // the run after a resume ran it again: "dep make:a changed".
    let p = Project::with_flow(
        "[tasks.make]\nfor_each = [\"a\", \"b\"]\ncmd = \"echo {} > {}.out\"\noutputs = [\"{}.out\"]\n\n[tasks.use]\ncmd = \"test -e ok && cat a.out b.out > all\"\noutputs = [\"all\"]\ndeps = [\"make\"]\n",
    );
    assert_eq!(p.maestro(&["run"]).code, 1);
    p.file("ok", "");
    let resumed = p.maestro(&["run", "--resume"]);
    assert_eq!(resumed.code, 0, "{resumed:?}");
    let after = p.maestro(&["run", "-n"]);
    // make:a and make:b come in the order of their recorded durations.
    let mut lines: Vec<&str> = after.stdout.lines().collect();
    lines.sort();
    assert_eq!(lines, ["skip make:a (fresh)", "skip make:b (fresh)", "skip use (fresh)"]);
}

#[test]
fn an_empty_log_is_said_to_be_empty() {
    let p = Project::with_flow("[tasks.quiet]\ncmd = \"true\"\n");
    assert_eq!(p.maestro(&["run"]).code, 0);
    let log = p.maestro(&["log", "quiet"]);
    assert_eq!(log.code, 0, "{log:?}");
    assert_eq!(log.stdout, "");
    assert_eq!(
        log.stderr,
        "maestro: 'quiet' wrote nothing in run 1 (attempt 1): its log is empty\n"
    );
}
