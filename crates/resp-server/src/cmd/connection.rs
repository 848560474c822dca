//! Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET, CLIENT.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use brook_broker::DATABASES;
use brook_resp_proto::{Frame, Protocol};

use super::{
    bulk, bulk_str, eq, err, error, handler, not_integer, ok, parse_i64, spec, CmdResult, Spec,
};
use crate::conn::Conn;
use crate::REDIS_COMPAT_VERSION;

pub fn specs() -> Vec<Spec> {
    const FAST: &[&str] = &["fast", "stale", "loading"];
    vec![
        spec(
            "ping",
            -1,
            FAST,
            (0, 0, 0),
            "connection",
            "1.0.0",
            "Returns the server's liveliness response.",
            handler!(ping),
        )
        .deferrable(),
        spec(
            "echo",
            2,
            FAST,
            (0, 0, 0),
            "connection",
            "1.0.0",
            "Returns the given string.",
            handler!(echo),
        )
        .deferrable(),
        spec(
            "hello",
            -1,
            &[
                "noscript",
                "loading",
                "stale",
                "fast",
                "no_auth",
                "allow_busy",
            ],
            (0, 0, 0),
            "connection",
            "6.0.0",
            "Handshakes with the Redis server.",
            handler!(hello),
        ),
        spec(
            "auth",
            -2,
            &[
                "noscript",
                "loading",
                "stale",
                "fast",
                "no_auth",
                "allow_busy",
            ],
            (0, 0, 0),
            "connection",
            "1.0.0",
            "Authenticates the connection.",
            handler!(auth),
        ),
        spec(
            "select",
            2,
            &["loading", "stale", "fast"],
            (0, 0, 0),
            "connection",
            "1.0.0",
            "Changes the selected database.",
            handler!(select),
        ),
        spec(
            "quit",
            -1,
            &[
                "noscript",
                "loading",
                "stale",
                "fast",
                "no_auth",
                "allow_busy",
            ],
            (0, 0, 0),
            "connection",
            "1.0.0",
            "Closes the connection.",
            handler!(quit),
        ),
        spec(
            "reset",
            1,
            &[
                "noscript",
                "loading",
                "stale",
                "fast",
                "no_auth",
                "allow_busy",
            ],
            (0, 0, 0),
            "connection",
            "6.2.0",
            "Resets the connection.",
            handler!(reset),
        ),
        spec(
            "client",
            -2,
            &[],
            (0, 0, 0),
            "connection",
            "2.4.0",
            "A container for client connection commands.",
            handler!(client),
        )
        .with_subcommands(&[
            "id", "getname", "setname", "info", "list", "kill", "setinfo", "no-evict", "no-touch",
            "reply", "help",
        ]),
    ]
}

async fn ping(_c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    Ok(match args.len() {
        1 => Frame::Simple(Bytes::from_static(b"PONG")),
        2 => bulk(args[1].clone()),
        _ => super::wrong_args("ping"),
    })
}

async fn echo(_c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    Ok(bulk(args[1].clone()))
}

