//! From a parsed command line to an exit status: loads what the command
//! needs, runs it, and maps every error to its exit code in one place.

mod cancel;
mod docs;
mod engine;
mod graph;
mod history;
mod map;
mod map_inputs;
mod prims;
mod report;
mod semaphore;
mod state;
mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use xxhash_rust::xxh3::xxh3_128;

use crate::cli::{Cli, Command, ParArgs, RunArgs, RunOptions};
use crate::diag::{Diagnostic, SourceFile};
use crate::error::{Error, Result};
use crate::estimate;
use crate::event::Observers;
use crate::exec::local::LocalExecutor;
use crate::exit_code;
use crate::flow::{self as flow_file, BatchOptions, Flow, SlurmSettings};
use crate::fresh::{self, Checker, Decision, EarlyStats, FileHashes};
use crate::graph::{Graph, Release};
use crate::plan::Plan;
use crate::report::events::JsonEvents;
use crate::report::terminal::{OutputMode, TerminalReporter};
use crate::runner::LoopError;
use crate::runner::flow::{self, RunConfig, Skipping};
use crate::runner::reactor::Poller;
use crate::store::journal::Journal;
use crate::store::recorder::Recorder;
use crate::store::{self, RunStart, Store};
use engine::{Asked, Backend, Sizing};
use state::{Opened, Prefetch};

/// Runs maestro with `args` (including the program name); returns the exit status.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    grow_heaps_in_big_steps();
    let is_map = args.get(1).is_some_and(|a| a == "map");
    let args = if is_map {
        match with_parallel_options(args) {
            Ok(args) => args,
            Err(message) => {
                eprintln!("error: {message}");
                return exit_code::MAP_ERROR;
            }
        }
    } else {
        args
    };
    let cli = match Cli::parse_from_args(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            if let Some(options) = std::env::var_os("PARALLEL").filter(|_| is_map && e.use_stderr())
            {
                eprintln!("note: $PARALLEL adds these options: {}", options.to_string_lossy());
            }
            return match (e.use_stderr(), is_map) {
                (false, _) => exit_code::SUCCESS,
                (true, true) => exit_code::MAP_ERROR,
                (true, false) => exit_code::USAGE,
            };
        }
    };
    let result = match cli.command {
        Command::Par(args) => par(args),
        Command::Run(args) => run(args),
        Command::Map(args) => return map::map(*args),
        Command::History(args) => history::history(&args),
        Command::Log(args) => history::log(&args),
        Command::Cancel(args) => cancel::cancel(&args),
        Command::Worker(args) => worker::worker(&args),
        Command::Report(args) => report::report(&args),
        Command::Graph(args) => graph::graph(&args),
        Command::Completions(args) => docs::completions(&args),
        Command::Man(args) => docs::man(&args),
        Command::Lock(args) => prims::lock(args),
        Command::Sem(args) => prims::sem(args),
        Command::Event(command) => prims::event(command),
        Command::Counter(command) => prims::counter(command),
        Command::Value(command) => prims::value(command),
        Command::Queue(command) => prims::queue(command),
    };
    result.unwrap_or_else(|error| {
        eprint!("{}", error.render());
        error.exit_code()
    })
}

