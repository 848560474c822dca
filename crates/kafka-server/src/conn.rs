//! One Kafka connection: read a size-prefixed frame, decode the request header,
//! dispatch through [`crate::api::APIS`], write the response. One request at a time,
//! so responses keep the request order.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable as _, Encodable as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
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
    };
    tracing::debug!(%peer, "kafka connection accepted");
    tokio::pin!(shutdown);
    let result = loop {
        let frame = tokio::select! {
            biased;
            () = &mut shutdown => break Ok(()),
            frame = read_frame(&mut stream) => frame,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        let key = frame.get(..2).map(|k| i16::from_be_bytes([k[0], k[1]]));
        let started = std::time::Instant::now();
        let handled = handle(&ctx, frame).await;
        if let (Some(key), Ok(_)) = (key, &handled) {
            server.observe_request(key, started.elapsed());
        }
        match handled {
            Ok(Some(response)) => {
                if let Err(e) = write_frame(&mut stream, response).await {
                    break Err(e.into());
                }
            }
            Ok(None) => {}
            Err(e) => break Err(e),
        }
    };
    match result {
        Ok(()) => tracing::debug!(%peer, "kafka connection closed"),
        Err(ConnError::Io(error)) => tracing::debug!(%peer, %error, "kafka connection failed"),
        Err(error) => tracing::info!(%peer, %error, "closing kafka connection"),
    }
}

/// Most pieces handed to one `writev`.
const IOVECS_MAX: usize = 64;

/// Writes a response frame's pieces in order, several per system call.
async fn write_frame(stream: &mut TcpStream, frame: Frame) -> std::io::Result<()> {
    if let [one] = frame.parts.as_slice() {
        return stream.write_all(one).await;
    }
    let mut parts: std::collections::VecDeque<Bytes> = frame.parts.into();
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
        while parts.front().is_some_and(Bytes::is_empty) {
            parts.pop_front();
        }
    }
    Ok(())
}

/// Reads one request frame; `None` at a clean end of stream.
async fn read_frame(stream: &mut TcpStream) -> Result<Option<Bytes>, ConnError> {
    let mut size = [0u8; 4];
    match stream.read_exact(&mut size).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = i32::from_be_bytes(size);
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| (REQUEST_BYTES_MIN..=FRAME_BYTES_MAX).contains(&l))
        .ok_or(ConnError::FrameSize {
            len: i64::from(len),
            max: FRAME_BYTES_MAX,
        })?;
    // Grow with the bytes that actually arrive, not with the announced size.
    let mut buf = Vec::with_capacity(len.min(64 * 1024));
    let read = (&mut *stream)
        .take(len as u64)
        .read_to_end(&mut buf)
        .await?;
    if read < len {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
    }
    Ok(Some(Bytes::from(buf)))
}

/// Handles one request frame; returns the response frame (size prefix included), or
/// `None` when the request gets no response (Produce with acks=0).
pub async fn handle(ctx: &Ctx, mut frame: Bytes) -> Result<Option<Frame>, ConnError> {
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
            return Ok(Some(Frame {
                parts: vec![response_frame(correlation_id, 0, &body)?],
            }));
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
    match reply {
        Reply::None => Ok(None),
        Reply::Body(framed) => {
            let response_header_version = api_key.response_header_version(version);
            let prefix = frame_prefix(correlation_id, response_header_version, framed.body_len())?;
            match framed.finish(&prefix) {
                Some(frame) => Ok(Some(frame)),
                None => Err(ConnError::Encode {
                    what: "response header",
                    version: response_header_version,
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
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let encode_error = |e: anyhow::Error| ConnError::Encode {
        what: "response header",
        version: header_version,
        message: format!("{e:#}"),
    };
    let header_len = header.compute_size(header_version).map_err(encode_error)?;
    let total = header_len + body.len();
    let size = i32::try_from(total).map_err(|_| ConnError::Encode {
        what: "response",
        version: header_version,
        message: format!("{total} bytes is too large"),
    })?;
    let mut out = BytesMut::with_capacity(4 + total);
    out.put_i32(size);
    header
        .encode(&mut out, header_version)
        .map_err(encode_error)?;
    out.put_slice(body);
    Ok(out.freeze())
}
