//! The terminal output of each `--output` mode, whole, with times masked:
//! what a user reads after a run, pinned line by line.

use crate::support::Project;

const FLOW: &str = r#"
[tasks.first]
cmd = "echo one; echo err >&2"

[tasks.second]
cmd = "printf 'no newline'"
deps = ["first"]

[tasks.third]
cmd = "echo bad; exit 4"
deps = ["second"]

[tasks.fourth]
cmd = "echo never"
deps = ["third"]
"#;

/// `text` with durations (`0.01s`, `3m05s`), speedups and the project's
/// folder replaced by placeholders.
fn masked(text: &str, p: &Project) -> String {
    let text = text.replace(&p.dir.display().to_string(), "<DIR>");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let number_end = tail
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'm' || c == 'h'))
            .unwrap_or(tail.len());
        let (number, after) = tail.split_at(number_end);
        let is_time = number.contains('.') && after.starts_with('s')
            || number.contains('m') && after.starts_with('s');
        let is_ratio = number.contains('.') && after.starts_with('x');
        if is_time {
            out.push_str("<T>");
            rest = &after[1..];
        } else if is_ratio {
            out.push_str("<X>");
            rest = &after[1..];
        } else {
            out.push_str(number);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn run_in_mode(mode: &str) -> (String, String, i32) {
    let p = Project::with_flow(FLOW);
    let run = p.maestro(&["run", "-j", "1", "--output", mode]);
    (masked(&run.stdout, &p), masked(&run.stderr, &p), run.code)
}

const SUMMARY: &str = "\
maestro: 2 ok, 1 failed, 1 not run in <T> (task time <T>, speedup <X>)
critical path (<T>): first -> second -> third
failed: third (log: <DIR>/.maestro/logs/1/third.log)
  | bad
  | maestro: failed: exit 4
";

#[test]
fn grouped_output_whole() {
    let (stdout, stderr, code) = run_in_mode("grouped");
    assert_eq!(code, 1);
    assert_eq!(
        stdout,
        "\
=== first (ok, <T>)
one
err
=== second (ok, <T>)
no newline
=== third (failed: exit 4, <T>)
bad
maestro: failed: exit 4
"
    );
    assert_eq!(stderr, SUMMARY);
}

#[test]
fn stream_output_whole() {
    let (stdout, stderr, code) = run_in_mode("stream");
    assert_eq!(code, 1);
    assert_eq!(
        stdout,
        "\
first  | one
first  | err
=== first (ok, <T>)
second | no newline
=== second (ok, <T>)
third  | bad
=== third (failed: exit 4, <T>)
"
    );
    assert_eq!(stderr, SUMMARY);
}

#[test]
fn quiet_output_whole() {
    let (stdout, stderr, code) = run_in_mode("quiet");
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert_eq!(stderr, SUMMARY);
}

#[test]
fn a_run_where_everything_is_fresh_says_so_in_one_line() {
    let p =
        Project::with_flow("[tasks.make]\ncmd = \"echo x > out.txt\"\noutputs = [\"out.txt\"]\n");
    assert_eq!(p.maestro(&["run"]).code, 0);
    let again = p.maestro(&["run"]);
    assert_eq!(again.stdout, "");
    assert_eq!(
        masked(&again.stderr, &p),
        "maestro: 0 ok, 1 skipped in <T> (task time <T>, speedup <X>)\n"
    );
}

#[test]
fn the_masking_masks_only_times_and_ratios() {
    let p = Project::new();
    let text = format!("took 0.51s and 3m05s, 1.93x faster; exit 4, run 12 in {}", p.dir.display());
    assert_eq!(masked(&text, &p), "took <T> and <T>, <X> faster; exit 4, run 12 in <DIR>");
}
