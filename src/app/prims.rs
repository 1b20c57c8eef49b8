//! The primitives' commands: `lock`, `sem`, `event`, `counter`, `value`,
//! `queue` (SPEC §6), from the command line to `prims` and an exit status.

use std::io::{Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::time::{Duration, Instant};

use crate::cli::{
    CounterCommand, EventCommand, LockArgs, PrimName, QueueCommand, SemArgs, ValueCommand,
};
use crate::error::{Error, Result};
use crate::exit_code;
use crate::flow::duration::parse_duration;
use crate::prims::{NOT_FOUND, Name, Scope, TIMED_OUT, counter, event, hold, queue, value};

/// `maestro lock NAME -- CMD`.
pub fn lock(args: LockArgs) -> Result<i32> {
    let deadline = deadline(args.timeout.as_deref())?;
    let (scope, name) = open(&args.name)?;
    match hold::lock(&scope, &name, deadline)? {
        Some(held) => hold::run_holding(held, &args.command),
        None => Ok(TIMED_OUT),
    }
}

/// `maestro sem NAME --limit N -- CMD`.
pub fn sem(args: SemArgs) -> Result<i32> {
    let deadline = deadline(args.timeout.as_deref())?;
    let (scope, name) = open(&args.name)?;
    match hold::sem(&scope, &name, args.limit, deadline)? {
        Some(held) => hold::run_holding(held, &args.command),
        None => Ok(TIMED_OUT),
    }
}

/// `maestro event ...`.
pub fn event(command: EventCommand) -> Result<i32> {
    match command {
        EventCommand::Set(name) => {
            let (scope, name) = open(&name)?;
            event::set(&scope, &name)?;
        }
        EventCommand::Clear(name) => {
            let (scope, name) = open(&name)?;
            event::clear(&scope, &name)?;
        }
        EventCommand::Wait { name, timeout } => {
            let deadline = deadline(timeout.as_deref())?;
            let (scope, name) = open(&name)?;
            if !event::wait(&scope, &name, deadline)? {
                return Ok(TIMED_OUT);
            }
        }
    }
    Ok(exit_code::SUCCESS)
}

/// `maestro counter ...`.
pub fn counter(command: CounterCommand) -> Result<i32> {
    let value = match command {
        CounterCommand::Add { name, delta } => {
            let (scope, name) = open(&name)?;
            counter::add(&scope, &name, delta)?
        }
        CounterCommand::Get(name) => {
            let (scope, name) = open(&name)?;
            counter::get(&scope, &name)?
        }
    };
    print_bytes(format!("{value}\n").as_bytes())
}

/// `maestro value ...`.
pub fn value(command: ValueCommand) -> Result<i32> {
    match command {
        ValueCommand::Set { name, value } => {
            let (scope, name) = open(&name)?;
            let bytes = match value {
                Some(value) => value.into_vec(),
                None => read_stdin()?,
            };
            value::set(&scope, &name, &bytes)?;
            Ok(exit_code::SUCCESS)
        }
        ValueCommand::Get { name, default } => {
            let (scope, name) = open(&name)?;
            match (value::get(&scope, &name)?, default) {
                (Some(bytes), _) => print_bytes(&bytes),
                (None, Some(default)) => print_bytes(default.as_bytes()),
                (None, None) => {
                    eprintln!("maestro: value '{}' is not set", name.as_str());
                    Ok(NOT_FOUND)
                }
            }
        }
    }
}

/// `maestro queue ...`.
pub fn queue(command: QueueCommand) -> Result<i32> {
    match command {
        QueueCommand::Put { name, values } => {
            let (scope, name) = open(&name)?;
            let values = if values.is_empty() {
                vec![read_stdin()?]
            } else {
                values.into_iter().map(OsStringExt::into_vec).collect()
            };
            queue::put(&scope, &name, &values)?;
            Ok(exit_code::SUCCESS)
        }
        QueueCommand::Get { name, timeout } => {
            let deadline = deadline(timeout.as_deref())?;
            let (scope, name) = open(&name)?;
            let mut out = std::io::stdout().lock();
            match queue::get(&scope, &name, deadline, &mut out)? {
                true => Ok(exit_code::SUCCESS),
                false => Ok(TIMED_OUT),
            }
        }
    }
}

fn open(name: &PrimName) -> Result<(Scope, Name)> {
    let parsed = Name::parse(&name.name)?;
    Ok((Scope::open(name.state.state.as_deref())?, parsed))
}

/// `--timeout D`: seconds (`2.5`) or a duration (`500ms`, `1m`), from now.
fn deadline(timeout: Option<&str>) -> Result<Option<Instant>> {
    let Some(text) = timeout else { return Ok(None) };
    let duration = match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            Duration::try_from_secs_f64(seconds)
                .map_err(|_| Error::usage(format!("--timeout {text}: too long")))?
        }
        Ok(_) => return Err(Error::usage(format!("--timeout {text}: must be 0 or more"))),
        Err(_) => parse_duration(text).map_err(|why| {
            Error::usage_hint(
                format!("--timeout {text}: {why}"),
                "seconds (2.5) or a duration (500ms, 10s, 1m)",
            )
        })?,
    };
    // A wait past what the clock can count is a wait without end.
    Ok(Instant::now().checked_add(duration))
}

fn read_stdin() -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("cannot read", "stdin", e))?;
    Ok(bytes)
}

fn print_bytes(bytes: &[u8]) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("cannot write", "stdout", e))?;
    Ok(exit_code::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_seconds_or_durations() {
        let now = Instant::now();
        let at = |text: &str| deadline(Some(text)).unwrap().unwrap() - now;
        assert!(at("2.5") >= Duration::from_millis(2500) && at("2.5") < Duration::from_secs(3));
        assert!(at("500ms") >= Duration::from_millis(500) && at("500ms") < Duration::from_secs(1));
        assert!(deadline(Some("0")).unwrap().is_some());
        assert!(deadline(Some("-1")).is_err() && deadline(Some("soon")).is_err());
        assert!(deadline(None).unwrap().is_none());
    }
}
