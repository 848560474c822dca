//! One client connection: the read / execute / reply loop and its state.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

use brook_broker::Partition;
use brook_resp_proto::{Frame, Protocol, RequestDecoder};

use crate::client::ClientHandle;
use crate::cmd;
use crate::keyspace::Key;
use crate::RespServer;

/// Replies are written to the socket once this much is buffered, even mid-pipeline.
const OUT_FLUSH_BYTES: usize = 1024 * 1024;
/// Most requests parsed ahead before they are run.
const PIPELINE_REQUESTS_MAX: usize = 1024;
/// Read buffer size at each read into an empty buffer.
const READ_BUFFER_BYTES: usize = 16 * 1024;
/// Reply buffer size at the first reply after a write.
const OUT_BUFFER_BYTES: usize = 4096;

/// The state of one connection, handed to every command.
pub struct Conn {
    pub server: Arc<RespServer>,
    pub client: Arc<ClientHandle>,
    pub db: u8,
    pub proto: Protocol,
    /// Commands queued by `MULTI`, and whether one of them was refused.
    pub multi: Option<Vec<Vec<Bytes>>>,
    pub multi_failed: bool,
    /// Keys under `WATCH`.
    pub watched: Vec<WatchedKey>,
    /// Appends whose replies may not leave before they are durable.
    pub owed_durability: Vec<(Arc<Partition>, u64)>,
    /// Appends acknowledged without fsync (interval/never policies), for `WAITAOF`.
    pub unsynced_writes: Vec<(Arc<Partition>, u64)>,
    pub quit: bool,
    /// Inside `EXEC`: blocking commands do not block.
    pub in_exec: bool,
    /// Held (for reading) while a command that reads or writes keys runs: see
    /// `RespServer::exec_gate`. A blocking command lets go of it while it blocks.
    pub gate: Option<tokio::sync::OwnedRwLockReadGuard<()>>,
    /// `CLIENT REPLY OFF`: replies are dropped until `CLIENT REPLY ON` (or `RESET`).
    pub replies_off: bool,
    /// Replies still to drop for `CLIENT REPLY SKIP` (its own and the next command's).
    pub replies_to_skip: u8,
    /// `CLIENT REPLY SKIP` ran inside `EXEC`: the reply after the next one sent (EXEC's
    /// own) is dropped, as Redis skips the command after the transaction.
    pub skip_after_next_reply: bool,
    /// The command running is read-only: its key lookups count as keyspace hits or
    /// misses (`INFO stats`), as Redis counts its read lookups.
    pub counting_reads: bool,
    out: BytesMut,
    writer: OwnedWriteHalf,
}

/// A key under this connection's `WATCH`.
pub struct WatchedKey {
    pub db: u8,
    pub key: Bytes,
    /// Its version at the `WATCH` (see `Watches`).
    pub version: u64,
    /// When it expires, if it existed with an expiry at the `WATCH`: its expiry
    /// before `EXEC` aborts the transaction, as in Redis.
    pub expires: Option<u64>,
}

/// The connection could not be written to (or a durability wait failed): close it.
#[derive(Debug)]
pub struct Closed;

