//! `brook group list|describe|reset|delete`: Kafka groups and Redis stream groups.
//! A Redis group belongs to one stream (`--stream KEY`); a Kafka group does not.

use std::io::{self, Write};

use anyhow::Result;
use clap::{Args, Subcommand};

use super::client::{encode, Client};
use super::output::{self, Table};
use super::types::{GroupDetail, GroupKind, GroupList, ResetGroup, ResetResult};
use super::{db_query, parse_db, ClientArgs};

#[derive(Debug, Args)]
pub struct GroupArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: GroupCommand,
}

/// Which group: a Kafka group by name, or a Redis group of a stream.
#[derive(Debug, Args)]
pub struct Which {
    pub name: String,
    /// The stream (Redis key) of a Redis group; without it, NAME is a Kafka group
    #[arg(long, value_name = "KEY")]
    pub stream: Option<String>,
    /// Redis database of the stream (0-15)
    #[arg(long, value_name = "N", value_parser = parse_db, requires = "stream")]
    pub db: Option<u8>,
}

impl Which {
    /// `/v1/groups/kafka/{name}` or `/v1/groups/redis/{stream}/{name}`, plus `suffix`.
    fn path(&self, suffix: &str) -> String {
        match &self.stream {
            None => format!("/v1/groups/kafka/{}{suffix}", encode(&self.name)),
            Some(stream) => format!(
                "/v1/groups/redis/{}/{}{suffix}{}",
                encode(stream),
                encode(&self.name),
                db_query(self.db)
            ),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// List Kafka groups and Redis stream groups
    List,
    /// Show a group: members, and per partition its position, the end and the lag
    Describe {
        #[command(flatten)]
        which: Which,
    },
    /// Move a group's position (a dry run that prints the plan unless --execute)
    Reset {
        #[command(flatten)]
        which: Which,
        /// earliest, latest, time:RFC3339, offset:N (Redis groups also id:MS-SEQ)
        #[arg(long, value_name = "POSITION")]
        to: String,
        /// Kafka groups: only this topic's partitions [default: every topic the
        /// group has committed offsets for]
        #[arg(long, value_name = "TOPIC", conflicts_with = "stream")]
        topic: Option<String>,
        /// Apply the reset (refused while the group has active members)
        #[arg(long)]
        execute: bool,
    },
    /// Delete a group and its committed offsets or pending entries
    Delete {
        #[command(flatten)]
        which: Which,
    },
}

pub fn run(args: GroupArgs) -> Result<()> {
    let client = args.client.client()?;
    let json = args.client.json;
    let mut out = io::stdout().lock();
    match args.command {
        GroupCommand::List => {
            let list: GroupList = client.get("/v1/groups")?;
            if json {
                output::write_json(&mut out, &list)?;
            } else {
                write_list(&mut out, &list)?;
            }
        }
        GroupCommand::Describe { which } => {
            let detail: GroupDetail = client.get(&which.path(""))?;
            if json {
                output::write_json(&mut out, &detail)?;
            } else {
                write_detail(&mut out, &detail)?;
            }
        }
        GroupCommand::Reset {
            which,
            to,
            topic,
            execute,
        } => {
            let result = reset(&client, &which, to, topic, execute)?;
            if json {
                output::write_json(&mut out, &result)?;
            } else {
                write_reset(&mut out, &which, &result)?;
            }
        }
        GroupCommand::Delete { which } => {
            client.delete(&which.path(""))?;
            let kind = if which.stream.is_some() {
                "redis"
            } else {
                "kafka"
            };
            if json {
                let mut done = serde_json::json!({ "deleted": which.name, "kind": kind });
                if let Some(stream) = &which.stream {
                    done["stream"] = stream.clone().into();
                }
                output::write_json(&mut out, &done)?;
            } else {
                match &which.stream {
                    None => writeln!(out, "deleted Kafka group {}", which.name)?,
                    Some(stream) => {
                        writeln!(out, "deleted Redis group {} of stream {stream}", which.name)?
                    }
                }
            }
        }
    }
    Ok(())
}

fn reset(
    client: &Client,
    which: &Which,
    to: String,
    topic: Option<String>,
    execute: bool,
) -> Result<ResetResult> {
    let body = ResetGroup {
        to,
        topic,
        partition: None,
        execute,
    };
    Ok(client.post(&which.path("/reset"), &body)?)
}

fn write_list(out: &mut impl Write, list: &GroupList) -> io::Result<()> {
    if list.groups.is_empty() {
        return writeln!(out, "no groups");
    }
    let mut table = Table::new(&[
        "KIND", "NAME", "STREAM", "STATE", ">MEMBERS", ">LAG", ">PENDING",
    ]);
    for group in &list.groups {
        let stream = match (&group.stream, group.db) {
            (Some(stream), Some(db)) if db != 0 => format!("{stream} (db {db})"),
            (Some(stream), _) => stream.clone(),
            (None, _) => "-".into(),
        };
        table.row(vec![
            kind(group.kind).into(),
            group.name.clone(),
            stream,
            group.state.clone(),
            group.members.to_string(),
            output::opt(group.lag),
            output::opt(group.pending),
        ]);
    }
    table.write(out)
}

fn kind(kind: GroupKind) -> &'static str {
    match kind {
        GroupKind::Kafka => "kafka",
        GroupKind::Redis => "redis",
    }
}

fn write_detail(out: &mut impl Write, group: &GroupDetail) -> io::Result<()> {
    let mut fields = vec![
        ("group", group.name.clone()),
        ("kind", kind(group.kind).into()),
    ];
    if let Some(stream) = &group.stream {
        fields.push(("stream", stream.clone()));
    }
    fields.push(("state", group.state.clone()));
    if let Some(protocol) = &group.protocol {
        fields.push(("protocol", protocol.clone()));
    }
    if let Some(id) = &group.last_delivered_id {
        fields.push(("last delivered", id.clone()));
    }
    if let Some(pending) = group.pending {
        fields.push(("pending", pending.to_string()));
    }
    if let Some(idle) = group.oldest_pending_idle_ms {
        fields.push(("oldest pending idle", output::duration_ms(idle)));
    }
    let lag: Option<u64> = group.partitions.iter().map(|p| p.lag).sum();
    fields.push(("lag", output::opt(lag)));
    output::write_fields(out, &fields)?;

    writeln!(out)?;
    if group.partitions.is_empty() {
        writeln!(out, "no partitions")?;
    } else {
        let mut table = Table::new(&["TOPIC", ">PARTITION", ">COMMITTED", ">END", ">LAG"]);
        for p in &group.partitions {
            table.row(vec![
                p.topic.clone(),
                p.partition.to_string(),
                output::opt(p.committed),
                p.end.to_string(),
                output::opt(p.lag),
            ]);
        }
        table.write(out)?;
    }

    writeln!(out)?;
    if group.members.is_empty() {
        writeln!(out, "no members")?;
    } else {
        let mut table = Table::new(&[
            "MEMBER",
            "CLIENT-ID",
            "HOST",
            ">PENDING",
            ">IDLE",
            ">INACTIVE",
        ]);
        for m in &group.members {
            table.row(vec![
                m.name.clone(),
                output::opt(m.client_id.clone()),
                output::opt(m.host.clone()),
                output::opt(m.pending),
                output::opt(m.idle_ms.map(output::duration_ms)),
                output::opt(m.inactive_ms.map(output::duration_ms)),
            ]);
        }
        table.write(out)?;
    }
    Ok(())
}

fn write_reset(out: &mut impl Write, which: &Which, result: &ResetResult) -> io::Result<()> {
    if result.partitions.is_empty() {
        writeln!(out, "nothing to reset: the group has no positions to move")?;
    } else {
        let mut table = Table::new(&["TOPIC", ">PARTITION", ">FROM", ">TO"]);
        for p in &result.partitions {
            table.row(vec![
                p.topic.clone(),
                p.partition.to_string(),
                output::opt(p.from),
                p.to.to_string(),
            ]);
        }
        table.write(out)?;
    }
    writeln!(out)?;
    if result.executed {
        writeln!(out, "group {} reset", which.name)
    } else {
        writeln!(
            out,
            "dry run: nothing changed; add --execute to apply (refused while the group has active members)"
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_the_kind_and_escape_names() {
        let kafka = Which {
            name: "billing/eu".into(),
            stream: None,
            db: None,
        };
        assert_eq!(kafka.path("/reset"), "/v1/groups/kafka/billing%2Feu/reset");
        let redis = Which {
            name: "billing".into(),
            stream: Some("events:orders#1".into()),
            db: Some(3),
        };
        assert_eq!(
            redis.path(""),
            "/v1/groups/redis/events%3Aorders%231/billing?db=3"
        );
    }
}
