//! Redis stream IDs (`ms-seq`) and the rules `XADD` applies when it assigns one.

use std::fmt;
use std::str::FromStr;

/// A Redis stream ID: milliseconds and a sequence number. Ordered lexicographically by
/// `(ms, seq)`, which is the order of entries within a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const ZERO: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The smallest ID strictly greater than `self`, if any.
    pub fn successor(self) -> Option<StreamId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(StreamId { ms: self.ms, seq }),
            None => self.ms.checked_add(1).map(|ms| StreamId { ms, seq: 0 }),
        }
    }

    /// Encodes as 16 big-endian bytes (ms then seq), which sort like the ID.
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.ms.to_be_bytes());
        out[8..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    pub fn from_be_bytes(b: [u8; 16]) -> StreamId {
        let mut ms = [0u8; 8];
        let mut seq = [0u8; 8];
        ms.copy_from_slice(&b[..8]);
        seq.copy_from_slice(&b[8..]);
        StreamId {
            ms: u64::from_be_bytes(ms),
            seq: u64::from_be_bytes(seq),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid stream ID {0:?}: expected MS or MS-SEQ with decimal u64 parts")]
pub struct ParseStreamIdError(pub String);

impl FromStr for StreamId {
    type Err = ParseStreamIdError;

    /// Parses `ms-seq` or a bare `ms` (seq 0).
    fn from_str(s: &str) -> Result<StreamId, ParseStreamIdError> {
        let err = || ParseStreamIdError(s.to_string());
        let parse = |p: &str| -> Result<u64, ParseStreamIdError> {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            p.parse::<u64>().map_err(|_| err())
        };
        match s.split_once('-') {
            Some((ms, seq)) => Ok(StreamId::new(parse(ms)?, parse(seq)?)),
            None => Ok(StreamId::new(parse(s)?, 0)),
        }
    }
}

/// How the ID of an appended record is chosen (Redis `XADD` ID argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSpec {
    /// `*`: milliseconds from the clock, sequence chosen by the log.
    Auto,
    /// `ms-*`: given milliseconds, sequence chosen by the log.
    AutoSeq(u64),
    /// `ms-seq`: exactly this ID.
    Explicit(StreamId),
}

/// Why an ID could not be assigned. The messages are Redis's own (without `ERR `).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamIdError {
    #[error("The ID specified in XADD is equal or smaller than the target stream top item")]
    NotGreaterThanLast,
    #[error("The ID specified in XADD must be greater than 0-0")]
    Zero,
    #[error("The stream has exhausted the last possible ID, unable to add more items")]
    Exhausted,
}

impl IdSpec {
    /// Assigns an ID following Redis's rules, given the partition's last ID (`None`
    /// if nothing was ever appended) and the clock.
    pub fn assign(self, last: Option<StreamId>, now_ms: u64) -> Result<StreamId, StreamIdError> {
        let last = last.unwrap_or(StreamId::ZERO);
        match self {
            IdSpec::Explicit(id) => {
                if id == StreamId::ZERO {
                    Err(StreamIdError::Zero)
                } else if id <= last {
                    Err(StreamIdError::NotGreaterThanLast)
                } else {
                    Ok(id)
                }
            }
            IdSpec::AutoSeq(ms) => {
                if ms < last.ms {
                    Err(StreamIdError::NotGreaterThanLast)
                } else if ms == last.ms {
                    let seq = last
                        .seq
                        .checked_add(1)
                        .ok_or(StreamIdError::NotGreaterThanLast)?;
                    Ok(StreamId::new(ms, seq))
                } else {
                    Ok(StreamId::new(ms, 0))
                }
            }
            IdSpec::Auto => {
                if now_ms > last.ms {
                    Ok(StreamId::new(now_ms, 0))
                } else {
                    last.successor().ok_or(StreamIdError::Exhausted)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_ids_follow_redis_rules() {
        assert_eq!(IdSpec::Auto.assign(None, 5), Ok(StreamId::new(5, 0)));
        // The clock went backwards: reuse the last ms and bump seq.
        let last = StreamId::new(10, 3);
        assert_eq!(IdSpec::Auto.assign(Some(last), 7), Ok(StreamId::new(10, 4)));
        let full = StreamId::new(10, u64::MAX);
        assert_eq!(IdSpec::Auto.assign(Some(full), 7), Ok(StreamId::new(11, 0)));
        assert_eq!(
            IdSpec::Auto.assign(Some(StreamId::MAX), 7),
            Err(StreamIdError::Exhausted)
        );
    }

    #[test]
    fn auto_seq_and_explicit_ids() {
        assert_eq!(IdSpec::AutoSeq(0).assign(None, 0), Ok(StreamId::new(0, 1)));
        let last = StreamId::new(10, 3);
        assert_eq!(
            IdSpec::AutoSeq(10).assign(Some(last), 0),
            Ok(StreamId::new(10, 4))
        );
        assert_eq!(
            IdSpec::AutoSeq(11).assign(Some(last), 0),
            Ok(StreamId::new(11, 0))
        );
        assert_eq!(
            IdSpec::AutoSeq(9).assign(Some(last), 0),
            Err(StreamIdError::NotGreaterThanLast)
        );
        assert_eq!(
            IdSpec::Explicit(StreamId::ZERO).assign(None, 0),
            Err(StreamIdError::Zero)
        );
        assert_eq!(
            IdSpec::Explicit(last).assign(Some(last), 0),
            Err(StreamIdError::NotGreaterThanLast)
        );
    }

    #[test]
    fn parse_and_display() {
        assert_eq!("1-2".parse::<StreamId>(), Ok(StreamId::new(1, 2)));
        assert_eq!("7".parse::<StreamId>(), Ok(StreamId::new(7, 0)));
        assert!("1-".parse::<StreamId>().is_err());
        assert!("-1".parse::<StreamId>().is_err());
        assert!("a-1".parse::<StreamId>().is_err());
        assert!("18446744073709551616-0".parse::<StreamId>().is_err());
        assert_eq!(StreamId::new(3, 4).to_string(), "3-4");
        let id = StreamId::new(0x0102, 0x0304);
        assert_eq!(StreamId::from_be_bytes(id.to_be_bytes()), id);
    }
}