/// `map`'s arguments with GNU parallel's options for every run: each
/// `-J NAME` (`--profile NAME`) replaced by the words of that profile in
/// `$PARALLEL_HOME` (by default `~/.parallel`), or without one the profile
/// `config`'s put first; then `$PARALLEL`'s put first. Each is split as a
/// shell splits words; a profile's `#` lines are comments. A profile's
/// words may end with a command's first words (`-j-1 nice`).
fn with_parallel_options(
    args: Vec<std::ffi::OsString>,
) -> std::result::Result<Vec<std::ffi::OsString>, String> {
    let args = from_shebang(args)?;
    let Some(home) = parallel_home() else { return Ok(args) };
    let mut expanded: Vec<std::ffi::OsString> = args[..2.min(args.len())].to_vec();
    let mut named = false;
    let mut words = args.into_iter().skip(2);
    let mut options_ended = false;
    while let Some(word) = words.next() {
        let text = word.to_string_lossy().into_owned();
        let name = match text.as_str() {
            _ if options_ended => None,
            "-J" | "--profile" => Some(words.next().map(|n| n.to_string_lossy().into_owned())),
            _ => text
                .strip_prefix("--profile=")
                .or_else(|| text.strip_prefix("-J").filter(|n| !n.is_empty()))
                .map(|n| Some(n.to_string())),
        };
        options_ended |= text == "--" || text.starts_with(":::");
        match name {
            Some(Some(name)) => {
                named = true;
                expanded.extend(profile_words(&home.join(name), true)?.into_iter().map(Into::into));
            }
            Some(None) => return Err("-J needs the name of a profile".to_string()),
            None => expanded.push(word),
        }
    }
    let mut first: Vec<String> = Vec::new();
    if !named {
        first.extend(profile_words(&home.join("config"), false)?);
    }
    if let Some(options) = std::env::var_os("PARALLEL").filter(|o| !o.is_empty()) {
        let options = options.to_string_lossy();
        let split = crate::shell::split_words(&options)
            .ok_or_else(|| format!("$PARALLEL ({options}) leaves a quote open"))?;
        first.extend(split);
    }
    let at = 2.min(expanded.len());
    expanded.splice(at..at, first.into_iter().map(Into::into));
    Ok(expanded)
}

/// `maestro map` run as a script's `#!` line, as GNU parallel can be: the
/// kernel gives the line's words as one (`#!/usr/bin/maestro-parallel
/// --shebang -r echo`), or split (`#!/usr/bin/env -S ...`), then the
/// script's path and its arguments.
///
/// `--shebang`: the script's lines (after the `#!` line) are the inputs.
/// `--shebang-wrap INTERPRETER...`: the script runs with its interpreter
/// once per argument (or on stdin's blocks with `--pipe`).
fn from_shebang(
    args: Vec<std::ffi::OsString>,
) -> std::result::Result<Vec<std::ffi::OsString>, String> {
    let Some(first) = args.get(2).map(|word| word.to_string_lossy().into_owned()) else {
        return Ok(args);
    };
    let wrap = first == "--shebang-wrap" || first.starts_with("--shebang-wrap ");
    if !(wrap || first == "--shebang" || first.starts_with("--shebang ")) {
        return Ok(args);
    }
    let mut line = crate::shell::split_words(&first)
        .ok_or_else(|| format!("the #! line ({first}) leaves a quote open"))?;
    line.remove(0);
    let mut rest: Vec<std::ffi::OsString> = args[3..].to_vec();
    // Split by env -S: the line's words come first, then the script.
    if line.is_empty() {
        // The script is the first file that starts with a `#!` line.
        let is_script = |word: &std::ffi::OsString| {
            let mut start = [0u8; 2];
            std::fs::File::open(word)
                .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut start))
                .is_ok_and(|()| &start == b"#!")
        };
        let script_at = rest.iter().position(is_script);
        let Some(script_at) = script_at else {
            return Err(format!("{first}: no script file after it"));
        };
        line = rest.drain(..script_at).map(|word| word.to_string_lossy().into_owned()).collect();
    }
    if rest.is_empty() {
        return Err(format!("{first}: no script file after it"));
    }
    let script = rest.remove(0);
    let mut rewritten: Vec<std::ffi::OsString> = args[..2].to_vec();
    if wrap {
        // The options, then the interpreter with its own words.
        let options = line.iter().take_while(|word| word.starts_with('-')).count();
        let (options, interpreter) = line.split_at(options);
        rewritten.extend(options.iter().map(Into::into));
        let quoted = interpreter
            .iter()
            .map(|word| crate::shell::shell_quote(word.as_bytes()))
            .chain([crate::shell::shell_quote(script.as_encoded_bytes())])
            .map(|word| String::from_utf8_lossy(&word).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        rewritten.push(quoted.into());
        if !rest.is_empty() {
            rewritten.push(":::".into());
            rewritten.extend(rest);
        }
    } else {
        rewritten.push("--skip-first-line".into());
        rewritten.extend(line.into_iter().map(Into::into));
        rewritten.extend(["::::".into(), script]);
        rewritten.extend(rest);
    }
    Ok(rewritten)
}

