//! A `map` run as work for the one loop ([`crate::runner`]): jobs taken
//! from the inputs as job slots free up, each finished job printed and
//! written to the joblog, `--halt` and `--timeout N%` decided here. How
//! attempts start, end, time out, retry and stop is the loop's, as for
//! `run` and `par`. Every attempt is recorded through an [`Observer`] (the
//! store's recorder).
//!
//! A job's stdout and stderr go straight into a pair of files ([`Capture`]),
//! printed from there when it ends and emptied for a later job; a failed
//! job's (every job's with `--keep-logs`) are saved first as its log,
//! `.maestro/logs/<run>/<seq>.log`. With `--line-buffer`, both come through
//! maestro as well: it prints whole lines as they arrive.

mod progress;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fs;
use std::io::{self, Write};
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use super::args::Timeout;
use super::feed::JobSource;
use super::feed::{Feed, Next};
use super::halt::{Halt, HaltOn, HaltWhen, Tally, Threshold};
use super::inputs::{InputError, Job};
use super::job::{Capture, NotBuilt, WithPerl, command_for, command_with_perl, fill};
use super::joblog::{Entry, Joblog, Previous};
use super::output::{JobOutput, Lines, Piece, Printer};
use super::results::Keep;
use crate::event::{Attempt, Event, Observer, Outcome, RunSummary, Skip};
use crate::exec::{Executor, Launch, Output, OutputFiles, Request, Stdin, Termination, Watch};
use crate::report::status::{StatusLine, stderr_is_rich};
use crate::runner::reactor::Reactor;
use crate::runner::supervisor::{Backoff, Ended, Limits, RetryPolicy};
use crate::runner::{
    Control, Interrupt, LoopError, SignalAction, Stop, TermStep, Verdict, Work, drive,
};
use crate::shell::Shell;
use crate::template::Template;
use std::os::unix::ffi::OsStringExt;

/// `--resume` and `--resume-failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Run every job.
    No,
    /// Skip the jobs the joblog lists.
    All,
    /// Skip the jobs the joblog lists as succeeded.
    Failed,
    /// `--retry-failed`: the jobs are the joblog's failed ones (append to
    /// it, skip nothing).
    Retry,
}

/// What a `map` run is asked to do, beyond its inputs.
#[derive(Debug, Clone)]
pub struct MapConfig {
    /// The template; `None` when each input is a command.
    pub template: Option<Template>,
    /// Job slots.
    pub jobs: u32,
    /// `-k`.
    pub keep_order: bool,
    /// `--tag`, `--tagstring`: what goes before each output line.
    pub tag: Option<Tag>,
    /// `--shuf`: the jobs run in a random order (all read first).
    pub shuffle: bool,
    /// `-v`: each job's command line before its output.
    pub verbose: bool,
    /// `--verbose` (`-t`): each job's command line on stderr as it starts.
    pub trace: bool,
    /// `--line-buffer` (ignored with `-k`).
    pub line_buffer: bool,
    /// `-u`: jobs write to maestro's own stdout and stderr as they go
    /// (`-k`, `--tag` and `--line-buffer` are then off).
    pub ungroup: bool,
    /// `--joblog`.
    pub joblog: Option<PathBuf>,
    /// `--resume`, `--resume-failed` (read from `joblog`).
    pub resume: Resume,
    /// `--retries`: runs of a failing job, in all (at least 1).
    pub tries: u32,
    /// `--timeout`.
    pub timeout: Option<Timeout>,
    /// `--halt`.
    pub halt: Option<Halt>,
    /// `--delay`: the least time between two jobs' starts.
    pub delay: Option<Duration>,
    /// What runs the jobs' command lines (see [`super::job_shell`]).
    pub shell: Shell,
    /// `--bar`, `--progress`, `--eta`: what is drawn on stderr as jobs end.
    pub progress: Progress,
    /// The run's id.
    pub run_id: u64,
    /// Where each job's log goes (kept for failed jobs, or all with
    /// `keep_logs`).
    pub log_dir: PathBuf,
    /// `--keep-logs`: keep the output of every job, not only failed ones.
    pub keep_logs: bool,
    /// Print jobs' output (not with `--json`, whose events stdout carries).
    pub print_output: bool,
    /// A directory of the run's own for the files that catch jobs' output
    /// (on the same file system as the logs, so saving one is a copy in
    /// place); made here, removed at the end.
    pub capture_dir: PathBuf,
    /// `--cat`: a job's stdin data goes into a file, given as its
    /// argument (removed when the job is done).
    pub cat: bool,
    /// `--fifo`: a job's stdin data goes through a named pipe, given as
    /// its argument (removed when the job is done).
    pub fifo: bool,
    /// `--results`, `--files`: where jobs' output is kept instead of
    /// printed.
    pub keep: Option<Keep>,
    /// `--memfree`: a job starts only when this much memory is available.
    pub memfree: Option<u64>,
    /// `--term-seq`: how jobs are stopped; empty for the loop's default.
    pub termination: Vec<TermStep>,
    /// `{= =}`, `--rpl`, `--filter`: the run's perl and its filters.
    pub with_perl: Option<WithPerl>,
    /// `--process-slot-var`: the variable set to each job's slot less one.
    pub process_slot_var: Option<String>,
    /// `--tmpl`: (the text, the name) of files filled in for each job.
    pub templates: Vec<(Template, Template)>,
    /// `--cleanup`: a job's `--tmpl` files go when it is done.
    pub cleanup: bool,
}

