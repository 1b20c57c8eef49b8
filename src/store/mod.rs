//! What runs leave on disk, in `.maestro/` beside the flow file: the SQLite
//! database `state.db` (runs, attempts, what each task last did, file
//! hashes) and the per-run log directories `logs/<run>/`.
//!
//! The database is in WAL mode with `synchronous = NORMAL`: a commit is
//! atomic and survives maestro being killed at any moment (only a power
//! loss may drop the last commits), and no commit waits for the disk.

pub mod journal;
pub mod lock;
pub mod query;
pub mod recorder;
pub mod schema;

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Error, Result};
use crate::fresh::{FileStamp, Record, Remembered, Unfinished};
use crate::{liveness, private};
use foldhash::HashMap as FastMap;

pub use lock::{LockMode, RunLock};

/// How many successful durations are kept per task.
const RECENT_DURATIONS: usize = 5;

/// The state directory for a flow whose file is in `base`.
pub fn state_dir(base: &Path) -> PathBuf {
    base.join(".maestro")
}

/// Marks run `?1` (every run when it is NULL) interrupted if recorded as
/// running, with its attempts recorded as running; those of a flow no
/// longer vouch for their task's last success.
const MARK_INTERRUPTED: [&str; 3] = [
    "UPDATE tasks SET failed_last = 2, record = NULL
        WHERE (flow, instance) IN (
            SELECT r.flow, a.instance FROM attempts a JOIN runs r ON r.id = a.run_id
            WHERE a.status = 'running' AND r.flow IS NOT NULL
            AND (?1 IS NULL OR a.run_id = ?1))",
    "UPDATE attempts SET status = 'interrupted', detail = 'maestro was killed'
        WHERE status = 'running' AND (?1 IS NULL OR run_id = ?1)",
    "UPDATE runs SET status = 'interrupted',
        ok = (SELECT count(*) FROM attempts a WHERE a.run_id = runs.id AND a.status = 'ok'),
        failed = (SELECT count(DISTINCT instance) FROM attempts a
                  WHERE a.run_id = runs.id AND a.status != 'ok'
                  AND a.instance NOT IN (SELECT instance FROM attempts b
                                         WHERE b.run_id = runs.id AND b.status = 'ok')),
        skipped = (SELECT coalesce(sum(length(instances)
                           - length(replace(instances, char(10), ''))), 0)
                   FROM skips s
                   WHERE s.run_id = runs.id AND s.kind IN ('fresh', 'resumed', 'joblog'))
        WHERE status = 'running' AND (?1 IS NULL OR id = ?1)",
];

/// An open state database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    dir: PathBuf,
    path: PathBuf,
}

/// What is known of a run when it starts.
#[derive(Debug, Clone)]
pub struct RunStart {
    /// "run" or "par".
    pub kind: &'static str,
    /// The flow's name in the store (its file name), for `run`.
    pub flow: Option<String>,
    /// The command line.
    pub argv: Vec<String>,
    /// Job slots.
    pub jobs: u32,
}

/// What earlier runs left about one instance.
#[derive(Debug, Clone, Default)]
pub struct TaskHistory {
    /// Its last success and whether it failed since.
    pub remembered: Remembered,
    /// Its latest successful durations, newest first.
    pub recent: Vec<Duration>,
}

impl Store {
    /// Opens (creating if needed) the database in `dir`, migrating an
    /// older file. A file that is not a maestro database, or is from a
    /// newer maestro, is an error and is left untouched.
    pub fn open(dir: &Path) -> Result<Store> {
        private::dir(dir)?;
        let path = dir.join("state.db");
        // Made 0600 before SQLite opens it: its WAL and index files take
        // the database's mode.
        private::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .and_then(|_| private::tighten(&path))
            .map_err(|e| Error::io("cannot create", &path, e))?;
        let conn = Connection::open(&path).map_err(|e| state_error(&path, &e))?;
        let store = Store { conn, dir: dir.to_path_buf(), path };
        store.check_and_migrate()?;
        Ok(store)
    }

