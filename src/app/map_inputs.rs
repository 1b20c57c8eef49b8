//! `maestro map`'s job sources from its options: the input sources
//! (`--header`), stdin's blocks (`--pipe`, `--round-robin`, `--group-by`),
//! the files' parts (`--pipepart`), all the input for every job (`--tee`).

use std::path::PathBuf;

use crate::cli::MapArgs;
use crate::error::{Error, Result};
use crate::exec::{Stdin, StdinPart};
use crate::map::args::{Source, SourceKind, parse_header_lines, parse_separator, parse_size};
use crate::map::blocks::{Blocks, RoundRobin, Splitting};
use crate::map::feed::JobSource;
use crate::map::group_by::{GroupBy, new_mark};
use crate::map::inputs::{InputError, Inputs, Job, Parsing};
use crate::map::parts::{PartSize, Parts};

/// An input that cannot be read, as the user's error.
pub(super) fn input_error(error: InputError) -> Error {
    Error::io("cannot read input", error.path, error.source)
}

/// `--header` without `--pipe`: whether the first value of each source
/// (each column's, with `--colsep`) names it, for `{name}`.
pub(super) fn header_names(args: &MapArgs) -> Result<bool> {
    let pipe_only = [
        ("--block", args.block.is_some()),
        ("--recstart", args.recstart.is_some()),
        ("--recend", args.recend.is_some()),
        ("--rrs", args.remove_rec_sep),
        ("-L", args.max_lines.is_some()),
    ];
    if let Some((option, _)) = pipe_only.iter().find(|(_, given)| *given) {
        return Err(Error::usage(format!(
            "{option} works with --pipe or --pipepart only (maestro map has no other use for it yet)"
        )));
    }
    match args.header.as_deref() {
        None => Ok(false),
        Some(text) if parse_header_lines(text) == Ok(1) => Ok(true),
        Some(text) => Err(Error::usage(format!(
            "--header {text}: without --pipe, the header is the first value of each source: \
             write --header :"
        ))),
    }
}

/// `--group-by`: blocks of lines sharing a value (see
/// [`crate::map::group_by`]).
fn group_by_source(args: &MapArgs, text: &str, splitting: Splitting) -> Result<Box<dyn JobSource>> {
    if args.remove_rec_sep || args.recstart.is_some() || args.round_robin {
        return Err(Error::usage(format!(
            "--group-by {text}: it cuts blocks itself: leave out --rrs, --recstart and --round-robin"
        )));
    }
    let colsep = args.colsep.clone().unwrap_or_else(|| "\t".to_string());
    let group = GroupBy::parse(text, &colsep).map_err(Error::usage)?;
    let mark = new_mark();
    let marked = group.start(&colsep, &mark).map_err(|e| Error::system("--group-by", e))?;
    let splitting = Splitting {
        recstart: mark.into_bytes(),
        recend: Vec::new(),
        remove_separators: true,
        ..splitting
    };
    let regex_header = splitting.header_regex.is_some();
    let mut blocks = Blocks::new(marked, splitting, PathBuf::from("-"));
    Ok(match group.header {
        Some(header) => Box::new(blocks.with_header(header)),
        None => {
            if regex_header {
                blocks.read_header_now().map_err(input_error)?;
            }
            Box::new(blocks)
        }
    })
}

/// `--tee`: a job per input (of the `:::` and `::::` sources), each
/// given all of stdin (with `--pipepart`, all of the `-a` files).
pub(super) fn tee_source(
    args: &MapArgs,
    sources: &[Source],
    parsing: Parsing,
) -> Result<Box<dyn JobSource>> {
    if !(args.pipe || args.pipepart) {
        return Err(Error::usage(
            "--tee gives every job all of the input: it needs --pipe or --pipepart",
        ));
    }
    // The `-a` files come first among the sources: with --pipepart they
    // are the data, the others the jobs' values.
    let (data_files, values) = match args.pipepart {
        true => sources.split_at(args.arg_files.len().min(sources.len())),
        false => (&[][..], sources),
    };
    let data = if args.pipepart {
        let mut parts = Vec::new();
        for source in data_files {
            let SourceKind::File(path) = &source.kind else { continue };
            let len = std::fs::metadata(path)
                .map_err(|e| Error::io("cannot read", path.clone(), e))?
                .len();
            parts.push(StdinPart::File { path: path.as_path().into(), start: 0, len });
        }
        parts
    } else {
        let mut all = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut all)
            .map_err(|e| Error::io("cannot read", "-", e))?;
        vec![StdinPart::Bytes(all.into())]
    };
    let inputs = Inputs::open(values, parsing).map_err(input_error)?;
    Ok(Box::new(Teed { inputs, data: Stdin::Data(data) }))
}

/// `--tee`'s jobs: the inputs', each with all the data on stdin.
struct Teed {
    inputs: Inputs,
    data: Stdin,
}

