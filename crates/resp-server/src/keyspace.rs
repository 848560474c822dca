//! The Redis keyspace of one database, over the broker's topics: a stream key is a
//! topic of that database.

use std::sync::Arc;

use bytes::Bytes;

use brook_broker::{Partition, Topic, TopicKey};

use crate::conn::Conn;

/// What a key holds.
pub enum Key {
    Stream(Arc<Topic>),
    Missing,
}

impl Conn {
    pub fn topic_key(&self, key: &Bytes) -> TopicKey {
        TopicKey::new(self.db, key.clone())
    }

    pub fn lookup(&self, key: &Bytes) -> Key {
        match self.server.broker.topic(&self.topic_key(key)) {
            Some(t) => Key::Stream(t),
            None => Key::Missing,
        }
    }

    /// The partition a stream key reads and writes (partition 0).
    pub fn stream(&self, key: &Bytes) -> Option<(Arc<Topic>, Arc<Partition>)> {
        let topic = self.server.broker.topic(&self.topic_key(key))?;
        let p = topic.partition(0)?.clone();
        Some((topic, p))
    }

    /// All keys of the current database, sorted.
    pub fn keys(&self) -> Vec<Bytes> {
        self.server
            .broker
            .topics()
            .into_iter()
            .filter(|t| t.key.db == self.db)
            .map(|t| t.key.name.clone())
            .collect()
    }
}
