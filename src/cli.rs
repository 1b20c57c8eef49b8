//! The command line: every subcommand and flag, as clap definitions.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};

use crate::flow::ExecutorKind;
use crate::report::terminal::OutputMode;

/// maestro conducts your scripts: independent commands run in parallel,
/// dependent ones start the moment what they need is done.
#[derive(Debug, Parser)]
#[command(name = "maestro", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `--output`'s values: the report's modes, named and explained here.
fn output_modes() -> impl TypedValueParser<Value = OutputMode> {
    PossibleValuesParser::new([
        PossibleValue::new("grouped")
            .help("A task's whole output at once when it ends, under a header line"),
        PossibleValue::new("stream").help("Lines as they come, prefixed with the task's name"),
        PossibleValue::new("quiet").help("Nothing but the summary"),
    ])
    .map(|name| match name.as_str() {
        "stream" => OutputMode::Stream,
        "quiet" => OutputMode::Quiet,
        _ => OutputMode::Grouped,
    })
}

fn executors() -> impl TypedValueParser<Value = ExecutorKind> {
    PossibleValuesParser::new([
        PossibleValue::new("local").help("Processes on this machine"),
        PossibleValue::new("slurm").help("One Slurm job per task, submitted with sbatch"),
        PossibleValue::new("workers")
            .help("`maestro worker` processes you start, which join the run (it prints how)"),
    ])
    .map(|name| ExecutorKind::from_name(&name).unwrap_or(ExecutorKind::Local))
}

