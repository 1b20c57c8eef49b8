//! What a run leaves on disk, in `.maestro/` beside the flow file: for now the
//! per-run log directories (`logs/<run>/`), whose numbers are the run ids.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The state directory for a flow whose file is in `base`.
pub fn state_dir(base: &Path) -> PathBuf {
    base.join(".maestro")
}

/// A new run: its id and its (created, empty) log directory. Ids count up
/// from 1; creating the directory is what claims an id, so two maestros
/// starting at once never share one.
pub fn new_run(state_dir: &Path) -> Result<(u64, PathBuf)> {
    let logs = state_dir.join("logs");
    fs::create_dir_all(&logs).map_err(|e| Error::io("cannot create", &logs, e))?;
    let entries = fs::read_dir(&logs).map_err(|e| Error::io("cannot read", &logs, e))?;
    let last = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    let mut id = last + 1;
    loop {
        let dir = logs.join(id.to_string());
        match fs::create_dir(&dir) {
            Ok(()) => return Ok((id, dir)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => id += 1,
            Err(e) => return Err(Error::io("cannot create", &dir, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_count_up_and_skip_taken_ones() {
        let base = std::env::temp_dir().join(format!("maestro-store-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let state = state_dir(&base);
        assert_eq!(new_run(&state).unwrap().0, 1);
        assert_eq!(new_run(&state).unwrap().0, 2);
        fs::create_dir_all(state.join("logs/7")).unwrap();
        let (id, dir) = new_run(&state).unwrap();
        assert_eq!(id, 8);
        assert!(dir.ends_with("logs/8"));
        fs::remove_dir_all(&base).unwrap();
    }
}
