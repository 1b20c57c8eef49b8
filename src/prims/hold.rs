//! `maestro lock` and `maestro sem`: run a command holding a lock, or one
//! of N slots. Held means an exclusive `flock(2)` on a file, kept by
//! maestro's own process (never passed to the command, so a daemon the
//! command leaves behind holds nothing) while it waits for the command.
//! The command runs in a process group of its own and dies with maestro
//! (PR_SET_PDEATHSIG), its group too (see `watcher.rs`), so a SIGKILL of
//! either ends the holding and leaves nothing running unprotected.
//!
//! The kernel frees the lock the moment maestro dies, a little before the
//! command it killed is gone. So the command writes its pid into the
//! locked file before it execs, and whoever takes the lock next waits
//! until the process of the pid found there has ended: two commands never
//! run under one lock, not even for that moment.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Instant;

use super::notify::{CLOSED, until};
use super::watcher::Watcher;
use super::{Name, Scope, flock, open_private, private_dir};
use crate::error::{Error, Result};

/// A lock or semaphore slot, held until dropped (or the process dies).
#[derive(Debug)]
pub struct Held {
    file: File,
}

/// The pid a command writes into its lock file: ten digits and a newline
/// (a pid has at most seven), so that a record always overwrites the last.
const PID_RECORD: usize = 11;

/// Takes lock `name`, waiting until `deadline` at most (forever if
/// `None`); `None` when the deadline passed first.
pub fn lock(scope: &Scope, name: &Name, deadline: Option<Instant>) -> Result<Option<Held>> {
    let path = scope.path("lock", name)?;
    let file = open_private(&path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    if !take(&file, dir, deadline)? || !previous_gone(&file, &path, deadline)? {
        return Ok(None);
    }
    Ok(Some(Held { file }))
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
        for (number, slot) in slots.iter_mut().enumerate() {
            if let Some(file) = slot
                && flock(file, true, false).map_err(e)?
            {
                return Ok(slot.take().map(|file| (number, file)));
            }
        }
        Ok(None)
    })?;
    let Some((number, file)) = held else { return Ok(None) };
    if !previous_gone(&file, &dir.join(number.to_string()), deadline)? {
        return Ok(None);
    }
    Ok(Some(Held { file }))
}

