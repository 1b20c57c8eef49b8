//! Content hashes of files, re-hashing only what changed: as git's index
//! does, a file whose size, mtime (nanoseconds) and inode match what was
//! recorded is taken to have the recorded content.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use xxhash_rust::xxh3::Xxh3;

use foldhash::HashMap as FastMap;

/// A file modified this close to the moment it was hashed may change again
/// without its mtime moving (filesystem timestamps are coarse): its hash is
/// not trusted from the stat alone ("racily clean", in git's words).
const RACY: Duration = Duration::from_secs(2);

/// What is known of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Inode number.
    pub inode: u64,
    /// Content hash (xxh3, 128 bits).
    pub hash: u128,
    /// When the hash was taken, nanoseconds since the epoch.
    pub hashed_at_ns: i64,
}

impl FileStamp {
    fn matches(&self, meta: &Stat) -> bool {
        self.size == meta.size
            && self.mtime_ns == meta.mtime_ns
            && self.inode == meta.inode
            && self.hashed_at_ns.saturating_sub(self.mtime_ns) >= RACY.as_nanos() as i64
    }
}

/// What `stat(2)` says of a path, as much as stamps need.
#[derive(Debug, Clone, Copy)]
struct Stat {
    size: u64,
    mtime_ns: i64,
    inode: u64,
    is_dir: bool,
}

impl Stat {
    /// Follows symlinks, as reading the file does. Plain `stat` rather than
    /// `fs::metadata`, whose `statx` asks for every field (a no-op run
    /// stats two files per task).
    fn of(path: &Path) -> io::Result<Stat> {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
        // SAFETY: stat fills a zeroed struct from a valid C string.
        let st = unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::stat(path.as_ptr(), &mut st) != 0 {
                return Err(io::Error::last_os_error());
            }
            st
        };
        Ok(Stat {
            size: st.st_size as u64,
            mtime_ns: (st.st_mtime as i64)
                .saturating_mul(1_000_000_000)
                .saturating_add(st.st_mtime_nsec as i64),
            inode: st.st_ino as u64,
            is_dir: st.st_mode & libc::S_IFMT == libc::S_IFDIR,
        })
    }
}

/// Stats taken before a run starts its first task, for its freshness
/// checks to use instead of statting the same files again: true until a
/// task of the run starts. A no-op run stats every input and output; these
/// are taken while maestro would otherwise wait.
#[derive(Debug, Default)]
pub struct EarlyStats(FastMap<OsString, Option<Stat>>);

impl EarlyStats {
    /// Stats `paths` in order, while `keep_going()` says so.
    pub fn take(paths: impl Iterator<Item = PathBuf>, keep_going: impl Fn() -> bool) -> EarlyStats {
        let mut stats = FastMap::default();
        for path in paths {
            if !keep_going() {
                break;
            }
            match Stat::of(&path) {
                Ok(stat) => stats.insert(path.into_os_string(), Some(stat)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    stats.insert(path.into_os_string(), None)
                }
                Err(_) => None,
            };
        }
        EarlyStats(stats)
    }
}

/// Hashes of paths (files, or directories: all the files under them),
/// remembered across runs through the store.
#[derive(Debug, Default)]
pub struct FileHashes {
    /// By path bytes: hashing a `Path` walks its components, its bytes do not.
    known: FastMap<OsString, FileStamp>,
    changed: Vec<PathBuf>,
    /// Where file contents are read to be hashed.
    buffer: Vec<u8>,
    /// Stats taken before the run: see [`EarlyStats`].
    early: FastMap<OsString, Option<Stat>>,
}

impl FileHashes {
    /// Starts from stamps recorded earlier.
    pub fn new(known: FastMap<OsString, FileStamp>) -> FileHashes {
        FileHashes { known, changed: Vec::new(), buffer: Vec::new(), early: FastMap::default() }
    }

    /// Uses stats taken before the run (see [`EarlyStats`]).
    pub fn with_early(mut self, early: EarlyStats) -> FileHashes {
        self.early = early.0;
        self
    }

    /// Drops the early stats (a task may now change files).
    pub fn forget_early(&mut self) {
        if !self.early.is_empty() {
            self.early = FastMap::default();
        }
    }

