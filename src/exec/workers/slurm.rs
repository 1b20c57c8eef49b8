//! Workers in Slurm allocations: a few `sbatch` jobs, each running `maestro
//! worker` for as long as its allocation lasts. Enough are kept queued or
//! running while the run has work; a worker stops taking tasks before its
//! allocation's end (`--drain-after`), and another is submitted in its
//! place if work remains; at the run's end, one `scancel` for the rest.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Launcher, Need, last_line};
use crate::exec::Request;
use crate::exec::slurm::command::{self, Answer};
use crate::exec::slurm::names::folder_tag;
use crate::exec::slurm::script::request_options;
use crate::flow::BatchOptions;
use crate::private;
use crate::shell::shell_quote;

/// How long one of Slurm's commands may take.
const COMMAND_LIMIT: Duration = Duration::from_secs(30);
/// How often the launcher asks which of its jobs still exist: while the
/// run waits for workers, and while it has them.
const LOOK_WAITING: Duration = Duration::from_secs(5);
const LOOK_SETTLED: Duration = Duration::from_secs(30);
/// Jobs that end in a row without a worker joining before the run gives up
/// on having any.
const FUTILE_LIMIT: u32 = 3;

/// What the allocations are.
#[derive(Debug, Clone)]
pub struct Allocation {
    /// Workers (allocations) at once.
    pub count: u32,
    /// CPUs of each: the tasks a worker runs at once.
    pub cpus: u32,
    /// Each one's time limit.
    pub time: Duration,
    /// Partition, account, QoS, memory and free-form options.
    pub batch: Arc<BatchOptions>,
}

impl Allocation {
    /// When a worker stops taking tasks: a quarter of its time before the
    /// end, at most 10 minutes before it.
    pub fn drain_after(&self) -> Duration {
        self.time - (self.time / 4).min(Duration::from_secs(600))
    }

    /// `sbatch`'s options for one allocation (without the run's names).
    pub fn options(&self) -> Vec<OsString> {
        let request =
            Request { cpus: self.cpus, time_limit: None, batch: Some(self.batch.clone()) };
        let mut options = request_options(&request);
        options.push(format!("--time={}", self.time.as_secs().div_ceil(60).max(1)).into());
        options
    }
}

/// The worker jobs of one run.
pub struct SlurmLauncher {
    allocation: Allocation,
    script: PathBuf,
    logs: PathBuf,
    name: String,
    env: Vec<(OsString, OsString)>,
    /// Jobs submitted and not yet seen gone.
    jobs: Vec<u64>,
    /// Jobs one of whose workers joined.
    joined: Vec<u64>,
    /// Jobs that ended in a row without a worker joining.
    futile: u32,
    /// Why the last such ended, as its log says.
    futile_why: String,
    next_look: Instant,
    /// Workers in the run at the last tending.
    workers_seen: usize,
    /// A submit limit held submissions back until then.
    held_until: Option<Instant>,
}

impl SlurmLauncher {
    /// Writes the job script for run `run`'s workers, which join with
    /// `join_file`, into the run's `workers` folder.
    pub fn new(
        state_dir: &Path,
        run: u64,
        join_file: &Path,
        allocation: Allocation,
    ) -> std::io::Result<SlurmLauncher> {
        let exe = std::env::current_exe()?;
        let folder = join_file.parent().expect("a join file is in a folder").to_path_buf();
        let script = folder.join(format!("{run}.worker.sh"));
        let quote = |path: &Path| shell_quote(path.as_os_str().as_encoded_bytes());
        let mut text =
            b"#!/bin/sh\n# A maestro worker: it runs the run's tasks until the run ends.\nexec "
                .to_vec();
        text.extend(quote(&exe));
        text.extend(b" worker --join ");
        text.extend(quote(&std::path::absolute(join_file)?));
        text.extend(b" --slots \"${SLURM_CPUS_PER_TASK:-1}\"");
        text.extend(format!(" --drain-after {}s\n", allocation.drain_after().as_secs()).bytes());
        let mut file = private::create(&script)?;
        file.write_all(&text)?;
        drop(file);
        Ok(SlurmLauncher {
            allocation,
            script,
            logs: folder,
            name: format!("worker.maestro-{run}-{}", folder_tag(state_dir)),
            env: command::clean_environment(),
            jobs: Vec::new(),
            joined: Vec::new(),
            futile: 0,
            futile_why: String::new(),
            next_look: Instant::now() + LOOK_WAITING,
            workers_seen: 0,
            held_until: None,
        })
    }

    fn slurm(&self, program: &str, args: &[OsString]) -> Result<Answer, String> {
        command::run(program.as_ref(), args, &self.env, COMMAND_LIMIT)
            .map_err(|failure| format!("{program}: {failure}"))
    }

