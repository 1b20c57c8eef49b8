//! The guardian: a small child process that outlives a SIGKILL of maestro
//! just long enough to kill every task's process group.
//!
//! A process group per task lets maestro signal a task's whole tree, but the
//! groups outlive maestro if maestro itself is killed with SIGKILL. So, before
//! the first task starts, maestro starts `maestro __guardian` with two files:
//! - stdin, a pipe nobody writes to: it reaches end-of-file when maestro
//!   exits or is killed (the kernel closes the write end either way);
//! - stdout, an in-memory file (memfd) holding a table of the live process
//!   groups, one 4-byte slot each, 0 when free.
//!
//! Each group is recorded in the table by the task's own process, before it
//! execs: maestro reserves a slot ([`Guardian::reserve`]), and the child,
//! which runs in maestro's memory until its `execve`, stores its pid there
//! right after making its group. maestro clears the slot when it reaps the
//! group. A store into the table, mapped shared into maestro's memory, costs
//! neither a system call nor a wake-up of the guardian (a message per task
//! through a pipe woke it twice per task, which cost 7% of the dispatch time
//! of no-op tasks on two cores; a `pwrite` per change cost 1%). At EOF the
//! guardian reads the table and SIGKILLs every group still in it.
//!
//! No group can be missed: the child holds a copy of the pipe's write end
//! (close-on-exec) until its `execve`, so the guardian cannot see EOF before
//! the group is in the table, however maestro is paused or killed between
//! the spawn and anything it does after. (When maestro recorded the group
//! itself, after the spawn returned, a SIGKILL landing while maestro waited
//! for a core leaked the task in 3 of 20 tries.)
//!
//! Limit: a task process that leaves its group (`setsid`, `setpgid`)
//! escapes, as it escapes any group-based supervision.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};

use super::signals::pipe;

/// maestro's side of the guardian: the table and the pipe's write end.
#[derive(Debug)]
pub struct Guardian {
    table: SharedTable,
    /// Held only so that it closes when maestro ends.
    _alive: OwnedFd,
    free_slots: Vec<u32>,
    next_slot: u32,
}

/// A group's place in the guardian's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot(u32);

const RECORD: u64 = 4;

impl Guardian {
    /// Starts the guardian process.
    pub fn start() -> io::Result<Guardian> {
        let (read, write) = pipe(libc::O_CLOEXEC)?;
        // SAFETY: memfd_create with a static name; the fd is checked and owned.
        let table = unsafe {
            let fd = libc::memfd_create(c"maestro-guardian".as_ptr(), libc::MFD_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            File::from_raw_fd(fd)
        };
        Command::new("/proc/self/exe")
            .arg(GUARDIAN_ARG)
            .stdin(Stdio::from(read))
            .stdout(Stdio::from(table.try_clone()?))
            .stderr(Stdio::null())
            // Its own group: Ctrl-C on the terminal goes to maestro's group,
            // and the guardian must not die of it before the tasks do.
            .process_group(0)
            .spawn()?;
        let table = SharedTable::new(table)?;
        Ok(Guardian { table, _alive: write, free_slots: Vec::new(), next_slot: 0 })
    }

    /// A free slot of the table, for the next group: the process that leads
    /// it stores its pid at the slot's cell ([`Reserved::cell`]) before it
    /// execs. Give it back with [`Self::forget`] once that group is reaped,
    /// or if no process was started.
    pub fn reserve(&mut self) -> io::Result<Reserved> {
        let slot = match self.free_slots.pop() {
            Some(slot) => slot,
            None => {
                self.next_slot += 1;
                self.next_slot - 1
            }
        };
        match self.table.cell(slot as usize) {
            Ok(cell) => Ok(Reserved { slot: Slot(slot), cell }),
            Err(e) => {
                self.free_slots.push(slot);
                Err(e)
            }
        }
    }

    /// The group in `slot` is gone, or was never made (its id may be
    /// reused).
    pub fn forget(&mut self, slot: Slot) {
        if let Ok(cell) = self.table.cell(slot.0 as usize) {
            // SAFETY: `cell` points into the live mapping.
            unsafe { (*cell).store(0, Ordering::Relaxed) };
        }
        self.free_slots.push(slot.0);
    }
}

/// A slot of the table, reserved for a group about to be made.
#[derive(Debug)]
pub struct Reserved {
    /// Which slot.
    pub slot: Slot,
    /// Where the group's leader stores its pid (little-endian). Valid until
    /// the next [`Guardian::reserve`], which may move the table.
    pub cell: *const AtomicI32,
}

/// The table file, mapped shared: a store into the mapping is the file's
/// content for the guardian too.
#[derive(Debug)]
struct SharedTable {
    file: File,
    map: *mut AtomicI32,
    slots: usize,
}

/// Slots mapped at first; the table doubles when they are all in use.
const FIRST_SLOTS: usize = 4096;

impl SharedTable {
    fn new(file: File) -> io::Result<SharedTable> {
        let mut table = SharedTable { file, map: std::ptr::null_mut(), slots: 0 };
        table.grow_to(FIRST_SLOTS)?;
        Ok(table)
    }

