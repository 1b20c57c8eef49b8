//! The one thread that talks to Slurm for a run, so that the loop never
//! waits on the controller. It is polite, as cluster admins ask:
//! submissions at a bounded rate, a transient error retried after a
//! growing, jittered wait (and never a second job for one attempt: after an
//! error that leaves it unclear whether the job was taken, the job is
//! looked up by name first), a submit limit taken as a reason to wait, one
//! status query for all of the run's jobs per cycle at an interval that
//! grows while nothing happens, and the jobs' own records read in between.

use std::collections::{HashMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime};

use super::command::{self, Answer, Failure};
use super::names::parse_job_name;
use super::record::{EndRecord, read_end, read_start};
use super::script::RecordPaths;
use super::status::{
    JobState, JobStatus, SACCT_FIELDS, SQUEUE_FORMAT, SlurmEnd, parse_sacct, parse_squeue,
};
use crate::exec::{BatchEnd, Handle, Termination, Urgency, Usage};
use crate::flow::SlurmSettings;

/// How long one of Slurm's commands may take before it is given up.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// Tries of a submission that keeps meeting transient errors.
const SUBMIT_TRIES: u32 = 10;

/// Polls in a row a job may be missing from before it is taken as gone.
const MISSING_POLLS: u32 = 3;

/// What the executor asks of the thread.
#[derive(Debug)]
pub enum Order {
    /// Submit a job.
    Submit(Submission),
    /// Follow a job submitted before (by an earlier run).
    Adopt(Submission, u64),
    /// Stop an attempt.
    Cancel(Handle, Urgency),
}

/// One job to submit.
#[derive(Debug)]
pub struct Submission {
    /// The attempt.
    pub handle: Handle,
    /// The job's name.
    pub name: String,
    /// `sbatch`'s options.
    pub options: Vec<OsString>,
    /// The job script.
    pub script: PathBuf,
    /// Where the script records the attempt's start and end.
    pub records: RecordPaths,
    /// Output files whose new bytes come to maestro as they are written.
    pub tails: Vec<Tail>,
}

/// An output file followed as it grows.
#[derive(Debug, Clone)]
pub struct Tail {
    /// The file.
    pub path: PathBuf,
    /// Whether it holds stderr.
    pub stderr: bool,
    /// How much of it was read (or was there before the attempt).
    pub offset: u64,
}

/// What the thread tells the executor.
#[derive(Debug)]
pub enum News {
    /// The attempt's job was taken, under this id.
    Submitted(Handle, u64),
    /// The attempt never ran: why.
    Refused(Handle, String),
    /// It runs, and began this long ago.
    Started(Handle, Duration),
    /// It wrote this (to stderr if so), in a followed file.
    Output(Handle, Vec<u8>, bool),
    /// It waits to run again.
    Requeued(Handle),
    /// It ended, this long ago.
    Ended(Handle, Termination, Usage, Duration),
}

/// Which command tells how jobs stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusSource {
    /// `sacct`: Slurm's database, which keeps ended jobs and spares the
    /// controller.
    Sacct,
    /// `squeue -t all`: the controller, which forgets ended jobs after
    /// `MinJobAge`; where there is no accounting.
    Squeue,
}

/// What the thread needs to know.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Intervals, rates, waits.
    pub settings: SlurmSettings,
    /// Where job states come from.
    pub source: StatusSource,
    /// This folder's tag in job names.
    pub tag: String,
    /// The run's id.
    pub run: u64,
    /// When the run began: `sacct` is asked for jobs since then.
    pub since: SystemTime,
    /// The environment of Slurm's commands.
    pub env: Vec<(OsString, OsString)>,
}

/// An attempt whose job the thread follows.
#[derive(Debug)]
struct Followed {
    job: u64,
    records: RecordPaths,
    started: bool,
    /// Status queries in a row that did not list it.
    missing: u32,
    /// Since when its record is waited for: Slurm said it ended, or
    /// stopped listing it, while its record was not there yet.
    record_awaited_since: Option<Instant>,
    /// The submission, should a preempted job need to go in again.
    submission: Submission,
}

