//! The one event loop of a run: asks the plan what to start, starts it
//! through the executor, and reacts to exits, timers and signals, telling
//! an [`Observer`] everything that happens.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, Result};
use crate::event::{Attempt, Event, NotRunReason, Observer, Outcome, RunSummary, Skip};
use crate::exec::local::LocalExecutor;
use crate::exec::{ExecEvent, OutputTo, Spawn, Usage, spawn_error_text};
use crate::fresh::{Checker, Decision};
use crate::graph::Graph;
use crate::plan::{Grant, Plan, Standing};
use crate::timers::Timers;

/// How long a task may take to exit after SIGTERM before it gets SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(3);

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
    /// The state directory (`.maestro`), absolute: tasks' primitives live there.
    pub state_dir: PathBuf,
    /// Pipe output through maestro (stream mode) instead of straight to logs.
    pub stream: bool,
}

/// How instances that need not run are recognised.
#[derive(Debug, Default)]
pub struct Skipping<'a> {
    /// Freshness, for flow runs (`None` for `par`).
    pub checker: Option<Checker<'a>>,
    /// `--resume`: the run resumed and, per instance, whether it finished
    /// well there.
    pub resumed: Option<(u64, Vec<bool>)>,
}

/// An attempt in progress.
#[derive(Debug)]
struct Running {
    number: u32,
    grant: Grant,
    pid: Option<u32>,
    started: Instant,
    started_at: SystemTime,
    log: PathBuf,
    /// `None` when the log could not be opened (the attempt then never ran).
    log_file: Option<File>,
    output_file: PathBuf,
    timed_out: bool,
    interrupted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Tick,
    Timeout { instance: usize, attempt: u32 },
    Kill { instance: usize, attempt: u32 },
    Retry { instance: usize },
}

/// Runs the `selected` instances of `graph` to completion (or interruption).
/// Gives `skipping` back, with what its checker learned.
pub fn run<'a>(
    graph: &'a Graph,
    selected: &[bool],
    priority: Vec<Duration>,
    config: &RunConfig,
    skipping: Skipping<'a>,
    observer: &mut dyn Observer,
) -> Result<(RunSummary, Skipping<'a>)> {
    let executor = LocalExecutor::new(&config.state_dir)
        .map_err(|e| Error::system("cannot set up process supervision", e))?;
    let plan = Plan::new(graph, selected, config.jobs, priority, config.keep_going);
    let mut runner = Runner {
        graph,
        config,
        observer,
        executor,
        plan,
        skipping,
        running: HashMap::new(),
        waiting_retry: HashMap::new(),
        timers: Timers::new(),
        outputs: vec![None; graph.instances.len()],
        durations: vec![Duration::ZERO; graph.instances.len()],
        summary: RunSummary::default(),
        interrupts: 0,
        started: Instant::now(),
        log_dir_made: false,
        skipped: vec![false; graph.instances.len()],
        next_log: None,
    };
    runner.observer.event(&Event::RunStarted {
        run_id: config.run_id,
        total: selected.iter().filter(|&&s| s).count(),
        jobs: config.jobs,
    });
    if let Some(every) = runner.observer.tick_interval() {
        runner.timers.at(Instant::now() + every, Timer::Tick);
    }
    let ended = runner.main_loop();
    runner.discard_next_log();
    ended?;
    Ok(runner.finish())
}

struct Runner<'a, 'o> {
    graph: &'a Graph,
    config: &'o RunConfig,
    observer: &'o mut dyn Observer,
    executor: LocalExecutor,
    plan: Plan,
    skipping: Skipping<'a>,
    running: HashMap<usize, Running>,
    /// Attempts that failed and wait for their retry, holding their grant.
    waiting_retry: HashMap<usize, Running>,
    timers: Timers<Timer>,
    /// `MAESTRO_OUTPUT` pairs of succeeded instances.
    outputs: Vec<Option<Vec<(String, String)>>>,
    durations: Vec<Duration>,
    summary: RunSummary,
    interrupts: u32,
    started: Instant,
    log_dir_made: bool,
    /// Instances found already done (they ran in no attempt).
    skipped: Vec<bool>,
    /// The log of the instance next in line, created ahead: see
    /// [`Runner::prepare_next_log`].
    next_log: Option<LogAhead>,
}

