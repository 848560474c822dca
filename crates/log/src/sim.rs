//! An in-memory [`Storage`] for crash and fault tests.
//!
//! It keeps two images of everything: what was *written* and what was made *durable*
//! (file contents by `sync_data`, directory entries by `sync_dir`). [`SimStorage::crash`]
//! throws the written image away and keeps the durable one, which is exactly what the
//! log may assume a power cut does (see docs/format.md, "Assumptions about the media").
//! [`SimStorage::set_space_left`] makes writes that would grow the total size past a
//! budget fail with `StorageFull`, as a full disk does.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::storage::{Storage, StorageFile};

#[derive(Debug, Default)]
struct Inode {
    data: Vec<u8>,
    durable: Vec<u8>,
    /// Space allocated up to here by `reserve` (past `data`'s end; 0: none).
    reserved: u64,
}

impl Inode {
    /// Where the space allocated to the file ends.
    fn allocated(&self) -> u64 {
        (self.data.len() as u64).max(self.reserved)
    }
}

#[derive(Debug, Default)]
struct State {
    inodes: HashMap<u64, Arc<Mutex<Inode>>>,
    next_inode: u64,
    /// Visible names (file path -> inode); directories are implicit.
    names: HashMap<PathBuf, u64>,
    /// Names that survive a crash.
    durable_names: HashMap<PathBuf, u64>,
    dirs: std::collections::HashSet<PathBuf>,
    /// Bytes that may still be added to files before writes fail.
    space_left: Option<u64>,
    syncs: u64,
}

impl State {
    /// Takes `bytes` of space for a file, or fails as a full disk does.
    fn take_space(&mut self, bytes: u64) -> io::Result<()> {
        if let Some(left) = self.space_left {
            if bytes > left {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "No space left on device (simulated)",
                ));
            }
            self.space_left = Some(left - bytes);
        }
        Ok(())
    }
}

/// See the module docs.
#[derive(Debug, Clone, Default)]
pub struct SimStorage {
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct SimFile {
    inode: Arc<Mutex<Inode>>,
    state: Arc<Mutex<State>>,
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: not found", path.display()),
    )
}

impl SimStorage {
    pub fn new() -> SimStorage {
        SimStorage::default()
    }

    /// Simulates a power cut: every file reverts to its last synced contents and the
    /// directory tree to its last synced entries. Open handles keep pointing at the
    /// pre-crash inodes; reopen everything afterwards.
    pub fn crash(&self) {
        let mut st = self.state.lock();
        let durable_names = st.durable_names.clone();
        let mut inodes = HashMap::new();
        for &ino in durable_names.values() {
            if let Some(inode) = st.inodes.get(&ino) {
                let durable = inode.lock().durable.clone();
                inodes.insert(
                    ino,
                    Arc::new(Mutex::new(Inode {
                        data: durable.clone(),
                        durable,
                        reserved: 0,
                    })),
                );
            }
        }
        st.inodes = inodes;
        st.names = durable_names;
    }

    /// Limits how many more bytes files may grow by (None: unlimited).
    pub fn set_space_left(&self, bytes: Option<u64>) {
        self.state.lock().space_left = bytes;
    }

    /// How many `sync_data` calls were made so far.
    pub fn sync_count(&self) -> u64 {
        self.state.lock().syncs
    }

    /// The current (written) contents of a file, for tests that corrupt bytes.
    pub fn read_file(&self, path: &Path) -> Option<Vec<u8>> {
        let st = self.state.lock();
        let ino = st.names.get(path)?;
        st.inodes.get(ino).map(|i| i.lock().data.clone())
    }

    /// Overwrites a file's written *and* durable contents (test corruption).
    pub fn replace_file(&self, path: &Path, contents: Vec<u8>) -> bool {
        let st = self.state.lock();
        match st.names.get(path).and_then(|ino| st.inodes.get(ino)) {
            Some(inode) => {
                let mut i = inode.lock();
                i.durable = contents.clone();
                i.data = contents;
                true
            }
            None => false,
        }
    }

