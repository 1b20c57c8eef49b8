//! `maestro report`: the HTML page, opened in a real browser, and the trace.

use crate::support::{Project, artifacts_dir, python, render, report_data, screenshot};

/// Every kind of bar: ok, failed then retried, failed for good, timed out,
/// a task on two slots, a task that never ran, and a log that is HTML.
const FLOW: &str = r#"
jobs = 3

[tasks.fetch]
cmd = "echo fetched; sleep 0.3"

[tasks.flaky]
cmd = "test -e flaky.ok || { touch flaky.ok; echo first try; exit 1; }; echo second try"
retries = 1

[tasks.wide]
cmd = "sleep 0.2"
cpus = 2
deps = ["fetch"]

[tasks.slow]
cmd = "sleep 5"
timeout = "300ms"

[tasks.broken]
cmd = "echo '<script>document.title = \"pwned\"</script> & <b>bold</b>'; exit 3"
deps = ["fetch"]

[tasks.after]
cmd = "true"
deps = ["broken"]
"#;

/// (attempts, bars): bars count one per slot an attempt held.
const ATTEMPTS: usize = 6;
const BARS: usize = 7;

fn run_flow(p: &Project) {
    let run = p.maestro(&["run", "-k", "--report", "run.html"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(p.path("run.html").exists(), "{}", run.stderr);
}

#[test]
#[cfg_attr(no_chromium, ignore = "needs chromium (apt-get install chromium)")]
fn the_page_renders_every_attempt_with_no_console_errors() {
    let p = Project::with_flow(FLOW);
    run_flow(&p);
    let page = p.path("run.html");
    let rendered = render(&page);
    assert!(rendered.dom.contains("data-ready=\"1\""), "not rendered: {}", head(&rendered.dom));
    assert_eq!(rendered.console, Vec::<String>::new(), "console output");
    assert_eq!(count(&rendered.dom, "class=\"bar"), BARS, "bars: {}", head(&rendered.dom));
    // The log's HTML stays text: no element came from it.
    assert!(!rendered.dom.contains("<b>bold</b>"), "log text became markup");
    assert!(!rendered.dom.contains("<title>pwned"), "a script from the log ran");
    for task in ["fetch", "flaky", "wide", "slow", "broken"] {
        assert!(rendered.dom.contains(task), "{task} missing from the page");
    }
    let png = artifacts_dir().join("report.png");
    screenshot(&page, &png);
    eprintln!("screenshot: {}", png.display());
}

#[test]
fn the_page_holds_the_run_as_documented_data() {
    let p = Project::with_flow(FLOW);
    run_flow(&p);
    let html = p.read("run.html");
    let checks = python(
        r#"
import json, sys
data = json.loads(sys.stdin.read())
assert data["format"] == "maestro-report" and data["version"] == 1, data["format"]
run, summary, attempts = data["run"], data["summary"], data["attempts"]
assert run["kind"] == "run" and run["status"] == "failed" and run["jobs"] == 3, run
by = {}
for a in attempts:
    by.setdefault(a["task"], []).append(a)
assert [a["status"] for a in by["flaky"]] == ["failed", "ok"], by["flaky"]
assert [a["final"] for a in by["flaky"]] == [False, True]
assert by["flaky"][0]["log_tail"] == "first try\nmaestro: failed: exit 1\n", by["flaky"][0]["log_tail"]
assert by["flaky"][1]["log_tail"] == "second try\n", by["flaky"][1]["log_tail"]
assert len(by["wide"][0]["slots"]) == 2, by["wide"]
assert by["slow"][0]["status"] == "timed_out", by["slow"]
assert by["broken"][0]["exit_code"] == 3 and "<script>" in by["broken"][0]["log_tail"]
assert by["broken"][0]["log_bytes"] == len(by["broken"][0]["log_tail"].encode()), by["broken"][0]
assert by["flaky"][0]["log_bytes"] > len(by["flaky"][0]["log_tail"]), by["flaky"][0]
assert by["fetch"][0]["critical"] and by["fetch"][0]["max_rss_kib"] > 0
assert by["fetch"][0]["command"] == "echo fetched; sleep 0.3"
assert data["not_run"] == [{"task": "after", "why": "dep_failed"}], data["not_run"]
assert summary["ok"] == 3 and summary["failed"] == 2 and summary["not_run"] == 1, summary
assert summary["attempts"] == len(attempts) == 6
assert 0 < summary["utilisation"] <= 1 and summary["speedup"] > 0, summary
assert summary["task_ms"] >= summary["critical_ms"] > 0, summary
assert data["critical_path"][0] == "fetch", data["critical_path"]
print(len(attempts))
"#,
        report_data(&html),
    );
    assert_eq!(checks.trim(), ATTEMPTS.to_string());
}

#[test]
fn the_trace_has_a_track_per_slot_and_an_event_per_bar() {
    let p = Project::with_flow(FLOW);
    run_flow(&p);
    let trace = p.maestro(&["report", "--format", "trace", "-o", "-"]);
    assert_eq!(trace.code, 0, "{}", trace.stderr);
    let checks = python(
        r#"
import json, sys
trace = json.loads(sys.stdin.read())
events = trace["traceEvents"]
threads = sorted(e["args"]["name"] for e in events if e["name"] == "thread_name")
assert threads == ["slot 1", "slot 2", "slot 3"], threads
complete = [e for e in events if e["ph"] == "X"]
for e in complete:
    assert e["ts"] >= 0 and e["dur"] >= 0 and e["tid"] in (1, 2, 3), e
slow = [e for e in complete if e["name"] == "slow"][0]
assert slow["cat"] == "timed_out" and 250_000 <= slow["dur"] < 5_000_000, slow
print(len(complete))
"#,
        &trace.stdout,
    );
    assert_eq!(checks.trim(), BARS.to_string());
}

#[test]
fn report_writes_where_asked_and_says_what_is_wrong() {
    let p = Project::with_flow("[tasks.a]\ncmd = \"true\"\n");
    let none = p.maestro(&["report"]);
    assert_eq!(none.code, 2);
    assert!(none.stderr.contains("no runs recorded in"), "{}", none.stderr);
    assert_eq!(p.maestro(&["run"]).code, 0);
    let default = p.maestro(&["report"]);
    assert_eq!(default.code, 0, "{}", default.stderr);
    assert!(default.stderr.contains("wrote report.html (run 1)"), "{}", default.stderr);
    assert!(
        p.read("report.html").starts_with("<!DOCTYPE html>")
            || p.read("report.html").starts_with("<!doctype html>")
    );
    let trace = p.maestro(&["report", "1", "--format", "trace"]);
    assert!(trace.stderr.contains("wrote trace.json (run 1)"), "{}", trace.stderr);
    let missing = p.maestro(&["report", "7"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("no run 7 (see maestro history)"), "{}", missing.stderr);
    let bad_dir = p.maestro(&["report", "-o", "nowhere/r.html"]);
    assert_eq!(bad_dir.code, 2);
    assert!(bad_dir.stderr.contains("cannot write nowhere/r.html"), "{}", bad_dir.stderr);
    // --report is checked before anything runs.
    let early = p.maestro(&["run", "--report", "nowhere/r.html"]);
    assert_eq!(early.code, 2);
    assert!(
        early.stderr.contains("--report nowhere/r.html: no directory nowhere"),
        "{}",
        early.stderr
    );
    assert!(!p.path(".maestro/logs/2").exists(), "the run went ahead");
    let stdout = p.maestro(&["report", "-o", "-"]);
    assert!(stdout.stdout.contains("id=\"maestro-data\""));
}

#[test]
fn par_and_map_write_reports_too() {
    let p = Project::new();
    let par = p.maestro(&["par", "--report", "par.html", "echo a", "echo b"]);
    assert_eq!(par.code, 0, "{}", par.stderr);
    assert!(p.read("par.html").contains("\"kind\":\"par\""));
    let map = p.maestro(&["map", "--report", "map.html", "echo {}", ":::", "x", "y", "z"]);
    assert_eq!(map.code, 0, "{}", map.stderr);
    let html = p.read("map.html");
    assert!(html.contains("\"kind\":\"map\"") && html.contains("\"command\":\"echo z\""), "{html}");
}

#[test]
#[cfg_attr(no_chromium, ignore = "needs chromium (apt-get install chromium)")]
fn ten_thousand_attempts_render() {
    let p = Project::new();
    let inputs: String = (1..=10_000).map(|i| format!("{i}\n")).collect();
    p.file("inputs.txt", &inputs);
    let map = p.maestro(&["map", "-j", "8", "--report", "big.html", "-a", "inputs.txt", "true"]);
    assert_eq!(map.code, 0, "{}", map.stderr);
    let started = std::time::Instant::now();
    let rendered = render(&p.path("big.html"));
    let took = started.elapsed();
    assert!(rendered.dom.contains("data-ready=\"1\""), "not rendered");
    assert_eq!(rendered.console, Vec::<String>::new(), "console output");
    assert_eq!(count(&rendered.dom, "class=\"bar"), 10_000);
    let render_ms =
        rendered.dom.split("data-render-ms=\"").nth(1).and_then(|s| s.split('"').next());
    eprintln!(
        "10,000 attempts: chromium took {took:?} in all; the page says it rendered in {render_ms:?} ms"
    );
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

fn head(text: &str) -> &str {
    &text[..text.len().min(3000)]
}

#[test]
#[cfg_attr(no_chromium, ignore = "needs chromium (apt-get install chromium)")]
fn a_run_where_nothing_ran_reports_so() {
    let p =
        Project::with_flow("[tasks.make]\ncmd = \"echo x > out.txt\"\noutputs = [\"out.txt\"]\n");
    assert_eq!(p.maestro(&["run"]).code, 0);
    let fresh = p.maestro(&["run", "--report", "fresh.html"]);
    assert_eq!(fresh.code, 0, "{}", fresh.stderr);
    let html = p.read("fresh.html");
    assert!(
        html.contains("\"attempts\":[]") && html.contains("{\"task\":\"make\",\"why\":\"fresh\"}"),
        "{html}"
    );
    let rendered = render(&p.path("fresh.html"));
    assert!(rendered.dom.contains("data-ready=\"1\""), "not rendered");
    assert_eq!(rendered.console, Vec::<String>::new(), "console output");
    assert_eq!(count(&rendered.dom, "class=\"bar"), 0);
    assert!(rendered.dom.contains("Nothing ran in this run."), "{}", head(&rendered.dom));
}
