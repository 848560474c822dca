//! Unit-test helpers: a context over a fresh broker, and requests run through the
//! handler table with typed messages, encoded and decoded at the given version.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::{Decodable, Encodable};

use super::{lookup, Advertised, Ctx, Reply};
use brook_broker::{Broker, BrokerConfig};

/// A context over a broker in a fresh temporary directory.
pub fn ctx() -> (Ctx, tempfile::TempDir) {
    ctx_with(|_| {})
}

/// [`ctx`] with the broker configuration edited by `f`.
pub fn ctx_with(f: impl FnOnce(&mut BrokerConfig)) -> (Ctx, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = BrokerConfig::new(dir.path().join("data"));
    f(&mut config);
    let ctx = Ctx {
        broker: Broker::open(config).unwrap(),
        advertised: Advertised {
            host: "127.0.0.1".into(),
            port: 9092,
        },
        peer: std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
        idempotence: Default::default(),
        stopping: Default::default(),
        auto_create_topics: true,
        topic_ids: Default::default(),
        read_ahead: Default::default(),
    };
    (ctx, dir)
}

/// Runs `request` through the registered handler of `key` at `version`.
pub async fn call<Req: Encodable, Resp: Decodable>(
    ctx: &Ctx,
    key: ApiKey,
    version: i16,
    request: &Req,
) -> Resp {
    let api = lookup(key).expect("registered");
    assert!(
        (api.min_version..=api.max_version).contains(&version),
        "{} v{version} is not served",
        api.name
    );
    let mut body = BytesMut::new();
    request.encode(&mut body, version).unwrap();
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version);
    let mut reply = (api.handler)(ctx, &header, body.freeze()).await.unwrap();
    while let Reply::Later(later) = reply {
        reply = later.await.unwrap();
    }
    match reply {
        Reply::Body(b) => {
            let mut b = b.into_body();
            let response = Resp::decode(&mut b, version).unwrap();
            assert!(b.is_empty(), "{} v{version}: trailing bytes", api.name);
            response
        }
        Reply::None => panic!("no response"),
        Reply::Later(_) => unreachable!("resolved above"),
    }
}

/// The versions `key` is served in.
pub fn versions(key: ApiKey) -> std::ops::RangeInclusive<i16> {
    let api = lookup(key).expect("registered");
    api.min_version..=api.max_version
}

/// Creates the Kafka topic `name` with `partitions` partitions and appends one
/// record per timestamp in `timestamps_ms` to partition 0.
pub async fn topic_with_records(
    ctx: &Ctx,
    name: &str,
    partitions: u32,
    timestamps_ms: &[i64],
) -> std::sync::Arc<brook_broker::Topic> {
    let key = crate::names::topic_key(name).unwrap();
    let settings = brook_broker::TopicSettings {
        partitions,
        ..brook_broker::TopicSettings::default()
    };
    let topic = ctx.broker.create_topic(key, settings).await.unwrap();
    append_records(ctx, &topic, timestamps_ms).await;
    topic
}

/// Appends one record per timestamp in `timestamps_ms` to partition 0 of `topic`,
/// durably, each as a batch of its own.
pub async fn append_records(ctx: &Ctx, topic: &brook_broker::Topic, timestamps_ms: &[i64]) {
    for &ts in timestamps_ms {
        let record = brook_model::Record {
            timestamp_ms: ts,
            value: Some(bytes::Bytes::from(format!("at {ts}"))),
            ..brook_model::Record::default()
        };
        ctx.broker
            .append(
                topic,
                0,
                vec![(brook_model::IdSpec::Auto, record)],
                brook_broker::Ack::Durable,
            )
            .await
            .unwrap();
    }
}

/// A `StrBytes` from a `&str`.
pub fn s(v: &str) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(v.to_string())
}