pub async fn serve<F>(server: Arc<RespServer>, stream: TcpStream, peer: SocketAddr, shutdown: F)
where
    F: std::future::Future<Output = ()> + Send,
{
    let laddr = stream.local_addr().ok();
    let (reader, writer) = stream.into_split();
    let client = Arc::new(ClientHandle::new(server.next_client_id(), peer, laddr));
    server.clients.lock().insert(client.id, client.clone());
    server
        .stats
        .connections_received
        .fetch_add(1, Ordering::Relaxed);
    let mut conn = Conn {
        server: server.clone(),
        client: client.clone(),
        db: 0,
        proto: Protocol::Resp2,
        multi: None,
        multi_failed: false,
        watched: Vec::new(),
        owed_durability: Vec::new(),
        unsynced_writes: Vec::new(),
        quit: false,
        in_exec: false,
        gate: None,
        replies_off: false,
        replies_to_skip: 0,
        skip_after_next_reply: false,
        counting_reads: false,
        out: BytesMut::new(),
        writer,
    };
    // Both buffers are given back whenever they are empty (the read buffer once its
    // requests are parsed, the reply buffer once written) and taken again when
    // needed, so an idle or blocked connection holds neither: thousands of them
    // cost what their tasks and sockets cost. (Arguments are views of the read
    // buffer; a kept empty view would also keep the largest request's allocation.)
    let mut input = BytesMut::new();
    let mut decoder = RequestDecoder::new();
    tokio::pin!(shutdown);
    'conn: loop {
        // Parse what is buffered (up to a bound), then run it: consecutive simple
        // XADDs to one stream become one append (one write, one durability wait).
        let mut requests = Vec::new();
        let mut protocol_error = None;
        while requests.len() < PIPELINE_REQUESTS_MAX {
            match decoder.decode(&mut input, &server.limits) {
                Ok(Some(args)) => requests.push(args),
                Ok(None) => break,
                Err(e) => {
                    protocol_error = Some(e);
                    break;
                }
            }
        }
        // Parsing stopped at the bound with requests still buffered: run them without
        // waiting for the socket (the client may have sent everything already).
        let more_buffered = requests.len() == PIPELINE_REQUESTS_MAX && !input.is_empty();
        if input.is_empty() {
            input = BytesMut::new();
        }
        let mut pos = 0;
        while pos < requests.len() && !client.killed.load(Ordering::SeqCst) {
            let rest = requests.get(pos..).unwrap_or_default();
            let run = if conn.multi.is_none() {
                cmd::streams::xadd_run_len(rest)
            } else {
                0
            };
            let executed = if run >= 2 {
                let gated = conn.take_gate().await;
                let appended = cmd::streams::xadd_run(&mut conn, &rest[..run]);
                if gated {
                    conn.release_gate();
                }
                if !appended {
                    0
                } else if conn.flush_if_large().await.is_err() {
                    break 'conn;
                } else {
                    run
                }
            } else {
                0
            };
            let executed = if executed == 0 {
                let Some(args) = requests.get_mut(pos).map(std::mem::take) else {
                    break;
                };
                if conn.execute(args).await.is_err() {
                    break 'conn;
                }
                1
            } else {
                // Done with: their views of the read buffer go now.
                for done in requests.iter_mut().skip(pos).take(executed) {
                    *done = Vec::new();
                }
                executed
            };
            pos += executed;
            if conn.quit || client.killed.load(Ordering::SeqCst) {
                let _ = conn.flush().await;
                break 'conn;
            }
        }
        if let Some(e) = protocol_error {
            conn.push(&Frame::Error(Bytes::from(e.to_string())));
            let _ = conn.flush().await;
            tracing::debug!(%peer, error = %e, "closing connection after a protocol error");
            break 'conn;
        }
        // The requests view the read buffer: gone before waiting for the next read,
        // so an idle connection keeps nothing of what it sent.
        drop(requests);
        if conn.flush().await.is_err() {
            break;
        }
        // A killed client is served nothing more, even if its next request is
        // already here (`CLIENT KILL` has answered that it is gone).
        if client.killed.load(Ordering::SeqCst) {
            break;
        }
        if more_buffered {
            continue;
        }
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            () = client.kill.notified() => break,
            ready = reader.readable() => {
                if ready.is_err() {
                    break;
                }
                if input.capacity() == 0 {
                    input.reserve(READ_BUFFER_BYTES);
                }
                match reader.try_read_buf(&mut input) {
                    Ok(0) => break,
                    Ok(n) => {
                        server.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    // Readiness can be stale: wait again.
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => break,
                }
            },
        }
    }
    server.clients.lock().remove(&client.id);
}

impl Conn {
    /// Encodes a command's reply into the output buffer (unless `CLIENT REPLY` said
    /// not to send it).
    pub fn push(&mut self, frame: &Frame) {
        if let Frame::Error(message) = frame {
            self.count_error(message);
        }
        if self.replies_to_skip > 0 {
            self.replies_to_skip -= 1;
            return;
        }
        if self.replies_off {
            return;
        }
        if self.out.capacity() == 0 {
            self.out.reserve(OUT_BUFFER_BYTES);
        }
        frame.encode(self.proto, &mut self.out);
        if self.skip_after_next_reply {
            self.skip_after_next_reply = false;
            self.replies_to_skip = 1;
        }
    }

    /// Counts an error reply for `INFO` (`total_error_replies`, errorstats): every
    /// error `push` sends, and each error inside an `EXEC` array, as Redis counts.
    pub fn count_error(&self, message: &[u8]) {
        let stats = &self.server.stats;
        stats.error_replies.fetch_add(1, Ordering::Relaxed);
        let kind = message.split(|&b| b == b' ').next().unwrap_or_default();
        let kind = String::from_utf8_lossy(kind);
        let mut kinds = stats.error_kinds.lock();
        if let Some(n) = kinds.get_mut(kind.as_ref()) {
            *n += 1;
        } else if kinds.len() < crate::ERROR_KINDS_MAX {
            kinds.insert(kind.into_owned(), 1);
        }
    }

