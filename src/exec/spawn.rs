//! Starting one process in its own process group, with its stdout and
//! stderr on a given fd and stdin on a given fd or /dev/null.
//!
//! This is what `std::process::Command` and glibc's `posix_spawn` do too,
//! minus their per-spawn work. Command copies maestro's whole environment
//! into a map and back into a C array on every spawn, and probes resource
//! limits several times: here the environment is captured once per run
//! ([`Environment`]) and each spawn only lays its own variables over it.
//! glibc's `posix_spawn` (2.36) maps a fresh stack for every child, and its
//! child resets the disposition of every one of the 64 signals, two
//! `rt_sigaction` calls each: 122 system calls per spawn, before `execve`.
//! [`Spawner`] does what it does (a `vfork`-style clone: no copy of
//! maestro's memory, maestro paused until the child has exec'd) with one
//! stack kept for every child, and resets only the signals maestro handles.
//! That makes a spawn cheaper than a `posix_spawn` loop's.

use std::ffi::{CString, OsStr};
use std::io;
use std::marker::PhantomData;
use std::os::fd::{IntoRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};

/// Maestro's own environment as `KEY=VALUE` C strings, captured once.
#[derive(Debug)]
pub struct Environment {
    entries: Vec<CString>,
}

impl Environment {
    /// The current process's environment.
    pub fn capture() -> Environment {
        let entries = std::env::vars_os()
            .filter_map(|(key, value)| {
                let mut entry = key.as_bytes().to_vec();
                entry.push(b'=');
                entry.extend_from_slice(value.as_bytes());
                CString::new(entry).ok()
            })
            .collect();
        Environment { entries }
    }

    /// Sets `key` to `value` for every process started from now on.
    pub fn set(&mut self, key: &str, value: &OsStr) {
        let named = |entry: &CString| {
            entry.as_bytes().strip_prefix(key.as_bytes()).is_some_and(|rest| rest.starts_with(b"="))
        };
        self.entries.retain(|entry| !named(entry));
        let mut entry = format!("{key}=").into_bytes();
        entry.extend_from_slice(value.as_bytes());
        if let Ok(entry) = CString::new(entry) {
            self.entries.push(entry);
        }
    }

    /// The environment with `overrides` laid over it: maestro's variables
    /// minus those overridden, then the overrides (the last of a repeated
    /// key wins). Maestro's own entries are pointed at, not copied.
    pub fn with(&self, overrides: &[(String, String)]) -> io::Result<EnvBlock<'_>> {
        let named = |entry: &[u8], key: &str| {
            entry.len() > key.len() && entry[key.len()] == b'=' && entry.starts_with(key.as_bytes())
        };
        let mut extra = Vec::with_capacity(overrides.len());
        for (i, (key, value)) in overrides.iter().enumerate() {
            if overrides[i + 1..].iter().all(|(later, _)| later != key) {
                extra
                    .push(c_string(format!("{key}={value}").into_bytes(), "environment variable")?);
            }
        }
        let pointers = self
            .entries
            .iter()
            .filter(|entry| !overrides.iter().any(|(key, _)| named(entry.as_bytes(), key)))
            .chain(&extra)
            .map(|entry| entry.as_ptr().cast_mut())
            .chain([ptr::null_mut()])
            .collect();
        Ok(EnvBlock { _extra: extra, pointers, _base: PhantomData })
    }

    /// The value of `key`, as maestro sees it.
    pub fn get(&self, key: &str) -> Option<&OsStr> {
        self.entries.iter().find_map(|entry| {
            let entry = entry.as_bytes();
            let rest = entry.strip_prefix(key.as_bytes())?.strip_prefix(b"=")?;
            Some(OsStr::from_bytes(rest))
        })
    }
}

/// A whole environment, as the null-terminated array `execve` takes.
#[derive(Debug)]
pub struct EnvBlock<'a> {
    /// Owns the strings `pointers` has beyond maestro's own (a CString's
    /// bytes do not move when the Vec holding it does).
    _extra: Vec<CString>,
    pointers: Vec<*mut libc::c_char>,
    _base: PhantomData<&'a Environment>,
}

