//! What a run and its workers say to each other over a byte stream (a TCP
//! connection, or an ssh session's pipes). A frame is a 4-byte big-endian
//! length and a body; a body is a tag byte and fields: numbers big-endian,
//! bytes and text a 4-byte length and their bytes. No frame is taken past
//! [`MAX_FRAME`], and a worker's first, before it has shown the run's
//! secret, past [`HELLO_MAX`].

use std::io::{self, Read};

use crate::exec::Termination;
use crate::shell::Shell;

/// The protocol's version: a worker of another one is turned away.
pub const VERSION: u32 = 1;
/// The largest frame either side takes (a launch's environment can be
/// big; output comes in chunks of 64 KiB).
pub const MAX_FRAME: usize = 16 << 20;
/// The largest first frame of a worker not yet known.
pub const HELLO_MAX: usize = 4096;

/// One attempt, as a worker runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The run's id for it.
    pub id: u64,
    /// The command line.
    pub cmd: Vec<u8>,
    /// What runs it.
    pub shell: Shell,
    /// Its working directory (bytes of a path).
    pub dir: Vec<u8>,
    /// Variables added to the worker's environment.
    pub env: Vec<(String, String)>,
    /// Whether stdout and stderr come back as one stream, their order kept
    /// (they go to one file), or each apart.
    pub merged: bool,
}

/// From the run to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToWorker {
    /// You are in: your number in the run.
    Welcome {
        /// The worker's number, from 1.
        worker: u32,
    },
    /// Run this.
    Run(Job),
    /// Stop attempt `id` (SIGTERM to its group, or SIGKILL when forced).
    Cancel {
        /// The attempt.
        id: u64,
        /// Whether at once.
        forced: bool,
    },
    /// The run is there (sent when nothing else was for a while).
    Heartbeat,
    /// Stop what runs and leave.
    Leave,
}

/// From a worker to the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromWorker {
    /// The first frame: who it is, and the secret that lets it in.
    Hello {
        /// Its protocol version.
        version: u32,
        /// The run's secret, as read from the join file.
        secret: Vec<u8>,
        /// Its host's name.
        host: String,
        /// Its process id there.
        pid: u32,
        /// How many tasks it runs at once (CPUs).
        slots: u32,
        /// The batch job it runs in (`SLURM_JOB_ID`), or empty.
        job: String,
    },
    /// Attempt `id` runs.
    Started {
        /// The attempt.
        id: u64,
    },
    /// Attempt `id` wrote this.
    Output {
        /// The attempt.
        id: u64,
        /// Whether to stderr (never, for a merged job).
        stderr: bool,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Attempt `id` ended.
    Ended {
        /// The attempt.
        id: u64,
        /// How.
        termination: Termination,
        /// User plus system CPU time, µs.
        cpu_us: u64,
        /// Peak memory of its largest process, KiB.
        max_rss_kib: u64,
    },
    /// Attempt `id` could not start: why.
    Refused {
        /// The attempt.
        id: u64,
        /// In the words a user needs.
        why: String,
    },
    /// The worker is there.
    Heartbeat,
    /// The worker's allocation ends soon: it takes no more attempts.
    Draining,
}

/// A body being written.
struct Body(Vec<u8>);

impl Body {
    fn new(tag: u8) -> Body {
        // Room for the length, filled in by `frame`.
        Body(vec![0, 0, 0, 0, tag])
    }

    fn u32(mut self, n: u32) -> Body {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }

    fn u64(mut self, n: u64) -> Body {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }

    fn bytes(self, bytes: &[u8]) -> Body {
        let mut body = self.u32(bytes.len() as u32);
        body.0.extend_from_slice(bytes);
        body
    }

    fn frame(mut self) -> Vec<u8> {
        let length = (self.0.len() - 4) as u32;
        self.0[..4].copy_from_slice(&length.to_be_bytes());
        self.0
    }
}

