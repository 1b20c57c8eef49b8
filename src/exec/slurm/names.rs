//! Job names: what a later maestro (and a person reading `squeue`) finds a
//! run's jobs by. A name is `TASK.ATTEMPT.maestro-RUN-FOLDER`: the task's
//! name (made safe), the attempt's number, the run's id, and a tag of the
//! state directory, since run ids restart in every folder.

use std::path::Path;

/// The tag of the folder whose `.maestro` is `state_dir`: eight hex digits
/// of a hash of its absolute path (stable across maestro versions).
pub fn folder_tag(state_dir: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let absolute = std::path::absolute(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    let hash = xxhash_rust::xxh3::xxh3_64(absolute.as_os_str().as_bytes());
    format!("{:08x}", hash >> 32)
}

/// The part of a task's name kept in a job name.
const LONGEST_TASK_PART: usize = 80;

/// The job name of attempt `attempt` of the instance `task` in run `run`.
pub fn job_name(task: &str, attempt: u32, run: u64, tag: &str) -> String {
    let mut safe: String = task
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .take(LONGEST_TASK_PART)
        .collect();
    if safe.is_empty() {
        safe.push('_');
    }
    format!("{safe}.{attempt}.{}", run_suffix(run, tag))
}

/// What every job name of run `run` ends with.
fn run_suffix(run: u64, tag: &str) -> String {
    format!("maestro-{run}-{tag}")
}

/// What a job name says, if it is one of this folder's (`tag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobName {
    /// The task's name, as kept.
    pub task: String,
    /// The attempt's number.
    pub attempt: u32,
    /// The run's id.
    pub run: u64,
}

/// Reads `name` back, if it is a job name of this folder's runs.
pub fn parse_job_name(name: &str, tag: &str) -> Option<JobName> {
    let rest = name.strip_suffix(tag)?.strip_suffix('-')?;
    let (rest, run) = rest.rsplit_once("-")?;
    let rest = rest.strip_suffix(".maestro")?;
    let (task, attempt) = rest.rsplit_once('.')?;
    Some(JobName { task: task.to_string(), attempt: attempt.parse().ok()?, run: run.parse().ok()? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_reads_back() {
        let name = job_name("align:s 1/a.fq", 2, 17, "0a1b2c3d");
        assert_eq!(name, "align_s_1_a.fq.2.maestro-17-0a1b2c3d");
        let read = parse_job_name(&name, "0a1b2c3d").unwrap();
        assert_eq!(read, JobName { task: "align_s_1_a.fq".into(), attempt: 2, run: 17 });
        assert_eq!(parse_job_name(&name, "ffffffff"), None);
        assert_eq!(parse_job_name("sim.1.maestro-x-0a1b2c3d", "0a1b2c3d"), None);
        assert_eq!(parse_job_name("my-job", "0a1b2c3d"), None);
    }

    #[test]
    fn folders_get_their_own_tags() {
        assert_ne!(folder_tag(Path::new("/a/.maestro")), folder_tag(Path::new("/b/.maestro")));
        assert_eq!(folder_tag(Path::new("/a/.maestro")).len(), 8);
    }
}
