//! Consumer-group commands: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM,
//! XINFO GROUPS/CONSUMERS, XDELEX, XACKDEL.
//!
//! Group state lives in the broker (`brook-groups` state machines, persisted in the
//! metadata log). Every mutation is logged under the groups' lock; under the `always`
//! policy the reply waits until the log entry is durable (an acknowledged XACK is
//! never forgotten).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::{BoxFuture, FutureExt};

use brook_broker::{
    now_ms, GroupChange, GroupError, MetaError, Partition, StreamGroups, Topic, TopicError,
    TopicSettings,
};
use brook_groups::ClaimOptions;
use brook_model::{Durability, StoredRecord, StreamId};
use brook_resp_proto::Frame;

use super::streams::{
    append_error, block_on, invalid_id, parse_id, parse_read_option, split_streams, RefPolicy, Woke,
};
use super::{
    bulk, bulk_str, eq, err, error, handler, not_integer, ok, parse_i64, spec, syntax_error,
    CmdResult, Spec,
};
use crate::conn::Conn;
use crate::keyspace::Key;
use crate::stream_read::{self, entry_frame, id_frame, read_error};

pub fn specs() -> Vec<Spec> {
    vec![
        spec("xgroup", -2, &[], (0, 0, 0), "stream", "5.0.0", "A container for consumer groups commands.", handler!(xgroup))
            .with_keyed_subcommands(&["create", "setid", "destroy", "createconsumer", "delconsumer", "help"]),
        spec("xreadgroup", -7, &["write", "blocking", "movablekeys"], (0, 0, 0), "stream", "5.0.0", "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.", handler!(xreadgroup)),
        spec("xack", -4, &["write", "fast"], (1, 1, 1), "stream", "5.0.0", "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.", handler!(xack)).deferrable(),
        spec("xpending", -3, &["readonly"], (1, 1, 1), "stream", "5.0.0", "Returns the information and entries from a stream consumer group's pending entries list.", handler!(xpending)),
        spec("xclaim", -6, &["write", "fast"], (1, 1, 1), "stream", "5.0.0", "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.", handler!(xclaim)),
        spec("xautoclaim", -6, &["write", "fast"], (1, 1, 1), "stream", "6.2.0", "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.", handler!(xautoclaim)),
        spec("xdelex", -5, &["write", "fast"], (1, 1, 1), "stream", "8.2.0", "Deletes one or multiple entries from the stream.", handler!(xdelex)),
        spec("xackdel", -6, &["write", "fast"], (1, 1, 1), "stream", "8.2.0", "Acknowledges and conditionally deletes one or multiple entries for a stream consumer group.", handler!(xackdel)),
    ]
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn nogroup_key(key: &[u8], group: &[u8]) -> Frame {
    error(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        s(key),
        s(group)
    ))
}

fn nogroup_for(key: &[u8], group: &[u8]) -> Frame {
    error(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        s(group),
        s(key)
    ))
}

fn meta_error(e: MetaError) -> Frame {
    err(format!("cannot persist consumer-group state: {e}"))
}

use crate::keyspace::StreamHandle;

/// The stream's topic and partition, or `Ok(None)` when the key does not exist.
fn stream(c: &Conn, key: &Bytes) -> Result<Option<StreamHandle>, Frame> {
    c.stream(key)
}

impl Conn {
    /// Runs a group mutation; on success arranges for the reply to wait until the
    /// logged changes are durable (under `always`).
    pub(crate) fn update_groups<R>(
        &mut self,
        topic: &Topic,
        p: &Partition,
        f: impl FnOnce(&mut StreamGroups) -> Result<(R, Vec<GroupChange>), GroupError>,
    ) -> Result<Result<R, GroupError>, Frame> {
        match self.server.broker.update_groups(topic, p, f) {
            Err(e) => Err(meta_error(e)),
            Ok(Err(e)) => Ok(Err(e)),
            Ok(Ok((r, next))) => {
                if let Some(next) = next {
                    let meta = self.server.broker.meta().partition().clone();
                    if p.config().durability == Durability::Always {
                        self.owe_durability(&meta, next);
                    } else {
                        self.note_unsynced(&meta, next);
                    }
                }
                Ok(Ok(r))
            }
        }
    }
}

/// Count of entries ever added up to and including `id` (dense offsets), which is
/// Brook's `entries-read` for a group whose last-delivered ID is `id`.
fn entries_read(p: &Partition, id: StreamId) -> Result<u64, Frame> {
    match id.successor() {
        Some(next) => p.offset_for_stream_id(next).map_err(read_error),
        None => Ok(p.marks().high_watermark),
    }
}

/// A group's `entries-read` (its logical read counter: set by ENTRIESREAD or by
/// reading; nil until then) and `lag`, computed as Redis computes it since 7.4.2 /
/// 7.2.7 (`streamReplyWithCGLag`, with redis#13338 and #13473): 0 for an empty
/// stream; the length when the group and the last XDEL are both before the first
/// entry; from the counter while no XDEL'd entry lies after the group's
/// last-delivered ID; else estimated from the stream's shape; else nil. (`shape`:
/// `None` when the stream's shape cannot be read, and then the lag is nil.)
fn read_and_lag(
    shape: Option<&StreamShape>,
    g: &brook_groups::Group,
) -> (Option<u64>, Option<i64>) {
    let lag = shape.and_then(|s| s.lag(g.entries_read, g.last_delivered));
    (g.entries_read, lag)
}

/// What Redis's lag computation knows of a stream.
struct StreamShape {
    /// `entries-added`.
    added: u64,
    /// `length` (live entries).
    length: u64,
    /// The first live entry's ID (0-0 when empty).
    first: StreamId,
    /// `last-generated-id`.
    last: StreamId,
    /// `max-deleted-entry-id` (moved by XDEL only).
    max_deleted: StreamId,
}

