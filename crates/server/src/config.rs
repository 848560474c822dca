//! Server configuration, layered explicitly: **flag > environment > file > default**.
//!
//! Each source is read into a [`Layer`] whose fields are all optional; the layers are
//! merged with [`Layer::over`] (the upper layer wins field by field) and the result is
//! completed with defaults by [`Config::resolve`]. A value is parsed and checked when
//! its layer is read, so an error names where the bad value came from (the flag, the
//! `BROOK_*` variable, or the file and key).
//!
//! | key (file)      | flag               | environment           | default          |
//! |-----------------|--------------------|-----------------------|------------------|
//! | `data_dir`      | `--data-dir`       | `BROOK_DATA_DIR`      | `./brook-data`   |
//! | `resp_listen`   | `--resp-listen`    | `BROOK_RESP_LISTEN`   | `127.0.0.1:6379` |
//! | `kafka_listen`  | `--kafka-listen`   | `BROOK_KAFKA_LISTEN`  | `127.0.0.1:9092` |
//! | `kafka_advertise` | `--kafka-advertise` | `BROOK_KAFKA_ADVERTISE` | the address each client connected to |
//! | `http_listen`   | `--http-listen`    | `BROOK_HTTP_LISTEN`   | `127.0.0.1:9644` |
//! | `fsync`         | `--fsync`          | `BROOK_FSYNC`         | `always`         |
//! | `segment_bytes` | `--segment-bytes`  | `BROOK_SEGMENT_BYTES` | 128 MiB          |
//! | `log_format`    | `--log-format`     | `BROOK_LOG_FORMAT`    | `human`          |
//! | `kafka_auto_create_topics` | `--kafka-auto-create-topics` | `BROOK_KAFKA_AUTO_CREATE_TOPICS` | `true` (Kafka's `auto.create.topics.enable`) |
//! | `group_initial_rebalance_delay_ms` | `--group-initial-rebalance-delay-ms` | `BROOK_GROUP_INITIAL_REBALANCE_DELAY_MS` | 3000 (Kafka's `group.initial.rebalance.delay.ms`) |
//!
//! The file itself is named by `--config` or else `BROOK_CONFIG`; without either, no
//! file is read. It is TOML; an unknown key is an error. A relative `data_dir` is
//! relative to the working directory, wherever it was set. A listen address of
//! `off`, `none` or the empty string disables that listener; port 0 picks a free port.

use std::ffi::OsString;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{anyhow, bail, Context as _};
use brook_model::{Durability, SEGMENT_BYTES_DEFAULT, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN};

pub const DATA_DIR_DEFAULT: &str = "./brook-data";
pub const RESP_LISTEN_DEFAULT: SocketAddr = localhost(6379);
pub const KAFKA_LISTEN_DEFAULT: SocketAddr = localhost(9092);
pub const HTTP_LISTEN_DEFAULT: SocketAddr = localhost(9644);

const fn localhost(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

/// Where a listener listens, or that it is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    Off,
    On(SocketAddr),
}

impl FromStr for Listen {
    type Err = String;

    fn from_str(s: &str) -> Result<Listen, String> {
        let trimmed = s.trim();
        if trimmed.is_empty()
            || trimmed.eq_ignore_ascii_case("off")
            || trimmed.eq_ignore_ascii_case("none")
        {
            return Ok(Listen::Off);
        }
        trimmed.parse().map(Listen::On).map_err(|_| {
            format!(
                "invalid listen address {s:?}: expected IP:PORT (e.g. 127.0.0.1:6379, \
                 [::1]:6379, 0.0.0.0:0 for any free port) or off"
            )
        })
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Off => f.write_str("off"),
            Listen::On(addr) => addr.fmt(f),
        }
    }
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "human" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("invalid log format {s:?}: expected human or json")),
        }
    }
}

/// Parses a segment size in bytes and checks it against the model's limits.
pub fn parse_segment_bytes(s: &str) -> Result<u64, String> {
    let bytes: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("invalid segment size {s:?}: expected a number of bytes"))?;
    check_segment_bytes(bytes)
}

/// Parses `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0`).
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(format!("invalid boolean {s:?}: expected true or false")),
    }
}

