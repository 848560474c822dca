//! Consumer-group state machines. Pure: every operation takes `now_ms` as an argument
//! and never reads the clock or touches files.
//!
//! - Redis stream groups ([`StreamGroups`]): each mutation returns the [`Change`]s it
//!   made, which the broker persists (see [`persist`]) before acknowledging.
//! - Kafka consumer groups, classic protocol ([`kafka::Coordinator`]): membership and
//!   rebalances; answers to waiting requests come back as completions.

pub mod kafka;
pub mod persist;
mod redis;

pub use redis::{
    ClaimOptions, Consumer, Delivery, Group, GroupError, Pending, PendingSummary, ReadMode,
    StreamGroups,
};

use brook_model::StreamId;
use bytes::Bytes;

/// One persisted fact about a stream's groups. Applying the changes of a mutation, in
/// order, to the persisted state yields the new state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A group's header (created or updated).
    GroupPut {
        group: Bytes,
        last_delivered: StreamId,
        entries_read: Option<u64>,
    },
    GroupDelete {
        group: Bytes,
    },
    ConsumerPut {
        group: Bytes,
        consumer: Bytes,
        seen_ms: u64,
        active_ms: Option<u64>,
    },
    ConsumerDelete {
        group: Bytes,
        consumer: Bytes,
    },
    PendingPut {
        group: Bytes,
        id: StreamId,
        consumer: Bytes,
        delivery_ms: u64,
        delivery_count: u64,
    },
    PendingDelete {
        group: Bytes,
        id: StreamId,
    },
}
