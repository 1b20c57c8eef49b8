//! `maestro event set|clear|wait NAME`: a flag that processes wait on. Set
//! means the file `prims/event/NAME` exists; waiters watch its directory,
//! so `set` wakes every one of them at once and waiting costs no CPU.

use std::io;
use std::path::Path;
use std::time::Instant;

use super::notify::{CREATED, until};
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
    let set = until(&[dir], CREATED, deadline, || Ok(path.exists().then_some(())))?;
    Ok(set.is_some())
}
