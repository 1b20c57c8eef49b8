//! Workers over ssh (`--hosts a,b`, and `maestro map -S`): on each host,
//! this maestro's own binary (copied once into `~/.cache/maestro/` there,
//! named by its hash) runs `worker --stdio`, speaking on the ssh session's
//! pipes: ssh lets it in, and no port is opened. The hosts must see the
//! run's files at the same paths (the tasks run in their folders); the run
//! writes the logs itself.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::protocol::{self, FromWorker, HELLO_MAX};
use super::{Entrance, Hello, Launcher, Link, Need, last_line};

/// One host to run a worker on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshHost {
    /// What `ssh` is given: `host`, `user@host`, or an alias of ssh's config.
    pub login: String,
    /// Tasks at once there (else its CPUs).
    pub slots: Option<u32>,
}

/// Reads `a,b` and GNU parallel's `4/user@host`; `:` (this machine, to
/// parallel) is refused: local tasks need no worker.
pub fn parse_hosts(text: &str) -> Result<Vec<SshHost>, String> {
    let mut hosts = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (slots, login) = match part.split_once('/') {
            Some((n, login)) => {
                let n: u32 =
                    n.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                        format!("'{part}': the number before '/' must be 1 or more")
                    })?;
                (Some(n), login)
            }
            None => (None, part),
        };
        if login == ":" || login.is_empty() {
            return Err(format!("'{part}': name a host to reach with ssh"));
        }
        if login.starts_with('-') || login.contains(char::is_whitespace) {
            return Err(format!("'{part}' is not a host ssh can be given"));
        }
        hosts.push(SshHost { login: login.to_string(), slots });
    }
    if hosts.is_empty() {
        return Err("no host given".to_string());
    }
    Ok(hosts)
}

/// Workers on a fixed set of hosts, started once each.
pub struct SshLauncher {
    hosts: Vec<SshHost>,
    entrance: Entrance,
    /// Where each host's worker writes what it says (its stderr).
    logs: PathBuf,
    started: bool,
    /// Why hosts' workers ended or never started, as they end.
    gone: Arc<Mutex<Vec<String>>>,
}

impl SshLauncher {
    /// Workers on `hosts`, let in through `entrance`; what each says goes
    /// to `logs`.N.HOST.log.
    pub fn new(hosts: Vec<SshHost>, entrance: Entrance, logs: PathBuf) -> SshLauncher {
        SshLauncher { hosts, entrance, logs, started: false, gone: Arc::default() }
    }

    fn start_all(&mut self) {
        let binary = match Binary::find() {
            Ok(binary) => Arc::new(binary),
            Err(why) => {
                let mut gone = self.gone.lock().unwrap_or_else(|p| p.into_inner());
                gone.extend(self.hosts.iter().map(|h| format!("{}: {why}", h.login)));
                return;
            }
        };
        for (i, host) in self.hosts.clone().into_iter().enumerate() {
            let (binary, entrance, gone) =
                (binary.clone(), self.entrance.clone(), self.gone.clone());
            let name = format!("{}.{}.{}.log", self.logs.display(), i + 1, safe(&host.login));
            let log = PathBuf::from(name);
            let spawned = std::thread::Builder::new().name("maestro-ssh".into()).spawn(move || {
                let why = run_worker(&host, &binary, &entrance, &log);
                gone.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(format!("{}: {why}", host.login));
                entrance.wake_loop();
            });
            if let Err(e) = spawned {
                let mut gone = self.gone.lock().unwrap_or_else(|p| p.into_inner());
                gone.push(format!("cannot start a thread: {e}"));
            }
        }
    }
}

impl Launcher for SshLauncher {
    fn tend(&mut self, need: &Need, _now: Instant) -> Result<(), String> {
        if need.attempts > 0 && !self.started {
            self.started = true;
            self.start_all();
        }
        let gone = self.gone.lock().unwrap_or_else(|p| p.into_inner());
        if self.started && need.workers == 0 && gone.len() >= self.hosts.len() {
            return Err(format!("no worker over ssh is left: {}", gone.join("; ")));
        }
        Ok(())
    }

    fn joined(&mut self, _job: &str) {}

    fn deadline(&self) -> Option<Instant> {
        None
    }

    fn stop(&mut self) {}
}

