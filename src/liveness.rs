//! Whether a process recorded earlier is still the one running: the
//! recorded pid names a live process (not a zombie) that was already
//! running when the record was made. A pid reused by a later process fails
//! the second test.
//!
//! For a run in the store, a wrong "gone" (a maestro in another pid
//! namespace sharing the state directory, or the clock set back by more
//! than the slack since boot) marks a live run interrupted until that
//! maestro writes its attempts' ends and its run's end over it; meanwhile
//! its running tasks' last successes are forgotten, which only makes the
//! next run rerun them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far a process's start, as /proc gives it (boot time in whole
/// seconds plus clock ticks), may fall after the run's recorded start.
const START_SLACK: Duration = Duration::from_secs(2);

/// Whether process `pid` is alive and started by `recorded_ms` (Unix
/// milliseconds). When /proc cannot tell, the answer is yes: a process is
/// only called gone on evidence.
pub fn still_running(pid: i64, recorded_ms: i64) -> bool {
    let Ok(pid) = u32::try_from(pid) else { return true };
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) if is_zombie(&stat) => false,
        Ok(stat) => match process_start(&stat) {
            Some(start) => start <= unix_ms_after(recorded_ms, START_SLACK),
            None => true,
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(_) => true,
    }
}

/// Whether the process of `stat` has ended and waits to be reaped.
fn is_zombie(stat: &str) -> bool {
    stat.rfind(')').is_some_and(|name_end| stat[name_end + 1..].trim_start().starts_with('Z'))
}

/// When the process of `stat` (the text of /proc/PID/stat) started.
fn process_start(stat: &str) -> Option<SystemTime> {
    // The command name may hold spaces and parentheses: fields are counted
    // from the last ')'. starttime is field 22, the 20th after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let ticks: u64 = after_name.split_whitespace().nth(19)?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok()?;
    let boot = boot_time()?;
    Some(boot + Duration::from_millis(ticks.checked_mul(1000)? / per_second.max(1)))
}

/// The machine's boot time, from the `btime` line of /proc/stat.
fn boot_time() -> Option<SystemTime> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let seconds: u64 =
        stat.lines().find_map(|line| line.strip_prefix("btime "))?.trim().parse().ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
}

fn unix_ms_after(ms: i64, slack: Duration) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0)) + slack
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now_ms() -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
    }

    #[test]
    fn this_process_runs_a_run_begun_now_but_not_one_begun_before_it() {
        let me = std::process::id() as i64;
        assert!(still_running(me, now_ms()));
        // A run recorded a day ago cannot be this process's: its pid was reused.
        assert!(!still_running(me, now_ms() - 86_400_000));
    }

    #[test]
    fn a_pid_with_no_process_is_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i64;
        child.wait().unwrap();
        assert!(!still_running(pid, now_ms()));
    }

    #[test]
    fn a_name_with_spaces_and_parentheses_is_skipped() {
        let stat = "42 (a ) b) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 500 0 0";
        let start = process_start(stat).unwrap();
        let boot = boot_time().unwrap();
        // SAFETY: sysconf only reads a configuration value.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u128;
        assert_eq!(start.duration_since(boot).unwrap().as_millis(), 500 * 1000 / per_second);
    }
}
