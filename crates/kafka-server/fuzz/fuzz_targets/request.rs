//! Any bytes as one Kafka request frame (without its size prefix), handled against a
//! real broker in a temporary data directory: decoding and every handler must answer
//! or refuse, never panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

use brook_broker::{Broker, BrokerConfig};
use brook_kafka_server::api::{Advertised, Ctx};

struct Env {
    rt: tokio::runtime::Runtime,
    ctx: Ctx,
    _dir: tempfile::TempDir,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let broker: Arc<Broker> = Broker::open(BrokerConfig::new(dir.path())).expect("broker");
        Env {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            ctx: Ctx {
                broker,
                advertised: Advertised {
                    host: "127.0.0.1".into(),
                    port: 9092,
                },
                peer: std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
                idempotence: Default::default(),
                stopping: Default::default(),
                auto_create_topics: true,
                topic_ids: Default::default(),
            },
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let env = env();
    let frame = Bytes::copy_from_slice(data);
    env.rt.block_on(async {
        if let Ok(brook_kafka_server::conn::Handled::Later(later)) =
            brook_kafka_server::conn::handle(&env.ctx, frame).await
        {
            let _ = later.await;
        }
    });
});
