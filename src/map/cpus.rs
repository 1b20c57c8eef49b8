//! What `-j N%`, `+N` and `-N` count: the CPU threads maestro may use, or,
//! as GNU parallel's `--use-cores-instead-of-threads` and
//! `--use-sockets-instead-of-threads` ask, the physical cores or sockets
//! (read from `/proc/cpuinfo`).

use std::collections::BTreeSet;

/// How CPUs are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// CPU threads (the default).
    Threads,
    /// Physical cores.
    Cores,
    /// Filled sockets.
    Sockets,
}

/// The CPUs, counted as `count` asks; at least 1.
pub fn count(count: Count) -> u32 {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    if count == Count::Threads {
        return threads;
    }
    let counted =
        std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|text| from_cpuinfo(&text, count));
    counted.unwrap_or(threads).clamp(1, threads)
}

/// Cores or sockets in a `/proc/cpuinfo`; `None` when it does not say.
fn from_cpuinfo(text: &str, count: Count) -> Option<u32> {
    let mut seen = BTreeSet::new();
    let mut socket = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        match key.trim() {
            "physical id" => {
                socket = Some(value.to_string());
                if count == Count::Sockets {
                    seen.insert((value.to_string(), String::new()));
                }
            }
            "core id" if count == Count::Cores => {
                seen.insert((socket.clone()?, value.to_string()));
            }
            _ => {}
        }
    }
    (!seen.is_empty()).then_some(seen.len() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cores_and_sockets_are_told_apart() {
        let text = "processor\t: 0\nphysical id\t: 0\ncore id\t\t: 0\n\n\
                    processor\t: 1\nphysical id\t: 0\ncore id\t\t: 0\n\n\
                    processor\t: 2\nphysical id\t: 1\ncore id\t\t: 0\n\n\
                    processor\t: 3\nphysical id\t: 1\ncore id\t\t: 1\n";
        assert_eq!(from_cpuinfo(text, Count::Cores), Some(3));
        assert_eq!(from_cpuinfo(text, Count::Sockets), Some(2));
        assert_eq!(from_cpuinfo("processor\t: 0\n", Count::Cores), None);
    }
}
