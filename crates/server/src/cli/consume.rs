//! `brook consume TOPIC`: reads records through `GET /v1/topics/{name}/records`,
//! partition by partition (or, with `--follow`, one long-polling reader thread per
//! partition), and prints them as text, JSON lines or raw values. With `--group`,
//! it starts from the Kafka group's committed offsets and commits what it printed.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc;

use anyhow::Result;
use base64::Engine as _;
use clap::{Args, ValueEnum};

use super::client::{encode, query, Client};
use super::topic::{describe, topic_path};
use super::types::{RecordOut, Records, ResetGroup, ResetResult};
use super::{parse_db, ClientArgs, Exit, Failure};

/// Records asked for per request at most (the server's cap is 10,000).
const PAGE_RECORDS: u64 = 1000;

#[derive(Debug, Args)]
pub struct ConsumeArgs {
    pub topic: String,
    /// Where to start: beginning, end, offset:N, time:RFC3339 (first record at or
    /// after), id:MS-SEQ (first entry at or after)
    #[arg(long, value_name = "POSITION", default_value = "beginning", value_parser = parse_from)]
    pub from: String,
    /// Kafka consumer group: start from its committed offsets (where it has them,
    /// else --from) and commit what was printed
    #[arg(long, short = 'g', value_name = "GROUP")]
    pub group: Option<String>,
    /// Keep waiting for new records (until interrupted or --count)
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Stop after this many records
    #[arg(long, short = 'n', value_name = "N")]
    pub count: Option<u64>,
    /// Only this partition [default: all]
    #[arg(long, short = 'p', value_name = "P")]
    pub partition: Option<u32>,
    /// text: `partition offset id key value` (tab-separated); json: one JSON object
    /// per line (also --json); raw: values only
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// How long one long poll of --follow waits on the server
    #[arg(long, value_name = "MS", default_value_t = 10_000, hide = true,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub poll_ms: u64,
    /// Redis database of the topic (0-15)
    #[arg(long, value_name = "N", value_parser = parse_db)]
    pub db: Option<u8>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Raw,
}

fn parse_from(text: &str) -> Result<String, String> {
    let ok = match text.split_once(':') {
        None => matches!(text, "beginning" | "end"),
        Some(("offset", n)) => n.parse::<u64>().is_ok(),
        Some(("time", t)) => !t.is_empty(),
        Some(("id", id)) => {
            let mut parts = id.splitn(2, '-');
            parts.next().is_some_and(|ms| ms.parse::<u64>().is_ok())
                && parts.next().is_none_or(|seq| seq.parse::<u64>().is_ok())
        }
        Some(_) => false,
    };
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?}: expected beginning, end, offset:N, time:RFC3339 or id:MS-SEQ"
        ))
    }
}

pub fn run(args: ConsumeArgs) -> Result<()> {
    let client = args.client.client()?;
    let format = if args.client.json {
        Format::Json
    } else {
        args.format
    };
    // Fails early (exit 3) on an unknown topic, and gives the partitions.
    let topic = describe(&client, &args.topic, args.db)?;
    let partitions: Vec<u32> = match args.partition {
        Some(p) if p >= topic.partitions => {
            return Err(Failure::new(
                Exit::NotFound,
                format!(
                    "topic {} has {} partition{}; there is no partition {p}",
                    topic.name,
                    topic.partitions,
                    if topic.partitions == 1 { "" } else { "s" }
                ),
            )
            .into())
        }
        Some(p) => vec![p],
        None => (0..topic.partitions).collect(),
    };
    let committer = match &args.group {
        None => None,
        Some(group) => {
            if topic.db != 0 {
                return Err(
                    Failure::usage("--group: Kafka groups only see topics of database 0").into(),
                );
            }
            let kafka_topic = topic.kafka_name.clone().ok_or_else(|| {
                Failure::usage(format!(
                    "--group: topic {} has no Kafka name (not visible to Kafka)",
                    topic.name
                ))
            })?;
            let committer = Committer {
                path: format!("/v1/groups/kafka/{}/reset", encode(group)),
                kafka_topic,
                by_partition: topic.partitions > 1,
            };
            committer.check(&client, partitions.first().copied().unwrap_or(0))?;
            Some(committer)
        }
    };
    let mut consumer = Consumer {
        client: &client,
        records_path: format!("{}/records", topic_path(&args.topic, None)),
        args: &args,
        format,
        printed: 0,
        printed_up_to: BTreeMap::new(),
        out: io::stdout().lock(),
    };
    let result = if args.follow {
        consumer.follow(&partitions, committer.as_ref())
    } else {
        consumer.drain(&partitions)
    };
    // Commit what was printed, also when reading failed half way.
    if let Some(committer) = &committer {
        let ranges = std::mem::take(&mut consumer.printed_up_to);
        committer.commit(&client, &ranges)?;
    }
    result
}

struct Consumer<'a> {
    client: &'a Client,
    records_path: String,
    args: &'a ConsumeArgs,
    format: Format,
    printed: u64,
    /// Per partition, the offset after the last record printed and not yet
    /// committed.
    printed_up_to: BTreeMap<u32, u64>,
    out: io::StdoutLock<'static>,
}