impl JobSource for Teed {
    fn next_job(&mut self) -> std::result::Result<Option<Job>, InputError> {
        let job = self.inputs.next_job()?;
        Ok(job.map(|job| Job { stdin: self.data.clone(), ..job }))
    }
    fn total(&self) -> Option<u64> {
        self.inputs.total()
    }
    fn may_wait(&self) -> bool {
        self.inputs.may_wait()
    }
    fn at_hand(&self) -> bool {
        self.inputs.at_hand()
    }
}

/// `--pipe`'s source: stdin's blocks; `--pipepart`'s: the files' parts.
pub(super) fn piped_source(
    args: &MapArgs,
    sources: Vec<Source>,
    jobs: u32,
) -> Result<Box<dyn JobSource>> {
    let block = args.block.as_deref().map(|text| parse_size("--block", text)).transpose();
    let block = block.map_err(Error::usage)?;
    let recstart = args.recstart.as_deref().map(parse_separator);
    let recend = args.recend.as_deref().map(parse_separator);
    let splitting = Splitting {
        block: 0,
        recend: match (&recstart, recend) {
            (_, Some(recend)) => recend,
            (Some(_), None) => Vec::new(),
            (None, None) => b"\n".to_vec(),
        },
        recstart: recstart.unwrap_or_default(),
        records: args.max_args.filter(|&n| n > 0),
        lines: args.max_lines.filter(|&n| n > 0),
        // A number of lines; anything else is a Perl regular expression.
        header_lines: args
            .header
            .as_deref()
            .and_then(|text| parse_header_lines(text).ok())
            .unwrap_or(0),
        header_regex: args.header.clone().filter(|text| parse_header_lines(text).is_err()),
        remove_separators: args.remove_rec_sep,
        csv: args.csv,
        skip_blank: args.no_run_if_empty,
        skip_first_line: args.skip_first_line,
    };
    if args.pipepart {
        let files = sources.into_iter().map(|source| match source.kind {
            SourceKind::File(path) if path.as_os_str() != "-" => Some(path),
            _ => None,
        });
        let Some(files) = files.collect::<Option<Vec<_>>>() else {
            return Err(Error::usage_hint(
                "--pipepart cuts files: it takes no ::: values or stdin",
                "give the files with -a FILE or :::: FILE",
            ));
        };
        if let Some(regex) = &splitting.header_regex {
            return Err(Error::usage(format!(
                "--header {regex}: --pipepart takes a number of lines (or :) as its header"
            )));
        }
        if splitting.records.is_some() || splitting.lines.is_some() || splitting.remove_separators {
            return Err(Error::usage(
                "--pipepart cuts at --recend and --recstart only: -N, -L and --rrs need --pipe",
            ));
        }
        let size = match block {
            Some(bytes) if bytes > 0 => PartSize::Bytes(bytes as u64),
            Some(0) => return Err(Error::usage("--block 0: a block needs at least one byte")),
            Some(per_slot) => PartSize::PerSlot(per_slot.unsigned_abs()),
            // One part per job slot with --round-robin, as in parallel.
            None if args.round_robin => PartSize::PerSlot(1),
            None => PartSize::PerSlot(10),
        };
        let parts = Parts::cut(&files, size, jobs, &splitting).map_err(input_error)?;
        return Ok(Box::new(parts));
    }
    if !matches!(sources.as_slice(), [Source { kind: SourceKind::Stdin, .. }]) {
        return Err(Error::usage_hint(
            "--pipe cuts stdin into blocks: it takes no ::: or :::: sources",
            "feed the input on stdin, or cut files with --pipepart -a FILE",
        ));
    }
    let block = match block {
        None => 1 << 20,
        Some(bytes) if bytes > 0 => usize::try_from(bytes).unwrap_or(usize::MAX),
        Some(bytes) => {
            return Err(Error::usage(format!(
                "--block {bytes}: --pipe needs at least one byte (a negative size is \
                 --pipepart's parts per job slot)"
            )));
        }
    };
    let splitting = Splitting { block, ..splitting };
    if let Some(text) = &args.group_by {
        return group_by_source(args, text, Splitting { block, ..splitting });
    }
    if args.round_robin && (splitting.header_lines > 0 || splitting.header_regex.is_some()) {
        return Err(Error::usage("--round-robin with --header is not supported yet"));
    }
    let regex_header = splitting.header_regex.is_some();
    let mut blocks = Blocks::new(std::io::stdin(), splitting, PathBuf::from("-"));
    if regex_header {
        blocks.read_header_now().map_err(input_error)?;
    }
    if args.round_robin {
        let jobs = RoundRobin::new(blocks, jobs)
            .map_err(|e| Error::system("cannot start reading stdin", e))?;
        return Ok(Box::new(jobs));
    }
    Ok(Box::new(blocks))
}
