//! The `maestro` binary: everything lives in the library.

fn main() {
    allocator::return_freed_memory_sooner();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == maestro::exec::guardian::GUARDIAN_ARG) {
        std::process::exit(maestro::exec::guardian::run_guardian());
    }
    std::process::exit(maestro::app::main(args));
}

/// See Cargo.toml for why not the system's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tuning of mimalloc (see Cargo.toml for why it, and why without
/// transparent huge pages).
mod allocator {
    use std::ffi::{c_int, c_long};

    unsafe extern "C" {
        fn mi_option_get(option: c_int) -> c_long;
        fn mi_option_set(option: c_int, value: c_long);
    }

    /// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (mimalloc.h).
    const PURGE_DELAY: c_int = 15;
    /// Its default there: memory freed stays the process's for a second.
    const PURGE_DELAY_DEFAULT: c_long = 1000;

    /// Gives memory freed back to the system after 10 ms, mimalloc 2's
    /// delay, not 3's second: setting up a big flow frees tens of megabytes
    /// (the file's text, the tasks as written) that would otherwise stay
    /// resident into the run (100,000 tasks: peak RSS 122 -> 102 MB, in the
    /// same time). Left alone when the delay is not the default one: set by
    /// `MIMALLOC_PURGE_DELAY`, or the option moved in another mimalloc.
    pub fn return_freed_memory_sooner() {
        // SAFETY: plain calls into the linked allocator, made before any
        // other thread exists (mi_option_set is not thread-safe).
        unsafe {
            if mi_option_get(PURGE_DELAY) == PURGE_DELAY_DEFAULT {
                mi_option_set(PURGE_DELAY, 10);
            }
        }
    }
}