impl EnvBlock<'_> {
    /// The `KEY=VALUE` entries, in order.
    #[cfg(test)]
    fn entries(&self) -> Vec<&str> {
        let live = &self.pointers[..self.pointers.len() - 1];
        // SAFETY: every pointer but the last is a live CString's.
        live.iter().map(|&p| unsafe { std::ffi::CStr::from_ptr(p) }.to_str().unwrap()).collect()
    }
}

/// One process to start.
#[derive(Debug)]
pub struct ProcessSpec<'a> {
    /// The executable file (absolute, or relative to `dir`).
    pub program: &'a Path,
    /// The arguments, `argv[0]` included.
    pub argv: &'a [CString],
    /// The whole environment.
    pub env: &'a EnvBlock<'a>,
    /// Working directory; `None` keeps maestro's.
    pub dir: Option<&'a Path>,
    /// Where stdout goes; stays open in maestro.
    pub stdout: RawFd,
    /// Where stderr goes (may be `stdout`); stays open in maestro.
    pub stderr: RawFd,
    /// Where stdin comes from; `None` is `/dev/null`.
    pub stdin: Option<RawFd>,
    /// Where the child stores its pid once it leads its own group, before
    /// it execs (the guardian's table: see [`super::guardian`]); null for
    /// nowhere.
    pub record_pid_at: *const AtomicI32,
}

/// Starts processes; one per call, from one thread (`&mut self`): the
/// children all use the same stack, one after the other.
#[derive(Debug, Default)]
pub struct Spawner {
    stack: Option<ChildStack>,
    /// Signals whose disposition a child sets back to the default: those
    /// maestro handles, and SIGPIPE (which it ignores; an ignored signal
    /// stays ignored across `execve`, a handled one does not).
    reset: Option<Vec<libc::c_int>>,
}

impl Spawner {
    /// Starts `spec` in a new process group (its pid is the group's id).
    /// Fails with the errno of whatever stopped it (ENOENT, EACCES, ENOEXEC,
    /// a bad working directory...).
    pub fn spawn(&mut self, spec: &ProcessSpec) -> io::Result<libc::pid_t> {
        let program = c_string(spec.program.as_os_str().as_bytes().to_vec(), "program path")?;
        let argv = null_terminated(spec.argv);
        let dir = match spec.dir {
            Some(dir) => Some(c_string(dir.as_os_str().as_bytes().to_vec(), "working directory")?),
            None => None,
        };
        let reset = match &self.reset {
            Some(reset) => reset,
            None => self.reset.insert(signals_to_reset()),
        };
        let stack = match &self.stack {
            Some(stack) => stack,
            None => self.stack.insert(ChildStack::new()?),
        };
        let mut child = Child {
            program: program.as_ptr(),
            argv: argv.as_ptr(),
            envp: spec.env.pointers.as_ptr(),
            dir: dir.as_ref().map_or(ptr::null(), |dir| dir.as_ptr()),
            stdout: spec.stdout,
            stderr: spec.stderr,
            stdin: match spec.stdin {
                Some(fd) => fd,
                None => dev_null()?,
            },
            record_pid_at: spec.record_pid_at,
            reset: reset.as_ptr(),
            reset_len: reset.len(),
            error: 0,
        };
        // SAFETY: the child runs `child_main` on its own stack in maestro's
        // memory while this thread is suspended (CLONE_VFORK), until it
        // execs or exits; it only makes system calls and reads `child`,
        // whose pointers all outlive the call. Every signal is blocked
        // around the clone, so no handler of maestro's runs in the child.
        let (pid, error) = unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut previous: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut previous);
            let pid = libc::clone(
                child_main,
                stack.top(),
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                (&raw mut child).cast(),
            );
            let clone_error = io::Error::last_os_error();
            libc::pthread_sigmask(libc::SIG_SETMASK, &previous, ptr::null_mut());
            if pid < 0 {
                return Err(clone_error);
            }
            (pid, ptr::read_volatile(&raw const child.error))
        };
        if error != 0 {
            reap_failed(pid);
            return Err(io::Error::from_raw_os_error(error));
        }
        Ok(pid)
    }
}

