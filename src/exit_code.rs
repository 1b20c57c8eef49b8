//! Every exit status maestro documents, in one place (SPEC §3).

/// Everything asked for succeeded.
pub const SUCCESS: i32 = 0;
/// At least one task failed.
pub const TASK_FAILED: i32 = 1;
/// Bad usage, a bad flow file, or a problem before anything ran.
pub const USAGE: i32 = 2;
/// Interrupted by Ctrl-C or SIGTERM.
pub const INTERRUPTED: i32 = 130;
