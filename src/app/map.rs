//! `maestro map`: from its command line to GNU parallel's exit status.

use std::ffi::OsString;
use std::path::Path;
use std::rc::Rc;

use super::engine::{Asked, Backend, SLURM_JOBS, Sizing, WorkerLaunch, engine};
use super::map_inputs::{header_names, input_error, piped_source, tee_source};
use super::{args_lossy, report, state};
use crate::cli::MapArgs;
use crate::error::{Error, Result};
use crate::event::Observers;
use crate::exec::Executor;
use crate::exec::workers::ssh::{self, SshHost};
use crate::exit_code;
use crate::flow::{BatchOptions, SlurmSettings};
use crate::map::SeqNames;
use crate::map::args::{
    Syntax, parse_colsep, parse_delay, parse_delimiter, parse_jobs, parse_size, parse_termseq,
    parse_timeout,
};
use crate::map::cpus::Count;
use crate::map::feed::JobSource;
use crate::map::halt::parse_halt;
use crate::map::inputs::{Inputs, Parsing, Trim};
use crate::map::job::{NotBuilt, WithPerl, command_for, command_with_perl};
use crate::map::joblog::{Previous, Retried};
use crate::map::pack::{Packed, Packing};
use crate::map::perl::Perl;
use crate::map::results::Keep;
use crate::map::work::{self, MapConfig, MapError, Progress, Resume, Tag};
use crate::report::events::JsonEvents;
use crate::shell::Shell;
use crate::store::journal::Journal;
use crate::store::recorder::Recorder;
use crate::store::{self, RunStart};
use crate::template::Template;

impl From<MapError> for Error {
    fn from(error: MapError) -> Error {
        match error {
            MapError::Input(error) => input_error(error),
            MapError::File { action, path, source } => Error::Io { action, path, source },
            MapError::System { context, source } => Error::system(context, source),
            MapError::Loop(error) => error.into(),
            error @ MapError::Perl(_) => Error::usage(error.to_string()),
        }
    }
}

/// The hosts of `-S` (each may be repeated, each a list), every one given
/// `per_host` slots when its own `N/` does not say.
fn remote_hosts(sshlogin: &[String], per_host: Option<u32>) -> Result<Option<Vec<SshHost>>> {
    if sshlogin.is_empty() {
        return Ok(None);
    }
    let mut hosts = Vec::new();
    for text in sshlogin {
        let parsed = ssh::parse_hosts(text).map_err(|why| {
            Error::usage_hint(format!("-S: {why}"), "write -S host, -S user@host or -S 4/host")
        })?;
        hosts.extend(parsed);
    }
    for host in &mut hosts {
        host.slots = host.slots.or(per_host);
    }
    Ok(Some(hosts))
}

/// Runs `maestro map`; returns its exit status.
pub fn map(args: MapArgs) -> i32 {
    run_map(args).unwrap_or_else(|error| {
        eprint!("{}", error.render());
        exit_code::MAP_ERROR
    })
}

/// Whether the run needs perl: for `{= =}` (or `--parens`'), `--rpl` or
/// `--filter`.
fn needs_perl(args: &MapArgs, words: &[OsString], parens: Option<&(String, String)>) -> bool {
    let left = parens.map_or("{=", |(left, _)| left.as_str());
    let in_tmpl = |tmpl: &String| {
        let file = tmpl.split_once('=').map_or(tmpl.as_str(), |(file, _)| file);
        std::fs::read_to_string(file).is_ok_and(|text| text.contains(left))
    };
    !args.rpl.is_empty()
        || !args.filter.is_empty()
        || words.iter().any(|word| word.to_string_lossy().contains(left))
        || args.tmpl.iter().any(in_tmpl)
}

/// `--tmpl FILE=NAME`: each file's text and the name of its copy, as
/// templates (with `--header`'s names, and Perl).
fn tmpl_files(args: &MapArgs, syntax: &Syntax) -> Result<Vec<(Template, Template)>> {
    let mut templates = Vec::new();
    for tmpl in &args.tmpl {
        let Some((file, name)) = tmpl.split_once('=') else {
            return Err(Error::usage(format!(
                "--tmpl {tmpl}: expected FILE=NAME (the template file, then the name of its filled-in copy)"
            )));
        };
        let text = std::fs::read_to_string(file).map_err(|e| Error::io("cannot read", file, e))?;
        let content = syntax.template(&text).map_err(Error::usage)?;
        let name = syntax.template(name).map_err(Error::usage)?;
        if let Some(perl) = &syntax.perl {
            for code in content.perl_codes().chain(name.perl_codes()) {
                let compiled = perl.check(code).map_err(|e| Error::system("perl stopped", e))?;
                if let Err(why) = compiled {
                    return Err(Error::usage(format!("cannot use {{= {code}=}}: {why}")));
                }
            }
        }
        templates.push((content, name));
    }
    Ok(templates)
}

