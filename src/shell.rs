//! POSIX shell quoting, and the choice between running a command line
//! directly and through `/bin/sh -c`, both as GNU parallel and GNU make make
//! them.

/// Whether `byte` means nothing to sh, dash or bash wherever it appears in a word: GNU
/// parallel's own safe set, `[-_.+a-zA-Z0-9/]`. Bytes >= 0x80 are not safe: how a lexer
/// reads them depends on its locale, while single quotes keep any byte.
fn is_safe(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-_.+/".contains(&byte)
}

/// Quotes `value` for a POSIX shell (sh, dash, bash) exactly as GNU parallel does, so that
/// `--dry-run` and joblogs show the same command lines: bare when every byte is safe
/// (`[-_.+a-zA-Z0-9/]`), otherwise in single quotes, each `'` written as `'"'"'`, and the
/// empty `''` pairs this leaves at the ends dropped (`a'b` -> `'a'"'"'b'`, `'` -> `"'"`);
/// the empty value is `''`.
///
/// A NUL byte cannot be passed to a program at all; it is kept, and spawning will fail.
#[must_use]
pub fn shell_quote(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 2);
    quote_into(&mut out, value);
    out
}

/// [`shell_quote`], appending to `out` to spare an allocation per value.
pub(crate) fn quote_into(out: &mut Vec<u8>, value: &[u8]) {
    if value.is_empty() {
        out.extend_from_slice(b"''");
        return;
    }
    if value.iter().all(|&b| is_safe(b)) {
        out.extend_from_slice(value);
        return;
    }
    let start = out.len();
    out.push(b'\'');
    for &byte in value {
        if byte == b'\'' {
            out.extend_from_slice(b"'\"'\"'");
        } else {
            out.push(byte);
        }
    }
    out.push(b'\'');
    if out[start..].starts_with(b"''") {
        out.drain(start..start + 2);
    }
    if out[start..].ends_with(b"''") {
        out.truncate(out.len() - 2);
    }
}

/// Where in a command line a value is inserted: what quotes, if any, the
/// line has open there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    quoting: Quoting,
    /// The text before ends in a backslash that escapes what comes next.
    escaped: bool,
    /// Inside how many backquoted command substitutions: each takes one
    /// level of backslashes off before its command is read.
    backquotes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    Plain,
    Single,
    Double,
}

/// One level of nesting: the quotes open in it, and for a command
/// substitution, its open parentheses and how it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Unquoted text: the whole line, or inside `$(...)` (`parens` deep in
    /// parentheses of its own) or backquotes.
    Plain {
        parens: u32,
        backquoted: bool,
    },
    Single,
    Double,
}

/// Follows the quotes of a command line as sh reads it, far enough to know
/// the [`Context`] at any point: single and double quotes, backslashes,
/// and command substitutions (`$(...)` and backquotes, inside double quotes
/// too). Not followed: `$'...'`, here-documents, `case` patterns.
#[derive(Debug, Clone)]
pub struct QuoteTracker {
    frames: Vec<Frame>,
    escaped: bool,
    /// The last byte was a `$` outside single quotes.
    dollar: bool,
}

impl Default for QuoteTracker {
    fn default() -> Self {
        QuoteTracker {
            frames: vec![Frame::Plain { parens: 0, backquoted: false }],
            escaped: false,
            dollar: false,
        }
    }
}

impl QuoteTracker {
    /// The context after the text fed so far.
    pub fn context(&self) -> Context {
        let quoting = match self.frames.last() {
            Some(Frame::Single) => Quoting::Single,
            Some(Frame::Double) => Quoting::Double,
            _ => Quoting::Plain,
        };
        let backquotes = self
            .frames
            .iter()
            .filter(|frame| matches!(frame, Frame::Plain { backquoted: true, .. }))
            .count() as u32;
        Context { quoting, escaped: self.escaped, backquotes }
    }

