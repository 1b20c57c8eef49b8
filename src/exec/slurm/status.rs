//! What Slurm says of a run's jobs: the answers of `squeue` and `sacct`,
//! parsed into one form. Both are asked for all of the run's jobs at once,
//! in a format made to be read back (fields apart by `|`, the job's name
//! last since only a name may hold a `|`).

use std::time::Duration;

use crate::exec::Usage;

/// A job as one status query saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Where it stands.
    pub state: JobState,
    /// Its exit code and signal, once it ended, if the query gives them.
    pub exit: Option<(i32, i32)>,
    /// CPU time and peak memory (KiB), where accounting knows them.
    pub cpu: Option<Duration>,
    /// See `cpu`.
    pub max_rss_kib: Option<u64>,
}

impl JobStatus {
    /// What it used, as far as the query knows.
    pub fn usage(&self) -> Usage {
        Usage { cpu: self.cpu.unwrap_or_default(), max_rss_kib: self.max_rss_kib.unwrap_or(0) }
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for resources (or held).
    Queued,
    /// Its script runs (or is being cleaned up after).
    Running,
    /// Put back in the queue by Slurm (after a node failure, or preempted
    /// with requeue): the attempt goes on under the same job.
    Requeued,
    /// Over.
    Ended(SlurmEnd),
}

/// How Slurm says a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlurmEnd {
    /// COMPLETED: its script exited 0.
    Completed,
    /// FAILED: its script exited non-zero or was killed.
    Failed,
    /// TIMEOUT: it reached its time limit.
    TimeLimit,
    /// OUT_OF_MEMORY.
    OutOfMemory,
    /// NODE_FAIL.
    NodeFailure,
    /// PREEMPTED (without requeue).
    Preempted,
    /// CANCELLED (by a person or an admin, or by maestro).
    Cancelled,
    /// BOOT_FAIL.
    BootFailure,
    /// DEADLINE.
    Deadline,
}

/// The state named by `word` as `squeue %T` or `sacct State` write it
/// (`sacct` adds ` by UID` to CANCELLED); `None` for a word not known.
pub fn state_of(word: &str) -> Option<JobState> {
    let word = word.split_whitespace().next().unwrap_or("");
    let state = match word {
        "PENDING" | "CONFIGURING" | "RESV_DEL_HOLD" | "REQUEUE_HOLD" => JobState::Queued,
        "RUNNING" | "COMPLETING" | "SUSPENDED" | "STOPPED" | "SIGNALING" | "STAGE_OUT"
        | "RESIZING" => JobState::Running,
        "REQUEUED" | "REQUEUE_FED" => JobState::Requeued,
        "COMPLETED" => JobState::Ended(SlurmEnd::Completed),
        "FAILED" | "SPECIAL_EXIT" => JobState::Ended(SlurmEnd::Failed),
        "TIMEOUT" => JobState::Ended(SlurmEnd::TimeLimit),
        "OUT_OF_MEMORY" => JobState::Ended(SlurmEnd::OutOfMemory),
        "NODE_FAIL" => JobState::Ended(SlurmEnd::NodeFailure),
        "PREEMPTED" => JobState::Ended(SlurmEnd::Preempted),
        "CANCELLED" | "REVOKED" => JobState::Ended(SlurmEnd::Cancelled),
        "BOOT_FAIL" => JobState::Ended(SlurmEnd::BootFailure),
        "DEADLINE" => JobState::Ended(SlurmEnd::Deadline),
        _ => return None,
    };
    Some(state)
}

/// `squeue --Format` for [`parse_squeue`]: each field as wide as it is,
/// followed by `|`.
pub const SQUEUE_FORMAT: &str = "JobID:|,State:|,exit_code:|,Name:";

/// Lines of `squeue -h -O SQUEUE_FORMAT`; lines that do not parse (another
/// user's array, a state word not known yet) are left out.
pub fn parse_squeue(text: &str) -> Vec<JobStatus> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(4, '|');
            let id = fields.next()?.trim().parse().ok()?;
            let state = state_of(fields.next()?.trim())?;
            let exit = fields.next()?.trim();
            let name = fields.next()?.trim_end().to_string();
            let exit = match state {
                JobState::Ended(_) => exit.parse::<i32>().ok().map(wait_status),
                _ => None,
            };
            Some(JobStatus { id, name, state, exit, cpu: None, max_rss_kib: None })
        })
        .collect()
}

/// A raw wait status (`squeue`'s `exit_code`: 768 for exit 3, 15 for
/// SIGTERM) as an exit code and a signal.
fn wait_status(status: i32) -> (i32, i32) {
    ((status >> 8) & 0xff, status & 0x7f)
}

/// `sacct`'s fields for [`parse_sacct`].
pub const SACCT_FIELDS: &str = "JobIDRaw,State,ExitCode,TotalCPU,MaxRSS,JobName";

