//! `map --pipe`: stdin cut into blocks, each the stdin of one job, cut
//! exactly where GNU parallel cuts them. It reads a block (`--block`, 1M),
//! topped up to a whole multiple of the block size after the part record
//! left from the last one; passes on everything up to the last record
//! border in it (`--recend`, a newline, then `--recstart`); with `-N`,
//! every N records instead; with `-L`, records of N lines. The rest waits
//! for the next read; whatever is left at the end of the input is the last
//! block. A record longer than the block makes the block grow.
//!
//! `--header` lines are read first and put before every block; `--rrs`
//! takes the record separators out of each block.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::Arc;

use super::feed::JobSource;
use super::inputs::{InputError, Job};
use crate::exec::{BlockQueue, Stdin, StdinPart};

/// How the input is cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splitting {
    /// `--block`: the bytes read at a time.
    pub block: usize,
    /// `--recstart`: what starts a record.
    pub recstart: Vec<u8>,
    /// `--recend`: what ends one.
    pub recend: Vec<u8>,
    /// `-N`: records per block.
    pub records: Option<usize>,
    /// `-L`: lines per record.
    pub lines: Option<usize>,
    /// `--header`: lines put before every block.
    pub header_lines: usize,
    /// `--header REGEX`: the header is what this Perl regular expression
    /// matches at the start of the input (perl matches it).
    pub header_regex: Option<String>,
    /// `--rrs`: separators removed from each block.
    pub remove_separators: bool,
    /// `--csv`: blocks end at a newline outside quotes.
    pub csv: bool,
    /// `-r`: lines of whitespace only are removed.
    pub skip_blank: bool,
    /// `--skip-first-line`: the input's first line is no block's.
    pub skip_first_line: bool,
}

impl Default for Splitting {
    fn default() -> Splitting {
        Splitting {
            block: 1 << 20,
            recstart: Vec::new(),
            recend: b"\n".to_vec(),
            records: None,
            lines: None,
            header_lines: 0,
            header_regex: None,
            remove_separators: false,
            csv: false,
            skip_blank: false,
            skip_first_line: false,
        }
    }
}

impl Splitting {
    /// Where one record meets the next: the end, then the start.
    fn border(&self) -> Vec<u8> {
        [self.recend.as_slice(), &self.recstart].concat()
    }
}

/// The largest block: GNU parallel's, beyond which it stops growing.
const LARGEST_BLOCK: usize = (1 << 31) - 1;

/// The blocks of one input, as jobs.
pub struct Blocks<R> {
    reader: R,
    splitting: Splitting,
    border: Vec<u8>,
    /// The block size now (it grows past records longer than it).
    block: usize,
    /// Read and not passed on yet: from `start`.
    buffer: Vec<u8>,
    start: usize,
    /// `None` until read, at the first block.
    header: Option<Arc<[u8]>>,
    ready: VecDeque<Vec<u8>>,
    /// The input ended.
    ended: bool,
    next_seq: u64,
    /// Where the input comes from, for errors.
    path: std::path::PathBuf,
}

impl<R: Read> Blocks<R> {
    /// The blocks of `reader` (named `path` in errors).
    pub fn new(reader: R, splitting: Splitting, path: std::path::PathBuf) -> Blocks<R> {
        let border = splitting.border();
        let block = splitting.block.clamp(1, LARGEST_BLOCK);
        Blocks {
            reader,
            splitting,
            border,
            block,
            buffer: Vec::new(),
            start: 0,
            header: None,
            ready: VecDeque::new(),
            ended: false,
            next_seq: 1,
            path,
        }
    }

    /// The same, with `header` put before every block (read already:
    /// `--group-by`'s column names).
    pub fn with_header(mut self, header: Vec<u8>) -> Blocks<R> {
        self.header = Some(header.into());
        self
    }

