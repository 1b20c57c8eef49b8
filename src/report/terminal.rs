//! The terminal during a run: each task's output (grouped, streamed or not
//! at all), the live status line, and the summary at the end.
//!
//! Task output goes to stdout; maestro's own words (status, summary) to
//! stderr, so `maestro run > out.txt` keeps only what the tasks printed.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use super::status::{StatusLine, stderr_is_rich};
use crate::event::{Attempt, Event, Observer, Outcome, RunSummary, format_duration};
use crate::exec::signal_name;
use crate::graph::Graph;

/// How task output is shown (`--output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// A task's whole output at once when it ends, under a header line.
    Grouped,
    /// Lines as they come, prefixed with the task's name.
    Stream,
    /// Nothing but the summary.
    Quiet,
}

/// Stream mode: an unfinished line is printed, cut, once it is this long.
pub const LONGEST_LINE: usize = 64 * 1024;

/// Lines of a failed task's log shown in the summary.
const FAILURE_TAIL_LINES: usize = 10;
/// Characters of each such line shown.
const FAILURE_LINE_CHARS: usize = 300;
/// Bytes read from the end of a failed task's log for those lines.
const FAILURE_TAIL_BYTES: u64 = 16 * 1024;

/// Prints a run on the terminal.
pub struct TerminalReporter<'a> {
    graph: &'a Graph,
    mode: OutputMode,
    rich: bool,
    status: Option<StatusLine>,
    status_dirty: bool,
    total: usize,
    done: usize,
    failed: usize,
    running: Vec<(usize, Instant)>,
    /// Bytes of each log already shown, while its instance may still retry
    /// (retries append to the same log).
    shown: HashMap<usize, u64>,
    /// Stream mode: an instance's incomplete last line.
    partial: HashMap<usize, Vec<u8>>,
    prefix_width: usize,
    /// The log of each instance whose last attempt failed, for the
    /// summary (only those: a big run's paths would weigh megabytes).
    failed_logs: HashMap<usize, std::path::PathBuf>,
    /// For the ETA, when durations are known.
    eta: Option<EtaModel>,
    /// Instances done with (ran, skipped or not run).
    finished: Vec<bool>,
}

/// What the ETA is computed from.
struct EtaModel {
    /// Estimated duration of each instance.
    estimates: Vec<Duration>,
    /// Estimated longest remaining path from each instance, itself included.
    paths: Vec<Duration>,
    jobs: u32,
}

