//! `maestro history` and `maestro log`: earlier runs, read back from the
//! store, as text or as JSON lines.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{HistoryArgs, LogArgs};
use crate::diag::nearest;
use crate::error::{Error, Result};
use crate::event::format_duration;
use crate::exit_code;
use crate::store::query::{self, RunRow};
use crate::store::{self, RunLock, Store, state_error};

/// `maestro history`.
pub fn history(args: &HistoryArgs) -> Result<i32> {
    let store = open_recorded(args.state.file.as_deref())?;
    let runs =
        query::runs(store.connection(), args.limit).map_err(|e| state_error(store.path(), &e))?;
    let mut out = String::new();
    if args.state.json {
        for run in &runs {
            out.push_str(&run.to_json().to_json());
            out.push('\n');
        }
    } else if runs.is_empty() {
        out.push_str("no runs yet\n");
    } else {
        out.push_str(&history_table(&runs));
    }
    print!("{out}");
    Ok(exit_code::SUCCESS)
}

/// `maestro log`.
pub fn log(args: &LogArgs) -> Result<i32> {
    let store = open_recorded(args.state.file.as_deref())?;
    let conn = store.connection();
    let e = |e: rusqlite::Error| state_error(store.path(), &e);
    if let Some(run) = args.run
        && !query::run_exists(conn, run).map_err(e)?
    {
        return Err(Error::usage(format!("no run {run} (see maestro history)")));
    }
    let Some(attempt) = query::last_attempt(conn, &args.task, args.run).map_err(e)? else {
        let known = query::known_instances(conn).map_err(e)?;
        let message = match args.run {
            Some(run) => format!("task '{}' did not run in run {run}", args.task),
            None => format!("no run of a task named '{}'", args.task),
        };
        return Err(match nearest(&args.task, known.iter().map(String::as_str)) {
            Some(near) => Error::usage_hint(message, format!("did you mean '{near}'?")),
            None => Error::usage(message),
        });
    };
    let text = std::fs::read(&attempt.log).ok().map(|b| String::from_utf8_lossy(&b).into_owned());
    if args.state.json {
        println!("{}", attempt.to_json(text).to_json());
        return Ok(exit_code::SUCCESS);
    }
    match text {
        // Nothing on stdout, where a script reads the log; a person is told.
        Some(text) if text.is_empty() => eprintln!(
            "maestro: '{}' wrote nothing in run {} (attempt {}): its log is empty",
            attempt.instance, attempt.run_id, attempt.number
        ),
        Some(text) => print!("{text}"),
        None if attempt.log.is_empty() => {
            return Err(Error::usage_hint(
                format!(
                    "the output of '{}' in run {} was printed, not kept",
                    attempt.instance, attempt.run_id
                ),
                "maestro map keeps the logs of failed jobs only; --keep-logs keeps them all",
            ));
        }
        None => {
            return Err(Error::usage(format!(
                "the log of '{}' in run {} is gone ({})",
                attempt.instance, attempt.run_id, attempt.log
            )));
        }
    }
    Ok(exit_code::SUCCESS)
}

/// The store that commands reading earlier runs read: beside the flow
/// file `file`, or in `./.maestro`.
pub(super) fn open_recorded(file: Option<&Path>) -> Result<Store> {
    let base = match file {
        Some(file) => {
            let absolute =
                std::path::absolute(file).map_err(|e| Error::io("cannot resolve", file, e))?;
            absolute.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
        }
        None => PathBuf::from("."),
    };
    let dir = store::state_dir(&base);
    if !dir.join("state.db").exists() {
        return Err(Error::usage_hint(
            format!("no runs recorded in {}", dir.display()),
            "runs are recorded beside their flow file; name it with -f FILE",
        ));
    }
    let store = Store::open(&dir)?;
    // Attempts still marked running whose maestro is gone were cut short
    // by a killed maestro: say so rather than show them as running. With
    // nobody running here, that is all of them.
    // Only a note for the reader: when it cannot be written (a full disk),
    // the history is still shown, as it is.
    let marked = match RunLock::try_exclusive(&dir) {
        Ok(Some(_lock)) => store.mark_interrupted(),
        _ => store.mark_gone_runs_interrupted(),
    };
    if let Err(error) = marked {
        eprintln!("maestro: warning: runs cut short are not marked so: {error}");
    }
    Ok(store)
}

fn history_table(runs: &[RunRow]) -> String {
    let mut rows = vec![[
        "run".to_string(),
        "started".to_string(),
        "took".to_string(),
        "status".to_string(),
        "ok".to_string(),
        "failed".to_string(),
        "skipped".to_string(),
        "what".to_string(),
    ]];
    for run in runs {
        let took = run.ended_ms.map_or_else(
            || "-".to_string(),
            |end| format_duration(Duration::from_millis((end - run.started_ms).max(0) as u64)),
        );
        let what = match &run.flow {
            Some(flow) => format!("run {flow}"),
            None => format!("{} {}", run.kind, run.argv.get(2..).unwrap_or_default().join(" ")),
        };
        rows.push([
            run.id.to_string(),
            local_time(run.started_ms),
            took,
            run.status.clone(),
            run.ok.to_string(),
            run.failed.to_string(),
            run.skipped.to_string(),
            what,
        ]);
    }
    let widths: Vec<usize> =
        (0..8).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> =
            row.iter().zip(&widths).map(|(cell, &w)| format!("{cell:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// `2026-11-22 05:06:34`, in the local time zone.
fn local_time(unix_ms: i64) -> String {
    crate::clock::local(unix_ms / 1000, ' ').unwrap_or_else(|| "?".to_string())
}
