//! `/v1/groups`: Kafka consumer groups and Redis stream groups in one listing, each
//! described with its position and lag per partition, reset (dry run unless
//! `execute`), deleted.

use std::sync::Arc;

use bytes::Bytes;
use hyper::StatusCode;

use brook_broker::{
    names, Broker, CommitError, CommittedOffset, KafkaGroupError, KafkaGroupState, Partition,
    StreamGroups, Topic, TopicKey,
};
use brook_model::StreamId;

use super::records::From;
use super::topics::stream_key;
use super::{json, no_content, text, ApiResult, Call, Failure};
use crate::types::{
    GroupDetail, GroupKind, GroupList, GroupMember, GroupPartition, GroupSummary, ResetGroup,
    ResetPartition, ResetResult,
};

/// A Redis consumer seen within this many milliseconds counts as active: its group
/// is `active` and refuses resets.
pub const REDIS_ACTIVE_MS: u64 = 60_000;

pub fn list(call: &Call<'_>) -> ApiResult {
    let broker = &call.state.broker;
    let mut groups = Vec::new();
    for (name, _protocol, state) in broker.kafka_group_list() {
        let members = broker
            .kafka_groups()
            .describe(&name)
            .map_or(0, |g| g.members.len() as u64);
        let lag = kafka_partitions(broker, &name)
            .iter()
            .map(|p| p.lag.unwrap_or(0))
            .sum();
        groups.push(GroupSummary {
            kind: GroupKind::Kafka,
            name,
            stream: None,
            db: None,
            state: state.as_str().to_owned(),
            members,
            lag: Some(lag),
            pending: None,
        });
    }
    let now = brook_broker::now_ms();
    for topic in broker.topics() {
        if topic.expired(now) {
            continue;
        }
        for (i, p) in topic.partitions().iter().enumerate() {
            let stream = stream_key(&topic, i as u32);
            let gs = topic.groups(p).clone();
            for (name, g) in &gs.groups {
                groups.push(GroupSummary {
                    kind: GroupKind::Redis,
                    name: text(name),
                    stream: Some(stream.clone()),
                    db: Some(topic.key.db),
                    state: redis_state(g, now).to_owned(),
                    members: g.consumers.len() as u64,
                    lag: Some(redis_lag(p, g)),
                    pending: Some(g.pel.len() as u64),
                });
            }
        }
    }
    json(StatusCode::OK, &GroupList { groups })
}

fn redis_state(g: &brook_broker::Group, now: u64) -> &'static str {
    let active = g
        .consumers
        .values()
        .any(|c| now.saturating_sub(c.active_ms.unwrap_or(c.seen_ms)) < REDIS_ACTIVE_MS);
    if active {
        "active"
    } else {
        "idle"
    }
}

/// Entries after the group's last delivered one.
pub(crate) fn redis_lag(p: &Partition, g: &brook_broker::Group) -> u64 {
    match g.last_delivered.successor() {
        None => 0,
        Some(next) => match p.offset_for_stream_id(next) {
            Ok(o) => p.live_count_from(o),
            Err(_) => 0,
        },
    }
}

/// A Kafka group's committed offsets with end offsets and lag.
pub(crate) fn kafka_partitions(broker: &Broker, group: &str) -> Vec<GroupPartition> {
    broker
        .committed_offsets(group)
        .into_iter()
        .map(|(topic, partition, c)| {
            let end = names::topic_key(&topic)
                .and_then(|k| broker.topic(&k))
                .and_then(|t| {
                    t.partition(partition as u32)
                        .map(|p| p.marks().high_watermark)
                });
            let committed = u64::try_from(c.offset).ok();
            GroupPartition {
                topic,
                partition: partition as u32,
                committed,
                end: end.unwrap_or(0),
                lag: end.map(|e| e.saturating_sub(committed.unwrap_or(0))),
            }
        })
        .collect()
}

