//! `--json`: a run's events on stdout, one JSON object per line, for other
//! tools to follow the run. The format is documented in docs/events.md and
//! pinned by docs/events.schema.json; `EVENTS_VERSION` names it.

use std::io::{self, BufWriter, Write};
use std::time::{Duration, SystemTime};

use crate::event::InstanceNames;
use crate::event::{Event, NotRunReason, Observer, Skip};
use crate::exec::signal_name;
use crate::json::Value;
use crate::store::unix_ms;

/// The version of the events' format, in every `run_started`: raised when
/// a field changes meaning or goes away (fields may be added without it).
pub const EVENTS_VERSION: i64 = 1;

/// Writes a run's events as JSON lines.
pub struct JsonEvents<'a> {
    names: &'a dyn InstanceNames,
    run: i64,
    kind: &'static str,
    flow: Option<String>,
    out: BufWriter<io::Stdout>,
    /// Whether a line was written since the last flush.
    pending: bool,
    /// Stdout was closed: the run goes on, unwatched.
    closed: bool,
}

impl<'a> JsonEvents<'a> {
    /// Events of run `run` (of `kind`: "run", "par" or "map"; `flow` its
    /// flow file's name) naming instances by `names`.
    pub fn new(
        names: &'a dyn InstanceNames,
        run: u64,
        kind: &'static str,
        flow: Option<String>,
    ) -> Self {
        JsonEvents {
            names,
            run: run as i64,
            kind,
            flow,
            out: BufWriter::new(io::stdout()),
            pending: false,
            closed: false,
        }
    }

    fn emit(&mut self, event: &'static str, mut fields: Vec<(&'static str, Value)>) {
        if self.closed {
            return;
        }
        let mut all = vec![
            ("event", event.into()),
            ("run", self.run.into()),
            ("time_ms", unix_ms(SystemTime::now()).into()),
        ];
        all.append(&mut fields);
        let mut line = Value::Object(all).to_json();
        line.push('\n');
        if self.out.write_all(line.as_bytes()).is_err() {
            self.closed = true;
        }
        self.pending = true;
    }

    fn task(&self, instance: usize) -> Value {
        self.names.name(instance).into_owned().into()
    }
}

fn micros(duration: Duration) -> Value {
    Value::Int(duration.as_micros() as i64)
}

impl Observer for JsonEvents<'_> {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::RunStarted { total, jobs, .. } => {
                let fields = vec![
                    ("version", EVENTS_VERSION.into()),
                    ("kind", self.kind.into()),
                    ("flow", self.flow.clone().into()),
                    ("jobs", i64::from(*jobs).into()),
                    // map reads its inputs as it goes: how many is not known.
                    ("total", (self.kind != "map").then_some(*total as i64).into()),
                ];
                self.emit("run_started", fields);
            }
            Event::AttemptStarted { instance, attempt, slots, command, log, key } => {
                let fields = vec![
                    ("task", self.task(*instance)),
                    ("attempt", i64::from(*attempt).into()),
                    ("slots", Value::Array(slots.iter().map(|&s| i64::from(s).into()).collect())),
                    ("command", String::from_utf8_lossy(command).into_owned().into()),
                    ("log", log.to_string_lossy().into_owned().into()),
                    ("cache_key", key.clone().into()),
                ];
                self.emit("task_started", fields);
            }
            Event::AttemptFinished { instance, attempt, will_retry } => {
                let (status, exit_code, signal) = attempt.outcome.status_fields();
                let outputs = attempt
                    .outputs
                    .iter()
                    .map(|(k, v)| Value::Array(vec![k.as_str().into(), v.as_str().into()]));
                let log = attempt.log.to_string_lossy();
                let fields = vec![
                    ("task", self.task(*instance)),
                    ("attempt", i64::from(attempt.number).into()),
                    ("status", status.into()),
                    ("exit_code", exit_code.map(i64::from).into()),
                    ("signal", signal.map(signal_name).into()),
                    (
                        "detail",
                        (!attempt.outcome.succeeded()).then(|| attempt.outcome.to_string()).into(),
                    ),
                    ("started_ms", unix_ms(attempt.started_at).into()),
                    ("job_id", attempt.job_id.clone().into()),
                    ("queued_us", micros(attempt.queued)),
                    ("duration_us", micros(attempt.duration)),
                    ("cpu_us", micros(attempt.usage.cpu)),
                    ("max_rss_kib", (attempt.usage.max_rss_kib as i64).into()),
                    ("log", (!log.is_empty()).then(|| log.into_owned()).into()),
                    ("outputs", Value::Array(outputs.collect())),
                    ("will_retry", (*will_retry).into()),
                ];
                self.emit("task_finished", fields);
            }
            Event::Skipped { instance, why } => {
                let why = match why {
                    Skip::Fresh => "fresh",
                    Skip::Resumed { .. } => "resumed",
                    Skip::Joblog => "joblog",
                    Skip::Filtered => "filtered",
                };
                let fields = vec![("task", self.task(*instance)), ("why", why.into())];
                self.emit("task_skipped", fields);
            }
            Event::NotRun { instance, reason } => {
                let why = match reason {
                    NotRunReason::DepFailed => "dep_failed",
                    NotRunReason::Cancelled => "cancelled",
                };
                let fields = vec![("task", self.task(*instance)), ("why", why.into())];
                self.emit("task_not_run", fields);
            }
            Event::Interrupted { signal, forced, .. } => {
                let fields =
                    vec![("signal", signal_name(*signal).into()), ("forced", (*forced).into())];
                self.emit("interrupted", fields);
            }
            Event::RunFinished { summary } => {
                let status = summary.status_word();
                let critical =
                    summary.critical_path.iter().map(|&i| self.task(i)).collect::<Vec<_>>();
                let count = |n: usize| Value::Int(n as i64);
                let fields = vec![
                    ("status", status.into()),
                    ("ok", count(summary.succeeded)),
                    ("failed", count(summary.failed.len())),
                    ("skipped", count(summary.skipped)),
                    ("not_run", count(summary.dep_failed + summary.cancelled)),
                    ("interrupted", count(summary.interrupted)),
                    ("wall_us", micros(summary.wall)),
                    ("task_us", micros(summary.task_time)),
                    ("critical_path", Value::Array(critical)),
                    ("critical_us", micros(summary.critical_time)),
                ];
                self.emit("run_finished", fields);
                self.flush();
            }
            Event::Remember { .. } | Event::Output { .. } | Event::Tick => {}
        }
    }

    /// Lines go out before the runner waits: a follower sees each event as
    /// soon as nothing else is due, and a busy run writes them in batches.
    fn flush(&mut self) -> Option<Duration> {
        if self.pending && !self.closed {
            self.pending = false;
            if self.out.flush().is_err() {
                self.closed = true;
            }
        }
        None
    }
}