impl StreamShape {
    /// The shape of partition `p` of `topic`; `None` if its first entry cannot be
    /// read. `max-deleted-entry-id` is kept per topic: for a topic of several
    /// partitions it is used only for a partition with deleted entries (then it is
    /// at least this partition's own, so the lag may be nil but is never wrong), and
    /// otherwise left out (0-0).
    fn of(topic: &Topic, p: &Partition) -> Option<StreamShape> {
        let meta = topic.stream_meta();
        let first = stream_read::first_entry(p).ok()?;
        let marks = p.marks();
        // Offsets between the log start and the end: the live count is smaller only
        // if entries in between were deleted one by one.
        let live_span = marks.high_watermark.saturating_sub(marks.log_start);
        Some(StreamShape {
            added: meta.entries_added(marks.high_watermark),
            length: p.live_count(),
            first: first.map_or(StreamId::ZERO, |r| r.stream_id),
            last: p.last_id().unwrap_or_default(),
            max_deleted: if topic.partitions().len() == 1 || p.live_count() < live_span {
                meta.max_deleted()
            } else {
                StreamId::ZERO
            },
        })
    }

    /// Signed, as Redis's `long long`: a group given an `ENTRIESREAD` above
    /// entries-added has a negative lag there too.
    fn lag(&self, entries_read: Option<u64>, last_delivered: StreamId) -> Option<i64> {
        let diff = |read: u64| {
            let d = i128::from(self.added) - i128::from(read);
            d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
        };
        if self.added == 0 || self.length == 0 {
            return Some(0);
        }
        if last_delivered < self.first && self.max_deleted < self.first {
            return Some(i64::try_from(self.length).unwrap_or(i64::MAX));
        }
        match entries_read {
            Some(n) if !self.deleted_after(last_delivered) => Some(diff(n)),
            _ => self.estimate_read(last_delivered).map(diff),
        }
    }

    /// Whether an XDEL'd entry may lie at or after `id` (`streamRangeHasTombstones`).
    fn deleted_after(&self, id: StreamId) -> bool {
        self.length > 0 && self.max_deleted != StreamId::ZERO && id <= self.max_deleted
    }

    /// How many entries were added up to and including `id`, if the stream's shape
    /// tells (`streamEstimateDistanceFromFirstEverEntry`).
    fn estimate_read(&self, id: StreamId) -> Option<u64> {
        if self.added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last {
            return Some(self.added);
        }
        if id != StreamId::ZERO && id < self.max_deleted {
            return None; // An XDEL'd entry lies after it.
        }
        if id == self.last {
            return Some(self.added);
        }
        if id > self.last {
            return None;
        }
        if self.max_deleted == StreamId::ZERO || self.max_deleted < self.first {
            // Nothing deleted after the first entry.
            if id < self.first {
                return Some(self.added.saturating_sub(self.length));
            }
            if id == self.first {
                return Some(self.added.saturating_sub(self.length) + 1);
            }
        }
        None
    }
}

/// The record with exactly this ID, if it is still in the stream (not if the
/// stream was deleted under the read: see `stream_read::range`).
fn record_by_id(p: &Partition, id: StreamId) -> Result<Option<StoredRecord>, Frame> {
    let read = p
        .offset_for_stream_id(id)
        .and_then(|off| p.read_records(off, 1, 1 << 20));
    match read {
        Ok(recs) => Ok(recs.into_iter().next().filter(|r| r.stream_id == id)),
        Err(_) if p.marks().closed => Ok(None),
        Err(e) => Err(read_error(e)),
    }
}

fn exists_fn(p: &Arc<Partition>) -> impl Fn(StreamId) -> bool + '_ {
    move |id| matches!(record_by_id(p, id), Ok(Some(_)))
}

// ---- XGROUP --------------------------------------------------------------------------

