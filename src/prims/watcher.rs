//! What kills a held command's whole process group if maestro dies first:
//! the command dies with maestro (PR_SET_PDEATHSIG), but what it started in
//! the background would live on.
//!
//! A process forked from maestro (no exec: a lock taken in a loop must stay
//! cheap) waits on a pipe. The command writes its group's id into the pipe
//! before it execs, and holds the pipe's write end until then, so the
//! watcher cannot reach end-of-file before it knows the group, whenever
//! maestro dies. maestro writes `d` once the command is gone; end-of-file
//! without it means maestro died: the watcher kills the group.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::exec::signals::pipe;

/// maestro's side: the pipe's write end.
#[derive(Debug)]
pub struct Watcher {
    write: OwnedFd,
    pid: libc::pid_t,
}

impl Watcher {
    /// Forks the watcher. Call while maestro has a single thread.
    pub fn start() -> io::Result<Watcher> {
        let (read, write) = pipe(libc::O_CLOEXEC)?;
        // SAFETY: maestro has one thread here; the child calls only
        // async-signal-safe functions and leaves by _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: as above; `read` is open in the child too.
            unsafe { watch(read.as_raw_fd()) }
        }
        drop(read);
        Ok(Watcher { write, pid })
    }

    /// The descriptor the command writes its group into before it execs.
    pub fn fd(&self) -> RawFd {
        self.write.as_raw_fd()
    }

    /// The command is gone: the watcher leaves its group alone, and ends.
    pub fn finish(self) {
        let Watcher { write, pid } = self;
        // SAFETY: a write and a wait on a descriptor and a child we own.
        unsafe {
            libc::write(write.as_raw_fd(), b"d".as_ptr().cast(), 1);
            drop(write);
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
        }
    }
}

/// The watcher's life, in the forked child.
///
/// # Safety
/// Only in a child just forked from a single-threaded process.
unsafe fn watch(read: RawFd) -> ! {
    // SAFETY: plain system calls on our own descriptors and signals.
    unsafe {
        // Nothing of maestro's stays open here (its lock least of all), and
        // no signal meant for maestro's group ends the watch.
        libc::close_range(0, (read - 1).max(0) as libc::c_uint, 0);
        libc::close_range((read + 1) as libc::c_uint, libc::c_uint::MAX, 0);
        libc::setpgid(0, 0);
        for signal in [libc::SIGINT, libc::SIGQUIT, libc::SIGHUP, libc::SIGTERM, libc::SIGPIPE] {
            libc::signal(signal, libc::SIG_IGN);
        }
        let mut group = [0u8; 4];
        let mut done = [0u8; 1];
        let known = read_exact(read, &mut group);
        let ended_well = known && read_exact(read, &mut done) && done[0] == b'd';
        let group = libc::pid_t::from_ne_bytes(group);
        if known && !ended_well && group > 0 {
            libc::kill(-group, libc::SIGKILL);
        }
        libc::_exit(0)
    }
}

/// Fills `buffer` from `fd`; false at end-of-file first.
///
/// # Safety
/// `fd` must be open.
unsafe fn read_exact(fd: RawFd, buffer: &mut [u8]) -> bool {
    let mut filled = 0;
    while filled < buffer.len() {
        // SAFETY: the pointer and length stay inside `buffer`.
        let n =
            unsafe { libc::read(fd, buffer[filled..].as_mut_ptr().cast(), buffer.len() - filled) };
        if n > 0 {
            filled += n as usize;
        } else if n == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return false;
        }
    }
    true
}
