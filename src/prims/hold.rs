//! `maestro lock` and `maestro sem`: run a command holding a lock, or one
//! of N slots. Held means an exclusive `flock(2)` on a file, kept by
//! maestro's own process (never passed to the command, so a daemon the
//! command leaves behind holds nothing) while it waits for the command.
//! The command dies with maestro (PR_SET_PDEATHSIG), so a SIGKILL of
//! either ends the holding at once, with nobody running unprotected.

use std::fs::File;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Instant;

use super::notify::{CLOSED, until};
use super::{Name, Scope, flock, open_private, private_dir};
use crate::error::{Error, Result};

/// A lock or semaphore slot, held until dropped (or the process dies).
#[derive(Debug)]
pub struct Held {
    _file: File,
}

/// Takes lock `name`, waiting until `deadline` at most (forever if
/// `None`); `None` when the deadline passed first.
pub fn lock(scope: &Scope, name: &Name, deadline: Option<Instant>) -> Result<Option<Held>> {
    let path = scope.path("lock", name)?;
    let file = open_private(&path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    Ok(take(&file, dir, deadline)?.then_some(Held { _file: file }))
}

/// Takes one of the `limit` slots of semaphore `name`, waiting until
/// `deadline` at most; `None` when the deadline passed first. Every user
/// of a semaphore must give the same limit: the first one's is recorded,
/// and another is refused.
pub fn sem(
    scope: &Scope,
    name: &Name,
    limit: u32,
    deadline: Option<Instant>,
) -> Result<Option<Held>> {
    if limit == 0 {
        return Err(Error::usage("--limit 0: a semaphore needs at least one slot"));
    }
    let dir = scope.path("sem", name)?;
    private_dir(&dir)?;
    check_limit(&dir, name, limit)?;
    let e = |e: io::Error| Error::io("cannot lock", &dir, e);
    // Waiters queue on the gate; only its holder looks for a free slot,
    // so a freed slot wakes one process, not all of them.
    let gate = open_private(&dir.join(".gate"))?;
    if !take(&gate, &dir, deadline)? {
        return Ok(None);
    }
    // Opened once and kept: closing a file would wake the watch itself.
    let mut slots: Vec<Option<File>> = (0..limit)
        .map(|i| open_private(&dir.join(i.to_string())).map(Some))
        .collect::<Result<_>>()?;
    let held = until(&[&dir], CLOSED, deadline, || {
        for slot in &mut slots {
            if let Some(file) = slot
                && flock(file, true, false).map_err(e)?
            {
                return Ok(slot.take());
            }
        }
        Ok(None)
    })?;
    Ok(held.map(|file| Held { _file: file }))
}

/// Records the semaphore's limit at its first use; refuses another.
fn check_limit(dir: &Path, name: &Name, limit: u32) -> Result<()> {
    let path = dir.join(".limit");
    let recorded = match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse::<u32>().ok(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io("cannot read", &path, e)),
    };
    match recorded {
        Some(recorded) if recorded != limit => Err(Error::usage_hint(
            format!("semaphore '{}' has --limit {recorded}, not {limit}", name.as_str()),
            format!(
                "every user of a semaphore gives the same limit; to change it, remove {}",
                dir.display()
            ),
        )),
        Some(_) => Ok(()),
        // Two first users at once write the same text: no harm.
        None => super::replace_file(&path, format!("{limit}\n").as_bytes()),
    }
}

/// An exclusive flock on `file`, waiting until `deadline`. Without one the
/// kernel queues us; with one, a watch on `dir` wakes us when a holder
/// closes a file there (it let go, or died), to try again.
fn take(file: &File, dir: &Path, deadline: Option<Instant>) -> Result<bool> {
    let locking = |e| Error::io("cannot lock", dir, e);
    if deadline.is_none() {
        return flock(file, true, true).map_err(locking);
    }
    let taken = until(&[dir], CLOSED, deadline, || {
        Ok(flock(file, true, false).map_err(locking)?.then_some(()))
    })?;
    Ok(taken.is_some())
}

/// The running command's pid, for the SIGTERM handler to pass it on.
static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn pass_on(signal: libc::c_int) {
    let child = CHILD.load(Ordering::Relaxed);
    if child > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(child, signal) };
    }
}

/// Runs `argv` while `held` is held; returns the command's exit status
/// (128 + N when signal N killed it; 127 when it could not be found, 126
/// when it could not be run, as a shell says).
pub fn run_holding(held: Held, argv: &[std::ffi::OsString]) -> Result<i32> {
    let Some((program, args)) = argv.split_first() else {
        return Err(Error::usage("no command to run: give it after --"));
    };
    let mut command = std::process::Command::new(program);
    command.args(args);
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: between fork and exec only async-signal-safe calls: prctl,
    // getppid, _exit.
    unsafe {
        command.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // maestro died before the prctl took effect.
            if libc::getppid() != parent {
                libc::_exit(128 + libc::SIGKILL);
            }
            Ok(())
        });
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let name = program.to_string_lossy();
            eprintln!("maestro: cannot run '{name}': {e}");
            drop(held);
            return Ok(if e.kind() == io::ErrorKind::NotFound { 127 } else { 126 });
        }
    };
    CHILD.store(child.id() as i32, Ordering::Relaxed);
    // Ctrl-C and Ctrl-\ reach the command from the terminal; maestro waits
    // for it to decide. SIGTERM and SIGHUP, sent to maestro alone, are
    // passed on.
    // SAFETY: plain dispositions; the handler only calls kill(2).
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
        let handler = pass_on as extern "C" fn(libc::c_int) as *const () as libc::sighandler_t;
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGHUP, handler);
    }
    let status = loop {
        match child.wait() {
            Ok(status) => break status,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::system("cannot wait for the command", e)),
        }
    };
    drop(held);
    Ok(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}
