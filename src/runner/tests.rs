//! The loop and its supervisor against the fake backend and clock: retries,
//! timeouts, interrupts, fail-fast, keep-going and resources, with no
//! process and no sleep.

use std::time::Duration;

use super::LoopError;
use super::fake::{Clock, FakeExecutor, FakeReactor};
use super::flow::{self, RunConfig, Skipping};
use crate::event::{Event, Observer, RunSummary};
use crate::graph::{Dependents, Graph, Resource};

/// Tasks `(name, script)` in stages, as `par` makes them.
fn graph(stages: &[&[(&str, &str)]]) -> Graph {
    let commands: Vec<Vec<String>> =
        stages.iter().map(|s| s.iter().map(|(_, cmd)| cmd.to_string()).collect()).collect();
    let mut graph = Graph::from_stages(&commands, std::path::Path::new("."));
    let names = stages.iter().flat_map(|s| s.iter().map(|(name, _)| name.to_string()));
    for (instance, name) in graph.instances.iter_mut().zip(names) {
        instance.name = name.into();
    }
    graph
}

/// Each event in a line, as the tests compare them.
struct Recorder<'g> {
    graph: &'g Graph,
    lines: Vec<String>,
}

impl Observer for Recorder<'_> {
    fn event(&mut self, event: &Event<'_>) {
        let name = |i: usize| self.graph.instances[i].name.clone();
        let line = match event {
            Event::AttemptFinished { instance, attempt, will_retry } => format!(
                "{}#{} {}{}{}",
                name(*instance),
                attempt.number,
                attempt.outcome,
                if *will_retry { ", will retry" } else { "" },
                if attempt.queued.is_zero() {
                    String::new()
                } else {
                    format!(" (queued {:?}, ran {:?})", attempt.queued, attempt.duration)
                }
            ),
            Event::NotRun { instance, reason } => {
                format!("{} not run: {reason:?}", name(*instance))
            }
            Event::Interrupted { forced, .. } => format!("interrupted (forced: {forced})"),
            _ => return,
        };
        self.lines.push(line);
    }
}

struct Ran {
    /// What the backend was asked, with the fake time in ms.
    backend: Vec<String>,
    /// The events, one a line.
    events: Vec<String>,
    summary: RunSummary,
}

fn run(graph: &Graph, jobs: u32, keep_going: bool, reactor: impl Fn(&Clock) -> FakeReactor) -> Ran {
    try_run(graph, jobs, keep_going, reactor).expect("the run goes to its end")
}