/// A problem that stops a `map` run before or while it runs.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// An input source could not be read.
    #[error("cannot read input {}: {}", .0.path.display(), .0.source)]
    Input(InputError),
    /// A file maestro reads or writes could not be.
    #[error("{action} {}: {source}", path.display())]
    File {
        /// What maestro was doing ("cannot read", "cannot create").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The operating system refused something the run needs.
    #[error("{context}: {source}")]
    System {
        /// What maestro was doing.
        context: &'static str,
        /// The cause.
        source: io::Error,
    },
    /// The loop could not go on.
    #[error(transparent)]
    Loop(#[from] LoopError),
    /// A `{= perl =}` expression died.
    #[error("a Perl expression failed for {0}")]
    Perl(String),
}

/// A job from its start to its end (retries included).
#[derive(Debug)]
struct Running {
    job: Job,
    slot: u32,
    /// When its current attempt was launched.
    started: Instant,
    command: Vec<u8>,
    /// Where its log goes, if it is kept.
    log_path: PathBuf,
    /// Its files; `None` if they could not be made.
    capture: Option<Capture>,
    /// `--line-buffer`: its unprinted lines on stdout and stderr; and how
    /// many stdout bytes came in all.
    lines: [Lines; 2],
    stdout_bytes: u64,
    /// How its last attempt's process ended, if it ran.
    termination: Option<Termination>,
    /// Its last attempt's length.
    duration: Duration,
    started_at: SystemTime,
    /// What its last attempt's files held when it ended.
    lengths: (u64, u64),
    /// The `--tmpl` files made for it.
    made: Vec<PathBuf>,
}

/// `eprintln!` through `$printer`, with the live status line out of the way.
macro_rules! say {
    ($printer:expr) => {
        $printer.say(format_args!(""))
    };
    ($printer:expr, $($arg:tt)*) => {
        $printer.say(format_args!($($arg)*))
    };
}

/// How often `--timeout N%` looks at the running jobs.
const MEDIAN_CHECK_EVERY: Duration = Duration::from_millis(100);
/// How often `--memfree` looks again while memory is short.
const MEMORY_CHECK_EVERY: Duration = Duration::from_millis(500);
/// How often the live status line is redrawn.
const STATUS_EVERY: Duration = Duration::from_millis(100);
/// Successful run times kept for `--timeout N%`'s median (the latest).
const MEDIAN_SAMPLE: usize = 1001;
/// A median of fewer successes is not trusted to kill anything.
const MEDIAN_MINIMUM: usize = 3;
/// `-k`: finished jobs that may wait for their turn to print, each holding
/// two open files; past this, no new job starts until the turn moves on.
const MOST_HELD: usize = 250;

/// The exit status of a process killed by SIGPIPE, which maestro map's is
/// when its output's reader goes away (`maestro map ... | head`), as GNU
/// parallel's is.
const BROKEN_PIPE_STATUS: i32 = 128 + libc::SIGPIPE;

/// GNU parallel's progress display on stderr (the live status line is
/// maestro's own, on a terminal, when none is asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// None.
    None,
    /// `--bar`: a bar of the jobs done.
    Bar,
    /// `--progress`: jobs running and done, and the average time per job.
    Progress,
    /// `--eta`: that, after the estimated time left.
    Eta,
}

/// What `--tag` puts before each line a job prints.
#[derive(Debug, Clone)]
pub enum Tag {
    /// The job's values, space-separated.
    Values,
    /// `--tagstring`: a template, expanded (unquoted) for the job.
    Template(Template),
}

/// The tag of the lines of `job`, running in `slot`, if `config` asks for
/// one.
fn tag_of(config: &MapConfig, job: &Job, slot: u32) -> Option<Vec<u8>> {
    Some(match config.tag.as_ref()? {
        Tag::Values => job.args.join(&b' '),
        Tag::Template(template) => {
            let args: Vec<&[u8]> = job.args.iter().map(Vec::as_slice).collect();
            template.expand(&args, job.seq, slot, false)
        }
    })
}

