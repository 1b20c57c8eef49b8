//! A GNU make jobserver over the run's job slots, so that a task running
//! `make`, `ninja` or `cargo` runs its own jobs inside maestro's `-j`
//! instead of beside it.
//!
//! The slots are tokens (one byte each) in a named pipe: the local backend
//! takes as many as an attempt's CPUs before starting it and puts them back
//! when it ends; a tool in a task (a client, told by `MAKEFLAGS`) takes more
//! for its extra jobs, and gives them back as they end, as it would under
//! an outer make. While a client holds tokens, maestro's next attempt
//! waits for them.
//!
//! Clients read `MAKEFLAGS` two ways: make 4.4, ninja 1.13 and cargo open
//! the pipe by its path (`--jobserver-auth=fifo:PATH`); make up to 4.3
//! knows only inherited descriptors (`--jobserver-auth=R,W`), and stops
//! at the path form. Each reads the last `--jobserver-auth`, so one form
//! is given: the path, unless the `make` tasks would run is older than 4.4.

use std::ffi::{CString, OsStr};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::spawn::search_path;

/// How clients are told where the tokens are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The pipe's path (make 4.4, ninja 1.13, cargo).
    Fifo,
    /// Descriptors every task inherits (make before 4.4, cargo).
    Descriptors,
}

/// The run's tokens.
#[derive(Debug)]
pub struct Jobserver {
    /// maestro's end: read and written, never blocking.
    pipe: File,
    /// The end tasks inherit, for [`Form::Descriptors`].
    inherited: Option<File>,
    path: PathBuf,
    total: u32,
    makeflags: String,
}

/// The byte a token is. Clients give back what they took, whatever it is.
const TOKEN: u8 = b'+';

impl Jobserver {
    /// Makes the pipe at `path` and puts `total` tokens in it.
    pub fn create(path: PathBuf, total: u32, form: Form) -> io::Result<Jobserver> {
        let _ = fs::remove_file(&path);
        let name = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::other("a jobserver path with a NUL byte"))?;
        // SAFETY: mkfifo with a valid C string.
        if unsafe { libc::mkfifo(name.as_ptr(), 0o600) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // Opened for reading and writing, the pipe never blocks its opener
        // and never reads as ended. std opens it close-on-exec.
        let open =
            || OpenOptions::new().read(true).write(true).custom_flags(libc::O_NONBLOCK).open(&path);
        let pipe = open()?;
        let inherited = match form {
            Form::Fifo => None,
            Form::Descriptors => {
                let file = open()?;
                clear_cloexec(file.as_raw_fd())?;
                Some(file)
            }
        };
        let auth = match &inherited {
            Some(file) => format!("{0},{0}", file.as_raw_fd()),
            None => format!("fifo:{}", path.display()),
        };
        let makeflags = format!(" -j{total} --jobserver-auth={auth}");
        let mut jobserver = Jobserver { pipe, inherited, path, total, makeflags };
        jobserver.give(total);
        Ok(jobserver)
    }

    /// What tasks get as `MAKEFLAGS`.
    pub fn makeflags(&self) -> &str {
        &self.makeflags
    }

    /// The descriptor that is readable when tokens come back.
    pub fn fd(&self) -> RawFd {
        self.pipe.as_raw_fd()
    }

    /// Takes up to `want` tokens there are now; how many it took.
    pub fn take(&mut self, want: u32) -> u32 {
        if want == 0 {
            return 0;
        }
        let mut buffer = vec![0u8; want as usize];
        match self.pipe.read(&mut buffer) {
            Ok(n) => n as u32,
            Err(_) => 0,
        }
    }

    /// Puts `count` tokens back.
    pub fn give(&mut self, count: u32) {
        let bytes = vec![TOKEN; count as usize];
        // A pipe holds 64 KiB: far more tokens than slots.
        let _ = self.pipe.write_all(&bytes);
    }

    /// Makes the tokens whole again, when no task runs (so no client can
    /// hold any): a client killed before it gave its tokens back lost them.
    pub fn refill(&mut self) {
        let mut buffer = [0u8; 512];
        while self.pipe.read(&mut buffer).is_ok_and(|n| n > 0) {}
        self.give(self.total);
    }
}

impl Drop for Jobserver {
    fn drop(&mut self) {
        drop(self.inherited.take());
        let _ = fs::remove_file(&self.path);
    }
}

fn clear_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor this process owns.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The form the `make` on `path` (a `PATH` value) reads, remembered in
/// `cache` for as long as that make is the same file: asking it costs a
/// process (a millisecond) per run.
pub fn form_for(path: &OsStr, cache: &Path) -> Form {
    let here = Path::new(".");
    let Some(make) = search_path(OsStr::new("make"), path, here) else {
        return Form::Fifo;
    };
    let Ok(meta) = fs::metadata(&make) else { return Form::Fifo };
    let key = format!("{} {} {} {}", make.display(), meta.mtime(), meta.mtime_nsec(), meta.size());
    if let Ok(text) = fs::read_to_string(cache)
        && let Some((cached, form)) = text.trim_end().rsplit_once(' ')
        && cached == key
    {
        return if form == "descriptors" { Form::Descriptors } else { Form::Fifo };
    }
    let version = Command::new(&make)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
    let form = form_of_version(&version);
    let word = if form == Form::Descriptors { "descriptors" } else { "fifo" };
    let _ = crate::private::create(cache).and_then(|mut f| writeln!(f, "{key} {word}"));
    form
}

/// The form a make whose `--version` says `version` reads: descriptors
/// before GNU Make 4.4.
fn form_of_version(version: &str) -> Form {
    let Some(rest) = version.lines().next().and_then(|l| l.strip_prefix("GNU Make ")) else {
        return Form::Fifo;
    };
    let mut numbers = rest.split(['.', ' ']).map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    if (major, minor) >= (4, 4) { Form::Fifo } else { Form::Descriptors }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_before_4_4_gets_descriptors() {
        assert_eq!(form_of_version("GNU Make 4.3\nBuilt for x86_64"), Form::Descriptors);
        assert_eq!(form_of_version("GNU Make 3.81\n"), Form::Descriptors);
        assert_eq!(form_of_version("GNU Make 4.4.1\n"), Form::Fifo);
        assert_eq!(form_of_version("GNU Make 5.0\n"), Form::Fifo);
        assert_eq!(form_of_version("bmake 20240711\n"), Form::Fifo);
    }

    #[test]
    fn tokens_go_out_and_come_back() {
        let path = std::env::temp_dir().join(format!("maestro-js-{}", std::process::id()));
        let mut js = Jobserver::create(path.clone(), 3, Form::Fifo).unwrap();
        assert!(js.makeflags().starts_with(" -j3 --jobserver-auth=fifo:/"));
        assert_eq!(js.take(2), 2);
        assert_eq!(js.take(5), 1);
        assert_eq!(js.take(1), 0);
        js.give(1);
        assert_eq!(js.take(4), 1);
        js.refill();
        assert_eq!(js.take(9), 3);
        drop(js);
        assert!(!path.exists());
    }
}
