//! Server commands: COMMAND, CONFIG, INFO, TIME, WAIT, WAITAOF.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use brook_resp_proto::Frame;

use super::{
    bulk, bulk_str, commands, eq, err, handler, not_integer, ok, parse_i64, spec, syntax_error,
    CmdResult, Spec,
};
use crate::conn::Conn;
use crate::glob;
use crate::REDIS_COMPAT_VERSION;

pub fn specs() -> Vec<Spec> {
    vec![
        spec("command", -1, &["loading", "stale"], (0, 0, 0), "server", "2.8.13", "Returns detailed information about all commands.", handler!(command))
            .with_subcommands(&["count", "docs", "info", "list", "getkeys", "help"]),
        spec("config", -2, &[], (0, 0, 0), "server", "2.0.0", "A container for server configuration commands.", handler!(config))
            .with_subcommands(&["get", "set", "resetstat", "rewrite", "help"]),
        spec("info", -1, &["loading", "stale"], (0, 0, 0), "server", "1.0.0", "Returns information and statistics about the server.", handler!(info)),
        spec("role", 1, &["noscript", "loading", "stale", "fast"], (0, 0, 0), "server", "2.8.12", "Returns the replication role.", handler!(role)),
        spec("cluster", -2, &[], (0, 0, 0), "cluster", "3.0.0", "A container for Redis Cluster commands.", handler!(cluster)),
        spec("save", 1, &["admin", "noscript", "no_async_loading", "no_multi"], (0, 0, 0), "server", "1.0.0", "Synchronously saves the database(s) to disk.", handler!(save)),
        spec("lastsave", 1, &["loading", "stale", "fast"], (0, 0, 0), "server", "1.0.0", "Returns the Unix timestamp of the last successful save to disk.", handler!(lastsave)),
        spec("bgsave", -1, &["admin", "noscript", "no_async_loading"], (0, 0, 0), "server", "1.0.0", "Asynchronously saves the database(s) to disk.", handler!(save)),
        spec("time", 1, &["loading", "stale", "fast"], (0, 0, 0), "server", "2.6.0", "Returns the server time.", handler!(time)).deferrable(),
        spec("wait", 3, &["blocking"], (0, 0, 0), "generic", "3.0.0", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", handler!(wait)),
        spec("waitaof", 4, &["blocking"], (0, 0, 0), "generic", "7.2.0", "Blocks until all of the preceding write commands sent by the connection are written to the append-only file of the master and/or replicas.", handler!(waitaof)),
    ]
}

/// Parameters `CONFIG GET` knows, with Redis's defaults where Brook's storage makes
/// them advisory. `appendonly` is `yes`: every write goes to Brook's log.
pub fn default_config() -> HashMap<String, String> {
    [
        ("save", ""),
        ("appendonly", "yes"),
        ("appendfsync", "always"),
        ("stream-node-max-entries", "100"),
        ("stream-node-max-bytes", "4096"),
        ("databases", "16"),
        ("maxmemory", "0"),
        ("maxmemory-policy", "noeviction"),
        ("maxclients", "10000"),
        ("timeout", "0"),
        ("tcp-keepalive", "300"),
        ("proto-max-bulk-len", "536870912"),
        ("client-query-buffer-limit", "1073741824"),
        ("lua-time-limit", "5000"),
        ("busy-reply-threshold", "5000"),
        ("notify-keyspace-events", ""),
        ("lazyfree-lazy-user-del", "no"),
        ("protected-mode", "no"),
        ("port", "6379"),
        ("bind", "127.0.0.1"),
        ("dir", "."),
        ("dbfilename", "dump.rdb"),
        ("appendfilename", "appendonly.aof"),
        ("loglevel", "notice"),
        ("slowlog-log-slower-than", "10000"),
        ("slowlog-max-len", "128"),
        ("replica-read-only", "yes"),
        ("cluster-enabled", "no"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// What `CONFIG SET` makes of a value for a parameter.
enum ConfigValue {
    /// Accepted, as `CONFIG GET` will show it.
    Valid(String),
    /// Refused, with Redis's reason.
    Invalid(String),
    /// A parameter with no rule here: stored as given.
    Unchecked,
}

/// Why `CONFIG SET` may not change `name` at all, if it may not: Redis's immutable
/// and protected parameters, and `port`/`bind`, which Redis can change at run time
/// but Brook cannot.
fn fixed_config(name: &str) -> Option<&'static str> {
    match name {
        "databases" | "port" | "bind" | "daemonize" | "appendfilename" | "cluster-enabled" => {
            Some("can't set immutable config")
        }
        "dir" | "dbfilename" => Some("can't set protected config"),
        _ => None,
    }
}

/// Checks a `CONFIG SET` value as Redis does, for the parameters `default_config`
/// lists.
fn config_value(name: &str, value: &str) -> ConfigValue {
    use ConfigValue::{Invalid, Unchecked, Valid};
    const INT_MAX: i64 = i32::MAX as i64;
    // Redis's `string2ll`: no `+`, no leading zeros, no `-0`.
    let int = |min: i64, max: i64| match super::parse_i64(value.as_bytes()) {
        Some(n) if (min..=max).contains(&n) => Valid(n.to_string()),
        Some(_) => Invalid(format!(
            "argument must be between {min} and {max} inclusive"
        )),
        None => Invalid("argument couldn't be parsed into an integer".into()),
    };
    let memory = |min: i64| match memory_value(value) {
        Some(n) if n >= min => Valid(n.to_string()),
        Some(_) => Invalid(format!(
            "argument must be between {min} and {} inclusive",
            i64::MAX
        )),
        None => Invalid("argument must be a memory value".into()),
    };
    let one_of = |allowed: &[&str]| {
        let v = value.to_ascii_lowercase();
        if allowed.contains(&v.as_str()) {
            Valid(v)
        } else {
            Invalid(format!(
                "argument(s) must be one of the following: {}",
                allowed.join(", ")
            ))
        }
    };
    match name {
        "appendonly" | "lazyfree-lazy-user-del" | "protected-mode" | "replica-read-only" => {
            match value.to_ascii_lowercase().as_str() {
                v @ ("yes" | "no") => Valid(v.to_string()),
                _ => Invalid("argument must be 'yes' or 'no'".into()),
            }
        }
        "appendfsync" => one_of(&["everysec", "always", "no"]),
        "maxmemory-policy" => one_of(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ]),
        "loglevel" => one_of(&["debug", "verbose", "notice", "warning", "nothing"]),
        "timeout" | "tcp-keepalive" => int(0, INT_MAX),
        "maxclients" => int(1, i64::from(u32::MAX)),
        "stream-node-max-entries"
        | "lua-time-limit"
        | "busy-reply-threshold"
        | "slowlog-max-len" => int(0, i64::MAX),
        "slowlog-log-slower-than" => int(-1, i64::MAX),
        "stream-node-max-bytes" | "maxmemory" => memory(0),
        "proto-max-bulk-len" | "client-query-buffer-limit" => memory(1024 * 1024),
        _ => Unchecked,
    }
}

/// A memory amount as Redis writes one: digits with an optional unit `b`, `k`
/// (1000), `kb` (1024), `m`, `mb`, `g`, `gb`, in any case.
fn memory_value(value: &str) -> Option<i64> {
    let lower = value.to_ascii_lowercase();
    let digits_end = lower
        .find(|ch: char| !ch.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(digits_end);
    let unit: i64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    digits.parse::<i64>().ok()?.checked_mul(unit)
}

fn command_info(s: &Spec) -> Frame {
    let mut acl: Vec<Frame> = vec![Frame::Simple(Bytes::from(format!("@{}", s.group)))];
    for f in s.flags {
        match *f {
            "write" => acl.push(Frame::Simple(Bytes::from_static(b"@write"))),
            "readonly" => acl.push(Frame::Simple(Bytes::from_static(b"@read"))),
            "fast" => acl.push(Frame::Simple(Bytes::from_static(b"@fast"))),
            "blocking" => acl.push(Frame::Simple(Bytes::from_static(b"@blocking"))),
            _ => {}
        }
    }
    Frame::Array(vec![
        bulk_str(s.name),
        Frame::Integer(i64::from(s.arity)),
        Frame::Set(
            s.flags
                .iter()
                .map(|f| Frame::Simple(Bytes::from_static(f.as_bytes())))
                .collect(),
        ),
        Frame::Integer(i64::from(s.first_key)),
        Frame::Integer(i64::from(s.last_key)),
        Frame::Integer(i64::from(s.step)),
        Frame::Set(acl),
        Frame::Array(vec![]),
        Frame::Array(vec![]),
        Frame::Array(
            s.subcommands
                .iter()
                .map(|sub| {
                    Frame::Array(vec![
                        bulk(Bytes::from(format!("{}|{}", s.name, sub))),
                        Frame::Integer(-2),
                        Frame::Set(vec![]),
                        Frame::Integer(0),
                        Frame::Integer(0),
                        Frame::Integer(0),
                        Frame::Set(vec![]),
                        Frame::Array(vec![]),
                        Frame::Array(vec![]),
                        Frame::Array(vec![]),
                    ])
                })
                .collect(),
        ),
    ])
}

fn command_doc(s: &Spec) -> Frame {
    Frame::Map(vec![
        (bulk_str("summary"), bulk_str(s.summary)),
        (bulk_str("since"), bulk_str(s.since)),
        (bulk_str("group"), bulk_str(s.group)),
    ])
}

fn find(name: &[u8]) -> Option<&'static Spec> {
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    commands().iter().find(|s| s.name == lower)
}

async fn command(_c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    if args.len() == 1 {
        return Ok(Frame::Array(commands().iter().map(command_info).collect()));
    }
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    Ok(match sub.as_str() {
        "count" if args.len() == 2 => Frame::Integer(commands().len() as i64),
        "info" => {
            if args.len() == 2 {
                Frame::Array(commands().iter().map(command_info).collect())
            } else {
                Frame::Array(
                    args[2..]
                        .iter()
                        .map(|n| find(n).map_or(Frame::Null, command_info))
                        .collect(),
                )
            }
        }
        "docs" => {
            let specs: Vec<&Spec> = if args.len() == 2 {
                commands().iter().collect()
            } else {
                args[2..].iter().filter_map(|n| find(n)).collect()
            };
            Frame::Map(
                specs
                    .into_iter()
                    .map(|s| (bulk_str(s.name), command_doc(s)))
                    .collect(),
            )
        }
        "list" => {
            let mut names: Vec<&str> = commands().iter().map(|s| s.name).collect();
            if args.len() == 5 && eq(&args[2], "FILTERBY") && eq(&args[3], "PATTERN") {
                names.retain(|n| glob::matches(&args[4], n.as_bytes(), true));
            } else if args.len() == 5 && eq(&args[2], "FILTERBY") && eq(&args[3], "ACLCAT") {
                let cat = String::from_utf8_lossy(&args[4]).to_ascii_lowercase();
                names.retain(|n| find(n.as_bytes()).is_some_and(|s| s.group == cat));
            } else if args.len() != 2 {
                return Ok(syntax_error());
            }
            Frame::Array(names.into_iter().map(bulk_str).collect())
        }
        "getkeys" if args.len() >= 3 => match find(&args[2]) {
            Some(s) if s.first_key > 0 => {
                let cmd_args = &args[2..];
                let last = if s.last_key < 0 {
                    cmd_args.len() as i32 + s.last_key
                } else {
                    s.last_key
                };
                let keys: Vec<Frame> = (s.first_key..=last)
                    .step_by(s.step.max(1) as usize)
                    .filter_map(|i| cmd_args.get(i as usize).cloned().map(bulk))
                    .collect();
                Frame::Array(keys)
            }
            Some(s) if s.flags.contains(&"movablekeys") => {
                // XREAD / XREADGROUP: the keys are the first half after STREAMS.
                let cmd_args = &args[2..];
                match cmd_args.iter().position(|a| eq(a, "STREAMS")) {
                    Some(at) => {
                        let rest = &cmd_args[at + 1..];
                        Frame::Array(rest[..rest.len() / 2].iter().cloned().map(bulk).collect())
                    }
                    None => err("Invalid arguments specified for command"),
                }
            }
            Some(_) => err("The command has no key arguments"),
            None => err("Invalid command specified"),
        },
        "help" => Frame::Array(
            [
                "COMMAND",
                "COMMAND COUNT",
                "COMMAND DOCS [<command-name> ...]",
                "COMMAND INFO [<command-name> ...]",
                "COMMAND LIST [FILTERBY (MODULE|ACLCAT|PATTERN) <value>]",
                "COMMAND GETKEYS <full-command>",
            ]
            .iter()
            .map(|s| Frame::Simple(Bytes::copy_from_slice(s.as_bytes())))
            .collect(),
        ),
        "count" | "getkeys" | "getkeysandflags" => err(format!(
            "wrong number of arguments for 'command|{sub}' command"
        )),
        _ => err(format!(
            "unknown subcommand '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(&args[1])
        )),
    })
}

async fn config(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    Ok(match sub.as_str() {
        "get" if args.len() >= 3 => {
            let cfg = c.server.config.lock();
            let mut names: Vec<&String> = cfg
                .keys()
                .filter(|k| {
                    args[2..]
                        .iter()
                        .any(|p| glob::matches(p, k.as_bytes(), true))
                })
                .collect();
            names.sort();
            Frame::Map(
                names
                    .into_iter()
                    .map(|k| (bulk_str(k), bulk_str(cfg.get(k).map_or("", String::as_str))))
                    .collect(),
            )
        }
        "set" if args.len() >= 4 && args.len().is_multiple_of(2) => {
            let mut cfg = c.server.config.lock();
            let failed = |k: &str, why: &str| {
                err(format!(
                    "CONFIG SET failed (possibly related to argument '{k}') - {why}"
                ))
            };
            // Names first (unknown, fixed, repeated), then values, as Redis checks.
            let mut names: Vec<String> = Vec::new();
            for kv in args[2..].chunks_exact(2) {
                let k = String::from_utf8_lossy(&kv[0]).to_ascii_lowercase();
                if let Some(why) = fixed_config(&k) {
                    return Ok(failed(&k, why));
                }
                if !cfg.contains_key(&k) {
                    return Ok(err(format!(
                        "Unknown option or number of arguments for CONFIG SET - '{}'",
                        String::from_utf8_lossy(&kv[0])
                    )));
                }
                if names.contains(&k) {
                    return Ok(failed(&k, "duplicate parameter"));
                }
                names.push(k);
            }
            let mut updates = Vec::with_capacity(names.len());
            for (k, kv) in names.into_iter().zip(args[2..].chunks_exact(2)) {
                let v = String::from_utf8_lossy(&kv[1]).into_owned();
                match config_value(&k, &v) {
                    ConfigValue::Valid(v) => updates.push((k, v)),
                    ConfigValue::Unchecked => updates.push((k, v)),
                    ConfigValue::Invalid(why) => return Ok(failed(&k, &why)),
                }
            }
            for (k, v) in updates {
                cfg.insert(k, v);
            }
            ok()
        }
        "set" if args.len() >= 5 => syntax_error(),
        "resetstat" if args.len() == 2 => {
            let s = &c.server.stats;
            s.commands.store(0, Ordering::Relaxed);
            s.connections_received.store(0, Ordering::Relaxed);
            s.error_replies.store(0, Ordering::Relaxed);
            s.error_kinds.lock().clear();
            s.rejected_connections.store(0, Ordering::Relaxed);
            c.server.reset_command_stats();
            s.keyspace_hits.store(0, Ordering::Relaxed);
            s.keyspace_misses.store(0, Ordering::Relaxed);
            s.net_input_bytes.store(0, Ordering::Relaxed);
            s.net_output_bytes.store(0, Ordering::Relaxed);
            s.expired_keys_base.store(
                c.server.broker.stats().expired_keys_total,
                Ordering::Relaxed,
            );
            ok()
        }
        "rewrite" if args.len() == 2 => err("The server is running without a config file"),
        "help" => Frame::Array(
            [
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "SET <directive> <value>",
                "RESETSTAT",
                "REWRITE",
            ]
            .iter()
            .map(|s| Frame::Simple(Bytes::copy_from_slice(s.as_bytes())))
            .collect(),
        ),
        "get" | "set" | "resetstat" | "rewrite" => err(format!(
            "wrong number of arguments for 'config|{sub}' command"
        )),
        _ => err(format!(
            "unknown subcommand '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(&args[1])
        )),
    })
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else {
        format!("{bytes}B")
    }
}

pub fn info_text(c: &Conn, sections: &[String]) -> String {
    let everything = sections.iter().any(|s| s == "all" || s == "everything");
    let default = sections.is_empty() || everything || sections.iter().any(|s| s == "default");
    // Sections in the default set, and those only `all`/`everything` add.
    let want = |name: &str| default || sections.iter().any(|s| s == name);
    let want_extra = |name: &str| everything || sections.iter().any(|s| s == name);
    let server = &c.server;
    let stats = &server.stats;
    let uptime = server.started.elapsed().as_secs();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let started_unix = started_unix(c);
    let rss = rss_bytes();
    let broker_stats = server.broker.stats();
    let mut out = String::new();
    let mut section = |title: &str, lines: Vec<(String, String)>| {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        out.push_str(&format!("# {title}\r\n"));
        for (k, v) in lines {
            out.push_str(&format!("{k}:{v}\r\n"));
        }
    };
    let kv = |k: &str, v: String| (k.to_string(), v);
    let counter = |k: &str, v: &AtomicU64| kv(k, v.load(Ordering::Relaxed).to_string());
    if want("server") {
        section(
            "Server",
            vec![
                kv("redis_version", REDIS_COMPAT_VERSION.to_string()),
                kv("brook_version", server.version.clone()),
                kv("redis_mode", "standalone".into()),
                kv("os", std::env::consts::OS.to_string()),
                kv("arch_bits", "64".into()),
                kv("multiplexing_api", "epoll".into()),
                kv("process_id", std::process::id().to_string()),
                kv("process_supervised", "no".into()),
                kv("run_id", server.run_id.clone()),
                kv(
                    "tcp_port",
                    c.client.laddr.map_or(0, |a| a.port()).to_string(),
                ),
                kv("server_time_usec", now.as_micros().to_string()),
                kv("uptime_in_seconds", uptime.to_string()),
                kv("uptime_in_days", (uptime / 86400).to_string()),
                kv("hz", "10".into()),
                kv("configured_hz", "10".into()),
                kv(
                    "executable",
                    std::env::current_exe()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                ),
            ],
        );
    }
    if want("clients") {
        let clients = server.clients.lock().len();
        section(
            "Clients",
            vec![
                kv("connected_clients", clients.to_string()),
                kv("maxclients", "10000".into()),
                kv(
                    "blocked_clients",
                    stats.blocked_clients.load(Ordering::Relaxed).to_string(),
                ),
                kv("tracking_clients", "0".into()),
                kv(
                    "watching_clients",
                    c.server.watches.clients.load(Ordering::Relaxed).to_string(),
                ),
                kv("total_watched_keys", c.server.watches.len().to_string()),
            ],
        );
    }
    if want("memory") {
        section(
            "Memory",
            vec![
                kv("used_memory", rss.to_string()),
                kv("used_memory_human", human(rss)),
                kv("used_memory_rss", rss.to_string()),
                kv("used_memory_rss_human", human(rss)),
                kv("used_memory_peak", rss.to_string()),
                kv("maxmemory", "0".into()),
                kv("maxmemory_policy", "noeviction".into()),
                kv("mem_fragmentation_ratio", "1.00".into()),
                // As Redis counts what UNLINK left to a background thread: here the
                // removals of deleted streams' and trimmed segments' files.
                kv(
                    "lazyfree_pending_objects",
                    server.broker.removals_pending().to_string(),
                ),
            ],
        );
    }
    if want("persistence") {
        section(
            "Persistence",
            vec![
                kv("loading", "0".into()),
                kv("async_loading", "0".into()),
                kv("rdb_changes_since_last_save", "0".into()),
                kv("rdb_bgsave_in_progress", "0".into()),
                // No snapshot was ever saved: as Redis reports that, the start time.
                kv("rdb_last_save_time", started_unix.to_string()),
                kv("rdb_last_bgsave_status", "ok".into()),
                kv("rdb_saves", "0".into()),
                kv("aof_enabled", "1".into()),
                kv("aof_rewrite_in_progress", "0".into()),
                kv("aof_last_write_status", "ok".into()),
                kv("brook_log_bytes", broker_stats.log_bytes.to_string()),
                kv("brook_fsyncs", broker_stats.fsyncs_total.to_string()),
            ],
        );
    }
    if want("stats") {
        let uptime_f = server.started.elapsed().as_secs_f64().max(1e-3);
        let commands = stats.commands.load(Ordering::Relaxed);
        section(
            "Stats",
            vec![
                counter("total_connections_received", &stats.connections_received),
                kv("total_commands_processed", commands.to_string()),
                kv(
                    "instantaneous_ops_per_sec",
                    format!("{}", (commands as f64 / uptime_f) as u64),
                ),
                counter("rejected_connections", &stats.rejected_connections),
                counter("total_net_input_bytes", &stats.net_input_bytes),
                counter("total_net_output_bytes", &stats.net_output_bytes),
                kv(
                    "expired_keys",
                    broker_stats
                        .expired_keys_total
                        .saturating_sub(stats.expired_keys_base.load(Ordering::Relaxed))
                        .to_string(),
                ),
                kv("evicted_keys", "0".into()),
                counter("keyspace_hits", &stats.keyspace_hits),
                counter("keyspace_misses", &stats.keyspace_misses),
                counter("total_error_replies", &stats.error_replies),
                kv(
                    "brook_records_appended",
                    broker_stats.records_appended_total.to_string(),
                ),
            ],
        );
    }
    if want("replication") {
        section(
            "Replication",
            vec![
                kv("role", "master".into()),
                kv("connected_slaves", "0".into()),
                kv("master_failover_state", "no-failover".into()),
                kv("master_replid", server.replid.clone()),
                kv("master_replid2", "0".repeat(40)),
                kv("master_repl_offset", "0".into()),
                kv("second_repl_offset", "-1".into()),
                kv("repl_backlog_active", "0".into()),
                kv("repl_backlog_size", "1048576".into()),
                kv("repl_backlog_first_byte_offset", "0".into()),
                kv("repl_backlog_histlen", "0".into()),
            ],
        );
    }
    if want("cpu") {
        section(
            "CPU",
            vec![
                kv("used_cpu_sys", "0.0".into()),
                kv("used_cpu_user", "0.0".into()),
            ],
        );
    }
    if want("modules") {
        section("Modules", vec![]);
    }
    if want("errorstats") {
        let kinds = stats.error_kinds.lock().clone();
        section(
            "Errorstats",
            kinds
                .into_iter()
                .map(|(kind, n)| (format!("errorstat_{kind}"), format!("count={n}")))
                .collect(),
        );
    }
    if want("cluster") {
        section("Cluster", vec![kv("cluster_enabled", "0".into())]);
    }
    if want_extra("commandstats") {
        section("Commandstats", server.command_stats());
    }
    if want("keyspace") {
        section(
            "Keyspace",
            server
                .broker
                .keyspace_summary()
                .into_iter()
                .map(|(db, n)| {
                    let avg_ttl = n.ttl_ms_sum.checked_div(n.expires).unwrap_or(0);
                    (
                        format!("db{db}"),
                        format!(
                            "keys={},expires={},avg_ttl={avg_ttl},subexpiry=0",
                            n.keys, n.expires
                        ),
                    )
                })
                .collect(),
        );
    }
    out
}

async fn info(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let sections: Vec<String> = args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let text = info_text(c, &sections);
    Ok(Frame::Verbatim {
        format: *b"txt",
        text: Bytes::from(text),
    })
}

/// One server, always the master, with no replicas.
async fn role(_c: &mut Conn, _args: Vec<Bytes>) -> CmdResult {
    Ok(Frame::Array(vec![
        bulk_str("master"),
        Frame::Integer(0),
        Frame::Array(vec![]),
    ]))
}

async fn cluster(_c: &mut Conn, _args: Vec<Bytes>) -> CmdResult {
    Ok(err("This instance has cluster support disabled"))
}

/// SAVE and BGSAVE: there is no snapshot to write, and saying `OK` would let a
/// backup script go on to copy a dump file that does not exist.
async fn save(_c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    Ok(err(format!(
        "{} is not supported: every write is in Brook's durable log already (see the fsync policy and WAITAOF); back up the data directory instead",
        String::from_utf8_lossy(&args[0]).to_ascii_uppercase()
    )))
}

/// No snapshot is ever saved: as Redis reports that, the time the server started
/// (also INFO's `rdb_last_save_time`).
async fn lastsave(c: &mut Conn, _args: Vec<Bytes>) -> CmdResult {
    Ok(Frame::Integer(started_unix(c) as i64))
}

fn started_unix(c: &Conn) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    now.as_secs()
        .saturating_sub(c.server.started.elapsed().as_secs())
}

async fn time(_c: &mut Conn, _args: Vec<Bytes>) -> CmdResult {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Ok(Frame::Array(vec![
        bulk(Bytes::from(now.as_secs().to_string())),
        bulk(Bytes::from(now.subsec_micros().to_string())),
    ]))
}

async fn wait(_c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    // No replicas: nothing to wait for.
    match (parse_i64(&args[1]), parse_i64(&args[2])) {
        (Some(_), Some(t)) if t >= 0 => Ok(Frame::Integer(0)),
        (Some(_), Some(_)) => Ok(err("timeout is negative")),
        _ => Ok(not_integer()),
    }
}

/// `WAITAOF numlocal numreplicas timeout`: with numlocal >= 1, returns once every
/// write this connection made before it is fsynced, whatever the topic's policy.
async fn waitaof(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let (Some(numlocal), Some(numreplicas), Some(timeout)) = (
        parse_i64(&args[1]),
        parse_i64(&args[2]),
        parse_i64(&args[3]),
    ) else {
        return Ok(not_integer());
    };
    if timeout < 0 {
        return Ok(err("timeout is negative"));
    }
    if numlocal < 0 || numreplicas < 0 {
        return Ok(not_integer());
    }
    let writes = std::mem::take(&mut c.unsynced_writes);
    if c.in_exec {
        // A transaction does not block (as in Redis): the state as it is.
        let synced = writes.iter().all(|(p, offset)| {
            let m = p.marks();
            m.durable_end >= (*offset).min(m.log_end)
        });
        if !synced {
            c.unsynced_writes = writes;
        }
        return Ok(Frame::Array(vec![
            Frame::Integer(i64::from(synced || numlocal == 0)),
            Frame::Integer(0),
        ]));
    }
    let all = async {
        for (p, offset) in &writes {
            if p.wait_durable(*offset).await.is_err() {
                return false;
            }
        }
        true
    };
    let synced = if timeout == 0 {
        all.await
    } else {
        tokio::time::timeout(std::time::Duration::from_millis(timeout as u64), all)
            .await
            .unwrap_or(false)
    };
    if !synced {
        // Keep them so a later WAITAOF waits again.
        c.unsynced_writes = writes;
    }
    Ok(Frame::Array(vec![
        Frame::Integer(i64::from(synced || numlocal == 0)),
        Frame::Integer(0),
    ]))
}
