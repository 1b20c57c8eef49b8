//! `--memfree`: how much memory the system has available for new work.

/// The bytes `/proc/meminfo` says are available (`MemAvailable`: free
/// memory plus what the kernel can reclaim at once); `None` if it cannot
/// be read.
pub fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    from_meminfo(&text)
}

fn from_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|line| line.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn available_memory_is_read_in_bytes() {
        let text = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:    2048 kB\n";
        assert_eq!(from_meminfo(text), Some(2 << 20));
        assert_eq!(from_meminfo("MemTotal: 1 kB\n"), None);
        assert!(available().is_some());
    }
}
