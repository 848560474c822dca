//! `brook server`: open the broker, bind the listeners, serve until SIGTERM/SIGINT,
//! then shut down in order.
//!
//! Start-up order: open the broker (takes the data-dir lock, so a second server on
//! the same directory fails here, before binding anything), bind every listener
//! (each bound address is logged), start the accept loops and the admin HTTP server,
//! and mark the server ready (`/readyz`, and the log line `server ready`).
//!
//! Shutdown order on the first SIGTERM or SIGINT: mark not ready, stop accepting,
//! give open connections a bounded grace period ([`CONNECTIONS_GRACE`]), call
//! [`Broker::shutdown`], drop the broker (releasing the data-dir lock) and return.
//! A second signal during shutdown exits at once with status 1.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use brook_admin_http::{AdminState, Counted, ServeLimits};
use brook_broker::{Broker, BrokerConfig, KafkaGroupConfig};
use brook_kafka_server::KafkaServer;
use brook_resp_server::RespServer;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::listeners::{self, Protocol, CONNECTIONS_GRACE};
use crate::shutdown;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs the server until a signal asks it to stop. Returns once the broker has been
/// shut down and dropped.
pub async fn run(config: Config) -> anyhow::Result<()> {
    // Installed first, so that a signal arriving during start-up is not lost.
    let mut signals = Signals::install()?;
    tracing::info!(
        version = %VERSION,
        data_dir = %config.data_dir.display(),
        fsync = %config.fsync,
        segment_bytes = config.segment_bytes,
        "starting brook server"
    );

    let broker_config = BrokerConfig {
        data_dir: config.data_dir.clone(),
        default_fsync: config.fsync,
        segment_bytes: config.segment_bytes,
        kafka_groups: KafkaGroupConfig {
            initial_rebalance_delay_ms: config.group_initial_rebalance_delay_ms,
            ..KafkaGroupConfig::default()
        },
        ..BrokerConfig::new(config.data_dir.clone())
    };
    let broker = tokio::task::spawn_blocking(move || Broker::open(broker_config))
        .await
        .context("the broker's open task failed")??;
    let admin = AdminState::new(Arc::clone(&broker), VERSION);

    let resp = listeners::bind(Protocol::Resp, config.resp_listen).await?;
    let kafka = listeners::bind(Protocol::Kafka, config.kafka_listen).await?;
    let http = listeners::bind(Protocol::Http, config.http_listen).await?;

    let addr = |l: &Option<tokio::net::TcpListener>| {
        l.as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.to_string())
    };
    admin.set_listeners(brook_admin_http::types::Listeners {
        resp: addr(&resp),
        kafka: addr(&kafka),
        http: addr(&http),
    });

    let (shutdown, stop) = shutdown::channel();
    let mut tasks = JoinSet::new();
    let resp_server = RespServer::new(Arc::clone(&broker), VERSION);
    admin.add_metrics(resp_server.clone());
    if let Some(listener) = resp {
        let resp_server = Arc::clone(&resp_server);
        let admin = Arc::clone(&admin);
        tasks.spawn(listeners::accept_loop(
            Protocol::Resp,
            listener,
            stop.clone(),
            move |stream, peer, mut stop| {
                let counted = admin.connection(Counted::Resp);
                let serve = Arc::clone(&resp_server)
                    .serve(stream, peer, async move { stop.stopped().await });
                async move {
                    serve.await;
                    drop(counted);
                }
            },
        ));
    }
    let mut kafka_front = None;
    if let Some(listener) = kafka {
        // Metadata advertises the address each client connected to.
        let advertise =
            config
                .kafka_advertise
                .clone()
                .map(|a| brook_kafka_server::api::Advertised {
                    host: a.host,
                    port: a.port,
                });
        let kafka_server = KafkaServer::new(
            Arc::clone(&broker),
            advertise,
            config.kafka_auto_create_topics,
        );
        admin.add_metrics(kafka_server.clone());
        kafka_front = Some(Arc::clone(&kafka_server));
        let admin = Arc::clone(&admin);
        tasks.spawn(listeners::accept_loop(
            Protocol::Kafka,
            listener,
            stop.clone(),
            move |stream, peer, mut stop| {
                let counted = admin.connection(Counted::Kafka);
                let serve = Arc::clone(&kafka_server)
                    .serve(stream, peer, async move { stop.stopped().await });
                async move {
                    serve.await;
                    drop(counted);
                }
            },
        ));
    }
    if let Some(listener) = http {
        let mut stop = stop.clone();
        let limits = ServeLimits {
            shutdown_grace: CONNECTIONS_GRACE,
            ..ServeLimits::default()
        };
        tasks.spawn(brook_admin_http::serve(
            listener,
            Arc::clone(&admin),
            limits,
            async move { stop.stopped().await },
        ));
    }
    drop(stop);

    admin.set_ready(true);
    tracing::info!("server ready");

    let listener_failed = tokio::select! {
        received = signals.next() => {
            tracing::info!(signal = %received, "shutting down");
            false
        }
        Some(ended) = tasks.join_next() => {
            // Listeners only end when told to; this is a bug, not a shutdown request.
            tracing::error!(?ended, "a listener task ended unexpectedly; shutting down");
            true
        }
    };
    admin.set_ready(false);
    shutdown.trigger();
    // Blocked readers (XREAD BLOCK) return at once instead of waiting out the grace.
    resp_server.begin_shutdown();
    if let Some(kafka) = &kafka_front {
        kafka.begin_shutdown();
    }
    tokio::spawn(async move {
        let again = signals.next().await;
        tracing::warn!(
            signal = %again,
            "second signal during shutdown; exiting without a clean shutdown"
        );
        std::process::exit(1);
    });

    // Every task bounds its own drain by CONNECTIONS_GRACE; this is a backstop.
    let joined = tokio::time::timeout(CONNECTIONS_GRACE + Duration::from_secs(2), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if joined.is_err() {
        tracing::warn!("listeners did not stop in time; aborting them");
        tasks.shutdown().await;
    }
    // The front ends (and the admin API's metrics, which hold them) hold the broker:
    // let go of them so the broker's last handle is dropped here.
    drop(admin);
    drop(resp_server);
    drop(kafka_front);

    let closing = Arc::clone(&broker);
    tokio::task::spawn_blocking(move || closing.shutdown())
        .await
        .context("the broker's shutdown task failed")?
        .context("broker shutdown failed")?;
    match Arc::into_inner(broker) {
        Some(broker) => drop(broker),
        None => tracing::warn!("the broker is still referenced after shutdown"),
    }
    tracing::info!("stopped; data directory released");
    if listener_failed {
        anyhow::bail!("a listener task ended unexpectedly");
    }
    Ok(())
}

/// SIGTERM and SIGINT, as one stream.
struct Signals {
    terminate: Signal,
    interrupt: Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        Ok(Signals {
            terminate: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
        })
    }

    /// The name of the next signal received.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}
