//! Running commands: the seam between the one loop (the runner) and
//! wherever attempts run. A backend starts an attempt and hands back an
//! opaque [`Handle`]; it cancels a handle with an [`Urgency`]; it reports
//! what happened as [`ExecEvent`]s when the loop collects them. Signals and
//! timers belong to the loop: a backend only names the file descriptors
//! that should wake the loop for it ([`Executor::sources`]) and, if it must
//! look at something now and then (a batch system's queue), the time it
//! wants to be called by ([`Executor::deadline`]).
//!
//! An attempt's output goes to files named by path ([`Output`]): a local
//! process writes them itself, a batch job's script redirects to them.

pub mod guardian;
pub mod jobserver;
pub mod local;
pub mod signals;
pub mod slurm;
pub mod spawn;
pub mod stdin_writer;
pub mod workers;

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::flow::BatchOptions;
use crate::private;
use crate::shell::Shell;

/// How one attempt's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// Exited with this status.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
    /// Ended by the batch system it ran under, with no status of its own.
    Batch(BatchEnd),
}

/// Why a batch system ended an attempt, as distinct outcomes: each asks
/// something else of the user (more time, more memory, a retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchEnd {
    /// It reached the job's time limit.
    TimeLimit,
    /// It used more memory than the job had.
    OutOfMemory,
    /// Its node failed.
    NodeFailure,
    /// Someone else cancelled its job (not maestro).
    Cancelled,
    /// Its job was preempted, and not put back in the queue.
    Preempted,
    /// Its node could not be booted.
    BootFailure,
    /// The job's deadline passed.
    Deadline,
    /// The batch system forgot the job, and the job left no record of its
    /// end.
    Vanished,
}

impl BatchEnd {
    /// How the store, the report and `--json` name it.
    pub fn status_word(self) -> &'static str {
        match self {
            BatchEnd::TimeLimit => "timed_out",
            BatchEnd::OutOfMemory => "out_of_memory",
            BatchEnd::NodeFailure => "node_failure",
            BatchEnd::Cancelled => "cancelled",
            BatchEnd::Preempted => "preempted",
            BatchEnd::BootFailure => "boot_failure",
            BatchEnd::Deadline => "deadline",
            BatchEnd::Vanished => "vanished",
        }
    }
}

impl std::fmt::Display for BatchEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BatchEnd::TimeLimit => "its job reached its time limit",
            BatchEnd::OutOfMemory => "its job ran out of memory",
            BatchEnd::NodeFailure => "its node failed",
            BatchEnd::Cancelled => "its job was cancelled outside maestro",
            BatchEnd::Preempted => "its job was preempted",
            BatchEnd::BootFailure => "its node could not boot",
            BatchEnd::Deadline => "its job passed its deadline",
            BatchEnd::Vanished => "its job vanished from Slurm without a record of its end",
        })
    }
}

impl Termination {
    /// Exit status 0.
    pub fn success(self) -> bool {
        self == Termination::Exited(0)
    }
}

impl std::fmt::Display for Termination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Termination::Exited(code) => write!(f, "exit {code}"),
            Termination::Signaled(signal) => write!(f, "killed by {}", signal_name(*signal)),
            Termination::Batch(end) => write!(f, "{end}"),
        }
    }
}

/// `SIGKILL` for 9, and so on; the number for others.
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        _ => return format!("signal {signal}"),
    };
    name.to_string()
}

/// Why `cmd` could not start in `dir`, in the shell's words where it has
/// some ("x: command not found").
pub fn spawn_error_text(cmd: &[u8], dir: &std::path::Path, error: &std::io::Error) -> String {
    // Control characters (a NUL, say) are shown escaped, not written raw.
    let cmd = String::from_utf8_lossy(cmd).escape_debug().to_string();
    let program = cmd.split_whitespace().next().unwrap_or(&cmd);
    match error.kind() {
        std::io::ErrorKind::NotFound if !dir.is_dir() => {
            format!("cannot run in {}: no such directory", dir.display())
        }
        std::io::ErrorKind::NotFound => format!("{program}: command not found"),
        std::io::ErrorKind::PermissionDenied => format!("{program}: permission denied"),
        // Said in full where it was made (a missing shell).
        std::io::ErrorKind::Other if error.get_ref().is_some() => error.to_string(),
        _ => format!("cannot run '{cmd}': {error}"),
    }
}

/// Resources a finished attempt used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// User plus system CPU time.
    pub cpu: Duration,
    /// Peak resident memory of the largest process, in KiB.
    pub max_rss_kib: u64,
}

/// Where an attempt ran, when its backend has places of its own (a worker
/// and the slots it held there), for the report to draw by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The worker: `host #N`.
    pub lane: String,
    /// Its slots there, from 1.
    pub slots: Vec<u32>,
}

