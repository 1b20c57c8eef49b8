//! A run as the store recorded it, with the totals the report page and the
//! trace show: read back after the run (or during it, from another shell),
//! so every view of a run draws from the same rows.

use std::io::{Read, Seek, SeekFrom};

use rusqlite::Connection;

use crate::store::query::{self, AttemptRow, RunRow};

/// One run, loaded.
#[derive(Debug, Clone)]
pub struct RecordedRun {
    /// The run's row.
    pub run: RunRow,
    /// Its attempts, in start order.
    pub attempts: Vec<AttemptRow>,
    /// What it did not run: (why, instance), `why` as the store says it
    /// ("fresh", "resumed", "joblog", "filtered", "dep_failed", "cancelled").
    pub not_run: Vec<(String, String)>,
    /// The run's end, Unix ms: when it ended, else the last moment an
    /// attempt is known to have run (a run still going, or cut short).
    pub end_ms: i64,
    /// With workers, the timeline's rows: each worker's slots (`host #N`,
    /// slot), in the order of the workers' numbers; else empty.
    pub lanes: Vec<(String, u32)>,
}

/// The totals of a recorded run.
#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    /// From the run's start to its end (or its last sign of life).
    pub wall_ms: f64,
    /// The attempts' durations, summed.
    pub task_ms: f64,
    /// `task_ms / wall_ms`.
    pub speedup: f64,
    /// Slot time taken by attempts over the slot time there was, 0 to 1.
    pub utilisation: f64,
    /// The critical path's instances' attempts, summed.
    pub critical_ms: f64,
}

impl RecordedRun {
    /// Run `id`, or the newest one.
    pub fn load(conn: &Connection, id: Option<i64>) -> rusqlite::Result<Option<RecordedRun>> {
        let Some(run) = query::run(conn, id)? else { return Ok(None) };
        let attempts = query::attempts_of_run(conn, run.id)?;
        let not_run = query::not_run_of_run(conn, run.id)?;
        let last_seen = attempts.iter().map(|a| a.ended_ms.unwrap_or(a.started_ms)).max();
        let end_ms = run.ended_ms.or(last_seen).unwrap_or(run.started_ms).max(run.started_ms);
        let lanes = lanes(&attempts);
        Ok(Some(RecordedRun { run, attempts, not_run, end_ms, lanes }))
    }

    /// The timeline's rows: job slots (as recorded, else the highest slot an
    /// attempt held), or with workers, their slots.
    pub fn jobs(&self) -> u32 {
        if !self.lanes.is_empty() {
            return self.lanes.len() as u32;
        }
        let recorded = self.run.jobs.and_then(|jobs| u32::try_from(jobs).ok());
        let seen = self.attempts.iter().flat_map(|a| a.slots.iter().copied()).max();
        recorded.or(seen).unwrap_or(1).max(1)
    }

    /// Row `row`'s name: `slot 3`, or with workers `host #2 · 1`.
    pub fn row_name(&self, row: u32) -> String {
        match self.lanes.get(row as usize - 1) {
            Some((worker, slot)) => format!("{worker} · {slot}"),
            None => format!("slot {row}"),
        }
    }

    /// When `attempt` was launched, ms after the run's start.
    pub fn offset_ms(&self, attempt: &AttemptRow) -> f64 {
        (attempt.started_ms - self.run.started_ms).max(0) as f64
    }

    /// When `attempt` began to run, ms after the run's start: after its
    /// wait in a batch system's queue.
    pub fn ran_from_ms(&self, attempt: &AttemptRow) -> f64 {
        self.offset_ms(attempt) + queued_ms(attempt)
    }

    /// How long `attempt` ran, if it ended (runs recorded before schema
    /// version 2 have only its end).
    pub fn ran_ms(&self, attempt: &AttemptRow) -> Option<f64> {
        match (attempt.duration_us, attempt.ended_ms) {
            (Some(us), _) => Some(us as f64 / 1000.0),
            (None, Some(end)) => Some((end - attempt.started_ms).max(0) as f64),
            (None, None) => None,
        }
    }

