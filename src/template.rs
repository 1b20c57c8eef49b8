//! GNU parallel's replacement strings: `{}`, `{.}`, `{/}`, `{#}`, `{%}`, `{1}` and the rest,
//! expanded with each value quoted for the shell (see [`crate::shell`]).
//!
//! Flow `for_each` tasks and `maestro map` both expand templates here, so a template means the
//! same in both and the same as in GNU parallel (checked against parallel 20221122; the few
//! deliberate differences are noted where they are made).

use std::mem;

use crate::plus::{self, Edit};
use crate::shell::{Context, QuoteTracker, insert_quoted};

/// What a replacement string does to an argument before inserting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transform {
    /// `{}`: as is.
    Whole,
    /// `{.}`: [`strip_extension`].
    NoExtension,
    /// `{/}`: [`basename`].
    Basename,
    /// `{//}`: [`dirname`].
    Dirname,
    /// `{/.}`: [`basename`], then [`strip_extension`].
    BasenameNoExtension,
}

impl Transform {
    /// The transform named by what follows the position (or nothing) inside the braces.
    fn from_suffix(suffix: &str) -> Option<Transform> {
        Some(match suffix {
            "" => Transform::Whole,
            "." => Transform::NoExtension,
            "/" => Transform::Basename,
            "//" => Transform::Dirname,
            "/." => Transform::BasenameNoExtension,
            _ => return None,
        })
    }

    fn apply(self, arg: &[u8]) -> &[u8] {
        match self {
            Transform::Whole => arg,
            Transform::NoExtension => strip_extension(arg),
            Transform::Basename => basename(arg),
            Transform::Dirname => dirname(arg),
            Transform::BasenameNoExtension => strip_extension(basename(arg)),
        }
    }
}

/// Where a Perl expression starts in a template's text, once `{= =}` and
/// `--rpl` strings are found (GNU parallel marks them with `\257<`);
/// [`PERL_END`] marks where it ends.
pub const PERL_START: char = '\u{1}';
/// See [`PERL_START`].
pub const PERL_END: char = '\u{2}';

/// What runs a template's Perl expressions for a job (GNU parallel's
/// `{= =}`: see `map::perl`).
pub trait Evaluator {
    /// `code` with `$_` set to `value`: `$_` after it, and whether it is
    /// to stay unquoted (`uq()`); `None` when it failed or skipped the job
    /// (the evaluator remembers which).
    fn evaluate(&self, code: &str, value: &[u8]) -> Option<(Vec<u8>, bool)>;
}

/// `{= ... =}`'s code as marked: a leading number is its position, and so
/// is a leading column name (`--header :`) followed by a blank.
fn perl_part(marked: &str, columns: &[&str]) -> Part {
    let named = columns.iter().enumerate().find_map(|(index, name)| {
        let rest = marked.strip_prefix(name)?;
        rest.starts_with([' ', '\t']).then(|| (index as i64 + 1, rest))
    });
    if let Some((position, code)) = named {
        return Part::Perl { position: Some(position), code: code.trim_start_matches(' ').into() };
    }
    let digits = marked.strip_prefix('-').unwrap_or(marked);
    let length = digits.bytes().take_while(u8::is_ascii_digit).count();
    let sign = marked.len() - digits.len();
    let position = (length > 0).then(|| marked[..sign + length].parse::<i64>().ok()).flatten();
    let code = if position.is_some() { &marked[sign + length..] } else { marked };
    Part::Perl { position, code: code.trim_start_matches(' ').into() }
}

/// The parts of `text`: its marked Perl expressions, and what `plain`
/// makes of the text around them.
fn with_perl(text: &str, columns: &[&str], plain: &mut dyn FnMut(&str) -> Vec<Part>) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(PERL_START) {
        let after = &rest[start + PERL_START.len_utf8()..];
        let Some(length) = after.find(PERL_END) else { break };
        parts.extend(plain(&rest[..start]));
        parts.push(perl_part(&after[..length], columns));
        rest = &after[length + PERL_END.len_utf8()..];
    }
    parts.extend(plain(rest));
    parts
}

/// Which jobs a `--plus` filter string lets run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// `{choose_k}`: the values in strictly increasing order (as text), so
    /// that each set of values runs once.
    ChooseK,
    /// `{uniq}`: no value twice.
    Uniq,
}

impl Filter {
    fn passes(self, args: &[&[u8]]) -> bool {
        match self {
            Filter::ChooseK => args.windows(2).all(|pair| pair[0] < pair[1]),
            Filter::Uniq => {
                let mut sorted = args.to_vec();
                sorted.sort_unstable();
                sorted.windows(2).all(|pair| pair[0] != pair[1])
            }
        }
    }
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// `{}` and its variants: every argument, separated by single spaces.
    All(Transform),
    /// `{N}` and its variants, N from 1.
    Nth(usize, Transform),
    /// `{-N}` and its variants: the N-th argument counting from the last (1).
    NthLast(usize, Transform),
    /// A `--plus` string that edits every argument (`{..}`, `{:2:3}`...).
    Edited(Edit),
    /// A `--plus` string maestro does not take, and why (the template is
    /// refused: see [`Template::refused`]).
    Refused(Box<str>),
    /// `--plus`'s `{choose_k}` and `{uniq}`: every argument, as `{}`; and
    /// the job is skipped unless they pass.
    Filter(Filter),
    /// GNU parallel's `{= perl expression =}` (and `--rpl` strings, made
    /// into one): each argument as the code leaves `$_` (see
    /// [`Evaluator`]); with a position, that argument only.
    Perl {
        /// `{=N ... =}`: the argument (from the end if negative).
        position: Option<i64>,
        /// The Perl code.
        code: Box<str>,
    },
    /// `{#}`.
    Seq,
    /// `{%}`.
    Slot,
    /// `{name}`: a value a flow names (a variable, `{cpus}`, another task's
    /// outputs): every one of its values, separated by single spaces.
    Named(Box<str>),
}

