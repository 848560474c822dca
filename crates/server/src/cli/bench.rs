//! `brook bench produce|consume`: a load generator over the Kafka protocol. It
//! speaks Kafka with the `kafka-protocol` crate's typed messages (already built for
//! the server, so the bench costs no extra build), one request at a time per
//! connection, and measures each request's latency. A progress line (records/s,
//! MiB/s) goes to stderr while it runs on a terminal; at the end a summary with
//! latency percentiles and a histogram, or `--json`.

use std::io::{self, IsTerminal as _, Read as _, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use brook_resp_proto::Frame;
use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use clap::{Args, Subcommand};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, MetadataRequest, MetadataResponse,
    ProduceRequest, ProduceResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use serde::Serialize;

use super::output::{self, parse_bytes};
use super::{Exit, Failure};

/// The largest response frame read (a fetch asks for at most `FETCH_BYTES` plus
/// framing).
const FRAME_BYTES_MAX: usize = 128 * 1024 * 1024;
/// Bytes a fetch asks for per partition and in total.
const FETCH_PARTITION_BYTES: i32 = 4 * 1024 * 1024;
const FETCH_BYTES: i32 = 32 * 1024 * 1024;
/// How long one request may take before the bench gives up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Versions used: both are served by Brook (docs/mapping.md) and name topics.
const PRODUCE_VERSION: i16 = 9;
const FETCH_VERSION: i16 = 12;
const METADATA_VERSION: i16 = 9;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Produce records as fast as the server takes them
    Produce(ProduceBench),
    /// Fetch a topic's records from the beginning as fast as the server serves them
    Consume(ConsumeBench),
}

#[derive(Debug, Args)]
pub struct Common {
    /// Kafka topic (created on first use, one partition, if missing)
    #[arg(default_value = "brook-bench")]
    pub topic: String,
    /// The server's Kafka address
    #[arg(
        long,
        value_name = "HOST:PORT",
        env = "BROOK_KAFKA",
        default_value = "127.0.0.1:9092"
    )]
    pub kafka: String,
    /// Protocol to load the server with: kafka (Produce/Fetch) or resp (pipelined
    /// XADD / XRANGE on the stream of the same name)
    #[arg(long, value_name = "PROTOCOL", default_value = "kafka", value_parser = ["kafka", "resp"])]
    pub protocol: String,
    /// The server's RESP address (with --protocol resp)
    #[arg(
        long,
        value_name = "HOST:PORT",
        env = "BROOK_RESP",
        default_value = "127.0.0.1:6379"
    )]
    pub resp: String,
    /// Records to produce or consume (consume: at most, stops at the end)
    #[arg(long, short = 'n', value_name = "N", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub records: u64,
    /// Print the result as one JSON document
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProduceBench {
    #[command(flatten)]
    pub common: Common,
    /// Bytes of each record's value
    #[arg(long, value_name = "BYTES", default_value = "100", value_parser = parse_record_bytes)]
    pub record_bytes: u64,
    /// Records per produce request (one batch; with resp: XADDs per pipeline)
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch: u64,
    /// Connections producing at once
    #[arg(long, short = 'c', value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pub connections: u64,
    /// Acknowledgement asked for: 1 (leader) or all (-1: durable under the topic's fsync)
    #[arg(long, value_name = "ACKS", default_value = "all", value_parser = parse_acks)]
    pub acks: i16,
}

#[derive(Debug, Args)]
pub struct ConsumeBench {
    #[command(flatten)]
    pub common: Common,
}

fn parse_record_bytes(text: &str) -> Result<u64, String> {
    match parse_bytes(text)? {
        n if n <= 1 << 20 => Ok(n),
        _ => Err("at most 1 MiB per record".into()),
    }
}

fn parse_acks(text: &str) -> Result<i16, String> {
    match text {
        "1" => Ok(1),
        "all" | "-1" => Ok(-1),
        _ => Err(format!("{text:?}: expected 1 or all")),
    }
}

pub fn run(args: BenchArgs) -> Result<()> {
    let report = match args.command {
        BenchCommand::Produce(bench) if bench.common.protocol == "resp" => produce_resp(&bench)?,
        BenchCommand::Produce(bench) => produce(&bench)?,
        BenchCommand::Consume(bench) if bench.common.protocol == "resp" => consume_resp(&bench)?,
        BenchCommand::Consume(bench) => consume(&bench)?,
    };
    let mut out = io::stdout().lock();
    if report.json {
        output::write_json(&mut out, &report)?;
    } else {
        report.write(&mut out)?;
    }
    Ok(())
}

