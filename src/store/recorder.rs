//! Writes a run into the database as it happens, from its events. Writes
//! are batched: a transaction opens at the first write and commits at a
//! `flush` (which the runner calls before it waits for anything) once
//! `COMMIT_EVERY` has passed since the last commit. A SIGKILL of maestro
//! therefore loses at most that much of the run: attempts that ended in
//! it show as interrupted (their start was committed) or not at all (a
//! resumed run then runs them again).
//!
//! An attempt's end is written at the next `flush` rather than when it is
//! received: the runner calls `flush` once it has started what that end
//! freed a slot for, so the write is not between a task's end and the
//! next task's start (when dispatching no-op tasks, that gap is time a core
//! spends idle).

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use rusqlite::{Connection, params};

use super::journal::Journal;
use super::{format_recent, join_names, push_recent, unix_ms};
use crate::event::{Attempt, Event, InstanceNames, NotRunReason, Observer, Outcome, Skip};
use crate::fresh::Unfinished;

/// The longest a written event waits for its commit. Every commit appends
/// each page it dirtied to the WAL; at 50 ms apart, commits were a tenth of
/// maestro's own CPU time when dispatching 5,000 no-op tasks, at 200 ms a
/// third of that.
const COMMIT_EVERY: Duration = Duration::from_millis(200);

/// Records one run.
pub struct Recorder<'a> {
    conn: &'a Connection,
    names: &'a dyn InstanceNames,
    run_id: u64,
    /// The flow's name, for what is remembered per task; `None` for `par`.
    flow: Option<String>,
    /// When the open transaction began, if one is open.
    transaction_since: Option<Instant>,
    /// Skipped instances not written yet, by kind: written one row per
    /// kind per commit (a no-op run of 10,000 tasks writes a few rows,
    /// not 10,000).
    skips: Vec<(&'static str, Vec<Cow<'a, str>>)>,
    /// Attempts started since the last commit, not written yet, by
    /// (instance, attempt number): one that also ends before the commit is
    /// written once, whole.
    started: HashMap<(usize, u32), Started>,
    /// Each instance's recent successful durations, newest first, kept
    /// here so that a success needs no read.
    recent: Vec<Box<[Duration]>>,
    /// Instances that succeeded in this run: their durations are written
    /// at its end, in one sorted pass (a write per success, scattered over
    /// the table, cost 2% of dispatching a no-op task). A killed maestro
    /// loses them: they only weigh the scheduling of later runs.
    succeeded: Vec<usize>,
    /// Attempts that ended since the last flush, in the order they ended.
    ended: Vec<Ended>,
    /// The first write that failed; later ones are not attempted.
    error: Option<rusqlite::Error>,
    /// Where each end goes at once, for a killed maestro's successor.
    journal: Option<Journal>,
}

/// An ended attempt, until it is written.
struct Ended {
    instance: usize,
    attempt: Attempt,
    /// Its start, if not written yet.
    start: Option<Started>,
}

/// An attempt's start, as it will be written.
struct Started {
    started_ms: i64,
    slots: String,
    command: String,
    key: Option<String>,
    log: String,
}

impl<'a> Recorder<'a> {
    /// A recorder for run `run_id` (already begun in the store); `recent`
    /// holds each instance's recorded durations (see `TaskHistory`).
    pub fn new(
        conn: &'a Connection,
        names: &'a dyn InstanceNames,
        run_id: u64,
        flow: Option<String>,
        recent: Vec<Box<[Duration]>>,
    ) -> Self {
        Recorder {
            conn,
            names,
            run_id,
            flow,
            transaction_since: None,
            skips: Vec::new(),
            started: HashMap::new(),
            succeeded: Vec::new(),
            recent,
            ended: Vec::new(),
            error: None,
            journal: None,
        }
    }

    /// Journals every end the moment it is known (see [`Journal`]).
    pub fn with_journal(mut self, journal: Journal) -> Self {
        self.journal = Some(journal);
        self
    }

    /// The first write that failed, if any.
    pub fn error(&self) -> Option<&rusqlite::Error> {
        self.error.as_ref()
    }

    /// Runs `what` in the open transaction, after the ends still pending
    /// (so that writes happen in the order of their events).
    fn write(&mut self, what: impl FnOnce(&Connection, i64) -> rusqlite::Result<()>) {
        self.write_ended();
        self.write_now(what);
    }

    fn write_now(&mut self, what: impl FnOnce(&Connection, i64) -> rusqlite::Result<()>) {
        if self.error.is_some() {
            return;
        }
        self.begin();
        if self.error.is_none()
            && let Err(error) = what(self.conn, self.run_id as i64)
        {
            self.error = Some(error);
        }
    }

    /// Opens the write transaction if none is open: `flush` then commits it
    /// within `COMMIT_EVERY`.
    fn begin(&mut self) {
        if self.transaction_since.is_some() || self.error.is_some() {
            return;
        }
        match self.conn.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => self.transaction_since = Some(Instant::now()),
            Err(error) => self.error = Some(error),
        }
    }

    fn name(&self, instance: usize) -> Cow<'a, str> {
        self.names.name(instance)
    }
}

