//! AlterConfigs (the legacy, non-incremental form): a topic's configs are replaced
//! by the given set — configs not named go back to their defaults. Names Brook does
//! not have, and values it cannot honour, are `INVALID_CONFIG` with the reason
//! ([`crate::configs`]). Broker configs are read-only (`INVALID_REQUEST` for any
//! change). `validate_only` checks without changing anything.

use bytes::Bytes;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse, ApiKey, RequestHeader};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use brook_broker::TopicSettings;

use super::describe_configs::{check_broker_name, unsupported_resource};
use super::topics::{counts, live_topic, topic_error, Refusal};
use super::{decode, encode, Api, Ctx, HandlerFuture};
use crate::configs::{self, RESOURCE_BROKER, RESOURCE_TOPIC};

pub const API: Api = Api {
    key: ApiKey::AlterConfigs,
    name: "AlterConfigs",
    min_version: 0,
    max_version: 2,
    handler,
};

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: AlterConfigsRequest = decode(body, "AlterConfigsRequest", version)?;
        let repeated = counts(
            request
                .resources
                .iter()
                .map(|r| (r.resource_type, r.resource_name.clone())),
        );
        let mut responses = Vec::with_capacity(request.resources.len());
        for r in &request.resources {
            let name = &*r.resource_name;
            let names: Vec<&str> = r.configs.iter().map(|c| &*c.name).collect();
            let result = if repeated
                .get(&(r.resource_type, r.resource_name.clone()))
                .copied()
                .unwrap_or(0)
                > 1
            {
                Err(duplicate_resource())
            } else if let Err(e) = check_config_names(&names) {
                Err(e)
            } else {
                match r.resource_type {
                    RESOURCE_TOPIC => {
                        let nulls: Vec<&str> = r
                            .configs
                            .iter()
                            .filter(|c| c.value.is_none())
                            .map(|c| &*c.name)
                            .collect();
                        if nulls.is_empty() {
                            let edit = |s: &mut TopicSettings| {
                                configs::clear_all(s);
                                for c in &r.configs {
                                    configs::set(s, &c.name, c.value.as_deref())
                                        .map_err(|e| (e.code, e.message))?;
                                }
                                Ok(())
                            };
                            alter_topic(ctx, name, request.validate_only, edit, None).await
                        } else {
                            Err((
                                ResponseError::InvalidConfig,
                                format!(
                                    "Null value not supported for topic configs: {}",
                                    nulls.join(",")
                                ),
                            ))
                        }
                    }
                    RESOURCE_BROKER => alter_broker(name, &names),
                    other => Err(unsupported_resource(other)),
                }
            };
            responses.push(response(r.resource_type, r.resource_name.clone(), result));
        }
        encode(
            &AlterConfigsResponse::default().with_responses(responses),
            "AlterConfigsResponse",
            version,
        )
    })
}

pub(super) fn response(
    resource_type: i8,
    resource_name: StrBytes,
    result: Result<(), Refusal>,
) -> AlterConfigsResourceResponse {
    let response = AlterConfigsResourceResponse::default()
        .with_resource_type(resource_type)
        .with_resource_name(resource_name);
    match result {
        Ok(()) => response.with_error_message(None),
        Err((code, message)) => response
            .with_error_code(code.code())
            .with_error_message(Some(StrBytes::from_string(message))),
    }
}

pub(super) fn duplicate_resource() -> Refusal {
    (
        ResponseError::InvalidRequest,
        "Each resource must appear at most once in a request".into(),
    )
}

/// Refuses a resource that names a config twice.
pub(super) fn check_config_names(names: &[&str]) -> Result<(), Refusal> {
    let mut twice: Vec<&str> = counts(names.iter().copied())
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(name, _)| name)
        .collect();
    if twice.is_empty() {
        return Ok(());
    }
    twice.sort_unstable();
    Err((
        ResponseError::InvalidRequest,
        format!("Error due to duplicate config keys: {}", twice.join(",")),
    ))
}

/// Changes a topic's configs: `edit` runs on a copy of the current settings to
/// check the change; unless `validate_only`, the configs named in `fields` (all of
/// them if `None`) are then copied from it into the topic's settings under the
/// broker's admin lock, so a concurrent change of other settings is not lost.
pub(super) async fn alter_topic(
    ctx: &Ctx,
    name: &str,
    validate_only: bool,
    edit: impl FnOnce(&mut TopicSettings) -> Result<(), Refusal>,
    fields: Option<Vec<String>>,
) -> Result<(), Refusal> {
    let topic = live_topic(ctx, name)?;
    let mut new = topic.settings();
    edit(&mut new)?;
    new.validate()
        .map_err(|e| (ResponseError::InvalidConfig, e.to_string()))?;
    if validate_only {
        return Ok(());
    }
    ctx.broker
        .update_topic_settings(&topic.key, |current| match &fields {
            None => {
                *current = TopicSettings {
                    partitions: current.partitions,
                    ..new
                }
            }
            Some(names) => {
                for n in names {
                    configs::copy(current, &new, n);
                }
            }
        })
        .await
        .map_err(|e| topic_error(name, e))?;
    tracing::info!(topic = name, "topic configs changed");
    Ok(())
}

