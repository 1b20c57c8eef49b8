//! `maestro map` against the real GNU parallel: every case runs through
//! both, each in its own fresh folder with the same files and stdin, and
//! their stdout, exit status, and where asked stderr and joblog must match.
//!
//! Output order is compared exactly with `-k` (or one job slot), as sorted
//! lines otherwise, since parallel's own order then depends on timing.
//! Deliberate differences from parallel are tested in `map.rs`, not here.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::Project;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Byte for byte.
    Exact,
    /// The same lines, in any order.
    Lines,
}

#[derive(Clone, Copy)]
struct Case {
    args: &'static [&'static str],
    stdin: &'static [u8],
    files: &'static [(&'static str, &'static [u8])],
    stdout: Order,
    /// Compare stderr too (in this order), or not at all.
    stderr: Option<Order>,
    /// Compare the joblog `jl` each leaves, times aside.
    joblog: bool,
    /// Command lines run first in both folders (`map`/`parallel` implied).
    before: &'static [&'static [&'static str]],
    /// Files neither may create (quoting cases: `pwned`).
    never: &'static [&'static str],
    /// Files the jobs write, whose contents must match.
    same_files: &'static [&'static str],
    /// Lines `1` to N on stdin (after `stdin`).
    numbered_stdin: usize,
    /// Environment variables both get (`PARALLEL` is removed otherwise).
    env: &'static [(&'static str, &'static str)],
}

impl Default for Case {
    fn default() -> Case {
        Case {
            args: &[],
            stdin: b"",
            files: &[],
            stdout: Order::Exact,
            stderr: None,
            joblog: false,
            before: &[],
            never: &[],
            same_files: &[],
            numbered_stdin: 0,
            env: &[],
        }
    }
}

struct Outcome {
    code: i32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    joblog: Option<Vec<Vec<String>>>,
    files: Vec<Option<Vec<u8>>>,
}

impl Case {
    fn check(self) {
        let theirs = self.run_in(&Project::new(), |command| {
            let mut c = Command::new("parallel");
            c.arg("--will-cite").args(command);
            c
        });
        let ours = self.run_in(&Project::new(), |command| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_maestro"));
            c.arg("map").args(command);
            c
        });
        let show = |o: &Outcome| {
            format!(
                "exit {}\n--- stdout\n{}--- stderr\n{}",
                o.code,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        };
        let context = format!(
            "case {:?}\n=== parallel: {}\n=== maestro map: {}",
            self.args,
            show(&theirs),
            show(&ours)
        );
        assert_eq!(ours.code, theirs.code, "exit status differs\n{context}");
        assert_eq!(
            normalized(&ours.stdout, self.stdout),
            normalized(&theirs.stdout, self.stdout),
            "stdout differs\n{context}"
        );
        if let Some(order) = self.stderr {
            assert_eq!(
                normalized(&ours.stderr, order),
                normalized(&theirs.stderr, order),
                "stderr differs\n{context}"
            );
        }
        if self.joblog {
            assert_eq!(ours.joblog, theirs.joblog, "joblogs differ\n{context}");
        }
        assert_eq!(ours.files, theirs.files, "files {:?} differ\n{context}", self.same_files);
    }

