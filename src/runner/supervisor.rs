//! Every attempt in flight, each a state machine: starting, running,
//! terminating (and why, and when the kill comes), waiting to retry (with
//! the outcome that made it retry). The one table for `run`, `par` and
//! `map`; it drives an [`Executor`] and owns the timers of attempts
//! (timeouts, the kill after the grace period, retry backoff). A finished
//! attempt leaves the table as an [`Ended`] report, so an attempt cannot
//! finish twice, and a task waiting for its retry when the run stops ends
//! with the outcome it already had, without a new attempt.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use crate::event::Outcome;
use crate::exec::{BatchEnd, Executor, Handle, Launch, Place, Termination, Urgency, Usage};
use crate::timers::Timers;

/// How long an attempt may take to end after a graceful cancel before it
/// is forced.
pub const KILL_GRACE: Duration = Duration::from_secs(3);

/// One step of stopping an attempt: how it is asked, then how long it has
/// to end before the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermStep {
    /// The request (a signal).
    pub urgency: Urgency,
    /// The wait before the next step.
    pub wait: Duration,
}

/// The default way to stop an attempt: gracefully, then by force after
/// [`KILL_GRACE`].
pub const DEFAULT_TERMINATION: [TermStep; 2] = [
    TermStep { urgency: Urgency::Graceful, wait: KILL_GRACE },
    TermStep { urgency: Urgency::Forced, wait: Duration::ZERO },
];

/// Whether, and when, a failed attempt is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// The wait before each retry.
    pub backoff: Backoff,
}

/// The wait before a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// None: the retry starts at once (GNU parallel's `--retries`).
    None,
    /// 250 ms after the first failure, doubling, at most 5 s (flows).
    Doubling,
}

impl Backoff {
    /// The wait after attempt `failed` (from 1) failed.
    pub fn after(self, failed: u32) -> Duration {
        match self {
            Backoff::None => Duration::ZERO,
            Backoff::Doubling => {
                let doublings = failed.saturating_sub(1).min(5);
                Duration::from_millis(250 << doublings).min(Duration::from_secs(5))
            }
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub const ONCE: RetryPolicy = RetryPolicy { attempts: 1, backoff: Backoff::None };
}

/// Why an attempt is being stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// It ran past this limit.
    TimedOut(Duration),
    /// The run is stopping (Ctrl-C, `--halt now`, output gone).
    Interrupted,
}

/// Where one attempt stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptState {
    /// Handed to the backend, not known to run yet.
    Starting {
        /// The backend's handle.
        handle: Handle,
    },
    /// Running since then.
    Running {
        /// The backend's handle.
        handle: Handle,
        /// When it was seen to start.
        since: Instant,
    },
    /// Asked to stop: the steps of the termination sequence before `next`
    /// were taken (the next is taken when the previous one's wait is over).
    Terminating {
        /// The backend's handle.
        handle: Handle,
        /// Why it is stopped: what its outcome will be.
        why: StopReason,
        /// The next step of the termination sequence; past its end, all
        /// were taken.
        next: usize,
    },
    /// Failed, waiting for its next attempt until then.
    WaitingRetry {
        /// How the failed attempt ended: the task's outcome if the retry
        /// never comes.
        previous: Outcome,
        /// When the retry starts.
        until: Instant,
    },
}

impl AttemptState {
    /// The outcome of an attempt stopped by maestro, whatever its process
    /// did: `None` for one that ended by itself.
    fn stopped_outcome(&self) -> Option<Outcome> {
        match self {
            AttemptState::Terminating { why: StopReason::TimedOut(limit), .. } => {
                Some(Outcome::TimedOut(*limit))
            }
            AttemptState::Terminating { why: StopReason::Interrupted, .. } => {
                Some(Outcome::Interrupted)
            }
            _ => None,
        }
    }
}

/// One task's attempt in flight.
#[derive(Debug)]
struct InFlight {
    attempt: Attempt,
    state: AttemptState,
    /// The backend's id for it (a Slurm job id), once known.
    job_id: Option<String>,
    /// Where the backend put it, if it says.
    place: Option<Place>,
}

/// What stays true of an attempt whatever its state.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    /// Its number, from 1.
    number: u32,
    /// When it was handed to the backend.
    launched: Instant,
    launched_at: SystemTime,
    timeout: Option<Duration>,
    retry: RetryPolicy,
    /// How long it waited in the backend's queue before its latest start
    /// (every wait, when it was requeued).
    queued: Duration,
    /// Since when it waits to run (its launch, or its latest requeue);
    /// `None` while it runs.
    waiting_since: Option<Instant>,
}

