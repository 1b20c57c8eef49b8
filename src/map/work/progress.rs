//! What a running `maestro map` shows on stderr: the live status line on
//! a terminal, or GNU parallel's `--bar`.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use super::{MapWork, Running};

impl MapWork<'_, '_> {
    /// The live status line: jobs done (of how many, once known), failures,
    /// the time left (once jobs succeeded and the total is known) and the
    /// running jobs' arguments with their times.
    pub(super) fn draw_status(&mut self, now: Instant) {
        let done = self.finished() + self.summary.skipped as u64;
        let total = self.jobs_total().map(|total| total as usize);
        let eta = self.eta(now);
        let mut by_start: Vec<&Running> = self.running.values().collect();
        by_start.sort_by_key(|r| (r.started, r.job.seq));
        let labels: Vec<(String, Instant)> = by_start
            .iter()
            .map(|r| (String::from_utf8_lossy(&r.job.args.join(&b' ')).into_owned(), r.started))
            .collect();
        let running: Vec<(&str, Instant)> =
            labels.iter().map(|(label, since)| (label.as_str(), *since)).collect();
        let failed = self.summary.failed.len();
        if let Some(status) = &mut self.printer.status {
            status.draw(done as usize, total, failed, eta, &running);
        }
    }

    /// Jobs left times the median successful run time, spread over the
    /// slots; running jobs count what they have left of the median.
    fn eta(&self, now: Instant) -> Option<Duration> {
        let total = self.jobs_total()?;
        let sample: Vec<Duration> = self.successes.iter().copied().collect();
        let median = crate::estimate::median(&sample)?;
        let unfinished = total.saturating_sub(self.finished() + self.summary.skipped as u64);
        let waiting = unfinished.saturating_sub(self.running.len() as u64);
        let left: Vec<Duration> = self
            .running
            .values()
            .map(|r| median.saturating_sub(now.saturating_duration_since(r.started)))
            .collect();
        let longest =
            if waiting > 0 { median } else { left.iter().copied().max().unwrap_or_default() };
        let work = median * waiting.min(u64::from(u32::MAX)) as u32 + left.iter().sum::<Duration>();
        Some(crate::estimate::remaining(longest, work, self.config.jobs))
    }

    /// How many jobs the run has: known from the start for `:::` inputs,
    /// else once the inputs are read.
    fn jobs_total(&self) -> Option<u64> {
        if self.inputs_done { Some(self.read) } else { self.known_total }
    }

    pub(super) fn draw_bar(&self) {
        if !self.config.bar {
            return;
        }
        let done = self.finished() + self.summary.skipped as u64;
        let line = if self.inputs_done {
            let total = self.read.max(1);
            let percent = done * 100 / total;
            let filled = (percent / 5) as usize;
            format!(
                "\r{percent:>3}% [{}{}] {done}/{total}, {} failed",
                "#".repeat(filled),
                ".".repeat(20 - filled),
                self.summary.failed.len()
            )
        } else {
            format!(
                "\r{done} done, {} failed, {} running",
                self.summary.failed.len(),
                self.running.len()
            )
        };
        let mut stderr = io::stderr().lock();
        let _ = stderr.write_all(line.as_bytes());
        let _ = stderr.flush();
    }
}
