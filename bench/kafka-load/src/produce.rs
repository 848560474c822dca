//! A produce phase: `producers` librdkafka producers (one connection each) send
//! records of one size to partition 0 of a fresh topic for a fixed time, either as
//! fast as librdkafka takes them (`rate: None`, the throughput phase) or paced at a
//! total rate (the latency phase). With `e2e`, one consumer in the same process reads
//! the topic from offset 0 while it is written and measures each record's end-to-end
//! latency.
//!
//! A record's value starts with a header: its send time (nanoseconds since the
//! phase's epoch: when paced, the time the schedule says it is due, so a producer
//! that falls behind its schedule shows as latency instead of hiding it), the
//! producer's index and the record's sequence number within that producer; the rest
//! is filler. The consumer checks the sequence numbers (a gap or a repeat is
//! reported) and takes `now - send time` as the latency sample. At the end, the
//! partition's high watermark must equal the records acknowledged.
//!
//! Without the consumer (the throughput phase) no one reads the header: every
//! record of a producer has the same value, which librdkafka sends without copying
//! it (msgflags 0, as `rdkafka_performance` does by default). The rdkafka crate's
//! `send` always copies the value into the message's allocation: at 1 KiB about a
//! tenth of this 2-core machine's CPU, which the server would not get.

use std::ffi::{c_void, CStr, CString};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use crate::client::{Context, Settings};
use crate::consume::BatchQueue;

/// Bytes of the header at the start of each value: send time (u64), producer
/// index (u32), sequence number (u32), little-endian.
pub const HEADER_BYTES: usize = 16;

/// How long a producer waits before retrying a send refused with QueueFull.
const QUEUE_FULL_PAUSE: Duration = Duration::from_micros(200);
/// A paced producer sleeps when it is at least this far ahead of its schedule (and
/// sends the records that came due meanwhile in a burst).
const PACE_SLEEP_MIN: Duration = Duration::from_micros(100);
/// How long the producers may take to get everything acknowledged at the end.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the consumer may lag behind the last acknowledgement.
const CONSUMER_GRACE: Duration = Duration::from_secs(60);
/// How long to wait for the topic and the consumer to be ready.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Plan {
    pub bootstrap: String,
    pub topic: String,
    pub record_bytes: usize,
    pub acks: i32,
    pub duration: Duration,
    pub producers: usize,
    /// Total records per second to send at, or `None` for as fast as possible.
    pub rate: Option<f64>,
    /// Run the latency consumer (else no latency figures).
    pub e2e: bool,
    /// Print progress once a second (acknowledged, read, latency in that second).
    pub verbose: bool,
    pub producer: Settings,
    pub consumer: Settings,
}

#[derive(Debug, Default)]
pub struct Outcome {
    /// Records acknowledged.
    pub records: u64,
    /// From the first send to the last acknowledgement.
    pub seconds: f64,
    /// End-to-end latencies, microseconds, sorted.
    pub latencies_us: Vec<u32>,
    /// Records the consumer read (it stops once it has every acknowledged one).
    pub consumed: u64,
    /// Sequence numbers that arrived below (repeats) or above (gaps) the next one
    /// expected from their producer.
    pub repeats: u64,
    pub gaps: u64,
    /// Problems librdkafka reported, and deliveries that failed.
    pub notes: Vec<String>,
}

/// How often (in records) an unpaced producer reads the clock.
const CLOCK_EVERY: u32 = 64;

