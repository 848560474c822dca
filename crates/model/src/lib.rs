//! Brook's data model, shared by the log, the broker and both protocol front ends.
//!
//! Nothing in this crate does I/O. It defines what a record *is* (offset, stream ID,
//! timestamp, key, value, headers), the stream-ID rules Redis applies on `XADD`, the
//! durability policy names, and the limits every other crate enforces.

mod durability;
mod limits;
mod log_limit;
pub mod metrics;
pub mod partitioner;
mod record;
mod stream_id;

pub use durability::{Durability, ParseDurabilityError};
pub use limits::*;
pub use log_limit::LogLimit;
pub use record::{Header, Record, StoredRecord};
pub use stream_id::{IdSpec, ParseStreamIdError, StreamId, StreamIdError};

/// A dense, per-partition record position (Kafka's offset). The first record ever
/// appended to a partition has offset 0.
pub type Offset = u64;
