//! Kafka config names ↔ Brook settings, for CreateTopics, DescribeConfigs,
//! AlterConfigs and IncrementalAlterConfigs (docs/kafka.md lists them).
//!
//! Topic configs are the topic's [`TopicSettings`]: a setting left `None` falls back
//! to the server default, which is reported with the source Kafka uses for it —
//! `STATIC_BROKER_CONFIG` when the server was started with a value other than the
//! built-in one, `DEFAULT_CONFIG` otherwise. Broker configs are read-only: Brook takes
//! its configuration at start (flags, environment, file), not over Kafka.

use std::fmt::Write as _;

use brook_broker::{BrokerConfig, TopicSettings};
use brook_model::{Durability, BATCH_BYTES_MAX, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN};
use kafka_protocol::ResponseError;

/// Kafka's `ConfigResource.Type`.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;

/// Kafka's `ConfigSource` (DescribeConfigs v1+).
pub const SOURCE_TOPIC: i8 = 1;
pub const SOURCE_STATIC_BROKER: i8 = 4;
pub const SOURCE_DEFAULT: i8 = 5;

/// Kafka's `ConfigType` (DescribeConfigs v3+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Short = 4,
    Long = 5,
    List = 7,
}

/// A topic config Brook has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKey {
    CleanupPolicy,
    MaxMessageBytes,
    RetentionBytes,
    RetentionMs,
    SegmentBytes,
    Fsync,
    RetentionRecords,
}

/// One topic config: its Kafka name, the name of the broker-wide default it falls
/// back to (reported as a synonym), its type and documentation.
#[derive(Debug)]
pub struct TopicConfig {
    pub key: ConfigKey,
    pub name: &'static str,
    pub broker_name: &'static str,
    pub config_type: ConfigType,
    pub doc: &'static str,
}

/// Every topic config, in the order DescribeConfigs lists them.
pub const TOPIC_CONFIGS: &[TopicConfig] = &[
    TopicConfig {
        key: ConfigKey::Fsync,
        name: "brook.fsync",
        broker_name: "brook.fsync",
        config_type: ConfigType::String,
        doc: "Brook's durability policy: always (acknowledge and show records only after fsync), everysec or <N>ms (fsync on an interval), never (leave it to the OS).",
    },
    TopicConfig {
        key: ConfigKey::RetentionRecords,
        name: "brook.retention.records",
        broker_name: "brook.retention.records",
        config_type: ConfigType::Long,
        doc: "Keep at most this many records (the log start moves exactly); -1 for no limit.",
    },
    TopicConfig {
        key: ConfigKey::CleanupPolicy,
        name: "cleanup.policy",
        broker_name: "log.cleanup.policy",
        config_type: ConfigType::List,
        doc: "Only \"delete\": old records are removed by retention. Brook does not compact logs.",
    },
    TopicConfig {
        key: ConfigKey::MaxMessageBytes,
        name: "max.message.bytes",
        broker_name: "message.max.bytes",
        config_type: ConfigType::Int,
        doc: "Largest record batch a Kafka producer may send to the topic, as sent (compressed). At most 8 MiB.",
    },
    TopicConfig {
        key: ConfigKey::RetentionBytes,
        name: "retention.bytes",
        broker_name: "log.retention.bytes",
        config_type: ConfigType::Long,
        doc: "Drop the oldest sealed segments while the partition is larger than this; -1 for no limit.",
    },
    TopicConfig {
        key: ConfigKey::RetentionMs,
        name: "retention.ms",
        broker_name: "log.retention.ms",
        config_type: ConfigType::Long,
        doc: "Drop sealed segments whose newest record is older than this; -1 for no limit.",
    },
    TopicConfig {
        key: ConfigKey::SegmentBytes,
        name: "segment.bytes",
        broker_name: "log.segment.bytes",
        config_type: ConfigType::Int,
        doc: "Size at which a partition's active segment is sealed and a new one started.",
    },
];

pub fn topic_config(name: &str) -> Option<&'static TopicConfig> {
    TOPIC_CONFIGS.iter().find(|c| c.name == name)
}

/// A config change Kafka refuses, with the error code and a message a user can act
/// on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    pub code: ResponseError,
    pub message: String,
}

