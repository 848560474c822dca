//! The scenarios: each opens a fresh partition over the real file system, appends
//! until its time or byte budget runs out, makes everything durable, and reports what
//! it measured. The partition directory is deleted afterwards.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use bytes::Bytes;

use brook_log::{FsStorage, Partition, PartitionConfig, Storage, Syncer};
use brook_model::{Durability, IdSpec, Record};

/// What a scenario does.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `appenders` threads, each appending one record at a time and waiting for it
    /// to be durable before the next (`always`).
    Single { appenders: usize },
    /// The same with `appenders` tokio tasks awaiting `wait_durable` on a runtime with
    /// one worker thread per core, as the server's connections would.
    Tasks { appenders: usize },
    /// One writer appending batches of about `batch_bytes` of records, then one final
    /// `wait_durable` so everything reached the disk. Under `always` every batch waits.
    Batched { durability: Durability },
    /// The same with batches already encoded as Kafka RecordBatches (the path of a
    /// Kafka producer's batch, `append_kafka_batch`: checked and stored as sent). The
    /// batch is encoded once, outside the timed loop, as the client would have.
    KafkaBatched { durability: Durability },
}

#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Stop appending after this long.
    pub duration: Duration,
    /// Batched scenarios also stop after this many payload bytes.
    pub volume_bytes: u64,
    /// Payload bytes per append call in batched scenarios.
    pub batch_bytes: usize,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub kind: Kind,
    /// Which round of the group-commit scenarios this run belongs to (0 otherwise).
    pub round: usize,
    pub record_bytes: usize,
    pub records: u64,
    /// Record values only (what a client sent).
    pub payload_bytes: u64,
    /// Entry bytes written to segments (batch headers, per-record framing, stream IDs).
    pub disk_bytes: u64,
    /// Wall time, including the final fsync of batched scenarios.
    pub elapsed: Duration,
    /// Time of the final `wait_durable` of batched scenarios.
    pub final_sync: Option<Duration>,
    /// Per append call: append + wait for durability in `Single`, append alone in
    /// `Batched` (append + wait under `always`).
    pub p50: Duration,
    pub p99: Duration,
    pub fsyncs: u64,
    pub appends_per_fsync_sum: u64,
    pub fsync_nanos: u64,
}