    /// Reads `text`, a literal part of the line.
    pub fn feed(&mut self, text: &[u8]) {
        for &byte in text {
            self.step(byte);
        }
    }

    /// Reads an inserted value: a word with no quote of its own.
    pub fn feed_value(&mut self) {
        self.escaped = false;
        self.dollar = false;
    }

    fn step(&mut self, byte: u8) {
        if std::mem::take(&mut self.escaped) {
            self.dollar = false;
            return;
        }
        let dollar = std::mem::take(&mut self.dollar);
        let top = self.frames.len() - 1;
        match (self.frames[top], byte) {
            (Frame::Single, b'\'') => {
                self.frames.pop();
            }
            (Frame::Single, _) => {}
            (_, b'\\') => self.escaped = true,
            (_, b'$') => self.dollar = true,
            (_, b'(') if dollar => self.frames.push(Frame::Plain { parens: 0, backquoted: false }),
            (Frame::Plain { backquoted: true, .. }, b'`') => {
                self.frames.pop();
            }
            (_, b'`') => self.frames.push(Frame::Plain { parens: 0, backquoted: true }),
            (Frame::Double, b'"') => {
                self.frames.pop();
            }
            (Frame::Double, _) => {}
            (Frame::Plain { .. }, b'\'') => self.frames.push(Frame::Single),
            (Frame::Plain { .. }, b'"') => self.frames.push(Frame::Double),
            (Frame::Plain { parens, backquoted }, b'(') => {
                self.frames[top] = Frame::Plain { parens: parens + 1, backquoted };
            }
            (Frame::Plain { parens, backquoted }, b')') => {
                if parens > 0 {
                    self.frames[top] = Frame::Plain { parens: parens - 1, backquoted };
                } else if top > 0 && !backquoted {
                    self.frames.pop();
                }
            }
            (Frame::Plain { .. }, _) => {}
        }
    }
}

/// Appends `value` to a command line at `context` so that sh reads it back
/// as those bytes, never as code: [`shell_quote`]d where no quote is open
/// (so GNU parallel's command lines come out the same), between the open
/// quotes otherwise: a single-quoted stretch is closed around it, and in
/// double quotes `$`, `` ` ``, `"` and `\` are escaped.
pub(crate) fn insert_quoted(out: &mut Vec<u8>, value: &[u8], context: Context) {
    if context.escaped {
        // The backslash before would take the value's first byte: given a
        // newline instead, the pair is a line continuation, which sh drops.
        out.push(b'\n');
    }
    let mut quoted = Vec::with_capacity(value.len() + 2);
    match context.quoting {
        Quoting::Plain => quote_into(&mut quoted, value),
        Quoting::Single => {
            quoted.push(b'\'');
            quote_into(&mut quoted, value);
            quoted.push(b'\'');
        }
        Quoting::Double => {
            for &byte in value {
                if matches!(byte, b'$' | b'`' | b'"' | b'\\') {
                    quoted.push(b'\\');
                }
                quoted.push(byte);
            }
        }
    }
    // Each backquote level reads `\\`, `\$` and `` \` `` as one byte first.
    for _ in 0..context.backquotes {
        let mut escaped = Vec::with_capacity(quoted.len() + 8);
        for &byte in &quoted {
            if matches!(byte, b'$' | b'`' | b'\\') {
                escaped.push(b'\\');
            }
            escaped.push(byte);
        }
        quoted = escaped;
    }
    out.extend_from_slice(&quoted);
}

/// Bytes that give a command line meaning beyond "words separated by blanks": GNU make's
/// `sh_chars` (job.c), plus `'` and `\` (make handles those itself, we do not) and newline.
const SHELL_CHARS: &[u8] = b"#;\"*?[]&|<>(){}$`^~!'\\\n";

