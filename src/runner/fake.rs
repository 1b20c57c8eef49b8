//! A backend with no process and a clock with no sleep, for testing the
//! loop and the supervisor (as ninja tests its builder with a fake command
//! runner). A command is a script of what its attempts do:
//!
//! - `"2s exit 3"`: runs 2 s, exits 3; `"1s ok"`: runs 1 s, exits 0;
//! - `"... stubborn"`: ignores a graceful cancel (only a forced one ends it);
//! - `"cannot start"`: the backend refuses it;
//! - `"1s rejected"`: the backend takes it, and 1 s later says it could not
//!   run it after all (as a batch system may);
//! - `"wait 2s 1s ok"`: waits 2 s in the backend's queue, then runs 1 s;
//! - `"requeue 0.5s 1s ok"`: 0.5 s into its run, goes back to the queue
//!   (once), waits its `wait` again, then runs its whole time;
//! - `"exit 3, then 1s ok"`: attempt 1 does the first, attempt 2 the next
//!   (the last is repeated for later attempts).
//!
//! Every start and cancel is written in a log that tests compare, stamped
//! with the fake time in milliseconds from the start.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::reactor::Reactor;
use crate::exec::{ExecEvent, Executor, Handle, Launch, Termination, Urgency, Usage};

/// The fake time, shared by the executor and the reactor.
#[derive(Debug, Clone)]
pub struct Clock {
    start: Instant,
    now: Rc<Cell<Instant>>,
}

impl Clock {
    pub fn new() -> Clock {
        let start = Instant::now();
        Clock { start, now: Rc::new(Cell::new(start)) }
    }

    pub fn now(&self) -> Instant {
        self.now.get()
    }

    /// Milliseconds since the start.
    pub fn ms(&self) -> u128 {
        (self.now() - self.start).as_millis()
    }

    /// The instant `ms` milliseconds after the start.
    pub fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }

    fn advance_to(&self, at: Instant) {
        if at > self.now() {
            self.now.set(at);
        }
    }
}

/// What one attempt does.
#[derive(Debug, Clone, Copy)]
struct Behaviour {
    runs_for: Duration,
    waits_for: Duration,
    requeued_after: Option<Duration>,
    exit: i32,
    stubborn: bool,
    starts: bool,
    rejected: bool,
}

fn parse_behaviour(text: &str) -> Behaviour {
    let text = text.trim();
    if text == "cannot start" {
        return Behaviour {
            runs_for: Duration::ZERO,
            waits_for: Duration::ZERO,
            requeued_after: None,
            exit: 0,
            stubborn: false,
            starts: false,
            rejected: false,
        };
    }
    let mut behaviour = Behaviour {
        runs_for: Duration::ZERO,
        waits_for: Duration::ZERO,
        requeued_after: None,
        exit: 0,
        stubborn: false,
        starts: true,
        rejected: false,
    };
    let time = |word: Option<&str>| {
        let seconds: f64 = word.and_then(|w| w.strip_suffix('s')?.parse().ok()).expect(text);
        Duration::from_secs_f64(seconds)
    };
    let mut words = text.split_whitespace();
    while let Some(word) = words.next() {
        match word {
            "ok" => behaviour.exit = 0,
            "exit" => behaviour.exit = words.next().and_then(|c| c.parse().ok()).expect("a code"),
            "stubborn" => behaviour.stubborn = true,
            "rejected" => behaviour.rejected = true,
            "wait" => behaviour.waits_for = time(words.next()),
            "requeue" => behaviour.requeued_after = Some(time(words.next())),
            _ => behaviour.runs_for = time(Some(word)),
        }
    }
    behaviour
}

#[derive(Debug)]
struct Process {
    name: String,
    behaviour: Behaviour,
    /// When it leaves the queue, while it waits there.
    starts_at: Option<Instant>,
    /// When it goes back to the queue, while it runs and has not yet.
    requeued_at: Option<Instant>,
    ends_at: Instant,
    termination: Termination,
}

impl Process {
    /// It runs from `at`.
    fn run_from(&mut self, at: Instant) {
        self.starts_at = None;
        self.ends_at = at + self.behaviour.runs_for;
        self.requeued_at = self.behaviour.requeued_after.take().map(|after| at + after);
    }

    /// It waits in the queue from `at`.
    fn wait_from(&mut self, at: Instant) {
        let starts_at = at + self.behaviour.waits_for;
        self.starts_at = Some(starts_at);
        self.requeued_at = None;
        self.ends_at = starts_at + self.behaviour.runs_for;
    }

    /// The next thing due.
    fn next(&self) -> Instant {
        [self.starts_at, self.requeued_at, Some(self.ends_at)].into_iter().flatten().min().unwrap()
    }
}

/// The fake backend.
#[derive(Debug)]
pub struct FakeExecutor {
    clock: Clock,
    running: BTreeMap<Handle, Process>,
    pending: Vec<ExecEvent>,
    attempts: HashMap<String, usize>,
    next_handle: u64,
    /// What happened, for tests to compare.
    pub log: Rc<RefCell<Vec<String>>>,
}

impl FakeExecutor {
    pub fn new(clock: &Clock) -> FakeExecutor {
        FakeExecutor {
            clock: clock.clone(),
            running: BTreeMap::new(),
            pending: Vec::new(),
            attempts: HashMap::new(),
            next_handle: 0,
            log: Rc::default(),
        }
    }