/// What a run measured.
#[derive(Debug, Serialize)]
pub struct Report {
    operation: String,
    topic: String,
    partitions: u32,
    records: u64,
    bytes: u64,
    seconds: f64,
    records_per_second: f64,
    mib_per_second: f64,
    requests: u64,
    /// Per request, in milliseconds.
    latency_ms: Percentiles,
    /// Requests per latency bucket: at most `le_ms` (powers of two of 0.001 ms).
    histogram: Vec<Bucket>,
    #[serde(skip)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Percentiles {
    min: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
    mean: f64,
}

#[derive(Debug, Serialize)]
struct Bucket {
    le_ms: f64,
    count: u64,
}

impl Report {
    fn new(
        operation: &str,
        common: &Common,
        partitions: u32,
        counters: &Counters,
        elapsed: Duration,
        mut latencies_us: Vec<u64>,
    ) -> Report {
        latencies_us.sort_unstable();
        let records = counters.records.load(Ordering::Relaxed);
        let bytes = counters.bytes.load(Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64().max(1e-9);
        Report {
            operation: operation.into(),
            topic: common.topic.clone(),
            partitions,
            records,
            bytes,
            seconds,
            records_per_second: records as f64 / seconds,
            mib_per_second: bytes as f64 / seconds / (1024.0 * 1024.0),
            requests: latencies_us.len() as u64,
            latency_ms: percentiles(&latencies_us),
            histogram: histogram(&latencies_us),
            json: common.json,
        }
    }

    fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let verb = if self.operation == "produce" {
            "produced"
        } else {
            "consumed"
        };
        writeln!(
            out,
            "{verb} {} records ({}) {} {} ({} partition{}) in {:.2} s: {:.0} records/s, {:.1} MiB/s",
            self.records,
            output::bytes(self.bytes),
            if verb == "produced" { "to" } else { "from" },
            self.topic,
            self.partitions,
            if self.partitions == 1 { "" } else { "s" },
            self.seconds,
            self.records_per_second,
            self.mib_per_second
        )?;
        let l = &self.latency_ms;
        writeln!(
            out,
            "latency of {} requests: min {} p50 {} p90 {} p99 {} p99.9 {} max {} (mean {})",
            self.requests,
            ms(l.min),
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.p999),
            ms(l.max),
            ms(l.mean)
        )?;
        let most = self
            .histogram
            .iter()
            .map(|b| b.count)
            .max()
            .unwrap_or(0)
            .max(1);
        for bucket in &self.histogram {
            let width = (bucket.count * 40).div_ceil(most) as usize;
            writeln!(
                out,
                "  <= {:>10}  {:<40}  {}",
                ms(bucket.le_ms),
                "#".repeat(width),
                bucket.count
            )?;
        }
        Ok(())
    }
}

fn ms(value: f64) -> String {
    if value < 1.0 {
        format!("{:.3} ms", value)
    } else if value < 100.0 {
        format!("{value:.2} ms")
    } else {
        format!("{value:.0} ms")
    }
}

fn percentiles(sorted_us: &[u64]) -> Percentiles {
    let at = |q: f64| -> f64 {
        if sorted_us.is_empty() {
            return 0.0;
        }
        let index = ((sorted_us.len() as f64 * q).ceil() as usize).clamp(1, sorted_us.len()) - 1;
        sorted_us.get(index).copied().unwrap_or(0) as f64 / 1000.0
    };
    let mean = if sorted_us.is_empty() {
        0.0
    } else {
        sorted_us.iter().sum::<u64>() as f64 / sorted_us.len() as f64 / 1000.0
    };
    Percentiles {
        min: sorted_us.first().copied().unwrap_or(0) as f64 / 1000.0,
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        p999: at(0.999),
        max: sorted_us.last().copied().unwrap_or(0) as f64 / 1000.0,
        mean,
    }
}

/// Buckets of powers of two microseconds, from the smallest latency's to the
/// largest's.
fn histogram(sorted_us: &[u64]) -> Vec<Bucket> {
    let (Some(&first), Some(&last)) = (sorted_us.first(), sorted_us.last()) else {
        return Vec::new();
    };
    let mut bound = first.max(1).next_power_of_two();
    let mut buckets = Vec::new();
    let mut i = 0;
    loop {
        let start = i;
        while sorted_us.get(i).is_some_and(|&v| v <= bound) {
            i += 1;
        }
        buckets.push(Bucket {
            le_ms: bound as f64 / 1000.0,
            count: (i - start) as u64,
        });
        if bound >= last {
            break;
        }
        bound = bound.saturating_mul(2);
    }
    buckets
}

