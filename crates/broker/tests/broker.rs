#![allow(clippy::unwrap_used, clippy::expect_used)]

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
        b.create_topic(gone.clone(), TopicSettings::default())
            .await
            .unwrap();
        b.delete_topic(&gone).await.unwrap();
        assert!(matches!(
            b.delete_topic(&gone).await,
            Err(TopicError::NotFound(_))
        ));
        b.shutdown().unwrap();
    }
    // A leftover directory without a metadata record is removed at open.
    std::fs::create_dir_all(dir.path().join("topics/deadbeef/0")).unwrap();
    let b = Broker::open(BrokerConfig::new(dir.path())).unwrap();
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
