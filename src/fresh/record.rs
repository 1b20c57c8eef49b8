//! What a success leaves for the next run to compare against, and its text
//! form in the store: one `field\tvalue...` line per item, values escaped,
//! so that a record stays readable with `sqlite3` and easy to extend.

use std::borrow::Cow;

/// An instance's last success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its cache key.
    pub key: u128,
    /// Its command (slot-independent form).
    pub cmd: String,
    /// Its env, sorted.
    pub env: Vec<(String, String)>,
    /// Its working directory.
    pub dir: String,
    /// Input paths (relative to `dir`) and their content hashes (none: missing).
    pub inputs: Vec<(String, Option<u128>)>,
    /// Dep names and their keys.
    pub deps: Vec<(String, u128)>,
    /// Declared outputs and their content hashes as the task left them.
    pub outputs: Vec<(String, Option<u128>)>,
    /// Its `MAESTRO_OUTPUT` pairs.
    pub results: Vec<(String, String)>,
}

impl Record {
    /// The text form.
    pub fn encode(&self) -> String {
        let mut out =
            format!("key\t{:032x}\ncmd\t{}\ndir\t{}\n", self.key, esc(&self.cmd), esc(&self.dir));
        let mut line = |fields: &[&str]| {
            out.push_str(&fields.iter().map(|f| esc(f)).collect::<Vec<_>>().join("\t"));
            out.push('\n');
        };
        for (k, v) in &self.env {
            line(&["env", k, v]);
        }
        for (path, hash) in &self.inputs {
            line(&["input", path, &hex_or_dash(*hash)]);
        }
        for (name, key) in &self.deps {
            line(&["dep", name, &format!("{key:032x}")]);
        }
        for (path, hash) in &self.outputs {
            line(&["output", path, &hex_or_dash(*hash)]);
        }
        for (k, v) in &self.results {
            line(&["result", k, v]);
        }
        out
    }

    /// Reads the text form back; `None` if it is not one (a record from a
    /// future format is then treated as absent, and the task runs).
    pub fn decode(text: &str) -> Option<Record> {
        let mut record = Record {
            key: 0,
            cmd: String::new(),
            env: Vec::new(),
            dir: String::new(),
            inputs: Vec::new(),
            deps: Vec::new(),
            outputs: Vec::new(),
            results: Vec::new(),
        };
        let mut has_key = false;
        for line in text.lines() {
            let fields: Vec<Cow<str>> = line.split('\t').map(unesc).collect::<Option<_>>()?;
            match fields.as_slice() {
                [f, key] if f == "key" => {
                    record.key = u128::from_str_radix(key, 16).ok()?;
                    has_key = true;
                }
                [f, cmd] if f == "cmd" => record.cmd = cmd.to_string(),
                [f, dir] if f == "dir" => record.dir = dir.to_string(),
                [f, k, v] if f == "env" => record.env.push((k.to_string(), v.to_string())),
                [f, p, h] if f == "input" => record.inputs.push((p.to_string(), parse_hash(h)?)),
                [f, n, k] if f == "dep" => {
                    record.deps.push((n.to_string(), u128::from_str_radix(k, 16).ok()?));
                }
                [f, p, h] if f == "output" => record.outputs.push((p.to_string(), parse_hash(h)?)),
                [f, k, v] if f == "result" => record.results.push((k.to_string(), v.to_string())),
                _ => return None,
            }
        }
        has_key.then_some(record)
    }
}

fn hex_or_dash(hash: Option<u128>) -> String {
    hash.map_or_else(|| "-".to_string(), |h| format!("{h:032x}"))
}

fn parse_hash(text: &str) -> Option<Option<u128>> {
    if text == "-" { Some(None) } else { u128::from_str_radix(text, 16).ok().map(Some) }
}

/// `text` as one field of a tab-separated line: `\\`, `\t`, `\n` and `\r`
/// escaped.
pub(crate) fn esc(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n").replace('\r', "\\r")
}

/// The field [`esc`] made of a text, or `None` for a bad escape.
pub(crate) fn unesc(text: &str) -> Option<Cow<'_, str>> {
    if !text.contains('\\') {
        return Some(Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next()? {
            '\\' => '\\',
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            _ => return None,
        });
    }
    Some(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_survives_its_text_form() {
        let record = Record {
            key: 0x1234,
            cmd: "echo 'a\tb'\nnext \\ line".into(),
            env: vec![("A".into(), "1\t2".into())],
            dir: "/tmp/x y".into(),
            inputs: vec![("data/a.csv".into(), Some(7)), ("gone".into(), None)],
            deps: vec![("prep:x".into(), 9)],
            outputs: vec![("out/a".into(), Some(u128::MAX))],
            results: vec![("n".into(), "42".into())],
        };
        assert_eq!(Record::decode(&record.encode()), Some(record));
    }

    #[test]
    fn text_that_is_not_a_record_decodes_to_none() {
        assert_eq!(Record::decode(""), None);
        assert_eq!(Record::decode("key\tnothex\n"), None);
        assert_eq!(Record::decode("key\t01\nwhat\tever\n"), None);
        assert_eq!(Record::decode("key\t01\ncmd\tbad\\escape\n"), None);
    }
}
