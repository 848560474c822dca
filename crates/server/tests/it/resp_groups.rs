//! Stream consumer groups over the raw protocol: XGROUP, XREADGROUP (new entries,
//! history, BLOCK), XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO GROUPS/CONSUMERS/STREAM
//! FULL, and the Redis 8.2/8.4 additions XDELEX, XACKDEL and XREADGROUP CLAIM.
//!
//! Expected replies are what Redis 7.0.15 answered to the same commands (re-check with
//! `BROOK_IT_REDIS_SERVER=/usr/bin/redis-server cargo test -p brook --test it
//! resp_groups -- --include-ignored`). Redis 7.0 has no XDELEX, XACKDEL or XREADGROUP
//! CLAIM and no `inactive`/`active-time` consumer fields: those tests take their
//! expectations from the redis.io pages and Redis's own test suite
//! (`tests/unit/type/stream-cgroups.tcl`, 8.2/8.4) and skip themselves in
//! cross-check mode.
//!
//! Idle times are made deterministic with `XCLAIM ... IDLE <ms>` (which sets a pending
//! entry's last delivery into the past) instead of sleeping.

use std::time::{Duration, Instant};

use crate::resp_raw::{enc_str, esc, parse_at, wait_blocked, Raw, V};
use crate::util::RespTarget;

// ---- helpers -----------------------------------------------------------------------

fn val(raw: &mut Raw, args: &[&str]) -> V {
    parse_at(&raw.cmd(args), 0).unwrap().0
}

fn bulk(s: &str) -> V {
    V::bulk(s)
}

fn arr(items: Vec<V>) -> V {
    V::Array(Some(items))
}

/// A stream entry as XRANGE/XREADGROUP return it: `[id, [f1, v1, ...]]`.
fn entry(id: &str, fields: &[&str]) -> V {
    arr(vec![
        bulk(id),
        arr(fields.iter().map(|f| bulk(f)).collect()),
    ])
}

/// XREADGROUP's reply for one stream (RESP2): `[[key, [entries...]]]`.
fn read_reply(key: &str, entries: Vec<V>) -> V {
    arr(vec![arr(vec![bulk(key), arr(entries)])])
}

fn text(v: &V) -> String {
    match v {
        V::Bulk(Some(b)) | V::Simple(b) => String::from_utf8(b.clone()).unwrap(),
        other => panic!("not a string: {other:?}"),
    }
}

fn int(v: &V) -> i64 {
    match v {
        V::Int(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

fn items(v: V) -> Vec<V> {
    match v {
        V::Array(Some(items)) => items,
        other => panic!("not an array: {other:?}"),
    }
}

/// A key/value reply (RESP2 flat array or RESP3 map) as ordered pairs.
fn pairs(v: V) -> Vec<(String, V)> {
    match v {
        V::Map(pairs) => pairs.into_iter().map(|(k, v)| (text(&k), v)).collect(),
        V::Array(Some(flat)) => {
            assert!(flat.len() % 2 == 0, "odd-length key/value array {flat:?}");
            flat.chunks(2)
                .map(|kv| (text(&kv[0]), kv[1].clone()))
                .collect()
        }
        other => panic!("not a key/value reply: {other:?}"),
    }
}

fn keys(pairs: &[(String, V)]) -> Vec<&str> {
    pairs.iter().map(|(k, _)| k.as_str()).collect()
}

fn get<'a>(pairs: &'a [(String, V)], key: &str) -> &'a V {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {key:?} in {pairs:?}"))
}

/// One row of XPENDING's extended form.
#[derive(Debug, PartialEq)]
struct Pending {
    id: String,
    consumer: String,
    idle_ms: i64,
    deliveries: i64,
}

fn xpending(raw: &mut Raw, args: &[&str]) -> Vec<Pending> {
    items(val(raw, args))
        .into_iter()
        .map(|row| {
            let row = items(row);
            assert_eq!(row.len(), 4, "XPENDING row {row:?}");
            Pending {
                id: text(&row[0]),
                consumer: text(&row[1]),
                idle_ms: int(&row[2]),
                deliveries: int(&row[3]),
            }
        })
        .collect()
}

/// (id, consumer, deliveries) of each XPENDING row: what does not depend on timing.
fn pel(raw: &mut Raw, key: &str, group: &str) -> Vec<(String, String, i64)> {
    xpending(raw, &["XPENDING", key, group, "-", "+", "100"])
        .into_iter()
        .map(|p| (p.id, p.consumer, p.deliveries))
        .collect()
}

fn row(id: &str, consumer: &str, deliveries: i64) -> (String, String, i64) {
    (id.to_string(), consumer.to_string(), deliveries)
}

/// `XREADGROUP GROUP g c BLOCK <ms> STREAMS s >`, encoded.
fn block_read_g_c(ms: &str) -> Vec<u8> {
    enc_str(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        ms,
        "STREAMS",
        "s",
        ">",
    ])
}

/// XINFO GROUPS as one key/value list per group.
fn xinfo_groups(raw: &mut Raw, key: &str) -> Vec<Vec<(String, V)>> {
    items(val(raw, &["XINFO", "GROUPS", key]))
        .into_iter()
        .map(pairs)
        .collect()
}

fn group_info(raw: &mut Raw, key: &str, group: &str) -> Vec<(String, V)> {
    xinfo_groups(raw, key)
        .into_iter()
        .find(|g| text(get(g, "name")) == group)
        .unwrap_or_else(|| panic!("no group {group} in XINFO GROUPS {key}"))
}

const NO_KEY: &[u8] = b"-ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.\r\n";

/// Entries 1-0, 2-0 and 3-0 in `key`, group `g` created at 0, and consumer `c` has
/// read the first.
fn one_of_three_read(raw: &mut Raw, key: &str) {
    add_entries(
        raw,
        key,
        &[("1-0", "f", "v"), ("2-0", "f", "v"), ("3-0", "f", "v")],
    );
    raw.expect(&["XGROUP", "CREATE", key, "g", "0"], b"+OK\r\n");
    raw.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "COUNT",
        "1",
        "STREAMS",
        key,
        ">",
    ]);
}

/// `XGROUP SETID key group id` (which must answer OK); returns the group's
/// last-delivered ID after it.
fn setid(raw: &mut Raw, key: &str, group: &str, id: &str) -> String {
    raw.expect(&["XGROUP", "SETID", key, group, id], b"+OK\r\n");
    text(get(&group_info(raw, key, group), "last-delivered-id"))
}

fn add_entries(raw: &mut Raw, key: &str, ids_and_fields: &[(&str, &str, &str)]) {
    for (id, f, v) in ids_and_fields {
        raw.expect(
            &["XADD", key, id, f, v],
            format!("${}\r\n{id}\r\n", id.len()).as_bytes(),
        );
    }
}

/// Stream `s` with 1-1..5-1, group `g` from 0, and 1-1..4-1 delivered to `alice`.
fn five_entries_four_pending_for_alice(raw: &mut Raw) {
    add_entries(
        raw,
        "s",
        &[
            ("1-1", "a", "1"),
            ("2-1", "b", "2"),
            ("3-1", "c", "3"),
            ("4-1", "d", "4"),
            ("5-1", "e", "5"),
        ],
    );
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    raw.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "4",
        "STREAMS",
        "s",
        ">",
    ]);
}

// ---- XGROUP --------------------------------------------------------------------------

