//! How workers come into a run: a thread listening for connections that
//! show the run's secret, and launchers' workers on pipes (ssh); either
//! way, a thread per worker then reads its frames for the loop.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, ChildStdin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::link::{self, Wake};
use super::protocol::{self, FromWorker, HELLO_MAX, VERSION};

/// The longest a frame to a worker may take to go out: a worker that stops
/// reading must not hold the run up.
const WRITE_WAIT: Duration = Duration::from_secs(10);
/// How long a connection may take to say who it is.
const HELLO_WAIT: Duration = Duration::from_secs(10);

/// The way to a worker: a TCP connection, or the pipes of a process
/// (`ssh`) that runs it.
pub enum Link {
    /// A connection it made.
    Tcp(TcpStream),
    /// The stdin of the process whose stdout it speaks on.
    Pipe {
        /// Where frames to it go.
        stdin: ChildStdin,
        /// The process.
        child: Child,
    },
}

impl Link {
    pub(super) fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Link::Tcp(stream) => (&*stream).write_all(bytes),
            Link::Pipe { stdin, .. } => stdin.write_all(bytes),
        }
    }

    /// No more frames go to it. A process is killed; at the run's end
    /// (`parting`), given a moment to end by itself first.
    pub(super) fn close(self, parting: bool) {
        match self {
            Link::Tcp(stream) => {
                let _ = stream.shutdown(Shutdown::Both);
            }
            Link::Pipe { stdin, mut child } => {
                drop(stdin);
                let deadline = Instant::now() + Duration::from_secs(2);
                while parting && matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Where workers come in: the listening thread, and launchers whose
/// workers speak over pipes.
#[derive(Clone)]
pub struct Entrance {
    news: Sender<News>,
    wake: Wake,
    next_worker: Arc<AtomicU32>,
}

/// Who a worker said it is.
pub struct Hello {
    /// Its host.
    pub host: String,
    /// Tasks it runs at once.
    pub slots: u32,
    /// Its batch job, or empty.
    pub job: String,
}

impl Entrance {
    /// Hands workers to the loop through `news`, waking it with `wake`.
    pub(super) fn new(news: Sender<News>, wake: Wake) -> Entrance {
        Entrance { news, wake, next_worker: Arc::new(AtomicU32::new(1)) }
    }

    /// Wakes the loop, for a launcher to be tended (a worker it started
    /// failed, say).
    pub fn wake_loop(&self) {
        self.wake.ring();
    }

    /// Lets in a worker that said `hello` (its secret already checked, or
    /// not needed), then reads its frames from `reader` until its end:
    /// call it on a thread of its own.
    pub fn admit(&self, hello: Hello, link: Link, reader: impl Read) {
        let worker = self.next_worker.fetch_add(1, Ordering::SeqCst);
        let Hello { host, slots, job } = hello;
        if self.news.send(News::Joined { worker, link, host, slots, job }).is_err() {
            return;
        }
        self.wake.ring();
        link::pump(
            reader,
            protocol::MAX_FRAME,
            FromWorker::decode,
            move |message| News::Said { worker, message },
            self.news.clone(),
            self.wake.clone(),
        );
    }
}

/// What the threads tell the loop.
pub(super) enum News {
    /// A worker is in.
    Joined { worker: u32, link: Link, host: String, slots: u32, job: String },
    /// A worker said this, or its connection ended (`Err`).
    Said { worker: u32, message: Result<FromWorker, String> },
}

/// The thread that takes connections.
pub(super) struct Listening {
    port: u16,
    stopped: Arc<AtomicBool>,
}

impl Listening {
    pub(super) fn start(
        listener: TcpListener,
        secret: String,
        entrance: Entrance,
    ) -> io::Result<Listening> {
        let port = listener.local_addr()?.port();
        let stopped = Arc::new(AtomicBool::new(false));
        let stop = stopped.clone();
        let secret = Arc::new(secret);
        std::thread::Builder::new().name("maestro-listen".into()).spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (secret, entrance) = (secret.clone(), entrance.clone());
                let _ = std::thread::Builder::new().name("maestro-hello".into()).spawn(move || {
                    welcome(stream, &secret, &entrance);
                });
            }
        })?;
        Ok(Listening { port, stopped })
    }

    pub(super) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        // Wakes the thread out of `accept`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Takes a connection in if its first frame is a hello with the secret,
/// then reads its frames for the loop.
fn welcome(stream: TcpStream, secret: &str, entrance: &Entrance) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(HELLO_WAIT));
    let mut reader = &stream;
    let Ok(Some(body)) = protocol::read_frame(&mut reader, HELLO_MAX) else { return };
    let Ok(FromWorker::Hello { version, secret: shown, host, slots, job, .. }) =
        FromWorker::decode(&body)
    else {
        return;
    };
    if version != VERSION || !same_secret(shown.as_slice(), secret.as_bytes()) {
        return;
    }
    let _ = stream.set_read_timeout(None);
    let _ = stream.set_write_timeout(Some(WRITE_WAIT));
    let Ok(writer) = stream.try_clone() else { return };
    entrance.admit(Hello { host, slots, job }, Link::Tcp(writer), stream);
}

/// Compares secrets in a time that does not depend on where they differ.
fn same_secret(shown: &[u8], secret: &[u8]) -> bool {
    shown.len() == secret.len() && shown.iter().zip(secret).fold(0, |d, (a, b)| d | (a ^ b)) == 0
}

/// This machine's name, as workers elsewhere may reach it.
pub fn host_name() -> String {
    let mut name = [0u8; 256];
    // SAFETY: gethostname writes at most `len` bytes into the local buffer.
    let ok = unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) } == 0;
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    match ok && end > 0 {
        true => String::from_utf8_lossy(&name[..end]).into_owned(),
        false => "localhost".to_string(),
    }
}
