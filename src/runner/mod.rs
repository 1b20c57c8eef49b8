//! The one event loop of `run`, `par` and `map`: asks its [`Work`] what to
//! start, starts it through an [`Executor`] under the [`Supervisor`], and
//! reacts to what the executor reports, to timers and to requests to stop.
//! What differs between a flow and `map` (where tasks come from, what an
//! end means to them, what is shown) is the work's; how attempts start,
//! end, time out, retry and stop is the same for both.

pub mod flow;
mod outputs;
pub mod prepare;
pub mod reactor;
pub mod supervisor;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use crate::event::Outcome;
use crate::exec::{ExecEvent, Executor, Launch, Output, Termination};
use reactor::Reactor;
use supervisor::{Ended, Limits, Report, StopReason, Supervisor};

pub use supervisor::{KILL_GRACE, TermStep};

/// A request to stop, as the loop handles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupt {
    /// The signal that asked.
    pub signal: i32,
    /// A second request: what runs is killed at once.
    pub forced: bool,
    /// How long the running attempts have before they are killed.
    pub grace: Duration,
    /// How many attempts are being stopped.
    pub running: usize,
}

/// What the loop runs: where tasks come from and what their ends mean.
/// Tasks are named by keys the work chooses (an instance's index, a job's
/// sequence number less one).
pub trait Work {
    /// A task to start now, with what it holds (slots, resources) taken;
    /// `None` while nothing can start until something ends or wakes the
    /// loop. Not asked once the run stops.
    fn next(&mut self, now: Instant) -> Option<usize>;

    /// Attempt `number` of task `key`, as its backend gets it; `Err` says
    /// why it cannot even be prepared (its log directory cannot be made).
    fn launch(&mut self, key: usize, number: u32) -> Result<Launch, String>;

    /// Timeout and retries of task `key`.
    fn limits(&self, key: usize) -> Limits;

    /// How attempts are stopped, step by step (`map --term-seq`); empty
    /// for the default: gracefully, forced after [`KILL_GRACE`].
    fn termination(&self) -> Vec<TermStep> {
        Vec::new()
    }

    /// Watched output of task `key`'s attempt. What the run does next.
    fn output(&mut self, _key: usize, _bytes: &[u8], _stderr: bool) -> Verdict {
        Verdict::Go
    }

    /// The outcome of an attempt that ended by itself so: an exit 0 may
    /// still be a failure (declared outputs missing).
    fn judge(&mut self, _key: usize, termination: Termination) -> Outcome {
        if termination.success() { Outcome::Succeeded } else { Outcome::Failed(termination) }
    }

    /// An attempt ended (another follows if `ended.will_retry`). What the
    /// run does next.
    fn attempt_ended(&mut self, ended: &Ended) -> Verdict;

    /// Task `key` is over, with `outcome` (that of its last attempt). What
    /// the run does next.
    fn task_ended(&mut self, key: usize, outcome: &Outcome, now: Instant) -> Verdict;

    /// Whether nothing is left to start (what runs may still be running).
    fn is_done(&self) -> bool;

    /// Why nothing can ever start, when nothing runs and work is left:
    /// `None` if something may still come (an input not read yet).
    fn stuck(&self) -> Option<String> {
        None
    }

    /// Starts nothing more: the run stops (because of `why`).
    fn stop(&mut self, why: Stop);

    /// maestro was asked to stop; the running attempts are being stopped.
    fn interrupted(&mut self, interrupt: &Interrupt);

    /// What `signal` (one of [`crate::exec::signals::STOP_REQUESTS`]) asks
    /// of the loop: by default, SIGUSR1 nothing, the others an interrupt.
    fn on_signal(&mut self, signal: i32) -> SignalAction {
        if signal == libc::SIGUSR1 { SignalAction::Nothing } else { SignalAction::Interrupt }
    }

    /// The output of the attempt likely to start next, for the backend to
    /// prepare while every slot is taken.
    fn next_output(&mut self) -> Option<Output> {
        None
    }

