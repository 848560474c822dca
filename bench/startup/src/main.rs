//! `brook-bench-fill DATA_DIR GIB [--crash-tail MIB]`: fills topic `bench:startup` of a
//! data directory with GIB GiB of 1 KiB records (fsync policy `never`, 256 KiB
//! appends), then shuts the broker down cleanly. With `--crash-tail`, it then reopens
//! the directory, appends MIB more MiB, fsyncs them, and exits *without* a clean
//! shutdown (as a crash would leave it: no index for the active segment), so the next
//! start has to check the active segment.

use std::time::Instant;

use anyhow::{bail, Context as _};
use bytes::Bytes;

use brook_broker::{Broker, BrokerConfig, TopicKey, TopicSettings};
use brook_model::{Durability, IdSpec, Record};

const RECORD_BYTES: usize = 1024;
const BATCH_BYTES: usize = 256 * 1024;

fn append_mib(broker: &Broker, mib: u64) -> anyhow::Result<()> {
    let topic = broker
        .topic(&TopicKey::new(0, "bench:startup"))
        .context("topic missing")?;
    let p = topic.partition(0).context("partition missing")?.clone();
    let value = Bytes::from(vec![b'x'; RECORD_BYTES]);
    let per_batch = BATCH_BYTES / RECORD_BYTES;
    let batches = mib * 1024 * 1024 / BATCH_BYTES as u64;
    for _ in 0..batches {
        let records = (0..per_batch)
            .map(|_| {
                (
                    IdSpec::Auto,
                    Record {
                        timestamp_ms: brook_broker::now_ms() as i64,
                        value: Some(value.clone()),
                        ..Record::default()
                    },
                )
            })
            .collect::<Vec<_>>();
        p.append(&records, brook_broker::now_ms())?;
    }
    p.wait_durable_blocking(p.marks().log_end)?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(gib)) = (args.get(1), args.get(2)) else {
        bail!("usage: brook-bench-fill DATA_DIR GIB [--crash-tail MIB]");
    };
    let gib: f64 = gib.parse().context("GIB must be a number")?;
    let crash_tail: Option<u64> = match (args.get(3).map(String::as_str), args.get(4)) {
        (Some("--crash-tail"), Some(m)) => Some(m.parse().context("MIB must be an integer")?),
        (None, _) => None,
        _ => bail!("usage: brook-bench-fill DATA_DIR GIB [--crash-tail MIB]"),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut config = BrokerConfig::new(dir);
    config.default_fsync = Durability::Never;
    let started = Instant::now();
    {
        let broker = Broker::open(config.clone())?;
        let key = TopicKey::new(0, "bench:startup");
        if broker.topic(&key).is_none() {
            rt.block_on(broker.create_topic(key, TopicSettings::default()))?;
        }
        append_mib(&broker, (gib * 1024.0) as u64)?;
        broker.shutdown()?;
    }
    if gib > 0.0 {
        eprintln!(
            "filled {gib} GiB in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    if let Some(mib) = crash_tail {
        let broker = Broker::open(config)?;
        append_mib(&broker, mib)?;
        eprintln!("appended {mib} MiB more and exiting without a clean shutdown");
        // Exit without shutdown(): the active segment has no index file.
        std::process::exit(0);
    }
    Ok(())
}
