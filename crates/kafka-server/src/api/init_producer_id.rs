//! InitProducerId: a producer ID and epoch for an idempotent producer (see
//! [`crate::idempotence`]). A producer that sends its current ID and epoch (v3+,
//! KIP-360, after a sequence error) gets the next epoch. Transactional IDs are
//! refused: Brook has no transactions (see docs/mapping.md).

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, InitProducerIdRequest, InitProducerIdResponse, ProducerId, RequestHeader,
};
use kafka_protocol::ResponseError;

use super::{decode, encode, Api, Ctx, HandlerFuture};

pub const API: Api = Api {
    key: ApiKey::InitProducerId,
    name: "InitProducerId",
    min_version: 0,
    max_version: 5,
    handler,
};

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: InitProducerIdRequest = decode(body, "InitProducerIdRequest", version)?;
        let response = InitProducerIdResponse::default()
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        let response = if request.transactional_id.is_some() {
            response.with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code())
        } else if request.producer_id.0 >= 0
            && request.producer_epoch >= 0
            && request.producer_epoch < i16::MAX - 1
        {
            response
                .with_producer_id(request.producer_id)
                .with_producer_epoch(request.producer_epoch + 1)
        } else {
            match ctx.idempotence.ids.allocate(&ctx.broker).await {
                Ok(id) => response
                    .with_producer_id(ProducerId(id))
                    .with_producer_epoch(0),
                Err(error) => {
                    tracing::warn!(%error, "cannot allocate a producer ID");
                    response.with_error_code(ResponseError::KafkaStorageError.code())
                }
            }
        };
        encode(&response, "InitProducerIdResponse", version)
    })
}
