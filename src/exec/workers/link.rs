//! What both ends of a worker's connection stand on: a thread that reads
//! frames and hands them to a loop through a channel, waking it through a
//! pipe; and the join file, which tells a worker where the run listens and
//! the secret that lets it in.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::Sender;

use crate::exec::signals::pipe;
use crate::private;

/// The writing end of a loop's wake-up pipe, shared by the threads that
/// feed it.
#[derive(Debug, Clone)]
pub struct Wake(Arc<OwnedFd>);

impl Wake {
    /// The loop's pipe: the end it polls (non-blocking), and this one.
    pub fn pair() -> io::Result<(File, Wake)> {
        let (read, write) = pipe(libc::O_CLOEXEC | libc::O_NONBLOCK)?;
        Ok((File::from(read), Wake(Arc::new(write))))
    }

    /// Wakes the loop. A full pipe wakes it already.
    pub fn ring(&self) {
        // SAFETY: a one-byte write from a local buffer to a pipe we own.
        unsafe { libc::write(self.0.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
    }
}

/// Empties the reading end of a wake-up pipe.
pub fn drain(wake: &File) {
    let mut sink = [0u8; 256];
    while matches!((&*wake).read(&mut sink), Ok(n) if n > 0) {}
}

/// Reads frames from `stream` on a thread of its own: see [`pump`].
pub fn spawn_reader<M, T>(
    stream: impl Read + Send + 'static,
    first_max: usize,
    decode: fn(&[u8]) -> Result<M, String>,
    wrap: impl Fn(Result<M, String>) -> T + Send + 'static,
    news: Sender<T>,
    wake: Wake,
) -> io::Result<()>
where
    M: 'static,
    T: Send + 'static,
{
    std::thread::Builder::new()
        .name("maestro-link".into())
        .spawn(move || pump(stream, first_max, decode, wrap, news, wake))?;
    Ok(())
}

/// Reads frames from `stream`, each decoded by `decode` and sent as
/// `wrap(Ok(message))`; at the stream's end, or at its first broken frame,
/// sends `wrap(Err(why))` and returns. Each send rings `wake`. The first
/// frame may be at most `first_max` bytes.
pub fn pump<M, T>(
    stream: impl Read,
    first_max: usize,
    decode: fn(&[u8]) -> Result<M, String>,
    wrap: impl Fn(Result<M, String>) -> T,
    news: Sender<T>,
    wake: Wake,
) {
    let mut stream = BufReader::with_capacity(64 * 1024, stream);
    let mut max = first_max;
    loop {
        let read = super::protocol::read_frame(&mut stream, max);
        max = super::protocol::MAX_FRAME;
        let (message, last) = match read {
            Ok(Some(body)) => {
                let message = decode(&body);
                let last = message.is_err();
                (message, last)
            }
            Ok(None) => (Err("the connection closed".to_string()), true),
            Err(e) => (Err(format!("the connection broke: {e}")), true),
        };
        let gone = news.send(wrap(message)).is_err();
        wake.ring();
        if last || gone {
            return;
        }
    }
}

/// Where a run listens for its workers, and its secret: what `maestro
/// worker --join FILE` reads. The file is private, in the private
/// `.maestro/`: the secret is never on a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    /// `host:port` to try, in order.
    pub addresses: Vec<String>,
    /// The run's secret.
    pub secret: String,
}

const JOIN_HEADER: &str = "maestro-join 1";

impl Join {
    /// A new secret, and the addresses given.
    pub fn new(addresses: Vec<String>) -> io::Result<Join> {
        let mut random = [0u8; 24];
        File::open("/dev/urandom")?.read_exact(&mut random)?;
        let secret = random.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Join { addresses, secret })
    }

    /// Writes it at `path`, whole or not at all.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let mut text = format!("{JOIN_HEADER}\n");
        for address in &self.addresses {
            text.push_str(&format!("address {address}\n"));
        }
        text.push_str(&format!("secret {}\n", self.secret));
        let temporary = path.with_extension("tmp");
        let mut file = private::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        drop(file);
        std::fs::rename(&temporary, path)
    }

    /// Reads the join file at `path`.
    pub fn read(path: &Path) -> Result<Join, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let not_one = || format!("{} is not a maestro join file", path.display());
        let mut lines = text.lines();
        if lines.next() != Some(JOIN_HEADER) {
            return Err(not_one());
        }
        let (mut addresses, mut secret) = (Vec::new(), None);
        for line in lines {
            match line.split_once(' ') {
                Some(("address", address)) => addresses.push(address.to_string()),
                Some(("secret", value)) => secret = Some(value.to_string()),
                _ => return Err(not_one()),
            }
        }
        match secret {
            Some(secret) if !addresses.is_empty() => Ok(Join { addresses, secret }),
            _ => Err(not_one()),
        }
    }
}

/// The join file of run `run` in state directory `state_dir`.
pub fn join_path(state_dir: &Path, run: u64) -> PathBuf {
    state_dir.join("workers").join(format!("{run}.join"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_join_file_reads_back_and_nothing_else_does() {
        let dir = std::env::temp_dir().join(format!("maestro-join-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("1.join");
        let join = Join::new(vec!["node:4000".into(), "127.0.0.1:4000".into()]).unwrap();
        assert_eq!(join.secret.len(), 48);
        join.write(&path).unwrap();
        assert_eq!(Join::read(&path), Ok(join));
        std::fs::write(&path, "address x:1\nsecret s\n").unwrap();
        let error = Join::read(&path).unwrap_err();
        assert!(error.ends_with("1.join is not a maestro join file"), "{error}");
        std::fs::write(&path, "maestro-join 1\nsecret s\n").unwrap();
        assert!(Join::read(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
