//! Brook's RESP front end: serves Redis clients over the broker.
//!
//! One [`RespServer`] per process holds what connections share (the broker, the
//! client registry for `CLIENT LIST/KILL`, counters for `INFO`, `CONFIG` values, key
//! versions for `WATCH`). Each connection runs [`RespServer::serve`]: read, parse
//! requests with `brook-resp-proto`, run each through the command table
//! ([`cmd::COMMANDS`]), encode replies, and write them once no complete request is
//! left in the input buffer (so pipelines are answered in one write).
//!
//! Durability: under the `always` policy an `XADD` reply must not leave before the
//! entry is fsynced. Rather than waiting inside each command, a connection collects
//! what it has to wait for and waits once before writing its replies, so a pipeline
//! of appends costs one group commit, not one per command. A command that reads
//! waits first, so a connection always reads its own writes.

mod client;
pub mod cmd;
mod conn;
mod glob;
mod keyspace;
mod stream_read;
mod watch;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use brook_broker::Broker;
use brook_resp_proto::Limits;

pub use client::ClientHandle;

/// The version Brook reports as `redis_version` (the Redis release whose stream
/// semantics it follows); clients use it for feature detection.
pub const REDIS_COMPAT_VERSION: &str = "7.4.0";

/// Counters reported by `INFO stats`.
#[derive(Debug, Default)]
pub struct Stats {
    pub commands: AtomicU64,
    pub connections_received: AtomicU64,
    pub error_replies: AtomicU64,
    /// Error replies by their first word (`ERR`, `WRONGTYPE`, ...), for `INFO
    /// errorstats`; taken only when an error is sent. At most [`ERROR_KINDS_MAX`]
    /// kinds (as Redis); errors of further kinds count only in `error_replies`.
    pub error_kinds: Mutex<std::collections::BTreeMap<String, u64>>,
    pub blocked_clients: AtomicU64,
    pub rejected_connections: AtomicU64,
    /// Lookups of keys by read-only commands that found one, and that did not.
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    /// Bytes read from and written to clients' connections.
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    /// The broker's count of expired keys at the last `CONFIG RESETSTAT`.
    pub expired_keys_base: AtomicU64,
}

/// Most error kinds `INFO errorstats` lists (Redis's limit too).
pub const ERROR_KINDS_MAX: usize = 128;

/// What every connection shares.
pub struct RespServer {
    pub(crate) broker: Arc<Broker>,
    pub(crate) clients: Mutex<std::collections::BTreeMap<u64, Arc<ClientHandle>>>,
    next_client_id: AtomicU64,
    pub(crate) stats: Stats,
    pub(crate) config: Mutex<HashMap<String, String>>,
    /// Versions of the keys under `WATCH`; every write touches its key.
    pub(crate) watches: Arc<watch::Watches>,
    /// `EXEC` runs its commands holding this for writing; every other command that
    /// reads or writes keys holds it for reading while it runs (not while it
    /// blocks), so no command runs in the middle of a transaction.
    pub(crate) exec_gate: Arc<tokio::sync::RwLock<()>>,
    pub(crate) started: Instant,
    pub(crate) limits: Limits,
    pub(crate) version: String,
    /// 40 random hex digits, new at every start (`INFO server` `run_id`), and the
    /// replication ID a master without replicas reports.
    pub(crate) run_id: String,
    pub(crate) replid: String,
    /// Set when the server shuts down: blocked commands return at once.
    pub(crate) stopping: tokio::sync::watch::Sender<bool>,
    /// Latency of each command, by command name (blocking commands include the
    /// time they blocked).
    pub(crate) command_seconds: HashMap<&'static str, brook_model::metrics::Histogram>,
    /// Calls and seconds of each command at the last `CONFIG RESETSTAT` (the
    /// histograms above only grow, as Prometheus counters must).
    command_stats_base: Mutex<HashMap<&'static str, (u64, f64)>>,
    /// Permits for reads of entries not in the page cache, which run on blocking
    /// threads ([`stream_read::COLD_READS_MAX`] at once: each may build a reply of
    /// up to [`stream_read::REPLY_BYTES_MAX`]).
    pub(crate) cold_reads: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for RespServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RespServer").finish_non_exhaustive()
    }
}

impl RespServer {
    /// `version` is Brook's own version, reported beside the Redis compatibility
    /// version.
    pub fn new(broker: Arc<Broker>, version: &str) -> Arc<RespServer> {
        let watches = Arc::new(watch::Watches::default());
        // Writes by the Kafka front end and the broker's background tasks touch
        // watched keys too.
        broker.set_key_listener(watches.clone());
        Arc::new(RespServer {
            broker,
            clients: Mutex::default(),
            next_client_id: AtomicU64::new(1),
            stats: Stats::default(),
            config: Mutex::new(cmd::server::default_config()),
            watches,
            exec_gate: Arc::new(tokio::sync::RwLock::new(())),
            started: Instant::now(),
            limits: Limits::default(),
            version: version.to_string(),
            run_id: random_hex40(),
            replid: random_hex40(),
            stopping: tokio::sync::watch::channel(false).0,
            command_stats_base: Mutex::default(),
            command_seconds: cmd::commands()
                .iter()
                .map(|spec| (spec.name, brook_model::metrics::Histogram::latency()))
                .collect(),
            cold_reads: Arc::new(tokio::sync::Semaphore::new(stream_read::COLD_READS_MAX)),
        })
    }