/// GNU parallel's folder: `$PARALLEL_HOME`, else `~/.parallel`.
fn parallel_home() -> Option<std::path::PathBuf> {
    match std::env::var_os("PARALLEL_HOME").filter(|h| !h.is_empty()) {
        Some(home) => Some(std::path::PathBuf::from(home)),
        None => Some(std::path::PathBuf::from(std::env::var_os("HOME")?).join(".parallel")),
    }
}

/// The words of the profile at `path`; none if it is missing and not
/// `asked` for by name.
fn profile_words(path: &std::path::Path, asked: bool) -> std::result::Result<Vec<String>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !asked => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read the profile {}: {e}", path.display())),
    };
    let mut words = Vec::new();
    for line in text.lines().filter(|line| !line.trim_start().starts_with('#')) {
        let split = crate::shell::split_words(line)
            .ok_or_else(|| format!("the profile {} leaves a quote open: {line}", path.display()))?;
        words.extend(split);
    }
    Ok(words)
}

/// maestro's command line as the history shows it: arguments need not be
/// UTF-8 (`map` values are bytes), so they are shown lossily.
fn args_lossy() -> Vec<String> {
    std::env::args_os().map(|arg| arg.to_string_lossy().into_owned()).collect()
}

impl From<LoopError> for Error {
    fn from(error: LoopError) -> Error {
        Error::Run(error.to_string())
    }
}

fn par(args: ParArgs) -> Result<i32> {
    let mut stages = vec![args.commands];
    stages.extend(args.then_stages);
    if let Some(empty) = stages.iter().flatten().find(|c| c.trim().is_empty()) {
        return Err(Error::usage(format!("empty command '{empty}'")));
    }
    let here = std::env::current_dir().map_err(|e| Error::io("cannot read", ".", e))?;
    let defaults = BatchOptions::default();
    let asked = Asked::of(&args.options);
    let backend = Backend::choose(asked, None, SlurmSettings::default(), &defaults)?;
    let mut graph = Graph::from_stages(&stages, &here);
    let jobs = effective_jobs(args.options.jobs, None, &backend)?;
    if backend.is_batch() {
        graph.count_jobs_not_cpus();
    }
    let opened = state::open(&store::state_dir(&here), &here, None, args.options.dry_run)?;
    let selected = vec![true; graph.instances.len()];
    execute(&graph, &selected, jobs, &args.options, &backend, opened, None)
}

fn run(args: RunArgs) -> Result<i32> {
    let flow_dir = flow_directory(&args.file)?;
    let state_dir = store::state_dir(&flow_dir);
    let name = args
        .file
        .file_name()
        .map_or_else(|| "maestro.toml".to_string(), |name| name.to_string_lossy().into_owned());
    let prefetch = args.file.is_file().then(|| Prefetch::start(&state_dir, &name));
    let file = read_flow_file(&args.file)?;
    let mut flow = flow_file::parse(&file).map_err(|diagnostics| flow_error(&file, diagnostics))?;
    let source = ReadSource::of(file);
    let (assignments, targets): (Vec<String>, Vec<String>) =
        args.tasks.iter().cloned().partition(|arg| is_assignment(arg));
    set_vars(&mut flow, args.set.iter().chain(&assignments))?;
    let in_flow = flow.executor.as_ref().map(|e| e.value);
    let asked = Asked::of(&args.options);
    let backend = Backend::choose(asked, in_flow, flow.slurm, &flow.slurm_defaults)?;
    let jobs = effective_jobs(args.options.jobs, flow.jobs.as_ref().map(|j| j.value), &backend)?;
    // Under a batch system each task's job asks for its CPUs, and -j counts
    // jobs; here a task gets at most the job slots there are.
    let cpu_limit = (!backend.is_batch()).then_some(jobs);
    let mut graph = Graph::from_flow(&mut flow, &flow_dir, cpu_limit, Release::DepsAndCommands)
        .map_err(|d| source.error(d))?;
    if backend.is_batch() {
        graph.count_jobs_not_cpus();
    } else {
        let source = match (args.options.jobs, &flow.jobs) {
            (Some(_), _) => format!("-j {jobs}"),
            (None, Some(_)) => format!("jobs = {jobs}"),
            (None, None) => format!("{jobs} CPUs available"),
        };
        note_lowered_cpus(&flow, jobs, &source);
    }
    // The tasks as written are in the graph now: their memory serves what
    // comes next (a big flow's take more than its instances).
    drop(std::mem::take(&mut flow.tasks));
    crate::allocator::return_freed_memory_now();
    let selected = graph.select(&targets).map_err(Error::usage)?;
    // While the state loads: stats the freshness checks will need.
    let early = match &prefetch {
        Some(prefetch) => fresh::early_stats(&graph, || prefetch.is_loading()),
        None => EarlyStats::default(),
    };
    let opened = match prefetch {
        Some(prefetch) => prefetch.finish(&state_dir, &flow_dir, &name, args.options.dry_run)?,
        None => state::open(&state_dir, &flow_dir, Some(&name), args.options.dry_run)?,
    };
    let jobserver = flow.jobserver;
    let flow_run = FlowRun { name, force: args.force, resume: args.resume, early, jobserver };
    let code = execute(&graph, &selected, jobs, &args.options, &backend, opened, Some(flow_run));
    // maestro exits next: freeing a big flow piece by piece would be wasted
    // work (a tenth of a no-op run of 10,000 tasks, measured).
    std::mem::forget((flow, graph));
    code
}