#[test]
fn xgroup_create_setid_destroy_and_consumers() {
    let target = RespTarget::start(); // Brook, or Redis in cross-check mode
    let mut raw = Raw::connect(target.addr);

    raw.expect(&["XGROUP", "CREATE", "s", "g", "$"], NO_KEY);
    raw.expect(&["EXISTS", "s"], b":0\r\n");
    raw.expect(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"], b"+OK\r\n");
    raw.expect(&["EXISTS", "s"], b":1\r\n");
    raw.expect(&["XLEN", "s"], b":0\r\n");
    raw.expect(&["TYPE", "s"], b"+stream\r\n");
    raw.expect(
        &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"],
        b"-BUSYGROUP Consumer Group name already exists\r\n",
    );
    raw.expect(
        &["XGROUP", "CREATE", "s", "g", "0"],
        b"-BUSYGROUP Consumer Group name already exists\r\n",
    );
    add_entries(
        &mut raw,
        "s",
        &[("1-1", "a", "1"), ("2-1", "b", "2"), ("3-1", "c", "3")],
    );
    raw.expect(&["XGROUP", "CREATE", "s", "g2", "0"], b"+OK\r\n");
    raw.expect(&["XGROUP", "CREATE", "s", "g3", "2-1"], b"+OK\r\n");
    raw.expect(
        &["XGROUP", "CREATE", "s", "bad", "notanid"],
        b"-ERR Invalid stream ID specified as stream command argument\r\n",
    );
    raw.expect(
        &["XGROUP", "CREATE", "s", "g5", "$", "ENTRIESREAD", "x"],
        b"-ERR value is not an integer or out of range\r\n",
    );
    raw.expect(
        &["XGROUP", "FOO"],
        b"-ERR unknown subcommand 'FOO'. Try XGROUP HELP.\r\n",
    );

    // `$` is the last ID at creation time; `0` the start; an ID is taken as given.
    let last_ids: Vec<(String, String)> = xinfo_groups(&mut raw, "s")
        .iter()
        .map(|g| (text(get(g, "name")), text(get(g, "last-delivered-id"))))
        .collect();
    assert_eq!(
        last_ids,
        [
            ("g".to_string(), "0-0".to_string()),
            ("g2".to_string(), "0-0".to_string()),
            ("g3".to_string(), "2-1".to_string())
        ]
    );
    raw.expect(
        &["XREADGROUP", "GROUP", "g3", "c", "STREAMS", "s", ">"],
        b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n3-1\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n",
    );

    // SETID moves the group's last-delivered ID, `$` to the stream's last ID.
    assert_eq!(setid(&mut raw, "s", "g", "$"), "3-1");
    assert_eq!(setid(&mut raw, "s", "g", "1-1"), "1-1");
    raw.expect(
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
        b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
    raw.expect(
        &["XGROUP", "SETID", "s", "nog", "0"],
        b"-NOGROUP No such consumer group 'nog' for key name 's'\r\n",
    );
    raw.expect(&["XGROUP", "SETID", "nokey", "g", "0"], NO_KEY);

    // CREATECONSUMER / DELCONSUMER (which answers how many entries were pending).
    raw.expect(&["XGROUP", "CREATECONSUMER", "s", "g2", "c1"], b":1\r\n");
    raw.expect(&["XGROUP", "CREATECONSUMER", "s", "g2", "c1"], b":0\r\n");
    raw.expect(
        &["XGROUP", "CREATECONSUMER", "s", "nog", "c1"],
        b"-NOGROUP No such consumer group 'nog' for key name 's'\r\n",
    );
    raw.expect(&["XGROUP", "CREATECONSUMER", "nokey", "g", "c1"], NO_KEY);
    assert_eq!(int(get(&group_info(&mut raw, "s", "g2"), "consumers")), 1);
    raw.expect(&["XGROUP", "DELCONSUMER", "s", "g2", "c1"], b":0\r\n");
    raw.expect(&["XGROUP", "DELCONSUMER", "s", "g2", "c1"], b":0\r\n");
    raw.expect(
        &["XGROUP", "DELCONSUMER", "s", "nog", "c1"],
        b"-NOGROUP No such consumer group 'nog' for key name 's'\r\n",
    );
    raw.send(&enc_str(&[
        "XREADGROUP",
        "GROUP",
        "g2",
        "alice",
        "COUNT",
        "2",
        "STREAMS",
        "s",
        ">",
    ]));
    raw.frame();
    assert_eq!(
        pel(&mut raw, "s", "g2"),
        [row("1-1", "alice", 1), row("2-1", "alice", 1)]
    );
    raw.expect(&["XGROUP", "DELCONSUMER", "s", "g2", "alice"], b":2\r\n");
    raw.expect(
        &["XPENDING", "s", "g2"],
        b"*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n",
    );
    let g2 = group_info(&mut raw, "s", "g2");
    assert_eq!(int(get(&g2, "consumers")), 0);
    assert_eq!(text(get(&g2, "last-delivered-id")), "2-1");

    // DESTROY.
    raw.expect(&["XGROUP", "DESTROY", "s", "g"], b":1\r\n");
    raw.expect(&["XGROUP", "DESTROY", "s", "g"], b":0\r\n");
    raw.expect(&["XGROUP", "DESTROY", "nokey", "g"], NO_KEY);
    raw.expect(
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
        b"-NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option\r\n",
    );
    let names: Vec<String> = xinfo_groups(&mut raw, "s")
        .iter()
        .map(|g| text(get(g, "name")))
        .collect();
    assert_eq!(names, ["g2", "g3"]);
    // The key and its entries stay.
    raw.expect(&["XLEN", "s"], b":3\r\n");
}

#[test]

fn xgroup_create_with_an_unknown_option_is_a_subcommand_syntax_error() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    raw.expect(&["XADD", "s", "1-1", "a", "1"], b"$3\r\n1-1\r\n");
    raw.expect(
        &["XGROUP", "CREATE", "s", "g", "$", "FOO"],
        b"-ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP.\r\n",
    );
}

#[test]

fn xgroup_create_entriesread_sets_entries_read_and_lag() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    add_entries(&mut raw, "s", &[("1-1", "a", "1"), ("2-1", "b", "2")]);
    raw.expect(
        &["XGROUP", "CREATE", "s", "g", "0", "ENTRIESREAD", "1"],
        b"+OK\r\n",
    );
    let g = group_info(&mut raw, "s", "g");
    assert_eq!(get(&g, "entries-read"), &V::Int(1), "{g:?}");
    // The group's last-delivered ID (0-0) is before the first entry: since 7.4.2 the
    // lag is then the stream's length (redis#13473); Redis 7.0 said 2 - 1.
    let lag = if target.is_redis() { 1 } else { 2 };
    assert_eq!(get(&g, "lag"), &V::Int(lag), "{g:?}");
}

// ---- XREADGROUP --------------------------------------------------------------------------

#[test]
fn xreadgroup_delivers_new_entries_with_count_noack_and_several_streams() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    add_entries(
        &mut raw,
        "s",
        &[("1-1", "a", "1"), ("2-1", "b", "2"), ("3-1", "c", "3")],
    );
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");

    assert_eq!(
        val(
            &mut raw,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "alice",
                "COUNT",
                "2",
                "STREAMS",
                "s",
                ">"
            ]
        ),
        read_reply(
            "s",
            vec![entry("1-1", &["a", "1"]), entry("2-1", &["b", "2"])]
        )
    );
    // Another consumer gets only what was never delivered.
    assert_eq!(
        val(
            &mut raw,
            &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"]
        ),
        read_reply("s", vec![entry("3-1", &["c", "3"])])
    );
    raw.expect(
        &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"],
        b"*-1\r\n",
    );
    // COUNT -1 means no limit (nothing new here: null); COUNT 0 too.
    raw.expect(
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "bob",
            "COUNT",
            "-1",
            "STREAMS",
            "s",
            ">",
        ],
        b"*-1\r\n",
    );

    // NOACK: delivered, but nothing becomes pending.
    add_entries(&mut raw, "s", &[("4-1", "d", "4")]);
    assert_eq!(
        val(
            &mut raw,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "carol",
                "NOACK",
                "STREAMS",
                "s",
                ">"
            ]
        ),
        read_reply("s", vec![entry("4-1", &["d", "4"])])
    );
    raw.expect(
        &["XPENDING", "s", "g"],
        b"*4\r\n:3\r\n$3\r\n1-1\r\n$3\r\n3-1\r\n*2\r\n*2\r\n$5\r\nalice\r\n$1\r\n2\r\n*2\r\n$3\r\nbob\r\n$1\r\n1\r\n",
    );
    let g = group_info(&mut raw, "s", "g");
    assert_eq!(text(get(&g, "last-delivered-id")), "4-1");
    assert_eq!(
        int(get(&g, "consumers")),
        3,
        "carol exists after a NOACK read"
    );

    // Several streams: only streams with something new are in the reply.
    add_entries(&mut raw, "t", &[("1-1", "x", "y")]);
    raw.expect(&["XGROUP", "CREATE", "t", "g", "0"], b"+OK\r\n");
    raw.expect(
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "multi",
            "STREAMS",
            "s",
            "t",
            ">",
            ">",
        ],
        b"*1\r\n*2\r\n$1\r\nt\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n",
    );
    add_entries(&mut raw, "s", &[("5-1", "e", "5")]);
    add_entries(&mut raw, "t", &[("2-1", "z", "w")]);
    assert_eq!(
        val(
            &mut raw,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "multi",
                "COUNT",
                "1",
                "STREAMS",
                "s",
                "t",
                ">",
                ">"
            ]
        ),
        arr(vec![
            arr(vec![bulk("s"), arr(vec![entry("5-1", &["e", "5"])])]),
            arr(vec![bulk("t"), arr(vec![entry("2-1", &["z", "w"])])]),
        ])
    );
    // History of several streams at once, one with nothing pending for this consumer.
    raw.expect(
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "carol",
            "STREAMS",
            "s",
            "t",
            "0",
            "0",
        ],
        b"*2\r\n*2\r\n$1\r\ns\r\n*0\r\n*2\r\n$1\r\nt\r\n*0\r\n",
    );
}

#[test]
fn xreadgroup_errors_match_redis() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    add_entries(&mut raw, "s", &[("1-1", "a", "1")]);
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    raw.expect(
        &["XREADGROUP", "GROUP", "nog", "alice", "STREAMS", "s", ">"],
        b"-NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option\r\n",
    );
    raw.expect(
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "nokey", ">"],
        b"-NOGROUP No such key 'nokey' or consumer group 'g' in XREADGROUP with GROUP option\r\n",
    );
    raw.expect(
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s"],
        b"-ERR wrong number of arguments for 'xreadgroup' command\r\n",
    );
    raw.expect(
        &["XREADGROUP", "STREAMS", "s", ">"],
        b"-ERR wrong number of arguments for 'xreadgroup' command\r\n",
    );
    raw.expect(
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "$"],
        b"-ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.\r\n",
    );
    raw.expect(
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "bad"],
        b"-ERR Invalid stream ID specified as stream command argument\r\n",
    );
    raw.expect(
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "x",
            "STREAMS",
            "s",
            ">",
        ],
        b"-ERR value is not an integer or out of range\r\n",
    );
    raw.expect(
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "BLOCK",
            "-1",
            "STREAMS",
            "s",
            ">",
        ],
        b"-ERR timeout is negative\r\n",
    );
    raw.expect(&["SET", "str", "v"], b"+OK\r\n");
    raw.expect(
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "str", ">"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    // Nothing was created by the failed reads.
    raw.expect(
        &["XPENDING", "s", "g"],
        b"*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n",
    );
    raw.expect(&["XINFO", "CONSUMERS", "s", "g"], b"*0\r\n");
}

#[test]
fn xreadgroup_history_reads_the_own_pel_and_counts_deliveries() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    add_entries(
        &mut raw,
        "s",
        &[("1-1", "a", "1"), ("2-1", "b", "2"), ("3-1", "c", "3")],
    );
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    raw.cmd(&["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"]);
    assert_eq!(
        pel(&mut raw, "s", "g"),
        [
            row("1-1", "alice", 1),
            row("2-1", "alice", 1),
            row("3-1", "alice", 1)
        ]
    );

    // Another consumer's history is its own (empty) PEL, not alice's.
    raw.expect(
        &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", "0"],
        b"*1\r\n*2\r\n$1\r\ns\r\n*0\r\n",
    );
    // ID 0: all of alice's pending entries, each delivery counted.
    assert_eq!(
        val(
            &mut raw,
            &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"]
        ),
        read_reply(
            "s",
            vec![
                entry("1-1", &["a", "1"]),
                entry("2-1", &["b", "2"]),
                entry("3-1", &["c", "3"])
            ]
        )
    );
    // COUNT limits history too; an ID starts after it.
    assert_eq!(
        val(
            &mut raw,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "alice",
                "COUNT",
                "1",
                "STREAMS",
                "s",
                "0"
            ]
        ),
        read_reply("s", vec![entry("1-1", &["a", "1"])])
    );
    assert_eq!(
        val(
            &mut raw,
            &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "1-1"]
        ),
        read_reply(
            "s",
            vec![entry("2-1", &["b", "2"]), entry("3-1", &["c", "3"])]
        )
    );
    assert_eq!(
        pel(&mut raw, "s", "g"),
        [
            row("1-1", "alice", 3),
            row("2-1", "alice", 3),
            row("3-1", "alice", 3)
        ]
    );
    // BLOCK and NOACK are ignored for history reads (an immediate answer).
    raw.expect(
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "bob",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            "0",
        ],
        b"*1\r\n*2\r\n$1\r\ns\r\n*0\r\n",
    );

    // A pending entry deleted from the stream comes back with a null body, and its
    // delivery count does not change.
    raw.expect(&["XDEL", "s", "2-1"], b":1\r\n");
    assert_eq!(
        val(
            &mut raw,
            &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"]
        ),
        read_reply(
            "s",
            vec![
                entry("1-1", &["a", "1"]),
                arr(vec![bulk("2-1"), V::Array(None)]),
                entry("3-1", &["c", "3"])
            ]
        )
    );
    let rows = pel(&mut raw, "s", "g");
    assert_eq!(
        (&rows[0], &rows[2]),
        (&row("1-1", "alice", 4), &row("3-1", "alice", 4))
    );
    // (2-1's count: FINDINGS #22, `xreadgroup_history_does_not_count_deleted_entries`.)
    // Acknowledged entries leave the history.
    raw.expect(&["XACK", "s", "g", "1-1", "2-1"], b":2\r\n");
    assert_eq!(
        val(
            &mut raw,
            &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"]
        ),
        read_reply("s", vec![entry("3-1", &["c", "3"])])
    );
}

