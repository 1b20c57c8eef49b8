//! What happens during a run, as plain data: the only interface from the
//! runner to whatever shows or records the run.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::exec::{Termination, Usage};
use crate::fresh::Record;
use crate::graph::Graph;

/// How a run's instances are named to people (and in the store): events
/// speak of instances by number.
pub trait InstanceNames {
    /// The name of `instance`.
    fn name(&self, instance: usize) -> Cow<'_, str>;
}

impl InstanceNames for Graph {
    fn name(&self, instance: usize) -> Cow<'_, str> {
        Cow::Borrowed(&self.instances[instance].name)
    }
}

/// One thing that happened.
#[derive(Debug)]
pub enum Event<'a> {
    /// The run begins.
    RunStarted {
        /// Its id (the name of its log directory).
        run_id: u64,
        /// Instances that will be considered.
        total: usize,
        /// Job slots.
        jobs: u32,
    },
    /// An attempt of an instance started.
    AttemptStarted {
        /// The instance.
        instance: usize,
        /// Attempt number, from 1.
        attempt: u32,
        /// The job slots it holds (from 1).
        slots: &'a [u32],
        /// The command line it runs.
        command: &'a [u8],
        /// Its log file.
        log: &'a Path,
        /// Its cache key (flow runs), hex.
        key: Option<String>,
    },
    /// An instance is not run because what it would do is already done.
    Skipped {
        /// The instance.
        instance: usize,
        /// Why it is done.
        why: Skip,
    },
    /// What a success leaves for the next run's freshness check.
    Remember {
        /// The instance (it just succeeded).
        instance: usize,
        /// Its record.
        record: &'a Record,
    },
    /// Output of a streamed attempt, as read (not split into lines).
    Output {
        /// The instance.
        instance: usize,
        /// The bytes.
        bytes: &'a [u8],
    },
    /// An attempt ended.
    AttemptFinished {
        /// The instance.
        instance: usize,
        /// What happened.
        attempt: &'a Attempt,
        /// Whether another attempt will follow.
        will_retry: bool,
    },
    /// An instance will not run.
    NotRun {
        /// The instance.
        instance: usize,
        /// Why.
        reason: NotRunReason,
    },
    /// maestro was asked to stop.
    Interrupted {
        /// The signal.
        signal: i32,
        /// Whether running tasks are being killed at once (second request).
        forced: bool,
        /// Otherwise, how long they have to end before they are killed.
        grace: Duration,
    },
    /// Time passed (for live displays); sent only to those that ask.
    Tick,
    /// The run ended.
    RunFinished {
        /// Totals.
        summary: &'a RunSummary,
    },
}

/// Why an instance is already done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Its last success still holds.
    Fresh,
    /// `--resume`: it finished well in an earlier run, the latest to know of
    /// it.
    Resumed {
        /// That run.
        run: u64,
    },
    /// `map --resume`: the joblog lists it (as succeeded, for
    /// `--resume-failed`).
    Joblog,
    /// `map --plus`'s `{choose_k}` or `{uniq}` let it not run.
    Filtered,
}

/// Why an instance did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRunReason {
    /// A dep failed (keep-going mode).
    DepFailed,
    /// The run stopped first (a failure without keep-going, or an interrupt).
    Cancelled,
}

/// One finished attempt of an instance.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Number, from 1.
    pub number: u32,
    /// Wall-clock launch: when it was handed to its backend.
    pub started_at: SystemTime,
    /// How long it then waited in a batch system's queue before it ran.
    pub queued: Duration,
    /// How long it ran.
    pub duration: Duration,
    /// Its backend's id for it (a Slurm job id), if it has one.
    pub job_id: Option<String>,
    /// Where its backend ran it (a worker's slots), if it says.
    pub place: Option<crate::exec::Place>,
    /// How it ended.
    pub outcome: Outcome,
    /// CPU time and memory of its process tree.
    pub usage: Usage,
    /// Its log file (all attempts of the instance share it).
    pub log: PathBuf,
    /// `key=value` pairs it wrote to `MAESTRO_OUTPUT`.
    pub outputs: Vec<(String, String)>,
}

impl Attempt {
    /// Wall-clock end.
    pub fn ended_at(&self) -> SystemTime {
        self.started_at + self.queued + self.duration
    }
}

/// How an attempt ended. Each failure kind says what the user needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0, outputs present.
    Succeeded,
    /// Non-zero exit or killed by a signal.
    Failed(Termination),
    /// Killed after running longer than its timeout.
    TimedOut(Duration),
    /// Killed because maestro was interrupted.
    Interrupted,
    /// The command could not be started at all.
    SpawnFailed(String),
    /// Exit 0 but declared outputs are missing.
    MissingOutputs(Vec<String>),
    /// Exit 0 but `MAESTRO_OUTPUT` holds a line that is not `key=value`.
    BadOutputFile(String),
}