/// A log file created before its instance starts.
struct LogAhead {
    instance: usize,
    path: PathBuf,
    file: File,
}

impl<'a> Runner<'a, '_> {
    fn main_loop(&mut self) -> Result<()> {
        self.start_ready();
        while !self.plan.is_done() {
            if self.plan.is_stuck() && self.waiting_retry.is_empty() {
                return Err(Error::usage(
                    "no task can start: their slots or resources never free up",
                ));
            }
            self.prepare_next_log();
            let timeout = self.timers.wait_time(self.observer.flush());
            let events = self
                .executor
                .wait(timeout)
                .map_err(|e| Error::system("cannot wait for tasks", e))?;
            for event in events {
                self.on_exec_event(event);
            }
            self.fire_timers();
            self.start_ready();
        }
        Ok(())
    }

    fn start_ready(&mut self) {
        while let Some(grant) = self.plan.next_start() {
            let instance = grant.instance;
            if let Some(why) = self.already_done(instance) {
                self.skip(instance, why);
            } else {
                self.start_attempt(instance, 1, grant);
            }
        }
    }

    /// Creates the log of the ready instance next in line, while the slots
    /// are full, so that creating it is not between a task's end and the
    /// next one's start (when dispatching no-op tasks, that creation was a
    /// third of the gap, and the gap is time a core spends idle). Only for
    /// an instance sure to run: one that might be found fresh gets no log.
    /// The file is removed at the run's end if the instance never started.
    fn prepare_next_log(&mut self) {
        if self.next_log.is_some() || !self.log_dir_made {
            return;
        }
        let Some(instance) = self.plan.peek_next() else { return };
        if !self.surely_runs(instance) {
            return;
        }
        let path = self.log_path(instance);
        // On an error, the start tries again and reports it.
        if let Ok(file) = File::create(&path) {
            self.next_log = Some(LogAhead { instance, path, file });
        }
    }

    /// Removes the log made ahead for an instance that never started.
    fn discard_next_log(&mut self) {
        if let Some(LogAhead { path, file, .. }) = self.next_log.take() {
            drop(file);
            let _ = fs::remove_file(path);
        }
    }

    /// Whether `instance` runs when it starts, whatever its deps did: no
    /// resumed run did it, and it declares no files to be found fresh by.
    fn surely_runs(&self, instance: usize) -> bool {
        let inst = &self.graph.instances[instance];
        let done_before = self.skipping.resumed.as_ref().is_some_and(|(_, done)| done[instance]);
        let checked =
            self.skipping.checker.is_some() && !(inst.inputs.is_empty() && inst.outputs.is_empty());
        !done_before && !checked
    }

    fn log_path(&self, instance: usize) -> PathBuf {
        let stem = log_file_stem(&self.graph.instances[instance].name);
        self.config.log_dir.join(format!("{stem}.log"))
    }

    /// Whether `instance` need not run; if it must, notes that it runs.
    fn already_done(&mut self, instance: usize) -> Option<Skip> {
        if let Some((run, done)) = &self.skipping.resumed
            && done[instance]
        {
            return Some(Skip::Resumed { run: *run });
        }
        let checker = self.skipping.checker.as_mut()?;
        match checker.decide(instance) {
            Decision::Fresh => Some(Skip::Fresh),
            Decision::Run(_) => {
                checker.note_ran(instance);
                None
            }
        }
    }

    /// Counts `instance` as done without running it: its remembered
    /// results reach its dependents as if it had just run.
    fn skip(&mut self, instance: usize, why: Skip) {
        if let Some(checker) = &self.skipping.checker {
            self.outputs[instance] = Some(checker.remembered_results(instance));
        }
        self.summary.skipped += 1;
        self.skipped[instance] = true;
        self.observer.event(&Event::Skipped { instance, why });
        let not_run = self.plan.finish(instance, true);
        self.report_not_run(not_run);
    }

    fn start_attempt(&mut self, instance: usize, number: u32, grant: Grant) {
        let inst = &self.graph.instances[instance];
        let (log, made_ahead) = match self.next_log.take() {
            Some(ahead) if ahead.instance == instance && number == 1 => {
                (ahead.path, Some(ahead.file))
            }
            other => {
                self.next_log = other;
                (self.log_path(instance), None)
            }
        };
        let output_file = log.with_extension("outputs");
        let started = Instant::now();
        let started_at = SystemTime::now();
        if !self.log_dir_made {
            // Made at the first start: a run that skips everything leaves
            // no empty directory.
            if let Err(e) = fs::create_dir_all(&self.config.log_dir) {
                let why = format!("cannot create {}: {e}", self.config.log_dir.display());
                return self.spawn_failed(instance, number, grant, log, why);
            }
            self.log_dir_made = true;
        }
        let log_file = match made_ahead.map_or_else(|| open_log(&log, number), Ok) {
            Ok(file) => file,
            Err(e) => {
                let why = format!("cannot open log {}: {e}", log.display());
                return self.spawn_failed(instance, number, grant, log, why);
            }
        };
        if number > 1 {
            // A failed attempt's outputs must not pass for the next one's.
            let _ = fs::remove_file(&output_file);
        }
        let slot = grant.slots.first().copied().unwrap_or(1);
        let spawn = Spawn {
            key: instance,
            cmd: inst.cmd.for_slot(slot).into_bytes(),
            dir: inst.dir.clone(),
            env: self.environment(instance, &grant, &output_file),
            output: if self.config.stream {
                OutputTo::Pipe
            } else {
                OutputTo::File(log_file.as_fd())
            },
        };
        let key = self.skipping.checker.as_ref().and_then(|c| c.key(instance));
        self.observer.event(&Event::AttemptStarted {
            instance,
            attempt: number,
            slots: &grant.slots,
            command: &spawn.cmd,
            log: &log,
            key,
        });
        let spawned = self.executor.spawn(spawn);
        let mut attempt = Running {
            number,
            grant,
            pid: None,
            started,
            started_at,
            log,
            log_file: Some(log_file),
            output_file,
            timed_out: false,
            interrupted: false,
        };
        match spawned {
            Ok(pid) => attempt.pid = Some(pid),
            Err(e) => {
                let why = spawn_error_text(inst.cmd.for_slot(slot).as_bytes(), &inst.dir, &e);
                self.running.insert(instance, attempt);
                return self.attempt_ended(instance, Outcome::SpawnFailed(why), Usage::default());
            }
        }
        if let Some(limit) = inst.timeout {
            self.timers.at(started + limit, Timer::Timeout { instance, attempt: number });
        }
        self.running.insert(instance, attempt);
    }

    /// A failure before any process existed (the log could not be opened).
    fn spawn_failed(
        &mut self,
        instance: usize,
        number: u32,
        grant: Grant,
        log: PathBuf,
        why: String,
    ) {
        self.running.insert(
            instance,
            Running {
                number,
                grant,
                pid: None,
                started: Instant::now(),
                started_at: SystemTime::now(),
                output_file: log.with_extension("outputs"),
                log,
                log_file: None,
                timed_out: false,
                interrupted: false,
            },
        );
        self.attempt_ended(instance, Outcome::SpawnFailed(why), Usage::default());
    }

    /// The variables every attempt gets (SPEC §2), then the task's own.
    fn environment(
        &self,
        instance: usize,
        grant: &Grant,
        output_file: &Path,
    ) -> Vec<(String, String)> {
        let inst = &self.graph.instances[instance];
        let mut env = vec![
            ("MAESTRO_TASK".to_string(), inst.name.clone()),
            ("MAESTRO_RUN".to_string(), self.config.run_id.to_string()),
            ("MAESTRO_SLOT".to_string(), grant.slots.first().copied().unwrap_or(1).to_string()),
            ("MAESTRO_OUTPUT".to_string(), output_file.display().to_string()),
        ];
        for (resource, ids) in &grant.units {
            let name = env_name(&self.graph.resources[*resource].name);
            let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
            env.push((format!("MAESTRO_RESOURCE_{name}"), ids.join(",")));
        }
        for &dep in &inst.deps {
            for (key, value) in self.outputs[dep].iter().flatten() {
                let dep_name = env_name(&self.graph.instances[dep].name);
                env.push((format!("MAESTRO_DEP_{dep_name}_{}", env_name(key)), value.clone()));
            }
        }
        env.extend(inst.env.iter().cloned());
        env
    }

    fn on_exec_event(&mut self, event: ExecEvent) {
        match event {
            ExecEvent::Exited { key, termination, usage } => {
                let Some(attempt) = self.running.get(&key) else { return };
                let outcome = if attempt.interrupted {
                    Outcome::Interrupted
                } else if attempt.timed_out {
                    Outcome::TimedOut(self.graph.instances[key].timeout.unwrap_or_default())
                } else if termination.success() {
                    self.check_success(key)
                } else {
                    Outcome::Failed(termination)
                };
                self.attempt_ended(key, outcome, usage);
            }
            ExecEvent::Output { key, bytes, .. } => {
                if let Some(log) = self.running.get_mut(&key).and_then(|a| a.log_file.as_mut()) {
                    let _ = log.write_all(&bytes);
                }
                self.observer.event(&Event::Output { instance: key, bytes: &bytes });
            }
            ExecEvent::Signal(signal) => self.interrupt(signal),
        }
    }

    /// After exit 0: declared outputs exist and `MAESTRO_OUTPUT` parses.
    fn check_success(&mut self, instance: usize) -> Outcome {
        let inst = &self.graph.instances[instance];
        let missing: Vec<String> =
            inst.outputs.iter().filter(|path| !inst.dir.join(path).exists()).cloned().collect();
        if !missing.is_empty() {
            return Outcome::MissingOutputs(missing);
        }
        let attempt = &self.running[&instance];
        match read_outputs(&attempt.output_file) {
            Ok(pairs) => {
                self.outputs[instance] = Some(pairs);
                Outcome::Succeeded
            }
            Err(why) => Outcome::BadOutputFile(why),
        }
    }

    fn attempt_ended(&mut self, instance: usize, outcome: Outcome, usage: Usage) {
        let Some(mut running) = self.running.remove(&instance) else { return };
        let duration = running.started.elapsed();
        self.durations[instance] += duration;
        self.summary.task_time += duration;
        let inst = &self.graph.instances[instance];
        let retry = !outcome.succeeded()
            && outcome != Outcome::Interrupted
            && running.number <= inst.retries
            && self.interrupts == 0
            && !self.stopping_for_failure();
        if !outcome.succeeded()
            && outcome != Outcome::Interrupted
            && let Some(log) = &mut running.log_file
        {
            let _ = writeln!(log, "maestro: {outcome}");
        }
        let attempt = Attempt {
            number: running.number,
            started_at: running.started_at,
            duration,
            usage,
            log: running.log.clone(),
            outputs: self.outputs[instance].clone().unwrap_or_default(),
            outcome,
        };
        self.observer.event(&Event::AttemptFinished {
            instance,
            attempt: &attempt,
            will_retry: retry,
        });
        if retry {
            let at = Instant::now() + retry_backoff(running.number);
            self.timers.at(at, Timer::Retry { instance });
            self.waiting_retry.insert(instance, running);
            return;
        }
        if attempt.outcome.succeeded()
            && !(inst.inputs.is_empty() && inst.outputs.is_empty())
            && let Some(checker) = &mut self.skipping.checker
            && let Some(record) = checker.record(instance, attempt.outputs.clone())
        {
            self.observer.event(&Event::Remember { instance, record: &record });
        }
        match attempt.outcome {
            Outcome::Succeeded => self.summary.succeeded += 1,
            Outcome::Interrupted => self.summary.interrupted += 1,
            _ => self.summary.failed.push(instance),
        }
        let not_run = self.plan.finish(instance, attempt.outcome.succeeded());
        self.report_not_run(not_run);
    }

    fn stopping_for_failure(&self) -> bool {
        !self.config.keep_going && !self.summary.failed.is_empty()
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

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(timer) = self.timers.pop_due(now) {
            match timer {
                Timer::Tick => {
                    self.observer.event(&Event::Tick);
                    if let Some(every) = self.observer.tick_interval() {
                        self.timers.at(now + every, Timer::Tick);
                    }
                }
                Timer::Timeout { instance, attempt } => self.on_timeout(instance, attempt, now),
                Timer::Kill { instance, attempt } => {
                    if let Some(pid) = self.current_pid(instance, attempt) {
                        self.executor.signal_group(pid, libc::SIGKILL);
                    }
                }
                Timer::Retry { instance } => {
                    if let Some(previous) = self.waiting_retry.remove(&instance) {
                        self.start_attempt(instance, previous.number + 1, previous.grant);
                    }
                }
            }
        }
    }

    fn on_timeout(&mut self, instance: usize, attempt: u32, now: Instant) {
        let Some(pid) = self.current_pid(instance, attempt) else { return };
        if let Some(running) = self.running.get_mut(&instance) {
            running.timed_out = true;
        }
        self.executor.signal_group(pid, libc::SIGTERM);
        self.timers.at(now + KILL_GRACE, Timer::Kill { instance, attempt });
    }

    fn current_pid(&self, instance: usize, attempt: u32) -> Option<u32> {
        self.running.get(&instance).filter(|r| r.number == attempt).and_then(|r| r.pid)
    }

    /// First Ctrl-C (or SIGTERM, SIGHUP): start nothing new, TERM every
    /// running group, KILL after a grace period. Second: KILL at once.
    fn interrupt(&mut self, signal: i32) {
        self.interrupts += 1;
        self.summary.was_interrupted = true;
        let forced = self.interrupts > 1;
        self.observer.event(&Event::Interrupted { signal, forced });
        let cancelled = self.plan.stop();
        self.report_not_run(cancelled);
        let now = Instant::now();
        let waiting: Vec<usize> = self.waiting_retry.keys().copied().collect();
        for instance in waiting {
            if let Some(running) = self.waiting_retry.remove(&instance) {
                self.running.insert(instance, running);
                self.attempt_ended(instance, Outcome::Interrupted, Usage::default());
            }
        }
        let mut to_kill = Vec::new();
        for (&instance, running) in &mut self.running {
            running.interrupted = true;
            if let Some(pid) = running.pid {
                to_kill.push((instance, running.number, pid));
            }
        }
        for (instance, attempt, pid) in to_kill {
            if forced {
                self.executor.signal_group(pid, libc::SIGKILL);
            } else {
                self.executor.signal_group(pid, libc::SIGTERM);
                self.timers.at(now + KILL_GRACE, Timer::Kill { instance, attempt });
            }
        }
    }

    fn finish(mut self) -> (RunSummary, Skipping<'a>) {
        self.summary.wall = self.started.elapsed();
        let standings = self.plan.standings();
        let ran = |i: usize| {
            matches!(standings[i], Standing::Succeeded | Standing::Failed) && !self.skipped[i]
        };
        let (path, time) = critical_path(self.graph, ran, &self.durations);
        self.summary.critical_path = path;
        self.summary.critical_time = time;
        self.observer.event(&Event::RunFinished { summary: &self.summary });
        (self.summary, self.skipping)
    }
}

