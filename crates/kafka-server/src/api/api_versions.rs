//! ApiVersions: the versions of every API in [`super::APIS`], nothing else.

use bytes::Bytes;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader};
use kafka_protocol::ResponseError;

use super::{decode, encode, Api, Ctx, HandlerFuture, Reply, APIS};
use crate::error::ConnError;

pub const API: Api = Api {
    key: ApiKey::ApiVersions,
    name: "ApiVersions",
    min_version: 0,
    max_version: 3,
    handler,
};

fn handler<'a>(_ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let _request: ApiVersionsRequest = decode(body, "ApiVersionsRequest", version)?;
        encode(&response(0), "ApiVersionsResponse", version)
    })
}

/// The response: `error_code` and the table's versions.
pub fn response(error_code: i16) -> ApiVersionsResponse {
    let api_keys = APIS
        .iter()
        .map(|api| {
            ApiVersion::default()
                .with_api_key(api.key as i16)
                .with_min_version(api.min_version)
                .with_max_version(api.max_version)
        })
        .collect();
    ApiVersionsResponse::default()
        .with_error_code(error_code)
        .with_api_keys(api_keys)
}

/// The v0 body answering an ApiVersions request of a version Brook does not serve:
/// UNSUPPORTED_VERSION plus the versions it does, so the client can downgrade.
pub fn unsupported_version_body() -> Result<Bytes, ConnError> {
    match encode(
        &response(ResponseError::UnsupportedVersion.code()),
        "ApiVersionsResponse",
        0,
    )? {
        Reply::Body(body) => Ok(body.into_body()),
        Reply::None | Reply::Later(_) => Ok(Bytes::new()),
    }
}
