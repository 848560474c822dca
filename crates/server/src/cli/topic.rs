//! `brook topic create|list|describe|alter|delete`.

use std::io::{self, BufRead as _, IsTerminal as _, Write};

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value};

use super::client::{encode, Client};
use super::output::{self, parse_bytes, parse_duration_ms, parse_fsync, Table};
use super::types::{AlterTopic, CreateTopic, Preset, Topic, TopicConfig, TopicList};
use super::{db_query, parse_db, ClientArgs, Exit, Failure};

#[derive(Debug, Args)]
pub struct TopicArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: TopicCommand,
}

#[derive(Debug, Subcommand)]
pub enum TopicCommand {
    /// Create a topic
    Create {
        name: String,
        #[command(flatten)]
        settings: Settings,
        /// Redis database (0-15); Kafka clients see database 0
        #[arg(long, value_name = "N", value_parser = parse_db)]
        db: Option<u8>,
    },
    /// List topics (every database unless --db)
    List {
        #[arg(long, value_name = "N", value_parser = parse_db)]
        db: Option<u8>,
    },
    /// Show a topic: settings in force (and where they come from), partitions
    Describe {
        name: String,
        #[arg(long, value_name = "N", value_parser = parse_db)]
        db: Option<u8>,
    },
    /// Change a topic's settings or grow its partitions
    Alter {
        name: String,
        #[command(flatten)]
        settings: Settings,
        /// Put a setting back to the server default (repeatable)
        #[arg(long, value_name = "KEY", value_enum)]
        reset_config: Vec<SettingName>,
        #[arg(long, value_name = "N", value_parser = parse_db)]
        db: Option<u8>,
    },
    /// Delete a topic and its records
    Delete {
        name: String,
        /// Do not ask for confirmation (needed when stdin is not a terminal)
        #[arg(long, short = 'y')]
        yes: bool,
        #[arg(long, value_name = "N", value_parser = parse_db)]
        db: Option<u8>,
    },
}

/// The settings `create` and `alter` take.
#[derive(Debug, Args)]
pub struct Settings {
    /// Number of partitions (alter: grow to; partitions never shrink)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub partitions: Option<u32>,
    /// Settings for one of the two ways teams treat events (options below override it)
    #[arg(long, value_enum)]
    pub preset: Option<PresetArg>,
    /// Keep records this long: 500ms, 30s, 15m, 12h, 7d
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub retention: Option<u64>,
    /// Keep at most this many bytes per partition: 1073741824, 512MiB, 1GB
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub retention_bytes: Option<u64>,
    /// Keep at most this many records per partition
    #[arg(long, value_name = "N")]
    pub retention_records: Option<u64>,
    /// When appends are fsynced: always, everysec, <N>ms or never
    #[arg(long, value_name = "POLICY", value_parser = parse_fsync)]
    pub fsync: Option<String>,
    /// Segment file size
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub segment_bytes: Option<u64>,
    /// Largest record (batch) accepted
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub max_message_bytes: Option<u64>,
    /// Trim records every consumer group has acknowledged (--trim-acked=false: don't)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub trim_acked: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PresetArg {
    /// A work queue: fsync everysec, 1 day retention, acknowledged records trimmed
    ProcessAndForget,
    /// A log to replay: fsync always, 7 days retention
    StoreAndReplay,
}

impl From<PresetArg> for Preset {
    fn from(preset: PresetArg) -> Preset {
        match preset {
            PresetArg::ProcessAndForget => Preset::ProcessAndForget,
            PresetArg::StoreAndReplay => Preset::StoreAndReplay,
        }
    }
}

/// A topic setting, as `--reset-config` names it (the option's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SettingName {
    Retention,
    RetentionBytes,
    RetentionRecords,
    Fsync,
    SegmentBytes,
    MaxMessageBytes,
    TrimAcked,
}

impl SettingName {
    /// The field of `TopicConfig` / the PATCH body.
    fn field(self) -> &'static str {
        match self {
            SettingName::Retention => "retention_ms",
            SettingName::RetentionBytes => "retention_bytes",
            SettingName::RetentionRecords => "retention_records",
            SettingName::Fsync => "fsync",
            SettingName::SegmentBytes => "segment_bytes",
            SettingName::MaxMessageBytes => "max_message_bytes",
            SettingName::TrimAcked => "trim_acked",
        }
    }
}

