//! Wall-clock times as people (and Slurm's commands) read them: in the
//! machine's time zone.

/// `unix_secs` as `YYYY-MM-DD` and `HH:MM:SS` joined by `separator` (a
/// space for people, `T` for `sacct -S`); `None` if it has no local time.
pub fn local(unix_secs: i64, separator: char) -> Option<String> {
    let seconds = unix_secs as libc::time_t;
    // SAFETY: an all-zero `tm` is a valid value of the plain C struct, and
    // localtime_r only reads `seconds` and writes `tm`.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&seconds, &mut tm).is_null() {
            return None;
        }
        tm
    };
    Some(format!(
        "{:04}-{:02}-{:02}{separator}{:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    ))
}