/// The run's Perl, checked: every expression of the template compiles;
/// the `--filter`s parsed. `--tagstring` and `--results` take none.
fn with_perl(
    args: &MapArgs,
    syntax: &Syntax,
    template: Option<&Template>,
    perl: &Rc<Perl>,
) -> Result<WithPerl> {
    for (option, text) in [("--tagstring", &args.tagstring), ("--results", &args.results)] {
        if text.as_deref().is_some_and(|text| text.contains("{=")) {
            return Err(Error::usage(format!(
                "{option}: a Perl expression ({{= =}}) is not supported there"
            )));
        }
    }
    let mut filters = Vec::new();
    for text in &args.filter {
        filters.push(Template::parse(&syntax.mark_perl(text).map_err(Error::usage)?));
    }
    let codes = template.into_iter().chain(&filters).flat_map(Template::perl_codes);
    for code in codes {
        let compiled = perl.check(code).map_err(|e| Error::system("perl stopped", e))?;
        if let Err(why) = compiled {
            return Err(Error::usage(format!("cannot use {{= {code}=}}: {why}")));
        }
    }
    Ok(WithPerl { perl: perl.clone(), filters })
}

/// The GNU parallel whose behaviour `maestro map` follows.
const PARALLEL_VERSION: u64 = 20221122;

/// `--minversion VERSION`: prints the version followed; 0 if it is at
/// least VERSION, else 255 (as GNU parallel).
fn min_version(version: &str) -> i32 {
    println!("{PARALLEL_VERSION}");
    match version.trim().parse::<u64>() {
        Ok(asked) if asked <= PARALLEL_VERSION => exit_code::SUCCESS,
        _ => exit_code::MAP_ERROR,
    }
}

/// `--rpl 'TAG CODE'`: the tag, then its Perl code after a blank.
fn parse_rpl(text: &str) -> Result<(String, String)> {
    match text.split_once(char::is_whitespace) {
        Some((tag, code)) if !tag.is_empty() => Ok((tag.to_string(), code.to_string())),
        _ => Err(Error::usage(format!(
            "--rpl {text}: expected a replacement string, a blank, then its Perl code \
             (e.g. --rpl '{{..}} s:\\.[^.]+$::;s:\\.[^.]+$::;')"
        ))),
    }
}

/// `--parens ,,,,`: its first half opens a Perl expression, the second
/// closes it.
fn parse_parens(text: &str) -> Result<(String, String)> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < 2 || !chars.len().is_multiple_of(2) {
        return Err(Error::usage(format!(
            "--parens {text}: expected what opens then what closes a Perl expression, of one \
             length (e.g. ,,,, for ,,s/a/b/,,)"
        )));
    }
    let (left, right) = chars.split_at(chars.len() / 2);
    Ok((left.iter().collect(), right.iter().collect()))
}