impl ConfigError {
    pub fn invalid_config(message: impl Into<String>) -> ConfigError {
        ConfigError {
            code: ResponseError::InvalidConfig,
            message: message.into(),
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> ConfigError {
        ConfigError {
            code: ResponseError::InvalidRequest,
            message: message.into(),
        }
    }
}

fn known(name: &str) -> Result<&'static TopicConfig, ConfigError> {
    topic_config(name).ok_or_else(|| {
        let mut names = String::new();
        for (i, c) in TOPIC_CONFIGS.iter().enumerate() {
            let _ = write!(names, "{}{}", if i == 0 { "" } else { ", " }, c.name);
        }
        ConfigError::invalid_config(format!(
            "Unknown topic config name: {name} (Brook's topic configs: {names})"
        ))
    })
}

fn invalid(name: &str, value: &str, why: impl std::fmt::Display) -> ConfigError {
    ConfigError::invalid_config(format!(
        "Invalid value {value} for configuration {name}: {why}"
    ))
}

/// `-1` (no limit) as `None`, else a non-negative number.
fn parse_limit(name: &str, value: &str) -> Result<Option<u64>, ConfigError> {
    let n: i64 = value
        .trim()
        .parse()
        .map_err(|_| invalid(name, value, "Not a number of type LONG"))?;
    match n {
        -1 => Ok(None),
        n => u64::try_from(n)
            .map(Some)
            .map_err(|_| invalid(name, value, "Value must be at least -1 (-1: no limit)")),
    }
}

fn parse_int_in(name: &str, value: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
    let n: i32 = value
        .trim()
        .parse()
        .map_err(|_| invalid(name, value, "Not a number of type INT"))?;
    u64::try_from(n)
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| invalid(name, value, format!("Value must be in [{min}, {max}]")))
}

/// The items of a list config (Kafka's comma-separated form).
fn list_items(value: &str) -> Vec<&str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Checks a `cleanup.policy` list: only `delete` is supported.
fn check_cleanup_policy(items: &[&str], value: &str) -> Result<(), ConfigError> {
    const NAME: &str = "cleanup.policy";
    for item in items {
        match *item {
            "delete" => {}
            "compact" => {
                return Err(invalid(
                    NAME,
                    value,
                    "Brook does not compact logs; only \"delete\" (retention by time, size or record count) is supported",
                ))
            }
            _ => return Err(invalid(NAME, value, "String must be one of: compact, delete")),
        }
    }
    if items.is_empty() {
        return Err(invalid(
            NAME,
            value,
            "Brook always applies retention; the policy must be \"delete\"",
        ));
    }
    Ok(())
}

/// Sets the topic config `name` to `value`, or back to its default if `value` is
/// `None`, after checking it. Refuses names Brook does not have.
pub fn set(
    settings: &mut TopicSettings,
    name: &str,
    value: Option<&str>,
) -> Result<(), ConfigError> {
    let config = known(name)?;
    let Some(value) = value else {
        clear(settings, config.key);
        return Ok(());
    };
    match config.key {
        ConfigKey::CleanupPolicy => check_cleanup_policy(&list_items(value), value)?,
        ConfigKey::MaxMessageBytes => {
            settings.max_message_bytes =
                Some(parse_int_in(name, value, 1, BATCH_BYTES_MAX as u64)?);
        }
        ConfigKey::RetentionBytes => settings.retention_bytes = parse_limit(name, value)?,
        ConfigKey::RetentionMs => settings.retention_ms = parse_limit(name, value)?,
        ConfigKey::RetentionRecords => settings.retention_records = parse_limit(name, value)?,
        ConfigKey::SegmentBytes => {
            settings.segment_bytes = Some(parse_int_in(
                name,
                value,
                SEGMENT_BYTES_MIN,
                SEGMENT_BYTES_MAX,
            )?);
        }
        ConfigKey::Fsync => {
            let d: Durability = value.parse().map_err(|_| {
                invalid(
                    name,
                    value,
                    "expected always, everysec, <N>ms (1 to 3600000, e.g. 100ms) or never",
                )
            })?;
            settings.fsync = Some(d);
        }
    }
    Ok(())
}

fn clear(settings: &mut TopicSettings, key: ConfigKey) {
    match key {
        ConfigKey::CleanupPolicy => {}
        ConfigKey::MaxMessageBytes => settings.max_message_bytes = None,
        ConfigKey::RetentionBytes => settings.retention_bytes = None,
        ConfigKey::RetentionMs => settings.retention_ms = None,
        ConfigKey::RetentionRecords => settings.retention_records = None,
        ConfigKey::SegmentBytes => settings.segment_bytes = None,
        ConfigKey::Fsync => settings.fsync = None,
    }
}

