//! `brook status`: what the server is and has.

use std::io::{self, Write};

use anyhow::Result;
use clap::Args;

use super::output;
use super::types::Status;
use super::ClientArgs;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub client: ClientArgs,
}

pub fn run(args: StatusArgs) -> Result<()> {
    let client = args.client.client()?;
    let status: Status = client.get("/v1/status")?;
    let mut out = io::stdout().lock();
    if args.client.json {
        output::write_json(&mut out, &status)?;
    } else {
        write_status(&mut out, &status)?;
    }
    Ok(())
}

fn write_status(out: &mut impl Write, status: &Status) -> io::Result<()> {
    let listener = |addr: &Option<String>| addr.clone().unwrap_or_else(|| "off".into());
    let disk = match (status.disk_free_bytes, status.disk_total_bytes) {
        (Some(free), Some(total)) => {
            format!("{} free of {}", output::bytes(free), output::bytes(total))
        }
        (Some(free), None) => format!("{} free", output::bytes(free)),
        _ => "unknown".into(),
    };
    output::write_fields(
        out,
        &[
            ("version", status.version.clone()),
            ("uptime", output::uptime(status.uptime_seconds)),
            ("resp", listener(&status.listeners.resp)),
            ("kafka", listener(&status.listeners.kafka)),
            ("http", listener(&status.listeners.http)),
            ("data dir", status.data_dir.clone()),
            ("log size", output::bytes(status.log_bytes)),
            ("disk", disk),
            ("topics", status.topics.to_string()),
            ("partitions", status.partitions.to_string()),
            (
                "connections",
                format!(
                    "{} resp, {} kafka",
                    status.connections.resp, status.connections.kafka
                ),
            ),
        ],
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cli::types::{Connections, Listeners};

    #[test]
    fn status_prints_as_fields() {
        let status = Status {
            version: "0.1.0".into(),
            uptime_seconds: 65.5,
            data_dir: "/d".into(),
            log_bytes: 2048,
            disk_free_bytes: Some(1 << 30),
            disk_total_bytes: Some(4 << 30),
            listeners: Listeners {
                resp: Some("127.0.0.1:6379".into()),
                kafka: None,
                http: Some("127.0.0.1:9644".into()),
            },
            topics: 2,
            partitions: 5,
            connections: Connections { resp: 3, kafka: 0 },
        };
        let mut out = Vec::new();
        write_status(&mut out, &status).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("uptime       1m 5s\n"), "{text}");
        assert!(text.contains("kafka        off\n"), "{text}");
        assert!(
            text.contains("disk         1.0 GiB free of 4.0 GiB\n"),
            "{text}"
        );
        assert!(text.contains("connections  3 resp, 0 kafka\n"), "{text}");
    }
}
