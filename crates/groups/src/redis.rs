//! Redis stream consumer groups: last-delivered ID, pending entries list (PEL) with
//! delivery time and count, consumers with seen and active times.
//!
//! The state machine knows nothing about where entries live: commands that need
//! entries (`XREADGROUP >`, `XCLAIM`) are split into a lookup the caller does in the
//! log and a mutation here.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use brook_model::StreamId;

use crate::Change;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub consumer: Bytes,
    pub delivery_ms: u64,
    pub delivery_count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consumer {
    /// Last attempted interaction (read, claim).
    pub seen_ms: u64,
    /// Last successful interaction (entries delivered or claimed); `None`: never.
    pub active_ms: Option<u64>,
    pub pending: BTreeSet<StreamId>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    pub last_delivered: StreamId,
    /// Entries read (Redis 7 `entries-read`), when known.
    pub entries_read: Option<u64>,
    pub pel: BTreeMap<StreamId, Pending>,
    pub consumers: BTreeMap<Bytes, Consumer>,
}

/// All groups of one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamGroups {
    pub groups: BTreeMap<Bytes, Group>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error("BUSYGROUP Consumer Group name already exists")]
    Exists,
    #[error("NOGROUP no such consumer group")]
    NoGroup,
}

/// The `XPENDING key group` summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSummary {
    pub count: u64,
    pub min: Option<StreamId>,
    pub max: Option<StreamId>,
    pub per_consumer: Vec<(Bytes, u64)>,
}

/// One pending entry as `XPENDING` (extended form) and `XCLAIM` report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: StreamId,
    pub consumer: Bytes,
    pub idle_ms: u64,
    pub delivery_count: u64,
}

/// How `XREADGROUP` reads for one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// `>`: entries never delivered to the group.
    New,
    /// An ID: this consumer's pending entries after it.
    History(StreamId),
}

fn consumer_put(group: &Bytes, name: &Bytes, c: &Consumer) -> Change {
    Change::ConsumerPut {
        group: group.clone(),
        consumer: name.clone(),
        seen_ms: c.seen_ms,
        active_ms: c.active_ms,
    }
}

fn pending_put(group: &Bytes, id: StreamId, p: &Pending) -> Change {
    Change::PendingPut {
        group: group.clone(),
        id,
        consumer: p.consumer.clone(),
        delivery_ms: p.delivery_ms,
        delivery_count: p.delivery_count,
    }
}

fn group_put(name: &Bytes, g: &Group) -> Change {
    Change::GroupPut {
        group: name.clone(),
        last_delivered: g.last_delivered,
        entries_read: g.entries_read,
    }
}

/// A name kept in a group table, copied out of the buffer it arrived in: a `Bytes`
/// argument is a view of its request's read buffer (or of a recovery read), and
/// keeping the view would keep that whole buffer alive as long as the name.
fn own(name: &[u8]) -> Bytes {
    Bytes::copy_from_slice(name)
}

impl Group {
    /// The consumer, created if needed (XREADGROUP, XCLAIM and XAUTOCLAIM create
    /// consumers implicitly).
    fn consumer_mut(&mut self, name: &Bytes, now_ms: u64) -> &mut Consumer {
        // (An existing entry keeps its own key; `entry` drops the one passed.)
        let key = if self.consumers.contains_key(name) {
            name.clone()
        } else {
            own(name)
        };
        self.consumers.entry(key).or_insert_with(|| Consumer {
            seen_ms: now_ms,
            active_ms: None,
            pending: BTreeSet::new(),
        })
    }

    /// Removes a PEL entry from the group and from its owner.
    fn unpend(&mut self, id: StreamId) -> Option<Pending> {
        let p = self.pel.remove(&id)?;
        if let Some(c) = self.consumers.get_mut(&p.consumer) {
            c.pending.remove(&id);
        }
        Some(p)
    }

