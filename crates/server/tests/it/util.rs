//! Running `brook server` as a child process and reading its log.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long anything in these tests may take before it counts as hung.
pub const TIMEOUT: Duration = Duration::from_secs(15);

const BROOK_VARS: [&str; 10] = [
    "BROOK_DATA_DIR",
    "BROOK_RESP_LISTEN",
    "BROOK_KAFKA_LISTEN",
    "BROOK_HTTP_LISTEN",
    "BROOK_FSYNC",
    "BROOK_SEGMENT_BYTES",
    "BROOK_LOG_FORMAT",
    "BROOK_CONFIG",
    "BROOK_GROUP_INITIAL_REBALANCE_DELAY_MS",
    "BROOK_KAFKA_AUTO_CREATE_TOPICS",
];

/// `brook server` with `args`, in `cwd`, with a clean `BROOK_*` environment plus
/// `env`, logging at info.
pub fn command(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_brook"));
    command.arg("server").args(args).current_dir(cwd);
    for var in BROOK_VARS {
        command.env_remove(var);
    }
    command.env("RUST_LOG", "info");
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// Arguments that put the data dir in `data_dir` and every listener on a free port.
pub fn free_ports(data_dir: &Path) -> Vec<String> {
    vec![
        "--data-dir".into(),
        data_dir.to_str().unwrap().into(),
        "--resp-listen".into(),
        "127.0.0.1:0".into(),
        "--kafka-listen".into(),
        "127.0.0.1:0".into(),
        "--http-listen".into(),
        "127.0.0.1:0".into(),
    ]
}

/// A running server; killed on drop if still running.
pub struct Server {
    child: Child,
    lines: Receiver<String>,
    log: Vec<String>,
}

impl Server {
    pub fn spawn(mut command: Command) -> Server {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn brook");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Server {
            child,
            lines,
            log: Vec::new(),
        }
    }

    /// The server's process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts a server and waits until it logs that it is ready.
    pub fn start(command: Command) -> Server {
        let mut server = Server::spawn(command);
        server.wait_for_line("server ready");
        server
    }

    /// Waits for a log line containing `needle`; panics with the log so far if none
    /// comes within [`TIMEOUT`] or the server's stderr closes.
    pub fn wait_for_line(&mut self, needle: &str) -> String {
        if let Some(line) = self.log.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no log line with {needle:?} within {TIMEOUT:?}; log:\n{}",
                        self.log()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "server exited before logging {needle:?}; log:\n{}",
                        self.log()
                    )
                }
            }
        }
    }

    /// Everything logged so far.
    pub fn log(&mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.log.push(line);
        }
        self.log.join("\n")
    }

    /// The address logged as `listening protocol=<protocol> addr=<addr>`, if any.
    pub fn addr(&mut self, protocol: &str) -> Option<SocketAddr> {
        let prefix = format!("listening protocol={protocol} addr=");
        self.log();
        self.log.iter().find_map(|line| {
            let rest = &line[line.find(&prefix)? + prefix.len()..];
            rest.split_whitespace().next()?.parse().ok()
        })
    }

    pub fn http_addr(&mut self) -> SocketAddr {
        let log = self.log();
        self.addr("http")
            .unwrap_or_else(|| panic!("no http listening line; log:\n{log}"))
    }

    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// Sends the signal named `name` (e.g. `TERM`, `INT`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit; panics if it is still running after [`TIMEOUT`].
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let log = self.log();
                panic!("server did not exit within {TIMEOUT:?}; log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the exit and for stderr to close, and returns the full log.
    pub fn wait_exit_and_log(&mut self) -> (ExitStatus, String) {
        let status = self.wait_exit();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.log.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("stderr did not close after exit"),
            }
        }
        (status, self.log.join("\n"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` over a fresh connection with `Connection: close`.
pub fn http_get(addr: SocketAddr, path: &str) -> Response {
    http_request(addr, "GET", path, None)
}

/// `method path` with an optional JSON body, over a fresh connection.
pub fn http_request(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> Response {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {raw:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_string(),
    }
}

impl Server {
    /// The RESP listener's address, from the log.
    pub fn resp_addr(&mut self) -> SocketAddr {
        let log = self.log();
        self.addr("resp")
            .unwrap_or_else(|| panic!("no resp listening line; log:\n{log}"))
    }

    /// Sends SIGKILL and waits for the process to be gone.
    pub fn kill9(&mut self) {
        self.signal("KILL");
        let status = self.wait_exit();
        assert!(!status.success(), "SIGKILL exit status {status}");
    }
}

/// Starts `brook server` with its data in `data_dir` and every listener on a free
/// port; returns it and its RESP address.
pub fn start_brook(cwd: &Path, data_dir: &Path) -> (Server, SocketAddr) {
    let args = free_ports(data_dir);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(command(cwd, &args, &[]));
    let addr = server.resp_addr();
    (server, addr)
}

/// Polls `check` until it returns `Some`, or panics after [`TIMEOUT`] with `what`.
pub fn poll<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What RESP tests talk to: `brook server`, or — when `BROOK_IT_REDIS_SERVER` names a
/// `redis-server` binary — a real Redis, to check that the replies these tests expect
/// are what Redis answers. Redis runs with `appendonly yes` and `appendfsync always`,
/// the configuration whose guarantees match Brook's default (`BROOK_IT_REDIS_SERVER=/usr/bin/redis-server cargo test
/// -p brook --test it resp_raw -- --include-ignored`). Stopped on drop.
pub struct RespTarget {
    pub addr: SocketAddr,
    /// Held so the server runs until the target is dropped.
    _brook: Option<Server>,
    redis: Option<Child>,
    _dir: tempfile::TempDir,
}

impl RespTarget {
    pub fn start() -> RespTarget {
        let dir = tempfile::tempdir().unwrap();
        if let Ok(redis_server) = std::env::var("BROOK_IT_REDIS_SERVER") {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = Command::new(redis_server)
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                ])
                .args(["--daemonize", "no"])
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            poll("redis-server to accept connections", || {
                TcpStream::connect(addr).ok()
            });
            return RespTarget {
                addr,
                _brook: None,
                redis: Some(child),
                _dir: dir,
            };
        }
        let (server, addr) = start_brook(dir.path(), &dir.path().join("data"));
        RespTarget {
            addr,
            _brook: Some(server),
            redis: None,
            _dir: dir,
        }
    }
}

impl RespTarget {
    /// Whether this is a real Redis (cross-check mode), not Brook.
    pub fn is_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// For tests of Brook-only behaviour (commands Redis 7.0 lacks, or that Redis
    /// answers differently by design): true, with a note on stderr, when the target
    /// is a real Redis, so the test can return early.
    pub fn skip_on_redis(&self, why: &str) -> bool {
        if self.is_redis() {
            eprintln!("skipped against redis-server: {why}");
        }
        self.is_redis()
    }
}

impl Drop for RespTarget {
    fn drop(&mut self) {
        if let Some(child) = self.redis.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
