//! SyncGroup: the leader hands in the assignment; followers wait for it.

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestHeader, SyncGroupRequest, SyncGroupResponse};
use kafka_protocol::protocol::StrBytes;

use brook_broker::SyncRequest;

use super::{decode, encode, Api, Ctx, HandlerFuture};
use crate::error::group_code;

pub const API: Api = Api {
    key: ApiKey::SyncGroup,
    name: "SyncGroup",
    min_version: 0,
    max_version: 5,
    handler,
};

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: SyncGroupRequest = decode(body, "SyncGroupRequest", version)?;
        let sync = SyncRequest {
            group_id: request.group_id.0.to_string(),
            generation_id: request.generation_id,
            member_id: request.member_id.to_string(),
            group_instance_id: request.group_instance_id.map(|s| s.to_string()),
            protocol_type: request.protocol_type.map(|s| s.to_string()),
            protocol_name: request.protocol_name.map(|s| s.to_string()),
            assignments: request
                .assignments
                .into_iter()
                // Kept with the member: copies, not views of the request frame.
                .map(|a| {
                    (
                        a.member_id.to_string(),
                        Bytes::copy_from_slice(&a.assignment),
                    )
                })
                .collect(),
        };
        let reply = ctx.broker.kafka_groups().sync(sync).await;
        let response = SyncGroupResponse::default()
            .with_error_code(group_code(reply.error))
            .with_protocol_type(reply.protocol_type.map(StrBytes::from_string))
            .with_protocol_name(reply.protocol_name.map(StrBytes::from_string))
            .with_assignment(reply.assignment);
        encode(&response, "SyncGroupResponse", version)
    })
}