    /// Where `slot` is in the mapping, grown to hold it if needed.
    fn cell(&mut self, slot: usize) -> io::Result<*const AtomicI32> {
        if slot >= self.slots {
            self.grow_to((slot + 1).next_power_of_two().max(self.slots * 2))?;
        }
        // SAFETY: `slot` is within the mapping, which holds `slots` i32s.
        Ok(unsafe { self.map.add(slot) })
    }

    fn grow_to(&mut self, slots: usize) -> io::Result<()> {
        self.file.set_len((slots as u64) * RECORD)?;
        // SAFETY: a fresh shared mapping of the file's first `slots` records;
        // the old mapping (if any) is unmapped only after the new one exists,
        // and the file's content is what both show.
        unsafe {
            let map = libc::mmap(
                std::ptr::null_mut(),
                slots * RECORD as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                self.file.as_raw_fd(),
                0,
            );
            if map == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            self.unmap();
            self.map = map.cast();
        }
        self.slots = slots;
        Ok(())
    }

    fn unmap(&mut self) {
        if !self.map.is_null() {
            // SAFETY: `map` is a live mapping of `slots` records.
            unsafe { libc::munmap(self.map.cast(), self.slots * RECORD as usize) };
        }
    }
}

impl Drop for SharedTable {
    fn drop(&mut self) {
        self.unmap();
    }
}

/// The hidden argument that makes `maestro` act as the guardian.
pub const GUARDIAN_ARG: &str = "__guardian";

/// The guardian's main: waits for EOF on stdin, then kills every group in
/// the table on stdout. Never fails: it has nobody to report to.
pub fn run_guardian() -> i32 {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGPIPE] {
        // SAFETY: setting a signal's disposition to ignored.
        unsafe { libc::signal(signal, libc::SIG_IGN) };
    }
    let mut sink = [0u8; 64];
    let mut stdin = io::stdin().lock();
    while !matches!(stdin.read(&mut sink), Ok(0) | Err(_)) {}
    // SAFETY: fd 1 is the table maestro gave us; we own it from here on.
    let table = unsafe { File::from_raw_fd(libc::STDOUT_FILENO) };
    let Ok(bytes) = read_all_at(&table) else { return 1 };
    for record in bytes.chunks_exact(RECORD as usize) {
        let pgid = i32::from_le_bytes([record[0], record[1], record[2], record[3]]);
        if pgid > 0 {
            // SAFETY: kill(2) on a process group maestro created.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }
    0
}

/// The whole of `file`, read from offset 0 whatever its position.
fn read_all_at(file: &File) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = file.read_at(&mut buffer, out.len() as u64)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buffer[..n]);
    }
}
