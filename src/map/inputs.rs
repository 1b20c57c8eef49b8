//! Jobs from input sources, in GNU parallel's order: sources linked with
//! `:::+` pair up (the shortest ends them), the resulting groups combine as
//! every combination (the last group varies fastest), and `-n N` puts N
//! combinations into one job.
//!
//! The first group is read as jobs are taken, so 100,000 lines on stdin are
//! never held at once; the other groups are read whole at the start, since
//! every value of theirs is needed again for each value of the first.
//!
//! As in parallel, an empty source counts as one empty value, unless every
//! source is empty (then there is no job at all): `::: a :::` runs `a ''`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::args::{Source, SourceKind};
use crate::exec::Stdin;

/// One job: its sequence number (`{#}`, from 1), its arguments and its
/// stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// From 1, in input order.
    pub seq: u64,
    /// The values the template's replacement strings draw from.
    pub args: Vec<Vec<u8>>,
    /// What it reads (`--pipe`'s block).
    pub stdin: Stdin,
}

/// How a source's bytes become values.
#[derive(Debug, Clone)]
pub struct Parsing {
    /// Where a file's records end: a newline; a NUL with `-0`; `-d`'s.
    pub end: u8,
    /// `--colsep`: each record splits into columns here.
    pub colsep: Option<Vec<u8>>,
    /// `--trim`: which ends of each value lose their whitespace.
    pub trim: Trim,
    /// `-E`: a value that ends its source (it and all after it unread).
    pub eof: Option<Vec<u8>>,
    /// `--link`: every source pairs with the others, the shorter ones
    /// starting over until the longest ends (they are read whole first).
    pub link: bool,
    /// `-n`: combinations per job; 0 takes one and gives the job none of its
    /// values (GNU parallel's `-n 0`: a job per input, the command as is).
    pub per_job: usize,
    /// `--header :`: each source's first record names its values (its
    /// columns' with `colsep`) and is no input.
    pub header: bool,
    /// `--csv`: records are CSV (a quoted field may hold newlines; columns
    /// split at `colsep` outside quotes).
    pub csv: bool,
    /// `-r`: records of whitespace only are skipped.
    pub skip_blank: bool,
    /// `--skip-first-line`: the first source's first line is no input (a
    /// `--shebang` script's `#!` line).
    pub skip_first_line: bool,
}

impl Default for Parsing {
    /// Newline-ended records, no columns, one per job.
    fn default() -> Parsing {
        let trim = Trim::default();
        Parsing {
            end: b'\n',
            colsep: None,
            trim,
            eof: None,
            link: false,
            per_job: 1,
            header: false,
            csv: false,
            skip_blank: false,
            skip_first_line: false,
        }
    }
}

/// `--trim`: whether values lose their leading and their trailing
/// whitespace (Perl's `\s`: space, tab, newline, CR, VT, FF).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trim {
    /// Leading.
    pub left: bool,
    /// Trailing.
    pub right: bool,
}

impl Trim {
    /// `--trim n|l|r|lr|rl`.
    pub fn parse(text: &str) -> Result<Trim, String> {
        match text {
            "n" => Ok(Trim { left: false, right: false }),
            "l" => Ok(Trim { left: true, right: false }),
            "r" => Ok(Trim { left: false, right: true }),
            "lr" | "rl" => Ok(Trim { left: true, right: true }),
            _ => Err(format!("--trim {text}: expected n, l, r, lr or rl")),
        }
    }

    fn apply(self, value: &mut Vec<u8>) {
        let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
        if self.right {
            let kept = value.len() - value.iter().rev().take_while(|b| space(b)).count();
            value.truncate(kept);
        }
        if self.left {
            let cut = value.iter().take_while(|b| space(b)).count();
            value.drain(..cut);
        }
    }
}

/// The longest value read from an input: Linux takes no argument longer
/// (`MAX_ARG_STRLEN`), so no job could run with it; reading stops there
/// rather than at the end of memory (`:::: /dev/zero`).
pub const LONGEST_VALUE: usize = 128 * 1024;

/// An input problem: which source, and what went wrong.
#[derive(Debug)]
pub struct InputError {
    /// The file (`-` for stdin).
    pub path: PathBuf,
    /// The cause.
    pub source: io::Error,
}

