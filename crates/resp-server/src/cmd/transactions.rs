//! MULTI, EXEC, DISCARD, WATCH, UNWATCH.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use brook_resp_proto::Frame;

use super::{err, handler, ok, spec, CmdResult, Spec};
use crate::conn::Conn;

pub fn specs() -> Vec<Spec> {
    const F: &[&str] = &["noscript", "loading", "stale", "fast", "allow_busy"];
    vec![
        spec(
            "multi",
            1,
            F,
            (0, 0, 0),
            "transactions",
            "1.2.0",
            "Starts a transaction.",
            handler!(multi),
        ),
        spec(
            "exec",
            1,
            &["noscript", "loading", "stale", "skip_slowlog"],
            (0, 0, 0),
            "transactions",
            "1.2.0",
            "Executes all commands in a transaction.",
            handler!(exec),
        ),
        spec(
            "discard",
            1,
            F,
            (0, 0, 0),
            "transactions",
            "2.0.0",
            "Discards a transaction.",
            handler!(discard),
        ),
        spec(
            "watch",
            -2,
            F,
            (1, -1, 1),
            "transactions",
            "2.2.0",
            "Monitors changes to keys to determine the execution of a transaction.",
            handler!(watch),
        ),
        spec(
            "unwatch",
            1,
            F,
            (0, 0, 0),
            "transactions",
            "2.2.0",
            "Forgets about watched keys of a transaction.",
            handler!(unwatch),
        ),
    ]
}

async fn multi(c: &mut Conn, _args: Vec<Bytes>) -> CmdResult {
    if c.multi.is_some() {
        return Ok(err("MULTI calls can not be nested"));
    }
    c.multi = Some(Vec::new());
    c.multi_failed = false;
    c.client.multi.store(true, Ordering::Relaxed);
    Ok(ok())
}

fn end_multi(c: &mut Conn) -> Option<Vec<Vec<Bytes>>> {
    c.client.multi.store(false, Ordering::Relaxed);
    c.multi_failed = false;
    c.multi.take()
}

async fn exec(c: &mut Conn, _args: Vec<Bytes>) -> CmdResult {
    let failed = c.multi_failed;
    let Some(queue) = end_multi(c) else {
        return Ok(err("EXEC without MULTI"));
    };
    if failed {
        c.unwatch_all();
        return Ok(Frame::Error(Bytes::from_static(
            b"EXECABORT Transaction discarded because of previous errors.",
        )));
    }
    // No other command runs from here to the last reply (and none runs now).
    let _alone = c.server.exec_gate.clone().write_owned().await;
    let now = brook_broker::now_ms();
    let touched = c.watched.iter().any(|w| {
        c.server.watches.version(w.db, &w.key) != Some(w.version)
            || w.expires.is_some_and(|at| at <= now)
    });
    c.unwatch_all();
    if touched {
        return Ok(Frame::NullArray);
    }
    let mut replies = Vec::with_capacity(queue.len());
    c.in_exec = true;
    for args in queue {
        let reply = match super::check(&args) {
            Ok(spec) => super::run(c, spec, args).await,
            Err(reply) => Ok(reply),
        };
        match reply {
            Ok(frame) => {
                if let Frame::Error(message) = &frame {
                    c.count_error(message);
                }
                replies.push(frame);
            }
            Err(closed) => {
                c.in_exec = false;
                return Err(closed);
            }
        }
    }
    c.in_exec = false;
    Ok(Frame::Array(replies))
}

async fn discard(c: &mut Conn, _args: Vec<Bytes>) -> CmdResult {
    if end_multi(c).is_none() {
        return Ok(err("DISCARD without MULTI"));
    }
    c.unwatch_all();
    Ok(ok())
}

async fn watch(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    if c.multi.is_some() {
        return Ok(err("WATCH inside MULTI is not allowed"));
    }
    for key in &args[1..] {
        c.watch(key);
    }
    Ok(ok())
}

async fn unwatch(c: &mut Conn, _args: Vec<Bytes>) -> CmdResult {
    c.unwatch_all();
    Ok(ok())
}
