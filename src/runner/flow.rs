//! `run` and `par` as work for the loop: instances of a graph, started as
//! the [`Plan`] allows, skipped when fresh or done in a resumed run, each
//! attempt logged under the run's log directory, every step told to an
//! [`Observer`].

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use foldhash::HashMap as FastMap;

use super::outputs;
use super::prepare::{Results, environment, log_file_stem, read_outputs};
use super::reactor::Reactor;
use super::supervisor::{Backoff, Ended, Limits, RetryPolicy};
use super::{Interrupt, LoopError, Stop, Verdict, Work, drive};
use crate::event::{Attempt, Event, NotRunReason, Observer, Outcome, RunSummary, Skip};
use crate::exec::{Executor, Launch, Output, OutputFiles, Request, Stdin, Termination, Watch};
use crate::fresh::{Checker, Decision};
use crate::graph::Graph;
use crate::plan::{Blocked, Grant, Plan, Standing};

/// What the run is asked to do, beyond the graph.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Job slots.
    pub jobs: u32,
    /// Run everything not downstream of a failure.
    pub keep_going: bool,
    /// The run's id.
    pub run_id: u64,
    /// Where each instance's log goes.
    pub log_dir: PathBuf,
    /// Pass output through maestro (stream mode) as well as into the logs.
    pub stream: bool,
}

/// How instances that need not run are recognised.
#[derive(Debug, Default)]
pub struct Skipping<'a> {
    /// Freshness, for flow runs (`None` for `par`).
    pub checker: Option<Checker<'a>>,
    /// `--resume`: per instance, the run in which it last finished well,
    /// when that is the latest known of it.
    pub resumed: Option<Vec<Option<u64>>>,
}

/// Runs the `selected` instances of `graph` to completion (or interruption)
/// on `executor`. Gives `skipping` back, with what its checker learned.
#[allow(clippy::too_many_arguments)]
pub fn run<'a>(
    graph: &'a Graph,
    selected: &[bool],
    priority: Vec<Duration>,
    config: &RunConfig,
    skipping: Skipping<'a>,
    observer: &mut dyn Observer,
    executor: &mut dyn Executor,
    reactor: &mut dyn Reactor,
) -> Result<(RunSummary, Skipping<'a>), LoopError> {
    let n = graph.instances.len();
    let started = reactor.now();
    let mut work = FlowWork {
        graph,
        config,
        observer,
        plan: Plan::new(graph, selected, config.jobs, priority, config.keep_going),
        skipping,
        grants: FastMap::default(),
        outputs: Results::default(),
        durations: vec![Duration::ZERO; n],
        summary: RunSummary::default(),
        log_dir_made: false,
        skipped: vec![false; n],
        next_tick: None,
        temp_users: temp_users(graph),
    };
    work.observer.event(&Event::RunStarted {
        run_id: config.run_id,
        total: selected.iter().filter(|&&s| s).count(),
        jobs: config.jobs,
    });
    work.next_tick = work.observer.tick_interval().map(|every| started + every);
    drive(&mut work, executor, reactor)?;
    let wall = reactor.now().saturating_duration_since(started);
    Ok(work.finish(wall))
}

struct FlowWork<'a, 'o> {
    graph: &'a Graph,
    config: &'o RunConfig,
    observer: &'o mut dyn Observer,
    plan: Plan<'a>,
    skipping: Skipping<'a>,
    /// What each started instance holds, until it ends (a map: few run at
    /// once among many).
    grants: FastMap<usize, Grant>,
    /// `MAESTRO_OUTPUT` pairs of succeeded instances.
    outputs: Results,
    durations: Vec<Duration>,
    summary: RunSummary,
    log_dir_made: bool,
    /// Instances found already done (they ran in no attempt).
    skipped: Vec<bool>,
    next_tick: Option<Instant>,
    /// Per instance with temporary outputs and dependents, those yet to
    /// succeed in this run: at none the outputs go.
    temp_users: FastMap<usize, usize>,
}

