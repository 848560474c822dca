//! DescribeConfigs: a topic's configs (resource type 2) — its own values where it
//! sets them (`DYNAMIC_TOPIC_CONFIG`), the server's otherwise (`STATIC_BROKER_CONFIG`
//! or `DEFAULT_CONFIG`) — and the broker's read-only configs (type 4, name `0`; the
//! empty name, Kafka's cluster-wide dynamic defaults, has none). See
//! [`crate::configs`] for the names. Synonyms and documentation when asked.

use bytes::Bytes;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    ApiKey, DescribeConfigsRequest, DescribeConfigsResponse, RequestHeader,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::topics::{live_topic, log_dir, Refusal};
use super::{decode, encode, Api, Ctx, HandlerFuture};
use crate::configs::{self, Entry, RESOURCE_BROKER, RESOURCE_TOPIC};

pub const API: Api = Api {
    key: ApiKey::DescribeConfigs,
    name: "DescribeConfigs",
    min_version: 1,
    max_version: 4,
    handler,
};

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: DescribeConfigsRequest = decode(body, "DescribeConfigsRequest", version)?;
        let results = request
            .resources
            .iter()
            .map(|resource| {
                let result = DescribeConfigsResult::default()
                    .with_resource_type(resource.resource_type)
                    .with_resource_name(resource.resource_name.clone());
                match entries(ctx, resource) {
                    Ok(entries) => {
                        let configs = entries
                            .into_iter()
                            .filter(|e| match &resource.configuration_keys {
                                None => true,
                                Some(keys) => keys.iter().any(|k| &**k == e.name),
                            })
                            .map(|e| {
                                config_result(
                                    e,
                                    request.include_synonyms,
                                    request.include_documentation,
                                )
                            })
                            .collect();
                        result.with_error_message(None).with_configs(configs)
                    }
                    Err((code, message)) => result
                        .with_error_code(code.code())
                        .with_error_message(Some(StrBytes::from_string(message))),
                }
            })
            .collect();
        encode(
            &DescribeConfigsResponse::default().with_results(results),
            "DescribeConfigsResponse",
            version,
        )
    })
}

/// The configs of one resource, or why it cannot be described.
pub fn entries(ctx: &Ctx, resource: &DescribeConfigsResource) -> Result<Vec<Entry>, Refusal> {
    let name = &*resource.resource_name;
    match resource.resource_type {
        RESOURCE_TOPIC => {
            let topic = live_topic(ctx, name)?;
            Ok(configs::topic_entries(
                &topic.settings(),
                ctx.broker.config(),
            ))
        }
        RESOURCE_BROKER => broker_entries(ctx, name),
        other => Err(unsupported_resource(other)),
    }
}

pub fn unsupported_resource(resource_type: i8) -> Refusal {
    (
        ResponseError::InvalidRequest,
        format!("Unsupported resource type: {resource_type} (Brook has topic (2) and broker (4) configs)"),
    )
}

/// Checks a broker resource name: `0` (this broker) or empty (cluster-wide).
pub fn check_broker_name(name: &str) -> Result<(), Refusal> {
    if name.is_empty() || name == crate::NODE_ID.to_string() {
        Ok(())
    } else {
        Err((
            ResponseError::InvalidRequest,
            format!(
                "Unexpected broker id, expected {} or empty string, but received {name}",
                crate::NODE_ID
            ),
        ))
    }
}

fn broker_entries(ctx: &Ctx, name: &str) -> Result<Vec<Entry>, Refusal> {
    check_broker_name(name)?;
    if name.is_empty() {
        return Ok(Vec::new());
    }
    let advertised = format!("{}:{}", ctx.advertised.host, ctx.advertised.port);
    Ok(configs::broker_entries(
        ctx.broker.config(),
        &advertised,
        &log_dir(ctx),
    ))
}