impl Cli {
    /// Parses `args`, keeping each `--then` stage of `par` apart.
    pub fn parse_from_args(args: Vec<std::ffi::OsString>) -> Result<Cli, clap::Error> {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        if let (Command::Par(par), Some(("par", sub))) = (&mut cli.command, matches.subcommand())
            && let Some(stages) = sub.get_occurrences::<String>("then")
        {
            par.then_stages = stages.map(|stage| stage.cloned().collect()).collect();
        }
        Ok(cli)
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run shell commands in parallel, in stages: `maestro par 'a' 'b' --then 'c'`.
    Par(ParArgs),
    /// Run the tasks of a flow file (maestro.toml), or only TASKs and what they need.
    Run(RunArgs),
    /// Run a command over many inputs, GNU parallel style:
    /// `maestro map -j4 'python analyze.py {}' ::: data/*.csv`.
    // An option given twice takes the last value, as in GNU parallel (and
    // as `$PARALLEL`'s options before the command line's need).
    #[command(args_override_self = true)]
    Map(Box<MapArgs>),
    /// List recent runs: id, start, duration, status, counts.
    History(HistoryArgs),
    /// Print a task's log: of its last attempt, or in run ID.
    Log(LogArgs),
    /// Stop this folder's runs: a running maestro is asked to stop (as by
    /// Ctrl-C), and the Slurm jobs of a run whose maestro is gone are cancelled.
    Cancel(CancelArgs),
    /// Join a run as a worker: run its tasks here until it ends
    /// (`maestro worker --join .maestro/workers/RUN.join`, as the run prints).
    Worker(WorkerArgs),
    /// Write a run's report: one self-contained HTML page (timeline, critical
    /// path, failures), or a trace for ui.perfetto.dev.
    Report(ReportArgs),
    /// Print the flow's tasks and deps as Graphviz DOT or a Mermaid flowchart,
    /// coloured by how each task ended in the flow's last run.
    Graph(GraphArgs),
    /// Print a completion script: `maestro completions bash > /etc/bash_completion.d/maestro`.
    Completions(CompletionsArgs),
    /// Print the man page (roff): `maestro man | man -l -`, or `maestro man run`.
    Man(ManArgs),
    /// Run a command holding lock NAME: one holder at a time, released
    /// when it ends, however it ends.
    Lock(LockArgs),
    /// Run a command holding one of the --limit N slots of semaphore NAME.
    Sem(SemArgs),
    /// A flag processes wait on: `event set|clear|wait NAME`.
    #[command(subcommand)]
    Event(EventCommand),
    /// A shared integer: `counter add NAME N` (prints the new value), `counter get NAME`.
    #[command(subcommand)]
    Counter(CounterCommand),
    /// A shared value, any bytes: `value set NAME [VALUE]`, `value get NAME`.
    #[command(subcommand)]
    Value(ValueCommand),
    /// A FIFO queue, each item to one getter: `queue put NAME VALUE...`, `queue get NAME`.
    #[command(subcommand)]
    Queue(QueueCommand),
}

/// Options shared by every command that runs tasks.
#[derive(Debug, Args)]
pub struct RunOptions {
    /// Job slots: how many tasks run at once [default: the CPUs maestro may use].
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<u32>,
    /// After a failure, keep running everything that does not depend on it.
    #[arg(short, long)]
    pub keep_going: bool,
    /// Show what would run (and why, or why it is skipped), in order; run nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// How task output is shown.
    #[arg(long, value_parser = output_modes(), default_value = "grouped")]
    pub output: OutputMode,
    /// At the end, write the run's HTML report to FILE (as `maestro report`).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Print the run's events on stdout as JSON lines (docs/events.md);
    /// task output stays in the logs.
    #[arg(long, conflicts_with = "output")]
    pub json: bool,
    /// Where tasks run [default: `executor` in the file, else local].
    #[arg(long, value_name = "NAME", value_parser = executors())]
    pub executor: Option<ExecutorKind>,
    /// With --executor slurm: run the tasks in N worker allocations (a few
    /// sbatch calls), not one job per task [default: `workers` in [slurm]].
    #[arg(long, value_name = "N")]
    pub workers: Option<u32>,
    /// Run the tasks on workers started over ssh on these hosts
    /// (`a,b`, `4/user@c` for 4 at once there), which see this folder at
    /// the same path.
    #[arg(long, value_name = "HOSTS")]
    pub hosts: Option<String>,
}

/// `maestro par`.
#[derive(Debug, Args)]
pub struct ParArgs {
    /// Commands of the first stage, each one shell command.
    #[arg(required = true, value_name = "CMD")]
    pub commands: Vec<String>,
    /// Commands of a further stage, started once the previous stage succeeded.
    #[arg(long = "then", value_name = "CMD", num_args = 1.., action = clap::ArgAction::Append)]
    pub then: Vec<String>,
    /// The `--then` commands grouped by stage (clap's derive flattens them;
    /// [`Cli::parse_from_args`] fills this from the occurrences).
    #[arg(skip)]
    pub then_stages: Vec<Vec<String>>,
    /// Shared options.
    #[command(flatten)]
    pub options: RunOptions,
}

/// `maestro run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Tasks to run (with what they need), and NAME=VALUE to set a
    /// variable of the flow's [vars]; the default tasks when none is given.
    #[arg(value_name = "TASK")]
    pub tasks: Vec<String>,
    /// The flow file.
    #[arg(short, long, value_name = "FILE", default_value = "maestro.toml")]
    pub file: PathBuf,
    /// Give a variable of the flow's [vars] a value (a list variable:
    /// comma-separated values); as NAME=VALUE among the tasks.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Run every selected task, fresh or not.
    #[arg(long)]
    pub force: bool,
    /// Rerun only what failed, was interrupted or never ran in the last run.
    #[arg(long, conflicts_with = "force")]
    pub resume: bool,
    /// Shared options.
    #[command(flatten)]
    pub options: RunOptions,
}