/// Most `group_initial_rebalance_delay_ms` accepted (Kafka's rebalance timeouts are
/// minutes; a longer first rebalance only makes consumers wait).
pub const INITIAL_REBALANCE_DELAY_MS_MAX: u64 = 300_000;
/// Kafka's default `group.initial.rebalance.delay.ms`.
pub const INITIAL_REBALANCE_DELAY_MS_DEFAULT: u64 = 3000;

/// Parses the Kafka groups' initial rebalance delay in milliseconds.
pub fn parse_rebalance_delay_ms(s: &str) -> Result<u64, String> {
    let ms: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("invalid delay {s:?}: expected a number of milliseconds"))?;
    check_rebalance_delay_ms(ms)
}

fn check_rebalance_delay_ms(ms: u64) -> Result<u64, String> {
    if ms <= INITIAL_REBALANCE_DELAY_MS_MAX {
        Ok(ms)
    } else {
        Err(format!(
            "initial rebalance delay {ms} ms is out of range: expected 0..={INITIAL_REBALANCE_DELAY_MS_MAX}"
        ))
    }
}

fn check_segment_bytes(bytes: u64) -> Result<u64, String> {
    if (SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&bytes) {
        Ok(bytes)
    } else {
        Err(format!(
            "segment size {bytes} is out of range: expected {SEGMENT_BYTES_MIN}..={SEGMENT_BYTES_MAX} bytes"
        ))
    }
}

/// `HOST:PORT` that Kafka Metadata hands to clients (Kafka's advertised.listeners).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertise {
    pub host: String,
    pub port: u16,
}

impl std::str::FromStr for Advertise {
    type Err = String;
    fn from_str(s: &str) -> Result<Advertise, String> {
        let bad = || format!("invalid address {s:?}: expected HOST:PORT");
        let (host, port) = s.trim().rsplit_once(':').ok_or_else(bad)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || port == 0 || host.contains(char::is_whitespace) {
            return Err(bad());
        }
        Ok(Advertise {
            host: host.to_string(),
            port,
        })
    }
}

/// One source of configuration; `None` means "this source does not say".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layer {
    pub data_dir: Option<PathBuf>,
    pub resp_listen: Option<Listen>,
    pub kafka_listen: Option<Listen>,
    pub kafka_advertise: Option<Advertise>,
    pub http_listen: Option<Listen>,
    pub fsync: Option<Durability>,
    pub segment_bytes: Option<u64>,
    pub log_format: Option<LogFormat>,
    pub group_initial_rebalance_delay_ms: Option<u64>,
    pub kafka_auto_create_topics: Option<bool>,
}

impl Layer {
    /// `self` over `lower`: each field from `self` if it says, else from `lower`.
    pub fn over(self, lower: Layer) -> Layer {
        Layer {
            data_dir: self.data_dir.or(lower.data_dir),
            resp_listen: self.resp_listen.or(lower.resp_listen),
            kafka_listen: self.kafka_listen.or(lower.kafka_listen),
            kafka_advertise: self.kafka_advertise.or(lower.kafka_advertise),
            http_listen: self.http_listen.or(lower.http_listen),
            fsync: self.fsync.or(lower.fsync),
            segment_bytes: self.segment_bytes.or(lower.segment_bytes),
            log_format: self.log_format.or(lower.log_format),
            group_initial_rebalance_delay_ms: self
                .group_initial_rebalance_delay_ms
                .or(lower.group_initial_rebalance_delay_ms),
            kafka_auto_create_topics: self
                .kafka_auto_create_topics
                .or(lower.kafka_auto_create_topics),
        }
    }

