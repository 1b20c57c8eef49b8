//! One job's command line and where its output goes: the command as GNU
//! parallel builds it, and the files that catch its stdout and stderr.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::inputs::Job;
use super::perl::{ForJob, JobContext, Perl};
use crate::shell::shell_quote;
use crate::template::{Evaluator, Template};

/// Why a job does not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotBuilt {
    /// A Perl expression called `skip()`, or a `--filter` is false: the
    /// command line as built (a dry run shows it).
    Skipped(Vec<u8>),
    /// A Perl expression died: why.
    Failed(String),
}

/// How a job's command line is made when the run has Perl in it: the
/// template's `{= =}` expressions, and `--filter`s.
#[derive(Debug, Clone)]
pub struct WithPerl {
    /// The run's perl.
    pub perl: std::rc::Rc<Perl>,
    /// `--filter`: Perl conditions, their replacement strings filled in
    /// (unquoted) for each job.
    pub filters: Vec<Template>,
}

/// `template` filled in for `job`, its values as they are (not quoted for
/// a shell), its Perl expressions run: a `--tmpl` file's text, or name.
pub fn fill(
    template: &Template,
    job: &Job,
    slot: u32,
    total: Option<u64>,
    with: Option<&WithPerl>,
) -> Result<Vec<u8>, NotBuilt> {
    let args: Vec<&[u8]> = job.args.iter().map(Vec::as_slice).collect();
    let named = |_: &str| Vec::new();
    let Some(with) = with else {
        return Ok(template.expand_with(&args, job.seq, slot, false, &named));
    };
    let context = JobContext { seq: job.seq, slot, total, args: &job.args };
    let evaluator = ForJob::new(&with.perl, context);
    let filled = template.expand_with_perl(&args, job.seq, slot, false, &named, Some(&evaluator));
    match evaluator.failed.borrow_mut().take() {
        Some(why) => Err(NotBuilt::Failed(why)),
        None => Ok(filled),
    }
}

/// [`command_for`], with the template's Perl expressions run, and the
/// `--filter`s asked.
pub fn command_with_perl(
    template: Option<&Template>,
    job: &Job,
    slot: u32,
    total: Option<u64>,
    with: &WithPerl,
) -> Result<Vec<u8>, NotBuilt> {
    let context = JobContext { seq: job.seq, slot, total, args: &job.args };
    let evaluator = ForJob::new(&with.perl, context);
    // GNU parallel builds each command line twice (to measure it, then to
    // run it), the second time from what the first cached, but for false
    // values ("" and "0"), which it evaluates again: its documents count
    // on it (`{= $_ = $foo++ =}` counts from 1).
    let _ = build(template, job, slot, total, Some(&evaluator));
    let command = build(template, job, slot, total, Some(&evaluator));
    let args: Vec<&[u8]> = job.args.iter().map(Vec::as_slice).collect();
    for filter in &with.filters {
        let named = |_: &str| Vec::new();
        let code = filter.expand_with_perl(&args, job.seq, slot, false, &named, Some(&evaluator));
        let passes = with.perl.passes(&String::from_utf8_lossy(&code));
        match passes {
            Ok(true) => {}
            Ok(false) => evaluator.skipped.set(true),
            Err(e) => return Err(NotBuilt::Failed(e.to_string())),
        }
    }
    if let Some(why) = evaluator.failed.borrow_mut().take() {
        return Err(NotBuilt::Failed(why));
    }
    if evaluator.skipped.get() {
        return Err(NotBuilt::Skipped(command));
    }
    Ok(command)
}

/// The command line of `job` in slot `slot`, GNU parallel's way: the
/// template expanded with its values quoted for the shell (unquoted when a
/// replacement string is part of the first word: the input is the command,
/// `cat cmds | map {}`); the values appended (quoted) to a template without
/// replacement strings; the values themselves, joined by spaces, when there
/// is no template.
///
/// A `--pipe` job's one value is empty (`{}` is `''`), and is not
/// appended: its input is on its stdin.
///
/// `total` is the number of jobs, for `--plus`'s `{##}`.
pub fn command_for(
    template: Option<&Template>,
    job: &Job,
    slot: u32,
    total: Option<u64>,
) -> Vec<u8> {
    build(template, job, slot, total, None)
}