impl Attempt {
    /// How long it waited to run, by `now`.
    fn queued_by(&self, now: Instant) -> Duration {
        let waiting = self.waiting_since.map(|since| now.saturating_duration_since(since));
        self.queued + waiting.unwrap_or_default()
    }
}

/// What a task's attempt asks of the supervisor beyond its launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Stopped (outcome "timed out") after running this long.
    pub timeout: Option<Duration>,
    /// Retries after failures.
    pub retry: RetryPolicy,
}

/// How an attempt ended, for whoever keeps the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// The task.
    pub key: usize,
    /// The attempt's number, from 1.
    pub number: u32,
    /// When it was handed to the backend.
    pub started_at: SystemTime,
    /// How long it waited in the backend's queue (a batch system's) before
    /// it ran; zero for a backend that runs what it is given at once.
    pub queued: Duration,
    /// How long it ran: from its launch to its end, less `queued`.
    pub duration: Duration,
    /// The backend's id for it (a Slurm job id), if it has one.
    pub job_id: Option<String>,
    /// Where the backend put it last, if it says.
    pub place: Option<Place>,
    /// How its process ended; `None` if it never started.
    pub termination: Option<Termination>,
    /// Its outcome.
    pub outcome: Outcome,
    /// What it used.
    pub usage: Usage,
    /// Whether another attempt follows.
    pub will_retry: bool,
}

/// Something the supervisor tells the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// A task's wait for its retry is over: start attempt `number`.
    RetryDue {
        /// The task.
        key: usize,
        /// The attempt to start.
        number: u32,
    },
    /// A task waiting for its retry will not get it (the run stopped): it
    /// ends with its last attempt's outcome.
    RetryDropped {
        /// The task.
        key: usize,
        /// Its last attempt's outcome.
        outcome: Outcome,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Timeout { key: usize, number: u32 },
    Kill { key: usize, number: u32 },
    Retry { key: usize, number: u32 },
}

/// The attempts in flight, by task key.
#[derive(Debug, Default)]
pub struct Supervisor {
    flying: HashMap<usize, InFlight>,
    by_handle: HashMap<Handle, usize>,
    timers: Timers<Timer>,
    /// No retry starts any more.
    stopping: bool,
    /// How attempts are stopped, step by step; the last step forces.
    termination: Vec<TermStep>,
}

impl Supervisor {
    /// No attempt in flight.
    pub fn new() -> Supervisor {
        Supervisor { termination: DEFAULT_TERMINATION.to_vec(), ..Supervisor::default() }
    }

    /// Stops attempts with `steps` instead (GNU parallel's `--term-seq`);
    /// a force comes after them if their last does not force.
    pub fn with_termination(mut self, steps: &[TermStep]) -> Supervisor {
        if steps.is_empty() {
            return self;
        }
        self.termination = steps.to_vec();
        if steps.last().is_some_and(|step| step.urgency != Urgency::Forced) {
            self.termination.push(TermStep { urgency: Urgency::Forced, wait: Duration::ZERO });
        }
        self
    }

    /// How long a stopped attempt has, in all, before it is forced.
    pub fn grace(&self) -> Duration {
        let before_force =
            self.termination.iter().take_while(|step| step.urgency != Urgency::Forced);
        before_force.map(|step| step.wait).sum()
    }

    /// Whether no attempt is in flight (none running, none waiting to retry).
    pub fn is_idle(&self) -> bool {
        self.flying.is_empty()
    }

    /// Attempts running or being stopped (not those waiting to retry).
    pub fn running(&self) -> usize {
        self.flying
            .values()
            .filter(|f| !matches!(f.state, AttemptState::WaitingRetry { .. }))
            .count()
    }

    /// Where task `key`'s attempt stands, if one is in flight.
    pub fn state(&self, key: usize) -> Option<AttemptState> {
        self.flying.get(&key).map(|f| f.state.clone())
    }

