//! The workers backend: `maestro worker` processes (in Slurm allocations,
//! over ssh, or started by hand) join the run over TCP and run its
//! attempts with the local backend of their own machine. The run keeps the
//! DAG, the logs and the history: a worker sends back what its attempts
//! write, and this side writes it into the attempts' files, so a worker
//! needs no access to the private `.maestro/`.
//!
//! A thread accepts connections; each worker's frames are read by a thread
//! of its own (`link.rs`) and reach the loop through a channel and a
//! wake-up pipe. Everything else (which worker runs what, heartbeats, a
//! lost worker's attempts) happens in the loop, here.

mod entrance;
pub mod link;
pub mod protocol;
pub mod slurm;
pub mod ssh;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{self, Write};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

pub use self::entrance::{Entrance, Hello, Link, host_name};
use self::entrance::{Listening, News};
use self::link::{Join, Wake};
use self::protocol::{FromWorker, Job, ToWorker};
use super::{
    BatchEnd, ExecEvent, Executor, Handle, Launch, Place, Termination, Urgency, Usage, Watch,
};
use crate::private;

/// How often each side says it is there when it has nothing else to say.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A worker silent this long is lost.
pub const LOST_AFTER: Duration = Duration::from_secs(5);
/// A run silent this long is gone, to a worker. Longer: the run's loop may
/// be held up by a slow batch system, and a run that died closes its
/// connections at once anyway.
pub const RUN_LOST_AFTER: Duration = Duration::from_secs(60);
/// An attempt whose worker was lost this many times ends as a node failure
/// instead of going to another worker (it may be what kills them).
const LOST_LIMIT: u32 = 3;

/// What starts workers for a run (a batch system, ssh), and stops them.
pub trait Launcher {
    /// Starts (or keeps starting) workers for what the run needs now;
    /// `Err(why)` when it cannot have any (the waiting attempts then fail
    /// with that).
    fn tend(&mut self, need: &Need, now: Instant) -> Result<(), String>;
    /// A worker from batch job `job` joined.
    fn joined(&mut self, job: &str);
    /// When it must be tended even if nothing happens.
    fn deadline(&self) -> Option<Instant>;
    /// The run is over: whatever it started goes.
    fn stop(&mut self);
}

/// How the run stands, for a launcher.
#[derive(Debug, Clone, Copy)]
pub struct Need {
    /// Attempts in the run, waiting or on workers.
    pub attempts: usize,
    /// Workers in the run, draining or not.
    pub workers: usize,
}

/// One worker in the run.
struct Worker {
    link: Link,
    /// `host #N`: its host, and its number in the run.
    lane: String,
    host: String,
    slots: u32,
    /// Its slots no attempt holds, from 1.
    free: BTreeSet<u32>,
    last_heard: Instant,
    last_sent: Instant,
    attempts: HashSet<Handle>,
    /// Takes no more attempts: its allocation ends soon.
    draining: bool,
}

/// One attempt, from its start to its end.
struct Attempt {
    launch: Launch,
    /// The worker it was sent to, while it is on one.
    worker: Option<u32>,
    /// The slots it holds there.
    held: Vec<u32>,
    started: bool,
    /// Its output files, open while it is in the run.
    files: (File, Option<File>),
    /// How often its worker was lost under it.
    lost: u32,
    /// Asked to stop.
    cancelled: Option<Urgency>,
}

/// Runs attempts on the workers that join.
pub struct WorkersExecutor {
    news: Receiver<News>,
    wake: File,
    entrance: Entrance,
    listening: Listening,
    join_path: PathBuf,
    /// Variables every attempt gets (where the run's state is).
    env: Vec<(String, String)>,
    workers: BTreeMap<u32, Worker>,
    /// Attempts not on a worker yet, in the order they came.
    waiting: VecDeque<Handle>,
    attempts: HashMap<Handle, Attempt>,
    next_handle: u64,
    ready: Vec<ExecEvent>,
    launcher: Option<Box<dyn Launcher>>,
    /// Why no worker can be had, once that is known: attempts then fail.
    hopeless: Option<String>,
}

