//! Kafka topic names ↔ Brook topics: the mapping lives in the broker
//! ([`brook_broker::names`]), which also needs it (to find what Kafka groups
//! committed); re-exported here where the Kafka front end uses it.

pub use brook_broker::names::*;
