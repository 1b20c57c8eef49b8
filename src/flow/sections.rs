//! Big flow files (a generated flow of a million tasks), parsed a section
//! at a time: the `toml` crate's document of a whole big file takes about
//! 2 KB a task while it is parsed, its tokens and tables all at once; a
//! section at a time, only the tree the checks walk is whole.
//!
//! Only files of the plain shape generated flows have are taken this way:
//! top-level keys, then `[name]` tables and `[tasks.NAME]` tables, each once.
//! Anything else (a deeper header, `[[...]]`, a quoted key in a header, a
//! section that is not valid TOML alone, a table named twice) gives `None`,
//! and the whole file is parsed as one, which words every error as for any
//! file: this path never decides that a file is wrong.

use std::borrow::Cow;
use std::ops::Range;

use toml::de::DeTable;

use super::doc::{Key, Node, Table, Value, from_toml_owned};
use super::reader;

/// A big file read section by section: its top-level keys and tables, and
/// its tasks to read a chunk at a time (so that the tree of every task is
/// never whole: each chunk's is checked, then dropped).
pub(super) struct Sectioned<'t> {
    text: &'t str,
    /// Every top-level entry but the tasks' own: `tasks` is there as an
    /// empty table, where the file first names it.
    pub root: Table<'t>,
    /// The chunks of `[tasks.NAME]` tables: their text, and how many.
    chunks: Vec<(Range<usize>, usize)>,
}

/// The top of `text` parsed, its tasks left to [`Sectioned::each_chunk`];
/// `None` when it does not have the plain shape (or a section outside the
/// tasks has a mistake).
pub(super) fn parse(text: &str) -> Option<Sectioned<'_>> {
    let mut root: Table<'_> = Vec::new();
    let mut chunks = Vec::new();
    for section in split(text)? {
        if let Header::Tasks(count) = section.header {
            if chunks.is_empty() {
                // The `tasks` key as the first chunk names it: `[tasks.`.
                let at = section.range.start + text[section.range.clone()].find("tasks")?;
                let key = Key { name: Cow::Borrowed("tasks"), span: at..at + 5 };
                let node = Node { value: Value::Table(Vec::new()), span: at..at + 5 };
                root.push((key, node));
            }
            chunks.push((section.range, count));
            continue;
        }
        let mut entries = tree(text, section.range.clone())?;
        let clash = |name: &str| name == "tasks" || root.iter().any(|(key, _)| key.name == name);
        if entries.iter().any(|(key, _)| clash(&key.name)) {
            return None;
        }
        root.append(&mut entries);
    }
    Some(Sectioned { text, root, chunks })
}

impl<'t> Sectioned<'t> {
    /// How many tasks its chunks hold.
    pub(super) fn tasks(&self) -> usize {
        self.chunks.iter().map(|(_, count)| count).sum()
    }

    /// The task tables of every chunk, read on up to `threads` threads,
    /// each taking a run of chunks in a row: `states` makes each thread's
    /// own state, from how many tasks each run holds; `each` gives it each
    /// table of its run, in order. The states in file order; `None` when a
    /// chunk cannot be taken this way (a mistake in it), and the whole file
    /// must be parsed instead. A task named in two chunks is the caller's
    /// to find.
    pub(super) fn read_tasks<S: Send>(
        &self,
        threads: usize,
        states: impl FnOnce(&[usize]) -> Vec<S>,
        each: &(dyn Fn(&mut S, &Table<'t>) + Sync),
    ) -> Option<Vec<S>> {
        let runs = runs(&self.chunks, threads);
        let counts: Vec<usize> =
            runs.iter().map(|run| run.iter().map(|(_, count)| count).sum()).collect();
        let read_run = |run: &[(Range<usize>, usize)], mut state: S| {
            for (range, count) in run {
                let mut entries = tree(self.text, range.clone())?;
                let (_, node) = entries.pop()?;
                let Value::Table(tasks) = node.value else { return None };
                if tasks.len() != *count || !entries.is_empty() {
                    return None;
                }
                each(&mut state, &tasks);
            }
            Some(state)
        };
        let states = states(&counts);
        if states.len() != runs.len() {
            return None;
        }
        let read: Vec<Option<S>> = if runs.len() == 1 {
            states.into_iter().map(|state| read_run(runs[0], state)).collect()
        } else {
            std::thread::scope(|scope| {
                let threads: Vec<_> = runs
                    .iter()
                    .zip(states)
                    .map(|(run, state)| scope.spawn(move || read_run(run, state)))
                    .collect();
                threads.into_iter().map(|thread| thread.join().ok().flatten()).collect()
            })
        };
        read.into_iter().collect()
    }
}

/// `chunks` cut into at most `threads` runs in a row, of about as many
/// tasks each.
fn runs(chunks: &[(Range<usize>, usize)], threads: usize) -> Vec<&[(Range<usize>, usize)]> {
    let total: usize = chunks.iter().map(|(_, count)| count).sum();
    let per_run = total.div_ceil(threads.max(1)).max(1);
    let mut runs = Vec::new();
    let (mut start, mut in_run) = (0, 0);
    for (i, (_, count)) in chunks.iter().enumerate() {
        in_run += count;
        if in_run >= per_run {
            runs.push(&chunks[start..=i]);
            (start, in_run) = (i + 1, 0);
        }
    }
    if start < chunks.len() || runs.is_empty() {
        runs.push(&chunks[start..]);
    }
    runs
}

/// The tree of `text[range]`, its spans into the whole `text`: by the fast
/// reader, else by the `toml` crate; `None` if it is not valid TOML alone.
fn tree(text: &str, range: Range<usize>) -> Option<Table<'_>> {
    if let Some(tree) = reader::read(text, range.clone()) {
        return Some(tree);
    }
    let (parsed, errors) = DeTable::parse_recoverable(&text[range.clone()]);
    errors.is_empty().then(|| from_toml_owned(parsed.into_inner(), range.start))
}

/// What a section starts with.
#[derive(Debug, PartialEq, Eq)]
enum Header<'t> {
    /// Nothing: the top-level keys before the first header.
    None,
    /// `[name]`.
    Table(&'t str),
    /// This many `[tasks.NAME]` tables in a row.
    Tasks(usize),
}

#[derive(Debug)]
struct Section<'t> {
    header: Header<'t>,
    range: Range<usize>,
}

