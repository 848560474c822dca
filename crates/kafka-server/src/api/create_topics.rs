//! CreateTopics: creates each topic with its partition count and configs
//! ([`crate::configs`]), or only checks them (`validate_only`). Brook is one node, so
//! the replication factor is 1 (or -1, the default) and a manual assignment may only
//! name node 0. v5+ responses carry the partition count, replication factor and the
//! topic's configs; v7 its topic ID.

use brook_broker::TopicSettings;
use brook_model::PARTITIONS_MAX;
use bytes::Bytes;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, RequestHeader, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::topics::{counts, topic_error, topic_id, Refusal};
use super::{decode, encode, Api, Ctx, HandlerFuture};
use crate::{configs, names, NODE_ID};

pub const API: Api = Api {
    key: ApiKey::CreateTopics,
    name: "CreateTopics",
    min_version: 2,
    max_version: 7,
    handler,
};

/// A topic created (or that would be, under `validate_only`).
struct Created {
    topic_id: Uuid,
    settings: TopicSettings,
}

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: CreateTopicsRequest = decode(body, "CreateTopicsRequest", version)?;
        let repeated = counts(request.topics.iter().map(|t| t.name.0.clone()));
        let mut results = Vec::with_capacity(request.topics.len());
        for topic in &request.topics {
            let result = if repeated.get(&topic.name.0).copied().unwrap_or(0) > 1 {
                Err((
                    ResponseError::InvalidRequest,
                    format!(
                        "Create topics request contains multiple entries for the topic {}; name each topic once",
                        &*topic.name.0
                    ),
                ))
            } else {
                create(ctx, topic, request.validate_only).await
            };
            results.push(result_for(ctx, topic.name.clone(), result));
        }
        encode(
            &CreateTopicsResponse::default().with_topics(results),
            "CreateTopicsResponse",
            version,
        )
    })
}

async fn create(ctx: &Ctx, t: &CreatableTopic, validate_only: bool) -> Result<Created, Refusal> {
    let name = &*t.name.0;
    let key = names::topic_key(name).ok_or_else(|| {
        (
            ResponseError::InvalidTopicException,
            names::refusal_reason(name),
        )
    })?;
    let exists = ctx
        .broker
        .topic(&key)
        .is_some_and(|t| !t.expired(brook_broker::now_ms()));
    if exists {
        return Err((
            ResponseError::TopicAlreadyExists,
            format!("Topic '{name}' already exists."),
        ));
    }
    if ctx.broker.string_get(key.db, &key.name).is_some() {
        return Err((
            ResponseError::TopicAlreadyExists,
            format!("Topic '{name}' cannot be created: its Redis key holds a string; delete the key first"),
        ));
    }
    let nulls: Vec<&str> = t
        .configs
        .iter()
        .filter(|c| c.value.is_none())
        .map(|c| &*c.name)
        .collect();
    if !nulls.is_empty() {
        return Err((
            ResponseError::InvalidConfig,
            format!(
                "Null value not supported for topic configs: {}",
                nulls.join(",")
            ),
        ));
    }
    let mut settings = TopicSettings {
        partitions: partition_count(t)?,
        ..TopicSettings::default()
    };
    let repeated = counts(t.configs.iter().map(|c| &*c.name));
    for c in &t.configs {
        if repeated.get(&*c.name).copied().unwrap_or(0) > 1 {
            return Err((
                ResponseError::InvalidRequest,
                format!("Config {} is given more than once", &*c.name),
            ));
        }
        configs::set(&mut settings, &c.name, c.value.as_deref())
            .map_err(|e| (e.code, e.message))?;
    }
    settings
        .validate()
        .map_err(|e| (ResponseError::InvalidConfig, e.to_string()))?;
    if validate_only {
        return Ok(Created {
            topic_id: Uuid::nil(),
            settings,
        });
    }
    let topic = ctx
        .broker
        .create_topic(key, settings)
        .await
        .map_err(|e| topic_error(name, e))?;
    tracing::info!(
        topic = name,
        partitions = topic.partitions().len(),
        "topic created by CreateTopics"
    );
    Ok(Created {
        topic_id: topic_id(&topic),
        settings: topic.settings(),
    })
}

