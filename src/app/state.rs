//! Opening the state a run starts from: the lock on `.maestro/`, the
//! database, and what earlier runs left. For a flow run this can start on
//! another thread while the flow file is parsed (both take tens of
//! milliseconds for a flow of 10,000 tasks; a no-op run is mostly these).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::fresh::FileStamp;
use crate::store::{LockMode, RunLock, Store, TaskHistory};
use foldhash::HashMap as FastMap;

/// The state, open (and locked, unless a dry run found it busy).
pub struct Opened {
    /// Held until the run ends.
    pub lock: Option<RunLock>,
    /// The database.
    pub store: Store,
    /// What earlier runs of the flow left, by instance name (empty for par).
    pub history: FastMap<String, TaskHistory>,
    /// File stamps recorded (empty for par).
    pub stamps: FastMap<OsString, FileStamp>,
}

/// Locks `state` (waiting for other maestros, and saying so) and loads it.
/// `flow` is the flow's name for a flow run (an exclusive lock), `None`
/// for `par` (a shared one). A dry run (`dry_run`) does not wait: it reads
/// the state as it is, without the lock.
pub fn open(state: &Path, base: &Path, flow: Option<&str>, dry_run: bool) -> Result<Opened> {
    crate::private::dir(state)?;
    let mode = if flow.is_some() { LockMode::Exclusive } else { LockMode::Shared };
    let locked = |e| Error::io("cannot lock", state.join("lock"), e);
    let lock = if dry_run {
        let lock = RunLock::try_acquire(state, mode).map_err(locked)?;
        if lock.is_none() {
            eprintln!(
                "maestro: another maestro is running in {}; this shows the state as it is now",
                base.display()
            );
        }
        lock
    } else {
        let lock = RunLock::acquire(state, mode, || {
            eprintln!(
                "maestro: another maestro is running in {}; waiting for it to finish",
                base.display()
            );
        });
        Some(lock.map_err(locked)?)
    };
    load(lock, state, flow)
}

fn load(lock: Option<RunLock>, state: &Path, flow: Option<&str>) -> Result<Opened> {
    let store = Store::open(state)?;
    let (history, stamps) = match flow {
        Some(flow) => {
            // Held exclusively, the lock proves no other maestro runs here:
            // attempts still marked running were cut short.
            if lock.is_some() {
                store.mark_interrupted()?;
            }
            (store.task_history(flow)?, store.file_stamps()?)
        }
        None => Default::default(),
    };
    Ok(Opened { lock, store, history, stamps })
}

/// A flow run's state, being opened on another thread.
pub struct Prefetch {
    loading: Option<JoinHandle<Result<Opened>>>,
}

impl Prefetch {
    /// Starts loading `state` for flow `flow` if it exists (a first run has
    /// nothing to load, and a flow file found wrong must leave no trace)
    /// and nobody holds its lock right now; otherwise `finish` opens it as
    /// `open` does.
    pub fn start(state: &Path, flow: &str) -> Prefetch {
        // Only a directory of the user's own: `open` says why not.
        let ours = state.is_dir() && crate::private::dir(state).is_ok();
        let lock = if ours { RunLock::try_exclusive(state).ok().flatten() } else { None };
        let loading = lock.map(|lock| {
            let state = state.to_path_buf();
            let flow = flow.to_string();
            std::thread::spawn(move || load(Some(lock), &state, Some(&flow)))
        });
        Prefetch { loading }
    }

    /// Whether the state is still being loaded.
    pub fn is_loading(&self) -> bool {
        self.loading.as_ref().is_some_and(|loading| !loading.is_finished())
    }

    /// The opened state (see `open` for `dry_run`).
    pub fn finish(self, state: &Path, base: &Path, flow: &str, dry_run: bool) -> Result<Opened> {
        match self.loading {
            Some(loading) => loading.join().unwrap_or_else(|_| {
                Err(Error::usage(format!("reading {} failed", PathBuf::from(state).display())))
            }),
            None => open(state, base, Some(flow), dry_run),
        }
    }
}
