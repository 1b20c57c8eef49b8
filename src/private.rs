//! What maestro writes is its user's alone: directories 0700, files 0600,
//! whatever the umask (which only ever takes bits away), and a directory
//! of another user's is never written into. Logs and history hold
//! whatever the tasks printed.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{Error, Result};

/// Makes `dir` and its missing parents (0700), or checks that the `dir`
/// already there is a directory of the user's own, made private if it was
/// not.
pub fn dir(dir: &Path) -> Result<()> {
    make_dir(dir).map_err(|e| Error::io("cannot create", dir, e))?;
    let metadata = fs::metadata(dir).map_err(|e| Error::io("cannot read", dir, e))?;
    if !metadata.is_dir() {
        return Err(Error::usage(format!("{} is not a directory", dir.display())));
    }
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    if metadata.uid() != me {
        return Err(Error::usage_hint(
            format!(
                "{} belongs to user {}, not to you (user {me}): maestro will not share state \
                 with another user",
                dir.display(),
                metadata.uid()
            ),
            "move it away: maestro keeps state only in a directory of your own (the \
             primitives can be given one: --state DIR)",
        ));
    }
    if metadata.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("cannot make private", dir, e))?;
    }
    Ok(())
}

/// Makes `dir` and its missing parents, 0700, inside a directory already
/// checked with [`dir`].
pub fn make_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Makes the file at `path` private if it is not (one that maestro made
/// before it made everything private, say).
pub fn tighten(path: &Path) -> io::Result<()> {
    match fs::metadata(path) {
        Ok(metadata) if metadata.mode() & 0o077 != 0 => {
            fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Options that create a file 0600 (an existing file keeps its mode).
pub fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(0o600);
    options
}

/// Creates (or empties) the file at `path`, 0600, for writing.
pub fn create(path: &Path) -> io::Result<File> {
    options().write(true).create(true).truncate(true).open(path)
}

/// Opens the file at `path` to append to it, creating it 0600.
pub fn append(path: &Path) -> io::Result<File> {
    options().append(true).create(true).open(path)
}
