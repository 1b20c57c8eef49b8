//! Running commands: the seam between the runner and the machine (local
//! processes now, Slurm later).

pub mod guardian;
pub mod local;
pub mod signals;
pub mod spawn;

use std::path::PathBuf;
use std::time::Duration;

/// How one attempt's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// Exited with this status.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
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
        _ => format!("cannot run '{cmd}': {error}"),
    }
}

/// Resources a finished process tree used (from wait4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// User plus system CPU time.
    pub cpu: Duration,
    /// Peak resident memory of the largest process, in KiB.
    pub max_rss_kib: u64,
}

/// What to start.
#[derive(Debug)]
pub struct Spawn<'a> {
    /// The runner's key for this attempt, echoed in its events.
    pub key: usize,
    /// The command line (bytes: `map` inputs need not be UTF-8).
    pub cmd: Vec<u8>,
    /// Working directory.
    pub dir: PathBuf,
    /// Variables added to maestro's own environment.
    pub env: Vec<(String, String)>,
    /// Where stdout and stderr go.
    pub output: OutputTo<'a>,
}

/// Where a spawned process's stdout and stderr go.
#[derive(Debug)]
pub enum OutputTo<'a> {
    /// Straight into this file (both streams), never through maestro.
    File(std::os::fd::BorrowedFd<'a>),
    /// Straight into these two files, never through maestro.
    Split {
        /// Where stdout goes.
        stdout: std::os::fd::BorrowedFd<'a>,
        /// Where stderr goes.
        stderr: std::os::fd::BorrowedFd<'a>,
    },
    /// Through one pipe that maestro reads (both streams), for streaming.
    Pipe,
    /// Through two pipes that maestro reads, stdout's and stderr's.
    Pipes,
}

/// Something that happened to spawned processes.
#[derive(Debug)]
pub enum ExecEvent {
    /// An attempt's process exited; its group's leftovers were killed.
    Exited {
        /// The attempt's key.
        key: usize,
        /// How it ended.
        termination: Termination,
        /// What it used.
        usage: Usage,
    },
    /// Bytes from a piped attempt (`OutputTo::Pipe`, `OutputTo::Pipes`).
    Output {
        /// The attempt's key.
        key: usize,
        /// The bytes, as read.
        bytes: Vec<u8>,
        /// Whether they came from stderr's own pipe (`OutputTo::Pipes`).
        stderr: bool,
    },
    /// A signal maestro should act on (SIGINT, SIGTERM, SIGHUP).
    Signal(i32),
}