fn kafka_group(call: &Call<'_>) -> Result<String, Failure> {
    call.segments
        .get(2)
        .map(|g| text(g))
        .ok_or_else(|| Failure::not_found("no group name"))
}

pub fn kafka_get(call: &Call<'_>) -> ApiResult {
    let broker = &call.state.broker;
    let name = kafka_group(call)?;
    let active = broker.kafka_groups().describe(&name);
    let partitions = kafka_partitions(broker, &name);
    if active.is_none() && partitions.is_empty() {
        return Err(Failure::not_found(format!(
            "Kafka group {name} does not exist"
        )));
    }
    let (state, protocol, members) = match active {
        Some(g) => (
            g.state.as_str().to_owned(),
            Some(g.protocol_name).filter(|p| !p.is_empty()),
            g.members
                .into_iter()
                .map(|m| GroupMember {
                    name: m.member_id,
                    client_id: Some(m.client_id),
                    host: Some(m.client_host),
                    pending: None,
                    idle_ms: None,
                    inactive_ms: None,
                })
                .collect(),
        ),
        None => (KafkaGroupState::Empty.as_str().to_owned(), None, Vec::new()),
    };
    json(
        StatusCode::OK,
        &GroupDetail {
            kind: GroupKind::Kafka,
            name,
            stream: None,
            state,
            protocol,
            members,
            partitions,
            last_delivered_id: None,
            pending: None,
            oldest_pending_idle_ms: None,
        },
    )
}

pub async fn kafka_delete(call: &Call<'_>) -> ApiResult {
    let broker = &call.state.broker;
    let name = kafka_group(call)?;
    match broker
        .kafka_groups()
        .delete_group(broker.meta(), &name)
        .await
    {
        Ok(()) => no_content(),
        Err(CommitError::Group(KafkaGroupError::GroupIdNotFound)) => Err(Failure::not_found(
            format!("Kafka group {name} does not exist"),
        )),
        Err(CommitError::Group(KafkaGroupError::NonEmptyGroup)) => Err(Failure::conflict(format!(
            "Kafka group {name} has active members; stop its consumers first"
        ))),
        Err(e) => Err(Failure::internal(e)),
    }
}

pub async fn kafka_reset(call: &Call<'_>) -> ApiResult {
    let broker = &call.state.broker;
    let name = kafka_group(call)?;
    let req: ResetGroup = call.json()?;
    let to = From::parse(&req.to)?;
    if matches!(to, From::Id(_)) {
        return Err(Failure::bad_request(
            "Kafka groups reset to offsets or times, not stream IDs",
        ));
    }
    // The partitions to reset: every partition of `topic`, or every partition the
    // group has committed.
    let mut targets: Vec<(String, u32, Option<u64>)> = Vec::new();
    let committed = broker.committed_offsets(&name);
    match &req.topic {
        Some(topic) => {
            let key = names::topic_key(topic).ok_or_else(|| {
                Failure::bad_request(format!("{topic:?} is not a Kafka topic name"))
            })?;
            let t = broker
                .topic(&key)
                .ok_or_else(|| Failure::not_found(format!("topic {topic} does not exist")))?;
            let count = t.partitions().len() as u32;
            if let Some(p) = req.partition.filter(|p| *p >= count) {
                return Err(Failure::not_found(format!(
                    "topic {topic} has no partition {p}"
                )));
            }
            for i in (0..count).filter(|i| req.partition.is_none_or(|p| p == *i)) {
                let from = committed
                    .iter()
                    .find(|(n, p, _)| n == topic && *p == i as i32)
                    .and_then(|(_, _, c)| u64::try_from(c.offset).ok());
                targets.push((topic.clone(), i, from));
            }
        }
        None if req.partition.is_some() => {
            return Err(Failure::bad_request("partition: name the topic too"));
        }
        None => {
            if committed.is_empty() {
                return Err(Failure::not_found(format!(
                    "Kafka group {name} has no committed offsets; name a topic to reset"
                )));
            }
            for (topic, p, c) in &committed {
                targets.push((topic.clone(), *p as u32, u64::try_from(c.offset).ok()));
            }
        }
    }
    let mut partitions = Vec::with_capacity(targets.len());
    for (topic, p, from) in targets {
        let part = names::topic_key(&topic)
            .and_then(|k| broker.topic(&k))
            .and_then(|t| t.partition(p).cloned())
            .ok_or_else(|| Failure::not_found(format!("topic {topic} has no partition {p}")))?;
        partitions.push(ResetPartition {
            topic,
            partition: p,
            from,
            to: to.resolve(&part)?,
        });
    }
    if req.execute {
        let offsets: Vec<(String, i32, CommittedOffset)> = partitions
            .iter()
            .map(|r| {
                (
                    r.topic.clone(),
                    r.partition as i32,
                    CommittedOffset {
                        offset: r.to as i64,
                        leader_epoch: -1,
                        metadata: String::new(),
                        commit_ms: brook_broker::now_ms(),
                    },
                )
            })
            .collect();
        match broker
            .kafka_groups()
            .commit(broker.meta(), &name, "", None, -1, &offsets, &|topic| {
                broker.kafka_topic_exists(topic)
            })
            .await
        {
            Ok(()) => {}
            Err(CommitError::Group(_)) => {
                return Err(Failure::conflict(format!(
                    "Kafka group {name} has active members; stop its consumers first"
                )))
            }
            Err(e) => return Err(Failure::internal(e)),
        }
    }
    json(
        StatusCode::OK,
        &ResetResult {
            executed: req.execute,
            partitions,
        },
    )
}