    /// The keys of tasks whose attempt runs (started, not being stopped),
    /// with when each was launched.
    pub fn running_since(&self) -> impl Iterator<Item = (usize, Instant)> + '_ {
        self.flying
            .iter()
            .filter(|(_, f)| {
                matches!(f.state, AttemptState::Starting { .. } | AttemptState::Running { .. })
            })
            .map(|(&key, f)| (key, f.attempt.launched))
    }

    /// The earliest timer, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Hands attempt `number` of task `key` to `executor`. A launch that
    /// could not even be prepared (`Err`), or that the backend cannot
    /// start, ends at once as "could not start".
    pub fn start(
        &mut self,
        executor: &mut dyn Executor,
        key: usize,
        number: u32,
        launch: Result<Launch, String>,
        limits: Limits,
        now: Instant,
    ) -> Option<Ended> {
        let attempt = Attempt {
            number,
            launched: now,
            launched_at: SystemTime::now(),
            timeout: limits.timeout,
            retry: limits.retry,
            queued: Duration::ZERO,
            waiting_since: executor.queues().then_some(now),
        };
        match launch.and_then(|launch| executor.start(launch)) {
            Ok(handle) => {
                let state = AttemptState::Starting { handle };
                self.by_handle.insert(handle, key);
                self.flying.insert(key, InFlight { attempt, state, job_id: None, place: None });
                None
            }
            Err(why) => {
                let outcome = Outcome::SpawnFailed(why);
                Some(self.end(key, attempt, None, outcome, Usage::default(), now))
            }
        }
    }

    /// The backend says `handle` runs, and began `late_by` before it
    /// could say so (never before it last went to wait).
    pub fn started(&mut self, handle: Handle, late_by: Duration, now: Instant) {
        let Some(&key) = self.by_handle.get(&handle) else { return };
        let Some(flight) = self.flying.get_mut(&key) else { return };
        if let AttemptState::Starting { handle } = flight.state {
            let attempt = &mut flight.attempt;
            let waited_from = attempt.waiting_since.take().unwrap_or(now);
            let since = now.checked_sub(late_by).unwrap_or(now).max(waited_from);
            attempt.queued += since.saturating_duration_since(waited_from);
            flight.state = AttemptState::Running { handle, since };
            if let Some(limit) = attempt.timeout {
                let number = attempt.number;
                // A limit past what the clock can count is no limit.
                if let Some(at) = since.checked_add(limit) {
                    self.timers.at(at, Timer::Timeout { key, number });
                }
            }
        }
    }

    /// The backend put `handle` there.
    pub fn placed(&mut self, handle: Handle, place: Place) {
        let Some(&key) = self.by_handle.get(&handle) else { return };
        if let Some(flight) = self.flying.get_mut(&key) {
            flight.place = Some(place);
        }
    }

    /// The backend gave `handle` its id.
    pub fn submitted(&mut self, handle: Handle, id: String) {
        let Some(&key) = self.by_handle.get(&handle) else { return };
        if let Some(flight) = self.flying.get_mut(&key) {
            flight.job_id = Some(id);
        }
    }

    /// The backend put `handle` back in its queue (its node failed, or it
    /// was preempted): the attempt goes on, waiting to run again, and its
    /// timeout counts from its next start.
    pub fn requeued(&mut self, handle: Handle, now: Instant) {
        let Some(&key) = self.by_handle.get(&handle) else { return };
        let Some(flight) = self.flying.get_mut(&key) else { return };
        if let AttemptState::Running { handle, .. } = flight.state {
            flight.state = AttemptState::Starting { handle };
            flight.attempt.waiting_since = Some(now);
        }
    }

    /// The task whose attempt `handle` is, if it is in flight.
    pub fn key_of(&self, handle: Handle) -> Option<usize> {
        self.by_handle.get(&handle).copied()
    }

    /// The backend says `handle` ended so. `judge` gives the outcome of an
    /// attempt that ended by itself (an exit 0 may still be a failure, as
    /// when declared outputs are missing); one that was stopped has the
    /// outcome of why it was.
    pub fn ended(
        &mut self,
        handle: Handle,
        termination: Termination,
        usage: Usage,
        now: Instant,
        judge: impl FnOnce(usize, Termination) -> Outcome,
    ) -> Option<Ended> {
        let key = self.by_handle.remove(&handle)?;
        let InFlight { attempt, state, job_id, place } = self.flying.remove(&key)?;
        let outcome =
            state.stopped_outcome().unwrap_or_else(|| match (termination, attempt.timeout) {
                // The batch system's time limit stands for the task's timeout.
                (Termination::Batch(BatchEnd::TimeLimit), Some(limit)) => Outcome::TimedOut(limit),
                _ => judge(key, termination),
            });
        let ended = self.end(key, attempt, Some(termination), outcome, usage, now);
        Some(Ended { job_id, place, ..ended })
    }

    /// The backend could not run `handle` after all: it ends as one that
    /// could not start (or as why it was being stopped).
    pub fn rejected(&mut self, handle: Handle, why: String, now: Instant) -> Option<Ended> {
        let key = self.by_handle.remove(&handle)?;
        let InFlight { attempt, state, job_id, place } = self.flying.remove(&key)?;
        let outcome = state.stopped_outcome().unwrap_or(Outcome::SpawnFailed(why));
        let ended = self.end(key, attempt, None, outcome, Usage::default(), now);
        Some(Ended { job_id, place, ..ended })
    }

    /// An attempt is over: it leaves the table, or waits there for its
    /// retry.
    fn end(
        &mut self,
        key: usize,
        attempt: Attempt,
        termination: Option<Termination>,
        outcome: Outcome,
        usage: Usage,
        now: Instant,
    ) -> Ended {
        let will_retry = !self.stopping
            && !outcome.succeeded()
            && outcome != Outcome::Interrupted
            && attempt.number < attempt.retry.attempts;
        let queued = attempt.queued_by(now);
        let ended = Ended {
            key,
            number: attempt.number,
            started_at: attempt.launched_at,
            queued,
            duration: now.saturating_duration_since(attempt.launched).saturating_sub(queued),
            job_id: None,
            place: None,
            termination,
            outcome: outcome.clone(),
            usage,
            will_retry,
        };
        if will_retry {
            let until = now + attempt.retry.backoff.after(attempt.number);
            let state = AttemptState::WaitingRetry { previous: outcome, until };
            self.timers.at(until, Timer::Retry { key, number: attempt.number + 1 });
            self.flying.insert(key, InFlight { attempt, state, job_id: None, place: None });
        }
        ended
    }

    /// Stops task `key`'s running attempt for `why`, with the first step
    /// of the termination sequence (by default graceful, forced after
    /// [`KILL_GRACE`]). An attempt already being stopped keeps its first
    /// reason.
    pub fn stop(&mut self, executor: &mut dyn Executor, key: usize, why: StopReason, now: Instant) {
        let Some(flight) = self.flying.get_mut(&key) else { return };
        let handle = match &flight.state {
            &AttemptState::Starting { handle } | &AttemptState::Running { handle, .. } => handle,
            AttemptState::Terminating { .. } | AttemptState::WaitingRetry { .. } => return,
        };
        flight.state = AttemptState::Terminating { handle, why, next: 0 };
        self.next_step(executor, key, now);
    }

    /// Takes the next step of stopping task `key`'s attempt, and sets the
    /// timer for the one after.
    fn next_step(&mut self, executor: &mut dyn Executor, key: usize, now: Instant) {
        let Some(flight) = self.flying.get_mut(&key) else { return };
        let AttemptState::Terminating { handle, next, .. } = &mut flight.state else { return };
        let Some(&step) = self.termination.get(*next) else { return };
        *next += 1;
        let handle = *handle;
        if *next < self.termination.len() {
            self.timers.at(now + step.wait, Timer::Kill { key, number: flight.attempt.number });
        }
        executor.cancel(handle, step.urgency);
    }

    /// The run stops: no retry starts any more; tasks waiting for one end
    /// with their last outcome (returned, in key order).
    pub fn stop_retries(&mut self) -> Vec<Report> {
        self.stopping = true;
        let mut waiting: Vec<usize> = self
            .flying
            .iter()
            .filter(|(_, f)| matches!(f.state, AttemptState::WaitingRetry { .. }))
            .map(|(&key, _)| key)
            .collect();
        waiting.sort_unstable();
        waiting
            .into_iter()
            .filter_map(|key| match self.flying.remove(&key)?.state {
                AttemptState::WaitingRetry { previous, .. } => {
                    Some(Report::RetryDropped { key, outcome: previous })
                }
                _ => None,
            })
            .collect()
    }

    /// Stops every running attempt as interrupted: gracefully, or at once
    /// when `forced` (also those already being stopped).
    pub fn stop_all(&mut self, executor: &mut dyn Executor, forced: bool, now: Instant) {
        let mut keys: Vec<usize> = self.flying.keys().copied().collect();
        keys.sort_unstable();
        for key in keys {
            if forced {
                self.force(executor, key, StopReason::Interrupted);
            } else {
                self.stop(executor, key, StopReason::Interrupted, now);
            }
        }
    }

    /// Kills task `key`'s attempt now. One being stopped keeps its reason.
    fn force(&mut self, executor: &mut dyn Executor, key: usize, why: StopReason) {
        let Some(flight) = self.flying.get_mut(&key) else { return };
        let (handle, why) = match &flight.state {
            &AttemptState::Starting { handle } | &AttemptState::Running { handle, .. } => {
                (handle, why)
            }
            &AttemptState::Terminating { handle, why, .. } => (handle, why),
            AttemptState::WaitingRetry { .. } => return,
        };
        flight.state = AttemptState::Terminating { handle, why, next: self.termination.len() };
        executor.cancel(handle, Urgency::Forced);
    }

    /// Acts on the timers due by `now`.
    pub fn fire(&mut self, executor: &mut dyn Executor, now: Instant) -> Vec<Report> {
        let mut reports = Vec::new();
        while let Some(timer) = self.timers.pop_due(now) {
            let (key, number) = match timer {
                Timer::Timeout { key, number } | Timer::Kill { key, number } => (key, number),
                Timer::Retry { key, number } => (key, number - 1),
            };
            // A timer of an attempt that is over is stale.
            let Some(flight) = self.flying.get(&key).filter(|f| f.attempt.number == number) else {
                continue;
            };
            match (timer, &flight.state) {
                (Timer::Timeout { .. }, &AttemptState::Running { since, .. }) => {
                    let limit = flight.attempt.timeout.unwrap_or_default();
                    // The timer of a run before a requeue is stale.
                    if now.saturating_duration_since(since) >= limit {
                        self.stop(executor, key, StopReason::TimedOut(limit), now);
                    }
                }
                (Timer::Kill { .. }, AttemptState::Terminating { .. }) => {
                    self.next_step(executor, key, now);
                }
                (Timer::Retry { number, .. }, AttemptState::WaitingRetry { .. }) => {
                    self.flying.remove(&key);
                    reports.push(Report::RetryDue { key, number });
                }
                _ => {}
            }
        }
        reports
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_termination_sequence_is_taken_step_by_step_then_forced() {
        use crate::exec::{Output, OutputFiles, Request, Stdin, Watch};
        use crate::runner::fake::{Clock, FakeExecutor};
        let clock = Clock::new();
        let mut executor = FakeExecutor::new(&clock);
        let ms = Duration::from_millis;
        let steps = [
            TermStep { urgency: Urgency::Signal(libc::SIGINT), wait: ms(100) },
            TermStep { urgency: Urgency::Graceful, wait: ms(50) },
        ];
        let mut supervisor = Supervisor::new().with_termination(&steps);
        assert_eq!(supervisor.grace(), ms(150));
        let launch = Launch {
            cmd: b"10s ok stubborn".to_vec(),
            shell: crate::shell::Shell::Sh,
            dir: ".".into(),
            env: vec![("MAESTRO_TASK".into(), "t".into())],
            output: Output {
                files: OutputFiles::Appended {
                    stdout: "/dev/null".into(),
                    stderr: "/dev/null".into(),
                },
                watch: Watch::No,
            },
            name: "t".into(),
            request: Request::default(),
            stdin: Stdin::Null,
        };
        let start = clock.now();
        let limits = Limits { timeout: None, retry: RetryPolicy::ONCE };
        assert!(supervisor.start(&mut executor, 0, 1, Ok(launch), limits, start).is_none());
        supervisor.stop(&mut executor, 0, StopReason::Interrupted, start);
        assert_eq!(supervisor.deadline(), Some(start + ms(100)));
        supervisor.fire(&mut executor, start + ms(100));
        assert_eq!(supervisor.deadline(), Some(start + ms(150)));
        supervisor.fire(&mut executor, start + ms(150));
        assert_eq!(supervisor.deadline(), None);
        let log: Vec<String> = executor
            .log
            .borrow()
            .iter()
            .map(|line| line.trim_start_matches(' ').to_string())
            .collect();
        assert_eq!(log, ["0 start t", "0 signal 2 t", "0 term t", "0 kill t"]);
    }

    #[test]
    fn backoff_doubles_from_a_quarter_second_up_to_five() {
        assert_eq!(Backoff::Doubling.after(1), Duration::from_millis(250));
        assert_eq!(Backoff::Doubling.after(3), Duration::from_secs(1));
        assert_eq!(Backoff::Doubling.after(30), Duration::from_secs(5));
        assert_eq!(Backoff::None.after(7), Duration::ZERO);
    }
}
