//! One Kafka connection: read a size-prefixed frame, decode the request header,
//! dispatch through [`crate::api::APIS`], write the response. Requests are handled in
//! order, one at a time, except that a Produce waiting for its records to become
//! durable does not hold up the Produce requests behind it (their appends follow in
//! order; up to [`PIPELINE_MAX`] wait together); responses always leave in request
//! order.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use futures_util::stream::{FuturesOrdered, StreamExt as _};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable as _, Encodable as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;

use crate::api::{self, Ctx, Frame, Reply};
use crate::error::ConnError;
use crate::{KafkaServer, FRAME_BYTES_MAX};

/// Smallest request: api key, version, correlation id, client id length.
const REQUEST_BYTES_MIN: usize = 10;

pub async fn serve<F>(
    server: Arc<KafkaServer>,
    mut stream: TcpStream,
    peer: SocketAddr,
    shutdown: F,
) where
    F: Future<Output = ()> + Send,
{
    // `--kafka-advertise` if given; otherwise the address this client connected to,
    // which it can reach by definition (also when listening on 0.0.0.0).
    let advertised = server.advertise.clone().unwrap_or_else(|| {
        let local = stream
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 9092)));
        crate::api::Advertised {
            host: local.ip().to_string(),
            port: local.port(),
        }
    });
    let ctx = Ctx {
        broker: Arc::clone(&server.broker),
        advertised,
        peer,
        idempotence: Arc::clone(&server.idempotence),
        stopping: Arc::clone(&server.stopping),
        auto_create_topics: server.auto_create_topics,
        topic_ids: Default::default(),
        read_ahead: Arc::new(crate::read_ahead::ReadAhead::new(Arc::clone(
            &server.read_ahead_budget,
        ))),
    };
    tracing::debug!(%peer, "kafka connection accepted");
    tokio::pin!(shutdown);
    let (mut rd, mut wr) = stream.split();
    let mut reader = FrameReader::default();
    // Produce responses waiting for their records to be durable, in request order.
    let mut pending: FuturesOrdered<LaterFrame> = FuturesOrdered::new();
    let result = loop {
        tokio::select! {
            biased;
            // Produce requests already appended still get their responses.
            () = &mut shutdown => break drain(&mut wr, &mut pending).await,
            done = pending.next(), if !pending.is_empty() => {
                if let Err(e) = write_done(&mut wr, done).await {
                    break Err(e);
                }
            }
            frame = reader.next(&mut rd), if pending.len() < PIPELINE_MAX => {
                let frame = match frame {
                    Ok(Some(frame)) => frame,
                    // Produce requests already appended still get their responses
                    // (a client that half-closes after its last request, or sends a
                    // bad frame after good ones).
                    Ok(None) => break drain(&mut wr, &mut pending).await,
                    Err(e) => break drain(&mut wr, &mut pending).await.and(Err(e)),
                };
                let key = frame.get(..2).map(|k| i16::from_be_bytes([k[0], k[1]]));
                if key != Some(ApiKey::Produce as i16) {
                    // Only Produce requests overlap: anything else sees every earlier
                    // request finished and answered, as on a Kafka broker.
                    if let Err(e) = drain(&mut wr, &mut pending).await {
                        break Err(e);
                    }
                }
                let started = std::time::Instant::now();
                match handle(&ctx, frame).await {
                    Ok(Handled::Now(response)) => {
                        if let Some(key) = key {
                            server.observe_request(key, started.elapsed());
                        }
                        if pending.is_empty() {
                            if let Err(e) = write_done(&mut wr, Some(Ok(response))).await {
                                break Err(e);
                            }
                        } else {
                            pending.push_back(Box::pin(std::future::ready(Ok(response))));
                        }
                    }
                    Ok(Handled::Later(later)) => {
                        let server = Arc::clone(&server);
                        pending.push_back(Box::pin(async move {
                            let response = later.await;
                            if let (Some(key), Ok(_)) = (key, &response) {
                                server.observe_request(key, started.elapsed());
                            }
                            response
                        }));
                    }
                    Err(e) => break drain(&mut wr, &mut pending).await.and(Err(e)),
                }
            }
        }
    };
    match result {
        Ok(()) => tracing::debug!(%peer, "kafka connection closed"),
        Err(ConnError::Io(error)) => tracing::debug!(%peer, %error, "kafka connection failed"),
        Err(error) => tracing::info!(%peer, %error, "closing kafka connection"),
    }
}

