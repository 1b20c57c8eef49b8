//! Reading runs back: `maestro history`, `maestro log` and `maestro report`.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::split_names;
use crate::json::Value;

/// One run, as `maestro history` shows it.
#[derive(Debug, Clone)]
pub struct RunRow {
    /// Its id.
    pub id: i64,
    /// "run" or "par".
    pub kind: String,
    /// The flow's name, for `run`.
    pub flow: Option<String>,
    /// The command line.
    pub argv: Vec<String>,
    /// Start, Unix milliseconds.
    pub started_ms: i64,
    /// End, if it ended.
    pub ended_ms: Option<i64>,
    /// "running", "ok", "failed" or "interrupted".
    pub status: String,
    /// Instances that succeeded.
    pub ok: i64,
    /// Instances that failed.
    pub failed: i64,
    /// Instances skipped (fresh or resumed).
    pub skipped: i64,
    /// Instances not run (a dep failed, or the run stopped).
    pub not_run: i64,
    /// Job slots (unknown for runs recorded before schema version 3).
    pub jobs: Option<i64>,
    /// The critical path's instances, in order (empty when unknown).
    pub critical_path: Vec<String>,
}

impl RunRow {
    fn from_row(row: &Row) -> rusqlite::Result<RunRow> {
        let argv: String = row.get(3)?;
        Ok(RunRow {
            id: row.get(0)?,
            kind: row.get(1)?,
            flow: row.get(2)?,
            argv: argv.split('\n').map(str::to_string).collect(),
            started_ms: row.get(4)?,
            ended_ms: row.get(5)?,
            status: row.get(6)?,
            ok: row.get(7)?,
            failed: row.get(8)?,
            skipped: row.get(9)?,
            not_run: row.get(10)?,
            jobs: row.get(11)?,
            critical_path: row
                .get::<_, Option<String>>(12)?
                .map_or_else(Vec::new, |names| split_names(&names)),
        })
    }

    /// Its JSON form (documented in the README).
    pub fn to_json(&self) -> Value {
        Value::Object(vec![
            ("id", self.id.into()),
            ("kind", self.kind.as_str().into()),
            ("flow", self.flow.clone().into()),
            ("argv", Value::Array(self.argv.iter().map(|a| a.as_str().into()).collect())),
            ("started_ms", self.started_ms.into()),
            ("ended_ms", self.ended_ms.into()),
            ("status", self.status.as_str().into()),
            ("ok", self.ok.into()),
            ("failed", self.failed.into()),
            ("skipped", self.skipped.into()),
            ("not_run", self.not_run.into()),
        ])
    }
}

const RUN_COLUMNS: &str = "id, kind, flow, argv, started_ms, ended_ms, status, ok, failed, \
                           skipped, not_run, jobs, critical_path";