/// What a flow run adds to running instances.
struct FlowRun {
    /// The flow's name in the store: its file name (the store sits beside
    /// the file, so the name is enough, and survives moving the folder).
    name: String,
    /// `--force`.
    force: bool,
    /// `--resume`.
    resume: bool,
    /// Stats taken before the run.
    early: EarlyStats,
    /// Whether tasks get a jobserver (`jobserver = false` says not).
    jobserver: bool,
}

/// Runs (or with `-n` lists) the selected instances, from the `opened` state.
fn execute(
    graph: &Graph,
    selected: &[bool],
    jobs: u32,
    options: &RunOptions,
    backend: &Backend,
    opened: Opened,
    mut flow: Option<FlowRun>,
) -> Result<i32> {
    let Opened { lock: _lock, store, mut history, stamps } = opened;
    let mut taken = |i: usize| history.remove(&*graph.instances[i].name).unwrap_or_default();
    // Each instance's recent durations: estimated from here, then the
    // recorder's to add to.
    let (remembered, recent): (Vec<_>, Vec<Box<[Duration]>>) = (0..graph.instances.len())
        .map(&mut taken)
        .map(|history| (history.remembered, history.recent.into_boxed_slice()))
        .unzip();
    let known = recent.iter().any(|r| !r.is_empty());
    // Instances left out of this run take no time in it.
    let estimates: Vec<Duration> = estimate::estimates(&recent)
        .into_iter()
        .zip(selected)
        .map(|(estimate, &selected)| if selected { estimate } else { Duration::ZERO })
        .collect();
    let priority = graph.remaining_path(|i| estimates[i]);
    let skipping = match &mut flow {
        None => Skipping::default(),
        Some(flow) => {
            let files = FileHashes::new(stamps).with_early(std::mem::take(&mut flow.early));
            let mut checker = Checker::new(graph, remembered, files, flow.force, options.dry_run);
            checker.plan_temporaries(selected);
            let resumed = if flow.resume { resumed(&store, &flow.name, graph)? } else { None };
            Skipping { checker: Some(checker), resumed }
        }
    };
    let sizing = Sizing {
        work: estimates.iter().sum(),
        critical: priority.iter().copied().max().unwrap_or_default(),
    };
    if options.dry_run {
        if let Some(workers) = engine::workers_preview(backend, sizing) {
            println!("{workers}");
        }
        print_dry_run(graph, selected, jobs, priority, skipping, backend);
        return Ok(exit_code::SUCCESS);
    }
    backend.check()?;
    if let Some(path) = &options.report {
        report::check_destination(path)?;
    }
    let start = RunStart {
        kind: if flow.is_some() { "run" } else { "par" },
        flow: flow.as_ref().map(|f| f.name.clone()),
        argv: args_lossy(),
        jobs,
    };
    let (run_id, log_dir) = store.begin_run(&start)?;
    let config = RunConfig {
        jobs,
        keep_going: options.keep_going,
        run_id,
        log_dir,
        stream: options.output == OutputMode::Stream && !options.json,
    };
    // Tasks' own make, ninja or cargo share the job slots, unless the flow
    // says otherwise.
    let shared_slots = flow.as_ref().is_none_or(|f| f.jobserver).then_some(jobs);
    let (mut executor, mut poller) =
        engine::engine(backend, store.dir(), run_id, sizing, shared_slots)?;
    // With --json, stdout carries the events: task output stays in the logs.
    let output = if options.json { OutputMode::Quiet } else { options.output };
    let mut reporter = TerminalReporter::new(graph, output);
    if known {
        reporter = reporter.with_eta(estimates, priority.clone(), jobs);
    } else {
        // With nothing known, every estimate is the same: no use for them.
        drop(estimates);
    }
    let mut recorder = Recorder::new(store.connection(), graph, run_id, start.flow.clone(), recent)
        .with_journal(Journal::new(store.dir(), run_id));
    let mut events =
        options.json.then(|| JsonEvents::new(graph, run_id, start.kind, start.flow.clone()));
    let mut observers = Observers(vec![&mut reporter, &mut recorder]);
    if let Some(events) = &mut events {
        observers.0.push(events);
    }
    let ran = flow::run(
        graph,
        selected,
        priority,
        &config,
        skipping,
        &mut observers,
        &mut *executor,
        &mut poller,
    );
    drop(executor);
    let (summary, skipping) = ran.map_err(Error::from)?;
    drop(observers);
    if let Some(error) = recorder.error() {
        eprintln!(
            "maestro: warning: this run could not be recorded in {}: {error}",
            store.path().display()
        );
    }
    if let Some(checker) = &skipping.checker
        && let Err(error) = store.save_file_stamps(checker.files().changed())
    {
        eprintln!("maestro: warning: {}", error.render().trim_end());
    }
    if let Some(path) = &options.report {
        report::write_after_run(&store, run_id, path);
    }
    // As for the flow in `run`: not freed, maestro exits next.
    std::mem::forget(skipping);
    Ok(summary.exit_code())
}

