//! FindCoordinator: Brook is its own group coordinator. Group keys (type 0) get this
//! broker; transaction keys (type 1) are refused, as Brook has no transactions.

use bytes::Bytes;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{
    ApiKey, BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, RequestHeader,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{decode, encode, Api, Ctx, HandlerFuture};
use crate::error::code;

pub const API: Api = Api {
    key: ApiKey::FindCoordinator,
    name: "FindCoordinator",
    min_version: 0,
    max_version: 6,
    handler,
};

const KEY_TYPE_GROUP: i8 = 0;

/// `(error, node, host, port, message)` for one key.
fn lookup(ctx: &Ctx, key_type: i8) -> (Option<ResponseError>, i32, String, i32, Option<String>) {
    if key_type == KEY_TYPE_GROUP {
        (
            None,
            crate::NODE_ID,
            ctx.advertised.host.clone(),
            i32::from(ctx.advertised.port),
            None,
        )
    } else {
        (
            Some(ResponseError::CoordinatorNotAvailable),
            -1,
            String::new(),
            -1,
            Some(format!(
                "brook coordinates consumer groups only (key type {KEY_TYPE_GROUP}), not key type {key_type}"
            )),
        )
    }
}

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: FindCoordinatorRequest = decode(body, "FindCoordinatorRequest", version)?;
        let mut response = FindCoordinatorResponse::default();
        if version < 4 {
            let (error, node, host, port, message) = lookup(ctx, request.key_type);
            response = response
                .with_error_code(code(error))
                .with_error_message(message.map(StrBytes::from_string))
                .with_node_id(BrokerId(node))
                .with_host(StrBytes::from_string(host))
                .with_port(port);
        } else {
            let coordinators = request
                .coordinator_keys
                .into_iter()
                .map(|key| {
                    let (error, node, host, port, message) = lookup(ctx, request.key_type);
                    Coordinator::default()
                        .with_key(key)
                        .with_node_id(BrokerId(node))
                        .with_host(StrBytes::from_string(host))
                        .with_port(port)
                        .with_error_code(code(error))
                        .with_error_message(message.map(StrBytes::from_string))
                })
                .collect();
            response = response.with_coordinators(coordinators);
        }
        encode(&response, "FindCoordinatorResponse", version)
    })
}
