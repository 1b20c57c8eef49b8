//! The primitives for scripts (SPEC §6), through the binary, under the
//! classic races: each race is run 20 times.

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Project, is_dead};

const MAESTRO: &str = env!("CARGO_BIN_EXE_maestro");
const REPEATS: usize = 20;

/// Starts every command at once (each a shell snippet, with `$M` the
/// maestro binary), then waits for all of them.
fn all_at_once(p: &Project, snippets: &[String]) -> Vec<Output> {
    let children: Vec<Child> = snippets.iter().map(|s| shell(p, s).spawn().unwrap()).collect();
    children.into_iter().map(|c| c.wait_with_output().unwrap()).collect()
}

fn shell(p: &Project, snippet: &str) -> Command {
    let mut command = Command::new("sh");
    command
        .args(["-c", snippet])
        .current_dir(&p.dir)
        .env("M", MAESTRO)
        .env_remove("MAESTRO_STATE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn fifty_adders_make_fifty_each_seeing_its_own_value() {
    let p = Project::new();
    for repeat in 0..REPEATS {
        let adds: Vec<String> =
            (0..50).map(|_| format!("$M counter add total-{repeat} 1")).collect();
        let seen: BTreeSet<i64> =
            all_at_once(&p, &adds).iter().map(|o| stdout(o).trim().parse().unwrap()).collect();
        assert_eq!(seen, (1..=50).collect(), "repeat {repeat}");
        assert_eq!(p.maestro(&["counter", "get", &format!("total-{repeat}")]).stdout, "50\n");
    }
    let down = p.maestro(&["counter", "add", "total-0", "-60"]);
    assert_eq!(down.stdout, "-10\n", "{}", down.stderr);
    assert_eq!(p.maestro(&["counter", "get", "never"]).stdout, "0\n");
    let overflow = p.maestro(&["counter", "add", "total-0", &i64::MAX.to_string()]);
    let overflow =
        p.maestro(&["counter", "add", "total-0", &i64::MAX.to_string()]).code.max(overflow.code);
    assert_eq!(overflow, 2);
}

#[test]
fn appenders_under_a_lock_never_tear_or_interleave_lines() {
    let p = Project::new();
    for repeat in 0..REPEATS {
        let out = format!("out-{repeat}");
        // Each line is written in two pieces: without the lock, lines tear.
        let writers: Vec<String> = (0..20)
            .map(|id| {
                format!(
                    "$M lock file -- sh -c 'i=0; while [ $i -lt 1000 ]; do printf \"{id} \"; printf \"%s\\n\" $i; i=$((i+1)); done >> {out}'"
                )
            })
            .collect();
        for output in all_at_once(&p, &writers) {
            stdout(&output);
        }
        let text = p.read(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 20_000, "repeat {repeat}");
        // Each writer's 1,000 lines are whole, in order, and together.
        for block in lines.chunks(1000) {
            let id = block[0].split(' ').next().unwrap();
            for (i, line) in block.iter().enumerate() {
                assert_eq!(*line, format!("{id} {i}"), "repeat {repeat}");
            }
        }
    }
}

#[test]
fn a_semaphore_of_three_has_three_holders_at_most_and_at_some_point() {
    let p = Project::new();
    for repeat in 0..REPEATS {
        let holders = format!("holders-{repeat}");
        let job = format!(
            "$M sem licence --limit 3 -- sh -c 'n=$($M counter add {holders} 1); echo $n; sleep 0.02; $M counter add {holders} -1 >/dev/null'"
        );
        let counts: Vec<u32> = all_at_once(&p, &vec![job; 30])
            .iter()
            .map(|o| stdout(o).trim().parse().unwrap())
            .collect();
        assert_eq!(counts.len(), 30);
        assert!(counts.iter().all(|&n| (1..=3).contains(&n)), "repeat {repeat}: {counts:?}");
        assert!(counts.contains(&3), "repeat {repeat}: never 3 holders: {counts:?}");
    }
    let other_limit = p.maestro(&["sem", "licence", "--limit", "4", "--", "true"]);
    assert_eq!(other_limit.code, 2);
    assert!(other_limit.stderr.contains("has --limit 3, not 4"), "{}", other_limit.stderr);
}

/// Four consumers drain `items` values; returns what each one took.
fn drain_with_four(p: &Project, queue: &str, items: usize) -> Vec<String> {
    let values: Vec<String> = (0..items).map(|i| format!("item-{i}")).collect();
    let mut put = vec!["queue", "put", queue];
    put.extend(values.iter().map(String::as_str));
    assert_eq!(p.maestro(&put).code, 0);
    let consumer = format!("while v=$($M queue get {queue} --timeout 0); do echo \"$v\"; done");
    all_at_once(p, &vec![consumer; 4])
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .collect()
}

#[test]
fn four_consumers_take_each_item_exactly_once() {
    let p = Project::new();
    for repeat in 0..REPEATS {
        let queue = format!("work-{repeat}");
        let taken = drain_with_four(&p, &queue, 60);
        let mut all: Vec<&str> = taken.iter().flat_map(|t| t.lines()).collect();
        assert_eq!(all.len(), 60, "repeat {repeat}");
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 60, "repeat {repeat}: an item went twice");
        // Each consumer got its items in queue order.
        for one in &taken {
            let numbers: Vec<usize> = one.lines().map(|l| l[5..].parse().unwrap()).collect();
            assert!(numbers.windows(2).all(|w| w[0] < w[1]), "repeat {repeat}: {numbers:?}");
        }
    }
}

