//! Signals as something to read: the signals maestro reacts to are blocked
//! and read from a signalfd, so that child exits, Ctrl-C and SIGTERM wake
//! the one event loop like any other input, with no handler to run (a
//! handler writing to a self-pipe cost a signal frame, a write and a read
//! per child exit).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Signals maestro reacts to while running tasks.
pub const WATCHED: [libc::c_int; 4] = [libc::SIGCHLD, libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// The signalfd; the watched signals stay blocked in this thread (and in
/// threads it starts later), arriving here instead, until the process ends.
#[derive(Debug)]
pub struct SignalFd {
    fd: OwnedFd,
}

impl SignalFd {
    /// Blocks the watched signals in this thread and opens a signalfd for
    /// them. Call once, from the thread that runs the event loop, before it
    /// starts other threads (a thread that leaves them unblocked would take
    /// them in the default way).
    pub fn install() -> io::Result<SignalFd> {
        // SAFETY: a local signal set filled with valid signals; the mask and
        // the signalfd are set with it, and the fd checked and owned.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for signal in WATCHED {
                // A stop request maestro was started ignoring (`nohup` ignores
                // SIGHUP, a shell's `&` SIGINT) stays ignored, by maestro and
                // by its tasks, which inherit the disposition.
                if signal != libc::SIGCHLD && is_ignored(signal) {
                    continue;
                }
                libc::sigaddset(&mut set, signal);
            }
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            // An ignored SIGCHLD makes the kernel reap children itself,
            // their exit statuses lost: maestro may have been started so (a
            // parent's `trap '' CHLD`). Blocked, the default never acts.
            libc::signal(libc::SIGCHLD, libc::SIG_DFL);
            let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(SignalFd { fd: OwnedFd::from_raw_fd(fd) })
        }
    }

    /// The fd to poll for readability.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Signals received since the last call, in order (several of one
    /// kind arriving together count once, as they would with a handler).
    pub fn drain(&self) -> Vec<libc::c_int> {
        let mut received = Vec::new();
        // SAFETY: reading whole signalfd_siginfo records into a zeroed
        // buffer of them; a short or failed read ends the loop.
        unsafe {
            let mut infos: [libc::signalfd_siginfo; 8] = std::mem::zeroed();
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            loop {
                let n = libc::read(self.fd(), infos.as_mut_ptr().cast(), size * infos.len());
                if n <= 0 {
                    break;
                }
                let records = n as usize / size;
                received.extend(infos[..records].iter().map(|i| i.ssi_signo as libc::c_int));
            }
        }
        received
    }
}

/// Whether `signal`'s disposition is "ignore".
fn is_ignored(signal: libc::c_int) -> bool {
    // SAFETY: reading a disposition into a zeroed struct.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut action) == 0
            && action.sa_sigaction == libc::SIG_IGN
    }
}

/// A pipe with `flags` (e.g. `O_CLOEXEC`) on both ends: (read, write).
pub fn pipe(flags: libc::c_int) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills both fds on success; we take ownership of them.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), flags) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}