/// Which replacement strings a flow's text holds beside GNU parallel's.
pub struct Names<'a> {
    /// Whether GNU parallel's (`{}`, `{.}`, `{#}`...) are replaced: only in
    /// `for_each` tasks, which have items.
    pub items: bool,
    /// Whether the text inside a pair of braces names a value.
    pub known: &'a dyn Fn(&str) -> bool,
}

/// A parsed template: literal text and GNU parallel replacement strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    /// For each part, the quotes the command line has open where it is.
    contexts: Vec<Context>,
    /// GNU parallel's `-X`: a word holding `{}` (or a variant) is repeated
    /// for each argument.
    repeat_words: bool,
}

impl Template {
    /// Parses `{}` `{.}` `{/}` `{//}` `{/.}` `{#}` `{%}` and the positional `{N}` `{N.}` `{N/}`
    /// `{N//}` `{N/.}` (N >= 1, leading zeros allowed as parallel does) and `{-N}`... (the N-th
    /// argument from the end, as documented by parallel).
    ///
    /// Anything else in braces is literal text, so awk's `{print $1}`, `${HOME}`, `{a,b}`,
    /// bash's `{1..3}`, `{0}` and `{ }` pass through untouched; `{{}}` is `{`, `{}`, `}`.
    #[must_use]
    pub fn parse(text: &str) -> Template {
        Template::parse_with(text, &Names { items: true, known: &|_| false })
    }

    /// Parses a flow's text: GNU parallel's replacement strings when
    /// `names.items`, and `{name}` for every name `names.known` accepts.
    /// Other braces stay literal text, as in [`Template::parse`].
    #[must_use]
    pub fn parse_with(text: &str, names: &Names<'_>) -> Template {
        let replacement = |inner: &str| {
            let positional = names.items.then(|| parse_replacement(inner)).flatten();
            positional.or_else(|| (names.known)(inner).then(|| Part::Named(inner.into())))
        };
        Template::from_parts(with_perl(text, &[], &mut |plain| parts_of(plain, &replacement)))
    }

    /// Parses a `maestro map` template: GNU parallel's replacement strings,
    /// some under other names (`-I ,,` for `{}`, `--extensionreplace` for
    /// `{.}`...): `renamed` holds (name, the standard string it stands for).
    /// A renamed standard string is plain text then, and with `{}` so are
    /// the positional ones, as in GNU parallel.
    ///
    /// With `plus`, GNU parallel's `--plus` strings too (see [`crate::plus`];
    /// `{##}` is [`Template::expand_with`]'s name `##`: the number of jobs).
    /// `columns` names the values in order (`--header :`): `{name}` is the
    /// value at that place, `{name.}`, `{name/}`... its parts.
    #[must_use]
    pub fn parse_map(
        text: &str,
        renamed: &[(&str, &str)],
        plus: bool,
        columns: &[&str],
    ) -> Template {
        let renamed: Vec<(&str, &str)> =
            renamed.iter().copied().filter(|(name, _)| !name.is_empty()).collect();
        let whole_renamed = renamed.iter().any(|(_, standard)| *standard == "{}");
        let column = |inner: &str| {
            columns.iter().enumerate().find_map(|(index, name)| {
                let transform = Transform::from_suffix(inner.strip_prefix(name)?)?;
                Some(Part::Nth(index + 1, transform))
            })
        };
        let replacement = |inner: &str| {
            let Some(part) = parse_replacement(inner).or_else(|| column(inner)) else {
                return match (plus, inner) {
                    (false, _) => None,
                    (true, "##" | "0#") => Some(Part::Named(inner.into())),
                    (true, "choose_k") => Some(Part::Filter(Filter::ChooseK)),
                    (true, "uniq") => Some(Part::Filter(Filter::Uniq)),
                    (true, "slot") => Some(Part::Slot),
                    (true, _) => plus::parse(inner).map(|edit| match edit {
                        Ok(edit) => Part::Edited(edit),
                        Err(why) => Part::Refused(why.into()),
                    }),
                };
            };
            let spelled = format!("{{{inner}}}");
            // With `{}` renamed, `{1}` is gone too: GNU parallel derives it.
            let derived = whole_renamed && matches!(part, Part::Nth(..) | Part::NthLast(..));
            let renamed_away = renamed.iter().any(|(_, standard)| *standard == spelled);
            (!renamed_away && !derived).then_some(part)
        };
        let mut plain = |text: &str| {
            let mut parts = Vec::new();
            let mut rest = text;
            loop {
                // The first name in what is left, the longest where two start there.
                let first = renamed
                    .iter()
                    .filter_map(|&(name, standard)| Some((rest.find(name)?, name.len(), standard)))
                    .min_by_key(|&(at, len, _)| (at, std::cmp::Reverse(len)));
                let Some((at, len, standard)) = first else {
                    parts.extend(parts_of(rest, &replacement));
                    break;
                };
                parts.extend(parts_of(&rest[..at], &replacement));
                let inner = &standard[1..standard.len() - 1];
                parts.extend(parse_replacement(inner));
                rest = &rest[at + len..];
            }
            parts
        };
        Template::from_parts(with_perl(text, columns, &mut plain))
    }

