//! A quick reader for the plain TOML that flow files are written in.
//!
//! It reads only a strict subset of TOML and gives up (`None`) on anything
//! else, leaving the file to the `toml` crate; so it never has to report an
//! error, and it must never accept a file that the `toml` crate rejects or
//! read one differently (the tests below compare the two).
//!
//! The subset: comments; `[a]` and `[a.b]` headers (each table defined once,
//! `[a]` before any `[a.b]`); `key = value` lines with plain keys (bare or
//! quoted, not dotted); values that are single-line strings, decimal integers
//! without `_`, booleans, arrays (over several lines too), and inline tables
//! with no line break between entries and no trailing comma. LF or CRLF line
//! ends.
//!
//! It is several times quicker than building the `toml` crate's document,
//! which sorts every table into a `BTreeMap` that the checks then put back
//! into file order.

use std::borrow::Cow;
use std::collections::HashMap;

use super::doc::{Integer, Key, Node, Table, Value};
use crate::diag::Span;

/// Arrays and inline tables nested deeper than this are left to `toml`.
const MAX_DEPTH: usize = 16;

/// A table with more entries than this (other than the root and the `[a]`
/// tables, which are indexed) is left to `toml`, so that the duplicate check
/// by scanning stays cheap.
const MAX_SCANNED_KEYS: usize = 64;

/// Reads `text`, or returns `None` if it is not in the subset (and so may
/// be invalid TOML, or valid TOML read better by the `toml` crate).
pub(super) fn read(text: &str) -> Option<Table<'_>> {
    Reader { text, pos: 0 }.document()
}

/// How a top-level entry came to be, which decides what may extend it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// `key = value` before any header.
    KeyValue,
    /// `[a]`: `[a.b]` may follow.
    Header,
    /// Only implied by `[a.b]` headers: more of them may follow, but not
    /// `[a]` (valid TOML, but left to `toml`).
    Implied,
}

/// Where `key = value` lines go.
#[derive(Clone, Copy)]
enum Target {
    /// Before any header.
    Root,
    /// Under `[a]`: the index of `a` in the root.
    Top(usize),
    /// Under `[a.b]`: the indices of `a` in the root and of `b` in `a`.
    Sub(usize, usize),
}

/// The top-level tables and an index of their keys (duplicates are errors).
#[derive(Default)]
struct Document<'i> {
    root: Table<'i>,
    /// Per top-level entry: how it came to be, and the index of its
    /// entries by key (tables only).
    tops: Vec<(Origin, HashMap<Cow<'i, str>, usize>)>,
    index: HashMap<Cow<'i, str>, usize>,
}

impl<'i> Document<'i> {
    /// Adds a top-level entry, or `None` if the key is taken.
    fn add_top(&mut self, key: Key<'i>, node: Node<'i>, origin: Origin) -> Option<usize> {
        let i = self.root.len();
        if self.index.insert(key.name.clone(), i).is_some() {
            return None;
        }
        self.root.push((key, node));
        self.tops.push((origin, HashMap::new()));
        Some(i)
    }

    /// The table of the top-level entry `i`.
    fn top_table(&mut self, i: usize) -> Option<&mut Table<'i>> {
        match &mut self.root.get_mut(i)?.1.value {
            Value::Table(table) => Some(table),
            _ => None,
        }
    }

    /// Adds an entry to the top-level table `i`, or `None` if the key is taken.
    fn add_in_top(&mut self, i: usize, key: Key<'i>, node: Node<'i>) -> Option<usize> {
        let len = self.top_table(i)?.len();
        let (_, index) = self.tops.get_mut(i)?;
        if index.insert(key.name.clone(), len).is_some() {
            return None;
        }
        self.top_table(i)?.push((key, node));
        Some(len)
    }

    /// Adds `key = value` where it goes, or `None` if the key is taken.
    fn add(&mut self, target: Target, key: Key<'i>, node: Node<'i>) -> Option<()> {
        match target {
            Target::Root => self.add_top(key, node, Origin::KeyValue).map(drop),
            Target::Top(i) => self.add_in_top(i, key, node).map(drop),
            Target::Sub(i, j) => {
                let Value::Table(table) = &mut self.top_table(i)?.get_mut(j)?.1.value else {
                    return None;
                };
                add_scanned(table, key, node)
            }
        }
    }

    /// Starts the table of a `[first]` or `[first.second]` header.
    fn header(&mut self, first: Key<'i>, second: Option<Key<'i>>, span: Span) -> Option<Target> {
        let table = |span| Node { value: Value::Table(Vec::new()), span };
        let Some(second) = second else {
            let i = self.add_top(first, table(span), Origin::Header)?;
            return Some(Target::Top(i));
        };
        let i = match self.index.get(&first.name) {
            Some(&i) => match self.tops.get(i)?.0 {
                Origin::KeyValue => return None,
                Origin::Header | Origin::Implied => i,
            },
            None => {
                let implied = table(first.span.clone());
                self.add_top(first, implied, Origin::Implied)?
            }
        };
        let j = self.add_in_top(i, second, table(span))?;
        Some(Target::Sub(i, j))
    }
}

