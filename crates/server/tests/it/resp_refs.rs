//! XTRIM / XADD trimming with the Redis 8.2 reference policies (KEEPREF, DELREF,
//! ACKED). Brook-only: redis-server 7 does not know these options.

use crate::resp_raw::Raw;
use crate::util::RespTarget;

fn setup(raw: &mut Raw) {
    for id in ["1-0", "2-0", "3-0", "4-0"] {
        raw.cmd(&["XADD", "s", id, "f", "v"]);
    }
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    raw.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "COUNT",
        "2",
        "STREAMS",
        "s",
        ">",
    ]);
    raw.expect(&["XACK", "s", "g", "1-0"], b":1\r\n");
}

#[test]
fn xtrim_acked_keeps_what_a_group_still_needs_and_delref_drops_references() {
    let target = RespTarget::start();
    if target.skip_on_redis("KEEPREF/DELREF/ACKED are Redis 8.2") {
        return;
    }
    let mut raw = Raw::connect(target.addr);
    setup(&mut raw);
    // 1-0 is read and acknowledged; 2-0 is pending; 3-0 and 4-0 are unread.
    raw.expect(&["XTRIM", "s", "MAXLEN", "0", "ACKED"], b":1\r\n");
    raw.expect(&["XLEN", "s"], b":3\r\n");
    // DELREF trims like KEEPREF and also forgets the trimmed entries' references.
    raw.expect(&["XTRIM", "s", "MAXLEN", "1", "DELREF"], b":2\r\n");
    raw.expect(&["XLEN", "s"], b":1\r\n");
    raw.expect(
        &["XPENDING", "s", "g"],
        b"*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n",
    );
}

#[test]
fn xtrim_keepref_is_the_default_and_keeps_references() {
    let target = RespTarget::start();
    if target.skip_on_redis("KEEPREF is Redis 8.2") {
        return;
    }
    let mut raw = Raw::connect(target.addr);
    setup(&mut raw);
    raw.expect(&["XTRIM", "s", "MAXLEN", "0"], b":4\r\n");
    // 2-0 stays pending although its entry is gone.
    raw.expect(
        &["XPENDING", "s", "g"],
        b"*4\r\n:1\r\n$3\r\n2-0\r\n$3\r\n2-0\r\n*1\r\n*2\r\n$1\r\nc\r\n$1\r\n1\r\n",
    );
    // XADD with MAXLEN and ACKED trims only what every group is done with.
    raw.expect(
        &["XADD", "s", "MAXLEN", "0", "ACKED", "5-0", "f", "v"],
        b"$3\r\n5-0\r\n",
    );
    raw.expect(&["XLEN", "s"], b":1\r\n");
}
