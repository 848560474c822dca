#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use brook_broker::{Ack, Broker, BrokerConfig, OpenError, TopicError, TopicKey, TopicSettings};
use brook_model::{Durability, IdSpec, Record};
use bytes::Bytes;

fn rec(v: &str) -> Vec<(IdSpec, Record)> {
    vec![(
        IdSpec::Auto,
        Record {
            timestamp_ms: 1,
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            ..Record::default()
        },
    )]
}

#[tokio::test]
async fn topics_and_records_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let key = TopicKey::new(0, "events:orders");
    {
        let b = Broker::open(BrokerConfig::new(dir.path())).unwrap();
        let settings = TopicSettings {
            partitions: 3,
            fsync: Some(Durability::Interval { ms: 50 }),
            ..TopicSettings::default()
        };
        let t = b.create_topic(key.clone(), settings).await.unwrap();
        assert!(matches!(
            b.create_topic(key.clone(), TopicSettings::default()).await,
            Err(TopicError::AlreadyExists(_))
        ));
        for i in 0..10 {
            b.append(&t, i % 3, rec(&format!("r{i}")), Ack::Durable)
                .await
                .unwrap();
        }
        b.create_topic(TopicKey::new(5, "other-db"), TopicSettings::default())
            .await
            .unwrap();
        b.shutdown().unwrap();
    }
    let b = Broker::open(BrokerConfig::new(dir.path())).unwrap();
    let t = b.topic(&key).expect("topic recovered");
    assert_eq!(t.partitions().len(), 3);
    assert_eq!(t.settings().fsync, Some(Durability::Interval { ms: 50 }));
    let total: u64 = t.partitions().iter().map(|p| p.marks().log_end).sum();
    assert_eq!(total, 10);
    assert!(b.topic(&TopicKey::new(5, "other-db")).is_some());
    assert!(
        b.topic(&TopicKey::new(0, "other-db")).is_none(),
        "databases are separate"
    );
    assert_eq!(b.stats().partitions, 4);
    b.shutdown().unwrap();
}

#[tokio::test]
async fn a_second_broker_on_the_same_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _b = Broker::open(BrokerConfig::new(dir.path())).unwrap();
    let err = Broker::open(BrokerConfig::new(dir.path())).unwrap_err();
    assert!(matches!(err, OpenError::Locked { .. }));
    assert!(err.to_string().contains("in use"));
}

#[tokio::test]
async fn delete_and_alter_topics() {
    let dir = tempfile::tempdir().unwrap();
    let key = TopicKey::new(0, "t");
    {
        let b = Broker::open(BrokerConfig::new(dir.path())).unwrap();
        let t = b
            .create_topic(key.clone(), TopicSettings::default())
            .await
            .unwrap();
        b.append(&t, 0, rec("x"), Ack::Policy).await.unwrap();
        let mut s = t.settings();
        s.retention_records = Some(5);
        s.fsync = Some(Durability::Never);
        b.alter_topic(&key, s).await.unwrap();
        assert_eq!(t.partitions()[0].config().durability, Durability::Never);
        assert_eq!(t.partitions()[0].config().retention.records, Some(5));
        let gone = TopicKey::new(0, "gone");
        let gone_id = b
            .create_topic(gone.clone(), TopicSettings::default())
            .await
            .unwrap()
            .id
            .clone();
        let gone_dir = dir.path().join("topics").join(gone_id);
        assert!(gone_dir.exists());
        b.delete_topic(&gone).await.unwrap();
        // The data goes in the background.
        b.wait_for_removals();
        assert!(!gone_dir.exists());
        assert!(matches!(
            b.delete_topic(&gone).await,
            Err(TopicError::NotFound(_))
        ));
        b.shutdown().unwrap();
    }
    // A leftover directory without a metadata record is removed at open.
    std::fs::create_dir_all(dir.path().join("topics/deadbeef/0")).unwrap();
    let b = Broker::open(BrokerConfig::new(dir.path())).unwrap();
    b.wait_for_removals();
    assert!(!dir.path().join("topics/deadbeef").exists());
    assert_eq!(b.topics().len(), 1);
    assert_eq!(b.topic(&key).unwrap().settings().retention_records, Some(5));
    let topic_dirs = std::fs::read_dir(dir.path().join("topics"))
        .unwrap()
        .count();
    assert_eq!(topic_dirs, 1, "the deleted topic's data is gone");
}

