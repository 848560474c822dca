//! The admin HTTP endpoints of a running server.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;

use crate::util::{command, free_ports, http_get, Server, TIMEOUT};

fn start(dir: &tempfile::TempDir) -> Server {
    let args = free_ports(&dir.path().join("data"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start(command(dir.path(), &args, &[]))
}

#[test]
fn healthz_and_readyz_answer_200() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(&dir);
    let addr = server.http_addr();

    let health = http_get(addr, "/healthz");
    assert_eq!(health.status, 200);
    assert_eq!(health.body, "ok");

    let ready = http_get(addr, "/readyz");
    assert_eq!(ready.status, 200, "{ready:?}");
}

#[test]
fn metrics_are_prometheus_text_with_broker_stats() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(&dir);
    let metrics = http_get(server.http_addr(), "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        metrics.headers
    );
    let body = &metrics.body;
    assert!(body.contains("# TYPE brook_topics gauge\n"), "{body}");
    assert!(body.contains("\nbrook_topics 0\n"), "{body}");
    assert!(
        body.contains("# TYPE brook_records_appended_total counter\n"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE brook_uptime_seconds gauge\n"),
        "{body}"
    );
    let version = format!(
        "brook_build_info{{version=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION")
    );
    assert!(body.contains(&version), "{body}");
}

#[test]
fn unknown_path_is_404_with_a_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(&dir);
    let response = http_get(server.http_addr(), "/no/such/thing");
    assert_eq!(response.status, 404);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert!(
        response.body.starts_with("{\"error\":\"") && response.body.ends_with("\"}"),
        "{:?}",
        response.body
    );
    assert!(
        response.body.contains("/no/such/thing"),
        "{:?}",
        response.body
    );
}

/// The RESP listener answers (the Kafka listener is tested in `kafka_raw`).
#[test]
fn resp_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(&dir);
    let addr = server.addr("resp").unwrap();
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.write_all(b"PING\r\n").unwrap();
    let mut buf = [0u8; 7];
    stream.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");
}
