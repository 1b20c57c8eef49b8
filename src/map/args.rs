//! The part of `maestro map`'s command line clap cannot parse: the command
//! template and the input sources after it (`:::`, `:::+`, `::::`, `::::+`),
//! and the option values with GNU parallel's own little languages (`-j 50%`,
//! `--timeout 200%`; `--halt` has its own module).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::time::Duration;

use super::perl::Perl;
use crate::exec::Urgency;
use crate::runner::TermStep;
use crate::template::{PERL_END, PERL_START, Template};

/// Where one input source's values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// `::: a b c`: the words themselves.
    Args(Vec<Vec<u8>>),
    /// `:::: FILE` or `-a FILE`: the file's records (`-` is stdin).
    File(PathBuf),
    /// No source given: stdin's records.
    Stdin,
}

/// One input source and how it combines with the one before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Its values.
    pub kind: SourceKind,
    /// `:::+` / `::::+`: paired with the previous source (the shorter ends
    /// both) instead of combined with every value of it.
    pub linked: bool,
}

/// The template and the sources, as written after the options.
#[derive(Debug, Clone)]
pub struct CommandLine {
    /// The command template; `None` when each input is itself a command.
    pub template: Option<Template>,
    /// The sources in order (at least one).
    pub sources: Vec<Source>,
}

/// How the words after `map`'s options are read: GNU parallel's markers
/// (`--arg-sep`, `--arg-file-sep` rename them) and `-q`.
#[derive(Debug, Clone)]
pub struct Syntax {
    /// What starts a source of values: `:::`.
    pub arg_sep: Vec<u8>,
    /// What starts a source of files: `::::`.
    pub arg_file_sep: Vec<u8>,
    /// `-q`: each word of the template is quoted for the shell, so that it
    /// reaches the program as written.
    pub quote: bool,
    /// Replacement strings under other names (`-I ,,`): (name, the
    /// standard string it stands for).
    pub renamed: Vec<(String, &'static str)>,
    /// `--plus`: GNU parallel's further replacement strings.
    pub plus: bool,
    /// `--header :`: the names of the values, in order (`{name}`).
    pub columns: Vec<Vec<u8>>,
    /// `--rpl`: replacement strings of the user's own, (tag, Perl code).
    pub rpl: Vec<(String, String)>,
    /// `--parens`: what opens and closes a Perl expression, for `{=`
    /// and `=}`.
    pub parens: Option<(String, String)>,
    /// The run's perl, which finds `--rpl` strings and `--parens` (GNU
    /// parallel's rewriting, in Perl).
    pub perl: Option<std::rc::Rc<Perl>>,
}

impl Default for Syntax {
    fn default() -> Syntax {
        Syntax {
            arg_sep: b":::".to_vec(),
            arg_file_sep: b"::::".to_vec(),
            quote: false,
            renamed: Vec::new(),
            plus: false,
            columns: Vec::new(),
            rpl: Vec::new(),
            parens: None,
            perl: None,
        }
    }
}

/// Splits the words after `map`'s options into the template (words up to
/// the first source marker, joined by spaces as GNU parallel does) and the
/// sources. `arg_files` are `-a` files, sources before any marker's.
pub fn split_command_line(
    words: Vec<OsString>,
    arg_files: &[PathBuf],
) -> Result<CommandLine, String> {
    Syntax::default().split(words, arg_files)
}

impl Syntax {
    /// [`split_command_line`] with these markers and quoting.
    pub fn split(
        &self,
        words: Vec<OsString>,
        arg_files: &[PathBuf],
    ) -> Result<CommandLine, String> {
        let marker = |word: &[u8]| self.marker(word);
        let mut words = words.into_iter().map(OsString::into_vec).peekable();
        let mut template_words: Vec<Vec<u8>> = Vec::new();
        while let Some(word) = words.next_if(|w| marker(w).is_none()) {
            template_words.push(if self.quote { crate::shell::shell_quote(&word) } else { word });
        }
        let mut sources: Vec<Source> = arg_files
            .iter()
            .map(|path| Source { kind: SourceKind::File(path.clone()), linked: false })
            .collect();
        while let Some(word) = words.next() {
            let Some((is_file, links)) = marker(&word) else {
                unreachable!("the loop stops only at markers");
            };
            let mut values = Vec::new();
            while let Some(value) = words.next_if(|w| marker(w).is_none()) {
                values.push(value);
            }
            let text = String::from_utf8_lossy(&word).into_owned();
            // The first source links to nothing: GNU parallel takes `:::+` there
            // as `:::`.
            let linked = links && !sources.is_empty();
            if is_file {
                if values.is_empty() {
                    return Err(format!("'{text}' needs at least one file after it"));
                }
                // `::::+ f2 f3` links each file to the source before it.
                for (i, path) in values.into_iter().enumerate() {
                    let path = PathBuf::from(OsString::from_vec(path));
                    let linked = linked || (i > 0 && links);
                    sources.push(Source { kind: SourceKind::File(path), linked });
                }
            } else {
                sources.push(Source { kind: SourceKind::Args(values), linked });
            }
        }
        if sources.is_empty() {
            sources.push(Source { kind: SourceKind::Stdin, linked: false });
        }
        let template = if template_words.is_empty() {
            None
        } else {
            let text = String::from_utf8(template_words.join(&b' '))
                .map_err(|_| "the command template is not valid UTF-8".to_string())?;
            Some(self.template(&text)?)
        };
        Ok(CommandLine { template, sources })
    }

