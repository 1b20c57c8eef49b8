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
