//! `brook-bench-drain`: the consumer-drain scenario of `bench/resp-vs-redis.sh`.
//!
//! `redis-benchmark` sends fixed commands, so it cannot "read, then acknowledge the
//! IDs just read". This driver does that against any RESP server (Redis or Brook),
//! with the commands' Redis semantics:
//!
//! 1. `XLEN <stream>` (the entries to drain) and `XGROUP CREATE <stream> <group> 0`;
//! 2. `--connections` concurrent connections each loop one *round*:
//!    `XREADGROUP GROUP <group> c<i> COUNT <count> STREAMS <stream> >`, then
//!    `XACK <stream> <group> <ids read>`, until XREADGROUP returns nothing;
//! 3. checks that every entry was delivered once and acknowledged (`XPENDING` summary
//!    count 0), and prints one line to stdout:
//!
//!    `entries=N seconds=S entries_per_s=X p50_ms=A p99_ms=B rounds=R`
//!
//!    where the percentiles are of the round (XREADGROUP + XACK) latency.
//!
//! If the server does not know one of the commands (`ERR unknown command`), it prints
//! `unsupported: <the server's error>` and exits 0, so the script can print
//! `n/a (not implemented)`. Any other failure exits non-zero.
//!
//! All connections run on one thread (a current-thread runtime), like
//! `redis-benchmark` without `--threads`, so that on a small machine the server under
//! test keeps the other cores.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use brook_resp_proto::{parse_frame, Frame, Limits};

const USAGE: &str = "\
usage: brook-bench-drain --addr HOST:PORT [options]

  --addr HOST:PORT     the server (required)
  --stream KEY         stream to drain (default bench:d); must be loaded already
  --group NAME         consumer group to create at id 0 (default g)
  --connections N      concurrent connections, one consumer each (default 50)
  --count N            XREADGROUP COUNT (default 100)
  --timeout-s N        give up after this long (default 300)
  -h, --help           this text
";

/// Bounds on the arguments, so a typo cannot open a million sockets.
const CONNECTIONS_MAX: usize = 1024;
const COUNT_MAX: usize = 100_000;

#[derive(Debug, Clone)]
struct Args {
    addr: String,
    stream: String,
    group: String,
    connections: usize,
    count: usize,
    timeout: Duration,
}

fn parse_args() -> Result<Args> {
    let mut addr = None;
    let mut args = Args {
        addr: String::new(),
        stream: "bench:d".to_owned(),
        group: "g".to_owned(),
        connections: 50,
        count: 100,
        timeout: Duration::from_secs(300),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| anyhow!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => addr = Some(value()?),
            "--stream" => args.stream = value()?,
            "--group" => args.group = value()?,
            "--connections" => args.connections = value()?.parse().context("--connections")?,
            "--count" => args.count = value()?.parse().context("--count")?,
            "--timeout-s" => {
                args.timeout = Duration::from_secs(value()?.parse().context("--timeout-s")?)
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    args.addr = addr.ok_or_else(|| anyhow!("--addr is required\n{USAGE}"))?;
    if !(1..=CONNECTIONS_MAX).contains(&args.connections) {
        bail!("--connections must be 1..={CONNECTIONS_MAX}");
    }
    if !(1..=COUNT_MAX).contains(&args.count) {
        bail!("--count must be 1..={COUNT_MAX}");
    }
    Ok(args)
}

/// A reply the server sent as an error (`-ERR ...`).
#[derive(Debug)]
struct ServerError(String);

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ServerError {}

impl ServerError {
    fn is_unknown_command(&self) -> bool {
        self.0.starts_with("ERR unknown command")
    }
}

/// One RESP2 client connection: write a command, read one reply.
struct Conn {
    stream: TcpStream,
    read_buf: BytesMut,
    write_buf: Vec<u8>,
    limits: Limits,
}

impl Conn {
    async fn connect(addr: &str) -> Result<Conn> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            read_buf: BytesMut::with_capacity(64 * 1024),
            write_buf: Vec::with_capacity(4 * 1024),
            limits: Limits::default(),
        })
    }

    /// Sends `args` as a RESP array of bulk strings and returns the reply; an error
    /// reply becomes `Err(ServerError)`.
    async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Frame> {
        self.write_buf.clear();
        self.write_buf
            .extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for arg in args {
            let arg = arg.as_ref();
            self.write_buf
                .extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            self.write_buf.extend_from_slice(arg);
            self.write_buf.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&self.write_buf).await?;
        loop {
            if let Some(frame) = parse_frame(&mut self.read_buf, &self.limits)? {
                return match frame {
                    Frame::Error(text) => {
                        Err(ServerError(String::from_utf8_lossy(&text).into_owned()).into())
                    }
                    frame => Ok(frame),
                };
            }
            if self.stream.read_buf(&mut self.read_buf).await? == 0 {
                bail!("server closed the connection");
            }
        }
    }
}