/// What the child needs, prepared before the clone: it may not allocate.
struct Child {
    program: *const libc::c_char,
    argv: *const *mut libc::c_char,
    envp: *const *mut libc::c_char,
    /// Null for "stay where maestro is".
    dir: *const libc::c_char,
    stdout: RawFd,
    stderr: RawFd,
    stdin: RawFd,
    record_pid_at: *const AtomicI32,
    reset: *const libc::c_int,
    reset_len: usize,
    /// Set by the child when it fails before or in `execve`.
    error: libc::c_int,
}

/// The child, between the clone and `execve`: system calls only.
extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the parent's `Child`, alive and untouched while the
    // parent is suspended; every pointer in it is valid.
    unsafe {
        let child = &mut *arg.cast::<Child>();
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        for &signal in std::slice::from_raw_parts(child.reset, child.reset_len) {
            libc::sigaction(signal, &default, ptr::null_mut());
        }
        // Rust's runtime opens /dev/null on any of fds 0-2 closed at start,
        // so no fd given here is one of them: the order of these is free.
        let grouped = libc::setpgid(0, 0) == 0;
        if grouped && !child.record_pid_at.is_null() {
            (*child.record_pid_at).store(libc::getpid().to_le(), Ordering::Relaxed);
        }
        let ready = grouped
            && redirect(child.stdout, 1)
            && redirect(child.stderr, 2)
            && redirect(child.stdin, 0)
            && (child.dir.is_null() || libc::chdir(child.dir) == 0);
        if ready {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::pthread_sigmask(libc::SIG_SETMASK, &none, ptr::null_mut());
            libc::execve(child.program, child.argv.cast(), child.envp.cast());
        }
        ptr::write_volatile(&raw mut child.error, *libc::__errno_location());
        libc::_exit(127)
    }
}

/// `from` on fd `to`, open across `execve`.
///
/// # Safety
/// Only in the child: changes its fd table.
unsafe fn redirect(from: RawFd, to: RawFd) -> bool {
    // SAFETY: plain fd operations on the child's own table.
    unsafe {
        if from == to {
            // dup2 onto itself would leave close-on-exec set.
            libc::fcntl(to, libc::F_SETFD, 0) == 0
        } else {
            libc::dup2(from, to) == to
        }
    }
}

/// Signals maestro handles now (a handler would run in the child, on
/// maestro's memory, if one arrived before `execve`), plus SIGPIPE.
fn signals_to_reset() -> Vec<libc::c_int> {
    let mut reset = vec![libc::SIGPIPE];
    for signal in 1..=libc::SIGRTMAX() {
        // SAFETY: reading a signal's disposition into a zeroed struct;
        // signals the C library reserves fail and are skipped.
        let handled = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            libc::sigaction(signal, ptr::null(), &mut action) == 0
                && action.sa_sigaction != libc::SIG_DFL
                && action.sa_sigaction != libc::SIG_IGN
        };
        if handled && signal != libc::SIGPIPE {
            reset.push(signal);
        }
    }
    reset
}

/// Waits for a child that failed before exec'ing (it has exited already).
fn reap_failed(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: waiting for our own child.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0
        && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
    {}
}

/// The stack children run on until they exec, with a guard page below it.
#[derive(Debug)]
struct ChildStack {
    base: *mut libc::c_void,
}

const STACK_BYTES: usize = 64 * 1024;
const GUARD_BYTES: usize = 4096;