    /// Gives `id` to `consumer` with the given delivery time and count.
    fn pend(
        &mut self,
        id: StreamId,
        consumer: &Bytes,
        delivery_ms: u64,
        delivery_count: u64,
    ) -> Pending {
        self.unpend(id);
        // The PEL shares the consumer table's copy of the name.
        let stored = match self.consumers.get_key_value(consumer) {
            Some((stored, _)) => stored.clone(),
            None => own(consumer),
        };
        let p = Pending {
            consumer: stored,
            delivery_ms,
            delivery_count,
        };
        self.pel.insert(id, p.clone());
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pending.insert(id);
        }
        p
    }
}

impl StreamGroups {
    pub fn group(&self, name: &[u8]) -> Option<&Group> {
        self.groups.get(name)
    }

    /// `XGROUP CREATE`.
    pub fn create(
        &mut self,
        name: Bytes,
        last_delivered: StreamId,
        entries_read: Option<u64>,
    ) -> Result<Vec<Change>, GroupError> {
        if self.groups.contains_key(&name) {
            return Err(GroupError::Exists);
        }
        let g = Group {
            last_delivered,
            entries_read,
            ..Group::default()
        };
        let change = group_put(&name, &g);
        self.groups.insert(own(&name), g);
        Ok(vec![change])
    }

    /// `XGROUP DESTROY`: whether it existed.
    pub fn destroy(&mut self, name: &[u8]) -> (bool, Vec<Change>) {
        let Some((name, g)) = self.groups.remove_entry(name) else {
            return (false, Vec::new());
        };
        // The header goes first: a crash part-way leaves orphan records that loading
        // ignores (and deletes).
        let mut changes = vec![Change::GroupDelete {
            group: name.clone(),
        }];
        changes.extend(g.pel.keys().map(|&id| Change::PendingDelete {
            group: name.clone(),
            id,
        }));
        changes.extend(g.consumers.keys().map(|c| Change::ConsumerDelete {
            group: name.clone(),
            consumer: c.clone(),
        }));
        (true, changes)
    }

    /// `XGROUP SETID`.
    pub fn set_id(
        &mut self,
        name: &[u8],
        last_delivered: StreamId,
        entries_read: Option<u64>,
    ) -> Result<Vec<Change>, GroupError> {
        let (key, g) = self.entry(name)?;
        g.last_delivered = last_delivered;
        g.entries_read = entries_read;
        Ok(vec![group_put(&key, g)])
    }

    /// `XGROUP CREATECONSUMER`: whether it was created.
    pub fn create_consumer(
        &mut self,
        group: &[u8],
        consumer: &Bytes,
        now_ms: u64,
    ) -> Result<(bool, Vec<Change>), GroupError> {
        let (gname, g) = self.entry(group)?;
        if g.consumers.contains_key(consumer) {
            return Ok((false, Vec::new()));
        }
        let c = g.consumer_mut(consumer, now_ms).clone();
        Ok((true, vec![consumer_put(&gname, consumer, &c)]))
    }

    /// `XGROUP DELCONSUMER`: how many pending entries the consumer had.
    pub fn delete_consumer(
        &mut self,
        group: &[u8],
        consumer: &[u8],
    ) -> Result<(u64, Vec<Change>), GroupError> {
        let (gname, g) = self.entry(group)?;
        let Some((cname, c)) = g.consumers.remove_entry(consumer) else {
            return Ok((0, Vec::new()));
        };
        let mut changes = Vec::with_capacity(c.pending.len() + 1);
        for id in &c.pending {
            g.pel.remove(id);
            changes.push(Change::PendingDelete {
                group: gname.clone(),
                id: *id,
            });
        }
        changes.push(Change::ConsumerDelete {
            group: gname,
            consumer: cname,
        });
        Ok((c.pending.len() as u64, changes))
    }

    fn entry(&mut self, group: &[u8]) -> Result<(Bytes, &mut Group), GroupError> {
        let key = self
            .groups
            .get_key_value(group)
            .map(|(k, _)| k.clone())
            .ok_or(GroupError::NoGroup)?;
        let g = self.groups.get_mut(&key).ok_or(GroupError::NoGroup)?;
        Ok((key, g))
    }

