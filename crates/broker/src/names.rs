//! Kafka topic names ↔ Brook topics (Redis keys of database 0).
//!
//! Redis keys are binary and often contain `:` (`events:orders`), which Kafka names
//! (`[a-zA-Z0-9._-]`, 1 to 249 bytes) may not. The mapping is a bijection between the
//! Kafka names Brook accepts and the keys Kafka can reach (docs/mapping.md):
//!
//! - a key that is already a valid Kafka name and does not start with `_` is its own
//!   Kafka name: `orders` ↔ `orders`, `my_topic` ↔ `my_topic`;
//! - any other key is written as `_` followed by the key with every byte outside
//!   `[a-zA-Z0-9.-]` as `_` + two upper-case hex digits:
//!   `events:orders` ↔ `_events_3Aorders`, `_x` ↔ `__5Fx`, `a b` ↔ `_a_20b`.
//!
//! A Kafka name starting with `_` that is not exactly the encoding of some key (for
//! example `__consumer_offsets`, or `_abc`, whose key `abc` is written `abc`) is
//! refused, so no two names reach one key. Keys whose encoding is longer than 249
//! bytes, and keys of databases 1 to 15, are not visible to Kafka.

use crate::TopicKey;

/// Kafka's limit on a topic name's length.
pub const TOPIC_NAME_LEN_MAX: usize = 249;

/// Whether Kafka allows `name` as a topic name: 1..=249 of `[a-zA-Z0-9._-]`, and not
/// `.` or `..`.
pub fn is_valid_topic_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= TOPIC_NAME_LEN_MAX
        && name != b"."
        && name != b".."
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// Bytes an escaped name carries as they are.
fn is_literal(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The Kafka name of a broker topic, if Kafka can see it.
pub fn kafka_name(key: &TopicKey) -> Option<String> {
    if key.db != 0 {
        return None;
    }
    let name = &key.name;
    if is_valid_topic_name(name) && name.first() != Some(&b'_') {
        return String::from_utf8(name.to_vec()).ok();
    }
    let mut out = String::with_capacity(1 + name.len() * 3);
    out.push('_');
    for &b in name.iter() {
        if is_literal(b) {
            out.push(char::from(b));
        } else {
            out.push('_');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    (out.len() <= TOPIC_NAME_LEN_MAX && out != "_").then_some(out)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The broker key of a Kafka topic name, or `None` if Brook refuses the name.
pub fn topic_key(name: &str) -> Option<TopicKey> {
    let bytes = name.as_bytes();
    if !is_valid_topic_name(bytes) {
        return None;
    }
    let Some(escaped) = bytes.strip_prefix(b"_") else {
        return Some(TopicKey::new(0, bytes.to_vec()));
    };
    let mut key = Vec::with_capacity(escaped.len());
    let mut i = 0;
    while let Some(&b) = escaped.get(i) {
        if b == b'_' {
            let hi = escaped.get(i + 1).copied().and_then(hex_value)?;
            let lo = escaped.get(i + 2).copied().and_then(hex_value)?;
            key.push(hi << 4 | lo);
            i += 3;
        } else {
            key.push(b);
            i += 1;
        }
    }
    let key = TopicKey::new(0, key);
    // Only the canonical spelling of a key is accepted.
    (kafka_name(&key).as_deref() == Some(name)).then_some(key)
}

/// Why [`topic_key`] refuses `name`, for error messages.
pub fn refusal_reason(name: &str) -> String {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > TOPIC_NAME_LEN_MAX {
        format!(
            "Topic name must be 1 to {TOPIC_NAME_LEN_MAX} characters, got {}",
            bytes.len()
        )
    } else if name == "." || name == ".." {
        format!("Topic name cannot be \"{name}\"")
    } else if !is_valid_topic_name(bytes) {
        format!(
            "Topic name \"{name}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        )
    } else {
        format!(
            "Topic name \"{name}\" starts with '_' but is not the escaped form of a Redis key (Brook reserves such names for keys Kafka cannot spell: '_' followed by the key with every byte outside [a-zA-Z0-9.-] written as _XX, e.g. _events_3Aorders for events:orders)"
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kafka_topic_name_rules() {
        assert!(is_valid_topic_name(b"orders"));
        assert!(is_valid_topic_name(b"a.b_c-D9"));
        assert!(is_valid_topic_name(&[b'x'; 249]));
        assert!(!is_valid_topic_name(&[b'x'; 250]));
        assert!(!is_valid_topic_name(b""));
        assert!(!is_valid_topic_name(b"."));
        assert!(!is_valid_topic_name(b".."));
        assert!(!is_valid_topic_name(b"events:orders"));
        assert!(!is_valid_topic_name(b"a b"));
        assert!(!is_valid_topic_name("é".as_bytes()));
    }

    fn key(b: &[u8]) -> TopicKey {
        TopicKey::new(0, b.to_vec())
    }

    #[test]
    fn the_documented_examples() {
        for (k, n) in [
            (&b"orders"[..], "orders"),
            (b"my_topic", "my_topic"),
            (b"events:orders", "_events_3Aorders"),
            (b"_x", "__5Fx"),
            (b"a b", "_a_20b"),
            (b"caf\xc3\xa9", "_caf_C3_A9"),
        ] {
            assert_eq!(kafka_name(&key(k)).as_deref(), Some(n));
            assert_eq!(topic_key(n), Some(key(k)));
        }
    }

    #[test]
    fn non_canonical_and_reserved_names_are_refused() {
        for n in [
            "_abc",
            "__consumer_offsets",
            "_a_3a",
            "_a_3",
            "_",
            "_a_G0",
            "a:b",
        ] {
            assert_eq!(topic_key(n), None, "{n}");
        }
    }

    #[test]
    fn every_key_round_trips_and_other_databases_are_hidden() {
        // All one- and two-byte keys.
        for a in 0..=255u8 {
            for b in [None, Some(b'_'), Some(b':'), Some(0u8), Some(b'z')] {
                let mut k = vec![a];
                k.extend(b);
                let name = kafka_name(&key(&k)).unwrap();
                assert!(is_valid_topic_name(name.as_bytes()), "{name}");
                assert_eq!(topic_key(&name), Some(key(&k)), "{name}");
            }
        }
        assert_eq!(kafka_name(&TopicKey::new(1, &b"t1"[..])), None);
        // Too long once escaped.
        assert_eq!(kafka_name(&key(&[b':'; 100])), None);
    }
}
