//! DescribeGroups: state, protocol and members of each group. A group with only
//! committed offsets is `Empty`; one Brook knows nothing about is `Dead` (v6+:
//! GROUP_ID_NOT_FOUND, as Kafka 4 answers).

use bytes::Bytes;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{
    ApiKey, DescribeGroupsRequest, DescribeGroupsResponse, RequestHeader,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{decode, encode, Api, Ctx, HandlerFuture};

pub const API: Api = Api {
    key: ApiKey::DescribeGroups,
    name: "DescribeGroups",
    min_version: 0,
    max_version: 6,
    handler,
};

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: DescribeGroupsRequest = decode(body, "DescribeGroupsRequest", version)?;
        let groups = request
            .groups
            .into_iter()
            .map(|id| {
                let described = DescribedGroup::default()
                    .with_group_id(id.clone())
                    .with_authorized_operations(i32::MIN);
                match ctx.broker.kafka_groups().describe(&id.0) {
                    Some(g) => described
                        .with_group_state(StrBytes::from_static_str(g.state.as_str()))
                        .with_protocol_type(StrBytes::from_string(g.protocol_type))
                        .with_protocol_data(StrBytes::from_string(g.protocol_name))
                        .with_members(
                            g.members
                                .into_iter()
                                .map(|m| {
                                    DescribedGroupMember::default()
                                        .with_member_id(StrBytes::from_string(m.member_id))
                                        .with_group_instance_id(
                                            m.group_instance_id.map(StrBytes::from_string),
                                        )
                                        .with_client_id(StrBytes::from_string(m.client_id))
                                        .with_client_host(StrBytes::from_string(m.client_host))
                                        .with_member_metadata(m.metadata)
                                        .with_member_assignment(m.assignment)
                                })
                                .collect(),
                        ),
                    None if !ctx.broker.committed_offsets(&id.0).is_empty() => described
                        .with_group_state(StrBytes::from_static_str("Empty"))
                        .with_protocol_type(StrBytes::from_static_str("consumer")),
                    None if version >= 6 => described
                        .with_error_code(ResponseError::GroupIdNotFound.code())
                        .with_error_message(Some(StrBytes::from_string(format!(
                            "group {} does not exist",
                            &*id.0
                        ))))
                        .with_group_state(StrBytes::from_static_str("Dead")),
                    None => described.with_group_state(StrBytes::from_static_str("Dead")),
                }
            })
            .collect();
        encode(
            &DescribeGroupsResponse::default().with_groups(groups),
            "DescribeGroupsResponse",
            version,
        )
    })
}