    /// Its Perl expressions' code, in order.
    pub fn perl_codes(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Perl { code, .. } => Some(&**code),
            _ => None,
        })
    }

    /// Whether it holds `--plus`'s `{##}`: the number of jobs, which must be
    /// known before the first starts.
    #[must_use]
    pub fn uses_total(&self) -> bool {
        self.names().any(|name| name == "##" || name == "0#")
            || self.perl_codes().any(|code| code.contains("total_jobs"))
    }

    /// Whether `--plus`'s `{choose_k}` or `{uniq}` skips the job of `args`
    /// (GNU parallel still counts it: its `{#}` is not given to another).
    #[must_use]
    pub fn skips(&self, args: &[&[u8]]) -> bool {
        self.parts.iter().any(|part| matches!(part, Part::Filter(filter) if !filter.passes(args)))
    }

    /// Why the template cannot be used as written, if it cannot: a `--plus`
    /// string maestro does not take.
    #[must_use]
    pub fn refused(&self) -> Option<&str> {
        self.parts.iter().find_map(|part| match part {
            Part::Refused(why) => Some(&**why),
            _ => None,
        })
    }

    /// A template of `parts`, with the quotes open where each is.
    fn from_parts(parts: Vec<Part>) -> Template {
        let mut tracker = QuoteTracker::default();
        let contexts = parts
            .iter()
            .map(|part| {
                let context = tracker.context();
                match part {
                    Part::Literal(text) => tracker.feed(text.as_bytes()),
                    _ => tracker.feed_value(),
                }
                context
            })
            .collect();
        Template { parts, contexts, repeat_words: false }
    }

    /// GNU parallel's `-X` (context replace): each word (text between
    /// whitespace) that holds `{}` or one of its variants is repeated for
    /// each argument, with that argument (`pic{}.jpg` -> `pica.jpg
    /// picb.jpg`); `{#}` and `{%}` stay the job's. A word with a
    /// positional string is expanded once, as without `-X`.
    #[must_use]
    pub fn repeating_words(self) -> Template {
        Template { repeat_words: true, ..self }
    }

    /// Whether any replacement string occurs, `{#}` and `{%}` included: GNU parallel appends
    /// the input (quoted, space-separated) to a command that has none.
    #[must_use]
    pub fn has_replacements(&self) -> bool {
        self.parts.iter().any(|part| !matches!(part, Part::Literal(_)))
    }

    /// Whether a replacement string is (part of) the command's first word:
    /// `{}`, `{2} x`, `my_{}`, not `V={} cmd` nor ` {}`. The input is then
    /// (part of) the command itself, and GNU parallel quotes no value.
    #[must_use]
    pub fn is_in_first_word(&self) -> bool {
        for part in &self.parts {
            match part {
                Part::Literal(text) if text.contains([' ', '\t', '\n', '=']) => return false,
                Part::Literal(_) => {}
                _ => return true,
            }
        }
        false
    }

    /// Largest positional index used (`{3.}` -> 3), 0 if none. `{-N}` does not count: it
    /// says nothing about how many columns the input has.
    #[must_use]
    pub fn max_position(&self) -> usize {
        let positions = self.parts.iter().map(|part| match part {
            Part::Nth(n, _) => *n,
            _ => 0,
        });
        positions.max().unwrap_or(0)
    }

    /// Whether the template uses `{%}`, whose value (the job slot) is only known at spawn time.
    #[must_use]
    pub fn uses_slot(&self) -> bool {
        self.parts.contains(&Part::Slot)
    }

    /// The text, when it holds no replacement string at all.
    #[must_use]
    pub fn literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Literal(text)] => Some(text),
            _ => None,
        }
    }

    /// The names its `{name}` strings hold, in order, repeats included.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Named(name) => Some(&**name),
            _ => None,
        })
    }

    /// Expands the template for one input whose columns are `args`, with sequence number `seq`
    /// (`{#}`, from 1) and job slot `slot` (`{%}`, from 1).
    ///
    /// `{}` is every argument joined by single spaces (each quoted separately when quoting).
    /// With `quote` each substituted value is quoted for the shell (for command lines): as GNU
    /// parallel does where no quote is open, and so that it stays a value whatever quotes
    /// surround the replacement string (`'{}'`, `"{}"`, `"$(cat '{}')"`), which parallel does
    /// not; without, it is inserted raw (for file paths such as outputs). Literal text is never
    /// quoted. A positional string beyond the number of arguments expands to nothing at all,
    /// not even `''`, as in parallel (`{3}` with two inputs; `x{2}y` -> `xy`); parallel wraps
    /// an out-of-range `{-N}` around, which is a quirk we do not copy: it is empty too.
    #[must_use]
    pub fn expand(&self, args: &[&[u8]], seq: u64, slot: u32, quote: bool) -> Vec<u8> {
        self.expand_with(args, seq, slot, quote, &|_| Vec::new())
    }

    /// [`Template::expand`], with `named` giving the values of each `{name}`.
    #[must_use]
    pub fn expand_with(
        &self,
        args: &[&[u8]],
        seq: u64,
        slot: u32,
        quote: bool,
        named: &dyn Fn(&str) -> Vec<String>,
    ) -> Vec<u8> {
        self.expand_with_perl(args, seq, slot, quote, named, None)
    }

    /// [`Template::expand_with`], its Perl expressions run by `perl` (as
    /// `{}` without one).
    #[must_use]
    pub fn expand_with_perl(
        &self,
        args: &[&[u8]],
        seq: u64,
        slot: u32,
        quote: bool,
        named: &dyn Fn(&str) -> Vec<String>,
        perl: Option<&dyn Evaluator>,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let expansion = Expansion { args, seq, slot, quote, named, perl };
        if self.repeat_words {
            self.expand_words(&expansion, &mut out);
        } else {
            expand_parts(&self.parts, &self.contexts, &expansion, &mut out);
        }
        out
    }

    /// `-X`: the template word by word, each word holding `{}` (or a
    /// variant) once per argument.
    fn expand_words(&self, expansion: &Expansion<'_>, out: &mut Vec<u8>) {
        let mut word: Vec<Part> = Vec::new();
        let mut contexts: Vec<Context> = Vec::new();
        let flush = |word: &mut Vec<Part>, contexts: &mut Vec<Context>, out: &mut Vec<u8>| {
            let per_value = |p: &Part| {
                matches!(p, Part::All(_) | Part::Edited(_) | Part::Filter(_))
                    || matches!(p, Part::Perl { position: None, .. })
            };
            let repeated = word.iter().any(per_value)
                && !word.iter().any(|p| matches!(p, Part::Nth(..) | Part::NthLast(..)));
            if repeated {
                for (index, arg) in expansion.args.iter().enumerate() {
                    if index > 0 {
                        out.push(b' ');
                    }
                    let one = Expansion { args: std::slice::from_ref(arg), ..*expansion };
                    expand_parts(word, contexts, &one, out);
                }
            } else {
                expand_parts(word, contexts, expansion, out);
            }
            word.clear();
            contexts.clear();
        };
        for (part, &context) in self.parts.iter().zip(&self.contexts) {
            let Part::Literal(text) = part else {
                word.push(part.clone());
                contexts.push(context);
                continue;
            };
            let mut rest = text.as_str();
            while let Some(space) = rest.find(char::is_whitespace) {
                if space > 0 {
                    word.push(Part::Literal(rest[..space].to_string()));
                    contexts.push(context);
                }
                flush(&mut word, &mut contexts, out);
                let spaces = rest[space..].find(|c: char| !c.is_whitespace());
                let end = spaces.map_or(rest.len(), |n| space + n);
                out.extend_from_slice(&rest.as_bytes()[space..end]);
                rest = &rest[end..];
            }
            if !rest.is_empty() {
                word.push(Part::Literal(rest.to_string()));
                contexts.push(context);
            }
        }
        flush(&mut word, &mut contexts, out);
    }
}