fn run_map(mut args: MapArgs) -> Result<i32> {
    if let Some(version) = &args.minversion {
        return Ok(min_version(version));
    }
    if args.semaphore || args.semaphore_timeout.is_some() || args.wait {
        // Before anything else: it may fork, which wants one thread.
        let slots = match &args.jobs {
            Some(text) => parse_jobs(text, crate::map::cpus::count(Count::Threads), most_jobs())
                .map_err(Error::usage)?,
            None => 1,
        };
        let words = std::mem::take(&mut args.command);
        return super::semaphore::semaphore(&args, words, slots);
    }
    let mut syntax = Syntax {
        arg_sep: args.arg_sep.clone().into_bytes(),
        arg_file_sep: args.arg_file_sep.clone().into_bytes(),
        quote: args.quote,
        plus: args.plus,
        columns: Vec::new(),
        renamed: [
            (&args.replace, "{}"),
            (&args.extensionreplace, "{.}"),
            (&args.basenamereplace, "{/}"),
            (&args.dirnamereplace, "{//}"),
            (&args.basenameextensionreplace, "{/.}"),
            (&args.seqreplace, "{#}"),
            (&args.slotreplace, "{%}"),
        ]
        .into_iter()
        .filter_map(|(name, standard)| Some((name.clone()?, standard)))
        .collect(),
        rpl: args.rpl.iter().map(|text| parse_rpl(text)).collect::<Result<_>>()?,
        parens: args.parens.as_deref().map(parse_parens).transpose()?,
        perl: None,
    };
    let words = std::mem::take(&mut args.command);
    if needs_perl(&args, &words, syntax.parens.as_ref()) {
        let perl = Perl::start()
            .map_err(|e| Error::usage(format!("{{= =}}, --rpl and --filter are Perl: {e}")))?;
        syntax.perl = Some(Rc::new(perl));
    }
    let mut line = syntax.split(words.clone(), &args.arg_files).map_err(Error::usage)?;
    if args.context_replace {
        line.template = line.template.map(Template::repeating_words);
    }
    let with_perl = match &syntax.perl {
        Some(perl) => Some(with_perl(&args, &syntax, line.template.as_ref(), perl)?),
        None => None,
    };
    let cpus = crate::map::cpus::count(
        match (args.use_cores_instead_of_threads, args.use_sockets_instead_of_threads) {
            (_, true) => Count::Sockets,
            (true, false) => Count::Cores,
            (false, false) => Count::Threads,
        },
    );
    let per_host = match &args.jobs {
        Some(text) => parse_jobs(text, cpus, most_jobs()).map_err(Error::usage)?,
        None => cpus,
    };
    let hosts = remote_hosts(&args.sshlogin, args.jobs.is_some().then_some(per_host))?;
    let backend = match hosts {
        Some(hosts) => Backend::Workers(WorkerLaunch::Ssh(hosts)),
        None => {
            let asked = Asked { executor: args.executor, workers: args.workers, hosts: None };
            Backend::choose(asked, None, SlurmSettings::default(), &BatchOptions::default())?
        }
    };
    let jobs = match &backend {
        // As GNU parallel: -j counts jobs per host; a host's own N/ its own.
        Backend::Workers(WorkerLaunch::Ssh(hosts)) => {
            hosts.iter().map(|h| h.slots.unwrap_or(per_host)).sum::<u32>().max(1)
        }
        // Jobs in flight elsewhere: Slurm's queue, or the workers'.
        _ if backend.is_batch() && args.jobs.is_none() => SLURM_JOBS,
        _ => per_host,
    };
    backend.check()?;
    let halt = match &args.halt {
        Some(text) => parse_halt(text).map_err(Error::usage)?,
        None => None,
    };
    let timeout = args.timeout.as_deref().map(parse_timeout).transpose().map_err(Error::usage)?;
    let colsep = args.colsep.as_deref().map(parse_colsep).transpose().map_err(Error::usage)?;
    // `--csv` splits at commas unless told otherwise.
    let colsep = colsep.or_else(|| args.csv.then(|| b",".to_vec()));
    let end = match &args.delimiter {
        Some(text) => parse_delimiter(text).map_err(Error::usage)?,
        None if args.null => b'\0',
        None => b'\n',
    };
    // As GNU parallel: columns lose their surrounding whitespace unless
    // `--trim` says otherwise.
    let trim = match args.trim.as_deref() {
        Some(text) => Some(Trim::parse(text).map_err(Error::usage)?),
        None if args.colsep.is_some() => Some(Trim::parse("lr").map_err(Error::usage)?),
        None => None,
    };
    let parsing = Parsing {
        end,
        colsep,
        trim: trim.unwrap_or_default(),
        eof: args.eof.clone().map(String::into_bytes),
        link: args.link,
        per_job: args.max_args.unwrap_or(1),
        header: false,
        csv: args.csv,
        skip_blank: args.no_run_if_empty,
        skip_first_line: args.skip_first_line,
    };
    // `--cat` and `--round-robin` imply `--pipe` (unless `--pipepart`).
    let piped = args.pipe
        || args.pipepart
        || args.cat
        || args.fifo
        || args.round_robin
        || args.group_by.is_some();
    // `--results`' tree numbers each value by its place in its record:
    // one per source, or every column of one.
    let values_per_record = match (&args.colsep, args.max_args) {
        (None, Some(n)) if n > 1 => line.sources.len(),
        _ => usize::MAX,
    };
    if piped && !matches!(backend, Backend::Local) {
        return Err(Error::usage(
            "--pipe and --pipepart give jobs their input on this machine: \
             they do not work with -S or --executor slurm yet",
        ));
    }
    if args.ungroup && matches!(backend, Backend::Slurm(_)) {
        return Err(Error::usage(
            "-u: a Slurm job cannot write to maestro's own output (with --workers N it can)",
        ));
    }
    let mut inputs = if args.tee {
        tee_source(&args, &line.sources, parsing)?
    } else if args.retry_failed {
        // The joblog's command lines, as they are: no template.
        line.template = None;
        let path = args.joblog.as_ref().expect("--retry-failed requires --joblog");
        let previous =
            Previous::read(path).map_err(|e| Error::io("cannot read", path.clone(), e))?;
        Box::new(Retried::new(&previous))
    } else if piped {
        piped_source(&args, line.sources, jobs)?
    } else {
        let multiple = args.multiple || args.context_replace || args.xargs;
        let parsing = Parsing {
            // One input per record: the packing puts them together.
            per_job: if multiple { 1 } else { parsing.per_job },
            header: header_names(&args)?,
            ..parsing
        };
        let inputs = Inputs::open(&line.sources, parsing).map_err(input_error)?;
        if !inputs.column_names().is_empty() {
            // `{name}` for each column named in the header.
            syntax.columns = inputs.column_names().to_vec();
            line.template = syntax.split(words, &args.arg_files).map_err(Error::usage)?.template;
            if args.context_replace {
                line.template = line.template.map(Template::repeating_words);
            }
        }
        let inputs: Box<dyn JobSource> = Box::new(inputs);
        if multiple {
            let packing = Packing {
                template: line.template.clone(),
                most: args.max_args.filter(|&n| n > 0),
                spread_over: (args.multiple || args.context_replace).then_some(jobs),
            };
            Box::new(Packed::new(inputs, packing))
        } else {
            inputs
        }
    };
    let templates = tmpl_files(&args, &syntax)?;
    if args.dry_run || args.shell_quote > 0 {
        let quoting = args.shell_quote;
        return dry_run(&mut *inputs, line.template.as_ref(), with_perl.as_ref(), jobs, quoting);
    }
    if let Some(path) = &args.report {
        report::check_destination(path)?;
    }
    check_results(&args)?;
    let termination = args.term_seq.as_deref().map(parse_termseq).transpose();
    let termination = termination.map_err(Error::usage)?.unwrap_or_default();
    let memfree = match &args.memfree {
        Some(text) => match parse_size("--memfree", text).map_err(Error::usage)? {
            bytes if bytes > 0 => Some(bytes as u64),
            _ => return Err(Error::usage(format!("--memfree {text}: expected a size above 0"))),
        },
        None => None,
    };
    let here = std::env::current_dir().map_err(|e| Error::io("cannot read", ".", e))?;
    let opened = state::open(&store::state_dir(&here), &here, None, false)?;
    let start = RunStart { kind: "map", flow: None, argv: args_lossy(), jobs };
    let (run_id, log_dir) = opened.store.begin_run(&start)?;
    opened.store.remove_finished_map_dirs()?;
    let resume = match (args.resume, args.resume_failed, args.retry_failed) {
        (true, _, _) => Resume::All,
        (_, true, _) => Resume::Failed,
        (_, _, true) => Resume::Retry,
        _ => Resume::No,
    };
    let keep = kept_output(&args, syntax.columns, values_per_record, run_id);
    let config = MapConfig {
        template: line.template,
        jobs,
        keep_order: args.keep_order && !args.ungroup,
        tag: match &args.tagstring {
            _ if args.ungroup => None,
            Some(text) => Some(Tag::Template(Template::parse(text))),
            None => args.tag.then_some(Tag::Values),
        },
        shuffle: args.shuf,
        verbose: args.verbose > 0,
        trace: args.trace,
        line_buffer: args.line_buffer && !args.ungroup,
        ungroup: args.ungroup,
        joblog: args.joblog,
        resume,
        tries: args.retries.max(1),
        timeout,
        halt,
        shell: match args.nice {
            // As GNU parallel: the job's shell under `nice`.
            Some(nice) => {
                let shell = crate::map::job_shell::for_jobs();
                let mut words = vec!["nice".to_string(), "-n".to_string(), nice.to_string()];
                words.extend(shell.words().into_iter().map(String::from));
                Shell::Words(words.into())
            }
            None => crate::map::job_shell::for_jobs(),
        },
        delay: args.delay.as_deref().map(parse_delay).transpose().map_err(Error::usage)?,
        progress: match (args.bar, args.progress, args.eta) {
            (true, _, _) => Progress::Bar,
            (_, _, true) => Progress::Eta,
            (_, true, _) => Progress::Progress,
            _ => Progress::None,
        },
        run_id,
        log_dir,
        keep_logs: args.keep_logs || args.json,
        print_output: !args.json,
        capture_dir: opened.store.map_output_dir(run_id),
        cat: args.cat,
        fifo: args.fifo,
        keep,
        memfree,
        termination,
        with_perl,
        process_slot_var: args.process_slot_var.clone(),
        templates,
        cleanup: args.cleanup,
    };
    let (mut executor, mut poller): (Box<dyn Executor>, _) = match backend {
        Backend::Local => {
            let (executor, poller) = super::local_engine(opened.store.dir())?;
            (Box::new(executor), poller)
        }
        elsewhere => engine(&elsewhere, opened.store.dir(), run_id, Sizing::default(), None)?,
    };
    let mut recorder =
        Recorder::new(opened.store.connection(), &SeqNames, run_id, None, Vec::new())
            .with_journal(Journal::new(opened.store.dir(), run_id));
    let mut events = args.json.then(|| JsonEvents::new(&SeqNames, run_id, "map", None));
    let mut observers = Observers(vec![&mut recorder]);
    if let Some(events) = &mut events {
        observers.0.push(events);
    }
    let ran = work::run(inputs, &config, &mut observers, &mut *executor, &mut poller);
    drop(executor);
    let status = ran?;
    drop(observers);
    if let Some(error) = recorder.error() {
        warn_unrecorded(opened.store.path(), error);
    }
    drop(recorder);
    if let Some(path) = &args.report {
        report::write_after_run(&opened.store, run_id, path);
    }
    Ok(status)
}