impl Observer for Recorder<'_> {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::AttemptStarted { instance, attempt, slots, command, log, key } => {
                let start = Started {
                    started_ms: unix_ms(SystemTime::now()),
                    slots: join_slots(slots),
                    command: String::from_utf8_lossy(command).into_owned(),
                    key: key.clone(),
                    log: log.to_string_lossy().into_owned(),
                };
                self.started.insert((*instance, *attempt), start);
                // Written at the commit that the next flush schedules.
                self.begin();
            }
            Event::AttemptFinished { instance, attempt, .. } => {
                let start = self.started.remove(&(*instance, attempt.number));
                if self.flow.is_some() && attempt.outcome.succeeded() {
                    self.recent[*instance] = push_recent(&self.recent[*instance], attempt.duration);
                    self.succeeded.push(*instance);
                }
                if let Some(journal) = &mut self.journal {
                    journal.record(self.run_id, &self.names.name(*instance), attempt);
                }
                let attempt = (*attempt).clone();
                self.ended.push(Ended { instance: *instance, attempt, start });
                // Written at the next flush, in the transaction opened here.
                self.begin();
            }
            Event::Remember { instance, record } => {
                let Some(flow) = self.flow.clone() else { return };
                let name = self.name(*instance);
                let record = record.encode();
                self.write(|conn, _| {
                    conn.prepare_cached(
                        "INSERT INTO tasks (flow, instance, record) VALUES (?1, ?2, ?3)
                         ON CONFLICT (flow, instance) DO UPDATE SET record = ?3",
                    )?
                    .execute(params![flow, name, record])?;
                    Ok(())
                });
            }
            Event::Skipped { instance, why } => {
                let kind = match why {
                    Skip::Fresh => "fresh",
                    Skip::Resumed { .. } => "resumed",
                    Skip::Joblog => "joblog",
                    Skip::Filtered => "filtered",
                };
                self.skipped(*instance, kind);
            }
            Event::NotRun { instance, reason } => {
                let kind = match reason {
                    NotRunReason::DepFailed => "dep_failed",
                    NotRunReason::Cancelled => "cancelled",
                };
                self.skipped(*instance, kind);
            }
            Event::RunFinished { summary } => {
                let status = summary.status_word();
                let counts = [
                    summary.succeeded,
                    summary.failed.len(),
                    summary.skipped,
                    summary.dep_failed + summary.cancelled + summary.interrupted,
                ]
                .map(|n| n as i64);
                let critical: Vec<Cow<str>> =
                    summary.critical_path.iter().map(|&i| self.name(i)).collect();
                let critical_path = join_names(critical.iter().map(AsRef::as_ref));
                self.write_durations();
                self.write(|conn, run| {
                    conn.execute(
                        "UPDATE runs SET ended_ms = ?2, status = ?3, ok = ?4, failed = ?5,
                         skipped = ?6, not_run = ?7, critical_path = ?8 WHERE id = ?1",
                        params![
                            run,
                            unix_ms(SystemTime::now()),
                            status,
                            counts[0],
                            counts[1],
                            counts[2],
                            counts[3],
                            critical_path
                        ],
                    )?;
                    Ok(())
                });
                self.commit();
                if self.error.is_none()
                    && let Some(journal) = self.journal.take()
                {
                    journal.remove();
                }
            }
            Event::RunStarted { .. }
            | Event::Output { .. }
            | Event::Interrupted { .. }
            | Event::Tick => {}
        }
    }

    fn flush(&mut self) -> Option<Duration> {
        self.write_ended();
        let since = self.transaction_since?;
        let due = since + COMMIT_EVERY;
        let now = Instant::now();
        if now >= due {
            self.commit();
            None
        } else {
            Some(due - now)
        }
    }
}