    /// Records an attempted read by `consumer` (creating it); returns its changes.
    pub fn seen(
        &mut self,
        group: &[u8],
        consumer: &Bytes,
        now_ms: u64,
    ) -> Result<Vec<Change>, GroupError> {
        let (gname, g) = self.entry(group)?;
        let c = g.consumer_mut(consumer, now_ms);
        c.seen_ms = now_ms;
        let c = c.clone();
        Ok(vec![consumer_put(&gname, consumer, &c)])
    }

    /// `XREADGROUP ... >` after the caller read `ids` (the next new entries, in order)
    /// from the log: advances the group, and unless `noack` adds them to the PEL.
    /// `entries_read` is the group's new read counter.
    pub fn deliver_new(
        &mut self,
        group: &[u8],
        consumer: &Bytes,
        ids: &[StreamId],
        entries_read: Option<u64>,
        noack: bool,
        now_ms: u64,
    ) -> Result<Vec<Change>, GroupError> {
        let (gname, g) = self.entry(group)?;
        let mut changes = Vec::with_capacity(ids.len() + 2);
        g.consumer_mut(consumer, now_ms);
        if let Some(&last) = ids.last() {
            debug_assert!(ids.windows(2).all(|w| w[0] < w[1]));
            g.last_delivered = g.last_delivered.max(last);
            g.entries_read = entries_read;
            changes.push(group_put(&gname, g));
            if !noack {
                for &id in ids {
                    let p = g.pend(id, consumer, now_ms, 1);
                    changes.push(pending_put(&gname, id, &p));
                }
            }
        }
        let c = g.consumer_mut(consumer, now_ms);
        c.seen_ms = now_ms;
        // As Redis 7.2+: only entries that enter the PEL make the consumer active.
        if !ids.is_empty() && !noack {
            c.active_ms = Some(now_ms);
        }
        let c = c.clone();
        changes.push(consumer_put(&gname, consumer, &c));
        Ok(changes)
    }

    /// This consumer's pending IDs greater than `after`, at most `count`.
    pub fn consumer_pending_after(
        &self,
        group: &[u8],
        consumer: &[u8],
        after: StreamId,
        count: usize,
    ) -> Result<Vec<StreamId>, GroupError> {
        let g = self.groups.get(group).ok_or(GroupError::NoGroup)?;
        let Some(c) = g.consumers.get(consumer) else {
            return Ok(Vec::new());
        };
        let Some(start) = after.successor() else {
            return Ok(Vec::new());
        };
        Ok(c.pending.range(start..).take(count).copied().collect())
    }

    /// `XREADGROUP` with an ID (history): the caller returns `ids` (from
    /// [`StreamGroups::consumer_pending_after`]); their delivery time is reset and
    /// count incremented, as Redis does.
    pub fn redeliver(
        &mut self,
        group: &[u8],
        consumer: &Bytes,
        ids: &[StreamId],
        now_ms: u64,
    ) -> Result<Vec<Change>, GroupError> {
        let (gname, g) = self.entry(group)?;
        let mut changes = Vec::with_capacity(ids.len() + 1);
        for &id in ids {
            if let Some(p) = g.pel.get_mut(&id) {
                p.delivery_ms = now_ms;
                p.delivery_count += 1;
                let p = p.clone();
                changes.push(pending_put(&gname, id, &p));
            }
        }
        let c = g.consumer_mut(consumer, now_ms);
        c.seen_ms = now_ms;
        let c = c.clone();
        changes.push(consumer_put(&gname, consumer, &c));
        Ok(changes)
    }

    /// `XACK`: how many of `ids` were pending.
    pub fn ack(
        &mut self,
        group: &[u8],
        ids: &[StreamId],
    ) -> Result<(u64, Vec<Change>), GroupError> {
        let (gname, g) = self.entry(group)?;
        let mut n = 0;
        let mut changes = Vec::new();
        for &id in ids {
            if g.unpend(id).is_some() {
                n += 1;
                changes.push(Change::PendingDelete {
                    group: gname.clone(),
                    id,
                });
            }
        }
        Ok((n, changes))
    }

