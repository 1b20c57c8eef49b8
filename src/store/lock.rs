//! One run at a time per state directory: an `flock` on `.maestro/lock`.
//! The kernel drops the lock when its holder dies, however it dies, so a
//! killed maestro never leaves a lock behind for the next run to trip on.
//!
//! A flow run holds the lock exclusively; `maestro par`, whose tasks declare
//! no outputs, holds it shared, so several can run side by side. Holding it
//! exclusively is also what proves no other maestro is running, which is
//! when attempts still marked running can be marked interrupted.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// How the lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// No other maestro at all.
    Exclusive,
    /// Other shared holders, but no exclusive one.
    Shared,
}

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock in `dir`, waiting for its holders if there are any;
    /// `on_wait` is called once before the wait begins.
    pub fn acquire(dir: &Path, mode: LockMode, on_wait: impl FnOnce()) -> io::Result<RunLock> {
        let file = open(dir)?;
        let operation = operation(mode);
        if !flock(&file, operation | libc::LOCK_NB)? {
            on_wait();
            while !flock(&file, operation)? {}
        }
        Ok(RunLock { _file: file })
    }

    /// Takes the lock exclusively if nobody holds it; `None` if someone does.
    pub fn try_exclusive(dir: &Path) -> io::Result<Option<RunLock>> {
        RunLock::try_acquire(dir, LockMode::Exclusive)
    }

    /// Takes the lock in `mode` if that can be done without waiting.
    pub fn try_acquire(dir: &Path, mode: LockMode) -> io::Result<Option<RunLock>> {
        let file = open(dir)?;
        Ok(flock(&file, operation(mode) | libc::LOCK_NB)?.then_some(RunLock { _file: file }))
    }
}

fn operation(mode: LockMode) -> libc::c_int {
    match mode {
        LockMode::Exclusive => libc::LOCK_EX,
        LockMode::Shared => libc::LOCK_SH,
    }
}

fn open(dir: &Path) -> io::Result<File> {
    let path = dir.join("lock");
    let file = crate::private::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    crate::private::tighten(&path)?;
    Ok(file)
}

/// `flock`; false when it would block (or was interrupted, to retry).
fn flock(file: &File, operation: libc::c_int) -> io::Result<bool> {
    // SAFETY: flock on an fd we own.
    if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EWOULDBLOCK) | Some(libc::EINTR) => Ok(false),
        _ => Err(error),
    }
}
