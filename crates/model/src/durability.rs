//! The fsync policy: when an append is made durable, and when readers see it.
//!
//! Named after Redis's `appendfsync` (`always`, `everysec`, `no`) so that a Redis
//! operator recognises it; the interval form corresponds to Kafka's `flush.ms`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Per-topic durability policy (config key `fsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// An append is acknowledged only after `fdatasync`; readers see only durable
    /// records. Concurrent appends share one fsync (group commit). The default.
    #[default]
    Always,
    /// fsync at most every `ms` milliseconds; appends are acknowledged once written,
    /// and readers see them at once.
    Interval { ms: u64 },
    /// Never fsync on a timer; the OS writes back when it likes. Readers see appends
    /// at once.
    Never,
}

impl Durability {
    /// Whether readers may only see durable records.
    pub fn visible_when_durable(self) -> bool {
        matches!(self, Durability::Always)
    }

    pub fn interval(self) -> Option<Duration> {
        match self {
            Durability::Interval { ms } => Some(Duration::from_millis(ms)),
            _ => None,
        }
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Durability::Always => f.write_str("always"),
            Durability::Interval { ms: 1000 } => f.write_str("everysec"),
            Durability::Interval { ms } => write!(f, "{ms}ms"),
            Durability::Never => f.write_str("never"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fsync policy {0:?}: expected always, everysec, <N>ms (e.g. 100ms), or never")]
pub struct ParseDurabilityError(pub String);

impl FromStr for Durability {
    type Err = ParseDurabilityError;

    fn from_str(s: &str) -> Result<Durability, ParseDurabilityError> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "always" => Ok(Durability::Always),
            "everysec" => Ok(Durability::Interval { ms: 1000 }),
            "never" | "no" => Ok(Durability::Never),
            other => {
                let digits = other.strip_suffix("ms").unwrap_or(other);
                match digits.parse::<u64>() {
                    Ok(ms) if (1..=3_600_000).contains(&ms) => Ok(Durability::Interval { ms }),
                    _ => Err(ParseDurabilityError(s.to_string())),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_redis_and_interval_names() {
        assert_eq!("always".parse(), Ok(Durability::Always));
        assert_eq!("everysec".parse(), Ok(Durability::Interval { ms: 1000 }));
        assert_eq!("100ms".parse(), Ok(Durability::Interval { ms: 100 }));
        assert_eq!("no".parse(), Ok(Durability::Never));
        assert!("0ms".parse::<Durability>().is_err());
        assert!("sometimes".parse::<Durability>().is_err());
        for d in [
            Durability::Always,
            Durability::Interval { ms: 5 },
            Durability::Never,
        ] {
            assert_eq!(d.to_string().parse(), Ok(d));
        }
    }
}