    /// `text` as a template of this command line's: its replacement strings
    /// (renamed, `--plus`'s, `--header`'s names) and Perl expressions.
    pub fn template(&self, text: &str) -> Result<Template, String> {
        let text = self.mark_perl(text)?;
        let renamed: Vec<(&str, &str)> =
            self.renamed.iter().map(|(name, standard)| (name.as_str(), *standard)).collect();
        let columns: Vec<String> =
            self.columns.iter().map(|name| String::from_utf8_lossy(name).into_owned()).collect();
        let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
        let template = Template::parse_map(&text, &renamed, self.plus, &columns);
        match template.refused() {
            Some(why) => Err(why.to_string()),
            None => Ok(template),
        }
    }

    /// `text` with its Perl expressions marked for [`Template`]'s parsers:
    /// `{= =}` (or `--parens`'), and with `--rpl` its strings, which the
    /// run's perl finds as GNU parallel does.
    pub fn mark_perl(&self, text: &str) -> Result<String, String> {
        if text.contains([PERL_START, PERL_END]) {
            return Err(
                "the command holds the control character \\x01 or \\x02, which maestro map \
                        keeps for itself"
                    .to_string(),
            );
        }
        if self.rpl.is_empty() && self.parens.is_none() {
            return Ok(mark_parens(text, "{=", "=}"));
        }
        let Some(perl) = &self.perl else {
            return Err("--rpl and --parens need perl, which did not start".to_string());
        };
        let (left, right) = self.parens.clone().unwrap_or(("{=".into(), "=}".into()));
        perl.rewrite(text, &left, &right, &self.rpl).map_err(|e| e.to_string())
    }

