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
