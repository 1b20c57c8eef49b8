//! SPEC §6: what scripts running in parallel share (a lock, a semaphore,
//! an event, a counter, a value, a queue), race-free across processes and
//! with no daemon. Each primitive is a few files under `.maestro/prims/`;
//! every exclusion is a `flock(2)`, which the kernel drops when its holder
//! dies however it dies, and every wait is an inotify watch, so waiting
//! costs no CPU and nothing is ever left locked.

pub mod counter;
pub mod event;
pub mod hold;
mod notify;
pub mod queue;
pub mod value;
mod watcher;

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The environment variable naming the state directory of the run a task
/// belongs to: primitives used inside a run share that run's state.
pub const STATE_ENV: &str = "MAESTRO_STATE";

/// The exit status of a wait that timed out (as `timeout(1)`'s).
pub const TIMED_OUT: i32 = 124;

/// The exit status of a lookup that found nothing (`value get` of a
/// missing value).
pub const NOT_FOUND: i32 = 1;

/// The longest name, in bytes.
const MOST_NAME_BYTES: usize = 200;

/// The primitives of one state directory.
#[derive(Debug, Clone)]
pub struct Scope {
    /// `<state>/prims`.
    root: PathBuf,
}

impl Scope {
    /// The primitives of `--state DIR` when given, else of the run this
    /// process is a task of (`MAESTRO_STATE`), else of `./.maestro`. The
    /// state directory is created private to the user, and refused when
    /// another user owns it.
    pub fn open(state: Option<&Path>) -> Result<Scope> {
        let state = match (state, std::env::var_os(STATE_ENV)) {
            (Some(dir), _) => dir.to_path_buf(),
            (None, Some(dir)) if !dir.is_empty() => PathBuf::from(dir),
            _ => PathBuf::from(".maestro"),
        };
        private_dir(&state)?;
        let root = state.join("prims");
        private_dir(&root)?;
        Ok(Scope { root })
    }

    /// The directory of one kind of primitive (`lock`, `counter`...),
    /// made if needed.
    fn kind(&self, kind: &str) -> Result<PathBuf> {
        let dir = self.root.join(kind);
        private_dir(&dir)?;
        Ok(dir)
    }

    /// The path of primitive `name` of `kind`, its directory made.
    pub fn path(&self, kind: &str, name: &Name) -> Result<PathBuf> {
        Ok(self.kind(kind)?.join(&name.0))
    }
}

/// A primitive's name: free text, checked to be usable as one file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// Checks `text`: 1 to 200 bytes, no `/`, no control character, not
    /// starting with `.` (which would name maestro's own files, or `..`).
    pub fn parse(text: &str) -> Result<Name> {
        let problem = if text.is_empty() {
            Some("is empty")
        } else if text.len() > MOST_NAME_BYTES {
            Some("is longer than 200 bytes")
        } else if text.contains('/') {
            Some("contains '/'")
        } else if text.chars().any(char::is_control) {
            Some("contains a control character")
        } else if text.starts_with('.') {
            Some("starts with '.'")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(Error::usage_hint(
                format!("name '{}' {problem}", text.escape_debug()),
                "names are free text: letters, digits, spaces, punctuation (not '/'), up to 200 bytes",
            )),
            None => Ok(Name(text.to_string())),
        }
    }

    /// As written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Makes `dir` (mode 0700) unless it exists; refuses one that another
/// user owns, since its content would be shared with them.
fn private_dir(dir: &Path) -> Result<()> {
    crate::private::dir(dir)
}

/// Opens (creating, mode 0600) the file at `path` for reading and writing.
fn open_private(path: &Path) -> Result<File> {
    crate::private::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| Error::io("cannot open", path, e))
}

/// Writes `bytes` as the whole content of `path`, atomically: into a
/// private temporary file beside it, renamed over it. A reader sees the
/// old content or the new, never a part.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = crate::private::create(&temporary)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| fs::rename(&temporary, path));
    written.map_err(|e| {
        let _ = fs::remove_file(&temporary);
        Error::io("cannot write", path, e)
    })
}

/// `flock(2)` on `file`: `exclusive` or shared, waiting or not. `Ok(false)`
/// when `wait` is false and someone else holds it.
fn flock(file: &File, exclusive: bool, wait: bool) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let mut operation = if exclusive { libc::LOCK_EX } else { libc::LOCK_SH };
    if !wait {
        operation |= libc::LOCK_NB;
    }
    loop {
        // SAFETY: flock on an open file.
        if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
            return Ok(true);
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) if !wait => return Ok(false),
            _ => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_free_text_that_fits_a_file_name() {
        for good in ["total", "licence server", "résultats-2026", "a.b", "x:1"] {
            assert!(Name::parse(good).is_ok(), "{good}");
        }
        for bad in ["", ".hidden", "..", "a/b", "line\nbreak", &"x".repeat(201)] {
            let error = Name::parse(bad).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{bad}");
        }
    }
}