/// Adds an entry to a small table, or `None` if the key is taken (or the
/// table is not small).
fn add_scanned<'i>(table: &mut Table<'i>, key: Key<'i>, node: Node<'i>) -> Option<()> {
    if table.len() >= MAX_SCANNED_KEYS || table.iter().any(|(k, _)| k.name == key.name) {
        return None;
    }
    table.push((key, node));
    Some(())
}

struct Reader<'i> {
    text: &'i str,
    pos: usize,
}

impl<'i> Reader<'i> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.text.as_bytes().get(self.pos + ahead).copied()
    }

    fn document(mut self) -> Option<Table<'i>> {
        if self.text.starts_with('\u{feff}') {
            return None;
        }
        let mut doc = Document::default();
        let mut target = Target::Root;
        loop {
            self.skip_spaces();
            match self.peek() {
                None => return Some(doc.root),
                Some(b'\n' | b'\r' | b'#') => self.end_of_line()?,
                Some(b'[') => {
                    target = self.header(&mut doc)?;
                    self.end_of_line()?;
                }
                Some(_) => {
                    let (key, value) = self.key_value(0)?;
                    doc.add(target, key, value)?;
                    self.end_of_line()?;
                }
            }
        }
    }

    /// `[a]` or `[a.b]`, with spaces around the keys.
    fn header(&mut self, doc: &mut Document<'i>) -> Option<Target> {
        let start = self.pos;
        self.pos += 1;
        if self.peek() == Some(b'[') {
            return None;
        }
        self.skip_spaces();
        let first = self.key()?;
        self.skip_spaces();
        let second = if self.peek() == Some(b'.') {
            self.pos += 1;
            self.skip_spaces();
            let second = self.key()?;
            self.skip_spaces();
            Some(second)
        } else {
            None
        };
        if self.peek() != Some(b']') {
            return None;
        }
        self.pos += 1;
        doc.header(first, second, start..self.pos)
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// Spaces, a comment if any, and the end of the line or of the file.
    fn end_of_line(&mut self) -> Option<()> {
        self.skip_spaces();
        if self.peek() == Some(b'#') {
            self.comment()?;
        }
        match self.peek() {
            None => {}
            Some(b'\n') => self.pos += 1,
            Some(b'\r') if self.peek_at(1) == Some(b'\n') => self.pos += 2,
            Some(_) => return None,
        }
        Some(())
    }

    /// A comment, up to the end of its line: tabs and printable characters.
    fn comment(&mut self) -> Option<()> {
        self.pos += 1;
        while let Some(byte) = self.peek() {
            match byte {
                b'\n' | b'\r' => break,
                b'\t' | 0x20..=0x7e | 0x80..=0xff => self.pos += 1,
                _ => return None,
            }
        }
        Some(())
    }

    /// Spaces, line ends and comments, as between the items of an array.
    fn skip_blank(&mut self) -> Option<()> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n') => self.pos += 1,
                Some(b'\r') if self.peek_at(1) == Some(b'\n') => self.pos += 2,
                Some(b'#') => self.comment()?,
                _ => return Some(()),
            }
        }
    }

    /// `key = value`, spaces allowed around the `=`; the value read at
    /// nesting `depth`.
    fn key_value(&mut self, depth: usize) -> Option<(Key<'i>, Node<'i>)> {
        let key = self.key()?;
        self.skip_spaces();
        if self.peek() != Some(b'=') {
            return None;
        }
        self.pos += 1;
        self.skip_spaces();
        Some((key, self.value(depth)?))
    }

    /// A bare or quoted key (one part of a dotted key).
    fn key(&mut self) -> Option<Key<'i>> {
        let start = self.pos;
        let name = match self.peek()? {
            b'"' => self.basic_string()?,
            b'\'' => self.literal_string()?,
            _ => {
                while matches!(
                    self.peek(),
                    Some(b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_')
                ) {
                    self.pos += 1;
                }
                if self.pos == start {
                    return None;
                }
                Cow::Borrowed(self.text.get(start..self.pos)?)
            }
        };
        Some(Key { name, span: start..self.pos })
    }

    fn value(&mut self, depth: usize) -> Option<Node<'i>> {
        let start = self.pos;
        let value = match self.peek()? {
            b'"' => Value::String(self.basic_string()?),
            b'\'' => Value::String(self.literal_string()?),
            b'[' if depth < MAX_DEPTH => Value::Array(self.array(depth + 1)?),
            b'{' if depth < MAX_DEPTH => Value::Table(self.inline_table(depth + 1)?),
            b't' => self.word("true", Value::Boolean(true))?,
            b'f' => self.word("false", Value::Boolean(false))?,
            b'0'..=b'9' | b'+' | b'-' => Value::Integer(self.integer()?),
            _ => return None,
        };
        Some(Node { value, span: start..self.pos })
    }

    /// The end of a bare word: what the TOML lexer stops a word at, less `.`
    /// and `=` (a float, or a key where a value was due).
    fn at_word_end(&self) -> bool {
        matches!(self.peek(), None | Some(b',' | b']' | b'}' | b' ' | b'\t' | b'#' | b'\r' | b'\n'))
    }

    fn word(&mut self, word: &str, value: Value<'i>) -> Option<Value<'i>> {
        if !self.text.as_bytes().get(self.pos..)?.starts_with(word.as_bytes()) {
            return None;
        }
        self.pos += word.len();
        self.at_word_end().then_some(value)
    }

    /// A decimal integer without `_`.
    fn integer(&mut self) -> Option<Integer<'i>> {
        let start = self.pos;
        if matches!(self.peek(), Some(b'+' | b'-')) {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => {
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.pos += 1;
                }
            }
            _ => return None,
        }
        if !self.at_word_end() {
            return None;
        }
        Some(Integer { digits: Cow::Borrowed(self.text.get(start..self.pos)?), radix: 10 })
    }

    /// `"..."` on one line, with the escapes of TOML 1.1.
    fn basic_string(&mut self) -> Option<Cow<'i, str>> {
        let bytes = self.text.as_bytes();
        if bytes.get(self.pos..)?.starts_with(b"\"\"\"") {
            return None;
        }
        self.pos += 1;
        let start = self.pos;
        // Plain characters up to the closing quote need no copy.
        loop {
            match self.peek()? {
                b'"' => {
                    let text = self.text.get(start..self.pos)?;
                    self.pos += 1;
                    return Some(Cow::Borrowed(text));
                }
                b'\\' => break,
                byte if is_string_byte(byte) => self.pos += 1,
                _ => return None,
            }
        }
        let mut text = String::from(self.text.get(start..self.pos)?);
        loop {
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Some(Cow::Owned(text));
                }
                b'\\' => {
                    self.pos += 1;
                    text.push(self.escape()?);
                }
                byte if is_string_byte(byte) => {
                    let from = self.pos;
                    self.pos += 1;
                    while self.peek().is_some_and(|b| b != b'"' && b != b'\\' && is_string_byte(b))
                    {
                        self.pos += 1;
                    }
                    text.push_str(self.text.get(from..self.pos)?);
                }
                _ => return None,
            }
        }
    }

    /// The character of an escape, after its backslash.
    fn escape(&mut self) -> Option<char> {
        let code = self.peek()?;
        self.pos += 1;
        let digits = match code {
            b'b' => return Some('\u{8}'),
            b'e' => return Some('\u{1b}'),
            b'f' => return Some('\u{c}'),
            b'n' => return Some('\n'),
            b'r' => return Some('\r'),
            b't' => return Some('\t'),
            b'\\' => return Some('\\'),
            b'"' => return Some('"'),
            b'x' => 2,
            b'u' => 4,
            b'U' => 8,
            _ => return None,
        };
        let hex = self.text.get(self.pos..self.pos + digits)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += digits;
        char::from_u32(u32::from_str_radix(hex, 16).ok()?)
    }

    /// `'...'` on one line.
    fn literal_string(&mut self) -> Option<Cow<'i, str>> {
        if self.text.as_bytes().get(self.pos..)?.starts_with(b"'''") {
            return None;
        }
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek()? {
                b'\'' => break,
                b'\t' | 0x20..=0x7e | 0x80..=0xff => self.pos += 1,
                _ => return None,
            }
        }
        let text = self.text.get(start..self.pos)?;
        self.pos += 1;
        Some(Cow::Borrowed(text))
    }

    /// `[a, b]`, over lines if need be, with comments and a trailing comma.
    fn array(&mut self, depth: usize) -> Option<Vec<Node<'i>>> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_blank()?;
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Some(items);
            }
            items.push(self.value(depth)?);
            self.skip_blank()?;
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(items);
                }
                _ => return None,
            }
        }
    }

    /// `{ a = 1, b = 2 }` on one line, without a trailing comma.
    fn inline_table(&mut self, depth: usize) -> Option<Table<'i>> {
        self.pos += 1;
        let mut table = Vec::new();
        self.skip_spaces();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Some(table);
        }
        loop {
            self.skip_spaces();
            let (key, value) = self.key_value(depth)?;
            add_scanned(&mut table, key, value)?;
            self.skip_spaces();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(table);
                }
                _ => return None,
            }
        }
    }
}