/// Totals shared by the workers and the progress line.
#[derive(Default)]
struct Counters {
    records: AtomicU64,
    bytes: AtomicU64,
}

/// Prints `records/s` and `MiB/s` on stderr every half second until `done` (only
/// on a terminal).
fn progress(verb: &str, target: u64, counters: &Counters, done: &AtomicBool) {
    if !io::stderr().is_terminal() {
        return;
    }
    let start = Instant::now();
    let (mut last_records, mut last_bytes, mut last_at) = (0, 0, start);
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(500));
        let now = Instant::now();
        let records = counters.records.load(Ordering::Relaxed);
        let bytes = counters.bytes.load(Ordering::Relaxed);
        let dt = now.duration_since(last_at).as_secs_f64().max(1e-9);
        eprint!(
            "\r{verb} {records}/{target} records  {:>10.0} records/s  {:>7.1} MiB/s  ",
            (records - last_records) as f64 / dt,
            (bytes - last_bytes) as f64 / dt / (1024.0 * 1024.0)
        );
        (last_records, last_bytes, last_at) = (records, bytes, now);
    }
    eprint!("\r{:80}\r", "");
}

fn produce(bench: &ProduceBench) -> Result<Report> {
    let addr = resolve(&bench.common.kafka)?;
    let topic = &bench.common.topic;
    let partitions = Conn::connect(addr)?.partitions(topic)?;
    produce_with(
        bench,
        partitions,
        |worker| {
            let partition = (worker % u64::from(partitions)) as i32;
            Ok((Conn::connect(addr)?, partition))
        },
        |(conn, partition), count, value| {
            conn.produce(topic, *partition, count, value, bench.acks)?;
            *partition = (*partition + 1) % partitions as i32;
            Ok(())
        },
    )
}

/// Runs `bench.connections` producer threads until `bench.common.records` are
/// acknowledged: each opens its connection with `connect(worker)`, then claims
/// batches of up to `bench.batch` records and sends each with `send`, timing it.
fn produce_with<C>(
    bench: &ProduceBench,
    partitions: u32,
    connect: impl Fn(u64) -> Result<C> + Sync,
    send: impl Fn(&mut C, u64, &Bytes) -> Result<()> + Sync,
) -> Result<Report> {
    let counters = Counters::default();
    let remaining = AtomicU64::new(bench.common.records);
    let done = AtomicBool::new(false);
    let latencies = Mutex::new(Vec::new());
    let value = payload(bench.record_bytes as usize);
    let start = Instant::now();
    let result: Result<()> = std::thread::scope(|scope| {
        scope.spawn(|| progress("produced", bench.common.records, &counters, &done));
        let workers: Vec<_> = (0..bench.connections)
            .map(|worker| {
                let (counters, remaining, latencies, value, connect, send) = (
                    &counters,
                    &remaining,
                    &latencies,
                    value.clone(),
                    &connect,
                    &send,
                );
                scope.spawn(move || -> Result<()> {
                    let mut conn = connect(worker)?;
                    let mut mine = Vec::new();
                    // Claim up to a batch of the records left; none left: done.
                    let claim =
                        |left: u64| left.checked_sub(left.min(bench.batch)).filter(|_| left > 0);
                    while let Ok(before) =
                        remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, claim)
                    {
                        let count = before.min(bench.batch);
                        let started = Instant::now();
                        send(&mut conn, count, &value)?;
                        mine.push(started.elapsed().as_micros() as u64);
                        counters.records.fetch_add(count, Ordering::Relaxed);
                        counters
                            .bytes
                            .fetch_add(count * value.len() as u64, Ordering::Relaxed);
                    }
                    if let Ok(mut all) = latencies.lock() {
                        all.extend(mine);
                    }
                    Ok(())
                })
            })
            .collect();
        let mut result = Ok(());
        for worker in workers {
            let outcome = worker
                .join()
                .unwrap_or_else(|_| Err(anyhow!("a producer thread panicked")));
            if result.is_ok() {
                result = outcome;
            }
            // Stop the others early once one failed.
            if result.is_err() {
                remaining.store(0, Ordering::Relaxed);
            }
        }
        done.store(true, Ordering::Relaxed);
        result
    });
    result?;
    let elapsed = start.elapsed();
    let latencies = latencies.into_inner().unwrap_or_default();
    Ok(Report::new(
        "produce",
        &bench.common,
        partitions,
        &counters,
        elapsed,
        latencies,
    ))
}

