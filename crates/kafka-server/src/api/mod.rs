//! The Kafka APIs Brook serves: one file per API, registered in [`APIS`] with the
//! versions it handles. `ApiVersions` advertises exactly this table.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use brook_broker::Broker;
use bytes::{BufMut as _, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::error::ConnError;
use crate::gather::{Sink, Splices};

pub mod alter_configs;
pub mod api_versions;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod sync_group;
#[cfg(test)]
pub(crate) mod testing;
pub mod topics;

/// The host and port Metadata gives clients for the one broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertised {
    pub host: String,
    pub port: u16,
}

/// What a handler needs: the broker, the address to advertise in Metadata, and the
/// client's address.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub broker: Arc<Broker>,
    pub advertised: Advertised,
    pub peer: SocketAddr,
    pub idempotence: Arc<crate::idempotence::Idempotence>,
    /// Set when the server stops: long polls answer at once.
    pub stopping: Arc<Stopping>,
    /// Whether Metadata may create the topics a client asks for (Kafka's
    /// `auto.create.topics.enable`).
    pub auto_create_topics: bool,
    /// This connection's topic-ID lookups.
    pub topic_ids: Arc<topics::TopicIds>,
    /// This connection's Fetch read-ahead.
    pub read_ahead: Arc<crate::read_ahead::ReadAhead>,
}

/// The server's stop signal, which waiting requests watch.
#[derive(Debug)]
pub struct Stopping(tokio::sync::watch::Sender<bool>);

impl Default for Stopping {
    fn default() -> Self {
        Stopping(tokio::sync::watch::channel(false).0)
    }
}

impl Stopping {
    pub fn stop(&self) {
        self.0.send_replace(true);
    }

    /// Whether the server is stopping.
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once the server is stopping.
    pub async fn stopped(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// A handler's answer: an encoded response body, nothing (Produce acks=0), or a
/// future giving one of those (a Produce waiting for durability: the connection
/// handles the next Produce meanwhile, see [`crate::conn`]).
pub enum Reply {
    Body(Framed),
    None,
    Later(Pin<Box<dyn Future<Output = Result<Reply, ConnError>> + Send>>),
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Body(framed) => f.debug_tuple("Body").field(framed).finish(),
            Reply::None => f.write_str("None"),
            Reply::Later(_) => f.write_str("Later(..)"),
        }
    }
}

/// Bytes left free before an encoded body for the frame's size (4) and the
/// response header (correlation ID, 4, and in flexible versions an empty tag
/// buffer, 1), so the frame is finished in place instead of copied.
pub const HEADROOM: usize = 9;

/// An encoded response body with [`HEADROOM`] free bytes in front of it: the first
/// encoded piece, then (for responses encoded with [`encode_spliced`]) further pieces
/// and record batches sent without being copied.
#[derive(Debug)]
pub struct Framed {
    buf: BytesMut,
    rest: Vec<Bytes>,
}

/// A whole response frame (size prefix, header, body) as the pieces to write in order.
#[derive(Debug)]
pub struct Frame {
    pub parts: Vec<Bytes>,
}

impl Frame {
    pub fn len(&self) -> usize {
        self.parts.iter().map(Bytes::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(Bytes::is_empty)
    }

    /// The frame as one buffer (copied if it is in several pieces).
    pub fn concat(self) -> Bytes {
        concat(self.parts)
    }
}

fn concat(mut parts: Vec<Bytes>) -> Bytes {
    if parts.len() == 1 {
        return parts.pop().unwrap_or_default();
    }
    let mut out = BytesMut::with_capacity(parts.iter().map(Bytes::len).sum());
    for p in &parts {
        out.extend_from_slice(p);
    }
    out.freeze()
}

impl Framed {
    pub fn body_len(&self) -> usize {
        self.buf.len().saturating_sub(HEADROOM) + self.rest.iter().map(Bytes::len).sum::<usize>()
    }

    pub fn into_body(self) -> Bytes {
        let mut parts = Vec::with_capacity(1 + self.rest.len());
        parts.push(self.buf.freeze().slice(HEADROOM..));
        parts.extend(self.rest);
        concat(parts)
    }

