//! One job's command line and files: the command as GNU parallel builds
//! it, the log its stdout goes to and the in-memory file for its stderr.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::FromRawFd;
use std::path::Path;

use super::inputs::Job;
use crate::template::{Template, shell_quote};

/// The command line of `job` in slot `slot`, GNU parallel's way: the
/// template expanded with its values quoted for the shell; the values
/// appended (quoted) to a template without replacement strings; the values
/// themselves, joined by spaces, when there is no template.
pub fn command_for(template: Option<&Template>, job: &Job, slot: u32) -> Vec<u8> {
    let args: Vec<&[u8]> = job.args.iter().map(Vec::as_slice).collect();
    match template {
        None => args.join(&b' '),
        Some(template) if template.has_replacements() => {
            template.expand(&args, job.seq, slot, true)
        }
        Some(template) => {
            let mut command = template.expand(&[], job.seq, slot, true);
            for arg in args {
                command.push(b' ');
                command.extend_from_slice(&shell_quote(arg));
            }
            command
        }
    }
}

/// Where an attempt's output goes.
#[derive(Debug)]
pub struct JobFiles {
    /// The job's log, read-write (output is printed from it).
    pub log: File,
    /// Where this attempt's output starts in the log.
    pub stdout_start: u64,
    /// Its stderr until appended to the log; `None` when both streams come
    /// through pipes (`--line-buffer`).
    pub stderr: Option<File>,
}

impl JobFiles {
    /// Opens the log at `path`: new for the first attempt, appended to
    /// after a separator line for later ones; and (`separate_stderr`) an
    /// in-memory file for stderr.
    pub fn open(path: &Path, attempt: u32, separate_stderr: bool) -> io::Result<JobFiles> {
        let mut log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(attempt == 1)
            .open(path)?;
        let mut stdout_start = 0;
        if attempt > 1 {
            log.seek(SeekFrom::End(0))?;
            writeln!(log, "maestro: --- attempt {attempt} ---")?;
            stdout_start = log.stream_position()?;
        }
        let stderr = if separate_stderr { Some(memfd()?) } else { None };
        Ok(JobFiles { log, stdout_start, stderr })
    }

    /// Appends the attempt's stderr to its log; returns where its stdout
    /// and its stderr end in the log.
    pub fn append_stderr(&mut self) -> io::Result<(u64, u64)> {
        let stdout_end = self.log.seek(SeekFrom::End(0))?;
        let Some(stderr) = &mut self.stderr else { return Ok((stdout_end, stdout_end)) };
        stderr.seek(SeekFrom::Start(0))?;
        let copied = io::copy(stderr, &mut self.log)?;
        Ok((stdout_end, stdout_end + copied))
    }
}

/// An anonymous in-memory file, closed on exec.
fn memfd() -> io::Result<File> {
    // SAFETY: memfd_create with a static name; the fd is checked and owned.
    unsafe {
        let fd = libc::memfd_create(c"maestro-stderr".as_ptr(), libc::MFD_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(File::from_raw_fd(fd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(args: &[&str]) -> Job {
        Job { seq: 4, args: args.iter().map(|a| a.as_bytes().to_vec()).collect() }
    }

    fn command(template: Option<&str>, args: &[&str]) -> String {
        let template = template.map(Template::parse);
        String::from_utf8(command_for(template.as_ref(), &job(args), 2)).unwrap()
    }

    #[test]
    fn commands_are_built_as_gnu_parallel_builds_them() {
        assert_eq!(command(None, &["echo a", "b"]), "echo a b");
        assert_eq!(command(Some("echo"), &["a b", "c'd"]), r#"echo 'a b' 'c'"'"'d'"#);
        assert_eq!(command(Some("echo {} {#} {%}"), &["x y"]), "echo 'x y' 4 2");
        assert_eq!(command(Some("wc {1} {2}"), &["a", "$(x)"]), "wc a '$(x)'");
    }
}
