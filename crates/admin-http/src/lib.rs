//! Brook's admin HTTP API.
//!
//! | path       | answer                                                                  |
//! |------------|-------------------------------------------------------------------------|
//! | `/healthz` | `200 ok` while the process is serving HTTP at all (liveness)            |
//! | `/readyz`  | `200 ready` once the server says so ([`AdminState::set_ready`]), else 503 |
//! | `/metrics` | Prometheus text exposition format 0.0.4 of [`BrokerStats`] and process info |
//! | other      | `404` with a JSON body `{"error":"..."}`                                |
//!
//! Only `GET` and `HEAD` are accepted (others get `405`). Nothing here reads a
//! request body: a request announcing a body larger than [`REQUEST_BODY_BYTES_MAX`]
//! (or a body of unknown length) is refused with `413`. Request heads are limited to
//! [`REQUEST_HEAD_BYTES_MAX`] bytes and [`REQUEST_HEADERS_MAX`] headers, and must
//! arrive within [`ServeLimits::header_read_timeout`].
//!
//! The crate does no I/O other than on the listener it is given: the server binds
//! it, decides when the broker is ready, and says when to stop.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brook_broker::{Broker, BrokerStats};

pub mod api;
pub mod metrics;
pub mod types;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Body;
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONNECTION, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

/// Largest request head (request line plus headers) accepted, in bytes. Larger
/// heads are answered with `431`. (hyper refuses buffers below 8 KiB.)
pub const REQUEST_HEAD_BYTES_MAX: usize = 16 * 1024;

/// Most headers one request may carry.
pub const REQUEST_HEADERS_MAX: usize = 64;

/// Largest request body accepted. No endpoint takes a body; a small one (some
/// clients send an empty JSON object) is tolerated and ignored.
pub const REQUEST_BODY_BYTES_MAX: u64 = 1024;

/// The Prometheus text exposition format's media type.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the admin endpoints need to answer: the broker, the readiness flag, and
/// when the server started.
pub struct AdminState {
    broker: Arc<Broker>,
    ready: AtomicBool,
    started: Instant,
    version: String,
    listeners: std::sync::Mutex<types::Listeners>,
    sources: std::sync::Mutex<Vec<metrics::Source>>,
    resp_connections: AtomicU64,
    kafka_connections: AtomicU64,
}

/// A protocol whose connections `/v1/status` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Resp,
    Kafka,
}

/// Counts a connection while it lives.
pub struct ConnectionGuard {
    state: Arc<AdminState>,
    protocol: Counted,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.state
            .counter(self.protocol)
            .fetch_sub(1, Ordering::Relaxed);
    }
}

impl AdminState {
    /// A state that is not ready yet; `version` is reported by `brook_build_info`.
    pub fn new(broker: Arc<Broker>, version: impl Into<String>) -> Arc<AdminState> {
        Arc::new(AdminState {
            broker,
            ready: AtomicBool::new(false),
            started: Instant::now(),
            version: version.into(),
            listeners: std::sync::Mutex::default(),
            sources: std::sync::Mutex::default(),
            resp_connections: AtomicU64::new(0),
            kafka_connections: AtomicU64::new(0),
        })
    }

    /// Records the bound listener addresses (`/v1/status`).
    pub fn set_listeners(&self, listeners: types::Listeners) {
        if let Ok(mut l) = self.listeners.lock() {
            *l = listeners;
        }
    }

    /// Adds a front end's metrics to `/metrics`.
    pub fn add_metrics(&self, source: metrics::Source) {
        if let Ok(mut s) = self.sources.lock() {
            s.push(source);
        }
    }

    fn sources(&self) -> Vec<metrics::Source> {
        self.sources.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn listeners(&self) -> types::Listeners {
        self.listeners.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn counter(&self, protocol: Counted) -> &AtomicU64 {
        match protocol {
            Counted::Resp => &self.resp_connections,
            Counted::Kafka => &self.kafka_connections,
        }
    }

    /// Counts a new connection until the guard is dropped.
    pub fn connection(self: &Arc<Self>, protocol: Counted) -> ConnectionGuard {
        self.counter(protocol).fetch_add(1, Ordering::Relaxed);
        ConnectionGuard {
            state: Arc::clone(self),
            protocol,
        }
    }

    pub fn connections(&self) -> types::Connections {
        types::Connections {
            resp: self.resp_connections.load(Ordering::Relaxed),
            kafka: self.kafka_connections.load(Ordering::Relaxed),
        }
    }

    /// Sets what `/readyz` answers: true once the broker is open and every listener
    /// is bound; false again while shutting down.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Limits of one admin HTTP server.
#[derive(Debug, Clone)]
pub struct ServeLimits {
    /// Most connections served at once; further clients wait in the listen backlog.
    pub connections_max: usize,
    /// How long a client may take to send a request head.
    pub header_read_timeout: Duration,
    /// After shutdown is requested, how long open connections may take to finish
    /// their current request before they are closed.
    pub shutdown_grace: Duration,
}

impl Default for ServeLimits {
    fn default() -> ServeLimits {
        ServeLimits {
            connections_max: 64,
            header_read_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Serves the admin API on `listener` until `shutdown` completes, then stops
/// accepting, lets open connections finish within `limits.shutdown_grace`, and
/// returns. Accept errors (e.g. too many open files) are logged and retried.
pub async fn serve<F>(
    listener: TcpListener,
    state: Arc<AdminState>,
    limits: ServeLimits,
    shutdown: F,
) where
    F: Future<Output = ()>,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(limits.connections_max.max(1)));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "admin http: accept failed; retrying in 100ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        connections.spawn(serve_connection(
            stream,
            peer,
            Arc::clone(&state),
            limits.clone(),
            stop_rx.clone(),
            permit,
        ));
    }
    drop(listener);
    // Receivers only wait for `true`; a send error means none is left.
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "admin http: shutdown grace period over; closing connections"
        );
        connections.shutdown().await;
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<AdminState>,
    limits: ServeLimits,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
        let state = Arc::clone(&state);
        async move { Ok::<_, Infallible>(handle(&state, request).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(REQUEST_HEAD_BYTES_MAX)
        .max_headers(REQUEST_HEADERS_MAX);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = async { stop.wait_for(|stop| *stop).await.map(|_| ()) } => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "admin http: connection ended with an error");
    }
}

