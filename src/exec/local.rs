//! Processes on this machine: one process group per attempt, output straight
//! into its files (through a pipe when watched), ends learned from SIGCHLD.

use std::collections::{HashMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicI32;
use std::time::{Duration, Instant};

use super::guardian::{Guardian, Slot};
use super::jobserver::Jobserver;
use super::signals::{SignalFd, pipe};
use super::spawn::{EnvBlock, Environment, ProcessSpec, Spawner, c_string, search_path};
use super::{
    ExecEvent, Executor, Handle, Launch, Output, OutputFiles, Stdin, Termination, Urgency, Usage,
    Watch, spawn_error_text, stdin_writer,
};
use crate::private;
use crate::shell::split_direct;

/// A started attempt's process, until reaped.
#[derive(Debug)]
struct Child {
    handle: Handle,
    /// The jobserver's tokens it holds.
    tokens: u32,
    /// Its place in the guardian's table.
    guarded: Slot,
    /// Read ends of its output pipes, when watched: stdout's (or both
    /// streams'), then stderr's.
    pipes: [Option<File>; 2],
    /// Where what comes through each pipe is written.
    files: [Option<File>; 2],
}

/// Runs attempts as local processes.
#[derive(Debug)]
pub struct LocalExecutor {
    child_exits: SignalFd,
    guardian: Guardian,
    /// By pid.
    children: HashMap<u32, Child>,
    /// The pid of each live handle.
    pids: HashMap<Handle, u32>,
    next_handle: u64,
    pending: Vec<ExecEvent>,
    programs: ProgramPaths,
    spawner: Spawner,
    environment: Environment,
    /// Maestro's working directory (it never changes it).
    cwd: Option<PathBuf>,
    /// A log made ahead by [`Executor::prepare`], until its attempt starts.
    log_ahead: Option<(PathBuf, File)>,
    /// The run's job slots as a jobserver, when tasks share them with
    /// the tools they run.
    jobserver: Option<Jobserver>,
    /// Attempts waiting for the tokens a task's tools hold, in order.
    waiting: VecDeque<Waiting>,
}

/// An attempt that waits for its tokens.
#[derive(Debug)]
struct Waiting {
    handle: Handle,
    launch: Launch,
    /// Tokens it has so far.
    got: u32,
}

/// The tokens an attempt takes: its CPUs.
fn tokens_of(launch: &Launch) -> u32 {
    launch.request.cpus.max(1)
}

impl LocalExecutor {
    /// Starts watching child exits and starts the guardian. Every task will
    /// see `MAESTRO` (this maestro's executable, for scripts that call it
    /// back, as make's `$(MAKE)`) and the variables of `env`.
    pub fn new(env: &[(&str, &OsStr)]) -> io::Result<LocalExecutor> {
        let child_exits = SignalFd::child_exits()?;
        let guardian = Guardian::start()?;
        let mut environment = Environment::capture();
        if let Ok(exe) = std::env::current_exe() {
            environment.set("MAESTRO", exe.as_os_str());
        }
        for (key, value) in env {
            environment.set(key, value);
        }
        Ok(LocalExecutor {
            child_exits,
            guardian,
            children: HashMap::new(),
            pids: HashMap::new(),
            next_handle: 0,
            pending: Vec::new(),
            programs: ProgramPaths::new(environment.get("PATH")),
            spawner: Spawner::default(),
            environment,
            cwd: std::env::current_dir().ok(),
            log_ahead: None,
            jobserver: None,
            waiting: VecDeque::new(),
        })
    }

    /// Shares the job slots with the tools tasks run, through `jobserver`
    /// (which every task finds in `MAKEFLAGS`).
    pub fn with_jobserver(mut self, jobserver: Jobserver) -> LocalExecutor {
        self.environment.set("MAKEFLAGS", OsStr::new(jobserver.makeflags()));
        self.jobserver = Some(jobserver);
        self
    }

    /// Starts `launch` as `handle`, holding `tokens`: reports its start, or
    /// gives the tokens back.
    fn run_now(&mut self, launch: &Launch, handle: Handle, tokens: u32) -> Result<(), String> {
        match self.spawn(launch, handle) {
            Ok((pid, mut child)) => {
                child.tokens = tokens;
                self.children.insert(pid, child);
                self.pids.insert(handle, pid);
                self.pending.push(ExecEvent::Started { handle, late_by: Duration::ZERO });
                Ok(())
            }
            Err(why) => {
                if let Some(jobserver) = &mut self.jobserver {
                    jobserver.give(tokens);
                }
                Err(why)
            }
        }
    }

    /// Starts the waiting attempts whose tokens have come, in order. With
    /// no task running, no tool can hold tokens: the jobserver is made
    /// whole first (a tool killed holding tokens lost them).
    fn start_waiting(&mut self) {
        let Some(jobserver) = &mut self.jobserver else { return };
        if self.children.is_empty() && !self.waiting.is_empty() {
            jobserver.refill();
            self.waiting.iter_mut().for_each(|w| w.got = 0);
        }
        loop {
            let (Some(jobserver), Some(front)) = (&mut self.jobserver, self.waiting.front_mut())
            else {
                return;
            };
            let need = tokens_of(&front.launch);
            front.got += jobserver.take(need - front.got);
            if front.got < need {
                return;
            }
            let Some(ready) = self.waiting.pop_front() else { return };
            if let Err(why) = self.run_now(&ready.launch, ready.handle, need) {
                self.pending.push(ExecEvent::Rejected { handle: ready.handle, why });
            }
        }
    }

    /// Opens the files of `output`: stdout's, then stderr's when apart.
    fn open_files(&mut self, files: &OutputFiles) -> io::Result<(File, Option<File>)> {
        if let OutputFiles::Log { path, attempt: 1 } = files {
            match self.log_ahead.take() {
                Some((ahead, file)) if ahead == *path => return Ok((file, None)),
                other => self.log_ahead = other,
            }
        }
        files.open()
    }

    /// Starts `launch` in a new process group; returns its pid (= its group).
    fn spawn(&mut self, launch: &Launch, handle: Handle) -> Result<(u32, Child), String> {
        let cannot_open =
            |path: &Path, e: io::Error| format!("cannot open {}: {e}", path.display());
        let (out, err) = self
            .open_files(&launch.output.files)
            .map_err(|e| cannot_open(launch.output.files.paths().0, e))?;
        let spawn_error = |e: io::Error| spawn_error_text(&launch.cmd, &launch.dir, &e);
        let mut pipes = [None, None];
        let mut files = [None, None];
        let mut pipe_writes = Vec::new();
        let mut piped = |index: usize, file: File| -> io::Result<RawFd> {
            let (read, write) = pipe(libc::O_CLOEXEC)?;
            set_nonblocking(&read)?;
            pipes[index] = Some(File::from(read));
            files[index] = Some(file);
            pipe_writes.push(write);
            Ok(pipe_writes[pipe_writes.len() - 1].as_raw_fd())
        };
        // Both files stay open here until the child has its copies.
        let fds = match (launch.output.watch, &err) {
            (Watch::No, None) => (out.as_raw_fd(), out.as_raw_fd()),
            (Watch::No, Some(err)) => (out.as_raw_fd(), err.as_raw_fd()),
            (Watch::Merged, _) => {
                let fd = piped(0, out).map_err(spawn_error)?;
                (fd, fd)
            }
            (Watch::Split, _) => {
                let err = match err {
                    Some(err) => err,
                    None => out.try_clone().map_err(spawn_error)?,
                };
                (piped(0, out).map_err(spawn_error)?, piped(1, err).map_err(spawn_error)?)
            }
        };
        let env = self.environment.with(&launch.env).map_err(spawn_error)?;
        // The writer starts first: if the job cannot start, its end of the
        // pipe closes and the writer stops.
        let stdin = match &launch.stdin {
            Stdin::Null => None,
            Stdin::Data(parts) => Some(stdin_writer::start(parts.clone()).map_err(spawn_error)?),
            Stdin::Fifo { path, parts } => {
                stdin_writer::start_fifo(path.clone(), parts.clone()).map_err(spawn_error)?;
                None
            }
        };
        let line = if launch.shell.may_skip() { split_direct(&launch.cmd) } else { None };
        let line = line.filter(|words| launch.shell.may_skip_for(words[0]));
        let guard = self.guardian.reserve().map_err(spawn_error)?;
        let mut start = |direct| {
            let process = Process {
                direct,
                cwd: self.cwd.as_deref(),
                env: &env,
                output: fds,
                stdin: stdin.as_ref().map(AsRawFd::as_raw_fd),
            };
            start(&mut self.spawner, &mut self.programs, launch, process, guard.cell)
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
                return Err(spawn_error(e));
            }
        };
        // Our copies of the pipes' write ends close here, so the pipes reach
        // EOF when the task's tree exits; and unwatched files close, the
        // child holding its own copies.
        drop(pipe_writes);
        drop(stdin);
        Ok((pid, Child { handle, tokens: 0, guarded: guard.slot, pipes, files }))
    }

    /// Sends `signal` to the whole process group of `pid`.
    fn signal_group(pid: u32, signal: i32) {
        // SAFETY: kill(2) on a group maestro created and has not reaped yet.
        unsafe { libc::kill(-(pid as i32), signal) };
    }

    /// Reads what a watched child wrote to pipe `index`; closes it at EOF.
    fn read_pipe(&mut self, pid: u32, index: usize) {
        let Some(child) = self.children.get_mut(&pid) else { return };
        let Some(pipe) = &mut child.pipes[index] else { return };
        let mut buffer = vec![0u8; 64 * 1024];
        match pipe.read(&mut buffer) {
            Ok(0) => child.pipes[index] = None,
            Ok(n) => {
                buffer.truncate(n);
                if let Some(file) = &mut child.files[index] {
                    let _ = file.write_all(&buffer);
                }
                let (handle, stderr) = (child.handle, index == 1);
                self.pending.push(ExecEvent::Output { handle, bytes: buffer, stderr });
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
        let first = self.pending.len();
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
                Self::signal_group(pid as u32, libc::SIGKILL);
                // Nothing is left in the group to guard: only its leader, a
                // zombie until the wait below.
                self.guardian.forget(child.guarded);
            }
            let (status, usage) = wait4(pid);
            let Some(mut child) = child else { continue };
            self.pids.remove(&child.handle);
            if let Some(jobserver) = &mut self.jobserver {
                jobserver.give(child.tokens);
            }
            for index in 0..2 {
                if let Some(pipe) = child.pipes[index].take() {
                    self.drain_pipe(&mut child, pipe, index);
                }
            }
            let termination = if libc::WIFSIGNALED(status) {
                Termination::Signaled(libc::WTERMSIG(status))
            } else {
                Termination::Exited(libc::WEXITSTATUS(status))
            };
            let late_by = Duration::ZERO;
            self.pending.push(ExecEvent::Ended {
                handle: child.handle,
                termination,
                usage,
                late_by,
            });
        }
        in_start_order(&mut self.pending[first..]);
    }

    /// Reads what is left in a reaped child's pipe. Writers still alive
    /// (being killed, or escaped from the group) are not waited for.
    fn drain_pipe(&mut self, child: &mut Child, mut pipe: File, index: usize) {
        let mut rest = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(n) = pipe.read(&mut buffer) {
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&buffer[..n]);
        }
        if !rest.is_empty() {
            if let Some(file) = &mut child.files[index] {
                let _ = file.write_all(&rest);
            }
            let (handle, stderr) = (child.handle, index == 1);
            self.pending.push(ExecEvent::Output { handle, bytes: rest, stderr });
        }
    }
}

