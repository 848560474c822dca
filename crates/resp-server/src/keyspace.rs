//! The Redis keyspace of one database, over the broker: a stream key is a topic of
//! that database; a string key is a broker string. A key holds one or the other.

use std::sync::Arc;

use bytes::Bytes;

use brook_broker::{now_ms, Partition, StringValue, Topic, TopicKey};

use crate::conn::Conn;

/// What a key holds.
pub enum Key {
    Stream(Arc<Topic>),
    String(StringValue),
    Missing,
}

impl Conn {
    pub fn topic_key(&self, key: &Bytes) -> TopicKey {
        TopicKey::new(self.db, key.clone())
    }

    /// The live stream at `key`, if any (an expired one counts as missing).
    fn live_topic(&self, key: &Bytes) -> Option<Arc<Topic>> {
        self.server
            .broker
            .topic(&self.topic_key(key))
            .filter(|t| !t.expired(now_ms()))
    }

    pub fn lookup(&self, key: &Bytes) -> Key {
        if let Some(t) = self.live_topic(key) {
            return Key::Stream(t);
        }
        match self.server.broker.string_get(self.db, key) {
            Some(v) => Key::String(v),
            None => Key::Missing,
        }
    }

    /// The partition a stream key reads and writes (partition 0).
    pub fn stream(&self, key: &Bytes) -> Option<(Arc<Topic>, Arc<Partition>)> {
        let topic = self.live_topic(key)?;
        let p = topic.partition(0)?.clone();
        Some((topic, p))
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

impl Conn {
    /// Atomic read-modify-write of a string key (see `Broker::string_update`); the
    /// reply waits for durability as the server's default fsync policy says.
    pub fn update_string<R>(
        &mut self,
        key: &Bytes,
        f: impl FnOnce(Option<StringValue>) -> (Option<StringValue>, R),
    ) -> Result<R, brook_resp_proto::Frame> {
        match self.server.broker.string_update(self.db, key, f) {
            Ok((r, None)) => Ok(r),
            Ok((r, Some(next))) => {
                let meta = self.server.broker.meta().partition().clone();
                if self.server.broker.config().default_fsync == brook_model::Durability::Always {
                    self.owe_durability(&meta, next);
                } else {
                    self.note_unsynced(&meta, next);
                }
                Ok(r)
            }
            Err(e) => Err(crate::cmd::err(format!("cannot write the string: {e}"))),
        }
    }
}
