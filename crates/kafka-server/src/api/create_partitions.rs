//! CreatePartitions: grows a topic to `count` partitions
//! ([`brook_broker::Broker::add_partitions`]); the new ones start empty. The count
//! can only grow (`INVALID_PARTITIONS` otherwise); an assignment may only name node 0.
//! Records already stored stay in their partitions.

use bytes::Bytes;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{
    ApiKey, CreatePartitionsRequest, CreatePartitionsResponse, RequestHeader,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::topics::{counts, live_topic, topic_error, Refusal};
use super::{decode, encode, Api, Ctx, HandlerFuture};
use crate::NODE_ID;
use brook_model::PARTITIONS_MAX;

pub const API: Api = Api {
    key: ApiKey::CreatePartitions,
    name: "CreatePartitions",
    min_version: 0,
    max_version: 3,
    handler,
};

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: CreatePartitionsRequest = decode(body, "CreatePartitionsRequest", version)?;
        let repeated = counts(request.topics.iter().map(|t| t.name.0.clone()));
        let mut results = Vec::with_capacity(request.topics.len());
        for topic in &request.topics {
            let result = if repeated.get(&topic.name.0).copied().unwrap_or(0) > 1 {
                Err((
                    ResponseError::InvalidRequest,
                    "Duplicate topic in request.".to_string(),
                ))
            } else {
                grow(ctx, topic, request.validate_only).await
            };
            let response = CreatePartitionsTopicResult::default().with_name(topic.name.clone());
            results.push(match result {
                Ok(()) => response.with_error_message(None),
                Err((code, message)) => response
                    .with_error_code(code.code())
                    .with_error_message(Some(StrBytes::from_string(message))),
            });
        }
        encode(
            &CreatePartitionsResponse::default().with_results(results),
            "CreatePartitionsResponse",
            version,
        )
    })
}

