//! `brook`: the Brook server (`brook server`) and the command-line tools that talk
//! to a running one over its admin HTTP API (`cli/`).

mod cli;
mod config;
mod listeners;
mod logging;
mod server;
mod shutdown;

/// mimalloc: the server allocates and frees many small buffers per request; it is
/// measurably faster than the system allocator here (bench/resp-vs-redis).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use brook_model::Durability;
use clap::{Args, CommandFactory as _, Parser, Subcommand};

use crate::config::{Advertise, Config, Layer, Listen, LogFormat};

/// A durable event log served over the Redis (RESP) and Kafka protocols.
#[derive(Debug, Parser)]
#[command(name = "brook", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    ///
    /// Settings come from flags, then BROOK_* environment variables, then the
    /// config file, then defaults. With none, data goes to ./brook-data, RESP
    /// listens on 127.0.0.1:6379, Kafka on 127.0.0.1:9092 and HTTP on
    /// 127.0.0.1:9644.
    Server(ServerArgs),
    /// Create, list, describe, alter and delete topics
    Topic(cli::topic::TopicArgs),
    /// Write lines from stdin or a file to a topic, one record per line
    Produce(cli::produce::ProduceArgs),
    /// Print a topic's records
    Consume(cli::consume::ConsumeArgs),
    /// List, describe, reset and delete consumer groups (Kafka and Redis)
    Group(cli::group::GroupArgs),
    /// Show the server's version, uptime, listeners, disk use, topics, connections
    Status(cli::status::StatusArgs),
    /// A load generator over the Kafka protocol: produce or consume, then a summary
    /// with latency percentiles and a histogram
    Bench(cli::bench::BenchArgs),
    /// Print a shell completion script: brook completions bash > /etc/bash_completion.d/brook
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
struct ServerArgs {
    /// TOML config file with keys data_dir, resp_listen, kafka_listen,
    /// http_listen, fsync, segment_bytes, log_format,
    /// group_initial_rebalance_delay_ms, kafka_auto_create_topics [env: BROOK_CONFIG]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory [env: BROOK_DATA_DIR] [default: ./brook-data]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// RESP (Redis protocol) address, or off [env: BROOK_RESP_LISTEN] [default: 127.0.0.1:6379]
    #[arg(long, value_name = "ADDR")]
    resp_listen: Option<Listen>,
    /// Kafka protocol address, or off [env: BROOK_KAFKA_LISTEN] [default: 127.0.0.1:9092]
    #[arg(long, value_name = "ADDR")]
    kafka_listen: Option<Listen>,
    /// HOST:PORT that Kafka clients are told to connect to (Kafka's
    /// advertised.listeners) [env: BROOK_KAFKA_ADVERTISE] [default: the address each
    /// client connected to]
    #[arg(long, value_name = "HOST:PORT")]
    kafka_advertise: Option<Advertise>,
    /// Admin HTTP address (/healthz, /readyz, /metrics), or off [env: BROOK_HTTP_LISTEN] [default: 127.0.0.1:9644]
    #[arg(long, value_name = "ADDR")]
    http_listen: Option<Listen>,
    /// Default fsync policy: always, everysec, <N>ms or never [env: BROOK_FSYNC] [default: always]
    #[arg(long, value_name = "POLICY")]
    fsync: Option<Durability>,
    /// Default segment size in bytes [env: BROOK_SEGMENT_BYTES] [default: 134217728]
    #[arg(long, value_name = "BYTES", value_parser = config::parse_segment_bytes)]
    segment_bytes: Option<u64>,
    /// Log format: human or json [env: BROOK_LOG_FORMAT] [default: human]
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<LogFormat>,
    /// How long the first rebalance of an empty Kafka consumer group waits for more
    /// members (Kafka's group.initial.rebalance.delay.ms)
    /// [env: BROOK_GROUP_INITIAL_REBALANCE_DELAY_MS] [default: 3000]
    #[arg(long, value_name = "MS", value_parser = config::parse_rebalance_delay_ms)]
    group_initial_rebalance_delay_ms: Option<u64>,
    /// Whether Kafka Metadata requests create the topics they name (Kafka's
    /// auto.create.topics.enable) [env: BROOK_KAFKA_AUTO_CREATE_TOPICS] [default: true]
    #[arg(long, value_name = "BOOL", value_parser = config::parse_bool)]
    kafka_auto_create_topics: Option<bool>,
}

