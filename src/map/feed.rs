//! Jobs for the event loop without ever blocking it. Inputs that may make a
//! read wait (stdin, a pipe: `slow-producer | maestro map ...`) are read on
//! a thread of their own, which hands jobs over through a small bounded
//! channel and wakes the loop through a pipe; while it waits for a line,
//! the loop still reaps jobs, prints their output and answers Ctrl-C.
//! Jobs go over in batches of those read without waiting (a hand-over per
//! job, with its wake-up, cost a fifth of dispatching a no-op job). Inputs
//! that never wait (`:::` values, regular files) are read inline.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::mpsc::{self, Receiver, TryRecvError};

use super::inputs::{InputError, Inputs, Job};
use crate::exec::signals::pipe;

/// What the loop gets when it asks for a job.
#[derive(Debug)]
pub enum Next {
    /// A job to start.
    Job(Job),
    /// None yet: ask again when woken.
    Later,
    /// The inputs are used up.
    End,
}

/// What jobs are read from: the input sources ([`Inputs`]), or blocks of
/// stdin or of files (`--pipe`, `--pipepart`).
pub trait JobSource: Send {
    /// The next job, or `None` when there are no more.
    fn next_job(&mut self) -> Result<Option<Job>, InputError>;
    /// How many jobs there will be, when known before any is taken.
    fn total(&self) -> Option<u64>;
    /// Whether taking a job may wait for a writer: not for jobs known
    /// before the run.
    fn may_wait(&self) -> bool {
        false
    }
    /// Whether the next job can be taken without waiting, as far as can be
    /// told.
    fn at_hand(&self) -> bool {
        true
    }
    /// The most jobs read ahead at once (fewer when each holds much data).
    fn batch(&self) -> usize {
        BATCH
    }
}

impl JobSource for Inputs {
    fn next_job(&mut self) -> Result<Option<Job>, InputError> {
        Inputs::next_job(self)
    }
    fn total(&self) -> Option<u64> {
        Inputs::total(self)
    }
    fn may_wait(&self) -> bool {
        Inputs::may_wait(self)
    }
    fn at_hand(&self) -> bool {
        Inputs::at_hand(self)
    }
}

/// Where jobs come from.
pub enum Feed {
    /// Read on the loop's thread.
    Inline(Box<dyn JobSource>),
    /// Read before the run (see [`Feed::all_read`]).
    Read(VecDeque<Result<Job, InputError>>),
    /// Read on a thread of their own.
    Threaded {
        /// Batches of jobs (the last may end with the error that ended the
        /// inputs), in order.
        batches: Receiver<Vec<Result<Job, InputError>>>,
        /// What is left of the batch being taken.
        taken: VecDeque<Result<Job, InputError>>,
        /// Readable when a batch (or the end) was handed over.
        wake: OwnedFd,
    },
}

/// Jobs in one batch, at most.
const BATCH: usize = 256;
/// Batches read ahead of the loop, at most.
const READ_AHEAD: usize = 4;

impl Feed {
    /// Reads `inputs` on a thread if taking a job from them may wait.
    pub fn new(inputs: Box<dyn JobSource>) -> io::Result<Feed> {
        if !inputs.may_wait() {
            return Ok(Feed::Inline(inputs));
        }
        let (wake, wake_write) = pipe(libc::O_CLOEXEC | libc::O_NONBLOCK)?;
        let (sender, batches) = mpsc::sync_channel(READ_AHEAD);
        std::thread::Builder::new().name("map inputs".into()).spawn(move || {
            crate::exec::signals::block_in_this_thread();
            let mut inputs = inputs;
            let most = inputs.batch();
            loop {
                let mut batch = Vec::new();
                let mut last = false;
                // Until a read would wait: the jobs read so far go first.
                while batch.len() < most && (batch.is_empty() || inputs.at_hand()) {
                    match inputs.next_job().transpose() {
                        Some(next) => {
                            last = next.is_err();
                            batch.push(next);
                            if last {
                                break;
                            }
                        }
                        None => {
                            last = true;
                            break;
                        }
                    }
                }
                let sent = batch.is_empty() || sender.send(batch).is_ok();
                if last {
                    // Dropping the sender tells the loop the inputs ended.
                    drop(sender);
                    poke(&wake_write);
                    return;
                }
                poke(&wake_write);
                if !sent {
                    return;
                }
            }
        })?;
        Ok(Feed::Threaded { batches, taken: VecDeque::new(), wake })
    }

    /// Every job of `inputs`, read now (waiting for them as it must), and
    /// how many there are; an error that ends the inputs comes after them.
    /// With `shuffle`, in a random order, numbered again in that order (as
    /// GNU parallel's `--shuf`).
    pub fn all_read(mut inputs: Box<dyn JobSource>, shuffle: bool) -> (Feed, u64) {
        let mut jobs = Vec::new();
        let mut error = None;
        while let Some(next) = inputs.next_job().transpose() {
            match next {
                Ok(job) => jobs.push(job),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        if shuffle {
            shuffled(&mut jobs);
            for (seq, job) in (1..).zip(&mut jobs) {
                job.seq = seq;
            }
        }
        let total = jobs.len() as u64;
        let read = jobs.into_iter().map(Ok).chain(error.map(Err)).collect();
        (Feed::Read(read), total)
    }

    /// The fd the loop must also wait on, if any.
    pub fn wake_fd(&self) -> Option<RawFd> {
        match self {
            Feed::Inline(_) | Feed::Read(_) => None,
            Feed::Threaded { wake, .. } => Some(wake.as_raw_fd()),
        }
    }

    /// The next job, without waiting.
    pub fn take(&mut self) -> Result<Next, InputError> {
        match self {
            Feed::Inline(inputs) => Ok(inputs.next_job()?.map_or(Next::End, Next::Job)),
            Feed::Read(jobs) => match jobs.pop_front() {
                Some(job) => Ok(Next::Job(job?)),
                None => Ok(Next::End),
            },
            Feed::Threaded { batches, taken, .. } => {
                if taken.is_empty() {
                    match batches.try_recv() {
                        Ok(batch) => taken.extend(batch),
                        Err(TryRecvError::Empty) => return Ok(Next::Later),
                        Err(TryRecvError::Disconnected) => return Ok(Next::End),
                    }
                }
                match taken.pop_front() {
                    Some(job) => Ok(Next::Job(job?)),
                    None => Ok(Next::Later),
                }
            }
        }
    }
}

/// `items` in a random order (Fisher-Yates, with xorshift seeded from the
/// clock and the pid: no crate for one shuffle that needs no secrecy).
fn shuffled<T>(items: &mut [T]) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut state = (nanos ^ u64::from(std::process::id()).rotate_left(32)) | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in (1..items.len()).rev() {
        items.swap(i, (next() % (i as u64 + 1)) as usize);
    }
}

/// Wakes the loop. A full pipe already will.
fn poke(fd: &OwnedFd) {
    // SAFETY: a one-byte write from a local to an fd we own.
    unsafe { libc::write(fd.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
}
