//! The Slurm backend: every attempt one batch job. `start` writes the job
//! script (`script.rs`) beside the run's other state and hands the job to
//! the thread that talks to Slurm (`client.rs`); what that thread learns
//! comes back as the loop's events. The flow's folder is taken to be on a
//! file system the cluster's nodes share: the jobs write their logs and
//! their records there.

mod adopt;
mod client;
pub mod command;
pub mod names;
mod record;
pub mod script;
mod status;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use self::adopt::{JobFile, Orphan, OrphanState};
use self::client::{Client, ClientConfig, News, Order, Submission, Tail};
use self::script::{RecordPaths, job_script, sbatch_options};
use super::{
    ExecEvent, Executor, Handle, Launch, Output, OutputFiles, Termination, Urgency, Watch,
};
use crate::flow::SlurmSettings;
use crate::private;

pub use self::adopt::cancel_orphans;
pub use self::client::StatusSource;

/// What the backend needs to know of the run.
#[derive(Debug, Clone)]
pub struct SlurmRun {
    /// The run's id.
    pub run: u64,
    /// The state directory (`.maestro`).
    pub state_dir: PathBuf,
    /// The `[slurm]` settings.
    pub settings: SlurmSettings,
    /// When the run began.
    pub since: SystemTime,
    /// Variables every job gets (beside `MAESTRO`, where maestro is).
    pub env: Vec<(String, String)>,
}

/// Runs attempts as Slurm jobs.
pub struct SlurmExecutor {
    orders: Option<Sender<Order>>,
    news: Receiver<News>,
    wake: File,
    thread: Option<JoinHandle<()>>,
    next_handle: u64,
    /// `.maestro/jobs/RUN`: job scripts and records.
    jobs_dir: PathBuf,
    jobs_dir_made: bool,
    /// `submitted` in `jobs_dir`: each job's handle and id, for a later
    /// maestro to find the run's jobs by.
    submitted: Option<File>,
    run: u64,
    tag: String,
    /// Variables every job gets (where maestro is, where its state is).
    env: Vec<(String, String)>,
    /// Jobs of earlier runs whose maestro is gone, to reattach to.
    orphans: Vec<Orphan>,
    /// The jobs directories of those runs, removed at the end unless they
    /// still hold a live job nobody reattached to.
    earlier: Vec<(u64, PathBuf)>,
    /// Attempts that are jobs of earlier runs: their output is copied into
    /// their own log when they end.
    adopted: HashMap<Handle, Adopted>,
    /// Events known at once (a success recorded while no maestro ran).
    ready: Vec<ExecEvent>,
}

/// An attempt run by a job of an earlier run.
#[derive(Debug)]
struct Adopted {
    /// The job's log, and this attempt's.
    logs: (PathBuf, PathBuf),
    /// Its `MAESTRO_OUTPUT` file, and this attempt's.
    outputs: Option<(PathBuf, PathBuf)>,
}

impl SlurmExecutor {
    /// A backend for `run`, whose status queries go to `source`. Fails when
    /// Slurm's commands are not here.
    pub fn new(run: &SlurmRun, source: StatusSource) -> io::Result<SlurmExecutor> {
        let env = command::clean_environment();
        let (wake_read, wake_write) = super::signals::pipe(libc::O_CLOEXEC | libc::O_NONBLOCK)?;
        let (orders, orders_in) = mpsc::channel();
        let (news_out, news) = mpsc::channel();
        let tag = names::folder_tag(&run.state_dir);
        let config = ClientConfig {
            settings: run.settings,
            source,
            tag: tag.clone(),
            run: run.run,
            since: run.since,
            env,
        };
        let client = Client::new(config, orders_in, news_out, File::from(wake_write));
        let thread =
            std::thread::Builder::new().name("slurm".into()).spawn(move || client.run())?;
        let mut job_env = run.env.clone();
        if let Ok(exe) = std::env::current_exe() {
            job_env.insert(0, ("MAESTRO".to_string(), exe.to_string_lossy().into_owned()));
        }
        let earlier = adopt::earlier_runs(&run.state_dir, Some(run.run));
        let orphans = if earlier.is_empty() {
            Vec::new()
        } else {
            let live = adopt::live_jobs(&tag, &command::clean_environment(), adopt::LIVE)?;
            adopt::orphans(&earlier, &live)
        };
        Ok(SlurmExecutor {
            orders: Some(orders),
            news,
            wake: File::from(wake_read),
            thread: Some(thread),
            next_handle: 0,
            jobs_dir: run.state_dir.join("jobs").join(run.run.to_string()),
            jobs_dir_made: false,
            submitted: None,
            run: run.run,
            tag,
            env: job_env,
            orphans,
            earlier,
            adopted: HashMap::new(),
            ready: Vec::new(),
        })
    }