    /// `(is_file, linked)` for the markers: `:::`, `:::+`, `::::`, `::::+`.
    fn marker(&self, word: &[u8]) -> Option<(bool, bool)> {
        let is = |sep: &[u8], linked: bool| match linked {
            false => word == sep,
            true => word.strip_suffix(b"+") == Some(sep),
        };
        [(false, false), (false, true), (true, false), (true, true)].into_iter().find(
            |&(is_file, linked)| {
                is(if is_file { &self.arg_file_sep } else { &self.arg_sep }, linked)
            },
        )
    }
}

/// Marks GNU parallel's Perl expressions in `text`, between `left` and
/// `right` (`{=` and `=}`): the shortest pair, holding neither.
fn mark_parens(text: &str, left: &str, right: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(left) {
        let after = &rest[open + left.len()..];
        let Some(close) = after.find(right) else { break };
        match after.find(left) {
            // Another opens first: the expression starts there, if at all.
            Some(inner) if inner < close => {
                let to = open + left.len() + inner;
                out.push_str(&rest[..to]);
                rest = &rest[to..];
            }
            _ => {
                out.push_str(&rest[..open]);
                out.push(PERL_START);
                out.push_str(&after[..close]);
                out.push(PERL_END);
                rest = &after[close + right.len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `-j`: `N` slots, `0` as many as can run, `N%` of the CPUs, `+N` / `-N`
/// CPUs more or fewer (at least 1).
pub fn parse_jobs(text: &str, cpus: u32, most: u32) -> Result<u32, String> {
    let bad = || format!("-j {text}: expected N, N%, +N, -N or 0");
    let number = |digits: &str| digits.parse::<u32>().map_err(|_| bad());
    let jobs = if let Some(percent) = text.strip_suffix('%') {
        let percent = number(percent)?;
        (u64::from(cpus) * u64::from(percent) / 100).min(u64::from(most)) as u32
    } else if let Some(more) = text.strip_prefix('+') {
        cpus.saturating_add(number(more)?)
    } else if let Some(fewer) = text.strip_prefix('-') {
        cpus.saturating_sub(number(fewer)?)
    } else {
        match number(text)? {
            0 => most,
            n => n,
        }
    };
    Ok(jobs.clamp(1, most))
}

/// `--timeout`: a fixed limit, or a share of the median run time of the
/// jobs that succeeded so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Timeout {
    /// Seconds (fractions allowed).
    Fixed(Duration),
    /// Percent of the median successful run time.
    OfMedian(f64),
}

/// `--timeout SECONDS` or `--timeout N%`.
pub fn parse_timeout(text: &str) -> Result<Timeout, String> {
    let bad =
        || format!("--timeout {text}: expected seconds (e.g. 2.5) or N% of the median run time");
    match text.strip_suffix('%') {
        Some(percent) => match percent.parse::<f64>() {
            Ok(p) if p.is_finite() && p > 0.0 => Ok(Timeout::OfMedian(p)),
            _ => Err(bad()),
        },
        None => match text.parse::<f64>() {
            Ok(s) if s.is_finite() && s > 0.0 => Duration::try_from_secs_f64(s)
                .map(Timeout::Fixed)
                .map_err(|_| format!("--timeout {text}: too long")),
            _ => Err(bad()),
        },
    }
}

/// `--delay`: seconds (fractions allowed), or durations with units as GNU
/// parallel writes them, summed: `2s`, `1m30s`, `1h`, `1d`. Zero is no
/// delay. (No `ms`: parallel reads `50ms` as fifty minutes.)
pub fn parse_delay(text: &str) -> Result<Duration, String> {
    let bad = || format!("--delay {text}: expected seconds (e.g. 0.5) or a duration (2s, 1m30s)");
    let mut rest = text;
    let mut seconds = 0.0;
    while !rest.is_empty() {
        let number_end =
            rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_end);
        let unit_end = after.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let per = match unit {
            "" if after.is_empty() && rest.len() == text.len() => 1.0,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(bad()),
        };
        seconds += number.parse::<f64>().map_err(|_| bad())? * per;
        rest = after;
    }
    if text.is_empty() || !seconds.is_finite() {
        return Err(bad());
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| bad())
}

/// `--colsep`: the separator as bytes, with `\t`, `\n` and `\\` meaning a
/// tab, a newline and a backslash. (GNU parallel reads a regular
/// expression; maestro splits on the text itself.)
pub fn parse_colsep(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('t') => out.push(b'\t'),
                Some('n') => out.push(b'\n'),
                Some('\\') | None => out.push(b'\\'),
                Some(other) => {
                    out.push(b'\\');
                    out.extend_from_slice(other.to_string().as_bytes());
                }
            },
            c => out.extend_from_slice(c.to_string().as_bytes()),
        }
    }
    if out.is_empty() {
        return Err("--colsep needs a non-empty separator".into());
    }
    Ok(out)
}

/// `-d`: the byte records end at, written as itself or as a C escape
/// (`\n`, `\t`, `\r`, `\0`, `\\`, `\xHH`, octal `\NNN`).
pub fn parse_delimiter(text: &str) -> Result<u8, String> {
    let bad = || {
        format!("-d {text}: expected one character, or an escape such as \\n, \\t, \\0 or \\x2c")
    };
    let byte = match text.as_bytes() {
        [byte] => *byte,
        [b'\\', escape] => match escape {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'a' => 0x07,
            b'b' => 0x08,
            b'f' => 0x0c,
            b'v' => 0x0b,
            b'\\' => b'\\',
            b'0' => 0,
            _ => return Err(bad()),
        },
        [b'\\', b'x', hex @ ..] if !hex.is_empty() && hex.len() <= 2 => {
            u8::from_str_radix(&text[2..], 16).map_err(|_| bad())?
        }
        [b'\\', octal @ ..] if !octal.is_empty() && octal.len() <= 3 => {
            u8::from_str_radix(&text[1..], 8).map_err(|_| bad())?
        }
        _ => return Err(bad()),
    };
    Ok(byte)
}

/// `--term-seq`: how a job is stopped, GNU parallel's way: signals (by
/// name, with or without `SIG`, or number), each followed by the
/// milliseconds it has before the next (`TERM,200,TERM,100,KILL,25`).
pub fn parse_termseq(text: &str) -> Result<Vec<TermStep>, String> {
    let bad = |why: &str| format!("--term-seq {text}: {why} (e.g. TERM,200,TERM,100,KILL,25)");
    let items: Vec<&str> = text.split(',').map(str::trim).collect();
    if !items.len().is_multiple_of(2) || items.iter().any(|item| item.is_empty()) {
        return Err(bad("expected signals, each followed by milliseconds"));
    }
    let mut steps = Vec::new();
    for pair in items.chunks(2) {
        let signal =
            signal_number(pair[0]).ok_or_else(|| bad(&format!("'{}' is no signal", pair[0])))?;
        let millis: u64 = pair[1]
            .parse()
            .map_err(|_| bad(&format!("'{}' is no number of milliseconds", pair[1])))?;
        steps.push(TermStep {
            urgency: Urgency::of_signal(signal),
            wait: Duration::from_millis(millis),
        });
    }
    Ok(steps)
}

/// A signal by name (`TERM`, `SIGTERM`) or number.
fn signal_number(text: &str) -> Option<i32> {
    if let Ok(number) = text.parse::<i32>() {
        return (1..=64).contains(&number).then_some(number);
    }
    let name = text.strip_prefix("SIG").unwrap_or(text);
    Some(match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "ABRT" => libc::SIGABRT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "TSTP" => libc::SIGTSTP,
        "WINCH" => libc::SIGWINCH,
        _ => return None,
    })
}

