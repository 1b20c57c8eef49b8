//! The event loop of a `map` run: takes jobs from the inputs as job slots
//! free up, starts them through the same executor as `run` and `par`, and
//! reacts to their exits, timeouts, `--halt` and signals. Every attempt is
//! recorded through an [`Observer`] (the store's recorder), every finished
//! job goes to the printer and the joblog.
//!
//! A job's stdout and stderr go straight into its slot's pair of unnamed
//! files ([`Capture`]), printed from there when it ends and emptied for the
//! slot's next job; a failed job's (every job's with `--keep-logs`) are
//! saved first as its log, `.maestro/logs/<run>/<seq>.log`. With
//! `--line-buffer`, both come through pipes instead: maestro prints whole
//! lines as they arrive and keeps everything in the slot's file as it comes.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fs;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

mod progress;

use super::args::Timeout;
use super::feed::{Feed, Next};
use super::halt::{Halt, HaltOn, HaltWhen, Tally};
use super::inputs::{InputError, Inputs, Job};
use super::job::{Capture, command_for};
use super::joblog::{Entry, Joblog, Previous};
use super::output::{JobOutput, Printer, print_lines};
use crate::event::{Attempt, Event, Observer, Outcome, RunSummary, Skip};
use crate::exec::local::LocalExecutor;
use crate::exec::{ExecEvent, OutputTo, Spawn, Termination, Usage, spawn_error_text};
use crate::report::status::{StatusLine, stderr_is_rich};
use crate::runner::KILL_GRACE;
use crate::template::Template;
use crate::timers::Timers;

/// `--resume` and `--resume-failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Run every job.
    No,
    /// Skip the jobs the joblog lists.
    All,
    /// Skip the jobs the joblog lists as succeeded.
    Failed,
}

/// What a `map` run is asked to do, beyond its inputs.
#[derive(Debug, Clone)]
pub struct MapConfig {
    /// The template; `None` when each input is a command.
    pub template: Option<Template>,
    /// Job slots.
    pub jobs: u32,
    /// `-k`.
    pub keep_order: bool,
    /// `--tag`.
    pub tag: bool,
    /// `--line-buffer` (ignored with `-k`).
    pub line_buffer: bool,
    /// `--joblog`.
    pub joblog: Option<PathBuf>,
    /// `--resume`, `--resume-failed` (read from `joblog`).
    pub resume: Resume,
    /// `--retries`: runs of a failing job, in all (at least 1).
    pub tries: u32,
    /// `--timeout`.
    pub timeout: Option<Timeout>,
    /// `--halt`.
    pub halt: Option<Halt>,
    /// `--bar`.
    pub bar: bool,
    /// The run's id.
    pub run_id: u64,
    /// Where each job's log goes (kept for failed jobs, or all with
    /// `keep_logs`).
    pub log_dir: PathBuf,
    /// `--keep-logs`: keep the output of every job, not only failed ones.
    pub keep_logs: bool,
    /// Print jobs' output (not with `--json`, whose events stdout carries).
    pub print_output: bool,
    /// Where the unnamed files that catch jobs' output are made (on the
    /// same file system as the logs, so saving one is a copy in place).
    pub capture_dir: PathBuf,
}

/// A problem that stops a `map` run before or while it runs.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// An input source could not be read.
    #[error("cannot read input {}: {}", .0.path.display(), .0.source)]
    Input(InputError),
    /// A file maestro writes could not be.
    #[error("{0}")]
    Io(String),
}

/// An attempt of a job, running.
#[derive(Debug)]
struct Running {
    job: Job,
    attempt: u32,
    slot: u32,
    pid: Option<u32>,
    started: Instant,
    started_at: SystemTime,
    command: Vec<u8>,
    /// Where its log goes, if it is kept.
    log_path: PathBuf,
    capture: Capture,
    /// `--line-buffer`: what came after the last newline, on stdout and
    /// stderr; and how many stdout bytes came in all.
    partial: [Vec<u8>; 2],
    stdout_bytes: u64,
    timed_out: Option<Duration>,
    interrupted: bool,
}