    /// Runs `launch` as the job `orphan` of an earlier run: follows it if
    /// it is still queued or running, takes its success if it is done.
    fn adopt(&mut self, launch: Launch, handle: Handle, orphan: Orphan) -> io::Result<()> {
        launch.output.files.open()?;
        let log = launch.output.files.paths().0.to_path_buf();
        let outputs = orphan.file.outputs.clone().zip(outputs_file(&launch));
        self.adopted.insert(handle, Adopted { logs: (orphan.file.log.clone(), log), outputs });
        self.ready.push(ExecEvent::Submitted { handle, id: orphan.job.to_string() });
        match orphan.state {
            OrphanState::Succeeded(cpu) => {
                self.finish_adopted(handle);
                let usage = super::Usage { cpu, max_rss_kib: 0 };
                // Done before this run began: it took no time of this run's.
                let late_by = Duration::ZERO;
                self.ready.push(ExecEvent::Started { handle, late_by });
                self.ready.push(ExecEvent::Ended {
                    handle,
                    termination: Termination::Exited(0),
                    usage,
                    late_by,
                });
            }
            OrphanState::Live => {
                let tails = match launch.output.watch {
                    Watch::No => Vec::new(),
                    _ => vec![Tail { path: orphan.file.log.clone(), stderr: false, offset: 0 }],
                };
                let options = sbatch_options(&launch, &orphan.file.name);
                let submission = Submission {
                    handle,
                    name: orphan.file.name.clone(),
                    options,
                    script: orphan.script.clone(),
                    records: orphan.records.clone(),
                    tails,
                };
                if let Some(orders) = &self.orders {
                    let _ = orders.send(Order::Adopt(submission, orphan.job));
                }
            }
        }
        Ok(())
    }

    /// An adopted attempt ended: what its job wrote goes into its own log
    /// (and `MAESTRO_OUTPUT` file), after a line saying where it came from.
    fn finish_adopted(&mut self, handle: Handle) {
        let Some(adopted) = self.adopted.remove(&handle) else { return };
        let (from, to) = &adopted.logs;
        let copied = (|| -> io::Result<()> {
            let mut log = private::append(to)?;
            let job = from.display();
            writeln!(log, "maestro: reattached to the job of an earlier run; its log: {job}")?;
            log.write_all(&std::fs::read(from)?)
        })();
        if let Err(e) = copied {
            eprintln!("maestro: cannot copy {} into {}: {e}", from.display(), to.display());
        }
        if let Some((from, to)) = &adopted.outputs
            && from.exists()
        {
            let _ = std::fs::copy(from, to);
        }
    }