/// The stream (topic and partition) and group named by `/groups/redis/{stream}/{group}`.
fn redis_group(call: &Call<'_>) -> Result<(Arc<Topic>, Arc<Partition>, String, Bytes), Failure> {
    let stream = call
        .segments
        .get(2)
        .cloned()
        .ok_or_else(|| Failure::not_found("no stream in the path"))?;
    let group = call
        .segments
        .get(3)
        .cloned()
        .ok_or_else(|| Failure::not_found("no group in the path"))?;
    let db = call.db()?;
    let broker = &call.state.broker;
    let missing = || Failure::not_found(format!("stream {} does not exist", text(&stream)));
    let (topic, index) = match broker.topic(&TopicKey::new(db, stream.clone())) {
        Some(t) if t.partitions().len() == 1 => (t, 0),
        Some(t) => {
            return Err(Failure::bad_request(format!(
                "{} has {} partitions: name one as {0}#0 to {0}#{}",
                text(&stream),
                t.partitions().len(),
                t.partitions().len() - 1
            )))
        }
        None => {
            // `name#N`: partition N of a topic with several.
            let (name, index) = brook_broker::split_partition_key(&stream).ok_or_else(missing)?;
            let t = broker
                .topic(&TopicKey::new(db, name))
                .filter(|t| t.partitions().len() > 1)
                .ok_or_else(missing)?;
            (t, index)
        }
    };
    let p = topic.partition(index).cloned().ok_or_else(missing)?;
    if topic.groups(&p).group(&group).is_none() {
        return Err(Failure::not_found(format!(
            "stream {} has no group {}",
            text(&stream),
            text(&group)
        )));
    }
    Ok((topic, p, text(&stream), group))
}

