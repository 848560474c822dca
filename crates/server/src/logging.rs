//! Log setup: `tracing` events to stderr, human-readable or JSON lines, filtered by
//! `RUST_LOG` (default `info`).
//!
//! `RUST_LOG` takes a default level and per-target levels, e.g.
//! `debug` or `info,brook=debug,hyper=warn`.

use std::io::IsTerminal as _;

use anyhow::anyhow;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::config::LogFormat;

/// Installs the global subscriber. Returns a warning to log if `RUST_LOG` could not
/// be parsed (the default `info` is used then).
pub fn init(format: LogFormat) -> anyhow::Result<Option<String>> {
    let (filter, warning) = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => match spec.parse::<Targets>() {
            Ok(targets) => (targets, None),
            Err(error) => (
                Targets::new().with_default(LevelFilter::INFO),
                Some(format!(
                    "ignoring RUST_LOG={spec:?} ({error}); logging at info"
                )),
            ),
        },
        _ => (Targets::new().with_default(LevelFilter::INFO), None),
    };
    // The builder's own level cap (info by default) would hide `debug` and `trace`
    // whatever `RUST_LOG` says: it lets everything through and `filter` decides.
    let builder = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Human => tracing::subscriber::set_global_default(
            builder
                .with_ansi(std::io::stderr().is_terminal())
                .finish()
                .with(filter),
        ),
        LogFormat::Json => tracing::subscriber::set_global_default(
            builder
                .json()
                .with_ansi(false)
                .with_current_span(false)
                .finish()
                .with(filter),
        ),
    };
    installed.map_err(|e| anyhow!("cannot install the log subscriber: {e}"))?;
    Ok(warning)
}