/// The thread's state.
pub struct Client {
    config: ClientConfig,
    orders: Receiver<Order>,
    news: Sender<News>,
    wake: File,
    queue: VecDeque<(Submission, u32)>,
    followed: HashMap<Handle, Followed>,
    cancels: Vec<(Handle, Urgency)>,
    next_submit: Instant,
    /// A submit limit or a transient error holds submissions until then.
    held_until: Option<Instant>,
    next_check: Instant,
    next_poll: Option<Instant>,
    poll_interval: Duration,
    warned: std::collections::HashSet<String>,
}

impl Client {
    /// A client taking `orders`, telling `news`, and writing a byte to
    /// `wake` after news.
    pub fn new(
        config: ClientConfig,
        orders: Receiver<Order>,
        news: Sender<News>,
        wake: File,
    ) -> Client {
        let now = Instant::now();
        let poll_interval = config.settings.poll_min;
        Client {
            config,
            orders,
            news,
            wake,
            queue: VecDeque::new(),
            followed: HashMap::new(),
            cancels: Vec::new(),
            next_submit: now,
            held_until: None,
            next_check: now,
            next_poll: None,
            poll_interval,
            warned: Default::default(),
        }
    }

    /// Serves orders until the executor is gone, then sends what cancels
    /// it left.
    pub fn run(mut self) {
        loop {
            let wait = self.next_wake().map(|at| at.saturating_duration_since(Instant::now()));
            let order = match wait {
                Some(wait) => self.orders.recv_timeout(wait),
                None => self.orders.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match order {
                Ok(order) => self.take(order),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.send_cancels();
                    return;
                }
            }
            self.take_waiting_orders();
            self.send_cancels();
            self.submit_due();
            let now = Instant::now();
            if now >= self.next_check {
                self.check_records();
            }
            if self.next_poll.is_some_and(|at| now >= at) {
                self.poll();
            }
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        let mut wake: Option<Instant> = None;
        let mut sooner = |at: Instant| wake = Some(wake.map_or(at, |w| w.min(at)));
        if !self.queue.is_empty() {
            sooner(self.held_until.unwrap_or(self.next_submit).max(self.next_submit));
        }
        if !self.followed.is_empty() {
            sooner(self.next_check);
        }
        if let Some(at) = self.next_poll {
            sooner(at);
        }
        wake
    }

    fn take_waiting_orders(&mut self) {
        while let Ok(order) = self.orders.try_recv() {
            self.take(order);
        }
    }

    fn take(&mut self, order: Order) {
        match order {
            Order::Submit(submission) => self.queue.push_back((submission, 0)),
            Order::Adopt(submission, job) => self.follow(submission, job),
            Order::Cancel(handle, urgency) => {
                if let Some(at) = self.queue.iter().position(|(s, _)| s.handle == handle) {
                    self.queue.remove(at);
                    self.tell(News::Refused(handle, "cancelled before it was submitted".into()));
                } else {
                    self.cancels.push((handle, urgency));
                }
            }
        }
    }

    fn tell(&mut self, news: News) {
        if self.news.send(news).is_ok() {
            // A full pipe already wakes the loop.
            let _ = (&self.wake).write(&[1]);
        }
    }

    /// Says `message` on stderr, once per `kind`.
    fn warn(&mut self, kind: &str, message: &str) {
        if self.warned.insert(kind.to_string()) {
            eprintln!("maestro: {message}");
        }
    }

    /// `scancel`, once for every job asked to stop gracefully: Slurm's own
    /// graceful stop (TERM to every process of a running job, KILL after
    /// its `KillWait`; a queued job just goes). Jobs asked to stop at once
    /// get KILL now, and are taken as ended without waiting for Slurm to
    /// say so: a second Ctrl-C does not wait.
    fn send_cancels(&mut self) {
        if self.cancels.is_empty() {
            return;
        }
        let cancels = std::mem::take(&mut self.cancels);
        let jobs_of =
            |urgency: Urgency, followed: &HashMap<Handle, Followed>| -> Vec<(Handle, u64)> {
                cancels
                    .iter()
                    .filter(|(_, u)| *u == urgency)
                    .filter_map(|(handle, _)| followed.get(handle).map(|f| (*handle, f.job)))
                    .collect()
            };
        let graceful = jobs_of(Urgency::Graceful, &self.followed);
        if !graceful.is_empty() {
            self.scancel(&[], &graceful);
        }
        let forced = jobs_of(Urgency::Forced, &self.followed);
        if !forced.is_empty() {
            self.scancel(&["--full", "--signal=KILL"], &forced);
            // A queued job takes no signal: it is cancelled.
            self.scancel(&[], &forced);
            for (handle, _) in forced {
                self.followed.remove(&handle);
                let killed = Termination::Signaled(libc::SIGKILL);
                self.tell(News::Ended(handle, killed, Usage::default(), Duration::ZERO));
            }
        }
        self.poll_soon();
    }

    fn scancel(&mut self, options: &[&str], jobs: &[(Handle, u64)]) {
        let mut args: Vec<OsString> = options.iter().map(OsString::from).collect();
        args.extend(jobs.iter().map(|(_, job)| OsString::from(job.to_string())));
        if let Err(why) = self.slurm("scancel", &args).and_then(ok_or_words) {
            self.warn("scancel", &format!("scancel failed: {why}"));
        }
    }

    /// Submits what is due, at the rate allowed; orders that come in
    /// meanwhile are taken between two submissions.
    fn submit_due(&mut self) {
        loop {
            let now = Instant::now();
            if self.held_until.is_some_and(|until| now < until) || now < self.next_submit {
                return;
            }
            self.held_until = None;
            let Some((submission, tries)) = self.queue.pop_front() else { return };
            let gap = Duration::from_secs(1) / self.config.settings.submit_rate.max(1);
            self.next_submit = now + gap;
            self.submit(submission, tries);
            self.take_waiting_orders();
            self.send_cancels();
        }
    }

    fn submit(&mut self, submission: Submission, tries: u32) {
        let mut args = submission.options.clone();
        args.push(submission.script.clone().into_os_string());
        let answer = self.slurm("sbatch", &args);
        let why = match answer {
            Ok(Answer { success: true, stdout, .. }) => match parse_job_id(&stdout) {
                Some(job) => return self.follow(submission, job),
                None => format!("sbatch answered '{}', not a job id", stdout.trim()),
            },
            Ok(Answer { stderr, .. }) => stderr,
            Err(Failure::Start(e)) => {
                let why = format!("sbatch: {}", Failure::Start(e));
                return self.tell(News::Refused(submission.handle, why));
            }
            Err(failure) => format!("sbatch {failure}"),
        };
        match kind_of_error(&why) {
            SubmitError::Limit => {
                // Wait for one of the run's jobs to end, or a while.
                self.warn(
                    "limit",
                    &format!(
                        "Slurm holds further jobs back ({}); submitting more as jobs end",
                        first_line(&why)
                    ),
                );
                self.held_until = Some(Instant::now() + self.config.settings.poll_max);
                self.queue.push_front((submission, tries));
            }
            SubmitError::Transient if tries + 1 < SUBMIT_TRIES => {
                // The controller may have taken the job before it failed to
                // answer: look before submitting again.
                if let Some(job) = self.look_up(&submission.name) {
                    return self.follow(submission, job);
                }
                let wait = backoff(tries);
                self.warn(
                    &format!("transient-{tries}"),
                    &format!("sbatch: {}; trying again in {}s", first_line(&why), wait.as_secs()),
                );
                self.held_until = Some(Instant::now() + wait);
                self.queue.push_front((submission, tries + 1));
            }
            _ => {
                if let Some(job) = self.look_up(&submission.name) {
                    return self.follow(submission, job);
                }
                self.tell(News::Refused(
                    submission.handle,
                    format!("Slurm refused the job: {}", first_line(&why)),
                ));
            }
        }
    }

    /// The id of a job of this run named `name` not followed yet, if one
    /// is in the queue.
    fn look_up(&mut self, name: &str) -> Option<u64> {
        let args: Vec<OsString> = ["--me", "-h", "-t", "all", "-o", "%i", "-n", name]
            .iter()
            .map(OsString::from)
            .collect();
        let answer = self.slurm("squeue", &args).ok()?;
        let followed: Vec<u64> = self.followed.values().map(|f| f.job).collect();
        answer
            .stdout
            .lines()
            .filter_map(|line| line.trim().parse::<u64>().ok())
            .find(|job| !followed.contains(job))
    }

    fn follow(&mut self, submission: Submission, job: u64) {
        let handle = submission.handle;
        self.tell(News::Submitted(handle, job));
        let followed = Followed {
            job,
            records: submission.records.clone(),
            started: false,
            missing: 0,
            record_awaited_since: None,
            submission,
        };
        self.followed.insert(handle, followed);
        if self.next_poll.is_none() {
            self.next_poll = Some(Instant::now() + self.config.settings.poll_min);
        }
    }

    /// Reads the records of the jobs followed: starts and ends known
    /// without asking Slurm.
    fn check_records(&mut self) {
        let handles: Vec<Handle> = self.followed.keys().copied().collect();
        for handle in handles {
            let Some(followed) = self.followed.get(&handle) else { continue };
            let ended_path = followed.records.ended.clone();
            self.read_tails(handle);
            match read_end(&ended_path) {
                // Slurm stopped it: its word on how comes with the next poll.
                Ok(Some(EndRecord::Exited { signalled: true, .. })) => self.poll_soon(),
                Ok(Some(end)) => {
                    self.end_by_record(handle, end, None);
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    self.warn("record", &format!("cannot read {}: {e}", ended_path.display()))
                }
            }
            self.started(handle, false);
        }
        // Many jobs: fewer looks at the file system.
        let every = if self.followed.len() > 200 {
            Duration::from_secs(1)
        } else {
            Duration::from_millis(250)
        };
        self.next_check = Instant::now() + every;
    }

    /// Sends what the attempt's followed files gained since last read.
    fn read_tails(&mut self, handle: Handle) {
        use std::io::{Read, Seek, SeekFrom};
        let Some(followed) = self.followed.get_mut(&handle) else { return };
        let mut news = Vec::new();
        for tail in &mut followed.submission.tails {
            let Ok(mut file) = File::open(&tail.path) else { continue };
            let mut bytes = Vec::new();
            if file.seek(SeekFrom::Start(tail.offset)).is_ok()
                && file.read_to_end(&mut bytes).is_ok()
            {
                tail.offset += bytes.len() as u64;
                if !bytes.is_empty() {
                    news.push(News::Output(handle, bytes, tail.stderr));
                }
            }
        }
        for news in news {
            self.tell(news);
        }
    }

    fn end_by_record(&mut self, handle: Handle, end: EndRecord, status: Option<&JobStatus>) {
        self.read_tails(handle);
        match end {
            EndRecord::Refused(why) => {
                if self.followed.remove(&handle).is_some() {
                    self.tell(News::Refused(handle, why));
                }
            }
            EndRecord::Exited { status: code, cpu, at, .. } => {
                // Accounting, when it answered, knows the steps' peak memory,
                // and their CPU time if more than the shell counted.
                let known = status.map(JobStatus::usage).unwrap_or_default();
                let usage = Usage { cpu: known.cpu.max(cpu), max_rss_kib: known.max_rss_kib };
                self.finish(handle, Termination::Exited(code), usage, at);
            }
        }
        self.poll_soon();
    }

    fn poll_soon(&mut self) {
        if self.followed.is_empty() {
            return;
        }
        self.poll_interval = self.shortest_interval();
        let soon = Instant::now() + self.poll_interval;
        self.next_poll = Some(self.next_poll.map_or(soon, |at| at.min(soon)));
        self.held_until = self.held_until.map(|until| until.min(Instant::now()));
    }

    /// The shortest wait between status queries: longer with more jobs, so
    /// that a thousand jobs ask the controller every five seconds at most.
    fn shortest_interval(&self) -> Duration {
        let settings = &self.config.settings;
        let by_jobs = Duration::from_millis(5 * self.followed.len() as u64);
        by_jobs.clamp(settings.poll_min, settings.poll_max.max(settings.poll_min))
    }

    /// One status query for all the jobs followed.
    fn poll(&mut self) {
        if self.followed.is_empty() {
            self.next_poll = None;
            return;
        }
        let answer = match self.config.source {
            StatusSource::Squeue => {
                let args: Vec<OsString> = ["--me", "-h", "-t", "all", "-O", SQUEUE_FORMAT]
                    .iter()
                    .map(OsString::from)
                    .collect();
                self.slurm("squeue", &args).and_then(ok_or_words).map(|a| parse_squeue(&a.stdout))
            }
            StatusSource::Sacct => {
                let since = sacct_time(self.config.since);
                let args: Vec<OsString> = vec![
                    "-n".into(),
                    "-P".into(),
                    "-S".into(),
                    since.into(),
                    "-o".into(),
                    SACCT_FIELDS.into(),
                ];
                self.slurm("sacct", &args).and_then(ok_or_words).map(|a| parse_sacct(&a.stdout))
            }
        };
        let changed = match answer {
            Ok(statuses) => self.take_statuses(statuses),
            Err(why) => {
                self.warn(
                    "poll",
                    &format!("cannot ask Slurm how jobs stand ({why}); asking again"),
                );
                false
            }
        };
        self.poll_interval = if changed {
            self.shortest_interval()
        } else {
            (self.poll_interval * 2).clamp(self.shortest_interval(), self.config.settings.poll_max)
        };
        self.next_poll = (!self.followed.is_empty()).then(|| Instant::now() + self.poll_interval);
    }

    /// Acts on one answer; whether anything changed.
    fn take_statuses(&mut self, statuses: Vec<JobStatus>) -> bool {
        let mut by_job: HashMap<u64, JobStatus> = HashMap::new();
        for status in statuses {
            if parse_job_name(&status.name, &self.config.tag)
                .is_some_and(|n| n.run == self.config.run)
            {
                by_job.insert(status.id, status);
            }
        }
        let mut changed = false;
        let handles: Vec<Handle> = self.followed.keys().copied().collect();
        let now = Instant::now();
        for handle in handles {
            let Some(followed) = self.followed.get_mut(&handle) else { continue };
            let Some(status) = by_job.remove(&followed.job) else {
                followed.missing += 1;
                if followed.missing >= MISSING_POLLS {
                    changed |= self.missing(handle, now);
                }
                continue;
            };
            followed.missing = 0;
            match status.state {
                JobState::Queued | JobState::Requeued if followed.started => {
                    self.requeued(handle);
                    changed = true;
                }
                JobState::Queued | JobState::Requeued => {}
                JobState::Running if !followed.started => {
                    self.started(handle, true);
                    changed = true;
                }
                JobState::Running => {}
                JobState::Ended(end) => changed |= self.slurm_ended(handle, end, status, now),
            }
        }
        changed
    }

    /// Slurm says the job ended: its record says how, unless Slurm stopped
    /// it (time, memory, node, someone's scancel); a record late to appear
    /// is waited for a while.
    fn slurm_ended(
        &mut self,
        handle: Handle,
        end: SlurmEnd,
        status: JobStatus,
        now: Instant,
    ) -> bool {
        // sacct keeps a failed node's NODE_FAIL as the job's latest state
        // until Slurm's requeue shows there; the controller knows at once.
        if end == SlurmEnd::NodeFailure
            && let Some(followed) = self.followed.get(&handle)
            && self.waits_in_queue(followed.job)
        {
            let started = followed.started;
            if started {
                self.requeued(handle);
            }
            return started;
        }
        let batch_end = match end {
            SlurmEnd::Completed | SlurmEnd::Failed => None,
            SlurmEnd::TimeLimit => Some(BatchEnd::TimeLimit),
            SlurmEnd::OutOfMemory => Some(BatchEnd::OutOfMemory),
            SlurmEnd::NodeFailure => Some(BatchEnd::NodeFailure),
            SlurmEnd::Cancelled => Some(BatchEnd::Cancelled),
            SlurmEnd::BootFailure => Some(BatchEnd::BootFailure),
            SlurmEnd::Deadline => Some(BatchEnd::Deadline),
            SlurmEnd::Preempted => {
                // Not a spent attempt: it goes in again.
                self.requeued(handle);
                if let Some(followed) = self.followed.remove(&handle) {
                    self.queue.push_front((followed.submission, 0));
                }
                return true;
            }
        };
        if let Some(batch_end) = batch_end {
            self.finish(handle, Termination::Batch(batch_end), status.usage(), None);
            return true;
        }
        let Some(followed) = self.followed.get(&handle) else { return false };
        if let Some(record) = read_end(&followed.records.ended).ok().flatten() {
            self.end_by_record(handle, record, Some(&status));
            return true;
        }
        if !self.waited_for_record(handle, now) {
            return false;
        }
        // No record came: Slurm's word is all there is.
        let termination = match (end, status.exit) {
            (_, Some((code, 0))) if end == SlurmEnd::Failed || code == 0 => {
                Termination::Exited(code)
            }
            (_, Some((_, signal))) if signal != 0 => Termination::Signaled(signal),
            (SlurmEnd::Completed, None) => Termination::Exited(0),
            _ => Termination::Batch(BatchEnd::Vanished),
        };
        self.finish(handle, termination, status.usage(), None);
        true
    }

    /// A job no longer listed: its record may still tell how it ended;
    /// without one, after a while, it is gone, never taken as a success.
    fn missing(&mut self, handle: Handle, now: Instant) -> bool {
        self.read_tails(handle);
        let Some(followed) = self.followed.get(&handle) else { return false };
        if let Ok(Some(record)) = read_end(&followed.records.ended) {
            self.end_by_record(handle, record, None);
            return true;
        }
        if !self.waited_for_record(handle, now) {
            return false;
        }
        self.finish(handle, Termination::Batch(BatchEnd::Vanished), Usage::default(), None);
        true
    }

    /// Whether the attempt's record has been waited for as long as it may
    /// be (the wait begins now if it has not yet).
    fn waited_for_record(&mut self, handle: Handle, now: Instant) -> bool {
        let Some(followed) = self.followed.get_mut(&handle) else { return false };
        let since = *followed.record_awaited_since.get_or_insert(now);
        now.saturating_duration_since(since) >= self.config.settings.record_wait
    }

    /// The job went back to Slurm's queue: the same attempt waits to run
    /// again, and the records of its last run go.
    fn requeued(&mut self, handle: Handle) {
        let Some(followed) = self.followed.get_mut(&handle) else { return };
        followed.started = false;
        followed.record_awaited_since = None;
        let _ = std::fs::remove_file(&followed.records.started);
        let _ = std::fs::remove_file(&followed.records.ended);
        self.tell(News::Requeued(handle));
    }

    /// The loop learns that the attempt runs, when it began by its start
    /// record: once that record is there, or once Slurm says it runs
    /// (`anyway`).
    fn started(&mut self, handle: Handle, anyway: bool) {
        let Some(followed) = self.followed.get_mut(&handle) else { return };
        if followed.started {
            return;
        }
        let began = read_start(&followed.records.started);
        if began.is_none() && !anyway {
            return;
        }
        followed.started = true;
        self.tell(News::Started(handle, time_since(began)));
    }

    /// The attempt is over, by the node's clock `at` if known: it is
    /// followed no more, and ends so (having started first, as far as the
    /// loop is told).
    fn finish(
        &mut self,
        handle: Handle,
        termination: Termination,
        usage: Usage,
        at: Option<SystemTime>,
    ) {
        self.started(handle, true);
        if self.followed.remove(&handle).is_some() {
            self.tell(News::Ended(handle, termination, usage, time_since(at)));
        }
    }

    /// Whether the controller has `job` queued (again).
    fn waits_in_queue(&self, job: u64) -> bool {
        let job = job.to_string();
        let args: Vec<OsString> = ["-h", "-t", "all", "-O", SQUEUE_FORMAT, "-j", &job]
            .iter()
            .map(OsString::from)
            .collect();
        self.slurm("squeue", &args)
            .and_then(ok_or_words)
            .map(|answer| parse_squeue(&answer.stdout))
            .is_ok_and(|jobs| {
                jobs.iter().any(|j| matches!(j.state, JobState::Queued | JobState::Requeued))
            })
    }

    fn slurm(&self, program: &str, args: &[OsString]) -> Result<Answer, Failure> {
        command::run(OsStr::new(program), args, &self.config.env, COMMAND_LIMIT)
    }
}

/// An answer that is not a success, as its words.
fn ok_or_words(answer: Answer) -> Result<Answer, Failure> {
    if answer.success {
        Ok(answer)
    } else {
        Err(Failure::Read(std::io::Error::other(first_line(&answer.stderr).to_string())))
    }
}

fn first_line(text: &str) -> &str {
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or(text).trim()
}

/// `sbatch --parsable`: `ID` or `ID;CLUSTER`.
fn parse_job_id(stdout: &str) -> Option<u64> {
    stdout.trim().split(';').next()?.trim().parse().ok()
}

/// What kind of error `sbatch` met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubmitError {
    /// A limit on the jobs one may have: wait for some to end.
    Limit,
    /// The controller was busy or out of reach: try again.
    Transient,
    /// The job itself is wrong (a partition that does not exist, ...).
    Refused,
}