fn build(
    template: Option<&Template>,
    job: &Job,
    slot: u32,
    total: Option<u64>,
    perl: Option<&dyn Evaluator>,
) -> Vec<u8> {
    let args: Vec<&[u8]> = job.args.iter().map(Vec::as_slice).collect();
    let named = |name: &str| match (name, total) {
        ("##", Some(total)) => vec![total.to_string()],
        // The job number, zero-padded to the width of the number of jobs.
        ("0#", Some(total)) => {
            vec![format!("{:0width$}", job.seq, width = total.to_string().len())]
        }
        _ => Vec::new(),
    };
    match template {
        None => args.join(&b' '),
        Some(template) if template.has_replacements() => {
            let quote = !template.is_in_first_word();
            template.expand_with_perl(&args, job.seq, slot, quote, &named, perl)
        }
        Some(template) if job.stdin.has_data() => template.expand(&[], job.seq, slot, true),
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
/// printed, frees it for another job. So a job that prints nothing costs
/// no file creation or deletion.
///
/// Printed output is freed by punching it out of the file, not by
/// truncating: ext4 writes a file truncated to zero back to disk when a
/// writer then closes it (its `auto_da_alloc`), which every job's backend
/// does; that made each job of 1 MiB wait for the disk. A job's output
/// therefore starts where the previous job's ended: at `start`.
#[derive(Debug)]
pub struct Capture {
    /// The job's stdout (with `--line-buffer`: everything it wrote, as it
    /// came).
    pub stdout: File,
    /// The job's stderr.
    pub stderr: File,
    /// Their paths, for the job's backend to write to.
    pub paths: (PathBuf, PathBuf),
    /// Where the current job's output starts in each.
    pub start: (u64, u64),
}

impl Capture {
    /// A new pair of files in `dir`, numbered `number`.
    pub fn new(dir: &Path, number: usize) -> io::Result<Capture> {
        let paths = (dir.join(format!("{number}.out")), dir.join(format!("{number}.err")));
        let (stdout, stderr) = (private_file(&paths.0)?, private_file(&paths.1)?);
        Ok(Capture { stdout, stderr, paths, start: (0, 0) })
    }

    /// How many bytes of stdout and of stderr the current job wrote.
    pub fn lengths(&self) -> io::Result<(u64, u64)> {
        let stdout = self.stdout.metadata()?.len().saturating_sub(self.start.0);
        let stderr = self.stderr.metadata()?.len().saturating_sub(self.start.1);
        Ok((stdout, stderr))
    }

    /// Frees the current job's output (`lengths` is what it wrote) for the
    /// next job.
    pub fn clear(&mut self, (stdout, stderr): (u64, u64)) -> io::Result<()> {
        self.start.0 = free(&self.stdout, self.start.0, stdout)?;
        self.start.1 = free(&self.stderr, self.start.1, stderr)?;
        Ok(())
    }

    /// Keeps the output as the log at `path`: stdout, then stderr; a later
    /// attempt's after a separator line.
    pub fn save(&self, path: &Path, attempt: u32, lengths: (u64, u64)) -> io::Result<()> {
        let mut log = crate::private::options()
            .append(attempt > 1)
            .write(true)
            .create(true)
            .truncate(attempt == 1)
            .open(path)?;
        if attempt > 1 {
            writeln!(log, "maestro: --- attempt {attempt} ---")?;
        }
        let parts =
            [(&self.stdout, self.start.0, lengths.0), (&self.stderr, self.start.1, lengths.1)];
        for (file, start, length) in parts {
            let mut file = file;
            file.seek(SeekFrom::Start(start))?;
            io::copy(&mut file.take(length), &mut log)?;
        }
        Ok(())
    }
}

/// Frees `length` bytes of `file` from `start`; returns where the next
/// output starts. Where the file system cannot punch holes, the file is
/// emptied instead.
fn free(file: &File, start: u64, length: u64) -> io::Result<u64> {
    if length == 0 {
        return Ok(start);
    }
    let (Ok(offset), Ok(len)) = (libc::off_t::try_from(start), libc::off_t::try_from(length))
    else {
        return Err(io::Error::other("output files past the largest offset"));
    };
    // SAFETY: fallocate only reads its integer arguments; the descriptor
    // is open for as long as `file` is borrowed.
    let punched = unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            offset,
            len,
        )
    };
    if punched == 0 {
        return Ok(start + length);
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() != Some(libc::EOPNOTSUPP) {
        return Err(error);
    }
    file.set_len(0)?;
    Ok(0)
}

/// A new empty file at `path`, readable by maestro only, which appends
/// what it writes (after what a job wrote).
fn private_file(path: &Path) -> io::Result<File> {
    crate::private::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_APPEND)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(args: &[&str]) -> Job {
        Job {
            seq: 4,
            args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            stdin: crate::exec::Stdin::Null,
        }
    }

    fn command(template: Option<&str>, args: &[&str]) -> String {
        let template = template.map(Template::parse);
        String::from_utf8(command_for(template.as_ref(), &job(args), 2, None)).unwrap()
    }

    #[test]
    fn commands_are_built_as_gnu_parallel_builds_them() {
        assert_eq!(command(None, &["echo a", "b"]), "echo a b");
        assert_eq!(command(Some("echo"), &["a b", "c'd"]), r#"echo 'a b' 'c'"'"'d'"#);
        assert_eq!(command(Some("echo {} {#} {%}"), &["x y"]), "echo 'x y' 4 2");
        assert_eq!(command(Some("wc {1} {2}"), &["a", "$(x)"]), "wc a '$(x)'");
    }
}