fn consume(bench: &ConsumeBench) -> Result<Report> {
    let addr = resolve(&bench.common.kafka)?;
    let topic = &bench.common.topic;
    let mut conn = Conn::connect(addr)?;
    let partitions = conn.partitions(topic)?;
    let mut offsets = vec![0i64; partitions as usize];
    consume_with(bench, partitions, || {
        let fetched = conn.fetch(topic, &mut offsets)?;
        Ok((fetched.records, fetched.bytes, fetched.at_end))
    })
}

/// Calls `read` (one timed request, returning records, bytes and whether the end
/// was reached) until the end or `bench.common.records` records.
fn consume_with(
    bench: &ConsumeBench,
    partitions: u32,
    mut read: impl FnMut() -> Result<(u64, u64, bool)>,
) -> Result<Report> {
    let counters = Counters::default();
    let done = AtomicBool::new(false);
    let mut latencies = Vec::new();
    let target = bench.common.records;
    let start = Instant::now();
    let result: Result<()> = std::thread::scope(|scope| {
        scope.spawn(|| progress("consumed", target, &counters, &done));
        let result = (|| loop {
            let started = Instant::now();
            let (records, bytes, at_end) = read()?;
            latencies.push(started.elapsed().as_micros() as u64);
            counters.bytes.fetch_add(bytes, Ordering::Relaxed);
            let total = counters.records.fetch_add(records, Ordering::Relaxed) + records;
            if total >= target || at_end {
                return Ok(());
            }
        })();
        done.store(true, Ordering::Relaxed);
        result
    });
    result?;
    let elapsed = start.elapsed();
    Ok(Report::new(
        "consume",
        &bench.common,
        partitions,
        &counters,
        elapsed,
        latencies,
    ))
}

/// `brook bench produce --protocol resp`: each connection sends pipelines of
/// `batch` XADDs and waits for their replies.
fn produce_resp(bench: &ProduceBench) -> Result<Report> {
    let addr = resolve(&bench.common.resp)?;
    let key = bench.common.topic.as_bytes();
    produce_with(
        bench,
        1,
        |_| RespConn::connect(addr),
        |conn, count, value| {
            for _ in 0..count {
                conn.command(&[b"XADD", key, b"*", b"value", value]);
            }
            for _ in 0..count {
                conn.reply()?;
            }
            Ok(())
        },
    )
}

/// Entries per XRANGE of `brook bench consume --protocol resp`.
const XRANGE_COUNT: usize = 1000;

/// `brook bench consume --protocol resp`: XRANGE from the first entry, 1000 at a
/// time, to the end (or the record count).
fn consume_resp(bench: &ConsumeBench) -> Result<Report> {
    let addr = resolve(&bench.common.resp)?;
    let key = bench.common.topic.as_bytes();
    let mut conn = RespConn::connect(addr)?;
    let mut from = b"-".to_vec();
    let count = XRANGE_COUNT.to_string();
    consume_with(bench, 1, || {
        conn.command(&[b"XRANGE", key, &from, b"+", b"COUNT", count.as_bytes()]);
        let Frame::Array(entries) = conn.reply()? else {
            bail!("XRANGE did not answer an array");
        };
        let Some(Frame::Array(last)) = entries.last() else {
            return Ok((0, 0, true));
        };
        let Some(Frame::Bulk(id)) = last.first() else {
            bail!("XRANGE entry without an ID");
        };
        from = [b"(".as_slice(), id].concat();
        // Bytes of the field names and values.
        let bytes: u64 = entries
            .iter()
            .filter_map(|e| match e {
                Frame::Array(e) => e.get(1),
                _ => None,
            })
            .filter_map(|fields| match fields {
                Frame::Array(f) => Some(f),
                _ => None,
            })
            .flatten()
            .map(|f| match f {
                Frame::Bulk(b) => b.len() as u64,
                _ => 0,
            })
            .sum();
        Ok((entries.len() as u64, bytes, entries.len() < XRANGE_COUNT))
    })
}

/// A blocking RESP2 connection: commands are buffered until a reply is read.
struct RespConn {
    stream: TcpStream,
    out: Vec<u8>,
    buf: BytesMut,
    limits: brook_resp_proto::Limits,
}