/// Brook's broker configs cannot be changed over Kafka.
pub(super) fn alter_broker(name: &str, config_names: &[&str]) -> Result<(), Refusal> {
    check_broker_name(name)?;
    if config_names.is_empty() {
        return Ok(());
    }
    Err((
        ResponseError::InvalidRequest,
        format!(
            "Invalid config value for resource ConfigResource(type=BROKER, name='{name}'): Cannot update these configs dynamically: {}. Brook's broker configs are read-only; set them with the server's flags, environment or config file",
            config_names.join(",")
        ),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::testing::{call, ctx, s, versions};
    use brook_model::Durability;
    use kafka_protocol::messages::alter_configs_request::{AlterConfigsResource, AlterableConfig};

    fn resource(
        resource_type: i8,
        name: &str,
        configs: &[(&str, Option<&str>)],
    ) -> AlterConfigsResource {
        AlterConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(s(name))
            .with_configs(
                configs
                    .iter()
                    .map(|(n, v)| {
                        AlterableConfig::default()
                            .with_name(s(n))
                            .with_value(v.map(s))
                    })
                    .collect(),
            )
    }

    async fn alter(
        ctx: &Ctx,
        version: i16,
        resources: Vec<AlterConfigsResource>,
        validate_only: bool,
    ) -> Vec<(i16, String)> {
        let request = AlterConfigsRequest::default()
            .with_resources(resources)
            .with_validate_only(validate_only);
        let response: AlterConfigsResponse =
            call(ctx, ApiKey::AlterConfigs, version, &request).await;
        response
            .responses
            .into_iter()
            .map(|r| {
                (
                    r.error_code,
                    r.error_message.map(|m| m.to_string()).unwrap_or_default(),
                )
            })
            .collect()
    }

    async fn topic(ctx: &Ctx, name: &str) -> std::sync::Arc<brook_broker::Topic> {
        let key = crate::names::topic_key(name).unwrap();
        let settings = TopicSettings {
            partitions: 2,
            retention_ms: Some(1000),
            segment_bytes: Some(4096),
            ..TopicSettings::default()
        };
        ctx.broker.create_topic(key, settings).await.unwrap()
    }

    #[tokio::test]
    async fn replaces_the_whole_set_in_every_version() {
        let (ctx, _dir) = ctx();
        for version in versions(ApiKey::AlterConfigs) {
            let name = format!("t{version}");
            let t = topic(&ctx, &name).await;
            let results = alter(
                &ctx,
                version,
                vec![resource(
                    2,
                    &name,
                    &[
                        ("brook.fsync", Some("never")),
                        ("cleanup.policy", Some("delete")),
                    ],
                )],
                false,
            )
            .await;
            assert_eq!(results, vec![(0, String::new())], "v{version}");
            let settings = ctx.broker.topic(&t.key).unwrap().settings();
            assert_eq!(
                settings,
                TopicSettings {
                    partitions: 2,
                    fsync: Some(Durability::Never),
                    ..TopicSettings::default()
                },
                "unnamed configs are back to their defaults"
            );
            for p in t.partitions() {
                assert_eq!(p.config().durability, Durability::Never);
                assert_eq!(p.config().segment_bytes, brook_model::SEGMENT_BYTES_DEFAULT);
            }
        }
    }

    #[tokio::test]
    async fn validate_only_and_refusals_change_nothing() {
        let (ctx, _dir) = ctx();
        let t = topic(&ctx, "t").await;
        let before = t.settings();
        let results = alter(
            &ctx,
            2,
            vec![resource(2, "t", &[("retention.ms", Some("5"))])],
            true,
        )
        .await;
        assert_eq!(results[0].0, 0);
        let cases: Vec<(AlterConfigsResource, ResponseError, &str)> = vec![
            (
                resource(2, "t", &[("compression.type", Some("zstd"))]),
                ResponseError::InvalidConfig,
                "Unknown topic config name",
            ),
            (
                resource(2, "t", &[("cleanup.policy", Some("compact"))]),
                ResponseError::InvalidConfig,
                "does not compact",
            ),
            (
                resource(2, "t", &[("retention.ms", None)]),
                ResponseError::InvalidConfig,
                "Null value",
            ),
            (
                resource(2, "t", &[("segment.bytes", Some("1"))]),
                ResponseError::InvalidConfig,
                "[1024, 1073741824]",
            ),
            (
                resource(
                    2,
                    "t",
                    &[("retention.ms", Some("1")), ("retention.ms", Some("2"))],
                ),
                ResponseError::InvalidRequest,
                "duplicate config keys: retention.ms",
            ),
            (
                resource(2, "nope", &[]),
                ResponseError::UnknownTopicOrPartition,
                "does not exist",
            ),
            (
                resource(4, "0", &[("log.retention.ms", Some("5"))]),
                ResponseError::InvalidRequest,
                "read-only",
            ),
            (
                resource(4, "3", &[]),
                ResponseError::InvalidRequest,
                "expected 0",
            ),
            (
                resource(1, "x", &[]),
                ResponseError::InvalidRequest,
                "Unsupported resource type",
            ),
        ];
        for (r, code, needle) in cases {
            let results = alter(&ctx, 2, vec![r], false).await;
            assert_eq!(results[0].0, code.code(), "{}", results[0].1);
            assert!(results[0].1.contains(needle), "{}", results[0].1);
        }
        let results = alter(
            &ctx,
            2,
            vec![
                resource(2, "t", &[]),
                resource(2, "t", &[("retention.ms", Some("5"))]),
            ],
            false,
        )
        .await;
        assert!(results
            .iter()
            .all(|r| r.0 == ResponseError::InvalidRequest.code()));
        assert_eq!(ctx.broker.topic(&t.key).unwrap().settings(), before);
        // Nothing to change on the broker is fine.
        assert_eq!(
            alter(&ctx, 2, vec![resource(4, "0", &[])], false).await[0].0,
            0
        );
    }
}