/// `--block`: bytes, with GNU parallel's unit prefixes: K, M, G, T, P
/// (and Ki, Mi...) are powers of 1024; k, m, g, t, p powers of 1000.
/// Fractions are allowed (`1.5M`); so is a sign, for `--pipepart`'s
/// parts per job slot.
pub fn parse_size(option: &str, text: &str) -> Result<i64, String> {
    let bad = || format!("{option} {text}: expected a size such as 1M, 500k or 4096");
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    let power = |base: f64, exponent: i32| base.powi(exponent);
    let factor = match unit {
        "" => 1.0,
        "K" | "Ki" | "ki" | "KI" | "kI" => power(1024.0, 1),
        "M" | "Mi" | "mi" | "MI" | "mI" => power(1024.0, 2),
        "G" | "Gi" | "gi" | "GI" | "gI" => power(1024.0, 3),
        "T" | "Ti" | "ti" | "TI" | "tI" => power(1024.0, 4),
        "P" | "Pi" | "pi" | "PI" | "pI" => power(1024.0, 5),
        "k" => power(1000.0, 1),
        "m" => power(1000.0, 2),
        "g" => power(1000.0, 3),
        "t" => power(1000.0, 4),
        "p" => power(1000.0, 5),
        _ => return Err(bad()),
    };
    let number: f64 = digits.parse().map_err(|_| bad())?;
    if !number.is_finite() || digits.starts_with('+') {
        return Err(bad());
    }
    let bytes = (number * factor).trunc();
    if bytes.abs() > 1e18 {
        return Err(format!("{option} {text}: too large"));
    }
    Ok(bytes as i64)
}

