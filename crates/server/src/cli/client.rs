//! A small blocking client for the admin HTTP JSON API (`/v1/...`,
//! docs/admin-api.md): plain HTTP/1.1 through `ureq`, bodies in and out as the
//! types of `brook_admin_http::types`, errors turned into [`Failure`]s whose exit
//! code says whose fault they are.

use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::types::ApiError;
use super::{Exit, Failure};

/// Bytes escaped in a path segment or query value: everything but RFC 3986's
/// unreserved characters.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The largest response body read (a page of records is at most 10,000 records).
const BODY_BYTES_MAX: u64 = 256 * 1024 * 1024;
/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the server may take to answer; above the longest long poll
/// (`wait_ms` is at most 60 s).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(90);

/// `s` escaped for a URL path segment or query value.
pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

/// A query string built from `(name, value)` pairs, values escaped; `""` when
/// there are none.
pub fn query(pairs: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        out.push(if out.is_empty() { '?' } else { '&' });
        out.push_str(name);
        out.push('=');
        out.push_str(&encode(value));
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Clone)]
pub struct Client {
    /// `http://host:port`, no trailing slash.
    base: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client for the server at `server` (`http://host:port`, or `host:port`).
    pub fn new(server: &str) -> Result<Client, Failure> {
        let base = normalize_server(server)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // The admin API is local or addressed directly; never through
            // http_proxy from the environment.
            .proxy(None)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(RESPONSE_TIMEOUT))
            .user_agent(concat!("brook-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Client { base, agent })
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        let body = self.call(Method::Get, path, None)?;
        self.parse(Method::Get, path, &body)
    }

    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Failure> {
        let request = to_json(body)?;
        let body = self.call(Method::Post, path, Some(request))?;
        self.parse(Method::Post, path, &body)
    }

    pub fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Failure> {
        let request = to_json(body)?;
        let body = self.call(Method::Patch, path, Some(request))?;
        self.parse(Method::Patch, path, &body)
    }

    pub fn delete(&self, path: &str) -> Result<(), Failure> {
        self.call(Method::Delete, path, None).map(drop)
    }

    fn parse<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &str,
    ) -> Result<T, Failure> {
        serde_json::from_str(body).map_err(|error| {
            Failure::new(
                Exit::Failure,
                format!(
                    "unexpected answer to {} {}{path}: {error} (a server of another version?)",
                    method.as_str(),
                    self.base
                ),
            )
        })
    }

    /// Sends one request; returns the body of a 2xx answer.
    fn call(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<String, Failure> {
        let url = format!("{}{path}", self.base);
        let sent = match (method, body) {
            (Method::Get, _) => self.agent.get(&url).call(),
            (Method::Delete, _) => self.agent.delete(&url).call(),
            (Method::Post, body) => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.unwrap_or_default()),
            (Method::Patch, body) => self
                .agent
                .patch(&url)
                .header("content-type", "application/json")
                .send(body.unwrap_or_default()),
        };
        let mut response = sent.map_err(|error| self.transport_failure(error))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(BODY_BYTES_MAX)
            .read_to_string()
            .map_err(|error| self.transport_failure(error))?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        Err(status_failure(method, &url, status, &text))
    }

    fn transport_failure(&self, error: ureq::Error) -> Failure {
        let unreachable = matches!(
            error,
            ureq::Error::Io(_)
                | ureq::Error::ConnectionFailed
                | ureq::Error::HostNotFound
                | ureq::Error::Timeout(_)
        );
        if unreachable {
            Failure::new(
                Exit::Unreachable,
                format!(
                    "cannot reach the Brook server at {}: {error}\n\
                     hint: is `brook server` running? Point the CLI at its admin HTTP \
                     address with --server URL or BROOK_SERVER.",
                    self.base
                ),
            )
        } else {
            Failure::new(Exit::Failure, format!("talking to {}: {error}", self.base))
        }
    }
}