/// One attempt as a backend receives it.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The command line (bytes: `map` inputs need not be UTF-8).
    pub cmd: Vec<u8>,
    /// What runs it.
    pub shell: Shell,
    /// Working directory.
    pub dir: PathBuf,
    /// Variables added to maestro's own environment.
    pub env: Vec<(String, String)>,
    /// Where stdout and stderr go.
    pub output: Output,
    /// What it is called where people see it beside others' (a batch
    /// system's queue): its task instance's name, or its job number.
    pub name: String,
    /// What it asks for.
    pub request: Request,
    /// What it reads on stdin.
    pub stdin: Stdin,
}

/// What an attempt reads on stdin: nothing (`/dev/null`), or data maestro
/// hands it (`map --pipe`'s blocks), then end of file. A backend that
/// cannot hand data over refuses an attempt that has some.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Stdin {
    /// `/dev/null`.
    #[default]
    Null,
    /// These parts, one after the other.
    Data(Vec<StdinPart>),
    /// `/dev/null`; the parts go into the named pipe at `path` instead,
    /// once the attempt opens it (`map --fifo`).
    Fifo {
        /// The named pipe.
        path: Arc<Path>,
        /// What is written into it.
        parts: Vec<StdinPart>,
    },
}

/// A part of an attempt's stdin; shared, so that a retry costs no copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StdinPart {
    /// These bytes.
    Bytes(Arc<[u8]>),
    /// `len` bytes of a file from `start` (read by the backend, never by
    /// maestro: `map --pipepart`).
    File {
        /// The file.
        path: Arc<Path>,
        /// Where the part starts.
        start: u64,
        /// Its length.
        len: u64,
    },
    /// Blocks taken from a queue that several attempts share, one at a
    /// time when the attempt is ready for more, until the queue ends
    /// (`map --round-robin`).
    Queue(BlockQueue),
}

/// Blocks of data for the attempts that share it, each taken once.
#[derive(Debug, Clone)]
pub struct BlockQueue(Arc<std::sync::Mutex<std::sync::mpsc::Receiver<Arc<[u8]>>>>);

impl BlockQueue {
    /// The queue of what `receiver` gets.
    pub fn new(receiver: std::sync::mpsc::Receiver<Arc<[u8]>>) -> BlockQueue {
        BlockQueue(Arc::new(std::sync::Mutex::new(receiver)))
    }

    /// The next block, waiting for it; `None` once the queue ended.
    pub fn next(&self) -> Option<Arc<[u8]>> {
        self.0.lock().ok()?.recv().ok()
    }
}

impl PartialEq for BlockQueue {
    fn eq(&self, other: &BlockQueue) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for BlockQueue {}

/// Why a backend that runs attempts elsewhere refuses one with stdin data.
pub const NO_STDIN_DATA: &str = "this backend cannot give a job data on stdin";

impl Stdin {
    /// Whether there is data to hand over.
    pub fn has_data(&self) -> bool {
        matches!(self, Stdin::Data(_) | Stdin::Fifo { .. })
    }
}

/// What an attempt asks of where it runs. The local backend has the
/// machine's CPUs counted out by the loop already, and no use for the rest.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// CPUs.
    pub cpus: u32,
    /// The time it may run (its timeout).
    pub time_limit: Option<Duration>,
    /// A batch system's options; `None` when it asks nothing more.
    pub batch: Option<Arc<BatchOptions>>,
}

/// Where an attempt's stdout and stderr go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The files.
    pub files: OutputFiles,
    /// Whether the bytes also come to maestro as [`ExecEvent::Output`] as
    /// they are written (stream mode, `--line-buffer`).
    pub watch: Watch,
}

/// The files an attempt's output is written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputFiles {
    /// Both streams into one log: made anew for attempt 1, appended to
    /// after a `maestro: --- attempt N ---` line for a later one, so that
    /// the log keeps every attempt.
    Log {
        /// The log.
        path: PathBuf,
        /// The attempt's number, from 1.
        attempt: u32,
    },
    /// Each stream appended to its file (which may be the same file), made
    /// if missing: files reused by attempt after attempt, emptied by their
    /// reader (`map`'s).
    Appended {
        /// Where stdout goes.
        stdout: PathBuf,
        /// Where stderr goes.
        stderr: PathBuf,
    },
    /// Maestro's own stdout and stderr (`map -u`): the attempt writes
    /// there as it goes. A backend whose attempts run elsewhere refuses it.
    Inherited,
}

impl OutputFiles {
    /// Where stdout goes, and stderr: the same file for a log.
    pub fn paths(&self) -> (&Path, &Path) {
        match self {
            OutputFiles::Log { path, .. } => (path, path),
            OutputFiles::Appended { stdout, stderr } => (stdout, stderr),
            OutputFiles::Inherited => (Path::new("/dev/stdout"), Path::new("/dev/stderr")),
        }
    }

    /// Opens the files for an attempt to write: stdout's, then stderr's
    /// when apart. A log is made anew for attempt 1 and appended to after
    /// its separator line for a later one.
    pub fn open(&self) -> io::Result<(File, Option<File>)> {
        match self {
            OutputFiles::Log { path, attempt: 1 } => Ok((private::create(path)?, None)),
            OutputFiles::Log { path, attempt } => {
                let mut file = private::append(path)?;
                writeln!(file, "maestro: --- attempt {attempt} ---")?;
                Ok((file, None))
            }
            OutputFiles::Appended { stdout, stderr } => {
                let out = private::append(stdout)?;
                let err = if stderr == stdout { None } else { Some(private::append(stderr)?) };
                Ok((out, err))
            }
            OutputFiles::Inherited => {
                use std::os::fd::AsFd;
                let out = io::stdout().as_fd().try_clone_to_owned()?;
                let err = io::stderr().as_fd().try_clone_to_owned()?;
                Ok((File::from(out), Some(File::from(err))))
            }
        }
    }
}