/// `--results` names a folder or a template; GNU parallel's CSV, TSV and
/// JSON files are not written.
fn check_results(args: &MapArgs) -> Result<()> {
    let Some(name) = &args.results else { return Ok(()) };
    if [".csv", ".tsv", ".json"].iter().any(|suffix| name.ends_with(suffix)) {
        return Err(Error::usage(format!(
            "--results {name}: maestro map writes no CSV, TSV or JSON file: give a folder \
             (the joblog, --joblog FILE, is a table of the jobs)"
        )));
    }
    Ok(())
}

/// Where `--results` or `--files` keep jobs' output.
fn kept_output(
    args: &MapArgs,
    names: Vec<Vec<u8>>,
    values_per_record: usize,
    run_id: u64,
) -> Option<Keep> {
    if args.files {
        let dir = args.tmpdir.clone().unwrap_or_else(std::env::temp_dir);
        return Some(Keep::Files { dir, run_id });
    }
    let name = args.results.as_deref()?;
    Some(Keep::results(name, names, values_per_record))
}

/// `--dry-run` (and `--shell-quote`): every command, in order, as it would run (`{%}` as if the
/// slots were taken in turn).
fn dry_run(
    inputs: &mut dyn JobSource,
    template: Option<&crate::template::Template>,
    with_perl: Option<&WithPerl>,
    jobs: u32,
    quoting: u8,
) -> Result<i32> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    // `{##}` needs every job counted first.
    let counting = inputs.total().is_none() && template.is_some_and(Template::uses_total);
    let mut counted = Vec::new();
    while counting && let Some(job) = inputs.next_job().map_err(input_error)? {
        counted.push(job);
    }
    let total = if counting { Some(counted.len() as u64) } else { inputs.total() };
    let rest = std::iter::from_fn(|| inputs.next_job().transpose());
    let mut skipped = 0;
    for job in counted.into_iter().map(Ok).chain(rest) {
        let job = job.map_err(input_error)?;
        let slot = ((job.seq - 1) % u64::from(jobs)) as u32 + 1;
        let mut command = match with_perl {
            None => command_for(template, &job, slot, total),
            Some(with) => match command_with_perl(template, &job, slot, total, with) {
                Ok(command) => command,
                // Shown all the same, and counted, as GNU parallel does.
                Err(NotBuilt::Skipped(command)) => {
                    skipped += 1;
                    command
                }
                Err(NotBuilt::Failed(why)) => {
                    return Err(Error::usage(format!(
                        "a Perl expression failed for job {}: {why}",
                        job.seq
                    )));
                }
            },
        };
        // `--shell-quote`: quoted for the shell, as many times as given.
        for _ in 0..quoting {
            command = crate::shell::shell_quote(&command);
        }
        command.push(b'\n');
        if out.write_all(&command).is_err() {
            break;
        }
    }
    let _ = out.flush();
    Ok(skipped.min(101))
}

fn warn_unrecorded(path: &Path, error: &rusqlite::Error) {
    eprintln!("maestro: warning: this run could not be recorded in {}: {error}", path.display());
}

/// `-j 0`: as many jobs as the open-file limit allows (each running job
/// holds a few files), at most 4096.
fn most_jobs() -> u32 {
    // SAFETY: getrlimit fills a zeroed struct.
    let open_files = unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 { limit.rlim_cur } else { 1024 }
    };
    (open_files.saturating_sub(64) / 4).clamp(1, 4096) as u32
}