impl ChildStack {
    fn new() -> io::Result<ChildStack> {
        // SAFETY: a fresh private anonymous mapping; its lowest page is made
        // inaccessible so that an overflow faults instead of writing on.
        unsafe {
            let base = libc::mmap(
                ptr::null_mut(),
                STACK_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            );
            if base == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            let stack = ChildStack { base };
            if libc::mprotect(base, GUARD_BYTES, libc::PROT_NONE) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(stack)
        }
    }

    /// The highest address: stacks grow down on every target maestro runs on.
    fn top(&self) -> *mut libc::c_void {
        // SAFETY: one past the end of the mapping, 16-byte aligned (page aligned).
        unsafe { self.base.cast::<u8>().add(STACK_BYTES).cast() }
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in new(), no child running on it.
        unsafe { libc::munmap(self.base, STACK_BYTES) };
    }
}

/// A read-only fd of /dev/null, opened once (close-on-exec, so only the
/// copy on a child's stdin survives its exec).
fn dev_null() -> io::Result<RawFd> {
    static DEV_NULL: OnceLock<RawFd> = OnceLock::new();
    if let Some(&fd) = DEV_NULL.get() {
        return Ok(fd);
    }
    let file = std::fs::File::open("/dev/null")?;
    Ok(*DEV_NULL.get_or_init(|| file.into_raw_fd()))
}

/// The file `program` names, searched in `path` (a PATH value) the way the
/// shell does: a name with a slash is taken as is; relative PATH entries
/// (an empty one means `.`) are relative to `dir`.
pub fn search_path(program: &OsStr, path: &OsStr, dir: &Path) -> Option<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return Some(PathBuf::from(program));
    }
    std::env::split_paths(path)
        .map(|entry| dir.join(entry).join(program))
        .find(|candidate| is_executable(candidate))
}

/// Whether `path` is a file with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `bytes` as a C string; a NUL inside is an error naming `what`.
pub fn c_string(bytes: Vec<u8>, what: &str) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{what} contains a NUL byte"))
    })
}

fn null_terminated(strings: &[CString]) -> Vec<*mut libc::c_char> {
    strings.iter().map(|s| s.as_ptr().cast_mut()).chain([ptr::null_mut()]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[&str]) -> Environment {
        Environment { entries: pairs.iter().map(|p| CString::new(*p).unwrap()).collect() }
    }

    #[test]
    fn overrides_replace_whole_keys_only() {
        let base = env_of(&["PATH=/bin", "PATHX=1", "HOME=/root"]);
        let env = base.with(&[("PATH".into(), "/usr/bin".into())]).unwrap();
        assert_eq!(env.entries(), ["PATHX=1", "HOME=/root", "PATH=/usr/bin"]);
    }

    #[test]
    fn the_last_of_a_repeated_override_wins() {
        let base = env_of(&["A=0"]);
        let env = base.with(&[("A".into(), "1".into()), ("A".into(), "2".into())]).unwrap();
        assert_eq!(env.entries(), ["A=2"]);
    }

    #[test]
    fn a_nul_in_a_variable_is_an_error() {
        let error = env_of(&[]).with(&[("A".into(), "x\0y".into())]).unwrap_err();
        assert!(error.to_string().contains("NUL"), "{error}");
    }

    #[test]
    fn get_reads_a_captured_variable() {
        let base = env_of(&["PATH=/bin:/usr/bin", "P=1"]);
        assert_eq!(base.get("PATH"), Some(OsStr::new("/bin:/usr/bin")));
        assert_eq!(base.get("PAT"), None);
    }

    #[test]
    fn search_path_resolves_relative_entries_against_the_directory() {
        let dir = std::env::temp_dir().join(format!("maestro-search-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("tools")).unwrap();
        let tool = dir.join("tools/hello");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let search = |program: &str, path: &str| search_path(program.as_ref(), path.as_ref(), &dir);
        assert_eq!(search("hello", "/nonexistent:tools"), Some(tool));
        assert_eq!(search("absent", "tools"), None);
        assert_eq!(search("./x", ""), Some(PathBuf::from("./x")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
