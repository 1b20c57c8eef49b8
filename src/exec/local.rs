//! Processes on this machine: one process group per attempt, output straight
//! into its log file (or a pipe in stream mode), exits learned from SIGCHLD.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicI32;
use std::time::Duration;

use super::guardian::{Guardian, Slot};
use super::signals::{SignalFd, pipe};
use super::spawn::{EnvBlock, Environment, ProcessSpec, Spawner, c_string, search_path};
use super::{ExecEvent, OutputTo, Spawn, Termination, Usage};
use crate::template::split_direct;

/// A spawned attempt's process, until reaped.
#[derive(Debug)]
struct Child {
    key: usize,
    /// Its place in the guardian's table.
    guarded: Slot,
    /// Read ends of its output pipes, in stream mode: stdout's (or both
    /// streams'), then stderr's.
    pipes: [Option<File>; 2],
}

/// Runs attempts as local processes.
#[derive(Debug)]
pub struct LocalExecutor {
    signals: SignalFd,
    guardian: Guardian,
    children: HashMap<u32, Child>,
    pending: VecDeque<ExecEvent>,
    programs: ProgramPaths,
    spawner: Spawner,
    environment: Environment,
    /// Maestro's working directory (it never changes it).
    cwd: Option<PathBuf>,
    /// Another fd whose readability ends a wait (see [`Self::wake_on`]).
    wake: Option<RawFd>,
}

impl LocalExecutor {
    /// Installs signal handling and starts the guardian. Every task will
    /// see `MAESTRO` (this maestro's executable, for scripts that call it
    /// back, as make's `$(MAKE)`) and `MAESTRO_STATE` (`state_dir`, where
    /// the primitives they use live).
    pub fn new(state_dir: &Path) -> io::Result<LocalExecutor> {
        let signals = SignalFd::install()?;
        let guardian = Guardian::start()?;
        let mut environment = Environment::capture();
        if let Ok(exe) = std::env::current_exe() {
            environment.set("MAESTRO", exe.as_os_str());
        }
        environment.set(crate::prims::STATE_ENV, state_dir.as_os_str());
        Ok(LocalExecutor {
            signals,
            guardian,
            children: HashMap::new(),
            pending: VecDeque::new(),
            programs: ProgramPaths::new(environment.get("PATH")),
            spawner: Spawner::default(),
            environment,
            cwd: std::env::current_dir().ok(),
            wake: None,
        })
    }

    /// Makes [`Self::wait`] also return when `fd` (non-blocking, the read
    /// end of a pipe someone writes to in order to wake us) is readable; what
    /// is in it is read and dropped.
    pub fn wake_on(&mut self, fd: RawFd) {
        self.wake = Some(fd);
    }

    /// Starts `spawn` in a new process group; returns its pid (= its group).
    pub fn spawn(&mut self, spawn: Spawn<'_>) -> io::Result<u32> {
        let mut pipes = [None, None];
        let mut pipe_writes = Vec::new();
        let mut piped = |index: usize| -> io::Result<RawFd> {
            let (read, write) = pipe(libc::O_CLOEXEC)?;
            set_nonblocking(&read)?;
            pipes[index] = Some(File::from(read));
            pipe_writes.push(write);
            Ok(pipe_writes[pipe_writes.len() - 1].as_raw_fd())
        };
        let output = match &spawn.output {
            OutputTo::File(file) => (file.as_raw_fd(), file.as_raw_fd()),
            OutputTo::Split { stdout, stderr } => (stdout.as_raw_fd(), stderr.as_raw_fd()),
            OutputTo::Pipe => {
                let fd = piped(0)?;
                (fd, fd)
            }
            OutputTo::Pipes => (piped(0)?, piped(1)?),
        };
        let env = self.environment.with(&spawn.env)?;
        let line = split_direct(&spawn.cmd);
        let guard = self.guardian.reserve()?;
        let mut start = |direct| {
            let process = Process { direct, cwd: self.cwd.as_deref(), env: &env, output };
            Self::start(&mut self.spawner, &mut self.programs, &spawn, process, guard.cell)
        };
        let started = match start(line.as_deref()) {
            // A script without `#!` cannot be exec'd, but sh runs it: as make
            // does, fall back to the shell rather than fail where sh would not.
            Err(e) if line.is_some() && e.raw_os_error() == Some(libc::ENOEXEC) => start(None),
            result => result,
        };
        let pid = match started {
            Ok(pid) => pid as u32,
            Err(e) => {
                self.guardian.forget(guard.slot);
                return Err(e);
            }
        };
        // Our copies of the pipes' write ends close here, so the pipes reach
        // EOF when the task's tree exits.
        drop(pipe_writes);
        self.children.insert(pid, Child { key: spawn.key, guarded: guard.slot, pipes });
        Ok(pid)
    }