/// Waits, until `deadline` at most, until no slot of semaphore `name` is
/// held (and the commands that held them are gone); whether that came.
/// Slots taken meanwhile are not waited for twice: each is looked at once.
pub fn wait_free(scope: &Scope, name: &Name, deadline: Option<Instant>) -> Result<bool> {
    let dir = scope.path("sem", name)?;
    let limit = match std::fs::read_to_string(dir.join(".limit")) {
        Ok(text) => text.trim().parse::<u32>().unwrap_or(0),
        // Never used: nothing holds it.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(Error::io("cannot read", dir.join(".limit"), e)),
    };
    for slot in 0..limit {
        let path = dir.join(slot.to_string());
        let file = open_private(&path)?;
        if !take(&file, &dir, deadline)? || !previous_gone(&file, &path, deadline)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Waits, until `deadline` at most, for the command that last held `file`
/// (at `path`) to be gone; whether it is.
fn previous_gone(file: &File, path: &Path, deadline: Option<Instant>) -> Result<bool> {
    use std::os::unix::fs::FileExt;
    let mut record = [0u8; PID_RECORD];
    let read = file.read_at(&mut record, 0).map_err(|e| Error::io("cannot read", path, e))?;
    let pid: i64 =
        std::str::from_utf8(&record[..read]).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0);
    if pid <= 0 {
        return Ok(true);
    }
    // The record was written after its command started: a later process
    // with the same pid started after it.
    let written = file
        .metadata()
        .and_then(|m| m.modified())
        .map_err(|e| Error::io("cannot read", path, e))?;
    let written_ms =
        written.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    while crate::liveness::still_running(pid, written_ms) {
        if deadline.is_some_and(|at| Instant::now() >= at) {
            return Ok(false);
        }
        // It was killed with its maestro: it is gone within moments.
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    Ok(true)
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

/// The running command's group, for the signal handler to pass signals on.
static CHILD: AtomicI32 = AtomicI32::new(0);
/// A signal that came before the command's pid was known, to pass on then.
static PENDING: AtomicI32 = AtomicI32::new(0);

/// The signals passed on to the command.
const PASSED_ON: [libc::c_int; 4] = [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP];

extern "C" fn pass_on(signal: libc::c_int) {
    let child = CHILD.load(Ordering::SeqCst);
    if child > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(-child, signal) };
    } else {
        PENDING.store(signal, Ordering::SeqCst);
    }
}

/// Whether maestro runs in the foreground of the terminal on its stdin:
/// then the command gets the terminal while it runs, as a shell's job does.
fn in_foreground() -> bool {
    // SAFETY: isatty, tcgetpgrp and getpgrp only read.
    unsafe { libc::isatty(0) == 1 && libc::tcgetpgrp(0) == libc::getpgrp() }
}

/// Gives the terminal's foreground to group `group`, SIGTTOU held off (a
/// process outside the foreground gets it for trying).
///
/// # Safety
/// Async-signal-safe: callable between fork and exec.
unsafe fn give_terminal(group: libc::pid_t) {
    // SAFETY: sigprocmask and tcsetpgrp on a stack set and stdin.
    unsafe {
        let mut ttou: libc::sigset_t = std::mem::zeroed();
        let mut before: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut ttou);
        libc::sigaddset(&mut ttou, libc::SIGTTOU);
        libc::sigprocmask(libc::SIG_BLOCK, &ttou, &mut before);
        libc::tcsetpgrp(0, group);
        libc::sigprocmask(libc::SIG_SETMASK, &before, std::ptr::null_mut());
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
    // Its own group, which the watcher kills if maestro dies first: what
    // the command leaves in the background dies with it then.
    command.args(args).process_group(0);
    let parent = std::process::id() as libc::pid_t;
    let lock_fd = held.file.as_raw_fd();
    let foreground = in_foreground();
    let watcher =
        Watcher::start().map_err(|e| Error::system("cannot start watching the command", e))?;
    let watch_fd = watcher.fd();
    // Signals for maestro are passed on to the command's group, which
    // decides (with the terminal, Ctrl-C reaches that group directly). The
    // handler is in place before the command starts: a signal the moment
    // it has started must not kill maestro instead. The command gets the
    // dispositions maestro had (an ignored signal stays ignored).
    let mut ignored = [false; PASSED_ON.len()];
    // SAFETY: plain dispositions; the handler only calls kill(2) or stores.
    unsafe {
        let handler = pass_on as extern "C" fn(libc::c_int) as *const () as libc::sighandler_t;
        for (signal, ignored) in PASSED_ON.iter().zip(&mut ignored) {
            *ignored = libc::signal(*signal, handler) == libc::SIG_IGN;
        }
    }
    // SAFETY: between fork and exec only async-signal-safe calls: prctl,
    // getppid, getpid, pwrite, write, sigprocmask, signal, tcsetpgrp,
    // _exit; the records are built on the stack.
    unsafe {
        command.pre_exec(move || {
            for (signal, ignored) in PASSED_ON.iter().zip(ignored) {
                libc::signal(*signal, if ignored { libc::SIG_IGN } else { libc::SIG_DFL });
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // maestro died before the prctl took effect.
            if libc::getppid() != parent {
                libc::_exit(128 + libc::SIGKILL);
            }
            let pid = libc::getpid();
            let record = pid_record(pid);
            libc::pwrite(lock_fd, record.as_ptr().cast(), record.len(), 0);
            libc::write(watch_fd, pid.to_ne_bytes().as_ptr().cast(), 4);
            if foreground {
                give_terminal(pid);
            }
            Ok(())
        });
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            watcher.finish();
            let name = program.to_string_lossy();
            eprintln!("maestro: cannot run '{name}': {e}");
            drop(held);
            return Ok(if e.kind() == io::ErrorKind::NotFound { 127 } else { 126 });
        }
    };
    CHILD.store(child.id() as i32, Ordering::SeqCst);
    let early = PENDING.swap(0, Ordering::SeqCst);
    if early != 0 {
        // SAFETY: kill(2) on the command's own group.
        unsafe { libc::kill(-(child.id() as i32), early) };
    }
    let status = loop {
        match child.wait() {
            Ok(status) => break status,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::system("cannot wait for the command", e)),
        }
    };
    if foreground {
        // SAFETY: tcsetpgrp on stdin, for maestro's own group.
        unsafe { give_terminal(libc::getpgrp()) };
    }
    watcher.finish();
    // The command is gone: nobody needs to wait for it.
    let _ = held.file.set_len(0);
    drop(held);
    Ok(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

/// `pid` as ten digits and a newline, with no allocation (it is written
/// between fork and exec).
fn pid_record(pid: libc::pid_t) -> [u8; PID_RECORD] {
    let mut record = [b'0'; PID_RECORD];
    record[PID_RECORD - 1] = b'\n';
    let mut rest = pid.unsigned_abs();
    for digit in record[..PID_RECORD - 1].iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    record
}
