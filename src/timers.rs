//! Deadlines for an event loop: which timer is due, and how long the loop
//! may wait before the next one.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// Timers of kind `T`, earliest first.
#[derive(Debug)]
pub struct Timers<T> {
    heap: BinaryHeap<Reverse<(Instant, T)>>,
}

impl<T: Ord + Copy> Timers<T> {
    /// No timer.
    pub fn new() -> Timers<T> {
        Timers { heap: BinaryHeap::new() }
    }

    /// `what` is due at `when`.
    pub fn at(&mut self, when: Instant, what: T) {
        self.heap.push(Reverse((when, what)));
    }

    /// How long to wait for the earliest timer, or `sooner` if that is
    /// sooner; `None` when there is nothing to wait for.
    pub fn wait_time(&self, sooner: Option<Duration>) -> Option<Duration> {
        let now = Instant::now();
        let next = self.heap.peek().map(|Reverse((at, _))| at.saturating_duration_since(now));
        next.into_iter().chain(sooner).min()
    }

    /// When the earliest timer is due.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// The earliest timer due by `now`, taken off.
    pub fn pop_due(&mut self, now: Instant) -> Option<T> {
        match self.heap.peek() {
            Some(&Reverse((at, what))) if at <= now => {
                self.heap.pop();
                Some(what)
            }
            _ => None,
        }
    }
}

impl<T: Ord + Copy> Default for Timers<T> {
    fn default() -> Timers<T> {
        Timers::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_timers_come_earliest_first_and_set_the_wait() {
        let start = Instant::now();
        let mut timers = Timers::new();
        assert_eq!(timers.wait_time(None), None);
        assert_eq!(timers.wait_time(Some(Duration::from_secs(1))), Some(Duration::from_secs(1)));
        timers.at(start + Duration::from_secs(60), 'b');
        timers.at(start, 'a');
        assert_eq!(timers.wait_time(None), Some(Duration::ZERO));
        assert_eq!(timers.pop_due(start), Some('a'));
        assert_eq!(timers.pop_due(start), None);
        assert!(timers.wait_time(None).unwrap() > Duration::from_secs(59));
        assert_eq!(timers.pop_due(start + Duration::from_secs(60)), Some('b'));
    }
}
