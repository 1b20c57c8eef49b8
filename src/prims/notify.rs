//! Waiting for something to change in a directory, without polling: an
//! inotify watch, set up *before* looking, so a change between the look
//! and the wait still wakes the waiter.
//!
//! A watch is made only once a first look found nothing: closing an
//! inotify instance waits for the kernel's RCU grace period, about a
//! millisecond, which would double the cost of a `queue get` that finds
//! its item at once.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Instant;

use crate::error::{Error, Result};

/// What to be woken by.
pub const CREATED: u32 = libc::IN_CREATE | libc::IN_MOVED_TO;
/// A file opened for writing closed: a holder of a lock on it let go, or
/// died. Holders open their files for writing; a look that only reads
/// (and closes) wakes nobody, or a waiter's own looks would wake it again
/// and again.
pub const CLOSED: u32 = libc::IN_CLOSE_WRITE;

/// Calls `attempt` until it gives something, waiting between tries for
/// `mask` events in `dirs`, until `deadline` (`None` when it passed).
pub fn until<T>(
    dirs: &[&Path],
    mask: u32,
    deadline: Option<Instant>,
    mut attempt: impl FnMut() -> Result<Option<T>>,
) -> Result<Option<T>> {
    if let Some(found) = attempt()? {
        return Ok(Some(found));
    }
    let watching =
        |e| Error::io("cannot watch", dirs.first().copied().unwrap_or(Path::new(".")), e);
    let watcher = Watcher::new(dirs, mask).map_err(watching)?;
    loop {
        if let Some(found) = attempt()? {
            return Ok(Some(found));
        }
        if !watcher.wait(deadline).map_err(watching)? {
            return Ok(None);
        }
    }
}

/// Watches on directories.
struct Watcher {
    fd: OwnedFd,
}

impl Watcher {
    /// A watcher of `mask` events in each of `dirs`.
    fn new(dirs: &[&Path], mask: u32) -> io::Result<Watcher> {
        // SAFETY: inotify_init1 returns a new descriptor or -1.
        let raw = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw is a new descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        for dir in dirs {
            let path = CString::new(dir.as_os_str().as_bytes())
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
            // SAFETY: a valid descriptor and C string.
            if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), mask) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(Watcher { fd })
    }

    /// Waits until something happened since the last wait (or since the
    /// watch began), or `deadline` passes; `false` on the deadline.
    fn wait(&self, deadline: Option<Instant>) -> io::Result<bool> {
        loop {
            if self.drain()? {
                return Ok(true);
            }
            let timeout = match deadline {
                None => -1,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(false);
                    }
                    // Rounded up: waking a little late beats spinning early.
                    left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32
                }
            };
            let mut poll =
                libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut poll, 1, timeout) };
            if ready < 0 {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }

    /// Reads away the events queued; whether there were any.
    fn drain(&self) -> io::Result<bool> {
        let mut buffer = [0u8; 4096];
        let mut any = false;
        loop {
            // SAFETY: reading into a buffer of its length.
            let n = unsafe {
                libc::read(self.fd.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len())
            };
            if n > 0 {
                any = true;
                continue;
            }
            let error = io::Error::last_os_error();
            return match error.kind() {
                io::ErrorKind::WouldBlock => Ok(any),
                io::ErrorKind::Interrupted => continue,
                _ => Err(error),
            };
        }
    }
}