/// Copies the topic config `name` (if Brook has it) from `from` to `to`.
pub fn copy(to: &mut TopicSettings, from: &TopicSettings, name: &str) {
    let Some(config) = topic_config(name) else {
        return;
    };
    match config.key {
        ConfigKey::CleanupPolicy => {}
        ConfigKey::MaxMessageBytes => to.max_message_bytes = from.max_message_bytes,
        ConfigKey::RetentionBytes => to.retention_bytes = from.retention_bytes,
        ConfigKey::RetentionMs => to.retention_ms = from.retention_ms,
        ConfigKey::RetentionRecords => to.retention_records = from.retention_records,
        ConfigKey::SegmentBytes => to.segment_bytes = from.segment_bytes,
        ConfigKey::Fsync => to.fsync = from.fsync,
    }
}

/// Every topic config back to its default (AlterConfigs replaces the whole set).
pub fn clear_all(settings: &mut TopicSettings) {
    for c in TOPIC_CONFIGS {
        clear(settings, c.key);
    }
}

/// IncrementalAlterConfigs `APPEND` (`subtract: false`) or `SUBTRACT` on a list
/// config. Only `cleanup.policy` is a list, and it only ever holds `delete`.
pub fn append_or_subtract(
    name: &str,
    value: Option<&str>,
    subtract: bool,
) -> Result<(), ConfigError> {
    let config = known(name)?;
    let op = if subtract { "subtract" } else { "append" };
    if config.config_type != ConfigType::List {
        return Err(ConfigError::invalid_config(format!(
            "Config value {op} is not allowed for config key: {name} (only list configs take APPEND or SUBTRACT)"
        )));
    }
    let value = value.unwrap_or("");
    let changed = list_items(value);
    let mut items: Vec<&str> = vec!["delete"];
    if subtract {
        items.retain(|i| !changed.contains(i));
    } else {
        for item in changed {
            if !items.contains(&item) {
                items.push(item);
            }
        }
    }
    check_cleanup_policy(&items, &items.join(","))
}

/// One config as DescribeConfigs (and CreateTopics v5+) report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: &'static str,
    pub value: String,
    pub source: i8,
    pub read_only: bool,
    pub config_type: ConfigType,
    pub doc: &'static str,
    /// `(name, value, source)`, most specific first, as Kafka lists synonyms.
    pub synonyms: Vec<(&'static str, String, i8)>,
}

fn limit_text(limit: Option<u64>) -> String {
    limit.map_or_else(|| "-1".to_string(), |n| n.to_string())
}

/// The server-wide value of a topic config and whether it differs from the
/// built-in default (then it came from the server's configuration).
fn server_default(key: ConfigKey, broker: &BrokerConfig) -> (String, bool) {
    let builtin = BrokerConfig::new(&broker.data_dir);
    match key {
        ConfigKey::CleanupPolicy => ("delete".into(), false),
        ConfigKey::MaxMessageBytes => (BATCH_BYTES_MAX.to_string(), false),
        ConfigKey::RetentionBytes => (
            limit_text(broker.default_retention.bytes),
            broker.default_retention.bytes != builtin.default_retention.bytes,
        ),
        ConfigKey::RetentionMs => (
            limit_text(broker.default_retention.ms),
            broker.default_retention.ms != builtin.default_retention.ms,
        ),
        ConfigKey::RetentionRecords => (
            limit_text(broker.default_retention.records),
            broker.default_retention.records != builtin.default_retention.records,
        ),
        ConfigKey::SegmentBytes => (
            broker.segment_bytes.to_string(),
            broker.segment_bytes != builtin.segment_bytes,
        ),
        ConfigKey::Fsync => (
            broker.default_fsync.to_string(),
            broker.default_fsync != builtin.default_fsync,
        ),
    }
}