/// Answers one request: `/v1/...` through [`api`] (reading a body of at most
/// [`api::BODY_BYTES_MAX`]), everything else through [`respond`].
pub async fn handle(
    state: &AdminState,
    request: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let Some(segments) = api::segments(request.uri().path()) else {
        return respond(state, &request);
    };
    let query = api::query(request.uri().query());
    let method = request.method().clone();
    let limited = http_body_util::Limited::new(request.into_body(), api::BODY_BYTES_MAX);
    let body = match http_body_util::BodyExt::collect(limited).await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            let too_large = error
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            let (status, message) = if too_large {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request body larger than {} bytes", api::BODY_BYTES_MAX),
                )
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the request body: {error}"),
                )
            };
            let mut response = api::error_response(status, &message);
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
    };
    api::handle(api::Call {
        state,
        method,
        segments,
        query,
        body,
    })
    .await
}

/// Answers a request outside `/v1`. Pure apart from reading the broker's stats.
pub fn respond<B: Body>(state: &AdminState, request: &Request<B>) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    let known = matches!(path, "/healthz" | "/readyz" | "/metrics" | "/v1");
    if !known {
        return json_error(StatusCode::NOT_FOUND, &format!("no such endpoint: {path}"));
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("method {} not allowed on {path}", request.method()),
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let body_fits = request
        .body()
        .size_hint()
        .upper()
        .is_some_and(|upper| upper <= REQUEST_BODY_BYTES_MAX);
    if !body_fits {
        let mut response = json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body larger than {REQUEST_BODY_BYTES_MAX} bytes"),
        );
        // The body is never read, so the connection cannot be reused.
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    match path {
        "/v1" => text(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            "brook admin API: see docs/admin-api.md".into(),
        ),
        "/healthz" => text(StatusCode::OK, "text/plain; charset=utf-8", "ok".into()),
        "/readyz" if state.is_ready() => {
            text(StatusCode::OK, "text/plain; charset=utf-8", "ready".into())
        }
        "/readyz" => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            "not ready".into(),
        ),
        _ => {
            let mut body = render_metrics(&state.broker.stats(), state.uptime(), &state.version);
            metrics::render(state, &mut body);
            text(StatusCode::OK, METRICS_CONTENT_TYPE, body)
        }
    }
}

/// Renders the Prometheus text exposition format (version 0.0.4).
pub fn render_metrics(stats: &BrokerStats, uptime: Duration, version: &str) -> String {
    let mut out = String::with_capacity(2048);
    let mut metric = |name: &str, kind: &str, help: &str, sample: &str| {
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{sample}\n"
        );
    };
    metric(
        "brook_build_info",
        "gauge",
        "Build information of the running brook; the value is always 1.",
        &format!("{{version=\"{}\"}} 1", brook_model::metrics::label(version)),
    );
    metric(
        "brook_uptime_seconds",
        "gauge",
        "Seconds since the server opened the broker.",
        &format!(" {:.3}", uptime.as_secs_f64()),
    );
    metric(
        "brook_topics",
        "gauge",
        "Number of topics.",
        &format!(" {}", stats.topics),
    );
    metric(
        "brook_partitions",
        "gauge",
        "Number of partitions, summed over all topics.",
        &format!(" {}", stats.partitions),
    );
    metric(
        "brook_log_bytes",
        "gauge",
        "Bytes of log data on disk, summed over all partitions.",
        &format!(" {}", stats.log_bytes),
    );
    metric(
        "brook_records_appended_total",
        "counter",
        "Records appended since the broker opened.",
        &format!(" {}", stats.records_appended_total),
    );
    metric(
        "brook_bytes_appended_total",
        "counter",
        "Bytes appended to the log since the broker opened.",
        &format!(" {}", stats.bytes_appended_total),
    );
    metric(
        "brook_fsyncs_total",
        "counter",
        "fsync calls made by the log since the broker opened.",
        &format!(" {}", stats.fsyncs_total),
    );
    metric(
        "brook_expired_keys_total",
        "counter",
        "Streams and strings deleted because their expiry passed, since the broker opened.",
        &format!(" {}", stats.expired_keys_total),
    );
    out
}