/// A body being read.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("a frame ends too soon".to_string());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn bytes(&mut self) -> Result<Vec<u8>, String> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }

    fn text(&mut self) -> Result<String, String> {
        String::from_utf8(self.bytes()?).map_err(|_| "text that is not UTF-8".to_string())
    }

    fn end(self) -> Result<(), String> {
        match self.0.is_empty() {
            true => Ok(()),
            false => Err("a frame with bytes past its fields".to_string()),
        }
    }
}

impl ToWorker {
    /// The whole frame.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ToWorker::Welcome { worker } => Body::new(1).u32(*worker),
            ToWorker::Run(job) => {
                let mut body = Body::new(2).u64(job.id).bytes(&job.cmd).bytes(&job.dir);
                let words = job.shell.words();
                body = body.u32(words.len() as u32);
                for word in words {
                    body = body.bytes(word.as_bytes());
                }
                body = body.u32(job.env.len() as u32);
                for (key, value) in &job.env {
                    body = body.bytes(key.as_bytes()).bytes(value.as_bytes());
                }
                body.u32(u32::from(job.merged))
            }
            ToWorker::Cancel { id, forced } => Body::new(3).u64(*id).u32(u32::from(*forced)),
            ToWorker::Heartbeat => Body::new(4),
            ToWorker::Leave => Body::new(5),
        }
        .frame()
    }

    /// A frame's body, read back.
    pub fn decode(body: &[u8]) -> Result<ToWorker, String> {
        let mut f = Fields(body);
        let message = match f.u8()? {
            1 => ToWorker::Welcome { worker: f.u32()? },
            2 => {
                let (id, cmd, dir) = (f.u64()?, f.bytes()?, f.bytes()?);
                let count = f.u32()?;
                let mut words = Vec::new();
                for _ in 0..count {
                    words.push(f.text()?);
                }
                if words.is_empty() {
                    return Err("a job without a shell".to_string());
                }
                let shell = Shell::from_words(words);
                let count = f.u32()?;
                let mut env = Vec::new();
                for _ in 0..count {
                    env.push((f.text()?, f.text()?));
                }
                ToWorker::Run(Job { id, cmd, shell, dir, env, merged: f.u32()? != 0 })
            }
            3 => ToWorker::Cancel { id: f.u64()?, forced: f.u32()? != 0 },
            4 => ToWorker::Heartbeat,
            5 => ToWorker::Leave,
            tag => return Err(format!("unknown message {tag}")),
        };
        f.end()?;
        Ok(message)
    }
}

impl FromWorker {
    /// The whole frame.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            FromWorker::Hello { version, secret, host, pid, slots, job } => Body::new(1)
                .u32(*version)
                .bytes(secret)
                .bytes(host.as_bytes())
                .u32(*pid)
                .u32(*slots)
                .bytes(job.as_bytes()),
            FromWorker::Started { id } => Body::new(2).u64(*id),
            FromWorker::Output { id, stderr, bytes } => {
                Body::new(3).u64(*id).u32(u32::from(*stderr)).bytes(bytes)
            }
            FromWorker::Ended { id, termination, cpu_us, max_rss_kib } => {
                let (kind, value) = match *termination {
                    Termination::Exited(code) => (0, code),
                    Termination::Signaled(signal) => (1, signal),
                    // A worker runs processes: no batch system ends them.
                    Termination::Batch(_) => (1, libc::SIGKILL),
                };
                Body::new(4).u64(*id).u32(kind).u32(value as u32).u64(*cpu_us).u64(*max_rss_kib)
            }
            FromWorker::Refused { id, why } => Body::new(5).u64(*id).bytes(why.as_bytes()),
            FromWorker::Heartbeat => Body::new(6),
            FromWorker::Draining => Body::new(7),
        }
        .frame()
    }

    /// A frame's body, read back.
    pub fn decode(body: &[u8]) -> Result<FromWorker, String> {
        let mut f = Fields(body);
        let message = match f.u8()? {
            1 => FromWorker::Hello {
                version: f.u32()?,
                secret: f.bytes()?,
                host: f.text()?,
                pid: f.u32()?,
                slots: f.u32()?,
                job: f.text()?,
            },
            2 => FromWorker::Started { id: f.u64()? },
            3 => FromWorker::Output { id: f.u64()?, stderr: f.u32()? != 0, bytes: f.bytes()? },
            4 => {
                let id = f.u64()?;
                let termination = match (f.u32()?, f.u32()? as i32) {
                    (0, code) => Termination::Exited(code),
                    (1, signal) => Termination::Signaled(signal),
                    (kind, _) => return Err(format!("unknown end {kind}")),
                };
                FromWorker::Ended { id, termination, cpu_us: f.u64()?, max_rss_kib: f.u64()? }
            }
            5 => FromWorker::Refused { id: f.u64()?, why: f.text()? },
            6 => FromWorker::Heartbeat,
            7 => FromWorker::Draining,
            tag => return Err(format!("unknown message {tag}")),
        };
        f.end()?;
        Ok(message)
    }
}

