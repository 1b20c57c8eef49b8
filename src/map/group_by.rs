//! `--pipe --group-by`: blocks of consecutive lines that share a value (a
//! column's, or what a Perl expression makes of it), as GNU parallel makes
//! them: a `perl` filter marks where the value changes with a string of
//! its own, which the blocks are then cut before (`--recstart`) and lose
//! (`--rrs`); `-N1` gives each job one group.
//!
//! `--group-by COLUMN` (a number, or a name of the header line, which is
//! read first and put before every block), optionally followed by Perl
//! code that edits the value (`'UserID s/\D//g'`); or Perl code alone,
//! run on the whole line.

use std::io::{self, Read};
use std::process::{Child, ChildStdout, Command, Stdio};

/// A group-by filter's output, the filter ended when it is dropped.
pub struct Marked {
    child: Child,
    out: ChildStdout,
}

impl Read for Marked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.out.read(buf)
    }
}

impl Drop for Marked {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `--group-by` was given, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupBy {
    /// The column (from 1), if a column is named.
    pub column: Option<usize>,
    /// Perl code run on the value (or line), maybe empty.
    pub perl: String,
    /// The header line read to find a column by name (put before every
    /// block, as GNU parallel does).
    pub header: Option<Vec<u8>>,
}

impl GroupBy {
    /// Reads `text` as GNU parallel does; a column name is looked up in the
    /// first line of stdin, read here (one byte at a time, so that the
    /// filter gets the rest). `colsep` splits it.
    pub fn parse(text: &str, colsep: &str) -> Result<GroupBy, String> {
        let word_end = text.find(char::is_whitespace).unwrap_or(text.len());
        let (word, rest) = text.split_at(word_end);
        let named = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !named {
            return Ok(GroupBy { column: None, perl: text.to_string(), header: None });
        }
        let perl = rest.trim_start().to_string();
        if let Ok(column) = word.parse::<usize>() {
            if column == 0 {
                return Err(format!("--group-by {text}: columns count from 1"));
            }
            return Ok(GroupBy { column: Some(column), perl, header: None });
        }
        // Straight from fd 0: the standard library's stdin would buffer
        // ahead what the filter must read.
        // SAFETY: fd 0 stays open; the File is never dropped (not closed).
        let mut stdin = std::mem::ManuallyDrop::new(unsafe {
            <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(0)
        });
        let header = read_line(&mut *stdin)
            .map_err(|e| format!("--group-by {text}: cannot read the header line: {e}"))?;
        let line = String::from_utf8_lossy(&header);
        let names: Vec<&str> = line.trim_end_matches('\n').split(colsep).collect();
        let Some(index) = names.iter().position(|name| *name == word) else {
            return Err(format!(
                "--group-by {text}: no column '{word}' in the header: {}",
                names.join(" ")
            ));
        };
        Ok(GroupBy { column: Some(index + 1), perl, header: Some(header) })
    }

    /// Starts the filter on stdin: its output is stdin's lines with
    /// `mark` before each line whose value differs from the last's.
    pub fn start(&self, colsep: &str, mark: &str) -> io::Result<Marked> {
        let value = match self.column {
            Some(column) => format!("$F[{}]", column - 1),
            None => "$_".to_string(),
        };
        let code = format!(
            "BEGIN {{ $last = \"{mark}\"; }} {{ local $_ = {value}; {perl}; \
             if ($last ne $_) {{ print \"{mark}\"; $last = $_; }} }}",
            perl = self.perl
        );
        let mut command = Command::new("perl");
        if self.column.is_some() {
            // As GNU parallel writes the separator for perl's -F.
            let separator =
                colsep.replace('\t', "\\t").replace('"', "\\\"").replace(' ', "\\040{1}");
            command.arg("-a").arg(format!("-F{separator}"));
        }
        let mut child = command
            .arg("-pe")
            .arg(code)
            .stdin(Stdio::inherit())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start perl: {e}")))?;
        let out = child.stdout.take().expect("piped stdout");
        Ok(Marked { child, out })
    }
}

/// A string no input holds, to mark where groups start: twenty random
/// letters and digits, as GNU parallel's.
pub fn new_mark() -> String {
    use std::hash::BuildHasher;
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    // The standard library's hasher keys are random: no crate for this.
    let random = std::collections::hash_map::RandomState::new();
    (0..20u8)
        .map(|i| char::from(ALPHABET[(random.hash_one(i) % ALPHABET.len() as u64) as usize]))
        .collect()
}

/// One line of `reader` (with its newline), read a byte at a time.
fn read_line(reader: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while reader.read(&mut byte)? == 1 {
        line.push(byte[0]);
        if byte[0] == b'\n' {
            break;
        }
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_and_perl_are_told_apart() {
        let parsed = GroupBy::parse("2 s/\\D//g", ",").unwrap();
        assert_eq!(parsed, GroupBy { column: Some(2), perl: "s/\\D//g".into(), header: None });
        let parsed = GroupBy::parse("$_ = substr($_, 0, 1)", ",").unwrap();
        assert_eq!(parsed.column, None);
        assert!(GroupBy::parse("0", ",").is_err());
        assert_eq!(new_mark().len(), 20);
    }
}