/// Runs every job of `inputs` on `executor`; returns the exit status (GNU
/// parallel's).
pub fn run(
    inputs: Box<dyn JobSource>,
    config: &MapConfig,
    observer: &mut dyn Observer,
    executor: &mut dyn Executor,
    reactor: &mut dyn Reactor,
) -> Result<i32, MapError> {
    let mut known_total = inputs.total();
    // A `--halt` percentage is of every job: they are all read first, as
    // GNU parallel does, when their number is not known without reading.
    let of_all = config.halt.is_some_and(|halt| matches!(halt.threshold, Threshold::Percent(_)));
    // So is `{##}`, the number of jobs.
    let counted = of_all || config.template.as_ref().is_some_and(Template::uses_total);
    let feed = if config.shuffle || (counted && known_total.is_none()) {
        let (feed, total) = Feed::all_read(inputs, config.shuffle);
        known_total = Some(total);
        feed
    } else {
        Feed::new(inputs).map_err(|source| MapError::System {
            context: "cannot start reading the inputs",
            source,
        })?
    };
    let previous = match (&config.joblog, config.resume) {
        (Some(path), Resume::All | Resume::Failed) => {
            Some(Previous::read(path).map_err(|source| MapError::File {
                action: "cannot read",
                path: path.clone(),
                source,
            })?)
        }
        _ => None,
    };
    let joblog = match &config.joblog {
        Some(path) => {
            Some(Joblog::create(path, config.resume != Resume::No).map_err(|source| {
                MapError::File { action: "cannot write", path: path.clone(), source }
            })?)
        }
        None => None,
    };
    let dir = &config.capture_dir;
    crate::private::make_dir(dir).map_err(|source| MapError::File {
        action: "cannot create",
        path: dir.clone(),
        source,
    })?;
    let started = reactor.now();
    let mut work = MapWork {
        config,
        feed,
        inputs_done: false,
        input_error: None,
        observer,
        printer: Printer::new(
            config.keep_order,
            config.print_output,
            (config.progress == Progress::None && stderr_is_rich()).then(StatusLine::default),
        ),
        joblog,
        previous,
        free_slots: (1..=config.jobs).collect(),
        running: HashMap::new(),
        successes: VecDeque::new(),
        summary: RunSummary::default(),
        read: 0,
        stopping: false,
        halt_status: None,
        interrupted: false,
        log_dir_made: false,
        cwd: std::env::current_dir().map_err(|source| MapError::System {
            context: "cannot read the current directory",
            source,
        })?,
        broken_pipe: false,
        spare: Vec::new(),
        next_capture: 0,
        known_total,
        next_status: None,
        next_median_check: None,
        next_start: None,
        filtered: 0,
        next_memory_check: None,
        progress_since: None,
        perl_failed: None,
        pid: std::process::id().to_string(),
    };
    work.observer.event(&Event::RunStarted { run_id: config.run_id, total: 0, jobs: config.jobs });
    if work.printer.status.is_some() {
        work.next_status = Some(started + STATUS_EVERY);
    }
    if matches!(config.timeout, Some(Timeout::OfMedian(_))) {
        work.next_median_check = Some(started + MEDIAN_CHECK_EVERY);
    }
    work.start_progress();
    let result = drive(&mut work, executor, reactor);
    // The jobs that ended last may have ended before the inputs were seen
    // to end: the bar's last state is drawn now.
    work.inputs_done |= result.is_ok() && !work.stopping;
    work.draw_bar();
    if let Err(e) = work.printer.finish() {
        work.output_failed(&e);
    }
    work.printer.clear_status();
    work.summary.wall = reactor.now().saturating_duration_since(started);
    work.observer.event(&Event::RunFinished { summary: &work.summary });
    if work.config.progress != Progress::None {
        say!(work.printer);
    }
    drop(work.spare.drain(..));
    let _ = fs::remove_dir_all(&config.capture_dir);
    result?;
    if let Some(error) = work.input_error.take() {
        return Err(MapError::Input(error));
    }
    if let Some(why) = work.perl_failed.take() {
        return Err(MapError::Perl(why));
    }
    Ok(work.exit_status())
}

struct MapWork<'c, 'o> {
    config: &'c MapConfig,
    feed: Feed,
    inputs_done: bool,
    /// What ended the inputs early, reported once what runs has finished.
    input_error: Option<InputError>,
    observer: &'o mut dyn Observer,
    printer: Printer,
    joblog: Option<Joblog>,
    previous: Option<Previous>,
    free_slots: BTreeSet<u32>,
    /// By key: `seq - 1`.
    running: HashMap<usize, Running>,
    /// The latest successful run times.
    successes: VecDeque<Duration>,
    summary: RunSummary,
    /// Jobs read from the inputs.
    read: u64,
    /// No new job starts (halted, interrupted).
    stopping: bool,
    /// The exit status `--halt` decided.
    halt_status: Option<i32>,
    interrupted: bool,
    log_dir_made: bool,
    /// Where jobs run: maestro's own directory.
    cwd: PathBuf,
    /// Files for jobs' output that no job holds, emptied.
    spare: Vec<Capture>,
    /// The number of the next pair of files made.
    next_capture: usize,
    /// Whoever read maestro's output stopped reading.
    broken_pipe: bool,
    /// How many jobs there are, when the inputs say so before being read.
    known_total: Option<u64>,
    next_status: Option<Instant>,
    next_median_check: Option<Instant>,
    /// With `--delay`: when the next job may start.
    next_start: Option<Instant>,
    /// Jobs `{choose_k}` or `{uniq}` skipped.
    filtered: u64,
    /// With `--memfree`, memory short: when to look again.
    next_memory_check: Option<Instant>,
    /// `--progress`, `--eta`: when the run started.
    progress_since: Option<Instant>,
    /// A Perl expression died: why (the run stops, as GNU parallel's).
    perl_failed: Option<String>,
    /// maestro's pid, for jobs' `$PARALLEL_PID`.
    pid: String,
}

impl MapWork<'_, '_> {
    /// Jobs finished, after their last attempt.
    fn finished(&self) -> u64 {
        (self.summary.succeeded + self.summary.failed.len() + self.summary.interrupted) as u64
    }

    /// Whether `--resume` / `--resume-failed` skips job `seq`.
    fn resumed(&self, seq: u64) -> bool {
        match (&self.previous, self.config.resume) {
            (Some(previous), Resume::All) => previous.listed(seq),
            (Some(previous), Resume::Failed) => previous.succeeded(seq),
            _ => false,
        }
    }