impl Settings {
    fn config(&self) -> TopicConfig {
        TopicConfig {
            fsync: self.fsync.clone(),
            retention_ms: self.retention,
            retention_bytes: self.retention_bytes,
            retention_records: self.retention_records,
            segment_bytes: self.segment_bytes,
            max_message_bytes: self.max_message_bytes,
            trim_acked: self.trim_acked,
        }
    }
}

pub fn run(args: TopicArgs) -> Result<()> {
    let client = args.client.client()?;
    let json = args.client.json;
    let mut out = io::stdout().lock();
    match args.command {
        TopicCommand::Create { name, settings, db } => {
            let body = CreateTopic {
                name,
                db: db.unwrap_or(0),
                partitions: settings.partitions,
                preset: settings.preset.map(Preset::from),
                config: settings.config(),
            };
            let topic: Topic = client.post("/v1/topics", &body)?;
            if json {
                output::write_json(&mut out, &topic)?;
            } else {
                writeln!(out, "created topic {}", topic.name)?;
                writeln!(out)?;
                write_topic(&mut out, &topic)?;
            }
        }
        TopicCommand::List { db } => {
            let list: TopicList = client.get(&format!("/v1/topics{}", db_query(db)))?;
            if json {
                output::write_json(&mut out, &list)?;
            } else {
                write_list(&mut out, &list)?;
            }
        }
        TopicCommand::Describe { name, db } => {
            let topic = describe(&client, &name, db)?;
            if json {
                output::write_json(&mut out, &topic)?;
            } else {
                write_topic(&mut out, &topic)?;
            }
        }
        TopicCommand::Alter {
            name,
            settings,
            reset_config,
            db,
        } => {
            let body = alter_body(&settings, &reset_config)?;
            let topic: Topic = client.patch(&topic_path(&name, db), &body)?;
            if json {
                output::write_json(&mut out, &topic)?;
            } else {
                writeln!(out, "altered topic {}", topic.name)?;
                writeln!(out)?;
                write_topic(&mut out, &topic)?;
            }
        }
        TopicCommand::Delete { name, yes, db } => {
            if !yes {
                confirm_delete(&client, &name, db)?;
            }
            client.delete(&topic_path(&name, db))?;
            if json {
                output::write_json(&mut out, &serde_json::json!({ "deleted": name }))?;
            } else {
                writeln!(out, "deleted topic {name}")?;
            }
        }
    }
    Ok(())
}

/// `/v1/topics/{name}?db=N`.
pub fn topic_path(name: &str, db: Option<u8>) -> String {
    format!("/v1/topics/{}{}", encode(name), db_query(db))
}

pub fn describe(client: &Client, name: &str, db: Option<u8>) -> Result<Topic, Failure> {
    client.get(&topic_path(name, db))
}

/// The PATCH body: given settings as values, `--reset-config` ones as `null`.
fn alter_body(settings: &Settings, reset: &[SettingName]) -> Result<AlterTopic, Failure> {
    let mut config = match serde_json::to_value(settings.config()) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    for name in reset {
        let field = name.field();
        if config.contains_key(field) {
            return Err(Failure::usage(format!(
                "{field}: both set and reset; give one of them"
            )));
        }
        config.insert(field.to_string(), Value::Null);
    }
    let body = AlterTopic {
        partitions: settings.partitions,
        preset: settings.preset.map(Preset::from),
        config,
    };
    if body == AlterTopic::default() {
        return Err(Failure::usage(
            "nothing to change: give settings (see --help), --partitions, --preset or --reset-config",
        ));
    }
    Ok(body)
}

/// Asks on the terminal before deleting; refuses without one.
fn confirm_delete(client: &Client, name: &str, db: Option<u8>) -> Result<()> {
    // Fails with "not found" before asking about a topic that is not there.
    let topic = describe(client, name, db)?;
    if !io::stdin().is_terminal() {
        return Err(Failure::new(
            Exit::Conflict,
            format!("not deleting topic {name} without confirmation: pass --yes"),
        )
        .into());
    }
    eprint!(
        "delete topic {name} ({} records, {})? [y/N] ",
        topic.records,
        output::bytes(topic.size_bytes)
    );
    io::stderr().flush()?;
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Failure::new(Exit::Conflict, "not deleted").into())
    }
}