    fn note(&self, what: String) {
        self.log.borrow_mut().push(format!("{:>5} {what}", self.clock.ms()));
    }
}

impl Executor for FakeExecutor {
    fn start(&mut self, launch: Launch) -> Result<Handle, String> {
        let cmd = String::from_utf8(launch.cmd).expect("a UTF-8 script");
        let name = launch
            .env
            .iter()
            .find(|(key, _)| key == "MAESTRO_TASK")
            .map_or_else(|| cmd.clone(), |(_, task)| task.clone());
        let count = self.attempts.entry(cmd.clone()).or_default();
        let steps: Vec<&str> = cmd.split(", then ").collect();
        let behaviour = parse_behaviour(steps[(*count).min(steps.len() - 1)]);
        *count += 1;
        if !behaviour.starts {
            self.note(format!("refuse {name}"));
            return Err(format!("{cmd}: refused"));
        }
        self.note(format!("start {name}"));
        let handle = Handle(self.next_handle);
        self.next_handle += 1;
        let now = self.clock.now();
        let termination = Termination::Exited(behaviour.exit);
        let mut process = Process {
            name,
            behaviour,
            starts_at: None,
            requeued_at: None,
            ends_at: now,
            termination,
        };
        if behaviour.waits_for.is_zero() {
            process.run_from(now);
            if !behaviour.rejected {
                self.pending.push(ExecEvent::Started { handle, late_by: Duration::ZERO });
            }
        } else {
            process.wait_from(now);
        }
        self.running.insert(handle, process);
        Ok(handle)
    }

    fn queues(&self) -> bool {
        true
    }

    fn cancel(&mut self, handle: Handle, urgency: Urgency) {
        let now = self.clock.now();
        let Some(process) = self.running.get_mut(&handle) else { return };
        let what = match urgency {
            Urgency::Graceful => "term".to_string(),
            Urgency::Signal(signal) => format!("signal {signal}"),
            Urgency::Forced => "kill".to_string(),
        };
        let name = process.name.clone();
        if urgency == Urgency::Forced || !process.behaviour.stubborn {
            process.ends_at = now;
            process.starts_at = None;
            process.requeued_at = None;
            let signal = if urgency == Urgency::Forced { libc::SIGKILL } else { libc::SIGTERM };
            process.termination = Termination::Signaled(signal);
        }
        self.note(format!("{what} {name}"));
    }

    fn deadline(&self) -> Option<Instant> {
        if !self.pending.is_empty() {
            return Some(self.clock.now());
        }
        self.running.values().map(Process::next).min()
    }

    fn collect(&mut self, events: &mut Vec<ExecEvent>) -> io::Result<()> {
        events.append(&mut self.pending);
        let now = self.clock.now();
        let mut notes = Vec::new();
        for (&handle, process) in &mut self.running {
            if let Some(at) = process.starts_at.filter(|&at| at <= now) {
                process.run_from(at);
                notes.push(format!("run {}", process.name));
                events.push(ExecEvent::Started { handle, late_by: now - at });
            }
            if let Some(at) = process.requeued_at.filter(|&at| at <= now) {
                process.wait_from(at);
                notes.push(format!("requeue {}", process.name));
                events.push(ExecEvent::Requeued { handle });
            }
        }
        for note in notes {
            self.note(note);
        }
        let ended: Vec<Handle> =
            self.running.iter().filter(|(_, p)| p.ends_at <= now).map(|(&h, _)| h).collect();
        for handle in ended {
            let process = self.running.remove(&handle).expect("running");
            if process.behaviour.rejected {
                self.note(format!("reject {}", process.name));
                events.push(ExecEvent::Rejected { handle, why: "rejected".to_string() });
                continue;
            }
            self.note(format!("end {} {}", process.name, process.termination));
            events.push(ExecEvent::Ended {
                handle,
                termination: process.termination,
                usage: Usage::default(),
                late_by: Duration::ZERO,
            });
        }
        Ok(())
    }
}

/// The fake reactor: waiting moves the clock to the next thing due; a
/// request to stop arrives at its scripted time.
#[derive(Debug)]
pub struct FakeReactor {
    clock: Clock,
    signals: Vec<(Instant, i32)>,
    waits: u32,
}

impl FakeReactor {
    pub fn new(clock: &Clock) -> FakeReactor {
        FakeReactor { clock: clock.clone(), signals: Vec::new(), waits: 0 }
    }

    /// `signal` arrives `ms` milliseconds after the start.
    pub fn signal_at(mut self, ms: u64, signal: i32) -> FakeReactor {
        self.signals.push((self.clock.at(ms), signal));
        self
    }
}

impl Reactor for FakeReactor {
    fn now(&self) -> Instant {
        self.clock.now()
    }

    fn wait(
        &mut self,
        deadline: Option<Instant>,
        executor: &dyn Executor,
        _wake: Option<RawFd>,
    ) -> io::Result<Vec<i32>> {
        self.waits += 1;
        assert!(self.waits < 100_000, "the loop spins");
        let next_signal = self.signals.iter().map(|&(at, _)| at).min();
        let next = [deadline, executor.deadline(), next_signal].into_iter().flatten().min();
        let next = next.expect("the loop would wait forever");
        self.clock.advance_to(next);
        let now = self.clock.now();
        let (due, later): (Vec<_>, Vec<_>) = self.signals.iter().partition(|&&(at, _)| at <= now);
        self.signals = later;
        Ok(due.into_iter().map(|(_, signal)| signal).collect())
    }
}
