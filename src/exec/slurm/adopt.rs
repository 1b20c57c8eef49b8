//! Jobs of earlier runs of this folder whose maestro is gone (killed, or
//! its machine rebooted): Slurm ran them on. The next run reattaches to
//! those still queued or running instead of submitting their tasks again,
//! and takes the successes they recorded meanwhile as its own; `maestro
//! cancel` stops them.
//!
//! A run's jobs are found by the ids it noted (`submitted` in its jobs
//! directory) and, for a job submitted in the instant before maestro died,
//! by name; what each job runs is in the `.job` file written beside its
//! script before it was submitted.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::command;
use super::names::parse_job_name;
use super::record::{EndRecord, read_end};
use super::script::RecordPaths;
use super::status::{JobState, SQUEUE_FORMAT, parse_squeue};
use crate::exec::Launch;

/// What a job runs, as the `.job` file beside its script says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFile {
    /// The job's name in Slurm.
    pub name: String,
    /// The instance it runs.
    pub task: String,
    /// What it runs: see [`launch_key`].
    pub key: String,
    /// The log its output goes to.
    pub log: PathBuf,
    /// Its `MAESTRO_OUTPUT` file, if it has one.
    pub outputs: Option<PathBuf>,
}

impl JobFile {
    /// The file's text.
    pub fn text(&self) -> String {
        let mut text = format!(
            "name {}\ntask {}\nkey {}\nlog {}\n",
            escape(&self.name),
            escape(&self.task),
            self.key,
            escape(&self.log.to_string_lossy())
        );
        if let Some(outputs) = &self.outputs {
            text.push_str(&format!("outputs {}\n", escape(&outputs.to_string_lossy())));
        }
        text
    }

    fn parse(text: &str) -> Option<JobFile> {
        let mut fields: HashMap<&str, String> = HashMap::new();
        for line in text.lines() {
            let (key, value) = line.split_once(' ')?;
            fields.insert(key, unescape(value)?);
        }
        Some(JobFile {
            name: fields.remove("name")?,
            task: fields.remove("task")?,
            key: fields.remove("key")?,
            log: PathBuf::from(fields.remove("log")?),
            outputs: fields.remove("outputs").map(PathBuf::from),
        })
    }
}

/// What a launch runs, whatever run it is of: its command, directory and
/// variables, less maestro's own (`MAESTRO_RUN` differs in every run).
pub fn launch_key(launch: &Launch) -> String {
    let mut bytes = launch.cmd.clone();
    bytes.push(0);
    bytes.extend_from_slice(launch.dir.as_os_str().as_encoded_bytes());
    for (name, value) in launch.env.iter().filter(|(name, _)| !name.starts_with("MAESTRO")) {
        bytes.push(0);
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(b'=');
        bytes.extend_from_slice(value.as_bytes());
    }
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes))
}

/// A job of an earlier run, still queued or running, or done well.
#[derive(Debug, Clone)]
pub struct Orphan {
    /// The run it was submitted by.
    pub run: u64,
    /// Its id.
    pub job: u64,
    /// What it runs.
    pub file: JobFile,
    /// Its records.
    pub records: RecordPaths,
    /// Its script.
    pub script: PathBuf,
    /// Where it stands.
    pub state: OrphanState,
}

/// Where an orphan stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrphanState {
    /// Queued or running.
    Live,
    /// Done, with exit 0, and this CPU time.
    Succeeded(Duration),
}

/// The jobs directories of earlier runs in `state_dir` (not `current`).
pub fn earlier_runs(state_dir: &Path, current: Option<u64>) -> Vec<(u64, PathBuf)> {
    let mut runs: Vec<(u64, PathBuf)> = std::fs::read_dir(state_dir.join("jobs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let run: u64 = entry.file_name().to_str()?.parse().ok()?;
            (Some(run) != current).then(|| (run, entry.path()))
        })
        .collect();
    runs.sort();
    runs
}

/// Jobs queued or running, and those ending (whose records are about to
/// tell how they ended): what a run reattaches to.
pub const LIVE: &str = "PENDING,RUNNING,CONFIGURING,COMPLETING,SUSPENDED";

/// Jobs queued or running, not those already ending: what is cancelled.
const CANCELLABLE: &str = "PENDING,RUNNING,CONFIGURING,SUSPENDED";

/// The jobs of this folder (`tag`) Slurm has in `states`, by id, with
/// their names.
pub fn live_jobs(
    tag: &str,
    env: &[(OsString, OsString)],
    states: &str,
) -> io::Result<Vec<(u64, String)>> {
    let args: Vec<OsString> =
        ["--me", "-h", "-t", states, "-O", SQUEUE_FORMAT].iter().map(OsString::from).collect();
    let answer = command::run("squeue".as_ref(), &args, env, Duration::from_secs(60))
        .map_err(|failure| io::Error::other(format!("squeue {failure}")))?;
    if !answer.success {
        return Err(io::Error::other(format!("squeue: {}", answer.stderr)));
    }
    Ok(parse_squeue(&answer.stdout)
        .into_iter()
        .filter(|status| matches!(status.state, JobState::Queued | JobState::Running))
        .filter(|status| parse_job_name(&status.name, tag).is_some())
        .map(|status| (status.id, status.name))
        .collect())
}