impl<'a> TerminalReporter<'a> {
    /// A reporter for a run of `graph` in `mode`.
    pub fn new(graph: &'a Graph, mode: OutputMode) -> TerminalReporter<'a> {
        let rich = stderr_is_rich();
        let prefix_width = (0..graph.instances.len())
            .map(|i| graph.label(i).chars().count())
            .max()
            .unwrap_or(0)
            .min(24);
        TerminalReporter {
            graph,
            mode,
            rich,
            status: rich.then(StatusLine::default),
            status_dirty: false,
            total: 0,
            done: 0,
            failed: 0,
            running: Vec::new(),
            shown: HashMap::new(),
            partial: HashMap::new(),
            prefix_width,
            failed_logs: HashMap::new(),
            eta: None,
            finished: vec![false; graph.instances.len()],
        }
    }

    /// Shows an ETA on the status line, from each instance's estimated
    /// duration and longest remaining path (see `estimate` and
    /// `Graph::remaining_path`).
    pub fn with_eta(mut self, estimates: Vec<Duration>, paths: Vec<Duration>, jobs: u32) -> Self {
        self.eta = Some(EtaModel { estimates, paths, jobs });
        self
    }

    /// The time left: the longer of the longest remaining chain and the
    /// remaining work spread over the slots, running tasks counted from
    /// how long they have run.
    fn eta(&self) -> Option<Duration> {
        let model = self.eta.as_ref()?;
        let now = Instant::now();
        let spent_so_far: HashMap<usize, Duration> =
            self.running.iter().map(|&(i, since)| (i, now - since)).collect();
        let mut critical = Duration::ZERO;
        let mut work = Duration::ZERO;
        for i in (0..self.finished.len()).filter(|&i| !self.finished[i]) {
            let spent = spent_so_far.get(&i).copied().unwrap_or_default();
            critical = critical.max(model.paths[i].saturating_sub(spent));
            work += model.estimates[i].saturating_sub(spent);
        }
        Some(crate::estimate::remaining(critical, work, model.jobs))
    }

    fn label(&self, instance: usize) -> &str {
        self.graph.label(instance)
    }

    /// Writes to stdout with the status line out of the way.
    fn print(&mut self, bytes: &[u8]) {
        if let Some(status) = &mut self.status {
            status.clear();
            self.status_dirty = true;
        }
        let mut out = io::stdout().lock();
        // A closed stdout (`maestro run | head`) must not stop the run.
        let _ = out.write_all(bytes);
        let _ = out.flush();
    }

    fn header(&self, instance: usize, attempt: &Attempt, will_retry: bool) -> Vec<u8> {
        let mut status = attempt.outcome.to_string();
        if self.rich {
            let colour = if attempt.outcome.succeeded() { "32" } else { "31" };
            status = format!("\x1b[{colour}m{status}\x1b[0m");
        }
        let retries = self.graph.settings_of(instance).retries;
        let retry_note = if will_retry {
            format!("; retrying, attempt {} of {}", attempt.number + 1, retries + 1)
        } else {
            String::new()
        };
        let label = self.label(instance);
        let label = if self.rich { format!("\x1b[1m{label}\x1b[0m") } else { label.to_string() };
        let ran = format_duration(attempt.duration);
        // A wait too short to print as more than 0.00s is not worth a word.
        let waited = if attempt.queued < std::time::Duration::from_millis(5) {
            String::new()
        } else {
            format!(" after {} in the queue", format_duration(attempt.queued))
        };
        format!("=== {label} ({status}, {ran}{waited}{retry_note})\n").into_bytes()
    }

    /// Grouped mode: the header, then what the attempt added to its log,
    /// copied from the file to stdout (in the kernel where it can be), so
    /// that output of any size takes no memory.
    fn replay(&mut self, instance: usize, attempt: &Attempt, will_retry: bool) {
        let header = self.header(instance, attempt, will_retry);
        self.print(&header);
        let offset = self.shown.get(&instance).copied().unwrap_or(0);
        let Ok(mut log) = File::open(&attempt.log) else { return };
        if log.seek(SeekFrom::Start(offset)).is_err() {
            return;
        }
        let mut out = io::stdout().lock();
        // A closed stdout (`maestro run | head`) must not stop the run.
        let copied = io::copy(&mut log, &mut out).unwrap_or(0);
        self.shown.insert(instance, offset + copied);
        let mut last = [0u8];
        let ends_a_line = copied == 0
            || (log.read_at(&mut last, offset + copied - 1).is_ok() && last[0] == b'\n');
        if !ends_a_line {
            let _ = out.write_all(b"\n");
        }
        let _ = out.flush();
    }

    /// Stream mode: whole lines, each under its task's name. Only the new
    /// bytes are looked at for a newline (output drawn with `\r` has none
    /// for megabytes), and a line longer than [`LONGEST_LINE`] is cut.
    fn stream(&mut self, instance: usize, bytes: &[u8]) {
        let mut partial = self.partial.remove(&instance).unwrap_or_default();
        let ready = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(end) => {
                partial.extend_from_slice(&bytes[..=end]);
                let rest = bytes[end + 1..].to_vec();
                Some(std::mem::replace(&mut partial, rest))
            }
            None => {
                partial.extend_from_slice(bytes);
                None
            }
        };
        if let Some(lines) = ready {
            let text = self.prefixed(instance, &lines);
            self.print(&text);
        }
        while partial.len() >= LONGEST_LINE {
            let mut piece: Vec<u8> = partial.drain(..LONGEST_LINE).collect();
            piece.push(b'\n');
            let text = self.prefixed(instance, &piece);
            self.print(&text);
        }
        if !partial.is_empty() {
            self.partial.insert(instance, partial);
        }
    }

    fn flush_partial(&mut self, instance: usize) {
        if let Some(mut rest) = self.partial.remove(&instance) {
            rest.push(b'\n');
            let text = self.prefixed(instance, &rest);
            self.print(&text);
        }
    }

    fn prefixed(&self, instance: usize, lines: &[u8]) -> Vec<u8> {
        let label: String = self.label(instance).chars().take(self.prefix_width).collect();
        let prefix = format!("{label:<width$} | ", width = self.prefix_width);
        let mut out = Vec::with_capacity(lines.len() + 32);
        for line in lines.split_inclusive(|&b| b == b'\n') {
            out.extend_from_slice(prefix.as_bytes());
            out.extend_from_slice(line);
        }
        out
    }

    fn redraw_status(&mut self) {
        let eta = if self.status.is_some() { self.eta() } else { None };
        let Some(status) = &mut self.status else { return };
        let running: Vec<(&str, Instant)> =
            self.running.iter().map(|&(i, since)| (self.graph.label(i), since)).collect();
        status.draw(self.done, Some(self.total), self.failed, eta, &running);
        self.status_dirty = false;
    }