    /// Reads the header now, where it would be read with the first block.
    /// `--header REGEX` must be read so, before the run's loop starts: its
    /// perl is a child of maestro's, whose end the loop would reap first.
    pub fn read_header_now(&mut self) -> Result<(), InputError> {
        match self.read_header() {
            Ok(header) => {
                self.header = Some(header.into());
                Ok(())
            }
            Err(source) => Err(InputError { path: self.path.clone(), source }),
        }
    }

    /// The next block's job, or `None` at the end of the input.
    pub fn next_job(&mut self) -> Result<Option<Job>, InputError> {
        while self.ready.is_empty() && !self.ended {
            if let Err(source) = self.round() {
                return Err(InputError { path: self.path.clone(), source });
            }
        }
        let Some(body) = self.ready.pop_front() else { return Ok(None) };
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut parts = Vec::with_capacity(2);
        if let Some(header) = self.header.as_ref().filter(|h| !h.is_empty()) {
            parts.push(StdinPart::Bytes(header.clone()));
        }
        parts.push(StdinPart::Bytes(body.into()));
        Ok(Some(Job { seq, args: vec![Vec::new()], stdin: Stdin::Data(parts) }))
    }

    /// One round of GNU parallel's: a read, then the blocks it completes.
    fn round(&mut self) -> io::Result<()> {
        if self.header.is_none() {
            let header = self.read_header()?;
            self.header = Some(header.into());
        }
        let before = self.ready.len();
        self.read_block()?;
        if self.splitting.skip_blank {
            self.remove_blank_lines();
            if self.buffer.len() == self.start && !self.ended {
                return Ok(());
            }
        }
        // GNU parallel's order: -L alone, then --csv, then -N.
        match (self.splitting.records, self.splitting.lines) {
            (None, Some(lines)) => self.pass_line_records(lines),
            _ if self.splitting.csv => self.pass_csv_records(),
            (Some(records), lines) => self.pass_records(records * lines.unwrap_or(1)),
            (None, None) if !self.ended => self.pass_to_last_border(),
            (None, None) => {}
        }
        if self.ended {
            let rest = self.buffer.len() - self.start;
            self.pass(rest);
            return Ok(());
        }
        self.compact();
        if self.ready.len() == before && self.block < LARGEST_BLOCK {
            let grown = ((self.block as f64 * 1.3 + 1.0).ceil() as usize).min(LARGEST_BLOCK);
            eprintln!(
                "maestro: warning: a record is longer than --block {}: it grows to {grown}",
                self.block
            );
            self.block = grown;
        }
        Ok(())
    }