#[test]

fn xreadgroup_history_does_not_count_deleted_entries() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    add_entries(&mut raw, "s", &[("1-1", "a", "1"), ("2-1", "b", "2")]);
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    raw.cmd(&["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"]);
    raw.expect(&["XDEL", "s", "2-1"], b":1\r\n");
    raw.expect(
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"],
        b"*1\r\n*2\r\n$1\r\ns\r\n*2\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$3\r\n2-1\r\n*-1\r\n",
    );
    // Redis counts (and re-times) only entries it could deliver.
    assert_eq!(
        pel(&mut raw, "s", "g"),
        [row("1-1", "alice", 2), row("2-1", "alice", 1)]
    );
}

#[test]
fn xreadgroup_block_is_woken_by_an_xadd_from_another_connection() {
    let target = RespTarget::start();
    let mut admin = Raw::connect(target.addr);
    let mut reader = Raw::connect(target.addr);
    admin.expect(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"], b"+OK\r\n");

    reader.send(&block_read_g_c("10000"));
    wait_blocked(&mut admin, 1);
    admin.expect(&["XADD", "s", "1-1", "f", "v"], b"$3\r\n1-1\r\n");
    let added = Instant::now();
    let reply = reader.frame();
    let latency = added.elapsed();
    assert_eq!(
        esc(&reply),
        esc(b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n")
    );
    assert!(
        latency < Duration::from_secs(1),
        "woke {latency:?} after the XADD (BLOCK was 10 s)"
    );
    // The entry became pending for the woken consumer.
    assert_eq!(pel(&mut admin, "s", "g"), [row("1-1", "c", 1)]);
    wait_blocked(&mut admin, 0);

    // Several streams: an append to the second wakes the reader with that stream only.
    admin.expect(&["XGROUP", "CREATE", "t", "g", "$", "MKSTREAM"], b"+OK\r\n");
    reader.send(&enc_str(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "10000",
        "STREAMS",
        "s",
        "t",
        ">",
        ">",
    ]));
    wait_blocked(&mut admin, 1);
    admin.expect(&["XADD", "t", "5-1", "x", "y"], b"$3\r\n5-1\r\n");
    assert_eq!(
        esc(&reader.frame()),
        esc(b"*1\r\n*2\r\n$1\r\nt\r\n*1\r\n*2\r\n$3\r\n5-1\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n")
    );

    // NOACK while blocked: delivered, not pending.
    reader.send(&enc_str(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "d",
        "BLOCK",
        "10000",
        "NOACK",
        "STREAMS",
        "s",
        ">",
    ]));
    wait_blocked(&mut admin, 1);
    admin.expect(&["XADD", "s", "2-1", "f", "w"], b"$3\r\n2-1\r\n");
    assert_eq!(
        esc(&reader.frame()),
        esc(b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$1\r\nf\r\n$1\r\nw\r\n")
    );
    assert_eq!(pel(&mut admin, "s", "g"), [row("1-1", "c", 1)]);

    // A timeout answers null.
    let started = Instant::now();
    reader.expect(
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "200",
            "STREAMS",
            "s",
            ">",
        ],
        b"*-1\r\n",
    );
    assert!(started.elapsed() >= Duration::from_millis(190));
}