    fn check_and_migrate(&self) -> Result<()> {
        let not_ours = |what: String| Error::State {
            path: self.path.clone(),
            message: format!("not a maestro state database ({what})"),
            hint: Some(format!(
                "move it away, or delete {} to start without history",
                self.dir.display()
            )),
        };
        let read = |pragma: &str| -> rusqlite::Result<i64> {
            self.conn.query_row(&format!("PRAGMA {pragma}"), [], |row| row.get(0))
        };
        let application_id = read("application_id").map_err(|e| not_ours(e.to_string()))?;
        let version = read("user_version").map_err(|e| not_ours(e.to_string()))?;
        let tables: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
            .map_err(|e| not_ours(e.to_string()))?;
        let fresh_file = application_id == 0 && version == 0 && tables == 0;
        if !fresh_file && application_id != i64::from(schema::APPLICATION_ID) {
            return Err(not_ours("an SQLite file of something else".into()));
        }
        if version > schema::LATEST {
            return Err(Error::State {
                path: self.path.clone(),
                message: format!(
                    "written by a newer maestro (schema version {version}; this one knows up to {})",
                    schema::LATEST
                ),
                hint: Some("use that newer maestro here, or upgrade this one".into()),
            });
        }
        let e = |e: rusqlite::Error| state_error(&self.path, &e);
        // Read through SQLite's page cache, not mmap: a mapped database's
        // pages stay resident as a run goes on (100,000 tasks: 16 MB of a
        // 101 MB peak), for no time measured on a run or a dry run.
        self.conn
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .map_err(e)?;
        self.conn.busy_timeout(Duration::from_secs(30)).map_err(e)?;
        // The WAL is folded into the database as it grows (every 1000 pages),
        // not at every close: closing then costs nothing, and a no-op run
        // does not rewrite pages it did not change.
        self.conn
            .set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(e)?;
        if version < schema::LATEST {
            let mut sql = String::from("BEGIN IMMEDIATE;");
            for migration in &schema::MIGRATIONS[version as usize..] {
                sql.push_str(migration);
            }
            sql.push_str(&format!(
                "PRAGMA application_id = {}; PRAGMA user_version = {}; COMMIT;",
                schema::APPLICATION_ID,
                schema::LATEST
            ));
            if let Err(error) = self.conn.execute_batch(&sql) {
                let _ = self.conn.execute_batch("ROLLBACK");
                return Err(e(error));
            }
        }
        Ok(())
    }

    /// The state directory (`.maestro`) the database is in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for the recorder and queries.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Marks runs and attempts still recorded as running as interrupted:
    /// their maestro died without finishing them. Call only while holding
    /// the lock exclusively (no other maestro can be running them).
    pub fn mark_interrupted(&self) -> Result<()> {
        self.mark_runs_interrupted(None)
    }

    /// Marks as interrupted the runs recorded as running whose maestro is
    /// gone (see [`liveness::still_running`]), while other maestros may run
    /// here: what `mark_interrupted` does for the runs known dead.
    pub fn mark_gone_runs_interrupted(&self) -> Result<()> {
        for (run, pid, started_ms) in self.running_runs()? {
            if !liveness::still_running(pid, started_ms) {
                self.mark_runs_interrupted(Some(run))?;
            }
        }
        Ok(())
    }

    /// The runs recorded as running whose maestro is alive, with its pid.
    pub fn live_runs(&self) -> Result<Vec<(u64, i32)>> {
        Ok(self
            .running_runs()?
            .into_iter()
            .filter(|&(_, pid, started_ms)| liveness::still_running(pid, started_ms))
            .map(|(run, pid, _)| (run as u64, pid as i32))
            .collect())
    }

    /// The runs recorded as running: id, pid of their maestro, start (ms).
    fn running_runs(&self) -> Result<Vec<(i64, i64, i64)>> {
        let e = |e: rusqlite::Error| state_error(&self.path, &e);
        let mut statement = self
            .conn
            .prepare("SELECT id, pid, started_ms FROM runs WHERE status = 'running'")
            .map_err(e)?;
        let running = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .map_err(e)?
            .collect::<rusqlite::Result<_>>()
            .map_err(e)?;
        Ok(running)
    }

    /// Where `map` run `run` keeps its jobs' output while it runs.
    pub fn map_output_dir(&self, run: u64) -> PathBuf {
        self.dir.join(format!("map-{run}"))
    }