    fn run_in(&self, p: &Project, command: impl Fn(&[&str]) -> Command) -> Outcome {
        for (path, content) in self.files {
            std::fs::write(p.path(path), content).unwrap();
        }
        for before in self.before {
            let status = command(before)
                .current_dir(&p.dir)
                .env("SHELL", "/bin/sh")
                .env("PARALLEL_HOME", p.path(".parallel"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(status.code().is_some(), "{before:?} was killed");
        }
        let mut child = command(self.args)
            .current_dir(&p.dir)
            // Both run jobs with the nearest shell above them (the one
            // running the tests, if any), else $SHELL.
            .env("SHELL", "/bin/sh")
            .env("PARALLEL_HOME", p.path(".parallel"))
            .env_remove("PARALLEL")
            .envs(self.env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut input = self.stdin.to_vec();
        for n in 1..=self.numbered_stdin {
            input.extend_from_slice(format!("{n}\n").as_bytes());
        }
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap();
        for file in self.never {
            assert!(!p.path(file).exists(), "{file} was created: an input ran as code");
        }
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: output.stdout,
            stderr: output.stderr,
            joblog: joblog(&p.path("jl")),
            files: self.same_files.iter().map(|f| std::fs::read(p.path(f)).ok()).collect(),
        }
    }
}

fn normalized(bytes: &[u8], order: Order) -> Vec<Vec<u8>> {
    match order {
        Order::Exact => vec![bytes.to_vec()],
        Order::Lines => {
            let mut lines: Vec<Vec<u8>> =
                bytes.split_inclusive(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            lines.sort();
            lines
        }
    }
}

/// A joblog's rows without their times (Starttime, JobRuntime), sorted by
/// job: what must agree.
fn joblog(path: &Path) -> Option<Vec<Vec<String>>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut rows: Vec<Vec<String>> = text
        .lines()
        .map(|line| {
            line.split('\t')
                .enumerate()
                .filter(|(i, _)| *i != 2 && *i != 3)
                .map(|(_, field)| field.to_string())
                .collect()
        })
        .collect();
    rows[1..].sort_by_key(|row| row[0].parse::<u64>().unwrap_or(0));
    Some(rows)
}

macro_rules! oracle {
    ($($name:ident: [$($arg:expr),* $(,)?] $({ $($key:ident: $value:expr),* $(,)? })?;)*) => {
        $(
            #[test]
            #[cfg_attr(no_parallel, ignore = "needs GNU parallel (apt-get install parallel)")]
            fn $name() {
                Case { args: &[$($arg),*], $($($key: $value,)*)? ..Case::default() }.check();
            }
        )*
    };
}

const LINES: &[(&str, &[u8])] = &[("f1", b"1\n2\n3\n"), ("f2", b"x\ny\n")];
const TABLE: &[u8] = b"123,    1\n123,    2\n12-3,   1\n221,    3\n221,    1\n2/21,   5\n";
const TABLE_WITH_HEADER: &[u8] =
    b"UserID, Consumption\n123,    1\n123,    2\n12-3,   1\n221,    3\n221,    1\n2/21,   5\n";
const FIFTY_AND_LINES: &[(&str, &[u8])] = &[FIFTY[0], LINES[0]];
const FIFTY: &[(&str, &[u8])] = &[("f", b"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n21\n22\n23\n24\n25\n26\n27\n28\n29\n30\n31\n32\n33\n34\n35\n36\n37\n38\n39\n40\n41\n42\n43\n44\n45\n46\n47\n48\n49\n50\n")];

oracle! {
    // Input sources and how they combine.
    one_source: ["-k", "echo", ":::", "a", "b", "c"];
    two_sources_combine: ["-k", "echo", ":::", "a", "b", ":::", "1", "2"];
    three_sources_combine: ["-k", "echo", ":::", "a", "b", ":::", "1", "2", ":::", "x", "y"];
    linked_shortest_wins: ["-k", "echo", ":::", "a", "b", "c", ":::+", "1", "2"];
    linked_longer_second: ["-k", "echo", ":::", "a", "b", ":::+", "1", "2", "3"];
    positional_across_sources: ["-k", "echo", "{2}-{1}", ":::", "a", "b", ":::", "1", "2"];
    file_source: ["-k", "echo", "::::", "f1"] { files: LINES };
    two_file_sources: ["-k", "echo", "::::", "f1", "f2"] { files: LINES };
    linked_file_sources: ["-k", "echo", "::::", "f1", "::::+", "f2"] { files: LINES };
    arg_file: ["-k", "-a", "f1", "echo"] { files: LINES };
    two_arg_files: ["-k", "-a", "f1", "-a", "f2", "echo"] { files: LINES };
    file_and_args: ["-k", "echo", "::::", "f2", ":::", "1", "2"] { files: LINES };
    link_all_sources: ["-k", "--link", "echo", ":::", "A", "B", "C", ":::", "D", "E", "F"];
    link_wraps_the_shorter_around: ["-k", "--link", "echo", ":::", "A", "B", "C", "D", "E", ":::", "F", "G"];
    link_three_and_files: ["-k", "--xapply", "echo", ":::", "A", "B", "::::", "f1", ":::", "x"] { files: LINES };
    link_stdin: ["-k", "--link", "echo", "::::", "-", ":::", "1", "2"] { stdin: b"a\nb\nc\n" };
    linked_first_source_is_plain: ["-k", "echo", "{1}-{2}", ":::+", "a", "b", ":::", "c", "d"];
    linked_first_file_source: ["-k", "echo", "::::+", "f1", "f2"] { files: LINES };
    linked_every_file_after_the_mark: ["-k", "echo", ":::", "A", "B", "C", "::::+", "f1", "f2", ":::", "z"] { files: LINES };
    stdin_lines: ["-k", "echo", "[{}]"] { stdin: b"a\nb c\nd\n" };
    stdin_empty_lines: ["-k", "echo", "[{}]"] { stdin: b"a\n\nb\n" };
    stdin_no_final_newline: ["-k", "echo", "[{}]"] { stdin: b"a\nb" };
    stdin_as_file_source: ["-k", "echo", "::::", "-", ":::", "1", "2"] { stdin: b"x\ny\n" };
    null_separated: ["-k", "-0", "echo", "[{}]"] { stdin: b"a b\0c\nd\0" };
    delimiter_character: ["-k", "-d", ",", "echo", "[{}]"] { stdin: b"a,b c,d\n" };
    eof_value_ends_the_source: ["-k", "-E", "stop", "echo", ":::", "A", "B", "stop", "C"];
    eof_value_ends_every_source: ["-k", "-E", "stop", "echo", ":::", "A", "stop", ":::", "1", "stop", "2"];
    eof_value_on_stdin: ["-k", "-E", "stop", "echo"] { stdin: b"a\nstop\nb\n" };
    eof_value_in_a_file: ["-k", "--eof", "2", "echo", "::::", "f1"] { files: LINES };
    other_markers: ["-k", "--arg-sep", ",,", "--arg-file-sep", "//", "echo", ",,", "A", "B", "//", "f2", ",,+", "x", "y"] { files: LINES };
    quoted_words: ["-k", "-q", "perl", "-e", "print \"@ARGV\\n\"", ":::", "This", "works"];
    quoted_words_keep_spaces: ["-k", "-q", "echo", "a  b", "{}", ":::", "x  y", "$(touch pwned)"] { never: &["pwned"] };
    delimiter_escape: ["-k", "-d", "\\t", "echo", "[{}]"] { stdin: b"a\tb\n\tc" };
    delimiter_nul_escape: ["-k", "-d", "\\0", "echo", "[{}]"] { stdin: b"a\0b\0" };
    delimiter_of_a_file_source: ["-k", "--delimiter", ",", "echo", "{1}{2}", "::::", "csv", ":::", "x"] { files: &[("csv", b"1,2,3")] };
    trim_both_ends: ["-k", "--trim", "lr", "echo", "[{}]"] { stdin: b"  a b \n\tc\n" };
    trim_left: ["-k", "--trim", "l", "echo", "[{}]", ":::", " x ", "y"];
    trim_right_of_columns: ["-k", "--trim", "r", "--colsep", ",", "echo", "[{1}][{2}]"] { stdin: b" a , b \n" };
    trim_none: ["-k", "--trim", "n", "echo", "[{}]", ":::", " x "];
    colsep_columns: ["-k", "--colsep", ",", "echo", "{2}{1}"] { stdin: b"a,b\nc,d\n" };
    colsep_all_columns: ["-k", "--colsep", ",", "echo", "[{}]"] { stdin: b"a,b\nc,d,e\n" };
    colsep_tab: ["-k", "--colsep", "\\t", "echo", "{2}"] { stdin: b"a\tb\nc\td\n" };
    colsep_missing_column: ["-k", "--colsep", ",", "echo", "x{3}y"] { stdin: b"a,b\n" };
    max_args: ["-k", "-n", "2", "echo", ":::", "1", "2", "3", "4", "5"];
    max_args_positional: ["-k", "-n", "2", "echo", "{1}-{2}", ":::", "1", "2", "3", "4", "5"];
    max_args_all: ["-k", "-n", "3", "echo", "[{}]", ":::", "1", "2", "3", "4", "5", "6", "7"];
    max_args_combined_sources: ["-k", "-n", "2", "echo", ":::", "1", "2", "3", ":::", "a", "b"];
    max_args_zero_runs_the_command_as_is: ["-k", "-n", "0", "echo", "foo", ":::", "1", "2", "3"];
    max_args_zero_empty_strings: ["-k", "-N0", "echo", "[{}]", "{#}", ":::", "1", "2"];
    max_args_capital: ["-k", "-N", "2", "echo", "{1}-{2}", ":::", "a", "b", "c"];
    max_args_zero_from_stdin: ["-k", "-N0", "echo", "x"] { stdin: b"a\nb\n" };
    inputs_are_commands: ["-k", ":::", "echo hi", "echo there; echo again"];
    stdin_lines_are_commands: ["-k"] { stdin: b"echo one\necho two | tr o 0\n" };
    template_without_replacement_appends: ["-k", "echo", "pre", ":::", "a b", "c'd"];
    template_words_join: ["-k", "echo", "{}", "and", "{}", ":::", "x"];
    // A replacement string in the first word: the input is the command,
    // and no value is quoted (`cat commands | parallel {}`).
    command_is_the_input: ["-k", "{} x"] { stdin: b"echo a.b c\necho 'd  e'\n" };
    command_is_a_positional_input: ["-k", "{2} {1}", ":::", "b c", ":::", "echo a"];
    command_word_holds_the_input: ["-k", "ec{}", ":::", "ho a  b"];
    command_input_unquoted_everywhere: ["-k", "{} {}", ":::", "echo a  b"];
    command_input_transformed: ["-k", "{.} x", ":::", "echo a.b c"];
    assignment_first_word_still_quotes: ["-k", "V={}; echo \"[$V]\"", ":::", "a  b", "$(touch pwned)"] { never: &["pwned"] };
    empty_args_source: ["echo", ":::"];
    empty_stdin: ["echo"];
    empty_second_source: ["echo", ":::", "a", ":::"];
    many_inputs: ["-k", "echo"] { numbered_stdin: 2000 };

    // Replacement strings.
    no_extension: ["-k", "echo", "{.}", ":::", "a.txt", "dir/b.tar.gz", "sub.dir/bar", ".bashrc", "noext", "/abs/p.q", "dir/", "a/.hidden"];
    basename: ["-k", "echo", "{/}", ":::", "a.txt", "dir/b.tar.gz", "sub.dir/bar", ".bashrc", "noext", "/abs/p.q", "dir/", "a/.hidden"];
    dirname: ["-k", "echo", "{//}", ":::", "a.txt", "dir/b.tar.gz", "sub.dir/bar", ".bashrc", "noext", "/abs/p.q", "dir/", "a/.hidden"];
    basename_no_extension: ["-k", "echo", "{/.}", ":::", "a.txt", "dir/b.tar.gz", "sub.dir/bar", ".bashrc", "noext", "/abs/p.q", "dir/", "a/.hidden"];
    sequence_number: ["-k", "echo", "{#}", "{}", ":::", "a", "b", "c"];
    slot_with_one_job: ["-k", "-j1", "echo", "{%}", ":::", "a", "b", "c"];
    positional_transforms: ["-k", "echo", "{1.}", "{2/}", "{1//}", "{2/.}", ":::", "x/a.b", ":::", "y/c.d"];
    from_the_end: ["-k", "-n", "3", "echo", "{-1}", "{-2}", ":::", "1", "2", "3"];
    literal_braces_stay: ["-k", "echo", "{a}", "{}", "{x}y", "{.", ":::", "x"];
    plus_path_parts: ["-k", "--plus", "echo", "[{+/}][{+.}][{+..}][{+...}][{..}][{...}][{/..}][{/...}]", ":::", "a", "a.b", "/x.y/z", "x.y.z/w.v", ".hid", "d/s/f.e1.e2.e3"];
    plus_total_of_values: ["-k", "--plus", "echo", "{#}", "of", "{##}", ":::", "a", "b", "c"];
    plus_total_in_a_dry_run: ["--dry-run", "-k", "--plus", "echo", "{#}/{##}"] { stdin: b"a\nb\nc\n" };
    plus_choose_k: ["-k", "--plus", "echo", "{#}", "{choose_k}", ":::", "A", "B", "C", "D", ":::", "A", "B", "C", "D"];
    plus_choose_k_compares_text: ["-k", "--plus", "echo", "{choose_k}", ":::", "10", "9", ":::", "9", "10"];
    plus_uniq_in_the_joblog: ["-k", "--plus", "--joblog", "jl", "echo", "{uniq}", ":::", "A", "B", ":::", "A", "B"] { joblog: true };
    plus_padded_seq: ["-k", "--plus", "echo", "{0#}"] { numbered_stdin: 12 };
    plus_total_of_stdin: ["-k", "--plus", "echo", "{#}/{##}"] { stdin: b"a\nb\n" };
    plus_substrings: ["-k", "--plus", "echo", "{:2}", "{:2:3}", "{:9}", "{:-none}", ":::", "abcAaAdef", ""];
    plus_prefix_suffix: ["-k", "--plus", "echo", "{#bc}", "{#abc}", "{##abc}", "{%de}", "{%def}", "{%%def}", ":::", "abcAaAdef"];
    plus_replace: ["-k", "--plus", "echo", "{/def/ghi}", "{//a/X}", "{/#abc/X}", "{/%def/X}", "{/zz/X}", "{/def/}", ":::", "abcAaAdef"];
    plus_case: ["-k", "--plus", "echo", "{^a}", "{^^a}", "{,A}", "{,,A}", ":::", "abcAaAdef"];
    plus_slot: ["-k", "-j1", "--plus", "echo", "{slot}", "{}", ":::", "a", "b"];
    plus_strings_are_text_without_plus: ["-k", "echo", "{+/}", "{..}", "{##}", "{:2}", ":::", "a/b.c"];
    renamed_whole: ["-k", "-I", ",,", "echo", ",,", "{}", "{.}", "{1}", "x,,y", ":::", "a.b"];
    renamed_at_the_start: ["-k", "-I", "@", "@", "x", ":::", "echo a  b"];
    renamed_quoted: ["-k", "-I", "XX", "printf", "[%s]\\n", "XX", ":::", "a b", "$(touch pwned)"] { never: &["pwned"] };
    renamed_transforms: ["-k", "--er", ",,", "--bnr", "@", "--dnr", "%%", "--bner", "::", "echo", ",,", "@", "%%", "::", "{.}", "{}", ":::", "d/a.b"];
    renamed_long_forms: ["-k", "--extensionreplace", ",,", "--basenamereplace", "@", "--dirnamereplace", "%%", "--basenameextensionreplace", "::", "echo", ",,", "@", "%%", "::", ":::", "d/a.b"];
    renamed_seq_and_slot: ["-k", "-j1", "--seqreplace", "SEQ", "--slotreplace", "SLOT", "echo", "SEQ", "SLOT", "{#}", ":::", "a", "b"];
    renamed_longest_first: ["-k", "-I", ",", "--er", ",,", "echo", ",,", ",", ":::", "a.b"];
    awk_braces_stay: ["-k", "echo {} | awk '{print $2}'", ":::", "a b"];

    // Quoting: inputs never run as code and reach the command intact.
    quoting_shell_syntax: ["-k", "printf", "[%s]\\n", "{}", ":::", "it's", "a\"b", "$HOME", "x  y", "*", "; touch pwned", "$(touch pwned)", "`touch pwned`", "a\\b", "-n", "", "|", "&&", "~", "#x"] { never: &["pwned"] };
    quoting_appended: ["-k", "printf", "[%s]\\n", ":::", "$(touch pwned)", "a b", "'"] { never: &["pwned"] };
    quoting_from_stdin: ["-k", "printf", "[%s]\\n"] { stdin: b"$(touch pwned)\n;touch pwned\n\"q\" 'r'\n", never: &["pwned"] };
    quoting_unicode: ["-k", "echo", "{}", ":::", "é", "日本", "naïve café"];
    invalid_utf8_bytes: ["-k", "printf", "%s\\n", "{}", "::::", "bytes"] { files: &[("bytes", b"\xff\xfe\n\xc3(\n")] };
    file_names_with_spaces: ["-k", "cat", ":::", "a b.txt", "c'd.txt"] { files: &[("a b.txt", b"one\n"), ("c'd.txt", b"two\n")] };
    dry_run_quoting: ["--dry-run", "-k", "echo", "{}", ":::", "it's", "a\"b", "$HOME", "x  y", "*", "é", "", "a\\b", "plain", "a=b", "-n", "~user", "a,b", "a%b", "'", "''"];
    dry_run_appended: ["--dry-run", "-k", "wc", "-l", ":::", "a b", "c"];

    // Output.
    stdout_and_stderr_apart: ["-k", "echo out {}; echo err {} >&2", ":::", "a", "b", "c"] { stderr: Some(Order::Exact) };
    tag: ["-k", "--tag", "echo", ":::", "a", "b", ":::", "1", "2"];
    tag_unfinished_line: ["-k", "--tag", "printf 'x\\ny'", ":::", "a"];
    tag_stderr: ["-k", "--tag", "echo err >&2", ":::", "a", "b"] { stderr: Some(Order::Exact) };
    tagstring: ["-k", "--tagstring", "{}-bar", "echo", "foo-{}", ":::", "A", "B", "C"];
    verbose_command_first: ["-k", "-v", "echo", "{}", ":::", "a", "b c", "it's"] { stderr: Some(Order::Exact) };
    verbose_tagged: ["-k", "-v", "--tag", "echo", ":::", "a", "b"];
    trace_on_stderr: ["-j1", "--verbose", "--tag", "echo", ":::", "a", "b"] { stderr: Some(Order::Exact) };
    trace_and_verbose: ["-j1", "-t", "-v", "echo", ":::", "a"] { stderr: Some(Order::Exact) };
    verbose_twice: ["-k", "-v", "-v", "echo", ":::", "a"];
    verbose_line_buffered: ["-j1", "-v", "--lb", "echo x; echo y >&2", ":::", "a", "b"] { stderr: Some(Order::Exact) };
    verbose_no_output: ["-k", "-v", "true", ":::", "a"];
    tagstring_with_numbers: ["-k", "--tagstring", "{#}:{2}", "echo", "x", ":::", "a", "b", ":::", "y"];
    tagstring_line_buffered: ["--lb", "-j1", "--tagstring", "<{}>", "printf 'a\nb'", ":::", "x"];
    shuffled_jobs_all_run: ["--shuf", "echo", ":::", "1", "2", "3", ":::", "a", "b"] { stdout: Order::Lines };
    shuffled_jobs_numbered_as_they_run: ["--shuf", "-j1", "echo", "{#}", ":::", "a", "b", "c"];
    unordered_output_has_the_same_lines: ["-j3", "echo", ":::", "a", "b", "c", "d", "e", "f"] { stdout: Order::Lines };
    large_output_in_order: ["-k", "seq 1 {}", ":::", "100000", "3", "20000"];
    no_output: ["-k", "true", ":::", "a", "b"];
    no_final_newline: ["-k", "printf", "x{}", ":::", "1", "2", "3"];
    line_buffer: ["--line-buffer", "-j2", "echo a{}; sleep 0.{}; echo b{}", ":::", "3", "1"] { stdout: Order::Lines };
    line_buffer_tagged: ["--lb", "--tag", "-j2", "echo a{}; sleep 0.{}; echo b{} >&2", ":::", "3", "1"] { stdout: Order::Lines, stderr: Some(Order::Lines) };

    // Exit status.
    exit_is_the_number_failed: ["exit {}", ":::", "0", "1", "2", "3"];
    all_succeed: ["true", ":::", "1", "2"];
    more_than_100_failed: ["-j8", "false"] { numbered_stdin: 105 };
    killed_by_a_signal_fails: ["kill -9 $$", ":::", "a"];
    missing_program_fails: ["nosuchprogram-xyz", ":::", "a"];
    halt_now_on_failure: ["-j1", "--halt", "now,fail=1", "echo {}; exit {}", ":::", "0", "3", "0", "0"];
    halt_soon_on_failure: ["-j1", "--halt", "soon,fail=1", "echo {}; exit {}", ":::", "0", "3", "0", "0"];
    halt_on_success: ["-j1", "--halt", "now,success=1", "echo {}; exit {}", ":::", "1", "0", "2", "2"];
    halt_when_done: ["-j1", "--halt", "now,done=2", "echo {}; exit {}", ":::", "1", "0", "2", "2"];
    halt_legacy_number: ["-j1", "--halt", "2", "echo {}; exit {}", ":::", "0", "4", "0"];
    halt_never: ["-j1", "--halt", "never", "exit {}", ":::", "1", "1", "0"];
    halt_fail_count_exits_with_the_number: ["-j1", "--halt", "now,fail=2", "exit {}", ":::", "5", "6", "7", "8"];
    halt_fail_count_never_reached: ["-j1", "--halt", "now,fail=3", "exit {}", ":::", "5", "6", "0"];
    halt_fail_percent_of_all: ["-j1", "--halt", "soon,fail=50%", "echo {}; exit {}", ":::", "5", "6", "0", "0"];
    halt_fail_percent_never_reached: ["-j1", "--halt", "soon,fail=30%", "exit {}", ":::", "5", "0", "0", "0"];
    halt_fail_percent_of_stdin: ["-j1", "--halt", "now,fail=50%", "echo {}; exit {}"] { stdin: b"3\n4\n0\n0\n" };
    halt_done_percent: ["-j1", "--halt", "now,done=50%", "echo {}", ":::", "1", "2", "3", "4"];
    halt_short_success: ["-j1", "--halt", "-2", "echo {}; exit {}", ":::", "1", "0", "2"];
    halt_short_percent: ["-j1", "--halt", "50%", "echo {}; exit {}", ":::", "0", "1", "2", "0"];
    halt_killed_job_status: ["-j1", "--halt", "now,fail=1", "kill -9 $$", ":::", "a"];
    retries_run_a_job_n_times: ["--retries", "3", "echo try >> tries; exit 1", ":::", "a"] { same_files: &["tries"] };
    retries_until_success: ["--retries", "3", "echo x >> n; test $(wc -l < n) -ge 2", ":::", "a"];
    timeout_kills: ["--timeout", "0.5", "sleep {}; echo done {}", ":::", "0.1", "5"];

    nice_jobs: ["-k", "--nice", "17", "echo {}; nice", ":::", "a", "b"];
    nice_direct_command: ["-k", "--nice", "5", "nice", ":::", "a"];
    delay_between_starts: ["-k", "--delay", "0.1", "echo", ":::", "a", "b", "c"];
    delay_with_units: ["-k", "--delay", "0.05s", "echo", ":::", "a", "b"];

    // Joblog and resuming.
    joblog_columns: ["-k", "--joblog", "jl", "echo {}; exit {}", ":::", "0", "1", "2"] { joblog: true };
    joblog_signal: ["--joblog", "jl", "kill -9 $$", ":::", "a"] { joblog: true };
    joblog_timeout: ["--joblog", "jl", "--timeout", "0.5", "sleep {}", ":::", "5"] { joblog: true };
    joblog_quoted_command: ["--joblog", "jl", "echo", ":::", "a b"] { joblog: true };
    resume_skips_logged_jobs: ["-j1", "--joblog", "jl", "--resume", "echo run {}; exit {}", ":::", "0", "1", "0", "2"] {
        joblog: true,
        before: &[&["-j1", "--joblog", "jl", "echo {}; exit {}", ":::", "0", "1"]],
    };
    // One slot: which jobs parallel resumes after depends on the order of
    // the joblog's lines, that is on which job finished first.
    resume_failed_reruns_failures: ["-j1", "--joblog", "jl", "--resume-failed", "echo rerun {}", ":::", "0", "1", "0", "2"] {
        joblog: true,
        before: &[&["-j1", "--joblog", "jl", "echo {}; exit {}", ":::", "0", "1", "0"]],
    };

    // Job slots.
    jobs_zero: ["-j0", "echo", ":::", "a", "b", "c"] { stdout: Order::Lines };
    jobs_percent: ["-k", "-j", "50%", "echo", ":::", "a", "b"];
    jobs_plus: ["-k", "-j", "+1", "echo", ":::", "a", "b"];
    jobs_minus: ["-k", "-j", "-1", "echo", ":::", "a", "b"];

    // The shell jobs run with: `$PARALLEL_SHELL`, so bash's exported
    // functions and syntax work.
    exported_function_runs: ["-k", "myfunc", ":::", "a", "b c"] {
        env: &[("PARALLEL_SHELL", "/bin/bash"), ("BASH_FUNC_myfunc%%", "() {  echo \"f [$1] [$2]\"\n}")],
    };
    exported_function_in_a_line: ["-k", "myfunc {} | tr a A", ":::", "a"] {
        env: &[("PARALLEL_SHELL", "/bin/bash"), ("BASH_FUNC_myfunc%%", "() {  echo \"f $1\"\n}")],
    };
    bash_syntax_runs: ["-k", "cat <(echo {}) && [[ {} == a ]] && echo yes", ":::", "a"] {
        env: &[("PARALLEL_SHELL", "/bin/bash")],
    };

    // --csv, -r, --skip-first-line: how input records are read.
    csv_quoted_fields: ["-k", "--csv", "echo", "[{1}]", "[{2}]"] { stdin: b"a,\"b,c\"\n\"d\ne\",f\n" };
    csv_doubled_quotes: ["--csv", "echo", "{1}", "of", "{2}", "at", "{3}"] { stdin: b"\"1 big, 2 small\",\"2\"\"x4\"\" plank\",12.34\n" };
    csv_own_separator: ["--csv", "--colsep", ";", "echo", "Field 1: {1} Field 2: {2}"] { stdin: b"\"Start of field 1 with newline\nLine 2 in field 1\";value 2\n" };
    csv_blocks_end_outside_quotes: ["-k", "--pipe", "--csv", "--block", "10", "cat; echo -"] { stdin: b"a,\"b,c\"\n\"d\ne\",f\ng,h\n" };
    csv_blocks_ignore_n: ["-k", "--pipe", "--csv", "-N1", "cat; echo -"] { stdin: b"a,\"b\nc\"\nd\n" };
    colsep_trims_columns: ["-k", "--colsep", ",", "echo", "[{1}]", "[{2}]"] { stdin: b" a , b \n" };
    colsep_trim_none: ["-k", "--colsep", ",", "--trim", "n", "echo", "[{1}]", "[{2}]"] { stdin: b" a , b \n" };
    blank_inputs_skipped: ["-k", "-r", "echo", "[{}]"] { stdin: b"a\n\n  \nb\n" };
    blank_values_skipped: ["-k", "-r", "echo", "[{}]", ":::", "a", "", " ", "b"];
    blank_lines_out_of_blocks: ["-k", "--pipe", "-r", "-N1", "cat; echo -"] { stdin: b"a\n\n\nb\n  \nc\n" };
    first_line_skipped: ["-k", "--skip-first-line", "echo"] { stdin: b"h\na\nb\n" };
    first_line_skipped_before_blocks: ["-k", "--pipe", "--skip-first-line", "-N1", "cat; echo -"] { stdin: b"h\na\nb\n" };

    // --header: each source's first value names it.
    header_names_sources: ["-k", "--header", ":", "echo", "f1={f1}", "f2={f2}", ":::", "f1", "A", "B", ":::", "f2", "C", "D"];
    header_names_columns: ["-k", "--header", ":", "--colsep", "\\t", "echo", "{b}-{a}", "::::", "t"] { files: &[("t", b"a\tb\n1\t2\n3\t4\n")] };
    header_names_stdin_columns: ["-k", "--header", ":", "--colsep", ",", "echo", "{b}-{a}"] { stdin: b"a,b\n1,2\n" };
    header_name_variants: ["-k", "--header", ":", "echo", "{f.}", "{f/}", "{1}", "{}", ":::", "f", "a/b.c", "d/e.f"];
    header_values_appended: ["-k", "--header", ".*\\n", "echo", ":::", "x", "A", "B"];

    // --results: each job's output in files.
    results_tree: ["--results", "o", "echo {}; echo e{} >&2", ":::", "a", "b c", ":::", "1"] {
        same_files: &["o/1/a/2/1/stdout", "o/1/a/2/1/stderr", "o/1/a/2/1/seq", "o/1/b c/2/1/stdout", "o/1/b c/2/1/seq"],
    };
    results_escaped_values: ["--results", "o/", "echo", ":::", "a/b", "c\\d", ""] {
        same_files: &["o/1/a\\_b/stdout", "o/1/c\\\\d/stdout", "o/1/stdout", "o/1/seq"],
    };
    results_per_column: ["--results", "o", "--colsep", ",", "echo"] {
        stdin: b"a,b\nc,d\n", same_files: &["o/1/a/2/b/stdout", "o/1/c/2/d/seq"],
    };
    results_per_header_name: ["--header", ":", "--results", "o", "echo", "{b}", ":::", "a", "I", ":::", "b", "II"] {
        same_files: &["o/a/I/b/II/stdout"],
    };
    results_named_files: ["--results", "r_{}", "echo {}; echo e >&2; exit 2", ":::", "x", "y"] {
        same_files: &["r_x", "r_x.err", "r_x.seq", "r_y"],
    };
    results_named_folders: ["--results", "r/{#}/", "echo", ":::", "x", "y"] {
        same_files: &["r/1/stdout", "r/2/stdout", "r/2/seq", "r/1/stderr"],
    };

    // Perl: {= =}, --rpl, --parens, --filter (run by perl, as in parallel).
    perl_expression: ["-k", "echo", "{= s:\\.[^.]+$::;s:\\.[^.]+$:: =}", ":::", "foo.tar.gz", "a b.c"];
    perl_total_jobs: ["-k", "echo", "Job {#} of {= $_=total_jobs() =}"] { numbered_stdin: 5 };
    perl_variables_last_from_job_to_job: ["-j1", "echo", "{}", "{= $_ = $n++ =}", ":::", "a", "b", "c"];
    perl_false_values_are_evaluated_again: ["-j1", "echo", "{= $_ = $n++ =}", "{= $_ = $n++ =}", ":::", "a", "b"];
    perl_the_same_twice_in_a_job: ["-k", "echo", "{= $_ .= $m++ =}", "{= $_ .= $m++ =}", ":::", "a", "b"];
    perl_positional: ["-k", "echo", "{=2 $_ = uc =}", "{=-1 $_ .= 1 =}", ":::", "a", ":::", "b"];
    perl_unquoted: ["-k", "echo {= uq() =} | tr a A", ":::", "a b"];
    perl_helpers: ["-k", "echo", "{= $_ = Q($_) . pQ('$x') . seq() . $arg[1] =}", ":::", "a b"];
    perl_skip: ["-k", "--joblog", "jl", "echo", "{= skip() if /a/ =}", ":::", "a", "b"] { joblog: true };
    perl_skip_in_a_dry_run: ["-k", "--dry-run", "echo", "{= skip() if /a/ =}", ":::", "a", "b"];
    perl_in_context_replace: ["-k", "-j1", "-X", "echo", "x{= $_ .= 1 =}y", ":::", "a", "b"];
    perl_values_are_never_code: ["-k", "echo", "{= $_ = length =}", ":::", "@{[ system('touch pwned') ]}", "$(touch pwned)"] { never: &["pwned"] };
    rpl_static: ["-k", "--rpl", "{..} s:\\.[^.]+$::;s:\\.[^.]+$::;", "echo", "{..}", "{1..}", ":::", "foo.tar.gz"];
    rpl_dynamic: ["-k", "--rpl", "{%(.*?)} s/$$1//", "echo", "{%.tar.gz}", ":::", "my.tar.gz"];
    rpl_dynamic_positional: ["-k", "-n3", "--rpl", "{/:%(.*?)} s:.*/(.*)$$1(\\.[^/]+)*$:$1:", "echo", "job", "{#}:", "{2}", "{2.}", "{3/:%_1}", ":::", "a/b.c", "c/d.e", "f/g_1.h.i"];
    rpl_two_groups: ["-k", "--rpl", "{(.*?)/(.*?)} $_=\"$$2$_$$1\"", "echo", "{swap/these}", ":::", "-middle-"];
    rpl_seq: ["-k", "--rpl", "{odd} $_ = seq() % 2 ? \"odd\" : \"even\"", "echo", "{odd}", ":::", "a", "b", "c"];
    parens_of_ones_own: ["-k", "--parens", ",,,,", "echo", "foo is ,,s/I/O/g,,", ":::", "FII"];
    filter_jobs: ["-k", "--filter", "{1} < {2}+1", "echo", ":::", "1", "2", "3", ":::", "1", "2", "3"];
    filter_under_strict: ["-k", "--filter", "{} =~ /b/", "echo", ":::", "ab", "cd"];
    filter_quoted: ["-k", "--filter", "\"{}\" eq \"a b\"", "echo", ":::", "a b", "c"];

    // -m, -X, --xargs: as many inputs per job as fit.
    multiple_spread_over_slots: ["-k", "-j4", "-m", "echo", ":::", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];
    multiple_in_a_word: ["-k", "-j2", "-m", "echo", "pre-{}-post", ":::", "A", "B", "C", "D", "E"];
    context_replace: ["-k", "-j3", "-X", "echo", "pre-{}-post", "{#}", ":::", "A", "B", "C", "D", "E", "F", "G"];
    context_replace_variants: ["-k", "-j1", "-X", "echo", "{.}.png", "d/{/}", ":::", "a.jpg", "x/b c.jpg"];
    context_replace_two_sources: ["-k", "-j1", "-X", "echo", "x{}y", ":::", "a", "b", ":::", "1", "2"];
    context_replace_positional: ["-k", "-j1", "-X", "echo", "{2}:{1}", ":::", "a", "b", "c", "d"];
    context_replace_at_most_n: ["-k", "-X", "-N2", "echo", "{1}+{2}", ":::", "a", "b", "c", "d", "e"];
    xargs_fills_lines: ["-k", "--xargs", "echo"] { numbered_stdin: 30_000 };
    multiple_fills_lines: ["-k", "-j1", "-m", "echo", "{}"] { numbered_stdin: 30_000 };
    context_replace_fills_lines: ["-k", "-j1", "-X", "echo", "x{}y"] { numbered_stdin: 30_000 };
    multiple_quotes_each_value: ["-k", "-j1", "-m", "printf", "'[%s]\\n'", ":::", "a b", "$(touch pwned)", "c'd"] { never: &["pwned"] };

    // --pipe: stdin cut into blocks, each a job's stdin.
    pipe_whole_blocks: ["-k", "--pipe", "wc", "-l"] { numbered_stdin: 300_000 };
    pipe_small_blocks: ["-k", "--pipe", "--block", "20", "tr '\n' ,; echo"] { numbered_stdin: 30 };
    pipe_block_units: ["-k", "--pipe", "--block-size", "1k", "wc", "-c"] { numbered_stdin: 2000 };
    pipe_records: ["-k", "--pipe", "-N3", "tr '\n' ,; echo"] { numbered_stdin: 10 };
    pipe_records_skip_a_border_at_the_start: ["-k", "--pipe", "-N1", "cat; echo -"] { stdin: b"a\n\nb\nc\n" };
    pipe_line_records: ["-k", "--pipe", "-L3", "tr '\n' ,; echo"] { numbered_stdin: 10 };
    pipe_header_lines: ["-k", "--pipe", "--header", "2", "-N1", "cat; echo -"] { stdin: b"h1\nh2\na\nb\nc\n" };
    pipe_header_colon: ["-k", "--pipe", "--header", ":", "-N2", "cat; echo -"] { stdin: b"h\na\nb\nc\n" };
    pipe_header_regex: ["-k", "--pipe", "--header", "(%.*\\n)*", "--block", "20", "cat; echo -"] { stdin: b"%h1\n%h2\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n" };
    pipe_remove_separators: ["-k", "--pipe", "--rrs", "-N2", "cat; echo -"] { numbered_stdin: 5 };
    pipe_remove_record_start_and_end: ["-k", "--pipe", "--recstart", ">", "--recend", "\\n", "--rrs", "cat; echo '|'"] { stdin: b">a\n>b\n" };
    pipe_record_start: ["-k", "--pipe", "--recstart", ">", "-N1", "cat; echo -"] { stdin: b">a\nxx\n>b\nyy\n>c\n" };
    pipe_record_end_and_start: ["-k", "--pipe", "--recend", "\\n", "--recstart", ">", "--block", "10", "cat; echo -"] { stdin: b">a\nxx\n>b\nyy>x\n>c\nzz\n" };
    pipe_record_end: ["-k", "--pipe", "--recend", ",", "-N2", "cat; echo"] { stdin: b"a,b,c,d,e" };
    pipe_long_record_grows_the_block: ["-k", "--pipe", "--block", "8", "cat; echo '|'"] { stdin: b"aaaa\nbb\ncccccccccccccccccccccccc\ndd\ne" };
    pipe_seq_and_empty_value: ["-k", "--pipe", "-N2", "echo {#} {} x; cat"] { numbered_stdin: 5 };
    pipe_empty_input: ["--pipe", "echo", "x"];
    pipe_exit_status_counts_failed_blocks: ["-k", "--pipe", "-N1", "grep -q 2"] { numbered_stdin: 4 };
    pipe_to_a_file: ["-k", "--pipe", "--cat", "-N2", "cat {}; echo -"] { numbered_stdin: 5 };
    pipe_spelled_spreadstdin: ["-k", "--spreadstdin", "-N4", "wc", "-l"] { numbered_stdin: 10 };

    // --round-robin, --fifo, --tee.
    fifo_blocks: ["-k", "--pipe", "--fifo", "-N2", "cat {}; echo -"] { numbered_stdin: 5 };
    fifo_with_wc: ["-k", "--pipe", "--fifo", "--block", "100", "wc -l {} | cut -d' ' -f1"] { numbered_stdin: 100 };
    tee_to_every_job: ["-k", "--pipe", "--tee", "-v", "wc {}", ":::", "-w", "-l"] { numbered_stdin: 5 };
    tee_tagged: ["-k", "--pipe", "--tee", "--tag", "grep {1} | wc {2}", ":::", "1", "2", ":::", "-l", "-c"] { numbered_stdin: 1000 };
    tee_parts_of_files: ["-k", "-a", "f1", "--pipepart", "--tee", "--tag", "grep {1} | wc -l", ":::", "1", "2", "9"] { files: LINES };

    // --group-by: blocks of lines that share a value.
    group_by_column: ["--pipe", "--colsep", ",", "--group-by", "1", "-kN1", "wc"] { stdin: TABLE };
    group_by_column_name: ["--pipe", "--colsep", ",", "--header", ":", "--group-by", "UserID", "-kN1", "wc"] { stdin: TABLE_WITH_HEADER };
    group_by_edited_value: ["--pipe", "--colsep", ",", "--group-by", "UserID s/\\D//g", "-kN1", "wc"] { stdin: TABLE_WITH_HEADER };
    group_by_perl_alone: ["--pipe", "--group-by", "$_ = substr($_, 0, 1)", "-kN1", "tr '\\n' ,; echo"] { stdin: TABLE };
    group_by_groups_per_job: ["--pipe", "--colsep", ",", "--group-by", "1", "-kN2", "wc -l"] { stdin: TABLE };

    // --pipepart: the files cut into parts.
    pipepart_per_slot: ["-k", "-j2", "--pipepart", "-a", "f", "wc", "-l"] { files: FIFTY };
    pipepart_parts_per_slot: ["-k", "-j3", "--pipepart", "--block", "-2", "-a", "f", "wc", "-l"] { files: FIFTY };
    pipepart_block_bytes: ["-k", "--pipepart", "--block", "10", "::::", "f", "cat; echo -"] { files: FIFTY };
    pipepart_two_files: ["-k", "--pipe-part", "--block", "40", "-a", "f", "-a", "f1", "wc", "-l"] { files: FIFTY_AND_LINES };
    pipepart_header: ["-k", "--pipepart", "--header", "1", "--block", "20", "-a", "f", "head -2; echo -"] { files: FIFTY };
    pipepart_record_start: ["-k", "--pipepart", "--recstart", ">", "--block", "3", "-a", "f", "cat; echo -"] { files: &[("f", b">a\nxx\n>b\nyy\n>c\n")] };

    // -u: output straight through.
    ungroup_one_slot: ["-j1", "-u", "echo", ":::", "a", "b"];
    ungroup_ignores_tag: ["-j1", "-u", "--tag", "echo", ":::", "a"];
    ungroup_verbose: ["-j1", "-u", "-v", "echo", ":::", "a", "b"];
    group_conflicts_with_ungroup: ["-j1", "-u", "--group", "echo", ":::", "a"];

    // Options whose effect the output does not show.
    progress_leaves_stdout_alone: ["-k", "--progress", "echo", ":::", "a", "b"];
    eta_leaves_stdout_alone: ["-k", "--eta", "echo", ":::", "a", "b"];
    memfree_enough: ["-k", "--memfree", "1M", "echo", ":::", "a", "b"];
    // (How many slots they give is not compared: under load GNU parallel
    // itself runs fewer. The count is unit-tested in map::cpus.)
    cores_instead_of_threads: ["-k", "--use-cpus-instead-of-cores", "-j", "100%", "echo", ":::", "1", "2"];
    sockets_instead_of_threads: ["-k", "--use-sockets-instead-of-threads", "-j", "100%", "echo", ":::", "1", "2"];

    // Signals a job sends to $PARALLEL_PID: SIGHUP starts nothing more,
    // SIGUSR1 lists the running jobs (on stderr).
    hup_lets_running_jobs_finish: ["-j1", "echo {}; [ {} != 3 ] || kill -HUP $PARALLEL_PID", ":::", "1", "2", "3", "4", "5"];
    usr1_leaves_the_run_alone: ["-k", "-j2", "sleep 0.{}; echo {}; [ {} != 1 ] || kill -USR1 $PARALLEL_PID", ":::", "1", "3"];

    // --tmpl: files filled in for each job (--cleanup removes them).
    tmpl_files_cleaned_up: ["-j1", "--cleanup", "--header", ":", "--tmpl", "t.tmpl={#}.t", "cat {#}.t; ls | grep -c '[.]t$'", ":::", "x", "1.234", "2.345", ":::", "y", "1", "2"] {
        files: &[("t.tmpl", b"X {x} Y {y} D {=x $_=sprintf(\"%.2f\",$_) =} {#}\n")],
    };
    tmpl_files_kept: ["-j1", "--tmpl", "t.tmpl=out-{}", "true", ":::", "a", "b"] {
        files: &[("t.tmpl", b"value {} of job {#}\n")], same_files: &["out-a", "out-b"],
    };

    // Small options of parallel(1).
    minversion_met: ["--minversion", "20170422"];
    minversion_not_met: ["--minversion", "20990101"];
    shell_quote: ["--shell-quote", "echo", "{}", ":::", "a b", "c'd"];
    shell_quote_twice: ["--shell-quote", "--shell-quote", ":::", "x y"];
    process_slot_var: ["-k", "-j1", "--process-slot-var=name", "echo $name {}", ":::", "1", "2"];
    profile_options: ["-J", "prof", "echo", ":::", "a", "b"] {
        files: &[("prof", b"# a comment\n-k --tag\n")], env: &[("PARALLEL_HOME", ".")],
    };
    profile_with_a_command_prefix: ["-J", "pre", "echo", ":::", "a", "b"] {
        files: &[("pre", b"-k nice\n")], env: &[("PARALLEL_HOME", ".")],
    };
    profile_config_by_default: ["echo", ":::", "a", "b"] {
        files: &[("config", b"-k --tagstring x\n")], env: &[("PARALLEL_HOME", ".")],
    };
    retry_failed_reruns_the_joblogs_failures: ["-k", "--retry-failed", "--joblog", "jl", "ignored"] {
        files: &[("jl", b"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n1\t:\t1.0\t0.1\t0\t0\t1\t0\techo one\n2\t:\t1.0\t0.1\t0\t0\t0\t0\techo two\n3\t:\t1.0\t0.1\t0\t0\t0\t9\techo three\n")],
        joblog: true,
    };
    spelled_jl: ["-k", "--jl", "jl", "echo", ":::", "a"] { joblog: true };

    // Other spellings of the same options.
    spelled_max_procs: ["-k", "-P", "2", "--max-procs", "2", "echo", ":::", "a", "b"];
    spelled_halt_on_error: ["-j1", "--halt-on-error", "now,fail=1", "exit {}", ":::", "0", "4", "0"];
    spelled_dryrun: ["--dryrun", "-k", "echo", "{}", ":::", "a b"];
    spelled_linebuffer: ["--linebuffer", "-j1", "echo", ":::", "a", "b"];
    spelled_no_notice: ["--no-notice", "-k", "echo", ":::", "a"];

    // Options from the environment.
    options_from_parallel_env: ["echo", ":::", "a", "b"] { env: &[("PARALLEL", "-k --tag -j 1")] };
    quoted_options_from_parallel_env: ["echo", ":::", "a"] { env: &[("PARALLEL", "-k --tag --halt 'now,fail=1'")] };
}