    /// When the work wants [`Work::at`] called, if at all.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// Its deadline came; `control` can stop attempts.
    fn at(&mut self, _now: Instant, _control: &mut Control<'_>) {}

    /// A pipe that wakes the loop when the work has something new to start.
    fn wake_fd(&self) -> Option<RawFd> {
        None
    }

    /// Called before the loop waits: a chance to make what happened
    /// durable. Returns how soon it must be called again, if at all.
    fn flush(&mut self) -> Option<Duration> {
        None
    }
}

/// What the run does after a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Goes on.
    Go,
    /// Starts nothing more; what runs finishes.
    Stop,
    /// Starts nothing more and stops what runs.
    StopNow,
}

/// Why the run stops starting tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The work said so ([`Verdict`]).
    Verdict,
    /// maestro was asked to stop.
    Interrupted,
    /// maestro was asked to start nothing more and let what runs finish
    /// (`map`'s SIGHUP, as GNU parallel's).
    Finishing,
}

/// What a signal asks of the loop (see [`Work::on_signal`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalAction {
    /// Stop what runs, and the run (SIGINT, SIGTERM, SIGHUP).
    Interrupt,
    /// Start nothing more; what runs finishes.
    Finish,
    /// Nothing of the loop's (the work answered it itself).
    Nothing,
}

/// What a work may do to running attempts from [`Work::at`].
pub struct Control<'a> {
    supervisor: &'a mut Supervisor,
    executor: &'a mut dyn Executor,
}

impl Control<'_> {
    /// Stops task `key`'s attempt as timed out after `limit`.
    pub fn time_out(&mut self, key: usize, limit: Duration, now: Instant) {
        self.supervisor.stop(self.executor, key, StopReason::TimedOut(limit), now);
    }

    /// The tasks whose attempts run, with when each started.
    pub fn running(&self) -> Vec<(usize, Instant)> {
        self.supervisor.running_since().collect()
    }
}

/// Why the loop could not go on.
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    /// Waiting for events failed.
    #[error("cannot wait for tasks: {0}")]
    Wait(io::Error),
    /// Nothing runs, work is left, and none of it can ever start.
    #[error("{0}")]
    Stuck(String),
}

/// Runs `work` to its end on `executor`, waiting with `reactor`.
pub fn drive(
    work: &mut dyn Work,
    executor: &mut dyn Executor,
    reactor: &mut dyn Reactor,
) -> Result<(), LoopError> {
    let supervisor = Supervisor::new().with_termination(&work.termination());
    let mut run =
        Loop { work, executor, supervisor, interrupts: 0, stopped: false, events: Vec::new() };
    run.main(reactor)
}

struct Loop<'a> {
    work: &'a mut dyn Work,
    executor: &'a mut dyn Executor,
    supervisor: Supervisor,
    interrupts: u32,
    stopped: bool,
    events: Vec<ExecEvent>,
}

