//! `maestro worker --join FILE`: joins a run and runs what it sends with
//! the local backend (process groups, timeouts by the run's word, usage),
//! sending back each attempt's start, output and end, until the run says
//! to leave or is gone.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use crate::cli::WorkerArgs;
use crate::error::{Error, Result};
use crate::exec::local::LocalExecutor;
use crate::exec::workers::link::{self, Join, Wake};
use crate::exec::workers::protocol::{self, FromWorker, Job, ToWorker, VERSION};
use crate::exec::workers::{HEARTBEAT, RUN_LOST_AFTER, host_name};
use crate::exec::{
    ExecEvent, Executor, Handle, Launch, Output, OutputFiles, Request, Stdin, Urgency, Watch,
};
use crate::exit_code;
use crate::flow::duration::parse_duration;
use crate::runner::reactor::{Poller, Reactor};

/// How long to try each address of the run.
const CONNECT_WAIT: Duration = Duration::from_secs(10);

pub fn worker(args: &WorkerArgs) -> Result<i32> {
    let drain_after = match &args.drain_after {
        Some(text) => Some(
            parse_duration(text).map_err(|why| Error::usage(format!("--drain-after: {why}")))?,
        ),
        None => None,
    };
    let slots = match args.slots {
        Some(0) => return Err(Error::usage("--slots 0: a worker runs at least one task")),
        Some(slots) => slots,
        None => std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
    };
    let (reader, mut writer, secret) = link_to_run(args)?;
    let hello = FromWorker::Hello {
        version: VERSION,
        secret: secret.into_bytes(),
        host: host_name(),
        pid: std::process::id(),
        slots,
        job: std::env::var("SLURM_JOB_ID").unwrap_or_default(),
    };
    let lost = |e| Error::system("the run is gone", e);
    writer.write_all(&hello.encode()).and_then(|()| writer.flush()).map_err(lost)?;
    let setup = |e| Error::system("cannot set up the worker", e);
    let mut poller = Poller::new().map_err(setup)?;
    let executor = LocalExecutor::new(&[]).map_err(setup)?;
    let (wake_read, wake) = Wake::pair().map_err(setup)?;
    let (news_in, news) = channel();
    link::spawn_reader(reader, protocol::MAX_FRAME, ToWorker::decode, |m| m, news_in, wake)
        .map_err(setup)?;
    let mut here = Worker {
        writer,
        executor,
        ids: HashMap::new(),
        handles: HashMap::new(),
        last_sent: Instant::now(),
        last_heard: Instant::now(),
        leaving: false,
        welcomed: false,
    };
    // When to stop taking tasks, until it is said.
    let mut drain_at = drain_after.and_then(|after| Instant::now().checked_add(after));
    loop {
        let deadline = (here.last_sent + HEARTBEAT).min(here.last_heard + RUN_LOST_AFTER);
        let deadline = drain_at.map_or(deadline, |at| deadline.min(at));
        let stop = poller
            .wait(Some(deadline), &here.executor, Some(wake_read.as_raw_fd()))
            .map_err(|e| Error::system("cannot wait", e))?;
        if !stop.is_empty() {
            here.stop_all();
            return Ok(exit_code::INTERRUPTED);
        }
        while let Ok(message) = news.try_recv() {
            here.last_heard = Instant::now();
            match message {
                Ok(message) => here.heard(message),
                // The run ended (after telling us to leave) or is gone.
                Err(why) => {
                    here.stop_all();
                    return match (here.leaving, here.welcomed) {
                        (true, _) => Ok(exit_code::SUCCESS),
                        (false, true) => Err(gone(&why)),
                        (false, false) => Err(Error::Run(
                            "the run did not let this worker in: its join file is from \
                             another run, or stale"
                                .to_string(),
                        )),
                    };
                }
            }
        }
        if !here.forward() {
            here.stop_all();
            return Err(gone("the connection broke"));
        }
        if here.leaving && here.ids.is_empty() {
            return Ok(exit_code::SUCCESS);
        }
        let now = Instant::now();
        if drain_at.is_some_and(|at| now >= at) {
            drain_at = None;
            if !here.send(&FromWorker::Draining) {
                here.stop_all();
                return Err(gone("the connection broke"));
            }
        }
        if now.saturating_duration_since(here.last_heard) >= RUN_LOST_AFTER {
            here.stop_all();
            return Err(gone("it went silent"));
        }
        if now.saturating_duration_since(here.last_sent) >= HEARTBEAT
            && !here.send(&FromWorker::Heartbeat)
        {
            here.stop_all();
            return Err(gone("the connection broke"));
        }
    }
}

/// The run's side of a worker: where frames come from, where they go, and
/// the secret to show.
type RunLink = (Box<dyn Read + Send>, Box<dyn Write>, String);

/// How this worker reads from the run and writes to it, and the secret
/// it shows: a connection to where the join file says, or stdin and
/// stdout (ssh let it in: no secret).
fn link_to_run(args: &WorkerArgs) -> Result<RunLink> {
    let Some(path) = &args.join else {
        return Ok((Box::new(std::io::stdin()), Box::new(std::io::stdout()), String::new()));
    };
    let join = Join::read(path).map_err(|why| {
        Error::usage_hint(why, "give the file the run printed: maestro worker --join FILE")
    })?;
    let stream = connect(&join.addresses)?;
    let _ = stream.set_nodelay(true);
    let reader = stream.try_clone().map_err(|e| Error::system("cannot read", e))?;
    Ok((Box::new(reader), Box::new(stream), join.secret))
}