    /// Records one command's latency.
    pub(crate) fn observe_command(&self, name: &str, took: std::time::Duration) {
        if let Some(h) = self.command_seconds.get(name) {
            h.observe_duration(took);
        }
    }

    /// `INFO commandstats` lines: calls and time of each command run since the
    /// last `CONFIG RESETSTAT`, by name (Redis also counts rejected and failed calls;
    /// Brook does not).
    pub(crate) fn command_stats(&self) -> Vec<(String, String)> {
        let base = self.command_stats_base.lock();
        let mut names: Vec<&&str> = self.command_seconds.keys().collect();
        names.sort();
        names
            .into_iter()
            .filter_map(|name| {
                let now = self.command_seconds.get(*name)?.snapshot();
                let (calls0, seconds0) = base.get(*name).copied().unwrap_or_default();
                let calls = now.count().saturating_sub(calls0);
                if calls == 0 {
                    return None;
                }
                let usec = ((now.sum - seconds0) * 1e6).max(0.0).round() as u64;
                Some((
                    format!("cmdstat_{name}"),
                    format!(
                        "calls={calls},usec={usec},usec_per_call={:.2}",
                        usec as f64 / calls as f64
                    ),
                ))
            })
            .collect()
    }

    pub(crate) fn reset_command_stats(&self) {
        let mut base = self.command_stats_base.lock();
        for (name, h) in &self.command_seconds {
            let now = h.snapshot();
            base.insert(name, (now.count(), now.sum));
        }
    }

    /// Tells blocked commands (XREAD BLOCK) to return now: the server is stopping.
    pub fn begin_shutdown(&self) {
        self.stopping.send_replace(true);
    }

    pub(crate) fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Marks a key as modified (for `WATCH`). A change made through a partition's
    /// key (`t#N`, resolved as `Conn::lookup` resolves it) also touches the topic's
    /// key `t`, as a Kafka write to that partition does (`Broker::note_modified`).
    pub(crate) fn touch(&self, db: u8, key: &bytes::Bytes) {
        if self.watches.len() == 0 {
            return;
        }
        self.watches.touch(db, key);
        if let Some((topic, _)) = keyspace::partition_key(&self.broker, db, key) {
            self.watches.touch(db, &topic.key.name);
        }
    }

    /// Serves one connection until the client quits, is killed, or `shutdown`
    /// completes.
    pub async fn serve<F>(
        self: Arc<Self>,
        stream: tokio::net::TcpStream,
        peer: std::net::SocketAddr,
        shutdown: F,
    ) where
        F: std::future::Future<Output = ()> + Send,
    {
        conn::serve(self, stream, peer, shutdown).await;
    }
}

impl brook_model::metrics::MetricsSource for RespServer {
    fn render_metrics(&self, out: &mut String) {
        use brook_model::metrics::{family, label};
        use std::fmt::Write as _;
        let name = "brook_resp_command_duration_seconds";
        family(
            out,
            name,
            "histogram",
            "Time to run each RESP command (blocking commands include the time blocked).",
        );
        let mut names: Vec<&&str> = self.command_seconds.keys().collect();
        names.sort();
        for n in names {
            if let Some(h) = self.command_seconds.get(*n) {
                let s = h.snapshot();
                if s.count() > 0 {
                    s.render(out, name, &format!("command=\"{}\"", label(n)));
                }
            }
        }
        family(
            out,
            "brook_resp_blocked_clients",
            "gauge",
            "RESP clients blocked in XREAD/XREADGROUP BLOCK.",
        );
        let _ = writeln!(
            out,
            "brook_resp_blocked_clients {}",
            self.stats.blocked_clients.load(Ordering::Relaxed)
        );
        family(
            out,
            "brook_resp_commands_total",
            "counter",
            "RESP commands processed.",
        );
        let _ = writeln!(
            out,
            "brook_resp_commands_total {}",
            self.stats.commands.load(Ordering::Relaxed)
        );
        family(
            out,
            "brook_resp_error_replies_total",
            "counter",
            "RESP error replies sent.",
        );
        let _ = writeln!(
            out,
            "brook_resp_error_replies_total {}",
            self.stats.error_replies.load(Ordering::Relaxed)
        );
    }
}

/// 40 random hex digits (from the standard library's randomly keyed hasher: unique
/// per process and call, which is all a run ID needs).
fn random_hex40() -> String {
    use std::hash::{BuildHasher, Hasher};
    let word = |i: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        h.finish()
    };
    format!("{:016x}{:016x}{:08x}", word(1), word(2), word(3) >> 32)
}