#[test]
fn a_long_queue_serves_four_consumers_from_its_head() {
    // Ten thousand items waiting; four consumers take a hundred each at
    // once: they get the first four hundred, each once, each consumer in
    // order, and the rest waits in line.
    let p = Project::new();
    let values: Vec<String> = (0..10_000).map(|i| format!("item-{i}")).collect();
    let mut put = vec!["queue", "put", "big"];
    put.extend(values.iter().map(String::as_str));
    assert_eq!(p.maestro(&put).code, 0);
    let consumer = "for i in $(seq 100); do $M queue get big --timeout 0 || exit 1; echo; done";
    let taken: Vec<String> =
        all_at_once(&p, &vec![consumer.to_string(); 4]).iter().map(stdout).collect();
    let mut all: Vec<usize> = Vec::new();
    for one in &taken {
        let numbers: Vec<usize> = one.lines().map(|l| l[5..].parse().unwrap()).collect();
        assert_eq!(numbers.len(), 100, "{one}");
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
        all.extend(numbers);
    }
    all.sort_unstable();
    assert_eq!(all, (0..400).collect::<Vec<_>>());
    assert_eq!(p.maestro(&["queue", "get", "big"]).stdout, "item-400");
    let waiting = std::fs::read_dir(p.path(".maestro/prims/queue/big/items")).unwrap().count();
    assert_eq!(waiting, 10_000 - 401);
}

#[test]
fn an_item_taken_by_a_getter_killed_before_it_printed_it_is_not_lost() {
    let p = Project::new();
    // Bigger than a pipe holds: the getter blocks writing it to a pipe
    // nobody reads, having taken it.
    let big: String = (0..20_000).map(|i| format!("{i:>9}\n")).collect();
    p.file("big.txt", &big);
    let put = shell(&p, "$M queue put q < big.txt; $M queue put q second").output().unwrap();
    stdout(&put);
    let mut getter = p.command(&["queue", "get", "q"]).stdout(Stdio::piped()).spawn().unwrap();
    let taken = p.path(".maestro/prims/queue/q/taken");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(&taken).map(|d| d.count()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "the getter never took the item");
        std::thread::sleep(Duration::from_millis(10));
    }
    getter.kill().unwrap();
    getter.wait().unwrap();
    let again = p.maestro(&["queue", "get", "q"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout == big, "the item came back damaged ({} bytes)", again.stdout.len());
    assert_eq!(p.maestro(&["queue", "get", "q"]).stdout, "second");
    assert_eq!(p.maestro(&["queue", "get", "q", "--timeout", "0"]).code, 124);
}