    /// The content hash of `path`, or `None` if nothing is there. A
    /// directory hashes as the names and contents of every file under it.
    pub fn hash(&mut self, path: &Path) -> io::Result<Option<u128>> {
        let stat = match self.early.get(path.as_os_str()) {
            Some(Some(stat)) => Ok(*stat),
            Some(None) => return Ok(None),
            None => Stat::of(path),
        };
        let meta = match stat {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if meta.is_dir {
            return self.hash_dir(path).map(Some);
        }
        if let Some(stamp) = self.known.get(path.as_os_str())
            && stamp.matches(&meta)
        {
            return Ok(Some(stamp.hash));
        }
        let hash = hash_contents(path, &mut self.buffer)?;
        let stamp = FileStamp {
            size: meta.size,
            mtime_ns: meta.mtime_ns,
            inode: meta.inode,
            hash,
            hashed_at_ns: nanos_since_epoch(SystemTime::now()),
        };
        self.known.insert(path.as_os_str().to_owned(), stamp);
        self.changed.push(path.to_path_buf());
        Ok(Some(hash))
    }

    fn hash_dir(&mut self, dir: &Path) -> io::Result<u128> {
        let mut names: Vec<_> =
            fs::read_dir(dir)?.map(|e| e.map(|e| e.file_name())).collect::<io::Result<_>>()?;
        names.sort();
        let mut hasher = Xxh3::new();
        for name in names {
            let child = dir.join(&name);
            let hash = self.hash(&child)?.unwrap_or(0);
            write_field(&mut hasher, name.as_encoded_bytes());
            hasher.update(&hash.to_le_bytes());
        }
        Ok(hasher.digest128())
    }

    /// Stamps taken since `new`, to be saved.
    pub fn changed(&self) -> impl Iterator<Item = (&Path, &FileStamp)> {
        self.changed.iter().filter_map(|p| self.known.get(p.as_os_str()).map(|s| (p.as_path(), s)))
    }
}

/// Appends one length-prefixed field, so that no two different sequences
/// of fields hash the same bytes.
pub fn write_field(hasher: &mut Xxh3, bytes: &[u8]) {
    hasher.update(&(bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

/// The xxh3-128 of a file's contents, read through `buffer` (kept by the
/// caller: zeroing a fresh one per file cost more than hashing small files).
fn hash_contents(path: &Path, buffer: &mut Vec<u8>) -> io::Result<u128> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Xxh3::new();
    if buffer.is_empty() {
        buffer.resize(256 * 1024, 0);
    }
    loop {
        match file.read(buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hasher.digest128())
}

fn nanos_since_epoch(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos().min(i64::MAX as u128) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("maestro-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn same_content_same_hash_and_missing_is_none() {
        let dir = temp_dir("same");
        fs::write(dir.join("a"), "x").unwrap();
        fs::write(dir.join("b"), "x").unwrap();
        let mut hashes = FileHashes::default();
        let a = hashes.hash(&dir.join("a")).unwrap();
        assert!(a.is_some());
        assert_eq!(a, hashes.hash(&dir.join("b")).unwrap());
        assert_eq!(hashes.hash(&dir.join("none")).unwrap(), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_old_matching_stamp_is_trusted_without_reading() {
        let dir = temp_dir("trust");
        let path = dir.join("a");
        fs::write(&path, "real content").unwrap();
        let meta = Stat::of(&path).unwrap();
        let stamp = FileStamp {
            size: meta.size,
            mtime_ns: meta.mtime_ns,
            inode: meta.inode,
            hash: 42,
            hashed_at_ns: meta.mtime_ns + RACY.as_nanos() as i64,
        };
        let mut hashes =
            FileHashes::new(FastMap::from_iter([(path.clone().into_os_string(), stamp)]));
        assert_eq!(hashes.hash(&path).unwrap(), Some(42), "the stamp answers");
        assert_eq!(hashes.changed().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_racy_or_stale_stamp_is_rehashed() {
        let dir = temp_dir("racy");
        let path = dir.join("a");
        fs::write(&path, "content").unwrap();
        let meta = Stat::of(&path).unwrap();
        let racy = FileStamp {
            size: meta.size,
            mtime_ns: meta.mtime_ns,
            inode: meta.inode,
            hash: 42,
            hashed_at_ns: meta.mtime_ns + 1000,
        };
        let mut hashes =
            FileHashes::new(FastMap::from_iter([(path.clone().into_os_string(), racy)]));
        assert_ne!(hashes.hash(&path).unwrap(), Some(42), "hashed too soon after a write");
        let stale = FileStamp { size: 1, hashed_at_ns: i64::MAX, ..racy };
        let mut hashes =
            FileHashes::new(FastMap::from_iter([(path.clone().into_os_string(), stale)]));
        assert_ne!(hashes.hash(&path).unwrap(), Some(42), "size differs");
        assert_eq!(hashes.changed().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_hashes_its_files_names_and_contents() {
        let dir = temp_dir("dir");
        fs::create_dir_all(dir.join("d/sub")).unwrap();
        fs::write(dir.join("d/sub/x"), "1").unwrap();
        let mut hashes = FileHashes::default();
        let before = hashes.hash(&dir.join("d")).unwrap();
        fs::write(dir.join("d/sub/y"), "").unwrap();
        let added = FileHashes::default().hash(&dir.join("d")).unwrap();
        assert_ne!(before, added);
        fs::remove_dir_all(&dir).unwrap();
    }
}