/// `maestro map`: GNU parallel's options, with its meanings.
#[derive(Debug, Args)]
pub struct MapArgs {
    /// Job slots: N, N% of the CPUs, +N or -N CPUs, 0 as many as can run
    /// [default: the CPUs maestro may use].
    #[arg(
        short,
        long,
        short_alias = 'P',
        alias = "max-procs",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub jobs: Option<String>,
    /// -j N%, +N, -N count physical cores, not CPU threads.
    #[arg(long, alias = "use-cpus-instead-of-cores")]
    pub use_cores_instead_of_threads: bool,
    /// -j N%, +N, -N count filled CPU sockets, not CPU threads.
    #[arg(long)]
    pub use_sockets_instead_of_threads: bool,
    /// Print jobs' output in input order (they still run in parallel).
    #[arg(short = 'k', long)]
    pub keep_order: bool,
    /// Prefix each output line with the job's arguments and a tab.
    #[arg(long)]
    pub tag: bool,
    /// Prefix each output line with TEMPLATE, filled for the job, and a tab.
    #[arg(long, value_name = "TEMPLATE")]
    pub tagstring: Option<String>,
    /// Run the jobs in a random order (all inputs are read first).
    #[arg(long)]
    pub shuf: bool,
    /// Print each job's command line before its output (on stdout).
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print each job's command line on stderr as it starts.
    #[arg(short = 't', long = "verbose")]
    pub trace: bool,
    /// Let jobs write to maestro's stdout and stderr as they go: their
    /// output may mix (-k, --tag and --line-buffer are then off).
    #[arg(short = 'u', long, conflicts_with = "group")]
    pub ungroup: bool,
    /// Print each job's output whole when it ends (the default).
    #[arg(long)]
    pub group: bool,
    /// Print jobs' output line by line as it comes, not whole jobs at their
    /// end (lines of different jobs never mix within a line). -k wins.
    #[arg(long, visible_alias = "lb", alias = "linebuffer")]
    pub line_buffer: bool,
    /// Keep each job's output in files instead of printing it: DIR/1/VALUE/
    /// {stdout,stderr,seq}; or, when NAME holds replacement strings, NAME
    /// (its stdout), NAME.err and NAME.seq (a folder if NAME ends in /).
    #[arg(long, alias = "res", value_name = "NAME", conflicts_with = "line_buffer")]
    pub results: Option<String>,
    /// Keep each job's stdout in a file of the temporary folder, and print
    /// the file's name instead.
    #[arg(long, alias = "output-as-files", conflicts_with_all = ["line_buffer", "results"])]
    pub files: bool,
    /// Write a line per finished job to FILE, in GNU parallel's format.
    #[arg(long, alias = "jl", value_name = "FILE")]
    pub joblog: Option<PathBuf>,
    /// Rerun the jobs the --joblog file lists as failed, with the command
    /// lines it lists (the command line's are not looked at).
    #[arg(long, requires = "joblog", conflicts_with_all = ["resume", "resume_failed"])]
    pub retry_failed: bool,
    /// Read options (and maybe a command's first words) from the profile
    /// NAME in $PARALLEL_HOME (by default ~/.parallel), instead of its
    /// config. (Read in place of -J NAME before the rest is parsed.)
    #[arg(short = 'J', long, value_name = "NAME")]
    pub profile: Vec<String>,
    /// Exit 255 unless the GNU parallel that maestro map follows
    /// (20221122) is at least VERSION; print that version.
    #[arg(long, value_name = "VERSION")]
    pub minversion: Option<String>,
    /// Print each job's command line, quoted for the shell (N times for
    /// --shell-quote given N times); run nothing.
    #[arg(long, action = clap::ArgAction::Count)]
    pub shell_quote: u8,
    /// Before each job, fill the replacement strings of FILE in and write
    /// the result to NAME (whose own replacement strings are filled in).
    #[arg(long, value_name = "FILE=NAME")]
    pub tmpl: Vec<String>,
    /// Remove each job's --tmpl files once it is done.
    #[arg(long)]
    pub cleanup: bool,
    /// Set this variable to each job's slot number minus one.
    #[arg(long, value_name = "NAME")]
    pub process_slot_var: Option<String>,
    /// Skip the jobs the --joblog file lists.
    #[arg(long, requires = "joblog")]
    pub resume: bool,
    /// Skip the jobs the --joblog file lists as succeeded; rerun the others.
    #[arg(long, requires = "joblog", conflicts_with = "resume")]
    pub resume_failed: bool,
    /// Run a failing job up to N times in all.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub retries: u32,
    /// Kill a job after SECONDS, or after N% of the median run time of the
    /// jobs that succeeded.
    #[arg(long, value_name = "SECONDS|N%")]
    pub timeout: Option<String>,
    /// How a job is stopped (on --timeout, --halt now, Ctrl-C): signals,
    /// each followed by the milliseconds it has before the next
    /// (TERM,200,TERM,100,KILL,25) [default: TERM, then KILL 3 s later].
    #[arg(long, alias = "termseq", value_name = "SEQUENCE")]
    pub term_seq: Option<String>,
    /// Stop early: now|soon,fail|success|done=N|N% (e.g. now,fail=1), or
    /// GNU parallel's short forms (0, 1, 2, -1, -2, N%).
    #[arg(long, alias = "halt-on-error", value_name = "WHEN,WHY=N", allow_negative_numbers = true)]
    pub halt: Option<String>,
    /// Run the jobs with this niceness (`nice -n N`).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub nice: Option<i32>,
    /// Start a job only when this much memory is available (1G, 500M...;
    /// running jobs are never killed for memory).
    #[arg(long, value_name = "SIZE")]
    pub memfree: Option<String>,
    /// Wait this long between two jobs' starts: seconds, or 2s, 1m30s, 1h.
    #[arg(long, value_name = "DURATION")]
    pub delay: Option<String>,
    /// Show a progress bar on stderr.
    #[arg(long)]
    pub bar: bool,
    /// Show the jobs running and done, and the average time per job, on
    /// stderr.
    #[arg(long)]
    pub progress: bool,
    /// Show the estimated time left, with --progress's counts, on stderr.
    #[arg(long)]
    pub eta: bool,
    /// Keep every job's output in its log, not only failed jobs'.
    #[arg(long)]
    pub keep_logs: bool,
    /// At the end, write the run's HTML report to FILE (as `maestro report`).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Print the run's events on stdout as JSON lines (docs/events.md)
    /// instead of the jobs' output, which is kept in the logs.
    #[arg(long, conflicts_with_all = ["keep_order", "tag", "line_buffer"])]
    pub json: bool,
    /// Print the commands that would run; run nothing.
    #[arg(long, alias = "dryrun")]
    pub dry_run: bool,
    /// Input records end at NUL bytes, not newlines.
    #[arg(short = '0', long)]
    pub null: bool,
    /// Input records end at DELIM (a character, or an escape: \n, \t,
    /// \0, \x2c...), not newlines.
    #[arg(short = 'd', long, value_name = "DELIM", conflicts_with = "null")]
    pub delimiter: Option<String>,
    /// An input value that ends its source: it and what follows are not read.
    #[arg(short = 'E', long = "eof", value_name = "VALUE")]
    pub eof: Option<String>,
    /// Quote each word of the command for the shell: it reaches the program
    /// as written (`map -q perl -e 'print "@ARGV\n"' ::: a`).
    #[arg(short = 'q', long)]
    pub quote: bool,
    /// Pair every input source with the others instead of combining them,
    /// the shorter ones starting over until the longest ends.
    #[arg(long, alias = "xapply")]
    pub link: bool,
    /// GNU parallel's further replacement strings: {+/} {+.} {..} {/..}
    /// {##} {:N:M} {:-TEXT} {#TEXT} {%TEXT} {/A/B} {^A} {,A} and kin.
    #[arg(long)]
    pub plus: bool,
    /// A replacement string of your own: 'TAG PERL' (--rpl '{..}
    /// s:\.[^.]+$::;s:\.[^.]+$::;'), as GNU parallel's (perl runs it).
    #[arg(long, value_name = "'TAG PERL'")]
    pub rpl: Vec<String>,
    /// What opens and closes a Perl expression instead of {= and =}, both
    /// in one string (,,,, for ,,$_++,,).
    #[arg(long, value_name = "PARENS")]
    pub parens: Option<String>,
    /// Run only the jobs for which this Perl condition, its replacement
    /// strings filled in, is true ('{1} < {2}').
    #[arg(long, value_name = "PERL")]
    pub filter: Vec<String>,
    /// Use STR instead of {} (-I ,, echo ,,).
    #[arg(short = 'I', long = "replace", value_name = "STR")]
    pub replace: Option<String>,
    /// Use STR instead of {.}.
    #[arg(long, alias = "er", value_name = "STR")]
    pub extensionreplace: Option<String>,
    /// Use STR instead of {/}.
    #[arg(long, alias = "bnr", value_name = "STR")]
    pub basenamereplace: Option<String>,
    /// Use STR instead of {//}.
    #[arg(long, alias = "dnr", value_name = "STR")]
    pub dirnamereplace: Option<String>,
    /// Use STR instead of {/.}.
    #[arg(long, alias = "bner", value_name = "STR")]
    pub basenameextensionreplace: Option<String>,
    /// Use STR instead of {#}.
    #[arg(long, value_name = "STR")]
    pub seqreplace: Option<String>,
    /// Use STR instead of {%}.
    #[arg(long, value_name = "STR")]
    pub slotreplace: Option<String>,
    /// What starts a source of values, instead of :::.
    #[arg(long, value_name = "SEP", default_value = ":::")]
    pub arg_sep: String,
    /// What starts a source of files, instead of ::::.
    #[arg(long, value_name = "SEP", default_value = "::::")]
    pub arg_file_sep: String,
    /// Remove whitespace around each input value: l(eft), r(ight), lr, or
    /// n(one).
    #[arg(long, value_name = "n|l|r|lr")]
    pub trim: Option<String>,
    /// Read inputs from FILE (as `:::: FILE`).
    #[arg(short = 'a', long = "arg-file", value_name = "FILE")]
    pub arg_files: Vec<PathBuf>,
    /// Put as many inputs into each job as its command line holds (spread
    /// evenly over the job slots when they all fit in one); {} is all of
    /// them.
    #[arg(short = 'm')]
    pub multiple: bool,
    /// As -m, with each word that holds {} repeated for each input
    /// (pic{}.jpg -> pica.jpg picb.jpg).
    #[arg(short = 'X')]
    pub context_replace: bool,
    /// As -m, never spread over the job slots: as xargs.
    #[arg(long)]
    pub xargs: bool,
    /// Put N inputs into each job.
    #[arg(short = 'n', short_alias = 'N', long = "max-args", value_name = "N")]
    pub max_args: Option<usize>,
    /// Inputs are CSV: quoted fields may hold the separator and newlines
    /// (columns at --colsep, a comma by default).
    #[arg(long)]
    pub csv: bool,
    /// Skip inputs (with --pipe, lines) of whitespace only.
    #[arg(short = 'r', long)]
    pub no_run_if_empty: bool,
    /// The first source's first line is no input.
    #[arg(long)]
    pub skip_first_line: bool,
    /// Where --files keeps its files [default: $TMPDIR, else /tmp].
    #[arg(long, alias = "tempdir", value_name = "DIR")]
    pub tmpdir: Option<PathBuf>,
    /// Split each input record into columns {1} {2}... at SEP.
    #[arg(short = 'C', long, value_name = "SEP")]
    pub colsep: Option<String>,
    /// Work as GNU parallel's sem: run the command holding one of -j N
    /// slots (default 1) of the semaphore --id, in the background (the
    /// call returns once it holds its slot) unless --fg.
    #[arg(long)]
    pub semaphore: bool,
    /// --semaphore: the semaphore's name [default: the terminal's name, or
    /// notty].
    #[arg(long, alias = "id", alias = "semaphorename", value_name = "NAME")]
    pub semaphore_name: Option<String>,
    /// --semaphore: after SECS without a slot, run anyway; negative SECS:
    /// give up (exit 1).
    #[arg(
        long,
        alias = "st",
        alias = "semaphoretimeout",
        value_name = "SECS",
        allow_negative_numbers = true
    )]
    pub semaphore_timeout: Option<String>,
    /// --semaphore: run the command in the foreground; the exit status is
    /// its.
    #[arg(long, conflicts_with = "bg")]
    pub fg: bool,
    /// --semaphore: run the command in the background (the default).
    #[arg(long)]
    pub bg: bool,
    /// --semaphore: wait until every command holding the semaphore is done.
    #[arg(long)]
    pub wait: bool,
    /// Cut stdin into blocks and give each job one on its stdin, instead of
    /// arguments.
    #[arg(long, alias = "spreadstdin")]
    pub pipe: bool,
    /// Cut the -a / :::: files into parts and give each job one on its
    /// stdin (maestro does not read them: faster than --pipe).
    #[arg(long, alias = "pipe-part")]
    pub pipepart: bool,
    /// --pipe's block: bytes read at a time [default: 1M] (K, M, G count
    /// 1024s, k, m, g 1000s). With --pipepart, -N asks for N parts per
    /// job slot [default: -10].
    #[arg(long, alias = "block-size", value_name = "SIZE", allow_negative_numbers = true)]
    pub block: Option<String>,
    /// --pipe: what starts a record (blocks are cut before it).
    #[arg(long, value_name = "TEXT")]
    pub recstart: Option<String>,
    /// --pipe: what ends a record [default: \n] (blocks are cut after it).
    #[arg(long, value_name = "TEXT")]
    pub recend: Option<String>,
    /// --pipe: remove --recstart and --recend from the blocks.
    #[arg(long = "rrs", alias = "remove-rec-sep", alias = "removerecsep")]
    pub remove_rec_sep: bool,
    /// --pipe: records are N lines.
    #[arg(short = 'L', long = "max-lines", value_name = "N")]
    pub max_lines: Option<usize>,
    /// --pipe: put the input's first LINES lines (':' is one) before every
    /// block.
    #[arg(long, value_name = "LINES")]
    pub header: Option<String>,
    /// --pipe: blocks of consecutive lines that share a value: COLUMN's
    /// (a number, or a name of the header line), maybe edited by Perl code
    /// after it ('UserID s/\D//g'), or what Perl code alone makes of the
    /// line (-N1 for one group per job).
    #[arg(long, alias = "groupby", value_name = "COLUMN [PERL]")]
    pub group_by: Option<String>,
    /// --pipe: start one job per job slot, each taking the next block
    /// when it is ready for more (with --pipepart: one part per slot).
    #[arg(long, alias = "round")]
    pub round_robin: bool,
    /// --pipe, --pipepart: give every job all of the input, a job per
    /// value of the ::: sources.
    #[arg(long)]
    pub tee: bool,
    /// --pipe: write each block to a file, {} its path, instead of stdin.
    #[arg(long)]
    pub cat: bool,
    /// --pipe: give each block through a named pipe, {} its path, instead
    /// of stdin (a job must open it, or its block is dropped).
    #[arg(long, conflicts_with = "cat")]
    pub fifo: bool,
    /// Run the jobs on these hosts, over ssh (`a,b`, or `4/user@c` for 4 at
    /// once there; -j N sets N for each host): they must see this folder at
    /// the same path.
    #[arg(short = 'S', long = "sshlogin", value_name = "HOSTS")]
    pub sshlogin: Vec<String>,
    /// Where the jobs run: local, or slurm (one Slurm job per job, or with
    /// --workers N, N worker allocations).
    #[arg(long, value_name = "NAME", value_parser = executors())]
    pub executor: Option<ExecutorKind>,
    /// With --executor slurm: run the jobs in N worker allocations.
    #[arg(long, value_name = "N")]
    pub workers: Option<u32>,
    /// GNU parallel's citation notice switches: accepted, and nothing to do.
    #[arg(long, hide = true, alias = "no-notice")]
    pub will_cite: bool,
    /// The command template, then the inputs: `::: VALUES...` (`:::+` pairs
    /// with the source before), `:::: FILES...` (`::::+`); stdin's lines
    /// when no source is given.
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