    /// Reads the `BROOK_*` variables through `var` (the process environment in
    /// production, a map in tests).
    pub fn from_env(var: impl Fn(&str) -> Option<OsString>) -> anyhow::Result<Layer> {
        fn parsed<T>(
            var: &impl Fn(&str) -> Option<OsString>,
            name: &str,
            parse: impl Fn(&str) -> Result<T, String>,
        ) -> anyhow::Result<Option<T>> {
            let Some(raw) = var(name) else {
                return Ok(None);
            };
            let text = raw
                .to_str()
                .ok_or_else(|| anyhow!("environment variable {name} is not valid UTF-8"))?;
            parse(text)
                .map(Some)
                .map_err(|e| anyhow!("environment variable {name}: {e}"))
        }
        let data_dir = match var("BROOK_DATA_DIR") {
            Some(raw) if raw.is_empty() => {
                bail!("environment variable BROOK_DATA_DIR: the data directory must not be empty")
            }
            raw => raw.map(PathBuf::from),
        };
        Ok(Layer {
            data_dir,
            resp_listen: parsed(&var, "BROOK_RESP_LISTEN", str::parse)?,
            kafka_listen: parsed(&var, "BROOK_KAFKA_LISTEN", str::parse)?,
            kafka_advertise: parsed(&var, "BROOK_KAFKA_ADVERTISE", str::parse)?,
            http_listen: parsed(&var, "BROOK_HTTP_LISTEN", str::parse)?,
            fsync: parsed(&var, "BROOK_FSYNC", |s| {
                s.parse::<Durability>().map_err(|e| e.to_string())
            })?,
            segment_bytes: parsed(&var, "BROOK_SEGMENT_BYTES", parse_segment_bytes)?,
            log_format: parsed(&var, "BROOK_LOG_FORMAT", str::parse)?,
            group_initial_rebalance_delay_ms: parsed(
                &var,
                "BROOK_GROUP_INITIAL_REBALANCE_DELAY_MS",
                parse_rebalance_delay_ms,
            )?,
            kafka_auto_create_topics: parsed(&var, "BROOK_KAFKA_AUTO_CREATE_TOPICS", parse_bool)?,
        })
    }

    /// Parses a TOML config file's text. Unknown keys are errors that name the key.
    pub fn from_toml(text: &str) -> anyhow::Result<Layer> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            data_dir: Option<PathBuf>,
            resp_listen: Option<String>,
            kafka_listen: Option<String>,
            kafka_advertise: Option<String>,
            http_listen: Option<String>,
            fsync: Option<String>,
            segment_bytes: Option<u64>,
            log_format: Option<String>,
            group_initial_rebalance_delay_ms: Option<u64>,
            kafka_auto_create_topics: Option<bool>,
        }
        fn key<T>(
            name: &str,
            value: Option<String>,
            parse: impl Fn(&str) -> Result<T, String>,
        ) -> anyhow::Result<Option<T>> {
            value
                .map(|v| parse(&v).map_err(|e| anyhow!("key {name}: {e}")))
                .transpose()
        }
        let file: File = toml::from_str(text).map_err(|e| anyhow!("{}", e.to_string().trim()))?;
        if file
            .data_dir
            .as_ref()
            .is_some_and(|d| d.as_os_str().is_empty())
        {
            bail!("key data_dir: the data directory must not be empty");
        }
        Ok(Layer {
            data_dir: file.data_dir,
            resp_listen: key("resp_listen", file.resp_listen, str::parse)?,
            kafka_listen: key("kafka_listen", file.kafka_listen, str::parse)?,
            kafka_advertise: key("kafka_advertise", file.kafka_advertise, str::parse)?,
            http_listen: key("http_listen", file.http_listen, str::parse)?,
            fsync: key("fsync", file.fsync, |s| {
                s.parse::<Durability>().map_err(|e| e.to_string())
            })?,
            segment_bytes: file
                .segment_bytes
                .map(|b| check_segment_bytes(b).map_err(|e| anyhow!("key segment_bytes: {e}")))
                .transpose()?,
            log_format: key("log_format", file.log_format, str::parse)?,
            group_initial_rebalance_delay_ms: file
                .group_initial_rebalance_delay_ms
                .map(|ms| {
                    check_rebalance_delay_ms(ms)
                        .map_err(|e| anyhow!("key group_initial_rebalance_delay_ms: {e}"))
                })
                .transpose()?,
            kafka_auto_create_topics: file.kafka_auto_create_topics,
        })
    }

    /// Reads and parses the config file at `path`.
    pub fn from_file(path: &Path) -> anyhow::Result<Layer> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        Layer::from_toml(&text).with_context(|| format!("config file {}", path.display()))
    }
}