fn no_password() -> Frame {
    err("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
}

async fn auth(_c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    // No users or passwords are configured: Redis's answer for that case.
    Ok(match args.len() {
        2 => no_password(),
        // The default user has no password: any password is accepted, as by Redis's
        // `default on nopass`.
        3 if args[1].as_ref() == b"default" => ok(),
        3 => error("WRONGPASS invalid username-password pair or user is disabled."),
        _ => super::syntax_error(),
    })
}

async fn hello(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let mut i = 1;
    let mut proto = c.proto;
    if let Some(v) = args.get(1) {
        match parse_i64(v) {
            Some(2) => proto = Protocol::Resp2,
            Some(3) => proto = Protocol::Resp3,
            Some(_) => return Ok(error("NOPROTO unsupported protocol version")),
            None => return Ok(err("Protocol version is not an integer or out of range")),
        }
        i = 2;
    }
    let mut name = None;
    while i < args.len() {
        if eq(&args[i], "AUTH") && i + 2 < args.len() {
            // Only the default user exists, and it takes any password.
            if args[i + 1].as_ref() != b"default" {
                return Ok(error(
                    "WRONGPASS invalid username-password pair or user is disabled.",
                ));
            }
            i += 3;
        } else if eq(&args[i], "SETNAME") && i + 1 < args.len() {
            // Kept with the client: a copy, not a view of the read buffer.
            let n = Bytes::copy_from_slice(&args[i + 1]);
            if n.iter()
                .any(|&b| b == b' ' || b == b'\n' || !(b'!'..=b'~').contains(&b))
            {
                return Ok(err(
                    "Client names cannot contain spaces, newlines or special characters.",
                ));
            }
            name = Some(n);
            i += 2;
        } else {
            let opt = String::from_utf8_lossy(&args[i]).into_owned();
            return Ok(err(format!("Syntax error in HELLO option '{opt}'")));
        }
    }
    if let Some(n) = name {
        *c.client.name.lock() = n;
    }
    c.proto = proto;
    c.client.resp.store(
        if proto == Protocol::Resp3 { 3 } else { 2 },
        Ordering::Relaxed,
    );
    Ok(Frame::Map(vec![
        (bulk_str("server"), bulk_str("redis")),
        (bulk_str("version"), bulk_str(REDIS_COMPAT_VERSION)),
        (
            bulk_str("proto"),
            Frame::Integer(if proto == Protocol::Resp3 { 3 } else { 2 }),
        ),
        (bulk_str("id"), Frame::Integer(c.client.id as i64)),
        (bulk_str("mode"), bulk_str("standalone")),
        (bulk_str("role"), bulk_str("master")),
        (bulk_str("modules"), Frame::Array(vec![])),
    ]))
}

async fn select(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    Ok(match parse_i64(&args[1]) {
        None => not_integer(),
        Some(db) if db < 0 || db >= i64::from(DATABASES) => err("DB index is out of range"),
        Some(db) => {
            c.db = db as u8;
            c.client.db.store(c.db, Ordering::Relaxed);
            ok()
        }
    })
}

async fn quit(c: &mut Conn, _args: Vec<Bytes>) -> CmdResult {
    c.quit = true;
    Ok(ok())
}

async fn reset(c: &mut Conn, _args: Vec<Bytes>) -> CmdResult {
    c.db = 0;
    c.client.db.store(0, Ordering::Relaxed);
    c.proto = Protocol::Resp2;
    c.client.resp.store(2, Ordering::Relaxed);
    c.multi = None;
    c.multi_failed = false;
    c.client.multi.store(false, Ordering::Relaxed);
    c.unwatch_all();
    *c.client.name.lock() = Bytes::new();
    c.client.no_evict.store(false, Ordering::Relaxed);
    c.replies_off = false;
    c.replies_to_skip = 0;
    c.skip_after_next_reply = false;
    Ok(Frame::Simple(Bytes::from_static(b"RESET")))
}

fn valid_name(n: &[u8]) -> bool {
    n.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

async fn client(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let server = c.server.clone();
    let reply = match (sub.as_str(), args.len()) {
        ("id", 2) => Frame::Integer(c.client.id as i64),
        ("getname", 2) => {
            let name = c.client.name.lock().clone();
            if name.is_empty() {
                Frame::Null
            } else {
                bulk(name)
            }
        }
        ("setname", 3) => {
            if !valid_name(&args[2]) {
                err("Client names cannot contain spaces, newlines or special characters.")
            } else {
                *c.client.name.lock() = Bytes::copy_from_slice(&args[2]);
                ok()
            }
        }
        ("setinfo", 4) => {
            let value = Bytes::copy_from_slice(&args[3]);
            if eq(&args[2], "lib-name") {
                if !valid_name(&value) {
                    err("lib-name cannot contain spaces, newlines or special characters.")
                } else {
                    *c.client.lib_name.lock() = value;
                    ok()
                }
            } else if eq(&args[2], "lib-ver") {
                if !valid_name(&value) {
                    err("lib-ver cannot contain spaces, newlines or special characters.")
                } else {
                    *c.client.lib_ver.lock() = value;
                    ok()
                }
            } else {
                err(format!(
                    "Unrecognized option '{}'",
                    String::from_utf8_lossy(&args[2])
                ))
            }
        }
        ("info", 2) => Frame::Verbatim {
            format: *b"txt",
            text: Bytes::from(format!("{}\n", c.client.info_line())),
        },
        ("list", _) => {
            let clients: Vec<_> = server.clients.lock().values().cloned().collect();
            let mut ids: Option<Vec<u64>> = None;
            if args.len() > 2 {
                if eq(&args[2], "ID") && args.len() > 3 {
                    let parsed: Option<Vec<u64>> =
                        args[3..].iter().map(|a| super::parse_u64(a)).collect();
                    match parsed {
                        Some(v) => ids = Some(v),
                        None => return Ok(err("Invalid client ID")),
                    }
                } else if eq(&args[2], "TYPE") && args.len() == 4 {
                    // Only normal clients exist.
                    if !eq(&args[3], "normal")
                        && !eq(&args[3], "master")
                        && !eq(&args[3], "replica")
                        && !eq(&args[3], "pubsub")
                    {
                        return Ok(err(format!(
                            "Unknown client type '{}'",
                            String::from_utf8_lossy(&args[3])
                        )));
                    }
                    if !eq(&args[3], "normal") {
                        ids = Some(vec![]);
                    }
                } else {
                    return Ok(super::syntax_error());
                }
            }
            let mut text = String::new();
            for cl in clients {
                if ids.as_ref().is_some_and(|ids| !ids.contains(&cl.id)) {
                    continue;
                }
                text.push_str(&cl.info_line());
                text.push('\n');
            }
            Frame::Verbatim {
                format: *b"txt",
                text: Bytes::from(text),
            }
        }
        ("kill", n) if n >= 3 => return Ok(client_kill(c, &args)),
        ("kill", _) => err("wrong number of arguments for 'client|kill' command"),
        ("no-evict", 3) | ("no-touch", 3) => {
            if eq(&args[2], "on") || eq(&args[2], "off") {
                if sub == "no-evict" {
                    c.client
                        .no_evict
                        .store(eq(&args[2], "on"), Ordering::Relaxed);
                }
                ok()
            } else {
                super::syntax_error()
            }
        }
        // OFF: no replies from this one on; SKIP: none for this one and the next
        // command; ON: replies again (its own `+OK` included).
        ("reply", 3) if eq(&args[2], "on") => {
            c.replies_off = false;
            c.replies_to_skip = 0;
            c.skip_after_next_reply = false;
            ok()
        }
        ("reply", 3) if eq(&args[2], "off") => {
            c.replies_off = true;
            ok()
        }
        ("reply", 3) if eq(&args[2], "skip") => {
            if c.in_exec {
                // Its reply goes into EXEC's array, which is sent; the next is not.
                c.skip_after_next_reply = true;
            } else {
                c.replies_to_skip = 2;
            }
            ok()
        }
        ("reply", 3) => super::syntax_error(),
        ("help", 2) => Frame::Array(
            [
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "ID",
                "GETNAME",
                "SETNAME <name>",
                "INFO",
                "LIST [TYPE normal] [ID id ...]",
                "KILL <ip:port> | KILL [ID id] [ADDR ip:port] [LADDR ip:port] [SKIPME yes|no]",
                "SETINFO <LIB-NAME|LIB-VER> <value>",
                "NO-EVICT <ON|OFF>",
                "NO-TOUCH <ON|OFF>",
                "REPLY <ON|OFF|SKIP>",
            ]
            .iter()
            .map(|s| Frame::Simple(Bytes::copy_from_slice(s.as_bytes())))
            .collect(),
        ),
        (
            "id" | "getname" | "setname" | "setinfo" | "info" | "no-evict" | "no-touch" | "reply"
            | "help",
            _,
        ) => err(format!(
            "wrong number of arguments for 'client|{sub}' command"
        )),
        _ => err(format!(
            "unknown subcommand '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&args[1])
        )),
    };
    Ok(reply)
}

fn client_kill(c: &mut Conn, args: &[Bytes]) -> Frame {
    let clients: Vec<_> = c.server.clients.lock().values().cloned().collect();
    if args.len() == 3 {
        // Old form: CLIENT KILL addr:port
        let addr = String::from_utf8_lossy(&args[2]).into_owned();
        return match clients.iter().find(|cl| cl.addr.to_string() == addr) {
            Some(cl) => {
                cl.kill();
                ok()
            }
            None => err("No such client"),
        };
    }
    let mut filters: Vec<(String, String)> = Vec::new();
    let mut skipme = true;
    let mut i = 2;
    while i + 1 < args.len() {
        let k = String::from_utf8_lossy(&args[i]).to_ascii_lowercase();
        let v = String::from_utf8_lossy(&args[i + 1]).into_owned();
        match k.as_str() {
            "id" => {
                if v.parse::<u64>().map_or(true, |id| id == 0) {
                    return err("client-id should be greater than 0");
                }
                filters.push((k, v));
            }
            "addr" | "laddr" => filters.push((k, v)),
            // Every connection is a normal client of the one user, `default`.
            "type" => match v.to_ascii_lowercase().as_str() {
                "normal" | "master" | "replica" | "slave" | "pubsub" => filters.push((k, v)),
                _ => return err(format!("Unknown client type '{v}'")),
            },
            "user" if v == "default" => {}
            "user" => return err(format!("No such user '{v}'")),
            "maxage" => match v.parse::<i64>() {
                Ok(_) => filters.push((k, v)),
                Err(_) => return err("maxage is not an integer or out of range"),
            },
            "skipme" if v.eq_ignore_ascii_case("yes") => skipme = true,
            "skipme" if v.eq_ignore_ascii_case("no") => skipme = false,
            _ => return super::syntax_error(),
        }
        i += 2;
    }
    if i != args.len() {
        return super::syntax_error();
    }
    let mut killed = 0;
    for cl in clients {
        if skipme && cl.id == c.client.id {
            continue;
        }
        let all = filters.iter().all(|(k, v)| match k.as_str() {
            "id" => v.parse::<u64>().is_ok_and(|id| id == cl.id),
            "addr" => cl.addr.to_string() == *v,
            "laddr" => cl.laddr.is_some_and(|a| a.to_string() == *v),
            "type" => v.eq_ignore_ascii_case("normal"),
            "maxage" => v
                .parse::<i64>()
                .is_ok_and(|s| cl.created.elapsed().as_secs() >= s.max(0).unsigned_abs()),
            _ => false,
        });
        if all {
            cl.kill();
            killed += 1;
        }
    }
    Frame::Integer(killed)
}