    /// Whether output is printed line by line as it comes.
    fn line_buffered(&self) -> bool {
        self.config.line_buffer && !self.config.keep_order
    }

    /// A pair of empty files for a job's output.
    fn capture(&mut self) -> io::Result<Capture> {
        if let Some(capture) = self.spare.pop() {
            return Ok(capture);
        }
        let capture = Capture::new(&self.config.capture_dir, self.next_capture)?;
        self.next_capture += 1;
        Ok(capture)
    }

    /// `--memfree`: whether the system has the memory asked for a new job;
    /// if not, it is looked at again a little later.
    fn memory_allows(&mut self, now: Instant) -> bool {
        let Some(least) = self.config.memfree else { return true };
        if self.next_memory_check.is_some_and(|at| now < at) {
            return false;
        }
        let enough = super::memory::available().is_none_or(|available| available >= least);
        self.next_memory_check = (!enough).then_some(now + MEMORY_CHECK_EVERY);
        enough
    }

    /// Whether `--plus`'s `{choose_k}` or `{uniq}` skip `job`: the command
    /// line it would have had, if so.
    fn filtered_out(&self, job: &Job) -> Option<Vec<u8>> {
        let template = self.config.template.as_ref()?;
        let args: Vec<&[u8]> = job.args.iter().map(Vec::as_slice).collect();
        template.skips(&args).then(|| command_for(Some(template), job, 0, self.known_total))
    }

    /// A job skipped by `{choose_k}`, `{uniq}`, Perl's `skip()` or a
    /// `--filter`: in the joblog as GNU parallel writes it (exit -2), and
    /// counted as it counts it (as failed, in the exit status).
    fn skip(&mut self, job: &Job, command: &[u8]) {
        if let Some(joblog) = &mut self.joblog {
            let entry = Entry {
                seq: job.seq,
                started: SystemTime::now(),
                runtime: Duration::ZERO,
                received: 0,
                exit: -2,
                signal: 0,
                command,
            };
            if let Err(e) = joblog.write(&entry) {
                say!(self.printer, "maestro: cannot write the joblog: {e}");
                self.joblog = None;
            }
        }
        self.filtered += 1;
        self.summary.skipped += 1;
        self.observer.event(&Event::Skipped { instance: key(job), why: Skip::Filtered });
        if let Err(e) = self.printer.nothing(job.seq, &mut self.spare) {
            self.output_failed(&e);
        }
    }

    /// `--tmpl`: writes `job`'s filled-in files; returns their paths. A
    /// file that cannot be written is said, not fatal; a Perl expression
    /// that dies is.
    fn fill_templates(&mut self, job: &Job, slot: u32) -> Result<Vec<PathBuf>, String> {
        let mut made = Vec::new();
        for (content, name) in &self.config.templates {
            let with = self.config.with_perl.as_ref();
            let failed = |e: NotBuilt| match e {
                NotBuilt::Failed(why) => why,
                NotBuilt::Skipped(_) => String::new(),
            };
            let text = fill(content, job, slot, self.known_total, with).map_err(failed)?;
            let path = fill(name, job, slot, self.known_total, with).map_err(failed)?;
            let path = PathBuf::from(std::ffi::OsString::from_vec(path));
            match fs::write(&path, text) {
                Ok(()) => made.push(path),
                Err(e) => {
                    say!(
                        self.printer,
                        "maestro: job {}: cannot write {}: {e}",
                        job.seq,
                        path.display()
                    );
                }
            }
        }
        Ok(made)
    }

    /// The command line of `job` in `slot`: its Perl run, if any.
    fn command_of(&self, job: &Job, slot: u32) -> Result<Vec<u8>, NotBuilt> {
        let template = self.config.template.as_ref();
        match &self.config.with_perl {
            Some(with) => command_with_perl(template, job, slot, self.known_total, with),
            None => Ok(command_for(template, job, slot, self.known_total)),
        }
    }

    /// `--cat`: the job's stdin data goes into a file of the run's own,
    /// which becomes its argument.
    fn stdin_to_file(&self, job: &mut Job) -> io::Result<()> {
        let Stdin::Data(parts) = std::mem::take(&mut job.stdin) else { return Ok(()) };
        let path = cat_file(self.config, job.seq);
        job.args = vec![path.as_os_str().as_encoded_bytes().to_vec()];
        let mut file =
            crate::private::options().write(true).create(true).truncate(true).open(&path)?;
        for part in &parts {
            crate::exec::stdin_writer::write_part(&mut file, part)?;
        }
        Ok(())
    }

