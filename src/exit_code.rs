//! Every exit status maestro documents, in one place (SPEC §3).

/// Everything asked for succeeded.
pub const SUCCESS: i32 = 0;
/// At least one task failed.
pub const TASK_FAILED: i32 = 1;
/// A run broke off after it started (the wait for tasks failed, or nothing
/// left could ever start): as for a failed task, the run did not do all
/// it was asked.
pub const RUN_BROKE_OFF: i32 = TASK_FAILED;
/// Bad usage, a bad flow file, or a problem before anything ran.
pub const USAGE: i32 = 2;
/// `maestro map`, for everything but its jobs' failures (which it counts
/// as GNU parallel does: 1 to 100 failed, 101 for more): bad usage,
/// unreadable inputs, a state maestro cannot use, a run that broke off.
/// (2 would mean "two jobs failed".)
pub const MAP_ERROR: i32 = 255;
/// Interrupted by Ctrl-C or SIGTERM.
pub const INTERRUPTED: i32 = 130;