/// Produce requests a connection may have waiting for durability while it reads and
/// appends the next ones (librdkafka keeps up to 5 in flight by default, and with
/// `enable.idempotence` at most 5).
pub const PIPELINE_MAX: usize = 8;

/// A response still being worked out (a Produce waiting for durability).
pub type LaterFrame = Pin<Box<dyn Future<Output = Result<Option<Frame>, ConnError>> + Send>>;

/// Writes the outcome of a finished request (nothing for `None` or a request without
/// a response); an error ends the connection.
async fn write_done(
    wr: &mut WriteHalf<'_>,
    done: Option<Result<Option<Frame>, ConnError>>,
) -> Result<(), ConnError> {
    match done {
        Some(Ok(Some(frame))) => Ok(write_frame(wr, frame).await?),
        Some(Err(e)) => Err(e),
        Some(Ok(None)) | None => Ok(()),
    }
}

/// Finishes and writes every pending response, in order.
async fn drain(
    wr: &mut WriteHalf<'_>,
    pending: &mut FuturesOrdered<LaterFrame>,
) -> Result<(), ConnError> {
    while let Some(done) = pending.next().await {
        write_done(wr, Some(done)).await?;
    }
    Ok(())
}

/// Reads size-prefixed request frames. Cancel safe: bytes read stay in the buffer,
/// so the connection can wait for a frame and for pending responses at once.
#[derive(Debug, Default)]
struct FrameReader {
    buf: BytesMut,
}

/// Most bytes reserved ahead of need at a time: a frame's buffer is allocated for its
/// announced size up to this much (so a typical batch is read without reallocation),
/// and beyond it grows with the bytes that arrive (a client announcing 100 MiB and
/// sending nothing costs 1 MiB, not 100).
const READ_STEP: usize = 1024 * 1024;

impl FrameReader {
    /// The next frame; `None` at a clean end of stream.
    async fn next(&mut self, rd: &mut ReadHalf<'_>) -> Result<Option<Bytes>, ConnError> {
        loop {
            let missing = match self.buf.get(..4) {
                Some(size) => {
                    let len = i32::from_be_bytes([size[0], size[1], size[2], size[3]]);
                    let len = usize::try_from(len)
                        .ok()
                        .filter(|&l| (REQUEST_BYTES_MIN..=FRAME_BYTES_MAX).contains(&l))
                        .ok_or(ConnError::FrameSize {
                            len: i64::from(len),
                            max: FRAME_BYTES_MAX,
                        })?;
                    if self.buf.len() >= 4 + len {
                        self.buf.advance(4);
                        return Ok(Some(self.buf.split_to(len).freeze()));
                    }
                    4 + len - self.buf.len()
                }
                None => 4 - self.buf.len(),
            };
            self.buf.reserve(missing.clamp(4, READ_STEP));
            if rd.read_buf(&mut self.buf).await? == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
        }
    }
}

/// Most pieces handed to one `writev`.
const IOVECS_MAX: usize = 64;

/// Writes a response frame's pieces in order, several per system call.
async fn write_frame(stream: &mut WriteHalf<'_>, frame: Frame) -> std::io::Result<()> {
    if let [one] = frame.parts.as_slice() {
        return stream.write_all(one).await;
    }
    let mut parts: std::collections::VecDeque<Bytes> =
        frame.parts.into_iter().filter(|p| !p.is_empty()).collect();
    while !parts.is_empty() {
        let slices: Vec<std::io::IoSlice<'_>> = parts
            .iter()
            .take(IOVECS_MAX)
            .map(|p| std::io::IoSlice::new(p))
            .collect();
        let mut written = stream.write_vectored(&slices).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while written > 0 {
            let Some(front) = parts.front_mut() else {
                break;
            };
            if written >= front.len() {
                written -= front.len();
                parts.pop_front();
            } else {
                front.advance(written);
                written = 0;
            }
        }
    }
    Ok(())
}

/// What handling a request gave: the response frame (size prefix included) or `None`
/// when the request gets no response (Produce with acks=0), now or later.
pub enum Handled {
    Now(Option<Frame>),
    /// The request did what must happen in order (a Produce appended its records);
    /// the response follows once this completes.
    Later(LaterFrame),
}