    /// How long `attempt` ran; one that never ended ran until the run's end.
    pub fn duration_ms(&self, attempt: &AttemptRow) -> f64 {
        self.ran_ms(attempt).unwrap_or_else(|| (self.end_ms - attempt.started_ms).max(0) as f64)
    }

    /// The rows `attempt` is drawn on: its slots (slot 1 when not
    /// recorded), or with workers its worker's slots' rows (none when it
    /// never reached a worker).
    pub fn slots_of(&self, attempt: &AttemptRow) -> Vec<u32> {
        if !self.lanes.is_empty() {
            let Some(worker) = &attempt.place else { return Vec::new() };
            return attempt
                .slots
                .iter()
                .filter_map(|&slot| self.lanes.iter().position(|(w, s)| w == worker && *s == slot))
                .map(|row| row as u32 + 1)
                .collect();
        }
        if attempt.slots.is_empty() { vec![1] } else { attempt.slots.clone() }
    }

    /// Whether `index` is the last attempt of its instance.
    pub fn finals(&self) -> Vec<bool> {
        let mut seen = std::collections::HashSet::new();
        let mut finals = vec![false; self.attempts.len()];
        for (i, attempt) in self.attempts.iter().enumerate().rev() {
            finals[i] = seen.insert(attempt.instance.as_str());
        }
        finals
    }

    /// Wall time, task time, speedup, utilisation and the critical path's length.
    pub fn totals(&self) -> Totals {
        let wall_ms = (self.end_ms - self.run.started_ms).max(0) as f64;
        let task_ms: f64 = self.attempts.iter().map(|a| self.duration_ms(a)).sum();
        let slot_ms: f64 =
            self.attempts.iter().map(|a| self.duration_ms(a) * self.slots_of(a).len() as f64).sum();
        let critical: std::collections::HashSet<&str> =
            self.run.critical_path.iter().map(String::as_str).collect();
        let critical_ms = self
            .attempts
            .iter()
            .filter(|a| critical.contains(a.instance.as_str()))
            .map(|a| self.duration_ms(a))
            .sum();
        let ratio = |part: f64, whole: f64| if whole > 0.0 { part / whole } else { 0.0 };
        Totals {
            wall_ms,
            task_ms,
            speedup: ratio(task_ms, wall_ms),
            utilisation: ratio(slot_ms, wall_ms * f64::from(self.jobs())).min(1.0),
            critical_ms,
        }
    }
}

/// The workers' slots that attempts held, ordered by worker number
/// (`host #N`) and slot; empty when no attempt ran on a worker.
fn lanes(attempts: &[AttemptRow]) -> Vec<(String, u32)> {
    let mut lanes: Vec<(String, u32)> = attempts
        .iter()
        .filter_map(|a| a.place.as_ref().map(|worker| (worker, &a.slots)))
        .flat_map(|(worker, slots)| slots.iter().map(move |&slot| (worker.clone(), slot)))
        .collect();
    let number = |worker: &str| -> u64 {
        worker.rsplit('#').next().and_then(|n| n.parse().ok()).unwrap_or(u64::MAX)
    };
    lanes.sort_by(|a, b| (number(&a.0), &a.0, a.1).cmp(&(number(&b.0), &b.0, b.1)));
    lanes.dedup();
    lanes
}

/// How long `attempt` waited in a batch system's queue before it ran, ms
/// (zero when not recorded: locally, or before schema version 4).
pub fn queued_ms(attempt: &AttemptRow) -> f64 {
    attempt.queued_us.unwrap_or(0).max(0) as f64 / 1000.0
}

/// The most of a log's end shown per attempt.
const TAIL_BYTES: u64 = 2048;
/// The most lines of it.
const TAIL_LINES: usize = 20;
/// Retried instances share one log, each attempt after the first under a
/// separator line; logs bigger than this are not split per attempt.
const SPLIT_LOG_LIMIT: u64 = 4 << 20;

