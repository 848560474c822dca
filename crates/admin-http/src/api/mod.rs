//! The JSON admin API under `/v1` (docs/admin-api.md): routing, request parsing and
//! the error type every handler returns. One file per resource.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use brook_broker::TopicKey;

use crate::types::ApiError;
use crate::AdminState;

pub(crate) mod groups;
mod records;
mod status;
pub(crate) mod topics;

/// Largest request body the API reads.
pub const BODY_BYTES_MAX: usize = 1024 * 1024;

/// A failed request: the status and a message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: StatusCode,
    pub message: String,
}

impl Failure {
    pub fn bad_request(message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::CONFLICT,
            message: message.into(),
        }
    }

    pub fn internal(message: impl std::fmt::Display) -> Failure {
        Failure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.to_string(),
        }
    }
}

pub type ApiResult = Result<Response<Full<Bytes>>, Failure>;

/// A request to the API: method, path segments after `/v1/` (percent-decoded),
/// query pairs, body.
pub struct Call<'a> {
    pub state: &'a AdminState,
    pub method: Method,
    pub segments: Vec<Bytes>,
    pub query: Vec<(String, String)>,
    pub body: Bytes,
}

impl Call<'_> {
    /// The value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A numeric query parameter.
    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Failure> {
        self.param(name)
            .map(|v| {
                v.parse().map_err(|_| {
                    Failure::bad_request(format!("query parameter {name}: {v:?} is not a number"))
                })
            })
            .transpose()
    }

    /// The database of `?db=N` (default 0).
    pub fn db(&self) -> Result<u8, Failure> {
        let db = self.number::<u8>("db")?.unwrap_or(0);
        if db >= brook_broker::DATABASES {
            return Err(Failure::bad_request(format!(
                "db {db} does not exist (0 to {})",
                brook_broker::DATABASES - 1
            )));
        }
        Ok(db)
    }

    /// The topic key named by path segment `i` and `?db`.
    pub fn topic_key(&self, i: usize) -> Result<TopicKey, Failure> {
        let name = self
            .segments
            .get(i)
            .cloned()
            .ok_or_else(|| Failure::not_found("no topic name in the path"))?;
        Ok(TopicKey::new(self.db()?, name))
    }

    /// The body as JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Failure> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Failure::bad_request(format!("request body: {e}")))
    }
}

/// Answers a `/v1/...` request.
pub async fn handle(call: Call<'_>) -> Response<Full<Bytes>> {
    let result = route(&call).await;
    match result {
        Ok(response) => response,
        Err(f) => {
            if f.status.is_server_error() {
                tracing::warn!(status = %f.status, error = %f.message, "admin api request failed");
            }
            let mut r = error_response(f.status, &f.message);
            if f.status == StatusCode::METHOD_NOT_ALLOWED {
                if let Ok(allow) = HeaderValue::from_str(&allowed_methods(&call)) {
                    r.headers_mut().insert(ALLOW, allow);
                }
            }
            r
        }
    }
}

async fn route(call: &Call<'_>) -> ApiResult {
    let segs: Vec<&[u8]> = call.segments.iter().map(|s| s.as_ref()).collect();
    let m = &call.method;
    match (segs.as_slice(), m) {
        ([b"status"], &Method::GET) => status::get(call),
        ([b"topics"], &Method::GET) => topics::list(call),
        ([b"topics"], &Method::POST) => topics::create(call).await,
        ([b"topics", _], &Method::GET) => topics::get(call),
        ([b"topics", _], &Method::PATCH) => topics::alter(call).await,
        ([b"topics", _], &Method::DELETE) => topics::delete(call).await,
        ([b"topics", _, b"records"], &Method::POST) => records::produce(call).await,
        ([b"topics", _, b"records"], &Method::GET) => records::consume(call).await,
        ([b"groups"], &Method::GET) => groups::list(call),
        ([b"groups", b"kafka", _], &Method::GET) => groups::kafka_get(call),
        ([b"groups", b"kafka", _], &Method::DELETE) => groups::kafka_delete(call).await,
        ([b"groups", b"kafka", _, b"reset"], &Method::POST) => groups::kafka_reset(call).await,
        ([b"groups", b"redis", _, _], &Method::GET) => groups::redis_get(call),
        ([b"groups", b"redis", _, _], &Method::DELETE) => groups::redis_delete(call).await,
        ([b"groups", b"redis", _, _, b"reset"], &Method::POST) => groups::redis_reset(call).await,
        _ if !allowed_methods(call).is_empty() => Err(Failure {
            status: StatusCode::METHOD_NOT_ALLOWED,
            message: format!(
                "method {m} is not allowed here; allowed: {}",
                allowed_methods(call)
            ),
        }),
        _ => Err(Failure::not_found(format!(
            "no such endpoint: /v1/{}",
            call.segments
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect::<Vec<_>>()
                .join("/")
        ))),
    }
}

/// The methods a path accepts (empty: no such path).
fn allowed_methods(call: &Call<'_>) -> String {
    let segs: Vec<&[u8]> = call.segments.iter().map(|s| s.as_ref()).collect();
    match segs.as_slice() {
        [b"status"] | [b"groups"] => "GET",
        [b"topics"] => "GET, POST",
        [b"topics", _] => "GET, PATCH, DELETE",
        [b"topics", _, b"records"] => "GET, POST",
        [b"groups", b"kafka", _] | [b"groups", b"redis", _, _] => "GET, DELETE",
        [b"groups", b"kafka", _, b"reset"] | [b"groups", b"redis", _, _, b"reset"] => "POST",
        _ => "",
    }
    .to_owned()
}

/// A JSON response.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> ApiResult {
    let bytes = serde_json::to_vec(body).map_err(Failure::internal)?;
    let mut r = Response::new(Full::new(Bytes::from(bytes)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(r)
}

/// `204 No Content`.
pub fn no_content() -> ApiResult {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok(r)
}

/// The `{"error": ...}` response.
pub fn error_response(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(&ApiError {
        error: message.to_owned(),
    })
    .unwrap_or_else(|_| b"{\"error\":\"internal error\"}".to_vec());
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// A path segment's bytes for messages.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Splits `/v1/a/b%3Ac` into decoded segments (`None` if it is not under `/v1/`).
pub fn segments(path: &str) -> Option<Vec<Bytes>> {
    let rest = path.strip_prefix("/v1/")?;
    Some(
        rest.split('/')
            .filter(|s| !s.is_empty())
            .map(|s| Bytes::from(percent_encoding::percent_decode_str(s).collect::<Vec<u8>>()))
            .collect(),
    )
}

/// Parses a query string into pairs.
pub fn query(q: Option<&str>) -> Vec<(String, String)> {
    q.map(|q| {
        form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    })
    .unwrap_or_default()
}
