//! `maestro event set|clear|wait NAME`: a flag that processes wait on. Set
//! means the file `prims/event/NAME` exists; waiters watch its directory,
//! so `set` wakes every one of them at once and waiting costs no CPU.

use std::io;
use std::path::Path;
use std::time::Instant;

use super::notify::{CREATED, Watcher};
use super::{Name, Scope, open_private};
use crate::error::{Error, Result};

/// Sets the event: every waiter wakes.
pub fn set(scope: &Scope, name: &Name) -> Result<()> {
    open_private(&scope.path("event", name)?).map(drop)
}

/// Clears the event: waiters from now on wait.
pub fn clear(scope: &Scope, name: &Name) -> Result<()> {
    let path = scope.path("event", name)?;
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("cannot remove", &path, e)),
        _ => Ok(()),
    }
}

/// Waits until the event is set, or `deadline` passes (`false`).
pub fn wait(scope: &Scope, name: &Name, deadline: Option<Instant>) -> Result<bool> {
    let path = scope.path("event", name)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let e = |e| Error::io("cannot watch", dir, e);
    // Watching first: a set between the look and the wait still wakes us.
    let watcher = Watcher::new(&[dir], CREATED).map_err(e)?;
    loop {
        if path.exists() {
            return Ok(true);
        }
        if !watcher.wait(deadline).map_err(e)? {
            return Ok(false);
        }
    }
}