/// The loop's waiting and the local backend, whose tasks find the state
/// directory `state_dir` (where the primitives they use live) in
/// `MAESTRO_STATE`. The poller first: it blocks the requests to stop
/// before the backend starts its guardian.
pub(crate) fn local_engine(state_dir: &Path) -> Result<(LocalExecutor, Poller)> {
    let setup = |e| Error::system("cannot set up process supervision", e);
    let poller = Poller::new().map_err(setup)?;
    let env = [(crate::prims::STATE_ENV, state_dir.as_os_str())];
    let executor = LocalExecutor::new(&env).map_err(setup)?;
    Ok((executor, poller))
}

/// `--resume`: per instance, the run in which it last finished well, if
/// that is the latest known of it.
fn resumed(store: &Store, flow: &str, graph: &Graph) -> Result<Option<Vec<Option<u64>>>> {
    let names: Vec<&str> = graph.instances.iter().map(|i| &*i.name).collect();
    let Some(done) = store.done_before(flow, &names)? else {
        eprintln!("maestro: no earlier run of this flow to resume; running everything");
        return Ok(None);
    };
    Ok(Some(names.iter().map(|name| done.get(*name).copied()).collect()))
}

/// `-n`: the order a run would start things in (each start as soon as
/// everything before it finished), each with why it runs or is skipped;
/// under Slurm, with the options each job would be submitted with.
fn print_dry_run(
    graph: &Graph,
    selected: &[bool],
    jobs: u32,
    priority: Vec<Duration>,
    mut skipping: Skipping,
    backend: &Backend,
) {
    use std::fmt::Write;
    let mut plan = Plan::new(graph, selected, jobs, priority, false);
    let mut out = String::new();
    // Each line is written into `out` as it is made, not made as text of
    // its own first (a big flow's dry run has a million of them).
    let mut line = |out: &mut String, i: usize, slot: u32| -> std::fmt::Result {
        let instance = &graph.instances[i];
        let name = &instance.name;
        let done_in = skipping.resumed.as_ref().and_then(|done| done[i]);
        let reason = match (done_in, &mut skipping.checker) {
            (Some(run), checker) => {
                if let Some(checker) = checker {
                    checker.note_resumed(i);
                }
                return writeln!(out, "skip {name} (done in run {run})");
            }
            (_, Some(checker)) => match checker.decide(i) {
                Decision::Fresh => return writeln!(out, "skip {name} (fresh)"),
                Decision::Run(reason) => {
                    checker.note_ran(i);
                    Some(reason)
                }
            },
            (_, None) => None,
        };
        let verb = if matches!(backend, Backend::Slurm(_)) { "would submit" } else { "would run" };
        write!(out, "{verb} {name}")?;
        if let Some(reason) = reason {
            write!(out, " ({reason})")?;
        }
        let cmd = instance.cmd.for_slot_borrowed(slot);
        match backend {
            Backend::Slurm(_) => {
                let options = engine::sbatch_preview(graph, i);
                writeln!(out, ": sbatch {options}\n    {cmd}")
            }
            _ => writeln!(out, ": {cmd}"),
        }
    };
    while !plan.is_done() {
        let Some(grant) = plan.next_start() else { break };
        let slot = grant.slots.first().copied().unwrap_or(1);
        line(&mut out, grant.instance, slot).expect("writing to a String cannot fail");
        plan.finish(grant.instance, true);
    }
    print!("{out}");
}