/// The end of an attempt's log, as the report shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogEnd {
    /// The last lines attempt `number` wrote (empty when the log is gone,
    /// or was not kept).
    pub tail: String,
    /// The whole log's size, when it is there.
    pub bytes: Option<u64>,
}

/// The end of what attempt `number` of an instance wrote to `log`;
/// `is_last` when no later attempt appended to the same log.
pub fn log_end(log: &str, number: i64, is_last: bool) -> LogEnd {
    if log.is_empty() {
        return LogEnd::default();
    }
    let Ok(mut file) = std::fs::File::open(log) else { return LogEnd::default() };
    let Ok(size) = file.metadata().map(|m| m.len()) else { return LogEnd::default() };
    LogEnd { tail: tail_of(&mut file, size, number, is_last), bytes: Some(size) }
}

fn tail_of(file: &mut std::fs::File, size: u64, number: i64, is_last: bool) -> String {
    let section = if is_last {
        let start = size.saturating_sub(TAIL_BYTES);
        let mut bytes = Vec::new();
        if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
            return String::new();
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        // Cut mid-file: the first line is likely partial.
        let text = match (start > 0, text.find('\n')) {
            (true, Some(newline)) => text[newline + 1..].to_string(),
            _ => text,
        };
        after_separator(&text, number)
    } else {
        if size > SPLIT_LOG_LIMIT {
            return String::new();
        }
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() {
            return String::new();
        }
        attempt_section(&String::from_utf8_lossy(&bytes), number)
    };
    last_lines(&section, TAIL_LINES)
}

fn separator(number: i64) -> String {
    format!("maestro: --- attempt {number} ---\n")
}

/// The part of a log's end written by attempt `number`, its last.
fn after_separator(text: &str, number: i64) -> String {
    match text.rfind(&separator(number)) {
        Some(at) => text[at + separator(number).len()..].to_string(),
        None => text.to_string(),
    }
}

/// The part of a whole log attempt `number` wrote.
fn attempt_section(text: &str, number: i64) -> String {
    let start = if number <= 1 {
        0
    } else {
        match text.find(&separator(number)) {
            Some(at) => at + separator(number).len(),
            None => return String::new(),
        }
    };
    let rest = &text[start..];
    let end = rest.find(&separator(number + 1)).unwrap_or(rest.len());
    rest[..end].to_string()
}

fn last_lines(text: &str, count: usize) -> String {
    let trimmed = text.strip_suffix('\n').unwrap_or(text);
    let start = trimmed.rmatch_indices('\n').nth(count - 1).map_or(0, |(at, _)| at + 1);
    text[start..].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_keeps_the_end() {
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(last_lines("a\nb\nc", 2), "b\nc");
        assert_eq!(last_lines("a\n", 5), "a\n");
        assert_eq!(last_lines("", 5), "");
    }

    #[test]
    fn each_attempt_gets_its_own_section_of_a_shared_log() {
        let log = "one\nmaestro: --- attempt 2 ---\ntwo\nmaestro: --- attempt 3 ---\nthree\n";
        assert_eq!(attempt_section(log, 1), "one\n");
        assert_eq!(attempt_section(log, 2), "two\n");
        assert_eq!(after_separator(log, 3), "three\n");
        assert_eq!(after_separator("only\n", 1), "only\n");
    }

    #[test]
    fn tails_come_from_the_file() {
        let dir = std::env::temp_dir().join(format!("maestro-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.log");
        let lines: String = (1..=50).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, format!("first\nmaestro: --- attempt 2 ---\n{lines}")).unwrap();
        let path = path.to_str().unwrap();
        assert_eq!(log_end(path, 1, false).tail, "first\n");
        let end = log_end(path, 2, true);
        assert_eq!(end.bytes, Some(std::fs::metadata(path).unwrap().len()));
        let tail = end.tail;
        assert!(tail.starts_with("line 31\n") && tail.ends_with("line 50\n"), "{tail}");
        assert_eq!(log_end("", 1, true), LogEnd::default());
        assert_eq!(log_end(&format!("{path}.missing"), 1, true), LogEnd::default());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
