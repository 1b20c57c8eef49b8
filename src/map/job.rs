//! One job's command line and where its output goes: the command as GNU
//! parallel builds it, and the files that catch its stdout and stderr.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
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

/// Where a job's stdout and stderr go: two unnamed files (no directory
/// entry, on disk rather than in memory, so output of any size fits), each
/// job slot keeping its pair from one job to the next. A job writes through
/// `O_APPEND`; once its output is printed, the files are emptied for the
/// next job. So a job that prints nothing costs no file creation, no
/// deletion, and no system call beyond two `fstat`s.
#[derive(Debug)]
pub struct Capture {
    /// The job's stdout (with `--line-buffer`: everything it wrote, as it
    /// came).
    pub stdout: File,
    /// The job's stderr.
    pub stderr: File,
}

impl Capture {
    /// A new pair of files in `dir`.
    pub fn new(dir: &Path) -> io::Result<Capture> {
        Ok(Capture { stdout: unnamed_file(dir)?, stderr: unnamed_file(dir)? })
    }

    /// How many bytes are in stdout and stderr.
    pub fn lengths(&self) -> io::Result<(u64, u64)> {
        Ok((self.stdout.metadata()?.len(), self.stderr.metadata()?.len()))
    }

    /// Empties both files for the next job (`lengths` is what they hold).
    pub fn clear(&self, (stdout, stderr): (u64, u64)) -> io::Result<()> {
        if stdout > 0 {
            self.stdout.set_len(0)?;
        }
        if stderr > 0 {
            self.stderr.set_len(0)?;
        }
        Ok(())
    }

    /// Keeps the output as the log at `path`: stdout, then stderr; a later
    /// attempt's after a separator line.
    pub fn save(&self, path: &Path, attempt: u32, lengths: (u64, u64)) -> io::Result<()> {
        let mut log = OpenOptions::new()
            .append(attempt > 1)
            .write(true)
            .create(true)
            .truncate(attempt == 1)
            .open(path)?;
        if attempt > 1 {
            writeln!(log, "maestro: --- attempt {attempt} ---")?;
        }
        for (file, length) in [(&self.stdout, lengths.0), (&self.stderr, lengths.1)] {
            let mut file = file;
            file.seek(SeekFrom::Start(0))?;
            io::copy(&mut file.take(length), &mut log)?;
        }
        Ok(())
    }
}

/// A file without a name in `dir`, read-write, appended to, closed on exec:
/// `O_TMPFILE`, or where the file system has none, a file removed at once.
fn unnamed_file(dir: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true);
    match options.clone().custom_flags(libc::O_TMPFILE).mode(0o600).open(dir) {
        Ok(file) => Ok(file),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EISDIR)) => {
            let path = dir.join(format!(".map-{}-{}", std::process::id(), next_name()));
            let file = options.create_new(true).mode(0o600).open(&path)?;
            std::fs::remove_file(&path)?;
            Ok(file)
        }
        Err(e) => Err(e),
    }
}

fn next_name() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
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
