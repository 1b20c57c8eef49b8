//! `map --pipepart`: files cut into parts, each the stdin of one job, cut
//! where GNU parallel cuts them: from every block's end (`--block`; by
//! default ten parts per job slot), on to the next record border. Only the
//! borders are read here; the jobs' backend reads the parts themselves.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::blocks::{Splitting, nth_line_end};
use super::feed::JobSource;
use super::inputs::{InputError, Job};
use crate::exec::{Stdin, StdinPart};

/// What the border search reads at a time.
const SEARCH_READ: usize = 128 * 1024;

/// `--block` for `--pipepart`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartSize {
    /// Parts of about this many bytes.
    Bytes(u64),
    /// `--block -N`: N parts per job slot, over all the files.
    PerSlot(u64),
}

/// The parts of every file, as jobs.
pub struct Parts {
    parts: VecDeque<Part>,
    total: u64,
    next_seq: u64,
}

struct Part {
    path: Arc<Path>,
    header: Arc<[u8]>,
    start: u64,
    end: u64,
}

impl Parts {
    /// Cuts each of `files` (`slots` job slots share them).
    pub fn cut(
        files: &[PathBuf],
        size: PartSize,
        slots: u32,
        splitting: &Splitting,
    ) -> Result<Parts, InputError> {
        fn error(path: &Path) -> impl Fn(io::Error) -> InputError + '_ {
            move |source| InputError { path: path.to_path_buf(), source }
        }
        let mut sizes = Vec::with_capacity(files.len());
        for path in files {
            let metadata = std::fs::metadata(path).map_err(error(path))?;
            if !metadata.is_file() {
                let why = "--pipepart cuts regular files: this is not one";
                return Err(error(path)(io::Error::other(why)));
            }
            sizes.push(metadata.len());
        }
        let block = match size {
            PartSize::Bytes(bytes) => bytes.max(1),
            PartSize::PerSlot(per_slot) => {
                let all: u64 = sizes.iter().sum();
                1 + all / u64::from(slots.max(1)) / per_slot.max(1)
            }
        };
        let mut parts = VecDeque::new();
        for (path, size) in files.iter().zip(sizes) {
            let mut file = File::open(path).map_err(error(path))?;
            let header: Arc<[u8]> =
                read_header(&mut file, splitting.header_lines, block).map_err(error(path))?.into();
            let borders = borders(&mut file, size, block, header.len() as u64, splitting)
                .map_err(error(path))?;
            let path: Arc<Path> = path.as_path().into();
            for pair in borders.windows(2) {
                let header = header.clone();
                parts.push_back(Part { path: path.clone(), header, start: pair[0], end: pair[1] });
            }
        }
        let total = parts.len() as u64;
        Ok(Parts { parts, total, next_seq: 1 })
    }
}

impl JobSource for Parts {
    fn next_job(&mut self) -> Result<Option<Job>, InputError> {
        let Some(part) = self.parts.pop_front() else { return Ok(None) };
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut stdin = Vec::with_capacity(2);
        if !part.header.is_empty() {
            stdin.push(StdinPart::Bytes(part.header));
        }
        stdin.push(StdinPart::File {
            path: part.path,
            start: part.start,
            len: part.end - part.start,
        });
        Ok(Some(Job { seq, args: Vec::new(), stdin: Stdin::Data(stdin) }))
    }
    fn total(&self) -> Option<u64> {
        Some(self.total)
    }
}

/// `--header N`: the file's first N lines, read `block` bytes at a time;
/// none if the file has fewer.
fn read_header(file: &mut File, lines: usize, block: u64) -> io::Result<Vec<u8>> {
    if lines == 0 {
        return Ok(Vec::new());
    }
    let mut read = Vec::new();
    loop {
        if let Some(end) = nth_line_end(&read, lines) {
            read.truncate(end);
            return Ok(read);
        }
        if Read::by_ref(file).take(block).read_to_end(&mut read)? == 0 {
            return Ok(Vec::new());
        }
    }
}

/// Where the parts start and end: after the header, then from each block's
/// end (counted from the last border) on to the next record border; the
/// file's end last.
fn borders(
    file: &mut File,
    size: u64,
    block: u64,
    header: u64,
    splitting: &Splitting,
) -> io::Result<Vec<u64>> {
    let border = [splitting.recend.as_slice(), &splitting.recstart].concat();
    let mut borders = vec![header];
    let mut at = header + block;
    while at < size {
        if border.is_empty() {
            borders.push(at);
        } else {
            file.seek(SeekFrom::Start(at))?;
            let mut read = Vec::new();
            loop {
                let before = read.len();
                // Searched again from a little before the new bytes: a border
                // may straddle two reads.
                let from = before.saturating_sub(border.len() - 1);
                if Read::by_ref(file).take(SEARCH_READ as u64).read_to_end(&mut read)? == 0 {
                    break;
                }
                if let Some(found) = read[from..].windows(border.len()).position(|w| w == border) {
                    at += (from + found + splitting.recend.len()) as u64;
                    borders.push(at);
                    break;
                }
            }
        }
        at += block;
    }
    if borders.last() != Some(&size) {
        borders.push(size);
    }
    Ok(borders)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(text: &str, size: PartSize, splitting: Splitting) -> Vec<String> {
        static CUTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = CUTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("maestro-parts-{}-{n}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, text).unwrap();
        let cut = Parts::cut(std::slice::from_ref(&path), size, 2, &splitting);
        std::fs::remove_file(&path).unwrap();
        let mut parts = cut.unwrap();
        let mut out = Vec::new();
        while let Some(job) = parts.next_job().unwrap() {
            let Stdin::Data(stdin) = job.stdin else { panic!("a part has data") };
            let mut part = Vec::new();
            for piece in stdin {
                match piece {
                    StdinPart::Bytes(bytes) => part.extend_from_slice(&bytes),
                    StdinPart::File { start, len, .. } => {
                        let start = start as usize;
                        part.extend_from_slice(&text.as_bytes()[start..start + len as usize]);
                    }
                    StdinPart::Queue(_) => panic!("parts are no queue"),
                }
            }
            out.push(String::from_utf8(part).unwrap());
        }
        out
    }

    #[test]
    fn parts_end_at_the_first_border_after_each_block() {
        let text = "aa\nbbbb\nc\ndddd\ne\n";
        let parts = cut(text, PartSize::Bytes(4), Splitting::default());
        assert_eq!(parts, ["aa\nbbbb\n", "c\ndddd\n", "e\n"]);
        assert_eq!(cut("a\nb\n", PartSize::Bytes(2), Splitting::default()), ["a\nb\n"]);
    }

    #[test]
    fn per_slot_sizes_share_the_file_out() {
        let text: String = (0..100).map(|n| format!("{n:03}\n")).collect();
        // 400 bytes, 2 slots, 2 parts each: 101-byte blocks.
        let parts = cut(&text, PartSize::PerSlot(2), Splitting::default());
        assert_eq!(parts.len(), 4);
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn the_header_starts_every_part() {
        let splitting = Splitting { header_lines: 1, ..Splitting::default() };
        let parts = cut("h\na\nb\n", PartSize::Bytes(1), splitting);
        assert_eq!(parts, ["h\na\n", "h\nb\n"]);
    }

    #[test]
    fn an_empty_file_has_no_part() {
        assert!(cut("", PartSize::Bytes(10), Splitting::default()).is_empty());
    }
}