    /// Removes the output directories of `map` runs that are over: a map
    /// removes its own when it ends, but a SIGKILL gives it no chance. A
    /// run recorded as running whose maestro is alive keeps its own.
    pub fn remove_finished_map_dirs(&self) -> Result<()> {
        let Ok(entries) = fs::read_dir(&self.dir) else { return Ok(()) };
        let e = |e: rusqlite::Error| state_error(&self.path, &e);
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(run) = name.to_str().and_then(|n| n.strip_prefix("map-")) else { continue };
            let Ok(run) = run.parse::<i64>() else { continue };
            let alive: Option<(i64, i64)> = self
                .conn
                .query_row(
                    "SELECT pid, started_ms FROM runs WHERE id = ?1 AND status = 'running'",
                    [run],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(e)?;
            if alive.is_none_or(|(pid, started_ms)| !liveness::still_running(pid, started_ms)) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        Ok(())
    }

    /// [`MARK_INTERRUPTED`] for run `run`, or for every run.
    fn mark_runs_interrupted(&self, run: Option<i64>) -> Result<()> {
        let e = |e: rusqlite::Error| state_error(&self.path, &e);
        let transaction = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )
        .map_err(e)?;
        // Ends the killed maestro knew but had not committed come first.
        let replayed = journal::replay(&transaction, &self.dir, run).map_err(e)?;
        for statement in MARK_INTERRUPTED {
            transaction.execute(statement, [run]).map_err(e)?;
        }
        transaction.commit().map_err(e)?;
        for journal in replayed {
            let _ = fs::remove_file(journal);
        }
        Ok(())
    }

