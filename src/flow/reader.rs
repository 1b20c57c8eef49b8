//! A fast reader for the TOML that flow files are written in, straight into
//! the tree the checks walk, its text borrowed from the file where nothing
//! is escaped.
//!
//! It knows the plain part of TOML: `[a.b]` headers, `key = value` with a
//! bare or quoted key, strings of the four kinds, decimal integers,
//! booleans, arrays and one-line inline tables, comments. Anything else
//! (a float, a date, a dotted key, `[[...]]`, a table named twice, a
//! mistake of any kind) gives `None`, and the `toml` crate reads the text
//! instead: so this reader never decides that a file is wrong, and every
//! error is worded one way. A test holds its trees equal to the crate's.

use std::borrow::Cow;
use std::ops::Range;

use foldhash::HashMap as FastMap;

use super::doc::{Integer, Key, Node, Table, Value};

/// Deeper headers and values are left to the `toml` crate.
const MAX_DEPTH: usize = 16;

/// Longer inline tables are left to the `toml` crate.
const INLINE_TABLE_MOST: usize = 64;

/// A table's entries by name, once it has this many (fewer are searched).
const INDEXED_FROM: usize = 8;

/// The tree of `text[range]` (spans into the whole `text`), or `None` when
/// it is not plain TOML.
pub(super) fn read(text: &str, range: Range<usize>) -> Option<Table<'_>> {
    let mut reader = Reader { text, bytes: text.as_bytes(), at: range.start, end: range.end };
    if text[range].starts_with('\u{feff}') {
        return None;
    }
    let mut tree = Tree::default();
    let mut current = ROOT;
    loop {
        reader.skip_blank_lines()?;
        if reader.at == reader.end {
            break;
        }
        if reader.peek() == Some(b'[') {
            current = reader.header(&mut tree)?;
        } else {
            let (key, node) = reader.key_value()?;
            tree.add_value(current, key, node)?;
        }
        reader.end_of_line()?;
    }
    Some(tree.finish())
}

struct Reader<'t> {
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
    end: usize,
}

impl<'t> Reader<'t> {
    fn peek(&self) -> Option<u8> {
        (self.at < self.end).then(|| self.bytes[self.at])
    }

    fn eat(&mut self, byte: u8) -> bool {
        let ate = self.peek() == Some(byte);
        self.at += usize::from(ate);
        ate
    }

    fn starts_with(&self, what: &[u8]) -> bool {
        self.bytes[self.at..self.end].starts_with(what)
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// A comment (if one starts here) up to its line's end.
    fn skip_comment(&mut self) -> Option<()> {
        if !self.eat(b'#') {
            return Some(());
        }
        while let Some(byte) = self.peek() {
            match byte {
                b'\n' | b'\r' => break,
                // Control characters are not allowed in comments.
                b'\t' => {}
                0..0x20 | 0x7f => return None,
                _ => {}
            }
            self.at += 1;
        }
        Some(())
    }

    /// A line break (`\n` or `\r\n`), if one is here.
    fn eat_newline(&mut self) -> Option<bool> {
        if self.eat(b'\n') {
            return Some(true);
        }
        if self.eat(b'\r') {
            return self.eat(b'\n').then_some(true);
        }
        Some(false)
    }

    /// Blank lines and comment lines, and the spaces before what follows
    /// (between lines, or between an array's values).
    fn skip_blank_lines(&mut self) -> Option<()> {
        loop {
            self.skip_spaces();
            self.skip_comment()?;
            if !self.eat_newline()? {
                return Some(());
            }
        }
    }

    /// What may follow a header or a key's value on its line.
    fn end_of_line(&mut self) -> Option<()> {
        self.skip_spaces();
        self.skip_comment()?;
        match self.peek() {
            None => Some(()),
            Some(_) => self.eat_newline()?.then_some(()),
        }
    }

    /// `[a.b]`: the table it opens.
    fn header(&mut self, tree: &mut Tree<'t>) -> Option<usize> {
        let start = self.at;
        self.at += 1;
        if self.peek() == Some(b'[') {
            return None;
        }
        let mut path = Vec::new();
        loop {
            self.skip_spaces();
            path.push(self.key()?);
            self.skip_spaces();
            if self.eat(b']') {
                break;
            }
            if !self.eat(b'.') || path.len() == MAX_DEPTH {
                return None;
            }
        }
        tree.open(path, start..self.at)
    }

    /// `key = value`, where the key is not dotted.
    fn key_value(&mut self) -> Option<(Key<'t>, Node<'t>)> {
        let key = self.key()?;
        self.skip_spaces();
        if !self.eat(b'=') {
            return None;
        }
        self.skip_spaces();
        let node = self.value(0)?;
        Some((key, node))
    }

    /// A bare or quoted key.
    fn key(&mut self) -> Option<Key<'t>> {
        let start = self.at;
        let name = match self.peek()? {
            b'"' => {
                self.at += 1;
                self.basic_string()?
            }
            b'\'' => {
                self.at += 1;
                self.literal_string()?
            }
            _ => {
                while matches!(
                    self.peek(),
                    Some(b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-')
                ) {
                    self.at += 1;
                }
                if self.at == start {
                    return None;
                }
                Cow::Borrowed(&self.text[start..self.at])
            }
        };
        Some(Key { name, span: start..self.at })
    }

    fn value(&mut self, depth: usize) -> Option<Node<'t>> {
        if depth == MAX_DEPTH {
            return None;
        }
        let start = self.at;
        let value = match self.peek()? {
            b'"' if self.starts_with(b"\"\"\"") => {
                self.at += 3;
                Value::String(self.multiline_string(b'"')?)
            }
            b'\'' if self.starts_with(b"'''") => {
                self.at += 3;
                Value::String(self.multiline_string(b'\'')?)
            }
            b'"' => {
                self.at += 1;
                Value::String(self.basic_string()?)
            }
            b'\'' => {
                self.at += 1;
                Value::String(self.literal_string()?)
            }
            b'[' => {
                self.at += 1;
                Value::Array(self.array(depth)?)
            }
            b'{' => {
                self.at += 1;
                Value::Table(self.inline_table(depth)?)
            }
            _ => self.bare_value()?,
        };
        Some(Node { value, span: start..self.at })
    }

