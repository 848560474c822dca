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

/// The Kafka error code for a refused group request.
pub fn group_error_code(error: brook_broker::KafkaGroupError) -> kafka_protocol::ResponseError {
    use brook_broker::KafkaGroupError as E;
    use kafka_protocol::ResponseError as R;
    match error {
        E::InvalidGroupId => R::InvalidGroupId,
        E::InvalidSessionTimeout => R::InvalidSessionTimeout,
        E::InconsistentGroupProtocol => R::InconsistentGroupProtocol,
        E::UnknownMemberId => R::UnknownMemberId,
        E::IllegalGeneration => R::IllegalGeneration,
        E::RebalanceInProgress => R::RebalanceInProgress,
        E::MemberIdRequired => R::MemberIdRequired,
        E::FencedInstanceId => R::FencedInstanceId,
        E::GroupMaxSizeReached => R::GroupMaxSizeReached,
        E::NonEmptyGroup => R::NonEmptyGroup,
        E::GroupIdNotFound => R::GroupIdNotFound,
        E::CoordinatorNotAvailable => R::CoordinatorNotAvailable,
    }
}

/// The error code of an optional group error (0 for none).
pub fn group_code(error: Option<brook_broker::KafkaGroupError>) -> i16 {
    error.map_or(0, |e| group_error_code(e).code())
}

/// The error code of an optional Kafka error (0 for none).
pub fn code(error: Option<kafka_protocol::ResponseError>) -> i16 {
    error.map_or(0, |e| e.code())
}