    /// `-r`: lines of whitespace only are taken out of what is held (a
    /// last line, unfinished, waits for its end).
    fn remove_blank_lines(&mut self) {
        let held = &self.buffer[self.start..];
        let mut kept = Vec::with_capacity(held.len());
        let mut rest = held;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            let line = &rest[..=newline];
            if !line.iter().all(u8::is_ascii_whitespace) {
                kept.extend_from_slice(line);
            }
            rest = &rest[newline + 1..];
        }
        kept.extend_from_slice(rest);
        self.buffer.truncate(self.start);
        self.buffer.extend_from_slice(&kept);
    }

    /// `--csv`: everything up to the last newline outside quotes.
    fn pass_csv_records(&mut self) {
        let held = &self.buffer[self.start..];
        let mut quotes = 0usize;
        let mut last = None;
        for (at, &byte) in held.iter().enumerate() {
            match byte {
                b'"' => quotes += 1,
                b'\n' if quotes.is_multiple_of(2) => last = Some(at),
                _ => {}
            }
        }
        if let Some(at) = last {
            self.pass(at + 1);
        }
    }

    /// `--header N`: the first N lines, read a block at a time; none, if
    /// the input ends before them (what was read is the input's).
    fn read_header(&mut self) -> io::Result<Vec<u8>> {
        if self.splitting.skip_first_line {
            self.skip_line()?;
        }
        if let Some(regex) = self.splitting.header_regex.clone() {
            return self.read_header_matching(&regex);
        }
        let lines = self.splitting.header_lines;
        if lines == 0 {
            return Ok(Vec::new());
        }
        loop {
            if let Some(end) = nth_line_end(&self.buffer, lines) {
                let header = self.buffer[..end].to_vec();
                self.buffer.drain(..end);
                return Ok(header);
            }
            let read = (&mut self.reader).take(self.block as u64).read_to_end(&mut self.buffer)?;
            if read == 0 {
                return Ok(Vec::new());
            }
        }
    }

    /// `--header REGEX`: blocks are read until the expression matches at
    /// the start of what was read (as GNU parallel reads them).
    fn read_header_matching(&mut self, regex: &str) -> io::Result<Vec<u8>> {
        loop {
            let read = (&mut self.reader).take(self.block as u64).read_to_end(&mut self.buffer)?;
            if read == 0 {
                return Ok(Vec::new());
            }
            if let Some(end) = super::perl::prefix_match(regex, &self.buffer)? {
                let header = self.buffer[..end].to_vec();
                self.buffer.drain(..end);
                return Ok(header);
            }
        }
    }

    /// `--skip-first-line`: reads the first line and drops it.
    fn skip_line(&mut self) -> io::Result<()> {
        loop {
            if let Some(end) = nth_line_end(&self.buffer, 1) {
                self.buffer.drain(..end);
                return Ok(());
            }
            let read = (&mut self.reader).take(self.block as u64).read_to_end(&mut self.buffer)?;
            if read == 0 {
                self.buffer.clear();
                return Ok(());
            }
        }
    }

    /// Reads up to the next multiple of the block size; a short read is
    /// the end of the input.
    fn read_block(&mut self) -> io::Result<()> {
        let held = self.buffer.len() - self.start;
        let wanted = self.block - held % self.block;
        let read = (&mut self.reader).take(wanted as u64).read_to_end(&mut self.buffer)?;
        self.ended = read < wanted;
        Ok(())
    }

    /// Everything up to the last border.
    fn pass_to_last_border(&mut self) {
        let held = &self.buffer[self.start..];
        if let Some(at) = rfind(held, &self.border) {
            self.pass(at + self.splitting.recend.len());
        }
    }

    /// Blocks of `n` records each, while there are `n` borders ahead (the
    /// search for each starts a byte on, as GNU parallel's does).
    fn pass_records(&mut self, n: usize) {
        loop {
            let held = &self.buffer[self.start..];
            if held.is_empty() {
                return;
            }
            let mut at = 0;
            for _ in 0..n {
                match find_from(held, &self.border, at + 1) {
                    Some(found) => at = found,
                    None => return,
                }
            }
            self.pass(at + self.splitting.recend.len());
        }
    }

    /// `-L`: everything up to the end of the last whole record of `lines`
    /// lines.
    fn pass_line_records(&mut self, lines: usize) {
        let held = &self.buffer[self.start..];
        let newlines = held.iter().filter(|&&b| b == b'\n').count();
        let whole = newlines - newlines % lines.max(1);
        if whole > 0 {
            let end = nth_line_end(held, whole).unwrap_or(0);
            self.pass(end);
        }
    }

    /// Passes on the next `len` bytes as a block (nothing for none).
    fn pass(&mut self, len: usize) {
        if len == 0 {
            return;
        }
        let mut block = self.buffer[self.start..self.start + len].to_vec();
        self.start += len;
        if self.splitting.remove_separators {
            block = without_separators(&block, &self.splitting.recstart, &self.splitting.recend);
        }
        self.ready.push_back(block);
    }

    /// Drops what was passed on from the buffer.
    fn compact(&mut self) {
        self.buffer.drain(..self.start);
        self.start = 0;
    }
}

