//! The consume scenario: one librdkafka consumer reads partition 0 of a topic the
//! bench has just written (so its segments are in the page cache) from offset 0 to
//! the high watermark, as fast as it goes.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
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
    let mut idle = false;
    while outcome.records < want {
        // The clock every 1024 records or after an empty poll, not per record (client
        // CPU the server on the same machine shares).
        if (idle || outcome.records % 1024 == 0) && Instant::now() > deadline {
            bail!(
                "read {} of {want} records of {} within {:?}",
                outcome.records,
                plan.topic,
                plan.timeout
            );
        }
        idle = true;
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => return Err(e).context("consumer"),
            Some(Ok(m)) => {
                idle = false;
                outcome.records += 1;
                outcome.value_bytes += m.payload_len() as u64;
            }
        }
    }
    outcome.seconds = start.elapsed().as_secs_f64();
    outcome.notes = consumer.context().notes();
    Ok(outcome)
}
