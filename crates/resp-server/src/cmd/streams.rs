//! Stream commands without consumer groups: XADD, XRANGE, XREVRANGE, XLEN, XDEL,
//! XTRIM, XREAD, XSETID, XINFO STREAM.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::{select_all, BoxFuture, FutureExt};

use brook_broker::fields;
use brook_broker::{AppendError, Partition, ProduceError, TopicError, TopicSettings};
use brook_model::{IdSpec, StreamId};
use brook_resp_proto::Frame;

use super::{
    bulk, eq, err, error, handler, not_integer, ok, parse_i64, spec, syntax_error, wrongtype,
    CmdResult, Spec,
};
use crate::conn::Conn;
use crate::keyspace::Key;
use crate::stream_read::{self, entries_frame, entry_frame, id_frame, read_error, Direction};

pub fn specs() -> Vec<Spec> {
    vec![
        spec("xadd", -5, &["write", "denyoom", "fast"], (1, 1, 1), "stream", "5.0.0", "Appends a new message to a stream. Creates the key if it doesn't exist.", handler!(xadd)).deferrable(),
        spec("xrange", -4, &["readonly"], (1, 1, 1), "stream", "5.0.0", "Returns the messages from a stream within a range of IDs.", handler!(xrange)),
        spec("xrevrange", -4, &["readonly"], (1, 1, 1), "stream", "5.0.0", "Returns the messages from a stream within a range of IDs in reverse order.", handler!(xrevrange)),
        spec("xlen", 2, &["readonly", "fast"], (1, 1, 1), "stream", "5.0.0", "Return the number of messages in a stream.", handler!(xlen)),
        spec("xdel", -3, &["write", "fast"], (1, 1, 1), "stream", "5.0.0", "Returns the number of messages after removing them from a stream.", handler!(xdel)),
        spec("xtrim", -4, &["write"], (1, 1, 1), "stream", "5.0.0", "Deletes messages from the beginning of a stream.", handler!(xtrim)),
        spec("xread", -4, &["readonly", "blocking", "movablekeys"], (0, 0, 0), "stream", "5.0.0", "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.", handler!(xread)),
        spec("xsetid", -3, &["write", "denyoom", "fast"], (1, 1, 1), "stream", "5.0.0", "An internal command for replicating stream values.", handler!(xsetid)),
        spec("xinfo", -2, &[], (0, 0, 0), "stream", "5.0.0", "A container for stream introspection commands.", handler!(xinfo))
            .with_keyed_subcommands(&["stream", "groups", "consumers", "help"]),
    ]
}

// ---- argument parsing ------------------------------------------------------------------

pub fn invalid_id() -> Frame {
    err("Invalid stream ID specified as stream command argument")
}

/// `ms-seq`, or `ms` with `missing_seq` as the sequence.
pub fn parse_id(b: &[u8], missing_seq: u64) -> Option<StreamId> {
    let s = std::str::from_utf8(b).ok()?;
    let num = |p: &str| -> Option<u64> {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    match s.split_once('-') {
        Some((ms, seq)) => Some(StreamId::new(num(ms)?, num(seq)?)),
        None => Some(StreamId::new(num(s)?, missing_seq)),
    }
}

fn parse_xadd_id(b: &[u8]) -> Option<IdSpec> {
    if b == b"*" {
        return Some(IdSpec::Auto);
    }
    if let Some(ms) = b.strip_suffix(b"-*") {
        if ms.contains(&b'-') {
            return None;
        }
        return parse_id(ms, 0).map(|id| IdSpec::AutoSeq(id.ms));
    }
    parse_id(b, 0).map(IdSpec::Explicit)
}

/// A range bound: `-`, `+`, `(id` (exclusive), `ms`, `ms-seq`.
pub fn parse_bound(b: &[u8], is_start: bool) -> Result<StreamId, Frame> {
    match b {
        b"-" => return Ok(StreamId::ZERO),
        b"+" => return Ok(StreamId::MAX),
        _ => {}
    }
    if let Some(rest) = b.strip_prefix(b"(") {
        let id = parse_id(rest, if is_start { 0 } else { u64::MAX }).ok_or_else(invalid_id)?;
        return if is_start {
            id.successor()
                .ok_or_else(|| err("invalid start ID for the interval"))
        } else {
            predecessor(id).ok_or_else(|| err("invalid end ID for the interval"))
        };
    }
    parse_id(b, if is_start { 0 } else { u64::MAX }).ok_or_else(invalid_id)
}

fn predecessor(id: StreamId) -> Option<StreamId> {
    match id.seq.checked_sub(1) {
        Some(seq) => Some(StreamId::new(id.ms, seq)),
        None => id.ms.checked_sub(1).map(|ms| StreamId::new(ms, u64::MAX)),
    }
}

/// What deleting or trimming entries does to consumer-group references (Redis 8.2):
/// `KEEPREF` (default) leaves PEL entries, `DELREF` removes them, `ACKED` only
/// removes entries every group has read and acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefPolicy {
    KeepRef,
    DelRef,
    Acked,
}