/// The records of one source, one at a time.
enum Records {
    Words(std::vec::IntoIter<Vec<u8>>),
    Lines {
        reader: BufReader<Box<dyn Read + Send>>,
        path: PathBuf,
        end: u8,
        /// Whether a read may wait for a writer (stdin, a pipe, a FIFO).
        may_wait: bool,
        /// `-E`'s value, once it was read: the source has ended.
        eof: Option<Vec<u8>>,
        ended: bool,
        /// `--csv`: a record goes on past a newline inside quotes.
        csv: bool,
        /// `-r`: blank records are skipped.
        skip_blank: bool,
    },
}

/// Whether `record` is whitespace only (`-r` skips it).
fn blank(record: &[u8]) -> bool {
    record.iter().all(u8::is_ascii_whitespace)
}

impl Records {
    /// Where its records come from (`-` for stdin; nothing for values).
    fn path(&self) -> &Path {
        match self {
            Records::Words(_) => Path::new(""),
            Records::Lines { path, .. } => path,
        }
    }

    /// A source with no record.
    fn none() -> Records {
        Records::Words(Vec::new().into_iter())
    }

    fn open(kind: &SourceKind, parsing: &Parsing, first: bool) -> Result<Records, InputError> {
        let (end, eof) = (parsing.end, parsing.eof.clone());
        let buffered = |read: Box<dyn Read + Send>| BufReader::with_capacity(64 * 1024, read);
        // `< file` is a regular file too: reading it never waits.
        let stdin_waits = || !std::fs::metadata("/dev/stdin").is_ok_and(|m| m.is_file());
        let (reader, path, may_wait) = match kind {
            SourceKind::Args(words) => {
                let before_eof = words.iter().take_while(|w| Some(*w) != eof.as_ref());
                let kept = before_eof.filter(|w| !(parsing.skip_blank && blank(w)));
                return Ok(Records::Words(kept.cloned().collect::<Vec<_>>().into_iter()));
            }
            SourceKind::Stdin => {
                (buffered(Box::new(io::stdin())), PathBuf::from("-"), stdin_waits())
            }
            SourceKind::File(path) if path.as_os_str() == "-" => {
                (buffered(Box::new(io::stdin())), path.clone(), stdin_waits())
            }
            SourceKind::File(path) => {
                let file =
                    File::open(path).map_err(|source| InputError { path: path.clone(), source })?;
                let regular = file.metadata().is_ok_and(|m| m.is_file());
                (buffered(Box::new(file)), path.clone(), !regular)
            }
        };
        let (csv, skip_blank) = (parsing.csv, parsing.skip_blank);
        let mut records =
            Records::Lines { reader, path, end, may_wait, eof, ended: false, csv, skip_blank };
        if parsing.skip_first_line
            && first
            && let Records::Lines { reader, path, .. } = &mut records
        {
            Records::read(reader, path, b'\n')?;
        }
        Ok(records)
    }

    /// Whether the next `n` records are at hand: taking them will not wait.
    fn at_hand(&self, n: usize) -> bool {
        match self {
            Records::Words(_) => true,
            Records::Lines { reader, end, .. } => {
                reader.buffer().iter().filter(|&b| b == end).take(n).count() == n
            }
        }
    }

    fn next(&mut self) -> Result<Option<Vec<u8>>, InputError> {
        match self {
            Records::Words(words) => Ok(words.next()),
            Records::Lines { ended: true, .. } => Ok(None),
            Records::Lines { reader, path, end, eof, ended, csv, skip_blank, .. } => loop {
                let mut record = Records::read(reader, path, *end)?;
                // A quote left open goes on on the next line.
                while *csv && let Some(open) = record.as_mut().filter(|r| quotes_open(r)) {
                    let Some(rest) = Records::read(reader, path, *end)? else { break };
                    open.push(*end);
                    open.extend_from_slice(&rest);
                }
                *ended = record.is_some() && record.as_ref() == eof.as_ref();
                if *ended {
                    return Ok(None);
                }
                if *skip_blank && record.as_deref().is_some_and(blank) {
                    continue;
                }
                return Ok(record);
            },
        }
    }