    /// The whole frame: `prefix` (size and header, at most [`HEADROOM`] bytes)
    /// written just before the body; `None` if it does not fit.
    pub fn finish(mut self, prefix: &[u8]) -> Option<Frame> {
        let start = HEADROOM.checked_sub(prefix.len())?;
        self.buf.get_mut(start..HEADROOM)?.copy_from_slice(prefix);
        let mut parts = Vec::with_capacity(1 + self.rest.len());
        parts.push(self.buf.freeze().slice(start..));
        parts.extend(self.rest);
        Some(Frame { parts })
    }
}

pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<Reply, ConnError>> + Send + 'a>>;

/// Runs one request: the header is decoded, `body` is the rest of the frame.
pub type Handler = for<'a> fn(&'a Ctx, &'a RequestHeader, Bytes) -> HandlerFuture<'a>;

/// One served API.
#[derive(Debug, Clone, Copy)]
pub struct Api {
    pub key: ApiKey,
    pub name: &'static str,
    pub min_version: i16,
    pub max_version: i16,
    pub handler: Handler,
}

/// Every API Brook serves, with the versions it serves. The only place versions are
/// declared.
pub const APIS: &[Api] = &[
    api_versions::API,
    metadata::API,
    produce::API,
    list_offsets::API,
    fetch::API,
    find_coordinator::API,
    join_group::API,
    sync_group::API,
    heartbeat::API,
    leave_group::API,
    offset_commit::API,
    offset_fetch::API,
    describe_groups::API,
    list_groups::API,
    delete_groups::API,
    offset_delete::API,
    init_producer_id::API,
    // Admin APIs.
    create_topics::API,
    delete_topics::API,
    create_partitions::API,
    delete_records::API,
    describe_configs::API,
    alter_configs::API,
    incremental_alter_configs::API,
    describe_cluster::API,
    describe_log_dirs::API,
    offset_for_leader_epoch::API,
];

pub fn lookup(key: ApiKey) -> Option<&'static Api> {
    APIS.iter().find(|api| api.key == key)
}

/// Decodes a request body of type `T` at `version`.
pub fn decode<T: Decodable>(
    mut body: Bytes,
    what: &'static str,
    version: i16,
) -> Result<T, ConnError> {
    T::decode(&mut body, version).map_err(|e| ConnError::Decode {
        what,
        version,
        message: format!("{e:#}"),
    })
}

/// Encodes a response body at `version`.
pub fn encode<T: Encodable>(
    message: &T,
    what: &'static str,
    version: i16,
) -> Result<Reply, ConnError> {
    let encode_error = |e: anyhow::Error| ConnError::Encode {
        what,
        version,
        message: format!("{e:#}"),
    };
    let size = message.compute_size(version).map_err(encode_error)?;
    let mut buf = BytesMut::with_capacity(HEADROOM + size);
    buf.put_bytes(0, HEADROOM);
    message.encode(&mut buf, version).map_err(encode_error)?;
    Ok(Reply::Body(Framed {
        buf,
        rest: Vec::new(),
    }))
}

