//! The parsed TOML document that the checks in `parse.rs` walk: tables keep
//! their entries in file order, and every key and value keeps its span.
//!
//! It is built from the document of the `toml` crate, keeping what the
//! checks need: entries in order, unescaped text, and spans.

use std::borrow::Cow;

use toml::de::{DeTable, DeValue};

use crate::diag::Span;

/// A table's entries, in file order.
pub(super) type Table<'i> = Vec<(Key<'i>, Node<'i>)>;

/// A key as written: its text (unquoted, unescaped) and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Key<'i> {
    /// The key's text.
    pub name: Cow<'i, str>,
    /// Where the key is, with its quotes if quoted.
    pub span: Span,
}

/// A value and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Node<'i> {
    /// The value.
    pub value: Value<'i>,
    /// Where it is: a string's span includes its quotes, a table's is its
    /// `[header]` (or, for a table only implied by a longer header, the key
    /// naming it in that header).
    pub span: Span,
}

/// A TOML value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value<'i> {
    /// A string, unescaped.
    String(Cow<'i, str>),
    /// An integer.
    Integer(Integer<'i>),
    /// A float as written, less underscores.
    Float(Cow<'i, str>),
    /// A boolean.
    Boolean(bool),
    /// A date, time or both (their value is never needed).
    Datetime,
    /// An array.
    Array(Vec<Node<'i>>),
    /// A table, inline or not.
    Table(Table<'i>),
}

/// An integer as written, less underscores and any radix prefix (TOML does
/// not limit integers to 64 bits here, so it may not even fit an `i128`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Integer<'i> {
    /// The digits, with the sign if any.
    pub digits: Cow<'i, str>,
    /// 2, 8, 10 or 16.
    pub radix: u32,
}

impl Integer<'_> {
    /// The value, or `None` if it does not fit an `i128`.
    pub(super) fn value(&self) -> Option<i128> {
        i128::from_str_radix(&self.digits, self.radix).ok()
    }

    /// The integer as written, less underscores.
    pub(super) fn text(&self) -> String {
        let prefix = match self.radix {
            2 => "0b",
            8 => "0o",
            16 => "0x",
            _ => "",
        };
        format!("{prefix}{}", self.digits)
    }
}

impl Value<'_> {
    /// The type with its article: "a string", "an integer".
    pub(super) fn a(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime => "a datetime",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

/// The tree of a document parsed by the `toml` crate (which sorts entries by
/// key: they are put back in file order here).
pub(super) fn from_toml<'t>(table: &'t DeTable<'_>) -> Table<'t> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    entries
        .into_iter()
        .map(|(key, value)| {
            let key = Key { name: Cow::Borrowed(key.get_ref().as_ref()), span: key.span() };
            (key, node_from_toml(value))
        })
        .collect()
}

fn node_from_toml<'t>(node: &'t toml::Spanned<DeValue<'_>>) -> Node<'t> {
    let value = match node.get_ref() {
        DeValue::String(s) => Value::String(Cow::Borrowed(s.as_ref())),
        DeValue::Integer(int) => {
            Value::Integer(Integer { digits: Cow::Borrowed(int.as_str()), radix: int.radix() })
        }
        DeValue::Float(float) => Value::Float(Cow::Borrowed(float.as_str())),
        DeValue::Boolean(b) => Value::Boolean(*b),
        DeValue::Datetime(_) => Value::Datetime,
        DeValue::Array(array) => Value::Array(array.iter().map(node_from_toml).collect()),
        DeValue::Table(table) => Value::Table(from_toml(table)),
    };
    Node { value, span: node.span() }
}

/// The tree of one section of a document parsed alone, its spans moved by
/// `offset` (where the section starts in the whole text), taking the
/// parsed document's text rather than borrowing it.
pub(super) fn from_toml_owned<'i>(table: DeTable<'i>, offset: usize) -> Table<'i> {
    let mut entries: Vec<_> = table.into_iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    entries
        .into_iter()
        .map(|(key, value)| {
            let span = shifted(key.span(), offset);
            (Key { name: key.into_inner(), span }, node_from_toml_owned(value, offset))
        })
        .collect()
}

fn node_from_toml_owned<'i>(node: toml::Spanned<DeValue<'i>>, offset: usize) -> Node<'i> {
    let span = shifted(node.span(), offset);
    let value = match node.into_inner() {
        DeValue::String(s) => Value::String(s),
        DeValue::Integer(int) => Value::Integer(Integer {
            digits: Cow::Owned(int.as_str().to_string()),
            radix: int.radix(),
        }),
        DeValue::Float(float) => Value::Float(Cow::Owned(float.as_str().to_string())),
        DeValue::Boolean(b) => Value::Boolean(b),
        DeValue::Datetime(_) => Value::Datetime,
        DeValue::Array(array) => {
            Value::Array(array.into_iter().map(|n| node_from_toml_owned(n, offset)).collect())
        }
        DeValue::Table(table) => Value::Table(from_toml_owned(table, offset)),
    };
    Node { value, span }
}

fn shifted(span: Span, offset: usize) -> Span {
    span.start + offset..span.end + offset
}
