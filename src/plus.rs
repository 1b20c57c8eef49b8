//! GNU parallel's `--plus` replacement strings that edit a value: the
//! directory and extension parts (`{+/}`, `{+.}`, `{..}`, `{/...}`...), and
//! the ones after bash's parameter expansion (`{:2:3}`, `{:-default}`,
//! `{#prefix}`, `{%suffix}`, `{/from/to}`, `{^a}`, `{,,A}`...).
//!
//! GNU parallel reads the text in the bash-like ones as a Perl regular
//! expression; maestro takes plain text only, and refuses text with a
//! character that a regular expression would read otherwise, rather than
//! do something else.

use std::borrow::Cow;

/// One `--plus` edit of a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// `{+/}`: the directory part (before the last `/`), empty without one.
    DirPart,
    /// `{+.}` `{+..}` `{+...}`: the last N extensions, empty without them.
    Extensions(usize),
    /// `{..}` `{...}`: without the last N extensions (unchanged without them).
    NoExtensions(usize),
    /// `{/..}` `{/...}`: the basename without its last N extensions.
    BasenameNoExtensions(usize),
    /// `{:N}` and `{:N:M}`: from byte N, at most M bytes.
    Substring(usize, Option<usize>),
    /// `{:-TEXT}`: TEXT when the value is empty.
    Default(Box<[u8]>),
    /// `{#TEXT}` `{##TEXT}`: without TEXT at the start.
    NoPrefix(Box<[u8]>),
    /// `{%TEXT}` `{%%TEXT}`: without TEXT at the end.
    NoSuffix(Box<[u8]>),
    /// `{/A/B}` (the first A), `{//A/B}` (every A), `{/#A/B}` (A at the
    /// start), `{/%A/B}` (A at the end): A replaced by B.
    Replace {
        /// A.
        from: Box<[u8]>,
        /// B.
        to: Box<[u8]>,
        /// Which As.
        which: Which,
    },
    /// `{^A}` `{^^A}` (upper case), `{,A}` `{,,A}` (lower case): A at the
    /// start, or every A, in that case.
    Case {
        /// A.
        what: Box<[u8]>,
        /// Upper case, else lower.
        upper: bool,
        /// Every A, else one at the start.
        every: bool,
    },
}

/// `text` of the string `{inner}` as bytes, unless a regular expression
/// would read it otherwise than as plain text.
fn plain(inner: &str, text: &str) -> Result<Box<[u8]>, String> {
    match text.chars().find(|c| r"\.^$|?*+()[]{}".contains(*c)) {
        Some(c) => Err(format!(
            "'{{{inner}}}' uses '{c}', which GNU parallel reads as part of a regular expression; \
             maestro takes plain text there"
        )),
        None => Ok(text.as_bytes().into()),
    }
}

/// `text`, unless it is empty.
fn nonempty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

/// Which occurrences [`Edit::Replace`] replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The first.
    First,
    /// Every one.
    Every,
    /// One at the start.
    Start,
    /// One at the end.
    End,
}

/// What the text inside a pair of braces means under `--plus`: an edit,
/// `Err` with what a regular expression would read differently, or `None`
/// when it is no `--plus` string.
pub fn parse(inner: &str) -> Option<Result<Edit, String>> {
    let edit = match inner {
        "+/" => Edit::DirPart,
        "+." => Edit::Extensions(1),
        "+.." => Edit::Extensions(2),
        "+..." => Edit::Extensions(3),
        ".." => Edit::NoExtensions(2),
        "..." => Edit::NoExtensions(3),
        "/.." => Edit::BasenameNoExtensions(2),
        "/..." => Edit::BasenameNoExtensions(3),
        _ if unsupported(inner) => {
            let why = format!(
                "'{{{inner}}}' (one of GNU parallel's --plus strings) is not supported by \
                 maestro map"
            );
            return Some(Err(why));
        }
        _ => return bash_like(inner),
    };
    Some(Ok(edit))
}

/// GNU parallel's `--plus` strings that maestro does not take: the ones
/// that skip jobs after a position (`{2choose_k}`, `{1uniq}`), the
/// zero-padded job slot, and the remote hosts'.
fn unsupported(inner: &str) -> bool {
    let named = inner.trim_start_matches(|c: char| c.is_ascii_digit());
    inner == "0%"
        || (named != inner && matches!(named, "choose_k" | "uniq"))
        || matches!(inner, "host" | "sshlogin" | "hgrp" | "agrp")
}

/// The bash-like forms (see [`parse`]).
fn bash_like(inner: &str) -> Option<Result<Edit, String>> {
    let plain = |text: &str| plain(inner, text);
    if let Some(default) = inner.strip_prefix(":-") {
        return Some(Ok(Edit::Default(nonempty(default)?.as_bytes().into())));
    }
    if let Some(numbers) = inner.strip_prefix(':') {
        let (from, length) = match numbers.split_once(':') {
            Some((from, length)) => (from, Some(length.parse().ok()?)),
            None => (numbers, None),
        };
        if from.is_empty() || !from.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        return Some(Ok(Edit::Substring(from.parse().ok()?, length)));
    }
    let (first, rest) = inner.split_at(inner.chars().next()?.len_utf8());
    let doubled = |rest: &str| rest.strip_prefix(first).unwrap_or(rest).to_string();
    Some(match first {
        "#" => plain(nonempty(&doubled(rest))?).map(Edit::NoPrefix),
        "%" => plain(nonempty(&doubled(rest))?).map(Edit::NoSuffix),
        "^" | "," => {
            let every = rest.starts_with(first);
            let upper = first == "^";
            plain(nonempty(&doubled(rest))?).map(|what| Edit::Case { what, upper, every })
        }
        "/" => {
            let (which, rest) = match rest.as_bytes().first() {
                Some(b'/') => (Which::Every, &rest[1..]),
                Some(b'#') => (Which::Start, &rest[1..]),
                Some(b'%') => (Which::End, &rest[1..]),
                _ => (Which::First, rest),
            };
            let (from, to) = rest.split_once('/')?;
            let (from, to) = (plain(nonempty(from)?), plain(to));
            from.and_then(|from| to.map(|to| Edit::Replace { from, to, which }))
        }
        _ => return None,
    })
}

