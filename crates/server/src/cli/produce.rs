//! `brook produce TOPIC`: lines from stdin or a file, one record each, sent in
//! batches; prints where each record went.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal as _, Write};
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use base64::Engine as _;
use clap::Args;

use super::client::Client;
use super::output::{self, Table};
use super::topic::topic_path;
use super::types::{NewRecord, Produce, ProduceResult, Produced};
use super::{parse_db, ClientArgs, Failure};

/// Records per request at most.
const BATCH_RECORDS_MAX: usize = 10_000;
/// A request is sent once its records reach this many bytes (the server takes
/// bodies up to 1 MiB; JSON escaping can grow text).
const BATCH_BYTES: usize = 512 * 1024;

#[derive(Debug, Args)]
pub struct ProduceArgs {
    pub topic: String,
    /// Read lines from this file instead of stdin
    #[arg(long, short = 'f', value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Split each line at the first SEP into key and value (lines without it have no key)
    #[arg(long, short = 'K', value_name = "SEP")]
    pub key_separator: Option<String>,
    /// A header for every record (repeatable)
    #[arg(long = "header", short = 'H', value_name = "KEY=VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// Partition for every record [default: by key hash, like Kafka, else 0]
    #[arg(long, short = 'p', value_name = "N")]
    pub partition: Option<u32>,
    /// Records per request
    #[arg(long, value_name = "N", default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(1..=BATCH_RECORDS_MAX as u64))]
    pub batch: u64,
    /// Redis database of the topic (0-15)
    #[arg(long, value_name = "N", value_parser = parse_db)]
    pub db: Option<u8>,
    #[command(flatten)]
    pub client: ClientArgs,
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("{text:?}: expected KEY=VALUE")),
    }
}

pub fn run(args: ProduceArgs) -> Result<()> {
    let client = args.client.client()?;
    let (input, interactive): (Box<dyn BufRead>, bool) = match &args.file {
        Some(path) => {
            let file = File::open(path)
                .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
            (Box::new(BufReader::new(file)), false)
        }
        None => {
            let stdin = io::stdin();
            let interactive = stdin.is_terminal();
            (Box::new(stdin.lock()), interactive)
        }
    };
    // Someone typing wants each line sent as they press enter.
    let batch_records = if interactive { 1 } else { args.batch as usize };
    let path = format!(
        "{}/records{}",
        topic_path(&args.topic, None),
        super::db_query(args.db)
    );
    let mut producer = Producer {
        client: &client,
        path,
        batch: Vec::new(),
        batch_bytes: 0,
        produced: Vec::new(),
    };
    let mut lines = input;
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = lines
            .read_until(b'\n', &mut line)
            .with_context(|| "reading the input".to_string())?;
        if read == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        let record = to_record(&line, &args);
        producer.batch_bytes += line.len() + 64;
        producer.batch.push(record);
        if producer.batch.len() >= batch_records || producer.batch_bytes >= BATCH_BYTES {
            producer.flush()?;
        }
    }
    producer.flush()?;

    let result = ProduceResult {
        records: producer.produced,
    };
    let mut out = io::stdout().lock();
    if args.client.json {
        output::write_json(&mut out, &result)?;
    } else {
        let mut table = Table::new(&[">PARTITION", ">OFFSET", "ID"]);
        for record in &result.records {
            table.row(vec![
                record.partition.to_string(),
                record.offset.to_string(),
                record.id.clone(),
            ]);
        }
        if !table.is_empty() {
            table.write(&mut out)?;
        }
        out.flush()?;
        eprintln!(
            "produced {} record{} to {}",
            result.records.len(),
            if result.records.len() == 1 { "" } else { "s" },
            args.topic
        );
    }
    Ok(())
}

struct Producer<'a> {
    client: &'a Client,
    path: String,
    batch: Vec<NewRecord>,
    batch_bytes: usize,
    produced: Vec<Produced>,
}

impl Producer<'_> {
    fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let body = Produce {
            records: std::mem::take(&mut self.batch),
        };
        self.batch_bytes = 0;
        let result: ProduceResult = self.client.post(&self.path, &body).map_err(|failure| {
            if self.produced.is_empty() {
                failure
            } else {
                Failure::new(
                    failure.exit,
                    format!(
                        "{} (the {} records before this batch were produced)",
                        failure.message,
                        self.produced.len()
                    ),
                )
            }
        })?;
        self.produced.extend(result.records);
        Ok(())
    }
}

/// One line as a record: key and value split at the separator, text as text and
/// other bytes as base64.
fn to_record(line: &[u8], args: &ProduceArgs) -> NewRecord {
    let (key, value) = match args.key_separator.as_deref().map(str::as_bytes) {
        Some(sep) if !sep.is_empty() => match find(line, sep) {
            Some(at) => (
                line.get(..at),
                line.get(at + sep.len()..).unwrap_or_default(),
            ),
            None => (None, line),
        },
        _ => (None, line),
    };
    let mut record = NewRecord {
        headers: args.headers.clone(),
        partition: args.partition,
        ..NewRecord::default()
    };
    if let Some(key) = key {
        match std::str::from_utf8(key) {
            Ok(text) => record.key = Some(text.to_string()),
            Err(_) => {
                record.key_base64 = Some(base64::engine::general_purpose::STANDARD.encode(key))
            }
        }
    }
    match std::str::from_utf8(value) {
        Ok(text) => record.value = Some(text.to_string()),
        Err(_) => {
            record.value_base64 = Some(base64::engine::general_purpose::STANDARD.encode(value))
        }
    }
    record
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: ProduceArgs,
    }

    fn args(extra: &[&str]) -> ProduceArgs {
        let mut argv = vec!["produce", "t"];
        argv.extend_from_slice(extra);
        Wrap::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn lines_become_records() {
        let plain = args(&[]);
        let r = to_record(b"k:v", &plain);
        assert_eq!((r.key, r.value.as_deref()), (None, Some("k:v")));

        let keyed = args(&["-K", "::", "-H", "a=1", "-H", "b=x=y", "-p", "2"]);
        let r = to_record(b"o-17::{\"t\"::1}", &keyed);
        assert_eq!(r.key.as_deref(), Some("o-17"));
        assert_eq!(r.value.as_deref(), Some("{\"t\"::1}"));
        assert_eq!(
            r.headers,
            vec![("a".into(), "1".into()), ("b".into(), "x=y".into())]
        );
        assert_eq!(r.partition, Some(2));
        let r = to_record(b"no separator", &keyed);
        assert_eq!((r.key, r.value.as_deref()), (None, Some("no separator")));
        let r = to_record(b"::", &keyed);
        assert_eq!((r.key.as_deref(), r.value.as_deref()), (Some(""), Some("")));

        let r = to_record(b"\xff\x00", &plain);
        assert_eq!((r.value, r.value_base64.as_deref()), (None, Some("/wA=")));
    }

    #[test]
    fn bad_headers_and_batches_are_usage_errors() {
        assert!(parse_header("novalue").is_err());
        assert!(parse_header("=v").is_err());
        for bad in [
            &["--batch", "0"][..],
            &["--batch", "10001"],
            &["--db", "16"],
        ] {
            let mut argv = vec!["produce", "t"];
            argv.extend_from_slice(bad);
            assert!(Wrap::try_parse_from(argv).is_err(), "{bad:?}");
        }
    }
}