impl Outcome {
    pub fn records_per_s(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64()
    }
    pub fn payload_mb_per_s(&self) -> f64 {
        self.payload_bytes as f64 / self.elapsed.as_secs_f64() / 1e6
    }
    pub fn disk_mb_per_s(&self) -> f64 {
        self.disk_bytes as f64 / self.elapsed.as_secs_f64() / 1e6
    }
    /// Mean duration of one fsync.
    pub fn fsync_avg(&self) -> Option<Duration> {
        (self.fsyncs > 0).then(|| Duration::from_nanos(self.fsync_nanos / self.fsyncs))
    }
    pub fn appends_per_fsync(&self) -> Option<f64> {
        (self.fsyncs > 0).then(|| self.appends_per_fsync_sum as f64 / self.fsyncs as f64)
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `count` records whose values are distinct slices of one shared buffer.
fn records(value_pool: &Bytes, record_bytes: usize, count: usize) -> Vec<(IdSpec, Record)> {
    let ts = now_ms() as i64;
    let slots = (value_pool.len() / record_bytes).max(1);
    (0..count)
        .map(|i| {
            let start = (i % slots) * record_bytes;
            (
                IdSpec::Auto,
                Record {
                    timestamp_ms: ts,
                    key: None,
                    value: Some(value_pool.slice(start..start + record_bytes)),
                    headers: Vec::new(),
                },
            )
        })
        .collect()
}

/// Incompressible-looking bytes (xorshift), so nothing along the way can shortcut them.
fn value_pool(len: usize) -> Bytes {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

pub struct Runner {
    pub storage: Arc<dyn Storage>,
    pub syncer: Syncer,
    pub base_dir: PathBuf,
    pub budget: Budget,
}

impl Runner {
    pub fn new(base_dir: PathBuf, budget: Budget) -> Result<Runner> {
        Ok(Runner {
            storage: Arc::new(FsStorage),
            syncer: Syncer::start(2).context("starting the fsync workers")?,
            base_dir,
            budget,
        })
    }

    pub fn run(&self, name: &str, kind: Kind, record_bytes: usize) -> Result<Outcome> {
        let dir = self.base_dir.join(format!("{name}-{record_bytes}"));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("removing stale {}", dir.display()))?;
        }
        let durability = match kind {
            Kind::Single { .. } | Kind::Tasks { .. } => Durability::Always,
            Kind::Batched { durability } | Kind::KafkaBatched { durability } => durability,
        };
        let config = PartitionConfig {
            durability,
            ..PartitionConfig::default()
        };
        let partition = Partition::open(
            self.storage.clone(),
            self.syncer.clone(),
            dir.clone(),
            config,
        )
        .with_context(|| format!("opening a partition in {}", dir.display()))?;
        let result = match kind {
            Kind::Single { appenders } => self.single(&partition, appenders, record_bytes),
            Kind::Tasks { appenders } => self.tasks(&partition, appenders, record_bytes),
            Kind::Batched { durability } => {
                self.batched(&partition, durability, record_bytes, false)
            }
            Kind::KafkaBatched { durability } => {
                self.batched(&partition, durability, record_bytes, true)
            }
        };
        let closed = partition.close();
        drop(partition);
        remove_and_settle(&dir)?;
        let outcome = result?;
        closed.map_err(|e| anyhow!("closing the partition: {e}"))?;
        Ok(outcome)
    }

    fn single(
        &self,
        partition: &Arc<Partition>,
        appenders: usize,
        record_bytes: usize,
    ) -> Result<Outcome> {
        let pool = value_pool(record_bytes * 64);
        let barrier = Arc::new(Barrier::new(appenders + 1));
        let duration = self.budget.duration;
        let mut threads = Vec::with_capacity(appenders);
        for i in 0..appenders {
            let partition = partition.clone();
            let pool = pool.clone();
            let barrier = barrier.clone();
            let thread = std::thread::Builder::new()
                .name(format!("appender-{i}"))
                .spawn(move || -> Result<Vec<Duration>> {
                    barrier.wait();
                    let deadline = Instant::now() + duration;
                    let mut latencies = Vec::with_capacity(16 * 1024);
                    let mut n = i;
                    loop {
                        let start = Instant::now();
                        let slot = (n % 64) * record_bytes;
                        let recs = records(&pool.slice(slot..slot + record_bytes), record_bytes, 1);
                        let appended = partition
                            .append(&recs, now_ms())
                            .map_err(|e| anyhow!("append: {e}"))?;
                        partition
                            .wait_durable_blocking(appended.next_offset)
                            .map_err(|e| anyhow!("wait_durable: {e}"))?;
                        let end = Instant::now();
                        latencies.push(end - start);
                        n += 1;
                        if end >= deadline {
                            return Ok(latencies);
                        }
                    }
                })
                .context("spawning an appender thread")?;
            threads.push(thread);
        }
        barrier.wait();
        let start = Instant::now();
        let mut latencies = Vec::new();
        for t in threads {
            let mine = t
                .join()
                .map_err(|_| anyhow!("an appender thread panicked"))??;
            latencies.extend(mine);
        }
        let elapsed = start.elapsed();
        let kind = Kind::Single { appenders };
        Ok(outcome(
            partition,
            kind,
            record_bytes,
            elapsed,
            None,
            latencies,
        ))
    }

    fn tasks(
        &self,
        partition: &Arc<Partition>,
        appenders: usize,
        record_bytes: usize,
    ) -> Result<Outcome> {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("bench-rt")
            .build()
            .context("starting the tokio runtime")?;
        let pool = value_pool(record_bytes * 64);
        let duration = self.budget.duration;
        let (elapsed, latencies) = runtime.block_on(async {
            let start = Instant::now();
            let deadline = start + duration;
            let mut tasks = Vec::with_capacity(appenders);
            for i in 0..appenders {
                let partition = partition.clone();
                let pool = pool.clone();
                tasks.push(tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(16 * 1024);
                    let mut n = i;
                    loop {
                        let t = Instant::now();
                        let slot = (n % 64) * record_bytes;
                        let recs = records(&pool.slice(slot..slot + record_bytes), record_bytes, 1);
                        let appended = partition
                            .append(&recs, now_ms())
                            .map_err(|e| anyhow!("append: {e}"))?;
                        partition
                            .wait_durable(appended.next_offset)
                            .await
                            .map_err(|e| anyhow!("wait_durable: {e}"))?;
                        let end = Instant::now();
                        latencies.push(end - t);
                        n += 1;
                        if end >= deadline {
                            return Ok::<_, anyhow::Error>(latencies);
                        }
                    }
                }));
            }
            let mut all = Vec::new();
            for t in tasks {
                all.extend(
                    t.await
                        .map_err(|e| anyhow!("an appender task failed: {e}"))??,
                );
            }
            Ok::<_, anyhow::Error>((start.elapsed(), all))
        })?;
        let kind = Kind::Tasks { appenders };
        Ok(outcome(
            partition,
            kind,
            record_bytes,
            elapsed,
            None,
            latencies,
        ))
    }

    fn batched(
        &self,
        partition: &Arc<Partition>,
        durability: Durability,
        record_bytes: usize,
        kafka: bool,
    ) -> Result<Outcome> {
        let per_batch = (self.budget.batch_bytes / record_bytes).max(1);
        let pool = value_pool(per_batch * record_bytes);
        // Every call appends the same records: the log takes them by reference, and
        // building them is the caller's work, not the log's.
        let batch = records(&pool, record_bytes, per_batch);
        let mut kafka_batch = Vec::new();
        if kafka {
            brook_log::batch::encode_batch(batch.iter().map(|(_, r)| r), &mut kafka_batch)
                .map_err(|e| anyhow!("encode: {e}"))?;
        }
        let wait_each = matches!(durability, Durability::Always);
        let start = Instant::now();
        let deadline = start + self.budget.duration;
        let mut latencies = Vec::with_capacity(8 * 1024);
        let mut payload = 0u64;
        let mut next_offset = 0;
        while payload < self.budget.volume_bytes && Instant::now() < deadline {
            let t = Instant::now();
            let appended = if kafka {
                partition.append_kafka_batch(&kafka_batch, now_ms())
            } else {
                partition.append(&batch, now_ms())
            }
            .map_err(|e| anyhow!("append: {e}"))?;
            next_offset = appended.next_offset;
            if wait_each {
                partition
                    .wait_durable_blocking(next_offset)
                    .map_err(|e| anyhow!("wait_durable: {e}"))?;
            }
            latencies.push(t.elapsed());
            payload += (per_batch * record_bytes) as u64;
        }
        let sync_start = Instant::now();
        partition
            .wait_durable_blocking(next_offset)
            .map_err(|e| anyhow!("final wait_durable: {e}"))?;
        let final_sync = sync_start.elapsed();
        let elapsed = start.elapsed();
        let kind = if kafka {
            Kind::KafkaBatched { durability }
        } else {
            Kind::Batched { durability }
        };
        Ok(outcome(
            partition,
            kind,
            record_bytes,
            elapsed,
            Some(final_sync),
            latencies,
        ))
    }

    pub fn shutdown(&self) {
        self.syncer.shutdown();
    }
}

