//! Signals as bytes on a pipe (the self-pipe trick), so that child exits,
//! Ctrl-C and SIGTERM wake the one event loop like any other input.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// Write end of the pipe, for the handler (which may only do signal-safe things).
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

/// Signals maestro reacts to while running tasks.
pub const WATCHED: [libc::c_int; 4] = [libc::SIGCHLD, libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

extern "C" fn on_signal(signal: libc::c_int) {
    let fd = PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: errno is saved and restored; write(2) is async-signal-safe.
        unsafe {
            let saved = *libc::__errno_location();
            let byte = signal as u8;
            libc::write(fd, (&byte as *const u8).cast(), 1);
            *libc::__errno_location() = saved;
        }
    }
}

/// The read end of the signal pipe; signals keep arriving there until dropped.
#[derive(Debug)]
pub struct SignalPipe {
    read: OwnedFd,
    _write: OwnedFd,
}

impl SignalPipe {
    /// Installs the handlers. Call once per process.
    pub fn install() -> io::Result<SignalPipe> {
        let (read, write) = pipe(libc::O_CLOEXEC | libc::O_NONBLOCK)?;
        PIPE_WRITE.store(write.as_raw_fd(), Ordering::Relaxed);
        for signal in WATCHED {
            // SAFETY: a zeroed sigaction with a valid handler and SA_RESTART,
            // so that interrupted system calls resume instead of failing.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as usize;
                action.sa_flags = libc::SA_RESTART | libc::SA_NOCLDSTOP;
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        Ok(SignalPipe { read, _write: write })
    }

    /// The fd to poll for readability.
    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Signals received since the last call, in order.
    pub fn drain(&self) -> Vec<libc::c_int> {
        let mut received = Vec::new();
        let mut buffer = [0u8; 64];
        loop {
            // SAFETY: reading into a local buffer of the stated size.
            let n = unsafe { libc::read(self.fd(), buffer.as_mut_ptr().cast(), buffer.len()) };
            if n <= 0 {
                break;
            }
            received.extend(buffer[..n as usize].iter().map(|&b| libc::c_int::from(b)));
        }
        received
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
