//! Pipelined XADDs to one stream are appended together (one write, one durability
//! wait). These tests pin that the replies are exactly those of running the commands
//! one by one, including when one of them must fail.

use crate::resp_raw::{enc_str, Raw};
use crate::util::RespTarget;

fn pipeline(cmds: &[&[&str]]) -> Vec<u8> {
    cmds.iter().flat_map(|c| enc_str(c)).collect()
}

#[test]
fn a_pipelined_run_with_a_refused_id_answers_each_command_in_order() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    raw.send(&pipeline(&[
        &["XADD", "p", "5-1", "a", "1"],
        &["XADD", "p", "5-2", "a", "2"],
        &["XADD", "p", "5-2", "a", "dup"],
        &["XADD", "p", "6-*", "a", "3"],
        &["XADD", "p", "0-0", "a", "4"],
        &["XADD", "p", "7-0", "x"],
        &["XLEN", "p"],
    ]));
    let expected: &[&[u8]] = &[
        b"$3\r\n5-1\r\n",
        b"$3\r\n5-2\r\n",
        b"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n",
        b"$3\r\n6-0\r\n",
        b"-ERR The ID specified in XADD must be greater than 0-0\r\n",
        b"-ERR wrong number of arguments for 'xadd' command\r\n",
        b":3\r\n",
    ];
    for want in expected {
        assert_eq!(raw.frame(), want.to_vec());
    }
}

#[test]
fn a_pipelined_run_of_mixed_field_shapes_keeps_every_entry_exact() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    // Different field shapes are stored in different forms; the run still answers in
    // order and every entry reads back as written.
    raw.send(&pipeline(&[
        &["XADD", "m", "1-1", "key", "k", "value", "v"],
        &["XADD", "m", "1-2", "a", "1", "b", "2"],
        &["XADD", "m", "1-3", "a", "1", "a", "2"],
        &["XADD", "m", "1-4", "key", "k2", "value", "v2"],
    ]));
    for id in ["1-1", "1-2", "1-3", "1-4"] {
        assert_eq!(raw.frame(), format!("$3\r\n{id}\r\n").into_bytes());
    }
    raw.expect(
        &["XRANGE", "m", "-", "+"],
        b"*4\r\n\
*2\r\n$3\r\n1-1\r\n*4\r\n$3\r\nkey\r\n$1\r\nk\r\n$5\r\nvalue\r\n$1\r\nv\r\n\
*2\r\n$3\r\n1-2\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n\
*2\r\n$3\r\n1-3\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n2\r\n\
*2\r\n$3\r\n1-4\r\n*4\r\n$3\r\nkey\r\n$2\r\nk2\r\n$5\r\nvalue\r\n$2\r\nv2\r\n",
    );
}