impl Consumer<'_> {
    fn remaining(&self) -> Option<u64> {
        self.args
            .count
            .map(|count| count.saturating_sub(self.printed))
    }

    fn page(&self) -> u64 {
        self.remaining().unwrap_or(PAGE_RECORDS).min(PAGE_RECORDS)
    }

    /// Reads each partition up to its end, one after the other.
    fn drain(&mut self, partitions: &[u32]) -> Result<()> {
        for &partition in partitions {
            let mut from = self.args.from.clone();
            let mut group = self.args.group.as_deref();
            loop {
                if self.remaining() == Some(0) {
                    return Ok(());
                }
                let records = fetch(
                    self.client,
                    &self.records_path,
                    &Fetch {
                        partition,
                        from: &from,
                        group,
                        count: self.page(),
                        wait_ms: 0,
                        db: self.args.db,
                    },
                )?;
                if records.records.is_empty() {
                    break;
                }
                from = format!("offset:{}", next_offset(&records, partition));
                group = None;
                self.print(&records.records)?;
            }
        }
        Ok(())
    }

    /// One reader thread per partition long-polls and hands pages over; records
    /// are printed (and committed) as they come, until `--count` or an error.
    fn follow(&mut self, partitions: &[u32], committer: Option<&Committer>) -> Result<()> {
        let (tx, rx) = mpsc::sync_channel::<Result<Records, Failure>>(partitions.len());
        for &partition in partitions {
            let tx = tx.clone();
            let client = self.client.clone();
            let path = self.records_path.clone();
            let from = self.args.from.clone();
            let group = self.args.group.clone();
            let wait_ms = self.args.poll_ms;
            let db = self.args.db;
            let page = self.page();
            std::thread::spawn(move || {
                let mut from = from;
                let mut group = group;
                loop {
                    let fetched = fetch(
                        &client,
                        &path,
                        &Fetch {
                            partition,
                            from: &from,
                            group: group.as_deref(),
                            count: page,
                            wait_ms,
                            db,
                        },
                    );
                    let stop = fetched.is_err();
                    if let Ok(records) = &fetched {
                        from = format!("offset:{}", next_offset(records, partition));
                        group = None;
                        if records.records.is_empty() {
                            continue;
                        }
                    }
                    if tx.send(fetched).is_err() || stop {
                        return;
                    }
                }
            });
        }
        drop(tx);
        while self.remaining() != Some(0) {
            let Ok(fetched) = rx.recv() else {
                return Ok(());
            };
            self.print(&fetched?.records)?;
            if let Some(committer) = committer {
                let ranges = std::mem::take(&mut self.printed_up_to);
                committer.commit(self.client, &ranges)?;
            }
        }
        Ok(())
    }

    /// Prints records (up to `--count`), noting how far each partition got.
    fn print(&mut self, records: &[RecordOut]) -> Result<()> {
        let take = self.remaining().unwrap_or(u64::MAX);
        let take = usize::try_from(take).unwrap_or(usize::MAX);
        for record in records.iter().take(take) {
            write_record(&mut self.out, self.format, record)?;
            self.printed += 1;
            self.printed_up_to
                .insert(record.partition, record.offset.saturating_add(1));
        }
        self.out.flush()?;
        Ok(())
    }
}

struct Fetch<'a> {
    partition: u32,
    from: &'a str,
    group: Option<&'a str>,
    count: u64,
    wait_ms: u64,
    db: Option<u8>,
}

fn fetch(client: &Client, path: &str, fetch: &Fetch<'_>) -> Result<Records, Failure> {
    let mut pairs = vec![
        ("from", fetch.from.to_string()),
        ("partition", fetch.partition.to_string()),
        ("count", fetch.count.to_string()),
    ];
    if fetch.wait_ms > 0 {
        pairs.push(("wait_ms", fetch.wait_ms.to_string()));
    }
    if let Some(group) = fetch.group {
        pairs.push(("group", group.to_string()));
    }
    if let Some(db) = fetch.db {
        pairs.push(("db", db.to_string()));
    }
    client.get(&format!("{path}{}", query(&pairs)))
}

/// Where to continue on `partition`: the answer's `next`, else after its last
/// record.
fn next_offset(records: &Records, partition: u32) -> u64 {
    records
        .next
        .iter()
        .find(|(p, _)| *p == partition)
        .map(|(_, offset)| *offset)
        .or_else(|| {
            records
                .records
                .iter()
                .rfind(|r| r.partition == partition)
                .map(|r| r.offset + 1)
        })
        .unwrap_or(0)
}

/// Commits printed offsets to a Kafka group through the reset endpoint
/// (`offset:N`, executed), one partition at a time.
struct Committer {
    path: String,
    kafka_topic: String,
    /// Name the partition in the request (multi-partition topics).
    by_partition: bool,
}