fn write_list(out: &mut impl Write, list: &TopicList) -> io::Result<()> {
    let mut table = Table::new(&[
        "NAME",
        ">DB",
        ">PARTITIONS",
        ">RECORDS",
        ">SIZE",
        "PRESET",
        "FSYNC",
        "RETENTION",
    ]);
    for topic in &list.topics {
        table.row(vec![
            topic.name.clone(),
            topic.db.to_string(),
            topic.partitions.to_string(),
            topic.records.to_string(),
            output::bytes(topic.size_bytes),
            topic.preset.map_or("-", Preset::as_str).to_string(),
            topic.effective.fsync.clone(),
            retention(&topic.effective),
        ]);
    }
    if table.is_empty() {
        writeln!(out, "no topics")
    } else {
        table.write(out)
    }
}

/// The retention limits in force, e.g. `7d, 1.0 GiB`, or `forever`.
fn retention(effective: &super::types::EffectiveConfig) -> String {
    let mut parts = Vec::new();
    if let Some(ms) = effective.retention_ms {
        parts.push(output::duration_ms(ms));
    }
    if let Some(bytes) = effective.retention_bytes {
        parts.push(output::bytes(bytes));
    }
    if let Some(records) = effective.retention_records {
        parts.push(format!("{records} records"));
    }
    if parts.is_empty() {
        "forever".into()
    } else {
        parts.join(", ")
    }
}

/// Where a setting in force comes from.
fn source<T: PartialEq>(own: &Option<T>, preset: Option<(Preset, &Option<T>)>) -> String {
    match (own, preset) {
        (Some(value), Some((name, Some(preset_value)))) if value == preset_value => {
            format!("preset {}", name.as_str())
        }
        (Some(_), _) => "topic".into(),
        (None, Some((name, Some(_)))) => format!("preset {}", name.as_str()),
        (None, _) => "default".into(),
    }
}

fn write_topic(out: &mut impl Write, topic: &Topic) -> io::Result<()> {
    let mut fields = vec![
        ("topic", topic.name.clone()),
        ("database", topic.db.to_string()),
        (
            "kafka name",
            topic
                .kafka_name
                .clone()
                .unwrap_or_else(|| "- (not visible to Kafka)".into()),
        ),
        ("id", topic.id.clone()),
        ("partitions", topic.partitions.to_string()),
        ("records", topic.records.to_string()),
        ("size", output::bytes(topic.size_bytes)),
    ];
    let preset = topic.preset.map(|p| (p, p.config()));
    if let Some((name, config)) = &preset {
        fields.push((
            "preset",
            format!("{} = {}", name.as_str(), expansion(config)),
        ));
    }
    output::write_fields(out, &fields)?;
    writeln!(out)?;

    let own = &topic.config;
    let effective = &topic.effective;
    let p = preset.as_ref().map(|(name, config)| (*name, config));
    let unlimited = |v: Option<u64>, f: fn(u64) -> String| v.map_or("unlimited".into(), f);
    let mut table = Table::new(&["SETTING", "VALUE", "SOURCE"]);
    // The server may spell a policy differently (`everysec` is `1000ms`).
    let preset_fsync = preset.as_ref().map(|(_, c)| fsync_canonical(&c.fsync));
    table.row(vec![
        "fsync".into(),
        effective.fsync.clone(),
        source(
            &fsync_canonical(&own.fsync),
            p.zip(preset_fsync.as_ref()).map(|((n, _), f)| (n, f)),
        ),
    ]);
    table.row(vec![
        "retention".into(),
        unlimited(effective.retention_ms, output::duration_ms),
        source(&own.retention_ms, p.map(|(n, c)| (n, &c.retention_ms))),
    ]);
    table.row(vec![
        "retention-bytes".into(),
        unlimited(effective.retention_bytes, output::bytes),
        source(
            &own.retention_bytes,
            p.map(|(n, c)| (n, &c.retention_bytes)),
        ),
    ]);
    table.row(vec![
        "retention-records".into(),
        unlimited(effective.retention_records, |n| n.to_string()),
        source(
            &own.retention_records,
            p.map(|(n, c)| (n, &c.retention_records)),
        ),
    ]);
    table.row(vec![
        "segment-bytes".into(),
        output::bytes(effective.segment_bytes),
        source(&own.segment_bytes, p.map(|(n, c)| (n, &c.segment_bytes))),
    ]);
    table.row(vec![
        "max-message-bytes".into(),
        output::bytes(effective.max_message_bytes),
        source(
            &own.max_message_bytes,
            p.map(|(n, c)| (n, &c.max_message_bytes)),
        ),
    ]);
    table.row(vec![
        "trim-acked".into(),
        effective.trim_acked.to_string(),
        source(&own.trim_acked, p.map(|(n, c)| (n, &c.trim_acked))),
    ]);
    table.row(vec![
        "cleanup-policy".into(),
        effective.cleanup_policy.clone(),
        "-".into(),
    ]);
    table.write(out)?;

    if !topic.partition_details.is_empty() {
        writeln!(out)?;
        let mut table = Table::new(&[
            ">PARTITION",
            "STREAM",
            ">LOG-START",
            ">HIGH-WATERMARK",
            ">LOG-END",
            ">SIZE",
        ]);
        for partition in &topic.partition_details {
            table.row(vec![
                partition.partition.to_string(),
                partition.stream.clone(),
                partition.log_start.to_string(),
                partition.high_watermark.to_string(),
                partition.log_end.to_string(),
                output::bytes(partition.size_bytes),
            ]);
        }
        table.write(out)?;
    }
    Ok(())
}

