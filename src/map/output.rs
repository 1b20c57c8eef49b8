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
    /// `-v`: its command line, printed as the first line of its stdout.
    pub command: Option<Vec<u8>>,
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

    /// `--verbose`: a job's command line, on stderr as it starts.
    pub fn command_started(&mut self, command: &[u8]) -> io::Result<()> {
        if !self.print {
            return Ok(());
        }
        self.clear_status();
        io::stderr().lock().write_all(&[command, b"\n"].concat())
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
        if stdout + stderr > 0 || output.command.is_some() {
            self.clear_status();
        }
        let capture = &output.capture;
        if let Some(command) = &output.command {
            let line = [command.as_slice(), b"\n"].concat();
            let line = match tag {
                Some(tag) => tagged(&line, tag),
                None => line,
            };
            io::stdout().lock().write_all(&line)?;
        }
        copy_part(&capture.stdout, capture.start.0, stdout, &mut io::stdout().lock(), tag)?;
        copy_part(&capture.stderr, capture.start.1, stderr, &mut io::stderr().lock(), tag)
    }

    /// `--line-buffer`: prints `piece` (see [`Lines`]) to stdout (`stream`
    /// 0) or stderr, each line after `tag` and a tab but one that goes on
    /// a line begun before.
    pub fn print_lines(
        &mut self,
        piece: &Piece,
        stream: usize,
        tag: Option<&[u8]>,
    ) -> io::Result<()> {
        if piece.bytes.is_empty() {
            return Ok(());
        }
        self.clear_status();
        let bytes = match tag {
            Some(tag) if piece.continues => {
                let first = piece
                    .bytes
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(piece.bytes.len(), |i| i + 1);
                let mut bytes = piece.bytes[..first].to_vec();
                bytes.extend(tagged(&piece.bytes[first..], tag));
                bytes
            }
            Some(tag) => tagged(&piece.bytes, tag),
            None => piece.bytes.clone(),
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

/// `--line-buffer`: what a job wrote on one stream, cut into what can be
/// printed: whole lines as they come; a line longer than [`LONGEST_LINE`]
/// in pieces (only new bytes are looked at for a newline, so output drawn
/// with `\r` costs no more than any other).
#[derive(Debug, Default)]
pub struct Lines {
    /// What came after the last newline.
    partial: Vec<u8>,
    /// Whether `partial` goes on a line already printed in part.
    continues: bool,
}

/// Bytes to print now.
#[derive(Debug, PartialEq, Eq)]
pub struct Piece {
    /// The bytes: whole lines, but maybe the end or the start of a long one.
    pub bytes: Vec<u8>,
    /// Whether they begin on a line already printed in part.
    pub continues: bool,
}

/// A line is printed in pieces of this many bytes at the most.
pub const LONGEST_LINE: usize = 64 * 1024;

impl Lines {
    /// Takes what the job wrote; returns what to print now, if anything.
    pub fn push(&mut self, bytes: &[u8]) -> Option<Piece> {
        let continues = self.continues;
        match bytes.iter().rposition(|&b| b == b'\n') {
            Some(end) => {
                self.partial.extend_from_slice(&bytes[..=end]);
                let rest = bytes[end + 1..].to_vec();
                self.continues = false;
                Some(Piece { bytes: std::mem::replace(&mut self.partial, rest), continues })
            }
            None => {
                self.partial.extend_from_slice(bytes);
                if self.partial.len() < LONGEST_LINE {
                    return None;
                }
                self.continues = true;
                Some(Piece { bytes: std::mem::take(&mut self.partial), continues })
            }
        }
    }

    /// The job ended: its unfinished last line, if any.
    pub fn finish(&mut self) -> Piece {
        let continues = std::mem::take(&mut self.continues);
        Piece { bytes: std::mem::take(&mut self.partial), continues }
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
    fn lines_come_whole_and_a_long_one_in_pieces() {
        let mut lines = Lines::default();
        assert_eq!(lines.push(b"ab"), None);
        let piece = |bytes: &[u8], continues| Some(Piece { bytes: bytes.to_vec(), continues });
        assert_eq!(lines.push(b"c\nd\ne"), piece(b"abc\nd\n", false));
        let long = vec![b'x'; LONGEST_LINE];
        let mut first = b"e".to_vec();
        first.extend(&long);
        assert_eq!(lines.push(&long), piece(&first, false));
        assert_eq!(lines.push(b"y\nz"), piece(b"y\n", true));
        assert_eq!(lines.finish(), Piece { bytes: b"z".to_vec(), continues: false });
    }

    #[test]
    fn tags_go_before_every_line_including_an_unfinished_last_one() {
        assert_eq!(tagged(b"x\ny", b"a b"), b"a b\tx\na b\ty");
        assert_eq!(tagged(b"x\n", b"t"), b"t\tx\n");
        assert_eq!(tagged(b"", b"t"), b"");
    }
}