    /// Whether some group still needs `id` (the `ACKED` deletion policy): it has not
    /// read it yet, or has it pending.
    pub fn referenced(&self, id: StreamId) -> bool {
        self.groups
            .values()
            .any(|g| g.last_delivered < id || g.pel.contains_key(&id))
    }

    /// The smallest ID some group still needs (not yet read by it, or pending in it):
    /// trimming under the `ACKED` policy stops there.
    pub fn first_needed(&self) -> Option<StreamId> {
        self.groups
            .values()
            .filter_map(|g| {
                let unread = g.last_delivered.successor();
                let pending = g.pel.keys().next().copied();
                match (unread, pending) {
                    (Some(u), Some(p)) => Some(u.min(p)),
                    (u, p) => u.or(p),
                }
            })
            .min()
    }

    /// Removes every pending entry below `id` from every group (trimming under the
    /// `DELREF` policy).
    pub fn drop_references_below(&mut self, id: StreamId) -> Vec<Change> {
        let mut changes = Vec::new();
        for (name, g) in &mut self.groups {
            let doomed: Vec<StreamId> = g.pel.range(..id).map(|(i, _)| *i).collect();
            for i in doomed {
                g.unpend(i);
                changes.push(Change::PendingDelete {
                    group: name.clone(),
                    id: i,
                });
            }
        }
        changes
    }

    /// Removes `id` from every group's PEL (the `DELREF` deletion policy).
    pub fn drop_references(&mut self, id: StreamId) -> Vec<Change> {
        let mut changes = Vec::new();
        for (name, g) in &mut self.groups {
            if g.unpend(id).is_some() {
                changes.push(Change::PendingDelete {
                    group: name.clone(),
                    id,
                });
            }
        }
        changes
    }

    /// `XPENDING key group`.
    pub fn pending_summary(&self, group: &[u8]) -> Result<PendingSummary, GroupError> {
        let g = self.groups.get(group).ok_or(GroupError::NoGroup)?;
        Ok(PendingSummary {
            count: g.pel.len() as u64,
            min: g.pel.keys().next().copied(),
            max: g.pel.keys().next_back().copied(),
            per_consumer: g
                .consumers
                .iter()
                .filter(|(_, c)| !c.pending.is_empty())
                .map(|(n, c)| (n.clone(), c.pending.len() as u64))
                .collect(),
        })
    }

    /// `XPENDING key group [IDLE ms] start end count [consumer]`.
    #[allow(clippy::too_many_arguments)]
    pub fn pending_range(
        &self,
        group: &[u8],
        start: StreamId,
        end: StreamId,
        count: usize,
        consumer: Option<&[u8]>,
        min_idle_ms: Option<u64>,
        now_ms: u64,
    ) -> Result<Vec<Delivery>, GroupError> {
        let g = self.groups.get(group).ok_or(GroupError::NoGroup)?;
        if start > end || count == 0 {
            return Ok(Vec::new());
        }
        let ids: Box<dyn Iterator<Item = &StreamId>> = match consumer {
            Some(c) => match g.consumers.get(c) {
                Some(c) => Box::new(c.pending.range(start..=end)),
                None => return Ok(Vec::new()),
            },
            None => Box::new(g.pel.range(start..=end).map(|(id, _)| id)),
        };
        let mut out = Vec::new();
        for id in ids {
            let Some(p) = g.pel.get(id) else { continue };
            let idle_ms = now_ms.saturating_sub(p.delivery_ms);
            if min_idle_ms.is_some_and(|m| idle_ms < m) {
                continue;
            }
            out.push(Delivery {
                id: *id,
                consumer: p.consumer.clone(),
                idle_ms,
                delivery_count: p.delivery_count,
            });
            if out.len() >= count {
                break;
            }
        }
        Ok(out)
    }

