//! Diagnostics that point into a user's file: `path:line:col`, the source
//! line, a caret under the offending span, and an optional hint.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::PathBuf;

/// A file the user wrote, kept whole so that errors can quote it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user named it (or as found), used in messages.
    pub path: PathBuf,
    /// The file's full text.
    pub text: String,
}

/// Byte range inside a [`SourceFile`].
pub type Span = Range<usize>;

/// One problem found in a user's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong, as a lowercase-led fragment that fits after "error: ".
    pub message: String,
    /// Where it is, when known.
    pub span: Option<Span>,
    /// What to do about it, when we can tell ("did you mean 'fetch'?").
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `span` with no hint.
    pub fn new(message: impl Into<String>, span: Span) -> Self {
        Diagnostic { message: message.into(), span: Some(span), hint: None }
    }

    /// A diagnostic about the file as a whole.
    pub fn whole_file(message: impl Into<String>) -> Self {
        Diagnostic { message: message.into(), span: None, hint: None }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Renders as `path:line:col: error: message`, the line, a caret, the hint.
    pub fn render(&self, file: &SourceFile) -> String {
        let mut out = String::new();
        let path = file.path.display();
        let Some(span) = &self.span else {
            let _ = writeln!(out, "{path}: error: {}", visible(&self.message));
            if let Some(hint) = &self.hint {
                let _ = writeln!(out, "  = hint: {}", visible(hint));
            }
            return out;
        };
        let pos = Position::of(&file.text, span.start);
        let message = visible(&self.message);
        let _ = writeln!(out, "{path}:{}:{}: error: {message}", pos.line, pos.column);
        let line_text = file.text[pos.line_start..].lines().next().unwrap_or("");
        let gutter = pos.line.to_string().len();
        // The caret covers the span, clipped to the first line of it.
        let span_end_in_line = span.end.min(pos.line_start + line_text.len());
        let width =
            text_width(&file.text[span.start.min(span_end_in_line)..span_end_in_line]).max(1);
        let (shown, column, width) = clip_line(line_text, pos.column - 1, width);
        let _ = writeln!(out, "{:gutter$} |", "");
        let _ = writeln!(out, "{} | {}", pos.line, visible(&shown.replace('\t', " ")));
        let _ = writeln!(out, "{:gutter$} | {}{}", "", " ".repeat(column), "^".repeat(width));
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "{:gutter$} = hint: {}", "", visible(hint));
        }
        out
    }
}

/// `text` safe to write to a terminal: a control character (an escape
/// sequence's, a NUL) from the user's file shows as one replacement
/// character; line breaks stay.
fn visible(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\n' { char::REPLACEMENT_CHARACTER } else { c })
        .collect()
}

/// Characters of a source line shown at the most: a longer one (a
/// generated file's, or an attack's) is shown around the problem.
const SHOWN_LINE: usize = 120;

/// `line` as shown, cut to [`SHOWN_LINE`] characters around the caret at
/// `column` (from 0, `width` long) with `…` where cut; the caret's column
/// and width in what is shown.
fn clip_line(line: &str, column: usize, width: usize) -> (String, usize, usize) {
    let length = line.chars().count();
    if length <= SHOWN_LINE {
        return (line.to_string(), column, width);
    }
    let start = column.saturating_sub(SHOWN_LINE / 3).min(length - SHOWN_LINE);
    let end = start + SHOWN_LINE;
    let mut shown = String::new();
    if start > 0 {
        shown.push('…');
    }
    shown.extend(line.chars().skip(start).take(SHOWN_LINE));
    if end < length {
        shown.push('…');
    }
    // The caret may stand past the line's last character (at its end, or
    // at a `\r` that `lines` took off).
    let width = (column + width).min(end).saturating_sub(column).max(1);
    (shown, column - start + usize::from(start > 0), width)
}

/// A 1-based line and column (in characters) of a byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line number, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
    /// Byte offset where the line starts.
    pub line_start: usize,
}

impl Position {
    /// The position of byte `offset` in `text` (clamped to its end).
    pub fn of(text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position {
            line: before.matches('\n').count() + 1,
            column: text_width(&text[line_start..offset]) + 1,
            line_start,
        }
    }
}

fn text_width(s: &str) -> usize {
    s.chars().count()
}

/// The candidate closest to `word` by edit distance, if close enough to be a
/// plausible typo ("did you mean ...?"). A swap of two neighbours counts as
/// one edit (optimal string alignment): `dpes` is one typo away from `deps`.
/// Ties go to the alphabetically first, so the hint does not depend on the
/// order candidates come in.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> SourceFile {
        SourceFile { path: PathBuf::from("maestro.toml"), text: text.to_string() }
    }

    #[test]
    fn a_long_line_is_shown_around_the_problem() {
        let line = format!("{}X{}", "a".repeat(500), "b".repeat(500));
        let (shown, column, width) = clip_line(&line, 500, 3);
        assert_eq!(shown.chars().count(), SHOWN_LINE + 2);
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        assert_eq!(shown.chars().nth(column), Some('X'));
        assert_eq!(width, 3);
        assert_eq!(clip_line("short", 2, 1), ("short".to_string(), 2, 1));
        assert_eq!(clip_line(&"c".repeat(300), 302, 1).1, SHOWN_LINE + 3);
        let (shown, column, _) = clip_line(&"c".repeat(300), 299, 1);
        assert!(!shown.ends_with('…') && column == SHOWN_LINE, "{shown} {column}");
    }

    #[test]
    fn renders_path_line_column_and_caret() {
        let f = file("[tasks.a]\ncmd = \"\"\n");
        let d = Diagnostic::new("empty command", 16..18).with_hint("give the task a command");
        assert_eq!(
            d.render(&f),
            "maestro.toml:2:7: error: empty command\n  |\n2 | cmd = \"\"\n  |       ^^\n  = hint: give the task a command\n"
        );
    }

    #[test]
    fn whole_file_diagnostic_has_no_position() {
        let d = Diagnostic::whole_file("not valid UTF-8");
        assert_eq!(d.render(&file("")), "maestro.toml: error: not valid UTF-8\n");
    }

    #[test]
    fn position_counts_characters_not_bytes() {
        let p = Position::of("é = 1\nab", 8);
        assert_eq!((p.line, p.column), (2, 2));
        assert_eq!(Position::of("ab", 99).column, 3);
    }

    #[test]
    fn nearest_finds_plausible_typos_only() {
        assert_eq!(nearest("fetchh", ["fetch", "build"]), Some("fetch"));
        assert_eq!(nearest("cmdd", ["cmd", "deps"]), Some("cmd"));
        assert_eq!(nearest("zzzzzz", ["fetch", "build"]), None);
        assert_eq!(nearest("dpes", ["deps", "cmd"]), Some("deps"));
        assert_eq!(nearest("c", ["b", "a"]), Some("a"), "ties go to the first alphabetically");
        assert_eq!(nearest("c", ["a", "b"]), Some("a"));
    }
}