/// Lines of `sacct -n -P -o SACCT_FIELDS` (steps included): one status per
/// job, its usage summed over its steps.
pub fn parse_sacct(text: &str) -> Vec<JobStatus> {
    let mut jobs: Vec<JobStatus> = Vec::new();
    for line in text.lines() {
        let mut fields = line.splitn(6, '|');
        let (Some(id), Some(state), Some(exit), Some(cpu), Some(rss), Some(name)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            continue;
        };
        let (job, step) = match id.split_once('.') {
            Some((job, step)) => (job, Some(step)),
            None => (id, None),
        };
        let Ok(job) = job.parse::<u64>() else { continue };
        let cpu = parse_cpu_time(cpu);
        let rss = parse_memory_kib(rss);
        match step {
            None => {
                let Some(state) = state_of(state) else { continue };
                jobs.push(JobStatus {
                    id: job,
                    name: name.to_string(),
                    state,
                    exit: parse_exit_code(exit),
                    cpu,
                    max_rss_kib: rss,
                });
            }
            Some(_) => {
                // A step: its peak memory counts toward its job's.
                if let Some(status) = jobs.iter_mut().rev().find(|s| s.id == job)
                    && let Some(rss) = rss
                {
                    status.max_rss_kib = Some(status.max_rss_kib.unwrap_or(0).max(rss));
                }
            }
        }
    }
    jobs
}

/// `3:0` (code 3), `0:15` (signal 15).
fn parse_exit_code(text: &str) -> Option<(i32, i32)> {
    let (code, signal) = text.trim().split_once(':')?;
    Some((code.parse().ok()?, signal.parse().ok()?))
}

/// `[DD-][HH:]MM:SS[.mmm]`, as `sacct` writes times.
fn parse_cpu_time(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let (days, rest) = match text.split_once('-') {
        Some((days, rest)) => (days.parse::<u64>().ok()?, rest),
        None => (0, text),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (hours, minutes, seconds) = match parts.as_slice() {
        [h, m, s] => (h.parse::<u64>().ok()?, m.parse::<u64>().ok()?, *s),
        [m, s] => (0, m.parse::<u64>().ok()?, *s),
        _ => return None,
    };
    let seconds: f64 = seconds.parse().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    let whole = ((days * 24 + hours) * 60 + minutes) * 60;
    Some(Duration::from_secs(whole) + Duration::from_secs_f64(seconds))
}

/// `1234K`, `12M`, `1.5G`, `0`: in KiB.
fn parse_memory_kib(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, scale) = match text.as_bytes().last()? {
        b'K' => (&text[..text.len() - 1], 1.0),
        b'M' => (&text[..text.len() - 1], 1024.0),
        b'G' => (&text[..text.len() - 1], 1024.0 * 1024.0),
        b'T' => (&text[..text.len() - 1], 1024.0 * 1024.0 * 1024.0),
        _ => (text, 1.0 / 1024.0),
    };
    let number: f64 = number.parse().ok()?;
    (number.is_finite() && number >= 0.0).then_some((number * scale) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_read_with_names_last() {
        let text = "12|RUNNING|0|train.1.maestro-3-0a1b2c3d\n13|PENDING|0|a|b\n\
                    14|WEIRD|0|x\nnot a line\n15|FAILED|768|f\n16|CANCELLED|15|c\n";
        let jobs = parse_squeue(text);
        assert_eq!(jobs.len(), 4);
        assert_eq!((jobs[0].id, jobs[0].state, jobs[0].exit), (12, JobState::Running, None));
        assert_eq!(jobs[0].name, "train.1.maestro-3-0a1b2c3d");
        assert_eq!((jobs[1].id, jobs[1].name.as_str()), (13, "a|b"));
        assert_eq!(jobs[2].exit, Some((3, 0)));
        assert_eq!(jobs[3].exit, Some((0, 15)));
    }

    #[test]
    fn sacct_lines_merge_their_steps() {
        let text = "\
20|FAILED|3:0|00:01.500||t.1.maestro-1-0a1b2c3d
20.batch|FAILED|3:0|00:01.500|2048K|batch
20.extern|COMPLETED|0:0|00:00:00|1M|extern
21|CANCELLED by 0|0:15|00:00:00||u.1.maestro-1-0a1b2c3d
";
        let jobs = parse_sacct(text);
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].state, JobState::Ended(SlurmEnd::Failed));
        assert_eq!(jobs[0].exit, Some((3, 0)));
        assert_eq!(jobs[0].cpu, Some(Duration::from_millis(1500)));
        assert_eq!(jobs[0].max_rss_kib, Some(2048));
        assert_eq!(jobs[1].state, JobState::Ended(SlurmEnd::Cancelled));
        assert_eq!(jobs[1].exit, Some((0, 15)));
    }

    #[test]
    fn times_and_sizes_in_sacct_s_forms() {
        assert_eq!(parse_cpu_time("1-02:03:04"), Some(Duration::from_secs(93_784)));
        assert_eq!(parse_cpu_time("01:02.250"), Some(Duration::from_millis(62_250)));
        assert_eq!(parse_memory_kib("1.5G"), Some(1_572_864));
        assert_eq!(parse_memory_kib("2048"), Some(2));
        assert_eq!(parse_memory_kib(""), None);
    }
}