impl Executor for LocalExecutor {
    fn start(&mut self, launch: Launch) -> Result<Handle, String> {
        let handle = Handle(self.next_handle);
        self.next_handle += 1;
        let Some(jobserver) = &mut self.jobserver else {
            self.run_now(&launch, handle, 0)?;
            return Ok(handle);
        };
        let need = tokens_of(&launch);
        // Behind others waiting, it waits too: first come, first served.
        let mut got = 0;
        if self.waiting.is_empty() {
            got = jobserver.take(need);
            if got < need && self.children.is_empty() {
                // No task runs, so no tool holds tokens: any missing were
                // lost by one that was killed.
                jobserver.refill();
                got = jobserver.take(need);
            }
        }
        if got == need {
            self.run_now(&launch, handle, need)?;
        } else {
            self.waiting.push_back(Waiting { handle, launch, got });
        }
        Ok(handle)
    }

    fn cancel(&mut self, handle: Handle, urgency: Urgency) {
        let signal = match urgency {
            Urgency::Graceful => libc::SIGTERM,
            Urgency::Forced => libc::SIGKILL,
            Urgency::Signal(signal) => signal,
        };
        if let Some(at) = self.waiting.iter().position(|w| w.handle == handle) {
            // It never ran: it ends now, as if the signal had reached it.
            let waiting = self.waiting.remove(at).expect("a position in the queue");
            if let Some(jobserver) = &mut self.jobserver {
                jobserver.give(waiting.got);
            }
            let (termination, usage) = (Termination::Signaled(signal), Usage::default());
            self.pending.push(ExecEvent::Ended {
                handle,
                termination,
                usage,
                late_by: Duration::ZERO,
            });
            return;
        }
        let Some(&pid) = self.pids.get(&handle) else { return };
        Self::signal_group(pid, signal);
    }