/// The entry IDs of an `XREADGROUP` reply for one stream: RESP2
/// `[[stream, [[id, [f, v, ...]], ...]]]`, RESP3 `{stream: [[id, ...], ...]}`, or
/// a null when nothing is left.
fn entry_ids(reply: Frame) -> Result<Vec<Bytes>> {
    let entries = match reply {
        Frame::Null | Frame::NullArray => return Ok(Vec::new()),
        Frame::Array(streams) => match streams.into_iter().next() {
            None => return Ok(Vec::new()),
            Some(Frame::Array(pair)) => pair.into_iter().nth(1),
            Some(other) => bail!("XREADGROUP: unexpected stream element {other:?}"),
        },
        Frame::Map(streams) => streams.into_iter().next().map(|(_, v)| v),
        other => bail!("XREADGROUP: unexpected reply {other:?}"),
    };
    let entries = match entries {
        None | Some(Frame::Null) | Some(Frame::NullArray) => return Ok(Vec::new()),
        Some(Frame::Array(entries)) => entries,
        Some(other) => bail!("XREADGROUP: unexpected entry list {other:?}"),
    };
    entries
        .into_iter()
        .map(|entry| match entry {
            Frame::Array(parts) => match parts.into_iter().next() {
                Some(Frame::Bulk(id)) | Some(Frame::Simple(id)) => Ok(id),
                other => Err(anyhow!("XREADGROUP: entry without an id: {other:?}")),
            },
            other => Err(anyhow!("XREADGROUP: unexpected entry {other:?}")),
        })
        .collect()
}

/// What one consumer did.
#[derive(Debug, Default)]
struct Tally {
    entries: u64,
    round_latencies_us: Vec<u32>,
}

async fn consume(args: Args, consumer: String) -> Result<Tally> {
    let mut conn = Conn::connect(&args.addr).await?;
    let count = args.count.to_string();
    let read_cmd: [&[u8]; 8] = [
        b"XREADGROUP",
        b"GROUP",
        args.group.as_bytes(),
        consumer.as_bytes(),
        b"COUNT",
        count.as_bytes(),
        b"STREAMS",
        args.stream.as_bytes(),
    ];
    let mut read_cmd: Vec<&[u8]> = read_cmd.to_vec();
    read_cmd.push(b">");
    let mut ack_cmd: Vec<Bytes> = Vec::with_capacity(3 + args.count);
    let mut tally = Tally::default();
    loop {
        let start = Instant::now();
        let ids = entry_ids(conn.call(&read_cmd).await?)?;
        if ids.is_empty() {
            return Ok(tally);
        }
        if ids.len() > args.count {
            bail!(
                "XREADGROUP COUNT {} returned {} entries",
                args.count,
                ids.len()
            );
        }
        let read = ids.len();
        ack_cmd.clear();
        ack_cmd.push(Bytes::from_static(b"XACK"));
        ack_cmd.push(Bytes::copy_from_slice(args.stream.as_bytes()));
        ack_cmd.push(Bytes::copy_from_slice(args.group.as_bytes()));
        ack_cmd.extend(ids);
        match conn.call(&ack_cmd).await? {
            Frame::Integer(n) if n == read as i64 => {}
            other => bail!("XACK of {read} ids replied {other:?}"),
        }
        let micros = start.elapsed().as_micros();
        tally
            .round_latencies_us
            .push(u32::try_from(micros).unwrap_or(u32::MAX));
        tally.entries += read as u64;
    }
}