/// First words the shell handles itself: keywords, and builtins that change the shell's own
/// state or have no program of the same name (GNU make's `sh_cmds`, plus bash's). `echo`,
/// `printf`, `kill`, `true` and `false` exist as programs and stay direct; `test` and `[` do
/// too but make sends them to the shell, and so do we. `pwd` is here because the builtin
/// prints the logical path (`$PWD`) and /bin/pwd the physical one; `time` because it is a
/// bash keyword and /usr/bin/time is often missing.
#[rustfmt::skip]
const SHELL_WORDS: &[&str] = &[
    ".", ":", "[", "[[", "alias", "bg", "bind", "break", "builtin", "caller", "case", "cd",
    "command", "compgen", "complete", "compopt", "continue", "coproc", "declare", "dirs", "disown",
    "do", "done", "elif", "else", "enable", "esac", "eval", "exec", "exit", "export", "fc", "fg",
    "fi", "for", "function", "getopts", "hash", "help", "history", "if", "in", "jobs", "let",
    "local", "login", "logout", "mapfile", "popd", "pushd", "pwd", "read", "readarray", "readonly",
    "return", "select", "set", "shift", "shopt", "source", "suspend", "switch", "test", "then",
    "time", "times", "trap", "type", "typeset", "ulimit", "umask", "unalias", "unset", "until",
    "wait", "while",
];

/// The byte ranges of the words of `cmd` if it can run without a shell, as make decides:
/// no shell metacharacter, not blank, no assignment prefix (`=` in the first word), no job
/// spec (`%1`) and a first word that is not a shell keyword or builtin.
fn direct_words(cmd: &[u8]) -> Option<Vec<(usize, usize)>> {
    if cmd.iter().any(|b| SHELL_CHARS.contains(b)) {
        return None;
    }
    // The shell splits on spaces and tabs only; `\r` and the like are word bytes for it too.
    let mut words = Vec::new();
    let mut start = None;
    for (index, &byte) in cmd.iter().chain([b' '].iter()).enumerate() {
        match (byte == b' ' || byte == b'\t', start) {
            (true, Some(from)) => {
                words.push((from, index));
                start = None;
            }
            (false, None) => start = Some(index),
            _ => {}
        }
    }
    let &(from, to) = words.first()?;
    let first = &cmd[from..to];
    let builtin = SHELL_WORDS.iter().any(|word| word.as_bytes() == first);
    if builtin || first.contains(&b'=') || first[0] == b'%' {
        return None;
    }
    Some(words)
}

/// How to run a command line: the argv to exec directly (split on spaces and tabs), saving a
/// shell per job, when the shell would do nothing but that split and an exec; `None` when the
/// line needs `/bin/sh -c`. The caller must report a missing program as sh would; unlike sh,
/// exec may refuse a script without `#!` (ENOEXEC).
#[must_use]
pub fn split_direct(cmd: &[u8]) -> Option<Vec<&[u8]>> {
    direct_words(cmd).map(|words| words.into_iter().map(|(from, to)| &cmd[from..to]).collect())
}

/// `text` split into words as a POSIX shell splits them, quotes removed
/// (no expansion: `$` and globs are literal): GNU parallel's reading of
/// `$PARALLEL`. `None` for a quote left open.
pub fn split_words(text: &str) -> Option<Vec<String>> {
    let (mut words, mut word, mut in_word) = (Vec::new(), String::new(), false);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if std::mem::take(&mut in_word) {
                    words.push(std::mem::take(&mut word));
                }
                continue;
            }
            '\'' => loop {
                match chars.next()? {
                    '\'' => break,
                    c => word.push(c),
                }
            },
            '"' => loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => match chars.next()? {
                        c @ ('"' | '\\' | '$' | '`') => word.push(c),
                        '\n' => {}
                        c => word.extend(['\\', c]),
                    },
                    c => word.push(c),
                }
            },
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(c) => word.push(c),
                None => word.push('\\'),
            },
            c => word.push(c),
        }
        in_word = true;
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

