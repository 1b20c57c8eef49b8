//! The records a job script leaves (see `script.rs`), read back. They are
//! how maestro learns that an attempt started and how it ended without
//! waiting for Slurm's accounting, and without trusting the timestamps of
//! a shared file system: each is written beside its place and renamed into
//! it, so a record that is there is whole.

use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How the job script saw its command end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndRecord {
    /// The command ran and exited with this status (`128 + N` when the
    /// shell saw it killed by signal N).
    Exited {
        /// Its status as `$?` gave it.
        status: i32,
        /// The CPU time of the command and what it started.
        cpu: Duration,
        /// Whether the job was sent SIGTERM while the command ran: Slurm
        /// stopping it (a cancel, its time limit, its node failing before
        /// a requeue), whose word on the end then counts more than this.
        signalled: bool,
        /// When it ended, by the node's clock, if the record says.
        at: Option<SystemTime>,
    },
    /// The command could not be started (its directory is missing).
    Refused(String),
}

/// The end record at `path`: `None` while there is none.
pub fn read_end(path: &Path) -> io::Result<Option<EndRecord>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_end(&text)
            .map(Some)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable end record")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// When the job began, by the start record at `path` (the node's clock):
/// `None` while there is no record, or no readable time in it.
pub fn read_start(path: &Path) -> Option<SystemTime> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_time(text.lines().next()?)
}

/// `1733449125.123456789`, as `date +%s.%N` writes it.
fn parse_time(text: &str) -> Option<SystemTime> {
    let (seconds, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let seconds: u64 = seconds.parse().ok()?;
    let digits = fraction.get(..fraction.len().min(9))?;
    let nanos: u32 = if digits.is_empty() {
        0
    } else {
        digits.parse::<u32>().ok()? * 10u32.pow(9 - digits.len() as u32)
    };
    UNIX_EPOCH.checked_add(Duration::new(seconds, nanos))
}

fn parse_end(text: &str) -> Option<EndRecord> {
    let mut lines = text.lines();
    let first = lines.next()?;
    if let Some(why) = first.strip_prefix("refused ") {
        return Some(EndRecord::Refused(why.to_string()));
    }
    let rest = first.strip_prefix("exit ")?.trim();
    let (status, signalled) = match rest.strip_suffix(" signalled") {
        Some(status) => (status, true),
        None => (rest, false),
    };
    let status: i32 = status.trim().parse().ok()?;
    let at = lines.next().and_then(parse_time);
    let _own_times = lines.next();
    // The second line of `times`: the children's user and system time.
    let cpu = lines.next().map(children_cpu).unwrap_or_default();
    Some(EndRecord::Exited { status, cpu, signalled, at })
}

/// `0m1.500000s 0m0.250000s` (dash) or `0m1.500s 0m0.250s` (bash): their sum.
fn children_cpu(line: &str) -> Duration {
    line.split_whitespace().filter_map(minutes_seconds).sum()
}

fn minutes_seconds(text: &str) -> Option<Duration> {
    let (minutes, seconds) = text.strip_suffix('s')?.split_once('m')?;
    let minutes: u64 = minutes.parse().ok()?;
    let seconds: f64 = seconds.parse().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    Some(Duration::from_secs(minutes * 60) + Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_read_back_with_their_cpu_time() {
        let dash = "exit 3\n1733449125.5\n0m0.001000s 0m0.002000s\n1m1.500000s 0m0.250000s\n";
        assert_eq!(
            parse_end(dash),
            Some(EndRecord::Exited {
                status: 3,
                cpu: Duration::from_millis(61_750),
                signalled: false,
                at: Some(UNIX_EPOCH + Duration::from_millis(1_733_449_125_500)),
            })
        );
        let bash = "exit 0\n1733449125.5\n0m0.001s 0m0.002s\n0m0.500s 0m0.250s\n";
        assert_eq!(
            parse_end(bash),
            Some(EndRecord::Exited {
                status: 0,
                cpu: Duration::from_millis(750),
                signalled: false,
                at: Some(UNIX_EPOCH + Duration::from_millis(1_733_449_125_500)),
            })
        );
        assert_eq!(
            parse_end("refused cannot run in /x: no such directory\n"),
            Some(EndRecord::Refused("cannot run in /x: no such directory".into()))
        );
        assert!(matches!(
            parse_end("exit 143 signalled\n1\n0m0s 0m0s\n0m0s 0m0s\n"),
            Some(EndRecord::Exited { status: 143, signalled: true, .. })
        ));
        assert_eq!(parse_end("exit \n"), None);
        assert_eq!(parse_end(""), None);
    }

    #[test]
    fn start_times_read_to_the_nanosecond() {
        let at = |s, n| Some(UNIX_EPOCH + Duration::new(s, n));
        assert_eq!(parse_time("1733449125.123456789"), at(1733449125, 123_456_789));
        assert_eq!(parse_time("1733449125.5\n"), at(1733449125, 500_000_000));
        assert_eq!(parse_time("1733449125"), at(1733449125, 0));
        assert_eq!(parse_time("1733449125.%N"), None);
        assert_eq!(parse_time("-1.5"), None);
        assert_eq!(parse_time(""), None);
    }
}
