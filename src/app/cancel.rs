//! `maestro cancel`: stops the runs of a folder, whether their maestro
//! still runs (it is asked to stop, as by Ctrl-C, and stops its tasks and
//! jobs itself) or was killed while its Slurm jobs ran on (they are
//! cancelled).

use crate::cli::CancelArgs;
use crate::error::{Error, Result};
use crate::exec::slurm;
use crate::exit_code;

/// `maestro cancel`.
pub fn cancel(args: &CancelArgs) -> Result<i32> {
    let store = super::history::open_recorded(args.file.as_deref())?;
    let live = store.live_runs()?;
    for (run, pid) in &live {
        // SAFETY: kill only sends a signal, to a maestro of this folder
        // that the store shows is still the one that began run `run`.
        if unsafe { libc::kill(*pid, libc::SIGINT) } == 0 {
            eprintln!("maestro: asked run {run} (maestro pid {pid}) to stop");
        }
    }
    let keep: Vec<u64> = live.iter().map(|(run, _)| *run).collect();
    let cancelled = slurm::cancel_orphans(store.dir(), &keep)
        .map_err(|e| Error::Run(format!("cannot cancel the Slurm jobs of earlier runs: {e}")))?;
    for (run, jobs) in &cancelled {
        let ids: Vec<String> = jobs.iter().map(u64::to_string).collect();
        eprintln!("maestro: cancelled the Slurm jobs of run {run}: {}", ids.join(" "));
    }
    if live.is_empty() && cancelled.is_empty() {
        eprintln!("maestro: nothing to cancel: no run is going on here");
    }
    Ok(exit_code::SUCCESS)
}
