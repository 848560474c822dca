//! Deleting a finished row's topics through Brook's RESP listener (`DEL`), so a full
//! run keeps a few GB on disk at a time instead of everything it wrote. A Kafka topic
//! whose name is a valid Kafka name not starting with `_` is the Redis key of the
//! same name (crates/kafka-server `names.rs`), and `DEL` on it removes the topic; its
//! files go in the background, which `INFO memory` counts in
//! `lazyfree_pending_objects` (as Redis counts what `UNLINK` left to free).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

const TIMEOUT: Duration = Duration::from_secs(30);
/// Longest reply line (or INFO memory reply) read.
const REPLY_BYTES_MAX: usize = 4096;
/// Longest wait for the server to finish removing deleted topics' files.
const REMOVAL_TIMEOUT: Duration = Duration::from_secs(120);

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

/// Waits until the server at `addr` has no file removals pending (`INFO memory`
/// reports `lazyfree_pending_objects:0`), so a row does not share the disk with the
/// freeing of the previous row's gigabytes. Returns how long that took.
pub fn wait_for_removals(addr: &str) -> Result<Duration> {
    let start = Instant::now();
    let mut conn = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    conn.set_read_timeout(Some(TIMEOUT))?;
    conn.set_write_timeout(Some(TIMEOUT))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    loop {
        conn.write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n")?;
        let mut head = String::new();
        reader
            .by_ref()
            .take(REPLY_BYTES_MAX as u64)
            .read_line(&mut head)
            .context("reading the INFO reply")?;
        let len: usize = match head.trim_end().strip_prefix('$') {
            Some(n) => n
                .parse()
                .with_context(|| format!("INFO replied {head:?}"))?,
            None => bail!("INFO replied {:?}", head.trim_end()),
        };
        if len > REPLY_BYTES_MAX {
            bail!("INFO memory reply of {len} bytes");
        }
        let mut body = vec![0u8; len + 2];
        reader
            .read_exact(&mut body)
            .context("reading the INFO reply")?;
        let body = String::from_utf8_lossy(&body);
        let pending = body
            .lines()
            .find_map(|l| l.strip_prefix("lazyfree_pending_objects:"))
            .context("INFO memory has no lazyfree_pending_objects")?
            .trim()
            .parse::<u64>()
            .context("lazyfree_pending_objects")?;
        if pending == 0 {
            return Ok(start.elapsed());
        }
        if start.elapsed() > REMOVAL_TIMEOUT {
            bail!("{pending} removals still pending after {REMOVAL_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