/// The resolved configuration of `brook server`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub data_dir: PathBuf,
    pub resp_listen: Listen,
    pub kafka_listen: Listen,
    pub kafka_advertise: Option<Advertise>,
    pub http_listen: Listen,
    pub fsync: Durability,
    pub segment_bytes: u64,
    pub log_format: LogFormat,
    pub group_initial_rebalance_delay_ms: u64,
    pub kafka_auto_create_topics: bool,
}

impl Config {
    /// Merges the layers in precedence order and fills the gaps with defaults.
    pub fn resolve(flags: Layer, env: Layer, file: Layer) -> Config {
        let merged = flags.over(env).over(file);
        Config {
            data_dir: merged
                .data_dir
                .unwrap_or_else(|| PathBuf::from(DATA_DIR_DEFAULT)),
            resp_listen: merged
                .resp_listen
                .unwrap_or(Listen::On(RESP_LISTEN_DEFAULT)),
            kafka_listen: merged
                .kafka_listen
                .unwrap_or(Listen::On(KAFKA_LISTEN_DEFAULT)),
            kafka_advertise: merged.kafka_advertise,
            http_listen: merged
                .http_listen
                .unwrap_or(Listen::On(HTTP_LISTEN_DEFAULT)),
            fsync: merged.fsync.unwrap_or_default(),
            segment_bytes: merged.segment_bytes.unwrap_or(SEGMENT_BYTES_DEFAULT),
            log_format: merged.log_format.unwrap_or_default(),
            group_initial_rebalance_delay_ms: merged
                .group_initial_rebalance_delay_ms
                .unwrap_or(INITIAL_REBALANCE_DELAY_MS_DEFAULT),
            kafka_auto_create_topics: merged.kafka_auto_create_topics.unwrap_or(true),
        }
    }