    /// `--fifo`: the job's stdin data goes through a named pipe of the
    /// run's own, which becomes its argument.
    fn stdin_to_fifo(&self, job: &mut Job) -> io::Result<()> {
        let Stdin::Data(parts) = std::mem::take(&mut job.stdin) else { return Ok(()) };
        let path = fifo_path(self.config, job.seq);
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| io::Error::other("a path with a NUL byte"))?;
        // SAFETY: mkfifo reads a NUL-terminated path we own.
        if unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) } != 0 {
            return Err(io::Error::last_os_error());
        }
        job.args = vec![path.as_os_str().as_encoded_bytes().to_vec()];
        job.stdin = Stdin::Fifo { path: path.as_path().into(), parts };
        Ok(())
    }

    /// Writing maestro's stdout or stderr failed: say so unless the reader
    /// simply went away. The run stops at once.
    fn output_failed(&mut self, error: &io::Error) -> Verdict {
        if error.kind() == io::ErrorKind::BrokenPipe {
            self.broken_pipe = true;
        } else if !self.stopping {
            say!(self.printer, "maestro: cannot write output: {error}");
        }
        if self.stopping { Verdict::Go } else { Verdict::StopNow }
    }

    /// Saves the attempt's output as its log; returns the log's path, or an
    /// empty path when it could not be saved (and says so).
    fn keep_log(&mut self, key: usize, number: u32) -> PathBuf {
        if !self.log_dir_made {
            self.log_dir_made = crate::private::make_dir(&self.config.log_dir).is_ok();
        }
        let running = &self.running[&key];
        let saved = match &running.capture {
            Some(capture) => capture.save(&running.log_path, number, running.lengths),
            None => Err(io::Error::other("no output files")),
        };
        match saved {
            Ok(()) => running.log_path.clone(),
            Err(e) => {
                let path = running.log_path.display();
                say!(
                    self.printer,
                    "maestro: job {}: cannot keep its log {path}: {e}",
                    running.job.seq
                );
                PathBuf::new()
            }
        }
    }

    fn write_joblog(&mut self, running: &Running, (exit, signal): (i32, i32)) {
        let Some(joblog) = &mut self.joblog else { return };
        let received = if self.config.line_buffer && !self.config.keep_order {
            running.stdout_bytes
        } else {
            running.lengths.0
        };
        let entry = Entry {
            seq: running.job.seq,
            started: running.started_at,
            runtime: running.duration,
            received,
            exit,
            signal,
            command: &running.command,
        };
        if let Err(e) = joblog.write(&entry) {
            say!(self.printer, "maestro: cannot write the joblog: {e}");
            self.joblog = None;
        }
    }

    /// `--halt`: whether this finished job makes the run stop.
    fn check_halt(
        &mut self,
        outcome: &Outcome,
        (exit, signal): (i32, i32),
        running: &Running,
    ) -> Verdict {
        let Some(halt) = self.config.halt else { return Verdict::Go };
        if self.halt_status.is_some() || *outcome == Outcome::Interrupted {
            return Verdict::Go;
        }
        let tally = Tally {
            succeeded: self.summary.succeeded as u64,
            failed: self.summary.failed.len() as u64,
            finished: self.finished(),
            total: self.known_total.unwrap_or(self.read),
        };
        // The job's own status, as a shell gives it.
        let status = match (exit, signal) {
            (0, signal) if signal != 0 => 128 + signal,
            (exit, _) => exit,
        };
        let Some(status) = halt.verdict(&tally, outcome.succeeded(), status) else {
            return Verdict::Go;
        };
        self.halt_status = Some(status);
        let what = match halt.on {
            HaltOn::Fail => "failed",
            HaltOn::Success => "succeeded",
            HaltOn::Done => "finished",
        };
        say!(
            self.printer,
            "maestro: halting: job {} {what}: {}",
            running.job.seq,
            String::from_utf8_lossy(&running.command)
        );
        match halt.when {
            HaltWhen::Soon => Verdict::Stop,
            HaltWhen::Now => Verdict::StopNow,
        }
    }

    /// Prints a finished job (now, or in its turn with `-k`); its files
    /// come back for another job once printed.
    fn print(&mut self, running: Running) -> Verdict {
        let Some(mut capture) = running.capture else { return Verdict::Go };
        let mut lengths = running.lengths;
        if let Some(keep) = &self.config.keep {
            match keep.keep(&running.job, &mut capture, lengths) {
                Ok(rest) => lengths = rest,
                Err(e) => {
                    say!(
                        self.printer,
                        "maestro: job {}: cannot keep its output: {e}",
                        running.job.seq
                    );
                }
            }
        }
        if self.line_buffered() {
            if capture.clear(lengths).is_ok() {
                self.spare.push(capture);
            }
            return Verdict::Go;
        }
        let tag = tag_of(self.config, &running.job, running.slot);
        // With -u the command was printed as the job started.
        let command =
            (self.config.verbose && !self.config.ungroup).then(|| running.command.clone());
        let output = JobOutput { seq: running.job.seq, capture, lengths, tag, command };
        match self.printer.finished(output, &mut self.spare) {
            Ok(()) => Verdict::Go,
            Err(e) => self.output_failed(&e),
        }
    }

    /// `--timeout N%`: times out every job running longer than N% of the
    /// median successful run time.
    fn check_against_median(&mut self, now: Instant, control: &mut Control<'_>) {
        let Some(Timeout::OfMedian(percent)) = self.config.timeout else { return };
        if self.successes.len() < MEDIAN_MINIMUM {
            return;
        }
        let mut sorted: Vec<Duration> = self.successes.iter().copied().collect();
        sorted.sort_unstable();
        let median = sorted[sorted.len() / 2].as_secs_f64();
        // A limit past what a duration can hold is no limit.
        let Ok(limit) = Duration::try_from_secs_f64(median * percent / 100.0) else { return };
        for (key, since) in control.running() {
            if now.saturating_duration_since(since) > limit {
                control.time_out(key, limit, now);
            }
        }
    }

    /// GNU parallel's: the `--halt` verdict; else the number of failed jobs
    /// (jobs `{choose_k}` or `{uniq}` skipped count as failed, as there),
    /// 101 for more than 100; 130 when interrupted; 141 when the output's
    /// reader went away.
    fn exit_status(&self) -> i32 {
        if self.interrupted {
            return crate::exit_code::INTERRUPTED;
        }
        if self.broken_pipe {
            return BROKEN_PIPE_STATUS;
        }
        if let Some(status) = self.halt_status {
            return status;
        }
        if let Some(halt) = self.config.halt {
            let failed = self.summary.failed.len() as u64;
            return halt.status(failed, failed + self.summary.succeeded as u64);
        }
        match self.summary.failed.len() as u64 + self.filtered {
            n if n > 100 => 101,
            n => n as i32,
        }
    }
}

