//! Bad flow files: exit 2, `file:line:col`, the problem, a hint; nothing runs.

use crate::support::Project;

/// Runs a flow expecting exit 2; returns stderr.
fn rejected(flow: &str) -> String {
    let p = Project::with_flow(flow);
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 2, "expected exit 2 for:\n{flow}\ngot {run:?}");
    assert_eq!(run.stdout, "");
    assert!(!p.path(".maestro").exists(), "a rejected flow must not start a run");
    run.stderr
}

#[test]
fn unknown_key_points_at_it_and_suggests_the_near_one() {
    let err = rejected("[tasks.a]\ncmd = \"true\"\ndpes = [\"b\"]\n");
    assert!(err.starts_with("maestro.toml:3:1: error: unknown key 'dpes' in task 'a'"), "{err}");
    assert!(err.contains("3 | dpes = [\"b\"]\n  | ^^^^"), "{err}");
    assert!(err.contains("hint: did you mean 'deps'?"), "{err}");
}

#[test]
fn unknown_dep_suggests_a_near_task() {
    let err = rejected(
        "[tasks.fetch]\ncmd = \"true\"\n[tasks.clean]\ncmd = \"true\"\ndeps = [\"fetchh\"]\n",
    );
    assert!(
        err.contains(
            "maestro.toml:5:9: error: task 'clean' depends on 'fetchh', which does not exist"
        ),
        "{err}"
    );
    assert!(err.contains("did you mean 'fetch'?"), "{err}");
}

#[test]
fn cycles_are_spelled_out() {
    let err = rejected(
        "[tasks.a]\ncmd = \"x\"\ndeps = [\"b\"]\n[tasks.b]\ncmd = \"x\"\ndeps = [\"c\"]\n[tasks.c]\ncmd = \"x\"\ndeps = [\"a\"]\n",
    );
    assert!(err.contains("dependency cycle: a -> b -> c -> a"), "{err}");
    assert!(err.starts_with("maestro.toml:3:"), "{err}");
}

#[test]
fn each_documented_mistake_is_caught() {
    let cases: &[(&str, &str)] = &[
        ("[tasks.a]\ncmd = \"\"\n", "empty 'cmd' in task 'a'"),
        ("[tasks.a]\ndeps = []\n", "task 'a' has no 'cmd'"),
        ("[tasks.a]\ncmd = \"x\"\ndeps = [\"a\"]\n", "task 'a' depends on itself"),
        ("jobs = 0\n[tasks.a]\ncmd = \"x\"\n", "'jobs' must be at least 1"),
        ("jobs = 2\n[tasks.a]\ncmd = \"x\"\ncpus = 3\n", "needs 3 cpus"),
        ("[tasks.a]\ncmd = \"x\"\ntimeout = \"5x\"\n", "bad timeout '5x'"),
        (
            "[resources]\nprinter = 1\n[tasks.a]\ncmd = \"x\"\nresources = { printer = 2 }\n",
            "which has only 1",
        ),
        ("[tasks.a]\ncmd = \"x\"\nresources = { gpu = 1 }\n", "gpu"),
        ("[tasks.'a b']\ncmd = \"x\"\n", "a b"),
        ("[tasks.a]\ncmd = \"x\"\nretries = \"2\"\n", "'retries' must be a non-negative integer"),
        ("[tasks.a\ncmd = \"x\"\n", "maestro.toml:1:"),
        ("", "no tasks"),
        ("[tasks.a]\ncmd = \"x\"\nfor_each = \"nothing/*.csv\"\n", "matches no file"),
        ("[tasks.a]\ncmd = \"x\"\nfor_each = [\"1\", \"1\"]\n", "both make the instance 'a:1'"),
    ];
    for (flow, expected) in cases {
        let err = rejected(flow);
        assert!(err.contains(expected), "for flow:\n{flow}\nexpected '{expected}' in:\n{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn cpus_above_the_command_line_jobs_is_caught() {
    let p = Project::with_flow("[tasks.a]\ncmd = \"x\"\ncpus = 3\n");
    let run = p.maestro(&["run", "-j", "2"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("task 'a' needs 3 cpus but only 2 job slots exist (-j 2)"),
        "{}",
        run.stderr
    );
}

#[test]
fn missing_and_unreadable_files_say_so() {
    let p = Project::new();
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no maestro.toml in this directory"), "{}", run.stderr);
    let run = p.maestro(&["run", "-f", "other.toml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot read other.toml"), "{}", run.stderr);
    p.file("bin.toml", "");
    std::fs::write(p.path("bin.toml"), b"[tasks.a]\ncmd = \"\xff\"\n").unwrap();
    let run = p.maestro(&["run", "-f", "bin.toml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not valid UTF-8"), "{}", run.stderr);
}

#[test]
fn a_flood_of_problems_shows_the_first_twenty_and_counts_the_rest() {
    let flow: String = (0..50).map(|i| format!("t{i} = \"true\"\n")).collect();
    let err = rejected(&format!("[tasks]\n{flow}"));
    assert_eq!(err.matches(": error: task 't").count(), 20, "{err}");
    assert!(err.contains("maestro.toml:2:6: error: task 't0' must be a table"), "{err}");
    assert!(err.ends_with("error: 30 more problems in maestro.toml, not shown\n"), "{err}");
}