impl ServerArgs {
    fn into_layer(self) -> (Layer, Option<PathBuf>) {
        let layer = Layer {
            data_dir: self.data_dir,
            resp_listen: self.resp_listen,
            kafka_listen: self.kafka_listen,
            kafka_advertise: self.kafka_advertise,
            http_listen: self.http_listen,
            fsync: self.fsync,
            segment_bytes: self.segment_bytes,
            log_format: self.log_format,
            group_initial_rebalance_delay_ms: self.group_initial_rebalance_delay_ms,
            kafka_auto_create_topics: self.kafka_auto_create_topics,
        };
        (layer, self.config)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Server(args) => server_command(args),
        Command::Topic(args) => cli::exit_with(cli::topic::run(args)),
        Command::Produce(args) => cli::exit_with(cli::produce::run(args)),
        Command::Consume(args) => cli::exit_with(cli::consume::run(args)),
        Command::Group(args) => cli::exit_with(cli::group::run(args)),
        Command::Status(args) => cli::exit_with(cli::status::run(args)),
        Command::Bench(args) => cli::exit_with(cli::bench::run(args)),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "brook", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
    }
}

fn server_command(args: ServerArgs) -> ExitCode {
    let (flags, config_flag) = args.into_layer();
    let config = match Config::load(flags, config_flag, |name| std::env::var_os(name)) {
        Ok(config) => config,
        Err(error) => {
            // Logging is not set up yet: its format is part of the configuration.
            eprintln!("brook: error: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    match logging::init(config.log_format) {
        Ok(Some(warning)) => tracing::warn!("{warning}"),
        Ok(None) => {}
        Err(error) => {
            eprintln!("brook: error: {error:#}");
            return ExitCode::FAILURE;
        }
    }
    // Like Redis: raise the open-files limit so the connection limit (two listeners of
    // up to 10,000 clients each) is not cut short by a default soft limit of 1024.
    match rlimit::increase_nofile_limit(2 * 10_000 + 256) {
        Ok(limit) if limit < 2 * 10_000 + 256 => {
            tracing::warn!(
                limit,
                "the open-files limit is low; clients beyond it will be refused"
            )
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "cannot raise the open-files limit"),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn server_flags_parse_into_the_flag_layer() {
        let cli = Cli::try_parse_from([
            "brook",
            "server",
            "--data-dir",
            "/d",
            "--resp-listen",
            "127.0.0.1:0",
            "--http-listen",
            "off",
            "--fsync",
            "everysec",
            "--segment-bytes",
            "4096",
            "--log-format",
            "json",
            "--config",
            "/c.toml",
        ])
        .unwrap();
        let Command::Server(args) = cli.command else {
            panic!("not the server command");
        };
        let (layer, config) = args.into_layer();
        assert_eq!(config, Some(PathBuf::from("/c.toml")));
        assert_eq!(layer.data_dir, Some(PathBuf::from("/d")));
        assert_eq!(layer.resp_listen, Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(layer.kafka_listen, None);
        assert_eq!(layer.http_listen, Some(Listen::Off));
        assert_eq!(layer.fsync, Some(Durability::Interval { ms: 1000 }));
        assert_eq!(layer.segment_bytes, Some(4096));
        assert_eq!(layer.log_format, Some(LogFormat::Json));
    }

    #[test]
    fn bad_flag_values_are_rejected_by_the_parser() {
        for bad in [
            &["brook", "server", "--fsync", "sometimes"][..],
            &["brook", "server", "--segment-bytes", "1"],
            &["brook", "server", "--resp-listen", "nowhere"],
            &["brook", "server", "--log-format", "xml"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?} parsed");
        }
    }
}
