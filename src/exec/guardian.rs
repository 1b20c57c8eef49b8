//! The guardian: a small child process that outlives a SIGKILL of maestro
//! just long enough to kill every task's process group.
//!
//! A process group per task lets maestro signal a task's whole tree, but the
//! groups outlive maestro if maestro itself is killed with SIGKILL. So, before
//! the first task starts, maestro starts `maestro __guardian` with a pipe on
//! its stdin and tells it every group it creates and every group that is gone.
//! When the pipe reaches end-of-file — maestro exited or was killed, the
//! kernel closes the write end either way — the guardian SIGKILLs the groups
//! still listed and exits.
//!
//! Limits: a task process that leaves its group (`setsid`, `setpgid`) escapes,
//! as it escapes any group-based supervision; and a group created in the
//! microseconds between a spawn and the message that announces it is missed
//! if maestro dies exactly then.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use super::signals::pipe;

/// Maestro's end of the guardian's pipe.
#[derive(Debug)]
pub struct Guardian {
    pipe: File,
}

impl Guardian {
    /// Starts the guardian process.
    pub fn start() -> io::Result<Guardian> {
        let (read, write) = pipe(libc::O_CLOEXEC)?;
        Command::new("/proc/self/exe")
            .arg(GUARDIAN_ARG)
            .stdin(Stdio::from(read))
            .stdout(Stdio::null())
            // Its own group: Ctrl-C on the terminal goes to maestro's group,
            // and the guardian must not die of it before the tasks do.
            .process_group(0)
            .spawn()?;
        Ok(Guardian { pipe: File::from(write) })
    }

    /// The guardian will kill group `pgid` if maestro dies.
    pub fn watch(&mut self, pgid: u32) {
        self.send(pgid as i32);
    }

    /// Group `pgid` is gone; forget it (its id may be reused).
    pub fn forget(&mut self, pgid: u32) {
        self.send(-(pgid as i32));
    }

    fn send(&mut self, record: i32) {
        // 4 bytes is far below PIPE_BUF, so each record arrives whole. A
        // write error means the guardian died: nothing better to do than run on.
        let _ = self.pipe.write_all(&record.to_le_bytes());
    }
}

/// The hidden argument that makes `maestro` act as the guardian.
pub const GUARDIAN_ARG: &str = "__guardian";

/// The guardian's main: reads records from stdin until EOF, then kills what
/// is still listed. Never returns an error: it has nobody to report to.
pub fn run_guardian() -> i32 {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGPIPE] {
        // SAFETY: setting a signal's disposition to ignored.
        unsafe { libc::signal(signal, libc::SIG_IGN) };
    }
    let mut groups: HashSet<i32> = HashSet::new();
    let mut stdin = io::stdin().lock();
    let mut record = [0u8; 4];
    while stdin.read_exact(&mut record).is_ok() {
        let value = i32::from_le_bytes(record);
        if value > 0 {
            groups.insert(value);
        } else {
            groups.remove(&-value);
        }
    }
    for pgid in groups {
        // SAFETY: kill(2) on a process group id maestro created.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
    0
}