/// Where the state of earlier runs is: `.maestro/` beside a flow file.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// The flow file whose runs to read [default: runs in ./.maestro].
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Print JSON, one object per line, instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `maestro history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// How many runs to show, newest first.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: u32,
    /// Where and how.
    #[command(flatten)]
    pub state: StateArgs,
}

/// `maestro cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The flow file whose runs to stop [default: runs in ./.maestro].
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `maestro worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The run's join file: where it listens, and the secret that lets its
    /// workers in (it is private: the secret is never on a command line).
    #[arg(long, value_name = "FILE", required_unless_present = "stdio")]
    pub join: Option<PathBuf>,
    /// Speak to the run on stdin and stdout (the run started this worker
    /// over ssh, which let it in).
    #[arg(long, conflicts_with = "join")]
    pub stdio: bool,
    /// Tasks run at once here [default: the CPUs this worker may use].
    #[arg(long, value_name = "N")]
    pub slots: Option<u32>,
    /// Take no new task after this long ("50m"): an allocation's end comes
    /// (the Slurm launcher sets it).
    #[arg(long, value_name = "TIME")]
    pub drain_after: Option<String>,
}

/// `maestro log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// The task (an instance: `task:item` for a for_each task).
    #[arg(value_name = "TASK")]
    pub task: String,
    /// The run [default: the last run in which the task ran].
    #[arg(long, value_name = "ID")]
    pub run: Option<i64>,
    /// Where and how.
    #[command(flatten)]
    pub state: StateArgs,
}

