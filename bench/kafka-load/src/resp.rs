//! Deleting a finished row's topics through Brook's RESP listener (`DEL`), so a full
//! run keeps a few GB on disk at a time instead of everything it wrote. Brook's
//! Kafka API has no DeleteTopics; a Kafka topic whose name is a valid Kafka name not
//! starting with `_` is the Redis key of the same name (crates/kafka-server
//! `names.rs`), and `DEL` on it removes the topic and its files.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};

const TIMEOUT: Duration = Duration::from_secs(30);
/// Longest reply line read.
const REPLY_BYTES_MAX: usize = 4096;

/// `DEL key` on the RESP server at `addr`; returns how many keys were removed.
pub fn del(addr: &str, key: &str) -> Result<i64> {
    let mut conn = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    conn.set_read_timeout(Some(TIMEOUT))?;
    conn.set_write_timeout(Some(TIMEOUT))?;
    let command = format!("*2\r\n$3\r\nDEL\r\n${}\r\n{key}\r\n", key.len());
    conn.write_all(command.as_bytes())?;
    let mut reply = String::new();
    BufReader::new(std::io::Read::take(&conn, REPLY_BYTES_MAX as u64))
        .read_line(&mut reply)
        .context("reading the DEL reply")?;
    match reply.trim_end().strip_prefix(':') {
        Some(n) => n
            .parse()
            .with_context(|| format!("DEL {key} replied {reply:?}")),
        None => bail!("DEL {key} replied {:?}", reply.trim_end()),
    }
}