/// Whether, and how, output also comes through maestro.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// Straight into the files, never through maestro.
    No,
    /// Both streams as one (their order kept), reported as stdout.
    Merged,
    /// Each stream apart.
    Split,
}

/// A started attempt, as its backend knows it. Opaque to the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle(pub u64);

/// How hard a cancel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// Ask it to stop (SIGTERM to its process group), letting it clean up.
    Graceful,
    /// Stop it now (SIGKILL).
    Forced,
    /// Send it this signal (a step of `map --term-seq`): a backend that
    /// cannot treats it as [`Urgency::Graceful`].
    Signal(i32),
}

impl Urgency {
    /// How a signal of a termination sequence is sent.
    pub fn of_signal(signal: i32) -> Urgency {
        match signal {
            libc::SIGKILL => Urgency::Forced,
            libc::SIGTERM => Urgency::Graceful,
            other => Urgency::Signal(other),
        }
    }
}

/// Something that happened to an attempt.
#[derive(Debug)]
pub enum ExecEvent {
    /// The backend's own name for it is known: a batch system's job id
    /// (again, should the attempt go in anew as another job).
    Submitted {
        /// The attempt.
        handle: Handle,
        /// The id, as the batch system's commands take it.
        id: String,
    },
    /// It went to a place of its own: a worker's slots (again, should it
    /// go to another after its worker was lost).
    Placed {
        /// The attempt.
        handle: Handle,
        /// Where.
        place: Place,
    },
    /// It runs (a backend may queue an attempt before it runs).
    Started {
        /// The attempt.
        handle: Handle,
        /// How long before this event it began: a backend that learns of
        /// starts by looking from time to time learns late. Zero for one
        /// that knows at once.
        late_by: Duration,
    },
    /// Bytes it wrote, for an attempt whose output is watched.
    Output {
        /// The attempt.
        handle: Handle,
        /// The bytes, as read.
        bytes: Vec<u8>,
        /// Whether they came from stderr (with [`Watch::Split`]).
        stderr: bool,
    },
    /// It went back to waiting to run, the same attempt (a batch system
    /// requeued its job after a node failure or a preemption).
    Requeued {
        /// The attempt.
        handle: Handle,
    },
    /// The backend could not run an attempt it had taken (a batch system
    /// refused the job once submitted): it never ran.
    Rejected {
        /// The attempt.
        handle: Handle,
        /// Why, in the words a user needs.
        why: String,
    },
    /// It ended; whatever it left behind was stopped with it.
    Ended {
        /// The attempt.
        handle: Handle,
        /// How.
        termination: Termination,
        /// What it used.
        usage: Usage,
        /// How long before this event it ended, as for [`ExecEvent::Started`].
        late_by: Duration,
    },
}

impl ExecEvent {
    /// The attempt it is about.
    pub fn handle(&self) -> Handle {
        match *self {
            ExecEvent::Submitted { handle, .. }
            | ExecEvent::Placed { handle, .. }
            | ExecEvent::Started { handle, .. }
            | ExecEvent::Output { handle, .. }
            | ExecEvent::Requeued { handle }
            | ExecEvent::Rejected { handle, .. }
            | ExecEvent::Ended { handle, .. } => handle,
        }
    }
}

/// Where attempts run.
pub trait Executor {
    /// Starts `launch`. An error says why it could not start, in the words
    /// a user needs ("x: command not found"); the attempt then never ran.
    fn start(&mut self, launch: Launch) -> Result<Handle, String>;

    /// Stops an attempt. Its end still comes as [`ExecEvent::Ended`]. A
    /// handle that already ended is ignored.
    fn cancel(&mut self, handle: Handle, urgency: Urgency);

    /// Whether an attempt may wait in a queue between [`Executor::start`]
    /// and [`ExecEvent::Started`] (a batch system's), a wait worth
    /// measuring; not when `start` runs it at once.
    fn queues(&self) -> bool {
        false
    }

    /// A hint: an attempt writing `output` will start soon. A backend may
    /// get ready for it, off the path between one attempt's end and the
    /// next one's start (the local one creates the log file).
    fn prepare(&mut self, _output: &Output) {}

    /// When the backend must be collected from even if none of its sources
    /// wakes the loop: a polling backend's next look; now, when it holds
    /// events already.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// File descriptors whose readability means the backend has something
    /// to collect.
    fn sources(&self, _fds: &mut Vec<RawFd>) {}

    /// Appends what happened since the last call to `events`, without
    /// waiting.
    fn collect(&mut self, events: &mut Vec<ExecEvent>) -> io::Result<()>;
}