fn now_ns(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

pub fn run(plan: &Plan) -> Result<Outcome> {
    if plan.record_bytes < HEADER_BYTES {
        bail!("records must be at least {HEADER_BYTES} bytes");
    }
    let mut producer_settings = plan.producer.clone();
    producer_settings.set("acks", &plan.acks.to_string());
    let producers = (0..plan.producers)
        .map(|_| {
            producer_settings
                .config(&plan.bootstrap)
                .create_with_context::<_, BaseProducer<Context>>(Context::default())
                .context("creating a producer")
        })
        .collect::<Result<Vec<_>>>()?;
    // The first creates the topic; every producer then has its connection and the
    // topic's metadata before the clock starts.
    for p in &producers {
        create_topic(p, &plan.topic)?;
    }

    let consumer = if plan.e2e {
        Some(consumer(plan)?)
    } else {
        None
    };
    let epoch = Instant::now();
    // Set once every producer has flushed: the number of records acknowledged.
    let expected = AtomicU64::new(u64::MAX);
    let producers_done = AtomicBool::new(false);
    let start = Instant::now();
    let start_ns = u64::try_from(start.duration_since(epoch).as_nanos())?;
    let stop_at = start + plan.duration;

    let (sent, consumer_result, seconds) = std::thread::scope(|s| {
        let reader = s.spawn(|| match &consumer {
            Some(c) => read_all(c, plan, epoch, &expected, &producers_done, &producers),
            None => Ok(Outcome::default()),
        });
        let writers: Vec<_> = producers
            .iter()
            .enumerate()
            .map(|(index, p)| s.spawn(move || send_until(p, plan, index, epoch, start_ns, stop_at)))
            .collect();
        let mut sent = Ok(0u64);
        for w in writers {
            let r = w
                .join()
                .unwrap_or_else(|_| Err(anyhow!("producer thread panicked")));
            sent = match (sent, r) {
                (Ok(a), Ok(b)) => Ok(a + b),
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
        }
        let seconds = start.elapsed().as_secs_f64();
        // Every producer has flushed: each record sent was acknowledged or reported
        // failed (successes are not reported one by one: `delivery.report.only.error`).
        let failed: u64 = producers
            .iter()
            .map(|p| p.context().failed.load(Ordering::Relaxed))
            .sum();
        let sent_total = sent.as_ref().map_or(0, |n| *n);
        expected.store(sent_total.saturating_sub(failed), Ordering::Release);
        producers_done.store(true, Ordering::Release);
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(anyhow!("consumer thread panicked")));
        (sent, read, seconds)
    });
    let sent = sent?;
    let mut outcome = consumer_result?;
    outcome.seconds = seconds;
    outcome.records = expected.load(Ordering::Acquire);
    let failed: u64 = producers
        .iter()
        .map(|p| p.context().failed.load(Ordering::Relaxed))
        .sum();
    for p in &producers {
        outcome.notes.extend(p.context().notes());
    }
    if let Some(c) = &consumer {
        outcome.notes.extend(c.context().notes());
    }
    if failed > 0 {
        outcome
            .notes
            .push(format!("{failed} of {sent} records were not acknowledged"));
    }
    if let Some(first) = producers.first() {
        let (low, high) = first
            .client()
            .fetch_watermarks(&plan.topic, 0, SETUP_TIMEOUT)
            .context("watermarks after producing")?;
        let stored = u64::try_from(high - low).unwrap_or(0);
        if stored != outcome.records {
            outcome.notes.push(format!(
                "{} records acknowledged, but the partition holds {stored} (offsets {low}..{high})",
                outcome.records
            ));
        }
    }
    outcome.latencies_us.sort_unstable();
    Ok(outcome)
}

/// Makes Brook create the topic (a Metadata request that allows auto-creation, as a
/// producer's first send would) and checks it has partition 0.
fn create_topic(producer: &BaseProducer<Context>, topic: &str) -> Result<()> {
    let deadline = Instant::now() + SETUP_TIMEOUT;
    loop {
        let metadata = producer
            .client()
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .with_context(|| format!("metadata of {topic}"))?;
        let ready = metadata
            .topics()
            .iter()
            .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty());
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("topic {topic} was not created within {SETUP_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A consumer of partition 0 from offset 0, caught up with the (empty) partition:
/// it returns once librdkafka reports the end of the partition.
fn consumer(plan: &Plan) -> Result<BaseConsumer<Context>> {
    let mut settings = plan.consumer.clone();
    settings.set("enable.partition.eof", "true");
    settings.set("enable.auto.commit", "false");
    let consumer: BaseConsumer<Context> = settings
        .config(&plan.bootstrap)
        .create_with_context(Context::default())
        .context("creating the latency consumer")?;
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(&plan.topic, 0, Offset::Beginning)?;
    consumer.assign(&assignment)?;
    let deadline = Instant::now() + SETUP_TIMEOUT;
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Err(KafkaError::PartitionEOF(_))) => return Ok(consumer),
            Some(Err(e)) => return Err(e).context("latency consumer"),
            Some(Ok(m)) => bail!("topic {} is not empty (offset {})", plan.topic, m.offset()),
            None => {}
        }
    }
    bail!("the latency consumer did not reach the end of the empty topic within {SETUP_TIMEOUT:?}")
}