async fn xgroup(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    // Too few arguments fail Redis's arity check; too many its subcommand's own.
    let (arity_ok, too_many) = match sub.as_str() {
        "create" => (args.len() >= 5, args.len() > 8),
        "setid" => (args.len() >= 5, args.len() > 7),
        "destroy" => (args.len() == 4, false),
        "createconsumer" | "delconsumer" => (args.len() == 5, false),
        "help" => (args.len() == 2, false),
        _ => {
            return Ok(err(format!(
                "unknown subcommand '{}'. Try XGROUP HELP.",
                s(&args[1])
            )))
        }
    };
    // Too many arguments are refused after the options, the key and the group are
    // checked, as Redis orders it.
    let too_many_args = || super::subcommand_syntax_error("XGROUP", &args[1]);
    if !arity_ok {
        return Ok(err(format!(
            "wrong number of arguments for 'xgroup|{sub}' command"
        )));
    }
    if sub == "help" {
        return Ok(Frame::Array(
            [
                "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CREATE <key> <groupname> <id|$> [option]",
                "CREATECONSUMER <key> <groupname> <consumer>",
                "DELCONSUMER <key> <groupname> <consumername>",
                "DESTROY <key> <groupname>",
                "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            ]
            .iter()
            .map(|t| Frame::Simple(Bytes::copy_from_slice(t.as_bytes())))
            .collect(),
        ));
    }
    let key = args[2].clone();
    let group = args[3].clone();
    // Options of CREATE / SETID.
    let mut mkstream = false;
    let mut entries_read_opt: Option<i64> = None;
    if sub == "create" || sub == "setid" {
        let mut i = 5;
        while i < args.len() {
            if sub == "create" && eq(&args[i], "MKSTREAM") {
                mkstream = true;
                i += 1;
            } else if eq(&args[i], "ENTRIESREAD") && i + 1 < args.len() {
                match parse_i64(&args[i + 1]) {
                    Some(n) if n >= -1 => entries_read_opt = Some(n),
                    Some(_) => return Ok(err("value for ENTRIESREAD must be positive or -1")),
                    None => return Ok(not_integer()),
                }
                i += 2;
            } else {
                return Ok(too_many_args());
            }
        }
    }
    let mut found = stream(c, &key);
    if let Ok(None) = found {
        if sub == "create" && mkstream {
            if too_many {
                return Ok(too_many_args());
            }
            // The ID is checked before MKSTREAM creates the key, so a refused command
            // changes nothing (as in Redis).
            if args[4].as_ref() != b"$" && parse_id(&args[4], 0).is_none() {
                return Ok(invalid_id());
            }
            match c
                .server
                .broker
                .create_topic(c.topic_key(&key), TopicSettings::default())
                .await
            {
                Ok(_) => c.server.touch(c.db, &key),
                Err(TopicError::AlreadyExists(_)) => {}
                Err(e) => return Ok(err(e)),
            }
            found = stream(c, &key);
        }
    }
    let (topic, p) = match found {
        Ok(Some(tp)) => tp,
        Ok(None) => {
            return Ok(err("The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."))
        }
        Err(e) => return Ok(e),
    };
    // CREATE takes a strict ID; SETID also `-` and `+` (as Redis parses them).
    let parse_start = |a: &Bytes, strict: bool| -> Result<StreamId, Frame> {
        match a.as_ref() {
            b"$" => Ok(p.last_id().unwrap_or_default()),
            b"-" if !strict => Ok(StreamId::ZERO),
            b"+" if !strict => Ok(StreamId::MAX),
            _ => parse_id(a, 0).ok_or_else(invalid_id),
        }
    };
    let entries_read_value = entries_read_opt.and_then(|n| u64::try_from(n).ok());
    let reply = match sub.as_str() {
        "create" => {
            if too_many {
                return Ok(too_many_args());
            }
            let start = match parse_start(&args[4], true) {
                Ok(id) => id,
                Err(e) => return Ok(e),
            };
            match c.update_groups(&topic, &p, |g| {
                g.create(group.clone(), start, entries_read_value)
                    .map(|ch| ((), ch))
            }) {
                Ok(Ok(())) => ok(),
                Ok(Err(e)) => error(e.to_string()),
                Err(f) => f,
            }
        }
        "setid" => {
            // Redis looks the group up before it parses the ID.
            if topic.groups(&p).group(&group).is_none() {
                return Ok(nogroup_for(&key, &group));
            }
            if too_many {
                return Ok(too_many_args());
            }
            let start = match parse_start(&args[4], false) {
                Ok(id) => id,
                Err(e) => return Ok(e),
            };
            match c.update_groups(&topic, &p, |g| {
                g.set_id(&group, start, entries_read_value)
                    .map(|ch| ((), ch))
            }) {
                Ok(Ok(())) => ok(),
                Ok(Err(_)) => nogroup_for(&key, &group),
                Err(f) => f,
            }
        }
        "destroy" => match c.update_groups(&topic, &p, |g| Ok(g.destroy(&group))) {
            Ok(Ok(existed)) => Frame::Integer(i64::from(existed)),
            Ok(Err(e)) => error(e.to_string()),
            Err(f) => f,
        },
        "createconsumer" => {
            let consumer = args[4].clone();
            match c.update_groups(&topic, &p, |g| {
                g.create_consumer(&group, &consumer, now_ms())
            }) {
                Ok(Ok(created)) => Frame::Integer(i64::from(created)),
                Ok(Err(_)) => nogroup_for(&key, &group),
                Err(f) => f,
            }
        }
        "delconsumer" => {
            let consumer = args[4].clone();
            match c.update_groups(&topic, &p, |g| g.delete_consumer(&group, &consumer)) {
                Ok(Ok(pending)) => Frame::Integer(pending as i64),
                Ok(Err(_)) => nogroup_for(&key, &group),
                Err(f) => f,
            }
        }
        _ => syntax_error(),
    };
    Ok(reply)
}

// ---- XREADGROUP ----------------------------------------------------------------------

enum GroupRead {
    New,
    History(StreamId),
}

/// An entry as XREADGROUP returns it: with CLAIM, two more integers (idle time and
/// delivery count; 0 and 0 for new entries).
fn group_entry(r: &StoredRecord, claim: Option<(u64, u64)>) -> Frame {
    match (entry_frame(r), claim) {
        (Frame::Array(mut v), Some((idle, count))) => {
            v.push(Frame::Integer(idle as i64));
            v.push(Frame::Integer(count as i64));
            Frame::Array(v)
        }
        (f, _) => f,
    }
}

async fn xreadgroup(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    if !eq(&args[1], "GROUP") {
        return Ok(syntax_error());
    }
    let group = args[2].clone();
    let consumer = args[3].clone();
    let mut count = usize::MAX;
    let mut block: Option<u64> = None;
    let mut noack = false;
    let mut claim_idle: Option<u64> = None;
    let mut i = 4;
    while i < args.len() && !eq(&args[i], "STREAMS") {
        if eq(&args[i], "NOACK") {
            noack = true;
            i += 1;
            continue;
        }
        if eq(&args[i], "CLAIM") {
            match args.get(i + 1).map(|v| parse_i64(v)) {
                Some(Some(ms)) if ms >= 0 => claim_idle = Some(ms as u64),
                Some(Some(_)) => return Ok(err("min-idle-time must be a positive integer")),
                Some(None) => return Ok(err("min-idle-time is not an integer")),
                None => return Ok(syntax_error()),
            }
            i += 2;
            continue;
        }
        match parse_read_option(&args, i, &mut count, &mut block) {
            Ok(true) => i += 2,
            Ok(false) => return Ok(syntax_error()),
            Err(e) => return Ok(e),
        }
    }
    let (keys, ids) = match split_streams(&args, i, "xreadgroup", "an ID or '>'") {
        Ok(v) => v,
        Err(e) => return Ok(e),
    };
    let n = keys.len();
    // Every stream and group must exist before anything is read. Stream by stream,
    // as Redis: the key's type, its group, then its ID.
    let mut modes = Vec::with_capacity(n);
    let mut streams = Vec::with_capacity(n);
    for (key, id) in keys.iter().zip(ids) {
        match stream(c, key) {
            Ok(Some((t, p))) if t.groups(&p).group(&group).is_some() => streams.push((t, p)),
            Ok(_) => {
                return Ok(error(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                s(key),
                s(&group)
            )))
            }
            Err(e) => return Ok(e),
        }
        modes.push(match id.as_ref() {
            b">" => GroupRead::New,
            b"$" => return Ok(err("The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")),
            other => match parse_id(other, 0) {
                // Redis stands for `>` with the largest ID, so that ID given
                // explicitly reads new entries too.
                Some(StreamId::MAX) => GroupRead::New,
                Some(id) => GroupRead::History(id),
                None => return Ok(invalid_id()),
            },
        });
    }
    let deadline = block
        .filter(|&ms| ms > 0)
        .map(|ms| Instant::now() + Duration::from_millis(ms));
    let mut flushed = false;
    let mut first_round = true;
    loop {
        let mut topics_rx = c.server.broker.subscribe_topics();
        topics_rx.borrow_and_update();
        let mut removals: Vec<_> = streams
            .iter()
            .map(|(t, _)| t.subscribe_group_removals())
            .collect();
        for r in &mut removals {
            r.borrow_and_update();
        }
        if !first_round {
            // Woken: the key may be gone or hold something else, the group may be
            // gone. As Redis 7: a key deleted or no longer a stream ends the call
            // with UNBLOCKED; a stream put in its place (RENAME) without the group
            // with NOGROUP; one with the group is read from instead.
            for ((key, slot), removal) in keys.iter().zip(streams.iter_mut()).zip(&mut removals) {
                // The same topic (perhaps grown to several partitions since: still
                // partition 0 for the un-suffixed key) is read on as before.
                let same = matches!(c.lookup(key), Key::Stream(ref now) | Key::Partition(ref now, _) if Arc::ptr_eq(now, &slot.0) || now.id == slot.0.id);
                if !same {
                    let Ok(Some((t, p))) = stream(c, key) else {
                        return Ok(error("UNBLOCKED the stream key no longer exists"));
                    };
                    // Watch the new stream's groups from now on (before checking).
                    *removal = t.subscribe_group_removals();
                    removal.borrow_and_update();
                    *slot = (t, p);
                }
                if slot.0.groups(&slot.1).group(&group).is_none() {
                    return Ok(error(
                        "NOGROUP the consumer group this client was blocked on no longer exists",
                    ));
                }
            }
        }
        first_round = false;
        let now = now_ms();
        let mut results = Vec::new();
        let mut any_history = false;
        let mut waits: Vec<BoxFuture<'static, ()>> = Vec::new();
        for ((key, mode), (topic, p)) in keys.iter().zip(&modes).zip(&streams) {
            let frames = match mode {
                GroupRead::History(after) => {
                    any_history = true;
                    // The consumer's pending entries this reads: when their pages are
                    // not cached, those from the first to the last are read off the
                    // worker first, as for `>`.
                    let pending = topic
                        .groups(p)
                        .consumer_pending_after(
                            &group,
                            &consumer,
                            *after,
                            count.min(stream_read::WARM_ENTRIES_MAX),
                        )
                        .unwrap_or_default();
                    if let (Some(&first), Some(&last)) = (pending.first(), pending.last()) {
                        stream_read::warm_off_worker(p, first, last, count, &c.server.cold_reads)
                            .await;
                    }
                    match read_history(c, topic, p, &group, &consumer, *after, count, now) {
                        Ok(f) => f,
                        Err(e) => return Ok(e),
                    }
                }
                GroupRead::New => {
                    let next = topic
                        .groups(p)
                        .group(&group)
                        .and_then(|g| g.last_delivered.successor());
                    if let Some(next) = next {
                        stream_read::warm_off_worker(
                            p,
                            next,
                            StreamId::MAX,
                            count,
                            &c.server.cold_reads,
                        )
                        .await;
                    }
                    match read_new(
                        c, topic, p, &group, &consumer, count, noack, claim_idle, now,
                    ) {
                        Ok((f, wait_from)) => {
                            if f.is_empty() {
                                let p2 = p.clone();
                                waits.push(
                                    async move {
                                        p2.wait_for_data(wait_from).await;
                                    }
                                    .boxed(),
                                );
                            }
                            f
                        }
                        Err(e) => return Ok(e),
                    }
                }
            };
            if !frames.is_empty() || matches!(mode, GroupRead::History(_)) {
                results.push((key.clone(), Frame::Array(frames)));
            }
        }
        if !results.is_empty() || any_history {
            return Ok(read_reply(c, results));
        }
        if block.is_none() || c.in_exec || deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(Frame::NullArray);
        }
        for mut r in removals {
            waits.push(
                async move {
                    let _ = r.changed().await;
                }
                .boxed(),
            );
        }
        match block_on(c, waits, topics_rx, deadline, &mut flushed).await? {
            Woke::Data => {}
            Woke::Timeout => return Ok(Frame::NullArray),
        }
    }
}