#[test]
fn xreadgroup_block_ends_with_an_error_when_the_key_is_deleted_or_replaced() {
    let target = RespTarget::start();
    let mut admin = Raw::connect(target.addr);
    let mut reader = Raw::connect(target.addr);

    for replace in [&["DEL", "s"][..], &["SET", "s", "x"][..]] {
        admin.expect(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"], b"+OK\r\n");
        reader.send(&block_read_g_c("10000"));
        wait_blocked(&mut admin, 1);
        let started = Instant::now();
        admin.cmd(replace);
        assert_eq!(
            esc(&reader.frame()),
            esc(b"-UNBLOCKED the stream key no longer exists\r\n"),
            "after {replace:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "after {replace:?}"
        );
        wait_blocked(&mut admin, 0);
        admin.cmd(&["DEL", "s"]);
        admin.expect(&["EXISTS", "s"], b":0\r\n");
    }
}

#[test]
fn xreadgroup_block_after_a_stream_is_renamed_over_the_key() {
    // As Redis 7: the stream now under the key lacks the group: NOGROUP; it has the
    // group: the blocked call reads from it.
    let target = RespTarget::start();
    let mut admin = Raw::connect(target.addr);
    let mut reader = Raw::connect(target.addr);
    let blocked_read = block_read_g_c("10000");

    admin.expect(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"], b"+OK\r\n");
    admin.expect(&["XADD", "other", "5-1", "a", "1"], b"$3\r\n5-1\r\n");
    reader.send(&blocked_read);
    wait_blocked(&mut admin, 1);
    admin.expect(&["RENAME", "other", "s"], b"+OK\r\n");
    assert_eq!(
        esc(&reader.frame()),
        esc(b"-NOGROUP the consumer group this client was blocked on no longer exists\r\n")
    );
    wait_blocked(&mut admin, 0);

    admin.cmd(&["DEL", "s"]);
    admin.expect(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"], b"+OK\r\n");
    admin.expect(&["XADD", "other", "7-1", "b", "2"], b"$3\r\n7-1\r\n");
    admin.expect(&["XGROUP", "CREATE", "other", "g", "0"], b"+OK\r\n");
    reader.send(&blocked_read);
    wait_blocked(&mut admin, 1);
    admin.expect(&["RENAME", "other", "s"], b"+OK\r\n");
    assert_eq!(
        esc(&reader.frame()),
        esc(b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n7-1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n")
    );
    assert_eq!(pel(&mut admin, "s", "g"), [row("7-1", "c", 1)]);
}

#[test]

fn xreadgroup_block_ends_with_nogroup_when_the_group_is_destroyed() {
    let target = RespTarget::start();
    let mut admin = Raw::connect(target.addr);
    let mut reader = Raw::connect(target.addr);
    admin.expect(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"], b"+OK\r\n");
    reader.send(&block_read_g_c("5000"));
    wait_blocked(&mut admin, 1);
    admin.expect(&["XGROUP", "DESTROY", "s", "g"], b":1\r\n");
    assert_eq!(
        esc(&reader.frame()),
        esc(b"-NOGROUP the consumer group this client was blocked on no longer exists\r\n")
    );
}

// ---- XACK, XPENDING --------------------------------------------------------------------

#[test]
fn xack_counts_what_it_removed_from_the_pel() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    add_entries(
        &mut raw,
        "s",
        &[("1-1", "a", "1"), ("2-1", "b", "2"), ("3-1", "c", "3")],
    );
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    raw.cmd(&["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"]);
    raw.expect(&["XACK", "s", "g", "1-1", "2-1", "9-9"], b":2\r\n");
    raw.expect(&["XACK", "s", "g", "1-1"], b":0\r\n");
    raw.expect(&["XACK", "s", "g", "3-1", "3-1"], b":1\r\n");
    raw.expect(&["XACK", "s", "nog", "1-1"], b":0\r\n");
    raw.expect(&["XACK", "nokey", "g", "1-1"], b":0\r\n");
    raw.expect(
        &["XACK", "s", "g", "bad"],
        b"-ERR Invalid stream ID specified as stream command argument\r\n",
    );
    raw.expect(
        &["XACK", "s", "g"],
        b"-ERR wrong number of arguments for 'xack' command\r\n",
    );
    raw.expect(
        &["XPENDING", "s", "g"],
        b"*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n",
    );
    // The consumer stays, with nothing pending.
    let consumers = items(val(&mut raw, &["XINFO", "CONSUMERS", "s", "g"]));
    assert_eq!(consumers.len(), 1);
    let alice = pairs(consumers[0].clone());
    assert_eq!(text(get(&alice, "name")), "alice");
    assert_eq!(int(get(&alice, "pending")), 0);
}

#[test]
fn xpending_summary_and_extended_forms() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    raw.expect(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"], b"+OK\r\n");
    // Empty group: [0, nil, nil, nil]; the extended form is empty.
    raw.expect(
        &["XPENDING", "s", "g"],
        b"*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n",
    );
    raw.expect(&["XPENDING", "s", "g", "-", "+", "10"], b"*0\r\n");
    raw.expect(
        &["XPENDING", "s", "nog"],
        b"-NOGROUP No such key 's' or consumer group 'nog'\r\n",
    );
    raw.expect(
        &["XPENDING", "nokey", "g"],
        b"-NOGROUP No such key 'nokey' or consumer group 'g'\r\n",
    );

    add_entries(
        &mut raw,
        "s",
        &[
            ("1-1", "a", "1"),
            ("2-1", "b", "2"),
            ("3-1", "c", "3"),
            ("4-1", "d", "4"),
        ],
    );
    raw.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "bob",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        ">",
    ]);
    raw.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "3",
        "STREAMS",
        "s",
        ">",
    ]);
    // Summary: count, smallest and largest ID, consumers by name with their counts.
    raw.expect(
        &["XPENDING", "s", "g"],
        b"*4\r\n:4\r\n$3\r\n1-1\r\n$3\r\n4-1\r\n*2\r\n*2\r\n$5\r\nalice\r\n$1\r\n3\r\n*2\r\n$3\r\nbob\r\n$1\r\n1\r\n",
    );

    // Make idle times deterministic: 2-1 idle for 100 s, 3-1 for 50 s.
    raw.expect(
        &[
            "XCLAIM", "s", "g", "alice", "0", "2-1", "IDLE", "100000", "JUSTID",
        ],
        b"*1\r\n$3\r\n2-1\r\n",
    );
    raw.expect(
        &[
            "XCLAIM", "s", "g", "alice", "0", "3-1", "IDLE", "50000", "JUSTID",
        ],
        b"*1\r\n$3\r\n3-1\r\n",
    );
    let all = xpending(&mut raw, &["XPENDING", "s", "g", "-", "+", "10"]);
    let summary: Vec<(&str, &str, i64)> = all
        .iter()
        .map(|p| (p.id.as_str(), p.consumer.as_str(), p.deliveries))
        .collect();
    assert_eq!(
        summary,
        [
            ("1-1", "bob", 1),
            ("2-1", "alice", 1),
            ("3-1", "alice", 1),
            ("4-1", "alice", 1)
        ]
    );
    assert!((100_000..110_000).contains(&all[1].idle_ms), "{:?}", all[1]);
    assert!((50_000..60_000).contains(&all[2].idle_ms), "{:?}", all[2]);
    assert!(
        all[0].idle_ms < 50_000 && all[3].idle_ms < 50_000,
        "{all:?}"
    );

    let ids_of = |rows: Vec<Pending>| -> Vec<String> { rows.into_iter().map(|p| p.id).collect() };
    // IDLE min-idle-time filter.
    assert_eq!(
        ids_of(xpending(
            &mut raw,
            &["XPENDING", "s", "g", "IDLE", "60000", "-", "+", "10"]
        )),
        ["2-1"]
    );
    assert_eq!(
        ids_of(xpending(
            &mut raw,
            &["XPENDING", "s", "g", "IDLE", "40000", "-", "+", "10"]
        )),
        ["2-1", "3-1"]
    );
    assert_eq!(
        ids_of(xpending(
            &mut raw,
            &["XPENDING", "s", "g", "IDLE", "40000", "-", "+", "10", "bob"]
        )),
        Vec::<String>::new()
    );
    // Consumer filter, COUNT, exclusive and inclusive ranges.
    assert_eq!(
        ids_of(xpending(
            &mut raw,
            &["XPENDING", "s", "g", "-", "+", "10", "alice"]
        )),
        ["2-1", "3-1", "4-1"]
    );
    assert_eq!(
        ids_of(xpending(
            &mut raw,
            &["XPENDING", "s", "g", "-", "+", "10", "nobody"]
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        ids_of(xpending(&mut raw, &["XPENDING", "s", "g", "-", "+", "2"])),
        ["1-1", "2-1"]
    );
    assert_eq!(
        ids_of(xpending(
            &mut raw,
            &["XPENDING", "s", "g", "(1-1", "+", "10"]
        )),
        ["2-1", "3-1", "4-1"]
    );
    assert_eq!(
        ids_of(xpending(
            &mut raw,
            &["XPENDING", "s", "g", "-", "(3-1", "10"]
        )),
        ["1-1", "2-1"]
    );
    assert_eq!(
        ids_of(xpending(
            &mut raw,
            &["XPENDING", "s", "g", "(1-1", "(4-1", "10"]
        )),
        ["2-1", "3-1"]
    );
    assert_eq!(
        ids_of(xpending(
            &mut raw,
            &["XPENDING", "s", "g", "2-1", "3-1", "10"]
        )),
        ["2-1", "3-1"]
    );
    raw.expect(&["XPENDING", "s", "g", "-", "+", "0"], b"*0\r\n");
    raw.expect(&["XPENDING", "s", "g", "-", "+", "-1"], b"*0\r\n");
    raw.expect(
        &["XPENDING", "s", "g", "-", "+", "x"],
        b"-ERR value is not an integer or out of range\r\n",
    );
    raw.expect(&["XPENDING", "s", "g", "-", "+"], b"-ERR syntax error\r\n");
    raw.expect(
        &["XPENDING", "s", "g", "-", "bad", "10"],
        b"-ERR Invalid stream ID specified as stream command argument\r\n",
    );
}

// ---- XCLAIM, XAUTOCLAIM --------------------------------------------------------------------

#[test]
fn xclaim_min_idle_justid_force_retrycount_and_deleted_entries() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    five_entries_four_pending_for_alice(&mut raw);

    // Not idle long enough: nothing claimed, nothing changed.
    raw.expect(&["XCLAIM", "s", "g", "bob", "100000", "1-1"], b"*0\r\n");
    assert_eq!(pel(&mut raw, "s", "g")[0], row("1-1", "alice", 1));
    // Claimed: the entry, a new owner, one more delivery, idle reset.
    raw.expect(
        &["XCLAIM", "s", "g", "bob", "0", "1-1"],
        b"*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    // JUSTID: the ID only, and the delivery count stays.
    raw.expect(
        &["XCLAIM", "s", "g", "bob", "0", "2-1", "JUSTID"],
        b"*1\r\n$3\r\n2-1\r\n",
    );
    // Not pending: claimed only with FORCE (and only if the entry exists).
    raw.expect(&["XCLAIM", "s", "g", "bob", "0", "5-1"], b"*0\r\n");
    raw.expect(
        &["XCLAIM", "s", "g", "bob", "0", "5-1", "FORCE"],
        b"*1\r\n*2\r\n$3\r\n5-1\r\n*2\r\n$1\r\ne\r\n$1\r\n5\r\n",
    );
    raw.expect(&["XCLAIM", "s", "g", "bob", "0", "9-9", "FORCE"], b"*0\r\n");
    // RETRYCOUNT sets the count; IDLE sets the idle time.
    raw.expect(
        &[
            "XCLAIM",
            "s",
            "g",
            "carol",
            "0",
            "3-1",
            "RETRYCOUNT",
            "7",
            "IDLE",
            "30000",
        ],
        b"*1\r\n*2\r\n$3\r\n3-1\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n",
    );
    // TIME sets the last delivery to a Unix time in ms.
    raw.expect(
        &[
            "XCLAIM", "s", "g", "carol", "0", "4-1", "TIME", "1000", "JUSTID",
        ],
        b"*1\r\n$3\r\n4-1\r\n",
    );
    let rows = xpending(&mut raw, &["XPENDING", "s", "g", "-", "+", "10"]);
    let summary: Vec<(&str, &str, i64)> = rows
        .iter()
        .map(|p| (p.id.as_str(), p.consumer.as_str(), p.deliveries))
        .filter(|(id, _, _)| *id != "5-1") // its count: FINDINGS #15
        .collect();
    assert_eq!(
        summary,
        [
            ("1-1", "bob", 2),
            ("2-1", "bob", 1),
            ("3-1", "carol", 7),
            ("4-1", "carol", 1)
        ]
    );
    assert_eq!(rows[4].consumer, "bob");
    assert!((30_000..40_000).contains(&rows[2].idle_ms), "{:?}", rows[2]);
    assert!(rows[3].idle_ms > 1_000_000_000_000, "{:?}", rows[3]);
    // Only what was idle long enough moves.
    raw.expect(
        &["XCLAIM", "s", "g", "dave", "20000", "3-1", "1-1", "JUSTID"],
        b"*1\r\n$3\r\n3-1\r\n",
    );

    // Entries deleted from the stream are dropped from the PEL and not returned.
    raw.expect(&["XDEL", "s", "2-1"], b":1\r\n");
    raw.expect(
        &["XCLAIM", "s", "g", "dave", "0", "1-1", "2-1"],
        b"*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    let ids: Vec<String> = pel(&mut raw, "s", "g").into_iter().map(|r| r.0).collect();
    assert_eq!(ids, ["1-1", "3-1", "4-1", "5-1"]);

    // As in Redis, a negative RETRYCOUNT counts as not given (the count goes on, or
    // stays with JUSTID), and a negative TIME means now.
    let deliveries = |raw: &mut Raw, id: &str| {
        pel(raw, "s", "g")
            .into_iter()
            .find(|r| r.0 == id)
            .map(|r| (r.1, r.2))
    };
    assert_eq!(deliveries(&mut raw, "1-1"), Some(("dave".into(), 3)));
    raw.expect(
        &[
            "XCLAIM",
            "s",
            "g",
            "erin",
            "0",
            "1-1",
            "RETRYCOUNT",
            "-1",
            "JUSTID",
        ],
        b"*1\r\n$3\r\n1-1\r\n",
    );
    assert_eq!(deliveries(&mut raw, "1-1"), Some(("erin".into(), 3)));
    raw.expect(
        &[
            "XCLAIM",
            "s",
            "g",
            "erin",
            "0",
            "1-1",
            "RETRYCOUNT",
            "-5",
            "TIME",
            "-1",
        ],
        b"*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    assert_eq!(deliveries(&mut raw, "1-1"), Some(("erin".into(), 4)));
    let rows = xpending(&mut raw, &["XPENDING", "s", "g", "-", "+", "1"]);
    assert!(rows[0].idle_ms < 10_000, "{:?}", rows[0]);

    // Errors.
    raw.expect(
        &["XCLAIM", "s", "nog", "dave", "0", "1-1"],
        b"-NOGROUP No such key 's' or consumer group 'nog'\r\n",
    );
    raw.expect(
        &["XCLAIM", "nokey", "g", "dave", "0", "1-1"],
        b"-NOGROUP No such key 'nokey' or consumer group 'g'\r\n",
    );
    raw.expect(
        &["XCLAIM", "s", "g", "dave", "x", "1-1"],
        b"-ERR Invalid min-idle-time argument for XCLAIM\r\n",
    );
    raw.expect(
        &["XCLAIM", "s", "g", "dave", "0", "bad"],
        b"-ERR Unrecognized XCLAIM option 'bad'\r\n",
    );
    raw.expect(
        &["XCLAIM", "s", "g", "dave", "0", "1-1", "RETRYCOUNT", "x"],
        b"-ERR Invalid RETRYCOUNT option argument for XCLAIM\r\n",
    );
    raw.expect(
        &["XCLAIM", "s", "g", "dave", "0", "1-1", "FOO"],
        b"-ERR Unrecognized XCLAIM option 'FOO'\r\n",
    );
    // LASTID is accepted (it only moves the group's last ID forward).
    raw.expect(
        &[
            "XCLAIM", "s", "g", "dave", "0", "1-1", "LASTID", "4-1", "JUSTID",
        ],
        b"*1\r\n$3\r\n1-1\r\n",
    );
}

#[test]

fn xclaim_force_counts_the_claim_as_a_delivery() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    add_entries(&mut raw, "s", &[("1-1", "a", "1"), ("2-1", "b", "2")]);
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    raw.expect(
        &["XCLAIM", "s", "g", "bob", "0", "1-1", "FORCE"],
        b"*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    raw.expect(
        &["XCLAIM", "s", "g", "bob", "0", "2-1", "FORCE", "JUSTID"],
        b"*1\r\n$3\r\n2-1\r\n",
    );
    assert_eq!(
        pel(&mut raw, "s", "g"),
        [row("1-1", "bob", 2), row("2-1", "bob", 1)]
    );
}

#[test]
fn xautoclaim_cursor_count_justid_and_deleted_ids() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    five_entries_four_pending_for_alice(&mut raw);

    // Nothing idle enough: cursor 0-0, nothing claimed.
    raw.expect(
        &["XAUTOCLAIM", "s", "g", "bob", "100000", "0"],
        b"*3\r\n$3\r\n0-0\r\n*0\r\n*0\r\n",
    );
    // COUNT 2: the first two, and a cursor where the scan stopped.
    raw.expect(
        &["XAUTOCLAIM", "s", "g", "bob", "0", "0", "COUNT", "2"],
        b"*3\r\n$3\r\n3-1\r\n*2\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*0\r\n",
    );
    // Going on from the cursor, JUSTID: IDs only; the scan reached the end.
    raw.expect(
        &[
            "XAUTOCLAIM",
            "s",
            "g",
            "bob",
            "0",
            "3-1",
            "COUNT",
            "2",
            "JUSTID",
        ],
        b"*3\r\n$3\r\n0-0\r\n*2\r\n$3\r\n3-1\r\n$3\r\n4-1\r\n*0\r\n",
    );
    assert_eq!(
        pel(&mut raw, "s", "g"),
        [
            row("1-1", "bob", 2),
            row("2-1", "bob", 2),
            row("3-1", "bob", 1),
            row("4-1", "bob", 1)
        ]
    );

    // Deleted entries: dropped from the PEL and listed in the third element.
    raw.expect(&["XDEL", "s", "2-1"], b":1\r\n");
    raw.expect(
        &[
            "XAUTOCLAIM",
            "s",
            "g",
            "carol",
            "0",
            "-",
            "COUNT",
            "10",
            "JUSTID",
        ],
        b"*3\r\n$3\r\n0-0\r\n*3\r\n$3\r\n1-1\r\n$3\r\n3-1\r\n$3\r\n4-1\r\n*1\r\n$3\r\n2-1\r\n",
    );
    assert_eq!(
        pel(&mut raw, "s", "g"),
        [
            row("1-1", "carol", 2),
            row("3-1", "carol", 1),
            row("4-1", "carol", 1)
        ]
    );
    // min-idle-time: only entries idle that long move.
    raw.expect(
        &[
            "XCLAIM", "s", "g", "carol", "0", "3-1", "IDLE", "60000", "JUSTID",
        ],
        b"*1\r\n$3\r\n3-1\r\n",
    );
    raw.expect(
        &["XAUTOCLAIM", "s", "g", "dave", "30000", "0"],
        b"*3\r\n$3\r\n0-0\r\n*1\r\n*2\r\n$3\r\n3-1\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n*0\r\n",
    );
    assert_eq!(pel(&mut raw, "s", "g")[1], row("3-1", "dave", 2));

    // Errors.
    raw.expect(
        &["XAUTOCLAIM", "s", "g", "eve", "0", "0", "COUNT", "0"],
        b"-ERR COUNT must be > 0\r\n",
    );
    raw.expect(
        &["XAUTOCLAIM", "s", "nog", "eve", "0", "0"],
        b"-NOGROUP No such key 's' or consumer group 'nog'\r\n",
    );
    raw.expect(
        &["XAUTOCLAIM", "nokey", "g", "eve", "0", "0"],
        b"-NOGROUP No such key 'nokey' or consumer group 'g'\r\n",
    );
    raw.expect(
        &["XAUTOCLAIM", "s", "g", "eve", "0", "bad"],
        b"-ERR Invalid stream ID specified as stream command argument\r\n",
    );
    raw.expect(
        &["XAUTOCLAIM", "s", "g", "eve", "0", "0", "FOO"],
        b"-ERR syntax error\r\n",
    );
    raw.expect(
        &["XAUTOCLAIM", "s", "g", "eve", "x", "0"],
        b"-ERR Invalid min-idle-time argument for XAUTOCLAIM\r\n",
    );
}

#[test]

fn xautoclaim_count_includes_deleted_entries() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    add_entries(
        &mut raw,
        "s",
        &[("1-1", "a", "1"), ("2-1", "b", "2"), ("3-1", "c", "3")],
    );
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    raw.cmd(&["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"]);
    raw.expect(&["XDEL", "s", "1-1"], b":1\r\n");
    // Redis: the deleted 1-1 uses one of the two, so only 2-1 is claimed.
    raw.expect(
        &["XAUTOCLAIM", "s", "g", "bob", "0", "0", "COUNT", "2"],
        b"*3\r\n$3\r\n3-1\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*1\r\n$3\r\n1-1\r\n",
    );
    assert_eq!(
        pel(&mut raw, "s", "g"),
        [row("2-1", "bob", 2), row("3-1", "alice", 1)]
    );
}

// ---- XINFO ---------------------------------------------------------------------------------

#[test]
fn xinfo_groups_reports_entries_read_and_lag() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    add_entries(
        &mut raw,
        "s",
        &[("1-1", "a", "1"), ("2-1", "b", "2"), ("3-1", "c", "3")],
    );
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    raw.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "2",
        "STREAMS",
        "s",
        ">",
    ]);
    raw.expect(
        &["XINFO", "GROUPS", "s"],
        b"*1\r\n*12\r\n$4\r\nname\r\n$1\r\ng\r\n$9\r\nconsumers\r\n:1\r\n$7\r\npending\r\n:2\r\n$17\r\nlast-delivered-id\r\n$3\r\n2-1\r\n$12\r\nentries-read\r\n:2\r\n$3\r\nlag\r\n:1\r\n",
    );
    add_entries(&mut raw, "s", &[("4-1", "d", "4")]);
    let g = group_info(&mut raw, "s", "g");
    assert_eq!(get(&g, "entries-read"), &V::Int(2));
    assert_eq!(get(&g, "lag"), &V::Int(2));
    raw.cmd(&["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"]);
    raw.expect(&["XACK", "s", "g", "1-1"], b":1\r\n");
    let g = group_info(&mut raw, "s", "g");
    assert_eq!(
        keys(&g),
        [
            "name",
            "consumers",
            "pending",
            "last-delivered-id",
            "entries-read",
            "lag"
        ]
    );
    assert_eq!(int(get(&g, "consumers")), 2);
    assert_eq!(int(get(&g, "pending")), 3);
    assert_eq!(text(get(&g, "last-delivered-id")), "4-1");
    assert_eq!(get(&g, "entries-read"), &V::Int(4));
    assert_eq!(get(&g, "lag"), &V::Int(0));

    // SETID with ENTRIESREAD sets the counter the lag derives from.
    raw.expect(
        &["XGROUP", "SETID", "s", "g", "2-1", "ENTRIESREAD", "2"],
        b"+OK\r\n",
    );
    let g = group_info(&mut raw, "s", "g");
    assert_eq!(get(&g, "entries-read"), &V::Int(2));
    assert_eq!(get(&g, "lag"), &V::Int(2));

    raw.expect(&["XINFO", "GROUPS", "nokey"], b"-ERR no such key\r\n");
    raw.expect(&["XADD", "empty", "1-1", "f", "v"], b"$3\r\n1-1\r\n");
    raw.expect(&["XINFO", "GROUPS", "empty"], b"*0\r\n");
    raw.expect(&["SET", "str", "v"], b"+OK\r\n");
    raw.expect(
        &["XINFO", "GROUPS", "str"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]

fn xinfo_groups_entries_read_is_nil_until_the_group_reads() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    add_entries(&mut raw, "s", &[("1-1", "a", "1"), ("2-1", "b", "2")]);
    raw.expect(&["XGROUP", "CREATE", "s", "g0", "0"], b"+OK\r\n");
    raw.expect(&["XGROUP", "CREATE", "s", "gd", "$"], b"+OK\r\n");
    raw.expect(&["XGROUP", "CREATE", "s", "gm", "1-1"], b"+OK\r\n");
    let summary: Vec<(String, V, V)> = xinfo_groups(&mut raw, "s")
        .iter()
        .map(|g| {
            (
                text(get(g, "name")),
                get(g, "entries-read").clone(),
                get(g, "lag").clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("g0".to_string(), V::Bulk(None), V::Int(2)),
            ("gd".to_string(), V::Bulk(None), V::Int(0)),
            ("gm".to_string(), V::Bulk(None), V::Int(1)),
        ]
    );
    raw.expect(&["XGROUP", "SETID", "s", "g0", "$"], b"+OK\r\n");
    assert_eq!(
        get(&group_info(&mut raw, "s", "g0"), "entries-read"),
        &V::Bulk(None)
    );
    // A read sets it.
    raw.cmd(&["XREADGROUP", "GROUP", "gm", "c", "STREAMS", "s", ">"]);
    assert_eq!(
        get(&group_info(&mut raw, "s", "gm"), "entries-read"),
        &V::Int(2)
    );
}

#[test]
fn xinfo_consumers_reports_pending_and_idle() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    add_entries(
        &mut raw,
        "s",
        &[("1-1", "a", "1"), ("2-1", "b", "2"), ("3-1", "c", "3")],
    );
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    raw.expect(&["XGROUP", "CREATECONSUMER", "s", "g", "zed"], b":1\r\n");
    raw.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "bob",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        ">",
    ]);
    raw.cmd(&["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"]);
    let consumers: Vec<Vec<(String, V)>> = items(val(&mut raw, &["XINFO", "CONSUMERS", "s", "g"]))
        .into_iter()
        .map(pairs)
        .collect();
    let summary: Vec<(String, i64)> = consumers
        .iter()
        .map(|c| (text(get(c, "name")), int(get(c, "pending"))))
        .collect();
    assert_eq!(
        summary,
        [
            ("alice".to_string(), 2),
            ("bob".to_string(), 1),
            ("zed".to_string(), 0)
        ]
    );
    for c in &consumers {
        // Redis 7.2+ (Brook claims 7.4) adds `inactive`; 7.0 has name, pending, idle.
        let expected: &[&str] = if target.is_redis() {
            &["name", "pending", "idle"]
        } else {
            &["name", "pending", "idle", "inactive"]
        };
        assert_eq!(keys(c), expected);
        let idle = int(get(c, "idle"));
        assert!((0..10_000).contains(&idle), "{c:?}");
    }
    if !target.is_redis() {
        // `inactive`: -1 for a consumer that never read anything, else ms since.
        let inactive: Vec<i64> = consumers.iter().map(|c| int(get(c, "inactive"))).collect();
        assert_eq!(inactive[2], -1, "{consumers:?}");
        assert!(
            inactive[..2].iter().all(|i| (0..10_000).contains(i)),
            "{consumers:?}"
        );
    }
    raw.expect(
        &["XINFO", "CONSUMERS", "s", "nog"],
        b"-NOGROUP No such consumer group 'nog' for key name 's'\r\n",
    );
    raw.expect(
        &["XINFO", "CONSUMERS", "nokey", "g"],
        b"-ERR no such key\r\n",
    );
}

