//! The loopback TCP baseline: one connection on 127.0.0.1, one thread writing large
//! buffers for a fixed time, one thread reading them; the figure is the bytes the
//! reader received over the time from the first write to the reader's end of stream.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

/// Bytes per `write` and per `read` call.
pub const CHUNK_BYTES: usize = 1 << 20;

/// Streams bytes over one loopback connection for `duration`; returns MB/s (10^6 B).
pub fn measure(duration: Duration) -> Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0").context("loopback: bind")?;
    let addr = listener.local_addr()?;
    let reader = std::thread::spawn(move || -> Result<u64> {
        let (mut conn, _) = listener.accept().context("loopback: accept")?;
        let mut buf = vec![0u8; CHUNK_BYTES];
        let mut total = 0u64;
        loop {
            match conn.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => total += n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(anyhow!("loopback: read: {e}")),
            }
        }
    });
    let mut conn = TcpStream::connect(addr).context("loopback: connect")?;
    let chunk = vec![0x5au8; CHUNK_BYTES];
    let start = Instant::now();
    while start.elapsed() < duration {
        conn.write_all(&chunk).context("loopback: write")?;
    }
    conn.shutdown(Shutdown::Write)?;
    let received = reader
        .join()
        .map_err(|_| anyhow!("loopback: reader thread panicked"))??;
    let seconds = start.elapsed().as_secs_f64();
    Ok(received as f64 / seconds / 1e6)
}