/// Asks malloc to grow its heaps 64 MiB at a time (address space, not
/// memory: untouched pages cost nothing). By default a thread's heap grows
/// page by page, each step an `mprotect` that stalls every other thread's
/// page faults: the thread loading the state while the flow parses made
/// 2,000 of them in a no-op run of 10,000 tasks, 5% of its time.
fn grow_heaps_in_big_steps() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes a malloc tunable.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

fn effective_jobs(from_cli: Option<u32>, from_file: Option<u32>, backend: &Backend) -> Result<u32> {
    match from_cli.or(from_file) {
        Some(0) => {
            Err(Error::usage_hint("-j 0: at least one job slot is needed", "use -j 1 or more"))
        }
        Some(jobs) => Ok(jobs),
        None if backend.is_batch() => Ok(engine::SLURM_JOBS),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get() as u32)),
    }
}

/// Says which tasks get fewer CPUs than they ask for (as many as the job
/// slots), as Snakemake lowers threads to its cores.
fn note_lowered_cpus(flow: &Flow, jobs: u32, source: &str) {
    for task in flow.tasks.iter().filter(|t| t.cpus.value > jobs) {
        eprintln!(
            "maestro: note: task '{}' asks for {} cpus; it gets {jobs}, the job slots there are ({source})",
            task.name.value, task.cpus.value
        );
    }
}

/// Whether a command-line word sets a variable: `NAME=VALUE` (a task name
/// never holds `=`).
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| flow_file::is_var_name(name))
}

/// Applies `NAME=VALUE` settings to the flow's variables.
pub(crate) fn set_vars<'a>(flow: &mut Flow, sets: impl Iterator<Item = &'a String>) -> Result<()> {
    for set in sets {
        let Some((name, value)) = set.split_once('=') else {
            let message = format!("--set {set}: expected NAME=VALUE");
            return Err(Error::usage_hint(message, "for example --set rate=0.01"));
        };
        flow.set_var(name, value).map_err(Error::usage)?;
    }
    Ok(())
}

/// The largest flow file read: a flow is text a person writes or a script
/// generates (a million tasks take some 60 MiB); anything bigger is a
/// mistake, `-f /dev/zero` say.
const LARGEST_FLOW_FILE: u64 = 256 * 1024 * 1024;

