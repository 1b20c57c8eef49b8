//! A temp project folder and a way to run maestro in it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A temp folder, removed when dropped.
pub struct Project {
    pub dir: PathBuf,
}

/// What one maestro invocation did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Project {
    pub fn new() -> Project {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("maestro-it-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Project { dir }
    }

    /// A project whose maestro.toml is `flow`.
    pub fn with_flow(flow: &str) -> Project {
        let p = Project::new();
        p.file("maestro.toml", flow);
        p
    }

    pub fn file(&self, path: &str, content: &str) -> &Project {
        let path = self.dir.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
        self
    }

    pub fn path(&self, path: &str) -> PathBuf {
        self.dir.join(path)
    }

    pub fn read(&self, path: &str) -> String {
        fs::read_to_string(self.dir.join(path)).unwrap_or_default()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_maestro"));
        command.args(args).current_dir(&self.dir).env_remove("NO_COLOR").env("TERM", "dumb");
        // `map` reads GNU parallel's options from it, and from profiles.
        command.env_remove("PARALLEL").env("PARALLEL_HOME", self.dir.join(".parallel"));
        command
    }

    pub fn maestro(&self, args: &[&str]) -> Run {
        let output = self.command(args).stdin(Stdio::null()).output().unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Waits until `path` exists (a task got somewhere), up to 20 s.
    pub fn wait_for(&self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.path(path).exists() {
            assert!(Instant::now() < deadline, "{path} never appeared");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Events written by `stamp` (see [`STAMP`]) as (what, name, nanos).
    pub fn events(&self) -> Vec<(String, String, u128)> {
        self.read("events")
            .lines()
            .map(|line| {
                let mut parts = line.split(' ');
                let what = parts.next().unwrap().to_string();
                let name = parts.next().unwrap().to_string();
                (what, name, parts.next().unwrap().parse().unwrap())
            })
            .collect()
    }

    /// (start, end) of task `name` from the events file.
    pub fn span(&self, name: &str) -> (u128, u128) {
        let events = self.events();
        let at = |what: &str| {
            events
                .iter()
                .find(|(w, n, _)| w == what && n == name)
                .unwrap_or_else(|| panic!("no {what} of {name}"))
                .2
        };
        (at("start"), at("end"))
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A shell snippet recording `start NAME t` and `end NAME t` (nanoseconds)
/// in `events` around a sleep: `stamp NAME SECONDS`.
pub const STAMP: &str = "#!/bin/sh\necho \"start $1 $(date +%s%N)\" >> \"$(dirname \"$0\")/events\"\nsleep $2\necho \"end $1 $(date +%s%N)\" >> \"$(dirname \"$0\")/events\"\n";

/// Whether two (start, end) spans overlap in time.
pub fn overlap(a: (u128, u128), b: (u128, u128)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet).
pub fn is_dead(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// Waits up to `limit` for every pid to be gone; returns those still alive.
pub fn alive_after(pids: &[i32], limit: Duration) -> Vec<i32> {
    let deadline = Instant::now() + limit;
    loop {
        let alive: Vec<i32> = pids.iter().copied().filter(|&p| !is_dead(p)).collect();
        if alive.is_empty() || Instant::now() > deadline {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn pids_in(dir: &Path) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let text = fs::read_to_string(entry.unwrap().path()).unwrap();
        pids.extend(text.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
    }
    pids
}

/// Runs `python3 -c script` with `input` on stdin; returns its stdout, and
/// fails the test with its stderr when it fails.
pub fn python(script: &str, input: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "python failed:\n{}\n--- input ---\n{}",
        String::from_utf8_lossy(&output.stderr),
        &input[..input.len().min(2000)]
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What headless Chromium made of a page.
pub struct Rendered {
    /// The DOM after the page's scripts ran.
    pub dom: String,
    /// Console messages and uncaught exceptions, one per line.
    pub console: Vec<String>,
}

/// Runs headless Chromium on `page` with `args` and the flags every test
/// uses: no sandbox (tests may run as root), an empty profile, no network
/// of its own, console messages on stderr, 10 s of virtual time for the
/// page's scripts. Fails the test if Chromium fails.
fn chromium(page: &Path, args: &[String]) -> std::process::Output {
    let profile = Project::new();
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.dir.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Waits for `child` to end: its exit status (-1 for a signal), stdout and
/// stderr.
pub fn finish(child: Child) -> (i32, String, String) {
    let output = child.wait_with_output().unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code().unwrap_or(-1), text(&output.stdout), text(&output.stderr))
}

/// `"1", "2", ... "n"`: the items of a `for_each` list.
pub fn items(n: u32) -> String {
    (1..=n).map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(", ")
}

/// The run data a report page embeds, as JSON text.
pub fn report_data(html: &str) -> &str {
    let marker = "id=\"maestro-data\">";
    let start = html.find(marker).expect("a data element") + marker.len();
    let end = start + html[start..].find("</script>").expect("the data element's end");
    &html[start..end]
}

/// Opens `page` in headless Chromium, lets its scripts run, and returns
/// the DOM and what went to the console.
pub fn render(page: &Path) -> Rendered {
    let output = chromium(page, &["--dump-dom".to_string()]);
    let console = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|line| line.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    Rendered { dom: String::from_utf8_lossy(&output.stdout).into_owned(), console }
}

/// Saves a screenshot of `page` as `png` (1400x1000).
pub fn screenshot(page: &Path, png: &Path) {
    chromium(
        page,
        &["--window-size=1400,1000".to_string(), format!("--screenshot={}", png.display())],
    );
    assert!(png.exists(), "no screenshot at {}", png.display());
}

/// Where tests leave files worth looking at (screenshots): kept after the
/// run, under target/.
pub fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    fs::create_dir_all(&dir).unwrap();
    dir
}
