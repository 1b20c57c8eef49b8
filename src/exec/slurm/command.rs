//! Running Slurm's commands (`sbatch`, `squeue`, `sacct`, `scancel`): with
//! an environment cleaned of the variables of a job maestro may itself run
//! in, and a bound on how long one may take.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What a command said.
#[derive(Debug)]
pub struct Answer {
    /// Whether it exited 0.
    pub success: bool,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr, trimmed: the words of an error.
    pub stderr: String,
}

/// Why a command gave no answer.
#[derive(Debug)]
pub enum Failure {
    /// It could not be started (not installed, say).
    Start(io::Error),
    /// It took longer than it may, and was killed.
    TooSlow(Duration),
    /// Its output could not be read.
    Read(io::Error),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Start(e) if e.kind() == io::ErrorKind::NotFound => {
                write!(f, "command not found")
            }
            Failure::Start(e) => write!(f, "cannot be run: {e}"),
            Failure::TooSlow(limit) => write!(f, "gave no answer within {}s", limit.as_secs()),
            Failure::Read(e) => write!(f, "its answer cannot be read: {e}"),
        }
    }
}

/// The environment Slurm's commands (and through `sbatch`, the jobs) get:
/// maestro's own, less what a job maestro runs in would pass on to jobs
/// that are not its steps (`SLURM_JOB_ID`, `SLURM_CPUS_PER_TASK`, ...).
/// `SLURM_CONF` stays: it says which cluster this is.
pub fn clean_environment() -> Vec<(OsString, OsString)> {
    std::env::vars_os()
        .filter(|(name, _)| {
            let name = name.as_encoded_bytes();
            !name.starts_with(b"SLURM_") || name == b"SLURM_CONF"
        })
        .collect()
}

/// Runs `program` with `args` in `env`, killing it after `limit`.
pub fn run(
    program: &OsStr,
    args: &[OsString],
    env: &[(OsString, OsString)],
    limit: Duration,
) -> Result<Answer, Failure> {
    let mut child = Command::new(program)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(Failure::Start)?;
    let read = read_both(&mut child, Instant::now() + limit);
    let timed_out = matches!(read, Err(Failure::TooSlow(_)));
    if timed_out {
        let _ = child.kill();
    }
    let status = child.wait().map_err(Failure::Read)?;
    if timed_out {
        return Err(Failure::TooSlow(limit));
    }
    let (stdout, stderr) = read?;
    Ok(Answer {
        success: status.success(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).trim().to_string(),
    })
}

/// Reads the child's stdout and stderr to their ends, both at once (a full
/// pipe would stall it), until `deadline`.
fn read_both(child: &mut Child, deadline: Instant) -> Result<(Vec<u8>, Vec<u8>), Failure> {
    let mut pipes: [Option<Box<dyn ReadFd>>; 2] = [
        child.stdout.take().map(|p| Box::new(p) as Box<dyn ReadFd>),
        child.stderr.take().map(|p| Box::new(p) as Box<dyn ReadFd>),
    ];
    let mut outputs = [Vec::new(), Vec::new()];
    loop {
        let open: Vec<usize> = (0..2).filter(|&i| pipes[i].is_some()).collect();
        if open.is_empty() {
            break;
        }
        let mut fds: Vec<libc::pollfd> = open
            .iter()
            .filter_map(|&i| pipes[i].as_ref())
            .map(|pipe| libc::pollfd { fd: pipe.as_raw_fd(), events: libc::POLLIN, revents: 0 })
            .collect();
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::TooSlow(Duration::ZERO));
        }
        let timeout = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if ready < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Failure::Read(error));
        }
        for (pollfd, &index) in fds.iter().zip(&open) {
            if pollfd.revents == 0 {
                continue;
            }
            let Some(pipe) = pipes[index].as_mut() else { continue };
            let mut buffer = [0u8; 16 * 1024];
            match pipe.read(&mut buffer) {
                Ok(0) => pipes[index] = None,
                Ok(n) => outputs[index].extend_from_slice(&buffer[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Failure::Read(e)),
            }
        }
    }
    let [stdout, stderr] = outputs;
    Ok((stdout, stderr))
}

/// A child's pipe: read from, polled by its descriptor.
trait ReadFd: Read + AsRawFd {}
impl<T: Read + AsRawFd> ReadFd for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_streams_come_back_whole() {
        let env = clean_environment();
        let args: Vec<OsString> =
            ["-c", "head -c 200000 /dev/zero | tr '\\0' a; echo oops >&2; exit 3"]
                .iter()
                .map(OsString::from)
                .collect();
        let answer = run(OsStr::new("/bin/sh"), &args, &env, Duration::from_secs(20)).unwrap();
        assert!(!answer.success);
        assert_eq!(answer.stdout.len(), 200_000);
        assert_eq!(answer.stderr, "oops");
    }

    #[test]
    fn a_command_too_slow_is_killed() {
        let args: Vec<OsString> = ["-c", "sleep 30"].iter().map(OsString::from).collect();
        let started = Instant::now();
        let failure = run(OsStr::new("/bin/sh"), &args, &[], Duration::from_millis(200));
        assert!(matches!(failure, Err(Failure::TooSlow(_))), "{failure:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_missing_command_says_so() {
        let failure = run(OsStr::new("maestro-no-such-command"), &[], &[], Duration::from_secs(1));
        assert_eq!(failure.unwrap_err().to_string(), "command not found");
    }
}