impl Outcome {
    /// Whether the attempt succeeded.
    pub fn succeeded(&self) -> bool {
        *self == Outcome::Succeeded
    }

    /// How the store, the report and `--json` name it: the status word,
    /// the exit status (when the process exited) and the killing signal.
    pub fn status_fields(&self) -> (&'static str, Option<i32>, Option<i32>) {
        match self {
            Outcome::Succeeded => ("ok", Some(0), None),
            Outcome::Failed(Termination::Exited(code)) => ("failed", Some(*code), None),
            Outcome::Failed(Termination::Signaled(signal)) => ("failed", None, Some(*signal)),
            Outcome::Failed(Termination::Batch(end)) => (end.status_word(), None, None),
            Outcome::TimedOut(_) => ("timed_out", None, None),
            Outcome::Interrupted => ("interrupted", None, None),
            Outcome::SpawnFailed(_) => ("spawn_failed", None, None),
            Outcome::MissingOutputs(_) => ("missing_outputs", Some(0), None),
            Outcome::BadOutputFile(_) => ("bad_output_file", Some(0), None),
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Succeeded => write!(f, "ok"),
            Outcome::Failed(termination) => write!(f, "failed: {termination}"),
            Outcome::TimedOut(limit) => {
                write!(f, "timed out after {}", format_duration(*limit))
            }
            Outcome::Interrupted => write!(f, "interrupted"),
            Outcome::SpawnFailed(why) => write!(f, "could not start: {why}"),
            Outcome::MissingOutputs(paths) => {
                write!(f, "failed: declared output {} missing", quoted_list(paths))
            }
            Outcome::BadOutputFile(why) => write!(f, "failed: MAESTRO_OUTPUT {why}"),
        }
    }
}

fn quoted_list(items: &[String]) -> String {
    items.iter().map(|p| format!("'{p}'")).collect::<Vec<_>>().join(", ")
}

/// The totals of a run.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Instances that succeeded.
    pub succeeded: usize,
    /// Instances that failed (after retries).
    pub failed: Vec<usize>,
    /// Instances skipped: fresh, or done in the resumed run.
    pub skipped: usize,
    /// Instances not run because a dep failed.
    pub dep_failed: usize,
    /// Instances not run because the run stopped.
    pub cancelled: usize,
    /// Instances interrupted while running.
    pub interrupted: usize,
    /// Wall time of the run.
    pub wall: Duration,
    /// Sum of every attempt's duration.
    pub task_time: Duration,
    /// The chain of instances whose durations add up the most.
    pub critical_path: Vec<usize>,
    /// Its length.
    pub critical_time: Duration,
    /// Whether maestro was interrupted.
    pub was_interrupted: bool,
}

impl RunSummary {
    /// How the store and `--json` name the run's end.
    pub fn status_word(&self) -> &'static str {
        if self.was_interrupted {
            "interrupted"
        } else if self.failed.is_empty() {
            "ok"
        } else {
            "failed"
        }
    }

    /// SPEC §3's exit status for this run.
    pub fn exit_code(&self) -> i32 {
        if self.was_interrupted {
            crate::exit_code::INTERRUPTED
        } else if !self.failed.is_empty() {
            crate::exit_code::TASK_FAILED
        } else {
            crate::exit_code::SUCCESS
        }
    }
}

/// Receives a run's events, in order.
pub trait Observer {
    /// Called for every event.
    fn event(&mut self, event: &Event<'_>);
    /// How often `Event::Tick` should come, if at all.
    fn tick_interval(&self) -> Option<Duration> {
        None
    }
    /// Called before the runner waits for anything: a chance to make what
    /// was received durable. Returns how soon it must be called again, if
    /// something is still pending (the runner then wakes up by then).
    fn flush(&mut self) -> Option<Duration> {
        None
    }
}

/// Several observers, each receiving every event in order.
pub struct Observers<'a>(pub Vec<&'a mut dyn Observer>);

impl Observer for Observers<'_> {
    fn event(&mut self, event: &Event<'_>) {
        for observer in &mut self.0 {
            observer.event(event);
        }
    }

    fn tick_interval(&self) -> Option<Duration> {
        self.0.iter().filter_map(|o| o.tick_interval()).min()
    }

    fn flush(&mut self) -> Option<Duration> {
        self.0.iter_mut().filter_map(|o| o.flush()).min()
    }
}

/// `0.51s`, `12.30s`, `3m05s`, `1h02m`: short and sortable by eye.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.2}s")
    } else if secs < 3600.0 {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else {
        let whole = d.as_secs();
        format!("{}h{:02}m", whole / 3600, (whole % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_millis(510)), "0.51s");
        assert_eq!(format_duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(format_duration(Duration::from_secs(3720)), "1h02m");
    }
}