/// This maestro's binary, and the name it has in a host's cache.
struct Binary {
    path: PathBuf,
    cached: String,
}

impl Binary {
    fn find() -> Result<Binary, String> {
        let path =
            std::env::current_exe().map_err(|e| format!("cannot find maestro's binary: {e}"))?;
        let mut bytes = Vec::new();
        File::open(&path)
            .and_then(|mut file| file.read_to_end(&mut bytes))
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let hash = xxhash_rust::xxh3::xxh3_64(&bytes);
        Ok(Binary { path, cached: format!(".cache/maestro/maestro-{hash:016x}") })
    }
}

fn ssh(host: &SshHost) -> Command {
    let mut command = Command::new("ssh");
    // No password prompt, no host-key question: a run never waits on a
    // terminal. `--` keeps the host from being read as an option.
    command.args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "--", &host.login]);
    command
}

/// Copies the binary to `host` unless it is there; starts the worker,
/// lets it in, and reads it until it ends. Returns why it ended.
fn run_worker(host: &SshHost, binary: &Binary, entrance: &Entrance, log: &PathBuf) -> String {
    let cached = &binary.cached;
    let there = ssh(host).arg(format!("test -x {cached}")).stdin(Stdio::null()).output();
    match there {
        Ok(output) if output.status.success() => {}
        Ok(output) if output.status.code() == Some(1) => {
            let copy = format!(
                "mkdir -p .cache/maestro && cat > {cached}.$$ && chmod 700 {cached}.$$ && mv -f {cached}.$$ {cached}"
            );
            let Ok(file) = File::open(&binary.path) else {
                return format!("cannot read {}", binary.path.display());
            };
            match ssh(host).arg(copy).stdin(file).output() {
                Ok(output) if output.status.success() => {}
                Ok(output) => {
                    return format!("cannot copy maestro there: {}", last_words(&output.stderr));
                }
                Err(e) => return format!("ssh: {e}"),
            }
        }
        Ok(output) => return format!("ssh failed: {}", last_words(&output.stderr)),
        Err(e) => return format!("ssh: {e}"),
    }
    let mut worker = format!("{cached} worker --stdio");
    if let Some(slots) = host.slots {
        worker.push_str(&format!(" --slots {slots}"));
    }
    let stderr = match crate::private::create(log) {
        Ok(file) => Stdio::from(file),
        Err(_) => Stdio::null(),
    };
    let mut child = match ssh(host)
        .arg(worker)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => return format!("ssh: {e}"),
    };
    let (Some(stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return "ssh gave no pipes".to_string();
    };
    let hello = match protocol::read_frame(&mut stdout, HELLO_MAX) {
        Ok(Some(body)) => FromWorker::decode(&body),
        _ => Err("it ended before it said hello".to_string()),
    };
    let Ok(FromWorker::Hello { host: name, slots, job, .. }) = hello else {
        let _ = child.kill();
        let _ = child.wait();
        let said = std::fs::read(log).map(|text| last_words(&text)).unwrap_or_default();
        return format!("the worker did not start ({said}; see {})", log.display());
    };
    entrance.admit(Hello { host: name, slots, job }, Link::Pipe { stdin, child }, stdout);
    "its worker ended".to_string()
}

/// The last non-empty line of what a command wrote.
fn last_words(text: &[u8]) -> String {
    last_line(text).unwrap_or_else(|| "no word".to_string())
}

/// A host's name as part of a file name.
fn safe(login: &str) -> String {
    login
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.@".contains(c) { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_read_as_gnu_parallel_writes_them() {
        let host = |login: &str, slots| SshHost { login: login.into(), slots };
        assert_eq!(
            parse_hosts("a, 4/me@b ,c").unwrap(),
            [host("a", None), host("me@b", Some(4)), host("c", None)]
        );
        assert_eq!(
            parse_hosts("0/a").unwrap_err(),
            "'0/a': the number before '/' must be 1 or more"
        );
        assert_eq!(parse_hosts(":").unwrap_err(), "':': name a host to reach with ssh");
        assert_eq!(
            parse_hosts("-oProxyCommand=x").unwrap_err(),
            "'-oProxyCommand=x' is not a host ssh can be given"
        );
        assert_eq!(parse_hosts(" , ").unwrap_err(), "no host given");
    }
}