/// The failure for a non-2xx answer: the server's `{"error": ...}` message, with an
/// exit code by status.
fn status_failure(method: Method, url: &str, status: u16, body: &str) -> Failure {
    let exit = match status {
        400 | 413 => Exit::Usage,
        404 => Exit::NotFound,
        409 => Exit::Conflict,
        _ => Exit::Failure,
    };
    let message = match serde_json::from_str::<ApiError>(body) {
        Ok(ApiError { error }) => error,
        Err(_) => {
            let mut text: String = body.trim().chars().take(200).collect();
            if text.is_empty() {
                text = "(empty body)".into();
            }
            let hint = if status == 404 {
                " (is this a Brook server with the /v1 admin API?)"
            } else {
                ""
            };
            format!(
                "the server answered {status} to {} {url}: {text}{hint}",
                method.as_str()
            )
        }
    };
    Failure::new(exit, message)
}

fn to_json<B: Serialize>(body: &B) -> Result<Vec<u8>, Failure> {
    serde_json::to_vec(body)
        .map_err(|error| Failure::new(Exit::Failure, format!("encoding the request: {error}")))
}

/// `http://host:port` from what the user gave: a scheme is optional, a trailing
/// `/` is dropped, HTTPS is refused (the admin listener speaks plain HTTP).
fn normalize_server(server: &str) -> Result<String, Failure> {
    let server = server.trim();
    let usage = |message: String| Failure::new(Exit::Usage, message);
    let host = if let Some(rest) = server.strip_prefix("http://") {
        rest
    } else if server.starts_with("https://") {
        return Err(usage(format!(
            "--server {server}: the admin API is plain HTTP; use http://"
        )));
    } else if server.contains("://") {
        return Err(usage(format!(
            "--server {server}: expected http://HOST:PORT"
        )));
    } else {
        server
    };
    let host = host.trim_end_matches('/');
    if host.is_empty() || host.contains('/') {
        return Err(usage(format!(
            "--server {server:?}: expected http://HOST:PORT (no path)"
        )));
    }
    Ok(format!("http://{host}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_are_normalized() {
        assert_eq!(
            normalize_server("127.0.0.1:9644").unwrap(),
            "http://127.0.0.1:9644"
        );
        assert_eq!(
            normalize_server("http://localhost:9644/").unwrap(),
            "http://localhost:9644"
        );
        for bad in ["", "https://x:1", "ftp://x", "http://", "http://x:1/v1"] {
            assert!(normalize_server(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_and_query_values_are_escaped() {
        assert_eq!(encode("events:orders"), "events%3Aorders");
        assert_eq!(encode("orders#2"), "orders%232");
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
        assert_eq!(encode("café"), "caf%C3%A9");
        assert_eq!(
            query(&[
                ("from", "time:2024-01-01T00:00:00+01:00".into()),
                ("count", "5".into())
            ]),
            "?from=time%3A2024-01-01T00%3A00%3A00%2B01%3A00&count=5"
        );
        assert_eq!(query(&[]), "");
    }

    #[test]
    fn error_bodies_become_messages_and_exit_codes() {
        let f = status_failure(Method::Get, "u", 404, r#"{"error":"no topic \"x\""}"#);
        assert_eq!(f.exit, Exit::NotFound);
        assert_eq!(f.message, "no topic \"x\"");
        let f = status_failure(Method::Post, "u", 409, r#"{"error":"exists"}"#);
        assert_eq!(f.exit, Exit::Conflict);
        let f = status_failure(Method::Post, "u", 400, r#"{"error":"bad"}"#);
        assert_eq!(f.exit, Exit::Usage);
        let f = status_failure(Method::Get, "http://h/v1/x", 404, "not found\n");
        assert_eq!(f.exit, Exit::NotFound);
        assert!(f
            .message
            .contains("answered 404 to GET http://h/v1/x: not found"));
        let f = status_failure(Method::Get, "u", 500, "");
        assert_eq!(f.exit, Exit::Failure);
        assert!(f.message.contains("(empty body)"));
    }
}