impl WorkersExecutor {
    /// Listens for run `run`'s workers on every interface, writing where and
    /// the secret into its join file in `state_dir`. Every attempt gets the
    /// variables of `env`.
    pub fn new(
        state_dir: &Path,
        run: u64,
        env: Vec<(String, String)>,
    ) -> io::Result<WorkersExecutor> {
        let listener = TcpListener::bind("0.0.0.0:0")?;
        let port = listener.local_addr()?.port();
        let join = Join::new(vec![format!("{}:{port}", host_name()), format!("127.0.0.1:{port}")])?;
        let join_path = link::join_path(state_dir, run);
        private::make_dir(join_path.parent().expect("a join file is in a folder"))?;
        join.write(&join_path)?;
        let (wake_read, wake) = Wake::pair()?;
        let (news_in, news) = channel();
        let entrance = Entrance::new(news_in, wake);
        let listening = Listening::start(listener, join.secret, entrance.clone())?;
        Ok(WorkersExecutor {
            news,
            wake: wake_read,
            entrance,
            listening,
            join_path,
            env,
            workers: BTreeMap::new(),
            waiting: VecDeque::new(),
            attempts: HashMap::new(),
            next_handle: 0,
            ready: Vec::new(),
            launcher: None,
            hopeless: None,
        })
    }

    /// Where a launcher's workers come in.
    pub fn entrance(&self) -> Entrance {
        self.entrance.clone()
    }

    /// Workers come from `launcher` (else they are started by hand).
    pub fn with_launcher(mut self, launcher: Box<dyn Launcher>) -> WorkersExecutor {
        self.launcher = Some(launcher);
        self
    }

    /// The file a worker joins with: `maestro worker --join FILE`.
    pub fn join_path(&self) -> &Path {
        &self.join_path
    }

    fn send(&mut self, worker: u32, message: &ToWorker) -> bool {
        let Some(w) = self.workers.get_mut(&worker) else { return false };
        w.last_sent = Instant::now();
        w.link.write_all(&message.encode()).is_ok()
    }

    /// Sends waiting attempts to workers with room for them, first come
    /// first served, to the worker with the most room: one write per
    /// worker for all it gets.
    fn dispatch(&mut self) {
        let mut outboxes: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
        while let Some(&handle) = self.waiting.front() {
            let Some(attempt) = self.attempts.get(&handle) else {
                self.waiting.pop_front();
                continue;
            };
            let want = attempt.launch.request.cpus.max(1);
            // A task asking more than a worker has gets the whole worker.
            let room = |w: &Worker| !w.draining && w.free.len() as u32 >= want.min(w.slots);
            let Some((&worker, w)) = self
                .workers
                .iter()
                .filter(|(_, w)| room(w))
                .max_by_key(|&(&id, w)| (w.free.len(), std::cmp::Reverse(id)))
            else {
                break;
            };
            let slots = want.min(w.slots) as usize;
            self.waiting.pop_front();
            let job = self.job(handle);
            let w = self.workers.get_mut(&worker).expect("chosen");
            let held: Vec<u32> = w.free.iter().copied().take(slots).collect();
            for slot in &held {
                w.free.remove(slot);
            }
            w.attempts.insert(handle);
            let place = Place { lane: w.lane.clone(), slots: held.clone() };
            self.ready.push(ExecEvent::Placed { handle, place });
            let attempt = self.attempts.get_mut(&handle).expect("waiting");
            attempt.worker = Some(worker);
            attempt.held = held;
            outboxes.entry(worker).or_default().extend(ToWorker::Run(job).encode());
        }
        for (worker, frames) in outboxes {
            let Some(w) = self.workers.get_mut(&worker) else { continue };
            w.last_sent = Instant::now();
            if w.link.write_all(&frames).is_err() {
                self.lose(worker, "the connection broke");
            }
        }
    }

    fn job(&self, handle: Handle) -> Job {
        let launch = &self.attempts[&handle].launch;
        let (stdout, stderr) = launch.output.files.paths();
        let merged = match launch.output.watch {
            Watch::Merged => true,
            Watch::Split => false,
            Watch::No => stdout == stderr,
        };
        let mut env = self.env.clone();
        env.extend(launch.env.iter().cloned());
        Job {
            id: handle.0,
            cmd: launch.cmd.clone(),
            shell: launch.shell.clone(),
            dir: launch.dir.as_os_str().as_encoded_bytes().to_vec(),
            env,
            merged,
        }
    }

    /// A worker is gone: what ran there goes back to wait for another.
    fn lose(&mut self, worker: u32, why: &str) {
        let Some(w) = self.workers.remove(&worker) else { return };
        let (host, attempts) = (w.host, w.attempts);
        w.link.close(false);
        let mut requeued = Vec::new();
        for handle in attempts {
            let Some(attempt) = self.attempts.get_mut(&handle) else { continue };
            attempt.worker = None;
            attempt.lost += 1;
            if attempt.cancelled.is_some() {
                self.end(handle, Termination::Signaled(libc::SIGKILL), Usage::default());
                continue;
            }
            if attempt.lost >= LOST_LIMIT {
                self.end(handle, Termination::Batch(BatchEnd::NodeFailure), Usage::default());
                continue;
            }
            let note =
                format!("maestro: --- its worker on {host} was lost ({why}); it runs again ---\n");
            let _ = attempt.files.0.write_all(note.as_bytes());
            if attempt.started {
                attempt.started = false;
                self.ready.push(ExecEvent::Requeued { handle });
            }
            requeued.push(handle);
        }
        // Back at the front, in the order they came.
        requeued.sort();
        for handle in requeued.into_iter().rev() {
            self.waiting.push_front(handle);
        }
    }

