//! The file-system seam under the log.
//!
//! The log never touches `std::fs` directly: it goes through [`Storage`], so that tests
//! can run the real log over [`crate::sim::SimStorage`], which keeps what was *written*
//! apart from what was made *durable* and can drop the non-durable part to simulate a
//! crash, or refuse writes to simulate a full disk.
//!
//! Positional I/O only (`read_at`/`write_at`): a file handle is shared by the writer,
//! the fsync workers and any number of readers without a cursor to fight over.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An open file.
#[allow(clippy::len_without_is_empty)]
pub trait StorageFile: Send + Sync + std::fmt::Debug {
    /// Reads up to `buf.len()` bytes at `pos`; returns how many were read (0 at EOF).
    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize>;
    /// Writes all of `buf` at `pos`, extending the file as needed.
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()>;
    fn len(&self) -> io::Result<u64>;
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// `fdatasync`: after it returns, the file's contents (and length) survive a crash.
    fn sync_data(&self) -> io::Result<()>;
    /// Allocates space for `len` bytes at `pos` without changing the file's length
    /// (`fallocate` with `FALLOC_FL_KEEP_SIZE`), so that writing there later cannot
    /// fail for lack of space. `ErrorKind::Unsupported` where the file system cannot.
    fn reserve(&self, _pos: u64, _len: u64) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Reads exactly `buf.len()` bytes at `pos` or fails with `UnexpectedEof`.
    fn read_exact_at(&self, mut buf: &mut [u8], mut pos: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, pos) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut buf[n..];
                    pos += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes `bufs` one after the other at `pos` (one system call where the file
    /// system allows).
    fn write_all_vectored_at(&self, bufs: &[&[u8]], mut pos: u64) -> io::Result<()> {
        for buf in bufs {
            self.write_all_at(buf, pos)?;
            pos += buf.len() as u64;
        }
        Ok(())
    }

    /// Reads exactly `len` bytes at `pos` into a new buffer. The real file system
    /// reads into the buffer's spare capacity, without zeroing it first.
    fn read_vec_at(&self, len: usize, pos: u64) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.read_exact_at(&mut buf, pos)?;
        Ok(buf)
    }

    /// Whether a read at `pos` would be served from memory (the page cache) rather
    /// than wait for the device. A cheap guess: the real file system probes the page
    /// at `pos` without waiting; a wrong answer only costs a read that blocks, as
    /// every read did before. Storages without a cache always answer yes.
    fn probably_cached(&self, _pos: u64) -> bool {
        true
    }
}

/// A file system. Paths are absolute or relative to the process's working directory.
pub trait Storage: Send + Sync + std::fmt::Debug + 'static {
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Opens a file for reading and writing, creating it if `create`.
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Names of the entries directly inside `dir`.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Makes the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    fn exists(&self, path: &Path) -> bool;

    /// Replaces `path` atomically and durably with `contents`: write a temporary file,
    /// fsync it, rename it over `path`, fsync the directory. The rename is the commit
    /// point: after a crash the file holds either the old or the new contents.
    fn write_atomic(&self, path: &Path, contents: &[u8]) -> io::Result<()> {
        let tmp = tmp_path(path);
        let file = self.open(&tmp, true)?;
        file.set_len(0)?;
        file.write_all_at(contents, 0)?;
        file.sync_data()?;
        drop(file);
        self.rename(&tmp, path)?;
        match path.parent() {
            Some(dir) => self.sync_dir(dir),
            None => Ok(()),
        }
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct FsStorage;

#[derive(Debug)]
struct FsFile(File);

impl StorageFile for FsFile {
    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        self.0.read_at(buf, pos)
    }
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        self.0.write_all_at(buf, pos)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn reserve(&self, pos: u64, len: u64) -> io::Result<()> {
        use rustix::io::Errno;
        match rustix::fs::fallocate(&self.0, rustix::fs::FallocateFlags::KEEP_SIZE, pos, len) {
            Ok(()) => Ok(()),
            Err(Errno::OPNOTSUPP | Errno::NOSYS) => Err(io::ErrorKind::Unsupported.into()),
            Err(e) => Err(e.into()),
        }
    }
    fn probably_cached(&self, pos: u64) -> bool {
        // One byte with RWF_NOWAIT: EAGAIN if its page is not in the page cache.
        // Anything else (EOF, no RWF_NOWAIT support) says yes and leaves the real read
        // to report it. Only where the read starts: that is where a sequential reader
        // continues, and a probe elsewhere is a read at an unrelated position, which
        // the kernel's readahead heuristics may take for random access.
        let mut byte = [0u8; 1];
        let mut bufs = [io::IoSliceMut::new(&mut byte)];
        !matches!(
            rustix::io::preadv2(&self.0, &mut bufs, pos, rustix::io::ReadWriteFlags::NOWAIT),
            Err(rustix::io::Errno::AGAIN)
        )
    }
    fn write_all_vectored_at(&self, bufs: &[&[u8]], mut pos: u64) -> io::Result<()> {
        let mut slices: Vec<io::IoSlice<'_>> = bufs
            .iter()
            .filter(|b| !b.is_empty())
            .map(|b| io::IoSlice::new(b))
            .collect();
        let mut slices = &mut slices[..];
        while !slices.is_empty() {
            match rustix::io::pwritev(&self.0, slices, pos) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    pos += n as u64;
                    io::IoSlice::advance_slices(&mut slices, n);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
    fn read_vec_at(&self, len: usize, mut pos: u64) -> io::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(len);
        while buf.len() < len {
            // `spare_capacity` reads into the uninitialised tail and sets the length.
            match rustix::io::pread(&self.0, rustix::buffer::spare_capacity(&mut buf), pos) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => pos += n as u64,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // The capacity may exceed `len`; bytes read past it are not asked for.
        buf.truncate(len);
        Ok(buf)
    }
}

impl Storage for FsStorage {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)?;
        Ok(Arc::new(FsFile(file)))
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir_all(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
}