impl Edit {
    /// `value`, edited.
    pub fn apply<'a>(&self, value: &'a [u8]) -> Cow<'a, [u8]> {
        match self {
            Edit::DirPart => Cow::Borrowed(
                value.iter().rposition(|&b| b == b'/').map_or(&[][..], |at| &value[..at]),
            ),
            Edit::Extensions(n) => Cow::Borrowed(match extensions_at(value, *n) {
                Some(dot) => &value[dot + 1..],
                None => &[],
            }),
            Edit::NoExtensions(n) => {
                Cow::Borrowed(extensions_at(value, *n).map_or(value, |dot| &value[..dot]))
            }
            Edit::BasenameNoExtensions(n) => {
                let base =
                    value.iter().rposition(|&b| b == b'/').map_or(value, |at| &value[at + 1..]);
                Cow::Borrowed(extensions_at(base, *n).map_or(base, |dot| &base[..dot]))
            }
            Edit::Substring(from, length) => {
                let from = (*from).min(value.len());
                let end = length.map_or(value.len(), |length| (from + length).min(value.len()));
                Cow::Borrowed(&value[from..end])
            }
            Edit::Default(default) if value.is_empty() => Cow::Owned(default.to_vec()),
            Edit::Default(_) => Cow::Borrowed(value),
            Edit::NoPrefix(prefix) => Cow::Borrowed(value.strip_prefix(&**prefix).unwrap_or(value)),
            Edit::NoSuffix(suffix) => Cow::Borrowed(value.strip_suffix(&**suffix).unwrap_or(value)),
            Edit::Replace { from, to, which } => replaced(value, from, to, *which),
            Edit::Case { what, upper, every } => {
                let cased: Vec<u8> =
                    if *upper { what.to_ascii_uppercase() } else { what.to_ascii_lowercase() };
                let which = if *every { Which::Every } else { Which::Start };
                replaced(value, what, &cased, which)
            }
        }
    }
}

/// Where the last `n` extensions of `value` start (the dot before them), as
/// GNU parallel finds them: for one, after the last `.` wherever it is;
/// for more, `n` dot-separated parts of the last path component.
fn extensions_at(value: &[u8], n: usize) -> Option<usize> {
    let mut dots = value.iter().enumerate().rev().filter(|&(_, &b)| b == b'.').map(|(at, _)| at);
    let dot = dots.nth(n - 1)?;
    (n == 1 || !value[dot..].contains(&b'/')).then_some(dot)
}

/// `value` with `from` replaced by `to` where `which` says.
fn replaced<'a>(value: &'a [u8], from: &[u8], to: &[u8], which: Which) -> Cow<'a, [u8]> {
    let at = |start: usize| {
        value[start..].windows(from.len()).position(|w| w == from).map(|i| start + i)
    };
    let splice = |at: usize| [&value[..at], to, &value[at + from.len()..]].concat();
    match which {
        Which::First => at(0).map_or(Cow::Borrowed(value), |at| Cow::Owned(splice(at))),
        Which::Start if value.starts_with(from) => Cow::Owned(splice(0)),
        Which::End if value.ends_with(from) => Cow::Owned(splice(value.len() - from.len())),
        Which::Start | Which::End => Cow::Borrowed(value),
        Which::Every => {
            let mut out = Vec::with_capacity(value.len());
            let mut start = 0;
            while let Some(found) = at(start) {
                out.extend_from_slice(&value[start..found]);
                out.extend_from_slice(to);
                start = found + from.len();
            }
            out.extend_from_slice(&value[start..]);
            Cow::Owned(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edited(inner: &str, value: &str) -> String {
        let edit = parse(inner).expect("a --plus string").expect("taken");
        String::from_utf8(edit.apply(value.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn extensions_are_counted_in_the_last_component_but_one_anywhere() {
        assert_eq!(edited("+.", "x.y/z"), "y/z");
        assert_eq!(edited("+..", "x.y.z/w.v"), "");
        assert_eq!(edited("..", "d/f.a.b"), "d/f");
        assert_eq!(edited("/...", "d/f.a.b.c"), "f");
        assert_eq!(edited("+/", "name"), "");
    }

    #[test]
    fn bash_like_edits_take_plain_text() {
        assert_eq!(edited(":1:2", "abcd"), "bc");
        assert_eq!(edited(":-x", ""), "x");
        assert_eq!(edited("//b/", "abcb"), "ac");
        assert_eq!(edited(",,B", "ABAB"), "AbAb");
        let refused = parse("#a*").unwrap().unwrap_err();
        assert!(refused.starts_with("'{#a*}' uses '*'"), "{refused}");
        assert_eq!(parse("##"), None);
        for unsupported in ["2choose_k", "1uniq", "0%", "host"] {
            assert!(parse(unsupported).unwrap().is_err(), "{unsupported}");
        }
        assert_eq!(parse("/a"), None);
        assert_eq!(parse(":x"), None);
    }
}
