//! What a running `maestro map` shows on stderr: the live status line on
//! a terminal, or GNU parallel's `--bar`, `--progress` or `--eta`.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use super::{MapWork, Progress, Running};

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

    /// `--progress`, `--eta`: GNU parallel's heading, before any job.
    pub(super) fn start_progress(&mut self) {
        if !matches!(self.config.progress, Progress::Progress | Progress::Eta) {
            return;
        }
        self.progress_since = Some(Instant::now());
        let jobs = self.config.jobs;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let heading = format!(
            "\nComputers / CPU cores / Max jobs to run\n1:local / {cpus} / {jobs}\n\n\
             Computer:jobs running/jobs completed/%of started jobs/Average seconds to complete\n"
        );
        let _ = io::stderr().lock().write_all(heading.as_bytes());
        self.draw_bar();
    }

    /// The `--bar`, `--progress` or `--eta` line, drawn again.
    pub(super) fn draw_bar(&self) {
        match self.config.progress {
            Progress::None => {}
            Progress::Bar => self.draw_the_bar(),
            Progress::Progress | Progress::Eta => self.draw_counts(),
        }
    }

    /// `--progress`: `local:RUNNING/DONE/100%/AVERAGE`, after `--eta`'s
    /// `ETA: Ns Left: N AVG: Ns` (the average: time since the start per
    /// job done, as parallel's).
    fn draw_counts(&self) {
        let done = self.finished() + self.summary.skipped as u64;
        let elapsed = self.progress_since.map_or(Duration::ZERO, |since| since.elapsed());
        let average = if done == 0 { 0.0 } else { elapsed.as_secs_f64() / done as f64 };
        let mut line = String::from("\r");
        if self.config.progress == Progress::Eta {
            let left = self
                .jobs_total()
                .map_or(self.running.len() as u64, |total| total.saturating_sub(done));
            let eta = (average * left as f64).round() as u64;
            line.push_str(&format!("ETA: {eta}s Left: {left} AVG: {average:.2}s  "));
        }
        line.push_str(&format!("local:{}/{done}/100%/{average:.1}s ", self.running.len()));
        let mut stderr = io::stderr().lock();
        let _ = stderr.write_all(line.as_bytes());
        let _ = stderr.flush();
    }

    /// `--bar`.
    fn draw_the_bar(&self) {
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
