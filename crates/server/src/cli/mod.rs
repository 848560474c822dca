//! The client subcommands of `brook`: they talk to a running server over its admin
//! HTTP JSON API (docs/admin-api.md) and print tables for people or JSON for
//! scripts.
//!
//! Exit codes (also in README.md):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | the server failed, or something unexpected |
//! | 2 | usage: bad arguments (clap), or a request the server refused as bad (400) |
//! | 3 | not found: no such topic or group (404) |
//! | 4 | conflict or refused: the topic exists, the group has active members (409), a deletion not confirmed |
//! | 5 | the server cannot be reached |

pub mod bench;
pub mod client;
pub mod consume;
pub mod group;
pub mod output;
pub mod produce;
pub mod status;
pub mod topic;
// The admin API's JSON bodies, shared with the server.
pub use brook_admin_http::types;

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::Args;

use self::client::Client;

/// What a client command's exit status means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Failure = 1,
    Usage = 2,
    NotFound = 3,
    Conflict = 4,
    Unreachable = 5,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// An error with the exit code it stands for and a message for the user.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(Exit::Usage, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Options every client command takes.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// The server's admin HTTP address
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "BROOK_SERVER",
        default_value = "http://127.0.0.1:9644",
        display_order = 900
    )]
    pub server: String,
    /// Print JSON for scripts (one document; `consume`: one record per line)
    #[arg(long, global = true, display_order = 901)]
    pub json: bool,
}

impl ClientArgs {
    pub fn client(&self) -> Result<Client, Failure> {
        Client::new(&self.server)
    }
}

/// Runs a client command and turns its outcome into the process's exit code,
/// printing the error (`brook: error: ...`) if there is one.
pub fn exit_with(result: anyhow::Result<()>) -> ExitCode {
    let Err(error) = result else {
        return ExitCode::SUCCESS;
    };
    // A reader that went away (`brook consume ... | head`) is not an error (Rust
    // ignores SIGPIPE, so writes fail with EPIPE instead).
    let broken_pipe = error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        return ExitCode::SUCCESS;
    }
    let exit = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Failure>())
        .map_or(Exit::Failure, |failure| failure.exit);
    let _ = io::stdout().flush();
    eprintln!("brook: error: {error:#}");
    exit.into()
}

/// `?db=N` when a database is given.
pub fn db_query(db: Option<u8>) -> String {
    client::query(
        &db.map(|db| ("db", db.to_string()))
            .into_iter()
            .collect::<Vec<_>>(),
    )
}

/// The parser of `--db`: a Redis database, 0–15.
pub fn parse_db(text: &str) -> Result<u8, String> {
    match text.parse::<u8>() {
        Ok(db) if db <= 15 => Ok(db),
        _ => Err(format!("{text:?} is not a database number (0-15)")),
    }
}