/// About how much text is parsed at once: a section is cut where a header
/// is, tasks in a row going together until they make this much (parsing
/// one small table at a time costs more than the tables).
const CHUNK: usize = 64 << 10;

/// `text` cut before headers; `None` when a header is not one of the
/// plain forms.
fn split(text: &str) -> Option<Vec<Section<'_>>> {
    let mut sections = Vec::new();
    let mut current = Section { header: Header::None, range: 0..0 };
    let mut lexer = Lexer::default();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if lexer.at_top() && line.trim_start().starts_with('[') {
            let header = header(line)?;
            match (&mut current.header, header) {
                (Header::Tasks(count), Header::Tasks(_))
                    if offset - current.range.start < CHUNK =>
                {
                    *count += 1;
                }
                (_, header) => {
                    current.range.end = offset;
                    let next = Section { header, range: offset..0 };
                    let previous = std::mem::replace(&mut current, next);
                    if !previous.range.is_empty() || previous.header != Header::None {
                        sections.push(previous);
                    }
                }
            }
        } else {
            lexer.feed(line);
        }
        offset += line.len();
    }
    current.range.end = text.len();
    sections.push(current);
    Some(sections)
}

/// A header line's table: `[name]` or `[tasks.NAME]`, bare keys only.
fn header(line: &str) -> Option<Header<'_>> {
    let line = line.trim();
    let line = match line.find('#') {
        Some(comment) => line[..comment].trim_end(),
        None => line,
    };
    let inner = line.strip_prefix('[')?.strip_suffix(']')?;
    let bare = |key: &str| {
        !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    let parts: Vec<&str> = inner.split('.').map(str::trim).collect();
    match parts.as_slice() {
        [name] if bare(name) => Some(Header::Table(name)),
        ["tasks", name] if bare(name) => Some(Header::Tasks(1)),
        _ => None,
    }
}

/// Just enough of TOML's lexing to know whether a line starts outside any
/// value (where a `[` opens a header): strings, comments, brackets.
#[derive(Debug, Default)]
struct Lexer {
    /// Open `[` and `{` of values.
    depth: usize,
    /// Inside a `"""` or `'''` string: its delimiter.
    multiline: Option<&'static str>,
}

impl Lexer {
    fn at_top(&self) -> bool {
        self.depth == 0 && self.multiline.is_none()
    }

    fn feed(&mut self, line: &str) {
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if let Some(delimiter) = self.multiline {
                match line[i..].find(delimiter) {
                    // A `\"""` does not close a basic string.
                    Some(at) if delimiter == "\"\"\"" && escaped(bytes, i + at) => i += at + 1,
                    Some(at) => {
                        self.multiline = None;
                        i += at + 3;
                    }
                    None => return,
                }
                continue;
            }
            match bytes[i] {
                b'#' => return,
                b'"' | b'\'' if line[i..].starts_with("\"\"\"") || line[i..].starts_with("'''") => {
                    self.multiline = Some(if bytes[i] == b'"' { "\"\"\"" } else { "'''" });
                    i += 3;
                }
                quote @ (b'"' | b'\'') => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != quote {
                        i += if quote == b'"' && bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
                b'[' | b'{' => {
                    self.depth += 1;
                    i += 1;
                }
                b']' | b'}' => {
                    self.depth = self.depth.saturating_sub(1);
                    i += 1;
                }
                _ => i += 1,
            }
        }
    }
}