#[test]

fn xinfo_consumers_inactive_ignores_noack_reads() {
    let target = RespTarget::start();
    if target.skip_on_redis("Redis 7.0 has no `inactive` field") {
        return;
    }
    let mut raw = Raw::connect(target.addr);
    add_entries(&mut raw, "s", &[("1-1", "a", "1")]);
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    raw.expect(
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "NOACK",
            "STREAMS",
            "s",
            ">",
        ],
        b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    let consumers = items(val(&mut raw, &["XINFO", "CONSUMERS", "s", "g"]));
    let c = pairs(consumers[0].clone());
    assert_eq!(get(&c, "inactive"), &V::Int(-1), "{c:?}");
}

#[test]
fn xinfo_stream_full_lists_groups_with_their_pel_and_consumers() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    add_entries(
        &mut raw,
        "s",
        &[("1-1", "a", "1"), ("2-1", "b", "2"), ("3-1", "c", "3")],
    );
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    raw.expect(&["XGROUP", "CREATE", "s", "h", "$"], b"+OK\r\n");
    raw.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "2",
        "STREAMS",
        "s",
        ">",
    ]);
    raw.cmd(&["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"]);
    raw.expect(
        &[
            "XCLAIM",
            "s",
            "g",
            "alice",
            "0",
            "2-1",
            "TIME",
            "1000",
            "RETRYCOUNT",
            "5",
            "JUSTID",
        ],
        b"*1\r\n$3\r\n2-1\r\n",
    );

    let full = pairs(val(&mut raw, &["XINFO", "STREAM", "s", "FULL"]));
    assert_eq!(int(get(&full, "length")), 3);
    let groups = items(get(&full, "groups").clone());
    assert_eq!(groups.len(), 2);
    let g = pairs(groups[0].clone());
    assert_eq!(
        keys(&g),
        [
            "name",
            "last-delivered-id",
            "entries-read",
            "lag",
            "pel-count",
            "pending",
            "consumers"
        ]
    );
    assert_eq!(text(get(&g, "name")), "g");
    assert_eq!(text(get(&g, "last-delivered-id")), "3-1");
    assert_eq!(get(&g, "entries-read"), &V::Int(3));
    assert_eq!(get(&g, "lag"), &V::Int(0));
    assert_eq!(int(get(&g, "pel-count")), 3);
    // Group PEL rows: [id, consumer, delivery time (Unix ms), delivery count].
    let pending: Vec<Vec<V>> = items(get(&g, "pending").clone())
        .into_iter()
        .map(items)
        .collect();
    let summary: Vec<(String, String, i64)> = pending
        .iter()
        .map(|r| (text(&r[0]), text(&r[1]), int(&r[3])))
        .collect();
    assert_eq!(
        summary,
        [
            row("1-1", "alice", 1),
            row("2-1", "alice", 5),
            row("3-1", "bob", 1)
        ]
    );
    assert_eq!(int(&pending[1][2]), 1000, "TIME 1000 is the delivery time");
    assert!(int(&pending[0][2]) > 1_600_000_000_000);

    let consumers: Vec<Vec<(String, V)>> = items(get(&g, "consumers").clone())
        .into_iter()
        .map(pairs)
        .collect();
    assert_eq!(consumers.len(), 2);
    for c in &consumers {
        let expected: &[&str] = if target.is_redis() {
            &["name", "seen-time", "pel-count", "pending"]
        } else {
            // Redis 7.2+ adds active-time.
            &["name", "seen-time", "active-time", "pel-count", "pending"]
        };
        assert_eq!(keys(c), expected);
        assert!(int(get(c, "seen-time")) > 1_600_000_000_000, "{c:?}");
    }
    assert_eq!(text(get(&consumers[0], "name")), "alice");
    assert_eq!(int(get(&consumers[0], "pel-count")), 2);
    // Consumer PEL rows: [id, delivery time, delivery count].
    let alice_pel: Vec<(String, i64)> = items(get(&consumers[0], "pending").clone())
        .into_iter()
        .map(|r| {
            let r = items(r);
            assert_eq!(r.len(), 3);
            (text(&r[0]), int(&r[2]))
        })
        .collect();
    assert_eq!(alice_pel, [("1-1".to_string(), 1), ("2-1".to_string(), 5)]);
    assert_eq!(text(get(&consumers[1], "name")), "bob");
    assert_eq!(int(get(&consumers[1], "pel-count")), 1);

    let h = pairs(groups[1].clone());
    assert_eq!(text(get(&h, "name")), "h");
    assert_eq!(int(get(&h, "pel-count")), 0);
    assert_eq!(get(&h, "pending"), &arr(vec![]));
    assert_eq!(get(&h, "consumers"), &arr(vec![]));

    // COUNT limits the PELs listed too, not the counts.
    let full = pairs(val(
        &mut raw,
        &["XINFO", "STREAM", "s", "FULL", "COUNT", "1"],
    ));
    let g = pairs(items(get(&full, "groups").clone())[0].clone());
    assert_eq!(int(get(&g, "pel-count")), 3);
    assert_eq!(items(get(&g, "pending").clone()).len(), 1);
    // The plain form counts the groups.
    let plain = pairs(val(&mut raw, &["XINFO", "STREAM", "s"]));
    assert_eq!(get(&plain, "groups"), &V::Int(2));
}

