//! Signals as something to read: the signals maestro reacts to are blocked
//! and read from a signalfd, so that child exits, Ctrl-C and SIGTERM wake
//! the one event loop like any other input, with no handler to run (a
//! handler writing to a self-pipe cost a signal frame, a write and a read
//! per child exit).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The signals the loop takes while running tasks: the requests to stop
/// (SIGINT, SIGTERM, SIGHUP), and SIGUSR1, which a work may answer (`map`
/// lists its running jobs); the loop's work decides what each means.
pub const STOP_REQUESTS: [libc::c_int; 4] =
    [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGUSR1];

/// A signalfd; its signals stay blocked in this thread (and in threads it
/// starts later), arriving here instead, until the process ends.
#[derive(Debug)]
pub struct SignalFd {
    fd: OwnedFd,
}

impl SignalFd {
    /// The requests to stop ([`STOP_REQUESTS`]), but those maestro was
    /// started ignoring: a request ignored at the start (`nohup` ignores
    /// SIGHUP, a shell's `&` SIGINT) stays ignored, by maestro and by its
    /// tasks, which inherit the disposition. Call from the thread that runs
    /// the event loop, before it starts other threads (a thread that leaves
    /// them unblocked would take them in the default way).
    pub fn stop_requests() -> io::Result<SignalFd> {
        let heeded: Vec<libc::c_int> =
            STOP_REQUESTS.into_iter().filter(|&signal| !is_ignored(signal)).collect();
        SignalFd::install(&heeded)
    }

    /// SIGCHLD: a child's end. An ignored SIGCHLD makes the kernel reap
    /// children itself, their exit statuses lost, and maestro may have been
    /// started so (a parent's `trap '' CHLD`): it is set back to the
    /// default, which never acts while it is blocked.
    pub fn child_exits() -> io::Result<SignalFd> {
        let fd = SignalFd::install(&[libc::SIGCHLD])?;
        // SAFETY: setting a signal's disposition to the default.
        unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
        Ok(fd)
    }

    fn install(signals: &[libc::c_int]) -> io::Result<SignalFd> {
        // SAFETY: a local signal set filled with valid signals; the mask and
        // the signalfd are set with it, and the fd checked and owned.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &signal in signals {
                libc::sigaddset(&mut set, signal);
            }
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
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

/// Keeps signals (SIGCHLD above all: one per job) for the loop's thread,
/// which reads them from its signalfd: taken by a helper thread, each would
/// interrupt that thread instead.
pub fn block_in_this_thread() {
    // SAFETY: a filled local signal set, applied to this thread only.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
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