pub fn redis_get(call: &Call<'_>) -> ApiResult {
    let (topic, p, stream, group) = redis_group(call)?;
    let groups: StreamGroups = topic.groups(&p).clone();
    let g = groups
        .group(&group)
        .ok_or_else(|| Failure::not_found("the group was destroyed concurrently"))?;
    let now = brook_broker::now_ms();
    let marks = p.marks();
    let committed = g
        .last_delivered
        .successor()
        .and_then(|next| p.offset_for_stream_id(next).ok());
    let oldest = g
        .pel
        .values()
        .map(|pending| now.saturating_sub(pending.delivery_ms))
        .max();
    json(
        StatusCode::OK,
        &GroupDetail {
            kind: GroupKind::Redis,
            name: text(&group),
            stream: Some(stream.clone()),
            state: redis_state(g, now).to_owned(),
            protocol: None,
            members: g
                .consumers
                .iter()
                .map(|(name, c)| GroupMember {
                    name: text(name),
                    client_id: None,
                    host: None,
                    pending: Some(c.pending.len() as u64),
                    idle_ms: Some(now.saturating_sub(c.seen_ms)),
                    inactive_ms: c.active_ms.map(|a| now.saturating_sub(a)),
                })
                .collect(),
            partitions: vec![GroupPartition {
                topic: stream,
                partition: topic.partition_index(&p).unwrap_or(0),
                committed,
                end: marks.high_watermark,
                lag: Some(redis_lag(&p, g)),
            }],
            last_delivered_id: Some(g.last_delivered.to_string()),
            pending: Some(g.pel.len() as u64),
            oldest_pending_idle_ms: oldest,
        },
    )
}

pub async fn redis_delete(call: &Call<'_>) -> ApiResult {
    let (topic, p, _, group) = redis_group(call)?;
    let broker = &call.state.broker;
    let result = broker
        .update_groups(&topic, &p, |g| Ok(g.destroy(&group)))
        .map_err(Failure::internal)?;
    match result {
        Ok((_, Some(next))) => {
            broker
                .meta()
                .partition()
                .wait_durable(next)
                .await
                .map_err(Failure::internal)?;
            no_content()
        }
        Ok((_, None)) => Err(Failure::not_found("the group does not exist")),
        Err(e) => Err(Failure::internal(e)),
    }
}

pub async fn redis_reset(call: &Call<'_>) -> ApiResult {
    let (topic, p, stream, group) = redis_group(call)?;
    let req: ResetGroup = call.json()?;
    let to = From::parse(&req.to)?;
    let now = brook_broker::now_ms();
    let (from_id, active) = {
        let gs = topic.groups(&p);
        let g = gs
            .group(&group)
            .ok_or_else(|| Failure::not_found("the group was destroyed concurrently"))?;
        (g.last_delivered, redis_state(g, now) == "active")
    };
    // The new last-delivered ID: the entry before the target offset.
    let offset = to.resolve(&p)?;
    let last_delivered = if offset == 0 || offset <= p.marks().log_start {
        StreamId::ZERO
    } else {
        p.read_records(offset - 1, 1, 1 << 20)
            .map_err(Failure::internal)?
            .first()
            .filter(|r| r.offset == offset - 1)
            .map_or(StreamId::ZERO, |r| r.stream_id)
    };
    let from = from_id
        .successor()
        .and_then(|next| p.offset_for_stream_id(next).ok());
    if req.execute {
        if active {
            return Err(Failure::conflict(format!(
                "group {} of {stream} has a consumer active in the last {} s; stop it first",
                text(&group),
                REDIS_ACTIVE_MS / 1000
            )));
        }
        let broker = &call.state.broker;
        let result = broker
            .update_groups(&topic, &p, |g| {
                g.set_id(&group, last_delivered, None).map(|c| ((), c))
            })
            .map_err(Failure::internal)?;
        match result {
            Ok(((), Some(next))) => broker
                .meta()
                .partition()
                .wait_durable(next)
                .await
                .map_err(Failure::internal)?,
            Ok(((), None)) => {}
            Err(e) => return Err(Failure::bad_request(e.to_string())),
        }
    }
    json(
        StatusCode::OK,
        &ResetResult {
            executed: req.execute,
            partitions: vec![ResetPartition {
                topic: stream,
                partition: topic.partition_index(&p).unwrap_or(0),
                from,
                to: offset,
            }],
        },
    )
}