    /// Loads the configuration: `flags` as given on the command line, the config
    /// file named by `config_flag` or else by `BROOK_CONFIG`, and the `BROOK_*`
    /// variables read through `var`.
    pub fn load(
        flags: Layer,
        config_flag: Option<PathBuf>,
        var: impl Fn(&str) -> Option<OsString>,
    ) -> anyhow::Result<Config> {
        let config_path = config_flag.or_else(|| var("BROOK_CONFIG").map(PathBuf::from));
        let file = match config_path {
            Some(path) => Layer::from_file(&path)?,
            None => Layer::default(),
        };
        let env = Layer::from_env(var)?;
        Ok(Config::resolve(flags, env, file))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kafka_advertise_parses_host_port() {
        let a: Advertise = "brook.example:9092".parse().unwrap();
        assert_eq!((a.host.as_str(), a.port), ("brook.example", 9092));
        let a: Advertise = "[::1]:9092".parse().unwrap();
        assert_eq!(a.host, "::1");
        for bad in ["brook", ":9092", "host:0", "host:x", "a b:1"] {
            assert!(bad.parse::<Advertise>().is_err(), "{bad}");
        }
        let layer = Layer::from_toml("kafka_advertise = \"h:1\"").unwrap();
        assert_eq!(layer.kafka_advertise.unwrap().port, 1);
    }
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn on(s: &str) -> Listen {
        Listen::On(s.parse().unwrap())
    }

    #[test]
    fn zero_configuration_gives_the_documented_defaults() {
        let config = Config::load(Layer::default(), None, env(&[])).unwrap();
        assert_eq!(
            config,
            Config {
                data_dir: PathBuf::from("./brook-data"),
                resp_listen: on("127.0.0.1:6379"),
                kafka_listen: on("127.0.0.1:9092"),
                kafka_advertise: None,
                http_listen: on("127.0.0.1:9644"),
                fsync: Durability::Always,
                segment_bytes: SEGMENT_BYTES_DEFAULT,
                log_format: LogFormat::Human,
                group_initial_rebalance_delay_ms: 3000,
                kafka_auto_create_topics: true,
            }
        );
    }

    #[test]
    fn flag_beats_env_beats_file_beats_default_for_every_key() {
        let file = Layer::from_toml(
            r#"
            data_dir = "/file"
            resp_listen = "127.0.0.1:1001"
            kafka_listen = "127.0.0.1:1002"
            kafka_advertise = "file:1"
            http_listen = "127.0.0.1:1003"
            fsync = "never"
            segment_bytes = 1111111
            log_format = "json"
            group_initial_rebalance_delay_ms = 10
            "#,
        )
        .unwrap();
        let env = Layer::from_env(env(&[
            ("BROOK_DATA_DIR", "/env"),
            ("BROOK_RESP_LISTEN", "127.0.0.1:2001"),
            ("BROOK_KAFKA_LISTEN", "127.0.0.1:2002"),
            ("BROOK_KAFKA_ADVERTISE", "env:2"),
            ("BROOK_HTTP_LISTEN", "127.0.0.1:2003"),
            ("BROOK_FSYNC", "everysec"),
            ("BROOK_SEGMENT_BYTES", "2222222"),
            ("BROOK_LOG_FORMAT", "human"),
            ("BROOK_GROUP_INITIAL_REBALANCE_DELAY_MS", "20"),
        ]))
        .unwrap();
        let flags = Layer {
            data_dir: Some("/flag".into()),
            resp_listen: Some(on("127.0.0.1:3001")),
            kafka_listen: Some(on("127.0.0.1:3002")),
            kafka_advertise: Some("flag:3".parse().unwrap()),
            http_listen: Some(Listen::Off),
            fsync: Some(Durability::Interval { ms: 5 }),
            segment_bytes: Some(3333333),
            log_format: Some(LogFormat::Json),
            group_initial_rebalance_delay_ms: Some(30),
            kafka_auto_create_topics: Some(false),
        };

        // All four levels present: flags win.
        let config = Config::resolve(flags.clone(), env.clone(), file.clone());
        assert_eq!(config.data_dir, PathBuf::from("/flag"));
        assert_eq!(config.resp_listen, on("127.0.0.1:3001"));
        assert_eq!(config.kafka_listen, on("127.0.0.1:3002"));
        assert_eq!(config.kafka_advertise.as_ref().map(|a| a.port), Some(3));
        assert_eq!(config.http_listen, Listen::Off);
        assert_eq!(config.fsync, Durability::Interval { ms: 5 });
        assert_eq!(config.segment_bytes, 3333333);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.group_initial_rebalance_delay_ms, 30);
        assert!(!config.kafka_auto_create_topics);

        // No flags: the environment wins over the file.
        let config = Config::resolve(Layer::default(), env.clone(), file.clone());
        assert_eq!(config.data_dir, PathBuf::from("/env"));
        assert_eq!(config.resp_listen, on("127.0.0.1:2001"));
        assert_eq!(config.kafka_listen, on("127.0.0.1:2002"));
        assert_eq!(config.kafka_advertise.as_ref().map(|a| a.port), Some(2));
        assert_eq!(config.http_listen, on("127.0.0.1:2003"));
        assert_eq!(config.fsync, Durability::Interval { ms: 1000 });
        assert_eq!(config.segment_bytes, 2222222);
        assert_eq!(config.group_initial_rebalance_delay_ms, 20);
        assert_eq!(config.log_format, LogFormat::Human);

        // Only the file: the file wins over the defaults.
        let config = Config::resolve(Layer::default(), Layer::default(), file);
        assert_eq!(config.data_dir, PathBuf::from("/file"));
        assert_eq!(config.resp_listen, on("127.0.0.1:1001"));
        assert_eq!(config.kafka_listen, on("127.0.0.1:1002"));
        assert_eq!(config.kafka_advertise.as_ref().map(|a| a.port), Some(1));
        assert_eq!(config.http_listen, on("127.0.0.1:1003"));
        assert_eq!(config.fsync, Durability::Never);
        assert_eq!(config.segment_bytes, 1111111);
        assert_eq!(config.group_initial_rebalance_delay_ms, 10);
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn precedence_is_per_key_not_per_layer() {
        let flags = Layer {
            fsync: Some(Durability::Never),
            ..Layer::default()
        };
        let env = Layer::from_env(env(&[("BROOK_HTTP_LISTEN", "off")])).unwrap();
        let file = Layer::from_toml("fsync = \"always\"\nresp_listen = \"127.0.0.1:0\"").unwrap();
        let config = Config::resolve(flags, env, file);
        assert_eq!(config.fsync, Durability::Never);
        assert_eq!(config.http_listen, Listen::Off);
        assert_eq!(config.resp_listen, on("127.0.0.1:0"));
        assert_eq!(config.kafka_listen, Listen::On(KAFKA_LISTEN_DEFAULT));
        assert_eq!(config.kafka_advertise, None);
    }

    #[test]
    fn config_file_comes_from_the_flag_before_brook_config() {
        let dir = tempfile::tempdir().unwrap();
        let flagged = dir.path().join("flag.toml");
        let from_env = dir.path().join("env.toml");
        std::fs::write(&flagged, "data_dir = \"/from-flag-file\"").unwrap();
        std::fs::write(&from_env, "data_dir = \"/from-env-file\"").unwrap();
        let vars = [("BROOK_CONFIG", from_env.to_str().unwrap())];

        let config = Config::load(Layer::default(), Some(flagged), env(&vars)).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/from-flag-file"));
        let config = Config::load(Layer::default(), None, env(&vars)).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/from-env-file"));

        let missing = dir.path().join("missing.toml");
        let error = Config::load(Layer::default(), Some(missing), env(&[])).unwrap_err();
        assert!(format!("{error:#}").contains("missing.toml"), "{error:#}");
    }

    #[test]
    fn unknown_file_key_is_an_error_naming_the_key() {
        let error = Layer::from_toml("data_dir = \"x\"\nfsink = \"always\"").unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("fsink"), "{message}");
    }