    /// Starts `spawn` with `direct` as its argv, or through `/bin/sh -c`
    /// when `None`.
    fn start(
        spawner: &mut Spawner,
        programs: &mut ProgramPaths,
        spawn: &Spawn,
        Process { direct, cwd, env, output: (stdout, stderr) }: Process,
        record_pid_at: *const AtomicI32,
    ) -> io::Result<libc::pid_t> {
        let (program, argv) = match direct {
            Some(argv) => {
                let name = OsStr::from_bytes(argv[0]);
                let program = match spawn.env.iter().find(|(k, _)| k == "PATH") {
                    Some((_, path)) => search_path(name, OsStr::new(path), &spawn.dir),
                    None => programs.resolve(name, &spawn.dir),
                }
                .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
                let argv = argv
                    .iter()
                    .map(|arg| c_string(arg.to_vec(), "command"))
                    .collect::<io::Result<Vec<_>>>()?;
                (program, argv)
            }
            None => {
                let argv =
                    vec![c"sh".into(), c"-c".into(), c_string(spawn.cmd.clone(), "command")?];
                (PathBuf::from("/bin/sh"), argv)
            }
        };
        // Most tasks run where maestro does: no chdir for them.
        let dir = (Some(spawn.dir.as_path()) != cwd).then_some(spawn.dir.as_path());
        spawner.spawn(&ProcessSpec {
            program: &program,
            argv: &argv,
            env,
            dir,
            stdout,
            stderr,
            record_pid_at,
        })
    }

    /// Sends `signal` to the whole process group of `pid`.
    pub fn signal_group(&self, pid: u32, signal: i32) {
        // SAFETY: kill(2) on a group maestro created and has not reaped yet.
        unsafe { libc::kill(-(pid as i32), signal) };
    }

    /// Waits up to `timeout` (forever when `None`) for something to happen.
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<Vec<ExecEvent>> {
        if self.pending.is_empty() {
            self.poll(timeout)?;
        }
        Ok(self.pending.drain(..).collect())
    }

