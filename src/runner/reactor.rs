//! What the loop waits on: requests to stop (signals), its backend's
//! sources, a work's wake-up pipe, and time. [`Poller`] waits for real;
//! tests use a fake clock in its place.

use std::io;
use std::os::fd::RawFd;
use std::time::Instant;

use crate::exec::Executor;
use crate::exec::signals::SignalFd;

/// Time, and waiting for something to happen.
pub trait Reactor {
    /// Now.
    fn now(&self) -> Instant;

    /// Waits until `deadline` (forever when `None`) or until one of the
    /// executor's sources or `wake` (a pipe written to wake the loop, which
    /// is emptied here) is readable. Returns the requests to stop that
    /// arrived (signal numbers), in order.
    fn wait(
        &mut self,
        deadline: Option<Instant>,
        executor: &dyn Executor,
        wake: Option<RawFd>,
    ) -> io::Result<Vec<i32>>;
}

/// Waits with `poll(2)`; requests to stop come from a signalfd.
#[derive(Debug)]
pub struct Poller {
    stop_requests: SignalFd,
    fds: Vec<RawFd>,
    /// A wake-up pipe whose writer is gone: polling it would return at
    /// once, forever.
    hung_up: Option<RawFd>,
}

impl Poller {
    /// Starts taking SIGINT, SIGTERM and SIGHUP as requests to stop (see
    /// [`SignalFd::stop_requests`]).
    pub fn new() -> io::Result<Poller> {
        Ok(Poller { stop_requests: SignalFd::stop_requests()?, fds: Vec::new(), hung_up: None })
    }
}

impl Reactor for Poller {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wait(
        &mut self,
        deadline: Option<Instant>,
        executor: &dyn Executor,
        wake: Option<RawFd>,
    ) -> io::Result<Vec<i32>> {
        self.fds.clear();
        self.fds.push(self.stop_requests.fd());
        let wake = wake.filter(|&fd| Some(fd) != self.hung_up);
        self.fds.extend(wake);
        executor.sources(&mut self.fds);
        let mut polled: Vec<libc::pollfd> = self
            .fds
            .iter()
            .map(|&fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 })
            .collect();
        let timeout_ms = match deadline {
            None => -1,
            // Rounded up: waking before the deadline would only wait again.
            Some(at) => {
                let wait = at.saturating_duration_since(Instant::now());
                wait.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
            }
        };
        // SAFETY: `polled` is a valid array of pollfd of the given length.
        let ready =
            unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, timeout_ms) };
        if ready < 0 {
            let error = io::Error::last_os_error();
            return if error.kind() == io::ErrorKind::Interrupted {
                Ok(Vec::new())
            } else {
                Err(error)
            };
        }
        if let Some(fd) = wake
            && polled[1].revents != 0
            && !empty_pipe(fd)
        {
            self.hung_up = Some(fd);
        }
        if polled[0].revents == 0 {
            return Ok(Vec::new());
        }
        Ok(self.stop_requests.drain())
    }
}

/// Reads and drops what is in a non-blocking pipe; false when its writer
/// is gone.
fn empty_pipe(fd: RawFd) -> bool {
    let mut sink = [0u8; 256];
    loop {
        // SAFETY: reading into a local buffer from a non-blocking fd.
        match unsafe { libc::read(fd, sink.as_mut_ptr().cast(), sink.len()) } {
            0 => return false,
            n if n > 0 => continue,
            _ => return true,
        }
    }
}
