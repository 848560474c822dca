//! LeaveGroup: v0–2 name one member; v3+ a list, static members by instance ID.

use bytes::Bytes;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{ApiKey, LeaveGroupRequest, LeaveGroupResponse, RequestHeader};

use brook_broker::Leaving;

use super::{decode, encode, Api, Ctx, HandlerFuture};
use crate::error::{group_code, group_error_code};

pub const API: Api = Api {
    key: ApiKey::LeaveGroup,
    name: "LeaveGroup",
    min_version: 0,
    max_version: 5,
    handler,
};

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: LeaveGroupRequest = decode(body, "LeaveGroupRequest", version)?;
        let groups = ctx.broker.kafka_groups();
        let response = if version < 3 {
            let leaving = [Leaving {
                member_id: request.member_id.to_string(),
                group_instance_id: None,
            }];
            let error = match groups.leave(&request.group_id.0, &leaving) {
                Ok(results) => results.into_iter().find_map(Result::err),
                Err(e) => Some(e),
            };
            LeaveGroupResponse::default().with_error_code(group_code(error))
        } else {
            let leaving: Vec<Leaving> = request
                .members
                .iter()
                .map(|m| Leaving {
                    member_id: m.member_id.to_string(),
                    group_instance_id: m.group_instance_id.as_ref().map(ToString::to_string),
                })
                .collect();
            match groups.leave(&request.group_id.0, &leaving) {
                Ok(results) => LeaveGroupResponse::default().with_members(
                    request
                        .members
                        .into_iter()
                        .zip(results)
                        .map(|(m, r)| {
                            MemberResponse::default()
                                .with_member_id(m.member_id)
                                .with_group_instance_id(m.group_instance_id)
                                .with_error_code(group_code(r.err()))
                        })
                        .collect(),
                ),
                Err(e) => LeaveGroupResponse::default().with_error_code(group_error_code(e).code()),
            }
        };
        encode(&response, "LeaveGroupResponse", version)
    })
}
