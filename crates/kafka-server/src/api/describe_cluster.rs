//! DescribeCluster: one broker (node 0, the advertised address), which is also the
//! controller, and the cluster ID. Brook is a broker endpoint: asking it for
//! controllers is `MISMATCHED_ENDPOINT_TYPE`. Authorized operations are not reported
//! (Brook has no ACLs), as in Metadata.

use bytes::Bytes;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{
    ApiKey, BrokerId, DescribeClusterRequest, DescribeClusterResponse, RequestHeader,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{decode, encode, Api, Ctx, HandlerFuture};
use crate::{CLUSTER_ID, NODE_ID};

pub const API: Api = Api {
    key: ApiKey::DescribeCluster,
    name: "DescribeCluster",
    min_version: 0,
    max_version: 2,
    handler,
};

/// Kafka's `EndpointType`.
const ENDPOINT_BROKER: i8 = 1;
const ENDPOINT_CONTROLLER: i8 = 2;

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: DescribeClusterRequest = decode(body, "DescribeClusterRequest", version)?;
        let response = match request.endpoint_type {
            ENDPOINT_BROKER => {
                let broker = DescribeClusterBroker::default()
                    .with_broker_id(BrokerId(NODE_ID))
                    .with_host(StrBytes::from_string(ctx.advertised.host.clone()))
                    .with_port(i32::from(ctx.advertised.port))
                    .with_rack(None);
                DescribeClusterResponse::default()
                    .with_cluster_id(StrBytes::from_static_str(CLUSTER_ID))
                    .with_controller_id(BrokerId(NODE_ID))
                    .with_brokers(vec![broker])
            }
            ENDPOINT_CONTROLLER => DescribeClusterResponse::default()
                .with_error_code(ResponseError::MismatchedEndpointType.code())
                .with_error_message(Some(StrBytes::from_static_str(
                    "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER",
                ))),
            other => DescribeClusterResponse::default()
                .with_error_code(ResponseError::UnsupportedEndpointType.code())
                .with_error_message(Some(StrBytes::from_string(format!(
                    "Unsupported endpoint type {other}"
                )))),
        };
        encode(&response, "DescribeClusterResponse", version)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::testing::{call, ctx, versions};

    #[tokio::test]
    async fn one_broker_that_is_the_controller_in_every_version() {
        let (ctx, _dir) = ctx();
        for version in versions(ApiKey::DescribeCluster) {
            let request = DescribeClusterRequest::default();
            let r: DescribeClusterResponse =
                call(&ctx, ApiKey::DescribeCluster, version, &request).await;
            assert_eq!(r.error_code, 0);
            assert_eq!(&*r.cluster_id, CLUSTER_ID);
            assert_eq!(r.controller_id, BrokerId(NODE_ID));
            assert_eq!(r.brokers.len(), 1);
            let b = &r.brokers[0];
            assert_eq!(
                (b.broker_id, &*b.host, b.port),
                (BrokerId(NODE_ID), "127.0.0.1", 9092)
            );
            assert!(!b.is_fenced);
        }
        let request = DescribeClusterRequest::default().with_endpoint_type(ENDPOINT_CONTROLLER);
        let r: DescribeClusterResponse = call(&ctx, ApiKey::DescribeCluster, 1, &request).await;
        assert_eq!(r.error_code, ResponseError::MismatchedEndpointType.code());
        assert!(r.brokers.is_empty());
        let request = DescribeClusterRequest::default().with_endpoint_type(9);
        let r: DescribeClusterResponse = call(&ctx, ApiKey::DescribeCluster, 2, &request).await;
        assert_eq!(r.error_code, ResponseError::UnsupportedEndpointType.code());
    }
}
