//! Starting one process with `posix_spawn`, in its own process group, with
//! its stdout and stderr on a given fd and stdin on /dev/null.
//!
//! This is what `std::process::Command` does too, minus its per-spawn work:
//! Command copies maestro's whole environment into a map and back into a
//! C array on every spawn, and probes resource limits several times. Here
//! the environment is captured once per run ([`Environment`]) and each
//! spawn only lays its own variables over it.

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::marker::PhantomData;
use std::os::fd::{IntoRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::OnceLock;

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
        live.iter().map(|&p| unsafe { CStr::from_ptr(p) }.to_str().unwrap()).collect()
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
    /// Where stdout and stderr go; stays open in maestro.
    pub output: RawFd,
}

/// Starts `spec` in a new process group (its pid is the group's id).
/// Fails with the errno of whatever stopped it (ENOENT, EACCES, ENOEXEC,
/// a bad working directory...), as `posix_spawn` reports it.
pub fn spawn(spec: &ProcessSpec) -> io::Result<libc::pid_t> {
    let program = c_string(spec.program.as_os_str().as_bytes().to_vec(), "program path")?;
    let argv = null_terminated(spec.argv);
    let actions = FileActions::new()?;
    // Output first: if the output fd happens to be 0, stdin must be
    // replaced only after it was copied.
    actions.dup2(spec.output, 1)?;
    actions.dup2(spec.output, 2)?;
    actions.dup2(dev_null()?, 0)?;
    if let Some(dir) = spec.dir {
        actions.chdir(&c_string(dir.as_os_str().as_bytes().to_vec(), "working directory")?)?;
    }
    let attributes = Attributes::new_group()?;
    let mut pid = 0;
    // SAFETY: every pointer is valid for the call: the C strings and the
    // null-terminated arrays outlive it, actions and attributes are
    // initialised.
    let error = unsafe {
        libc::posix_spawn(
            &mut pid,
            program.as_ptr(),
            &actions.0,
            &attributes.0,
            argv.as_ptr(),
            spec.env.pointers.as_ptr(),
        )
    };
    check(error)?;
    Ok(pid)
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
pub fn search_path(program: &str, path: &OsStr, dir: &Path) -> Option<PathBuf> {
    if program.contains('/') {
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

fn check(error: libc::c_int) -> io::Result<()> {
    if error == 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(error)) }
}

struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new() -> io::Result<FileActions> {
        // SAFETY: init fills the zeroed struct; destroyed in Drop.
        unsafe {
            let mut actions = std::mem::zeroed();
            check(libc::posix_spawn_file_actions_init(&mut actions))?;
            Ok(FileActions(actions))
        }
    }

    fn dup2(&self, from: RawFd, to: RawFd) -> io::Result<()> {
        // SAFETY: initialised actions; glibc copies what it needs. A `from`
        // equal to `to` clears close-on-exec, as POSIX 2024 specifies.
        check(unsafe { libc::posix_spawn_file_actions_adddup2(self.ptr(), from, to) })
    }

    fn chdir(&self, dir: &CStr) -> io::Result<()> {
        // SAFETY: initialised actions; glibc copies the path.
        check(unsafe { libc::posix_spawn_file_actions_addchdir_np(self.ptr(), dir.as_ptr()) })
    }

    fn ptr(&self) -> *mut libc::posix_spawn_file_actions_t {
        (&raw const self.0).cast_mut()
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised in new().
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

struct Attributes(libc::posix_spawnattr_t);

impl Attributes {
    /// A new process group, no blocked signals, and SIGPIPE back to its
    /// default (maestro ignores it, and ignored signals survive exec).
    fn new_group() -> io::Result<Attributes> {
        // SAFETY: init fills the zeroed struct (destroyed in Drop); the
        // signal sets are local and initialised before use.
        unsafe {
            let mut attributes = std::mem::zeroed();
            check(libc::posix_spawnattr_init(&mut attributes))?;
            let attributes = Attributes(attributes);
            let a = (&raw const attributes.0).cast_mut();
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            check(libc::posix_spawnattr_setsigmask(a, &none))?;
            let mut default: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut default);
            libc::sigaddset(&mut default, libc::SIGPIPE);
            check(libc::posix_spawnattr_setsigdefault(a, &default))?;
            check(libc::posix_spawnattr_setpgroup(a, 0))?;
            let flags = libc::POSIX_SPAWN_SETPGROUP
                | libc::POSIX_SPAWN_SETSIGMASK
                | libc::POSIX_SPAWN_SETSIGDEF;
            check(libc::posix_spawnattr_setflags(a, flags as libc::c_short))?;
            Ok(attributes)
        }
    }
}

impl Drop for Attributes {
    fn drop(&mut self) {
        // SAFETY: initialised in new_group().
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
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
        assert_eq!(search_path("hello", OsStr::new("/nonexistent:tools"), &dir), Some(tool));
        assert_eq!(search_path("absent", OsStr::new("tools"), &dir), None);
        assert_eq!(search_path("./x", OsStr::new(""), &dir), Some(PathBuf::from("./x")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