    /// Starts a run: its id and its log directory, made by the runner when
    /// a first task starts (a run that finds everything fresh leaves no
    /// empty directory behind). Ids count up past every run recorded and
    /// every log directory present (from runs this database does not know);
    /// the write transaction makes two maestros starting at once take two.
    pub fn begin_run(&self, start: &RunStart) -> Result<(u64, PathBuf)> {
        let e = |e: rusqlite::Error| state_error(&self.path, &e);
        let transaction = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )
        .map_err(e)?;
        let last: Option<i64> =
            transaction.query_row("SELECT max(id) FROM runs", [], |row| row.get(0)).map_err(e)?;
        let logs = self.dir.join("logs");
        let id = last.unwrap_or(0).max(0) as u64 + 1;
        let id = id.max(last_log_dir(&logs)? + 1);
        transaction
            .execute(
                "INSERT INTO runs (id, kind, flow, argv, pid, started_ms, status, jobs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7)",
                params![
                    id as i64,
                    start.kind,
                    start.flow,
                    start.argv.join("\n"),
                    std::process::id(),
                    unix_ms(SystemTime::now()),
                    start.jobs
                ],
            )
            .map_err(e)?;
        transaction.commit().map_err(e)?;
        Ok((id, logs.join(id.to_string())))
    }

    /// What earlier runs of `flow` left about each of its instances.
    pub fn task_history(&self, flow: &str) -> Result<FastMap<String, TaskHistory>> {
        let e = |e: rusqlite::Error| state_error(&self.path, &e);
        let mut statement = self
            .conn
            .prepare("SELECT instance, recent_us, failed_last, record FROM tasks WHERE flow = ?1")
            .map_err(e)?;
        let rows = statement
            .query_map([flow], |row| {
                let instance: String = row.get(0)?;
                let recent: String = row.get(1)?;
                let failed_last: i64 = row.get(2)?;
                let record: Option<String> = row.get(3)?;
                Ok((instance, recent, failed_last, record))
            })
            .map_err(e)?;
        let mut history = FastMap::default();
        for row in rows {
            let (instance, recent, failed_last, record) = row.map_err(e)?;
            let recent = recent
                .split(',')
                .filter_map(|us| us.parse().ok())
                .map(Duration::from_micros)
                .collect();
            let record = record.as_deref().and_then(Record::decode).map(Box::new);
            let unfinished = Unfinished::from_store(failed_last);
            history.insert(
                instance,
                TaskHistory { remembered: Remembered { record, unfinished }, recent },
            );
        }
        Ok(history)
    }

    /// Every file stamp recorded.
    pub fn file_stamps(&self) -> Result<FastMap<OsString, FileStamp>> {
        let e = |e: rusqlite::Error| state_error(&self.path, &e);
        let mut statement = self
            .conn
            .prepare("SELECT path, size, mtime_ns, inode, hash, hashed_ns FROM files")
            .map_err(e)?;
        let rows = statement
            .query_map([], |row| {
                let path: String = row.get(0)?;
                let hash = row.get_ref(4)?.as_blob()?;
                Ok((
                    OsString::from(path),
                    FileStamp {
                        size: row.get::<_, i64>(1)? as u64,
                        mtime_ns: row.get(2)?,
                        inode: row.get::<_, i64>(3)? as u64,
                        // A malformed hash matches no content: the file is re-hashed.
                        hash: hash.try_into().map_or(0, u128::from_le_bytes),
                        hashed_at_ns: row.get(5)?,
                    },
                ))
            })
            .map_err(e)?;
        rows.collect::<rusqlite::Result<_>>().map_err(e)
    }

    /// Saves stamps taken during a run.
    pub fn save_file_stamps<'a>(
        &self,
        stamps: impl Iterator<Item = (&'a Path, &'a FileStamp)>,
    ) -> Result<()> {
        let e = |e: rusqlite::Error| state_error(&self.path, &e);
        let transaction = self.conn.unchecked_transaction().map_err(e)?;
        {
            let mut insert = transaction
                .prepare(
                    "INSERT OR REPLACE INTO files (path, size, mtime_ns, inode, hash, hashed_ns)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(e)?;
            for (path, stamp) in stamps {
                insert
                    .execute(params![
                        path.to_string_lossy(),
                        stamp.size as i64,
                        stamp.mtime_ns,
                        stamp.inode as i64,
                        stamp.hash.to_le_bytes(),
                        stamp.hashed_at_ns
                    ])
                    .map_err(e)?;
            }
        }
        transaction.commit().map_err(e)
    }

    /// For `--resume`: of the instances `names`, those whose latest known
    /// state, across the runs of `flow`, is a good finish (succeeded, found
    /// fresh, or skipped as done), each with the run that says so. A run
    /// that never got to an instance (killed first, even before it recorded
    /// anything) says nothing of it: an earlier one does. `None` when the
    /// flow never ran.
    pub fn done_before(&self, flow: &str, names: &[&str]) -> Result<Option<HashMap<String, u64>>> {
        let e = |e: rusqlite::Error| state_error(&self.path, &e);
        let mut runs = self
            .conn
            .prepare("SELECT id FROM runs WHERE flow = ?1 AND kind = 'run' ORDER BY id DESC")
            .map_err(e)?;
        let runs: Vec<i64> = runs
            .query_map([flow], |row| row.get(0))
            .map_err(e)?
            .collect::<rusqlite::Result<_>>()
            .map_err(e)?;
        if runs.is_empty() {
            return Ok(None);
        }
        let mut undecided: HashSet<&str> = names.iter().copied().collect();
        let mut done = HashMap::new();
        let mut attempts = self
            .conn
            .prepare(
                "SELECT instance, max(status = 'ok') FROM attempts WHERE run_id = ?1
                 GROUP BY instance",
            )
            .map_err(e)?;
        let mut skipped = self
            .conn
            .prepare(
                "SELECT instances FROM skips WHERE run_id = ?1 AND kind IN ('fresh', 'resumed')",
            )
            .map_err(e)?;
        for run in runs {
            let ran: Vec<(String, bool)> = attempts
                .query_map([run], |row| Ok((row.get(0)?, row.get(1)?)))
                .map_err(e)?
                .collect::<rusqlite::Result<_>>()
                .map_err(e)?;
            for (name, succeeded) in ran {
                if undecided.remove(name.as_str()) && succeeded {
                    done.insert(name, run as u64);
                }
            }
            for names in skipped.query_map([run], |row| row.get::<_, String>(0)).map_err(e)? {
                for name in split_names(&names.map_err(e)?) {
                    if undecided.remove(name.as_str()) {
                        done.insert(name, run as u64);
                    }
                }
            }
            if undecided.is_empty() {
                break;
            }
        }
        Ok(Some(done))
    }
}

/// The highest numbered directory in `logs` (0 if none, or no `logs`).
fn last_log_dir(logs: &Path) -> Result<u64> {
    let entries = match fs::read_dir(logs) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io("cannot read", logs, e)),
    };
    Ok(entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap_or(0))
}

/// Durations as stored: microseconds, comma-separated, in the order given.
pub fn format_recent(durations: &[Duration]) -> String {
    durations.iter().map(|d| d.as_micros().to_string()).collect::<Vec<_>>().join(",")
}