/// A byte that may stand for itself in a basic string (not `"` or `\`).
fn is_string_byte(byte: u8) -> bool {
    matches!(byte, b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff)
}

#[cfg(test)]
mod tests {
    use toml::de::DeTable;

    use super::*;
    use crate::flow::doc::from_toml;

    /// Plain TOML that uses every part of the subset.
    const PLAIN: &str = "# A flow.\r\njobs = 4 # at most\n\"top\" = 'x'\n\n[resources]\nprinter = 3\n\
        'gpu' = +1\n\n[tasks.a]\ncmd = \"echo \\\"a\\\" \\t\\u00e9\\U0001F600\\x41\\e é\"\n\
        deps = [ ]\ninputs = [\"in/*.txt\", 'b',\n  # note\n  \"c\",\n]\ndir='sub'\n\
        env = { A = \"x\", \"B\" = -0, C = true, D = [1, [2, {}]], E = {} }\n\
        [ tasks . \"b:c\" ]\t# quoted\ncmd=\"\"\ntimeout = 90\nretries = 0\nfor_each = [['x'], \"\"]\n\
        [tasks.'d']\r\ncmd = 'x'\r\ndeps = [\"a\",\"b:c\"]\r\n";

    /// Checks that the quick reader, when it reads `text`, reads it as the
    /// `toml` crate does; returns whether it read it.
    fn agrees(text: &str) -> bool {
        let Some(quick) = read(text) else { return false };
        let (root, errors) = DeTable::parse_recoverable(text);
        assert!(errors.is_empty(), "read invalid TOML {text:?}: {errors:?}");
        assert_eq!(quick, from_toml(root.get_ref()), "read differently: {text:?}");
        true
    }

