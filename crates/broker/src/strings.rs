//! Plain Redis strings (idempotency keys, locks, cursors kept beside streams), stored
//! in the metadata log: key `str/` + db byte + name, value `expire_at_ms: u64 BE`
//! (0: none) + the string. They are few and small, so all live in memory (the
//! metadata log's map). Read-modify-write commands (`INCR`, `SET NX`, `GETDEL`) run
//! under one lock, so they are atomic with respect to each other.

use bytes::{BufMut, Bytes, BytesMut};
use parking_lot::Mutex;

use brook_log::{MetaError, MetaLog};

const PREFIX: &[u8] = b"str/";

/// Largest string value (Redis's `proto-max-bulk-len` is larger; strings here are
/// meant to be small).
pub const STRING_BYTES_MAX: usize = 1024 * 1024;

/// A string and its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringValue {
    pub data: Bytes,
    pub expire_at_ms: Option<u64>,
}

fn key(db: u8, name: &[u8]) -> Bytes {
    let mut k = BytesMut::with_capacity(PREFIX.len() + 1 + name.len());
    k.put_slice(PREFIX);
    k.put_u8(db);
    k.put_slice(name);
    k.freeze()
}

fn decode(v: &Bytes) -> Option<StringValue> {
    let t = u64::from_be_bytes(v.get(..8)?.try_into().ok()?);
    Some(StringValue {
        data: v.slice(8..),
        expire_at_ms: (t != 0).then_some(t),
    })
}

fn encode(v: &StringValue) -> Bytes {
    let mut out = BytesMut::with_capacity(8 + v.data.len());
    out.put_u64(v.expire_at_ms.unwrap_or(0));
    out.put_slice(&v.data);
    out.freeze()
}

/// The string store; the broker owns one.
#[derive(Debug, Default)]
pub struct Strings {
    /// Serialises read-modify-write operations.
    lock: Mutex<()>,
}

impl Strings {
    /// The live (not expired) string at `db`/`name`.
    pub fn get(&self, meta: &MetaLog, db: u8, name: &[u8], now_ms: u64) -> Option<StringValue> {
        let v = decode(&meta.get(&key(db, name))?)?;
        match v.expire_at_ms {
            Some(t) if t <= now_ms => None,
            _ => Some(v),
        }
    }

    /// Names of live strings of a database.
    pub fn names(&self, meta: &MetaLog, db: u8, now_ms: u64) -> Vec<Bytes> {
        let prefix = key(db, b"");
        meta.scan_prefix(&prefix)
            .into_iter()
            .filter(|(_, v)| decode(v).is_some_and(|s| s.expire_at_ms.is_none_or(|t| t > now_ms)))
            .map(|(k, _)| k.slice(prefix.len()..))
            .collect()
    }

    /// The expiry (if any) of every live string, with its database.
    pub fn expiries(&self, meta: &MetaLog, now_ms: u64) -> Vec<(u8, Option<u64>)> {
        meta.scan_prefix(PREFIX)
            .into_iter()
            .filter_map(|(k, v)| {
                let db = *k.get(PREFIX.len())?;
                let expire_at = decode(&v)?.expire_at_ms;
                expire_at
                    .is_none_or(|t| t > now_ms)
                    .then_some((db, expire_at))
            })
            .collect()
    }

    /// Runs a read-modify-write: `f` gets the current live value and returns the new
    /// one (`None`: delete; unchanged: no write) and the result. Returns the result
    /// and the metadata-log offset to wait for, if something was written.
    pub fn update<R>(
        &self,
        meta: &MetaLog,
        db: u8,
        name: &[u8],
        now_ms: u64,
        f: impl FnOnce(Option<StringValue>) -> (Option<StringValue>, R),
    ) -> Result<(R, Option<u64>), MetaError> {
        let _guard = self.lock.lock();
        let current = self.get(meta, db, name, now_ms);
        let existed = meta.get(&key(db, name)).is_some();
        let (new, result) = f(current.clone());
        if new == current && !(new.is_none() && existed) {
            return Ok((result, None));
        }
        let change = (key(db, name), new.as_ref().map(encode));
        let next = meta.apply_nowait(vec![change], now_ms)?;
        Ok((result, Some(next)))
    }

    /// Sets several strings in one metadata-log batch, so all or none are written
    /// (MSET, MSETNX). With `only_if_none_exist`, nothing is written if any of the
    /// names holds a live string. Returns whether it wrote, and the metadata-log
    /// offset to wait for.
    pub fn set_many(
        &self,
        meta: &MetaLog,
        db: u8,
        values: &[(Bytes, StringValue)],
        only_if_none_exist: bool,
        now_ms: u64,
    ) -> Result<(bool, Option<u64>), MetaError> {
        let _guard = self.lock.lock();
        if only_if_none_exist
            && values
                .iter()
                .any(|(name, _)| self.get(meta, db, name, now_ms).is_some())
        {
            return Ok((false, None));
        }
        let changes = values
            .iter()
            .map(|(name, v)| (key(db, name), Some(encode(v))))
            .collect();
        let next = meta.apply_nowait(changes, now_ms)?;
        Ok((true, Some(next)))
    }

    /// Deletes strings whose expiry passed; returns how many.
    pub fn expire(&self, meta: &MetaLog, now_ms: u64) -> Result<u64, MetaError> {
        let _guard = self.lock.lock();
        let dead: Vec<(Bytes, Option<Bytes>)> = meta
            .scan_prefix(PREFIX)
            .into_iter()
            .filter(|(_, v)| {
                decode(v)
                    .and_then(|s| s.expire_at_ms)
                    .is_some_and(|t| t <= now_ms)
            })
            .map(|(k, _)| (k, None))
            .collect();
        let count = dead.len() as u64;
        if !dead.is_empty() {
            meta.apply_chunked_nowait(dead, now_ms)?;
        }
        Ok(count)
    }
}
