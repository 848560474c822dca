//! Kafka consumer groups in the broker: the pure coordinator of
//! [`brook_groups::kafka`] driven with the clock, a timer thread for its deadlines,
//! and committed offsets stored in the metadata log.
//!
//! Requests that Kafka answers later (JoinGroup, a follower's SyncGroup) register a
//! oneshot channel under a waiter ID; whoever produces the answer — another
//! member's request or the timer — sends it. The timer thread sleeps until the
//! coordinator's next deadline and is woken when an operation makes it earlier.
//!
//! Committed offsets are metadata-log records (see [`offset_key`]), kept in the
//! metadata log's in-memory map. A commit is checked against the group's membership
//! and written under the coordinator's lock (so a rebalance cannot slip between the
//! check and the write) and acknowledged once durable.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use parking_lot::{Condvar, Mutex};
use tokio::sync::oneshot;

use brook_groups::kafka::{
    Completion, Coordinator, GroupState, GroupSummary, JoinReply, JoinRequest, KafkaGroupConfig,
    KafkaGroupError, Leaving, SyncReply, SyncRequest, WaiterId,
};
use brook_log::{MetaError, MetaLog};

use crate::now_ms;

/// Key prefix of committed offsets in the metadata log.
pub const OFFSETS_PREFIX: &[u8] = b"ko/";
/// Longest group ID accepted (bytes).
pub const GROUP_ID_BYTES_MAX: usize = 1024;
/// Longest commit metadata accepted (Kafka's `offset.metadata.max.bytes`).
pub const OFFSET_METADATA_BYTES_MAX: usize = 4096;
/// Longest the timer sleeps even with nothing due (a safety net, not a poll).
const TIMER_IDLE_MS: u64 = 60_000;

/// An offset a group committed for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_ms: u64,
}

/// Why a commit (or offset deletion) was refused.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Group(#[from] KafkaGroupError),
    #[error(transparent)]
    Meta(#[from] MetaError),
}

enum Waiter {
    Join(oneshot::Sender<JoinReply>),
    Sync(oneshot::Sender<SyncReply>),
}

struct Inner {
    coordinator: Coordinator,
    waiters: HashMap<WaiterId, Waiter>,
    next_waiter: WaiterId,
    /// When the timer thread will next wake (None: idle).
    timer_at_ms: Option<u64>,
    stop: bool,
}

impl Inner {
    fn waiter(&mut self, w: Waiter) -> WaiterId {
        self.next_waiter += 1;
        self.waiters.insert(self.next_waiter, w);
        self.next_waiter
    }

    fn deliver(&mut self, completions: Vec<Completion>) {
        for c in completions {
            // A waiter whose request was abandoned (connection closed) has no
            // receiver; its answer is dropped.
            match c {
                Completion::Join(id, reply) => {
                    if let Some(Waiter::Join(tx)) = self.waiters.remove(&id) {
                        let _ = tx.send(reply);
                    }
                }
                Completion::Sync(id, reply) => {
                    if let Some(Waiter::Sync(tx)) = self.waiters.remove(&id) {
                        let _ = tx.send(reply);
                    }
                }
            }
        }
    }
}

/// The broker's Kafka group coordinator.
pub struct KafkaGroups {
    inner: Mutex<Inner>,
    wake: Condvar,
    timer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for KafkaGroups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaGroups").finish_non_exhaustive()
    }
}

impl KafkaGroups {
    /// A coordinator with its timer thread running.
    pub(crate) fn start(
        config: KafkaGroupConfig,
        id_seed: u64,
    ) -> std::io::Result<Arc<KafkaGroups>> {
        let groups = Arc::new(KafkaGroups {
            inner: Mutex::new(Inner {
                coordinator: Coordinator::new(config, id_seed),
                waiters: HashMap::new(),
                next_waiter: 0,
                timer_at_ms: None,
                stop: false,
            }),
            wake: Condvar::new(),
            timer: Mutex::new(None),
        });
        let weak = Arc::downgrade(&groups);
        let handle = std::thread::Builder::new()
            .name("brook-groups".into())
            .spawn(move || timer_loop(weak))?;
        *groups.timer.lock() = Some(handle);
        Ok(groups)
    }

    pub(crate) fn stop(&self) {
        self.inner.lock().stop = true;
        self.wake.notify_all();
        if let Some(handle) = self.timer.lock().take() {
            let _ = handle.join();
        }
    }