impl<R: Read + Send> JobSource for Blocks<R> {
    fn next_job(&mut self) -> Result<Option<Job>, InputError> {
        Blocks::next_job(self)
    }
    fn total(&self) -> Option<u64> {
        None
    }
    /// Read on a thread of their own: reading overlaps the jobs' start.
    fn may_wait(&self) -> bool {
        true
    }
    fn at_hand(&self) -> bool {
        false
    }
    /// A block at a time: a few blocks read ahead, never the whole input.
    fn batch(&self) -> usize {
        1
    }
}

/// `--round-robin`: one job per job slot, all reading from one queue of
/// blocks, each taking the next block when it is ready for more.
pub struct RoundRobin {
    queue: BlockQueue,
    jobs: u64,
    next_seq: u64,
}

/// Blocks read ahead for `--round-robin`'s jobs, per job.
const ROUND_ROBIN_AHEAD: usize = 2;

impl RoundRobin {
    /// `jobs` jobs sharing the blocks of `blocks`, which a thread reads.
    pub fn new<R: Read + Send + 'static>(
        mut blocks: Blocks<R>,
        jobs: u32,
    ) -> io::Result<RoundRobin> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(ROUND_ROBIN_AHEAD * jobs as usize);
        std::thread::Builder::new().name("map blocks".into()).spawn(move || {
            crate::exec::signals::block_in_this_thread();
            loop {
                match blocks.next_job() {
                    Ok(Some(job)) => {
                        let Stdin::Data(parts) = job.stdin else { continue };
                        for part in parts {
                            if let StdinPart::Bytes(bytes) = part
                                && sender.send(bytes).is_err()
                            {
                                return;
                            }
                        }
                    }
                    Ok(None) => return,
                    Err(error) => {
                        eprintln!(
                            "maestro: cannot read input {}: {}",
                            error.path.display(),
                            error.source
                        );
                        return;
                    }
                }
            }
        })?;
        Ok(RoundRobin {
            queue: BlockQueue::new(receiver),
            jobs: u64::from(jobs.max(1)),
            next_seq: 1,
        })
    }
}

impl JobSource for RoundRobin {
    fn next_job(&mut self) -> Result<Option<Job>, InputError> {
        if self.next_seq > self.jobs {
            return Ok(None);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let stdin = Stdin::Data(vec![StdinPart::Queue(self.queue.clone())]);
        Ok(Some(Job { seq, args: vec![Vec::new()], stdin }))
    }
    fn total(&self) -> Option<u64> {
        Some(self.jobs)
    }
}

/// Where the `n`th line of `bytes` ends (after its newline).
pub(super) fn nth_line_end(bytes: &[u8], n: usize) -> Option<usize> {
    let newlines = bytes.iter().enumerate().filter(|&(_, &b)| b == b'\n');
    newlines.map(|(i, _)| i + 1).nth(n.checked_sub(1)?)
}

/// Where `needle` last occurs in `haystack`; an empty needle at the end.
fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(haystack.len());
    }
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// Where `needle` first occurs in `haystack` at or after `from`; an empty
/// needle at `from` (or the end).
fn find_from(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let from = from.min(haystack.len());
    if needle.is_empty() {
        return Some(from);
    }
    haystack[from..].windows(needle.len()).position(|w| w == needle).map(|at| from + at)
}

