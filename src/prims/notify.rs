//! Waiting for something to change in a directory, without polling: an
//! inotify watch, set up *before* looking, so a change between the look
//! and the wait still wakes the waiter.
//!
//! A watch is made only once a first look found nothing: closing an
//! inotify instance waits for the kernel's RCU grace period, about a
//! millisecond, which would double the cost of a `queue get` that finds
//! its item at once.
//!
//! inotify sees only this machine's changes. Where the state directory is
//! on a file system other machines write to (NFS, Lustre, ...: tasks on
//! workers elsewhere), or `MAESTRO_STATE_SHARED=1` says it is, a waiter
//! also looks again every so often: from 10 ms, doubling up to 200 ms.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

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
    let mut watcher = Watcher::new(dirs, mask).map_err(watching)?;
    if dirs.first().is_some_and(|dir| shared_between_machines(dir)) {
        watcher.look_again = Some(FIRST_LOOK_AGAIN);
    }
    loop {
        if let Some(found) = attempt()? {
            return Ok(Some(found));
        }
        if !watcher.wait(deadline).map_err(watching)? {
            return Ok(None);
        }
    }
}

/// Where other machines' changes are not seen, the first wait before
/// looking again, and the longest.
const FIRST_LOOK_AGAIN: Duration = Duration::from_millis(10);
const LONGEST_LOOK_AGAIN: Duration = Duration::from_millis(200);

/// File systems whose files other machines change (inotify does not see
/// those changes): `statfs`'s magic numbers.
const SHARED_FILE_SYSTEMS: [i64; 14] = [
    0x6969,                // NFS
    0x517B,                // SMB
    0xFF534D42_u32 as i64, // CIFS
    0xFE534D42_u32 as i64, // SMB2
    0x65735546,            // FUSE (sshfs, ...)
    0x0BD00BD0,            // Lustre
    0x47504653,            // GPFS
    0x00C36400,            // CephFS
    0x19830326,            // BeeGFS
    0x01021997,            // 9P
    0x5346414F,            // AFS
    0x7461636F,            // OCFS2
    0x01161970,            // GFS2
    0xAAD7AAEA_u32 as i64, // PanFS
];

/// Whether `dir` is on a file system other machines write to, or
/// `MAESTRO_STATE_SHARED=1` says so.
pub fn shared_between_machines(dir: &Path) -> bool {
    std::env::var_os("MAESTRO_STATE_SHARED").is_some_and(|v| v == "1") || on_shared_file_system(dir)
}

/// Whether `dir` is on one of [`SHARED_FILE_SYSTEMS`].
fn on_shared_file_system(dir: &Path) -> bool {
    let Ok(path) = CString::new(dir.as_os_str().as_bytes()) else { return false };
    // SAFETY: statfs fills the zeroed struct from a valid C string path.
    let kind = unsafe {
        let mut stats: libc::statfs = std::mem::zeroed();
        if libc::statfs(path.as_ptr(), &mut stats) != 0 {
            return false;
        }
        stats.f_type as i64
    };
    SHARED_FILE_SYSTEMS.contains(&kind)
}

/// Watches on directories.
struct Watcher {
    fd: OwnedFd,
    /// Where changes may come unseen: how long until looking again anyway.
    look_again: Option<Duration>,
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
        Ok(Watcher { fd, look_again: None })
    }

    /// Waits until something happened since the last wait (or since the
    /// watch began), or it is time to look again anyway, or `deadline`
    /// passes; `false` on the deadline.
    fn wait(&mut self, deadline: Option<Instant>) -> io::Result<bool> {
        let look_at = self.look_again.map(|wait| Instant::now() + wait);
        if let Some(wait) = &mut self.look_again {
            *wait = (*wait * 2).min(LONGEST_LOOK_AGAIN);
        }
        loop {
            if self.drain()? {
                return Ok(true);
            }
            if look_at.is_some_and(|at| Instant::now() >= at) {
                return Ok(true);
            }
            let until = match (deadline, look_at) {
                (Some(deadline), Some(look)) => Some(deadline.min(look)),
                (deadline, look) => deadline.or(look),
            };
            let timeout = match until {
                None => -1,
                Some(until) => {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() && deadline.is_some_and(|d| d <= until) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_changes_come_unseen_a_waiter_looks_again_soon_and_less_often() {
        let dir = std::env::temp_dir().join(format!("maestro-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut watcher = Watcher::new(&[&dir], CREATED).unwrap();
        watcher.look_again = Some(FIRST_LOOK_AGAIN);
        let deadline = Some(Instant::now() + Duration::from_secs(5));
        let mut waits = Vec::new();
        for _ in 0..6 {
            let started = Instant::now();
            assert!(watcher.wait(deadline).unwrap(), "woken to look again, not by the deadline");
            waits.push(started.elapsed());
        }
        // 10, 20, 40, 80, 160, 200 ms: each at least its interval, well
        // below the deadline.
        let least = [10, 20, 40, 80, 160, 200].map(Duration::from_millis);
        for (waited, least) in waits.iter().zip(least) {
            assert!(*waited >= least && *waited < least + Duration::from_millis(500), "{waits:?}");
        }
        // The deadline still ends a wait.
        let soon = Some(Instant::now() + Duration::from_millis(30));
        watcher.look_again = Some(Duration::from_secs(1));
        assert!(!watcher.wait(soon).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_local_file_system_is_not_taken_for_a_shared_one() {
        // /proc is procfs on every Linux: never shared between machines.
        assert!(!on_shared_file_system(Path::new("/proc")));
        assert!(!on_shared_file_system(Path::new("/no/such/folder")));
    }
}
