//! Kafka topic names. For now a Kafka topic name maps to the Redis key with the same
//! bytes in database 0; names Kafka forbids are refused (the reversible mapping for
//! Redis keys such as `events:orders` is a later step).

use brook_broker::TopicKey;

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

/// The broker key of a Kafka topic name, or `None` if Kafka forbids the name.
pub fn topic_key(name: &str) -> Option<TopicKey> {
    is_valid_topic_name(name.as_bytes()).then(|| TopicKey::new(0, name.as_bytes().to_vec()))
}

/// The Kafka name of a broker topic, if Kafka can see it (database 0, a valid name).
pub fn kafka_name(key: &TopicKey) -> Option<&str> {
    if key.db != 0 || !is_valid_topic_name(&key.name) {
        return None;
    }
    std::str::from_utf8(&key.name).ok()
}

#[cfg(test)]
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

    #[test]
    fn only_database_zero_and_valid_names_are_visible() {
        assert_eq!(kafka_name(&TopicKey::new(0, &b"t1"[..])), Some("t1"));
        assert_eq!(kafka_name(&TopicKey::new(1, &b"t1"[..])), None);
        assert_eq!(kafka_name(&TopicKey::new(0, &b"a:b"[..])), None);
        assert!(topic_key("a:b").is_none());
    }
}