    fn end(&mut self, handle: Handle, termination: Termination, usage: Usage) {
        let Some(attempt) = self.attempts.remove(&handle) else { return };
        if let Some(worker) = attempt.worker
            && let Some(w) = self.workers.get_mut(&worker)
        {
            w.free.extend(&attempt.held);
            w.attempts.remove(&handle);
        }
        let late_by = Duration::ZERO;
        self.ready.push(ExecEvent::Ended { handle, termination, usage, late_by });
    }

    fn heard(&mut self, worker: u32, message: FromWorker) {
        if let Some(w) = self.workers.get_mut(&worker) {
            w.last_heard = Instant::now();
        }
        // An attempt is the worker's only while it is on it.
        let mine = |attempts: &HashMap<Handle, Attempt>, id: u64| {
            let handle = Handle(id);
            attempts.get(&handle).is_some_and(|a| a.worker == Some(worker)).then_some(handle)
        };
        match message {
            FromWorker::Heartbeat => {}
            FromWorker::Started { id } => {
                if let Some(handle) = mine(&self.attempts, id) {
                    self.attempts.get_mut(&handle).expect("mine").started = true;
                    self.ready.push(ExecEvent::Started { handle, late_by: Duration::ZERO });
                }
            }
            FromWorker::Output { id, stderr, bytes } => {
                let Some(handle) = mine(&self.attempts, id) else { return };
                let attempt = self.attempts.get_mut(&handle).expect("mine");
                let file = match (&mut attempt.files, stderr) {
                    ((_, Some(err)), true) => err,
                    ((out, _), _) => out,
                };
                let _ = file.write_all(&bytes);
                match attempt.launch.output.watch {
                    Watch::No => {}
                    Watch::Merged => {
                        self.ready.push(ExecEvent::Output { handle, bytes, stderr: false })
                    }
                    Watch::Split => self.ready.push(ExecEvent::Output { handle, bytes, stderr }),
                }
            }
            FromWorker::Ended { id, termination, cpu_us, max_rss_kib } => {
                if let Some(handle) = mine(&self.attempts, id) {
                    let usage = Usage { cpu: Duration::from_micros(cpu_us), max_rss_kib };
                    self.end(handle, termination, usage);
                }
            }
            FromWorker::Refused { id, why } => {
                if let Some(handle) = mine(&self.attempts, id) {
                    let attempt = self.attempts.remove(&handle).expect("mine");
                    if let Some(w) = self.workers.get_mut(&worker) {
                        w.free.extend(&attempt.held);
                        w.attempts.remove(&handle);
                    }
                    self.ready.push(ExecEvent::Rejected { handle, why });
                }
            }
            FromWorker::Draining => {
                if let Some(w) = self.workers.get_mut(&worker) {
                    w.draining = true;
                }
            }
            FromWorker::Hello { .. } => self.lose(worker, "it said hello twice"),
        }
    }

    /// Lets the launcher start workers; sends idle draining workers away.
    fn tend(&mut self, now: Instant) {
        let idle_draining = self.workers_where(|w| w.draining && w.attempts.is_empty());
        for worker in idle_draining {
            self.send(worker, &ToWorker::Leave);
            if let Some(w) = self.workers.remove(&worker) {
                w.link.close(true);
            }
        }
        let need = Need { attempts: self.attempts.len(), workers: self.workers.len() };
        let Some(launcher) = &mut self.launcher else { return };
        if self.hopeless.is_some() {
            return;
        }
        if let Err(why) = launcher.tend(&need, now) {
            for handle in std::mem::take(&mut self.waiting) {
                if self.attempts.remove(&handle).is_some() {
                    self.ready.push(ExecEvent::Rejected { handle, why: why.clone() });
                }
            }
            self.hopeless = Some(why);
        }
    }

    /// The workers for which `pick` holds.
    fn workers_where(&self, pick: impl Fn(&Worker) -> bool) -> Vec<u32> {
        self.workers.iter().filter(|(_, w)| pick(w)).map(|(&id, _)| id).collect()
    }

