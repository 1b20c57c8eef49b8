//! `maestro map --semaphore`: GNU parallel's `sem`. The command runs
//! holding one of `-j N` slots (1 by default) of a counting semaphore
//! shared by every call with the same `--id`: in the background by default
//! (the call returns once it holds its slot), or with `--fg` in the
//! foreground, the call's exit status the command's. `--wait` returns once
//! every slot is free. The semaphores are maestro's own (`maestro sem`'s),
//! kept per user in `~/.maestro`, as parallel keeps its in `~/.parallel`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::cli::MapArgs;
use crate::error::{Error, Result};
use crate::prims::{Name, Scope, hold};

/// Runs `maestro map --semaphore` (or `--wait`); returns its exit status.
pub fn semaphore(args: &MapArgs, words: Vec<OsString>, slots: u32) -> Result<i32> {
    let scope = Scope::open(Some(&user_state()))?;
    let id = args.semaphore_name.clone().unwrap_or_else(default_id);
    let name = Name::parse(&format!("map-{id}"))
        .map_err(|_| Error::usage(format!("--id {id}: not usable as a semaphore's name")))?;
    if args.wait {
        hold::wait_free(&scope, &name, None)?;
        return Ok(crate::exit_code::SUCCESS);
    }
    if words.is_empty() {
        return Err(Error::usage("--semaphore: no command to run (or --wait to wait for them)"));
    }
    let command =
        words.iter().map(|word| word.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
    let (timeout, steal) = match args.semaphore_timeout.as_deref() {
        Some(text) => {
            let seconds = parse_seconds(text)?;
            let wait = Duration::try_from_secs_f64(seconds.abs())
                .map_err(|_| Error::usage(format!("--semaphore-timeout {text}: out of range")))?;
            (Some(wait), seconds > 0.0)
        }
        None => (None, false),
    };
    let held = hold::sem(&scope, &name, slots, timeout.map(|wait| Instant::now() + wait))?;
    let shell = crate::map::job_shell::for_jobs();
    let mut argv: Vec<OsString> = shell.words().into_iter().map(OsString::from).collect();
    argv.push(OsString::from(command));
    let Some(held) = held else {
        if !steal {
            eprintln!("maestro: the semaphore timed out: the command does not run");
            return Ok(1);
        }
        eprintln!("maestro: the semaphore timed out: the command runs anyway");
        return run_unheld(&argv);
    };
    if args.fg {
        return hold::run_holding(held, &argv);
    }
    // In the background: the caller goes on once the slot is held. Nothing
    // else of maestro's runs yet (no thread), so forking is safe.
    // SAFETY: fork in a process of one thread; the child goes on with its
    // own copy and exits without returning to the caller.
    match unsafe { libc::fork() } {
        -1 => Err(Error::system(
            "cannot start the command in the background",
            std::io::Error::last_os_error(),
        )),
        0 => {
            // SAFETY: setsid in the child: its own session, away from the
            // caller's terminal signals.
            unsafe { libc::setsid() };
            let status = hold::run_holding(held, &argv).unwrap_or_else(|error| {
                eprint!("{}", error.render());
                crate::exit_code::MAP_ERROR
            });
            std::process::exit(status)
        }
        _ => Ok(crate::exit_code::SUCCESS),
    }
}

/// Runs `argv` without a slot (`--semaphore-timeout` ran out, positive).
fn run_unheld(argv: &[OsString]) -> Result<i32> {
    let status = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .status()
        .map_err(|e| Error::system("cannot run the command", e))?;
    Ok(status
        .code()
        .unwrap_or(128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)))
}

/// Where the semaphores are: `~/.maestro`, else `./.maestro`.
fn user_state() -> PathBuf {
    match std::env::var_os("HOME").filter(|home| !home.is_empty()) {
        Some(home) => PathBuf::from(home).join(".maestro"),
        None => PathBuf::from(".maestro"),
    }
}

/// GNU parallel's default `--id`: the terminal on stdin, else `notty`.
fn default_id() -> String {
    // SAFETY: ttyname returns a static buffer or null; read at once.
    let name = unsafe {
        let name = libc::ttyname(0);
        (!name.is_null()).then(|| std::ffi::CStr::from_ptr(name).to_string_lossy().into_owned())
    };
    name.map_or_else(
        || "notty".to_string(),
        |tty| tty.trim_start_matches("/dev/").replace('/', "_"),
    )
}

/// Seconds, with parallel's postfixes (`s`, `m`, `h`, `d`), and a sign.
fn parse_seconds(text: &str) -> Result<f64> {
    let bad = || {
        Error::usage(format!("--semaphore-timeout {text}: expected seconds, e.g. 10, -2.5 or 1m"))
    };
    let (number, unit) = match text.char_indices().last() {
        Some((at, 's')) => (&text[..at], 1.0),
        Some((at, 'm')) => (&text[..at], 60.0),
        Some((at, 'h')) => (&text[..at], 3600.0),
        Some((at, 'd')) => (&text[..at], 86400.0),
        _ => (text, 1.0),
    };
    let seconds: f64 = number.parse().map_err(|_| bad())?;
    if !seconds.is_finite() {
        return Err(bad());
    }
    Ok(seconds * unit)
}