impl Committer {
    /// Before anything is read: a server that does not know `partition` in a
    /// reset would move every partition of the topic, so a dry run must show it
    /// moving only the one named.
    fn check(&self, client: &Client, partition: u32) -> Result<(), Failure> {
        if !self.by_partition {
            return Ok(());
        }
        let body = ResetGroup {
            to: "earliest".into(),
            topic: Some(self.kafka_topic.clone()),
            partition: Some(partition),
            execute: false,
        };
        let plan: ResetResult = client.post(&self.path, &body)?;
        if plan.partitions.iter().any(|p| p.partition != partition) {
            return Err(Failure::new(
                Exit::Failure,
                "--group: this server cannot commit one partition of a topic at a time \
                 (it ignores `partition` in group resets); with a topic of several \
                 partitions, --group needs a newer server",
            ));
        }
        Ok(())
    }

    fn commit(&self, client: &Client, up_to: &BTreeMap<u32, u64>) -> Result<(), Failure> {
        for (&partition, &offset) in up_to {
            let body = ResetGroup {
                to: format!("offset:{offset}"),
                topic: Some(self.kafka_topic.clone()),
                partition: self.by_partition.then_some(partition),
                execute: true,
            };
            let _: ResetResult = client.post(&self.path, &body).map_err(|failure| {
                Failure::new(
                    failure.exit,
                    format!(
                        "committing offset {offset} of partition {partition}: {}",
                        failure.message
                    ),
                )
            })?;
        }
        Ok(())
    }
}

fn write_record(out: &mut impl Write, format: Format, record: &RecordOut) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer(&mut *out, record).map_err(io::Error::from)?;
            writeln!(out)
        }
        Format::Raw => {
            if let Some(value) = &record.value {
                out.write_all(value.as_bytes())?;
            } else if let Some(value) = &record.value_base64 {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(value)
                    .map_err(io::Error::other)?;
                out.write_all(&bytes)?;
            }
            writeln!(out)
        }
        Format::Text => writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            record.partition,
            record.offset,
            record.id,
            text_key(record),
            text_value(record)
        ),
    }
}

fn text_key(record: &RecordOut) -> String {
    match (&record.key, &record.key_base64) {
        (Some(key), _) => key.clone(),
        (None, Some(b64)) => format!("base64:{b64}"),
        (None, None) => "-".into(),
    }
}

fn text_value(record: &RecordOut) -> String {
    match (&record.value, &record.value_base64, &record.fields) {
        (Some(value), _, _) => value.clone(),
        // A Redis entry stored as a binary field list: its fields are clearer.
        (None, Some(_), Some(fields)) => fields
            .iter()
            .map(|(f, v)| format!("{f}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        (None, Some(b64), None) => format!("base64:{b64}"),
        (None, None, _) => "(null)".into(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn record(partition: u32, offset: u64) -> RecordOut {
        RecordOut {
            partition,
            offset,
            id: format!("{offset}-0"),
            timestamp_ms: 0,
            key: None,
            key_base64: None,
            value: None,
            value_base64: None,
            headers: Vec::new(),
            fields: None,
        }
    }

    #[test]
    fn positions_are_checked() {
        for good in [
            "beginning",
            "end",
            "offset:0",
            "offset:17",
            "time:2024-05-01T10:00:00Z",
            "id:1700000000000-3",
            "id:1700000000000",
        ] {
            assert!(parse_from(good).is_ok(), "{good}");
        }
        for bad in [
            "start",
            "offset:",
            "offset:-1",
            "time:",
            "id:x-1",
            "id:1-2-3",
            "17",
        ] {
            assert!(parse_from(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn next_offset_prefers_the_answer_then_the_last_record() {
        let records = Records {
            records: vec![record(0, 4), record(1, 9)],
            next: vec![(0, 7)],
        };
        assert_eq!(next_offset(&records, 0), 7);
        assert_eq!(next_offset(&records, 1), 10);
        assert_eq!(next_offset(&records, 2), 0);
    }

    #[test]
    fn records_print_as_text_json_and_raw() {
        let mut kafka = record(1, 5);
        kafka.key = Some("o-17".into());
        kafka.value = Some("{\"total\":12}".into());
        let mut blob = record(0, 2);
        blob.value_base64 = Some("/wA=".into());
        let mut fields = record(0, 3);
        fields.value_base64 = Some("AAAA".into());
        fields.fields = Some(vec![("img".into(), "b64:/w==".into())]);
        let tombstone = record(0, 4);

        let mut out = Vec::new();
        for r in [&kafka, &blob, &fields, &tombstone] {
            write_record(&mut out, Format::Text, r).unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1\t5\t5-0\to-17\t{\"total\":12}\n\
             0\t2\t2-0\t-\tbase64:/wA=\n\
             0\t3\t3-0\t-\timg=b64:/w==\n\
             0\t4\t4-0\t-\t(null)\n"
        );

        let mut out = Vec::new();
        for r in [&kafka, &blob, &tombstone] {
            write_record(&mut out, Format::Raw, r).unwrap();
        }
        assert_eq!(out, b"{\"total\":12}\n\xff\x00\n\n");

        let mut out = Vec::new();
        write_record(&mut out, Format::Json, &kafka).unwrap();
        let line = String::from_utf8(out).unwrap();
        assert_eq!(line.lines().count(), 1);
        let back: RecordOut = serde_json::from_str(&line).unwrap();
        assert_eq!(back, kafka);
    }
}