/// Spawns `maestro lock NAME -- sh -c 'touch held; sleep 30'` and waits
/// until it holds the lock.
fn holder(p: &Project) -> Child {
    let _ = std::fs::remove_file(p.path("held"));
    let child = p
        .command(&[
            "lock",
            "db",
            "--",
            "sh",
            "-c",
            "echo $$ > held.tmp; mv held.tmp held; sleep 30",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    p.wait_for("held");
    child
}

#[test]
fn a_killed_holder_releases_the_lock_once_its_command_is_gone() {
    let p = Project::new();
    for repeat in 0..REPEATS {
        // SIGKILL of maestro: the lock is free as soon as the command,
        // killed with it, is gone (the next holder waits for that).
        let mut maestro = holder(&p);
        let command: i32 = p.read("held").trim().parse().unwrap();
        assert_eq!(p.maestro(&["lock", "db", "--timeout", "0", "--", "true"]).code, 124, "held");
        maestro.kill().unwrap();
        maestro.wait().unwrap();
        let taken = p.maestro(&["lock", "db", "--timeout", "5", "--", "true"]);
        assert_eq!(
            taken.code, 0,
            "repeat {repeat}: still held after maestro died: {}",
            taken.stderr
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while !is_dead(command) {
            assert!(Instant::now() < deadline, "the command outlived maestro");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    // SIGKILL of the command: maestro exits 137 and lets go.
    let maestro = holder(&p);
    let command: i32 = p.read("held").trim().parse().unwrap();
    // SAFETY: kill(2) on the command's pid.
    unsafe { libc::kill(command, libc::SIGKILL) };
    assert_eq!(maestro.wait_with_output().unwrap().status.code(), Some(137));
    assert_eq!(p.maestro(&["lock", "db", "--timeout", "0", "--", "true"]).code, 0);
}

#[test]
fn lock_runs_the_command_and_passes_its_status_back() {
    let p = Project::new();
    let run = p.maestro(&["lock", "x", "--", "sh", "-c", "echo inside; exit 7"]);
    assert_eq!((run.code, run.stdout.as_str()), (7, "inside\n"));
    let missing = p.maestro(&["lock", "x", "--", "no-such-program-here"]);
    assert_eq!(missing.code, 127);
    assert!(missing.stderr.contains("cannot run 'no-such-program-here'"), "{}", missing.stderr);
    let none = p.maestro(&["lock", "x"]);
    assert_eq!(none.code, 2, "{}", none.stderr);
    let waited = p.maestro(&["lock", "x", "--timeout", "2", "--", "true"]);
    assert_eq!(waited.code, 0);
}

#[test]
fn event_wait_times_out_on_time_and_set_wakes_every_waiter() {
    let p = Project::new();
    for repeat in 0..REPEATS {
        let event = format!("ready-{repeat}");
        let started = Instant::now();
        let timed_out = p.maestro(&["event", "wait", &event, "--timeout", "0.2"]);
        let took = started.elapsed();
        assert_eq!(timed_out.code, 124);
        assert!(took >= Duration::from_millis(200) && took < Duration::from_secs(2), "{took:?}");
        let waiters: Vec<Child> = (0..5)
            .map(|_| p.command(&["event", "wait", &event, "--timeout", "30"]).spawn().unwrap())
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(p.maestro(&["event", "set", &event]).code, 0);
        for waiter in waiters {
            assert_eq!(
                waiter.wait_with_output().unwrap().status.code(),
                Some(0),
                "repeat {repeat}"
            );
        }
        assert_eq!(p.maestro(&["event", "wait", &event]).code, 0, "set stays set");
        assert_eq!(p.maestro(&["event", "clear", &event]).code, 0);
        assert_eq!(p.maestro(&["event", "wait", &event, "--timeout", "0"]).code, 124);
    }
}

/// CPU time (user + system, in clock ticks) of process `pid` so far.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn waiting_costs_no_cpu() {
    let p = Project::new();
    let event = p.command(&["event", "wait", "never", "--timeout", "30"]).spawn().unwrap();
    let queue = p.command(&["queue", "get", "empty", "--timeout", "30"]).spawn().unwrap();
    let held = holder(&p);
    let lock = p.command(&["lock", "db", "--timeout", "30", "--", "true"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let before: Vec<u64> = [&event, &queue, &lock].iter().map(|c| cpu_ticks(c.id())).collect();
    std::thread::sleep(Duration::from_secs(1));
    let after: Vec<u64> = [&event, &queue, &lock].iter().map(|c| cpu_ticks(c.id())).collect();
    for (what, (b, a)) in ["event wait", "queue get", "lock"].iter().zip(before.iter().zip(&after))
    {
        assert!(a - b <= 1, "{what} used {} ticks in a second of waiting", a - b);
    }
    // The holder's maestro kills its sleep as it dies (PDEATHSIG).
    for mut child in [event, queue, lock, held] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

#[test]
fn values_are_bytes_and_a_missing_one_says_so() {
    let p = Project::new();
    p.file("bytes", "");
    std::fs::write(p.path("bytes"), b"\x00\xff\nnot utf-8 \xc3\x28\n").unwrap();
    let set = shell(&p, "$M value set blob < bytes && $M value get blob > back").output().unwrap();
    stdout(&set);
    assert_eq!(std::fs::read(p.path("back")).unwrap(), std::fs::read(p.path("bytes")).unwrap());
    assert_eq!(p.maestro(&["value", "set", "k", "-x y"]).code, 0);
    assert_eq!(p.maestro(&["value", "get", "k"]).stdout, "-x y");
    let missing = p.maestro(&["value", "get", "nothing"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("value 'nothing' is not set"), "{}", missing.stderr);
    assert_eq!(p.maestro(&["value", "get", "nothing", "--default", "none"]).stdout, "none");
}

#[test]
fn bad_names_and_timeouts_are_usage_errors() {
    let p = Project::new();
    let hint = "  = hint: names are free text: letters, digits, spaces, punctuation (not '/'), up \
                to 200 bytes\n";
    for (name, says) in [
        ("a/b", "error: name 'a/b' contains '/'\n"),
        (".hidden", "error: name '.hidden' starts with '.'\n"),
        ("", "error: name '' is empty\n"),
    ] {
        let run = p.maestro(&["counter", "add", name, "1"]);
        assert_eq!(run.code, 2, "{name:?}: {}", run.stderr);
        assert_eq!(run.stderr, format!("{says}{hint}"));
    }
    let run = p.maestro(&["event", "wait", "e", "--timeout", "soon"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "error: --timeout soon: 'soon' is not a duration\n  = hint: seconds (2.5) or a duration \
         (500ms, 10s, 1m)\n"
    );
}

#[test]
fn state_is_private() {
    let p = Project::new();
    assert_eq!(p.maestro(&["par", "true"]).code, 0);
    let mode = std::fs::metadata(p.path(".maestro")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "a run's state directory");
    std::fs::remove_dir_all(p.path(".maestro")).unwrap();
    assert_eq!(p.maestro(&["counter", "add", "c", "1"]).code, 0);
    for dir in [".maestro", ".maestro/prims", ".maestro/prims/counter"] {
        let mode = std::fs::metadata(p.path(dir)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{dir}");
    }
    for args in [
        &["value", "set", "v", "x"][..],
        &["queue", "put", "q", "a", "b"],
        &["queue", "get", "q"],
        &["event", "set", "e"],
        &["lock", "l", "--", "true"],
        &["sem", "s", "--limit", "2", "--", "true"],
    ] {
        assert_eq!(p.maestro(args).code, 0, "{args:?}");
    }
    let mut dirs = vec![p.path(".maestro/prims")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let metadata = entry.metadata().unwrap();
            let mode = metadata.permissions().mode() & 0o777;
            if metadata.is_dir() {
                assert_eq!(mode, 0o700, "{}", entry.path().display());
                dirs.push(entry.path());
            } else {
                assert_eq!(mode, 0o600, "{}", entry.path().display());
            }
        }
    }
}

#[test]
#[cfg_attr(not_root, ignore = "needs root: only root can give a directory to another user")]
fn another_users_state_is_refused() {
    let p = Project::new();
    std::fs::create_dir(p.path("theirs")).unwrap();
    std::os::unix::fs::chown(p.path("theirs"), Some(65534), Some(65534)).unwrap();
    let run = p.maestro(&["counter", "add", "c", "1", "--state", "theirs"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("belongs to user 65534, not to you"), "{}", run.stderr);
    assert_eq!(std::fs::metadata(p.path("theirs")).unwrap().uid(), 65534);
    assert!(!p.path("theirs/prims").exists(), "nothing written into it");
}

#[test]
fn tasks_share_their_runs_state_wherever_they_run() {
    let p = Project::with_flow(
        r#"
[tasks.add]
for_each = ["1", "2", "3", "4", "5"]
cmd = "\"$MAESTRO\" counter add total {}"
dir = "elsewhere"

[tasks.read]
cmd = "\"$MAESTRO\" counter get total > total.txt"
deps = ["add"]
"#,
    );
    std::fs::create_dir(p.path("elsewhere")).unwrap();
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(p.read("total.txt"), "15\n");
    assert!(!p.path("elsewhere/.maestro").exists());
    assert_eq!(p.maestro(&["counter", "get", "total"]).stdout, "15\n");
    let map =
        p.maestro(&["map", "\"$MAESTRO\" counter add total {} > /dev/null", ":::", "10", "20"]);
    assert_eq!(map.code, 0, "{}", map.stderr);
    assert_eq!(p.maestro(&["counter", "get", "total"]).stdout, "45\n");
}

#[test]
fn the_bundled_example_prints_the_average() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/primitives");
    let p = Project::new();
    for file in ["maestro.toml", "partial.sh", "average.sh"] {
        p.file(file, &std::fs::read_to_string(example.join(file)).unwrap());
    }
    for _ in 0..2 {
        let run = p.maestro(&["run", "-j", "5"]);
        assert_eq!(run.code, 0, "{run:?}");
        assert!(run.stdout.contains("average of 1000 numbers: 500.5"), "{}", run.stdout);
        assert_eq!(p.read("partials.txt").lines().count(), 5);
    }
}

#[test]
fn sigterm_to_maestro_reaches_the_command_which_decides() {
    let p = Project::new();
    let child = p
        .command(&[
            "lock",
            "x",
            "--",
            "sh",
            "-c",
            "trap 'exit 5' TERM; touch ready; while :; do sleep 0.05; done",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    p.wait_for("ready");
    // SAFETY: kill(2) on the maestro we spawned, alone (not its group).
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(5));
    assert_eq!(p.maestro(&["lock", "x", "--timeout", "0", "--", "true"]).code, 0);
}

#[test]
fn after_a_holder_is_killed_the_next_command_starts_once_its_command_is_gone() {
    let p = Project::new();
    for repeat in 0..20 {
        let _ = std::fs::remove_file(p.path("held"));
        let _ = std::fs::remove_file(p.path("log"));
        let holding: &[&str] =
            if repeat % 2 == 0 { &["lock", "l"] } else { &["sem", "s", "--limit", "1"] };
        let run = |script: &str| {
            let mut args = holding.to_vec();
            args.extend(["--", "sh", "-c", script]);
            p.command(&args).spawn().unwrap()
        };
        let mut first = run("touch held; while :; do echo A >> log; done");
        p.wait_for("held");
        let next = run("echo B >> log");
        // The next one waits on the lock.
        std::thread::sleep(Duration::from_millis(50));
        first.kill().unwrap();
        first.wait().unwrap();
        assert_eq!(next.wait_with_output().unwrap().status.code(), Some(0));
        let log = p.read("log");
        let after: Vec<&str> = log.lines().skip_while(|l| *l != "B").skip(1).collect();
        let killed = after.len();
        assert_eq!(killed, 0, "repeat {repeat} ({holding:?}): lines of the killed holder after B");
    }
}

#[test]
fn a_sigkill_of_a_holder_takes_what_its_command_left_in_the_background() {
    let p = Project::new();
    for holding in [&["lock", "l"][..], &["sem", "s", "--limit", "2"]] {
        let _ = std::fs::remove_file(p.path("held"));
        let mut args = holding.to_vec();
        args.extend(["--", "sh", "-c", "sleep 300 & echo $! > bg; touch held; sleep 300"]);
        let mut maestro = p.command(&args).spawn().unwrap();
        p.wait_for("held");
        let background: i32 = p.read("bg").trim().parse().unwrap();
        maestro.kill().unwrap();
        maestro.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !is_dead(background) {
            assert!(
                Instant::now() < deadline,
                "{holding:?}: the command's background process lives on"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // Ended well, the command leaves what it started alone.
        let leaves_a_daemon = ["--", "sh", "-c", "sleep 300 > /dev/null 2>&1 & echo $! > bg"];
        let run = p.maestro(&[holding, &leaves_a_daemon].concat());
        assert_eq!(run.code, 0, "{run:?}");
        let daemon: i32 = p.read("bg").trim().parse().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(!is_dead(daemon), "{holding:?}: a daemon the command left was killed");
        // SAFETY: kill(2) of the test's own leftover.
        unsafe { libc::kill(daemon, libc::SIGKILL) };
    }
}