fn config_result(e: Entry, synonyms: bool, documentation: bool) -> DescribeConfigsResourceResult {
    let synonyms = if synonyms {
        e.synonyms
            .into_iter()
            .map(|(name, value, source)| {
                DescribeConfigsSynonym::default()
                    .with_name(StrBytes::from_static_str(name))
                    .with_value(Some(StrBytes::from_string(value)))
                    .with_source(source)
            })
            .collect()
    } else {
        Vec::new()
    };
    DescribeConfigsResourceResult::default()
        .with_name(StrBytes::from_static_str(e.name))
        .with_value(Some(StrBytes::from_string(e.value)))
        .with_read_only(e.read_only)
        .with_config_source(e.source)
        .with_is_sensitive(false)
        .with_synonyms(synonyms)
        .with_config_type(e.config_type as i8)
        .with_documentation(documentation.then(|| StrBytes::from_static_str(e.doc)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::testing::{call, ctx, ctx_with, s, versions};
    use crate::configs::{SOURCE_DEFAULT, SOURCE_STATIC_BROKER, SOURCE_TOPIC};
    use brook_broker::TopicSettings;
    use brook_model::Durability;

    fn resource(resource_type: i8, name: &str, keys: Option<&[&str]>) -> DescribeConfigsResource {
        DescribeConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(s(name))
            .with_configuration_keys(keys.map(|k| k.iter().map(|k| s(k)).collect()))
    }

    async fn describe(
        ctx: &Ctx,
        version: i16,
        resources: Vec<DescribeConfigsResource>,
        synonyms: bool,
        docs: bool,
    ) -> DescribeConfigsResponse {
        let request = DescribeConfigsRequest::default()
            .with_resources(resources)
            .with_include_synonyms(synonyms)
            .with_include_documentation(docs);
        call(ctx, ApiKey::DescribeConfigs, version, &request).await
    }

    #[tokio::test]
    async fn topic_configs_show_their_source_in_every_version() {
        let (ctx, _dir) = ctx_with(|c| c.default_fsync = Durability::Interval { ms: 100 });
        let settings = TopicSettings {
            retention_ms: Some(60_000),
            ..TopicSettings::default()
        };
        ctx.broker
            .create_topic(crate::names::topic_key("t").unwrap(), settings)
            .await
            .unwrap();
        for version in versions(ApiKey::DescribeConfigs) {
            let docs = version >= 3;
            let response = describe(&ctx, version, vec![resource(2, "t", None)], true, docs).await;
            let result = &response.results[0];
            assert_eq!(result.error_code, 0);
            let get = |n: &str| result.configs.iter().find(|c| &*c.name == n).unwrap();
            let names: Vec<&str> = result.configs.iter().map(|c| &*c.name).collect();
            assert_eq!(
                names,
                vec![
                    "brook.fsync",
                    "brook.retention.records",
                    "cleanup.policy",
                    "max.message.bytes",
                    "retention.bytes",
                    "retention.ms",
                    "segment.bytes"
                ]
            );
            let retention = get("retention.ms");
            assert_eq!(
                (
                    retention.value.as_deref(),
                    retention.config_source,
                    retention.read_only
                ),
                (Some("60000"), SOURCE_TOPIC, false)
            );
            assert_eq!(retention.synonyms.len(), 2);
            assert_eq!(&*retention.synonyms[1].name, "log.retention.ms");
            let fsync = get("brook.fsync");
            assert_eq!(
                (fsync.value.as_deref(), fsync.config_source),
                (Some("100ms"), SOURCE_STATIC_BROKER)
            );
            let bytes = get("retention.bytes");
            assert_eq!(
                (bytes.value.as_deref(), bytes.config_source),
                (Some("-1"), SOURCE_DEFAULT)
            );
            if version >= 3 {
                assert_eq!(retention.config_type, configs::ConfigType::Long as i8);
                assert!(retention
                    .documentation
                    .as_deref()
                    .unwrap()
                    .contains("sealed segments"));
            }
        }
        // Only the keys asked for; unknown keys are simply absent (as in Kafka); no
        // synonyms unless asked.
        let response = describe(
            &ctx,
            4,
            vec![resource(2, "t", Some(&["segment.bytes", "no.such"]))],
            false,
            false,
        )
        .await;
        let configs = &response.results[0].configs;
        assert_eq!(configs.len(), 1);
        assert!(configs[0].synonyms.is_empty());
        assert_eq!(configs[0].documentation, None);
    }

    #[tokio::test]
    async fn broker_configs_and_refusals() {
        let (ctx, dir) = ctx();
        let response = describe(
            &ctx,
            4,
            vec![
                resource(4, "0", None),
                resource(4, "", None),
                resource(4, "1", None),
                resource(8, "0", None),
                resource(2, "nope", None),
                resource(2, "a:b", None),
            ],
            false,
            false,
        )
        .await;
        let r = &response.results;
        assert_eq!(r[0].error_code, 0);
        assert!(r[0].configs.iter().all(|c| c.read_only));
        let get = |n: &str| r[0].configs.iter().find(|c| &*c.name == n).unwrap();
        assert_eq!(get("broker.id").value.as_deref(), Some("0"));
        assert_eq!(
            get("log.dirs").value.as_deref(),
            Some(dir.path().join("data").to_str().unwrap())
        );
        assert_eq!(
            get("advertised.listeners").value.as_deref(),
            Some("PLAINTEXT://127.0.0.1:9092")
        );
        assert_eq!(get("log.cleanup.policy").value.as_deref(), Some("delete"));
        assert_eq!((r[1].error_code, r[1].configs.len()), (0, 0));
        let codes: Vec<i16> = r[2..].iter().map(|r| r.error_code).collect();
        assert_eq!(
            codes,
            vec![
                ResponseError::InvalidRequest.code(),
                ResponseError::InvalidRequest.code(),
                ResponseError::UnknownTopicOrPartition.code(),
                ResponseError::InvalidTopicException.code(),
            ]
        );
        assert!(r[2]
            .error_message
            .as_deref()
            .unwrap()
            .contains("expected 0"));
        assert!(r[3]
            .error_message
            .as_deref()
            .unwrap()
            .contains("Unsupported resource type: 8"));
    }
}