/// The newest `RECENT_DURATIONS` of `recent` (newest first) after adding
/// `latest`.
pub fn push_recent(recent: &[Duration], latest: Duration) -> Box<[Duration]> {
    let kept = &recent[..recent.len().min(RECENT_DURATIONS - 1)];
    std::iter::once(latest).chain(kept.iter().copied()).collect()
}

/// Instance names as one text: one per line, `\` and newlines escaped.
pub fn join_names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut text = String::new();
    for name in names {
        text.push_str(&name.replace('\\', "\\\\").replace('\n', "\\n"));
        text.push('\n');
    }
    text
}

/// The names `join_names` joined.
pub fn split_names(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let mut name = String::with_capacity(line.len());
            let mut chars = line.chars();
            while let Some(c) = chars.next() {
                match (c, c == '\\') {
                    (_, true) => name.push(if chars.next() == Some('n') { '\n' } else { '\\' }),
                    (c, false) => name.push(c),
                }
            }
            name
        })
        .collect()
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A database error, as the user sees it.
pub fn state_error(path: &Path, error: &rusqlite::Error) -> Error {
    let message = match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => {
            return Error::State {
                path: path.to_path_buf(),
                message: "not a maestro state database (not an SQLite file)".into(),
                hint: Some("move it away, or delete its directory to start without history".into()),
            };
        }
        Some(rusqlite::ErrorCode::DatabaseBusy) => format!("busy for too long: {error}"),
        _ => error.to_string(),
    };
    Error::State { path: path.to_path_buf(), message, hint: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_state(name: &str) -> PathBuf {
        let base =
            std::env::temp_dir().join(format!("maestro-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        state_dir(&base)
    }

    #[test]
    fn run_ids_count_up_and_skip_taken_ones() {
        let state = temp_state("ids");
        let store = Store::open(&state).unwrap();
        let start = RunStart { kind: "par", flow: None, argv: vec!["maestro".into()], jobs: 1 };
        assert_eq!(store.begin_run(&start).unwrap().0, 1);
        assert_eq!(store.begin_run(&start).unwrap().0, 2);
        fs::create_dir_all(state.join("logs/7")).unwrap();
        let (id, dir) = store.begin_run(&start).unwrap();
        assert_eq!(id, 8);
        assert!(dir.ends_with("logs/8"));
        fs::remove_dir_all(state.parent().unwrap()).unwrap();
    }

    #[test]
    fn names_survive_joining() {
        let names = ["a", "b:x\ny", "c\\d", "e\\n"];
        let text = join_names(names);
        assert_eq!(text.matches('\n').count(), 4);
        assert_eq!(split_names(&text), names);
    }

    #[test]
    fn recent_durations_keep_the_newest_five() {
        let mut recent: Box<[Duration]> = Box::default();
        for ms in 1..=7 {
            recent = push_recent(&recent, Duration::from_millis(ms));
        }
        assert_eq!(format_recent(&recent), "7000,6000,5000,4000,3000");
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_and_kept() {
        let state = temp_state("notdb");
        fs::create_dir_all(&state).unwrap();
        fs::write(state.join("state.db"), "precious notes, not SQLite at all\n".repeat(200))
            .unwrap();
        let error = Store::open(&state).unwrap_err().render();
        assert!(error.contains("not a maestro state database"), "{error}");
        let kept = fs::read_to_string(state.join("state.db")).unwrap();
        assert!(kept.starts_with("precious notes"));
        fs::remove_dir_all(state.parent().unwrap()).unwrap();
    }

    #[test]
    fn another_programs_sqlite_file_is_refused() {
        let state = temp_state("other");
        fs::create_dir_all(&state).unwrap();
        let other = Connection::open(state.join("state.db")).unwrap();
        other.execute_batch("CREATE TABLE notes (text TEXT)").unwrap();
        drop(other);
        let error = Store::open(&state).unwrap_err().render();
        assert!(error.contains("an SQLite file of something else"), "{error}");
        fs::remove_dir_all(state.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let state = temp_state("newer");
        drop(Store::open(&state).unwrap());
        let conn = Connection::open(state.join("state.db")).unwrap();
        conn.execute_batch(&format!("PRAGMA user_version = {}", schema::LATEST + 1)).unwrap();
        drop(conn);
        let error = Store::open(&state).unwrap_err().render();
        assert!(error.contains("written by a newer maestro"), "{error}");
        fs::remove_dir_all(state.parent().unwrap()).unwrap();
    }
}
