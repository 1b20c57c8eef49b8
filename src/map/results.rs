//! `--results` and `--files`: each job's output kept in files of its own
//! instead of printed, where GNU parallel keeps them.
//!
//! `--results DIR` makes a tree: `DIR/1/a/2/b/{stdout,stderr,seq}` for the
//! job of values `a` and `b` (each value under its place in the input, or
//! its `--header` name; a `/` in a value is written `\_`, a `\` `\\`).
//! `--results NAME` where NAME holds replacement strings: its expansion
//! for the job is the stdout file, beside `.err` and `.seq`; or, ending in
//! `/`, a folder holding the three. `--files` keeps stdout in a file of the
//! temporary folder and prints that file's name.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::inputs::Job;
use super::job::Capture;
use crate::template::Template;

/// Where jobs' output is kept instead of printed.
#[derive(Debug, Clone)]
pub enum Keep {
    /// `--files`: stdout in a file of this folder, whose name is printed.
    Files {
        /// The folder (the temporary one).
        dir: PathBuf,
        /// The run, which the files are named after.
        run_id: u64,
    },
    /// `--results DIR`: a tree under DIR.
    Tree {
        /// DIR.
        root: PathBuf,
        /// `--header :`'s names of the values, in order.
        names: Vec<Vec<u8>>,
        /// Values per input record, to number each value by its place.
        per_record: usize,
    },
    /// `--results NAME` with replacement strings.
    Named(Template),
}

impl Keep {
    /// `--results NAME` as GNU parallel reads it.
    pub fn results(name: &str, names: Vec<Vec<u8>>, per_record: usize) -> Keep {
        let template = Template::parse(name);
        if template.has_replacements() {
            Keep::Named(template)
        } else {
            Keep::Tree { root: PathBuf::from(name), names, per_record: per_record.max(1) }
        }
    }

    /// Keeps `job`'s output (stdout then stderr, `lengths` bytes of each,
    /// in `capture`); returns what is still to print: nothing, or with
    /// `--files` the name of its file, a line in place of its stdout.
    pub fn keep(
        &self,
        job: &Job,
        capture: &mut Capture,
        lengths: (u64, u64),
    ) -> io::Result<(u64, u64)> {
        let (stdout, stderr, seq) = match self {
            Keep::Files { dir, run_id } => {
                let path = dir.join(format!("maestro-{run_id}-{}.par", job.seq));
                copy_out(&capture.stdout, capture.start.0, lengths.0, &path)?;
                capture.clear((lengths.0, 0))?;
                let mut line = path.as_os_str().as_bytes().to_vec();
                line.push(b'\n');
                capture.stdout.write_all(&line)?;
                return Ok((line.len() as u64, lengths.1));
            }
            Keep::Tree { root, names, per_record } => {
                let dir = tree_dir(root, names, *per_record, &job.args);
                (dir.join("stdout"), dir.join("stderr"), dir.join("seq"))
            }
            Keep::Named(template) => {
                let args: Vec<&[u8]> = job.args.iter().map(Vec::as_slice).collect();
                let name = template.expand(&args, job.seq, 0, false);
                let name = PathBuf::from(std::ffi::OsStr::from_bytes(&name));
                if name.as_os_str().as_bytes().ends_with(b"/") {
                    (name.join("stdout"), name.join("stderr"), name.join("seq"))
                } else {
                    let with = |suffix: &str| {
                        let mut path = name.clone().into_os_string();
                        path.push(suffix);
                        PathBuf::from(path)
                    };
                    (name.clone(), with(".err"), with(".seq"))
                }
            }
        };
        copy_out(&capture.stdout, capture.start.0, lengths.0, &stdout)?;
        copy_out(&capture.stderr, capture.start.1, lengths.1, &stderr)?;
        fs::write(&seq, job.seq.to_string())?;
        capture.clear(lengths)?;
        Ok((0, 0))
    }
}

/// `DIR/1/a/2/b`: each value under its name (`--header`) or its place in
/// its record.
fn tree_dir(root: &Path, names: &[Vec<u8>], per_record: usize, values: &[Vec<u8>]) -> PathBuf {
    let mut dir = root.to_path_buf();
    for (index, value) in values.iter().enumerate() {
        let place = index % per_record;
        match names.get(place) {
            Some(name) => dir.push(std::ffi::OsStr::from_bytes(&escaped(name))),
            None => dir.push((place + 1).to_string()),
        }
        dir.push(std::ffi::OsStr::from_bytes(&escaped(value)));
    }
    dir
}

/// A value as one path component, as GNU parallel writes it: `\` as `\\`,
/// `/` as `\_`.
fn escaped(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for &byte in value {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\_"),
            _ => out.push(byte),
        }
    }
    out
}

/// Copies `length` bytes of `from` from `start` into a new file at `path`
/// (its folders made).
fn copy_out(from: &File, start: u64, length: u64, path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let mut to = File::create(path)?;
    let mut from = from;
    from.seek(SeekFrom::Start(start))?;
    io::copy(&mut from.take(length), &mut to)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_escaped_folders_under_their_place_or_name() {
        let values = [b"a/b".to_vec(), b"c\\d".to_vec()];
        assert_eq!(tree_dir(Path::new("o"), &[], 2, &values), Path::new("o/1/a\\_b/2/c\\\\d"));
        assert_eq!(tree_dir(Path::new("o"), &[], 1, &values), Path::new("o/1/a\\_b/1/c\\\\d"));
        let names = [b"x".to_vec(), b"y".to_vec()];
        assert_eq!(tree_dir(Path::new("o"), &names, 2, &values), Path::new("o/x/a\\_b/y/c\\\\d"));
    }
}