impl RefPolicy {
    pub fn parse(a: &[u8]) -> Option<RefPolicy> {
        if eq(a, "KEEPREF") {
            Some(RefPolicy::KeepRef)
        } else if eq(a, "DELREF") {
            Some(RefPolicy::DelRef)
        } else if eq(a, "ACKED") {
            Some(RefPolicy::Acked)
        } else {
            None
        }
    }
}

/// How `XADD`/`XTRIM` trim.
#[derive(Debug, Clone, Copy)]
enum Trim {
    MaxLen { n: u64, limit: Option<u64> },
    MinId { id: StreamId, limit: Option<u64> },
}

/// Redis's reply to a second MAXLEN or MINID in one XADD or XTRIM.
const TWO_STRATEGIES: &str =
    "syntax error, MAXLEN and MINID options at the same time are not compatible";

/// The options of an `XADD` or `XTRIM`, and `XADD`'s ID.
struct AddOrTrim {
    trim: Option<Trim>,
    policy: RefPolicy,
    nomkstream: bool,
    /// `XADD`: the ID and where it is (`None`: the arguments ran out before one).
    id: Option<(usize, IdSpec)>,
}

/// Parses the options of `XADD` (`xadd`) or `XTRIM` from `args[2]` on, in Redis's
/// order (`streamParseAddOrTrimArgsOrReply`), so a command with several mistakes
/// gets the error Redis gives: options in any order, each checked as it is read;
/// for `XADD` the first argument that is not an option is the ID, checked there;
/// then the rules between options.
fn parse_add_or_trim(args: &[Bytes], xadd: bool) -> Result<AddOrTrim, Frame> {
    let mut out = AddOrTrim {
        trim: None,
        policy: RefPolicy::KeepRef,
        nomkstream: false,
        id: None,
    };
    let mut approx = false;
    let mut limit: Option<u64> = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        let more = args.len() - 1 - i;
        if (eq(a, "MAXLEN") || eq(a, "MINID")) && more > 0 {
            if out.trim.is_some() {
                return Err(err(TWO_STRATEGIES));
            }
            approx = false;
            let next = args[i + 1].as_ref();
            if more >= 2 && (next == b"~" || next == b"=") {
                approx = next == b"~";
                i += 1;
            }
            let threshold = &args[i + 1];
            out.trim = Some(if eq(a, "MINID") {
                let id = parse_id(threshold, 0).ok_or_else(invalid_id)?;
                Trim::MinId { id, limit: None }
            } else {
                let n = parse_i64(threshold).ok_or_else(not_integer)?;
                let n = u64::try_from(n).map_err(|_| err("The MAXLEN argument must be >= 0."))?;
                Trim::MaxLen { n, limit: None }
            });
            i += 2;
        } else if eq(a, "LIMIT") && more > 0 {
            let n = parse_i64(&args[i + 1]).ok_or_else(not_integer)?;
            let n = u64::try_from(n).map_err(|_| err("The LIMIT argument must be >= 0."))?;
            limit = Some(n);
            i += 2;
        } else if xadd && eq(a, "NOMKSTREAM") {
            out.nomkstream = true;
            i += 1;
        } else if let Some(pol) = RefPolicy::parse(a) {
            out.policy = pol;
            i += 1;
        } else if xadd {
            let spec = parse_xadd_id(a).ok_or_else(invalid_id)?;
            out.id = Some((i, spec));
            break;
        } else {
            return Err(syntax_error());
        }
    }
    if limit.is_some_and(|n| n > 0) && out.trim.is_none() {
        return Err(err(
            "syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && out.trim.is_none() {
        return Err(err(
            "syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if let Some(n) = limit {
        if !approx {
            return Err(err(
                "syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
        // LIMIT 0: no limit.
        let cap = (n > 0).then_some(n);
        out.trim = match out.trim {
            Some(Trim::MaxLen { n, .. }) => Some(Trim::MaxLen { n, limit: cap }),
            Some(Trim::MinId { id, .. }) => Some(Trim::MinId { id, limit: cap }),
            None => None,
        };
    }
    Ok(out)
}

/// Applies a trim; returns how many live entries were removed. (A trim does not
/// move `max-deleted-entry-id`: in Redis only XDEL does.)
fn apply_trim(
    c: &mut Conn,
    topic: &brook_broker::Topic,
    p: &Partition,
    trim: Trim,
    policy: RefPolicy,
) -> Result<u64, Frame> {
    let before = p.live_count();
    let marks = p.marks();
    let mut cut = match trim {
        Trim::MaxLen { n, .. } => p.offset_keeping_last(n),
        Trim::MinId { id, .. } => p.offset_for_stream_id(id).map_err(read_error)?,
    };
    if policy == RefPolicy::Acked {
        // Keep everything some group has not read or acknowledged yet.
        if let Some(needed) = topic.groups(p).first_needed() {
            cut = cut.min(p.offset_for_stream_id(needed).map_err(read_error)?);
        }
    }
    let limit = match trim {
        Trim::MaxLen { limit, .. } | Trim::MinId { limit, .. } => limit,
    };
    if let Some(limit) = limit {
        // Evict at most `limit` live entries.
        let evicted = |cut: u64| before - p.live_count_from(cut);
        if evicted(cut) > limit {
            let (mut lo, mut hi) = (marks.log_start, cut);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if evicted(mid) > limit {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            cut = lo;
        }
    }
    if cut > marks.log_start {
        let last_trimmed = p
            .read_records(cut - 1, 1, 1 << 20)
            .map_err(read_error)?
            .first()
            .filter(|r| r.offset == cut - 1)
            .map(|r| r.stream_id);
        p.trim_to(cut).map_err(append_error)?;
        if policy == RefPolicy::DelRef {
            if let Some(last) = last_trimmed {
                let below = last.successor().unwrap_or(StreamId::MAX);
                c.update_groups(topic, p, |g| Ok(((), g.drop_references_below(below))))?
                    .ok();
            }
        }
    }
    Ok(before.saturating_sub(p.live_count()))
}

pub fn append_error(e: AppendError) -> Frame {
    match e {
        AppendError::StreamId(e) => err(e),
        AppendError::DiskFull { .. } => {
            error("MISCONF Errors writing to the AOF file: No space left on device")
        }
        AppendError::Encode(e) => err(e),
        other => err(format!("write failed: {other}")),
    }
}

fn produce_error(e: ProduceError) -> Frame {
    match e {
        ProduceError::Append(e) => append_error(e),
        other => err(other),
    }
}

fn topic_error(e: TopicError) -> Frame {
    err(e)
}

/// The topic and partition an `XADD` of `pairs` to `key` appends to (`Ok(None)`: no
/// stream there yet). The un-suffixed name of a topic with several partitions picks
/// one by the entry's `key` field, as Kafka's default partitioner would.
fn xadd_target(
    c: &Conn,
    key: &Bytes,
    pairs: &[Bytes],
) -> Result<Option<(Arc<brook_broker::Topic>, u32)>, Frame> {
    match c.lookup(key) {
        Key::Missing => Ok(None),
        Key::String(_) => Err(wrongtype()),
        Key::Partition(t, index) => Ok(Some((t, index))),
        Key::Stream(t) => {
            let n = t.partitions().len() as u32;
            if n == 1 {
                return Ok(Some((t, 0)));
            }
            match pairs.chunks_exact(2).find(|kv| kv[0].as_ref() == b"key") {
                Some(kv) => {
                    let index = brook_model::partitioner::partition_for_key(&kv[1], n);
                    Ok(Some((t, index)))
                }
                None => Err(err(format!(
                    "{} is a topic with {n} partitions: give the entry a key field (the partition is chosen from its hash, as Kafka producers do) or name one as {0}#0 to {0}#{}",
                    String::from_utf8_lossy(key),
                    n - 1
                ))),
            }
        }
    }
}

/// The stream at `key`: `Ok(None)` if missing, `Err(WRONGTYPE)` if not a stream.
fn stream_of(c: &Conn, key: &Bytes) -> Result<Option<Arc<Partition>>, Frame> {
    Ok(c.stream(key)?.map(|(_, p)| p))
}

// ---- commands ------------------------------------------------------------------------

async fn xadd(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let key = args[1].clone();
    let AddOrTrim {
        trim,
        policy,
        nomkstream,
        id,
    } = match parse_add_or_trim(&args, true) {
        Ok(parsed) => parsed,
        Err(e) => return Ok(e),
    };
    let Some((id_at, spec_id)) = id else {
        return Ok(super::wrong_args("xadd"));
    };
    let pairs = &args[id_at + 1..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Ok(super::wrong_args("xadd"));
    }
    if let IdSpec::Explicit(id) = spec_id {
        if id == StreamId::ZERO {
            return Ok(err("The ID specified in XADD must be greater than 0-0"));
        }
    }
    let (topic, index) = match xadd_target(c, &key, pairs) {
        Ok(Some(target)) => target,
        Ok(None) if nomkstream => return Ok(Frame::Null),
        Ok(None) => {
            let created = c
                .server
                .broker
                .create_topic(c.topic_key(&key), TopicSettings::default())
                .await;
            match created {
                Ok(t) => (t, 0),
                Err(TopicError::AlreadyExists(k)) => match c.server.broker.topic(&k) {
                    Some(t) => (t, 0),
                    None => return Ok(err("stream was deleted concurrently")),
                },
                Err(e) => return Ok(topic_error(e)),
            }
        }
        Err(e) => return Ok(e),
    };
    if topic.partition(index).and_then(|p| p.last_id()) == Some(StreamId::MAX) {
        return Ok(err(
            "The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let (format, record) = fields::encode(pairs, brook_broker::now_ms() as i64);
    let (p, appended, must_wait) =
        match c
            .server
            .broker
            .append_deferred(&topic, index, vec![(spec_id, record)], format)
        {
            Ok(r) => r,
            Err(e) => return Ok(produce_error(e)),
        };
    if must_wait {
        c.owe_durability(&p, appended.next_offset);
    } else {
        c.note_unsynced(&p, appended.next_offset);
    }
    c.server.touch(c.db, &key);
    if let Some(trim) = trim {
        if must_wait {
            // Trimming moves the log start within what readers may see: settle first.
            c.settle_durability().await?;
        }
        if let Err(e) = apply_trim(c, &topic, &p, trim, policy) {
            return Ok(e);
        }
        // Touched again: a WATCH between the append and the trim saw the entries
        // the trim removed.
        c.server.touch(c.db, &key);
    }
    let id = appended.ids.first().copied().unwrap_or_default();
    Ok(id_frame(id))
}

/// Most XADDs coalesced into one append.
const XADD_RUN_MAX: usize = 1024;

/// Whether `args` is `XADD key <id> field value ...` with no options.
fn simple_xadd(args: &[Bytes]) -> bool {
    args.len() >= 5
        && args.len() % 2 == 1
        && args.first().is_some_and(|a| eq(a, "XADD"))
        && args.get(2).and_then(|id| parse_xadd_id(id)).is_some()
}

/// How many requests at the start of `requests` are simple XADDs to the same key
/// (and so may be appended together by [`xadd_run`]).
pub fn xadd_run_len(requests: &[Vec<Bytes>]) -> usize {
    let Some(first) = requests.first() else {
        return 0;
    };
    if !simple_xadd(first) {
        return 0;
    }
    requests
        .iter()
        .take(XADD_RUN_MAX)
        .take_while(|r| simple_xadd(r) && r.get(1) == first.get(1))
        .count()
}

/// Runs a run of simple XADDs to one stream as one append per record format, which
/// has exactly the effect of running them one by one, and buffers their replies.
/// Returns `false` (having done nothing) when the run must go command by command:
/// the key is not a stream, or some ID is refused (so each gets its own reply).
pub fn xadd_run(c: &mut Conn, run: &[Vec<Bytes>]) -> bool {
    let started = std::time::Instant::now();
    let Some(key) = run.first().and_then(|r| r.get(1)).cloned() else {
        return false;
    };
    let (topic, index) = match c.lookup(&key) {
        Key::Stream(t) if t.partitions().len() == 1 => (t, 0),
        Key::Partition(t, index) => (t, index),
        _ => return false,
    };
    let now = brook_broker::now_ms() as i64;
    let mut encoded = Vec::with_capacity(run.len());
    for args in run {
        let Some(spec) = args.get(2).and_then(|id| parse_xadd_id(id)) else {
            return false;
        };
        let (format, record) = fields::encode(&args[3..], now);
        encoded.push((format, spec, record));
    }
    if encoded.iter().any(|(f, _, _)| *f != encoded[0].0) {
        return false;
    }
    let format = encoded[0].0;
    let records = encoded.into_iter().map(|(_, spec, r)| (spec, r)).collect();
    let (p, appended, must_wait) = match c
        .server
        .broker
        .append_deferred(&topic, index, records, format)
    {
        Ok(r) => r,
        Err(_) => return false,
    };
    if must_wait {
        c.owe_durability(&p, appended.next_offset);
    } else {
        c.note_unsynced(&p, appended.next_offset);
    }
    c.count_commands(run.len() as u64, "xadd");
    // Each XADD of the run took its share of the one append.
    let each = started.elapsed() / run.len().max(1) as u32;
    for _ in run {
        c.server.observe_command("xadd", each);
    }
    c.server.touch(c.db, &key);
    for id in &appended.ids {
        c.push(&id_frame(*id));
    }
    true
}

/// `[COUNT n]...` from `args[at]` on, as Redis parses it: the last COUNT counts, and a
/// negative one is 0.
fn parse_count(args: &[Bytes], at: usize) -> Result<usize, Frame> {
    let mut count = usize::MAX;
    let mut rest = args.get(at..).unwrap_or_default();
    while let [option, n, after @ ..] = rest {
        if !eq(option, "COUNT") {
            return Err(syntax_error());
        }
        let n = parse_i64(n).ok_or_else(not_integer)?;
        count = usize::try_from(n).unwrap_or(0);
        rest = after;
    }
    if rest.is_empty() {
        Ok(count)
    } else {
        Err(syntax_error())
    }
}

async fn xrange(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    range_command(c, args, Direction::Forwards).await
}

async fn xrevrange(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    range_command(c, args, Direction::Backwards).await
}

async fn range_command(c: &mut Conn, args: Vec<Bytes>, direction: Direction) -> CmdResult {
    let (start_arg, end_arg) = match direction {
        Direction::Backwards => (&args[3], &args[2]),
        Direction::Forwards => (&args[2], &args[3]),
    };
    let start = match parse_bound(start_arg, true) {
        Ok(s) => s,
        Err(e) => return Ok(e),
    };
    let end = match parse_bound(end_arg, false) {
        Ok(s) => s,
        Err(e) => return Ok(e),
    };
    let count = match parse_count(&args, 4) {
        Ok(n) => n,
        Err(e) => return Ok(e),
    };
    let p = match stream_of(c, &args[1]) {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(Frame::Array(vec![])),
        Err(e) => return Ok(e),
    };
    if count == 0 {
        // Redis answers a null array, once the key is known to be a stream.
        return Ok(Frame::NullArray);
    }
    let records =
        stream_read::range_off_worker(&p, start, end, count, direction, &c.server.cold_reads).await;
    Ok(match records {
        Ok(r) => entries_frame(&r),
        Err(e) => e,
    })
}

async fn xlen(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    Ok(match stream_of(c, &args[1]) {
        Ok(Some(p)) => Frame::Integer(p.live_count() as i64),
        Ok(None) => Frame::Integer(0),
        Err(e) => e,
    })
}

async fn xdel(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    // Redis: a missing key deletes nothing, whatever the IDs; otherwise every ID is
    // checked before anything is deleted.
    let p = match stream_of(c, &args[1]) {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(Frame::Integer(0)),
        Err(e) => return Ok(e),
    };
    let mut ids = Vec::with_capacity(args.len() - 2);
    for a in &args[2..] {
        match parse_id(a, 0) {
            Some(id) => ids.push(id),
            None => return Ok(invalid_id()),
        }
    }
    let mut offsets = Vec::with_capacity(ids.len());
    let mut max_found = StreamId::ZERO;
    for id in ids {
        let off = match p.offset_for_stream_id(id) {
            Ok(o) => o,
            Err(e) => return Ok(read_error(e)),
        };
        match p.read_records(off, 1, 1 << 20) {
            Ok(r)
                if r.first()
                    .is_some_and(|r| r.stream_id == id && r.offset == off) =>
            {
                offsets.push(off);
                max_found = max_found.max(id);
            }
            Ok(_) => {}
            Err(e) => return Ok(read_error(e)),
        }
    }
    match p.delete_records(&offsets) {
        Ok(n) => {
            if n > 0 {
                // The entries are gone whatever the metadata update does.
                c.server.touch(c.db, &args[1]);
                if let Ok(Some((topic, _))) = c.stream(&args[1]) {
                    note_deleted(c, &topic, max_found).await;
                }
            }
            Ok(Frame::Integer(n as i64))
        }
        Err(e) => Ok(append_error(e)),
    }
}

async fn xtrim(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let (trim, policy) = match parse_add_or_trim(&args, false) {
        Ok(AddOrTrim {
            trim: Some(trim),
            policy,
            ..
        }) => (trim, policy),
        // (The parser refuses an XTRIM without a strategy.)
        Ok(_) => return Ok(syntax_error()),
        Err(e) => return Ok(e),
    };
    let (topic, p) = match stream_of(c, &args[1]) {
        Ok(Some(_)) => match c.stream(&args[1]) {
            Ok(Some(tp)) => tp,
            Ok(None) => return Ok(Frame::Integer(0)),
            Err(e) => return Ok(e),
        },
        Ok(None) => return Ok(Frame::Integer(0)),
        Err(e) => return Ok(e),
    };
    match apply_trim(c, &topic, &p, trim, policy) {
        Ok(n) => {
            if n > 0 {
                c.server.touch(c.db, &args[1]);
            }
            Ok(Frame::Integer(n as i64))
        }
        Err(e) => Ok(e),
    }
}

/// Where an XREAD starts in one stream.
enum ReadFrom {
    /// Entries with an ID greater than this.
    After(StreamId),
    /// `+`: the last entry.
    Last,
}

async fn xread(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let mut count = usize::MAX;
    let mut block: Option<u64> = None;
    let mut i = 1;
    while i < args.len() && !eq(&args[i], "STREAMS") {
        match parse_read_option(&args, i, &mut count, &mut block) {
            Ok(true) => i += 2,
            Ok(false) if eq(&args[i], "NOACK") || eq(&args[i], "GROUP") => {
                return Ok(err(format!(
                    "The {} option is only supported by XREADGROUP. You called XREAD instead.",
                    String::from_utf8_lossy(&args[i]).to_uppercase()
                )))
            }
            Ok(false) => return Ok(syntax_error()),
            Err(e) => return Ok(e),
        }
    }
    let (keys, ids) = match split_streams(&args, i, "xread", "an ID, '+', or '$'") {
        Ok(v) => v,
        Err(e) => return Ok(e),
    };
    let n = keys.len();
    let rest_ids = ids;
    let mut starts = Vec::with_capacity(n);
    for (k, id) in keys.iter().zip(rest_ids) {
        let p = match stream_of(c, k) {
            Ok(p) => p,
            Err(e) => return Ok(e),
        };
        let from = match id.as_ref() {
            b"$" => ReadFrom::After(p.as_ref().and_then(|p| p.last_id()).unwrap_or_default()),
            b"+" => ReadFrom::Last,
            b">" => return Ok(err("The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")),
            other => match parse_id(other, 0) {
                Some(id) => ReadFrom::After(id),
                None => return Ok(invalid_id()),
            },
        };
        starts.push(from);
    }
    // The keys were looked up once for the keyspace hit/miss counts; the reads below
    // (and after every wake) look them up again.
    c.counting_reads = false;
    let deadline = block
        .filter(|&ms| ms > 0)
        .map(|ms| Instant::now() + Duration::from_millis(ms));
    let mut flushed = false;
    loop {
        // Subscribed before reading, so a stream created after the read is not missed.
        let mut topics_rx = c.server.broker.subscribe_topics();
        topics_rx.borrow_and_update();
        let mut results = Vec::new();
        let mut waits: Vec<BoxFuture<'static, ()>> = Vec::new();
        for (k, from) in keys.iter().zip(&starts) {
            let p = match stream_of(c, k) {
                Ok(Some(p)) => p,
                Ok(None) => continue,
                Err(e) => return Ok(e),
            };
            let records = match from {
                ReadFrom::Last => {
                    stream_read::last_entry(&p).map(|r| r.into_iter().collect::<Vec<_>>())
                }
                ReadFrom::After(id) => match id.successor() {
                    Some(next) => {
                        stream_read::range_off_worker(
                            &p,
                            next,
                            StreamId::MAX,
                            count,
                            Direction::Forwards,
                            &c.server.cold_reads,
                        )
                        .await
                    }
                    None => Ok(Vec::new()),
                },
            };
            let records = match records {
                Ok(r) => r,
                Err(e) => return Ok(e),
            };
            if records.is_empty() {
                if let ReadFrom::After(id) = from {
                    let off = match id.successor().map(|next| p.offset_for_stream_id(next)) {
                        Some(Ok(o)) => o,
                        // Deleted under the read: nothing to wait for in it (a stream
                        // created under the key wakes the topics watch below).
                        Some(Err(_)) if p.marks().closed => continue,
                        Some(Err(e)) => return Ok(read_error(e)),
                        None => u64::MAX,
                    };
                    let p2 = p.clone();
                    waits.push(
                        async move {
                            p2.wait_for_data(off).await;
                        }
                        .boxed(),
                    );
                }
            } else {
                results.push((k.clone(), entries_frame(&records)));
            }
        }
        if !results.is_empty() {
            return Ok(xread_reply(c, results));
        }
        let Some(block_ms) = block else {
            return Ok(Frame::NullArray);
        };
        if c.in_exec {
            return Ok(Frame::NullArray);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(Frame::NullArray);
        }
        match block_on(c, waits, topics_rx, deadline, &mut flushed).await? {
            Woke::Data => {}
            Woke::Timeout => return Ok(Frame::NullArray),
        }
        let _ = block_ms;
    }
}

/// Why a blocked command woke up.
pub enum Woke {
    /// Something it waits on changed: look again.
    Data,
    /// The deadline passed (or the server is stopping): reply with the timeout reply.
    Timeout,
}

/// Blocks the connection until one of `waits` completes, a topic is created or
/// deleted, the deadline passes, the client is killed (`Err`: close), or the server
/// stops. Flushes earlier pipelined replies first (once per command).
pub async fn block_on(
    c: &mut Conn,
    mut waits: Vec<BoxFuture<'static, ()>>,
    mut topics_rx: tokio::sync::watch::Receiver<u64>,
    deadline: Option<Instant>,
    flushed: &mut bool,
) -> Result<Woke, crate::conn::Closed> {
    // Other commands (an `EXEC`) may run while this one blocks.
    let gated = c.gate.take().is_some();
    if !*flushed {
        // Earlier pipelined replies must not wait behind a blocked read.
        c.flush().await?;
        *flushed = true;
    }
    waits.push(
        async move {
            let _ = topics_rx.changed().await;
        }
        .boxed(),
    );
    let client = c.client.clone();
    let mut stopping = c.server.stopping.subscribe();
    let interrupted = async move {
        tokio::select! {
            () = client.kill.notified() => {}
            _ = stopping.wait_for(|s| *s) => {}
        }
    };
    c.server
        .stats
        .blocked_clients
        .fetch_add(1, Ordering::Relaxed);
    c.client.blocked.store(true, Ordering::Relaxed);
    let woke = async {
        let (_, _, _) = select_all(waits).await;
    };
    let timed_out = match deadline {
        Some(d) => tokio::select! {
            () = woke => false,
            () = tokio::time::sleep_until(d.into()) => true,
            () = interrupted => true,
        },
        None => tokio::select! {
            () = woke => false,
            () = interrupted => true,
        },
    };
    c.server
        .stats
        .blocked_clients
        .fetch_sub(1, Ordering::Relaxed);
    c.client.blocked.store(false, Ordering::Relaxed);
    if c.client.killed.load(Ordering::SeqCst) {
        return Err(crate::conn::Closed);
    }
    if timed_out {
        return Ok(Woke::Timeout);
    }
    if gated {
        c.take_gate().await;
    }
    Ok(Woke::Data)
}

/// Parses `COUNT n` or `BLOCK ms` at `args[i]` (shared by XREAD and XREADGROUP).
/// `Ok(false)`: not one of them.
pub fn parse_read_option(
    args: &[Bytes],
    i: usize,
    count: &mut usize,
    block: &mut Option<u64>,
) -> Result<bool, Frame> {
    let Some(v) = args.get(i + 1) else {
        return Ok(false);
    };
    if eq(&args[i], "COUNT") {
        let n = parse_i64(v).ok_or_else(not_integer)?;
        *count = if n <= 0 { usize::MAX } else { n as usize };
        Ok(true)
    } else if eq(&args[i], "BLOCK") {
        match parse_i64(v) {
            Some(ms) if ms < 0 => Err(err("timeout is negative")),
            Some(ms) => {
                *block = Some(ms as u64);
                Ok(true)
            }
            None => Err(err("timeout is not an integer or out of range")),
        }
    } else {
        Ok(false)
    }
}

/// Splits `STREAMS key... id...` (at `args[at]`) into keys and IDs.
pub fn split_streams<'a>(
    args: &'a [Bytes],
    at: usize,
    command: &str,
    id_hint: &str,
) -> Result<(Vec<Bytes>, &'a [Bytes]), Frame> {
    if at >= args.len() {
        return Err(syntax_error());
    }
    let rest = &args[at + 1..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Err(err(format!(
            "Unbalanced '{command}' list of streams: for each stream key {id_hint} must be specified."
        )));
    }
    let n = rest.len() / 2;
    Ok((rest[..n].to_vec(), &rest[n..]))
}

fn xread_reply(c: &Conn, results: Vec<(Bytes, Frame)>) -> Frame {
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

async fn xsetid(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let Some(id) = parse_id(&args[2], 0) else {
        return Ok(invalid_id());
    };
    // Options are checked as they are read, before the key is looked up (Redis's
    // order).
    let mut entries_added: Option<u64> = None;
    let mut max_deleted: Option<StreamId> = None;
    let mut i = 3;
    while i < args.len() {
        let Some(v) = args.get(i + 1) else {
            return Ok(syntax_error());
        };
        if eq(&args[i], "ENTRIESADDED") {
            match parse_i64(v).map(u64::try_from) {
                None => return Ok(not_integer()),
                Some(Err(_)) => return Ok(err("entries_added must be positive")),
                Some(Ok(n)) => entries_added = Some(n),
            }
        } else if eq(&args[i], "MAXDELETEDID") {
            match parse_id(v, 0) {
                None => return Ok(invalid_id()),
                Some(m) if id < m => return Ok(err(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                )),
                Some(m) => max_deleted = Some(m),
            }
        } else {
            return Ok(syntax_error());
        }
        i += 2;
    }
    let Some((topic, p)) = (match stream_of(c, &args[1]) {
        Ok(Some(_)) => c.stream(&args[1]).ok().flatten(),
        Ok(None) => return Ok(err("no such key")),
        Err(e) => return Ok(e),
    }) else {
        return Ok(err("no such key"));
    };
    // Redis 7.2+: without MAXDELETEDID, not below the stream's max-deleted-entry-id.
    if max_deleted.is_none() && id < topic.stream_meta().max_deleted() {
        return Ok(err(
            "The ID specified in XSETID is smaller than current max_deleted_entry_id",
        ));
    }
    match stream_read::last_entry(&p) {
        Ok(Some(last)) if id < last.stream_id => {
            return Ok(err(
                "The ID specified in XSETID is smaller than the target stream top item",
            ))
        }
        Ok(_) => {}
        Err(e) => return Ok(e),
    }
    if entries_added.is_some_and(|n| n < p.live_count()) {
        return Ok(err(
            "The entries_added specified in XSETID is smaller than the target stream length",
        ));
    }
    match p.set_last_id(id) {
        Ok(()) => {}
        Err(AppendError::IdBelowStored { stored }) => {
            return Ok(err(format!(
                "The ID specified in XSETID is smaller than {stored}, an entry deleted but still stored; Brook keeps stream IDs increasing in its log"
            )))
        }
        Err(e) => return Ok(append_error(e)),
    }
    let hw = p.marks().high_watermark;
    let updated = c
        .server
        .broker
        .update_stream_meta(&topic, |m| {
            if let Some(n) = entries_added {
                m.entries_added_delta = n as i64 - hw as i64;
            }
            if let Some(d) = max_deleted {
                m.set_max_deleted(d);
            }
        })
        .await;
    if let Err(e) = updated {
        return Ok(err(e));
    }
    c.server.touch(c.db, &args[1]);
    Ok(ok())
}

/// Records the largest ID removed by XDEL, XDELEX or XACKDEL
/// (`max-deleted-entry-id`). The entries are gone whatever this does: a failure
/// (the topic deleted meanwhile, the metadata log not writable) is logged, and the
/// command still answers what it deleted, as Redis would.
pub async fn note_deleted(c: &Conn, topic: &brook_broker::Topic, id: StreamId) {
    if id <= topic.stream_meta().max_deleted() {
        return;
    }
    let noted = c
        .server
        .broker
        .update_stream_meta(topic, |m| {
            if id > m.max_deleted() {
                m.set_max_deleted(id);
            }
        })
        .await;
    if let Err(error) = noted {
        tracing::warn!(topic = %topic.key, %error, "cannot record max-deleted-entry-id after a deletion");
    }
}

async fn xinfo(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    // Its subcommands are read-only (the XINFO container has no flags of its own).
    c.counting_reads = true;
    match sub.as_str() {
        "stream" if args.len() >= 3 => xinfo_stream(c, &args),
        "groups" if args.len() == 3 => Ok(super::groups::xinfo_groups(c, &args[2])),
        "consumers" if args.len() == 4 => Ok(super::groups::xinfo_consumers(c, &args[2], &args[3])),
        "help" if args.len() == 2 => Ok(Frame::Array(
            [
                "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CONSUMERS <key> <groupname>",
                "GROUPS <key>",
                "STREAM <key> [FULL [COUNT <count>]]",
            ]
            .iter()
            .map(|s| Frame::Simple(Bytes::copy_from_slice(s.as_bytes())))
            .collect(),
        )),
        "stream" | "groups" | "consumers" | "help" => Ok(err(format!(
            "wrong number of arguments for 'xinfo|{sub}' command"
        ))),
        _ => Ok(err(format!(
            "unknown subcommand '{}'. Try XINFO HELP.",
            String::from_utf8_lossy(&args[1])
        ))),
    }
}

fn xinfo_stream(c: &mut Conn, args: &[Bytes]) -> CmdResult {
    // XINFO STREAM key [FULL [COUNT n]]: the key first, then the options (Redis's
    // order).
    let p = match stream_of(c, &args[2]) {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(err("no such key")),
        Err(e) => return Ok(e),
    };
    let (full, count) = match args.len() {
        3 => (false, 0),
        4 if eq(&args[3], "FULL") => (true, 10),
        6 if eq(&args[3], "FULL") && eq(&args[4], "COUNT") => match parse_i64(&args[5]) {
            // 0: every entry; below 0: the default (Redis's `count < 0` rule).
            Some(0) => (true, usize::MAX),
            Some(n) if n < 0 => (true, 10),
            Some(n) => (true, n as usize),
            None => return Ok(not_integer()),
        },
        _ => return Ok(super::subcommand_syntax_error("XINFO", &args[1])),
    };
    let topic = c.stream(&args[2]).ok().flatten().map(|(t, _)| t);
    let stream_meta = topic.as_ref().map(|t| t.stream_meta()).unwrap_or_default();
    let (first, last) = match (stream_read::first_entry(&p), stream_read::last_entry(&p)) {
        (Ok(f), Ok(l)) => (f, l),
        (Err(e), _) | (_, Err(e)) => return Ok(e),
    };
    let marks = p.marks();
    let s = |v: &str| bulk(Bytes::copy_from_slice(v.as_bytes()));
    let mut pairs = vec![
        (s("length"), Frame::Integer(p.live_count() as i64)),
        (
            s("radix-tree-keys"),
            Frame::Integer(p.segment_count() as i64),
        ),
        (
            s("radix-tree-nodes"),
            Frame::Integer(p.segment_count() as i64),
        ),
        (
            s("last-generated-id"),
            id_frame(p.last_id().unwrap_or_default()),
        ),
        (
            s("max-deleted-entry-id"),
            id_frame(stream_meta.max_deleted()),
        ),
        (
            s("entries-added"),
            Frame::Integer(stream_meta.entries_added(marks.high_watermark) as i64),
        ),
        (
            s("recorded-first-entry-id"),
            id_frame(first.as_ref().map_or(StreamId::ZERO, |r| r.stream_id)),
        ),
    ];
    if !full {
        let groups = topic
            .as_ref()
            .map_or(0, |t| super::groups::group_count(t, &p));
        let entry =
            |r: &Option<brook_model::StoredRecord>| r.as_ref().map_or(Frame::Null, entry_frame);
        pairs.push((s("groups"), Frame::Integer(groups as i64)));
        pairs.push((s("first-entry"), entry(&first)));
        pairs.push((s("last-entry"), entry(&last)));
        return Ok(Frame::Map(pairs));
    }
    let entries = match stream_read::range(&p, StreamId::ZERO, StreamId::MAX, count) {
        Ok(r) => entries_frame(&r),
        Err(e) => return Ok(e),
    };
    pairs.push((s("entries"), entries));
    let groups = topic.map_or(Frame::Array(vec![]), |t| {
        super::groups::xinfo_full_groups(&t, &p, count)
    });
    pairs.push((s("groups"), groups));
    Ok(Frame::Map(pairs))
}