    /// The attempt's log, made anew for attempt 1, or with the line that
    /// opens a later attempt.
    fn prepare_attempt(&mut self, launch: Launch, handle: Handle) -> io::Result<Submission> {
        if !self.jobs_dir_made {
            private::make_dir(&self.jobs_dir)?;
            self.jobs_dir_made = true;
        }
        launch.output.files.open()?;
        let tails = tails(&launch.output)?;
        let stem = self.jobs_dir.join(handle.0.to_string());
        let records = RecordPaths {
            started: stem.with_extension("started"),
            ended: stem.with_extension("ended"),
        };
        let attempt = match launch.output.files {
            OutputFiles::Log { attempt, .. } => attempt,
            OutputFiles::Appended { .. } | OutputFiles::Inherited => 1,
        };
        let name = names::job_name(&launch.name, attempt, self.run, &self.tag);
        let options = sbatch_options(&launch, &name);
        let mut launch = launch;
        let mut env = self.env.clone();
        env.append(&mut launch.env);
        launch.env = env;
        let job_file = JobFile {
            name: name.clone(),
            task: launch.name.clone(),
            key: adopt::launch_key(&launch),
            log: launch.output.files.paths().0.to_path_buf(),
            outputs: outputs_file(&launch),
        };
        private::create(&stem.with_extension("job"))?.write_all(job_file.text().as_bytes())?;
        let title = format!("maestro run {}: '{}', attempt {attempt}", self.run, launch.name);
        let script = stem.with_extension("sh");
        let mut file = private::create(&script)?;
        file.write_all(&job_script(&launch, &records, &title))?;
        Ok(Submission { handle, name, options, script, records, tails })
    }

    fn note_submitted(&mut self, handle: Handle, job: u64) {
        if self.submitted.is_none() {
            self.submitted = private::append(&self.jobs_dir.join("submitted")).ok();
        }
        if let Some(file) = &mut self.submitted {
            let _ = writeln!(file, "{} {job}", handle.0);
        }
    }
}

impl Executor for SlurmExecutor {
    fn start(&mut self, launch: Launch) -> Result<Handle, String> {
        if launch.stdin.has_data() {
            return Err(super::NO_STDIN_DATA.to_string());
        }
        if launch.output.files == OutputFiles::Inherited {
            return Err("a Slurm job cannot write to maestro's own output".to_string());
        }
        let handle = Handle(self.next_handle);
        self.next_handle += 1;
        if !self.orphans.is_empty() {
            let key = adopt::launch_key(&launch);
            if let Some(at) =
                self.orphans.iter().position(|o| o.file.task == launch.name && o.file.key == key)
            {
                let orphan = self.orphans.swap_remove(at);
                let job = orphan.job;
                return self
                    .adopt(launch, handle, orphan)
                    .map(|()| handle)
                    .map_err(|e| format!("cannot reattach to job {job}: {e}"));
            }
        }
        let log = launch.output.files.paths().0.to_path_buf();
        let submission = self
            .prepare_attempt(launch, handle)
            .map_err(|e| format!("cannot write the job of {}: {e}", log.display()))?;
        let orders = self.orders.as_ref().ok_or("the Slurm backend is closed")?;
        orders
            .send(Order::Submit(submission))
            .map_err(|_| "the Slurm backend stopped".to_string())?;
        Ok(handle)
    }

    fn cancel(&mut self, handle: Handle, urgency: Urgency) {
        // Slurm's jobs are asked to stop (SIGTERM, then SIGKILL after
        // Slurm's own grace), or killed.
        let urgency = match urgency {
            Urgency::Signal(_) => Urgency::Graceful,
            other => other,
        };
        if let Some(orders) = &self.orders {
            let _ = orders.send(Order::Cancel(handle, urgency));
        }
    }

    fn sources(&self, fds: &mut Vec<RawFd>) {
        fds.push(self.wake.as_raw_fd());
    }

    fn queues(&self) -> bool {
        true
    }

    fn deadline(&self) -> Option<std::time::Instant> {
        (!self.ready.is_empty()).then(std::time::Instant::now)
    }

    fn collect(&mut self, events: &mut Vec<ExecEvent>) -> io::Result<()> {
        events.append(&mut self.ready);
        let mut drained = [0u8; 256];
        while matches!((&self.wake).read(&mut drained), Ok(n) if n > 0) {}
        while let Ok(news) = self.news.try_recv() {
            match news {
                News::Submitted(handle, job) => {
                    self.note_submitted(handle, job);
                    events.push(ExecEvent::Submitted { handle, id: job.to_string() });
                }
                News::Refused(handle, why) => events.push(ExecEvent::Rejected { handle, why }),
                News::Started(handle, late_by) => {
                    events.push(ExecEvent::Started { handle, late_by })
                }
                News::Output(handle, bytes, stderr) => {
                    events.push(ExecEvent::Output { handle, bytes, stderr })
                }
                News::Requeued(handle) => events.push(ExecEvent::Requeued { handle }),
                News::Ended(handle, termination, usage, late_by) => {
                    self.finish_adopted(handle);
                    events.push(ExecEvent::Ended { handle, termination, usage, late_by })
                }
            }
        }
        Ok(())
    }
}

