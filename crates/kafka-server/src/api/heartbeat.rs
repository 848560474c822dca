//! Heartbeat: keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to
//! join again.

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, HeartbeatRequest, HeartbeatResponse, RequestHeader};

use super::{decode, encode, Api, Ctx, HandlerFuture};
use crate::error::group_code;

pub const API: Api = Api {
    key: ApiKey::Heartbeat,
    name: "Heartbeat",
    min_version: 0,
    max_version: 4,
    handler,
};

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: HeartbeatRequest = decode(body, "HeartbeatRequest", version)?;
        let result = ctx.broker.kafka_groups().heartbeat(
            &request.group_id.0,
            &request.member_id,
            request.group_instance_id.as_deref(),
            request.generation_id,
        );
        encode(
            &HeartbeatResponse::default().with_error_code(group_code(result.err())),
            "HeartbeatResponse",
            version,
        )
    })
}
