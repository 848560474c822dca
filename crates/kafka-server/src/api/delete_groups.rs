//! DeleteGroups: a group without members is deleted with its committed offsets.

use bytes::Bytes;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{ApiKey, DeleteGroupsRequest, DeleteGroupsResponse, RequestHeader};
use kafka_protocol::ResponseError;

use brook_broker::CommitError;

use super::{decode, encode, Api, Ctx, HandlerFuture};
use crate::error::{code, group_error_code};

pub const API: Api = Api {
    key: ApiKey::DeleteGroups,
    name: "DeleteGroups",
    min_version: 0,
    max_version: 2,
    handler,
};

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: DeleteGroupsRequest = decode(body, "DeleteGroupsRequest", version)?;
        let mut results = Vec::with_capacity(request.groups_names.len());
        for id in request.groups_names {
            let error = match ctx
                .broker
                .kafka_groups()
                .delete_group(ctx.broker.meta(), &id.0)
                .await
            {
                Ok(()) => None,
                Err(CommitError::Group(e)) => Some(group_error_code(e)),
                Err(CommitError::Meta(error)) => {
                    tracing::warn!(%error, "group deletion failed");
                    Some(ResponseError::KafkaStorageError)
                }
            };
            results.push(
                DeletableGroupResult::default()
                    .with_group_id(id)
                    .with_error_code(code(error)),
            );
        }
        encode(
            &DeleteGroupsResponse::default().with_results(results),
            "DeleteGroupsResponse",
            version,
        )
    })
}
