//! A real-process crash test: a child process appends through the broker with the
//! `always` policy and prints every acknowledged offset; the parent kills it with
//! SIGKILL mid-load, reopens the data directory and checks that every acknowledged
//! record is there, intact and in order.
//!
//! The child is this same test binary, re-executed with `BROOK_SIGKILL_CHILD` set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use brook_broker::{Ack, Broker, BrokerConfig, TopicKey, TopicSettings};
use brook_model::{IdSpec, Record};
use bytes::Bytes;

const CHILD_ENV: &str = "BROOK_SIGKILL_CHILD";

fn value_for(writer: u64, i: u64) -> String {
    format!(
        "writer-{writer}-record-{i}-{}",
        "x".repeat((i % 50) as usize)
    )
}

/// The child: 4 concurrent writers append forever, printing "ack <writer> <i> <offset>".
#[test]
fn sigkill_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return; // Only runs as the re-executed child.
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut config = BrokerConfig::new(&dir);
        config.segment_bytes = 64 * 1024; // many segment rolls under load
        let broker = Broker::open(config).unwrap();
        let key = TopicKey::new(0, "crash:test");
        let topic = match broker.topic(&key) {
            Some(t) => t,
            None => broker
                .create_topic(key, TopicSettings::default())
                .await
                .unwrap(),
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        for writer in 0..4u64 {
            let broker = broker.clone();
            let topic = topic.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    let rec = Record {
                        timestamp_ms: i as i64,
                        value: Some(Bytes::from(value_for(writer, i))),
                        ..Record::default()
                    };
                    let a = broker
                        .append(&topic, 0, vec![(IdSpec::Auto, rec)], Ack::Policy)
                        .await
                        .unwrap();
                    if tx
                        .send(format!("ack {writer} {i} {}", a.base_offset))
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
        let mut out = std::io::stdout().lock();
        while let Some(line) = rx.recv().await {
            writeln!(out, "{line}").unwrap();
            out.flush().unwrap();
        }
    });
}

#[test]
fn acknowledged_records_survive_sigkill() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut acked: Vec<(u64, u64, u64)> = Vec::new(); // (offset, writer, i)
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sigkill_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let started = Instant::now();
        let target = 2000 + round * 500;
        let mut this_round = 0;
        while this_round < target {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "child too slow"
            );
            let Some(line) = lines.next() else {
                panic!("child exited early")
            };
            let line = line.unwrap();
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.first() != Some(&"ack") {
                continue;
            }
            let w: u64 = parts[1].parse().unwrap();
            let i: u64 = parts[2].parse().unwrap();
            let offset: u64 = parts[3].parse().unwrap();
            acked.push((offset, w, i));
            this_round += 1;
        }
        // Kill mid-load: appends are still in flight.
        let status = Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        child.wait().unwrap();

        let broker = Broker::open(BrokerConfig::new(dir.path())).unwrap();
        let topic = broker.topic(&TopicKey::new(0, "crash:test")).unwrap();
        let p = &topic.partitions()[0];
        let records = p.read_records(0, usize::MAX, usize::MAX).unwrap();
        assert!(records.len() >= acked.len(), "round {round}: records lost");
        for (offset, w, i) in &acked {
            let r = &records[*offset as usize];
            assert_eq!(r.offset, *offset);
            assert_eq!(
                r.value.as_deref(),
                Some(value_for(*w, *i).as_bytes()),
                "round {round}: offset {offset}"
            );
        }
        for pair in records.windows(2) {
            assert!(pair[0].stream_id < pair[1].stream_id);
        }
        broker.shutdown().unwrap();
        drop(broker);
        // The next child continues after the recovered end, so the acked offsets of
        // earlier rounds stay valid.
    }
}
