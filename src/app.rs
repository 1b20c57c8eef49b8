//! From a parsed command line to an exit status: loads what the command
//! needs, runs it, and maps every error to its exit code in one place.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cli::{Cli, Command, ParArgs, RunArgs, RunOptions};
use crate::diag::{Diagnostic, SourceFile};
use crate::error::{Error, Result};
use crate::exit_code;
use crate::flow::{self, Flow};
use crate::graph::Graph;
use crate::plan::Plan;
use crate::report::terminal::TerminalReporter;
use crate::runner::{self, RunConfig};
use crate::store;

/// Runs maestro with `args` (including the program name); returns the exit status.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let cli = match Cli::parse_from_args(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { exit_code::USAGE } else { exit_code::SUCCESS };
        }
    };
    let result = match cli.command {
        Command::Par(args) => par(args),
        Command::Run(args) => run(args),
    };
    result.unwrap_or_else(|error| {
        eprint!("{}", error.render());
        error.exit_code()
    })
}

fn par(args: ParArgs) -> Result<i32> {
    let mut stages = vec![args.commands];
    stages.extend(args.then_stages);
    if let Some(empty) = stages.iter().flatten().find(|c| c.trim().is_empty()) {
        return Err(Error::usage(format!("empty command '{empty}'")));
    }
    let here = std::env::current_dir().map_err(|e| Error::io("cannot read", ".", e))?;
    let graph = Graph::from_stages(&stages, &here);
    let jobs = effective_jobs(args.options.jobs, None)?;
    execute(&graph, &vec![true; graph.instances.len()], jobs, &args.options, &here)
}

fn run(args: RunArgs) -> Result<i32> {
    let file = read_flow_file(&args.file)?;
    let flow = flow::parse(&file).map_err(|diagnostics| flow_error(&file, diagnostics))?;
    let jobs = effective_jobs(args.options.jobs, flow.jobs.as_ref().map(|j| j.value))?;
    check_cpus_fit(&flow, jobs, args.options.jobs.is_some()).map_err(|d| flow_error(&file, d))?;
    let flow_dir = flow_directory(&args.file)?;
    let graph = Graph::from_flow(&flow, &flow_dir).map_err(|d| flow_error(&file, d))?;
    let selected = graph.select(&args.tasks).map_err(Error::usage)?;
    execute(&graph, &selected, jobs, &args.options, &flow_dir)
}

/// Runs (or with `-n` lists) the selected instances; `base` holds `.maestro/`.
fn execute(
    graph: &Graph,
    selected: &[bool],
    jobs: u32,
    options: &RunOptions,
    base: &Path,
) -> Result<i32> {
    let priority = graph.remaining_path(|_| default_estimate());
    if options.dry_run {
        print_dry_run(graph, selected, jobs, priority);
        return Ok(exit_code::SUCCESS);
    }
    let (run_id, log_dir) = store::new_run(&store::state_dir(base))?;
    let config = RunConfig {
        jobs,
        keep_going: options.keep_going,
        run_id,
        log_dir,
        stream: options.output == crate::report::terminal::OutputMode::Stream,
    };
    let mut reporter = TerminalReporter::new(graph, options.output);
    let summary = runner::run(graph, selected, priority, &config, &mut reporter)?;
    Ok(summary.exit_code())
}

/// Every instance is assumed to take this long until durations are recorded:
/// the critical path then counts tasks, as ninja's does.
fn default_estimate() -> std::time::Duration {
    std::time::Duration::from_secs(1)
}

/// `-n`: the order a run would start things in (each start as soon as
/// everything before it finished), with each command.
fn print_dry_run(graph: &Graph, selected: &[bool], jobs: u32, priority: Vec<std::time::Duration>) {
    let mut plan = Plan::new(graph, selected, jobs, priority, false);
    let mut out = String::new();
    while !plan.is_done() {
        let Some(grant) = plan.next_start() else { break };
        let instance = &graph.instances[grant.instance];
        let slot = grant.slots.first().copied().unwrap_or(1);
        out.push_str(&format!("would run {}: {}\n", instance.name, instance.cmd.for_slot(slot)));
        plan.finish(grant.instance, true);
    }
    print!("{out}");
}

fn effective_jobs(from_cli: Option<u32>, from_file: Option<u32>) -> Result<u32> {
    match from_cli.or(from_file) {
        Some(0) => {
            Err(Error::usage_hint("-j 0: at least one job slot is needed", "use -j 1 or more"))
        }
        Some(jobs) => Ok(jobs),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get() as u32)),
    }
}

/// Tasks needing more slots than exist could never start. The flow file's
/// own `jobs` is checked when parsing; this checks the slots actually used.
fn check_cpus_fit(
    flow: &Flow,
    jobs: u32,
    from_cli: bool,
) -> std::result::Result<(), Vec<Diagnostic>> {
    let source = if from_cli { format!("-j {jobs}") } else { format!("{jobs} CPUs available") };
    let problems: Vec<Diagnostic> = flow
        .tasks
        .iter()
        .filter(|t| t.cpus.value > jobs)
        .map(|t| {
            Diagnostic::new(
                format!(
                    "task '{}' needs {} cpus but only {jobs} job slots exist ({source})",
                    t.name.value, t.cpus.value
                ),
                t.cpus.span.clone(),
            )
            .with_hint("lower cpus or raise -j")
        })
        .collect();
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

fn read_flow_file(path: &Path) -> Result<Arc<SourceFile>> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound if path == Path::new("maestro.toml") => Error::usage_hint(
            "no maestro.toml in this directory",
            "write one (see README.md) or name it with -f FILE",
        ),
        _ => Error::io("cannot read", path, e),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        Error::usage(format!("{}: not valid UTF-8 (at byte {offset})", path.display()))
    })?;
    Ok(Arc::new(SourceFile { path: path.to_path_buf(), text }))
}

fn flow_error(file: &Arc<SourceFile>, diagnostics: Vec<Diagnostic>) -> Error {
    Error::Flow { file: Arc::clone(file), diagnostics }
}

/// The absolute directory of the flow file: tasks run there by default.
fn flow_directory(file: &Path) -> Result<PathBuf> {
    let absolute = std::path::absolute(file).map_err(|e| Error::io("cannot resolve", file, e))?;
    Ok(absolute.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf))
}