impl Drop for SlurmExecutor {
    /// The thread sends the cancels still due, then stops.
    fn drop(&mut self) {
        self.orders = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // The run's jobs are over: their scripts and records go, and so do
        // those of earlier runs, unless one of their jobs runs on with
        // nobody to follow it (a later run, or `maestro cancel`, will).
        let _ = std::fs::remove_dir_all(&self.jobs_dir);
        for (run, dir) in &self.earlier {
            let unfollowed =
                self.orphans.iter().any(|o| o.run == *run && o.state == OrphanState::Live);
            if !unfollowed {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

/// The file the attempt leaves its `MAESTRO_OUTPUT` pairs in, if it has one.
fn outputs_file(launch: &Launch) -> Option<PathBuf> {
    let (_, value) = launch.env.iter().find(|(name, _)| name == "MAESTRO_OUTPUT")?;
    Some(PathBuf::from(value))
}

/// The files of `output` to follow as they grow, from their present ends.
fn tails(output: &Output) -> io::Result<Vec<Tail>> {
    let tail = |path: &PathBuf, stderr: bool| -> io::Result<Tail> {
        let offset = std::fs::metadata(path)?.len();
        Ok(Tail { path: path.clone(), stderr, offset })
    };
    match (&output.files, output.watch) {
        (_, Watch::No) => Ok(Vec::new()),
        (OutputFiles::Log { path, .. }, _) => Ok(vec![tail(path, false)?]),
        (OutputFiles::Appended { stdout, stderr }, Watch::Split) if stdout != stderr => {
            Ok(vec![tail(stdout, false)?, tail(stderr, true)?])
        }
        (OutputFiles::Appended { stdout, .. }, _) => Ok(vec![tail(stdout, false)?]),
        (OutputFiles::Inherited, _) => Ok(Vec::new()),
    }
}

/// Whether Slurm's accounting answers here (`sacct` works): the status
/// source to use when the user did not choose one.
pub fn accounting_works() -> bool {
    let env = command::clean_environment();
    let args: Vec<OsString> = ["-n", "-X", "-j", "1"].iter().map(OsString::from).collect();
    command::run("sacct".as_ref(), &args, &env, Duration::from_secs(20))
        .is_ok_and(|answer| answer.success)
}

/// The most CPUs a node of `partition` (else of the default partition)
/// has; 1 when Slurm does not say.
pub fn node_cpus(partition: Option<&str>) -> u32 {
    let env = command::clean_environment();
    let mut args: Vec<OsString> = ["-h", "-o", "%c"].iter().map(OsString::from).collect();
    if let Some(partition) = partition {
        args.extend([OsString::from("-p"), OsString::from(partition)]);
    }
    command::run("sinfo".as_ref(), &args, &env, Duration::from_secs(20))
        .ok()
        .filter(|answer| answer.success)
        .and_then(|answer| answer.stdout.lines().filter_map(|l| l.trim().parse().ok()).max())
        .unwrap_or(1)
}

/// Whether `sbatch` can be run here; why not, if not.
pub fn check_sbatch() -> Result<(), String> {
    let env = command::clean_environment();
    let args = [OsString::from("--version")];
    match command::run("sbatch".as_ref(), &args, &env, Duration::from_secs(20)) {
        Ok(answer) if answer.success => Ok(()),
        Ok(answer) => Err(format!("sbatch --version failed: {}", answer.stderr)),
        Err(failure) => Err(format!("sbatch: {failure}")),
    }
}

/// The job directory of run `run` in `state_dir`.
pub fn jobs_dir(state_dir: &Path, run: u64) -> PathBuf {
    state_dir.join("jobs").join(run.to_string())
}
