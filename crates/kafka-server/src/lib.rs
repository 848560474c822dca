//! Brook's Kafka front end: the Kafka wire protocol over the broker.
//!
//! - [`conn`]: one connection — size-prefixed frames (capped at [`FRAME_BYTES_MAX`]),
//!   request header, dispatch, response header. Requests on a connection are handled
//!   one at a time, so responses leave in request order, as Kafka requires.
//! - [`api`]: one file per API and the one table ([`api::APIS`]) that registers each
//!   handler with the versions it serves; `ApiVersions` is built from that table.
//! - [`compression`]: size-capped decompression of produced batches.
//! - [`names`]: which topic names Kafka allows.
//! - [`idempotence`]: producer IDs and per-partition sequence checks.
//! - [`configs`]: Kafka config names ↔ Brook topic settings and broker configs.
//! - [`gather`]: Fetch responses whose record batches are written without being
//!   copied (spliced in after the encoder ran).
//! - [`read_ahead`]: a connection's read of the next chunk of a partition its
//!   consumer is catching up on, while the last response is sent and parsed.
//!
//! Every message type comes from the `kafka-protocol` crate (generated from Kafka's
//! own schemas); nothing here hand-encodes a Kafka message. Record batches are
//! stored and served as the producer's bytes (see docs/mapping.md).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use brook_broker::Broker;

pub mod api;
pub mod compression;
pub mod configs;
pub mod conn;
pub mod error;
pub mod gather;
pub mod idempotence;
pub mod names;
pub mod read_ahead;

/// Largest request frame accepted (the 4-byte size prefix's value). A larger or
/// negative size closes the connection, as Kafka's `socket.request.max.bytes` does.
pub const FRAME_BYTES_MAX: usize = 100 * 1024 * 1024;

/// The node ID Brook gives itself in Metadata (a cluster of one).
pub const NODE_ID: i32 = 0;

/// The cluster ID reported in Metadata.
pub const CLUSTER_ID: &str = "brook";

/// The Kafka front end: shared by every Kafka connection.
#[derive(Debug)]
pub struct KafkaServer {
    broker: Arc<Broker>,
    advertise: Option<api::Advertised>,
    idempotence: Arc<idempotence::Idempotence>,
    /// Latency of each API's requests, in the order of [`api::APIS`].
    request_seconds: Vec<brook_model::metrics::Histogram>,
    stopping: Arc<api::Stopping>,
    auto_create_topics: bool,
    /// What all connections' Fetch read-aheads hold.
    read_ahead_budget: Arc<read_ahead::Budget>,
}

impl KafkaServer {
    /// A Kafka server over `broker`. Metadata advertises `advertise` as the broker's
    /// address, or, if `None`, the local address each client connected to; it
    /// creates the topics clients ask for if `auto_create_topics`.
    pub fn new(
        broker: Arc<Broker>,
        advertise: Option<api::Advertised>,
        auto_create_topics: bool,
    ) -> Arc<KafkaServer> {
        Arc::new(KafkaServer {
            broker,
            advertise,
            idempotence: Arc::default(),
            request_seconds: api::APIS
                .iter()
                .map(|_| brook_model::metrics::Histogram::latency())
                .collect(),
            stopping: Arc::default(),
            auto_create_topics,
            read_ahead_budget: Arc::default(),
        })
    }

    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Serves one connection until the peer closes it, it breaks the protocol, or
    /// `shutdown` completes (the request in progress is finished first).
    pub async fn serve<F>(
        self: Arc<Self>,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        shutdown: F,
    ) where
        F: Future<Output = ()> + Send,
    {
        conn::serve(self, stream, peer, shutdown).await;
    }
}

impl KafkaServer {
    /// Tells long polls (Fetch waiting for data) to answer now: the server stops.
    pub fn begin_shutdown(&self) {
        self.stopping.stop();
    }

    /// Records one request's latency (`key`: its API key).
    pub(crate) fn observe_request(&self, key: i16, took: std::time::Duration) {
        if let Some(i) = api::APIS.iter().position(|a| a.key as i16 == key) {
            if let Some(h) = self.request_seconds.get(i) {
                h.observe_duration(took);
            }
        }
    }
}

impl brook_model::metrics::MetricsSource for KafkaServer {
    fn render_metrics(&self, out: &mut String) {
        let name = "brook_kafka_request_duration_seconds";
        brook_model::metrics::family(
            out,
            name,
            "histogram",
            "Time from a Kafka request's arrival to its response, by API (Fetch includes its long poll).",
        );
        for (a, h) in api::APIS.iter().zip(&self.request_seconds) {
            let s = h.snapshot();
            if s.count() > 0 {
                s.render(out, name, &format!("api=\"{}\"", a.name));
            }
        }
    }
}