/// [`encode`] for a message whose records fields came from `splices`
/// ([`crate::gather`]): the batches behind them are not copied into the body.
pub fn encode_spliced<T: Encodable>(
    message: &T,
    what: &'static str,
    version: i16,
    splices: Splices,
) -> Result<Reply, ConnError> {
    if splices.is_empty() {
        return encode(message, what, version);
    }
    let encode_error = |message: String| ConnError::Encode {
        what,
        version,
        message,
    };
    let size = message
        .compute_size(version)
        .map_err(|e| encode_error(format!("{e:#}")))?;
    let mut buf = BytesMut::with_capacity(HEADROOM + size.saturating_sub(splices.spliced_bytes()));
    buf.put_bytes(0, HEADROOM);
    let mut sink = Sink::new(buf, splices);
    message
        .encode(&mut sink, version)
        .map_err(|e| encode_error(format!("{e:#}")))?;
    let (buf, rest) = sink.finish().map_err(|e| encode_error(e.to_string()))?;
    Ok(Reply::Body(Framed { buf, rest }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{
        AlterConfigsRequest, CreatePartitionsRequest, CreateTopicsRequest, DeleteRecordsRequest,
        DeleteTopicsRequest, DescribeClusterRequest, DescribeConfigsRequest,
        DescribeLogDirsRequest, IncrementalAlterConfigsRequest, OffsetForLeaderEpochRequest,
    };
    use kafka_protocol::messages::{
        ApiVersionsRequest, DeleteGroupsRequest, DescribeGroupsRequest, FetchRequest,
        FindCoordinatorRequest, HeartbeatRequest, InitProducerIdRequest, JoinGroupRequest,
        LeaveGroupRequest, ListGroupsRequest, ListOffsetsRequest, MetadataRequest,
        OffsetCommitRequest, OffsetDeleteRequest, OffsetFetchRequest, ProduceRequest,
        SyncGroupRequest,
    };
    use kafka_protocol::protocol::Message;

    fn schema_versions(key: ApiKey) -> (i16, i16) {
        let r = match key {
            ApiKey::ApiVersions => ApiVersionsRequest::VERSIONS,
            ApiKey::Metadata => MetadataRequest::VERSIONS,
            ApiKey::Produce => ProduceRequest::VERSIONS,
            ApiKey::ListOffsets => ListOffsetsRequest::VERSIONS,
            ApiKey::Fetch => FetchRequest::VERSIONS,
            ApiKey::FindCoordinator => FindCoordinatorRequest::VERSIONS,
            ApiKey::JoinGroup => JoinGroupRequest::VERSIONS,
            ApiKey::SyncGroup => SyncGroupRequest::VERSIONS,
            ApiKey::Heartbeat => HeartbeatRequest::VERSIONS,
            ApiKey::LeaveGroup => LeaveGroupRequest::VERSIONS,
            ApiKey::OffsetCommit => OffsetCommitRequest::VERSIONS,
            ApiKey::OffsetFetch => OffsetFetchRequest::VERSIONS,
            ApiKey::DescribeGroups => DescribeGroupsRequest::VERSIONS,
            ApiKey::ListGroups => ListGroupsRequest::VERSIONS,
            ApiKey::DeleteGroups => DeleteGroupsRequest::VERSIONS,
            ApiKey::OffsetDelete => OffsetDeleteRequest::VERSIONS,
            ApiKey::InitProducerId => InitProducerIdRequest::VERSIONS,
            ApiKey::CreateTopics => CreateTopicsRequest::VERSIONS,
            ApiKey::DeleteTopics => DeleteTopicsRequest::VERSIONS,
            ApiKey::CreatePartitions => CreatePartitionsRequest::VERSIONS,
            ApiKey::DeleteRecords => DeleteRecordsRequest::VERSIONS,
            ApiKey::DescribeConfigs => DescribeConfigsRequest::VERSIONS,
            ApiKey::AlterConfigs => AlterConfigsRequest::VERSIONS,
            ApiKey::IncrementalAlterConfigs => IncrementalAlterConfigsRequest::VERSIONS,
            ApiKey::DescribeCluster => DescribeClusterRequest::VERSIONS,
            ApiKey::DescribeLogDirs => DescribeLogDirsRequest::VERSIONS,
            ApiKey::OffsetForLeaderEpoch => OffsetForLeaderEpochRequest::VERSIONS,
            other => panic!("add {other:?} to this test"),
        };
        (r.min, r.max)
    }

    #[test]
    fn every_registered_version_is_one_the_schema_defines_and_keys_are_unique() {
        for (i, api) in APIS.iter().enumerate() {
            let (min, max) = schema_versions(api.key);
            assert!(
                min <= api.min_version
                    && api.min_version <= api.max_version
                    && api.max_version <= max,
                "{}",
                api.name
            );
            assert!(
                APIS[..i].iter().all(|other| other.key != api.key),
                "{} twice",
                api.name
            );
        }
    }
}
