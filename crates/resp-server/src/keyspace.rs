//! The Redis keyspace of one database, over the broker: a stream key is a topic of
//! that database; a string key is a broker string. A key holds one or the other.
//!
//! A topic with several partitions (created by a Kafka client) has one stream per
//! partition: `name#N` is partition N of topic `name` (N in decimal, without leading
//! zeros). Its un-suffixed name is the whole topic: `DEL`, `TYPE`, `EXPIRE` and
//! `RENAME` act on it, `XADD` picks a partition by the entry's `key` field (Kafka's
//! default partitioner), and other stream commands ask for a partition. A
//! single-partition topic is just `name`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use brook_broker::{now_ms, Broker, Partition, StringValue, Topic, TopicKey};

use brook_resp_proto::Frame;

use crate::conn::Conn;

/// A stream: its topic and the partition that holds it.
pub type StreamHandle = (Arc<Topic>, Arc<Partition>);

/// What a key holds.
pub enum Key {
    Stream(Arc<Topic>),
    /// `name#N`: one partition's stream of a topic with several.
    Partition(Arc<Topic>, u32),
    String(StringValue),
    Missing,
}

/// The live stream at `key` of database `db`, if any (an expired one counts as
/// missing).
pub fn live_topic(broker: &Broker, db: u8, key: &Bytes) -> Option<Arc<Topic>> {
    broker
        .topic(&TopicKey::new(db, key.clone()))
        .filter(|t| !t.expired(now_ms()))
}

/// `name#N` where `name` is a live topic with more than N partitions (and more
/// than one), and no live topic is named `name#N` itself (that one would win).
pub fn partition_key(broker: &Broker, db: u8, key: &Bytes) -> Option<(Arc<Topic>, u32)> {
    let (name, index) = brook_broker::split_partition_key(key)?;
    if live_topic(broker, db, key).is_some() {
        return None;
    }
    let topic = live_topic(broker, db, &name)?;
    let count = topic.partitions().len() as u32;
    (count > 1 && index < count).then_some((topic, index))
}

impl Conn {
    pub fn topic_key(&self, key: &Bytes) -> TopicKey {
        TopicKey::new(self.db, key.clone())
    }

    pub fn lookup(&self, key: &Bytes) -> Key {
        let found = self.find(key);
        if self.counting_reads {
            let stats = &self.server.stats;
            match found {
                Key::Missing => stats.keyspace_misses.fetch_add(1, Ordering::Relaxed),
                _ => stats.keyspace_hits.fetch_add(1, Ordering::Relaxed),
            };
        }
        found
    }

    fn find(&self, key: &Bytes) -> Key {
        let broker = &self.server.broker;
        if let Some(t) = live_topic(broker, self.db, key) {
            return Key::Stream(t);
        }
        if let Some((t, index)) = partition_key(broker, self.db, key) {
            return Key::Partition(t, index);
        }
        match self.server.broker.string_get(self.db, key) {
            Some(v) => Key::String(v),
            None => Key::Missing,
        }
    }

    /// The stream a key names: `Ok(None)` when the key holds no stream, `Err` with
    /// Redis's WRONGTYPE for a string, or with an explanation for the un-suffixed
    /// name of a topic with several partitions.
    pub fn stream(&self, key: &Bytes) -> Result<Option<StreamHandle>, Frame> {
        match self.lookup(key) {
            Key::Missing => Ok(None),
            Key::String(_) => Err(crate::cmd::wrongtype()),
            Key::Partition(t, index) => match t.partition(index) {
                Some(p) => {
                    let p = p.clone();
                    Ok(Some((t, p)))
                }
                None => Ok(None),
            },
            Key::Stream(t) => match t.partitions() {
                [p] => {
                    let p = p.clone();
                    Ok(Some((t, p)))
                }
                _ => Err(several_partitions(key, &t)),
            },
        }
    }

    /// All live keys of the current database, sorted.
    pub fn keys(&self) -> Vec<Bytes> {
        let now = now_ms();
        let mut keys: Vec<Bytes> = self
            .server
            .broker
            .topics()
            .into_iter()
            .filter(|t| t.key.db == self.db && !t.expired(now))
            .map(|t| t.key.name.clone())
            .collect();
        keys.extend(self.server.broker.string_names(self.db));
        keys.sort();
        keys.dedup();
        keys
    }
}

/// The error for a stream command on the un-suffixed name of a topic with several
/// partitions.
pub fn several_partitions(key: &[u8], topic: &Topic) -> Frame {
    let name = String::from_utf8_lossy(key);
    let n = topic.partitions().len();
    crate::cmd::err(format!(
        "{name} is a topic with {n} partitions: name one as {name}#0 to {name}#{}",
        n.saturating_sub(1)
    ))
}

impl Conn {
    /// Atomic read-modify-write of a string key (see `Broker::string_update`); the
    /// reply waits for durability as the server's default fsync policy says.
    pub fn update_string<R>(
        &mut self,
        key: &Bytes,
        f: impl FnOnce(Option<StringValue>) -> (Option<StringValue>, R),
    ) -> Result<R, brook_resp_proto::Frame> {
        match self.server.broker.string_update(self.db, key, f) {
            Ok((r, next)) => {
                self.owe_string_write(next);
                Ok(r)
            }
            Err(e) => Err(crate::cmd::err(format!("cannot write the string: {e}"))),
        }
    }

    /// Sets several strings, all or none (MSET, MSETNX: see
    /// `Broker::string_set_many`); returns whether they were written.
    pub fn set_strings(
        &mut self,
        values: &[(Bytes, StringValue)],
        only_if_none_exist: bool,
    ) -> Result<bool, brook_resp_proto::Frame> {
        match self
            .server
            .broker
            .string_set_many(self.db, values, only_if_none_exist)
        {
            Ok((wrote, next)) => {
                self.owe_string_write(next);
                Ok(wrote)
            }
            Err(e) => Err(crate::cmd::err(format!("cannot write the strings: {e}"))),
        }
    }

    /// A string write at metadata-log offset `next` (if one was made): the reply
    /// waits for it as the server's default fsync policy says.
    fn owe_string_write(&mut self, next: Option<u64>) {
        let Some(next) = next else { return };
        let meta = self.server.broker.meta().partition().clone();
        if self.server.broker.config().default_fsync == brook_model::Durability::Always {
            self.owe_durability(&meta, next);
        } else {
            self.note_unsynced(&meta, next);
        }
    }
}
