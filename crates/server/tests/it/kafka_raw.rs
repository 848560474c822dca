//! The Kafka listener byte by byte: version negotiation and what closes a
//! connection.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};

use crate::util::{free_ports, Server, TIMEOUT};

fn start() -> (Server, SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let args = free_ports(&dir.path().join("data"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(crate::util::command(dir.path(), &args, &[]));
    let addr = server.addr("kafka").expect("kafka listening line");
    (server, addr, dir)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s
}

/// A request frame with header v1 (key, version, correlation ID, client ID "t").
fn request(key: i16, version: i16, correlation_id: i32, body: &[u8]) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(&key.to_be_bytes());
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&correlation_id.to_be_bytes());
    r.extend_from_slice(&1i16.to_be_bytes());
    r.push(b't');
    r.extend_from_slice(body);
    let mut frame = (r.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&r);
    frame
}

fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
    s.read_exact(&mut body).unwrap();
    body
}

fn assert_closed(s: &mut TcpStream) {
    let mut buf = [0u8; 1];
    let read = s.read(&mut buf);
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "expected a close, got {read:?}"
    );
}

/// (api key, min, max) from an ApiVersions v0 response body after the correlation ID.
fn parse_v0(body: &[u8]) -> (i16, Vec<(i16, i16, i16)>) {
    let error = i16::from_be_bytes([body[0], body[1]]);
    let n = i32::from_be_bytes(body[2..6].try_into().unwrap()) as usize;
    let apis = (0..n)
        .map(|i| {
            let e = &body[6 + i * 6..12 + i * 6];
            (
                i16::from_be_bytes([e[0], e[1]]),
                i16::from_be_bytes([e[2], e[3]]),
                i16::from_be_bytes([e[4], e[5]]),
            )
        })
        .collect();
    assert_eq!(body.len(), 6 + n * 6, "v0 body length");
    (error, apis)
}

#[test]
fn api_versions_v0_lists_exactly_the_served_apis() {
    let (_server, addr, _dir) = start();
    let mut s = connect(addr);
    s.write_all(&request(18, 0, 7, b"")).unwrap();
    let frame = read_frame(&mut s);
    assert_eq!(&frame[..4], &7i32.to_be_bytes());
    let (error, apis) = parse_v0(&frame[4..]);
    assert_eq!(error, 0);
    assert_eq!(
        apis,
        vec![
            (18, 0, 3),
            (3, 0, 12),
            (0, 3, 9),
            (2, 1, 10),
            (1, 4, 17),
            // Consumer groups.
            (10, 0, 6),
            (11, 0, 9),
            (14, 0, 5),
            (12, 0, 4),
            (13, 0, 5),
            (8, 2, 9),
            (9, 1, 9),
            (15, 0, 6),
            (16, 0, 5),
            (42, 0, 2),
            (47, 0, 0),
            (22, 0, 5),
            // Admin APIs.
            (19, 2, 7),
            (20, 1, 6),
            (37, 0, 3),
            (21, 0, 2),
            (32, 1, 4),
            (33, 0, 2),
            (44, 0, 1),
            (60, 0, 2),
            (35, 1, 4),
            (23, 2, 4),
        ]
    );
}

#[test]
fn api_versions_of_an_unsupported_version_answers_v0_unsupported_version() {
    let (_server, addr, _dir) = start();
    let mut s = connect(addr);
    s.write_all(&request(18, 99, 42, b"\x00\x00")).unwrap();
    let frame = read_frame(&mut s);
    assert_eq!(&frame[..4], &42i32.to_be_bytes());
    let (error, apis) = parse_v0(&frame[4..]);
    assert_eq!(error, 35, "UNSUPPORTED_VERSION");
    assert!(apis.contains(&(18, 0, 3)), "{apis:?}");
    // The connection stays usable.
    s.write_all(&request(18, 0, 43, b"")).unwrap();
    assert_eq!(&read_frame(&mut s)[..4], &43i32.to_be_bytes());
}

#[test]
fn unknown_apis_unsupported_versions_and_bad_frames_close_the_connection() {
    let (_server, addr, _dir) = start();
    for frame in [
        request(9999, 0, 1, b""),                      // unknown API key
        request(0, 1, 1, b""),                         // Produce v1: not served
        request(3, 1, 1, b"\x00\x00\x00\x05"),         // Metadata: 5 topics announced, none sent
        (200 * 1024 * 1024i32).to_be_bytes().to_vec(), // oversized frame
        (-1i32).to_be_bytes().to_vec(),                // negative size
    ] {
        let mut s = connect(addr);
        s.write_all(&frame).unwrap();
        assert_closed(&mut s);
    }
    // The listener still serves new connections.
    let mut s = connect(addr);
    s.write_all(&request(18, 0, 5, b"")).unwrap();
    assert_eq!(&read_frame(&mut s)[..4], &5i32.to_be_bytes());
}

/// Found by `crates/kafka-server/fuzz` (target `request`): a tiny Metadata request
/// that announces a billion (or 2^31 - 1) topics. The `kafka-protocol` crate's array
/// decoder reserves `count` elements before reading them. Under the system allocator
/// that 73–154 GB reservation fails and aborts the process (what the fuzzer hit); the
/// server's allocator (mimalloc) reserves it lazily and the decode then fails on the
/// missing bytes, so the server survives here. tests/FINDINGS.md has the residual risk.
#[test]
fn a_request_announcing_a_huge_array_does_not_take_the_server_down() {
    let (_server, addr, _dir) = start();
    for count in [&b"\x3c\x9a\xca\x00"[..], b"\x7f\xff\xff\xff"] {
        let mut s = connect(addr);
        // Metadata v3, then an array count with no elements behind it.
        let mut body = count.to_vec();
        body.extend_from_slice(b"\x00\x3c\x00\x00\x41");
        s.write_all(&request(3, 3, 1, &body)).unwrap();
        assert_closed(&mut s);
    }
    // The server is still there for others.
    let mut other = connect(addr);
    other.write_all(&request(18, 0, 7, b"")).unwrap();
    let body = read_frame(&mut other);
    assert_eq!(&body[..4], &7i32.to_be_bytes());
}
