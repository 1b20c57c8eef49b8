//! `maestro value set|get NAME`: a shared value, any bytes. Setting
//! replaces the file whole (written beside it, renamed over it), so a
//! reader gets the old value or the new one, never a mix.

use std::io;

use super::{Name, Scope, replace_file};
use crate::error::{Error, Result};

/// Sets the value.
pub fn set(scope: &Scope, name: &Name, bytes: &[u8]) -> Result<()> {
    replace_file(&scope.path("value", name)?, bytes)
}

/// The value, `None` when it was never set.
pub fn get(scope: &Scope, name: &Name) -> Result<Option<Vec<u8>>> {
    let path = scope.path("value", name)?;
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("cannot read", &path, e)),
    }
}