    /// `true`, `false` or a decimal integer (`0`, `42`, `-7`); anything
    /// else bare (a float, a date, `+1`, `1_000`, `0x1f`) is left.
    fn bare_value(&mut self) -> Option<Value<'t>> {
        let start = self.at;
        while matches!(
            self.peek(),
            Some(b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'+' | b'.' | b':')
        ) {
            self.at += 1;
        }
        let word = &self.text[start..self.at];
        match word {
            "true" => return Some(Value::Boolean(true)),
            "false" => return Some(Value::Boolean(false)),
            _ => {}
        }
        let digits = word.strip_prefix('-').unwrap_or(word);
        let plain = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        plain.then_some(Value::Integer(Integer { digits: Cow::Borrowed(word), radix: 10 }))
    }

    /// The rest of a `"..."` string, its escapes replaced.
    fn basic_string(&mut self) -> Option<Cow<'t, str>> {
        let start = self.at;
        let mut owned: Option<String> = None;
        loop {
            let byte = self.peek()?;
            match byte {
                b'"' => {
                    let text = &self.text[start..self.at];
                    self.at += 1;
                    return Some(match owned {
                        Some(owned) => Cow::Owned(owned),
                        None => Cow::Borrowed(text),
                    });
                }
                b'\\' => {
                    let owned = owned.get_or_insert_with(|| self.text[start..self.at].to_string());
                    self.at += 1;
                    owned.push(self.escape()?);
                }
                b'\t' => self.take(&mut owned, 1),
                0..0x20 | 0x7f => return None,
                _ => {
                    let len = utf8_len(byte);
                    self.take(&mut owned, len);
                }
            }
        }
    }

    /// Moves past `len` bytes of text, copying them when the string is no
    /// longer borrowed.
    fn take(&mut self, owned: &mut Option<String>, len: usize) {
        if let Some(owned) = owned {
            owned.push_str(&self.text[self.at..self.at + len]);
        }
        self.at += len;
    }

    /// The character an escape stands for (after its `\`).
    fn escape(&mut self) -> Option<char> {
        let letter = self.peek()?;
        self.at += 1;
        Some(match letter {
            b'b' => '\u{8}',
            b't' => '\t',
            b'n' => '\n',
            b'f' => '\u{c}',
            b'r' => '\r',
            b'"' => '"',
            b'\\' => '\\',
            b'u' => self.hex_char(4)?,
            b'U' => self.hex_char(8)?,
            _ => return None,
        })
    }

    fn hex_char(&mut self, digits: usize) -> Option<char> {
        let hex = self.text.get(self.at..self.at + digits)?;
        if self.at + digits > self.end || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.at += digits;
        char::from_u32(u32::from_str_radix(hex, 16).ok()?)
    }

    /// The rest of a `'...'` string.
    fn literal_string(&mut self) -> Option<Cow<'t, str>> {
        let start = self.at;
        loop {
            match self.peek()? {
                b'\'' => {
                    self.at += 1;
                    return Some(Cow::Borrowed(&self.text[start..self.at - 1]));
                }
                b'\t' => self.at += 1,
                0..0x20 | 0x7f => return None,
                byte => self.at += utf8_len(byte),
            }
        }
    }

    /// The rest of a `"""` or `'''` string (`quote` says which): a line
    /// break right after the opening quotes is not part of it, and in a
    /// basic one a `\` at a line's end joins the next non-blank text.
    fn multiline_string(&mut self, quote: u8) -> Option<Cow<'t, str>> {
        let basic = quote == b'"';
        // Carriage returns would be a question of line endings: left.
        if self.eat(b'\r') {
            return None;
        }
        self.eat(b'\n');
        let start = self.at;
        let mut owned: Option<String> = None;
        loop {
            let byte = self.peek()?;
            match byte {
                _ if byte == quote && self.starts_with(&[quote; 3]) => {
                    let mut run = 3;
                    while self.bytes.get(self.at + run) == Some(&quote) && self.at + run < self.end
                    {
                        run += 1;
                    }
                    // Up to two quotes may end the text before the three
                    // that close it.
                    if run > 5 {
                        return None;
                    }
                    let close = self.at + run - 3;
                    if let Some(owned) = &mut owned {
                        owned.push_str(&self.text[self.at..close]);
                    }
                    let text = &self.text[start..close];
                    self.at += run;
                    return Some(match owned {
                        Some(owned) => Cow::Owned(owned),
                        None => Cow::Borrowed(text),
                    });
                }
                b'\\' if basic => {
                    let owned = owned.get_or_insert_with(|| self.text[start..self.at].to_string());
                    self.at += 1;
                    if matches!(self.peek(), Some(b' ' | b'\t' | b'\n')) {
                        self.line_ending_backslash()?;
                    } else {
                        owned.push(self.escape()?);
                    }
                }
                b'\t' | b'\n' => self.take(&mut owned, 1),
                0..0x20 | 0x7f => return None,
                _ => {
                    let len = utf8_len(byte);
                    self.take(&mut owned, len);
                }
            }
        }
    }

    /// After a `\` followed by a space or a line break: it must end its
    /// line, and it takes every space and line break after it.
    fn line_ending_backslash(&mut self) -> Option<()> {
        self.skip_spaces();
        if !self.eat(b'\n') {
            return None;
        }
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n')) {
            self.at += 1;
        }
        Some(())
    }

    /// The rest of an array (after its `[`).
    fn array(&mut self, depth: usize) -> Option<Vec<Node<'t>>> {
        let mut values = Vec::new();
        loop {
            self.skip_blank_lines()?;
            if self.eat(b']') {
                return Some(values);
            }
            values.push(self.value(depth + 1)?);
            self.skip_blank_lines()?;
            if self.eat(b']') {
                return Some(values);
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// The rest of an inline table (after its `{`), on one line, with no
    /// trailing comma.
    fn inline_table(&mut self, depth: usize) -> Option<Table<'t>> {
        let mut entries: Table<'t> = Vec::new();
        self.skip_spaces();
        if self.eat(b'}') {
            return Some(entries);
        }
        loop {
            self.skip_spaces();
            let key = self.key()?;
            self.skip_spaces();
            if !self.eat(b'=') {
                return None;
            }
            self.skip_spaces();
            let node = self.value(depth + 1)?;
            // A long one is the crate's (the search for twice-named keys
            // would be quadratic).
            if entries.len() == INLINE_TABLE_MOST || entries.iter().any(|(k, _)| k.name == key.name)
            {
                return None;
            }
            entries.push((key, node));
            self.skip_spaces();
            if self.eat(b'}') {
                return Some(entries);
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }
}

/// The length of the UTF-8 character starting with `byte` (the text is a
/// `str`, so it is whole).
fn utf8_len(byte: u8) -> usize {
    match byte {
        0..0x80 => 1,
        0xc0..0xe0 => 2,
        0xe0..0xf0 => 3,
        _ => 4,
    }
}

/// The root table's place in [`Tree::tables`].
const ROOT: usize = 0;

/// The tables being read, each in a place of its own, their entries that
/// are tables pointing at those places.
struct Tree<'t> {
    tables: Vec<Building<'t>>,
}

impl Default for Tree<'_> {
    fn default() -> Self {
        Tree { tables: vec![Building::default()] }
    }
}

