//! JoinGroup: waits in the coordinator until the rebalance completes (see
//! `brook_groups::kafka`). From v4 a new member first gets MEMBER_ID_REQUIRED with
//! its member ID and joins again with it.

use bytes::Bytes;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{ApiKey, JoinGroupRequest, JoinGroupResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;

use brook_broker::JoinRequest;

use super::{decode, encode, Api, Ctx, HandlerFuture};
use crate::error::group_code;

pub const API: Api = Api {
    key: ApiKey::JoinGroup,
    name: "JoinGroup",
    min_version: 0,
    max_version: 9,
    handler,
};

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: JoinGroupRequest = decode(body, "JoinGroupRequest", version)?;
        let join = JoinRequest {
            group_id: request.group_id.0.to_string(),
            member_id: request.member_id.to_string(),
            group_instance_id: request.group_instance_id.map(|s| s.to_string()),
            client_id: header
                .client_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            client_host: format!("/{}", ctx.peer.ip()),
            session_timeout_ms: request.session_timeout_ms,
            // v0 has no rebalance timeout: the session timeout serves for both.
            rebalance_timeout_ms: if version == 0 {
                request.session_timeout_ms
            } else {
                request.rebalance_timeout_ms
            },
            protocol_type: request.protocol_type.to_string(),
            protocols: request
                .protocols
                .into_iter()
                // Kept with the member: copies, not views of the request frame.
                .map(|p| (p.name.to_string(), Bytes::copy_from_slice(&p.metadata)))
                .collect(),
            require_known_member_id: version >= 4,
        };
        let reply = ctx.broker.kafka_groups().join(join).await;
        let members = reply
            .members
            .into_iter()
            .map(|m| {
                JoinGroupResponseMember::default()
                    .with_member_id(StrBytes::from_string(m.member_id))
                    .with_group_instance_id(m.group_instance_id.map(StrBytes::from_string))
                    .with_metadata(m.metadata)
            })
            .collect();
        let response = JoinGroupResponse::default()
            .with_error_code(group_code(reply.error))
            .with_generation_id(reply.generation_id)
            .with_protocol_type(reply.protocol_type.map(StrBytes::from_string))
            .with_protocol_name(reply.protocol_name.map(StrBytes::from_string))
            .with_leader(StrBytes::from_string(reply.leader))
            .with_member_id(StrBytes::from_string(reply.member_id))
            .with_skip_assignment(version >= 9 && reply.skip_assignment)
            .with_members(members);
        encode(&response, "JoinGroupResponse", version)
    })
}