/// The partition count from `num_partitions` (-1: 1) or the manual assignment, after
/// checking the replication factor / assignment against a one-node cluster.
fn partition_count(t: &CreatableTopic) -> Result<u32, Refusal> {
    if !t.assignments.is_empty() {
        if t.num_partitions != -1 || t.replication_factor != -1 {
            return Err((
                ResponseError::InvalidRequest,
                "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.".into(),
            ));
        }
        let mut indexes: Vec<i32> = t.assignments.iter().map(|a| a.partition_index).collect();
        indexes.sort_unstable();
        if indexes
            .iter()
            .enumerate()
            .any(|(i, &p)| i64::from(p) != i as i64)
        {
            return Err((
                ResponseError::InvalidReplicaAssignment,
                format!("Partitions of an assignment must be numbered 0 to n-1, each once; got {indexes:?}"),
            ));
        }
        for a in &t.assignments {
            let brokers: Vec<i32> = a.broker_ids.iter().map(|b| b.0).collect();
            if brokers != [NODE_ID] {
                return Err((
                    ResponseError::InvalidReplicaAssignment,
                    format!(
                        "Brook is one broker (node {NODE_ID}): partition {} must be assigned [{NODE_ID}], not {brokers:?}",
                        a.partition_index
                    ),
                ));
            }
        }
        return check_count(t.assignments.len() as i64);
    }
    match t.replication_factor {
        -1 | 1 => {}
        r if r > 1 => {
            return Err((
                ResponseError::InvalidReplicationFactor,
                format!("Replication factor: {r} larger than available brokers: 1. Brook is a single node and keeps one copy of each partition; use 1 or -1 (the default)"),
            ))
        }
        _ => {
            return Err((
                ResponseError::InvalidReplicationFactor,
                "Replication factor must be larger than 0, or -1 to use the default value.".into(),
            ))
        }
    }
    match t.num_partitions {
        -1 => Ok(1),
        n => check_count(i64::from(n)),
    }
}

fn check_count(n: i64) -> Result<u32, Refusal> {
    if n < 1 {
        return Err((
            ResponseError::InvalidPartitions,
            "Number of partitions must be larger than 0, or -1 to use the default value.".into(),
        ));
    }
    u32::try_from(n)
        .ok()
        .filter(|&n| n <= PARTITIONS_MAX)
        .ok_or_else(|| {
            (
                ResponseError::InvalidPartitions,
                format!("Number of partitions {n} is more than Brook's limit of {PARTITIONS_MAX}"),
            )
        })
}