    #[test]
    fn reads_plain_toml_as_toml_does() {
        assert!(agrees(PLAIN));
        assert!(agrees(""));
        assert!(agrees("[tasks.a]\ncmd = \"x\""));
        assert!(agrees("[tasks]\n[tasks.a]\n"));
        assert!(agrees("[tasks.a]\n[tasks.b]\n[resources]\n"));
        assert!(agrees("[x]\nk = 1\n[x.y]\n"));
    }

    #[test]
    fn leaves_the_rest_to_toml() {
        for text in [
            "a.b = 1\n",
            "[a.b.c]\n",
            "[[tasks]]\n",
            "[tasks.a]\n[tasks]\n",
            "x = 1.5\n",
            "x = 1_000\n",
            "x = 0x1F\n",
            "x = 1979-05-27\n",
            "x = \"\"\"ml\"\"\"\n",
            "x = '''ml'''\n",
            "x = { a = 1, }\n",
            "x = {\n}\n",
            "\u{feff}x = 1\n",
            // Invalid TOML.
            "x = 1\nx = 2\n",
            "[a]\n[a]\n",
            "a = 1\n[a.b]\n",
            "x = { a = 1, a = 2 }\n",
            "x = \"\\q\"\n",
            "x = \"\\uD800\"\n",
            "x = 01\n",
            "x = \"a\n",
            "x = 1 2\n",
            "x = [1 2]\n",
            "x = 1\r",
            "# \u{7f}\n",
            "[a] b = 1\n",
        ] {
            assert!(!agrees(text), "read {text:?}");
        }
    }

    #[test]
    fn never_reads_mangled_toml_differently() {
        let mut read_count = 0;
        for end in 0..=PLAIN.len() {
            if PLAIN.is_char_boundary(end) {
                read_count += usize::from(agrees(&PLAIN[..end]));
            }
        }
        let replacements = [
            "\"", "'", "[", "]", "{", "}", "=", ",", ".", "#", "\n", "\r", " ", "\\", "0", "x",
            "\u{7f}",
        ];
        for (i, _) in PLAIN.char_indices() {
            for replacement in replacements {
                let mut text = PLAIN.to_string();
                let len = text[i..].chars().next().map_or(0, char::len_utf8);
                text.replace_range(i..i + len, replacement);
                read_count += usize::from(agrees(&text));
                let mut text = PLAIN.to_string();
                text.insert_str(i, replacement);
                read_count += usize::from(agrees(&text));
            }
        }
        // Most of these are still plain TOML: the comparison is not vacuous.
        assert!(read_count > 2_000, "read only {read_count}");
    }
}
