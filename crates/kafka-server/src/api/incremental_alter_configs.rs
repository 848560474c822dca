//! IncrementalAlterConfigs: `SET` and `DELETE` (back to the default) on a topic's
//! configs; `APPEND`/`SUBTRACT` only on the one list config, `cleanup.policy`, and
//! only where the result is still `delete` (`INVALID_CONFIG` otherwise, as for any
//! other config). Configs not named keep their values. Broker configs are read-only.

use bytes::Bytes;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{
    ApiKey, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, RequestHeader,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use brook_broker::TopicSettings;

use super::alter_configs::{alter_broker, alter_topic, check_config_names, duplicate_resource};
use super::describe_configs::unsupported_resource;
use super::topics::{counts, Refusal};
use super::{decode, encode, Api, Ctx, HandlerFuture};
use crate::configs::{self, RESOURCE_BROKER, RESOURCE_TOPIC};

pub const API: Api = Api {
    key: ApiKey::IncrementalAlterConfigs,
    name: "IncrementalAlterConfigs",
    min_version: 0,
    max_version: 1,
    handler,
};

/// Kafka's `AlterConfigOp.OpType`.
const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: IncrementalAlterConfigsRequest =
            decode(body, "IncrementalAlterConfigsRequest", version)?;
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
            } else if let Some(c) = r
                .configs
                .iter()
                .find(|c| !(SET..=SUBTRACT).contains(&c.config_operation))
            {
                Err((
                    ResponseError::InvalidRequest,
                    format!(
                        "Unknown operation type {} for config {} (0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT)",
                        c.config_operation, &*c.name
                    ),
                ))
            } else {
                match r.resource_type {
                    RESOURCE_TOPIC => {
                        let edit = |s: &mut TopicSettings| -> Result<(), Refusal> {
                            for c in &r.configs {
                                let value = c.value.as_deref();
                                let applied = match c.config_operation {
                                    SET if value.is_none() => {
                                        Err(configs::ConfigError::invalid_config(format!(
                                            "Null value not supported for topic configs: {}",
                                            &*c.name
                                        )))
                                    }
                                    SET | DELETE => configs::set(
                                        s,
                                        &c.name,
                                        if c.config_operation == SET {
                                            value
                                        } else {
                                            None
                                        },
                                    ),
                                    APPEND => configs::append_or_subtract(&c.name, value, false),
                                    // SUBTRACT: the operations were checked above.
                                    _ => configs::append_or_subtract(&c.name, value, true),
                                };
                                applied.map_err(|e| (e.code, e.message))?;
                            }
                            Ok(())
                        };
                        let fields = names.iter().map(|n| n.to_string()).collect();
                        alter_topic(ctx, name, request.validate_only, edit, Some(fields)).await
                    }
                    RESOURCE_BROKER => alter_broker(name, &names),
                    other => Err(unsupported_resource(other)),
                }
            };
            responses.push(response(r.resource_type, r.resource_name.clone(), result));
        }
        encode(
            &IncrementalAlterConfigsResponse::default().with_responses(responses),
            "IncrementalAlterConfigsResponse",
            version,
        )
    })
}

fn response(
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::testing::{call, ctx, s, versions};
    use kafka_protocol::messages::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };

    fn resource(
        resource_type: i8,
        name: &str,
        configs: &[(&str, i8, Option<&str>)],
    ) -> AlterConfigsResource {
        AlterConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(s(name))
            .with_configs(
                configs
                    .iter()
                    .map(|(n, op, v)| {
                        AlterableConfig::default()
                            .with_name(s(n))
                            .with_config_operation(*op)
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
        let request = IncrementalAlterConfigsRequest::default()
            .with_resources(resources)
            .with_validate_only(validate_only);
        let response: IncrementalAlterConfigsResponse =
            call(ctx, ApiKey::IncrementalAlterConfigs, version, &request).await;
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

    #[tokio::test]
    async fn set_and_delete_touch_only_the_named_configs() {
        let (ctx, _dir) = ctx();
        for version in versions(ApiKey::IncrementalAlterConfigs) {
            let name = format!("t{version}");
            let key = crate::names::topic_key(&name).unwrap();
            let settings = TopicSettings {
                retention_ms: Some(1000),
                segment_bytes: Some(4096),
                ..TopicSettings::default()
            };
            ctx.broker
                .create_topic(key.clone(), settings)
                .await
                .unwrap();
            let results = alter(
                &ctx,
                version,
                vec![resource(
                    2,
                    &name,
                    &[
                        ("retention.bytes", SET, Some("100000")),
                        ("segment.bytes", DELETE, None),
                        ("cleanup.policy", APPEND, Some("delete")),
                    ],
                )],
                false,
            )
            .await;
            assert_eq!(results, vec![(0, String::new())], "v{version}");
            let s = ctx.broker.topic(&key).unwrap().settings();
            assert_eq!(
                (s.retention_ms, s.retention_bytes, s.segment_bytes),
                (Some(1000), Some(100_000), None)
            );
        }
    }

    #[tokio::test]
    async fn refusals_and_validate_only_change_nothing() {
        let (ctx, _dir) = ctx();
        let key = crate::names::topic_key("t").unwrap();
        ctx.broker
            .create_topic(key.clone(), TopicSettings::default())
            .await
            .unwrap();
        let results = alter(
            &ctx,
            1,
            vec![resource(2, "t", &[("retention.ms", SET, Some("5"))])],
            true,
        )
        .await;
        assert_eq!(results[0].0, 0);
        let cases: Vec<(AlterConfigsResource, ResponseError, &str)> = vec![
            (
                resource(2, "t", &[("cleanup.policy", APPEND, Some("compact"))]),
                ResponseError::InvalidConfig,
                "does not compact",
            ),
            (
                resource(2, "t", &[("cleanup.policy", SUBTRACT, Some("delete"))]),
                ResponseError::InvalidConfig,
                "must be \"delete\"",
            ),
            (
                resource(2, "t", &[("retention.ms", APPEND, Some("5"))]),
                ResponseError::InvalidConfig,
                "append is not allowed",
            ),
            (
                resource(2, "t", &[("retention.ms", SET, None)]),
                ResponseError::InvalidConfig,
                "Null value",
            ),
            (
                resource(2, "t", &[("flush.ms", DELETE, None)]),
                ResponseError::InvalidConfig,
                "Unknown topic config name",
            ),
            (
                resource(2, "t", &[("retention.ms", 9, Some("5"))]),
                ResponseError::InvalidRequest,
                "Unknown operation type 9",
            ),
            (
                resource(
                    2,
                    "t",
                    &[
                        ("retention.ms", SET, Some("5")),
                        ("retention.ms", DELETE, None),
                    ],
                ),
                ResponseError::InvalidRequest,
                "duplicate config keys",
            ),
            (
                resource(4, "0", &[("brook.fsync", SET, Some("never"))]),
                ResponseError::InvalidRequest,
                "read-only",
            ),
        ];
        for (r, code, needle) in cases {
            let results = alter(&ctx, 1, vec![r], false).await;
            assert_eq!(results[0].0, code.code(), "{}", results[0].1);
            assert!(results[0].1.contains(needle), "{}", results[0].1);
        }
        assert_eq!(
            ctx.broker.topic(&key).unwrap().settings(),
            TopicSettings::default()
        );
        // SUBTRACT of a policy the topic does not have is a no-op.
        let results = alter(
            &ctx,
            1,
            vec![resource(
                2,
                "t",
                &[("cleanup.policy", SUBTRACT, Some("compact"))],
            )],
            false,
        )
        .await;
        assert_eq!(results[0].0, 0);
    }
}