    fn poll(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let mut fds =
            vec![libc::pollfd { fd: self.signals.fd(), events: libc::POLLIN, revents: 0 }];
        let mut piped = Vec::new();
        for (&pid, child) in &self.children {
            for (index, pipe) in child.pipes.iter().enumerate() {
                if let Some(pipe) = pipe {
                    let fd = pipe.as_raw_fd();
                    fds.push(libc::pollfd { fd, events: libc::POLLIN, revents: 0 });
                    piped.push((pid, index));
                }
            }
        }
        let wake_at = fds.len();
        if let Some(fd) = self.wake {
            fds.push(libc::pollfd { fd, events: libc::POLLIN, revents: 0 });
        }
        let timeout_ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as i32);
        // SAFETY: `fds` is a valid array of pollfd of the given length.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if ready < 0 {
            let error = io::Error::last_os_error();
            return if error.kind() == io::ErrorKind::Interrupted { Ok(()) } else { Err(error) };
        }
        for (pollfd, (pid, index)) in fds[1..wake_at].iter().zip(piped) {
            if pollfd.revents != 0 {
                self.read_pipe(pid, index);
            }
        }
        if let Some(wake) = fds.get(wake_at).filter(|pollfd| pollfd.revents != 0) {
            let mut sink = [0u8; 256];
            loop {
                // SAFETY: reading into a local buffer from a non-blocking fd.
                match unsafe { libc::read(wake.fd, sink.as_mut_ptr().cast(), sink.len()) } {
                    n if n > 0 => continue,
                    // The writer is gone: nothing will wake us through it
                    // again, and polling it would return at once forever.
                    0 => self.wake = None,
                    _ => {}
                }
                break;
            }
        }
        if fds[0].revents != 0 {
            for signal in self.signals.drain() {
                if signal == libc::SIGCHLD {
                    self.reap();
                } else {
                    self.pending.push_back(ExecEvent::Signal(signal));
                }
            }
        }
        Ok(())
    }

    /// Reads what a piped child wrote to pipe `index`; closes it at EOF.
    fn read_pipe(&mut self, pid: u32, index: usize) {
        let Some(child) = self.children.get_mut(&pid) else { return };
        let Some(pipe) = &mut child.pipes[index] else { return };
        let mut buffer = vec![0u8; 64 * 1024];
        match pipe.read(&mut buffer) {
            Ok(0) => child.pipes[index] = None,
            Ok(n) => {
                buffer.truncate(n);
                let (key, stderr) = (child.key, index == 1);
                self.pending.push_back(ExecEvent::Output { key, bytes: buffer, stderr });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => child.pipes[index] = None,
        }
    }

    /// Collects every exited child. Each one's group is killed before it is
    /// reaped: while the leader is a zombie its pid cannot be reused, so the
    /// kill reaches only processes the task left behind.
    fn reap(&mut self) {
        loop {
            // SAFETY: waitid with WNOWAIT only inspects; siginfo is zeroed.
            let pid = unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
                if libc::waitid(libc::P_ALL, 0, &mut info, flags) != 0 {
                    break;
                }
                info.si_pid()
            };
            if pid <= 0 {
                break;
            }
            let child = self.children.remove(&(pid as u32));
            if let Some(child) = &child {
                self.signal_group(pid as u32, libc::SIGKILL);
                // Nothing is left in the group to guard: only its leader, a
                // zombie until the wait below.
                self.guardian.forget(child.guarded);
            }
            let (status, usage) = wait4(pid);
            let Some(mut child) = child else { continue };
            for (index, pipe) in child.pipes.iter_mut().enumerate() {
                if let Some(pipe) = pipe.take() {
                    self.drain_pipe(child.key, pipe, index == 1);
                }
            }
            let termination = if libc::WIFSIGNALED(status) {
                Termination::Signaled(libc::WTERMSIG(status))
            } else {
                Termination::Exited(libc::WEXITSTATUS(status))
            };
            self.pending.push_back(ExecEvent::Exited { key: child.key, termination, usage });
        }
    }

    /// Reads what is left in a reaped child's pipe. Writers still alive
    /// (being killed, or escaped from the group) are not waited for.
    fn drain_pipe(&mut self, key: usize, mut pipe: File, stderr: bool) {
        let mut rest = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(n) = pipe.read(&mut buffer) {
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&buffer[..n]);
        }
        if !rest.is_empty() {
            self.pending.push_back(ExecEvent::Output { key, bytes: rest, stderr });
        }
    }
}

/// How one spawn goes: through the shell or not, from where, with what.
#[derive(Clone, Copy)]
struct Process<'a> {
    /// The argv to exec directly; `None` runs the command with `/bin/sh -c`.
    direct: Option<&'a [&'a [u8]]>,
    /// Maestro's working directory.
    cwd: Option<&'a Path>,
    env: &'a EnvBlock<'a>,
    /// stdout's and stderr's fds.
    output: (RawFd, RawFd),
}

/// Where programs named without a slash live, looked up in maestro's PATH
/// once per run instead of once per spawn: a PATH search tries every entry
/// in turn, and each miss is a failed execve (measured: 8 misses, a tenth of
/// the cost of spawning `true`, on a typical PATH).
#[derive(Debug, Default)]
struct ProgramPaths {
    path: std::ffi::OsString,
    found: HashMap<std::ffi::OsString, PathBuf>,
}

impl ProgramPaths {
    fn new(path: Option<&OsStr>) -> ProgramPaths {
        ProgramPaths { path: path.unwrap_or_default().to_owned(), found: HashMap::new() }
    }

    /// The executable file `program` names, run from `dir`. Only answers
    /// that do not depend on `dir` are remembered: a PATH with a relative
    /// entry (an empty one is the working directory) is searched each time.
    fn resolve(&mut self, program: &OsStr, dir: &Path) -> Option<PathBuf> {
        if let Some(found) = self.found.get(program) {
            return Some(found.clone());
        }
        let found = search_path(program, &self.path, dir)?;
        if found.is_absolute() && std::env::split_paths(&self.path).all(|d| d.is_absolute()) {
            self.found.insert(program.to_owned(), found.clone());
        }
        Some(found)
    }
}

/// Reaps `pid`: its wait status and the resources its tree used.
fn wait4(pid: i32) -> (i32, Usage) {
    let mut status = 0;
    // SAFETY: wait4 fills status and a zeroed rusage.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        while libc::wait4(pid, &mut status, 0, &mut usage) < 0
            && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
        {}
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let usage = Usage {
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss.max(0) as u64,
    };
    (status, usage)
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd we own.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