impl Work for MapWork<'_, '_> {
    fn next(&mut self, now: Instant) -> Option<usize> {
        loop {
            if self.inputs_done || self.free_slots.is_empty() || self.printer.held() >= MOST_HELD {
                return None;
            }
            if self.next_start.is_some_and(|at| now < at) {
                return None;
            }
            if !self.memory_allows(now) {
                return None;
            }
            let job = match self.feed.take() {
                Ok(Next::Job(job)) => job,
                Ok(Next::Later) => return None,
                Ok(Next::End) => {
                    self.inputs_done = true;
                    return None;
                }
                Err(error) => {
                    // No more jobs: what runs finishes, then the error.
                    self.inputs_done = true;
                    self.input_error = Some(error);
                    return None;
                }
            };
            self.read += 1;
            let key = key(&job);
            if self.resumed(job.seq) {
                self.summary.skipped += 1;
                self.observer.event(&Event::Skipped { instance: key, why: Skip::Joblog });
                if let Err(e) = self.printer.nothing(job.seq, &mut self.spare) {
                    self.output_failed(&e);
                }
                continue;
            }
            if let Some(command) = self.filtered_out(&job) {
                self.skip(&job, &command);
                continue;
            }
            let slot = self.free_slots.pop_first()?;
            let mut job = job;
            if self.config.cat
                && let Err(e) = self.stdin_to_file(&mut job)
            {
                say!(self.printer, "maestro: job {}: cannot write its input file: {e}", job.seq);
            }
            if self.config.fifo
                && let Err(e) = self.stdin_to_fifo(&mut job)
            {
                say!(self.printer, "maestro: job {}: cannot make its named pipe: {e}", job.seq);
            }
            let command = match self.command_of(&job, slot) {
                Ok(command) => command,
                Err(NotBuilt::Skipped(command)) => {
                    self.free_slots.insert(slot);
                    self.skip(&job, &command);
                    continue;
                }
                Err(NotBuilt::Failed(why)) => {
                    // As GNU parallel: the run stops; what runs finishes.
                    self.free_slots.insert(slot);
                    self.inputs_done = true;
                    self.perl_failed = Some(format!("job {}: {why}", job.seq));
                    return None;
                }
            };
            let made = match self.fill_templates(&job, slot) {
                Ok(made) => made,
                Err(why) => {
                    self.free_slots.insert(slot);
                    self.inputs_done = true;
                    self.perl_failed = Some(format!("job {}: {why}", job.seq));
                    return None;
                }
            };
            let log_path = self.config.log_dir.join(format!("{}.log", job.seq));
            let capture = match self.capture() {
                Ok(capture) => Some(capture),
                Err(e) => {
                    let dir = self.config.capture_dir.display();
                    say!(
                        self.printer,
                        "maestro: job {}: cannot create its output files in {dir}: {e}",
                        job.seq
                    );
                    None
                }
            };
            let running = Running {
                job,
                slot,
                started: now,
                command,
                log_path,
                capture,
                lines: [Lines::default(), Lines::default()],
                stdout_bytes: 0,
                termination: None,
                duration: Duration::ZERO,
                started_at: SystemTime::now(),
                lengths: (0, 0),
                made,
            };
            if self.config.trace
                && let Err(e) = self.printer.command_started(&running.command)
            {
                self.output_failed(&e);
            }
            if self.config.verbose && (self.line_buffered() || self.config.ungroup) {
                // Its output is printed as it comes: its command goes first.
                let tag = tag_of(self.config, &running.job, running.slot);
                let bytes = [running.command.as_slice(), b"\n"].concat();
                let piece = Piece { bytes, continues: false };
                if let Err(e) = self.printer.print_lines(&piece, 0, tag.as_deref()) {
                    self.output_failed(&e);
                }
            }
            self.running.insert(key, running);
            self.next_start = self.config.delay.map(|delay| now + delay);
            return Some(key);
        }
    }