/// What a template is expanded with.
#[derive(Clone, Copy)]
struct Expansion<'a> {
    args: &'a [&'a [u8]],
    seq: u64,
    slot: u32,
    quote: bool,
    named: &'a dyn Fn(&str) -> Vec<String>,
    perl: Option<&'a dyn Evaluator>,
}

/// Appends `parts` (with the quotes open at each, `contexts`), expanded.
fn expand_parts(
    parts: &[Part],
    contexts: &[Context],
    expansion: &Expansion<'_>,
    out: &mut Vec<u8>,
) {
    let Expansion { args, seq, slot, quote, named, perl } = *expansion;
    for (part, &context) in parts.iter().zip(contexts) {
        let insert = |out: &mut Vec<u8>, value: &[u8]| {
            if quote { insert_quoted(out, value, context) } else { out.extend_from_slice(value) }
        };
        match *part {
            Part::Literal(ref text) => out.extend_from_slice(text.as_bytes()),
            // Never expanded: the template is refused first.
            Part::Refused(_) => {}
            Part::Edited(ref edit) => {
                for (index, arg) in args.iter().enumerate() {
                    if index > 0 {
                        out.push(b' ');
                    }
                    insert(out, &edit.apply(arg));
                }
            }
            Part::All(transform) => {
                for (index, arg) in args.iter().enumerate() {
                    if index > 0 {
                        out.push(b' ');
                    }
                    insert(out, transform.apply(arg));
                }
            }
            Part::Perl { position, ref code } => {
                let chosen: Vec<&[u8]> = match position {
                    None if args.is_empty() => vec![&[][..]],
                    None => args.to_vec(),
                    Some(n) => {
                        let index = if n > 0 { n - 1 } else { args.len() as i64 + n };
                        usize::try_from(index)
                            .ok()
                            .and_then(|i| args.get(i))
                            .into_iter()
                            .copied()
                            .collect()
                    }
                };
                for (index, arg) in chosen.into_iter().enumerate() {
                    if index > 0 {
                        out.push(b' ');
                    }
                    match perl.map(|perl| perl.evaluate(code, arg)) {
                        Some(Some((value, true))) => out.extend_from_slice(&value),
                        Some(Some((value, false))) => insert(out, &value),
                        Some(None) => {}
                        None => insert(out, arg),
                    }
                }
            }
            Part::Filter(_) => {
                for (index, arg) in args.iter().enumerate() {
                    if index > 0 {
                        out.push(b' ');
                    }
                    insert(out, arg);
                }
            }
            Part::Nth(n, transform) => {
                if let Some(arg) = args.get(n - 1) {
                    insert(out, transform.apply(arg));
                }
            }
            Part::NthLast(n, transform) => {
                if let Some(index) = args.len().checked_sub(n) {
                    insert(out, transform.apply(args[index]));
                }
            }
            // Decimal digits never need quoting.
            Part::Seq => out.extend_from_slice(seq.to_string().as_bytes()),
            Part::Slot => out.extend_from_slice(slot.to_string().as_bytes()),
            Part::Named(ref name) => {
                for (index, value) in named(name).iter().enumerate() {
                    if index > 0 {
                        out.push(b' ');
                    }
                    insert(out, value.as_bytes());
                }
            }
        }
    }
}

