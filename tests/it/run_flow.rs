//! `maestro run` on flow files: deps, selection, failures, retries,
//! timeouts, resources, for_each, outputs, environment.

use std::time::Duration;

use crate::support::{Project, STAMP, alive_after, overlap, pids_in};

fn flow(text: &str) -> Project {
    let p = Project::with_flow(text);
    p.file("stamp", STAMP);
    p
}

#[test]
fn deps_run_first_and_independent_tasks_overlap() {
    let p = flow(
        r#"
[tasks.a]
cmd = "sh stamp a 0.4"
[tasks.b]
cmd = "sh stamp b 0.1"
[tasks.c]
cmd = "sh stamp c 0"
deps = ["a", "b"]
"#,
    );
    let run = p.maestro(&["run", "-j", "2"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(overlap(p.span("a"), p.span("b")));
    assert!(p.span("c").0 > p.span("a").1);
}

#[test]
fn naming_a_task_runs_it_and_what_it_needs_only() {
    let p = flow(
        r#"
[tasks.a]
cmd = "sh stamp a 0"
[tasks.b]
cmd = "sh stamp b 0"
deps = ["a"]
[tasks.other]
cmd = "sh stamp other 0"
"#,
    );
    let run = p.maestro(&["run", "b"]);
    assert_eq!(run.code, 0, "{run:?}");
    let names: Vec<String> = p.events().into_iter().map(|e| e.1).collect();
    assert!(names.contains(&"a".into()) && names.contains(&"b".into()));
    assert!(!names.contains(&"other".into()));
    let run = p.maestro(&["run", "bb"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no task named 'bb' (did you mean 'b'?)"), "{}", run.stderr);
}

const FAILING: &str = r#"
[tasks.bad]
cmd = "exit 1"
[tasks.after_bad]
cmd = "sh stamp after_bad 0"
deps = ["bad"]
[tasks.independent]
cmd = "sh stamp independent 0"
deps = ["slow"]
[tasks.slow]
cmd = "sleep 0.3"
"#;

#[test]
fn fail_fast_starts_nothing_after_a_failure() {
    let p = flow(FAILING);
    let run = p.maestro(&["run", "-j", "2"]);
    assert_eq!(run.code, 1);
    assert_eq!(p.read("events"), "", "nothing should start after the failure");
    assert!(run.stderr.contains("1 ok, 1 failed, 2 not run"), "{}", run.stderr);
}

#[test]
fn keep_going_runs_all_that_does_not_depend_on_the_failure() {
    let p = flow(FAILING);
    let run = p.maestro(&["run", "-j", "2", "-k"]);
    assert_eq!(run.code, 1);
    let events = p.read("events");
    assert!(events.contains("independent") && !events.contains("after_bad"), "{events}");
    assert!(run.stderr.contains("2 ok, 1 failed, 1 not run"), "{}", run.stderr);
}

#[test]
fn retries_run_again_after_a_failure_and_keep_every_attempt_in_the_log() {
    let p = flow(
        r#"
[tasks.flaky]
cmd = "echo try >> tries; [ $(wc -l < tries) -ge 3 ]"
retries = 2
[tasks.hopeless]
cmd = "echo nope; exit 7"
retries = 1
"#,
    );
    let run = p.maestro(&["run", "-k"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(p.read("tries").lines().count(), 3);
    assert!(run.stdout.contains("retrying, attempt 2 of 3"), "{}", run.stdout);
    let log = p.read(".maestro/logs/1/hopeless.log");
    assert_eq!(
        log,
        "nope\nmaestro: failed: exit 7\nmaestro: --- attempt 2 ---\nnope\nmaestro: failed: exit 7\n"
    );
}

#[test]
fn timeout_kills_the_whole_process_tree() {
    let p = flow(
        r#"
[tasks.hang]
cmd = "mkdir -p pids; sleep 300 & echo $! > pids/bg; sh -c 'echo $$ > pids/inner; sleep 300'"
timeout = "1s"
"#,
    );
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("timed out after 1.00s"), "{}", run.stdout);
    let pids = pids_in(&p.path("pids"));
    assert_eq!(pids.len(), 2);
    assert_eq!(alive_after(&pids, Duration::from_secs(2)), Vec::<i32>::new());
}

#[test]
fn resources_are_never_oversubscribed_and_ids_are_exclusive() {
    // Each holder claims its unit ids with mkdir (fails if taken) and
    // records how many holders there are at once.
    let holder = r#"set -e
for id in $(echo $MAESTRO_RESOURCE_PRINTER | tr , ' '); do mkdir units/$id; done
mkdir holders/$MAESTRO_TASK
ls holders | wc -l >> counts
sleep 0.1
for id in $(echo $MAESTRO_RESOURCE_PRINTER | tr , ' '); do rmdir units/$id; done
rmdir holders/$MAESTRO_TASK
"#;
    let p = flow(
        r#"
jobs = 4
[resources]
printer = 3
[tasks.print]
for_each = ["1", "2", "3", "4", "5", "6", "7", "8"]
cmd = "sh holder.sh"
resources = { printer = 1 }
[tasks.big]
cmd = "sh holder.sh"
resources = { printer = 2 }
"#,
    );
    p.file("holder.sh", holder).file("units/.keep", "").file("holders/.keep", "");
    std::fs::remove_file(p.path("holders/.keep")).unwrap();
    std::fs::remove_file(p.path("units/.keep")).unwrap();
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 0, "{run:?}");
    let counts: Vec<usize> = p.read("counts").lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(counts.len(), 9);
    assert!(counts.iter().all(|&c| c <= 3), "{counts:?}");
    assert!(counts.contains(&3), "the pool should be used in full at some point: {counts:?}");
}

#[test]
fn cpus_take_several_slots() {
    let p = flow(
        r#"
jobs = 2
[tasks.wide]
cmd = "sh stamp wide 0.3"
cpus = 2
[tasks.a]
cmd = "sh stamp a 0.3"
[tasks.b]
cmd = "sh stamp b 0.3"
"#,
    );
    assert_eq!(p.maestro(&["run"]).code, 0);
    assert!(!overlap(p.span("wide"), p.span("a")) && !overlap(p.span("wide"), p.span("b")));
    assert!(overlap(p.span("a"), p.span("b")));
}

#[test]
fn for_each_makes_one_instance_per_item_with_replacements() {
    let p = flow(
        r#"
[tasks.analyze]
for_each = "data/*.csv"
cmd = "mkdir -p results; echo {#} {} {/} {//} {.} > results/{/.}.txt"
outputs = ["results/{/.}.txt"]
[tasks.report]
cmd = "cat results/*.txt"
deps = ["analyze"]
"#,
    );
    p.file("data/a.csv", "").file("data/b b.csv", "");
    let run = p.maestro(&["run", "-j", "1"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.read("results/a.txt"), "1 data/a.csv a.csv data data/a\n");
    assert_eq!(p.read("results/b b.txt"), "2 data/b b.csv b b.csv data data/b b\n");
    assert!(run.stdout.contains("=== analyze:a (ok"), "{}", run.stdout);
    assert!(run.stdout.contains("=== analyze:b b (ok"), "{}", run.stdout);
    // One instance can be named on its own.
    assert_eq!(p.maestro(&["run", "analyze:a"]).code, 0);
}

#[test]
fn a_declared_output_that_is_missing_fails_the_task() {
    let p = flow(
        r#"
[tasks.lazy]
cmd = "true"
outputs = ["made.txt"]
"#,
    );
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("declared output 'made.txt' missing"), "{}", run.stdout);
}

#[test]
fn outputs_written_to_maestro_output_reach_dependents() {
    let p = flow(
        r#"
[tasks.count]
cmd = "echo rows=42 >> $MAESTRO_OUTPUT; echo 'name=a b' >> $MAESTRO_OUTPUT"
[tasks.use]
cmd = "echo got $MAESTRO_DEP_COUNT_ROWS and $MAESTRO_DEP_COUNT_NAME"
deps = ["count"]
[tasks.garbage]
cmd = "echo not-a-pair >> $MAESTRO_OUTPUT"
"#,
    );
    let run = p.maestro(&["run", "-k"]);
    assert!(run.stdout.contains("got 42 and a b"), "{}", run.stdout);
    assert!(run.stdout.contains("MAESTRO_OUTPUT line 1: expected key=value"), "{}", run.stdout);
    assert_eq!(run.code, 1);
}

#[test]
fn env_dir_and_maestro_variables_reach_the_task() {
    let p = flow(
        r#"
[tasks.show]
cmd = "echo $GREETING $MAESTRO_TASK $MAESTRO_RUN $MAESTRO_SLOT; pwd"
dir = "sub"
env = { GREETING = "hello" }
"#,
    );
    p.file("sub/.keep", "");
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 0, "{run:?}");
    let sub = std::fs::canonicalize(p.path("sub")).unwrap();
    assert!(run.stdout.contains("hello show 1 1\n"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("{}\n", sub.display())), "{}", run.stdout);
}

#[test]
fn dry_run_lists_the_order_and_runs_nothing() {
    let p = flow(
        r#"
[tasks.b]
cmd = "touch b"
deps = ["a"]
[tasks.a]
cmd = "touch a"
"#,
    );
    let run = p.maestro(&["run", "-n"]);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout,
        "would run a (no inputs or outputs declared): touch a\n\
         would run b (no inputs or outputs declared): touch b\n"
    );
    assert!(!p.path("a").exists());
}

#[test]
fn the_bundled_example_runs() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed");
    let p = Project::new();
    for file in ["maestro.toml", "simulate.sh", "analyze.sh"] {
        p.file(file, &std::fs::read_to_string(example.join(file)).unwrap());
    }
    let run = p.maestro(&["run", "-j", "4"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("mean of 3 simulations: 9801"), "{}", run.stdout);
    assert!(run.stderr.contains("critical path") && run.stderr.contains("simulate_a -> analyze"));
}