fn outcome(
    partition: &Partition,
    kind: Kind,
    record_bytes: usize,
    elapsed: Duration,
    final_sync: Option<Duration>,
    mut latencies: Vec<Duration>,
) -> Outcome {
    latencies.sort_unstable();
    let stats = &partition.stats;
    let records = stats.records.load(Ordering::Relaxed);
    Outcome {
        kind,
        round: 0,
        record_bytes,
        records,
        payload_bytes: records * record_bytes as u64,
        disk_bytes: stats.bytes.load(Ordering::Relaxed),
        elapsed,
        final_sync,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        fsyncs: stats.fsyncs.load(Ordering::Relaxed),
        appends_per_fsync_sum: stats.appends_per_fsync_sum.load(Ordering::Relaxed),
        fsync_nanos: stats.fsync_nanos.load(Ordering::Relaxed),
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted.get(rank - 1).copied().unwrap_or_default()
}

/// Deletes a scenario's directory and lets the file system finish with it (the
/// freed blocks may be discarded) before the next scenario starts timing.
fn remove_and_settle(dir: &Path) -> Result<()> {
    std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    if let Some(parent) = dir.parent() {
        std::fs::File::open(parent)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("syncing {}", parent.display()))?;
    }
    std::thread::sleep(Duration::from_millis(200));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 0.50), Duration::from_millis(50));
        assert_eq!(percentile(&v, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
        assert_eq!(
            percentile(&[Duration::from_millis(7)], 0.99),
            Duration::from_millis(7)
        );
    }
}