/// `eprintln!`, with the live status line out of the way.
macro_rules! say {
    ($($arg:tt)*) => {{
        crate::report::status::erase();
        eprintln!($($arg)*);
    }};
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Timeout {
        key: usize,
        attempt: u32,
        limit: Duration,
    },
    Kill {
        key: usize,
        attempt: u32,
    },
    /// Time to compare running jobs with the median run time (`--timeout N%`).
    MedianCheck,
    /// Time to redraw the live status line.
    Status,
}

/// How often `--timeout N%` looks at the running jobs.
const MEDIAN_CHECK_EVERY: Duration = Duration::from_millis(100);
/// How often the live status line is redrawn.
const STATUS_EVERY: Duration = Duration::from_millis(100);
/// Successful run times kept for `--timeout N%`'s median (the latest).
const MEDIAN_SAMPLE: usize = 1001;
/// A median of fewer successes is not trusted to kill anything.
const MEDIAN_MINIMUM: usize = 3;
/// `-k`: finished jobs that may wait for their turn to print, each holding
/// two open files; past this, no new job starts until the turn moves on.
const MOST_HELD: usize = 250;

/// Runs every job of `inputs`; returns the exit status (GNU parallel's).
pub fn run(
    inputs: Inputs,
    config: &MapConfig,
    observer: &mut dyn Observer,
) -> Result<i32, MapError> {
    let mut executor = LocalExecutor::new(&config.capture_dir)
        .map_err(|e| MapError::Io(format!("cannot set up process supervision: {e}")))?;
    let known_total = inputs.total();
    let feed = Feed::new(inputs)
        .map_err(|e| MapError::Io(format!("cannot start reading the inputs: {e}")))?;
    if let Some(fd) = feed.wake_fd() {
        executor.wake_on(fd);
    }
    let previous = match (&config.joblog, config.resume) {
        (Some(path), Resume::All | Resume::Failed) => Some(
            Previous::read(path)
                .map_err(|e| MapError::Io(format!("cannot read {}: {e}", path.display())))?,
        ),
        _ => None,
    };
    let joblog = match &config.joblog {
        Some(path) => Some(
            Joblog::create(path, config.resume != Resume::No)
                .map_err(|e| MapError::Io(format!("cannot write {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let mut runner = MapRunner {
        config,
        feed,
        inputs_done: false,
        executor,
        observer,
        printer: Printer::new(config.keep_order, config.print_output),
        joblog,
        previous,
        free_slots: (1..=config.jobs).collect(),
        running: HashMap::new(),
        retries: VecDeque::new(),
        timers: Timers::new(),
        successes: VecDeque::new(),
        summary: RunSummary::default(),
        read: 0,
        stopping: false,
        halt_status: None,
        interrupts: 0,
        log_dir_made: false,
        started: Instant::now(),
        cwd: std::env::current_dir()
            .map_err(|e| MapError::Io(format!("cannot read the current directory: {e}")))?,
        broken_pipe: false,
        captures: (0..config.jobs).map(|_| None).collect(),
        status: (!config.bar && stderr_is_rich()).then(StatusLine::default),
        known_total,
    };
    runner.observer.event(&Event::RunStarted {
        run_id: config.run_id,
        total: 0,
        jobs: config.jobs,
    });
    if runner.status.is_some() {
        runner.timers.at(Instant::now() + STATUS_EVERY, Timer::Status);
    }
    if matches!(config.timeout, Some(Timeout::OfMedian(_))) {
        runner.timers.at(Instant::now() + MEDIAN_CHECK_EVERY, Timer::MedianCheck);
    }
    let result = runner.main_loop();
    // The jobs that ended last may have ended before the inputs were seen
    // to end: the bar's last state is drawn now.
    runner.inputs_done |= result.is_ok() && !runner.stopping;
    runner.draw_bar();
    if let Err(e) = runner.printer.finish() {
        runner.output_failed(&e);
    }
    crate::report::status::erase();
    runner.summary.wall = runner.started.elapsed();
    runner.observer.event(&Event::RunFinished { summary: &runner.summary });
    if runner.config.bar {
        say!();
    }
    result?;
    Ok(runner.exit_status())
}

/// The exit status of a process killed by SIGPIPE, which maestro map's is
/// when its output's reader goes away (`maestro map ... | head`), as GNU
/// parallel's is.
const BROKEN_PIPE_STATUS: i32 = 128 + libc::SIGPIPE;

struct MapRunner<'c, 'o> {
    config: &'c MapConfig,
    feed: Feed,
    inputs_done: bool,
    executor: LocalExecutor,
    observer: &'o mut dyn Observer,
    printer: Printer,
    joblog: Option<Joblog>,
    previous: Option<Previous>,
    free_slots: BTreeSet<u32>,
    /// By key: `seq - 1`.
    running: HashMap<usize, Running>,
    /// Failed jobs to run again, before any new one.
    retries: VecDeque<(Job, u32)>,
    timers: Timers<Timer>,
    /// The latest successful run times.
    successes: VecDeque<Duration>,
    summary: RunSummary,
    /// Jobs read from the inputs.
    read: u64,
    /// No new job starts (halted, interrupted, inputs failed).
    stopping: bool,
    /// The exit status `--halt` decided.
    halt_status: Option<i32>,
    interrupts: u32,
    log_dir_made: bool,
    started: Instant,
    /// Where jobs run: maestro's own directory.
    cwd: PathBuf,
    /// Each job slot's files for its jobs' output, while no job runs in it.
    captures: Vec<Option<Capture>>,
    /// Whoever read maestro's output stopped reading.
    broken_pipe: bool,
    /// The live status line, on a terminal (not with `--bar`).
    status: Option<StatusLine>,
    /// How many jobs there are, when the inputs say so before being read.
    known_total: Option<u64>,
}

impl MapRunner<'_, '_> {
    /// Jobs finished, after their last attempt.
    fn finished(&self) -> u64 {
        (self.summary.succeeded + self.summary.failed.len() + self.summary.interrupted) as u64
    }

    fn main_loop(&mut self) -> Result<(), MapError> {
        // An input that fails to read stops the run once what runs has
        // finished (and been printed).
        let mut input_error = None;
        loop {
            if let Err(error) = self.start_jobs() {
                self.stopping = true;
                input_error = Some(error);
            }
            if self.running.is_empty()
                && (self.stopping || (self.inputs_done && self.retries.is_empty()))
            {
                return input_error.map_or(Ok(()), Err);
            }
            let timeout = self.timers.wait_time(self.observer.flush());
            let events = self
                .executor
                .wait(timeout)
                .map_err(|e| MapError::Io(format!("cannot wait for jobs: {e}")))?;
            for event in events {
                match event {
                    ExecEvent::Exited { key, termination, usage } => {
                        self.attempt_ended(key, Ok(termination), usage);
                    }
                    ExecEvent::Output { key, bytes, stderr } => {
                        self.line_output(key, &bytes, usize::from(stderr));
                    }
                    ExecEvent::Signal(signal) => self.interrupt(signal),
                }
            }
            self.fire_timers();
        }
    }

    /// Starts retries, then new jobs, while slots are free.
    fn start_jobs(&mut self) -> Result<(), MapError> {
        while !self.stopping && !self.free_slots.is_empty() {
            // Retries first, whatever waits to print: the job at the head of
            // the `-k` order may be one of them.
            if let Some((job, attempt)) = self.retries.pop_front() {
                self.start(job, attempt);
                continue;
            }
            if self.inputs_done || self.printer.held() >= MOST_HELD {
                break;
            }
            let job = match self.feed.take() {
                Ok(Next::Job(job)) => job,
                Ok(Next::Later) => break,
                Ok(Next::End) => {
                    self.inputs_done = true;
                    break;
                }
                Err(error) => return Err(MapError::Input(error)),
            };
            self.read += 1;
            if self.resumed(job.seq) {
                self.summary.skipped += 1;
                self.observer.event(&Event::Skipped { instance: key(&job), why: Skip::Joblog });
                if let Err(e) = self.printer.nothing(job.seq) {
                    self.output_failed(&e);
                }
                continue;
            }
            self.start(job, 1);
        }
        Ok(())
    }

    /// Whether `--resume` / `--resume-failed` skips job `seq`.
    fn resumed(&self, seq: u64) -> bool {
        match (&self.previous, self.config.resume) {
            (Some(previous), Resume::All) => previous.listed(seq),
            (Some(previous), Resume::Failed) => previous.succeeded(seq),
            _ => false,
        }
    }

    fn start(&mut self, job: Job, attempt: u32) {
        let Some(slot) = self.free_slots.pop_first() else { return };
        let command = command_for(self.config.template.as_ref(), &job, slot);
        let key = key(&job);
        let log_path = self.config.log_dir.join(format!("{}.log", job.seq));
        let started = Instant::now();
        let started_at = SystemTime::now();
        let capture = match self.captures[slot as usize - 1].take() {
            Some(capture) => Ok(capture),
            None => Capture::new(&self.config.capture_dir),
        };
        let mut capture = match capture {
            Ok(capture) => capture,
            Err(e) => {
                // Nothing to run the job with: it fails, and says why.
                self.free_slots.insert(slot);
                let dir = self.config.capture_dir.display();
                say!("maestro: job {}: cannot create its output files in {dir}: {e}", job.seq);
                self.summary.failed.push(key);
                self.write_joblog(&job, started_at, Duration::ZERO, 0, (127, 0), &command);
                // With -k, the jobs after it must not wait for its output.
                if let Err(e) = self.printer.nothing(job.seq) {
                    self.output_failed(&e);
                }
                return;
            }
        };
        let env = vec![
            ("MAESTRO_RUN".to_string(), self.config.run_id.to_string()),
            ("MAESTRO_SLOT".to_string(), slot.to_string()),
            ("PARALLEL_SEQ".to_string(), job.seq.to_string()),
            ("PARALLEL_JOBSLOT".to_string(), slot.to_string()),
        ];
        let output = if self.line_buffered() {
            OutputTo::Pipes
        } else {
            OutputTo::Split { stdout: capture.stdout.as_fd(), stderr: capture.stderr.as_fd() }
        };
        let spawned = self.executor.spawn(Spawn {
            key,
            cmd: command.clone(),
            dir: self.cwd.clone(),
            env,
            output,
        });
        self.observer.event(&Event::AttemptStarted {
            instance: key,
            attempt,
            slots: &[slot],
            command: &command,
            log: &log_path,
            key: None,
        });
        let (pid, not_started) = match spawned {
            Ok(pid) => (Some(pid), None),
            Err(e) => {
                let why = spawn_error_text(&command, &self.cwd, &e);
                // What the shell would have said, on the job's stderr.
                let said = format!("maestro: could not start: {why}\n");
                let _ = capture.stderr.write_all(said.as_bytes());
                (None, Some(why))
            }
        };
        if let Some(Timeout::Fixed(limit)) = self.config.timeout {
            self.timers.at(started + limit, Timer::Timeout { key, attempt, limit });
        }
        self.running.insert(
            key,
            Running {
                job,
                attempt,
                slot,
                pid,
                started,
                started_at,
                command,
                log_path,
                capture,
                partial: [Vec::new(), Vec::new()],
                stdout_bytes: 0,
                timed_out: None,
                interrupted: false,
            },
        );
        if let Some(why) = not_started {
            self.attempt_ended(key, Err(why), Usage::default());
        }
    }

    /// Whether output is printed line by line as it comes.
    fn line_buffered(&self) -> bool {
        self.config.line_buffer && !self.config.keep_order
    }

    /// `--line-buffer`: `bytes` came from job `key`'s stdout (`stream` 0) or
    /// stderr (1). Kept in the slot's file as they come (the log, should the
    /// job fail); whole lines printed now.
    fn line_output(&mut self, key: usize, bytes: &[u8], stream: usize) {
        let Some(running) = self.running.get_mut(&key) else { return };
        let _ = running.capture.stdout.write_all(bytes);
        if stream == 0 {
            running.stdout_bytes += bytes.len() as u64;
        }
        let partial = &mut running.partial[stream];
        partial.extend_from_slice(bytes);
        let Some(last_newline) = partial.iter().rposition(|&b| b == b'\n') else { return };
        let rest = partial.split_off(last_newline + 1);
        let lines = std::mem::replace(partial, rest);
        let tag = self.config.tag.then(|| running.job.args.join(&b' '));
        if let Err(e) = print_lines(&lines, stream, tag.as_deref()) {
            self.output_failed(&e);
        }
    }

    /// Writing maestro's stdout or stderr failed: stop, and say so unless
    /// the reader simply went away.
    fn output_failed(&mut self, error: &io::Error) {
        if error.kind() == io::ErrorKind::BrokenPipe {
            self.broken_pipe = true;
        } else if !self.stopping {
            say!("maestro: cannot write output: {error}");
        }
        if !self.stopping {
            self.stop_now();
        }
    }

    /// An attempt ended: `Ok` with how its process ended, `Err` with why it
    /// never started (said on its stderr already).
    fn attempt_ended(&mut self, key: usize, ended: Result<Termination, String>, usage: Usage) {
        let Some(mut running) = self.running.remove(&key) else { return };
        self.free_slots.insert(running.slot);
        let duration = running.started.elapsed();
        self.summary.task_time += duration;
        // Jobs have no deps: the critical path is the longest one (here
        // its longest attempt: a retried job is counted per attempt).
        if duration > self.summary.critical_time {
            self.summary.critical_path = vec![key];
            self.summary.critical_time = duration;
        }
        let line_buffered = self.line_buffered();
        if line_buffered {
            // The unfinished last lines; nothing is printed after.
            let tag = self.config.tag.then(|| running.job.args.join(&b' '));
            for stream in 0..2 {
                let rest = std::mem::take(&mut running.partial[stream]);
                if let Err(e) = print_lines(&rest, stream, tag.as_deref()) {
                    self.output_failed(&e);
                }
            }
            if let Err(why) = &ended {
                let said = format!("maestro: could not start: {why}\n");
                let _ = io::stderr().write_all(said.as_bytes());
            }
        }
        let lengths = running.capture.lengths().unwrap_or_else(|e| {
            say!("maestro: job {}: cannot read its output: {e}", running.job.seq);
            (0, 0)
        });
        let outcome = match &ended {
            _ if running.interrupted => Outcome::Interrupted,
            _ if running.timed_out.is_some() => {
                Outcome::TimedOut(running.timed_out.unwrap_or_default())
            }
            Err(why) => Outcome::SpawnFailed(why.clone()),
            Ok(termination) if termination.success() => Outcome::Succeeded,
            Ok(termination) => Outcome::Failed(*termination),
        };
        let retry = !outcome.succeeded()
            && outcome != Outcome::Interrupted
            && running.attempt < self.config.tries
            && !self.stopping;
        // The output of failures is kept (of every job with --keep-logs);
        // the rest was printed and is gone.
        let log = if !outcome.succeeded() || self.config.keep_logs {
            self.keep_log(&running, lengths)
        } else {
            PathBuf::new()
        };
        let attempt = Attempt {
            number: running.attempt,
            started_at: running.started_at,
            duration,
            outcome,
            usage,
            log,
            outputs: Vec::new(),
        };
        self.observer.event(&Event::AttemptFinished {
            instance: key,
            attempt: &attempt,
            will_retry: retry,
        });
        if retry {
            // As parallel: only the last attempt's output is printed.
            if running.capture.clear(lengths).is_ok() {
                self.captures[running.slot as usize - 1] = Some(running.capture);
            }
            self.retries.push_back((running.job, running.attempt + 1));
            return;
        }
        let status = match (&attempt.outcome, &ended) {
            (Outcome::TimedOut(_), _) => (-1, libc::SIGTERM),
            (_, Ok(Termination::Exited(code))) => (*code, 0),
            (_, Ok(Termination::Signaled(signal))) => (0, *signal),
            // As the shell reports a command it cannot run.
            (_, Err(_)) => (127, 0),
        };
        match attempt.outcome {
            Outcome::Succeeded => {
                self.summary.succeeded += 1;
                if self.successes.len() == MEDIAN_SAMPLE {
                    self.successes.pop_front();
                }
                self.successes.push_back(duration);
            }
            Outcome::Interrupted => self.summary.interrupted += 1,
            _ => self.summary.failed.push(key),
        }
        if let Outcome::TimedOut(limit) = attempt.outcome {
            say!(
                "maestro: warning: job {} killed after {}: {}",
                running.job.seq,
                crate::report::format_duration(limit),
                String::from_utf8_lossy(&running.command)
            );
        }
        let received = if line_buffered { running.stdout_bytes } else { lengths.0 };
        self.write_joblog(
            &running.job,
            running.started_at,
            duration,
            received,
            status,
            &running.command,
        );
        self.check_halt(&attempt.outcome, status.0, &running);
        let slot = running.slot as usize - 1;
        let reusable = if line_buffered {
            running.capture.clear(lengths).is_ok().then_some(running.capture)
        } else {
            let tag = self.config.tag.then(|| running.job.args.join(&b' '));
            let output = JobOutput { seq: running.job.seq, capture: running.capture, lengths, tag };
            match self.printer.finished(output) {
                Ok(capture) => capture,
                Err(e) => {
                    self.output_failed(&e);
                    None
                }
            }
        };
        self.captures[slot] = reusable;
        self.draw_bar();
    }

    /// Saves the attempt's output as its log; returns the log's path, or an
    /// empty path when it could not be saved (and says so).
    fn keep_log(&mut self, running: &Running, lengths: (u64, u64)) -> PathBuf {
        if !self.log_dir_made {
            self.log_dir_made = fs::create_dir_all(&self.config.log_dir).is_ok();
        }
        match running.capture.save(&running.log_path, running.attempt, lengths) {
            Ok(()) => running.log_path.clone(),
            Err(e) => {
                let path = running.log_path.display();
                say!("maestro: job {}: cannot keep its log {path}: {e}", running.job.seq);
                PathBuf::new()
            }
        }
    }

    fn write_joblog(
        &mut self,
        job: &Job,
        started: SystemTime,
        runtime: Duration,
        received: u64,
        (exit, signal): (i32, i32),
        command: &[u8],
    ) {
        let Some(joblog) = &mut self.joblog else { return };
        let entry = Entry { seq: job.seq, started, runtime, received, exit, signal, command };
        if let Err(e) = joblog.write(&entry) {
            say!("maestro: cannot write the joblog: {e}");
            self.joblog = None;
        }
    }

    /// `--halt`: whether this finished job makes the run stop.
    fn check_halt(&mut self, outcome: &Outcome, exit: i32, running: &Running) {
        let Some(halt) = self.config.halt else { return };
        if self.halt_status.is_some() || *outcome == Outcome::Interrupted {
            return;
        }
        let tally = Tally {
            succeeded: self.summary.succeeded as u64,
            failed: self.summary.failed.len() as u64,
            finished: self.finished(),
            read: self.read,
        };
        let Some(status) = halt.verdict(&tally, outcome.succeeded(), exit) else { return };
        self.halt_status = Some(status);
        let what = match halt.on {
            HaltOn::Fail => "failed",
            HaltOn::Success => "succeeded",
            HaltOn::Done => "finished",
        };
        say!(
            "maestro: halting: job {} {what}: {}",
            running.job.seq,
            String::from_utf8_lossy(&running.command)
        );
        match halt.when {
            HaltWhen::Soon => self.stopping = true,
            HaltWhen::Now => self.stop_now(),
        }
    }

    /// Starts nothing more and kills what runs (TERM, then KILL).
    fn stop_now(&mut self) {
        self.stopping = true;
        let now = Instant::now();
        let mut to_kill = Vec::new();
        for (&key, running) in &mut self.running {
            running.interrupted = true;
            if let Some(pid) = running.pid {
                to_kill.push((key, running.attempt, pid));
            }
        }
        for (key, attempt, pid) in to_kill {
            self.executor.signal_group(pid, libc::SIGTERM);
            self.timers.at(now + KILL_GRACE, Timer::Kill { key, attempt });
        }
    }

    /// First Ctrl-C (or SIGTERM, SIGHUP): stop, TERM every job, KILL after
    /// a grace period. Second: KILL at once.
    fn interrupt(&mut self, signal: i32) {
        self.interrupts += 1;
        self.summary.was_interrupted = true;
        let forced = self.interrupts > 1;
        self.observer.event(&Event::Interrupted { signal, forced });
        let name = crate::exec::signal_name(signal);
        if forced {
            say!("maestro: {name} received again: killing {} jobs", self.running.len());
        } else {
            say!("maestro: {name} received: stopping {} jobs", self.running.len());
        }
        self.retries.clear();
        if !forced {
            return self.stop_now();
        }
        for running in self.running.values_mut() {
            running.interrupted = true;
            if let Some(pid) = running.pid {
                self.executor.signal_group(pid, libc::SIGKILL);
            }
        }
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(timer) = self.timers.pop_due(now) {
            match timer {
                Timer::Timeout { key, attempt, limit } => self.time_out(key, attempt, limit, now),
                Timer::Kill { key, attempt } => {
                    if let Some(pid) = self.pid_of(key, attempt) {
                        self.executor.signal_group(pid, libc::SIGKILL);
                    }
                }
                Timer::MedianCheck => {
                    self.check_against_median(now);
                    self.timers.at(now + MEDIAN_CHECK_EVERY, Timer::MedianCheck);
                }
                Timer::Status => {
                    self.draw_status();
                    self.timers.at(now + STATUS_EVERY, Timer::Status);
                }
            }
        }
    }

    /// `--timeout N%`: times out every job running longer than N% of the
    /// median successful run time.
    fn check_against_median(&mut self, now: Instant) {
        let Some(Timeout::OfMedian(percent)) = self.config.timeout else { return };
        if self.successes.len() < MEDIAN_MINIMUM {
            return;
        }
        let mut sorted: Vec<Duration> = self.successes.iter().copied().collect();
        sorted.sort_unstable();
        let limit = sorted[sorted.len() / 2].mul_f64(percent / 100.0);
        let late: Vec<(usize, u32)> = self
            .running
            .iter()
            .filter(|(_, r)| r.timed_out.is_none() && now.duration_since(r.started) > limit)
            .map(|(&key, r)| (key, r.attempt))
            .collect();
        for (key, attempt) in late {
            self.time_out(key, attempt, limit, now);
        }
    }

    fn time_out(&mut self, key: usize, attempt: u32, limit: Duration, now: Instant) {
        let Some(pid) = self.pid_of(key, attempt) else { return };
        if let Some(running) = self.running.get_mut(&key) {
            running.timed_out = Some(limit);
        }
        self.executor.signal_group(pid, libc::SIGTERM);
        self.timers.at(now + KILL_GRACE, Timer::Kill { key, attempt });
    }

    fn pid_of(&self, key: usize, attempt: u32) -> Option<u32> {
        self.running.get(&key).filter(|r| r.attempt == attempt).and_then(|r| r.pid)
    }

    /// `--bar`: one line on stderr, redrawn.
    /// GNU parallel's: the `--halt` verdict; else the number of failed jobs,
    /// 101 for more than 100; 130 when interrupted; 141 when the output's
    /// reader went away.
    fn exit_status(&self) -> i32 {
        if self.interrupts > 0 {
            return crate::exit_code::INTERRUPTED;
        }
        if self.broken_pipe {
            return BROKEN_PIPE_STATUS;
        }
        if let Some(status) = self.halt_status {
            return status;
        }
        match self.summary.failed.len() {
            n if n > 100 => 101,
            n => n as i32,
        }
    }
}

fn key(job: &Job) -> usize {
    (job.seq - 1) as usize
}
