//! `maestro counter add|get NAME`: a shared integer. Its file holds the
//! value right-aligned in 20 columns, so every update is one `pwrite` of
//! the same length under an exclusive `flock`: a process killed at any
//! point leaves the old value or the new one.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::{Name, Scope, flock, open_private};
use crate::error::{Error, Result};

/// Adds `delta` (negative subtracts); returns the new value.
pub fn add(scope: &Scope, name: &Name, delta: i64) -> Result<i64> {
    let path = scope.path("counter", name)?;
    let file = open_private(&path)?;
    flock(&file, true, true).map_err(|e| Error::io("cannot lock", &path, e))?;
    let value = read(&file, &path)?;
    let new = value.checked_add(delta).ok_or_else(|| {
        Error::usage(format!("counter '{}' would overflow: {value} + {delta}", name.as_str()))
    })?;
    file.write_all_at(format!("{new:20}\n").as_bytes(), 0)
        .map_err(|e| Error::io("cannot write", &path, e))?;
    Ok(new)
}

/// The value; 0 for a counter never added to.
pub fn get(scope: &Scope, name: &Name) -> Result<i64> {
    let path = scope.path("counter", name)?;
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io("cannot open", &path, e)),
    };
    flock(&file, false, true).map_err(|e| Error::io("cannot lock", &path, e))?;
    read(&file, &path)
}

fn read(file: &File, path: &Path) -> Result<i64> {
    let mut buffer = [0u8; 64];
    let n = file.read_at(&mut buffer, 0).map_err(|e| Error::io("cannot read", path, e))?;
    let text = String::from_utf8_lossy(&buffer[..n]);
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    text.parse().map_err(|_| {
        Error::usage(format!(
            "{} does not hold a counter ('{}')",
            path.display(),
            text.escape_debug()
        ))
    })
}