    /// Creates or replaces a file with durable `contents` (test set-up).
    pub fn write_file(&self, path: &Path, contents: Vec<u8>) {
        let mut st = self.state.lock();
        let ino = st.next_inode;
        st.next_inode += 1;
        st.inodes.insert(
            ino,
            Arc::new(Mutex::new(Inode {
                data: contents.clone(),
                durable: contents,
                reserved: 0,
            })),
        );
        st.names.insert(path.to_path_buf(), ino);
        st.durable_names.insert(path.to_path_buf(), ino);
        for a in path.ancestors().skip(1) {
            st.dirs.insert(a.to_path_buf());
        }
    }

    /// Names of all files, for tests.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.state.lock().names.keys().cloned().collect();
        v.sort();
        v
    }
}

impl StorageFile for SimFile {
    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        let inode = self.inode.lock();
        let len = inode.data.len() as u64;
        if pos >= len {
            return Ok(0);
        }
        let start = pos as usize;
        let n = buf.len().min(inode.data.len() - start);
        buf[..n].copy_from_slice(&inode.data[start..start + n]);
        Ok(n)
    }

    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        // Lock order everywhere: state, then inode.
        let mut st = self.state.lock();
        let mut inode = self.inode.lock();
        let end = pos as usize + buf.len();
        if end > inode.data.len() {
            // Space reserved before costs nothing more.
            st.take_space((end as u64).saturating_sub(inode.allocated()))?;
            inode.data.resize(end, 0);
        }
        inode.data[pos as usize..end].copy_from_slice(buf);
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.inode.lock().data.len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        let mut inode = self.inode.lock();
        // As a truncate does, this also frees the space reserved past the end.
        let old = inode.allocated();
        if len > old {
            st.take_space(len - old)?;
        } else if let Some(left) = st.space_left {
            st.space_left = Some(left + (old - len));
        }
        inode.data.resize(len as usize, 0);
        inode.reserved = 0;
        Ok(())
    }

    fn reserve(&self, pos: u64, len: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        let mut inode = self.inode.lock();
        let end = pos + len;
        let grow = end.saturating_sub(inode.allocated());
        if grow > 0 {
            st.take_space(grow)?;
            inode.reserved = end;
        }
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut st = self.state.lock();
        let mut inode = self.inode.lock();
        inode.durable = inode.data.clone();
        st.syncs += 1;
        Ok(())
    }
}

impl Storage for SimStorage {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        for a in path.ancestors() {
            st.dirs.insert(a.to_path_buf());
        }
        Ok(())
    }

    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>> {
        let mut st = self.state.lock();
        let ino = match st.names.get(path) {
            Some(&ino) => ino,
            None if create => {
                let ino = st.next_inode;
                st.next_inode += 1;
                st.inodes.insert(ino, Arc::default());
                st.names.insert(path.to_path_buf(), ino);
                ino
            }
            None => return Err(not_found(path)),
        };
        let inode = st
            .inodes
            .get(&ino)
            .cloned()
            .ok_or_else(|| not_found(path))?;
        Ok(Arc::new(SimFile {
            inode,
            state: self.state.clone(),
        }))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.names
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| not_found(path))
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.names.retain(|p, _| !p.starts_with(path));
        st.dirs.retain(|p| !p.starts_with(path));
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        let ino = st.names.remove(from).ok_or_else(|| not_found(from))?;
        st.names.insert(to.to_path_buf(), ino);
        Ok(())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let st = self.state.lock();
        let mut out: Vec<String> = st
            .names
            .keys()
            .chain(st.dirs.iter())
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(String::from))
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        let st = &mut *st;
        st.durable_names.retain(|p, _| p.parent() != Some(dir));
        for (p, &ino) in &st.names {
            if p.parent() == Some(dir) {
                st.durable_names.insert(p.clone(), ino);
            }
        }
        Ok(())
    }

    fn exists(&self, path: &Path) -> bool {
        let st = self.state.lock();
        st.names.contains_key(path) || st.dirs.contains(path)
    }
}