/// Whether the byte at `at` follows an odd number of backslashes.
fn escaped(bytes: &[u8], at: usize) -> bool {
    bytes[..at].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::doc::{self};

    /// The whole-file tree, for comparison.
    fn whole(text: &str) -> Table<'_> {
        let (root, errors) = DeTable::parse_recoverable(text);
        assert!(errors.is_empty());
        let root = Box::leak(Box::new(root));
        doc::from_toml(root.get_ref())
    }

    /// The tree read section by section, its tasks put back whole.
    fn parse<'t>(text: &'t str) -> Option<Table<'t>> {
        let sectioned = super::parse(text)?;
        let each = |tasks: &mut Table<'t>, chunk: &Table<'t>| tasks.extend(chunk.iter().cloned());
        let states = |counts: &[usize]| counts.iter().map(|_| Vec::new()).collect();
        let runs = sectioned.read_tasks(2, states, &each)?;
        let tasks: Vec<_> = runs.into_iter().flatten().collect();
        let mut root = sectioned.root;
        if let Some((_, node)) = root.iter_mut().find(|(key, _)| key.name == "tasks") {
            node.value = Value::Table(tasks);
        }
        Some(root)
    }

    #[test]
    fn runs_split_chunks_in_a_row_by_their_tasks() {
        let chunks: Vec<(Range<usize>, usize)> =
            [3, 1, 2, 2, 4].iter().map(|&count| (0..0, count)).collect();
        let counts = |threads| -> Vec<usize> {
            runs(&chunks, threads).iter().map(|run| run.iter().map(|(_, c)| c).sum()).collect()
        };
        assert_eq!(counts(1), [12]);
        assert_eq!(counts(2), [6, 6]);
        assert_eq!(counts(3), [4, 4, 4]);
        assert_eq!(counts(8), [3, 3, 2, 4]);
        assert_eq!(runs(&[], 2).len(), 1);
    }

    #[test]
    fn each_thread_gets_the_count_of_its_run_and_a_state_of_its_own() {
        let tasks: String = (0..6000).map(|i| format!("[tasks.t{i}]\ncmd = \"x\"\n")).collect();
        let sectioned = super::parse(&tasks).unwrap();
        assert!(sectioned.chunks.len() > 2, "{}", sectioned.chunks.len());
        let states = |counts: &[usize]| counts.iter().map(|&count| (count, 0)).collect();
        let count = |(_, seen): &mut (usize, usize), chunk: &Table<'_>| *seen += chunk.len();
        let runs = sectioned.read_tasks(2, states, &count).expect("read");
        assert_eq!(runs.len(), 2);
        assert!(runs.iter().all(|(count, seen)| count == seen), "{runs:?}");
        assert_eq!(runs.iter().map(|(count, _)| count).sum::<usize>(), 6000);
        let too_few = |_: &[usize]| vec![(0, 0)];
        assert!(sectioned.read_tasks(2, too_few, &count).is_none());
    }

    #[test]
    fn sections_make_the_same_tree_as_the_whole_file() {
        let text = "jobs = 2 # two\n[vars]\nx = \"[not] a header\"\n\
                    [tasks.a]\ncmd = \"\"\"\n[tasks.fake]\n\"\"\"\ndeps = [\n  \"b\",\n]\n\
                    [tasks.b] # the second\ncmd = 'x'\nenv = { A = \"[\" }\n[resources]\ngpu = 1\n";
        assert_eq!(parse(text), Some(whole(text)));
    }

    #[test]
    fn anything_but_the_plain_shape_is_left_to_the_whole_file() {
        for text in [
            "[tasks.a]\ncmd = \"x\"\n[tasks.a]\ncmd = \"y\"\n",
            "[tasks]\na.cmd = \"x\"\n",
            "[tasks.a.env]\nX = \"1\"\n",
            "[[tasks]]\ncmd = \"x\"\n",
            "[tasks.\"a b\"]\ncmd = \"x\"\n",
            "tasks = { a = { cmd = \"x\" } }\n",
            "[tasks.a]\ncmd = \"x\n",
            "[vars]\nx = 1\n[vars]\ny = 2\n",
            "[tasks.a]\ncmd = \"x\"\n[tasks.b]\ncmd = \"y\"\n[tasks.a]\ncmd = \"z\"\n",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