/// `maestro report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run [default: the newest].
    #[arg(value_name = "RUN")]
    pub run: Option<i64>,
    /// Where to write it, `-` for stdout [default: report.html, or trace.json
    /// with --format trace].
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// What to write.
    #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
    pub format: ReportFormat,
    /// The flow file whose runs to read [default: runs in ./.maestro].
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// What `maestro report` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// A self-contained HTML page.
    Html,
    /// Trace Event Format JSON, for ui.perfetto.dev or chrome://tracing.
    Trace,
}

/// `maestro graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The flow file.
    #[arg(short, long, value_name = "FILE", default_value = "maestro.toml")]
    pub file: PathBuf,
    /// The notation.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
    /// One node per for_each item, not one per task.
    #[arg(long)]
    pub expand: bool,
    /// Give a variable of the flow's [vars] a value, as `run --set` does.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
}

/// What `maestro graph` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT (`maestro graph | dot -Tsvg > flow.svg`).
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
}

/// `maestro completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// Shells maestro writes completions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompletionShell {
    /// bash.
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
}

/// `maestro man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// A subcommand's page (`maestro-run(1)`) instead of maestro(1).
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

/// Where primitives live.
#[derive(Debug, Args)]
pub struct PrimState {
    /// The state directory [default: the run's inside a task, else ./.maestro].
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
}