fn read_reply(c: &Conn, results: Vec<(Bytes, Frame)>) -> Frame {
    use brook_resp_proto::Protocol;
    if c.proto == Protocol::Resp3 {
        Frame::Map(results.into_iter().map(|(k, v)| (bulk(k), v)).collect())
    } else {
        Frame::Array(
            results
                .into_iter()
                .map(|(k, v)| Frame::Array(vec![bulk(k), v]))
                .collect(),
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn read_history(
    c: &mut Conn,
    topic: &Topic,
    p: &Arc<Partition>,
    group: &Bytes,
    consumer: &Bytes,
    after: StreamId,
    count: usize,
    now: u64,
) -> Result<Vec<Frame>, Frame> {
    let mut frames = Vec::new();
    let result = c.update_groups(topic, p, |g| {
        let ids = g.consumer_pending_after(group, consumer, after, count)?;
        let mut records = Vec::with_capacity(ids.len());
        for &id in &ids {
            records.push((id, record_by_id(p, id).ok().flatten()));
        }
        // As Redis: an entry deleted from the stream comes back with a null body and
        // its delivery is not counted.
        let existing: Vec<StreamId> = records
            .iter()
            .filter(|(_, r)| r.is_some())
            .map(|(id, _)| *id)
            .collect();
        let changes = g.redeliver(group, consumer, &existing, now)?;
        Ok((records, changes))
    })?;
    let records = result.map_err(|_| nogroup_key(&topic.key.name, group))?;
    for (id, r) in records {
        frames.push(match r {
            Some(r) => entry_frame(&r),
            None => Frame::Array(vec![id_frame(id), Frame::NullArray]),
        });
    }
    Ok(frames)
}

/// `>`: claims idle entries first (with CLAIM), then delivers new ones. Returns the
/// frames and, when nothing was new, the offset to wait beyond.
#[allow(clippy::too_many_arguments)]
fn read_new(
    c: &mut Conn,
    topic: &Topic,
    p: &Arc<Partition>,
    group: &Bytes,
    consumer: &Bytes,
    count: usize,
    noack: bool,
    claim_idle: Option<u64>,
    now: u64,
) -> Result<(Vec<Frame>, u64), Frame> {
    let result = c.update_groups(topic, p, |g| {
        let mut changes = Vec::new();
        let mut claimed: Vec<(StoredRecord, u64, u64)> = Vec::new();
        if let Some(min_idle) = claim_idle {
            let idle = g.idle_pending(group, min_idle, count, now)?;
            let ids: Vec<StreamId> = idle.iter().map(|d| d.id).collect();
            let (got, ch) = g.claim(
                group,
                consumer,
                min_idle,
                &ids,
                ClaimOptions::default(),
                now,
                exists_fn(p),
            )?;
            changes.extend(ch);
            for d in idle {
                if got.contains(&d.id) {
                    if let Ok(Some(r)) = record_by_id(p, d.id) {
                        claimed.push((r, d.idle_ms, d.delivery_count));
                    }
                }
            }
        }
        let last = g
            .group(group)
            .map(|gr| gr.last_delivered)
            .ok_or(GroupError::NoGroup)?;
        let room = count.saturating_sub(claimed.len());
        let fresh = match last.successor() {
            Some(next) if room > 0 => {
                stream_read::range(p, next, StreamId::MAX, room).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let ids: Vec<StreamId> = fresh.iter().map(|r| r.stream_id).collect();
        let meta = topic.stream_meta();
        let read = ids
            .last()
            .and_then(|id| entries_read(p, *id).ok())
            .map(|n| meta.entries_added(n));
        changes.extend(g.deliver_new(group, consumer, &ids, read, noack, now)?);
        let wait_from = match last.successor() {
            Some(next) => p.offset_for_stream_id(next).unwrap_or(u64::MAX),
            None => u64::MAX,
        };
        Ok(((claimed, fresh, wait_from), changes))
    })?;
    let (claimed, fresh, wait_from) = result.map_err(|_| nogroup_key(&topic.key.name, group))?;
    let with_claim = claim_idle.is_some();
    let mut frames: Vec<Frame> = claimed
        .iter()
        .map(|(r, idle, count)| group_entry(r, Some((*idle, *count))))
        .collect();
    frames.extend(
        fresh
            .iter()
            .map(|r| group_entry(r, with_claim.then_some((0, 0)))),
    );
    Ok((frames, wait_from))
}

// ---- XACK, XPENDING ------------------------------------------------------------------

fn parse_ids(args: &[Bytes]) -> Result<Vec<StreamId>, Frame> {
    args.iter()
        .map(|a| parse_id(a, 0).ok_or_else(invalid_id))
        .collect()
}

async fn xack(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    // Redis: no key or no group is nothing to acknowledge, whatever the IDs.
    let (topic, p) = match stream(c, &args[1]) {
        Ok(Some(tp)) => tp,
        Ok(None) => return Ok(Frame::Integer(0)),
        Err(e) => return Ok(e),
    };
    let group = args[2].clone();
    if topic.groups(&p).group(&group).is_none() {
        return Ok(Frame::Integer(0));
    }
    let ids = match parse_ids(&args[3..]) {
        Ok(ids) => ids,
        Err(e) => return Ok(e),
    };
    Ok(match c.update_groups(&topic, &p, |g| g.ack(&group, &ids)) {
        Ok(Ok(n)) => Frame::Integer(n as i64),
        Ok(Err(_)) => Frame::Integer(0),
        Err(f) => f,
    })
}

/// The extended form's arguments: `[IDLE ms] start end count [consumer]`.
struct PendingRange {
    min_idle: Option<u64>,
    start: StreamId,
    end: StreamId,
    count: usize,
    consumer: Option<Bytes>,
}

async fn xpending(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let key = args[1].clone();
    let group = args[2].clone();
    // As Redis: the summary form, or 6 to 9 arguments (what follows the consumer is
    // ignored); the range is parsed before the key is looked up.
    if args.len() != 3 && !(6..=9).contains(&args.len()) {
        return Ok(syntax_error());
    }
    let range = if args.len() >= 6 {
        match parse_pending_range(&args) {
            Ok(r) => Some(r),
            Err(e) => return Ok(e),
        }
    } else {
        None
    };
    let (topic, p) = match stream(c, &key) {
        Ok(Some(tp)) => tp,
        Ok(None) => return Ok(nogroup_key(&key, &group)),
        Err(e) => return Ok(e),
    };
    let groups = topic.groups(&p);
    let Some(r) = range else {
        return Ok(match groups.pending_summary(&group) {
            Err(_) => nogroup_key(&key, &group),
            Ok(sum) if sum.count == 0 => Frame::Array(vec![
                Frame::Integer(0),
                Frame::Null,
                Frame::Null,
                Frame::NullArray,
            ]),
            Ok(sum) => Frame::Array(vec![
                Frame::Integer(sum.count as i64),
                sum.min.map_or(Frame::Null, id_frame),
                sum.max.map_or(Frame::Null, id_frame),
                Frame::Array(
                    sum.per_consumer
                        .into_iter()
                        .map(|(cname, n)| {
                            Frame::Array(vec![bulk(cname), bulk(Bytes::from(n.to_string()))])
                        })
                        .collect(),
                ),
            ]),
        });
    };
    let consumer = r.consumer.as_deref();
    Ok(
        match groups.pending_range(
            &group,
            r.start,
            r.end,
            r.count,
            consumer,
            r.min_idle,
            now_ms(),
        ) {
            Err(_) => nogroup_key(&key, &group),
            Ok(list) => Frame::Array(
                list.into_iter()
                    .map(|d| {
                        Frame::Array(vec![
                            id_frame(d.id),
                            bulk(d.consumer),
                            Frame::Integer(d.idle_ms as i64),
                            Frame::Integer(d.delivery_count as i64),
                        ])
                    })
                    .collect(),
            ),
        },
    )
}

/// Parses XPENDING's extended form in Redis's order: IDLE, count, start, end.
fn parse_pending_range(args: &[Bytes]) -> Result<PendingRange, Frame> {
    let mut i = 3;
    let mut min_idle = None;
    if eq(&args[3], "IDLE") {
        let ms = parse_i64(&args[4]).ok_or_else(not_integer)?;
        if args.len() < 8 {
            return Err(syntax_error());
        }
        min_idle = Some(ms.max(0) as u64);
        i = 5;
    }
    let count = parse_i64(&args[i + 2]).ok_or_else(not_integer)?.max(0) as usize;
    let start = super::streams::parse_bound(&args[i], true)?;
    let end = super::streams::parse_bound(&args[i + 1], false)?;
    Ok(PendingRange {
        min_idle,
        start,
        end,
        count,
        consumer: args.get(i + 3).cloned(),
    })
}

// ---- XCLAIM, XAUTOCLAIM --------------------------------------------------------------

fn entries_or_ids(p: &Partition, ids: &[StreamId], justid: bool) -> Result<Frame, Frame> {
    if justid {
        return Ok(Frame::Array(ids.iter().map(|id| id_frame(*id)).collect()));
    }
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        if let Some(r) = record_by_id(p, id)? {
            out.push(entry_frame(&r));
        }
    }
    Ok(Frame::Array(out))
}

async fn xclaim(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let key = args[1].clone();
    let group = args[2].clone();
    let consumer = args[3].clone();
    // Redis looks the key and the group up before it parses the arguments.
    let (topic, p) = match stream(c, &key) {
        Ok(Some(tp)) => tp,
        Ok(None) => return Ok(nogroup_key(&key, &group)),
        Err(e) => return Ok(e),
    };
    if topic.groups(&p).group(&group).is_none() {
        return Ok(nogroup_key(&key, &group));
    }
    let Some(min_idle) = parse_i64(&args[4]) else {
        return Ok(err("Invalid min-idle-time argument for XCLAIM"));
    };
    let min_idle = min_idle.max(0) as u64;
    let mut i = 5;
    let mut ids = Vec::new();
    while i < args.len() {
        match parse_id(&args[i], 0) {
            Some(id) => ids.push(id),
            None => break,
        }
        i += 1;
    }
    let mut opts = ClaimOptions::default();
    let now = now_ms();
    while i < args.len() {
        let a = &args[i];
        if eq(a, "FORCE") {
            opts.force = true;
            i += 1;
        } else if eq(a, "JUSTID") {
            opts.justid = true;
            i += 1;
        } else if i + 1 < args.len() && (eq(a, "IDLE") || eq(a, "TIME") || eq(a, "RETRYCOUNT")) {
            let Some(v) = parse_i64(&args[i + 1]) else {
                return Ok(err(format!(
                    "Invalid {} option argument for XCLAIM",
                    s(a).to_uppercase()
                )));
            };
            // As Redis: a negative IDLE is 0 and a negative or future TIME is now; a
            // negative RETRYCOUNT counts as not given (the delivery count goes on).
            let u = u64::try_from(v).ok();
            if eq(a, "IDLE") {
                opts.idle_ms = Some(u.unwrap_or(0));
            } else if eq(a, "TIME") {
                opts.time_ms = Some(u.map_or(now, |t| t.min(now)));
            } else {
                opts.retry_count = u;
            }
            i += 2;
        } else if i + 1 < args.len() && eq(a, "LASTID") {
            match parse_id(&args[i + 1], 0) {
                Some(id) => opts.last_id = Some(id),
                None => return Ok(invalid_id()),
            }
            i += 2;
        } else {
            return Ok(err(format!("Unrecognized XCLAIM option '{}'", s(a))));
        }
    }
    let claimed = match c.update_groups(&topic, &p, |g| {
        g.claim(&group, &consumer, min_idle, &ids, opts, now, exists_fn(&p))
    }) {
        Ok(Ok(ids)) => ids,
        Ok(Err(_)) => return Ok(nogroup_key(&key, &group)),
        Err(f) => return Ok(f),
    };
    Ok(entries_or_ids(&p, &claimed, opts.justid).unwrap_or_else(|e| e))
}

async fn xautoclaim(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let key = args[1].clone();
    let group = args[2].clone();
    let consumer = args[3].clone();
    let Some(min_idle) = parse_i64(&args[4]) else {
        return Ok(err("Invalid min-idle-time argument for XAUTOCLAIM"));
    };
    let min_idle = min_idle.max(0) as u64;
    // An interval start, as XRANGE's (`-`, `+`, exclusive `(`).
    let start = match super::streams::parse_bound(&args[5], true) {
        Ok(id) => id,
        Err(e) => return Ok(e),
    };
    let mut count = 100usize;
    let mut justid = false;
    let mut i = 6;
    while i < args.len() {
        if eq(&args[i], "JUSTID") {
            justid = true;
            i += 1;
        } else if eq(&args[i], "COUNT") && i + 1 < args.len() {
            // Redis: one message for a non-number and for one out of range.
            match parse_i64(&args[i + 1]) {
                Some(n) if n > 0 && n <= i64::MAX / 16 => count = n as usize,
                _ => return Ok(err("COUNT must be > 0")),
            }
            i += 2;
        } else {
            return Ok(syntax_error());
        }
    }
    let (topic, p) = match stream(c, &key) {
        Ok(Some(tp)) => tp,
        Ok(None) => return Ok(nogroup_key(&key, &group)),
        Err(e) => return Ok(e),
    };
    let now = now_ms();
    let result = c.update_groups(&topic, &p, |g| {
        let (cursor, claimed, deleted, changes) = g.autoclaim(
            &group,
            &consumer,
            min_idle,
            start,
            count,
            justid,
            now,
            exists_fn(&p),
        )?;
        Ok(((cursor, claimed, deleted), changes))
    });
    let (cursor, claimed, deleted) = match result {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => return Ok(nogroup_key(&key, &group)),
        Err(f) => return Ok(f),
    };
    let entries = match entries_or_ids(&p, &claimed, justid) {
        Ok(f) => f,
        Err(e) => return Ok(e),
    };
    Ok(Frame::Array(vec![
        id_frame(cursor),
        entries,
        Frame::Array(deleted.into_iter().map(id_frame).collect()),
    ]))
}

// ---- XINFO GROUPS / CONSUMERS ----------------------------------------------------------

pub fn xinfo_groups(c: &mut Conn, key: &Bytes) -> Frame {
    let (topic, p) = match stream(c, key) {
        Ok(Some(tp)) => tp,
        Ok(None) => return err("no such key"),
        Err(e) => return e,
    };
    let groups = topic.groups(&p).clone();
    let shape = StreamShape::of(&topic, &p);
    let mut out = Vec::new();
    for (name, g) in &groups.groups {
        let (read, lag) = read_and_lag(shape.as_ref(), g);
        out.push(Frame::Map(vec![
            (bulk_str("name"), bulk(name.clone())),
            (
                bulk_str("consumers"),
                Frame::Integer(g.consumers.len() as i64),
            ),
            (bulk_str("pending"), Frame::Integer(g.pel.len() as i64)),
            (bulk_str("last-delivered-id"), id_frame(g.last_delivered)),
            (
                bulk_str("entries-read"),
                read.map_or(Frame::Null, |n| Frame::Integer(n as i64)),
            ),
            (bulk_str("lag"), lag.map_or(Frame::Null, Frame::Integer)),
        ]));
    }
    Frame::Array(out)
}

pub fn xinfo_consumers(c: &mut Conn, key: &Bytes, group: &Bytes) -> Frame {
    let (topic, p) = match stream(c, key) {
        Ok(Some(tp)) => tp,
        Ok(None) => return err("no such key"),
        Err(e) => return e,
    };
    let groups = topic.groups(&p);
    let Some(g) = groups.group(group) else {
        return nogroup_for(key, group);
    };
    let now = now_ms();
    Frame::Array(
        g.consumers
            .iter()
            .map(|(name, cons)| {
                Frame::Map(vec![
                    (bulk_str("name"), bulk(name.clone())),
                    (
                        bulk_str("pending"),
                        Frame::Integer(cons.pending.len() as i64),
                    ),
                    (
                        bulk_str("idle"),
                        Frame::Integer(now.saturating_sub(cons.seen_ms) as i64),
                    ),
                    (
                        bulk_str("inactive"),
                        Frame::Integer(cons.active_ms.map_or(-1, |a| now.saturating_sub(a) as i64)),
                    ),
                ])
            })
            .collect(),
    )
}

/// The `groups` part of `XINFO STREAM key FULL [COUNT n]`.
pub fn xinfo_full_groups(topic: &Topic, p: &Partition, count: usize) -> Frame {
    let groups = topic.groups(p).clone();
    let shape = StreamShape::of(topic, p);
    let mut out = Vec::new();
    for (name, g) in &groups.groups {
        let (read, lag) = read_and_lag(shape.as_ref(), g);
        let pel: Vec<Frame> = g
            .pel
            .iter()
            .take(count)
            .map(|(id, pe)| {
                Frame::Array(vec![
                    id_frame(*id),
                    bulk(pe.consumer.clone()),
                    Frame::Integer(pe.delivery_ms as i64),
                    Frame::Integer(pe.delivery_count as i64),
                ])
            })
            .collect();
        let consumers: Vec<Frame> = g
            .consumers
            .iter()
            .map(|(cname, cons)| {
                let pending: Vec<Frame> = cons
                    .pending
                    .iter()
                    .take(count)
                    .filter_map(|id| g.pel.get(id).map(|pe| (id, pe)))
                    .map(|(id, pe)| {
                        Frame::Array(vec![
                            id_frame(*id),
                            Frame::Integer(pe.delivery_ms as i64),
                            Frame::Integer(pe.delivery_count as i64),
                        ])
                    })
                    .collect();
                Frame::Map(vec![
                    (bulk_str("name"), bulk(cname.clone())),
                    (bulk_str("seen-time"), Frame::Integer(cons.seen_ms as i64)),
                    (
                        bulk_str("active-time"),
                        Frame::Integer(cons.active_ms.map_or(-1, |a| a as i64)),
                    ),
                    (
                        bulk_str("pel-count"),
                        Frame::Integer(cons.pending.len() as i64),
                    ),
                    (bulk_str("pending"), Frame::Array(pending)),
                ])
            })
            .collect();
        out.push(Frame::Map(vec![
            (bulk_str("name"), bulk(name.clone())),
            (bulk_str("last-delivered-id"), id_frame(g.last_delivered)),
            (
                bulk_str("entries-read"),
                read.map_or(Frame::Null, |n| Frame::Integer(n as i64)),
            ),
            (bulk_str("lag"), lag.map_or(Frame::Null, Frame::Integer)),
            (bulk_str("pel-count"), Frame::Integer(g.pel.len() as i64)),
            (bulk_str("pending"), Frame::Array(pel)),
            (bulk_str("consumers"), Frame::Array(consumers)),
        ]));
    }
    Frame::Array(out)
}

/// Number of groups of a stream (for XINFO STREAM).
pub fn group_count(topic: &Topic, p: &Partition) -> usize {
    topic.groups(p).groups.len()
}

// ---- XDELEX, XACKDEL -------------------------------------------------------------------

/// Parses `[KEEPREF|DELREF|ACKED] IDS numids id...` from `args[at..]`.
fn parse_ids_clause(args: &[Bytes], mut at: usize) -> Result<(RefPolicy, Vec<StreamId>), Frame> {
    let mut policy = RefPolicy::KeepRef;
    if let Some(pol) = args.get(at).and_then(|a| RefPolicy::parse(a)) {
        policy = pol;
        at += 1;
    }
    if !args.get(at).is_some_and(|a| eq(a, "IDS")) {
        return Err(syntax_error());
    }
    let n = match args.get(at + 1).and_then(|a| parse_i64(a)) {
        Some(n) if n > 0 => n as usize,
        Some(_) => return Err(err("Number of IDs must be a positive integer")),
        None => return Err(err("Number of IDs must be a positive integer")),
    };
    let ids = &args[(at + 2).min(args.len())..];
    // As Redis: too few IDs is a count mismatch, extra arguments a syntax error.
    if ids.len() < n {
        return Err(err(
            "The `numids` parameter must match the number of arguments",
        ));
    }
    if ids.len() > n {
        return Err(syntax_error());
    }
    Ok((policy, parse_ids(ids)?))
}

/// Deletes `ids` under `policy`; per ID: -1 not found, 1 deleted, 2 kept (referenced).
fn delete_with_policy(
    c: &mut Conn,
    topic: &Topic,
    p: &Arc<Partition>,
    ids: &[StreamId],
    policy: RefPolicy,
) -> Result<(Vec<i64>, Option<StreamId>), Frame> {
    let mut codes = Vec::with_capacity(ids.len());
    let mut offsets = Vec::new();
    let mut max_deleted = None;
    let mut drop_refs = Vec::new();
    for &id in ids {
        let off = p.offset_for_stream_id(id).map_err(read_error)?;
        let found = p
            .read_records(off, 1, 1 << 20)
            .map_err(read_error)?
            .first()
            .is_some_and(|r| r.stream_id == id && r.offset == off);
        if !found {
            codes.push(-1);
            if policy == RefPolicy::DelRef {
                drop_refs.push(id);
            }
            continue;
        }
        if policy == RefPolicy::Acked && topic.groups(p).referenced(id) {
            codes.push(2);
            continue;
        }
        if policy == RefPolicy::DelRef {
            drop_refs.push(id);
        }
        offsets.push(off);
        max_deleted = max_deleted.max(Some(id));
        codes.push(1);
    }
    p.delete_records(&offsets).map_err(append_error)?;
    if !drop_refs.is_empty() {
        c.update_groups(topic, p, |g| {
            let changes = drop_refs
                .iter()
                .flat_map(|id| g.drop_references(*id))
                .collect();
            Ok(((), changes))
        })?
        .ok();
    }
    Ok((codes, max_deleted))
}

/// After XDELEX / XACKDEL deleted entries: touches the key and records the largest
/// deleted ID as `max-deleted-entry-id` (as XDEL does).
async fn note_deletions(c: &mut Conn, topic: &Topic, key: &Bytes, max_deleted: Option<StreamId>) {
    c.server.touch(c.db, key);
    if let Some(id) = max_deleted {
        super::streams::note_deleted(c, topic, id).await;
    }
}

async fn xdelex(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let (policy, ids) = match parse_ids_clause(&args, 2) {
        Ok(v) => v,
        Err(e) => return Ok(e),
    };
    let (topic, p) = match stream(c, &args[1]) {
        Ok(Some(tp)) => tp,
        Ok(None) => {
            return Ok(Frame::Array(
                ids.iter().map(|_| Frame::Integer(-1)).collect(),
            ))
        }
        Err(e) => return Ok(e),
    };
    let (codes, max_deleted) = match delete_with_policy(c, &topic, &p, &ids, policy) {
        Ok(r) => r,
        Err(e) => return Ok(e),
    };
    note_deletions(c, &topic, &args[1], max_deleted).await;
    Ok(Frame::Array(
        codes.into_iter().map(Frame::Integer).collect(),
    ))
}

async fn xackdel(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let group = args[2].clone();
    let (policy, ids) = match parse_ids_clause(&args, 3) {
        Ok(v) => v,
        Err(e) => return Ok(e),
    };
    let (topic, p) = match stream(c, &args[1]) {
        Ok(Some(tp)) => tp,
        Ok(None) => {
            return Ok(Frame::Array(
                ids.iter().map(|_| Frame::Integer(-1)).collect(),
            ))
        }
        Err(e) => return Ok(e),
    };
    if topic.groups(&p).group(&group).is_none() {
        return Ok(Frame::Array(
            ids.iter().map(|_| Frame::Integer(-1)).collect(),
        ));
    }
    // Acknowledge in the group first; an ID this group did not have pending is -1.
    let acked: Vec<bool> = match c.update_groups(&topic, &p, |g| {
        let mut flags = Vec::with_capacity(ids.len());
        let mut changes = Vec::new();
        for &id in &ids {
            let (n, ch) = g.ack(&group, &[id])?;
            flags.push(n == 1);
            changes.extend(ch);
        }
        Ok((flags, changes))
    }) {
        Ok(Ok(f)) => f,
        Ok(Err(_)) => return Ok(nogroup_key(&args[1], &group)),
        Err(f) => return Ok(f),
    };
    // Then delete under the policy, whether or not this group had the ID pending:
    // -1 only when the ID is neither in the stream nor was pending here.
    let (codes, max_deleted) = match delete_with_policy(c, &topic, &p, &ids, policy) {
        Ok(r) => r,
        Err(e) => return Ok(e),
    };
    note_deletions(c, &topic, &args[1], max_deleted).await;
    let out = codes
        .into_iter()
        .zip(acked)
        .map(|(code, acked)| Frame::Integer(if code == -1 && acked { 1 } else { code }))
        .collect();
    Ok(Frame::Array(out))
}