impl<'a> FlowWork<'a, '_> {
    fn log_path(&self, instance: usize) -> PathBuf {
        let stem = log_file_stem(&self.graph.instances[instance].name);
        self.config.log_dir.join(format!("{stem}.log"))
    }

    /// Whether `instance` need not run; if it must, notes that it runs.
    fn already_done(&mut self, instance: usize) -> Option<Skip> {
        let checker = self.skipping.checker.as_mut();
        if let Some(run) = self.skipping.resumed.as_ref().and_then(|done| done[instance]) {
            if let Some(checker) = checker {
                checker.note_resumed(instance);
            }
            return Some(Skip::Resumed { run });
        }
        let checker = checker?;
        match checker.decide(instance) {
            Decision::Fresh => Some(Skip::Fresh),
            Decision::Run(_) => {
                checker.note_ran(instance);
                None
            }
        }
    }

    /// Whether `instance` runs when it starts, whatever its deps did: no
    /// resumed run did it, and it declares no files to be found fresh by.
    fn surely_runs(&self, instance: usize) -> bool {
        let inst = &self.graph.instances[instance];
        let done_before =
            self.skipping.resumed.as_ref().is_some_and(|done| done[instance].is_some());
        let checked =
            self.skipping.checker.is_some() && !(inst.inputs.is_empty() && inst.outputs.is_empty());
        !done_before && !checked
    }

    /// Counts `instance` as done without running it: its remembered
    /// results reach its dependents as if it had just run.
    fn skip(&mut self, instance: usize, why: Skip) {
        if let Some(checker) = &self.skipping.checker {
            let results = checker.remembered_results(instance);
            if !results.is_empty() {
                self.outputs.insert(instance, results);
            }
        }
        self.summary.skipped += 1;
        self.skipped[instance] = true;
        self.observer.event(&Event::Skipped { instance, why });
        self.release_temporaries(instance);
        let not_run = self.plan.finish(instance, true);
        self.report_not_run(not_run);
    }

    /// `instance` succeeded (or was found done): the temporary outputs of
    /// its deps that no other dependent still needs are removed.
    fn release_temporaries(&mut self, instance: usize) {
        let graph = self.graph;
        let inst = &graph.instances[instance];
        // A join's members share their task's temporary outputs, or none.
        let joined = inst.joins.iter().map(|&j| graph.joins[j].members.clone());
        let with_temps = joined.filter(|members| graph.instances[members.start].temp > 0);
        for dep in inst.deps.iter().copied().chain(with_temps.flatten()) {
            let Some(users) = self.temp_users.get_mut(&dep) else { continue };
            *users -= 1;
            if *users == 0 {
                self.temp_users.remove(&dep);
                let guarded = [self.config.log_dir.as_path()];
                let dir = &self.graph.settings_of(dep).dir;
                outputs::remove(dir, self.graph.temp_outputs(dep), &guarded);
            }
        }
    }

    fn report_not_run(&mut self, instances: Vec<usize>) {
        for instance in instances {
            let reason = match self.plan.standings()[instance] {
                Standing::DepFailed => {
                    self.summary.dep_failed += 1;
                    NotRunReason::DepFailed
                }
                _ => {
                    self.summary.cancelled += 1;
                    NotRunReason::Cancelled
                }
            };
            self.observer.event(&Event::NotRun { instance, reason });
        }
    }

    /// After exit 0: declared outputs exist and `MAESTRO_OUTPUT` parses.
    fn check_success(&mut self, instance: usize) -> Outcome {
        let (inst, dir) = (&self.graph.instances[instance], &self.graph.settings_of(instance).dir);
        let missing: Vec<String> =
            inst.outputs.iter().filter(|path| !dir.join(path).exists()).cloned().collect();
        if !missing.is_empty() {
            return Outcome::MissingOutputs(missing);
        }
        match read_outputs(&self.log_path(instance).with_extension("outputs")) {
            Ok(pairs) => {
                if !pairs.is_empty() {
                    self.outputs.insert(instance, pairs);
                }
                Outcome::Succeeded
            }
            Err(why) => Outcome::BadOutputFile(why),
        }
    }

    fn finish(self, wall: Duration) -> (RunSummary, Skipping<'a>) {
        // What the run needed per task makes room for the critical path's.
        let FlowWork { graph, observer, plan, skipping, mut summary, durations, skipped, .. } =
            self;
        let standings = plan.into_standings();
        let ran = |i: usize| {
            matches!(standings[i], Standing::Succeeded | Standing::Failed) && !skipped[i]
        };
        (summary.critical_path, summary.critical_time) = critical_path(graph, ran, durations);
        summary.wall = wall;
        observer.event(&Event::RunFinished { summary: &summary });
        (summary, skipping)
    }
}

impl Work for FlowWork<'_, '_> {
    fn next(&mut self, _now: Instant) -> Option<usize> {
        loop {
            let grant = self.plan.next_start()?;
            let instance = grant.instance;
            match self.already_done(instance) {
                Some(why) => self.skip(instance, why),
                None => {
                    self.grants.insert(instance, grant);
                    return Some(instance);
                }
            }
        }
    }