// ---- Redis 8.2: XDELEX, XACKDEL (not in Redis 7.0) -------------------------------------

/// s: 1-0 2-0 3-0 (field f); groups g1 and g2 from 0; g1's c1 read 1-0 and 2-0.
fn xdelex_setup(raw: &mut Raw) {
    add_entries(
        raw,
        "s",
        &[("1-0", "f", "v1"), ("2-0", "f", "v2"), ("3-0", "f", "v3")],
    );
    raw.expect(&["XGROUP", "CREATE", "s", "g1", "0"], b"+OK\r\n");
    raw.expect(&["XGROUP", "CREATE", "s", "g2", "0"], b"+OK\r\n");
    raw.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "c1",
        "COUNT",
        "2",
        "STREAMS",
        "s",
        ">",
    ]);
}

#[test]
fn xdelex_keepref_delref_and_acked() {
    let target = RespTarget::start();
    if target.skip_on_redis("XDELEX is Redis 8.2") {
        return;
    }
    let mut raw = Raw::connect(target.addr);
    // A key that does not exist: -1 per ID.
    raw.expect(
        &["XDELEX", "nokey", "IDS", "2", "1-0", "2-0"],
        b"*2\r\n:-1\r\n:-1\r\n",
    );
    // Without groups every policy deletes.
    add_entries(&mut raw, "plain", &[("1-0", "f", "v"), ("2-0", "f", "v")]);
    raw.expect(
        &["XDELEX", "plain", "ACKED", "IDS", "2", "1-0", "9-0"],
        b"*2\r\n:1\r\n:-1\r\n",
    );
    raw.expect(&["XDELEX", "plain", "IDS", "1", "2-0"], b"*1\r\n:1\r\n");
    raw.expect(&["XLEN", "plain"], b":0\r\n");

    xdelex_setup(&mut raw);
    // ACKED: an entry pending in a group stays (2).
    raw.expect(
        &["XDELEX", "s", "ACKED", "IDS", "2", "1-0", "2-0"],
        b"*2\r\n:2\r\n:2\r\n",
    );
    raw.expect(&["XLEN", "s"], b":3\r\n");
    // KEEPREF (the default): deleted, the PEL keeps the reference.
    raw.expect(
        &["XDELEX", "s", "KEEPREF", "IDS", "1", "1-0"],
        b"*1\r\n:1\r\n",
    );
    assert_eq!(
        pel(&mut raw, "s", "g1"),
        [row("1-0", "c1", 1), row("2-0", "c1", 1)]
    );
    // DELREF: deleted and removed from every PEL.
    raw.expect(
        &["XDELEX", "s", "DELREF", "IDS", "1", "2-0"],
        b"*1\r\n:1\r\n",
    );
    assert_eq!(pel(&mut raw, "s", "g1"), [row("1-0", "c1", 1)]);
    raw.expect(&["XLEN", "s"], b":1\r\n");
    // ACKED once every group has read and acknowledged it.
    raw.cmd(&["XREADGROUP", "GROUP", "g1", "c1", "STREAMS", "s", ">"]);
    raw.cmd(&["XREADGROUP", "GROUP", "g2", "c2", "STREAMS", "s", ">"]);
    raw.expect(
        &["XDELEX", "s", "ACKED", "IDS", "1", "3-0"],
        b"*1\r\n:2\r\n",
    );
    raw.expect(&["XACK", "s", "g1", "3-0"], b":1\r\n");
    raw.expect(
        &["XDELEX", "s", "ACKED", "IDS", "1", "3-0"],
        b"*1\r\n:2\r\n",
    );
    raw.expect(&["XACK", "s", "g2", "3-0"], b":1\r\n");
    raw.expect(
        &["XDELEX", "s", "ACKED", "IDS", "1", "3-0"],
        b"*1\r\n:1\r\n",
    );
    raw.expect(&["XLEN", "s"], b":0\r\n");

    // Errors.
    raw.expect(
        &["XDELEX", "s"],
        b"-ERR wrong number of arguments for 'xdelex' command\r\n",
    );
    raw.expect(
        &["XDELEX", "s", "IDS", "0", "1-0"],
        b"-ERR Number of IDs must be a positive integer\r\n",
    );
    raw.expect(
        &["XDELEX", "s", "IDS", "x", "1-0"],
        b"-ERR Number of IDs must be a positive integer\r\n",
    );
    raw.expect(
        &["XDELEX", "s", "IDS", "3", "1-0", "2-0"],
        b"-ERR The `numids` parameter must match the number of arguments\r\n",
    );
    raw.expect(
        &["XDELEX", "s", "FOO", "IDS", "1", "1-0"],
        b"-ERR syntax error\r\n",
    );
    raw.expect(
        &["XDELEX", "s", "KEEPREF", "DELREF", "IDS", "1", "1-0"],
        b"-ERR syntax error\r\n",
    );
    raw.expect(&["SET", "str", "v"], b"+OK\r\n");
    raw.expect(
        &["XDELEX", "str", "IDS", "1", "1-0"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]

fn xdelex_delref_removes_dangling_references() {
    let target = RespTarget::start();
    if target.skip_on_redis("XDELEX is Redis 8.2") {
        return;
    }
    let mut raw = Raw::connect(target.addr);
    xdelex_setup(&mut raw);
    raw.expect(&["XDEL", "s", "1-0"], b":1\r\n");
    assert_eq!(
        pel(&mut raw, "s", "g1"),
        [row("1-0", "c1", 1), row("2-0", "c1", 1)]
    );
    // redis.io: "If an entry ID is not in the stream, but there are dangling
    // references, XDELEX with DELREF would still remove all those references."
    raw.expect(
        &["XDELEX", "s", "DELREF", "IDS", "1", "1-0"],
        b"*1\r\n:-1\r\n",
    );
    assert_eq!(pel(&mut raw, "s", "g1"), [row("2-0", "c1", 1)]);
}

#[test]

fn xdelex_acked_keeps_entries_a_group_has_not_read_yet() {
    let target = RespTarget::start();
    if target.skip_on_redis("XDELEX is Redis 8.2") {
        return;
    }
    let mut raw = Raw::connect(target.addr);
    // Redis's stream-cgroups.tcl, "XGROUP DESTROY correctly manage min_cgroup_last_id cache".
    add_entries(
        &mut raw,
        "s",
        &[
            ("1-0", "f1", "v1"),
            ("2-0", "f2", "v2"),
            ("3-0", "f3", "v3"),
            ("4-0", "f4", "v4"),
        ],
    );
    raw.expect(&["XGROUP", "CREATE", "s", "group1", "1-0"], b"+OK\r\n");
    raw.expect(&["XGROUP", "CREATE", "s", "group2", "3-0"], b"+OK\r\n");
    raw.expect(
        &["XDELEX", "s", "ACKED", "IDS", "1", "1-0"],
        b"*1\r\n:1\r\n",
    );
    // 2-0 is after group1's last-delivered ID: still to be read, so kept.
    raw.expect(
        &["XDELEX", "s", "ACKED", "IDS", "1", "2-0"],
        b"*1\r\n:2\r\n",
    );
    raw.expect(&["XGROUP", "DESTROY", "s", "group1"], b":1\r\n");
    raw.expect(
        &["XDELEX", "s", "ACKED", "IDS", "1", "2-0"],
        b"*1\r\n:1\r\n",
    );
    // XACKDEL ... ACKED follows the same rule.
    raw.expect(
        &["XACKDEL", "s", "group2", "ACKED", "IDS", "1", "4-0"],
        b"*1\r\n:2\r\n",
    );
    raw.expect(&["XLEN", "s"], b":2\r\n");
}

#[test]
fn xackdel_acknowledges_and_deletes_per_policy() {
    let target = RespTarget::start();
    if target.skip_on_redis("XACKDEL is Redis 8.2") {
        return;
    }
    let mut raw = Raw::connect(target.addr);
    // From Redis's stream-cgroups.tcl (8.2) and the redis.io page.
    let setup = |raw: &mut Raw| {
        raw.expect(&["DEL", "s"], b":1\r\n");
        add_entries(raw, "s", &[("1-0", "f", "v"), ("2-0", "f", "v")]);
        raw.expect(&["XGROUP", "CREATE", "s", "group1", "0"], b"+OK\r\n");
        raw.expect(&["XGROUP", "CREATE", "s", "group2", "0"], b"+OK\r\n");
        raw.cmd(&[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "s",
            ">",
        ]);
        raw.cmd(&[
            "XREADGROUP",
            "GROUP",
            "group2",
            "consumer2",
            "STREAMS",
            "s",
            ">",
        ]);
    };
    const EMPTY: &[u8] = b"*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n";
    const BOTH_PENDING_FOR_CONSUMER2: &[u8] =
        b"*4\r\n:2\r\n$3\r\n1-0\r\n$3\r\n2-0\r\n*1\r\n*2\r\n$9\r\nconsumer2\r\n$1\r\n2\r\n";
    raw.expect(&["XADD", "s", "9-9", "f", "v"], b"$3\r\n9-9\r\n");

    // KEEPREF: acknowledged in group1 and deleted; group2 keeps its references.
    setup(&mut raw);
    raw.expect(
        &[
            "XACKDEL", "s", "group1", "KEEPREF", "IDS", "2", "1-0", "2-0",
        ],
        b"*2\r\n:1\r\n:1\r\n",
    );
    raw.expect(&["XLEN", "s"], b":0\r\n");
    raw.expect(&["XPENDING", "s", "group1"], EMPTY);
    raw.expect(&["XPENDING", "s", "group2"], BOTH_PENDING_FOR_CONSUMER2);
    // (XACKDEL of group2's dangling references: FINDINGS #20c.)
    raw.expect(&["XACK", "s", "group2", "1-0", "2-0"], b":2\r\n");
    raw.expect(&["XPENDING", "s", "group2"], EMPTY);

    // DELREF: removed from every group's PEL.
    setup(&mut raw);
    raw.expect(
        &["XACKDEL", "s", "group1", "DELREF", "IDS", "2", "1-0", "2-0"],
        b"*2\r\n:1\r\n:1\r\n",
    );
    raw.expect(&["XLEN", "s"], b":0\r\n");
    raw.expect(&["XPENDING", "s", "group1"], EMPTY);
    raw.expect(&["XPENDING", "s", "group2"], EMPTY);
    raw.expect(
        &["XACKDEL", "s", "group2", "DELREF", "IDS", "2", "1-0", "2-0"],
        b"*2\r\n:-1\r\n:-1\r\n",
    );

    // ACKED: deleted only when no group references them any more.
    setup(&mut raw);
    raw.expect(
        &["XACKDEL", "s", "group1", "ACKED", "IDS", "2", "1-0", "2-0"],
        b"*2\r\n:2\r\n:2\r\n",
    );
    raw.expect(&["XLEN", "s"], b":2\r\n");
    raw.expect(&["XPENDING", "s", "group1"], EMPTY);
    raw.expect(&["XPENDING", "s", "group2"], BOTH_PENDING_FOR_CONSUMER2);
    raw.expect(
        &["XACKDEL", "s", "group2", "ACKED", "IDS", "2", "1-0", "2-0"],
        b"*2\r\n:1\r\n:1\r\n",
    );
    raw.expect(&["XLEN", "s"], b":0\r\n");
    raw.expect(&["XPENDING", "s", "group2"], EMPTY);

    // A key that does not exist: -1 per ID. Errors.
    raw.expect(
        &["XACKDEL", "nokey", "g", "IDS", "2", "1-1", "2-2"],
        b"*2\r\n:-1\r\n:-1\r\n",
    );
    raw.expect(
        &["XACKDEL", "s", "g"],
        b"-ERR wrong number of arguments for 'xackdel' command\r\n",
    );
    for bad in ["abc", "0", "-5"] {
        raw.expect(
            &["XACKDEL", "s", "group1", "IDS", bad, "1-1"],
            b"-ERR Number of IDs must be a positive integer\r\n",
        );
    }
    raw.expect(
        &["XACKDEL", "s", "group1", "IDS", "3", "1-1", "2-2"],
        b"-ERR The `numids` parameter must match the number of arguments\r\n",
    );
    for (a, b) in [
        ("KEEPREF", "DELREF"),
        ("KEEPREF", "ACKED"),
        ("DELREF", "ACKED"),
    ] {
        raw.expect(
            &["XACKDEL", "s", "group1", a, b, "IDS", "1", "1-1"],
            b"-ERR syntax error\r\n",
        );
    }
}

#[test]

fn xackdel_acknowledges_dangling_references() {
    let target = RespTarget::start();
    if target.skip_on_redis("XACKDEL is Redis 8.2") {
        return;
    }
    let mut raw = Raw::connect(target.addr);
    // Redis's stream-cgroups.tcl, "XACKDEL with KEEPREF".
    add_entries(&mut raw, "s", &[("1-0", "f", "v"), ("2-0", "f", "v")]);
    raw.expect(&["XGROUP", "CREATE", "s", "group1", "0"], b"+OK\r\n");
    raw.expect(&["XGROUP", "CREATE", "s", "group2", "0"], b"+OK\r\n");
    raw.cmd(&[
        "XREADGROUP",
        "GROUP",
        "group1",
        "consumer1",
        "STREAMS",
        "s",
        ">",
    ]);
    raw.cmd(&[
        "XREADGROUP",
        "GROUP",
        "group2",
        "consumer2",
        "STREAMS",
        "s",
        ">",
    ]);
    raw.expect(
        &[
            "XACKDEL", "s", "group1", "KEEPREF", "IDS", "2", "1-0", "2-0",
        ],
        b"*2\r\n:1\r\n:1\r\n",
    );
    raw.expect(
        &[
            "XACKDEL", "s", "group2", "KEEPREF", "IDS", "2", "1-0", "2-0",
        ],
        b"*2\r\n:1\r\n:1\r\n",
    );
    raw.expect(
        &["XPENDING", "s", "group2"],
        b"*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n",
    );
}

#[test]

fn xackdel_missing_group_and_extra_ids_reply_like_redis() {
    let target = RespTarget::start();
    if target.skip_on_redis("XACKDEL is Redis 8.2") {
        return;
    }
    let mut raw = Raw::connect(target.addr);
    // Redis's stream-cgroups.tcl: "XACKDEL should return empty array when key doesn't
    // exist or group doesn't exist", "XACKDEL IDS parameter validation".
    raw.expect(&["XADD", "s", "1-0", "f", "v"], b"$3\r\n1-0\r\n");
    raw.expect(
        &["XACKDEL", "s", "g", "IDS", "2", "1-1", "2-2"],
        b"*2\r\n:-1\r\n:-1\r\n",
    );
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    raw.expect(
        &["XACKDEL", "s", "g", "IDS", "1", "1-1", "2-2"],
        b"-ERR syntax error\r\n",
    );
}

// ---- Redis 8.4: XREADGROUP CLAIM (not in Redis 7.0) -----------------------------------------

#[test]
fn xreadgroup_claim_returns_idle_pending_entries_first() {
    let target = RespTarget::start();
    if target.skip_on_redis("XREADGROUP CLAIM is Redis 8.4") {
        return;
    }
    let mut raw = Raw::connect(target.addr);
    add_entries(
        &mut raw,
        "s",
        &[("1-0", "f", "v1"), ("2-0", "f", "v2"), ("3-0", "f", "v3")],
    );
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    raw.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c1",
        "COUNT",
        "2",
        "STREAMS",
        "s",
        ">",
    ]);
    // 1-0 idle 60 s, 2-0 idle 90 s.
    raw.expect(
        &[
            "XCLAIM", "s", "g", "c1", "0", "1-0", "IDLE", "60000", "JUSTID",
        ],
        b"*1\r\n$3\r\n1-0\r\n",
    );
    raw.expect(
        &[
            "XCLAIM", "s", "g", "c1", "0", "2-0", "IDLE", "90000", "JUSTID",
        ],
        b"*1\r\n$3\r\n2-0\r\n",
    );
    // Claimed entries first, longest idle first, with [id, fields, idle ms,
    // deliveries before this one]; then new entries with 0 0.
    let reply = items(val(
        &mut raw,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c2",
            "CLAIM",
            "30000",
            "STREAMS",
            "s",
            ">",
        ],
    ));
    assert_eq!(reply.len(), 1);
    let stream = items(reply[0].clone());
    assert_eq!(stream[0], bulk("s"));
    let got: Vec<Vec<V>> = items(stream[1].clone()).into_iter().map(items).collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0][..2], [bulk("2-0"), arr(vec![bulk("f"), bulk("v2")])]);
    assert!((90_000..100_000).contains(&int(&got[0][2])), "{got:?}");
    assert_eq!(got[0][3], V::Int(1));
    assert_eq!(got[1][..2], [bulk("1-0"), arr(vec![bulk("f"), bulk("v1")])]);
    assert!((60_000..70_000).contains(&int(&got[1][2])), "{got:?}");
    assert_eq!(got[1][3], V::Int(1));
    assert_eq!(
        got[2],
        [
            bulk("3-0"),
            arr(vec![bulk("f"), bulk("v3")]),
            V::Int(0),
            V::Int(0)
        ]
    );
    // Ownership moved, the claim counted as a delivery.
    assert_eq!(
        pel(&mut raw, "s", "g"),
        [
            row("1-0", "c2", 2),
            row("2-0", "c2", 2),
            row("3-0", "c2", 1)
        ]
    );
    // Nothing idle and nothing new: null.
    raw.expect(
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c3",
            "CLAIM",
            "30000",
            "STREAMS",
            "s",
            ">",
        ],
        b"*-1\r\n",
    );

    // COUNT is shared: claimed entries use it first.
    raw.expect(&["XADD", "s", "4-0", "f", "v4"], b"$3\r\n4-0\r\n");
    raw.expect(
        &[
            "XCLAIM", "s", "g", "c2", "0", "3-0", "IDLE", "50000", "JUSTID",
        ],
        b"*1\r\n$3\r\n3-0\r\n",
    );
    let reply = items(val(
        &mut raw,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c3",
            "COUNT",
            "1",
            "CLAIM",
            "40000",
            "STREAMS",
            "s",
            ">",
        ],
    ));
    let got: Vec<Vec<V>> = items(items(reply[0].clone())[1].clone())
        .into_iter()
        .map(items)
        .collect();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0][0], bulk("3-0"));
    assert_eq!(got[0][3], V::Int(1));
    // CLAIM 0: every pending entry is claimable, then the new one.
    let reply = items(val(
        &mut raw,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c4",
            "CLAIM",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    ));
    let got: Vec<Vec<V>> = items(items(reply[0].clone())[1].clone())
        .into_iter()
        .map(items)
        .collect();
    let ids: Vec<V> = got.iter().map(|e| e[0].clone()).collect();
    assert_eq!(ids.last(), Some(&bulk("4-0")));
    assert_eq!(ids.len(), 4, "{got:?}");
    assert_eq!(got[3][2..], [V::Int(0), V::Int(0)]);

    // With an ID other than `>`, CLAIM is ignored: the plain 2-element history.
    raw.expect(
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c4",
            "COUNT",
            "1",
            "CLAIM",
            "0",
            "STREAMS",
            "s",
            "0",
        ],
        b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv1\r\n",
    );
    raw.expect(
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c4",
            "CLAIM",
            "-10",
            "STREAMS",
            "s",
            ">",
        ],
        b"-ERR min-idle-time must be a positive integer\r\n",
    );
    raw.expect(
        &[
            "XREADGROUP",
            "GROUP",
            "nog",
            "c4",
            "CLAIM",
            "50",
            "STREAMS",
            "s",
            ">",
        ],
        b"-NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option\r\n",
    );
}

