//! ListGroups: every group with members or committed offsets; v4 filters by state,
//! v5 by type (all Brook's groups are `classic`).

use bytes::Bytes;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{
    ApiKey, GroupId, ListGroupsRequest, ListGroupsResponse, RequestHeader,
};
use kafka_protocol::protocol::StrBytes;

use super::{decode, encode, Api, Ctx, HandlerFuture};

pub const API: Api = Api {
    key: ApiKey::ListGroups,
    name: "ListGroups",
    min_version: 0,
    max_version: 5,
    handler,
};

const GROUP_TYPE: &str = "classic";

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: ListGroupsRequest = decode(body, "ListGroupsRequest", version)?;
        let state_ok = |state: &str| {
            request.states_filter.is_empty()
                || request
                    .states_filter
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(state))
        };
        let type_ok = request.types_filter.is_empty()
            || request
                .types_filter
                .iter()
                .any(|t| t.eq_ignore_ascii_case(GROUP_TYPE));
        let groups = ctx
            .broker
            .kafka_group_list()
            .into_iter()
            .filter(|(_, _, state)| type_ok && state_ok(state.as_str()))
            .map(|(id, protocol_type, state)| {
                ListedGroup::default()
                    .with_group_id(GroupId(StrBytes::from_string(id)))
                    .with_protocol_type(StrBytes::from_string(protocol_type))
                    .with_group_state(StrBytes::from_static_str(state.as_str()))
                    .with_group_type(StrBytes::from_static_str(GROUP_TYPE))
            })
            .collect();
        encode(
            &ListGroupsResponse::default().with_groups(groups),
            "ListGroupsResponse",
            version,
        )
    })
}