/// The orphans in the jobs directories `runs`, given the folder's `live`
/// jobs.
pub fn orphans(runs: &[(u64, PathBuf)], live: &[(u64, String)]) -> Vec<Orphan> {
    let mut found = Vec::new();
    for (run, dir) in runs {
        let submitted = std::fs::read_to_string(dir.join("submitted")).unwrap_or_default();
        let ids: HashMap<&str, u64> = submitted
            .lines()
            .filter_map(|line| {
                let (handle, job) = line.split_once(' ')?;
                Some((handle, job.trim().parse().ok()?))
            })
            .collect();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "job") {
                continue;
            }
            let Some(handle) = path.file_stem().and_then(|s| s.to_str()).map(str::to_string) else {
                continue;
            };
            let Some(file) = std::fs::read_to_string(&path).ok().and_then(|t| JobFile::parse(&t))
            else {
                continue;
            };
            let records = RecordPaths {
                started: path.with_extension("started"),
                ended: path.with_extension("ended"),
            };
            let known = ids.get(handle.as_str()).copied();
            let by_name = || live.iter().find(|(_, name)| *name == file.name).map(|(id, _)| *id);
            let state = match read_end(&records.ended) {
                Ok(Some(EndRecord::Exited { status: 0, cpu, signalled: false, .. })) => {
                    known.or_else(by_name).map(|job| (job, OrphanState::Succeeded(cpu)))
                }
                Ok(Some(_)) | Err(_) => None,
                Ok(None) => {
                    let job = known.filter(|job| live.iter().any(|(id, _)| id == job));
                    job.or_else(by_name).map(|job| (job, OrphanState::Live))
                }
            };
            if let Some((job, state)) = state {
                let script = path.with_extension("sh");
                found.push(Orphan { run: *run, job, file, records, script, state });
            }
        }
    }
    found
}

/// `maestro cancel`: cancels, in one `scancel`, the live jobs of this
/// folder's runs (`state_dir`) but those in `keep` (runs whose maestro is
/// alive, and stops its own). The ids cancelled, by run.
pub fn cancel_orphans(state_dir: &Path, keep: &[u64]) -> io::Result<Vec<(u64, Vec<u64>)>> {
    let runs: Vec<(u64, PathBuf)> =
        earlier_runs(state_dir, None).into_iter().filter(|(run, _)| !keep.contains(run)).collect();
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let env = command::clean_environment();
    let tag = super::names::folder_tag(state_dir);
    let live = live_jobs(&tag, &env, CANCELLABLE)?;
    let mut by_run: Vec<(u64, Vec<u64>)> = Vec::new();
    let mut add = |run: u64, job: u64| match by_run.iter_mut().find(|(r, _)| *r == run) {
        Some((_, jobs)) if !jobs.contains(&job) => jobs.push(job),
        Some(_) => {}
        None => by_run.push((run, vec![job])),
    };
    for orphan in orphans(&runs, &live).iter().filter(|o| o.state == OrphanState::Live) {
        add(orphan.run, orphan.job);
    }
    for (job, name) in &live {
        if let Some(named) = parse_job_name(name, &tag)
            && !keep.contains(&named.run)
        {
            add(named.run, *job);
        }
    }
    let jobs: Vec<OsString> = by_run
        .iter()
        .flat_map(|(_, jobs)| jobs)
        .map(|job| OsString::from(job.to_string()))
        .collect();
    if !jobs.is_empty() {
        let answer = command::run("scancel".as_ref(), &jobs, &env, Duration::from_secs(60))
            .map_err(|failure| io::Error::other(format!("scancel {failure}")))?;
        if !answer.success {
            return Err(io::Error::other(format!("scancel: {}", answer.stderr)));
        }
    }
    for (_, dir) in &runs {
        let _ = std::fs::remove_dir_all(dir);
    }
    by_run.sort();
    Ok(by_run)
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                '\\' => out.push('\\'),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_files_read_back() {
        let file = JobFile {
            name: "t.1.maestro-3-0a1b2c3d".into(),
            task: "t:odd\nname\\x".into(),
            key: "00ff".into(),
            log: "/s/logs/3/t.log".into(),
            outputs: Some("/s/logs/3/t.outputs".into()),
        };
        assert_eq!(JobFile::parse(&file.text()), Some(file));
    }
}
