//! `WATCH` and `EXEC`: which keys connections watch, and the gate that makes `EXEC`
//! run alone.
//!
//! Only watched keys have a version (as in Redis, where `touchWatchedKey` looks a
//! modified key up among the watched ones): a write to a key nobody watches costs
//! one atomic load, and the table holds no more entries than there are watches.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

/// A watched key: how many watches name it, and how often it changed since the
/// first of them.
#[derive(Debug, Default)]
struct Watched {
    watches: usize,
    version: u64,
}

/// The versions of the keys some connection watches.
#[derive(Debug, Default)]
pub(crate) struct Watches {
    keys: Mutex<HashMap<(u8, Bytes), Watched>>,
    /// `keys.len()`, read without the lock by writers of unwatched keys.
    len: AtomicUsize,
    /// Connections watching at least one key (`INFO clients`).
    pub(crate) clients: AtomicUsize,
}

impl Watches {
    /// Starts a watch of `key`; returns the version to compare at `EXEC`. Each call
    /// must be matched by one [`Watches::unwatch`].
    pub(crate) fn watch(&self, db: u8, key: &Bytes) -> u64 {
        let mut keys = self.keys.lock();
        // A copy, not a view of the read buffer: the watch may outlive the request.
        let w = keys.entry((db, Bytes::copy_from_slice(key))).or_default();
        w.watches += 1;
        let version = w.version;
        // SeqCst with the load in `touch`: a write that reads 0 here happened
        // before this watch began, and the watcher sees its result.
        self.len.store(keys.len(), Ordering::SeqCst);
        version
    }

    /// Ends one watch of `key`; the key is forgotten with its last watch.
    pub(crate) fn unwatch(&self, db: u8, key: &Bytes) {
        let mut keys = self.keys.lock();
        if let Entry::Occupied(mut e) = keys.entry((db, key.clone())) {
            e.get_mut().watches -= 1;
            if e.get().watches == 0 {
                e.remove();
            }
        }
        self.len.store(keys.len(), Ordering::SeqCst);
    }

    /// Marks `key` as modified (after the modification).
    pub(crate) fn touch(&self, db: u8, key: &Bytes) {
        if self.len.load(Ordering::SeqCst) == 0 {
            return;
        }
        if let Some(w) = self.keys.lock().get_mut(&(db, key.clone())) {
            w.version += 1;
        }
    }

    /// The version of a watched key (`None` if no watch names it).
    pub(crate) fn version(&self, db: u8, key: &Bytes) -> Option<u64> {
        self.keys.lock().get(&(db, key.clone())).map(|w| w.version)
    }

    /// How many keys are watched.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }
}

impl brook_broker::KeyListener for Watches {
    fn listening(&self) -> bool {
        self.len() > 0
    }

    fn modified(&self, db: u8, key: &Bytes) {
        self.touch(db, key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_watched_keys_are_kept_and_a_key_is_forgotten_with_its_last_watch() {
        let w = Watches::default();
        let k = Bytes::from_static(b"k");
        w.touch(0, &k);
        assert_eq!(w.len(), 0);
        let v1 = w.watch(0, &k);
        let v2 = w.watch(0, &k);
        assert_eq!(v1, v2);
        w.touch(1, &k); // another database
        w.touch(0, &Bytes::from_static(b"other"));
        assert_eq!(w.version(0, &k), Some(v1));
        w.touch(0, &k);
        assert_eq!(w.version(0, &k), Some(v1 + 1));
        w.unwatch(0, &k);
        assert_eq!(w.len(), 1);
        w.unwatch(0, &k);
        assert_eq!(w.len(), 0);
        assert_eq!(w.version(0, &k), None);
    }
}