/// Encodes `value` as a JSON string literal, quotes included.
fn json_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    text(
        status,
        "application/json",
        format!("{{\"error\":{}}}", json_string(message)),
    )
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use brook_broker::BrokerConfig;
    use http_body_util::BodyExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn state(dir: &tempfile::TempDir) -> Arc<AdminState> {
        let broker = Broker::open(BrokerConfig::new(dir.path())).unwrap();
        AdminState::new(broker, "1.2.3")
    }

    fn get(path: &str) -> Request<Full<Bytes>> {
        Request::get(path).body(Full::new(Bytes::new())).unwrap()
    }

    async fn body_of(response: Response<Full<Bytes>>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn healthz_is_ok_and_readyz_follows_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir);
        let health = respond(&state, &get("/healthz"));
        assert_eq!(health.status(), StatusCode::OK);
        assert_eq!(body_of(health).await, "ok");

        assert_eq!(
            respond(&state, &get("/readyz")).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        state.set_ready(true);
        assert_eq!(respond(&state, &get("/readyz")).status(), StatusCode::OK);
        state.set_ready(false);
        assert_eq!(
            respond(&state, &get("/readyz")).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[tokio::test]
    async fn unknown_path_is_a_json_404_with_the_path_escaped() {
        let dir = tempfile::tempdir().unwrap();
        let response = respond(&state(&dir), &get("/nope%22x?a=1"));
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            response.headers().get(CONTENT_TYPE).unwrap(),
            "application/json"
        );
        assert_eq!(
            body_of(response).await,
            r#"{"error":"no such endpoint: /nope%22x"}"#
        );
        assert_eq!(json_string("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\u0001""#);
    }

    #[tokio::test]
    async fn wrong_method_and_large_body_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir);
        let post = Request::post("/metrics")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = respond(&state, &post);
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers().get(ALLOW).unwrap(), "GET, HEAD");

        let big = Request::get("/healthz")
            .body(Full::new(Bytes::from(vec![
                b'x';
                REQUEST_BODY_BYTES_MAX as usize
                    + 1
            ])))
            .unwrap();
        assert_eq!(
            respond(&state, &big).status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let small = Request::get("/healthz")
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap();
        assert_eq!(respond(&state, &small).status(), StatusCode::OK);
    }

    #[test]
    fn metrics_render_every_stat_with_help_and_type() {
        let stats = BrokerStats {
            topics: 3,
            partitions: 7,
            log_bytes: 4096,
            records_appended_total: 11,
            bytes_appended_total: 2048,
            fsyncs_total: 5,
            expired_keys_total: 2,
        };
        let text = render_metrics(&stats, Duration::from_millis(1500), "0.1.0\"x");
        for (name, kind, value) in [
            ("brook_topics", "gauge", "3"),
            ("brook_partitions", "gauge", "7"),
            ("brook_log_bytes", "gauge", "4096"),
            ("brook_records_appended_total", "counter", "11"),
            ("brook_bytes_appended_total", "counter", "2048"),
            ("brook_fsyncs_total", "counter", "5"),
            ("brook_expired_keys_total", "counter", "2"),
            ("brook_uptime_seconds", "gauge", "1.500"),
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}: {text}");
            assert!(text.contains(&format!("# TYPE {name} {kind}\n")), "{name}");
            assert!(text.contains(&format!("\n{name} {value}\n")), "{name}");
        }
        assert!(text.contains("\nbrook_build_info{version=\"0.1.0\\\"x\"} 1\n"));
        assert!(text.ends_with('\n'));
        // Every sample line is preceded by its own HELP and TYPE.
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 9 * 3);
        for chunk in lines.chunks(3) {
            assert!(chunk[0].starts_with("# HELP "));
            assert!(chunk[1].starts_with("# TYPE "));
            assert!(!chunk[2].starts_with('#'));
        }
    }

    async fn raw_request(addr: SocketAddr, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
            .await
            .unwrap()
            .unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn serves_over_tcp_limits_heads_and_stops_on_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            Arc::clone(&state),
            ServeLimits::default(),
            async move {
                let _ = stop_rx.await;
            },
        ));

        let metrics = raw_request(
            addr,
            b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
        .await;
        assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics}");
        assert!(metrics.contains("content-type: text/plain; version=0.0.4"));
        assert!(metrics.contains("# TYPE brook_topics gauge\nbrook_topics 0\n"));

        let huge_header = format!(
            "GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
            "a".repeat(REQUEST_HEAD_BYTES_MAX * 2)
        );
        let refused = raw_request(addr, huge_header.as_bytes()).await;
        assert!(
            refused.starts_with("HTTP/1.1 431"),
            "oversized head answered with {refused:?}"
        );

        stop_tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .unwrap()
            .unwrap();
        assert!(TcpStream::connect(addr).await.is_err());
    }
}
