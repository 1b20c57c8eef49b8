//! `maestro report`: one self-contained HTML page per run. The page (in
//! `page/`) is compiled into the binary; the run goes into it as JSON,
//! format "maestro-report" (documented in docs/report-data.md).

use super::recorded::{RecordedRun, log_end};
use crate::exec::signal_name;
use crate::json::Value;
use crate::shell::shell_quote;
use crate::store::query::AttemptRow;

/// The version of the data the page reads: raised when a field changes
/// meaning or goes away (fields may be added without it).
pub const DATA_VERSION: i64 = 1;

const TEMPLATE: &str = include_str!("page/report.html");
const STYLE: &str = include_str!("page/report.css");
const SCRIPT: &str = include_str!("page/report.js");

/// The page for `recorded`.
pub fn page(recorded: &RecordedRun) -> String {
    let title = format!("maestro {} {}", recorded.run.kind, recorded.run.id);
    TEMPLATE
        .replacen("/*{{css}}*/", STYLE, 1)
        .replacen("/*{{js}}*/", SCRIPT, 1)
        .replacen("{{title}}", &escape_html(&title), 1)
        .replacen("{{data}}", &data(recorded).to_json_for_html(), 1)
}

/// What the page shows, as its JSON data.
pub fn data(recorded: &RecordedRun) -> Value {
    let run = &recorded.run;
    let totals = recorded.totals();
    let critical: std::collections::HashSet<&str> =
        run.critical_path.iter().map(String::as_str).collect();
    let finals = recorded.finals();
    // With workers, the names of the timeline's rows.
    let rows = (!recorded.lanes.is_empty()).then(|| {
        Value::Array((1..=recorded.jobs()).map(|row| recorded.row_name(row).into()).collect())
    });
    let tasks_not_run = |kinds: &[&str]| {
        recorded.not_run.iter().filter(|(why, _)| kinds.contains(&why.as_str())).count() as i64
    };
    let attempts: Vec<Value> = recorded
        .attempts
        .iter()
        .zip(&finals)
        .map(|(attempt, &is_final)| {
            let slots = recorded.slots_of(attempt).into_iter().map(|s| Value::Int(i64::from(s)));
            let log = log_end(&attempt.log, attempt.number, is_final);
            let mut fields = vec![
                ("task", attempt.instance.as_str().into()),
                ("number", attempt.number.into()),
                ("final", is_final.into()),
                ("slots", Value::Array(slots.collect())),
                ("start_ms", recorded.offset_ms(attempt).into()),
                ("duration_ms", recorded.ran_ms(attempt).into()),
            ];
            fields.extend(outcome_fields(attempt));
            fields.extend([
                ("log_tail", log.tail.into()),
                ("log_bytes", log.bytes.map(|b| b as i64).into()),
                ("critical", (is_final && critical.contains(attempt.instance.as_str())).into()),
            ]);
            Value::Object(fields)
        })
        .collect();
    let not_run = recorded.not_run.iter().map(|(why, task)| {
        Value::Object(vec![("task", task.as_str().into()), ("why", why.as_str().into())])
    });
    Value::Object(vec![
        ("format", "maestro-report".into()),
        ("version", DATA_VERSION.into()),
        ("maestro", env!("CARGO_PKG_VERSION").into()),
        (
            "run",
            Value::Object(vec![
                ("id", run.id.into()),
                ("kind", run.kind.as_str().into()),
                ("flow", run.flow.clone().into()),
                ("command_line", command_line(&run.argv).into()),
                ("started_ms", run.started_ms.into()),
                ("ended_ms", run.ended_ms.into()),
                ("status", run.status.as_str().into()),
                ("jobs", i64::from(recorded.jobs()).into()),
                ("rows", rows.into()),
            ]),
        ),
        (
            "summary",
            Value::Object(vec![
                ("wall_ms", totals.wall_ms.into()),
                ("task_ms", totals.task_ms.into()),
                ("speedup", totals.speedup.into()),
                ("utilisation", totals.utilisation.into()),
                ("ok", run.ok.into()),
                ("failed", run.failed.into()),
                ("skipped", tasks_not_run(&["fresh", "resumed", "joblog", "filtered"]).into()),
                ("not_run", tasks_not_run(&["dep_failed", "cancelled"]).into()),
                ("attempts", (recorded.attempts.len() as i64).into()),
                ("critical_ms", totals.critical_ms.into()),
            ]),
        ),
        (
            "critical_path",
            Value::Array(run.critical_path.iter().map(|name| name.as_str().into()).collect()),
        ),
        ("attempts", Value::Array(attempts)),
        ("not_run", Value::Array(not_run.collect())),
    ])
}

/// How an attempt went, as the page and the trace show it.
pub fn outcome_fields(attempt: &AttemptRow) -> Vec<(&'static str, Value)> {
    vec![
        ("status", attempt.status.as_str().into()),
        ("exit_code", attempt.exit_code.into()),
        ("signal", attempt.signal.map(|s| signal_name(s as i32)).into()),
        ("detail", attempt.detail.clone().into()),
        ("command", attempt.command.clone().into()),
        ("job_id", attempt.job_id.clone().into()),
        ("worker", attempt.place.clone().into()),
        ("queued_ms", attempt.queued_us.map(|us| us as f64 / 1000.0).into()),
        ("cpu_ms", attempt.cpu_us.map(|us| us as f64 / 1000.0).into()),
        ("max_rss_kib", attempt.max_rss_kib.into()),
        ("log", (!attempt.log.is_empty()).then(|| attempt.log.clone()).into()),
    ]
}

/// The command line as a user would type it back: `maestro run -j 2`,
/// arguments that need it single-quoted.
pub fn command_line(argv: &[String]) -> String {
    let mut words: Vec<String> = argv
        .iter()
        .map(|word| String::from_utf8_lossy(&shell_quote(word.as_bytes())).into_owned())
        .collect();
    if let Some(program) = words.first_mut()
        && let Some(name) = program.rsplit('/').next()
    {
        *program = name.to_string();
    }
    words.join(" ")
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_has_each_marker_once() {
        for marker in ["/*{{css}}*/", "/*{{js}}*/", "{{title}}", "{{data}}"] {
            assert_eq!(TEMPLATE.matches(marker).count(), 1, "{marker}");
        }
    }

    #[test]
    fn command_lines_read_back() {
        let argv = ["/usr/bin/maestro", "par", "echo a b", "true"].map(String::from);
        assert_eq!(command_line(&argv), "maestro par 'echo a b' true");
    }
}