/// One producer's loop: send until `stop_at` (at its share of `plan.rate`, if any),
/// then flush. Returns the records sent.
fn send_until(
    producer: &BaseProducer<Context>,
    plan: &Plan,
    index: usize,
    epoch: Instant,
    start_ns: u64,
    stop_at: Instant,
) -> Result<u64> {
    let mut value = vec![b'x'; plan.record_bytes];
    let index_bytes = u32::try_from(index)?.to_le_bytes();
    if let Some(h) = value.get_mut(8..12) {
        h.copy_from_slice(&index_bytes);
    }
    // Nanoseconds between two records of this producer when paced.
    let interval_ns = plan.rate.map(|r| 1e9 * plan.producers as f64 / r.max(1.0));
    let mut seq: u32 = 0;
    let mut now = Instant::now();
    // One value for every record when no consumer reads the header; leaked, so it
    // outlives every message librdkafka may still hold (a few KiB per row).
    let shared: Option<&'static [u8]> = (!plan.e2e).then(|| &*value.clone().leak());
    let topic = CString::new(plan.topic.as_str())?;
    loop {
        // As fast as possible, the clock is read every CLOCK_EVERY records: a clock
        // read per record costs about as much client CPU as the send itself, CPU the
        // server on the same machine would not get.
        if interval_ns.is_some() || seq.is_multiple_of(CLOCK_EVERY) {
            now = Instant::now();
        }
        if now >= stop_at {
            break;
        }
        // The time this record is due (paced) or now (as fast as possible).
        let due_ns = match interval_ns {
            None => None,
            Some(interval) => {
                let due = start_ns + (f64::from(seq) * interval) as u64;
                let ahead_ns = due.saturating_sub(now_ns(epoch));
                if ahead_ns > PACE_SLEEP_MIN.as_nanos() as u64 {
                    std::thread::sleep(Duration::from_nanos(ahead_ns));
                    producer.poll(Duration::ZERO);
                    continue;
                }
                Some(due)
            }
        };
        if let Some(h) = value.get_mut(12..16) {
            h.copy_from_slice(&seq.to_le_bytes());
        }
        loop {
            let stamp = due_ns.unwrap_or_else(|| {
                u64::try_from(now.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
            });
            if let Some(h) = value.get_mut(..8) {
                h.copy_from_slice(&stamp.to_le_bytes());
            }
            let sent = match shared {
                Some(payload) => send_uncopied(producer, &topic, payload),
                None => {
                    let record = BaseRecord::<(), [u8], ()>::to(&plan.topic)
                        .partition(0)
                        .payload(&value);
                    producer.send(record).map_err(|(e, _)| e)
                }
            };
            match sent {
                Ok(()) => break,
                Err(KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)) => {
                    // The queue is full: serve the delivery reports (which frees their
                    // messages' room) and retry shortly. Not `poll(1 ms)`: the rdkafka
                    // crate polls librdkafka in whole milliseconds and spins through a
                    // sub-millisecond rest, which would take a core from the server.
                    producer.poll(Duration::ZERO);
                    std::thread::sleep(QUEUE_FULL_PAUSE);
                }
                Err(e) => return Err(e).context("send"),
            }
        }
        seq = seq
            .checked_add(1)
            .ok_or_else(|| anyhow!("more than 2^32 records from one producer"))?;
        if seq.is_multiple_of(1024) {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(FLUSH_TIMEOUT).context("flush")?;
    producer.poll(Duration::ZERO);
    Ok(u64::from(seq))
}

/// The latency consumer's loop: reads until it has `expected` records (known once
/// the producers are done), or gives up `CONSUMER_GRACE` after that.
fn read_all(
    consumer: &BaseConsumer<Context>,
    plan: &Plan,
    epoch: Instant,
    expected: &AtomicU64,
    producers_done: &AtomicBool,
    producers: &[BaseProducer<Context>],
) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let mut progress = Progress::new(plan.verbose);
    // A generous first guess: 1M samples is 4 MB.
    outcome.latencies_us.reserve(1 << 20);
    let mut next_seq = vec![0u32; plan.producers];
    let mut give_up_at: Option<Instant> = None;
    // Read in batches, as the consume row reads: a `poll` per record costs the
    // client enough CPU on this 2-core machine that, past about 200k records/s with
    // the producers running, the consumer fell behind and the figures measured its
    // backlog (seconds) rather than the server. (librdkafka's log and error events
    // for this consumer then go to its own printer on stderr, not to the row's
    // notes.)
    let mut queue = BatchQueue::new(consumer)?;
    loop {
        if outcome.consumed >= expected.load(Ordering::Acquire) {
            return Ok(outcome);
        }
        if producers_done.load(Ordering::Acquire) {
            let at = *give_up_at.get_or_insert_with(|| Instant::now() + CONSUMER_GRACE);
            if Instant::now() > at {
                bail!(
                    "the consumer read {} of {} acknowledged records within {:?} of the last acknowledgement",
                    outcome.consumed,
                    expected.load(Ordering::Acquire),
                    CONSUMER_GRACE
                );
            }
        }
        progress.tick(epoch, producers, &outcome);
        // librdkafka hands a batch over when it is full or the timeout expires: 1 ms
        // bounds what batching adds to a record's latency.
        queue
            .consume(Duration::from_millis(1), |value, offset| {
                let now = now_ns(epoch);
                let (Some(ts), Some(producer), Some(seq)) = (
                    value.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()),
                    value.get(8..12).and_then(|b| <[u8; 4]>::try_from(b).ok()),
                    value.get(12..16).and_then(|b| <[u8; 4]>::try_from(b).ok()),
                ) else {
                    bail!(
                        "record at offset {offset} has a {}-byte value, not a bench record",
                        value.len()
                    );
                };
                if value.len() != plan.record_bytes {
                    bail!(
                        "record at offset {offset} has {} bytes, sent {}",
                        value.len(),
                        plan.record_bytes
                    );
                }
                let latency_ns = now.saturating_sub(u64::from_le_bytes(ts));
                outcome
                    .latencies_us
                    .push(u32::try_from(latency_ns / 1000).unwrap_or(u32::MAX));
                let seq = u32::from_le_bytes(seq);
                let next = usize::try_from(u32::from_le_bytes(producer))
                    .ok()
                    .and_then(|p| next_seq.get_mut(p))
                    .ok_or_else(|| anyhow!("record at offset {offset} names no producer"))?;
                match seq.cmp(next) {
                    std::cmp::Ordering::Equal => {}
                    std::cmp::Ordering::Less => outcome.repeats += 1,
                    std::cmp::Ordering::Greater => outcome.gaps += 1,
                }
                *next = (*next).max(seq.saturating_add(1));
                outcome.consumed += 1;
                Ok(())
            })
            .context("latency consumer")?;
    }
}

