//! Brook's protocol-neutral engine. (Skeleton: the real registry lands with the log.)

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use brook_model::Durability;

/// What the broker needs to open a data directory.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub data_dir: PathBuf,
    /// The fsync policy of topics that do not set their own.
    pub default_fsync: Durability,
    /// Segment size of topics that do not set their own.
    pub segment_bytes: u64,
}

impl BrokerConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> BrokerConfig {
        BrokerConfig {
            data_dir: data_dir.into(),
            default_fsync: Durability::Always,
            segment_bytes: brook_model::SEGMENT_BYTES_DEFAULT,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("data directory {path} is in use by another brook process (lock file {path}/LOCK is held); stop that process or use another --data-dir")]
    Locked { path: PathBuf },
    #[error("cannot use data directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A snapshot of the broker's state for `/metrics` and status.
#[derive(Debug, Clone, Default)]
pub struct BrokerStats {
    pub topics: u64,
    pub partitions: u64,
    pub log_bytes: u64,
    pub records_appended_total: u64,
    pub bytes_appended_total: u64,
    pub fsyncs_total: u64,
}

pub struct Broker {
    config: BrokerConfig,
    _lock: File,
}

impl Broker {
    /// Opens (creating if needed) the data directory, takes its lock, and recovers
    /// every topic.
    pub fn open(config: BrokerConfig) -> Result<Arc<Broker>, OpenError> {
        let io = |source| OpenError::Io {
            path: config.data_dir.clone(),
            source,
        };
        std::fs::create_dir_all(&config.data_dir).map_err(io)?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(config.data_dir.join("LOCK"))
            .map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(OpenError::Locked {
                    path: config.data_dir.clone(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        Ok(Arc::new(Broker {
            config,
            _lock: lock,
        }))
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    pub fn stats(&self) -> BrokerStats {
        BrokerStats::default()
    }

    /// Makes everything durable and marks the shutdown clean. The data-dir lock is
    /// released when the broker is dropped.
    pub fn shutdown(&self) -> Result<(), std::io::Error> {
        Ok(())
    }
}
