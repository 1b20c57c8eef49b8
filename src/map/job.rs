//! One job's command line and where its output goes: the command as GNU
//! parallel builds it, and the files that catch its stdout and stderr.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

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

/// Where a job's stdout and stderr go: two files of the run's own (on
/// disk rather than in memory, so output of any size fits), kept from one
/// job to the next. A job appends to them by path (its backend opens them);
/// maestro reads them through the handles here, and once a job's output is
/// printed, empties them for another job. So a job that prints nothing
/// costs no file creation or deletion.
#[derive(Debug)]
pub struct Capture {
    /// The job's stdout (with `--line-buffer`: everything it wrote, as it
    /// came).
    pub stdout: File,
    /// The job's stderr.
    pub stderr: File,
    /// Their paths, for the job's backend to write to.
    pub paths: (PathBuf, PathBuf),
}

impl Capture {
    /// A new pair of files in `dir`, numbered `number`.
    pub fn new(dir: &Path, number: usize) -> io::Result<Capture> {
        let paths = (dir.join(format!("{number}.out")), dir.join(format!("{number}.err")));
        Ok(Capture { stdout: private_file(&paths.0)?, stderr: private_file(&paths.1)?, paths })
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

/// A new empty file at `path`, readable and writable by maestro only.
fn private_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).create(true).truncate(true).mode(0o600).open(path)
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
