//! `/metrics` beyond the broker totals: per partition traffic and offsets, fsync
//! latency and group-commit sizes, consumer-group lag of both kinds, connections,
//! memory, and what the front ends register ([`MetricsSource`]).

use std::fmt::Write as _;

use brook_model::metrics::{
    family, label, HistogramSnapshot, MetricsSource, COUNT_BUCKETS, LATENCY_BUCKETS_S,
};

use crate::api::groups::{kafka_partitions, redis_lag};
use crate::AdminState;

pub fn render(state: &AdminState, out: &mut String) {
    let broker = &state.broker;
    let topics = broker.topics();
    let now = brook_broker::now_ms();

    type Sample = (String, u64);
    let mut per_partition: [(&str, &str, &str, Vec<Sample>); 7] = [
        (
            "brook_partition_records_in_total",
            "counter",
            "Records appended to the partition since start.",
            Vec::new(),
        ),
        (
            "brook_partition_bytes_in_total",
            "counter",
            "Bytes appended to the partition since start.",
            Vec::new(),
        ),
        (
            "brook_partition_records_out_total",
            "counter",
            "Records read from the partition since start (by any reader).",
            Vec::new(),
        ),
        (
            "brook_partition_bytes_out_total",
            "counter",
            "Bytes read from the partition since start.",
            Vec::new(),
        ),
        (
            "brook_partition_log_start_offset",
            "gauge",
            "First readable offset.",
            Vec::new(),
        ),
        (
            "brook_partition_high_watermark",
            "gauge",
            "One past the last offset readers may see.",
            Vec::new(),
        ),
        (
            "brook_partition_size_bytes",
            "gauge",
            "Bytes of the partition's segments on disk.",
            Vec::new(),
        ),
    ];
    let mut fsync = HistogramSnapshot::empty(LATENCY_BUCKETS_S);
    let mut batch = HistogramSnapshot::empty(COUNT_BUCKETS);
    let mut roll = HistogramSnapshot::empty(LATENCY_BUCKETS_S);
    for t in &topics {
        if t.expired(now) {
            continue;
        }
        for (i, p) in t.partitions().iter().enumerate() {
            let labels = format!(
                "db=\"{}\",topic=\"{}\",partition=\"{i}\"",
                t.key.db,
                label(&String::from_utf8_lossy(&t.key.name))
            );
            let s = &p.stats;
            let marks = p.marks();
            let values = [
                s.records.load(std::sync::atomic::Ordering::Relaxed),
                s.bytes.load(std::sync::atomic::Ordering::Relaxed),
                s.records_read.load(std::sync::atomic::Ordering::Relaxed),
                s.bytes_read.load(std::sync::atomic::Ordering::Relaxed),
                marks.log_start,
                marks.high_watermark,
                p.size_bytes(),
            ];
            for (slot, v) in per_partition.iter_mut().zip(values) {
                slot.3.push((labels.clone(), v));
            }
            fsync.add(&s.fsync_seconds.snapshot());
            batch.add(&s.appends_per_fsync.snapshot());
            roll.add(&s.roll_seconds.snapshot());
        }
    }
    for (name, kind, help, samples) in &per_partition {
        family(out, name, kind, help);
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    }
    family(
        out,
        "brook_fsync_duration_seconds",
        "histogram",
        "Latency of each fsync of partition data, all partitions.",
    );
    fsync.render(out, "brook_fsync_duration_seconds", "");
    family(
        out,
        "brook_group_commit_appends",
        "histogram",
        "Appends made durable by one fsync (group-commit batch size), all partitions.",
    );
    batch.render(out, "brook_group_commit_appends", "");
    family(
        out,
        "brook_segment_roll_duration_seconds",
        "histogram",
        "Duration of each segment roll, during which appends to the partition wait, all partitions.",
    );
    roll.render(out, "brook_segment_roll_duration_seconds", "");

    // Consumer groups of both kinds.
    family(
        out,
        "brook_kafka_group_lag",
        "gauge",
        "Records after a Kafka group's committed offset, per partition.",
    );
    let mut members = Vec::new();
    for (group, _, _) in broker.kafka_group_list() {
        for p in kafka_partitions(broker, &group) {
            if let Some(lag) = p.lag {
                let _ = writeln!(
                    out,
                    "brook_kafka_group_lag{{group=\"{}\",topic=\"{}\",partition=\"{}\"}} {lag}",
                    label(&group),
                    label(&p.topic),
                    p.partition
                );
            }
        }
        let n = broker
            .kafka_groups()
            .describe(&group)
            .map_or(0, |g| g.members.len());
        members.push((group, n));
    }
    family(
        out,
        "brook_kafka_group_members",
        "gauge",
        "Members of a Kafka group.",
    );
    for (group, n) in members {
        let _ = writeln!(
            out,
            "brook_kafka_group_members{{group=\"{}\"}} {n}",
            label(&group)
        );
    }
    let mut lag = Vec::new();
    let mut pending = Vec::new();
    for t in &topics {
        for (i, p) in t.partitions().iter().enumerate() {
            let stream = crate::api::topics::stream_key(t, i as u32);
            let groups = t.groups(p).clone();
            for (name, g) in &groups.groups {
                let labels = format!(
                    "db=\"{}\",stream=\"{}\",group=\"{}\"",
                    t.key.db,
                    label(&stream),
                    label(&String::from_utf8_lossy(name))
                );
                lag.push((labels.clone(), redis_lag(p, g)));
                pending.push((labels, g.pel.len() as u64));
            }
        }
    }
    family(
        out,
        "brook_redis_group_lag",
        "gauge",
        "Entries after a Redis group's last delivered one.",
    );
    for (labels, v) in lag {
        let _ = writeln!(out, "brook_redis_group_lag{{{labels}}} {v}");
    }
    family(
        out,
        "brook_redis_group_pending",
        "gauge",
        "Entries delivered to a Redis group and not acknowledged.",
    );
    for (labels, v) in pending {
        let _ = writeln!(out, "brook_redis_group_pending{{{labels}}} {v}");
    }

    family(
        out,
        "brook_removals_pending",
        "gauge",
        "Removals of deleted topics' and trimmed segments' files waiting or running (they run in the background).",
    );
    let _ = writeln!(out, "brook_removals_pending {}", broker.removals_pending());

    let c = state.connections();
    family(
        out,
        "brook_connections",
        "gauge",
        "Open client connections, by protocol.",
    );
    let _ = writeln!(out, "brook_connections{{protocol=\"resp\"}} {}", c.resp);
    let _ = writeln!(out, "brook_connections{{protocol=\"kafka\"}} {}", c.kafka);
    if let Some(rss) = resident_bytes() {
        family(
            out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the brook process.",
        );
        let _ = writeln!(out, "process_resident_memory_bytes {rss}");
    }
    for source in state.sources() {
        source.render_metrics(out);
    }
}

/// Resident set size from `/proc/self/statm` (Linux), in bytes.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    let page = rustix::param::page_size() as u64;
    Some(pages * page)
}

/// For front ends to register their metrics with the admin state.
pub type Source = std::sync::Arc<dyn MetricsSource>;