/// The parts of `text`: `{...}` where `replacement` makes a part of what is
/// inside the braces, literal text everywhere else.
fn parts_of(text: &str, replacement: &dyn Fn(&str) -> Option<Part>) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        // Stopping at the next brace of either kind keeps parsing linear and makes `{{}`
        // a literal `{` followed by `{}`.
        let close = after.find(['{', '}']).filter(|&close| after.as_bytes()[close] == b'}');
        let Some((part, close)) =
            close.and_then(|close| Some((replacement(&after[..close])?, close)))
        else {
            literal.push_str(&rest[..=open]);
            rest = after;
            continue;
        };
        literal.push_str(&rest[..open]);
        if !literal.is_empty() {
            parts.push(Part::Literal(mem::take(&mut literal)));
        }
        parts.push(part);
        rest = &after[close + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    parts
}

/// The replacement string inside a pair of braces, if `inner` names one.
fn parse_replacement(inner: &str) -> Option<Part> {
    match inner {
        "#" => return Some(Part::Seq),
        "%" => return Some(Part::Slot),
        _ => {}
    }
    if let Some(transform) = Transform::from_suffix(inner) {
        return Some(Part::All(transform));
    }
    let (from_end, rest) = match inner.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, inner),
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    // Too many digits to be an index: not a replacement string, so literal text.
    let n: usize = rest[..digits].parse().ok()?;
    let transform = Transform::from_suffix(&rest[digits..])?;
    match (n, from_end) {
        // parallel turns `{0}` into the whole input, unquoted, and `{-0}` into nothing; nobody
        // means either on purpose. (It also reads `{1 }` as `{1}`; we keep that literal.)
        (0, _) => None,
        (n, false) => Some(Part::Nth(n, transform)),
        (n, true) => Some(Part::NthLast(n, transform)),
    }
}

/// `{.}`: removes the extension, that is the last `.` and what follows it, but only when that
/// `.` is in the last path component (parallel's `s:\.[^/.]*$::`).
///
/// So `a/b.c.d` -> `a/b.c`, `sub.dir/bar` is unchanged, and a leading dot counts as an
/// extension: `.bashrc` -> empty, `a/.hidden` -> `a/`, `..` -> `.`, `a.` -> `a`.
#[must_use]
pub fn strip_extension(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'.' || b == b'/') {
        Some(dot) if path[dot] == b'.' => &path[..dot],
        _ => path,
    }
}

/// `{/}`: everything after the last `/` (parallel's `s:.*/::`), the whole path if it has none.
///
/// Unlike basename(1), trailing slashes are not skipped: `a/b/` and `/` give the empty string.
/// parallel's regex does not cross newlines, so for `a\nb/c` it gives `a\nc`; we give `c`,
/// the name a file system would see.
#[must_use]
pub fn basename(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(slash) => &path[slash + 1..],
        None => path,
    }
}

/// `{//}`: the directory part, as Perl's `File::Basename::dirname` (which parallel uses), i.e.
/// as dirname(1): trailing slashes are ignored, repeated slashes collapse at the end, a name
/// without a slash (or empty) gives `.`, and the root stays `/`.
///
/// `a/b.c` -> `a`, `a/b/` -> `a`, `dir/` -> `.`, `//x` -> `/`, `a//b` -> `a`, `/` -> `/`.
#[must_use]
pub fn dirname(path: &[u8]) -> &[u8] {
    let Some(slash) = path.iter().rposition(|&b| b == b'/') else {
        return b".";
    };
    let dir = trim_trailing_slashes(&path[..=slash]);
    if slash + 1 < path.len() {
        return dir;
    }
    // The path ended in a slash, so its last component is the one before: drop it too.
    match dir.iter().rposition(|&b| b == b'/') {
        Some(slash) => trim_trailing_slashes(&dir[..=slash]),
        None => b".",
    }
}

