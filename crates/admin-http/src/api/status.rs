//! `/v1/status`: what `brook status` shows.

use hyper::StatusCode;

use super::{json, ApiResult, Call};
use crate::types::Status;

pub fn get(call: &Call<'_>) -> ApiResult {
    let state = call.state;
    let stats = state.broker.stats();
    let data_dir = state.broker.config().data_dir.clone();
    let absolute = std::fs::canonicalize(&data_dir).unwrap_or(data_dir);
    let (free, total) = match rustix::fs::statvfs(&absolute) {
        Ok(s) => (
            Some(s.f_bavail.saturating_mul(s.f_frsize)),
            Some(s.f_blocks.saturating_mul(s.f_frsize)),
        ),
        Err(_) => (None, None),
    };
    json(
        StatusCode::OK,
        &Status {
            version: state.version.clone(),
            uptime_seconds: state.uptime().as_secs_f64(),
            data_dir: absolute.display().to_string(),
            log_bytes: stats.log_bytes,
            disk_free_bytes: free,
            disk_total_bytes: total,
            listeners: state.listeners(),
            topics: stats.topics,
            partitions: stats.partitions,
            connections: state.connections(),
        },
    )
}
