//! How long each instance will take, from recorded durations: the median
//! of its recent successes; for an instance never seen, the median of the
//! flow's known instances; with no history at all, one second each (the
//! critical path then counts tasks, as ninja's does).

use std::time::Duration;

/// The estimate when nothing is known.
pub const DEFAULT: Duration = Duration::from_secs(1);

/// One estimate per instance, given each one's recent durations (empty
/// when unknown).
pub fn estimates<R: AsRef<[Duration]>>(recent: &[R]) -> Vec<Duration> {
    let known: Vec<Duration> = recent.iter().filter_map(|r| median(r.as_ref())).collect();
    let fallback = median(&known).unwrap_or(DEFAULT);
    recent.iter().map(|r| median(r.as_ref()).unwrap_or(fallback)).collect()
}

/// The median (the lower middle for an even count); `None` when empty.
pub fn median(durations: &[Duration]) -> Option<Duration> {
    if durations.is_empty() {
        return None;
    }
    let mut sorted = durations.to_vec();
    sorted.sort();
    Some(sorted[(sorted.len() - 1) / 2])
}

/// The time left for a run: the longer of what the busiest chain needs and
/// what the remaining work needs spread over the slots.
pub fn remaining(critical: Duration, work: Duration, jobs: u32) -> Duration {
    critical.max(work / jobs.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn median_of_recent_successes_and_fallbacks() {
        let a = [ms(10), ms(30), ms(20)];
        let b = [ms(100), ms(400)];
        let none: [Duration; 0] = [];
        assert_eq!(estimates(&[&a[..], &b, &none]), vec![ms(20), ms(100), ms(20)]);
        assert_eq!(estimates(&[&none, &none]), vec![DEFAULT, DEFAULT]);
    }

    #[test]
    fn remaining_time_is_bounded_by_the_chain_and_by_the_slots() {
        assert_eq!(remaining(ms(100), ms(1000), 4), ms(250));
        assert_eq!(remaining(ms(900), ms(1000), 4), ms(900));
        assert_eq!(remaining(ms(1), ms(10), 0), ms(10));
    }
}