#[test]

fn xreadgroup_claim_non_integer_min_idle_time_error() {
    let target = RespTarget::start();
    if target.skip_on_redis("XREADGROUP CLAIM is Redis 8.4") {
        return;
    }
    let mut raw = Raw::connect(target.addr);
    raw.expect(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"], b"+OK\r\n");
    for bad in ["test", "5.5", "+10", "-0", "10e"] {
        raw.expect(
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "CLAIM",
                bad,
                "STREAMS",
                "s",
                ">",
            ],
            b"-ERR min-idle-time is not an integer\r\n",
        );
    }
}

// ---- found by differential testing against redis-server 7.0 -------------------------

#[test]
fn lag_follows_redis_when_entries_were_deleted() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    // A deleted head entry is not lag.
    add_entries(&mut raw, "s", &[("1-0", "f", "v"), ("2-0", "f", "v")]);
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    raw.expect(&["XDEL", "s", "1-0"], b":1\r\n");
    assert_eq!(get(&group_info(&mut raw, "s", "g"), "lag"), &V::Int(1));
    // Entries counted by XSETID ENTRIESADDED into an empty stream are not lag.
    raw.expect(&["XGROUP", "CREATE", "e", "g", "0", "MKSTREAM"], b"+OK\r\n");
    raw.expect(&["XSETID", "e", "5-0", "ENTRIESADDED", "100"], b"+OK\r\n");
    assert_eq!(get(&group_info(&mut raw, "e", "g"), "lag"), &V::Int(0));
    // A group told it read more than was ever added has a negative lag, as Redis's
    // `long long` arithmetic gives (FINDINGS #42).
    raw.expect(&["XADD", "n", "1-0", "f", "v"], b"$3\r\n1-0\r\n");
    raw.expect(
        &["XGROUP", "CREATE", "n", "g", "3-2", "ENTRIESREAD", "100"],
        b"+OK\r\n",
    );
    assert_eq!(get(&group_info(&mut raw, "n", "g"), "lag"), &V::Int(-99));
    // A deleted entry after what the group read makes the lag unknown.
    one_of_three_read(&mut raw, "m");
    raw.expect(&["XDEL", "m", "2-0"], b":1\r\n");
    assert_eq!(get(&group_info(&mut raw, "m", "g"), "lag"), &V::Bulk(None));
}