#[derive(Default)]
struct Building<'t> {
    entries: Vec<(Key<'t>, Entry<'t>)>,
    /// The position of each entry by name, once there are many.
    index: FastMap<Cow<'t, str>, usize>,
}

enum Entry<'t> {
    Value(Node<'t>),
    /// A table opened by a header: its place, and its span.
    Table(usize, Range<usize>),
}

impl<'t> Building<'t> {
    fn find(&self, name: &str) -> Option<usize> {
        if self.entries.len() < INDEXED_FROM {
            self.entries.iter().position(|(key, _)| key.name == name)
        } else {
            self.index.get(name).copied()
        }
    }

    fn push(&mut self, key: Key<'t>, entry: Entry<'t>) {
        if self.entries.len() + 1 == INDEXED_FROM {
            let names = self.entries.iter().enumerate().map(|(i, (k, _))| (k.name.clone(), i));
            self.index.extend(names);
        }
        if self.entries.len() + 1 >= INDEXED_FROM {
            self.index.insert(key.name.clone(), self.entries.len());
        }
        self.entries.push((key, entry));
    }
}

impl<'t> Tree<'t> {
    fn add_value(&mut self, table: usize, key: Key<'t>, node: Node<'t>) -> Option<()> {
        let table = &mut self.tables[table];
        if table.find(&key.name).is_some() {
            return None;
        }
        table.push(key, Entry::Value(node));
        Some(())
    }