    /// Writes buffered replies if they are large (mid-pipeline).
    pub async fn flush_if_large(&mut self) -> Result<(), Closed> {
        if self.out.len() >= OUT_FLUSH_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    /// Waits for owed durability, then writes the buffered replies.
    pub async fn flush(&mut self) -> Result<(), Closed> {
        self.settle_durability().await?;
        if self.out.is_empty() {
            return Ok(());
        }
        // (`split` would leave an empty view of the same allocation behind.)
        let out = std::mem::take(&mut self.out).freeze();
        self.writer.write_all(&out).await.map_err(|_| Closed)?;
        self.server
            .stats
            .net_output_bytes
            .fetch_add(out.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Waits until every append this connection acknowledged (in buffered replies)
    /// is durable. If that fails, the replies must not be sent: the connection is
    /// closed instead, so no client ever sees success for a write a crash could lose.
    pub async fn settle_durability(&mut self) -> Result<(), Closed> {
        for (p, offset) in std::mem::take(&mut self.owed_durability) {
            if let Err(e) = p.wait_durable(offset).await {
                tracing::error!(client = self.client.id, error = %e, "durability wait failed; closing the connection without replying");
                return Err(Closed);
            }
        }
        Ok(())
    }

    /// Ends every `WATCH` of this connection.
    pub fn unwatch_all(&mut self) {
        if self.watched.is_empty() {
            return;
        }
        for w in self.watched.drain(..) {
            self.server.watches.unwatch(w.db, &w.key);
        }
        self.server.watches.clients.fetch_sub(1, Ordering::Relaxed);
    }

    /// Starts a `WATCH` of `key` in the current database.
    pub fn watch(&mut self, key: &Bytes) {
        if self.watched.iter().any(|w| w.db == self.db && w.key == key) {
            return; // Watched already (Redis keeps one watch per key too).
        }
        if self.watched.is_empty() {
            self.server.watches.clients.fetch_add(1, Ordering::Relaxed);
        }
        let version = self.server.watches.watch(self.db, key);
        let expires = match self.lookup(key) {
            Key::Stream(t) | Key::Partition(t, _) => t.expire_at(),
            Key::String(v) => v.expire_at_ms,
            Key::Missing => None,
        };
        self.watched.push(WatchedKey {
            db: self.db,
            key: Bytes::copy_from_slice(key),
            version,
            expires,
        });
    }

    /// Takes the exec gate for reading (see `RespServer::exec_gate`), unless held
    /// already or inside `EXEC` (which holds it for writing). Returns whether it
    /// was taken here, and so is to be let go of by [`Conn::release_gate`].
    pub async fn take_gate(&mut self) -> bool {
        if self.in_exec || self.gate.is_some() {
            return false;
        }
        self.gate = Some(self.server.exec_gate.clone().read_owned().await);
        true
    }

    pub fn release_gate(&mut self) {
        self.gate = None;
    }

    /// Records that an append must be durable before its reply leaves.
    pub fn owe_durability(&mut self, p: &Arc<Partition>, next_offset: u64) {
        if let Some(entry) = self
            .owed_durability
            .iter_mut()
            .find(|(q, _)| Arc::ptr_eq(q, p))
        {
            entry.1 = entry.1.max(next_offset);
        } else {
            self.owed_durability.push((p.clone(), next_offset));
        }
    }

    /// Records an append acknowledged without fsync (for `WAITAOF`).
    pub fn note_unsynced(&mut self, p: &Arc<Partition>, next_offset: u64) {
        if let Some(entry) = self
            .unsynced_writes
            .iter_mut()
            .find(|(q, _)| Arc::ptr_eq(q, p))
        {
            entry.1 = entry.1.max(next_offset);
        } else {
            self.unsynced_writes.push((p.clone(), next_offset));
        }
    }

    /// Counts requests run outside [`cmd::dispatch`] (coalesced XADDs) in the stats.
    pub fn count_commands(&self, n: u64, name: &str) {
        self.server.stats.commands.fetch_add(n, Ordering::Relaxed);
        self.client.last_active_ms.store(
            self.client.created.elapsed().as_millis() as u64,
            Ordering::Relaxed,
        );
        *self.client.last_command.lock() = name.to_string();
    }

    /// Runs one request and buffers its reply.
    pub async fn execute(&mut self, args: Vec<Bytes>) -> Result<(), Closed> {
        let frame = cmd::dispatch(self, args).await?;
        self.push(&frame);
        if self.out.len() >= OUT_FLUSH_BYTES {
            self.flush().await?;
        }
        Ok(())
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.unwatch_all();
    }
}