    fn launch(&mut self, instance: usize, number: u32) -> Result<Launch, String> {
        let log = self.log_path(instance);
        if !self.log_dir_made {
            // Made at the first start: a run that skips everything leaves
            // no empty directory.
            crate::private::make_dir(&self.config.log_dir)
                .map_err(|e| format!("cannot create {}: {e}", self.config.log_dir.display()))?;
            self.log_dir_made = true;
        }
        let output_file = log.with_extension("outputs");
        if number > 1 {
            // A failed attempt's outputs must not pass for the next one's.
            let _ = fs::remove_file(&output_file);
        }
        let grant = self.grants.get(&instance).expect("a started instance holds a grant");
        let slot = grant.slots.first().copied().unwrap_or(1);
        let inst = &self.graph.instances[instance];
        let settings = self.graph.settings_of(instance);
        if !inst.outputs.is_empty() {
            let guarded = [self.config.log_dir.as_path()];
            outputs::make_room(&settings.dir, &inst.outputs, !settings.keep_outputs, &guarded)?;
        }
        let cmd = inst.cmd.for_slot(slot).into_bytes();
        let env = environment(
            self.graph,
            instance,
            self.config.run_id,
            grant,
            &output_file,
            &self.outputs,
        );
        let key = self.skipping.checker.as_ref().and_then(|c| c.key(instance));
        self.observer.event(&Event::AttemptStarted {
            instance,
            attempt: number,
            slots: &grant.slots,
            command: &cmd,
            log: &log,
            key,
        });
        let watch = if self.config.stream { Watch::Merged } else { Watch::No };
        let request = Request {
            cpus: settings.cpus,
            time_limit: settings.timeout,
            batch: settings.batch.clone(),
        };
        Ok(Launch {
            cmd,
            shell: settings.shell.clone(),
            dir: settings.dir.to_path_buf(),
            env,
            output: Output { files: OutputFiles::Log { path: log, attempt: number }, watch },
            name: inst.name.to_string(),
            request,
            stdin: Stdin::Null,
        })
    }

    fn limits(&self, instance: usize) -> Limits {
        let settings = self.graph.settings_of(instance);
        let retry = RetryPolicy { attempts: settings.retries + 1, backoff: Backoff::Doubling };
        Limits { timeout: settings.timeout, retry }
    }

    fn output(&mut self, instance: usize, bytes: &[u8], _stderr: bool) -> Verdict {
        self.observer.event(&Event::Output { instance, bytes });
        Verdict::Go
    }

    fn judge(&mut self, instance: usize, termination: Termination) -> Outcome {
        if termination.success() {
            self.check_success(instance)
        } else {
            Outcome::Failed(termination)
        }
    }

    fn attempt_ended(&mut self, ended: &Ended) -> Verdict {
        let instance = ended.key;
        self.durations[instance] += ended.duration;
        self.summary.task_time += ended.duration;
        let log = self.log_path(instance);
        if !ended.outcome.succeeded() {
            let mut said = Vec::new();
            if ended.outcome != Outcome::Interrupted {
                // The log says how the attempt ended, under what it wrote.
                said.push(format!("maestro: {}", ended.outcome));
            }
            let (inst, settings) =
                (&self.graph.instances[instance], self.graph.settings_of(instance));
            if !settings.keep_outputs && !inst.outputs.is_empty() {
                let guarded = [self.config.log_dir.as_path()];
                let removed = outputs::remove(&settings.dir, &inst.outputs, &guarded);
                if !removed.is_empty() {
                    said.push(format!("maestro: removed its outputs: {}", removed.join(", ")));
                }
            }
            if !said.is_empty()
                && let Ok(mut file) = OpenOptions::new().append(true).open(&log)
            {
                let _ = writeln!(file, "{}", said.join("\n"));
            }
        }
        let attempt = Attempt {
            number: ended.number,
            started_at: ended.started_at,
            queued: ended.queued,
            job_id: ended.job_id.clone(),
            place: ended.place.clone(),
            duration: ended.duration,
            usage: ended.usage,
            log,
            outputs: self.outputs.get(&instance).cloned().unwrap_or_default(),
            outcome: ended.outcome.clone(),
        };
        self.observer.event(&Event::AttemptFinished {
            instance,
            attempt: &attempt,
            will_retry: ended.will_retry,
        });
        let inst = &self.graph.instances[instance];
        if attempt.outcome.succeeded()
            && !(inst.inputs.is_empty() && inst.outputs.is_empty())
            && let Some(checker) = &mut self.skipping.checker
            && let Some(record) = checker.record(instance, attempt.outputs.clone())
        {
            self.observer.event(&Event::Remember { instance, record: &record });
        }
        Verdict::Go
    }

    fn task_ended(&mut self, instance: usize, outcome: &Outcome, _now: Instant) -> Verdict {
        self.grants.remove(&instance);
        match outcome {
            Outcome::Succeeded => {
                self.summary.succeeded += 1;
                self.release_temporaries(instance);
            }
            Outcome::Interrupted => self.summary.interrupted += 1,
            _ => self.summary.failed.push(instance),
        }
        let not_run = self.plan.finish(instance, outcome.succeeded());
        self.report_not_run(not_run);
        if outcome.succeeded() || self.config.keep_going { Verdict::Go } else { Verdict::Stop }
    }

