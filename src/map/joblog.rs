//! `--joblog`: one line per finished job in GNU parallel's format, and
//! reading one back for `--resume` / `--resume-failed` / `--retry-failed`.
//! Tab-separated:
//! `Seq Host Starttime JobRuntime Send Receive Exitval Signal Command`, as in
//! `1 : 1795330792.539      0.001 0 2 0 0 echo 0` (Host is always `:`, the
//! local machine; Send always 0; Receive counts stdout bytes).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::feed::JobSource;
use super::inputs::{InputError, Job};
use crate::exec::Stdin;

const HEADER: &str = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n";

/// One finished job, as the joblog has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    /// `{#}`.
    pub seq: u64,
    /// When its (last) attempt started.
    pub started: SystemTime,
    /// How long that attempt ran.
    pub runtime: Duration,
    /// Bytes it wrote to stdout.
    pub received: u64,
    /// Its exit status (-1 when killed by a signal, as parallel writes).
    pub exit: i32,
    /// The signal that killed it, 0 if none.
    pub signal: i32,
    /// The command line as run.
    pub command: &'a [u8],
}

/// The open joblog.
#[derive(Debug)]
pub struct Joblog {
    file: File,
}

impl Joblog {
    /// Starts a new joblog at `path` (header first), or, when `append`
    /// (resuming), adds to the one there.
    pub fn create(path: &Path, append: bool) -> io::Result<Joblog> {
        let exists = path.metadata().is_ok_and(|m| m.len() > 0);
        let mut file = if append {
            OpenOptions::new().append(true).create(true).open(path)?
        } else {
            File::create(path)?
        };
        if !append || !exists {
            file.write_all(HEADER.as_bytes())?;
        }
        Ok(Joblog { file })
    }

    /// Appends `entry`, whole, in one write.
    pub fn write(&mut self, entry: &Entry) -> io::Result<()> {
        let started = entry.started.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let mut line = format!(
            "{}\t:\t{}.{:03}\t{:>10.3}\t0\t{}\t{}\t{}\t",
            entry.seq,
            started.as_secs(),
            started.subsec_millis(),
            entry.runtime.as_secs_f64(),
            entry.received,
            entry.exit,
            entry.signal
        )
        .into_bytes();
        line.extend_from_slice(entry.command);
        line.push(b'\n');
        self.file.write_all(&line)
    }
}

/// What an earlier joblog says about each job it lists: whether its last
/// line there is a success.
#[derive(Debug, Default)]
pub struct Previous {
    succeeded: HashMap<u64, bool>,
    /// Each job's command line, as its last line lists it.
    commands: HashMap<u64, Vec<u8>>,
}

impl Previous {
    /// Reads the joblog at `path`; a missing file lists nothing.
    pub fn read(path: &Path) -> io::Result<Previous> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Previous::default()),
            Err(e) => return Err(e),
        };
        let mut succeeded = HashMap::new();
        let mut commands = HashMap::new();
        for line in BufReader::new(file).split(b'\n') {
            let line = line?;
            let fields: Vec<&[u8]> = line.splitn(9, |&b| b == b'\t').collect();
            let number = |i: usize| {
                fields.get(i).and_then(|f| std::str::from_utf8(f).ok()?.trim().parse::<i64>().ok())
            };
            // The header and anything unreadable are skipped, as parallel does.
            let (Some(seq), Some(exit), Some(signal)) = (number(0), number(6), number(7)) else {
                continue;
            };
            if seq > 0 {
                succeeded.insert(seq as u64, exit == 0 && signal == 0);
                commands.insert(seq as u64, fields.get(8).map_or_else(Vec::new, |c| c.to_vec()));
            }
        }
        Ok(Previous { succeeded, commands })
    }

    /// `--retry-failed`: the jobs listed as failed, each its command line
    /// as listed, in order.
    pub fn failed_jobs(&self) -> Vec<Job> {
        let mut failed: Vec<Job> = self
            .succeeded
            .iter()
            .filter(|&(_, &succeeded)| !succeeded)
            .map(|(&seq, _)| Job {
                seq,
                args: vec![self.commands.get(&seq).cloned().unwrap_or_default()],
                stdin: Stdin::Null,
            })
            .collect();
        failed.sort_by_key(|job| job.seq);
        failed
    }

    /// Whether job `seq` is listed at all.
    pub fn listed(&self, seq: u64) -> bool {
        self.succeeded.contains_key(&seq)
    }

    /// Whether job `seq` is listed and succeeded.
    pub fn succeeded(&self, seq: u64) -> bool {
        self.succeeded.get(&seq).copied().unwrap_or(false)
    }
}

/// `--retry-failed`'s jobs: those a joblog lists as failed.
pub struct Retried {
    jobs: std::collections::VecDeque<Job>,
    total: u64,
}

impl Retried {
    /// The failed jobs of `previous`.
    pub fn new(previous: &Previous) -> Retried {
        let jobs: std::collections::VecDeque<Job> = previous.failed_jobs().into();
        Retried { total: jobs.len() as u64, jobs }
    }
}

impl JobSource for Retried {
    fn next_job(&mut self) -> Result<Option<Job>, InputError> {
        Ok(self.jobs.pop_front())
    }
    fn total(&self) -> Option<u64> {
        Some(self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_parallels_columns_and_read_back() {
        let dir = std::env::temp_dir().join(format!("maestro-joblog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let mut log = Joblog::create(&path, false).unwrap();
        let started = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_330_792_539);
        let entry = |seq, exit, signal| Entry {
            seq,
            started,
            runtime: Duration::from_micros(1_500),
            received: 2,
            exit,
            signal,
            command: b"echo 'a b'",
        };
        log.write(&entry(1, 0, 0)).unwrap();
        log.write(&entry(2, -1, 9)).unwrap();
        drop(log);
        let mut log = Joblog::create(&path, true).unwrap();
        log.write(&entry(2, 0, 0)).unwrap();
        log.write(&entry(3, 1, 0)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER.trim_end());
        assert_eq!(lines[1], "1\t:\t1795330792.539\t     0.002\t0\t2\t0\t0\techo 'a b'");
        assert_eq!(lines.len(), 5);
        let previous = Previous::read(&path).unwrap();
        assert!(previous.succeeded(1) && previous.succeeded(2) && !previous.succeeded(3));
        assert!(previous.listed(3) && !previous.listed(4));
        assert!(!Previous::read(&dir.join("none")).unwrap().listed(1));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