/// Handles one request frame.
pub async fn handle(ctx: &Ctx, mut frame: Bytes) -> Result<Handled, ConnError> {
    let (key, version, correlation_id) = match frame.get(..8) {
        Some(h) => (
            i16::from_be_bytes([h[0], h[1]]),
            i16::from_be_bytes([h[2], h[3]]),
            i32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        ),
        None => {
            return Err(ConnError::FrameSize {
                len: frame.len() as i64,
                max: FRAME_BYTES_MAX,
            })
        }
    };
    let api_key = ApiKey::try_from(key).map_err(|()| ConnError::UnknownApi(key))?;
    let Some(entry) = api::lookup(api_key) else {
        return Err(ConnError::UnknownApi(key));
    };
    if !(entry.min_version..=entry.max_version).contains(&version) {
        if api_key == ApiKey::ApiVersions {
            // Answer in v0 so the client can pick a version we serve.
            let body = api::api_versions::unsupported_version_body()?;
            return Ok(Handled::Now(Some(Frame {
                parts: vec![response_frame(correlation_id, 0, &body)?],
            })));
        }
        return Err(ConnError::UnsupportedVersion {
            api: entry.name,
            version,
        });
    }
    let header_version = api_key.request_header_version(version);
    let header =
        RequestHeader::decode(&mut frame, header_version).map_err(|e| ConnError::Decode {
            what: "request header",
            version: header_version,
            message: format!("{e:#}"),
        })?;
    let reply = (entry.handler)(ctx, &header, frame).await?;
    let response_header_version = api_key.response_header_version(version);
    match reply {
        Reply::Later(later) => Ok(Handled::Later(Box::pin(async move {
            finish(later.await?, correlation_id, response_header_version)
        }))),
        reply => Ok(Handled::Now(finish(
            reply,
            correlation_id,
            response_header_version,
        )?)),
    }
}

/// The response frame for a handler's reply.
fn finish(
    reply: Reply,
    correlation_id: i32,
    header_version: i16,
) -> Result<Option<Frame>, ConnError> {
    match reply {
        Reply::None => Ok(None),
        Reply::Later(_) => Err(ConnError::Encode {
            what: "response",
            version: header_version,
            message: "a deferred reply deferred again".to_string(),
        }),
        Reply::Body(framed) => {
            let prefix = frame_prefix(correlation_id, header_version, framed.body_len())?;
            match framed.finish(&prefix) {
                Some(frame) => Ok(Some(frame)),
                None => Err(ConnError::Encode {
                    what: "response header",
                    version: header_version,
                    message: format!("{} bytes do not fit the headroom", prefix.len()),
                }),
            }
        }
    }
}

/// The frame size and response header for a body of `body_len` bytes.
fn frame_prefix(
    correlation_id: i32,
    header_version: i16,
    body_len: usize,
) -> Result<BytesMut, ConnError> {
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let encode_error = |e: anyhow::Error| ConnError::Encode {
        what: "response header",
        version: header_version,
        message: format!("{e:#}"),
    };
    let header_len = header.compute_size(header_version).map_err(encode_error)?;
    let total = header_len + body_len;
    let size = i32::try_from(total).map_err(|_| ConnError::Encode {
        what: "response",
        version: header_version,
        message: format!("{total} bytes is too large"),
    })?;
    let mut out = BytesMut::with_capacity(4 + header_len);
    out.put_i32(size);
    header
        .encode(&mut out, header_version)
        .map_err(encode_error)?;
    Ok(out)
}