fn try_run(
    graph: &Graph,
    jobs: u32,
    keep_going: bool,
    reactor: impl Fn(&Clock) -> FakeReactor,
) -> Result<Ran, LoopError> {
    let clock = Clock::new();
    let logs = std::env::temp_dir().join(format!(
        "maestro-fake-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let config = RunConfig { jobs, keep_going, run_id: 1, log_dir: logs.clone(), stream: false };
    let mut executor = FakeExecutor::new(&clock);
    let backend = executor.log.clone();
    let mut reactor = reactor(&clock);
    let mut recorder = Recorder { graph, lines: Vec::new() };
    let selected = vec![true; graph.instances.len()];
    let priority = graph.remaining_path(|_| Duration::from_secs(1));
    let ran = flow::run(
        graph,
        &selected,
        priority,
        &config,
        Skipping::default(),
        &mut recorder,
        &mut executor,
        &mut reactor,
    );
    let _ = std::fs::remove_dir_all(logs);
    let (summary, _) = ran?;
    let backend = backend.borrow().clone();
    Ok(Ran { backend, events: recorder.lines, summary })
}

fn quiet(clock: &Clock) -> FakeReactor {
    FakeReactor::new(clock)
}

#[test]
fn a_failed_attempt_is_retried_after_a_doubling_backoff() {
    let mut g = graph(&[&[("t", "exit 3, then exit 4, then 1s ok")]]);
    g.own_settings(0).retries = 2;
    let ran = run(&g, 1, false, quiet);
    assert_eq!(
        ran.backend,
        [
            "    0 start t",
            "    0 end t exit 3",
            "  250 start t",
            "  250 end t exit 4",
            "  750 start t",
            " 1750 end t exit 0"
        ]
    );
    assert_eq!(
        ran.events,
        ["t#1 failed: exit 3, will retry", "t#2 failed: exit 4, will retry", "t#3 ok"]
    );
    assert_eq!(ran.summary.exit_code(), 0);
}

#[test]
fn retries_run_out() {
    let mut g = graph(&[&[("t", "exit 3")]]);
    g.own_settings(0).retries = 1;
    let ran = run(&g, 1, false, quiet);
    assert_eq!(ran.events, ["t#1 failed: exit 3, will retry", "t#2 failed: exit 3"]);
    assert_eq!(ran.summary.failed, [0]);
}

#[test]
fn a_timeout_stops_the_attempt_gracefully_then_by_force() {
    let mut g = graph(&[&[("polite", "10s ok"), ("stubborn", "10s ok stubborn")]]);
    g.own_settings(0).timeout = Some(Duration::from_secs(2));
    g.own_settings(1).timeout = Some(Duration::from_secs(2));
    let ran = run(&g, 2, true, quiet);
    assert_eq!(
        ran.backend,
        [
            "    0 start polite",
            "    0 start stubborn",
            " 2000 term polite",
            " 2000 term stubborn",
            " 2000 end polite killed by SIGTERM",
            " 5000 kill stubborn",
            " 5000 end stubborn killed by SIGKILL"
        ]
    );
    assert_eq!(ran.events, ["polite#1 timed out after 2.00s", "stubborn#1 timed out after 2.00s"]);
}

#[test]
fn a_timed_out_attempt_is_retried() {
    let mut g = graph(&[&[("t", "10s ok, then 1s ok")]]);
    g.own_settings(0).timeout = Some(Duration::from_secs(2));
    g.own_settings(0).retries = 1;
    let ran = run(&g, 1, false, quiet);
    assert_eq!(ran.events, ["t#1 timed out after 2.00s, will retry", "t#2 ok"]);
    assert_eq!(ran.summary.exit_code(), 0);
}

#[test]
fn a_queued_attempt_times_out_from_when_it_runs_and_says_how_long_it_waited() {
    let mut g = graph(&[&[("slow", "wait 5s 3s ok"), ("quick", "wait 5s 1s ok")]]);
    g.own_settings(0).timeout = Some(Duration::from_secs(2));
    g.own_settings(1).timeout = Some(Duration::from_secs(2));
    let ran = run(&g, 2, true, quiet);
    assert_eq!(
        ran.backend,
        [
            "    0 start slow",
            "    0 start quick",
            " 5000 run slow",
            " 5000 run quick",
            " 6000 end quick exit 0",
            " 7000 term slow",
            " 7000 end slow killed by SIGTERM"
        ]
    );
    assert_eq!(
        ran.events,
        ["quick#1 ok (queued 5s, ran 1s)", "slow#1 timed out after 2.00s (queued 5s, ran 2s)"]
    );
    assert_eq!(ran.summary.task_time, Duration::from_secs(3));
}

#[test]
fn a_requeued_attempt_is_the_same_attempt_waiting_again() {
    // Requeued 1.5 s into its run, it waits 1 s again and runs its whole
    // 2.5 s: its timeout of 3 s counts from its second start.
    let mut g = graph(&[&[("t", "wait 1s requeue 1.5s 2.5s ok")]]);
    g.own_settings(0).timeout = Some(Duration::from_secs(3));
    let ran = run(&g, 1, false, quiet);
    assert_eq!(
        ran.backend,
        ["    0 start t", " 1000 run t", " 2500 requeue t", " 3500 run t", " 6000 end t exit 0"]
    );
    assert_eq!(ran.events, ["t#1 ok (queued 2s, ran 4s)"]);
}

#[test]
fn ctrl_c_while_queued_ends_the_attempt_as_interrupted_having_never_run() {
    let g = graph(&[&[("t", "wait 10s 1s ok")]]);
    let ran = run(&g, 1, false, |clock| FakeReactor::new(clock).signal_at(3000, libc::SIGINT));
    assert_eq!(ran.backend, ["    0 start t", " 3000 term t", " 3000 end t killed by SIGTERM"]);
    assert_eq!(ran.events, ["interrupted (forced: false)", "t#1 interrupted (queued 3s, ran 0ns)"]);
}

#[test]
fn ctrl_c_stops_what_runs_and_cancels_the_rest() {
    let g = graph(&[&[("a", "10s ok"), ("b", "10s ok stubborn")], &[("c", "1s ok")]]);
    let ran = run(&g, 2, false, |clock| FakeReactor::new(clock).signal_at(1000, libc::SIGINT));
    assert_eq!(
        ran.backend,
        [
            "    0 start a",
            "    0 start b",
            " 1000 term a",
            " 1000 term b",
            " 1000 end a killed by SIGTERM",
            " 4000 kill b",
            " 4000 end b killed by SIGKILL"
        ]
    );
    assert_eq!(
        ran.events,
        [
            "interrupted (forced: false)",
            "c not run: Cancelled",
            "a#1 interrupted",
            "b#1 interrupted"
        ]
    );
    assert_eq!(ran.summary.exit_code(), 130);
}

#[test]
fn a_second_ctrl_c_kills_at_once() {
    let g = graph(&[&[("b", "10s ok stubborn")]]);
    let ran = run(&g, 1, false, |clock| {
        FakeReactor::new(clock).signal_at(1000, libc::SIGINT).signal_at(1500, libc::SIGINT)
    });
    assert_eq!(
        ran.backend,
        ["    0 start b", " 1000 term b", " 1500 kill b", " 1500 end b killed by SIGKILL"]
    );
    assert_eq!(
        ran.events,
        ["interrupted (forced: false)", "interrupted (forced: true)", "b#1 interrupted"]
    );
}

/// Bug A: Ctrl-C while a task waited for its retry finished its failed
/// attempt a second time, as interrupted, and counted its time twice.
#[test]
fn ctrl_c_during_a_retry_backoff_ends_the_task_with_its_failure_once() {
    let mut g = graph(&[&[("t", "0.5s exit 3")]]);
    g.own_settings(0).retries = 2;
    let ran = run(&g, 1, false, |clock| FakeReactor::new(clock).signal_at(600, libc::SIGINT));
    assert_eq!(ran.backend, ["    0 start t", "  500 end t exit 3"]);
    assert_eq!(ran.events, ["t#1 failed: exit 3, will retry", "interrupted (forced: false)"]);
    assert_eq!(ran.summary.failed, [0]);
    assert_eq!(ran.summary.interrupted, 0);
    assert_eq!(ran.summary.task_time, Duration::from_millis(500));
    assert_eq!(ran.summary.exit_code(), 130);
}

/// Bug B: after another task failed (no keep-going), a retry still came.
#[test]
fn a_failure_without_keep_going_drops_pending_retries() {
    let mut g = graph(&[&[("a", "exit 3"), ("b", "0.1s exit 1")], &[("c", "1s ok")]]);
    g.own_settings(0).retries = 2;
    let ran = run(&g, 2, false, quiet);
    assert_eq!(
        ran.backend,
        ["    0 start a", "    0 start b", "    0 end a exit 3", "  100 end b exit 1"]
    );
    assert_eq!(
        ran.events,
        ["a#1 failed: exit 3, will retry", "b#1 failed: exit 1", "c not run: Cancelled"]
    );
    assert_eq!(ran.summary.failed, [1, 0]);
    assert_eq!(ran.summary.exit_code(), 1);
}

#[test]
fn keep_going_runs_what_does_not_depend_on_a_failure_and_keeps_retrying() {
    let mut g = graph(&[&[("a", "exit 3, then 1s ok"), ("b", "0.1s exit 1")], &[("c", "1s ok")]]);
    g.own_settings(0).retries = 1;
    let ran = run(&g, 2, true, quiet);
    assert_eq!(
        ran.events,
        ["a#1 failed: exit 3, will retry", "b#1 failed: exit 1", "c not run: DepFailed", "a#2 ok"]
    );
}

#[test]
fn without_keep_going_running_tasks_finish_after_a_failure() {
    let g = graph(&[&[("long", "5s ok"), ("bad", "1s exit 2"), ("next", "1s ok")]]);
    let ran = run(&g, 2, false, quiet);
    assert_eq!(
        ran.backend,
        ["    0 start long", "    0 start bad", " 1000 end bad exit 2", " 5000 end long exit 0"]
    );
    assert_eq!(ran.events, ["bad#1 failed: exit 2", "next not run: Cancelled", "long#1 ok"]);
}

#[test]
fn a_resource_lets_one_task_at_a_time_hold_it() {
    let mut g = graph(&[&[("a", "1s ok"), ("b", "1s ok"), ("free", "1s ok")]]);
    g.resources = vec![Resource { name: "gpu".into(), capacity: 1 }];
    g.own_settings(0).resources = Box::new([(0, 1)]);
    g.own_settings(1).resources = Box::new([(0, 1)]);
    let ran = run(&g, 3, false, quiet);
    assert_eq!(
        ran.backend,
        [
            "    0 start a",
            "    0 start free",
            " 1000 end a exit 0",
            " 1000 end free exit 0",
            " 1000 start b",
            " 2000 end b exit 0"
        ]
    );
}

#[test]
fn an_attempt_the_backend_refuses_fails_and_may_be_retried() {
    let mut g = graph(&[&[("t", "cannot start, then 1s ok")]]);
    g.own_settings(0).retries = 1;
    let ran = run(&g, 1, false, quiet);
    assert_eq!(
        ran.events,
        ["t#1 could not start: cannot start, then 1s ok: refused, will retry", "t#2 ok"]
    );
}

#[test]
fn an_attempt_the_backend_rejects_once_taken_fails_as_not_started_and_may_be_retried() {
    let mut g = graph(&[&[("t", "1s rejected, then 1s ok")]]);
    g.own_settings(0).retries = 1;
    let ran = run(&g, 1, false, quiet);
    // The retry waits its backoff (250 ms), as after any failure.
    assert_eq!(
        ran.backend,
        ["    0 start t", " 1000 reject t", " 1250 start t", " 2250 end t exit 0"]
    );
    assert_eq!(
        ran.events,
        ["t#1 could not start: rejected, will retry (queued 1s, ran 0ns)", "t#2 ok"]
    );
}

/// The message of a run that could start nothing more.
fn stuck(graph: &Graph, jobs: u32) -> String {
    match try_run(graph, jobs, false, quiet) {
        Err(LoopError::Stuck(why)) => why,
        other => panic!("not stuck: {:?}", other.map(|ran| ran.events)),
    }
}

#[test]
fn a_plan_that_can_start_nothing_says_which_task_waits_for_what() {
    // Checked flows never get here; a plan given such a graph says why
    // instead of hanging.
    let mut g = graph(&[&[("train", "ok")], &[("report", "ok")]]);
    g.resources = vec![Resource { name: "gpu".into(), capacity: 1 }];
    g.own_settings(0).resources = Box::new([(0, 2)]);
    assert_eq!(stuck(&g, 2), "no task can start: 'train' needs 2 of resource 'gpu', which has 1");

    let mut g = graph(&[&[("big", "ok"), ("small", "1s ok")]]);
    g.own_settings(0).slots = 3;
    assert_eq!(stuck(&g, 2), "no task can start: 'big' needs 3 job slots, and there are 2");

    let mut g = graph(&[&[("a", "ok"), ("b", "ok")]]);
    g.instances[0].deps = Box::new([1]);
    g.instances[1].deps = Box::new([0]);
    g.dependents = Dependents::from_deps(&g.instances);
    assert_eq!(stuck(&g, 2), "no task can start: 'a' waits for 'b', which cannot start either");
}