impl Loop<'_> {
    fn main(&mut self, reactor: &mut dyn Reactor) -> Result<(), LoopError> {
        loop {
            let now = reactor.now();
            self.start_ready(now);
            if self.supervisor.is_idle() {
                if self.stopped || self.work.is_done() {
                    return Ok(());
                }
                if let Some(why) = self.work.stuck() {
                    return Err(LoopError::Stuck(why));
                }
            }
            if !self.stopped
                && let Some(output) = self.work.next_output()
            {
                self.executor.prepare(&output);
            }
            let flush = self.work.flush().map(|after| reactor.now() + after);
            let deadline =
                [self.supervisor.deadline(), self.executor.deadline(), self.work.deadline(), flush]
                    .into_iter()
                    .flatten()
                    .min();
            let signals = reactor
                .wait(deadline, &*self.executor, self.work.wake_fd())
                .map_err(LoopError::Wait)?;
            self.executor.collect(&mut self.events).map_err(LoopError::Wait)?;
            let now = reactor.now();
            for event in std::mem::take(&mut self.events) {
                self.on_exec_event(event, now);
            }
            for signal in signals {
                match self.work.on_signal(signal) {
                    SignalAction::Interrupt => self.interrupt(signal, now),
                    SignalAction::Finish => self.stop(Stop::Finishing, now),
                    SignalAction::Nothing => {}
                }
            }
            let reports = self.supervisor.fire(self.executor, now);
            self.on_reports(reports, now);
            if self.work.deadline().is_some_and(|at| at <= now) {
                let mut control =
                    Control { supervisor: &mut self.supervisor, executor: self.executor };
                self.work.at(now, &mut control);
            }
        }
    }

    fn start_ready(&mut self, now: Instant) {
        while !self.stopped {
            let Some(key) = self.work.next(now) else { break };
            self.start(key, 1, now);
        }
    }

    fn start(&mut self, key: usize, number: u32, now: Instant) {
        let launch = self.work.launch(key, number);
        let limits = self.work.limits(key);
        if let Some(ended) = self.supervisor.start(self.executor, key, number, launch, limits, now)
        {
            self.attempt_ended(ended, now);
        }
    }

    fn on_exec_event(&mut self, event: ExecEvent, now: Instant) {
        match event {
            ExecEvent::Submitted { handle, id } => self.supervisor.submitted(handle, id),
            ExecEvent::Placed { handle, place } => self.supervisor.placed(handle, place),
            ExecEvent::Started { handle, late_by } => self.supervisor.started(handle, late_by, now),
            ExecEvent::Requeued { handle } => self.supervisor.requeued(handle, now),
            ExecEvent::Output { handle, bytes, stderr } => {
                if let Some(key) = self.supervisor.key_of(handle) {
                    let verdict = self.work.output(key, &bytes, stderr);
                    self.follow(verdict, now);
                }
            }
            ExecEvent::Rejected { handle, why } => {
                if let Some(ended) = self.supervisor.rejected(handle, why, now) {
                    self.attempt_ended(ended, now);
                }
            }
            ExecEvent::Ended { handle, termination, usage, late_by } => {
                let work = &mut *self.work;
                let judge = |key, termination| work.judge(key, termination);
                // Timed from when it ended, not from when the backend said.
                let at = now.checked_sub(late_by).unwrap_or(now);
                if let Some(ended) = self.supervisor.ended(handle, termination, usage, at, judge) {
                    self.attempt_ended(ended, now);
                }
            }
        }
    }

    fn attempt_ended(&mut self, ended: Ended, now: Instant) {
        let verdict = self.work.attempt_ended(&ended);
        self.follow(verdict, now);
        if !ended.will_retry {
            self.task_ended(ended.key, &ended.outcome, now);
        }
    }

    fn task_ended(&mut self, key: usize, outcome: &Outcome, now: Instant) {
        let verdict = self.work.task_ended(key, outcome, now);
        self.follow(verdict, now);
    }

    fn follow(&mut self, verdict: Verdict, now: Instant) {
        match verdict {
            Verdict::Go => {}
            Verdict::Stop => self.stop(Stop::Verdict, now),
            Verdict::StopNow => {
                self.stop(Stop::Verdict, now);
                self.supervisor.stop_all(self.executor, false, now);
            }
        }
    }

    /// Starts nothing more; tasks waiting for a retry end without it.
    fn stop(&mut self, why: Stop, now: Instant) {
        if !self.stopped {
            self.stopped = true;
            self.work.stop(why);
        }
        let dropped = self.supervisor.stop_retries();
        self.on_reports(dropped, now);
    }

    fn on_reports(&mut self, reports: Vec<Report>, now: Instant) {
        for report in reports {
            match report {
                Report::RetryDue { key, number } => self.start(key, number, now),
                Report::RetryDropped { key, outcome } => self.task_ended(key, &outcome, now),
            }
        }
    }

    /// First request to stop: start nothing new, stop what runs (forced
    /// after a grace period). Second: force it at once.
    fn interrupt(&mut self, signal: i32, now: Instant) {
        self.interrupts += 1;
        let forced = self.interrupts > 1;
        let grace = if forced { Duration::ZERO } else { self.supervisor.grace() };
        let running = self.supervisor.running();
        self.work.interrupted(&Interrupt { signal, forced, grace, running });
        self.stop(Stop::Interrupted, now);
        self.supervisor.stop_all(self.executor, forced, now);
    }
}
