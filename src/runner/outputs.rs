//! Declared outputs never lie: before an attempt they are removed (a script
//! that refuses to overwrite runs again) and their folders made; after a
//! failed or interrupted attempt they are removed again, so that a half
//! written file never passes for a result (make's `.DELETE_ON_ERROR`, and
//! Snakemake's way). A task with `keep_outputs` opts out of the removals.

use std::fs;
use std::io;
use std::path::Path;

/// Removes what `outputs` (relative to `dir`) name, files or folders, and
/// makes the folders they go in. A path that holds `dir` itself or any of
/// `guarded` is left alone, whatever the flow says.
pub fn make_room(
    dir: &Path,
    outputs: &[String],
    remove: bool,
    guarded: &[&Path],
) -> Result<(), String> {
    for output in outputs {
        let path = dir.join(output);
        if remove {
            remove_one(&path, dir, guarded)
                .map_err(|e| format!("cannot remove the old {output}: {e}"))?;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create the folder of {output}: {e}"))?;
        }
    }
    Ok(())
}

/// Removes what `outputs` name, as far as it can (after a failed attempt;
/// temporary outputs no dependent needs): the names of those it removed.
pub fn remove(dir: &Path, outputs: &[String], guarded: &[&Path]) -> Vec<String> {
    outputs
        .iter()
        .filter(|output| remove_one(&dir.join(output), dir, guarded).unwrap_or(false))
        .cloned()
        .collect()
}

/// Removes `path` (a symlink itself, never what it points to); whether
/// there was something to remove.
fn remove_one(path: &Path, dir: &Path, guarded: &[&Path]) -> io::Result<bool> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        fs::remove_file(path)?;
        return Ok(true);
    }
    let folder = fs::canonicalize(path)?;
    let holds =
        |inner: &Path| fs::canonicalize(inner).is_ok_and(|inner| inner.starts_with(&folder));
    if holds(dir) || guarded.iter().any(|inner| holds(inner)) {
        return Ok(false);
    }
    fs::remove_dir_all(path)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("maestro-outputs-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn old_outputs_go_and_their_folders_come() {
        let dir = scratch("room");
        fs::write(dir.join("old.txt"), "old").unwrap();
        fs::create_dir_all(dir.join("tree/deep")).unwrap();
        fs::write(dir.join("tree/deep/x"), "x").unwrap();
        let outputs = ["old.txt".to_string(), "tree".to_string(), "new/sub/out.txt".to_string()];
        make_room(&dir, &outputs, true, &[]).unwrap();
        assert!(!dir.join("old.txt").exists() && !dir.join("tree").exists());
        assert!(dir.join("new/sub").is_dir());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_goes_but_not_what_it_points_to() {
        let dir = scratch("link");
        fs::create_dir(dir.join("data")).unwrap();
        fs::write(dir.join("data/keep"), "k").unwrap();
        std::os::unix::fs::symlink(dir.join("data"), dir.join("link")).unwrap();
        assert_eq!(remove(&dir, &["link".to_string()], &[]), vec!["link".to_string()]);
        assert_eq!(fs::read_to_string(dir.join("data/keep")).unwrap(), "k");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_folder_that_holds_the_task_or_the_state_is_never_removed() {
        let dir = scratch("guard");
        let task = dir.join("sub");
        let state = dir.join("other/.maestro");
        fs::create_dir_all(&task).unwrap();
        fs::create_dir_all(&state).unwrap();
        let outputs = [".".to_string(), "..".to_string(), "../other".to_string()];
        make_room(&task, &outputs, true, &[&state]).unwrap();
        assert!(task.is_dir() && state.is_dir());
        assert!(remove(&task, &outputs, &[&state]).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