    /// Creates the log of an attempt 1 ahead: creating a file is a third of
    /// the time between one no-op task's end and the next one's start, and
    /// that gap is time a core spends idle.
    fn prepare(&mut self, output: &Output) {
        let OutputFiles::Log { path, attempt: 1 } = &output.files else { return };
        if self.log_ahead.as_ref().is_some_and(|(ahead, _)| ahead == path) {
            return;
        }
        self.discard_log_ahead();
        // On an error, the start tries again and reports it.
        if let Ok(file) = private::create(path) {
            self.log_ahead = Some((path.clone(), file));
        }
    }

    fn deadline(&self) -> Option<Instant> {
        (!self.pending.is_empty()).then(Instant::now)
    }

    fn sources(&self, fds: &mut Vec<RawFd>) {
        fds.push(self.child_exits.fd());
        if let Some(jobserver) = self.jobserver.as_ref().filter(|_| !self.waiting.is_empty()) {
            fds.push(jobserver.fd());
        }
        for child in self.children.values() {
            fds.extend(child.pipes.iter().flatten().map(AsRawFd::as_raw_fd));
        }
    }

    fn collect(&mut self, events: &mut Vec<ExecEvent>) -> io::Result<()> {
        let watched: Vec<(u32, usize)> = self
            .children
            .iter()
            .flat_map(|(&pid, child)| {
                child
                    .pipes
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.is_some())
                    .map(move |(i, _)| (pid, i))
            })
            .collect();
        for (pid, index) in watched {
            self.read_pipe(pid, index);
        }
        if !self.child_exits.drain().is_empty() {
            self.reap();
        }
        if !self.waiting.is_empty() {
            self.start_waiting();
        }
        events.append(&mut self.pending);
        Ok(())
    }
}