    /// The next record of `reader` (the file at `path`), without its `end`.
    fn read(
        reader: &mut BufReader<Box<dyn Read + Send>>,
        path: &Path,
        end: u8,
    ) -> Result<Option<Vec<u8>>, InputError> {
        let mut record = Vec::new();
        let longest = LONGEST_VALUE as u64 + 1;
        match reader.by_ref().take(longest).read_until(end, &mut record) {
            Ok(0) => Ok(None),
            Ok(_) if record.last() == Some(&end) => {
                record.pop();
                Ok(Some(record))
            }
            Ok(_) if record.len() > LONGEST_VALUE => {
                let why = format!(
                    "a value longer than {LONGEST_VALUE} bytes, more than a command line can hold"
                );
                Err(InputError { path: path.to_path_buf(), source: io::Error::other(why) })
            }
            Ok(_) => Ok(Some(record)),
            Err(source) => Err(InputError { path: path.to_path_buf(), source }),
        }
    }
}

/// A source, with its first record read ahead (to know whether it is
/// empty before any job starts).
struct Member {
    records: Records,
    ahead: Option<Vec<u8>>,
}

impl Member {
    fn next(&mut self) -> Result<Option<Vec<u8>>, InputError> {
        match self.ahead.take() {
            Some(record) => Ok(Some(record)),
            None => self.records.next(),
        }
    }
}

/// `--link`'s sources: each read whole, the shorter ones repeated until all
/// are as long as the longest, every one after the first linked.
fn linked_around(members: Vec<(Member, bool)>) -> Result<Vec<(Member, bool)>, InputError> {
    let mut all = Vec::with_capacity(members.len());
    for (mut member, _) in members {
        let mut values = Vec::new();
        while let Some(value) = member.next()? {
            values.push(value);
        }
        all.push(values);
    }
    let longest = all.iter().map(Vec::len).max().unwrap_or(0);
    let around = |values: Vec<Vec<u8>>| -> Vec<Vec<u8>> {
        let times = if values.is_empty() { 0 } else { longest };
        values.iter().cycle().take(times).cloned().collect()
    };
    Ok(all
        .into_iter()
        .enumerate()
        .map(|(i, values)| {
            let mut records = Records::Words(around(values).into_iter());
            let ahead = records.next().ok().flatten();
            (Member { records, ahead }, i > 0)
        })
        .collect())
}

/// Sources read in lockstep: one value of each per step, until one ends.
struct Group {
    members: Vec<Member>,
}

impl Group {
    /// Its first step's values (none for an empty source).
    fn into_values(mut self, parsing: &Parsing) -> Vec<Vec<u8>> {
        self.next(parsing).ok().flatten().unwrap_or_default()
    }

    /// The next step's values, split into columns, one after the other.
    fn next(&mut self, parsing: &Parsing) -> Result<Option<Vec<Vec<u8>>>, InputError> {
        let mut values = Vec::new();
        for member in &mut self.members {
            let Some(record) = member.next()? else { return Ok(None) };
            let before = values.len();
            match &parsing.colsep {
                Some(separator) if parsing.csv => {
                    let fields = csv_fields(&record, separator).map_err(|why| InputError {
                        path: member.records.path().to_path_buf(),
                        source: io::Error::other(why),
                    })?;
                    values.extend(fields);
                }
                Some(separator) => values.extend(split(&record, separator)),
                None => values.push(record),
            }
            values[before..].iter_mut().for_each(|value| parsing.trim.apply(value));
        }
        Ok(Some(values))
    }
}

/// Whether `record` leaves a CSV quote open (an odd number of `"`).
pub fn quotes_open(record: &[u8]) -> bool {
    !record.iter().filter(|&&b| b == b'"').count().is_multiple_of(2)
}