    /// `XCLAIM`. `exists(id)` says whether the entry is still in the stream; pending
    /// entries that are not are removed from the PEL (as Redis 7 does). Returns the
    /// claimed IDs (with their delivery count before the claim) and the changes.
    #[allow(clippy::too_many_arguments)]
    pub fn claim(
        &mut self,
        group: &[u8],
        consumer: &Bytes,
        min_idle_ms: u64,
        ids: &[StreamId],
        opts: ClaimOptions,
        now_ms: u64,
        exists: impl Fn(StreamId) -> bool,
    ) -> Result<(Vec<StreamId>, Vec<Change>), GroupError> {
        let (gname, g) = self.entry(group)?;
        let mut changes = Vec::new();
        if let Some(last) = opts.last_id {
            if last > g.last_delivered {
                g.last_delivered = last;
                changes.push(group_put(&gname, g));
            }
        }
        g.consumer_mut(consumer, now_ms).seen_ms = now_ms;
        let delivery_ms = opts
            .time_ms
            .or(opts.idle_ms.map(|i| now_ms.saturating_sub(i)))
            .unwrap_or(now_ms);
        let mut claimed = Vec::new();
        for &id in ids {
            let current = g.pel.get(&id).cloned();
            let current = match current {
                Some(p) => {
                    if !exists(id) {
                        g.unpend(id);
                        changes.push(Change::PendingDelete {
                            group: gname.clone(),
                            id,
                        });
                        continue;
                    }
                    p
                }
                // As Redis: FORCE creates the pending entry with one delivery, which
                // the claim then counts like any other.
                None if opts.force && exists(id) => Pending {
                    consumer: consumer.clone(),
                    delivery_ms: now_ms,
                    delivery_count: 1,
                },
                None => continue,
            };
            let idle = now_ms.saturating_sub(current.delivery_ms);
            if g.pel.contains_key(&id) && min_idle_ms > 0 && idle < min_idle_ms {
                continue;
            }
            let count = match opts.retry_count {
                Some(n) => n,
                None if opts.justid => current.delivery_count,
                None => current.delivery_count + 1,
            };
            let p = g.pend(id, consumer, delivery_ms, count);
            changes.push(pending_put(&gname, id, &p));
            claimed.push(id);
        }
        let c = g.consumer_mut(consumer, now_ms);
        if !claimed.is_empty() {
            c.active_ms = Some(now_ms);
        }
        let c = c.clone();
        changes.push(consumer_put(&gname, consumer, &c));
        Ok((claimed, changes))
    }

    /// `XAUTOCLAIM`: scans the PEL from `start`, at most `count * 10` entries, and
    /// claims up to `count` idle for at least `min_idle_ms`. Returns (next cursor,
    /// claimed IDs, IDs removed because the entry no longer exists, changes).
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    pub fn autoclaim(
        &mut self,
        group: &[u8],
        consumer: &Bytes,
        min_idle_ms: u64,
        start: StreamId,
        count: usize,
        justid: bool,
        now_ms: u64,
        exists: impl Fn(StreamId) -> bool,
    ) -> Result<(StreamId, Vec<StreamId>, Vec<StreamId>, Vec<Change>), GroupError> {
        let (gname, g) = self.entry(group)?;
        g.consumer_mut(consumer, now_ms).seen_ms = now_ms;
        let mut changes = Vec::new();
        let mut claimed = Vec::new();
        let mut deleted = Vec::new();
        let mut cursor = StreamId::ZERO;
        let candidates: Vec<StreamId> = g.pel.range(start..).map(|(id, _)| *id).collect();
        for (scanned, id) in candidates.into_iter().enumerate() {
            // As Redis: entries found deleted use up COUNT too.
            if scanned >= count.saturating_mul(10) || claimed.len() + deleted.len() >= count {
                cursor = id;
                break;
            }
            let Some(p) = g.pel.get(&id).cloned() else {
                continue;
            };
            if !exists(id) {
                g.unpend(id);
                deleted.push(id);
                changes.push(Change::PendingDelete {
                    group: gname.clone(),
                    id,
                });
                continue;
            }
            if now_ms.saturating_sub(p.delivery_ms) < min_idle_ms {
                continue;
            }
            let count = if justid {
                p.delivery_count
            } else {
                p.delivery_count + 1
            };
            let p = g.pend(id, consumer, now_ms, count);
            changes.push(pending_put(&gname, id, &p));
            claimed.push(id);
        }
        let c = g.consumer_mut(consumer, now_ms);
        if !claimed.is_empty() {
            c.active_ms = Some(now_ms);
        }
        let c = c.clone();
        changes.push(consumer_put(&gname, consumer, &c));
        Ok((cursor, claimed, deleted, changes))
    }