    fn launch(&mut self, key: usize, number: u32) -> Result<Launch, String> {
        let line_buffered = self.line_buffered();
        let time_limit = self.limits(key).timeout;
        let running = self.running.get_mut(&key).expect("a started job is running");
        running.started = Instant::now();
        let Some(capture) = &mut running.capture else {
            return Err("no files to catch its output".to_string());
        };
        if number > 1 {
            // As parallel: only the last attempt's output is printed.
            let _ = capture.clear(running.lengths);
            running.lengths = (0, 0);
            running.stdout_bytes = 0;
        }
        let (stdout, stderr) = capture.paths.clone();
        let files = if self.config.ungroup {
            OutputFiles::Inherited
        } else if line_buffered {
            // Both streams into one file, in the order they came: the log,
            // should the job fail.
            OutputFiles::Appended { stdout: stdout.clone(), stderr: stdout }
        } else {
            OutputFiles::Appended { stdout, stderr }
        };
        let watch = if line_buffered { Watch::Split } else { Watch::No };
        let env = vec![
            ("MAESTRO_RUN".to_string(), self.config.run_id.to_string()),
            ("MAESTRO_SLOT".to_string(), running.slot.to_string()),
            ("PARALLEL_SEQ".to_string(), running.job.seq.to_string()),
            ("PARALLEL_JOBSLOT".to_string(), running.slot.to_string()),
            // A job may signal maestro as GNU parallel's jobs do theirs.
            ("PARALLEL_PID".to_string(), self.pid.clone()),
        ];
        let mut env = env;
        if let Some(name) = &self.config.process_slot_var {
            env.push((name.clone(), (running.slot - 1).to_string()));
        }
        self.observer.event(&Event::AttemptStarted {
            instance: key,
            attempt: number,
            slots: &[running.slot],
            command: &running.command,
            log: &running.log_path,
            key: None,
        });
        Ok(Launch {
            cmd: running.command.clone(),
            shell: self.config.shell.clone(),
            dir: self.cwd.clone(),
            env,
            output: Output { files, watch },
            name: format!("{}", running.job.seq),
            request: Request { cpus: 1, time_limit, batch: None },
            stdin: running.job.stdin.clone(),
        })
    }

    fn termination(&self) -> Vec<TermStep> {
        self.config.termination.clone()
    }

    fn limits(&self, _key: usize) -> Limits {
        let timeout = match self.config.timeout {
            Some(Timeout::Fixed(limit)) => Some(limit),
            _ => None,
        };
        Limits {
            timeout,
            retry: RetryPolicy { attempts: self.config.tries, backoff: Backoff::None },
        }
    }

    /// `--line-buffer`: whole lines printed as they come.
    fn output(&mut self, key: usize, bytes: &[u8], stderr: bool) -> Verdict {
        let Some(running) = self.running.get_mut(&key) else { return Verdict::Go };
        let stream = usize::from(stderr);
        if stream == 0 {
            running.stdout_bytes += bytes.len() as u64;
        }
        let Some(piece) = running.lines[stream].push(bytes) else { return Verdict::Go };
        let tag = tag_of(self.config, &running.job, running.slot);
        match self.printer.print_lines(&piece, stream, tag.as_deref()) {
            Ok(()) => Verdict::Go,
            Err(e) => self.output_failed(&e),
        }
    }

    fn attempt_ended(&mut self, ended: &Ended) -> Verdict {
        let key = ended.key;
        let line_buffered = self.line_buffered();
        let tag = self.running.get(&key).and_then(|r| tag_of(self.config, &r.job, r.slot));
        let mut verdict = Verdict::Go;
        let Some(running) = self.running.get_mut(&key) else { return verdict };
        running.termination = ended.termination;
        running.duration = ended.duration;
        running.started_at = ended.started_at;
        self.summary.task_time += ended.duration;
        // Jobs have no deps: the critical path is the longest one (here
        // its longest attempt: a retried job is counted per attempt).
        if ended.duration > self.summary.critical_time {
            self.summary.critical_path = vec![key];
            self.summary.critical_time = ended.duration;
        }
        let mut printed = Ok(());
        if line_buffered {
            // The unfinished last lines; nothing is printed after.
            for stream in 0..2 {
                let rest = running.lines[stream].finish();
                printed = printed.and(self.printer.print_lines(&rest, stream, tag.as_deref()));
            }
        }
        if let Outcome::SpawnFailed(why) = &ended.outcome {
            // What the shell would have said, on the job's stderr.
            let said = format!("maestro: could not start: {why}\n");
            match &mut running.capture {
                Some(capture) if !line_buffered => {
                    let _ = capture.stderr.write_all(said.as_bytes());
                }
                _ => {
                    let _ = io::stderr().write_all(said.as_bytes());
                }
            }
        }
        if let Some(capture) = &running.capture {
            running.lengths = capture.lengths().unwrap_or_else(|e| {
                say!(self.printer, "maestro: job {}: cannot read its output: {e}", running.job.seq);
                (0, 0)
            });
        }
        if let Err(e) = printed {
            verdict = self.output_failed(&e);
        }
        // The output of failures is kept (of every job with --keep-logs);
        // the rest was printed and is gone.
        let log = if !ended.outcome.succeeded() || self.config.keep_logs {
            self.keep_log(key, ended.number)
        } else {
            PathBuf::new()
        };
        let attempt = Attempt {
            number: ended.number,
            started_at: ended.started_at,
            queued: ended.queued,
            job_id: ended.job_id.clone(),
            place: ended.place.clone(),
            duration: ended.duration,
            outcome: ended.outcome.clone(),
            usage: ended.usage,
            log,
            outputs: Vec::new(),
        };
        self.observer.event(&Event::AttemptFinished {
            instance: key,
            attempt: &attempt,
            will_retry: ended.will_retry,
        });
        verdict
    }