/// The chain of instances that ran whose durations add up the most.
fn critical_path(
    graph: &Graph,
    ran: impl Fn(usize) -> bool,
    durations: &[Duration],
) -> (Vec<usize>, Duration) {
    let mut best: Vec<(Duration, Option<usize>)> = vec![(Duration::ZERO, None); durations.len()];
    for i in graph.topological_order() {
        if !ran(i) {
            continue;
        }
        let before =
            graph.instances[i].deps.iter().filter(|&&d| ran(d)).max_by_key(|&&d| best[d].0);
        let base = before.map_or(Duration::ZERO, |&d| best[d].0);
        best[i] = (base + durations[i], before.copied());
    }
    let Some(end) = (0..durations.len()).filter(|&i| ran(i)).max_by_key(|&i| best[i].0) else {
        return (Vec::new(), Duration::ZERO);
    };
    let mut path = vec![end];
    while let Some(previous) = best[*path.last().unwrap_or(&end)].1 {
        path.push(previous);
    }
    path.reverse();
    (path, best[end].0)
}

/// Opens an instance's log: new for the first attempt, appended with a
/// separator line for retries, so the log keeps every attempt.
fn open_log(path: &Path, attempt: u32) -> std::io::Result<File> {
    if attempt == 1 {
        return File::create(path);
    }
    let mut file = OpenOptions::new().append(true).create(true).open(path)?;
    writeln!(file, "maestro: --- attempt {attempt} ---")?;
    Ok(file)
}