    /// Heartbeats out, and workers silent too long lost.
    fn keep_alive(&mut self, now: Instant) {
        let silent =
            self.workers_where(|w| now.saturating_duration_since(w.last_heard) >= LOST_AFTER);
        for worker in silent {
            self.lose(worker, "it went silent");
        }
        let quiet = self.workers_where(|w| now.saturating_duration_since(w.last_sent) >= HEARTBEAT);
        for worker in quiet {
            if !self.send(worker, &ToWorker::Heartbeat) {
                self.lose(worker, "the connection broke");
            }
        }
    }
}

impl Executor for WorkersExecutor {
    fn start(&mut self, launch: Launch) -> Result<Handle, String> {
        if let Some(why) = &self.hopeless {
            return Err(why.clone());
        }
        if launch.stdin.has_data() {
            return Err(super::NO_STDIN_DATA.to_string());
        }
        let files =
            launch.output.files.open().map_err(|e| {
                format!("cannot open {}: {e}", launch.output.files.paths().0.display())
            })?;
        let handle = Handle(self.next_handle);
        self.next_handle += 1;
        let attempt = Attempt {
            launch,
            worker: None,
            held: Vec::new(),
            started: false,
            files,
            lost: 0,
            cancelled: None,
        };
        self.attempts.insert(handle, attempt);
        self.waiting.push_back(handle);
        if self.workers.is_empty() {
            // The first attempt asks for workers at once: an allocation
            // takes long enough to start without waiting for the loop.
            self.tend(Instant::now());
        }
        self.dispatch();
        Ok(handle)
    }

    fn cancel(&mut self, handle: Handle, urgency: Urgency) {
        let Some(attempt) = self.attempts.get_mut(&handle) else { return };
        attempt.cancelled = Some(urgency);
        let Some(worker) = attempt.worker else {
            // Not on a worker yet: it never ran.
            self.waiting.retain(|&h| h != handle);
            let signal = match urgency {
                Urgency::Graceful => libc::SIGTERM,
                Urgency::Forced => libc::SIGKILL,
                Urgency::Signal(signal) => signal,
            };
            self.end(handle, Termination::Signaled(signal), Usage::default());
            return;
        };
        // A worker stops an attempt gracefully (SIGTERM) or by force.
        let forced = urgency == Urgency::Forced;
        if !self.send(worker, &ToWorker::Cancel { id: handle.0, forced }) {
            self.lose(worker, "the connection broke");
        }
    }

    fn queues(&self) -> bool {
        true
    }

    fn deadline(&self) -> Option<Instant> {
        if !self.ready.is_empty() {
            return Some(Instant::now());
        }
        let launcher = self.launcher.as_ref().and_then(|l| l.deadline());
        self.workers
            .values()
            .map(|w| (w.last_heard + LOST_AFTER).min(w.last_sent + HEARTBEAT))
            .chain(launcher)
            .min()
    }

    fn sources(&self, fds: &mut Vec<RawFd>) {
        fds.push(self.wake.as_raw_fd());
    }

    fn collect(&mut self, events: &mut Vec<ExecEvent>) -> io::Result<()> {
        link::drain(&self.wake);
        while let Ok(news) = self.news.try_recv() {
            match news {
                News::Joined { worker, link, host, slots, job } => {
                    if let Some(launcher) = &mut self.launcher {
                        launcher.joined(&job);
                    }
                    let now = Instant::now();
                    let w = Worker {
                        link,
                        lane: format!("{host} #{worker}"),
                        host,
                        slots: slots.max(1),
                        free: (1..=slots.max(1)).collect(),
                        last_heard: now,
                        last_sent: now,
                        attempts: HashSet::new(),
                        draining: false,
                    };
                    self.workers.insert(worker, w);
                    if !self.send(worker, &ToWorker::Welcome { worker }) {
                        self.lose(worker, "the connection broke");
                    }
                }
                News::Said { worker, message: Ok(message) } => self.heard(worker, message),
                News::Said { worker, message: Err(why) } => self.lose(worker, &why),
            }
        }
        let now = Instant::now();
        self.keep_alive(now);
        self.tend(now);
        self.dispatch();
        events.append(&mut self.ready);
        Ok(())
    }
}

impl Drop for WorkersExecutor {
    fn drop(&mut self) {
        let workers: Vec<u32> = self.workers.keys().copied().collect();
        for worker in &workers {
            self.send(*worker, &ToWorker::Leave);
        }
        for worker in workers {
            if let Some(w) = self.workers.remove(&worker) {
                w.link.close(true);
            }
        }
        self.listening.stop();
        if let Some(launcher) = &mut self.launcher {
            launcher.stop();
        }
        let _ = std::fs::remove_file(&self.join_path);
    }
}

/// The last line of `text` with something on it, trimmed: what a command
/// or a log last said.
fn last_line(text: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(text);
    text.lines().rev().map(str::trim).find(|l| !l.is_empty()).map(str::to_string)
}
