//! Tuning of mimalloc, the binary's allocator (see Cargo.toml for why it,
//! and why without transparent huge pages).

use std::ffi::{c_int, c_long};

// The binary's global allocator is mimalloc's: this names it for the
// linker, which the calls below need.
extern crate mimalloc as _;

unsafe extern "C" {
    fn mi_option_get(option: c_int) -> c_long;
    fn mi_option_set(option: c_int, value: c_long);
    fn mi_collect(force: bool);
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
/// `MIMALLOC_PURGE_DELAY`, or the option moved in another mimalloc. Call
/// it first thing, before any other thread exists.
pub fn return_freed_memory_sooner() {
    // SAFETY: plain calls into the linked allocator, made before any
    // other thread exists (mi_option_set is not thread-safe).
    unsafe {
        if mi_option_get(PURGE_DELAY) == PURGE_DELAY_DEFAULT {
            mi_option_set(PURGE_DELAY, 10);
        }
    }
}

/// Gives what this thread freed back to the system now, not at its next
/// allocations: after a big flow's tasks as written are dropped, the run
/// allocates its own tables while the freed pages would still be
/// resident (100,000 tasks: 20 MB of them).
pub fn return_freed_memory_now() {
    // SAFETY: a plain call into the linked allocator, which any thread may
    // make at any time; under another global allocator (the library's unit
    // tests) mimalloc's own heaps are empty and it does nothing.
    unsafe { mi_collect(true) }
}