    /// The table a header names, made (and the tables on its way) if new;
    /// `None` if it was named before as anything but a table on the way to
    /// another. (A table only implied so far and opened now is valid TOML,
    /// but the span the crate gives it then is not worth the guess.)
    fn open(&mut self, path: Vec<Key<'t>>, header: Range<usize>) -> Option<usize> {
        let last = path.len() - 1;
        let mut table = ROOT;
        for (depth, key) in path.into_iter().enumerate() {
            let found = self.tables[table].find(&key.name);
            table = match found {
                Some(at) => match &self.tables[table].entries[at].1 {
                    Entry::Table(child, _) if depth < last => *child,
                    _ => return None,
                },
                None => {
                    let child = self.tables.len();
                    self.tables.push(Building::default());
                    let span = if depth == last { header.clone() } else { key.span.clone() };
                    self.tables[table].push(key, Entry::Table(child, span));
                    child
                }
            };
        }
        Some(table)
    }

    fn finish(mut self) -> Table<'t> {
        self.take(ROOT)
    }

    fn take(&mut self, table: usize) -> Table<'t> {
        let entries = std::mem::take(&mut self.tables[table].entries);
        entries
            .into_iter()
            .map(|(key, entry)| match entry {
                Entry::Value(node) => (key, node),
                Entry::Table(child, span) => {
                    (key, Node { value: Value::Table(self.take(child)), span })
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use toml::de::DeTable;

    use super::*;
    use crate::flow::doc;

    /// The `toml` crate's tree, or `None` for text it refuses.
    fn crates(text: &str) -> Option<Table<'_>> {
        let (root, errors) = DeTable::parse_recoverable(text);
        if !errors.is_empty() {
            return None;
        }
        let root = Box::leak(Box::new(root));
        Some(doc::from_toml(root.get_ref()))
    }

    /// The reader either leaves `text` or reads it as the crate does.
    fn same_as_the_crate(text: &str) -> bool {
        match read(text, 0..text.len()) {
            None => true,
            Some(tree) => crates(text).as_ref() == Some(&tree),
        }
    }

    fn reads_as_the_crate(text: &str) {
        let tree = read(text, 0..text.len());
        assert!(tree.is_some(), "left to the crate: {text:?}");
        assert_eq!(tree, crates(text), "{text:?}");
    }

    #[test]
    fn plain_toml_reads_as_the_crate_reads_it() {
        for text in [
            "",
            "# only a comment\n\n",
            "jobs = 2\n",
            "jobs = -7 # a comment\r\nx = 0\n",
            "a = true\nb = false\n",
            "[tasks.a]\ncmd = \"echo hi\"\ndeps = [\"b\", 'c',]\n",
            "[tasks.a]\ncmd = 'x'\n[tasks.b]\ncmd = \"y\"\n[tasks.a.env]\nX = \"1\"\n",
            "[ tasks . \"a b\" ]\ncmd = \"x\"\n",
            "[tasks.'lit']\n\"quoted key\" = 1\n'' = 2\n",
            "s = \"tab\\there \\\"q\\\" \\\\ \\u00e9 \\U0001F600 \\b\\f\\r\\n\"\n",
            "s = \"h\u{e9}llo w\u{f6}rld \u{1F600}\"\n",
            "m = \"\"\"\nline one\n  line two \\\n    joined\n\"\"\"\n",
            "m = \"\"\"a \"quoted\" word\"\"\"\"\n",
            "m = \"\"\"two at the end\"\"\"\"\"\n",
            "m = '''\nraw \\n text\n'''\n",
            "m = '''it's ''ok'''''\n",
            "a = [\n  1, # one\n  2,\n\n  [\"x\", []],\n]\n",
            "env = { A = \"1\", 'B' = \"[\", \"C D\" = { e = [] } }\n",
            "e = {}\nf = []\n",
            "[a]\n[b]\nx = 1\n[a.c]\ny = 2\n[a.d.e]\n",
            "  [indented]  # comment\n  key = \"v\"\n",
            "# \u{e9}\u{1F600}\nk = 'v'\n",
        ] {
            reads_as_the_crate(text);
        }
    }

    #[test]
    fn anything_else_is_left_to_the_crate() {
        for text in [
            "f = 1.5\n",
            "d = 1979-05-27\n",
            "i = 1_000\n",
            "h = 0x1f\n",
            "p = +1\n",
            "z = 007\n",
            "a.b = 1\n",
            "[[tasks]]\ncmd = \"x\"\n",
            "[a]\nx = 1\n[a]\ny = 2\n",
            "[a.b]\n[a]\n",
            "[a]\nb = 1\n[a.b]\n",
            "x = 1\nx = 2\n",
            "t = { a = 1, a = 2 }\n",
            "t = { a = 1, }\n",
            "t = { a = 1,\n b = 2 }\n",
            "s = \"unterminated\n",
            "s = \"bad \\q escape\"\n",
            "s = \"\\uD800\"\n",
            "s = \"a\u{1}b\"\n",
            "m = \"\"\"six\"\"\"\"\"\"\n",
            "k = 1 2\n",
            "[a] x = 1\n",
            "k = \n",
            "\u{feff}k = 1\n",
            "a = [1 2]\n",
            "c = 1\r",
            "# bad \u{7f} comment\n",
        ] {
            assert_eq!(read(text, 0..text.len()), None, "{text:?}");
        }
    }

    #[test]
    fn a_range_is_read_with_spans_into_the_whole_text() {
        let text = "jobs = 1\n[tasks.a]\ncmd = \"x\"\n";
        let start = text.find('[').unwrap();
        let tree = read(text, start..text.len()).unwrap();
        let (tasks, node) = &tree[0];
        assert_eq!(&text[tasks.span.clone()], "tasks");
        let Value::Table(tasks) = &node.value else { panic!("{node:?}") };
        assert_eq!(&text[tasks[0].1.span.clone()], "[tasks.a]");
    }

    /// Every flow file of the project (the corpus of bad ones, the
    /// examples) and a few thousand mutations of them: the reader reads
    /// each as the crate does, or leaves it.
    #[test]
    fn the_flows_of_the_project_and_their_mutations_read_as_the_crate_reads_them() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut texts = Vec::new();
        let mut folders = vec![root.join("tests/corpus/flows"), root.join("examples")];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|e| e == "toml") {
                    texts
                        .push(String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned());
                }
            }
        }
        assert!(texts.len() > 100, "{}", texts.len());
        let (mut read_whole, mut checked) = (0, 0);
        let pieces = [
            "\"", "'", "[", "]", "{", "}", "=", ",", "#", "\\", "\n", " ", ".", "\"\"\"", "1", "a",
            "\u{e9}",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |below: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % below as u64) as usize
        };
        for text in &texts {
            assert!(same_as_the_crate(text), "{text}");
            read_whole += usize::from(read(text, 0..text.len()).is_some());
            for _ in 0..30 {
                let mut mutated = text.clone();
                let mut at = next(mutated.len() + 1);
                while !mutated.is_char_boundary(at) {
                    at -= 1;
                }
                if next(2) == 0 && at < mutated.len() {
                    let len = mutated[at..].chars().next().unwrap().len_utf8();
                    mutated.replace_range(at..at + len, "");
                } else {
                    mutated.insert_str(at, pieces[next(pieces.len())]);
                }
                assert!(same_as_the_crate(&mutated), "{mutated}");
                checked += 1;
            }
        }
        // The corpus is mostly wrong on purpose, but its valid TOML is read.
        assert!(read_whole > 40, "only {read_whole} of {} read", texts.len());
        assert!(checked > 3000);
    }
}