fn gone(why: &str) -> Error {
    Error::Run(format!("the run is gone ({why}); the tasks running here were stopped"))
}

/// Tries the run's addresses in order.
fn connect(addresses: &[String]) -> Result<TcpStream> {
    let mut why = String::new();
    for address in addresses {
        let resolved = address.to_socket_addrs().map(|all| all.collect::<Vec<_>>());
        match resolved {
            Ok(all) => {
                for at in all {
                    match TcpStream::connect_timeout(&at, CONNECT_WAIT) {
                        Ok(stream) => return Ok(stream),
                        Err(e) => why = format!("{address}: {e}"),
                    }
                }
            }
            Err(e) => why = format!("{address}: {e}"),
        }
    }
    Err(Error::usage_hint(
        format!("cannot reach the run ({why})"),
        "is it still running, and is its machine reachable from here?",
    ))
}

/// The worker's side of its attempts.
struct Worker {
    /// Where frames to the run go.
    writer: Box<dyn Write>,
    executor: LocalExecutor,
    /// The run's id of each attempt running here, and back.
    ids: HashMap<Handle, u64>,
    handles: HashMap<u64, Handle>,
    last_sent: Instant,
    last_heard: Instant,
    /// Told to leave: no new work, out once nothing runs.
    leaving: bool,
    /// Let in by the run.
    welcomed: bool,
}

impl Worker {
    fn send(&mut self, message: &FromWorker) -> bool {
        self.last_sent = Instant::now();
        self.writer.write_all(&message.encode()).and_then(|()| self.writer.flush()).is_ok()
    }

    fn heard(&mut self, message: ToWorker) {
        match message {
            ToWorker::Welcome { .. } => self.welcomed = true,
            ToWorker::Heartbeat => {}
            ToWorker::Run(job) if !self.leaving => self.run(job),
            ToWorker::Run(_) => {}
            ToWorker::Cancel { id, forced } => {
                if let Some(&handle) = self.handles.get(&id) {
                    let urgency = if forced { Urgency::Forced } else { Urgency::Graceful };
                    self.executor.cancel(handle, urgency);
                }
            }
            ToWorker::Leave => {
                self.leaving = true;
                self.stop_all();
            }
        }
    }

    fn run(&mut self, job: Job) {
        // The output comes back to the run, which writes the files; here
        // it only passes through.
        let null = PathBuf::from("/dev/null");
        let launch = Launch {
            cmd: job.cmd,
            shell: job.shell,
            dir: PathBuf::from(OsString::from_vec(job.dir)),
            env: job.env,
            output: Output {
                files: OutputFiles::Appended { stdout: null.clone(), stderr: null },
                watch: if job.merged { Watch::Merged } else { Watch::Split },
            },
            name: job.id.to_string(),
            request: Request::default(),
            stdin: Stdin::Null,
        };
        match self.executor.start(launch) {
            Ok(handle) => {
                self.ids.insert(handle, job.id);
                self.handles.insert(job.id, handle);
            }
            Err(why) => {
                self.send(&FromWorker::Refused { id: job.id, why });
            }
        }
    }

    /// Sends what the attempts did, in one write; false when the run
    /// cannot be told.
    fn forward(&mut self) -> bool {
        let mut events = Vec::new();
        if self.executor.collect(&mut events).is_err() {
            return false;
        }
        let mut frames = Vec::new();
        for event in events {
            let message = match event {
                ExecEvent::Started { handle, .. } => {
                    let Some(&id) = self.ids.get(&handle) else { continue };
                    FromWorker::Started { id }
                }
                ExecEvent::Output { handle, bytes, stderr } => {
                    let Some(&id) = self.ids.get(&handle) else { continue };
                    FromWorker::Output { id, stderr, bytes }
                }
                ExecEvent::Ended { handle, termination, usage, .. } => {
                    let Some(id) = self.ids.remove(&handle) else { continue };
                    self.handles.remove(&id);
                    FromWorker::Ended {
                        id,
                        termination,
                        cpu_us: usage.cpu.as_micros() as u64,
                        max_rss_kib: usage.max_rss_kib,
                    }
                }
                ExecEvent::Rejected { handle, why } => {
                    let Some(id) = self.ids.remove(&handle) else { continue };
                    self.handles.remove(&id);
                    FromWorker::Refused { id, why }
                }
                ExecEvent::Submitted { .. }
                | ExecEvent::Placed { .. }
                | ExecEvent::Requeued { .. } => continue,
            };
            frames.extend(message.encode());
        }
        if frames.is_empty() {
            return true;
        }
        self.last_sent = Instant::now();
        self.writer.write_all(&frames).and_then(|()| self.writer.flush()).is_ok()
    }

    /// Kills whatever runs here.
    fn stop_all(&mut self) {
        for &handle in self.ids.keys() {
            self.executor.cancel(handle, Urgency::Forced);
        }
    }
}
