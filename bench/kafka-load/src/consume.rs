//! The consume scenario: one librdkafka consumer reads partition 0 of a topic the
//! bench has just written (so its segments are in the page cache) from offset 0 to
//! the high watermark, as fast as it goes.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use rdkafka::bindings::{rd_kafka_message_t, rd_kafka_queue_t};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use crate::client::{Context, Settings};

#[derive(Debug, Clone)]
pub struct Plan {
    pub bootstrap: String,
    pub topic: String,
    pub consumer: Settings,
    /// Give up after this long.
    pub timeout: Duration,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub records: u64,
    /// Bytes of record values.
    pub value_bytes: u64,
    /// From the assignment to the last record.
    pub seconds: f64,
    pub notes: Vec<String>,
}

pub fn run(plan: &Plan) -> Result<Outcome> {
    let mut settings = plan.consumer.clone();
    settings.set("enable.auto.commit", "false");
    settings.set("enable.partition.eof", "false");
    let consumer: BaseConsumer<Context> = settings
        .config(&plan.bootstrap)
        .create_with_context(Context::default())
        .context("creating the consumer")?;
    let (low, high) = consumer
        .fetch_watermarks(&plan.topic, 0, Duration::from_secs(10))
        .with_context(|| format!("watermarks of {}", plan.topic))?;
    let want = u64::try_from(high - low).context("watermarks")?;
    if want == 0 {
        bail!("topic {} is empty", plan.topic);
    }
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(&plan.topic, 0, Offset::Beginning)?;
    let start = Instant::now();
    consumer.assign(&assignment)?;
    let deadline = start + plan.timeout;
    let mut outcome = Outcome::default();
    let mut queue = BatchQueue::new(&consumer)?;
    while outcome.records < want {
        if Instant::now() > deadline {
            bail!(
                "read {} of {want} records of {} within {:?}",
                outcome.records,
                plan.topic,
                plan.timeout
            );
        }
        queue.consume(Duration::from_millis(100), |value, _| {
            outcome.records += 1;
            outcome.value_bytes += value.len() as u64;
            Ok(())
        })?;
    }
    outcome.seconds = start.elapsed().as_secs_f64();
    outcome.notes = consumer.context().notes();
    Ok(outcome)
}

/// Messages taken from librdkafka per call, as `rdkafka_performance -B` does.
const BATCH: usize = 1000;

/// The consumer's queue, read in batches (`rd_kafka_consume_batch_queue`), as
/// `rdkafka_performance` consumes (its callback and batch modes), rather than one
/// `poll` per message: a poll per message costs client CPU (a queue lock and
/// wake-up per record) that the server on this 2-core machine would otherwise get
/// (measured here: the consume row about 10% faster). A message with an error
/// fails the row; librdkafka's client-level errors (e.g. the broker unreachable),
/// which `poll` would have returned, go to librdkafka's log on stderr instead, and
/// the row fails at its timeout.
pub(crate) struct BatchQueue<'a> {
    queue: *mut rd_kafka_queue_t,
    messages: Vec<*mut rd_kafka_message_t>,
    _consumer: &'a BaseConsumer<Context>,
}

#[allow(unsafe_code)]
impl<'a> BatchQueue<'a> {
    pub(crate) fn new(consumer: &'a BaseConsumer<Context>) -> Result<Self> {
        // SAFETY: the native handle belongs to a live consumer, which `_consumer`
        // keeps borrowed for as long as the queue reference exists.
        let queue = unsafe {
            rdkafka::bindings::rd_kafka_queue_get_consumer(consumer.client().native_ptr())
        };
        if queue.is_null() {
            bail!("the consumer has no consumer queue");
        }
        Ok(BatchQueue {
            queue,
            messages: vec![std::ptr::null_mut(); BATCH],
            _consumer: consumer,
        })
    }

    /// Waits up to `timeout` for messages and calls `each` with every record's value
    /// and offset, in order. Fails with the first error librdkafka delivered in
    /// place of a record (end-of-partition events are skipped), or the first error
    /// `each` returns; every message taken is destroyed either way.
    pub(crate) fn consume(
        &mut self,
        timeout: Duration,
        mut each: impl FnMut(&[u8], i64) -> Result<()>,
    ) -> Result<()> {
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: `messages` has room for BATCH pointers; librdkafka fills the first
        // `n` and hands their ownership to us.
        let n = unsafe {
            rdkafka::bindings::rd_kafka_consume_batch_queue(
                self.queue,
                ms,
                self.messages.as_mut_ptr(),
                BATCH,
            )
        };
        let n = usize::try_from(n)
            .map_err(|_| anyhow::anyhow!("rd_kafka_consume_batch_queue failed"))?;
        let mut failure = None;
        for &m in &self.messages[..n.min(BATCH)] {
            // SAFETY: `m` is a message librdkafka just returned; its payload is read
            // while it lives, then it is destroyed once.
            unsafe {
                if failure.is_none() {
                    let code = RDKafkaErrorCode::from((*m).err);
                    if code == RDKafkaErrorCode::NoError {
                        let value = if (*m).payload.is_null() {
                            &[][..]
                        } else {
                            std::slice::from_raw_parts((*m).payload.cast::<u8>(), (*m).len)
                        };
                        if let Err(e) = each(value, (*m).offset) {
                            failure = Some(e);
                        }
                    } else if code != RDKafkaErrorCode::PartitionEOF {
                        failure = Some(anyhow::anyhow!("consumer: {code}"));
                    }
                }
                rdkafka::bindings::rd_kafka_message_destroy(m);
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[allow(unsafe_code)]
impl Drop for BatchQueue<'_> {
    fn drop(&mut self) {
        // SAFETY: the reference from rd_kafka_queue_get_consumer, released once.
        unsafe { rdkafka::bindings::rd_kafka_queue_destroy(self.queue) }
    }
}