    /// For `XREADGROUP ... CLAIM min-idle`: the group's pending entries idle for at
    /// least `min_idle_ms`, longest idle first, at most `count`, with (idle, count).
    pub fn idle_pending(
        &self,
        group: &[u8],
        min_idle_ms: u64,
        count: usize,
        now_ms: u64,
    ) -> Result<Vec<Delivery>, GroupError> {
        let g = self.groups.get(group).ok_or(GroupError::NoGroup)?;
        let mut v: Vec<Delivery> = g
            .pel
            .iter()
            .filter(|(_, p)| now_ms.saturating_sub(p.delivery_ms) >= min_idle_ms)
            .map(|(id, p)| Delivery {
                id: *id,
                consumer: p.consumer.clone(),
                idle_ms: now_ms.saturating_sub(p.delivery_ms),
                delivery_count: p.delivery_count,
            })
            .collect();
        v.sort_by(|a, b| b.idle_ms.cmp(&a.idle_ms).then(a.id.cmp(&b.id)));
        v.truncate(count);
        Ok(v)
    }

    /// The whole state as changes that recreate it (for compaction snapshots).
    pub fn snapshot_changes(&self) -> Vec<Change> {
        let mut out = Vec::new();
        for (name, g) in &self.groups {
            out.push(group_put(name, g));
            for (cname, c) in &g.consumers {
                out.push(consumer_put(name, cname, c));
            }
            for (id, p) in &g.pel {
                out.push(pending_put(name, *id, p));
            }
        }
        out
    }

    /// Changes that delete the whole state (when the stream is deleted).
    pub fn delete_all_changes(&self) -> Vec<Change> {
        let mut copy = self.clone();
        let names: Vec<Bytes> = copy.groups.keys().cloned().collect();
        names.into_iter().flat_map(|n| copy.destroy(&n).1).collect()
    }

    /// Rough size of the persisted state, in bytes.
    pub fn persisted_bytes(&self) -> u64 {
        self.groups
            .values()
            .map(|g| 64 + g.pel.len() as u64 * 72 + g.consumers.len() as u64 * 56)
            .sum()
    }

    /// Applies one persisted change (used when loading).
    pub fn apply(&mut self, change: Change) {
        match change {
            Change::GroupPut {
                group,
                last_delivered,
                entries_read,
            } => {
                let g = self.groups.entry(own(&group)).or_default();
                g.last_delivered = last_delivered;
                g.entries_read = entries_read;
            }
            Change::GroupDelete { group } => {
                self.groups.remove(&group);
            }
            Change::ConsumerPut {
                group,
                consumer,
                seen_ms,
                active_ms,
            } => {
                if let Some(g) = self.groups.get_mut(&group) {
                    let c = g.consumers.entry(own(&consumer)).or_default();
                    c.seen_ms = seen_ms;
                    c.active_ms = active_ms;
                }
            }
            Change::ConsumerDelete { group, consumer } => {
                if let Some(g) = self.groups.get_mut(&group) {
                    g.consumers.remove(&consumer);
                }
            }
            Change::PendingPut {
                group,
                id,
                consumer,
                delivery_ms,
                delivery_count,
            } => {
                if let Some(g) = self.groups.get_mut(&group) {
                    if !g.consumers.contains_key(&consumer) {
                        g.consumers.insert(own(&consumer), Consumer::default());
                    }
                    g.pend(id, &consumer, delivery_ms, delivery_count);
                }
            }
            Change::PendingDelete { group, id } => {
                if let Some(g) = self.groups.get_mut(&group) {
                    g.unpend(id);
                }
            }
        }
    }
}