/// The once-a-second progress lines of `--verbose`: what was acknowledged and read,
/// and the end-to-end latency of the records read in that second.
struct Progress {
    enabled: bool,
    next_at: Instant,
    /// Samples already reported.
    reported: usize,
}

impl Progress {
    fn new(enabled: bool) -> Progress {
        Progress {
            enabled,
            next_at: Instant::now() + Duration::from_secs(1),
            reported: 0,
        }
    }

    fn tick(&mut self, epoch: Instant, producers: &[BaseProducer<Context>], outcome: &Outcome) {
        if !self.enabled || Instant::now() < self.next_at {
            return;
        }
        self.next_at += Duration::from_secs(1);
        let in_flight: i64 = producers
            .iter()
            .map(|p| i64::from(p.in_flight_count()))
            .sum();
        let mut window = outcome
            .latencies_us
            .get(self.reported..)
            .unwrap_or_default()
            .to_vec();
        self.reported = outcome.latencies_us.len();
        window.sort_unstable();
        let ms = |p| crate::report::percentile_ms(&window, p).unwrap_or(f64::NAN);
        eprintln!(
            "  t={:.1}s in flight={in_flight} read={} last second: {} records, e2e p50 {:.1} ms, max {:.1} ms",
            epoch.elapsed().as_secs_f64(),
            outcome.consumed,
            window.len(),
            ms(0.5),
            ms(1.0),
        );
    }
}

/// Sends `payload` to partition 0 of `topic` without librdkafka copying it (the
/// rdkafka crate's `send` always copies). Errors as `BaseProducer::send` gives them.
#[allow(unsafe_code)]
fn send_uncopied(
    producer: &BaseProducer<Context>,
    topic: &CStr,
    payload: &'static [u8],
) -> Result<(), KafkaError> {
    use rdkafka::bindings::rd_kafka_vtype_t::*;
    // SAFETY: the arguments are (type, value) pairs as rd_kafka_producev expects,
    // ended by RD_KAFKA_VTYPE_END; the native handle belongs to a live producer; the
    // topic is a NUL-terminated string librdkafka copies; with msgflags 0 librdkafka
    // keeps the payload pointer until the message is delivered or destroyed, and the
    // payload is 'static.
    let err = unsafe {
        rdkafka::bindings::rd_kafka_producev(
            producer.client().native_ptr(),
            RD_KAFKA_VTYPE_TOPIC,
            topic.as_ptr(),
            RD_KAFKA_VTYPE_PARTITION,
            0i32,
            RD_KAFKA_VTYPE_MSGFLAGS,
            0i32,
            RD_KAFKA_VTYPE_VALUE,
            payload.as_ptr().cast_mut().cast::<c_void>(),
            payload.len(),
            RD_KAFKA_VTYPE_END,
        )
    };
    match RDKafkaErrorCode::from(err) {
        RDKafkaErrorCode::NoError => Ok(()),
        e => Err(KafkaError::MessageProduction(e)),
    }
}