/// The newest `limit` runs, newest first.
pub fn runs(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<RunRow>> {
    let mut statement =
        conn.prepare(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?1"))?;
    let rows = statement.query_map([limit], RunRow::from_row)?;
    rows.collect()
}

/// Run `id`, or the newest run when `id` is `None`.
pub fn run(conn: &Connection, id: Option<i64>) -> rusqlite::Result<Option<RunRow>> {
    conn.query_row(
        &format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE ?1 IS NULL OR id = ?1 ORDER BY id DESC LIMIT 1"
        ),
        [id],
        RunRow::from_row,
    )
    .optional()
}

/// One attempt, as `maestro log` shows it.
#[derive(Debug, Clone)]
pub struct AttemptRow {
    /// Its run.
    pub run_id: i64,
    /// The instance.
    pub instance: String,
    /// Attempt number, from 1.
    pub number: i64,
    /// Start, Unix milliseconds.
    pub started_ms: i64,
    /// End, if it ended.
    pub ended_ms: Option<i64>,
    /// "running", "ok", "failed", "timed_out", "interrupted"...
    pub status: String,
    /// Exit status, when it exited.
    pub exit_code: Option<i64>,
    /// The signal that killed it.
    pub signal: Option<i64>,
    /// What went wrong, in words.
    pub detail: Option<String>,
    /// Wall time, microseconds.
    pub duration_us: Option<i64>,
    /// CPU time of its process tree, microseconds.
    pub cpu_us: Option<i64>,
    /// Peak memory of its largest process, KiB.
    pub max_rss_kib: Option<i64>,
    /// Its cache key.
    pub cache_key: Option<String>,
    /// Its log file.
    pub log: String,
    /// Its `MAESTRO_OUTPUT` pairs, `key=value` lines.
    pub outputs: Option<String>,
    /// The job slots it held, from 1 (empty when unknown: recorded before
    /// schema version 3).
    pub slots: Vec<u32>,
    /// The command line it ran (unknown before schema version 3).
    pub command: Option<String>,
    /// How long it waited in a batch system's queue before it ran,
    /// microseconds (unknown before schema version 4).
    pub queued_us: Option<i64>,
    /// Its id in a batch system (a Slurm job id).
    pub job_id: Option<String>,
    /// The worker it ran on, `host #N` (then `slots` are its slots there).
    pub place: Option<String>,
}

impl AttemptRow {
    fn from_row(row: &Row) -> rusqlite::Result<AttemptRow> {
        Ok(AttemptRow {
            run_id: row.get(0)?,
            instance: row.get(1)?,
            number: row.get(2)?,
            started_ms: row.get(3)?,
            ended_ms: row.get(4)?,
            status: row.get(5)?,
            exit_code: row.get(6)?,
            signal: row.get(7)?,
            detail: row.get(8)?,
            duration_us: row.get(9)?,
            cpu_us: row.get(10)?,
            max_rss_kib: row.get(11)?,
            cache_key: row.get(12)?,
            log: row.get(13)?,
            outputs: row.get(14)?,
            slots: row
                .get::<_, Option<String>>(15)?
                .unwrap_or_default()
                .split(',')
                .filter_map(|slot| slot.parse().ok())
                .collect(),
            command: row.get(16)?,
            queued_us: row.get(17)?,
            job_id: row.get(18)?,
            place: row.get(19)?,
        })
    }

    /// Its JSON form (documented in the README), with the log's text.
    pub fn to_json(&self, log_text: Option<String>) -> Value {
        let outputs = self.outputs.as_deref().unwrap_or("").lines().filter_map(|line| {
            let (key, value) = line.split_once('=')?;
            Some(Value::Array(vec![key.into(), value.into()]))
        });
        Value::Object(vec![
            ("run", self.run_id.into()),
            ("task", self.instance.as_str().into()),
            ("attempt", self.number.into()),
            ("started_ms", self.started_ms.into()),
            ("ended_ms", self.ended_ms.into()),
            ("status", self.status.as_str().into()),
            ("exit_code", self.exit_code.into()),
            ("signal", self.signal.into()),
            ("detail", self.detail.clone().into()),
            ("job_id", self.job_id.clone().into()),
            ("worker", self.place.clone().into()),
            ("queued_us", self.queued_us.into()),
            ("duration_us", self.duration_us.into()),
            ("cpu_us", self.cpu_us.into()),
            ("max_rss_kib", self.max_rss_kib.into()),
            ("cache_key", self.cache_key.clone().into()),
            ("log_path", self.log.as_str().into()),
            ("outputs", Value::Array(outputs.collect())),
            ("log", log_text.into()),
        ])
    }
}

/// The last attempt of `instance`: in run `run`, or in the newest run that
/// has one (found by probing the runs from the newest back: attempts have
/// no index by instance, see schema version 2).
pub fn last_attempt(
    conn: &Connection,
    instance: &str,
    run: Option<i64>,
) -> rusqlite::Result<Option<AttemptRow>> {
    // CROSS JOIN keeps runs as the outer loop, newest first.
    conn.query_row(
        "SELECT a.run_id, a.instance, a.number, a.started_ms, a.ended_ms, a.status, a.exit_code,
                a.signal, a.detail, a.duration_us, a.cpu_us, a.max_rss_kib, a.cache_key, a.log,
                a.outputs, a.slots, a.command, a.queued_us, a.job_id, a.place
         FROM runs r CROSS JOIN attempts a ON a.run_id = r.id AND a.instance = ?1
         WHERE ?2 IS NULL OR r.id = ?2
         ORDER BY r.id DESC, a.number DESC LIMIT 1",
        params![instance, run],
        AttemptRow::from_row,
    )
    .optional()
}

/// The newest run of flow `flow`, if any.
pub fn last_run_of_flow(conn: &Connection, flow: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT id FROM runs WHERE flow = ?1 ORDER BY id DESC LIMIT 1", [flow], |row| {
        row.get(0)
    })
    .optional()
}

/// Every attempt of run `run`, in start order.
pub fn attempts_of_run(conn: &Connection, run: i64) -> rusqlite::Result<Vec<AttemptRow>> {
    let mut statement = conn.prepare(
        "SELECT run_id, instance, number, started_ms, ended_ms, status, exit_code, signal,
                detail, duration_us, cpu_us, max_rss_kib, cache_key, log, outputs, slots, command,
                queued_us, job_id, place
         FROM attempts WHERE run_id = ?1 ORDER BY id",
    )?;
    let rows = statement.query_map([run], AttemptRow::from_row)?;
    rows.collect()
}

/// The instances run `run` did not run, as (kind, name): kinds as in the
/// `skips` table.
pub fn not_run_of_run(conn: &Connection, run: i64) -> rusqlite::Result<Vec<(String, String)>> {
    let mut statement =
        conn.prepare("SELECT kind, instances FROM skips WHERE run_id = ?1 ORDER BY rowid")?;
    let rows = statement
        .query_map([run], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
    let mut all = Vec::new();
    for row in rows {
        let (kind, names) = row?;
        all.extend(split_names(&names).into_iter().map(|name| (kind.clone(), name)));
    }
    Ok(all)
}

/// Runs whose instance names `known_instances` draws from.
const RECENT_RUNS: i64 = 100;

/// The instance names attempted in the last hundred runs (the candidates
/// for "did you mean").
pub fn known_instances(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare(
        "SELECT DISTINCT instance FROM attempts
         WHERE run_id > (SELECT coalesce(max(id), 0) FROM runs) - ?1",
    )?;
    let rows = statement.query_map([RECENT_RUNS], |row| row.get(0))?;
    rows.collect()
}

/// Whether run `id` exists.
pub fn run_exists(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    conn.query_row("SELECT count(*) FROM runs WHERE id = ?1", [id], |row| row.get::<_, i64>(0))
        .map(|n| n > 0)
}