    /// Submits one worker job; `Ok(false)` when a limit holds it back.
    fn submit(&mut self) -> Result<bool, String> {
        let mut args: Vec<OsString> = vec!["--parsable".into()];
        args.push(format!("--job-name={}", self.name).into());
        let log = self.logs.join(format!("{}.worker-%j.log", self.name));
        args.push(format!("--output={}", log.display()).into());
        args.extend(self.allocation.options());
        args.push(self.script.clone().into());
        let answer = self.slurm("sbatch", &args)?;
        if !answer.success {
            if answer.stderr.contains("Limit") || answer.stderr.contains("limit") {
                return Ok(false);
            }
            return Err(format!("sbatch: {}", answer.stderr));
        }
        let id = answer.stdout.trim().split(';').next().unwrap_or("");
        let id = id.parse().map_err(|_| format!("sbatch said '{}'", answer.stdout.trim()))?;
        self.jobs.push(id);
        Ok(true)
    }

    /// Forgets the jobs Slurm no longer has, noting those that ended
    /// without a worker.
    fn look(&mut self) -> Result<(), String> {
        if self.jobs.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = self.jobs.iter().map(u64::to_string).collect();
        let args: Vec<OsString> = ["-h", "-o", "%i", "-j"]
            .iter()
            .map(OsString::from)
            .chain([OsString::from(list.join(","))])
            .collect();
        let answer = self.slurm("squeue", &args)?;
        // An id squeue no longer knows is an error for the whole list in
        // some versions: then each is looked at alone.
        let alive: Vec<u64> = if answer.success {
            answer.stdout.lines().filter_map(|l| l.trim().parse().ok()).collect()
        } else {
            let mut alive = Vec::new();
            for &job in &self.jobs {
                let one = ["-h", "-o", "%i", "-j"].iter().map(OsString::from);
                let args: Vec<OsString> = one.chain([OsString::from(job.to_string())]).collect();
                if self.slurm("squeue", &args)?.stdout.trim() == job.to_string() {
                    alive.push(job);
                }
            }
            alive
        };
        let gone: Vec<u64> = self.jobs.iter().copied().filter(|j| !alive.contains(j)).collect();
        for job in gone {
            if self.joined.contains(&job) {
                self.futile = 0;
            } else {
                self.futile += 1;
                self.futile_why = self.last_words(job);
            }
        }
        self.jobs = alive;
        Ok(())
    }

    /// The last line a worker job's log holds, for a message.
    fn last_words(&self, job: u64) -> String {
        let log = self.logs.join(format!("{}.worker-{job}.log", self.name));
        match last_line(&std::fs::read(&log).unwrap_or_default()) {
            Some(line) => format!("job {job} ended, its log ({}) says: {line}", log.display()),
            None => format!("job {job} ended with nothing in its log ({})", log.display()),
        }
    }
}

impl Launcher for SlurmLauncher {
    fn tend(&mut self, need: &Need, now: Instant) -> Result<(), String> {
        // A worker left: its job is ending, and another may be needed.
        if need.workers < self.workers_seen {
            self.next_look = self.next_look.min(now + Duration::from_secs(1));
        }
        self.workers_seen = need.workers;
        let looked = now >= self.next_look;
        if looked {
            self.look()?;
            let settled = need.workers as u32 >= self.allocation.count;
            self.next_look = now + if settled { LOOK_SETTLED } else { LOOK_WAITING };
        }
        if self.futile >= FUTILE_LIMIT {
            return Err(format!(
                "no worker could start in a Slurm allocation: {}",
                self.futile_why
            ));
        }
        if need.attempts == 0 || self.held_until.is_some_and(|until| now < until) {
            return Ok(());
        }
        // The jobs of workers draining count until they end.
        while (self.jobs.len() as u32) < self.allocation.count {
            if !self.submit()? {
                self.held_until = Some(now + LOOK_WAITING);
                break;
            }
        }
        Ok(())
    }

    fn joined(&mut self, job: &str) {
        if let Ok(job) = job.parse() {
            self.joined.push(job);
            self.futile = 0;
        }
    }

    fn deadline(&self) -> Option<Instant> {
        Some(self.next_look)
    }

    fn stop(&mut self) {
        if self.jobs.is_empty() {
            return;
        }
        let jobs: Vec<OsString> = self.jobs.iter().map(|j| OsString::from(j.to_string())).collect();
        let _ = self.slurm("scancel", &jobs);
        self.jobs.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allocation(minutes: u64) -> Allocation {
        Allocation {
            count: 2,
            cpus: 4,
            time: Duration::from_secs(minutes * 60),
            batch: Arc::new(BatchOptions {
                partition: Some("short".into()),
                ..BatchOptions::default()
            }),
        }
    }

    #[test]
    fn workers_drain_a_quarter_before_their_end_at_most_ten_minutes() {
        assert_eq!(allocation(1).drain_after(), Duration::from_secs(45));
        assert_eq!(allocation(60).drain_after(), Duration::from_secs(50 * 60));
    }

    #[test]
    fn an_allocation_asks_its_cpus_time_and_table_options() {
        let options: Vec<String> =
            allocation(90).options().iter().map(|o| o.to_string_lossy().into_owned()).collect();
        assert_eq!(options, ["--cpus-per-task=4", "--partition=short", "--time=90"]);
    }
}