    /// Wakes the timer if the coordinator now has an earlier deadline than the one
    /// the timer sleeps until.
    fn reschedule(&self, inner: &mut Inner) {
        let next = inner.coordinator.next_deadline_ms();
        if let Some(next) = next {
            if inner.timer_at_ms.is_none_or(|at| next < at) {
                inner.timer_at_ms = Some(next);
                self.wake.notify_all();
            }
        }
    }

    /// JoinGroup: resolves when the rebalance completes (or the request fails).
    pub async fn join(&self, req: JoinRequest) -> JoinReply {
        let rx = {
            let mut inner = self.inner.lock();
            let (tx, rx) = oneshot::channel();
            let id = inner.waiter(Waiter::Join(tx));
            let completions = inner.coordinator.join(now_ms(), id, req);
            inner.deliver(completions);
            self.reschedule(&mut inner);
            rx
        };
        rx.await
            .unwrap_or_else(|_| error_join(KafkaGroupError::CoordinatorNotAvailable))
    }

    /// SyncGroup: resolves when the leader's assignment is in (or the request fails).
    pub async fn sync(&self, req: SyncRequest) -> SyncReply {
        let rx = {
            let mut inner = self.inner.lock();
            let (tx, rx) = oneshot::channel();
            let id = inner.waiter(Waiter::Sync(tx));
            let completions = inner.coordinator.sync(now_ms(), id, req);
            inner.deliver(completions);
            self.reschedule(&mut inner);
            rx
        };
        rx.await.unwrap_or_else(|_| SyncReply {
            error: Some(KafkaGroupError::CoordinatorNotAvailable),
            ..SyncReply::default()
        })
    }

