//! Why a Kafka connection is closed. (Errors a client can act on are sent as Kafka
//! error codes in responses instead.)

/// A reason to close a connection: Kafka closes the connection on a request it
/// cannot parse, an unknown API or an unsupported version (except `ApiVersions`,
/// which answers so the client can downgrade).
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("request frame of {len} bytes is outside 12..={max}")]
    FrameSize { len: i64, max: usize },
    #[error("unknown API key {0}")]
    UnknownApi(i16),
    #[error("{api} v{version} is not supported")]
    UnsupportedVersion { api: &'static str, version: i16 },
    #[error("cannot decode {what} (v{version}): {message}")]
    Decode {
        what: &'static str,
        version: i16,
        message: String,
    },
    #[error("cannot encode {what} (v{version}): {message}")]
    Encode {
        what: &'static str,
        version: i16,
        message: String,
    },
}
