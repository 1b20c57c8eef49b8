//! `maestro map`: GNU parallel's job (one command over many inputs) on the
//! same executor, logs and history as `run` and `par` (a map job's log is
//! kept when it fails: what succeeded was printed already).

pub mod args;
pub mod blocks;
pub mod cpus;
pub mod feed;
pub mod group_by;
pub mod halt;
pub mod inputs;
pub mod job;
pub mod job_shell;
pub mod joblog;
pub mod memory;
pub mod output;
pub mod pack;
pub mod parts;
pub mod perl;
pub mod results;
pub mod work;

use std::borrow::Cow;

use crate::event::InstanceNames;

/// A map job is named by its sequence number in the store: instance `i` is
/// job `i + 1`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeqNames;

impl InstanceNames for SeqNames {
    fn name(&self, instance: usize) -> Cow<'_, str> {
        Cow::Owned((instance + 1).to_string())
    }
}