/// Nearest-rank percentile of sorted values, in milliseconds.
fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    sorted_us
        .get(rank - 1)
        .map_or(f64::NAN, |&us| f64::from(us) / 1000.0)
}

enum Outcome {
    Done,
    Unsupported(String),
}

async fn run(args: Args) -> Result<Outcome> {
    let mut admin = Conn::connect(&args.addr).await?;
    let expected = match admin.call(&["XLEN", &args.stream]).await? {
        Frame::Integer(n) if n > 0 => n as u64,
        other => bail!(
            "XLEN {} replied {other:?}: load the stream first",
            args.stream
        ),
    };
    let unsupported = |e: &anyhow::Error| {
        e.downcast_ref::<ServerError>()
            .filter(|e| e.is_unknown_command())
            .map(|e| e.0.clone())
    };
    if let Err(e) = admin
        .call(&["XGROUP", "CREATE", &args.stream, &args.group, "0"])
        .await
    {
        return match unsupported(&e) {
            Some(text) => Ok(Outcome::Unsupported(text)),
            None => Err(e.context("XGROUP CREATE")),
        };
    }

    let start = Instant::now();
    let mut tasks = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        tasks.push(tokio::spawn(consume(args.clone(), format!("c{i}"))));
    }
    let mut entries = 0u64;
    let mut latencies = Vec::new();
    let mut first_error = None;
    for task in tasks {
        match task.await? {
            Ok(tally) => {
                entries += tally.entries;
                latencies.extend(tally.round_latencies_us);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    if let Some(e) = first_error {
        return match unsupported(&e) {
            Some(text) => Ok(Outcome::Unsupported(text)),
            None => Err(e),
        };
    }
    if entries != expected {
        bail!("drained {entries} entries, but XLEN said {expected}");
    }
    match admin.call(&["XPENDING", &args.stream, &args.group]).await {
        Ok(Frame::Array(summary)) => match summary.first() {
            Some(Frame::Integer(0)) => {}
            other => bail!("XPENDING after the drain: {other:?} pending, expected 0"),
        },
        Ok(other) => bail!("XPENDING replied {other:?}"),
        Err(e) if unsupported(&e).is_some() => {}
        Err(e) => return Err(e.context("XPENDING")),
    }
    latencies.sort_unstable();
    println!(
        "entries={entries} seconds={seconds:.3} entries_per_s={:.1} p50_ms={:.3} p99_ms={:.3} rounds={}",
        entries as f64 / seconds,
        percentile_ms(&latencies, 0.50),
        percentile_ms(&latencies, 0.99),
        latencies.len(),
    );
    Ok(Outcome::Done)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let timeout = args.timeout;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async {
        tokio::time::timeout(timeout, run(args))
            .await
            .map_err(|_| anyhow!("drain did not finish within {} s", timeout.as_secs()))?
    })?;
    if let Outcome::Unsupported(text) = outcome {
        println!("unsupported: {text}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 0.50), 50.0);
        assert_eq!(percentile_ms(&v, 0.99), 99.0);
        assert_eq!(percentile_ms(&[7000], 0.99), 7.0);
        assert!(percentile_ms(&[], 0.5).is_nan());
    }

    #[test]
    fn entry_ids_of_resp2_and_resp3_replies() {
        let entry =
            |id: &'static str| Frame::Array(vec![Frame::bulk(id), Frame::bulk_array(["f", "v"])]);
        let resp2 = Frame::Array(vec![Frame::Array(vec![
            Frame::bulk("s"),
            Frame::Array(vec![entry("1-0"), entry("1-1")]),
        ])]);
        let ids = entry_ids(resp2).unwrap_or_default();
        assert_eq!(ids, vec![Bytes::from("1-0"), Bytes::from("1-1")]);
        let resp3 = Frame::Map(vec![(Frame::bulk("s"), Frame::Array(vec![entry("2-0")]))]);
        assert_eq!(
            entry_ids(resp3).unwrap_or_default(),
            vec![Bytes::from("2-0")]
        );
        assert!(entry_ids(Frame::NullArray).unwrap_or_default().is_empty());
        assert!(entry_ids(Frame::Null).unwrap_or_default().is_empty());
        assert!(entry_ids(Frame::Integer(3)).is_err());
    }
}