/// `--csv`: the fields of a CSV record, split at `separator`: a field is
/// plain text without quotes, or quoted (`"a, ""b"""` is `a, "b"`, newlines
/// allowed) and then followed by the separator or the end, as Perl's
/// Text::CSV reads them for GNU parallel.
fn csv_fields(record: &[u8], separator: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let bad = |why: &str| format!("CSV: {why}: {}", String::from_utf8_lossy(record));
    let mut fields = Vec::new();
    let mut at = 0;
    loop {
        let rest = &record[at..];
        if let Some(quoted) = rest.strip_prefix(b"\"") {
            let mut field = Vec::new();
            let mut i = 0;
            loop {
                match quoted.get(i) {
                    None => return Err(bad("a quote is never closed")),
                    Some(b'"') if quoted.get(i + 1) == Some(&b'"') => {
                        field.push(b'"');
                        i += 2;
                    }
                    Some(b'"') => break,
                    Some(&byte) => {
                        field.push(byte);
                        i += 1;
                    }
                }
            }
            fields.push(field);
            let after = &quoted[i + 1..];
            if after.is_empty() {
                return Ok(fields);
            }
            if !after.starts_with(separator) {
                return Err(bad("a quoted field is followed by more than a separator"));
            }
            at += 1 + i + 1 + separator.len();
            continue;
        }
        let end = rest.windows(separator.len()).position(|w| w == separator);
        let field = &rest[..end.unwrap_or(rest.len())];
        if field.contains(&b'"') {
            return Err(bad("a quote inside an unquoted field"));
        }
        fields.push(field.to_vec());
        match end {
            Some(end) => at += end + separator.len(),
            None => return Ok(fields),
        }
    }
}

fn split(record: &[u8], separator: &[u8]) -> Vec<Vec<u8>> {
    let mut columns = Vec::new();
    let mut rest = record;
    while let Some(at) = rest.windows(separator.len()).position(|w| w == separator) {
        columns.push(rest[..at].to_vec());
        rest = &rest[at + separator.len()..];
    }
    columns.push(rest.to_vec());
    columns
}

/// The jobs of a `map` run, produced as they are taken.
pub struct Inputs {
    first: Group,
    /// Every step of the other groups, read whole.
    rest: Vec<Vec<Vec<Vec<u8>>>>,
    /// The first group's current step, and where the combination of the
    /// other groups' steps has got to (the last varies fastest).
    current: Option<Vec<Vec<u8>>>,
    odometer: Vec<usize>,
    parsing: Parsing,
    /// Whether a job gets the values it takes (not with `-n 0`).
    given: bool,
    next_seq: u64,
    done: bool,
    /// `--header :`'s names.
    names: Vec<Vec<u8>>,
}

impl Inputs {
    /// Opens every source; reads all but the first group whole.
    pub fn open(sources: &[Source], parsing: Parsing) -> Result<Inputs, InputError> {
        let mut members = Vec::new();
        let mut names = Vec::new();
        for (index, source) in sources.iter().enumerate() {
            let mut records = Records::open(&source.kind, &parsing, index == 0)?;
            let mut ahead = records.next()?;
            if parsing.header {
                let header = Group { members: vec![Member { records: Records::none(), ahead }] };
                names.extend(header.into_values(&parsing));
                ahead = records.next()?;
            }
            members.push((Member { records, ahead }, source.linked));
        }
        if parsing.link {
            members = linked_around(members)?;
        }
        let all_empty = members.iter().all(|(member, _)| member.ahead.is_none());
        let mut groups: Vec<Group> = Vec::new();
        for (mut member, linked) in members {
            if member.ahead.is_none() && !all_empty {
                member.ahead = Some(Vec::new());
            }
            match groups.last_mut() {
                Some(group) if linked => group.members.push(member),
                _ => groups.push(Group { members: vec![member] }),
            }
        }
        let mut groups = groups.into_iter();
        let first = groups.next().unwrap_or(Group { members: Vec::new() });
        let mut rest = Vec::new();
        for mut group in groups {
            let mut steps = Vec::new();
            while let Some(step) = group.next(&parsing)? {
                steps.push(step);
            }
            rest.push(steps);
        }
        let done = first.members.is_empty() || rest.iter().any(Vec::is_empty);
        let odometer = vec![0; rest.len()];
        let given = parsing.per_job > 0;
        let parsing = Parsing { per_job: parsing.per_job.max(1), ..parsing };
        Ok(Inputs {
            first,
            rest,
            current: None,
            odometer,
            parsing,
            given,
            next_seq: 1,
            done,
            names,
        })
    }

    /// `--header :`: the names of the values, in order (`{name}` is the
    /// value at its place).
    pub fn column_names(&self) -> &[Vec<u8>] {
        &self.names
    }

    /// How many jobs there will be, when known before any is taken: when
    /// every source of the first group is a list of values (`:::`).
    pub fn total(&self) -> Option<u64> {
        if self.done {
            return Some(0);
        }
        let steps = self
            .first
            .members
            .iter()
            .map(|m| match &m.records {
                Records::Words(rest) => Some(usize::from(m.ahead.is_some()) + rest.len()),
                Records::Lines { .. } => None,
            })
            .collect::<Option<Vec<usize>>>()?;
        // Paired sources end with the shortest.
        let first = steps.into_iter().min()? as u64;
        let combinations =
            self.rest.iter().fold(first, |n, group| n.saturating_mul(group.len() as u64));
        Some(combinations.div_ceil(self.parsing.per_job as u64))
    }