    #[test]
    fn bad_values_name_their_source() {
        let error = Layer::from_toml("fsync = \"sometimes\"").unwrap_err();
        assert!(format!("{error:#}").contains("key fsync"), "{error:#}");
        let error = Layer::from_toml("segment_bytes = 1").unwrap_err();
        assert!(
            format!("{error:#}").contains("key segment_bytes"),
            "{error:#}"
        );
        let error = Layer::from_toml("http_listen = \"localhost\"").unwrap_err();
        assert!(
            format!("{error:#}").contains("key http_listen"),
            "{error:#}"
        );

        let error = Layer::from_env(env(&[("BROOK_FSYNC", "sometimes")])).unwrap_err();
        assert!(format!("{error:#}").contains("BROOK_FSYNC"), "{error:#}");
        let error = Layer::from_env(env(&[("BROOK_SEGMENT_BYTES", "big")])).unwrap_err();
        assert!(
            format!("{error:#}").contains("BROOK_SEGMENT_BYTES"),
            "{error:#}"
        );
        let error = Layer::from_env(env(&[("BROOK_LOG_FORMAT", "xml")])).unwrap_err();
        assert!(
            format!("{error:#}").contains("BROOK_LOG_FORMAT"),
            "{error:#}"
        );
        let error = Layer::from_env(env(&[("BROOK_DATA_DIR", "")])).unwrap_err();
        assert!(format!("{error:#}").contains("BROOK_DATA_DIR"), "{error:#}");
    }

    #[test]
    fn listen_values() {
        for off in ["off", "OFF", "none", "", "  "] {
            assert_eq!(off.parse::<Listen>(), Ok(Listen::Off), "{off:?}");
        }
        assert_eq!("127.0.0.1:0".parse::<Listen>(), Ok(on("127.0.0.1:0")));
        assert_eq!("[::1]:6379".parse::<Listen>(), Ok(on("[::1]:6379")));
        assert!("127.0.0.1".parse::<Listen>().is_err());
        assert!("6379".parse::<Listen>().is_err());
        assert_eq!(on("127.0.0.1:7").to_string(), "127.0.0.1:7");
        assert_eq!(Listen::Off.to_string(), "off");
    }

    #[test]
    fn segment_bytes_is_range_checked() {
        assert_eq!(parse_segment_bytes("1024"), Ok(1024));
        assert!(parse_segment_bytes("1023").is_err());
        assert!(parse_segment_bytes(&(SEGMENT_BYTES_MAX + 1).to_string()).is_err());
        assert!(parse_segment_bytes("-5").is_err());
    }
}
