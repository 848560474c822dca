//! The registry entry of a connected client (`CLIENT LIST`, `CLIENT KILL`, `INFO`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

#[derive(Debug)]
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: Option<SocketAddr>,
    pub created: Instant,
    pub name: Mutex<Bytes>,
    pub lib_name: Mutex<Bytes>,
    pub lib_ver: Mutex<Bytes>,
    pub db: AtomicU8,
    pub resp: AtomicU8,
    pub last_command: Mutex<String>,
    /// Milliseconds since `created` of the last command.
    pub last_active_ms: AtomicU64,
    pub blocked: AtomicBool,
    pub multi: AtomicBool,
    pub no_evict: AtomicBool,
    /// Set by `CLIENT KILL`; the connection closes at its next chance.
    pub killed: AtomicBool,
    pub kill: Notify,
}

impl ClientHandle {
    pub fn new(id: u64, addr: SocketAddr, laddr: Option<SocketAddr>) -> ClientHandle {
        ClientHandle {
            id,
            addr,
            laddr,
            created: Instant::now(),
            name: Mutex::new(Bytes::new()),
            lib_name: Mutex::new(Bytes::new()),
            lib_ver: Mutex::new(Bytes::new()),
            db: AtomicU8::new(0),
            resp: AtomicU8::new(2),
            last_command: Mutex::new(String::from("NULL")),
            last_active_ms: AtomicU64::new(0),
            blocked: AtomicBool::new(false),
            multi: AtomicBool::new(false),
            no_evict: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
        }
    }

    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill.notify_one();
    }

    /// One line of `CLIENT LIST` / `CLIENT INFO`, in Redis's field order.
    pub fn info_line(&self) -> String {
        let now_ms = self.created.elapsed().as_millis() as u64;
        let idle_s = now_ms.saturating_sub(self.last_active_ms.load(Ordering::Relaxed)) / 1000;
        let mut flags = String::new();
        if self.blocked.load(Ordering::Relaxed) {
            flags.push('b');
        }
        if self.multi.load(Ordering::Relaxed) {
            flags.push('x');
        }
        if self.no_evict.load(Ordering::Relaxed) {
            flags.push('e');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi={} watch=0 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr.map_or_else(String::new, |a| a.to_string()),
            String::from_utf8_lossy(&self.name.lock()),
            self.created.elapsed().as_secs(),
            idle_s,
            flags,
            self.db.load(Ordering::Relaxed),
            if self.multi.load(Ordering::Relaxed) { 0 } else { -1 },
            self.last_command.lock(),
            self.resp.load(Ordering::Relaxed),
            String::from_utf8_lossy(&self.lib_name.lock()),
            String::from_utf8_lossy(&self.lib_ver.lock()),
        )
    }
}