    pub fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), KafkaGroupError> {
        let mut inner = self.inner.lock();
        let r = inner.coordinator.heartbeat(
            now_ms(),
            group_id,
            member_id,
            group_instance_id,
            generation_id,
        );
        self.reschedule(&mut inner);
        r
    }

    /// LeaveGroup: one result per leaving member.
    pub fn leave(
        &self,
        group_id: &str,
        leaving: &[Leaving],
    ) -> Result<Vec<Result<(), KafkaGroupError>>, KafkaGroupError> {
        let mut inner = self.inner.lock();
        let (results, completions) = inner.coordinator.leave(now_ms(), group_id, leaving)?;
        inner.deliver(completions);
        self.reschedule(&mut inner);
        Ok(results)
    }

    /// The group's membership, if it has members.
    pub fn describe(&self, group_id: &str) -> Option<GroupSummary> {
        self.inner.lock().coordinator.describe(group_id)
    }

    /// `(group ID, protocol type, state)` of the groups with members.
    pub fn list_active(&self) -> Vec<(String, String, GroupState)> {
        self.inner.lock().coordinator.list()
    }

    /// Commits offsets for a group after checking the member may: durable when this
    /// returns `Ok`.
    ///
    /// `topic_exists` is asked again under the coordinator's lock, which
    /// [`KafkaGroups::drop_topic_offsets`] holds too: an offset for a topic deleted
    /// since the caller checked is not written (it would outlive its topic and be
    /// inherited by a new one of the same name); the commit counts as done before
    /// the delete, which drops such offsets anyway.
    #[allow(clippy::too_many_arguments)]
    pub async fn commit(
        &self,
        meta: &MetaLog,
        group_id: &str,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
        offsets: &[(String, i32, CommittedOffset)],
        topic_exists: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<(), CommitError> {
        if group_id.len() > GROUP_ID_BYTES_MAX {
            return Err(KafkaGroupError::InvalidGroupId.into());
        }
        let next = {
            let mut inner = self.inner.lock();
            let now = now_ms();
            inner.coordinator.check_commit(
                now,
                group_id,
                member_id,
                group_instance_id,
                generation_id,
            )?;
            let changes: Vec<_> = offsets
                .iter()
                .filter(|(topic, _, _)| topic_exists(topic))
                .map(|(topic, partition, o)| {
                    (
                        offset_key(group_id, topic, *partition),
                        Some(offset_value(o)),
                    )
                })
                .collect();
            if changes.is_empty() {
                return Ok(());
            }
            meta.apply_nowait(changes, now)?
        };
        meta.partition()
            .wait_durable(next)
            .await
            .map_err(MetaError::Wait)?;
        Ok(())
    }

    /// Deletes a group without members and its offsets. `GroupIdNotFound` when it
    /// has neither members nor offsets.
    pub async fn delete_group(&self, meta: &MetaLog, group_id: &str) -> Result<(), CommitError> {
        let next = {
            let mut inner = self.inner.lock();
            inner.coordinator.check_delete(group_id)?;
            let offsets = meta.scan_prefix(&group_prefix(group_id));
            if offsets.is_empty() && inner.coordinator.describe(group_id).is_none() {
                return Err(KafkaGroupError::GroupIdNotFound.into());
            }
            let changes = offsets.into_iter().map(|(k, _)| (k, None)).collect();
            let next = meta.apply_chunked_nowait(changes, now_ms())?;
            inner.coordinator.remove_unused(group_id);
            next
        };
        meta.partition()
            .wait_durable(next)
            .await
            .map_err(MetaError::Wait)?;
        Ok(())
    }

    /// Applies a topic's delete (or rename) `changes`, first chunk first, together
    /// with the deletion of every group's committed offsets for its Kafka name
    /// `topic` (as Kafka drops a deleted topic's offsets), under the coordinator's
    /// lock and after the topic left the registry: a commit racing it re-checks the
    /// topic under the same lock (see [`KafkaGroups::commit`]). Returns the offset
    /// to wait for.
    pub fn apply_dropping_offsets(
        &self,
        meta: &MetaLog,
        topic: Option<&str>,
        mut changes: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<u64, MetaError> {
        let _inner = self.inner.lock();
        if let Some(topic) = topic {
            changes.extend(topic_offsets_removal(meta, topic));
        }
        meta.apply_chunked_nowait(changes, now_ms())
    }

    /// Deletes the committed offsets of topics that are gone (the keys), in one
    /// pass; returns the offset to wait for (0: none).
    pub fn drop_offsets(&self, meta: &MetaLog, keys: Vec<Bytes>) -> Result<u64, MetaError> {
        let _inner = self.inner.lock();
        if keys.is_empty() {
            return Ok(0);
        }
        meta.apply_chunked_nowait(keys.into_iter().map(|k| (k, None)).collect(), now_ms())
    }

    /// Deletes some of a group's committed offsets (OffsetDelete; the caller checks
    /// that the group is not subscribed to them).
    pub async fn delete_offsets(
        &self,
        meta: &MetaLog,
        group_id: &str,
        partitions: &[(String, i32)],
    ) -> Result<(), CommitError> {
        let next = {
            let _inner = self.inner.lock();
            let changes = partitions
                .iter()
                .map(|(t, p)| (offset_key(group_id, t, *p), None))
                .collect();
            meta.apply_chunked_nowait(changes, now_ms())?
        };
        meta.partition()
            .wait_durable(next)
            .await
            .map_err(MetaError::Wait)?;
        Ok(())
    }
}

fn error_join(error: KafkaGroupError) -> JoinReply {
    JoinReply {
        error: Some(error),
        generation_id: -1,
        ..JoinReply::default()
    }
}

fn timer_loop(groups: std::sync::Weak<KafkaGroups>) {
    loop {
        let Some(groups) = groups.upgrade() else {
            return;
        };
        let mut inner = groups.inner.lock();
        if inner.stop {
            return;
        }
        let now = now_ms();
        let completions = inner.coordinator.tick(now);
        inner.deliver(completions);
        let next = inner.coordinator.next_deadline_ms();
        inner.timer_at_ms = next;
        let sleep_ms = next.map_or(TIMER_IDLE_MS, |at| {
            at.saturating_sub(now).clamp(1, TIMER_IDLE_MS)
        });
        groups
            .wake
            .wait_for(&mut inner, Duration::from_millis(sleep_ms));
    }
}

/// `ko/` + group_len u16 + group + topic_len u16 + topic + partition u32 (big-endian).
pub fn offset_key(group_id: &str, topic: &str, partition: i32) -> Bytes {
    let mut k = BytesMut::from(&group_prefix(group_id)[..]);
    k.put_u16(topic.len().min(u16::MAX as usize) as u16);
    k.put_slice(topic.as_bytes());
    k.put_i32(partition);
    k.freeze()
}

fn group_prefix(group_id: &str) -> Bytes {
    let mut k = BytesMut::with_capacity(OFFSETS_PREFIX.len() + 2 + group_id.len());
    k.put_slice(OFFSETS_PREFIX);
    k.put_u16(group_id.len().min(u16::MAX as usize) as u16);
    k.put_slice(group_id.as_bytes());
    k.freeze()
}

/// offset i64, leader_epoch i32, commit_ms u64, metadata (the rest, UTF-8).
fn offset_value(o: &CommittedOffset) -> Bytes {
    let mut v = BytesMut::with_capacity(20 + o.metadata.len());
    v.put_i64(o.offset);
    v.put_i32(o.leader_epoch);
    v.put_u64(o.commit_ms);
    v.put_slice(o.metadata.as_bytes());
    v.freeze()
}

fn parse_offset_value(mut v: &[u8]) -> Option<CommittedOffset> {
    if v.len() < 20 {
        return None;
    }
    let offset = v.get_i64();
    let leader_epoch = v.get_i32();
    let commit_ms = v.get_u64();
    Some(CommittedOffset {
        offset,
        leader_epoch,
        commit_ms,
        metadata: String::from_utf8_lossy(v).into_owned(),
    })
}

/// Splits an offset key into (group, topic, partition).
fn parse_offset_key(k: &[u8]) -> Option<(String, String, i32)> {
    let mut rest = k.strip_prefix(OFFSETS_PREFIX)?;
    let take = |rest: &mut &[u8]| -> Option<String> {
        let len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
        let s = rest.get(2..2 + len)?;
        let out = String::from_utf8_lossy(s).into_owned();
        *rest = rest.get(2 + len..)?;
        Some(out)
    };
    let group = take(&mut rest)?;
    let topic = take(&mut rest)?;
    let p: [u8; 4] = rest.try_into().ok()?;
    Some((group, topic, i32::from_be_bytes(p)))
}

/// The topic of an offset key.
pub fn offset_key_topic(k: &[u8]) -> Option<String> {
    parse_offset_key(k).map(|(_, topic, _)| topic)
}

/// The offsets a group has committed: `(topic, partition, offset)` in key order.
pub fn committed_offsets(meta: &MetaLog, group_id: &str) -> Vec<(String, i32, CommittedOffset)> {
    meta.scan_prefix(&group_prefix(group_id))
        .into_iter()
        .filter_map(|(k, v)| {
            let (_, topic, partition) = parse_offset_key(&k)?;
            Some((topic, partition, parse_offset_value(&v)?))
        })
        .collect()
}

/// One committed offset.
pub fn committed_offset(
    meta: &MetaLog,
    group_id: &str,
    topic: &str,
    partition: i32,
) -> Option<CommittedOffset> {
    meta.get(&offset_key(group_id, topic, partition))
        .and_then(|v| parse_offset_value(&v))
}

/// Deletions of every offset any group committed for `topic` (when the topic is
/// deleted or renamed, as Kafka drops a deleted topic's offsets: a new topic of the
/// same name must not inherit them).
pub fn topic_offsets_removal(meta: &MetaLog, topic: &str) -> Vec<(Bytes, Option<Bytes>)> {
    meta.scan_prefix(OFFSETS_PREFIX)
        .into_iter()
        .filter(|(k, _)| parse_offset_key(k).is_some_and(|(_, t, _)| t == topic))
        .map(|(k, _)| (k, None))
        .collect()
}

/// Every group ID that has committed offsets, sorted.
pub fn groups_with_offsets(meta: &MetaLog) -> Vec<String> {
    let mut ids: Vec<String> = meta
        .scan_prefix(OFFSETS_PREFIX)
        .into_iter()
        .filter_map(|(k, _)| parse_offset_key(&k).map(|(g, _, _)| g))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn offset_keys_and_values_round_trip() {
        let k = offset_key("g:1", "t", 3);
        assert_eq!(
            parse_offset_key(&k),
            Some(("g:1".to_string(), "t".to_string(), 3))
        );
        assert!(k.starts_with(&group_prefix("g:1")));
        assert!(
            !k.starts_with(&group_prefix("g:")),
            "prefixes are length-delimited"
        );
        let o = CommittedOffset {
            offset: 42,
            leader_epoch: -1,
            metadata: "m".into(),
            commit_ms: 9,
        };
        assert_eq!(parse_offset_value(&offset_value(&o)), Some(o));
        assert_eq!(parse_offset_value(b"short"), None);
    }
}