/// A primitive's name.
#[derive(Debug, Args)]
pub struct PrimName {
    /// Its name: free text, up to 200 bytes, no '/'.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Where.
    #[command(flatten)]
    pub state: PrimState,
}

/// `maestro lock`.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// The lock.
    #[command(flatten)]
    pub name: PrimName,
    /// Give up (exit 124) if the lock is not free within D (`2.5`, `500ms`, `1m`).
    #[arg(long, value_name = "D")]
    pub timeout: Option<String>,
    /// The command, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// `maestro sem`.
#[derive(Debug, Args)]
pub struct SemArgs {
    /// The semaphore.
    #[command(flatten)]
    pub name: PrimName,
    /// How many may hold it at once (the same for every user of NAME).
    #[arg(long, value_name = "N", required = true)]
    pub limit: u32,
    /// Give up (exit 124) if no slot is free within D.
    #[arg(long, value_name = "D")]
    pub timeout: Option<String>,
    /// The command, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// `maestro event`.
#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// Set it: every waiter wakes.
    Set(PrimName),
    /// Clear it.
    Clear(PrimName),
    /// Wait until it is set (exit 0), or --timeout passes (exit 124).
    Wait {
        /// The event.
        #[command(flatten)]
        name: PrimName,
        /// Give up after D.
        #[arg(long, value_name = "D")]
        timeout: Option<String>,
    },
}

