//! Handing a local attempt its stdin data (`map --pipe`'s blocks): through
//! a pipe, written by a thread of the attempt's own, so that a job that
//! reads slowly, or not at all, never holds up the loop. The thread ends
//! when everything is written or the job closed its end.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use super::StdinPart;
use super::signals::{self, pipe};

/// The size asked of the pipe: a default block of `map --pipe` in one
/// write, without a switch to the reader every 64 KiB. The system may give
/// less; a smaller pipe only costs more switches.
const PIPE_SIZE: libc::c_int = 1 << 20;

/// Starts writing `parts` into a new pipe; returns its read end, the
/// attempt's stdin. Until that end is closed, the writer waits for a reader.
pub fn start(parts: Vec<StdinPart>) -> io::Result<OwnedFd> {
    let (read, write) = pipe(libc::O_CLOEXEC)?;
    // SAFETY: fcntl on a pipe we own; failure leaves the pipe as it was.
    unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE) };
    std::thread::Builder::new().name("job stdin".into()).spawn(move || {
        signals::block_in_this_thread();
        write_all(&mut File::from(write), &parts);
    })?;
    Ok(read)
}

/// Starts writing `parts` into the named pipe at `path`, once a reader
/// opens it: until then the writer waits. Whoever made the pipe releases
/// a writer that no reader came for (see [`release_fifo`]).
pub fn start_fifo(path: std::sync::Arc<std::path::Path>, parts: Vec<StdinPart>) -> io::Result<()> {
    std::thread::Builder::new().name("job fifo".into()).spawn(move || {
        signals::block_in_this_thread();
        let Ok(mut fifo) = std::fs::OpenOptions::new().write(true).open(&*path) else { return };
        write_all(&mut fifo, &parts);
    })?;
    Ok(())
}

/// Writes `parts` into `pipe`, until done or until its reader is gone.
fn write_all(pipe: &mut File, parts: &[StdinPart]) {
    for part in parts {
        match write_part(pipe, part) {
            Ok(()) => {}
            // The job is done reading: what it did not read is not wanted.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return,
            Err(e) => {
                eprintln!("maestro: cannot give a job its input: {e}");
                return;
            }
        }
    }
}

/// Lets a writer waiting on the named pipe at `path` go (its job is over
/// and never opened it): a reader comes and goes, the writer's open ends
/// and its writes find no reader.
pub fn release_fifo(path: &std::path::Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path);
}

/// Writes `part` into `pipe` (or any file).
pub fn write_part(pipe: &mut File, part: &StdinPart) -> io::Result<()> {
    match part {
        StdinPart::Bytes(bytes) => pipe.write_all(bytes),
        StdinPart::File { path, start, len } => {
            let context =
                |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
            let mut file = File::open(path).map_err(context)?;
            file.seek(SeekFrom::Start(*start)).map_err(context)?;
            // File to pipe: the standard library splices, no copy through here.
            let copied = io::copy(&mut file.take(*len), pipe)?;
            if copied < *len {
                return Err(context(io::Error::other("it is shorter than when it was split")));
            }
            Ok(())
        }
        StdinPart::Queue(queue) => {
            while let Some(block) = queue.next() {
                pipe.write_all(&block)?;
            }
            Ok(())
        }
    }
}