/// The value a topic sets itself, if any.
fn topic_value(key: ConfigKey, settings: &TopicSettings) -> Option<String> {
    match key {
        ConfigKey::CleanupPolicy => None,
        ConfigKey::MaxMessageBytes => settings.max_message_bytes.map(|n| n.to_string()),
        ConfigKey::RetentionBytes => settings.retention_bytes.map(|n| n.to_string()),
        ConfigKey::RetentionMs => settings.retention_ms.map(|n| n.to_string()),
        ConfigKey::RetentionRecords => settings.retention_records.map(|n| n.to_string()),
        ConfigKey::SegmentBytes => settings.segment_bytes.map(|n| n.to_string()),
        ConfigKey::Fsync => settings.fsync.map(|d| d.to_string()),
    }
}

/// A topic's configs: its own values where it sets them, else the server's.
pub fn topic_entries(settings: &TopicSettings, broker: &BrokerConfig) -> Vec<Entry> {
    TOPIC_CONFIGS
        .iter()
        .map(|c| {
            let (default, from_server) = server_default(c.key, broker);
            let default_source = if from_server {
                SOURCE_STATIC_BROKER
            } else {
                SOURCE_DEFAULT
            };
            let own = topic_value(c.key, settings);
            let mut synonyms = Vec::with_capacity(2);
            if let Some(v) = &own {
                synonyms.push((c.name, v.clone(), SOURCE_TOPIC));
            }
            synonyms.push((c.broker_name, default.clone(), default_source));
            let (value, source) = match own {
                Some(v) => (v, SOURCE_TOPIC),
                None => (default, default_source),
            };
            Entry {
                name: c.name,
                value,
                source,
                read_only: false,
                config_type: c.config_type,
                doc: c.doc,
                synonyms,
            }
        })
        .collect()
}

