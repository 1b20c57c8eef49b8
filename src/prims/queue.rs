//! `maestro queue put|get NAME`: a FIFO queue between processes. Each item
//! goes to exactly one getter, and none is lost to a getter killed before
//! it printed the item.
//!
//! A queue is a directory:
//!
//! - `.state`: `head tail`, the lowest item number that may still be
//!   waiting and the next number to give, rewritten by one `pwrite` under
//!   an exclusive `flock` on the file, which every put and get takes;
//! - `items/N`: waiting items, one file each;
//! - `taken/N`: items a getter took and has not finished printing. The
//!   getter holds a `flock` on it; a `taken` file nobody holds belongs to a
//!   getter that died, and the next get puts it back at its place in line.
//!
//! So an item leaves the queue only once it was written whole to the
//! getter's stdout. A getter killed after writing it and before removing
//! it (one system call apart) leaves it to be delivered again: delivery
//! is at least once, and exactly once unless a getter dies there.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::notify::{CLOSED, CREATED, until};
use super::{Name, Scope, flock, open_private, private_dir, replace_file};
use crate::error::{Error, Result};

/// One queue's files.
struct Queue {
    dir: PathBuf,
    items: PathBuf,
    taken: PathBuf,
}

/// The queue's `.state`, locked while held.
struct Locked {
    file: File,
    path: PathBuf,
    head: u64,
    tail: u64,
}

impl Queue {
    fn open(scope: &Scope, name: &Name) -> Result<Queue> {
        let dir = scope.path("queue", name)?;
        let queue = Queue { items: dir.join("items"), taken: dir.join("taken"), dir };
        for dir in [&queue.dir, &queue.items, &queue.taken] {
            private_dir(dir)?;
        }
        Ok(queue)
    }

    fn lock(&self) -> Result<Locked> {
        let path = self.dir.join(".state");
        let file = open_private(&path)?;
        flock(&file, true, true).map_err(|e| Error::io("cannot lock", &path, e))?;
        let mut buffer = [0u8; 64];
        let n = file.read_at(&mut buffer, 0).map_err(|e| Error::io("cannot read", &path, e))?;
        let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
        let numbers: Vec<u64> = text.split_whitespace().filter_map(|n| n.parse().ok()).collect();
        let (head, tail) = match numbers[..] {
            [head, tail] if head <= tail => (head, tail),
            [] => (0, 0),
            _ => {
                return Err(Error::usage(format!(
                    "{} is damaged ('{}')",
                    path.display(),
                    text.trim()
                )));
            }
        };
        Ok(Locked { file, path, head, tail })
    }

    fn item(&self, number: u64) -> PathBuf {
        self.items.join(number.to_string())
    }

    /// Puts back the items of getters that died holding them.
    fn recover(&self, state: &mut Locked) -> Result<()> {
        let entries =
            fs::read_dir(&self.taken).map_err(|e| Error::io("cannot read", &self.taken, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("cannot read", &self.taken, e))?;
            let Some(number) = entry.file_name().to_str().and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            // Read-only: closing it must not wake anyone (see notify::CLOSED).
            let Ok(file) = File::open(entry.path()) else { continue };
            if flock(&file, true, false).map_err(|e| Error::io("cannot lock", entry.path(), e))? {
                match fs::rename(entry.path(), self.item(number)) {
                    Ok(()) => state.head = state.head.min(number),
                    // Its getter delivered it and removed it between our
                    // look at the directory and our lock: nothing to put back.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io("cannot put back", entry.path(), e)),
                }
            }
        }
        Ok(())
    }
}

impl Locked {
    fn save(&self) -> Result<()> {
        let text = format!("{:20} {:20}\n", self.head, self.tail);
        self.file
            .write_all_at(text.as_bytes(), 0)
            .map_err(|e| Error::io("cannot write", &self.path, e))
    }
}

/// Appends `values` to the queue, in order.
pub fn put(scope: &Scope, name: &Name, values: &[Vec<u8>]) -> Result<()> {
    let queue = Queue::open(scope, name)?;
    let mut state = queue.lock()?;
    for value in values {
        let number = state.tail;
        // The number is spent before the item appears: a put killed in
        // between leaves a gap, which gets skip, never two items under
        // one number.
        state.tail += 1;
        state.save()?;
        replace_file(&queue.item(number), value)?;
    }
    Ok(())
}

/// Takes the first item and writes it to `out`, waiting for one until
/// `deadline` (forever if `None`); `false` when the deadline passed first.
pub fn get(
    scope: &Scope,
    name: &Name,
    deadline: Option<Instant>,
    out: &mut dyn Write,
) -> Result<bool> {
    let queue = Queue::open(scope, name)?;
    // Woken by an item put, or by a getter letting go of one (it died).
    let dirs = [queue.items.as_path(), queue.taken.as_path()];
    match until(&dirs, CREATED | CLOSED, deadline, || take_first(&queue))? {
        Some((file, taken)) => deliver(&queue, file, &taken, out).map(|()| true),
        None => Ok(false),
    }
}

/// Moves the first waiting item to `taken/`, locked by us; its file and
/// where it is now.
fn take_first(queue: &Queue) -> Result<Option<(File, PathBuf)>> {
    let mut state = queue.lock()?;
    let head = state.head;
    queue.recover(&mut state)?;
    while state.head < state.tail {
        let number = state.head;
        let path = queue.item(number);
        // For writing: its close (when we are done, or die) wakes waiters.
        match fs::OpenOptions::new().read(true).write(true).open(&path) {
            Ok(file) => {
                flock(&file, true, false).map_err(|e| Error::io("cannot lock", &path, e))?;
                let taken = queue.taken.join(number.to_string());
                fs::rename(&path, &taken).map_err(|e| Error::io("cannot take", &path, e))?;
                state.head += 1;
                state.save()?;
                return Ok(Some((file, taken)));
            }
            // A gap left by a put that died: skip it.
            Err(e) if e.kind() == io::ErrorKind::NotFound => state.head += 1,
            Err(e) => return Err(Error::io("cannot open", &path, e)),
        }
    }
    if state.head != head {
        state.save()?;
    }
    Ok(None)
}

/// Writes the taken item out, then removes it; put back if it could not
/// be written.
fn deliver(queue: &Queue, mut file: File, taken: &Path, out: &mut dyn Write) -> Result<()> {
    let mut bytes = Vec::new();
    let written =
        file.read_to_end(&mut bytes).and_then(|_| out.write_all(&bytes)).and_then(|()| out.flush());
    match written {
        Ok(()) => fs::remove_file(taken).map_err(|e| Error::io("cannot remove", taken, e)),
        Err(error) => {
            // Back to its place in line, for the next getter.
            let mut state = queue.lock()?;
            if let Some(number) =
                taken.file_name().and_then(|n| n.to_str()).and_then(|n| n.parse().ok())
            {
                fs::rename(taken, queue.item(number))
                    .map_err(|e| Error::io("cannot put back", taken, e))?;
                state.head = state.head.min(number);
                state.save()?;
            }
            Err(Error::io("cannot write", "stdout", error))
        }
    }
}
