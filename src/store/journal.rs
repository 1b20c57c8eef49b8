//! The ends of a run's attempts, appended to `.maestro/ends-<run>` the
//! moment each is known: one `write` of a line, not a commit (the database
//! takes them in batches, up to 200 ms later). A maestro killed in between
//! loses no end: the next maestro that marks the run interrupted replays
//! the file into the database first, so `--resume` does not run again what
//! had finished. The file goes when the run ends, or once replayed.
//!
//! A line holds the attempt's row, fields apart by tabs, each escaped as a
//! freshness record's are: run, instance, number, started (Unix ms), ended
//! (Unix ms), status, exit code, signal, duration (µs), log, time queued
//! (µs) and job id ('' for none; both missing from the lines of a maestro
//! that did not record them).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use crate::event::Attempt;
use crate::fresh::record::{esc, unesc};
use crate::private;
use crate::store::unix_ms;

/// The journal of one run, made at its first end.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Option<File>,
    /// Writing failed once: later ends are not tried (the database still
    /// gets them).
    broken: bool,
}

impl Journal {
    /// The journal of run `run`, in state directory `dir`.
    pub fn new(dir: &Path, run: u64) -> Journal {
        Journal { path: path(dir, run), file: None, broken: false }
    }

    /// Appends how `attempt` of `instance` ended.
    pub fn record(&mut self, run: u64, instance: &str, attempt: &Attempt) {
        if self.broken {
            return;
        }
        if self.file.is_none() {
            self.file = private::append(&self.path).ok();
        }
        let Some(file) = &mut self.file else {
            self.broken = true;
            return;
        };
        let (status, exit_code, signal) = attempt.outcome.status_fields();
        let number = |n: Option<i32>| n.map_or(String::new(), |n| n.to_string());
        let fields = [
            run.to_string(),
            esc(instance),
            attempt.number.to_string(),
            unix_ms(attempt.started_at).to_string(),
            unix_ms(attempt.ended_at()).to_string(),
            status.to_string(),
            number(exit_code),
            number(signal),
            attempt.duration.as_micros().to_string(),
            esc(&attempt.log.to_string_lossy()),
            attempt.queued.as_micros().to_string(),
            esc(attempt.job_id.as_deref().unwrap_or("")),
        ];
        let line = fields.join("\t") + "\n";
        self.broken = file.write_all(line.as_bytes()).is_err();
    }

    /// The run is over and its ends are in the database: the journal goes.
    pub fn remove(self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn path(dir: &Path, run: u64) -> PathBuf {
    dir.join(format!("ends-{run}"))
}

/// Writes the ends journaled for run `run` (every run's, when `None`) into
/// the database where it has none (the attempt missing, or still
/// "running"), then removes their journals. Run inside a transaction.
pub fn replay(conn: &Connection, dir: &Path, run: Option<i64>) -> rusqlite::Result<Vec<PathBuf>> {
    let journals: Vec<PathBuf> = match run {
        Some(run) => vec![path(dir, run as u64)],
        None => fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| {
                path.file_name()
                    .and_then(|name| name.to_str())
                    .and_then(|name| name.strip_prefix("ends-"))
                    .is_some_and(|run| run.parse::<u64>().is_ok())
            })
            .collect(),
    };
    let mut replayed = Vec::new();
    for journal in journals {
        let Ok(text) = fs::read_to_string(&journal) else { continue };
        for line in text.lines() {
            let Some(fields) = line.split('\t').map(unesc).collect::<Option<Vec<_>>>() else {
                continue;
            };
            if let [
                run,
                instance,
                number,
                started,
                ended,
                status,
                exit_code,
                signal,
                duration,
                log,
                batch @ ..,
            ] = fields.as_slice()
                && batch.len() <= 2
            {
                let optional = |text: &str| text.parse::<i64>().ok();
                let (run, instance, number, started, ended, status, log) = (
                    run.as_ref(),
                    instance.as_ref(),
                    number.as_ref(),
                    started.as_ref(),
                    ended.as_ref(),
                    status.as_ref(),
                    log.as_ref(),
                );
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO attempts (run_id, instance, number, started_ms, status, log)
                     VALUES (?1, ?2, ?3, ?4, 'running', ?5)",
                )?
                .execute(params![run, instance, number, started, log])?;
                conn.prepare_cached(
                    "UPDATE attempts SET ended_ms = ?4, status = ?5, exit_code = ?6, signal = ?7,
                     duration_us = ?8, queued_us = ?9, job_id = ?10,
                     detail = 'recorded by its journal after maestro was killed'
                     WHERE run_id = ?1 AND instance = ?2 AND number = ?3 AND status = 'running'",
                )?
                .execute(params![
                    run,
                    instance,
                    number,
                    ended,
                    status,
                    optional(exit_code),
                    optional(signal),
                    optional(duration),
                    batch.first().and_then(|queued| optional(queued)),
                    batch.get(1).filter(|job| !job.is_empty())
                ])?;
            }
        }
        replayed.push(journal);
    }
    Ok(replayed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_survive_escaping() {
        for text in ["plain", "a\tb", "a\nb", "back\\slash", "\\t", ""] {
            assert_eq!(unesc(&esc(text)).as_deref(), Some(text));
            assert!(!esc(text).contains(['\t', '\n']));
        }
    }
}