/// `--rrs`: `block` without the borders inside it, the record start at its
/// start and the record end at its end (or before a last newline).
fn without_separators(block: &[u8], recstart: &[u8], recend: &[u8]) -> Vec<u8> {
    let border = [recend, recstart].concat();
    let mut out = Vec::with_capacity(block.len());
    let mut rest = block;
    while !border.is_empty()
        && let Some(at) = find_from(rest, &border, 0)
    {
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at + border.len()..];
    }
    out.extend_from_slice(rest);
    if !recstart.is_empty() && out.starts_with(recstart) {
        out.drain(..recstart.len());
    }
    if !recend.is_empty() {
        // As a Perl `$`: at the end, or before a newline that ends it.
        if out.ends_with(recend) {
            out.truncate(out.len() - recend.len());
        } else if out.ends_with(b"\n") && out[..out.len() - 1].ends_with(recend) {
            let cut = out.len() - 1 - recend.len();
            out.drain(cut..out.len() - 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(input: &str, splitting: Splitting) -> Vec<String> {
        let mut blocks = Blocks::new(input.as_bytes(), splitting, "-".into());
        let mut out = Vec::new();
        while let Some(job) = blocks.next_job().unwrap() {
            let Stdin::Data(parts) = job.stdin else { panic!("a block has data") };
            let mut text = Vec::new();
            for part in parts {
                let StdinPart::Bytes(bytes) = part else { panic!("blocks are bytes") };
                text.extend_from_slice(&bytes);
            }
            out.push(String::from_utf8(text).unwrap());
        }
        out
    }

    fn numbers(from: u32, to: u32) -> String {
        (from..=to).map(|n| format!("{n}\n")).collect()
    }

    #[test]
    fn blocks_end_at_the_last_newline_within_the_block() {
        let splitting = Splitting { block: 20, ..Splitting::default() };
        let cut = blocks(&numbers(1, 30), splitting);
        assert_eq!(
            cut,
            [numbers(1, 9), numbers(10, 15), numbers(16, 21), numbers(22, 27), numbers(28, 30)]
        );
    }

    #[test]
    fn a_record_longer_than_the_block_grows_it() {
        let splitting = Splitting { block: 8, ..Splitting::default() };
        let cut = blocks("aaaa\nbb\ncccccccccccccccccccccccccc\ndd\ne", splitting);
        assert_eq!(cut, ["aaaa\nbb\n", "cccccccccccccccccccccccccc\ndd\ne"]);
    }

    #[test]
    fn n_records_per_block_skip_a_border_at_the_start() {
        let splitting = Splitting { records: Some(1), ..Splitting::default() };
        assert_eq!(blocks("a\n\nb\nc\n", splitting), ["a\n", "\nb\n", "c\n"]);
        let splitting = Splitting { records: Some(3), ..Splitting::default() };
        assert_eq!(
            blocks(&numbers(1, 10), splitting),
            [numbers(1, 3), numbers(4, 6), numbers(7, 9), numbers(10, 10)]
        );
    }

    #[test]
    fn line_records_end_whole() {
        let splitting = Splitting { lines: Some(3), ..Splitting::default() };
        assert_eq!(blocks(&numbers(1, 10), splitting), [numbers(1, 9), numbers(10, 10)]);
    }

    #[test]
    fn the_header_goes_before_every_block() {
        let splitting = Splitting { records: Some(1), header_lines: 2, ..Splitting::default() };
        let cut = blocks("h1\nh2\na\nb\n", splitting);
        assert_eq!(cut, ["h1\nh2\na\n", "h1\nh2\nb\n"]);
    }

    #[test]
    fn record_starts_split_before_them() {
        let splitting = Splitting {
            block: 10,
            recstart: b">".to_vec(),
            recend: Vec::new(),
            ..Splitting::default()
        };
        let cut = blocks(">a\nxx\n>b\nyy\n>c\nzz\n", splitting);
        assert_eq!(cut, [">a\nxx\n", ">b\nyy\n", ">c\nzz\n"]);
    }

    #[test]
    fn separators_can_be_removed() {
        let splitting =
            Splitting { records: Some(2), remove_separators: true, ..Splitting::default() };
        assert_eq!(blocks(&numbers(1, 5), splitting), ["12", "34", "5"]);
        assert_eq!(without_separators(b">a\n>b\n", b">", b"\n"), b"ab");
        assert_eq!(without_separators(b"a,b,\n", b"", b","), b"ab\n");
    }

    #[test]
    fn no_input_is_no_block() {
        assert!(blocks("", Splitting::default()).is_empty());
    }
}