/// What runs a command line: the words of a program and its options, the line
/// following as one more argument.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Shell {
    /// `/bin/sh -c`: `maestro par`'s and `map`'s, as GNU parallel and make.
    Sh,
    /// `bash -e -o pipefail -c`: flow tasks' default, as Snakemake's, so that
    /// a failing line or a failing stage of a pipeline fails the task.
    Strict,
    /// The flow's `shell`: never skipped, as its words may mean anything.
    Words(std::sync::Arc<[String]>),
    /// A shell by its path, as `PATH -c`: `map`'s, the one GNU parallel
    /// picks. A simple command skips it, unless its first word names a
    /// function the environment exports (bash's `export -f`).
    Program(std::sync::Arc<str>),
}

/// [`Shell::Strict`]'s words.
const STRICT: [&str; 5] = ["bash", "-e", "-o", "pipefail", "-c"];

impl Shell {
    /// The program and its options, before the line.
    pub fn words(&self) -> Vec<&str> {
        match self {
            Shell::Sh => vec!["/bin/sh", "-c"],
            Shell::Strict => STRICT.to_vec(),
            Shell::Words(words) => words.iter().map(String::as_str).collect(),
            Shell::Program(path) => vec![path, "-c"],
        }
    }

    /// Whether the simple command whose first word is `program` may run
    /// without the shell (see [`Shell::may_skip`]): not when the shell
    /// would find it among the functions the environment exports.
    pub fn may_skip_for(&self, program: &[u8]) -> bool {
        match self {
            Shell::Program(_) => {
                let exported = [b"BASH_FUNC_", program, b"%%"].concat();
                use std::os::unix::ffi::OsStrExt;
                std::env::var_os(std::ffi::OsStr::from_bytes(&exported)).is_none()
            }
            _ => self.may_skip(),
        }
    }

    /// Whether a simple command (see [`split_direct`]) may run without the
    /// shell: true where the shell would do nothing but exec it, with the
    /// same outcome.
    pub fn may_skip(&self) -> bool {
        !matches!(self, Shell::Words(_))
    }