#[tokio::test]
async fn background_retention_trims_without_being_asked() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = BrokerConfig::new(dir.path());
    cfg.retention_check_ms = 20;
    let b = Broker::open(cfg).unwrap();
    let settings = TopicSettings {
        retention_records: Some(3),
        ..TopicSettings::default()
    };
    let t = b
        .create_topic(TopicKey::new(0, "q"), settings)
        .await
        .unwrap();
    for i in 0..10 {
        b.append(&t, 0, rec(&format!("{i}")), Ack::Policy)
            .await
            .unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while t.partitions()[0].marks().log_start < 7 {
        assert!(
            std::time::Instant::now() < deadline,
            "retention did not run"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(t.partitions()[0].live_count(), 3);
}

#[tokio::test]
async fn partitions_grow_durably_and_never_shrink() {
    let dir = tempfile::tempdir().unwrap();
    let key = TopicKey::new(0, "grow");
    let id;
    {
        let b = Broker::open(BrokerConfig::new(dir.path())).unwrap();
        let t = b
            .create_topic(
                key.clone(),
                TopicSettings {
                    partitions: 2,
                    retention_records: Some(100),
                    ..TopicSettings::default()
                },
            )
            .await
            .unwrap();
        id = t.id.clone();
        b.append(&t, 1, rec("old"), Ack::Durable).await.unwrap();
        for count in [2, 1] {
            let err = b.add_partitions(&key, count).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    TopicError::PartitionsNotIncreased {
                        current: 2,
                        requested,
                        ..
                    } if requested == count
                ),
                "{err}"
            );
        }
        assert!(matches!(
            b.add_partitions(&key, brook_model::PARTITIONS_MAX + 1)
                .await,
            Err(TopicError::Invalid(_))
        ));
        assert!(matches!(
            b.add_partitions(&TopicKey::new(0, "nope"), 3).await,
            Err(TopicError::NotFound(_))
        ));
        let grown = b.add_partitions(&key, 5).await.unwrap();
        assert_eq!(grown.partitions().len(), 5);
        assert_eq!(grown.settings().partitions, 5);
        assert_eq!(grown.settings().retention_records, Some(100));
        assert_eq!(grown.id, id);
        assert_eq!(b.topic(&key).unwrap().partitions().len(), 5);
        // The old partitions are the same ones, data and all.
        assert!(Arc::ptr_eq(&grown.partitions()[1], &t.partitions()[1]));
        assert_eq!(grown.partitions()[1].marks().log_end, 1);
        assert_eq!(grown.partitions()[4].config().retention.records, Some(100));
        b.append(&grown, 4, rec("new"), Ack::Durable).await.unwrap();
        // A stale handle does not undo the growth when it updates stream counters.
        b.update_stream_meta(&t, |m| m.entries_added_delta = 7)
            .await
            .unwrap();
        assert_eq!(b.topic(&key).unwrap().stream_meta().entries_added_delta, 7);
        b.shutdown().unwrap();
    }
    // A crash while adding partitions 5 and 6: their directories exist, the record
    // still says 5. They are removed at open.
    let topic_dir = dir.path().join("topics").join(&id);
    std::fs::create_dir_all(topic_dir.join("5")).unwrap();
    std::fs::create_dir_all(topic_dir.join("6")).unwrap();
    let b = Broker::open(BrokerConfig::new(dir.path())).unwrap();
    let t = b.topic(&key).unwrap();
    assert_eq!(t.partitions().len(), 5);
    assert_eq!(t.stream_meta().entries_added_delta, 7);
    assert_eq!(
        t.partitions()[4].marks().log_end,
        1,
        "the new partition's record"
    );
    assert!(!topic_dir.join("5").exists() && !topic_dir.join("6").exists());
    assert!(topic_dir.join("4").exists());
    // A leftover in the way of the next add is replaced by an empty partition.
    std::fs::create_dir_all(topic_dir.join("5")).unwrap();
    std::fs::write(topic_dir.join("5").join("junk"), b"x").unwrap();
    let t = b.add_partitions(&key, 6).await.unwrap();
    assert_eq!(t.partitions()[5].marks().log_end, 0);
    assert!(!topic_dir.join("5").join("junk").exists());
    b.shutdown().unwrap();
}

#[tokio::test]
async fn settings_are_edited_under_the_lock_and_partition_changes_refused() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::open(BrokerConfig::new(dir.path())).unwrap();
    let key = TopicKey::new(0, "cfg");
    b.create_topic(key.clone(), TopicSettings::default())
        .await
        .unwrap();
    let t = b
        .update_topic_settings(&key, |s| {
            s.max_message_bytes = Some(1000);
            s.fsync = Some(Durability::Never);
        })
        .await
        .unwrap();
    assert_eq!(t.settings().max_message_bytes, Some(1000));
    assert_eq!(t.partitions()[0].config().durability, Durability::Never);
    for bad in [Some(0), Some(brook_model::BATCH_BYTES_MAX as u64 + 1)] {
        assert!(matches!(
            b.update_topic_settings(&key, |s| s.max_message_bytes = bad)
                .await,
            Err(TopicError::Invalid(_))
        ));
    }
    assert!(matches!(
        b.update_topic_settings(&key, |s| s.partitions = 2).await,
        Err(TopicError::Invalid(_))
    ));
    assert_eq!(
        b.topic(&key).unwrap().settings().max_message_bytes,
        Some(1000)
    );
}