impl RespConn {
    fn connect(addr: SocketAddr) -> Result<RespConn> {
        let stream = TcpStream::connect_timeout(&addr, REQUEST_TIMEOUT).with_context(|| {
            format!(
                "cannot connect to the RESP port {addr}; is `brook server` running there? (--resp)"
            )
        })?;
        stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(RespConn {
            stream,
            out: Vec::new(),
            buf: BytesMut::with_capacity(64 * 1024),
            limits: brook_resp_proto::Limits::default(),
        })
    }

    /// Buffers one command (an array of bulk strings).
    fn command(&mut self, args: &[&[u8]]) {
        self.out
            .extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            self.out
                .extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            self.out.extend_from_slice(a);
            self.out.extend_from_slice(b"\r\n");
        }
    }

    /// Sends what is buffered, then reads one reply; an error reply is an error.
    fn reply(&mut self) -> Result<Frame> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out)?;
            self.out.clear();
        }
        loop {
            if let Some(frame) = brook_resp_proto::parse_frame(&mut self.buf, &self.limits)
                .map_err(|e| anyhow!("bad RESP reply: {e}"))?
            {
                if let Frame::Error(e) = &frame {
                    bail!("the server answered: {}", String::from_utf8_lossy(e));
                }
                return Ok(frame);
            }
            let mut chunk = [0u8; 64 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                bail!("the server closed the RESP connection");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// `n` bytes of printable, not very compressible data.
fn payload(n: usize) -> Bytes {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b'!' + (state % 94) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

fn resolve(addr: &str) -> Result<SocketAddr> {
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| Failure::usage(format!("--kafka {addr}: expected HOST:PORT")).into())
}

/// One Kafka connection: typed requests, one at a time.
struct Conn {
    addr: SocketAddr,
    stream: TcpStream,
    correlation_id: i32,
}

struct Fetched {
    records: u64,
    bytes: u64,
    /// Every partition is at its high watermark.
    at_end: bool,
}

impl Conn {
    fn connect(addr: SocketAddr) -> Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| {
            Failure::new(
                Exit::Unreachable,
                format!(
                    "cannot reach the Kafka listener at {addr}: {e}\n\
                     hint: is `brook server` running with Kafka on? Point the bench at it \
                     with --kafka HOST:PORT or BROOK_KAFKA."
                ),
            )
        })?;
        stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
        stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            addr,
            stream,
            correlation_id: 0,
        })
    }

    fn call<Req: Encodable, Resp: Decodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        request: &Req,
    ) -> Result<Resp> {
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("brook-bench")));
        let mut body = BytesMut::new();
        header.encode(&mut body, key.request_header_version(version))?;
        request.encode(&mut body, version)?;
        let mut frame = BytesMut::with_capacity(body.len() + 4);
        frame.put_i32(i32::try_from(body.len())?);
        frame.put_slice(&body);
        let io = |e: io::Error| anyhow!("{key:?} to {}: {e}", self.addr);
        self.stream.write_all(&frame).map_err(io)?;
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).map_err(io)?;
        let size = usize::try_from(i32::from_be_bytes(size))
            .ok()
            .filter(|&n| n <= FRAME_BYTES_MAX)
            .ok_or_else(|| anyhow!("{key:?}: a response frame of a bad size"))?;
        let mut response = vec![0u8; size];
        self.stream.read_exact(&mut response).map_err(io)?;
        let mut response = Bytes::from(response);
        let header = ResponseHeader::decode(&mut response, key.response_header_version(version))?;
        if header.correlation_id != self.correlation_id {
            bail!("{key:?}: the answer to another request");
        }
        let decoded = Resp::decode(&mut response, version)?;
        if response.has_remaining() {
            bail!("{key:?}: trailing bytes in the response");
        }
        Ok(decoded)
    }

    /// The topic's partition count (Metadata creates the topic if it is missing).
    fn partitions(&mut self, topic: &str) -> Result<u32> {
        let request = MetadataRequest::default()
            .with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(topic_name(topic)))
            ]))
            .with_allow_auto_topic_creation(true);
        let response: MetadataResponse = self.call(ApiKey::Metadata, METADATA_VERSION, &request)?;
        let found = response
            .topics
            .first()
            .ok_or_else(|| anyhow!("metadata for {topic}: no topic in the answer"))?;
        if found.error_code != 0 {
            bail!(
                "metadata for {topic}: Kafka error {} ({})",
                found.error_code,
                error_name(found.error_code)
            );
        }
        match u32::try_from(found.partitions.len()) {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!("topic {topic} has no partitions"),
        }
    }

    fn produce(
        &mut self,
        topic: &str,
        partition: i32,
        count: u64,
        value: &Bytes,
        acks: i16,
    ) -> Result<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let records: Vec<Record> = (0..count)
            .map(|i| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: -1,
                timestamp: now,
                key: None,
                value: Some(value.clone()),
                headers: Default::default(),
            })
            .collect();
        let mut batch = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut batch,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression: Compression::None,
            },
        )?;
        let request = ProduceRequest::default()
            .with_acks(acks)
            .with_timeout_ms(REQUEST_TIMEOUT.as_millis() as i32)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic_name(topic))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(batch.freeze()))])]);
        let response: ProduceResponse = self.call(ApiKey::Produce, PRODUCE_VERSION, &request)?;
        for topic_response in &response.responses {
            for p in &topic_response.partition_responses {
                if p.error_code != 0 {
                    bail!(
                        "produce to {topic} partition {}: Kafka error {} ({})",
                        p.index,
                        p.error_code,
                        error_name(p.error_code)
                    );
                }
            }
        }
        Ok(())
    }

    /// One fetch of every partition from `offsets`, which it advances.
    fn fetch(&mut self, topic: &str, offsets: &mut [i64]) -> Result<Fetched> {
        let partitions = offsets
            .iter()
            .enumerate()
            .map(|(p, &offset)| {
                FetchPartition::default()
                    .with_partition(p as i32)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(FETCH_PARTITION_BYTES)
            })
            .collect();
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(100)
            .with_min_bytes(1)
            .with_max_bytes(FETCH_BYTES)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(topic_name(topic))
                .with_partitions(partitions)]);
        let response: FetchResponse = self.call(ApiKey::Fetch, FETCH_VERSION, &request)?;
        if response.error_code != 0 {
            bail!("fetch: Kafka error {}", response.error_code);
        }
        let mut fetched = Fetched {
            records: 0,
            bytes: 0,
            at_end: true,
        };
        for topic_response in &response.responses {
            for p in &topic_response.partitions {
                let Some(offset) = usize::try_from(p.partition_index)
                    .ok()
                    .and_then(|i| offsets.get_mut(i))
                else {
                    continue;
                };
                match p.error_code {
                    0 => {}
                    // OFFSET_OUT_OF_RANGE: retention moved the start; go there.
                    1 => {
                        *offset = p.log_start_offset;
                        fetched.at_end = false;
                        continue;
                    }
                    code => bail!(
                        "fetch {topic} partition {}: Kafka error {code} ({})",
                        p.partition_index,
                        error_name(code)
                    ),
                }
                if let Some(mut data) = p.records.clone() {
                    for set in RecordBatchDecoder::decode_all(&mut data)? {
                        for record in &set.records {
                            if record.offset < *offset {
                                continue;
                            }
                            fetched.records += 1;
                            fetched.bytes += record.value.as_ref().map_or(0, |v| v.len() as u64)
                                + record.key.as_ref().map_or(0, |k| k.len() as u64);
                            *offset = record.offset + 1;
                        }
                    }
                }
                if *offset < p.high_watermark {
                    fetched.at_end = false;
                }
            }
        }
        Ok(fetched)
    }
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