/// `maestro counter`.
#[derive(Debug, Subcommand)]
pub enum CounterCommand {
    /// Add N (negative subtracts), atomically; print the new value.
    Add {
        /// The counter.
        #[command(flatten)]
        name: PrimName,
        /// What to add.
        #[arg(value_name = "N", allow_negative_numbers = true)]
        delta: i64,
    },
    /// Print the value (0 if never added to).
    Get(PrimName),
}

/// `maestro value`.
#[derive(Debug, Subcommand)]
pub enum ValueCommand {
    /// Set it to VALUE, or to what stdin holds when VALUE is not given.
    Set {
        /// The value.
        #[command(flatten)]
        name: PrimName,
        /// The bytes to keep.
        #[arg(value_name = "VALUE", allow_hyphen_values = true)]
        value: Option<OsString>,
    },
    /// Print it, byte for byte; exit 1 if it was never set (or print --default).
    Get {
        /// The value.
        #[command(flatten)]
        name: PrimName,
        /// Print this when it was never set, and exit 0.
        #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
        default: Option<OsString>,
    },
}

/// `maestro queue`.
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Append VALUEs in order (stdin's content as one value when none is given).
    Put {
        /// The queue.
        #[command(flatten)]
        name: PrimName,
        /// The items.
        #[arg(value_name = "VALUE", allow_hyphen_values = true)]
        values: Vec<OsString>,
    },
    /// Take the first item and print it, byte for byte; wait for one, up to
    /// --timeout (then exit 124).
    Get {
        /// The queue.
        #[command(flatten)]
        name: PrimName,
        /// Give up after D (0: do not wait).
        #[arg(long, value_name = "D")]
        timeout: Option<String>,
    },
}