impl LocalExecutor {
    /// Removes a log made ahead whose attempt never started.
    fn discard_log_ahead(&mut self) {
        if let Some((path, file)) = self.log_ahead.take() {
            drop(file);
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for LocalExecutor {
    fn drop(&mut self) {
        self.discard_log_ahead();
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
    /// stdin's; `None` for `/dev/null`.
    stdin: Option<RawFd>,
}

/// Starts `launch` with `direct` as its argv, or through `/bin/sh -c` when
/// `None`.
fn start(
    spawner: &mut Spawner,
    programs: &mut ProgramPaths,
    launch: &Launch,
    Process { direct, cwd, env, output: (stdout, stderr), stdin }: Process,
    record_pid_at: *const AtomicI32,
) -> io::Result<libc::pid_t> {
    let (program, argv) = match direct {
        Some(argv) => {
            let name = OsStr::from_bytes(argv[0]);
            let program = match launch.env.iter().find(|(k, _)| k == "PATH") {
                Some((_, path)) => search_path(name, OsStr::new(path), &launch.dir),
                None => programs.resolve(name, &launch.dir),
            }
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
            let argv = argv
                .iter()
                .map(|arg| c_string(arg.to_vec(), "command"))
                .collect::<io::Result<Vec<_>>>()?;
            (program, argv)
        }
        None => {
            let words = launch.shell.words();
            let program = OsStr::new(words[0]);
            let program = if words[0].contains('/') {
                PathBuf::from(program)
            } else {
                programs.resolve(program, &launch.dir).ok_or_else(|| missing_shell(words[0]))?
            };
            let mut argv = words
                .iter()
                .map(|word| c_string(word.as_bytes().to_vec(), "shell"))
                .collect::<io::Result<Vec<_>>>()?;
            argv.push(c_string(launch.cmd.clone(), "command")?);
            (program, argv)
        }
    };
    // Most tasks run where maestro does: no chdir for them.
    let dir = (Some(launch.dir.as_path()) != cwd).then_some(launch.dir.as_path());
    spawner.spawn(&ProcessSpec {
        program: &program,
        argv: &argv,
        env,
        dir,
        stdout,
        stderr,
        stdin,
        record_pid_at,
    })
}

/// A shell that is not on the PATH: said as the shell, not as the task's
/// first word.
fn missing_shell(program: &str) -> io::Error {
    let why = format!(
        "cannot run the task's shell: {program}: command not found (a flow's `shell` key names another)"
    );
    io::Error::other(why)
}

/// Where programs named without a slash live, looked up in maestro's PATH
/// once per run instead of once per spawn: a PATH search tries every entry
/// in turn, and each miss is a failed execve (measured: 8 misses, a tenth of
/// the cost of spawning `true`, on a typical PATH).
#[derive(Debug, Default)]
struct ProgramPaths {
    path: OsString,
    found: HashMap<OsString, PathBuf>,
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

/// Ends seen together, told in the order their attempts started: the
/// kernel hands over the newest child first, and of two jobs ending at
/// once the earlier should decide a `--halt`, as with GNU parallel. The
/// sort is stable: each child's last output stays before its end.
fn in_start_order(events: &mut [ExecEvent]) {
    events.sort_by_key(ExecEvent::handle);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_seen_together_are_told_in_start_order_after_their_output() {
        let ended = |n| ExecEvent::Ended {
            handle: Handle(n),
            termination: Termination::Exited(0),
            usage: Usage::default(),
            late_by: Duration::ZERO,
        };
        let output = |n| ExecEvent::Output { handle: Handle(n), bytes: vec![b'x'], stderr: false };
        let mut events = vec![output(4), ended(4), output(3), ended(3)];
        in_start_order(&mut events);
        let told: Vec<(u64, bool)> =
            events.iter().map(|e| (e.handle().0, matches!(e, ExecEvent::Ended { .. }))).collect();
        assert_eq!(told, [(3, false), (3, true), (4, false), (4, true)]);
    }
}