#[test]
fn xgroup_ids_refused_before_mkstream_and_setid_takes_minus_and_plus() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    raw.expect(
        &["XGROUP", "CREATE", "s", "g", "1.5", "MKSTREAM"],
        b"-ERR Invalid stream ID specified as stream command argument\r\n",
    );
    raw.expect(&["EXISTS", "s"], b":0\r\n");
    add_entries(&mut raw, "s", &[("1-0", "f", "v"), ("2-0", "f", "v")]);
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    assert_eq!(
        setid(&mut raw, "s", "g", "+"),
        "18446744073709551615-18446744073709551615"
    );
    assert_eq!(setid(&mut raw, "s", "g", "-"), "0-0");
    // CREATE parses strictly.
    raw.expect(
        &["XGROUP", "CREATE", "s", "g2", "+"],
        b"-ERR Invalid stream ID specified as stream command argument\r\n",
    );
    // Too many arguments: the subcommand's own error.
    raw.expect(
        &[
            "XGROUP",
            "CREATE",
            "s",
            "g3",
            "$",
            "MKSTREAM",
            "ENTRIESREAD",
            "1",
            "x",
        ],
        b"-ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP.\r\n",
    );
    // SETID looks the group up first.
    raw.expect(
        &["XGROUP", "SETID", "s", "nogroup", "1.5"],
        b"-NOGROUP No such consumer group 'nogroup' for key name 's'\r\n",
    );
}

#[test]
fn xautoclaim_start_is_an_interval_bound() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    add_entries(&mut raw, "s", &[("1-0", "f", "v"), ("2-0", "f", "v")]);
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    raw.cmd(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]);
    raw.expect(
        &["XAUTOCLAIM", "s", "g", "c2", "0", "+", "JUSTID"],
        b"*3\r\n$3\r\n0-0\r\n*0\r\n*0\r\n",
    );
    raw.expect(
        &["XAUTOCLAIM", "s", "g", "c2", "0", "(1-0", "JUSTID"],
        b"*3\r\n$3\r\n0-0\r\n*1\r\n$3\r\n2-0\r\n*0\r\n",
    );
    raw.expect(
        &["XAUTOCLAIM", "s", "g", "c2", "0", "-", "COUNT", "x"],
        b"-ERR COUNT must be > 0\r\n",
    );
}

#[test]
fn lag_follows_redis_7_4_2_and_xdelex_moves_max_deleted_entry_id() {
    let target = RespTarget::start();
    if target.skip_on_redis("the lag formula of Redis 7.4.2+ and XDELEX (8.2)") {
        return;
    }
    let mut raw = Raw::connect(target.addr);
    // redis#13337: the group and the last deletion are both before the first entry,
    // so the lag is the length (Redis before 7.4.2 said 2).
    raw.expect(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"], b"+OK\r\n");
    add_entries(&mut raw, "s", &[("0-1", "f", "v"), ("0-2", "f", "v")]);
    raw.cmd(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]);
    add_entries(&mut raw, "s", &[("0-3", "f", "v"), ("0-4", "f", "v")]);
    raw.expect(&["XDEL", "s", "0-1", "0-2", "0-3"], b":3\r\n");
    assert_eq!(get(&group_info(&mut raw, "s", "g"), "lag"), &V::Int(1));
    // XDELEX deletes like XDEL: max-deleted-entry-id moves, and an unread deleted
    // entry makes the lag unknown.
    one_of_three_read(&mut raw, "x");
    raw.expect(&["XDELEX", "x", "IDS", "1", "3-0"], b"*1\r\n:1\r\n");
    raw.send(&enc_str(&["XINFO", "STREAM", "x"]));
    let info = crate::resp_raw::xinfo_pairs(&raw.frame());
    assert_eq!(info["max-deleted-entry-id"], bulk("3-0"));
    assert_eq!(get(&group_info(&mut raw, "x", "g"), "lag"), &V::Bulk(None));
}