async fn grow(ctx: &Ctx, t: &CreatePartitionsTopic, validate_only: bool) -> Result<(), Refusal> {
    let name = &*t.name.0;
    let topic = live_topic(ctx, name)?;
    let current = topic.partitions().len();
    let count = usize::try_from(t.count).unwrap_or(0);
    if count <= current {
        let message = if count == current {
            format!("Topic {name} already has {current} partitions.")
        } else {
            format!(
                "Topic {name} currently has {current} partitions, which is higher than the requested {}; partitions cannot be removed.",
                t.count
            )
        };
        return Err((ResponseError::InvalidPartitions, message));
    }
    if count > PARTITIONS_MAX as usize {
        return Err((
            ResponseError::InvalidPartitions,
            format!("Number of partitions {count} is more than Brook's limit of {PARTITIONS_MAX}"),
        ));
    }
    if let Some(assignments) = &t.assignments {
        let new = count - current;
        if assignments.len() != new {
            return Err((
                ResponseError::InvalidReplicaAssignment,
                format!(
                    "Increasing the number of partitions by {new} but {} assignments provided.",
                    assignments.len()
                ),
            ));
        }
        for a in assignments {
            let brokers: Vec<i32> = a.broker_ids.iter().map(|b| b.0).collect();
            if brokers != [NODE_ID] {
                return Err((
                    ResponseError::InvalidReplicaAssignment,
                    format!(
                        "Brook is one broker (node {NODE_ID}): new partitions must be assigned [{NODE_ID}], not {brokers:?}"
                    ),
                ));
            }
        }
    }
    if validate_only {
        return Ok(());
    }
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    ctx.broker
        .add_partitions(&topic.key, count)
        .await
        .map_err(|e| topic_error(name, e))?;
    tracing::info!(
        topic = name,
        from = current,
        to = count,
        "partitions added by CreatePartitions"
    );
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::testing::{call, ctx, s, topic_with_records, versions};
    use kafka_protocol::messages::create_partitions_request::CreatePartitionsAssignment;
    use kafka_protocol::messages::{BrokerId, TopicName};

    fn grow_to(name: &str, count: i32, assign: Option<Vec<Vec<i32>>>) -> CreatePartitionsTopic {
        CreatePartitionsTopic::default()
            .with_name(TopicName(s(name)))
            .with_count(count)
            .with_assignments(assign.map(|a| {
                a.into_iter()
                    .map(|ids| {
                        CreatePartitionsAssignment::default()
                            .with_broker_ids(ids.into_iter().map(BrokerId).collect())
                    })
                    .collect()
            }))
    }

    async fn run(
        ctx: &Ctx,
        version: i16,
        topics: Vec<CreatePartitionsTopic>,
        validate_only: bool,
    ) -> Vec<(i16, String)> {
        let request = CreatePartitionsRequest::default()
            .with_topics(topics)
            .with_timeout_ms(5000)
            .with_validate_only(validate_only);
        let response: CreatePartitionsResponse =
            call(ctx, ApiKey::CreatePartitions, version, &request).await;
        response
            .results
            .into_iter()
            .map(|r| {
                (
                    r.error_code,
                    r.error_message.map(|m| m.to_string()).unwrap_or_default(),
                )
            })
            .collect()
    }

    fn count(ctx: &Ctx, name: &str) -> usize {
        ctx.broker
            .topic(&crate::names::topic_key(name).unwrap())
            .unwrap()
            .partitions()
            .len()
    }

    #[tokio::test]
    async fn grows_in_every_version_keeping_the_records() {
        let (ctx, _dir) = ctx();
        for version in versions(ApiKey::CreatePartitions) {
            let name = format!("t{version}");
            topic_with_records(&ctx, &name, 1, &[1, 2, 3]).await;
            let results = run(&ctx, version, vec![grow_to(&name, 3, None)], false).await;
            assert_eq!(results, vec![(0, String::new())], "v{version}");
            assert_eq!(count(&ctx, &name), 3);
            let topic = ctx
                .broker
                .topic(&crate::names::topic_key(&name).unwrap())
                .unwrap();
            assert_eq!(topic.partition(0).unwrap().marks().high_watermark, 3);
            assert_eq!(topic.partition(2).unwrap().marks().log_end, 0);
        }
    }

    #[tokio::test]
    async fn validate_only_and_refusals() {
        let (ctx, _dir) = ctx();
        topic_with_records(&ctx, "t", 2, &[]).await;
        let results = run(
            &ctx,
            3,
            vec![grow_to("t", 4, Some(vec![vec![0], vec![0]]))],
            true,
        )
        .await;
        assert_eq!(results[0].0, 0);
        assert_eq!(count(&ctx, "t"), 2, "validate_only changes nothing");
        let cases = [
            (
                grow_to("t", 2, None),
                ResponseError::InvalidPartitions,
                "already has 2",
            ),
            (
                grow_to("t", 1, None),
                ResponseError::InvalidPartitions,
                "cannot be removed",
            ),
            (
                grow_to("t", 10_001, None),
                ResponseError::InvalidPartitions,
                "limit of 10000",
            ),
            (
                grow_to("nope", 3, None),
                ResponseError::UnknownTopicOrPartition,
                "does not exist",
            ),
            (
                grow_to("t", 4, Some(vec![vec![0]])),
                ResponseError::InvalidReplicaAssignment,
                "by 2 but 1 assignments",
            ),
            (
                grow_to("t", 3, Some(vec![vec![1]])),
                ResponseError::InvalidReplicaAssignment,
                "[0]",
            ),
        ];
        for (topic, code, needle) in cases {
            let results = run(&ctx, 3, vec![topic], false).await;
            assert_eq!(results[0].0, code.code(), "{}", results[0].1);
            assert!(results[0].1.contains(needle), "{}", results[0].1);
        }
        let results = run(
            &ctx,
            3,
            vec![grow_to("t", 3, None), grow_to("t", 4, None)],
            false,
        )
        .await;
        assert!(results
            .iter()
            .all(|r| r.0 == ResponseError::InvalidRequest.code()));
        assert_eq!(count(&ctx, "t"), 2);
        let results = run(
            &ctx,
            3,
            vec![grow_to("t", 4, Some(vec![vec![0], vec![0]]))],
            false,
        )
        .await;
        assert_eq!(results[0].0, 0);
        assert_eq!(count(&ctx, "t"), 4);
    }
}
