//! DeleteTopics: deletes topics by name (v1+) or topic ID (v6), with their data and
//! their Redis consumer groups ([`brook_broker::Broker::delete_topic`]).

use bytes::Bytes;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    ApiKey, DeleteTopicsRequest, DeleteTopicsResponse, RequestHeader, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::topics::{counts, live_topic, topic_by_id, topic_error, topic_id, Refusal};
use super::{decode, encode, Api, Ctx, HandlerFuture};

pub const API: Api = Api {
    key: ApiKey::DeleteTopics,
    name: "DeleteTopics",
    min_version: 1,
    max_version: 6,
    handler,
};

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: DeleteTopicsRequest = decode(body, "DeleteTopicsRequest", version)?;
        // (name, id) per requested topic: v1-5 name topics, v6 by name or ID.
        let wanted: Vec<(Option<StrBytes>, Uuid)> = if version >= 6 {
            request
                .topics
                .into_iter()
                .map(|t| (t.name.map(|n| n.0), t.topic_id))
                .collect()
        } else {
            request
                .topic_names
                .into_iter()
                .map(|n| (Some(n.0), Uuid::nil()))
                .collect()
        };
        let names = counts(wanted.iter().filter_map(|(n, _)| n.clone()));
        let ids = counts(wanted.iter().map(|(_, id)| *id).filter(|id| !id.is_nil()));
        let mut responses = Vec::with_capacity(wanted.len());
        for (name, id) in wanted {
            let duplicate = name
                .as_ref()
                .is_some_and(|n| names.get(n).copied().unwrap_or(0) > 1)
                || (!id.is_nil() && ids.get(&id).copied().unwrap_or(0) > 1);
            let (name, id, result) = if duplicate {
                let what = if name.is_some() { "name" } else { "id" };
                (
                    name,
                    id,
                    Err((
                        ResponseError::InvalidRequest,
                        format!("Duplicate topic {what} in the request"),
                    )),
                )
            } else {
                delete(ctx, name, id).await
            };
            let response = DeletableTopicResult::default()
                .with_name(name.map(TopicName))
                .with_topic_id(id);
            responses.push(match result {
                Ok(()) => response,
                Err((code, message)) => response
                    .with_error_code(code.code())
                    .with_error_message(Some(StrBytes::from_string(message))),
            });
        }
        encode(
            &DeleteTopicsResponse::default().with_responses(responses),
            "DeleteTopicsResponse",
            version,
        )
    })
}