    fn task_ended(&mut self, key: usize, outcome: &Outcome, _now: Instant) -> Verdict {
        let Some(running) = self.running.remove(&key) else { return Verdict::Go };
        self.free_slots.insert(running.slot);
        if self.config.cat {
            let _ = fs::remove_file(cat_file(self.config, running.job.seq));
        }
        if self.config.cleanup {
            for path in &running.made {
                let _ = fs::remove_file(path);
            }
        }
        if self.config.fifo {
            let path = fifo_path(self.config, running.job.seq);
            crate::exec::stdin_writer::release_fifo(&path);
            let _ = fs::remove_file(path);
        }
        let status = match (outcome, running.termination) {
            (Outcome::TimedOut(_), _) => (-1, libc::SIGTERM),
            (_, Some(Termination::Exited(code))) => (code, 0),
            (_, Some(Termination::Signaled(signal))) => (0, signal),
            (_, Some(Termination::Batch(_))) => (-1, 0),
            // As the shell reports a command it cannot run.
            (_, None) => (127, 0),
        };
        match outcome {
            Outcome::Succeeded => {
                self.summary.succeeded += 1;
                if self.successes.len() == MEDIAN_SAMPLE {
                    self.successes.pop_front();
                }
                self.successes.push_back(running.duration);
            }
            Outcome::Interrupted => self.summary.interrupted += 1,
            _ => self.summary.failed.push(key),
        }
        if let Outcome::TimedOut(limit) = outcome {
            say!(
                self.printer,
                "maestro: warning: job {} killed after {}: {}",
                running.job.seq,
                crate::event::format_duration(*limit),
                String::from_utf8_lossy(&running.command)
            );
        }
        // A job the run stopped did not finish: GNU parallel lists it not,
        // and `--resume` runs it again.
        if *outcome != Outcome::Interrupted {
            self.write_joblog(&running, status);
        }
        let halt = self.check_halt(outcome, status, &running);
        let printed = self.print(running);
        self.draw_bar();
        match (halt, printed) {
            (Verdict::StopNow, _) | (_, Verdict::StopNow) => Verdict::StopNow,
            (Verdict::Stop, _) | (_, Verdict::Stop) => Verdict::Stop,
            _ => Verdict::Go,
        }
    }

    fn is_done(&self) -> bool {
        self.inputs_done
    }

    fn stop(&mut self, _why: Stop) {
        self.stopping = true;
    }

    /// As GNU parallel: SIGHUP starts no new job and lets the running ones
    /// finish; SIGUSR1 lists the running jobs on stderr.
    fn on_signal(&mut self, signal: i32) -> SignalAction {
        match signal {
            libc::SIGHUP => {
                let running = self.running.len();
                say!(
                    self.printer,
                    "maestro: SIGHUP received: no new job starts; {running} running"
                );
                SignalAction::Finish
            }
            libc::SIGUSR1 => {
                let mut running: Vec<&Running> = self.running.values().collect();
                running.sort_by_key(|r| r.job.seq);
                let lines: Vec<String> = running
                    .iter()
                    .map(|r| format!("maestro: running: {}", String::from_utf8_lossy(&r.command)))
                    .collect();
                for line in lines {
                    say!(self.printer, "{line}");
                }
                SignalAction::Nothing
            }
            _ => SignalAction::Interrupt,
        }
    }

    fn interrupted(&mut self, interrupt: &Interrupt) {
        let Interrupt { signal, forced, grace, running } = *interrupt;
        self.interrupted = true;
        self.summary.was_interrupted = true;
        self.observer.event(&Event::Interrupted { signal, forced, grace });
        let name = crate::exec::signal_name(signal);
        if forced {
            say!(self.printer, "maestro: {name} received again: killing {running} jobs");
        } else {
            say!(self.printer, "maestro: {name} received: stopping {running} jobs");
        }
    }

    fn deadline(&self) -> Option<Instant> {
        let waiting = !self.inputs_done && !self.stopping;
        let next_start = self.next_start.filter(|_| waiting);
        let next_memory_check = self.next_memory_check.filter(|_| waiting);
        let timers = self.next_status.into_iter().chain(self.next_median_check);
        timers.chain(next_start).chain(next_memory_check).min()
    }

    fn at(&mut self, now: Instant, control: &mut Control<'_>) {
        if self.next_median_check.is_some_and(|at| at <= now) {
            self.check_against_median(now, control);
            self.next_median_check = Some(now + MEDIAN_CHECK_EVERY);
        }
        if self.next_status.is_some_and(|at| at <= now) {
            self.draw_status(now);
            self.next_status = Some(now + STATUS_EVERY);
        }
    }

    fn wake_fd(&self) -> Option<RawFd> {
        if self.inputs_done { None } else { self.feed.wake_fd() }
    }

    fn flush(&mut self) -> Option<Duration> {
        self.observer.flush()
    }
}

/// Where `--fifo` makes job `seq`'s named pipe.
fn fifo_path(config: &MapConfig, seq: u64) -> PathBuf {
    config.capture_dir.join(format!("{seq}.fifo"))
}

/// Where `--cat` puts job `seq`'s input.
fn cat_file(config: &MapConfig, seq: u64) -> PathBuf {
    config.capture_dir.join(format!("{seq}.in"))
}

fn key(job: &Job) -> usize {
    (job.seq - 1) as usize
}