/// `--recstart`, `--recend`: the text, with the escapes GNU parallel reads
/// there (`\n`, `\t`, `\r`, `\0`, `\\`, `\'`, `\"`).
pub fn parse_separator(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(byte) = bytes.next() {
        if byte != b'\\' {
            out.push(byte);
            continue;
        }
        let rest = bytes.clone().next();
        let escaped = match rest {
            Some(b'n') => b'\n',
            Some(b't') => b'\t',
            Some(b'r') => b'\r',
            Some(b'0') => 0,
            Some(c @ (b'\\' | b'\'' | b'"')) => c,
            _ => {
                out.push(byte);
                continue;
            }
        };
        bytes.next();
        out.push(escaped);
    }
    out
}

/// `--header` as a number of lines: a number, `:` and `.*\n` (one line).
/// With `--pipe`, anything else is a Perl regular expression.
pub fn parse_header_lines(text: &str) -> Result<usize, String> {
    match text {
        ":" | ".*\\n" | "(.*\\n)" => Ok(1),
        _ => text.parse().map_err(|_| {
            format!(
                "--header {text}: expected a number of lines, or ':' for one \
                 (maestro reads no regular expression here)"
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn termination_sequences_read_signals_and_waits() {
        let ms = Duration::from_millis;
        let steps = parse_termseq("TERM,200,SIGINT,100,9,25").unwrap();
        assert_eq!(
            steps,
            [
                TermStep { urgency: Urgency::Graceful, wait: ms(200) },
                TermStep { urgency: Urgency::Signal(libc::SIGINT), wait: ms(100) },
                TermStep { urgency: Urgency::Forced, wait: ms(25) },
            ]
        );
        for bad in ["", "TERM", "TERM,x", "NOPE,1", "TERM,1,", "0,1"] {
            assert!(parse_termseq(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_take_parallels_units() {
        for (text, bytes) in [
            ("1M", 1 << 20),
            ("10", 10),
            ("1k", 1000),
            ("2Ki", 2048),
            ("1.5K", 1536),
            ("-10", -10),
            ("1G", 1 << 30),
        ] {
            assert_eq!(parse_size("--block", text), Ok(bytes), "{text}");
        }
        for bad in ["", "M", "1X", "1MB", "x1", "+1"] {
            assert!(parse_size("--block", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn separators_read_escapes() {
        assert_eq!(parse_separator(r"\n"), b"\n");
        assert_eq!(parse_separator(r"a\tb\0"), b"a\tb\0");
        assert_eq!(parse_separator(r"\x"), br"\x");
        assert_eq!(parse_separator(r"\\n"), br"\n");
        assert_eq!(parse_separator(">"), b">");
    }

    #[test]
    fn delay_forms() {
        let ms = Duration::from_millis;
        for (text, delay) in [
            ("0.5", ms(500)),
            ("2", ms(2000)),
            ("0.25s", ms(250)),
            ("1m", ms(60_000)),
            ("0", ms(0)),
        ] {
            assert_eq!(parse_delay(text), Ok(delay), "{text}");
        }
        for bad in ["", "-1", "1x", "s", "inf", "1m2", "1..2", "50ms"] {
            assert!(parse_delay(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn delimiter_forms() {
        for (text, byte) in [
            (",", b','),
            ("\\n", b'\n'),
            ("\\t", b'\t'),
            ("\\0", 0),
            ("\\x2c", b','),
            ("\\054", b','),
        ] {
            assert_eq!(parse_delimiter(text), Ok(byte), "{text}");
        }
        for bad in ["", "ab", "\\q", "\\xzz", "\\999"] {
            assert!(parse_delimiter(bad).is_err(), "{bad}");
        }
    }

    fn words(text: &[&str]) -> Vec<OsString> {
        text.iter().map(OsString::from).collect()
    }

    fn args(values: &[&str]) -> SourceKind {
        SourceKind::Args(values.iter().map(|v| v.as_bytes().to_vec()).collect())
    }

    #[test]
    fn template_words_join_and_sources_follow() {
        let line = split_command_line(
            words(&["echo", "{}", "x", ":::", "a", "b", ":::+", "1", "::::", "f", "g"]),
            &[],
        )
        .unwrap();
        assert_eq!(line.template, Some(Template::parse("echo {} x")));
        let kinds: Vec<(SourceKind, bool)> =
            line.sources.into_iter().map(|s| (s.kind, s.linked)).collect();
        assert_eq!(
            kinds,
            [
                (args(&["a", "b"]), false),
                (args(&["1"]), true),
                (SourceKind::File("f".into()), false),
                (SourceKind::File("g".into()), false),
            ]
        );
    }

    #[test]
    fn no_template_and_no_source_read_commands_from_stdin() {
        let line = split_command_line(vec![], &[]).unwrap();
        assert_eq!(line.template, None);
        assert_eq!(line.sources, [Source { kind: SourceKind::Stdin, linked: false }]);
    }

    #[test]
    fn only_exact_markers_start_sources() {
        let line = split_command_line(words(&["echo", "::: ", "x"]), &[]).unwrap();
        assert_eq!(line.template, Some(Template::parse("echo :::  x")));
        assert_eq!(line.sources, [Source { kind: SourceKind::Stdin, linked: false }]);
    }

    #[test]
    fn arg_files_come_first_and_an_empty_args_source_is_allowed() {
        let line = split_command_line(words(&["wc", ":::"]), &["in.txt".into()]).unwrap();
        assert_eq!(line.sources[0].kind, SourceKind::File("in.txt".into()));
        assert_eq!(line.sources[1].kind, args(&[]));
    }

    #[test]
    fn perl_expressions_are_the_shortest_pairs_of_parens() {
        let marked = |text: &str| {
            mark_parens(text, "{=", "=}").replace(PERL_START, "<").replace(PERL_END, ">")
        };
        assert_eq!(marked("echo {=s/a/b/=} {= $_++ =}"), "echo <s/a/b/> < $_++ >");
        assert_eq!(marked("a {= x {= y =} z =}"), "a {= x < y > z =}");
        assert_eq!(marked("{=x y= {}"), "{=x y= {}");
        let line = split_command_line(words(&["echo", "{=2 s/a/b/ =}", ":::", "a"]), &[]).unwrap();
        assert!(line.template.unwrap().perl_codes().eq(["s/a/b/ "]));
    }

    #[test]
    fn a_file_source_needs_a_file() {
        assert!(split_command_line(words(&["echo", "::::"]), &[]).is_err());
    }

    #[test]
    fn linking_marks_link_every_source_they_give_but_a_first() {
        let linked = |line: &[&str]| -> Vec<bool> {
            let line = split_command_line(words(line), &[]).unwrap();
            line.sources.iter().map(|source| source.linked).collect()
        };
        assert_eq!(linked(&["echo", ":::+", "a", ":::", "b"]), [false, false]);
        assert_eq!(linked(&["echo", ":::", "a", "::::+", "f", "g"]), [false, true, true]);
        assert_eq!(linked(&["echo", "::::+", "f", "g", ":::+", "a"]), [false, true, true]);
        assert_eq!(linked(&["echo", "::::", "f", "g"]), [false, false]);
    }

    #[test]
    fn jobs_forms() {
        assert_eq!(parse_jobs("3", 2, 100), Ok(3));
        assert_eq!(parse_jobs("0", 2, 100), Ok(100));
        assert_eq!(parse_jobs("50%", 4, 100), Ok(2));
        assert_eq!(parse_jobs("10%", 4, 100), Ok(1));
        assert_eq!(parse_jobs("+2", 4, 100), Ok(6));
        assert_eq!(parse_jobs("-8", 4, 100), Ok(1));
        assert_eq!(parse_jobs("500", 4, 100), Ok(100));
        assert!(parse_jobs("x", 4, 100).is_err());
        assert!(parse_jobs("", 4, 100).is_err());
    }

    #[test]
    fn timeout_forms() {
        assert_eq!(parse_timeout("2.5"), Ok(Timeout::Fixed(Duration::from_millis(2500))));
        assert_eq!(parse_timeout("200%"), Ok(Timeout::OfMedian(200.0)));
        for bad in ["0", "-1", "x", "%", "inf"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn colsep_escapes() {
        assert_eq!(parse_colsep(","), Ok(b",".to_vec()));
        assert_eq!(parse_colsep("\\t"), Ok(b"\t".to_vec()));
        assert_eq!(parse_colsep("a\\\\b"), Ok(b"a\\b".to_vec()));
        assert!(parse_colsep("").is_err());
    }
}
