//! librdkafka clients: the settings the bench uses, and a context that keeps what
//! librdkafka reports (warnings, errors, failed deliveries) so the report can show it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::ProducerContext;

/// At most this many distinct problem lines are kept per client.
const NOTES_MAX: usize = 20;

/// What librdkafka told one client: log lines at warning level or worse, global
/// errors, and failed deliveries (producers report only those:
/// `delivery.report.only.error`).
#[derive(Debug, Default)]
pub struct Context {
    pub failed: AtomicU64,
    notes: Mutex<Vec<String>>,
    notes_dropped: AtomicU64,
}

impl Context {
    fn note(&self, line: String) {
        let Ok(mut notes) = self.notes.lock() else {
            return;
        };
        if notes.len() < NOTES_MAX {
            notes.push(line);
        } else {
            self.notes_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The problems seen, with a count of those not kept.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = self.notes.lock().map(|n| n.clone()).unwrap_or_default();
        let dropped = self.notes_dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            notes.push(format!("(and {dropped} more)"));
        }
        notes
    }
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        let serious = matches!(
            level,
            RDKafkaLogLevel::Emerg
                | RDKafkaLogLevel::Alert
                | RDKafkaLogLevel::Critical
                | RDKafkaLogLevel::Error
                | RDKafkaLogLevel::Warning
        );
        if serious {
            self.note(format!("librdkafka {level:?} {fac}: {log_message}"));
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // Reaching the end of a partition is how the latency consumer knows it is
        // caught up (`enable.partition.eof`), not a problem.
        if matches!(
            error,
            KafkaError::PartitionEOF(_)
                | KafkaError::Global(rdkafka::types::RDKafkaErrorCode::PartitionEOF)
        ) {
            return;
        }
        self.note(format!("librdkafka error: {error}: {reason}"));
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result {
            if self.failed.fetch_add(1, Ordering::Relaxed) == 0 {
                self.note(format!("delivery failed: {error}"));
            }
        }
    }
}

impl ConsumerContext for Context {}

/// librdkafka properties, in the order they are printed.
#[derive(Debug, Clone, Default)]
pub struct Settings(pub Vec<(String, String)>);

impl Settings {
    pub fn new(pairs: &[(&str, &str)]) -> Settings {
        Settings(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// Sets `key` (replacing an earlier value).
    pub fn set(&mut self, key: &str, value: &str) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.to_owned(),
            None => self.0.push((key.to_owned(), value.to_owned())),
        }
    }

    /// `key=value key=value ...`
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn config(&self, bootstrap: &str) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", bootstrap)
            .set("broker.address.family", "v4");
        for (k, v) in &self.0 {
            c.set(k, v);
        }
        c
    }
}

/// Producer settings a Kafka user would pick for throughput: many messages in
/// flight, a short linger, the largest batches librdkafka builds by default, no
/// compression (the bench measures bytes moved, not codec speed), and delivery
/// reports for failures only (a report per record costs the client CPU the server on
/// the same machine would not get; the records acknowledged are those sent minus
/// those reported failed once the producer has flushed).
pub fn producer_defaults() -> Settings {
    Settings::new(&[
        ("delivery.report.only.error", "true"),
        ("linger.ms", "5"),
        ("batch.size", "1000000"),
        ("batch.num.messages", "100000"),
        ("queue.buffering.max.messages", "100000"),
        ("queue.buffering.max.kbytes", "16384"),
        ("max.in.flight.requests.per.connection", "1000000"),
        ("compression.codec", "none"),
    ])
}

/// Consumer settings for throughput: librdkafka's default fetch sizes (1 MiB per
/// partition; on this 2-core machine the consume row ran 20-30% slower with 4 and 8
/// MiB), a deep prefetch queue.
pub fn consumer_defaults() -> Settings {
    Settings::new(&[
        // librdkafka needs a group for assign(); nothing is committed.
        ("group.id", "brook-bench"),
        ("fetch.min.bytes", "1"),
        ("fetch.wait.max.ms", "100"),
        ("fetch.max.bytes", "52428800"),
        ("max.partition.fetch.bytes", "1048576"),
        ("queued.max.messages.kbytes", "262144"),
    ])
}