impl Recorder<'_> {
    fn write_ended(&mut self) {
        for Ended { instance, attempt, start } in std::mem::take(&mut self.ended) {
            let name = self.name(instance);
            let flow = self.flow.clone();
            self.write_now(|conn, run| {
                write_attempt(conn, run, &name, &attempt, start.as_ref())?;
                match flow {
                    Some(flow) if !attempt.outcome.succeeded() => {
                        let how = match attempt.outcome {
                            Outcome::Interrupted => Unfinished::Interrupted,
                            _ => Unfinished::Failed,
                        };
                        forget_success(conn, &flow, &name, how)
                    }
                    _ => Ok(()),
                }
            });
        }
    }

    fn write_durations(&mut self) {
        let Some(flow) = self.flow.clone() else { return };
        let names = self.names;
        // In name order, the table's: the instances sorted, not a copy of
        // their names and durations (a big run's would weigh megabytes).
        let mut succeeded = std::mem::take(&mut self.succeeded);
        succeeded.sort_unstable_by(|&a, &b| names.name(a).cmp(&names.name(b)));
        // Lent to the write, which holds the recorder.
        let recent = std::mem::take(&mut self.recent);
        self.write(|conn, _| {
            let mut upsert = conn.prepare_cached(
                "INSERT INTO tasks (flow, instance, recent_us, failed_last) VALUES (?1, ?2, ?3, 0)
                 ON CONFLICT (flow, instance) DO UPDATE SET recent_us = ?3, failed_last = 0",
            )?;
            for &i in &succeeded {
                upsert.execute(params![flow, names.name(i), format_recent(&recent[i])])?;
            }
            Ok(())
        });
        self.recent = recent;
    }

    fn skipped(&mut self, instance: usize, kind: &'static str) {
        let name = self.name(instance);
        match self.skips.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, names)) => names.push(name),
            None => self.skips.push((kind, vec![name])),
        }
        // Written at the commit that the next flush schedules.
        self.begin();
    }

    fn commit(&mut self) {
        for ((instance, number), start) in std::mem::take(&mut self.started) {
            let name = self.name(instance);
            self.write(|conn, run| {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO attempts
                     (run_id, instance, number, started_ms, status, cache_key, log, slots, command)
                     VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    run,
                    name,
                    number,
                    start.started_ms,
                    start.key,
                    start.log,
                    start.slots,
                    start.command
                ])?;
                Ok(())
            });
        }
        for (kind, names) in std::mem::take(&mut self.skips) {
            let names = join_names(names.iter().map(AsRef::as_ref));
            self.write(|conn, run| {
                conn.prepare_cached(
                    "INSERT INTO skips (run_id, kind, instances) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![run, kind, names])?;
                Ok(())
            });
        }
        if self.transaction_since.take().is_some()
            && self.error.is_none()
            && let Err(error) = self.conn.execute_batch("COMMIT")
        {
            self.error = Some(error);
        }
    }
}

/// Writes an ended attempt: whole if its start is still unwritten, else
/// over the row its start left.
fn write_attempt(
    conn: &Connection,
    run: i64,
    name: &str,
    attempt: &Attempt,
    start: Option<&Started>,
) -> rusqlite::Result<()> {
    let (status, exit_code, signal) = attempt.outcome.status_fields();
    let detail = (!attempt.outcome.succeeded()).then(|| attempt.outcome.to_string());
    let outputs: String = attempt.outputs.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    // Where the attempt's output is kept, as it ended ('' when it was not).
    let log = attempt.log.to_string_lossy();
    let ended = unix_ms(attempt.ended_at());
    let ends = params![
        run,
        name,
        attempt.number,
        ended,
        status,
        exit_code,
        signal,
        detail,
        attempt.duration.as_micros() as i64,
        attempt.usage.cpu.as_micros() as i64,
        attempt.usage.max_rss_kib as i64,
        outputs,
        log,
        attempt.queued.as_micros() as i64,
        attempt.job_id,
        attempt.place.as_ref().map(|place| place.lane.as_str()),
        attempt.place.as_ref().map(|place| join_slots(&place.slots))
    ];
    match start {
        None => conn
            .prepare_cached(
                "UPDATE attempts SET ended_ms = ?4, status = ?5, exit_code = ?6, signal = ?7,
                 detail = ?8, duration_us = ?9, cpu_us = ?10, max_rss_kib = ?11, outputs = ?12,
                 log = ?13, queued_us = ?14, job_id = ?15, place = ?16,
                 slots = COALESCE(?17, slots)
                 WHERE run_id = ?1 AND instance = ?2 AND number = ?3",
            )?
            .execute(ends)?,
        Some(start) => {
            let mut all = ends.to_vec();
            all.extend(params![start.started_ms, start.key, start.slots, start.command]);
            conn.prepare_cached(
                "INSERT OR REPLACE INTO attempts
                 (run_id, instance, number, ended_ms, status, exit_code, signal, detail,
                  duration_us, cpu_us, max_rss_kib, outputs, log, queued_us, job_id, place,
                  started_ms, cache_key, slots, command)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                         ?18, ?19, COALESCE(?17, ?20), ?21)",
            )?
            .execute(rusqlite::params_from_iter(all))?
        }
    };
    Ok(())
}

/// `1,3`: slot numbers as stored.
fn join_slots(slots: &[u32]) -> String {
    let mut text = String::new();
    for slot in slots {
        if !text.is_empty() {
            text.push(',');
        }
        text.push_str(&slot.to_string());
    }
    text
}

/// A failed attempt may have left its outputs half written: its task's
/// last success no longer vouches for them.
fn forget_success(
    conn: &Connection,
    flow: &str,
    name: &str,
    how: Unfinished,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO tasks (flow, instance, failed_last, record) VALUES (?1, ?2, ?3, NULL)
         ON CONFLICT (flow, instance) DO UPDATE SET failed_last = ?3, record = NULL",
    )?
    .execute(params![flow, name, how as i64])?;
    Ok(())
}