    fn summary(&mut self, summary: &RunSummary) {
        if let Some(status) = &mut self.status {
            status.clear();
        }
        let mut text = String::new();
        let mut counts = vec![format!("{} ok", summary.succeeded)];
        if !summary.failed.is_empty() {
            counts.push(format!("{} failed", summary.failed.len()));
        }
        if summary.skipped > 0 {
            counts.push(format!("{} skipped", summary.skipped));
        }
        if summary.interrupted > 0 {
            counts.push(format!("{} interrupted", summary.interrupted));
        }
        let not_run = summary.dep_failed + summary.cancelled;
        if not_run > 0 {
            counts.push(format!("{not_run} not run"));
        }
        let speedup = if summary.wall.is_zero() || summary.task_time.is_zero() {
            1.0
        } else {
            summary.task_time.as_secs_f64() / summary.wall.as_secs_f64()
        };
        text.push_str(&format!(
            "maestro: {} in {} (task time {}, speedup {speedup:.2}x)\n",
            counts.join(", "),
            format_duration(summary.wall),
            format_duration(summary.task_time),
        ));
        if summary.critical_path.len() > 1 {
            let names: Vec<&str> = summary.critical_path.iter().map(|&i| self.label(i)).collect();
            text.push_str(&format!(
                "critical path ({}): {}\n",
                format_duration(summary.critical_time),
                names.join(" -> ")
            ));
        }
        for &instance in &summary.failed {
            text.push_str(&self.failure_details(instance));
        }
        let mut err = io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }

    /// A failed task's name, its log's path and last lines (read from the
    /// log's end only, each cut to [`FAILURE_LINE_CHARS`]).
    fn failure_details(&self, instance: usize) -> String {
        let Some(log) = self.failed_logs.get(&instance) else { return String::new() };
        let mut text = format!("failed: {} (log: {})\n", self.label(instance), log.display());
        let (tail, cut) = log_tail(log);
        let tail = String::from_utf8_lossy(&tail);
        let mut lines: Vec<&str> = tail.lines().collect();
        if cut && lines.len() > 1 {
            lines.remove(0);
        }
        for line in &lines[lines.len().saturating_sub(FAILURE_TAIL_LINES)..] {
            match line.char_indices().nth(FAILURE_LINE_CHARS) {
                Some((end, _)) => text.push_str(&format!("  | {}…\n", &line[..end])),
                None => text.push_str(&format!("  | {line}\n")),
            }
        }
        text
    }
}

/// The last [`FAILURE_TAIL_BYTES`] of `log`, and whether that is not all
/// of it.
fn log_tail(log: &std::path::Path) -> (Vec<u8>, bool) {
    let Ok(file) = File::open(log) else { return (Vec::new(), false) };
    let size = file.metadata().map_or(0, |m| m.len());
    let start = size.saturating_sub(FAILURE_TAIL_BYTES);
    let mut tail = vec![0; (size - start) as usize];
    let read = file.read_at(&mut tail, start).unwrap_or(0);
    tail.truncate(read);
    (tail, start > 0)
}

impl Observer for TerminalReporter<'_> {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::RunStarted { total, .. } => self.total = *total,
            Event::AttemptStarted { instance, .. } => {
                self.running.push((*instance, Instant::now()));
                self.status_dirty = true;
            }
            Event::Output { instance, bytes } => {
                if self.mode == OutputMode::Stream {
                    self.stream(*instance, bytes);
                }
            }
            Event::AttemptFinished { instance, attempt, will_retry } => {
                self.running.retain(|(i, _)| i != instance);
                if attempt.outcome.succeeded() {
                    self.failed_logs.remove(instance);
                } else {
                    self.failed_logs.insert(*instance, attempt.log.clone());
                }
                match self.mode {
                    OutputMode::Grouped => self.replay(*instance, attempt, *will_retry),
                    OutputMode::Stream => {
                        self.flush_partial(*instance);
                        let header = self.header(*instance, attempt, *will_retry);
                        self.print(&header);
                    }
                    OutputMode::Quiet => {}
                }
                if !*will_retry {
                    self.shown.remove(instance);
                    self.finished[*instance] = true;
                    self.done += 1;
                    if !attempt.outcome.succeeded() && attempt.outcome != Outcome::Interrupted {
                        self.failed += 1;
                    }
                }
                self.status_dirty = true;
            }
            // Skipped instances are counted, not listed: a run that finds
            // everything fresh says so in one summary line.
            Event::NotRun { instance, .. } | Event::Skipped { instance, .. } => {
                self.finished[*instance] = true;
                self.done += 1;
                self.status_dirty = true;
            }
            Event::Remember { .. } => {}
            Event::Interrupted { signal, forced, grace } => {
                if let Some(status) = &mut self.status {
                    status.clear();
                }
                let what = if *forced {
                    "killing running tasks now".to_string()
                } else {
                    format!(
                        "stopping: waiting for running tasks (SIGKILL in {}; {} again to kill now)",
                        format_duration(*grace),
                        if *signal == libc::SIGINT {
                            "Ctrl-C".to_string()
                        } else {
                            signal_name(*signal)
                        }
                    )
                };
                eprintln!("maestro: {} received, {what}", signal_name(*signal));
            }
            Event::Tick => {
                if self.status_dirty || !self.running.is_empty() {
                    self.redraw_status();
                }
            }
            Event::RunFinished { summary } => self.summary(summary),
        }
    }

    fn tick_interval(&self) -> Option<Duration> {
        self.status.as_ref().map(|_| Duration::from_millis(100))
    }
}