/// `XCLAIM` options.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClaimOptions {
    pub idle_ms: Option<u64>,
    pub time_ms: Option<u64>,
    pub retry_count: Option<u64>,
    pub force: bool,
    pub justid: bool,
    pub last_id: Option<StreamId>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn id(ms: u64) -> StreamId {
        StreamId::new(ms, 0)
    }

    /// Replaying the changes of every operation onto an empty state gives the same
    /// state as the operations themselves (the persistence contract).
    #[test]
    fn changes_replay_to_the_same_state() {
        let mut s = StreamGroups::default();
        let mut log = Vec::new();
        log.extend(s.create(b("g"), StreamId::ZERO, Some(0)).unwrap());
        log.extend(
            s.deliver_new(b"g", &b("c1"), &[id(1), id(2), id(3)], Some(3), false, 100)
                .unwrap(),
        );
        log.extend(
            s.deliver_new(b"g", &b("c2"), &[id(4)], Some(4), false, 110)
                .unwrap(),
        );
        log.extend(s.ack(b"g", &[id(2), id(9)]).unwrap().1);
        let (claimed, ch) = s
            .claim(
                b"g",
                &b("c2"),
                50,
                &[id(1), id(3)],
                ClaimOptions::default(),
                200,
                |_| true,
            )
            .unwrap();
        assert_eq!(claimed, vec![id(1), id(3)]);
        log.extend(ch);
        log.extend(s.delete_consumer(b"g", b"c1").unwrap().1);
        let mut replayed = StreamGroups::default();
        for c in log {
            replayed.apply(c);
        }
        assert_eq!(replayed, s);
    }

    #[test]
    fn pel_bookkeeping_follows_redis() {
        let mut s = StreamGroups::default();
        s.create(b("g"), StreamId::ZERO, None).unwrap();
        assert_eq!(
            s.create(b("g"), StreamId::ZERO, None),
            Err(GroupError::Exists)
        );
        s.deliver_new(b"g", &b("a"), &[id(1), id(2)], Some(2), false, 10)
            .unwrap();
        let sum = s.pending_summary(b"g").unwrap();
        assert_eq!((sum.count, sum.min, sum.max), (2, Some(id(1)), Some(id(2))));
        assert_eq!(sum.per_consumer, vec![(b("a"), 2)]);
        // History read bumps the delivery count.
        let hist = s
            .consumer_pending_after(b"g", b"a", StreamId::ZERO, 10)
            .unwrap();
        assert_eq!(hist, vec![id(1), id(2)]);
        s.redeliver(b"g", &b("a"), &hist, 20).unwrap();
        let d = s
            .pending_range(b"g", StreamId::ZERO, StreamId::MAX, 10, None, None, 25)
            .unwrap();
        assert_eq!(d[0].delivery_count, 2);
        assert_eq!(d[0].idle_ms, 5);
        // Claim needs the idle time.
        let (claimed, _) = s
            .claim(
                b"g",
                &b("b"),
                100,
                &[id(1)],
                ClaimOptions::default(),
                30,
                |_| true,
            )
            .unwrap();
        assert!(claimed.is_empty());
        // A deleted entry is dropped from the PEL by XAUTOCLAIM and reported.
        let (cursor, claimed, deleted, _) = s
            .autoclaim(b"g", &b("b"), 0, StreamId::ZERO, 10, false, 40, |i| {
                i != id(2)
            })
            .unwrap();
        assert_eq!(
            (cursor, claimed, deleted),
            (StreamId::ZERO, vec![id(1)], vec![id(2)])
        );
        assert_eq!(
            s.pending_summary(b"g").unwrap().per_consumer,
            vec![(b("b"), 1)]
        );
        // NOACK delivers without pending.
        s.deliver_new(b"g", &b("a"), &[id(3)], Some(3), true, 50)
            .unwrap();
        assert_eq!(s.pending_summary(b"g").unwrap().count, 1);
        assert_eq!(s.group(b"g").unwrap().last_delivered, id(3));
    }
}
