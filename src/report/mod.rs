//! Showing a run: the terminal output during and after it.

pub mod events;
pub mod flow_graph;
pub mod html;
pub mod recorded;
pub mod status;
pub mod terminal;
pub mod trace;

use std::time::Duration;

/// `0.51s`, `12.30s`, `3m05s`, `1h02m`: short and sortable by eye.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.2}s")
    } else if secs < 3600.0 {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else {
        let whole = d.as_secs();
        format!("{}h{:02}m", whole / 3600, (whole % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_millis(510)), "0.51s");
        assert_eq!(format_duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(format_duration(Duration::from_secs(3720)), "1h02m");
    }
}
