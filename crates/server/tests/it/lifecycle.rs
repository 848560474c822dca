//! Start-up, the data-dir lock, and shutdown on signals.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::util::{command, free_ports, http_get, Server, TIMEOUT};

#[test]
fn second_server_on_the_same_data_dir_fails_with_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let args = free_ports(&dir.path().join("data"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut first = Server::start(command(dir.path(), &args, &[]));

    let mut second = Server::spawn(command(dir.path(), &args, &[]));
    let (status, log) = second.wait_exit_and_log();
    assert!(
        !status.success(),
        "second server exited with {status}; log:\n{log}"
    );
    assert!(log.contains("in use"), "log:\n{log}");
    assert!(
        !log.contains("listening"),
        "second server bound a listener:\n{log}"
    );

    // The first server is unaffected.
    assert_eq!(http_get(first.http_addr(), "/healthz").status, 200);
}

#[test]
fn sigterm_exits_zero_and_releases_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let args = free_ports(&dir.path().join("data"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut first = Server::start(command(dir.path(), &args, &[]));
    first.signal("TERM");
    let (status, log) = first.wait_exit_and_log();
    assert_eq!(status.code(), Some(0), "log:\n{log}");
    assert!(log.contains("shutting down signal=SIGTERM"), "log:\n{log}");
    assert!(log.contains("data directory released"), "log:\n{log}");

    let mut second = Server::start(command(dir.path(), &args, &[]));
    assert_eq!(http_get(second.http_addr(), "/readyz").status, 200);
}

#[test]
fn zero_configuration_uses_brook_data_in_the_working_directory() {
    // Listeners on free ports so the test does not depend on 6379/9092/9644 being
    // free, but no --data-dir: the default must be ./brook-data.
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--resp-listen",
        "127.0.0.1:0",
        "--kafka-listen",
        "127.0.0.1:0",
        "--http-listen",
        "127.0.0.1:0",
    ];
    let mut server = Server::start(command(dir.path(), &args, &[]));
    assert!(
        dir.path().join("brook-data").is_dir(),
        "log:\n{}",
        server.log()
    );
    server.terminate();
    assert!(server.wait_exit().success());
}

#[test]
fn sigterm_closes_idle_keep_alive_connections_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let args = free_ports(&dir.path().join("data"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(command(dir.path(), &args, &[]));
    let addr = server.http_addr();
    let mut idle = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
    idle.set_read_timeout(Some(TIMEOUT)).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 512];
    let read = idle.read(&mut buf).unwrap();
    assert!(buf[..read].starts_with(b"HTTP/1.1 200"));

    let started = Instant::now();
    server.terminate();
    assert_eq!(server.wait_exit().code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "idle connection held up shutdown for {:?}",
        started.elapsed()
    );
}

/// A client stuck mid-request cannot hold up shutdown beyond the grace period.
#[test]
fn sigterm_grace_period_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let args = free_ports(&dir.path().join("data"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(command(dir.path(), &args, &[]));
    let mut stuck = TcpStream::connect_timeout(&server.http_addr(), TIMEOUT).unwrap();
    stuck.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    // Let the server start reading the request before the signal.
    std::thread::sleep(Duration::from_millis(100));

    let started = Instant::now();
    server.terminate();
    let (status, log) = server.wait_exit_and_log();
    assert_eq!(status.code(), Some(0), "log:\n{log}");
    assert!(log.contains("grace period over"), "log:\n{log}");
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "shutdown took {:?}; log:\n{log}",
        started.elapsed()
    );
    drop(stuck);
}

#[test]
fn sigint_shuts_down_cleanly_too() {
    let dir = tempfile::tempdir().unwrap();
    let args = free_ports(&dir.path().join("data"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(command(dir.path(), &args, &[]));
    server.signal("INT");
    let (status, log) = server.wait_exit_and_log();
    assert_eq!(status.code(), Some(0), "log:\n{log}");
    assert!(log.contains("shutting down signal=SIGINT"), "log:\n{log}");
}

#[test]
fn second_signal_during_shutdown_exits_at_once_with_failure() {
    let dir = tempfile::tempdir().unwrap();
    let args = free_ports(&dir.path().join("data"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(command(dir.path(), &args, &[]));
    // A stuck request keeps the first shutdown in its grace period.
    let mut stuck = TcpStream::connect_timeout(&server.http_addr(), TIMEOUT).unwrap();
    stuck.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(100));

    let started = Instant::now();
    server.signal("TERM");
    server.wait_for_line("shutting down");
    server.signal("INT");
    let (status, log) = server.wait_exit_and_log();
    assert_eq!(status.code(), Some(1), "log:\n{log}");
    assert!(log.contains("second signal"), "log:\n{log}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    drop(stuck);
}