fn read_flow_file(path: &Path) -> Result<Arc<SourceFile>> {
    use std::io::Read;
    let cannot_read = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound if path == Path::new("maestro.toml") => Error::usage_hint(
            "no maestro.toml in this directory",
            "write one (see README.md) or name it with -f FILE",
        ),
        _ => Error::io("cannot read", path, e),
    };
    let file = std::fs::File::open(path).map_err(cannot_read)?;
    // Sized once: grown by doubling, a big file's text would be copied
    // and take half as much memory again.
    let size = file.metadata().map_or(0, |m| m.len()).min(LARGEST_FLOW_FILE + 1);
    let mut bytes = Vec::with_capacity(size as usize + 1);
    file.take(LARGEST_FLOW_FILE + 1).read_to_end(&mut bytes).map_err(cannot_read)?;
    if bytes.len() as u64 > LARGEST_FLOW_FILE {
        return Err(Error::usage(format!(
            "{}: larger than {} MiB, too big for a flow file",
            path.display(),
            LARGEST_FLOW_FILE >> 20
        )));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Arc::new(SourceFile { path: path.to_path_buf(), text })),
        Err(e) => {
            // Shown like any other mistake in the file: where, with its line
            // (the bad bytes as U+FFFD).
            let offset = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let file = Arc::new(SourceFile { path: path.to_path_buf(), text });
            let bad = offset..offset + char::REPLACEMENT_CHARACTER.len_utf8();
            Err(flow_error(&file, vec![Diagnostic::new("not valid UTF-8", bad)]))
        }
    }
}

/// A flow file once parsed: its text is let go (a big flow's takes tens of
/// megabytes), and read again only to show a mistake found later.
struct ReadSource {
    path: PathBuf,
    /// The text's content hash (xxh3-128, as freshness hashes files), to
    /// tell the same text read again.
    hash: u128,
}

impl ReadSource {
    fn of(file: Arc<SourceFile>) -> ReadSource {
        ReadSource { path: file.path.clone(), hash: xxh3_128(file.text.as_bytes()) }
    }

    /// The error for `diagnostics` in the file, shown in its text.
    fn error(&self, diagnostics: Vec<Diagnostic>) -> Error {
        match read_flow_file(&self.path) {
            Ok(file) if xxh3_128(file.text.as_bytes()) == self.hash => {
                flow_error(&file, diagnostics)
            }
            _ => Error::usage(format!(
                "{}: changed while maestro read it; run again",
                self.path.display()
            )),
        }
    }
}

fn flow_error(file: &Arc<SourceFile>, diagnostics: Vec<Diagnostic>) -> Error {
    Error::Flow { file: Arc::clone(file), diagnostics }
}

/// The absolute directory of the flow file: tasks run there by default.
fn flow_directory(file: &Path) -> Result<PathBuf> {
    let absolute = std::path::absolute(file).map_err(|e| Error::io("cannot resolve", file, e))?;
    Ok(absolute.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow_at(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("maestro-source-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("maestro.toml")
    }

    fn diagnostic() -> Vec<Diagnostic> {
        vec![Diagnostic::new("no task named 'b'", 17..20)]
    }

    #[test]
    fn a_mistake_found_after_parsing_is_shown_in_the_text_read_again() {
        let path = flow_at("same");
        std::fs::write(&path, "[tasks.a]\ndeps = [\"b\"]\n").unwrap();
        let source = ReadSource::of(read_flow_file(&path).unwrap());
        let shown = source.error(diagnostic()).render();
        assert!(shown.contains(":2:8: error: no task named 'b'"), "{shown}");
        assert!(shown.contains("2 | deps = [\"b\"]"), "{shown}");
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_file_changed_since_it_was_read_is_not_quoted() {
        let path = flow_at("changed");
        std::fs::write(&path, "[tasks.a]\ndeps = [\"b\"]\n").unwrap();
        let source = ReadSource::of(read_flow_file(&path).unwrap());
        std::fs::write(&path, "[tasks.a]\ndeps = [\"c\"]\n").unwrap();
        assert_eq!(
            source.error(diagnostic()).render(),
            format!("error: {}: changed while maestro read it; run again\n", path.display())
        );
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
