//! Integration tests: run the real `brook` binary and talk to it over TCP.
//!
//! One test binary with modules, to keep link time down.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin_api;
mod cli;
mod config;
mod http;
mod kafka_admin;
mod kafka_kcat;
mod kafka_raw;
mod kafka_rdkafka;
mod lifecycle;
mod memory;
mod resp_client;
mod resp_durability;
mod resp_groups;
mod resp_pipeline;
mod resp_raw;
mod resp_refs;
mod resp_scan;
mod resp_strings;
mod util;