fn error_name(code: i16) -> &'static str {
    match code {
        1 => "OFFSET_OUT_OF_RANGE",
        3 => "UNKNOWN_TOPIC_OR_PARTITION",
        10 => "MESSAGE_TOO_LARGE",
        17 => "INVALID_TOPIC_EXCEPTION",
        18 => "RECORD_LIST_TOO_LARGE",
        _ => "see Kafka's error codes",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_histogram_of_latencies() {
        let us: Vec<u64> = (1..=1000).collect();
        let p = percentiles(&us);
        assert_eq!((p.min, p.p50, p.p99, p.max), (0.001, 0.5, 0.99, 1.0));
        let h = histogram(&us);
        assert_eq!(h.first().unwrap().le_ms, 0.001);
        assert_eq!(h.last().unwrap().le_ms, 1.024);
        assert_eq!(h.iter().map(|b| b.count).sum::<u64>(), 1000);
        assert_eq!(h.get(1).unwrap().count, 1); // (1, 2]
        assert!(histogram(&[]).is_empty());
        assert_eq!(percentiles(&[]).max, 0.0);
    }

    #[test]
    fn payloads_are_printable() {
        let p = payload(1000);
        assert_eq!(p.len(), 1000);
        assert!(p.iter().all(|b| b.is_ascii_graphic()));
    }
}