/// The broker's configs (all read-only): `advertised` is the `host:port` clients are
/// given, `log_dir` the data directory's absolute path.
pub fn broker_entries(broker: &BrokerConfig, advertised: &str, log_dir: &str) -> Vec<Entry> {
    let fixed = |name, value: String, config_type, doc| Entry {
        name,
        value,
        source: SOURCE_DEFAULT,
        read_only: true,
        config_type,
        doc,
        synonyms: Vec::new(),
    };
    let mut out = vec![
        fixed(
            "advertised.listeners",
            format!("PLAINTEXT://{advertised}"),
            ConfigType::List,
            "The address clients are given (--kafka-advertise, else the address they connected to).",
        ),
        fixed(
            "auto.create.topics.enable",
            "true".into(),
            ConfigType::Boolean,
            "Metadata creates unknown topics (1 partition) when the client allows it.",
        ),
        fixed(
            "broker.id",
            crate::NODE_ID.to_string(),
            ConfigType::Int,
            "Brook is a cluster of one broker.",
        ),
        fixed(
            "default.replication.factor",
            "1".into(),
            ConfigType::Short,
            "Brook keeps one copy of each partition.",
        ),
        fixed(
            "log.dirs",
            log_dir.to_string(),
            ConfigType::String,
            "The data directory (--data-dir).",
        ),
        fixed(
            "num.partitions",
            "1".into(),
            ConfigType::Int,
            "Partitions of a topic created without a count.",
        ),
    ];
    for c in TOPIC_CONFIGS {
        let (value, from_server) = server_default(c.key, broker);
        out.push(Entry {
            name: c.broker_name,
            value,
            source: if from_server {
                SOURCE_STATIC_BROKER
            } else {
                SOURCE_DEFAULT
            },
            read_only: true,
            config_type: c.config_type,
            doc: c.doc,
            synonyms: Vec::new(),
        });
    }
    out.sort_by_key(|e| e.name);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn set_err(name: &str, value: Option<&str>) -> ConfigError {
        set(&mut TopicSettings::default(), name, value).unwrap_err()
    }

    #[test]
    fn values_are_parsed_into_settings_and_back() {
        let mut s = TopicSettings::default();
        for (name, value) in [
            ("retention.ms", "60000"),
            ("retention.bytes", "1048576"),
            ("segment.bytes", "4096"),
            ("max.message.bytes", "1000"),
            ("brook.fsync", "everysec"),
            ("brook.retention.records", "10"),
            ("cleanup.policy", "delete"),
        ] {
            set(&mut s, name, Some(value)).unwrap();
        }
        assert_eq!(s.retention_ms, Some(60_000));
        assert_eq!(s.retention_bytes, Some(1_048_576));
        assert_eq!(s.segment_bytes, Some(4096));
        assert_eq!(s.max_message_bytes, Some(1000));
        assert_eq!(s.fsync, Some(Durability::Interval { ms: 1000 }));
        assert_eq!(s.retention_records, Some(10));
        s.validate().unwrap();
        let broker = BrokerConfig::new("/d");
        let entries = topic_entries(&s, &broker);
        let get = |n: &str| entries.iter().find(|e| e.name == n).unwrap().clone();
        assert_eq!(get("brook.fsync").value, "1000ms");
        assert_eq!(get("retention.ms").source, SOURCE_TOPIC);
        assert_eq!(
            get("retention.ms").synonyms,
            vec![
                ("retention.ms", "60000".to_string(), SOURCE_TOPIC),
                ("log.retention.ms", "-1".to_string(), SOURCE_DEFAULT)
            ]
        );
        assert_eq!(get("cleanup.policy").source, SOURCE_DEFAULT);
        // Back to defaults: -1 for limits, None in the settings.
        set(&mut s, "retention.ms", Some("-1")).unwrap();
        set(&mut s, "segment.bytes", None).unwrap();
        assert_eq!((s.retention_ms, s.segment_bytes), (None, None));
        clear_all(&mut s);
        assert_eq!(
            s,
            TopicSettings {
                partitions: s.partitions,
                ..TopicSettings::default()
            }
        );
        let entries = topic_entries(&s, &broker);
        assert!(entries.iter().all(|e| e.source == SOURCE_DEFAULT));
        assert_eq!(get("segment.bytes").value, "4096", "the earlier snapshot");
        let seg = entries.iter().find(|e| e.name == "segment.bytes").unwrap();
        assert_eq!(seg.value, brook_model::SEGMENT_BYTES_DEFAULT.to_string());
    }

    #[test]
    fn server_settings_are_static_broker_config() {
        let mut broker = BrokerConfig::new("/d");
        broker.default_fsync = Durability::Never;
        let entries = topic_entries(&TopicSettings::default(), &broker);
        let fsync = entries.iter().find(|e| e.name == "brook.fsync").unwrap();
        assert_eq!(
            (fsync.value.as_str(), fsync.source),
            ("never", SOURCE_STATIC_BROKER)
        );
        let b = broker_entries(&broker, "h:1", "/d");
        let fsync = b.iter().find(|e| e.name == "brook.fsync").unwrap();
        assert!(fsync.read_only && fsync.source == SOURCE_STATIC_BROKER);
        assert!(b.iter().all(|e| e.read_only));
        assert!(b.windows(2).all(|w| w[0].name < w[1].name));
    }

    #[test]
    fn bad_names_and_values_are_invalid_config_with_a_reason() {
        let cases = [
            (
                "compression.type",
                Some("gzip"),
                "Unknown topic config name",
            ),
            ("retention.ms", Some("soon"), "Not a number of type LONG"),
            ("retention.ms", Some("-2"), "at least -1"),
            ("segment.bytes", Some("10"), "[1024, 1073741824]"),
            (
                "segment.bytes",
                Some("99999999999"),
                "Not a number of type INT",
            ),
            ("max.message.bytes", Some("0"), "[1, 8388608]"),
            ("brook.fsync", Some("sometimes"), "expected always"),
            ("cleanup.policy", Some("compact"), "does not compact"),
            ("cleanup.policy", Some("delete,compact"), "does not compact"),
            ("cleanup.policy", Some("shred"), "one of"),
            ("cleanup.policy", Some(""), "must be \"delete\""),
        ];
        for (name, value, needle) in cases {
            let e = set_err(name, value);
            assert_eq!(e.code, ResponseError::InvalidConfig, "{name}={value:?}");
            assert!(
                e.message.contains(needle),
                "{name}={value:?}: {}",
                e.message
            );
        }
    }

    #[test]
    fn append_and_subtract_only_on_cleanup_policy_and_only_to_keep_delete() {
        append_or_subtract("cleanup.policy", Some("delete"), false).unwrap();
        append_or_subtract("cleanup.policy", Some("compact"), true).unwrap();
        for (name, value, subtract) in [
            ("cleanup.policy", "compact", false),
            ("cleanup.policy", "delete", true),
            ("retention.ms", "5", false),
            ("segment.bytes", "5", true),
            ("nope", "5", false),
        ] {
            let e = append_or_subtract(name, Some(value), subtract).unwrap_err();
            assert_eq!(e.code, ResponseError::InvalidConfig, "{name}");
        }
    }
}
