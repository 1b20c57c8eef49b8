//! `maestro report --format trace`: a run in the Trace Event Format that
//! ui.perfetto.dev and chrome://tracing open. The run is one process, each
//! job slot a thread, each attempt a complete ("X") event on every slot it
//! held; times are microseconds from the run's start.

use super::html::outcome_fields;
use super::recorded::RecordedRun;
use crate::json::Value;

/// The trace of `recorded`, as JSON text.
pub fn trace(recorded: &RecordedRun) -> String {
    let run = &recorded.run;
    const PID: i64 = 1;
    let mut events =
        vec![metadata("process_name", PID, None, &format!("maestro {} {}", run.kind, run.id))];
    for slot in 1..=recorded.jobs() {
        let tid = Some(i64::from(slot));
        events.push(metadata("thread_name", PID, tid, &recorded.row_name(slot)));
        events.push(Value::Object(vec![
            ("name", "thread_sort_index".into()),
            ("ph", "M".into()),
            ("pid", PID.into()),
            ("tid", i64::from(slot).into()),
            ("args", Value::Object(vec![("sort_index", i64::from(slot).into())])),
        ]));
    }
    for attempt in &recorded.attempts {
        let mut args = vec![("attempt", attempt.number.into())];
        args.extend(outcome_fields(attempt));
        let args = Value::Object(args);
        for slot in recorded.slots_of(attempt) {
            events.push(Value::Object(vec![
                ("name", attempt.instance.as_str().into()),
                ("cat", attempt.status.as_str().into()),
                ("ph", "X".into()),
                ("ts", (recorded.ran_from_ms(attempt) * 1000.0).into()),
                ("dur", (recorded.duration_ms(attempt) * 1000.0).into()),
                ("pid", PID.into()),
                ("tid", i64::from(slot).into()),
                ("args", args.clone()),
            ]));
        }
    }
    let trace = Value::Object(vec![
        ("traceEvents", Value::Array(events)),
        ("displayTimeUnit", "ms".into()),
        (
            "otherData",
            Value::Object(vec![
                ("maestro", env!("CARGO_PKG_VERSION").into()),
                ("run", run.id.into()),
                ("started_ms", run.started_ms.into()),
            ]),
        ),
    ]);
    let mut text = trace.to_json();
    text.push('\n');
    text
}

fn metadata(what: &'static str, pid: i64, tid: Option<i64>, name: &str) -> Value {
    let mut fields = vec![("name", what.into()), ("ph", "M".into()), ("pid", pid.into())];
    if let Some(tid) = tid {
        fields.push(("tid", tid.into()));
    }
    fields.push(("args", Value::Object(vec![("name", name.into())])));
    Value::Object(fields)
}