fn kind_of_error(words: &str) -> SubmitError {
    const LIMITS: [&str; 3] = ["MaxSubmitJob", "SubmitJobLimit", "job submit limit"];
    const TRANSIENT: [&str; 11] = [
        "Socket timed out",
        "Unable to contact slurm controller",
        "Connection refused",
        "Connection timed out",
        "Resource temporarily unavailable",
        "temporarily unable to accept job",
        "Zero Bytes were transmitted",
        "Communication connection failure",
        "Transport endpoint is not connected",
        "gave no answer within",
        "slurm_persist_conn",
    ];
    if LIMITS.iter().any(|l| words.contains(l)) {
        SubmitError::Limit
    } else if TRANSIENT.iter().any(|t| words.contains(t)) {
        SubmitError::Transient
    } else {
        SubmitError::Refused
    }
}

/// The wait before the retry after `tries` failed tries: doubling from one
/// second up to a minute, less up to a quarter at random, so that many
/// maestros do not come back at the same instant.
fn backoff(tries: u32) -> Duration {
    let full = Duration::from_secs(1 << tries.min(6)).min(Duration::from_secs(60));
    let nanos =
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    full - full / 4 * (nanos % 1000) / 1000
}

/// `sacct -S` takes local time as `YYYY-MM-DDTHH:MM:SS`.
fn sacct_time(at: SystemTime) -> String {
    let secs = at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    crate::clock::local(secs as i64, 'T').unwrap_or_else(|| "now-1days".to_string())
}