fn response_frame(
    correlation_id: i32,
    header_version: i16,
    body: &[u8],
) -> Result<Bytes, ConnError> {
    let mut out = frame_prefix(correlation_id, header_version, body.len())?;
    out.put_slice(body);
    Ok(out.freeze())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::testing;
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{
        list_offsets_request, ListOffsetsRequest, ListOffsetsResponse, ProduceRequest,
        ProduceResponse, TopicName,
    };
    use kafka_protocol::protocol::StrBytes;
    use tokio::net::TcpListener;

    /// An uncompressed RecordBatch v2 of `count` records `k`/`v`.
    fn batch(count: i32) -> Bytes {
        let mut b = vec![0u8; 61];
        b[16] = 2;
        b[23..27].copy_from_slice(&(count - 1).to_be_bytes());
        b[43..51].copy_from_slice(&(-1i64).to_be_bytes());
        b[57..61].copy_from_slice(&count.to_be_bytes());
        for i in 0..count {
            // length 8, attributes, timestamp delta 0, offset delta i, key "k", value "v",
            // no headers (zig-zag varints; i < 64).
            b.extend_from_slice(&[16, 0, 0, (i * 2) as u8, 2, b'k', 2, b'v', 0]);
        }
        let len = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        Bytes::from(b)
    }

    fn frame<T: kafka_protocol::protocol::Encodable>(
        key: ApiKey,
        version: i16,
        correlation_id: i32,
        body: &T,
    ) -> Vec<u8> {
        let header = kafka_protocol::messages::RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id);
        let mut buf = BytesMut::new();
        header
            .encode(&mut buf, key.request_header_version(version))
            .unwrap();
        body.encode(&mut buf, version).unwrap();
        let mut out = (buf.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(&buf);
        out
    }

    /// An acks=-1 Produce of `count` records to partition 0 of `topic`.
    fn produce(topic: &TopicName, count: i32) -> ProduceRequest {
        ProduceRequest::default()
            .with_acks(-1)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic.clone())
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(batch(count)))])])
    }

    async fn response(stream: &mut TcpStream) -> (i32, Bytes) {
        let mut size = [0u8; 4];
        stream.read_exact(&mut size).await.unwrap();
        let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
        stream.read_exact(&mut body).await.unwrap();
        let mut body = Bytes::from(body);
        let correlation_id = i32::from_be_bytes(body[..4].try_into().unwrap());
        body.advance(4);
        (correlation_id, body)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipelined_produce_requests_are_appended_and_answered_in_order() {
        let (ctx, _dir) = testing::ctx();
        ctx.broker
            .create_topic(
                brook_broker::TopicKey::new(0, &b"pipelined"[..]),
                brook_broker::TopicSettings::default(),
            )
            .await
            .unwrap();
        let server = KafkaServer::new(Arc::clone(&ctx.broker), None, true);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (stream, peer) = listener.accept().await.unwrap();
            server.serve(stream, peer, std::future::pending()).await;
        });
        let mut client = TcpStream::connect(addr).await.unwrap();

        // Twenty Produce requests of 1..=20 records in one write (acks=-1: each waits
        // for durability), then a ListOffsets that must see all of them.
        let topic = TopicName(StrBytes::from_static_str("pipelined"));
        let mut bytes = Vec::new();
        for i in 1..=20 {
            bytes.extend(frame(ApiKey::Produce, 8, 100 + i, &produce(&topic, i)));
        }
        let list = ListOffsetsRequest::default()
            .with_replica_id(kafka_protocol::messages::BrokerId(-1))
            .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
                .with_name(topic.clone())
                .with_partitions(vec![
                    list_offsets_request::ListOffsetsPartition::default()
                        .with_partition_index(0)
                        .with_timestamp(-1),
                ])]);
        bytes.extend(frame(ApiKey::ListOffsets, 5, 999, &list));
        client.write_all(&bytes).await.unwrap();

        let mut next_offset = 0i64;
        for i in 1..=20 {
            let (correlation_id, mut body) = response(&mut client).await;
            assert_eq!(correlation_id, 100 + i, "responses in request order");
            let produced = ProduceResponse::decode(&mut body, 8).unwrap();
            let p = &produced.responses[0].partition_responses[0];
            assert_eq!((p.error_code, p.base_offset), (0, next_offset));
            next_offset += i64::from(i);
        }
        let (correlation_id, mut body) = response(&mut client).await;
        assert_eq!(correlation_id, 999);
        let listed = ListOffsetsResponse::decode(&mut body, 5).unwrap();
        assert_eq!(listed.topics[0].partitions[0].offset, next_offset);
        assert_eq!(next_offset, 210);

        // Appended Produce requests are answered even when a bad request follows
        // them: the connection closes after their responses, not before.
        let produce = produce(&topic, 3);
        let mut bytes = frame(ApiKey::Produce, 8, 1, &produce);
        bytes.extend(frame(ApiKey::Produce, 8, 2, &produce));
        // Produce v99: unsupported, which closes the connection.
        bytes.extend_from_slice(&[0, 0, 0, 10, 0, 0, 0, 99, 0, 0, 0, 3, 0xff, 0xff]);
        client.write_all(&bytes).await.unwrap();
        for (correlation_id, base) in [(1, 210), (2, 213)] {
            let (got, mut body) = response(&mut client).await;
            assert_eq!(got, correlation_id);
            let produced = ProduceResponse::decode(&mut body, 8).unwrap();
            assert_eq!(
                produced.responses[0].partition_responses[0].base_offset,
                base
            );
        }
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "closed after the responses");
    }
}