    /// The shell that `words` name: [`Shell::Strict`] or [`Shell::Sh`] when
    /// they are exactly theirs.
    pub fn from_words(words: Vec<String>) -> Shell {
        if words.iter().eq(STRICT.iter()) {
            Shell::Strict
        } else if words.iter().eq(["/bin/sh", "-c"].iter()) {
            Shell::Sh
        } else {
            Shell::Words(words.into())
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn words_split_as_a_shell_splits_them() {
        let split = |text: &str| split_words(text).map(|w| w.join("|"));
        assert_eq!(split("-j2  --tag\t-k"), Some("-j2|--tag|-k".into()));
        assert_eq!(
            split("--tagstring 'a b' \"c \\\"d\\$\" e\\ f ''"),
            Some("--tagstring|a b|c \"d$|e f|".into())
        );
        assert_eq!(split("  "), Some(String::new()));
        assert_eq!(split("$HOME *"), Some("$HOME|*".into()));
        assert_eq!(split("'open"), None);
        assert_eq!(split("\"open"), None);
    }
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::process::Command;

    fn s(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    #[test]
    fn shell_quote_forms() {
        // parallel --dry-run echo {} ::: VALUE, for each of these.
        for (value, want) in [
            ("", "''"),
            ("plain", "plain"),
            ("a/b-c_d.e+f", "a/b-c_d.e+f"),
            ("a,b", "'a,b'"),
            ("a:b@c%d", "'a:b@c%d'"),
            ("--opt=value", "'--opt=value'"),
            ("FOO=bar", "'FOO=bar'"),
            ("=cmd", "'=cmd'"),
            ("a b", "'a b'"),
            ("'", r#""'""#),
            ("''", r#""'"''"'""#),
            ("a'b", r#"'a'"'"'b'"#),
            ("it's", r#"'it'"'"'s'"#),
            ("'a'", r#""'"'a'"'""#),
            ("a'", r#"'a'"'""#),
            ("$HOME", "'$HOME'"),
            ("~", "'~'"),
            ("a^b", "'a^b'"),
            ("é", "'é'"),
            ("\\", "'\\'"),
        ] {
            assert_eq!(s(&shell_quote(value.as_bytes())), want, "quote of {value:?}");
        }
    }

    pub(crate) fn nasty_values() -> Vec<Vec<u8>> {
        let mut values: Vec<Vec<u8>> = [
            "$(touch pwned)",
            "`touch pwned`",
            "; rm x",
            "'",
            "''",
            "'\\''",
            "\"",
            "\\",
            "\\\\n",
            "a\nb",
            "\n",
            "a\tb",
            " ",
            "  leading and trailing  ",
            "*",
            "?",
            "[a]",
            "~",
            "~root",
            "~user/x",
            "-n",
            "-e",
            "--",
            "",
            "!",
            "!!",
            "!$",
            "{}",
            "{a,b}",
            "a=b",
            "PATH=x",
            "=ls",
            "$'\\x41'",
            "${IFS}",
            "$((1+1))",
            "<(id)",
            "&",
            "|",
            "#comment",
            "a#b",
            "%1",
            "^x^y",
            "é",
            "日本語",
            "\u{feff}",
            "a\rb",
        ]
        .iter()
        .map(|v| v.as_bytes().to_vec())
        .collect();
        values.push(b"\xff\xfe".to_vec());
        values.push(b"\xc3".to_vec());
        values.push(b"\x95\x5c'".to_vec()); // Shift_JIS-like trail byte `\` then a quote
        values.push((1..=255u8).collect());
        values.extend((1..=255u8).map(|b| vec![b]));
        values.extend((1..=255u8).map(|b| vec![b'x', b, b'\'', b]));
        values
    }

    /// Runs `shell -c "printf '%s\0' QUOTED..."` and returns what the shell passed to printf.
    pub(crate) fn through_shell(shell: &str, command: &[u8]) -> Option<Vec<Vec<u8>>> {
        let output = Command::new(shell)
            .arg("-c")
            .arg(OsStr::from_bytes(command))
            .current_dir(std::env::temp_dir())
            .env("HOME", "/nonexistent-home")
            .output()
            .ok()?;
        assert!(output.status.success(), "{shell}: {}", String::from_utf8_lossy(&output.stderr));
        let mut fields: Vec<Vec<u8>> =
            output.stdout.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
        assert_eq!(fields.pop(), Some(Vec::new()), "output ends with NUL");
        Some(fields)
    }

    #[test]
    fn quoted_values_survive_the_shell_byte_for_byte() {
        let values = nasty_values();
        let mut command = b"printf '%s\\0'".to_vec();
        for value in &values {
            command.push(b' ');
            command.extend(shell_quote(value));
        }
        let mut shells_run = 0;
        for shell in ["/bin/sh", "dash", "bash", "bash --posix"] {
            let mut words = shell.split(' ');
            let program = words.next().unwrap();
            let mut full = Vec::new();
            // `bash --posix` is run as `bash -c 'set -o posix; ...'` to keep one code path.
            if words.next().is_some() {
                full.extend_from_slice(b"set -o posix; ");
            }
            full.extend_from_slice(&command);
            let Some(got) = through_shell(program, &full) else { continue };
            shells_run += 1;
            assert_eq!(got.len(), values.len(), "{shell}");
            for (got, want) in got.iter().zip(&values) {
                assert_eq!(got, want, "{shell} changed {:?}", String::from_utf8_lossy(want));
            }
        }
        assert!(shells_run >= 1, "no shell to test with");
    }

    fn direct(cmd: &str) -> Option<Vec<String>> {
        let words = split_direct(cmd.as_bytes())?;
        Some(words.into_iter().map(|w| String::from_utf8(w.to_vec()).unwrap()).collect())
    }

    #[test]
    fn classify_direct_commands() {
        for (cmd, argv) in [
            ("ls", &["ls"][..]),
            ("ls -l /tmp", &["ls", "-l", "/tmp"]),
            ("  cc  -O2\t-c   a.c  ", &["cc", "-O2", "-c", "a.c"]),
            ("./build.sh --out=dir", &["./build.sh", "--out=dir"]),
            ("echo hello", &["echo", "hello"]),
            ("printf %s x", &["printf", "%s", "x"]),
            ("kill -0 1", &["kill", "-0", "1"]),
            ("true", &["true"]),
            ("env A=1 cmd", &["env", "A=1", "cmd"]),
            ("/usr/bin/time ls", &["/usr/bin/time", "ls"]),
            ("cp a.txt b@c:d,e+f", &["cp", "a.txt", "b@c:d,e+f"]),
            ("grep -c é ü.txt", &["grep", "-c", "é", "ü.txt"]),
            ("cmd a\rb", &["cmd", "a\rb"]),
            ("sh script.sh", &["sh", "script.sh"]),
            ("exec2 x", &["exec2", "x"]),
            ("testing", &["testing"]),
            ("a%b", &["a%b"]),
        ] {
            assert_eq!(
                direct(cmd),
                Some(argv.iter().map(ToString::to_string).collect()),
                "{cmd:?}"
            );
        }
    }

    #[test]
    fn classify_shell_commands() {
        for cmd in [
            "",
            "   ",
            "\t",
            "ls | wc",
            "a && b",
            "a; b",
            "a\nb",
            "ls\n",
            "echo $HOME",
            "echo `id`",
            "echo 'a b'",
            "echo \"a b\"",
            "echo a\\ b",
            "ls *.rs",
            "ls ?",
            "ls [ab]",
            "ls ~",
            "echo {a,b}",
            "cat < in",
            "cat > out",
            "cmd 2>&1",
            "(cd x)",
            "# comment",
            "! false",
            "a^b",
            "FOO=1 cmd",
            "FOO=1",
            "=ls",
            "%1",
            "cd dir",
            "export A=1",
            "exec cmd",
            "exit 3",
            ". ./env.sh",
            ": nothing",
            "source x",
            "set -e",
            "test -f x",
            "[ -f x ]",
            "[[ -f x ]]",
            "if true",
            "while true",
            "for x",
            "until x",
            "case x",
            "time make",
            "pwd",
            "read x",
            "ulimit -n",
            "umask 022",
            "unset X",
            "wait",
            "trap x INT",
            "eval x",
            "alias ll=ls",
            "command -v x",
            "type ls",
            "hash -r",
            "local x",
            "return 1",
            "function f",
            "shift",
            "getopts ab x",
            "jobs",
            "fg",
            "bg",
            "then",
            "do",
            "done",
        ] {
            assert_eq!(direct(cmd), None, "{cmd:?}");
        }
    }

    #[test]
    fn split_direct_takes_bytes() {
        let argv = split_direct(b"cat \xff.txt\tb").unwrap();
        assert_eq!(argv, [&b"cat"[..], b"\xff.txt", b"b"]);
        assert_eq!(split_direct(b"cat '\xff'"), None);
    }

    #[test]
    fn direct_split_matches_the_shell() {
        for cmd in [
            "ls -l /tmp",
            "  cc  -O2\t-c   a.c  ",
            "cp a.txt b@c:d,e+f --x=y",
            "grep -c é ü.txt",
            "cmd a\rb -- -n %s",
        ] {
            let argv = direct(cmd).expect("direct");
            let script = format!("set -- {cmd}; printf '%s\\0' \"$@\"");
            let got = through_shell("/bin/sh", script.as_bytes()).expect("/bin/sh runs");
            let got: Vec<String> = got.into_iter().map(|w| String::from_utf8(w).unwrap()).collect();
            assert_eq!(got, argv, "{cmd:?}");
        }
    }
}