fn result_for(
    ctx: &Ctx,
    name: TopicName,
    result: Result<Created, Refusal>,
) -> CreatableTopicResult {
    let response = CreatableTopicResult::default().with_name(name);
    match result {
        Ok(created) => {
            let configs = configs::topic_entries(&created.settings, ctx.broker.config())
                .into_iter()
                .map(|e| {
                    CreatableTopicConfigs::default()
                        .with_name(StrBytes::from_static_str(e.name))
                        .with_value(Some(StrBytes::from_string(e.value)))
                        .with_read_only(e.read_only)
                        .with_config_source(e.source)
                        .with_is_sensitive(false)
                })
                .collect();
            response
                .with_topic_id(created.topic_id)
                .with_error_message(None)
                .with_num_partitions(i32::try_from(created.settings.partitions).unwrap_or(-1))
                .with_replication_factor(1)
                .with_configs(Some(configs))
        }
        Err((code, message)) => response
            .with_error_code(code.code())
            .with_error_message(Some(StrBytes::from_string(message)))
            .with_num_partitions(-1)
            .with_replication_factor(-1)
            .with_configs(None),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::testing::{call, ctx, versions};
    use kafka_protocol::messages::create_topics_request::{
        CreatableReplicaAssignment, CreatableTopicConfig,
    };
    use kafka_protocol::messages::BrokerId;

    fn topic(
        name: &str,
        partitions: i32,
        rf: i16,
        configs: &[(&str, Option<&str>)],
    ) -> CreatableTopic {
        CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.into())))
            .with_num_partitions(partitions)
            .with_replication_factor(rf)
            .with_configs(
                configs
                    .iter()
                    .map(|(n, v)| {
                        CreatableTopicConfig::default()
                            .with_name(StrBytes::from_string(n.to_string()))
                            .with_value(v.map(|v| StrBytes::from_string(v.into())))
                    })
                    .collect(),
            )
    }

    async fn create(
        ctx: &Ctx,
        version: i16,
        topics: Vec<CreatableTopic>,
        validate_only: bool,
    ) -> CreateTopicsResponse {
        let request = CreateTopicsRequest::default()
            .with_topics(topics)
            .with_timeout_ms(5000)
            .with_validate_only(validate_only);
        call(ctx, ApiKey::CreateTopics, version, &request).await
    }

    #[tokio::test]
    async fn creates_topics_with_partitions_and_configs_in_every_version() {
        let (ctx, _dir) = ctx();
        for version in versions(ApiKey::CreateTopics) {
            let name = format!("t{version}");
            let configs = [
                ("retention.ms", Some("60000")),
                ("brook.fsync", Some("never")),
            ];
            let response = create(&ctx, version, vec![topic(&name, 3, -1, &configs)], false).await;
            let r = &response.topics[0];
            assert_eq!((&*r.name.0, r.error_code), (name.as_str(), 0), "v{version}");
            let t = ctx
                .broker
                .topic(&crate::names::topic_key(&name).unwrap())
                .unwrap();
            assert_eq!(t.partitions().len(), 3);
            assert_eq!(t.settings().retention_ms, Some(60_000));
            assert_eq!(t.settings().fsync, Some(brook_model::Durability::Never));
            if version >= 5 {
                assert_eq!((r.num_partitions, r.replication_factor), (3, 1));
                let configs = r.configs.as_ref().unwrap();
                let get = |n: &str| configs.iter().find(|c| &*c.name == n).unwrap();
                assert_eq!(get("retention.ms").value.as_deref(), Some("60000"));
                assert_eq!(get("retention.ms").config_source, configs::SOURCE_TOPIC);
                assert_eq!(get("segment.bytes").config_source, configs::SOURCE_DEFAULT);
                assert_eq!(get("cleanup.policy").value.as_deref(), Some("delete"));
            }
            if version >= 7 {
                assert_eq!(r.topic_id, topic_id(&t));
                assert!(!r.topic_id.is_nil());
            }
        }
        // -1 partitions and replication factor 1: one partition.
        let response = create(&ctx, 7, vec![topic("d", -1, 1, &[])], false).await;
        assert_eq!(response.topics[0].error_code, 0);
        assert_eq!(response.topics[0].num_partitions, 1);
    }

    #[tokio::test]
    async fn validate_only_checks_without_creating() {
        let (ctx, _dir) = ctx();
        let response = create(
            &ctx,
            7,
            vec![topic("v", 4, 1, &[("segment.bytes", Some("4096"))])],
            true,
        )
        .await;
        let r = &response.topics[0];
        assert_eq!((r.error_code, r.num_partitions), (0, 4));
        assert!(r.topic_id.is_nil());
        assert!(ctx.broker.topics().is_empty());
        let response = create(&ctx, 7, vec![topic("v", 4, 3, &[])], true).await;
        assert_eq!(
            response.topics[0].error_code,
            ResponseError::InvalidReplicationFactor.code()
        );
    }

    #[tokio::test]
    async fn refusals_carry_the_kafka_error_and_a_reason() {
        let (ctx, _dir) = ctx();
        create(&ctx, 7, vec![topic("taken", 1, 1, &[])], false).await;
        let one = |n: i32| {
            CreatableReplicaAssignment::default()
                .with_partition_index(n)
                .with_broker_ids(vec![BrokerId(0)])
        };
        let cases: Vec<(CreatableTopic, ResponseError, &str)> = vec![
            (
                topic("taken", 1, 1, &[]),
                ResponseError::TopicAlreadyExists,
                "already exists",
            ),
            (
                topic("a b", 1, 1, &[]),
                ResponseError::InvalidTopicException,
                "illegal",
            ),
            (
                topic("_abc", 1, 1, &[]),
                ResponseError::InvalidTopicException,
                "escaped form",
            ),
            (
                topic("r3", 1, 3, &[]),
                ResponseError::InvalidReplicationFactor,
                "larger than available brokers: 1",
            ),
            (
                topic("r0", 1, 0, &[]),
                ResponseError::InvalidReplicationFactor,
                "larger than 0",
            ),
            (
                topic("p0", 0, 1, &[]),
                ResponseError::InvalidPartitions,
                "larger than 0",
            ),
            (
                topic("pmax", 10_001, 1, &[]),
                ResponseError::InvalidPartitions,
                "limit of 10000",
            ),
            (
                topic("c", 1, 1, &[("cleanup.policy", Some("compact"))]),
                ResponseError::InvalidConfig,
                "does not compact",
            ),
            (
                topic("u", 1, 1, &[("flush.ms", Some("5"))]),
                ResponseError::InvalidConfig,
                "Unknown topic config name: flush.ms",
            ),
            (
                topic("n", 1, 1, &[("retention.ms", None)]),
                ResponseError::InvalidConfig,
                "Null value not supported for topic configs: retention.ms",
            ),
            (
                topic(
                    "dup",
                    1,
                    1,
                    &[("retention.ms", Some("1")), ("retention.ms", Some("2"))],
                ),
                ResponseError::InvalidRequest,
                "more than once",
            ),
            (
                topic("both", 2, -1, &[]).with_assignments(vec![one(0)]),
                ResponseError::InvalidRequest,
                "Both numPartitions",
            ),
            (
                topic("elsewhere", -1, -1, &[]).with_assignments(vec![
                    one(0),
                    one(1).with_broker_ids(vec![BrokerId(0), BrokerId(1)]),
                ]),
                ResponseError::InvalidReplicaAssignment,
                "must be assigned [0]",
            ),
            (
                topic("gap", -1, -1, &[]).with_assignments(vec![one(0), one(2)]),
                ResponseError::InvalidReplicaAssignment,
                "0 to n-1",
            ),
        ];
        for (t, code, needle) in cases {
            let name = t.name.0.to_string();
            let response = create(&ctx, 7, vec![t], false).await;
            let r = &response.topics[0];
            let message = r.error_message.as_deref().unwrap_or_default().to_string();
            assert_eq!(r.error_code, code.code(), "{name}: {message}");
            assert!(message.contains(needle), "{name}: {message}");
            assert_eq!((r.num_partitions, r.replication_factor), (-1, -1));
        }
        // A manual assignment on node 0 is fine.
        let response = create(
            &ctx,
            7,
            vec![topic("manual", -1, -1, &[]).with_assignments(vec![one(1), one(0)])],
            false,
        )
        .await;
        assert_eq!(response.topics[0].error_code, 0);
        assert_eq!(response.topics[0].num_partitions, 2);
        // The same name twice in one request: both refused, nothing created.
        let response = create(
            &ctx,
            7,
            vec![topic("twice", 1, 1, &[]), topic("twice", 2, 1, &[])],
            false,
        )
        .await;
        assert!(response
            .topics
            .iter()
            .all(|r| r.error_code == ResponseError::InvalidRequest.code()));
        assert!(ctx
            .broker
            .topic(&crate::names::topic_key("twice").unwrap())
            .is_none());
        // Only "taken" and "manual" exist.
        assert_eq!(ctx.broker.topics().len(), 2);
    }
}