/// An instance's name as a file name: `/` and `%` are percent-encoded, so
/// distinct names never share a log.
pub fn log_file_stem(name: &str) -> String {
    name.replace('%', "%25").replace('/', "%2F")
}

/// `gpu-big` -> `GPU_BIG`: a name fit for an environment variable.
fn env_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
        .collect()
}

/// 250 ms, 500 ms, 1 s, ... capped at 5 s.
fn retry_backoff(failed_attempt: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << failed_attempt.saturating_sub(1).min(5)))
        .min(Duration::from_secs(5))
}

/// Parses a `MAESTRO_OUTPUT` file: `key=value` lines; blank lines and `#`
/// comments are ignored. A missing file means no outputs.
fn read_outputs(path: &Path) -> std::result::Result<Vec<(String, String)>, String> {
    let text = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot be read: {e}")),
    };
    let text = String::from_utf8(text).map_err(|_| "is not UTF-8".to_string())?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected key=value, got '{line}'", number + 1));
        };
        let key = key.trim();
        let valid = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!(
                "line {}: '{key}' is not a valid key (letters, digits, _)",
                number + 1
            ));
        }
        // A key written twice keeps its last value, as in a shell.
        pairs.retain(|(k, _)| k != key);
        pairs.push((key.to_string(), value.to_string()));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_file_parses_pairs_and_rejects_garbage() {
        let dir = std::env::temp_dir().join(format!("maestro-outputs-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("o");
        fs::write(&path, "a=1\n\n# note\nb = x=y\na=2\n").unwrap();
        assert_eq!(
            read_outputs(&path).unwrap(),
            vec![("b".into(), " x=y".into()), ("a".into(), "2".into())]
        );
        fs::write(&path, "novalue\n").unwrap();
        assert_eq!(read_outputs(&path).unwrap_err(), "line 1: expected key=value, got 'novalue'");
        fs::write(&path, "1x=2\n").unwrap();
        assert!(read_outputs(&path).unwrap_err().contains("not a valid key"));
        assert_eq!(read_outputs(&dir.join("missing")).unwrap(), vec![]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_become_safe_files_and_variables() {
        assert_eq!(log_file_stem("analyze:x/in%"), "analyze:x%2Fin%25");
        assert_eq!(env_name("gpu-big.0"), "GPU_BIG_0");
        assert_eq!(retry_backoff(1), Duration::from_millis(250));
        assert_eq!(retry_backoff(3), Duration::from_secs(1));
        assert_eq!(retry_backoff(30), Duration::from_secs(5));
    }
}
