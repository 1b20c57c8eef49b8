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
/// 1), and GNU parallel's short forms: 0 never, 1 `soon,fail=1`, 2
/// `now,fail=1`, -1 `soon,success=1`, -2 `now,success=1`, `N%`
/// `soon,fail=N%`.
pub fn parse_halt(text: &str) -> Result<Option<Halt>, String> {
    let bad = || {
        format!(
            "--halt {text}: expected never, or now|soon,fail|success|done[=N|=N%] (e.g. now,fail=1)"
        )
    };
    let once = |when, on| Ok(Some(Halt { when, on, threshold: Threshold::Count(1) }));
    match text {
        "never" | "0" => return Ok(None),
        "1" => return once(HaltWhen::Soon, HaltOn::Fail),
        "2" => return once(HaltWhen::Now, HaltOn::Fail),
        "-1" => return once(HaltWhen::Soon, HaltOn::Success),
        "-2" => return once(HaltWhen::Now, HaltOn::Success),
        _ if text.ends_with('%') && !text.contains(',') => {
            return parse_halt(&format!("soon,fail={text}"));
        }
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
    /// Every job of the run: a percentage is of them (the run counts them
    /// before the first starts, as GNU parallel does).
    pub total: u64,
}

impl Halt {
    /// Whether the job that just finished (`succeeded` or not, with
    /// `status`: its exit status, or 128 + the signal that killed it),
    /// counted in `tally` already, makes the run halt; if so, the run's
    /// exit status, as GNU parallel's: 0 for `success`; for `fail` and
    /// `done`, the job's own status when one job is the threshold, else the
    /// number of failed jobs (at most 101), or their percentage of all.
    pub fn verdict(&self, tally: &Tally, succeeded: bool, status: i32) -> Option<i32> {
        let (counts, count) = match self.on {
            HaltOn::Fail => (!succeeded, tally.failed),
            HaltOn::Success => (succeeded, tally.succeeded),
            HaltOn::Done => (true, tally.finished),
        };
        let needed = match self.threshold {
            Threshold::Count(n) => n as f64,
            Threshold::Percent(p) => tally.total as f64 * p / 100.0,
        };
        if !counts || (count as f64) < needed {
            return None;
        }
        Some(match self.on {
            HaltOn::Success => 0,
            _ if needed == 1.0 => status,
            _ => self.status(tally.failed, tally.total),
        })
    }

    /// The exit status of a run with `--halt` (stopped by it for `fail` or
    /// `done`, or not stopped at all): the number of `failed` jobs (at most
    /// 101), or for a percentage, theirs of `of` jobs, rounded up.
    pub fn status(&self, failed: u64, of: u64) -> i32 {
        match self.threshold {
            Threshold::Count(_) => failed.min(101) as i32,
            Threshold::Percent(_) => (failed * 100).div_ceil(of.max(1)) as i32,
        }
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
        assert_eq!(parse_halt("-1"), halt(HaltWhen::Soon, HaltOn::Success, Threshold::Count(1)));
        assert_eq!(parse_halt("5%"), halt(HaltWhen::Soon, HaltOn::Fail, Threshold::Percent(5.0)));
        for bad in ["later,fail=1", "now", "now,fail=0", "now,oops=1", "now,fail=120%"] {
            assert!(parse_halt(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn verdicts() {
        let halt = |text| parse_halt(text).unwrap().unwrap();
        let tally = |succeeded, failed, total| Tally {
            succeeded,
            failed,
            finished: succeeded + failed,
            total,
        };
        assert_eq!(halt("now,fail=1").verdict(&tally(3, 1, 9), false, 4), Some(4));
        assert_eq!(halt("now,fail=1").verdict(&tally(3, 1, 9), false, 137), Some(137));
        assert_eq!(halt("now,fail=2").verdict(&tally(3, 1, 9), false, 4), None);
        assert_eq!(halt("now,fail=2").verdict(&tally(3, 2, 9), false, 7), Some(2));
        // Only a job of the kind counted can cross the threshold.
        assert_eq!(halt("now,fail=1").verdict(&tally(4, 1, 9), true, 0), None);
        assert_eq!(halt("soon,success=2").verdict(&tally(2, 5, 9), true, 0), Some(0));
        assert_eq!(halt("now,done=3").verdict(&tally(1, 2, 9), false, 7), Some(2));
        assert_eq!(halt("now,done=1").verdict(&tally(0, 1, 9), false, 7), Some(7));
        // A percentage is of every job, and so is the status it gives.
        assert_eq!(halt("now,fail=50%").verdict(&tally(0, 1, 4), false, 1), None);
        assert_eq!(halt("now,fail=50%").verdict(&tally(0, 2, 4), false, 1), Some(50));
        assert_eq!(halt("now,fail=25%").verdict(&tally(0, 1, 4), false, 9), Some(9));
        assert_eq!(halt("now,done=50%").verdict(&tally(2, 0, 4), true, 0), Some(0));
        assert_eq!(halt("soon,fail=30%").status(1, 4), 25);
        assert_eq!(halt("soon,fail=3").status(200, 400), 101);
    }
}