/// How long ago `at` was, by this machine's clock: zero for a time unknown,
/// or ahead (a node's clock may run a little ahead of this one).
fn time_since(at: Option<SystemTime>) -> Duration {
    at.and_then(|at| SystemTime::now().duration_since(at).ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_told_apart() {
        let limit = "sbatch: error: QOSMaxSubmitJobPerUserLimit\nsbatch: error: Batch job submission failed: Job violates accounting/QOS policy (job submit limit, user's size and/or time limits)";
        assert_eq!(kind_of_error(limit), SubmitError::Limit);
        let busy =
            "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation";
        assert_eq!(kind_of_error(busy), SubmitError::Transient);
        let wrong = "sbatch: error: invalid partition specified: nope";
        assert_eq!(kind_of_error(wrong), SubmitError::Refused);
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_a_minute() {
        for tries in 0..10 {
            let full = Duration::from_secs(1 << tries.min(6)).min(Duration::from_secs(60));
            let wait = backoff(tries);
            assert!(wait <= full && wait >= full * 3 / 4, "{tries}: {wait:?}");
        }
    }

    #[test]
    fn job_ids_with_and_without_a_cluster() {
        assert_eq!(parse_job_id("123\n"), Some(123));
        assert_eq!(parse_job_id("123;cluster\n"), Some(123));
        assert_eq!(parse_job_id("Submitted batch job 123"), None);
    }
}
