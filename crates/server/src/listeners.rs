//! Binding the listeners and running the RESP and Kafka accept loops.
//!
//! Every bound address is logged at info level in one stable shape, which scripts
//! and the integration tests parse:
//!
//! ```text
//! listening protocol=resp addr=127.0.0.1:41234
//! listener disabled protocol=http
//! ```
//!
//! **Seam for the protocol servers.** Each accepted connection is handed to a
//! handler with the stream, the peer address and a [`Stop`] signal: RESP
//! connections to `brook_resp_server::RespServer::serve`, Kafka connections to
//! `brook_kafka_server::KafkaServer::serve`.
//! A connection handler should finish its in-flight request and return soon after
//! [`Stop::stopped`] completes: after [`CONNECTIONS_GRACE`] the accept loop aborts
//! whatever is left.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::Listen;
use crate::shutdown::Stop;

/// Most connections one protocol listener serves at once; further clients wait in
/// the listen backlog.
pub const CONNECTIONS_MAX: usize = 10_000;

/// After shutdown, how long open connections may take to finish their in-flight
/// work before they are aborted.
pub const CONNECTIONS_GRACE: Duration = Duration::from_secs(5);

/// The protocols Brook listens for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Resp,
    Kafka,
    Http,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Resp => "resp",
            Protocol::Kafka => "kafka",
            Protocol::Http => "http",
        })
    }
}

/// Binds `listen` for `protocol` (or does nothing if it is off) and logs the
/// address actually bound.
pub async fn bind(protocol: Protocol, listen: Listen) -> anyhow::Result<Option<TcpListener>> {
    let addr = match listen {
        Listen::Off => {
            tracing::info!(protocol = %protocol, "listener disabled");
            return Ok(None);
        }
        Listen::On(addr) => addr,
    };
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for {protocol} on {addr}"))?;
    let bound = listener
        .local_addr()
        .with_context(|| format!("cannot read the address of the {protocol} listener"))?;
    tracing::info!(protocol = %protocol, addr = %bound, "listening");
    Ok(Some(listener))
}

/// Accepts connections on `listener` and runs `handler` on each until `stop`, then
/// stops accepting, gives open connections [`CONNECTIONS_GRACE`] to finish, and
/// aborts the rest.
pub async fn accept_loop<H, F>(
    protocol: Protocol,
    listener: TcpListener,
    mut stop: Stop,
    handler: H,
) where
    H: Fn(TcpStream, SocketAddr, Stop) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    let mut connections = JoinSet::new();
    loop {
        let permit = tokio::select! {
            biased;
            () = stop.stopped() => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = stop.stopped() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // E.g. EMFILE: back off instead of spinning.
                    tracing::warn!(protocol = %protocol, %error, "accept failed; retrying in 100ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(protocol = %protocol, %peer, %error, "cannot set TCP_NODELAY");
        }
        while connections.try_join_next().is_some() {}
        let connection = handler(stream, peer, stop.clone());
        connections.spawn(async move {
            connection.await;
            drop(permit);
        });
    }
    drop(listener);
    tracing::debug!(protocol = %protocol, connections = connections.len(), "stopped accepting");
    let drained = tokio::time::timeout(CONNECTIONS_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            protocol = %protocol,
            connections = connections.len(),
            "shutdown grace period over; aborting connections"
        );
        connections.shutdown().await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;

    #[tokio::test]
    async fn off_binds_nothing_and_port_zero_binds_a_free_port() {
        assert!(bind(Protocol::Http, Listen::Off).await.unwrap().is_none());
        let listener = bind(Protocol::Resp, Listen::On("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap()
            .unwrap();
        assert_ne!(listener.local_addr().unwrap().port(), 0);
    }

    #[tokio::test]
    async fn binding_a_taken_port_names_protocol_and_address() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap();
        let error = bind(Protocol::Kafka, Listen::On(addr)).await.unwrap_err();
        let message = format!("{error:#}");
        assert!(
            message.contains("kafka") && message.contains(&addr.to_string()),
            "{message}"
        );
    }

    #[tokio::test]
    async fn accept_loop_runs_the_handler_and_stops_on_signal() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, stop) = crate::shutdown::channel();
        let task = tokio::spawn(accept_loop(
            Protocol::Kafka,
            listener,
            stop,
            |s, _peer, _stop| async move { drop(s) },
        ));

        let mut client = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf))
            .await
            .unwrap();
        assert!(matches!(read, Ok(0) | Err(_)), "expected EOF, got {read:?}");

        shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        assert!(TcpStream::connect(addr).await.is_err());
    }
}