/// Removes trailing slashes but never the first byte, so `//` -> `/`.
fn trim_trailing_slashes(path: &[u8]) -> &[u8] {
    let kept = path.iter().rposition(|&b| b != b'/').map_or(1, |last| last + 1);
    &path[..kept.min(path.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::split_direct;
    use crate::shell::tests::{nasty_values, through_shell};

    /// Runs `command` with /bin/sh in a fresh directory; returns its stdout
    /// and whether the directory is still empty (no value ran as code).
    fn in_fresh_dir(command: &[u8]) -> (Vec<u8>, bool) {
        use std::os::unix::ffi::OsStrExt;
        let dir = std::env::temp_dir().join(format!(
            "maestro-quote-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let output = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(std::ffi::OsStr::from_bytes(command))
            .current_dir(&dir)
            .env("HOME", "/nonexistent-home")
            .output()
            .unwrap();
        let untouched = std::fs::read_dir(&dir).unwrap().count() == 0;
        std::fs::remove_dir_all(&dir).unwrap();
        (output.stdout, untouched)
    }

    #[test]
    fn repeated_words_hold_one_argument_each() {
        let template = Template::parse("echo pre-{}-post\t{.}  {#}:{2} x").repeating_words();
        let line = template.expand(&[b"a.1", b"b c"], 7, 1, true);
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "echo pre-a.1-post pre-'b c'-post\ta 'b c'  7:'b c' x"
        );
    }

    #[test]
    fn a_value_stays_a_value_whatever_quotes_surround_it() {
        // Each template prints the value back between brackets; in a
        // command substitution, less its trailing newlines (as sh does).
        let templates = [
            (r#"printf '[%s]' {}"#, false),
            (r#"printf '[%s]' '{}'"#, false),
            (r#"printf '[%s]' "{}""#, false),
            (r#"printf '[%s]' x\{}"#, false),
            (r#"printf '[%s]' "$(printf %s {})""#, true),
            (r#"printf '[%s]' "$(printf %s '{}')""#, true),
            (r#"printf '[%s]' "$(printf %s "{}")""#, true),
            (r#"printf '[%s]' "`printf %s "{}"`""#, true),
            (r#"printf '[%s]' `printf %s '{}'`x"#, true),
            (r#"printf '[%s]' "$( (printf %s {}) )""#, true),
        ];
        let values = nasty_values();
        assert!(values.len() >= 40);
        for (text, substituted) in templates {
            let template = Template::parse(text);
            // One shell per template: each value's command, then a NUL.
            let mut command = Vec::new();
            for value in &values {
                command.extend(template.expand(&[value], 1, 1, true));
                command.extend_from_slice(b"; printf '\\0'\n");
            }
            let (stdout, untouched) = in_fresh_dir(&command);
            assert!(untouched, "{text} ran a value as code");
            let printed: Vec<&[u8]> = stdout.split(|&b| b == 0).collect();
            assert_eq!(printed.len(), values.len() + 1, "{text}");
            if text.ends_with("`x") {
                // Unquoted, the substitution's words are split: only that
                // nothing ran counts here.
                continue;
            }
            for (value, stdout) in values.iter().zip(printed) {
                let mut want = value.clone();
                if substituted {
                    while want.last() == Some(&b'\n') {
                        want.pop();
                    }
                }
                if text.contains("x\\{}") {
                    want.insert(0, b'x');
                }
                let mut expected = b"[".to_vec();
                expected.extend(&want);
                expected.push(b']');
                assert_eq!(
                    String::from_utf8_lossy(stdout),
                    String::from_utf8_lossy(&expected),
                    "{text} with {:?}",
                    String::from_utf8_lossy(value)
                );
            }
        }
    }

    fn expand(template: &str, args: &[&str], quote: bool) -> String {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        String::from_utf8(Template::parse(template).expand(&args, 7, 3, quote)).unwrap()
    }

    fn s(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    // Outputs of `parallel --will-cite printf %s {.} ::: INPUT` and likewise for
    // {/} {//} {/.}, parallel 20221122: (input, {.}, {/}, {//}, {/.}).
    const PARALLEL_PATHS: &[(&str, &str, &str, &str, &str)] = &[
        ("sub.dir/bar", "sub.dir/bar", "bar", "sub.dir", "bar"),
        ("a/b.c.d", "a/b.c", "b.c.d", "a", "b.c"),
        (".bashrc", "", ".bashrc", ".", ""),
        ("dir/", "dir/", "", ".", ""),
        ("a/b/", "a/b/", "", "a", ""),
        ("noslash", "noslash", "noslash", ".", "noslash"),
        ("foo.txt", "foo", "foo.txt", ".", "foo"),
        ("/", "/", "", "/", ""),
        ("/foo", "/foo", "foo", "/", "foo"),
        ("/foo.txt", "/foo", "foo.txt", "/", "foo"),
        ("a/.hidden", "a/", ".hidden", "a", ""),
        ("..", ".", "..", ".", "."),
        (".", "", ".", ".", ""),
        ("a/..", "a/.", "..", "a", "."),
        ("a.", "a", "a.", ".", "a"),
        ("a/b.", "a/b", "b.", "a", "b"),
        ("//x", "//x", "x", "/", "x"),
        ("a//b", "a//b", "b", "a", "b"),
        ("/a/b.c", "/a/b", "b.c", "/a", "b"),
        ("./x.y", "./x", "x.y", ".", "x"),
        ("x.tar.gz", "x.tar", "x.tar.gz", ".", "x.tar"),
        ("", "", "", ".", ""),
        ("a/b/.c", "a/b/", ".c", "a/b", ""),
        ("a b.c", "a b", "a b.c", ".", "a b"),
        (".a.b", ".a", ".a.b", ".", ".a"),
        ("dir.d/", "dir.d/", "", ".", ""),
        ("a.b/", "a.b/", "", ".", ""),
        ("..b", ".", "..b", ".", "."),
        // Checked with `parallel -0` (values with newlines).
        ("a/b\nc", "a/b\nc", "b\nc", "a", "b\nc"),
        ("a.b\nc", "a", "a.b\nc", ".", "a"),
        ("x/a.b\n", "x/a", "a.b\n", "x", "a"),
    ];

    #[test]
    fn path_helpers_match_parallel() {
        for &(input, no_ext, base, dir, base_no_ext) in PARALLEL_PATHS {
            let input = input.as_bytes();
            assert_eq!(s(strip_extension(input)), no_ext, "{{.}} of {input:?}");
            assert_eq!(s(basename(input)), base, "{{/}} of {input:?}");
            assert_eq!(s(dirname(input)), dir, "{{//}} of {input:?}");
            assert_eq!(s(strip_extension(basename(input))), base_no_ext, "{{/.}} of {input:?}");
        }
    }

    #[test]
    fn replacement_strings_match_parallel_table() {
        for &(input, no_ext, base, dir, base_no_ext) in PARALLEL_PATHS {
            let got = expand("{}|{.}|{/}|{//}|{/.}", &[input], false);
            assert_eq!(got, [input, no_ext, base, dir, base_no_ext].join("|"));
            let got = expand("{1}|{1.}|{1/}|{1//}|{1/.}", &[input], false);
            assert_eq!(got, [input, no_ext, base, dir, base_no_ext].join("|"));
            let got = expand("{-1}|{-1.}|{-1/}|{-1//}|{-1/.}", &[input], false);
            assert_eq!(got, [input, no_ext, base, dir, base_no_ext].join("|"));
        }
    }

    #[test]
    fn dirname_edge_cases() {
        // Perl's File::Basename::dirname, which parallel uses for {//}.
        for (input, want) in [
            ("a//b//", "a"),
            ("//", "/"),
            ("///", "/"),
            ("///a", "/"),
            ("/x/", "/"),
            ("x//", "."),
            ("a/b//c", "a/b"),
            ("a/b/c/", "a/b"),
            ("./", "."),
            ("../", "."),
            ("../x", ".."),
        ] {
            assert_eq!(s(dirname(input.as_bytes())), want, "dirname of {input:?}");
        }
    }

    #[test]
    fn basename_deviates_from_parallel_only_across_newlines() {
        // parallel: "a\nc" (its regex stops at the newline); the file's name is "c".
        assert_eq!(basename(b"a\nb/c"), b"c");
    }

    #[test]
    fn path_helpers_take_invalid_utf8() {
        assert_eq!(strip_extension(b"d\xff/f\xfe.g\xfd"), b"d\xff/f\xfe");
        assert_eq!(basename(b"d\xff/f\xfe.g"), b"f\xfe.g");
        assert_eq!(dirname(b"d\xff/f\xfe.g"), b"d\xff");
    }

    #[test]
    fn parses_replacement_strings() {
        for text in ["{}", "{.}", "{/}", "{//}", "{/.}", "{#}", "{%}", "{1}", "{2.}", "{3/}"] {
            assert!(Template::parse(text).has_replacements(), "{text}");
        }
        for text in ["{4//}", "{5/.}", "{01}", "{-1}", "{-2/.}", "x{}y", "{}{}"] {
            assert!(Template::parse(text).has_replacements(), "{text}");
        }
    }

    #[test]
    fn other_braces_are_literal() {
        for text in [
            "",
            "echo hi",
            "awk '{print $1}'",
            "echo ${HOME}",
            "echo {a,b}",
            "echo {1..3}",
            "{0}",
            "{-0}",
            "{ }",
            "{1 }",
            "{+1}",
            "{..}",
            "{1..}",
            "{/1}",
            "{.1}",
            "{///}",
            "{1x}",
            "{-}",
            "{-x}",
            "{99999999999999999999999}",
            "{",
            "}",
            "}{",
            "{#",
            "{{",
            "f() { :; }",
            "é{ü}ß",
        ] {
            let template = Template::parse(text);
            assert!(!template.has_replacements(), "{text}");
            assert_eq!(expand(text, &["arg"], true), text);
        }
    }

    #[test]
    fn nested_braces_match_parallel() {
        // parallel --dry-run echo {{}} ::: a -> echo {a}; {}} -> a}.
        assert_eq!(expand("{{}}", &["a"], true), "{a}");
        assert_eq!(expand("{}}", &["a"], true), "a}");
        assert_eq!(expand("{{.}}", &["a.b"], true), "{a}");
        assert_eq!(expand("{{1}", &["a"], true), "{a");
        assert_eq!(expand("${}", &["a"], true), "$a");
    }

    #[test]
    fn max_position_and_slot() {
        assert_eq!(Template::parse("echo {}").max_position(), 0);
        assert_eq!(Template::parse("{2} {3.} {1}").max_position(), 3);
        assert_eq!(Template::parse("{-4} {1}").max_position(), 1);
        assert_eq!(Template::parse("{007}").max_position(), 7);
        assert!(Template::parse("x{%}y").uses_slot());
        assert!(!Template::parse("x{#}y {} %").uses_slot());
        assert!(Template::parse("{%}").has_replacements());
        assert!(Template::parse("{#}").has_replacements());
    }

    #[test]
    fn expands_sequence_and_slot() {
        assert_eq!(expand("job {#} on {%}: {}", &["x"], true), "job 7 on 3: x");
        let template = Template::parse("{#}/{%}");
        assert_eq!(
            template.expand(&[], u64::MAX, u32::MAX, true),
            b"18446744073709551615/4294967295"
        );
    }

    #[test]
    fn renamed_replacement_strings_stand_for_theirs_which_become_text() {
        let renamed = |template: &str, names: &[(&str, &str)]| {
            let args: &[&[u8]] = &[b"d/a.b", b"x"];
            let bytes = Template::parse_map(template, names, false, &[]).expand(args, 7, 3, false);
            String::from_utf8(bytes).unwrap()
        };
        assert_eq!(
            renamed("e ,, {} {1} {.} ,,,", &[(",,", "{}")]),
            "e d/a.b x {} {1} d/a x d/a.b x,"
        );
        assert_eq!(renamed("e ,, , {.}", &[(",", "{}"), (",,", "{.}")]), "e d/a x d/a.b x {.}");
        assert_eq!(renamed("S=# T=%", &[("#", "{#}"), ("%", "{%}")]), "S=7 T=3");
        assert_eq!(renamed("{} ", &[("", "{}")]), "d/a.b x ");
    }

    #[test]
    fn all_args_are_joined_and_quoted_separately() {
        // parallel --dry-run echo {} ::: 'a b' ::: "c'd" ::: '$x'
        assert_eq!(expand("echo {}", &["a b", "c'd", "$x"], true), r#"echo 'a b' 'c'"'"'d' '$x'"#);
        assert_eq!(expand("echo {}", &["a b", "c'd", "$x"], false), "echo a b c'd $x");
        // parallel --dry-run echo {.} {/} {//} {/.} ::: a.b/x.y ::: c.d
        assert_eq!(
            expand("echo {.} {/} {//} {/.}", &["a.b/x.y", "c.d"], true),
            "echo a.b/x c x.y c.d a.b . x c"
        );
        // parallel --dry-run echo {} {} ::: '' ::: ''
        assert_eq!(expand("echo {} {}", &["", ""], true), "echo '' '' '' ''");
        assert_eq!(expand("echo x{}y", &[], true), "echo xy");
    }

    #[test]
    fn positional_strings() {
        // parallel --dry-run echo {1.} {2/} {1//} {2/.} ::: d/a.x ::: e/f/b.y
        assert_eq!(expand("{1.} {2/} {1//} {2/.}", &["d/a.x", "e/f/b.y"], true), "d/a b.y d b");
        // parallel --dry-run echo {1}{2} ::: a ::: b
        assert_eq!(expand("{1}{2}", &["a", "b"], true), "ab");
        // parallel --dry-run echo {01} {001.} ::: a.b ::: b
        assert_eq!(expand("{01} {001.}", &["a.b", "b"], true), "a.b a");
        // parallel --dry-run echo {-2} ::: a ::: b ::: c ; {-1.} etc ::: a ::: b/c.d
        assert_eq!(expand("{-2}", &["a", "b", "c"], true), "b");
        assert_eq!(
            expand("x{-1.}y x{-1/}y x{-1//}y x{-1/.}y", &["a", "b/c.d"], true),
            "xb/cy xc.dy xby xcy"
        );
        // parallel --dry-run echo {1} ::: '' ::: ''
        assert_eq!(expand("echo {1}", &["", ""], true), "echo ''");
    }

    #[test]
    fn out_of_range_positions_expand_to_nothing() {
        // parallel --dry-run 'printf "[%s]\n" {3} {1} {2}' ::: a ::: b
        assert_eq!(
            expand(r#"printf "[%s]\n" {3} {1} {2}"#, &["a", "b"], true),
            r#"printf "[%s]\n"  a b"#
        );
        // parallel --dry-run -N2 echo x{2}y ::: a b c (the second job)
        assert_eq!(expand("x{2}y", &["c"], true), "xy");
        assert_eq!(expand("x{2.}y{2//}", &["c"], false), "xy");
        assert_eq!(expand("x{-3}y", &["a", "b"], true), "xy");
        assert_eq!(expand("x{1}y", &[], true), "xy");
    }

    #[test]
    fn quoting_applies_to_values_only() {
        assert_eq!(
            expand("cat '{}' > \"{.}.out\"", &["my file.txt"], false),
            "cat 'my file.txt' > \"my file.out\""
        );
        // Unlike parallel, which quotes it as if no quote were open (so that
        // `"{}"` runs `$(...)` in a value): the value goes in as the quotes
        // around it need.
        assert_eq!(expand("echo \"{}\"", &["a b"], true), "echo \"a b\"");
        assert_eq!(expand("echo \"{}\"", &["$(x)"], true), "echo \"\\$(x)\"");
        assert_eq!(expand("echo '{}'", &["it's"], true), "echo '''it'\"'\"'s'''");
        assert_eq!(expand("{/} {}", &["$(x)/y z"], true), "'y z' '$(x)/y z'");
    }

    #[test]
    fn expansion_is_bytes_safe() {
        let template = Template::parse("cp {} {.}.é");
        assert_eq!(template.expand(&[b"\xff.\xfe"], 1, 1, false), b"cp \xff.\xfe \xff.\xc3\xa9");
        assert_eq!(template.expand(&[b"\xff.\xfe"], 1, 1, true), b"cp '\xff.\xfe' '\xff'.\xc3\xa9");
    }

    #[test]
    fn expanded_templates_survive_the_shell() {
        let values = nasty_values();
        let template = Template::parse("printf '%s\\0' {} {1} {-1} {/} {.}");
        let mut command = Vec::new();
        for value in &values {
            if !command.is_empty() {
                command.extend_from_slice(b"; ");
            }
            command.extend(template.expand(&[value], 1, 1, true));
        }
        let got = through_shell("/bin/sh", &command).expect("/bin/sh runs");
        let want: Vec<Vec<u8>> = values
            .iter()
            .flat_map(|v| {
                let v = v.as_slice();
                [v, v, v, basename(v), strip_extension(v)].map(<[u8]>::to_vec)
            })
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn expanded_safe_values_stay_direct() {
        let line = Template::parse("convert {} -resize 50% out/{/.}.png").expand(
            &[b"in/a.jpg"],
            1,
            1,
            true,
        );
        assert_eq!(
            split_direct(&line).unwrap(),
            [&b"convert"[..], b"in/a.jpg", b"-resize", b"50%", b"out/a.png"]
        );
        let line = Template::parse("convert {}").expand(&[b"in/a b.jpg"], 1, 1, true);
        assert_eq!(split_direct(&line), None);
    }
}
