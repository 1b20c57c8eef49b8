//! `maestro par`: commands in parallel, stages with `--then`.

use crate::support::{Project, STAMP, overlap};

fn stamped() -> Project {
    let p = Project::new();
    p.file("stamp", STAMP);
    p
}

#[test]
fn commands_of_one_stage_run_at_the_same_time() {
    let p = stamped();
    let run = p.maestro(&["par", "-j", "3", "sh stamp a 0.5", "sh stamp b 0", "sh stamp c 0.3"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(overlap(p.span("a"), p.span("c")), "a and c should overlap: {:?}", p.events());
    assert!(overlap(p.span("a"), p.span("b")));
}

#[test]
fn then_stages_wait_for_the_whole_previous_stage() {
    let p = stamped();
    let run = p.maestro(&[
        "par",
        "-j",
        "4",
        "sh stamp a 0.4",
        "sh stamp b 0.1",
        "--then",
        "sh stamp c 0.1",
        "sh stamp d 0.1",
        "--then",
        "sh stamp e 0",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let (a, b, c, d, e) = (p.span("a"), p.span("b"), p.span("c"), p.span("d"), p.span("e"));
    assert!(c.0 > a.1 && c.0 > b.1 && d.0 > a.1, "stage 2 started early: {:?}", p.events());
    assert!(overlap(c, d));
    assert!(e.0 > c.1 && e.0 > d.1);
}

#[test]
fn a_failed_stage_stops_the_next_one() {
    let p = stamped();
    let run = p.maestro(&["par", "sh stamp a 0", "exit 3", "--then", "sh stamp c 0"]);
    assert_eq!(run.code, 1);
    assert!(!p.read("events").contains("start c"));
    assert!(run.stdout.contains("=== exit 3 (failed: exit 3,"), "{}", run.stdout);
    assert!(run.stderr.contains("1 failed") && run.stderr.contains("1 not run"), "{}", run.stderr);
}

#[test]
fn jobs_limit_how_many_run_at_once() {
    let p = stamped();
    let run = p.maestro(&["par", "-j", "1", "sh stamp a 0.2", "sh stamp b 0.2"]);
    assert_eq!(run.code, 0);
    assert!(!overlap(p.span("a"), p.span("b")));
}

#[test]
fn usage_errors_exit_2() {
    let p = Project::new();
    assert_eq!(p.maestro(&["par"]).code, 2);
    let run = p.maestro(&["par", "-j", "0", "true"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "error: -j 0: at least one job slot is needed\n  = hint: use -j 1 or more\n"
    );
    assert_eq!(p.maestro(&["par", "  "]).code, 2);
    assert_eq!(p.maestro(&["frobnicate"]).code, 2);
}

#[test]
fn a_missing_program_fails_like_the_shell_says() {
    let p = Project::new();
    let run = p.maestro(&["par", "no-such-program-xyz arg"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("no-such-program-xyz: command not found"), "{}", run.stdout);
    let log = p.read(".maestro/logs/1/1.log");
    assert_eq!(log, "maestro: could not start: no-such-program-xyz: command not found\n");
}

#[test]
fn a_script_without_shebang_still_runs() {
    let p = Project::new();
    p.file("script", "echo from-script\n");
    std::fs::set_permissions(p.path("script"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap();
    let run = p.maestro(&["par", "./script"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("from-script"));
}
