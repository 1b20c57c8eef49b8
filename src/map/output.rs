//! Printing finished jobs' output, GNU parallel's `--group` way: a job's
//! stdout whole on maestro's stdout, then its stderr whole on maestro's
//! stderr, when it ends (`-k`: in input order, holding later jobs back),
//! each line prefixed with the job's arguments and a tab with `--tag`.
//!
//! A job's output is read back from the files that caught it: without
//! `--tag` the bytes go from there to maestro's stdout inside the kernel
//! (`io::copy` uses `copy_file_range`, `sendfile` or `splice`).

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use super::job::Capture;
use crate::report::status::StatusLine;

/// A finished job's output.
#[derive(Debug)]
pub struct JobOutput {
    /// `{#}`.
    pub seq: u64,
    /// The files holding it.
    pub capture: Capture,
    /// How many bytes of stdout and of stderr they hold.
    pub lengths: (u64, u64),
    /// `--tag`: the prefix of each line (without the tab).
    pub tag: Option<Vec<u8>>,
}

/// Prints jobs' output as they finish, or in input order, and maestro's
/// own words, with the live status line (which it owns) out of the way.
#[derive(Debug)]
pub struct Printer {
    keep_order: bool,
    /// Print at all (`--json` prints events instead).
    print: bool,
    /// `-k`: the next job to print, and those finished ahead of it.
    next: u64,
    waiting: BTreeMap<u64, Option<JobOutput>>,
    /// The live status line, on a terminal.
    pub status: Option<StatusLine>,
}

impl Printer {
    /// A printer; `keep_order` is `-k`; one that does not `print` only
    /// empties the files for their next job.
    pub fn new(keep_order: bool, print: bool, status: Option<StatusLine>) -> Printer {
        Printer {
            keep_order: keep_order && print,
            print,
            next: 1,
            waiting: BTreeMap::new(),
            status,
        }
    }

    /// Erases the status line, if on screen.
    pub fn clear_status(&mut self) {
        if let Some(status) = &mut self.status {
            status.clear();
        }
    }

    /// Prints maestro's own line on stderr (`eprintln!`).
    pub fn say(&mut self, line: fmt::Arguments) {
        self.clear_status();
        eprintln!("{line}");
    }

    /// A job finished. Its files, once its output is printed (now, or with
    /// `-k` in its turn), are freed and put in `spare` for another job.
    pub fn finished(&mut self, output: JobOutput, spare: &mut Vec<Capture>) -> io::Result<()> {
        if self.keep_order && output.seq != self.next {
            self.waiting.insert(output.seq, Some(output));
            return Ok(());
        }
        self.print_and_free(output, spare)?;
        if self.keep_order {
            self.next += 1;
            self.print_ready(spare)?;
        }
        Ok(())
    }

    /// Job `seq` will print nothing (skipped by `--resume`, say): with `-k`,
    /// the jobs after it need not wait for it.
    pub fn nothing(&mut self, seq: u64, spare: &mut Vec<Capture>) -> io::Result<()> {
        if !self.keep_order {
            return Ok(());
        }
        self.waiting.insert(seq, None);
        self.print_ready(spare)
    }

    /// How many finished jobs wait for their turn (`-k`), holding files.
    pub fn held(&self) -> usize {
        self.waiting.len()
    }

    /// Prints everything still held back, in order, gaps or not (the run is
    /// over: the jobs in the gaps never ran).
    pub fn finish(&mut self) -> io::Result<()> {
        for output in std::mem::take(&mut self.waiting).into_values().flatten() {
            self.print(&output)?;
        }
        Ok(())
    }

    fn print_ready(&mut self, spare: &mut Vec<Capture>) -> io::Result<()> {
        while let Some(entry) = self.waiting.remove(&self.next) {
            if let Some(output) = entry {
                self.print_and_free(output, spare)?;
            }
            self.next += 1;
        }
        Ok(())
    }

    fn print_and_free(
        &mut self,
        mut output: JobOutput,
        spare: &mut Vec<Capture>,
    ) -> io::Result<()> {
        if self.print {
            self.print(&output)?;
        }
        output.capture.clear(output.lengths)?;
        spare.push(output.capture);
        Ok(())
    }

    /// Prints one job: stdout, then stderr.
    fn print(&mut self, output: &JobOutput) -> io::Result<()> {
        let tag = output.tag.as_deref();
        let (stdout, stderr) = output.lengths;
        if stdout + stderr > 0 {
            self.clear_status();
        }
        let capture = &output.capture;
        copy_part(&capture.stdout, capture.start.0, stdout, &mut io::stdout().lock(), tag)?;
        copy_part(&capture.stderr, capture.start.1, stderr, &mut io::stderr().lock(), tag)
    }

    /// `--line-buffer`: prints `lines` (whole lines, or a job's last
    /// unfinished one) to stdout (`stream` 0) or stderr, each after `tag`
    /// and a tab.
    pub fn print_lines(
        &mut self,
        lines: &[u8],
        stream: usize,
        tag: Option<&[u8]>,
    ) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        self.clear_status();
        let bytes = match tag {
            Some(tag) => tagged(lines, tag),
            None => lines.to_vec(),
        };
        if stream == 0 {
            let mut stdout = io::stdout().lock();
            stdout.write_all(&bytes)?;
            stdout.flush()
        } else {
            io::stderr().lock().write_all(&bytes)
        }
    }
}

/// Writes `length` bytes of `file` from `start` to `to`.
fn copy_part(
    mut file: &File,
    start: u64,
    length: u64,
    to: &mut impl Write,
    tag: Option<&[u8]>,
) -> io::Result<()> {
    if length == 0 {
        return Ok(());
    }
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = file.take(length);
    match tag {
        None => {
            io::copy(&mut bytes, to)?;
        }
        Some(tag) => {
            let mut text = Vec::new();
            bytes.read_to_end(&mut text)?;
            to.write_all(&tagged(&text, tag))?;
        }
    }
    to.flush()
}

/// `text` with `tag` and a tab before each line (a last line without a
/// newline too, and it stays without one).
pub fn tagged(text: &[u8], tag: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + tag.len() + 1);
    for line in text.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(tag);
        out.push(b'\t');
        out.extend_from_slice(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_go_before_every_line_including_an_unfinished_last_one() {
        assert_eq!(tagged(b"x\ny", b"a b"), b"a b\tx\na b\ty");
        assert_eq!(tagged(b"x\n", b"t"), b"t\tx\n");
        assert_eq!(tagged(b"", b"t"), b"");
    }
}
