//! `maestro report`, and `--report FILE` at the end of a run: a recorded
//! run written out as an HTML page or a trace.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::{ReportArgs, ReportFormat};
use crate::error::{Error, Result};
use crate::exit_code;
use crate::report::recorded::RecordedRun;
use crate::report::{html, trace};
use crate::store::{Store, state_error};

/// `maestro report`.
pub fn report(args: &ReportArgs) -> Result<i32> {
    let store = super::history::open_recorded(args.file.as_deref())?;
    let recorded = load(&store, args.run)?;
    let default_name = match args.format {
        ReportFormat::Html => "report.html",
        ReportFormat::Trace => "trace.json",
    };
    let output = args.output.clone().unwrap_or_else(|| PathBuf::from(default_name));
    let text = match args.format {
        ReportFormat::Html => html::page(&recorded),
        ReportFormat::Trace => trace::trace(&recorded),
    };
    if output == Path::new("-") {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).map_err(|e| Error::io("cannot write", "stdout", e))?;
    } else {
        write_whole(&output, &text)?;
        eprintln!("maestro: wrote {} (run {})", output.display(), recorded.run.id);
    }
    Ok(exit_code::SUCCESS)
}

/// `--report FILE`, before the run: a report that could not be written
/// is found out now, not after the run.
pub fn check_destination(path: &Path) -> Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if path.file_name().is_none() || path.is_dir() {
        return Err(Error::usage(format!("--report {}: not a file name", path.display())));
    }
    if !parent.is_dir() {
        return Err(Error::usage(format!(
            "--report {}: no directory {}",
            path.display(),
            parent.display()
        )));
    }
    Ok(())
}

/// `--report FILE`, after the run: the HTML report of run `run`, just
/// recorded in `store`. A failure is reported, and the run's exit status
/// stands.
pub fn write_after_run(store: &Store, run: u64, output: &Path) {
    let written = load(store, Some(run as i64))
        .and_then(|recorded| write_whole(output, &html::page(&recorded)));
    if let Err(error) = written {
        eprint!("{}", error.render().replacen("error:", "error: --report:", 1));
    }
}

fn load(store: &Store, run: Option<i64>) -> Result<RecordedRun> {
    let loaded =
        RecordedRun::load(store.connection(), run).map_err(|e| state_error(store.path(), &e))?;
    loaded.ok_or_else(|| match run {
        Some(run) => Error::usage(format!("no run {run} (see maestro history)")),
        None => Error::usage("no runs recorded yet"),
    })
}

/// Writes `text` to `path` whole or not at all: into a temporary file
/// beside it, then renamed over it.
fn write_whole(path: &Path, text: &str) -> Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::usage(format!("{}: not a file name", path.display())))?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(name);
    temporary_name.push(format!(".{}.tmp", std::process::id()));
    let temporary = path.with_file_name(temporary_name);
    let written = std::fs::write(&temporary, text).and_then(|()| std::fs::rename(&temporary, path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        Error::io("cannot write", path, e)
    })
}
