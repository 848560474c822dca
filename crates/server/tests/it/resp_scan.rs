//! SCAN's guarantee: every key present for the whole iteration is returned, even when
//! other keys are deleted or added between calls.

use crate::resp_raw::{Raw, V};
use crate::util::RespTarget;

fn scan_page(raw: &mut Raw, cursor: &str) -> (String, Vec<String>) {
    raw.send(&crate::resp_raw::enc_str(&["SCAN", cursor, "COUNT", "7"]));
    let V::Array(Some(parts)) = raw.value() else {
        panic!("SCAN reply is not an array")
    };
    let (V::Bulk(Some(next)), V::Array(Some(keys))) = (&parts[0], &parts[1]) else {
        panic!("unexpected SCAN reply shape: {parts:?}")
    };
    let keys = keys
        .iter()
        .map(|k| match k {
            V::Bulk(Some(b)) => String::from_utf8(b.clone()).unwrap(),
            other => panic!("key is not a bulk string: {other:?}"),
        })
        .collect();
    (String::from_utf8(next.clone()).unwrap(), keys)
}

#[test]
fn scan_returns_every_stable_key_while_others_are_deleted_and_added() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    for i in 0..60 {
        raw.cmd(&["SET", &format!("stable:{i}"), "v"]);
        raw.cmd(&["SET", &format!("churn:{i}"), "v"]);
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut round = 0;
    loop {
        let (next, keys) = scan_page(&mut raw, &cursor);
        seen.extend(keys);
        // Between pages, delete some churn keys and add new ones.
        for j in 0..5 {
            raw.cmd(&["DEL", &format!("churn:{}", round * 5 + j)]);
            raw.cmd(&["SET", &format!("new:{round}:{j}"), "v"]);
        }
        round += 1;
        assert!(round < 1000, "SCAN did not terminate");
        if next == "0" {
            break;
        }
        cursor = next;
    }
    for i in 0..60 {
        assert!(
            seen.contains(&format!("stable:{i}")),
            "stable:{i} was never returned"
        );
    }
}
