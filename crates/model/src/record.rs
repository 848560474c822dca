use bytes::Bytes;

use crate::{Offset, StreamId};

/// One record header: a name and an optional value, as in Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: Bytes,
    pub value: Option<Bytes>,
}

/// A record as handed to the log for appending. The log assigns its offset and stream
/// ID.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
}

/// A record as read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub offset: Offset,
    pub stream_id: StreamId,
    /// How the writer encoded key, value and headers (a tag chosen by the broker,
    /// stored per append; 0 = as a Kafka producer sent them).
    pub format: u8,
    pub timestamp_ms: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
}

impl Record {
    /// Approximate in-memory and on-disk size, used for byte limits.
    pub fn size_hint(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.as_ref().map_or(0, |v| v.len()) + 4)
            .sum();
        24 + self.key.as_ref().map_or(0, |k| k.len())
            + self.value.as_ref().map_or(0, |v| v.len())
            + headers
    }
}
