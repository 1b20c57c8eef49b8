//! `--halt`: when a `map` run stops early, and with which exit status.

/// When `--halt` stops the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltWhen {
    /// Kill the running jobs and stop.
    Now,
    /// Start nothing new; let the running jobs finish.
    Soon,
}

/// Which jobs count toward `--halt`'s threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltOn {
    /// Failed jobs.
    Fail,
    /// Succeeded jobs.
    Success,
    /// Every finished job.
    Done,
}

/// A count or a share of the jobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// This many jobs.
    Count(u64),
    /// This percentage of the jobs.
    Percent(f64),
}

/// `--halt WHEN,WHY=N`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Halt {
    /// Now or soon.
    pub when: HaltWhen,
    /// What counts.
    pub on: HaltOn,
    /// How many.
    pub threshold: Threshold,
}

/// `--halt`: `never`, `now|soon,fail|success|done[=N|=N%]` (N defaults to
/// 1), and GNU parallel's old numbers: 0 never, 1 `soon,fail=1`, 2
/// `now,fail=1`.
pub fn parse_halt(text: &str) -> Result<Option<Halt>, String> {
    let bad = || {
        format!(
            "--halt {text}: expected never, or now|soon,fail|success|done[=N|=N%] (e.g. now,fail=1)"
        )
    };
    let fail_once = |when| Halt { when, on: HaltOn::Fail, threshold: Threshold::Count(1) };
    match text {
        "never" | "0" => return Ok(None),
        "1" => return Ok(Some(fail_once(HaltWhen::Soon))),
        "2" => return Ok(Some(fail_once(HaltWhen::Now))),
        _ => {}
    }
    let (when, why) = text.split_once(',').ok_or_else(bad)?;
    let when = match when {
        "now" => HaltWhen::Now,
        "soon" => HaltWhen::Soon,
        _ => return Err(bad()),
    };
    let (on, amount) = why.split_once('=').unwrap_or((why, "1"));
    let on = match on {
        "fail" => HaltOn::Fail,
        "success" => HaltOn::Success,
        "done" => HaltOn::Done,
        _ => return Err(bad()),
    };
    let threshold = match amount.strip_suffix('%') {
        Some(percent) => match percent.parse::<f64>() {
            Ok(p) if p > 0.0 && p <= 100.0 => Threshold::Percent(p),
            _ => return Err(bad()),
        },
        None => match amount.parse::<u64>() {
            Ok(n) if n > 0 => Threshold::Count(n),
            _ => return Err(bad()),
        },
    };
    Ok(Some(Halt { when, on, threshold }))
}

/// What the finished jobs of a run add up to, for [`Halt::verdict`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    /// Jobs that succeeded.
    pub succeeded: u64,
    /// Jobs that failed (after their retries).
    pub failed: u64,
    /// Jobs that finished either way.
    pub finished: u64,
    /// Jobs read from the inputs so far (all of them once the inputs end).
    pub read: u64,
}

impl Halt {
    /// Whether the job that just finished (`succeeded` or not, with exit
    /// status `exit`), counted in `tally` already, makes the run halt; if
    /// so, the run's exit status, as GNU parallel's: the job's own status
    /// for `fail` (1 when it has none, killed by a signal), 0 for `success`,
    /// the number of failed jobs for `done`.
    pub fn verdict(&self, tally: &Tally, succeeded: bool, exit: i32) -> Option<i32> {
        let (counts, count) = match self.on {
            HaltOn::Fail => (!succeeded, tally.failed),
            HaltOn::Success => (succeeded, tally.succeeded),
            HaltOn::Done => (true, tally.finished),
        };
        let reached = counts
            && match self.threshold {
                Threshold::Count(n) => count >= n,
                Threshold::Percent(p) => count as f64 * 100.0 >= p * tally.read.max(1) as f64,
            };
        reached.then_some(match self.on {
            HaltOn::Fail => exit.max(1),
            HaltOn::Success => 0,
            HaltOn::Done => tally.failed.min(101) as i32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halt_forms() {
        let halt = |when, on, threshold| Ok(Some(Halt { when, on, threshold }));
        assert_eq!(parse_halt("never"), Ok(None));
        assert_eq!(
            parse_halt("now,fail=1"),
            halt(HaltWhen::Now, HaltOn::Fail, Threshold::Count(1))
        );
        assert_eq!(
            parse_halt("soon,success=20%"),
            halt(HaltWhen::Soon, HaltOn::Success, Threshold::Percent(20.0))
        );
        assert_eq!(parse_halt("now,done"), halt(HaltWhen::Now, HaltOn::Done, Threshold::Count(1)));
        assert_eq!(parse_halt("2"), halt(HaltWhen::Now, HaltOn::Fail, Threshold::Count(1)));
        for bad in ["later,fail=1", "now", "now,fail=0", "now,oops=1", "now,fail=120%"] {
            assert!(parse_halt(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn verdicts() {
        let halt = |text| parse_halt(text).unwrap().unwrap();
        let tally = |succeeded, failed, read| Tally {
            succeeded,
            failed,
            finished: succeeded + failed,
            read,
        };
        assert_eq!(halt("now,fail=1").verdict(&tally(3, 1, 9), false, 4), Some(4));
        assert_eq!(halt("now,fail=1").verdict(&tally(3, 1, 9), false, -1), Some(1));
        assert_eq!(halt("now,fail=2").verdict(&tally(3, 1, 9), false, 4), None);
        // Only a job of the kind counted can cross the threshold.
        assert_eq!(halt("now,fail=1").verdict(&tally(4, 1, 9), true, 0), None);
        assert_eq!(halt("soon,success=2").verdict(&tally(2, 5, 9), true, 0), Some(0));
        assert_eq!(halt("now,done=3").verdict(&tally(1, 2, 9), false, 7), Some(2));
        assert_eq!(halt("now,fail=50%").verdict(&tally(0, 2, 4), false, 1), Some(1));
        assert_eq!(halt("now,fail=50%").verdict(&tally(1, 1, 4), false, 1), None);
    }
}