    /// Whether taking a job may wait for a writer (the first group reads
    /// stdin, a pipe or a FIFO); the other groups are read already.
    pub fn may_wait(&self) -> bool {
        let waits = |m: &Member| matches!(m.records, Records::Lines { may_wait: true, .. });
        !self.done && self.first.members.iter().any(waits)
    }

    /// Whether the next job can be taken without waiting for a writer, as
    /// far as can be told (a record is at hand in every source that is read
    /// as jobs are taken).
    pub fn at_hand(&self) -> bool {
        let needed = self.parsing.per_job;
        self.first.members.iter().all(|m| {
            let ahead = usize::from(m.ahead.is_some());
            ahead >= needed || m.records.at_hand(needed - ahead)
        })
    }

    /// The next job, or `None` when the inputs are used up.
    pub fn next_job(&mut self) -> Result<Option<Job>, InputError> {
        let mut args = Vec::new();
        let mut taken = 0;
        while taken < self.parsing.per_job {
            let Some(combination) = self.next_combination()? else { break };
            args.extend(combination);
            taken += 1;
        }
        if taken == 0 {
            return Ok(None);
        }
        if !self.given {
            args.clear();
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        Ok(Some(Job { seq, args, stdin: Stdin::Null }))
    }

    fn next_combination(&mut self) -> Result<Option<Vec<Vec<u8>>>, InputError> {
        if self.done {
            return Ok(None);
        }
        if self.current.is_none() {
            self.current = self.first.next(&self.parsing)?;
            if self.current.is_none() {
                self.done = true;
                return Ok(None);
            }
        }
        let mut values = self.current.clone().unwrap_or_default();
        for (group, &step) in self.rest.iter().zip(&self.odometer) {
            values.extend(group[step].iter().cloned());
        }
        // Advance: the last group fastest; past its end, the next step of
        // the first group starts the combinations over.
        let mut position = self.odometer.len();
        loop {
            if position == 0 {
                self.current = None;
                break;
            }
            position -= 1;
            self.odometer[position] += 1;
            if self.odometer[position] < self.rest[position].len() {
                break;
            }
            self.odometer[position] = 0;
        }
        Ok(Some(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_read_as_text_csv_reads_them() {
        let fields = |text: &str| {
            csv_fields(text.as_bytes(), b",").map(|fields| {
                fields.into_iter().map(|f| String::from_utf8(f).unwrap()).collect::<Vec<_>>()
            })
        };
        assert_eq!(
            fields(r#"a,"b,c",,"d""e""""#),
            Ok(vec!["a".into(), "b,c".into(), String::new(), r#"d"e""#.into()])
        );
        assert_eq!(fields("\"x\ny\",z"), Ok(vec!["x\ny".into(), "z".into()]));
        assert_eq!(fields(""), Ok(vec![String::new()]));
        assert!(fields(r#" a , "b" "#).unwrap_err().contains("a quote inside an unquoted field"));
        assert!(fields(r#""a" ,b"#).unwrap_err().contains("followed by more than a separator"));
        assert!(fields(r#"x,"y"#).unwrap_err().contains("never closed"));
    }

    fn args(values: &[&str]) -> Source {
        let values = values.iter().map(|v| v.as_bytes().to_vec()).collect();
        Source { kind: SourceKind::Args(values), linked: false }
    }

    fn linked(source: Source) -> Source {
        Source { linked: true, ..source }
    }

    fn jobs(sources: &[Source], parsing: Parsing) -> Vec<String> {
        let mut inputs = Inputs::open(sources, parsing).unwrap();
        let mut out = Vec::new();
        while let Some(job) = inputs.next_job().unwrap() {
            let args: Vec<String> =
                job.args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            out.push(format!("{}:{}", job.seq, args.join("|")));
        }
        out
    }

    #[test]
    fn sources_combine_with_the_last_varying_fastest() {
        let got = jobs(&[args(&["a", "b"]), args(&["1", "2"])], Parsing::default());
        assert_eq!(got, ["1:a|1", "2:a|2", "3:b|1", "4:b|2"]);
    }

    #[test]
    fn linked_sources_pair_up_and_the_shortest_ends_them() {
        let got = jobs(&[args(&["a", "b", "c"]), linked(args(&["1", "2"]))], Parsing::default());
        assert_eq!(got, ["1:a|1", "2:b|2"]);
        let got = jobs(
            &[args(&["x", "y"]), args(&["a", "b"]), linked(args(&["1", "2", "3"]))],
            Parsing::default(),
        );
        assert_eq!(got, ["1:x|a|1", "2:x|b|2", "3:y|a|1", "4:y|b|2"]);
    }

    #[test]
    fn an_empty_source_is_one_empty_value_unless_all_are_empty() {
        assert!(jobs(&[args(&[])], Parsing::default()).is_empty());
        assert!(jobs(&[args(&[]), args(&[])], Parsing::default()).is_empty());
        assert_eq!(jobs(&[args(&["a"]), args(&[])], Parsing::default()), ["1:a|"]);
        assert_eq!(jobs(&[args(&[]), args(&["a"])], Parsing::default()), ["1:|a"]);
        let got = jobs(&[args(&["a", "b"]), linked(args(&[]))], Parsing::default());
        assert_eq!(got, ["1:a|"]);
    }

    #[test]
    fn several_combinations_per_job() {
        let parsing = Parsing { per_job: 2, ..Parsing::default() };
        assert_eq!(jobs(&[args(&["1", "2", "3"])], parsing.clone()), ["1:1|2", "2:3"]);
        let got = jobs(&[args(&["1", "2"]), args(&["a", "b"])], parsing);
        assert_eq!(got, ["1:1|a|1|b", "2:2|a|2|b"]);
    }

    #[test]
    fn columns_split_on_the_separator() {
        let parsing = Parsing { colsep: Some(b"::".to_vec()), ..Parsing::default() };
        let got = jobs(&[args(&["a::b", "c", "::d::"])], parsing);
        assert_eq!(got, ["1:a|b", "2:c", "3:|d|"]);
    }

    #[test]
    fn file_records_end_at_newlines_or_nuls_and_keep_empty_ones() {
        let dir = std::env::temp_dir().join(format!("maestro-inputs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lines = dir.join("lines");
        std::fs::write(&lines, "a\n\nb c\r\nlast").unwrap();
        let file = |path: &PathBuf| Source { kind: SourceKind::File(path.clone()), linked: false };
        assert_eq!(jobs(&[file(&lines)], Parsing::default()), ["1:a", "2:", "3:b c\r", "4:last"]);
        let nul = dir.join("nul");
        std::fs::write(&nul, b"x\ny\0z\0").unwrap();
        let parsing = Parsing { end: b'\0', ..Parsing::default() };
        assert_eq!(jobs(&[file(&nul)], parsing), ["1:x\ny", "2:z"]);
        let missing = Inputs::open(&[file(&dir.join("missing"))], Parsing::default());
        assert!(missing.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_total_is_known_for_lists_of_values() {
        let parsing = Parsing::default;
        let total = |sources: &[Source], per_job: usize| {
            Inputs::open(sources, Parsing { per_job, ..parsing() }).unwrap().total()
        };
        assert_eq!(total(&[args(&["a", "b", "c"])], 1), Some(3));
        assert_eq!(total(&[args(&["a", "b", "c"]), args(&["x", "y"])], 1), Some(6));
        assert_eq!(total(&[args(&["a", "b", "c"]), linked(args(&["x", "y"]))], 1), Some(2));
        assert_eq!(total(&[args(&["a", "b", "c"])], 2), Some(2));
        assert_eq!(total(&[args(&[]), args(&["x", "y"])], 1), Some(2));
        assert_eq!(total(&[args(&[])], 1), Some(0));
        for (sources, per_job) in [
            (vec![args(&["a", "b", "c"]), args(&["x", "y"])], 1),
            (vec![args(&["a", "b", "c"]), linked(args(&["x", "y"]))], 1),
            (vec![args(&["a", "b", "c"])], 2),
        ] {
            let counted = jobs(&sources, Parsing { per_job, ..parsing() }).len() as u64;
            assert_eq!(total(&sources, per_job), Some(counted));
        }
    }
}