    fn is_done(&self) -> bool {
        self.plan.is_done()
    }

    fn stuck(&self) -> Option<String> {
        let (instance, blocked) = self.plan.stuck()?;
        let graph = self.graph;
        let name = &graph.instances[instance].name;
        let why = match blocked {
            Blocked::Slots { needs, total } => {
                format!("'{name}' needs {needs} job slots, and there are {total}")
            }
            Blocked::Units { resource, needs, capacity } => {
                let resource = &graph.resources[resource].name;
                format!("'{name}' needs {needs} of resource '{resource}', which has {capacity}")
            }
            Blocked::Deps => {
                let standings = self.plan.standings();
                let unfinished: Vec<String> = graph
                    .each_dep(instance)
                    .filter(|&dep| standings[dep] != Standing::Succeeded)
                    .map(|dep| format!("'{}'", graph.instances[dep].name))
                    .collect();
                format!("'{name}' waits for {}, which cannot start either", unfinished.join(", "))
            }
        };
        Some(format!("no task can start: {why}"))
    }

    fn stop(&mut self, _why: Stop) {
        let cancelled = self.plan.stop();
        self.report_not_run(cancelled);
    }

    fn interrupted(&mut self, interrupt: &Interrupt) {
        self.summary.was_interrupted = true;
        let Interrupt { signal, forced, grace, .. } = *interrupt;
        self.observer.event(&Event::Interrupted { signal, forced, grace });
    }

    fn next_output(&mut self) -> Option<Output> {
        if !self.log_dir_made {
            return None;
        }
        let instance = self.plan.peek_next()?;
        if !self.surely_runs(instance) {
            return None;
        }
        let watch = if self.config.stream { Watch::Merged } else { Watch::No };
        Some(Output {
            files: OutputFiles::Log { path: self.log_path(instance), attempt: 1 },
            watch,
        })
    }

    fn deadline(&self) -> Option<Instant> {
        self.next_tick
    }

    fn at(&mut self, now: Instant, _control: &mut super::Control<'_>) {
        self.observer.event(&Event::Tick);
        self.next_tick = self.observer.tick_interval().map(|every| now + every);
    }

    fn flush(&mut self) -> Option<Duration> {
        self.observer.flush()
    }
}

/// Per instance with temporary outputs and dependents, how many dependents.
fn temp_users(graph: &Graph) -> FastMap<usize, usize> {
    let with_temps = graph.instances.iter().enumerate().filter(|(_, inst)| inst.temp > 0);
    with_temps
        .map(|(i, _)| {
            let joined = graph.join_of(i).map_or(0, |j| graph.joins[j].dependents.len());
            (i, graph.dependents.of(i).len() + joined)
        })
        .filter(|&(_, users)| users > 0)
        .collect()
}

/// The chain of instances that ran whose durations add up the most (each
/// after the one it waited for last), and that sum. `durations` become
/// each instance's end along its longest chain, in place: a big run's
/// tables are not copied at its end.
fn critical_path(
    graph: &Graph,
    ran: impl Fn(usize) -> bool,
    mut durations: Vec<Duration>,
) -> (Vec<usize>, Duration) {
    const NONE: u32 = u32::MAX;
    // Per instance that ran, the one before it on its longest chain.
    let mut before_of: Vec<u32> = vec![NONE; durations.len()];
    // Per join, its member that ran with the longest chain: found once.
    let mut join_best: Vec<Option<Option<usize>>> = vec![None; graph.joins.len()];
    for i in graph.topological_order() {
        if !ran(i) {
            continue;
        }
        let inst = &graph.instances[i];
        let end = |d: &usize| durations[*d];
        let mut before = inst.deps.iter().copied().filter(|&d| ran(d)).max_by_key(end);
        for &join in &inst.joins {
            let longest = *join_best[join].get_or_insert_with(|| {
                let members = graph.joins[join].members.clone();
                members.filter(|&m| ran(m)).max_by_key(end)
            });
            before = before.into_iter().chain(longest).max_by_key(end);
        }
        if let Some(before) = before {
            let base = durations[before];
            durations[i] += base;
            before_of[i] = u32::try_from(before).unwrap_or(NONE);
        }
    }
    let Some(end) = (0..durations.len()).filter(|&i| ran(i)).max_by_key(|&i| durations[i]) else {
        return (Vec::new(), Duration::ZERO);
    };
    let mut path = vec![end];
    while let Some(&previous) = path.last().map(|&last| &before_of[last]) {
        if previous == NONE {
            break;
        }
        path.push(previous as usize);
    }
    path.reverse();
    (path, durations[end])
}