/// Deletes one topic; returns its name and ID as the response reports them.
async fn delete(
    ctx: &Ctx,
    name: Option<StrBytes>,
    id: Uuid,
) -> (Option<StrBytes>, Uuid, Result<(), Refusal>) {
    let found = match (&name, id.is_nil()) {
        (Some(_), false) => Err((
            ResponseError::InvalidRequest,
            "You may not specify both topic name and topic id.".to_string(),
        )),
        (None, true) => Err((
            ResponseError::InvalidRequest,
            "Neither topic name nor id were specified.".to_string(),
        )),
        (Some(n), true) => live_topic(ctx, n).map(|t| (t, n.to_string())),
        (None, false) => topic_by_id(ctx, id).ok_or_else(|| {
            (
                ResponseError::UnknownTopicId,
                format!("No topic with ID {id}"),
            )
        }),
    };
    let (topic, topic_name) = match found {
        Ok(found) => found,
        Err(e) => return (name, id, Err(e)),
    };
    let reported_id = if id.is_nil() { topic_id(&topic) } else { id };
    let reported_name = Some(name.unwrap_or_else(|| StrBytes::from_string(topic_name.clone())));
    let result = ctx
        .broker
        .delete_topic(&topic.key)
        .await
        .map_err(|e| topic_error(&topic_name, e));
    if result.is_ok() {
        tracing::info!(topic = topic_name, "topic deleted by DeleteTopics");
    }
    (reported_name, reported_id, result)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::testing::{call, ctx, s, topic_with_records, versions};
    use kafka_protocol::messages::delete_topics_request::DeleteTopicState;

    fn by_names(names: &[&str]) -> DeleteTopicsRequest {
        let topics = names.iter().map(|n| TopicName(s(n))).collect();
        DeleteTopicsRequest::default()
            .with_topic_names(topics)
            .with_timeout_ms(5000)
    }

    fn state(name: Option<&str>, id: Uuid) -> DeleteTopicState {
        DeleteTopicState::default()
            .with_name(name.map(|n| TopicName(s(n))))
            .with_topic_id(id)
    }

    #[tokio::test]
    async fn deletes_by_name_in_every_version() {
        let (ctx, _dir) = ctx();
        for version in versions(ApiKey::DeleteTopics) {
            let name = format!("t{version}");
            let topic = topic_with_records(&ctx, &name, 2, &[1, 2]).await;
            let request = if version >= 6 {
                DeleteTopicsRequest::default().with_topics(vec![state(Some(&name), Uuid::nil())])
            } else {
                by_names(&[&name])
            };
            let response: DeleteTopicsResponse =
                call(&ctx, ApiKey::DeleteTopics, version, &request).await;
            let r = &response.responses[0];
            assert_eq!(r.error_code, 0, "v{version}: {:?}", r.error_message);
            assert_eq!(r.name.as_ref().map(|n| n.0.to_string()), Some(name.clone()));
            if version >= 6 {
                assert_eq!(r.topic_id, topic_id(&topic));
            }
            assert!(ctx.broker.topic(&topic.key).is_none(), "v{version}");
        }
    }

    #[tokio::test]
    async fn unknown_invalid_and_duplicate_names_are_refused() {
        let (ctx, _dir) = ctx();
        topic_with_records(&ctx, "kept", 1, &[]).await;
        let response: DeleteTopicsResponse = call(
            &ctx,
            ApiKey::DeleteTopics,
            5,
            &by_names(&["nope", "a:b", "kept", "kept"]),
        )
        .await;
        let codes: Vec<i16> = response.responses.iter().map(|r| r.error_code).collect();
        assert_eq!(
            codes,
            vec![
                ResponseError::UnknownTopicOrPartition.code(),
                ResponseError::InvalidTopicException.code(),
                ResponseError::InvalidRequest.code(),
                ResponseError::InvalidRequest.code(),
            ]
        );
        assert!(response.responses[0]
            .error_message
            .as_deref()
            .unwrap()
            .contains("nope does not exist"));
        assert_eq!(
            ctx.broker.topics().len(),
            1,
            "a duplicated name is not deleted"
        );
    }

    #[tokio::test]
    async fn v6_deletes_by_topic_id() {
        let (ctx, _dir) = ctx();
        let topic = topic_with_records(&ctx, "by-id", 1, &[5]).await;
        let id = topic_id(&topic);
        let unknown = Uuid::from_u128(42);
        let request = DeleteTopicsRequest::default().with_topics(vec![
            state(None, id),
            state(None, unknown),
            state(Some("by-id"), id),
            state(None, Uuid::nil()),
        ]);
        let response: DeleteTopicsResponse = call(&ctx, ApiKey::DeleteTopics, 6, &request).await;
        let r = &response.responses;
        // The ID appears twice in the request: both entries are refused.
        assert_eq!(r[0].error_code, ResponseError::InvalidRequest.code());
        assert_eq!(r[1].error_code, ResponseError::UnknownTopicId.code());
        assert_eq!(r[1].topic_id, unknown);
        assert_eq!(r[2].error_code, ResponseError::InvalidRequest.code());
        assert_eq!(r[3].error_code, ResponseError::InvalidRequest.code());
        assert!(r[3].error_message.as_deref().unwrap().contains("Neither"));
        assert!(ctx.broker.topic(&topic.key).is_some());

        let request = DeleteTopicsRequest::default().with_topics(vec![state(None, id)]);
        let response: DeleteTopicsResponse = call(&ctx, ApiKey::DeleteTopics, 6, &request).await;
        let r = &response.responses[0];
        assert_eq!(r.error_code, 0);
        assert_eq!(
            r.name.as_ref().map(|n| n.0.to_string()).as_deref(),
            Some("by-id")
        );
        assert!(ctx.broker.topic(&topic.key).is_none());
    }
}