/// An fsync policy as the server's parser reads it, to compare spellings.
fn fsync_canonical(policy: &Option<String>) -> Option<String> {
    policy.as_ref().map(|text| {
        text.parse::<brook_model::Durability>()
            .map_or_else(|_| text.clone(), |d| d.to_string())
    })
}

/// What a preset sets: `fsync everysec, retention 1d, trim-acked true`.
fn expansion(config: &TopicConfig) -> String {
    let mut parts = Vec::new();
    if let Some(fsync) = &config.fsync {
        parts.push(format!("fsync {fsync}"));
    }
    if let Some(ms) = config.retention_ms {
        parts.push(format!("retention {}", output::duration_ms(ms)));
    }
    if let Some(bytes) = config.retention_bytes {
        parts.push(format!("retention-bytes {bytes}"));
    }
    if let Some(records) = config.retention_records {
        parts.push(format!("retention-records {records}"));
    }
    if let Some(trim) = config.trim_acked {
        parts.push(format!("trim-acked {trim}"));
    }
    parts.join(", ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            partitions: None,
            preset: None,
            retention: None,
            retention_bytes: None,
            retention_records: None,
            fsync: None,
            segment_bytes: None,
            max_message_bytes: None,
            trim_acked: None,
        }
    }

    #[test]
    fn alter_sends_values_and_nulls_for_resets() {
        let mut s = settings();
        s.retention = Some(3_600_000);
        s.trim_acked = Some(false);
        let body = alter_body(&s, &[SettingName::Fsync]).unwrap();
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"config": {"retention_ms": 3600000, "trim_acked": false, "fsync": null}})
        );
        assert!(alter_body(&settings(), &[]).is_err());
        let mut s = settings();
        s.fsync = Some("always".into());
        assert!(alter_body(&s, &[SettingName::Fsync]).is_err());
    }

    #[test]
    fn sources_name_the_preset_topic_or_default() {
        let preset = Preset::StoreAndReplay;
        let config = preset.config();
        assert_eq!(
            source(&None, Some((preset, &config.fsync))),
            "preset store-and-replay"
        );
        assert_eq!(
            source(&Some("always".to_string()), Some((preset, &config.fsync))),
            "preset store-and-replay"
        );
        assert_eq!(
            source(&Some("never".to_string()), Some((preset, &config.fsync))),
            "topic"
        );
        assert_eq!(source::<u64>(&None, Some((preset, &None))), "default");
        assert_eq!(source::<u64>(&None, None), "default");
        assert_eq!(
            fsync_canonical(&Some("everysec".into())),
            fsync_canonical(&Some("1000ms".into()))
        );
    }
}