/// Reads one frame's body: `None` at the stream's end between frames.
pub fn read_frame(stream: &mut impl Read, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut length = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match stream.read(&mut length[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let length = u32::from_be_bytes(length) as usize;
    if length == 0 || length > max {
        let why = format!("a frame of {length} bytes (at most {max})");
        return Err(io::Error::new(io::ErrorKind::InvalidData, why));
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body)?;
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(frame: &[u8]) -> Vec<u8> {
        read_frame(&mut &frame[..], MAX_FRAME).unwrap().unwrap()
    }

    #[test]
    fn every_message_reads_back_as_written() {
        let job = Job {
            id: u64::MAX,
            cmd: b"echo \xff 'x'".to_vec(),
            shell: Shell::Words(vec!["zsh".to_string(), "-c".to_string()].into()),
            dir: b"/tmp/a b".to_vec(),
            env: vec![("A".into(), "1".into()), ("EMPTY".into(), String::new())],
            merged: true,
        };
        for message in [
            ToWorker::Welcome { worker: 7 },
            ToWorker::Run(job),
            ToWorker::Cancel { id: 3, forced: true },
            ToWorker::Heartbeat,
            ToWorker::Leave,
        ] {
            assert_eq!(ToWorker::decode(&body(&message.encode())), Ok(message));
        }
        for message in [
            FromWorker::Hello {
                version: VERSION,
                secret: b"s3cret".to_vec(),
                host: "node-1".into(),
                pid: 42,
                slots: 8,
                job: "1234".into(),
            },
            FromWorker::Started { id: 1 },
            FromWorker::Output { id: 1, stderr: true, bytes: vec![0, 10, 255] },
            FromWorker::Ended {
                id: 1,
                termination: Termination::Exited(-1),
                cpu_us: 5,
                max_rss_kib: 6,
            },
            FromWorker::Ended {
                id: 2,
                termination: Termination::Signaled(9),
                cpu_us: 0,
                max_rss_kib: 0,
            },
            FromWorker::Refused { id: 1, why: "x: command not found".into() },
            FromWorker::Heartbeat,
            FromWorker::Draining,
        ] {
            assert_eq!(FromWorker::decode(&body(&message.encode())), Ok(message));
        }
    }

    #[test]
    fn broken_frames_are_errors_not_panics() {
        assert_eq!(read_frame(&mut &b""[..], 10).unwrap(), None);
        assert!(read_frame(&mut &b"\0\0"[..], 10).is_err());
        assert!(read_frame(&mut &b"\0\0\0\x0bxxxxxxxxxxx"[..], 10).is_err());
        assert!(read_frame(&mut &b"\0\0\0\0"[..], 10).is_err());
        assert!(read_frame(&mut &b"\0\0\0\x05ab"[..], 10).is_err());
        let started = FromWorker::Started { id: 9 }.encode();
        for cut in 5..started.len() {
            assert!(FromWorker::decode(&started[4..cut]).is_err(), "cut at {cut}");
        }
        assert!(FromWorker::decode(&[99]).is_err());
        assert!(FromWorker::decode(&[6, 0]).is_err());
        assert!(ToWorker::decode(&[2, 0, 0, 0, 0, 0, 0, 0, 1, 255, 255, 255, 255]).is_err());
    }
}
