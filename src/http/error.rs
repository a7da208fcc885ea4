//! The one place where errors become HTTP: [`ApiError`] renders RFC 9457 `application/problem+json`
//! with a `detail` a person can act on, and the `AppJson`/`AppBytes` extractors (and
//! [`super::query::Query`]) turn axum's rejections (malformed JSON, unknown fields, oversized bodies) into
//! the same shape.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An RFC 9457 problem: the status, a short title and a detail naming what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What to do about it, for a person.
    pub detail: String,
    /// For batches: every bad item, by position.
    pub errors: Vec<ItemError>,
    /// Seconds to wait before asking again (`Retry-After`), for a 503 that will pass.
    pub retry_after: Option<u32>,
}

/// The cause of a `500`, kept on the response for the front to log under the request's id; the client
/// is told only that the request failed and its id (never a path, SQL or an internal error text).
#[derive(Clone, Debug)]
pub struct InternalCause(pub String);

/// The detail every `500` answers with (the front adds the request id).
pub const INTERNAL_DETAIL: &str = "internal error: the request was not completed; the service's log has why";

/// One bad item of a batch (problem extension member `errors`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ItemError {
    /// 0-based position in the request.
    pub index: usize,
    /// What is wrong with it.
    pub detail: String,
}

/// The problem+json body, as documented in the OpenAPI schema.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type (`about:blank` for plain HTTP statuses).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary: the status's reason phrase.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong and what to do about it.
    pub detail: String,
    /// For batches: every bad item, by position.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ItemError>,
}

impl ApiError {
    /// A problem with this status and detail.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self { status, detail: detail.into(), errors: Vec::new(), retry_after: None }
    }

    /// The same problem, telling the client to ask again in `seconds`.
    #[must_use]
    pub fn with_retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The same problem, naming each bad item.
    #[must_use]
    pub fn with_items(mut self, errors: Vec<ItemError>) -> Self {
        self.errors = errors;
        self
    }

    /// 400: a query value or body field is wrong.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 404: no such resource.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// 422: the body parsed but its content cannot be used.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }

    /// 400: a body that is not JSON, with where it went wrong.
    #[must_use]
    pub fn malformed_json(e: &serde_json::Error) -> Self {
        Self::bad_request(format!("the body is not valid JSON: line {}, column {}: {e}", e.line(), e.column()))
    }

    /// 500: the server failed (the detail says at what; the request may be retried).
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let internal = self.status == StatusCode::INTERNAL_SERVER_ERROR;
        let (detail, cause) =
            if internal { (INTERNAL_DETAIL.to_owned(), Some(self.detail)) } else { (self.detail, None) };
        let body = Problem {
            kind: "about:blank".to_owned(),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail,
            errors: self.errors,
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(cause) = cause {
            res.extensions_mut().insert(InternalCause(cause));
        }
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(seconds) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => {
                Self::unprocessable(format!("the JSON body does not fit: {}", e.body_text()))
            }
            JsonRejection::JsonSyntaxError(e) => {
                Self::bad_request(format!("the body is not valid JSON: {}", e.body_text()))
            }
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON with the header Content-Type: application/json",
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is too large: {}", e.body_text()))
            }
            other => Self::new(other.status(), other.body_text()),
        }
    }
}

impl From<crate::figures::FigureError> for ApiError {
    fn from(e: crate::figures::FigureError) -> Self {
        // The query is well formed but asks for more than one answer may hold: narrow it.
        Self::unprocessable(e.to_string())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::bad_request(format!("bad query string: {}", r.body_text()))
    }
}

/// `axum::Json` whose rejections are [`ApiError`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let AppBytes(body) = AppBytes::from_request(req, state).await?;
        unique_keys(&body)?;
        serde_json::from_slice(&body).map(Self).map_err(|e| {
            if e.is_data() {
                ApiError::unprocessable(format!("the JSON body does not fit: {e}"))
            } else {
                ApiError::malformed_json(&e)
            }
        })
    }
}

/// The most items of any array in the first two levels of a JSON body (a top-level array's items, or a
/// FeatureCollection's features), counted by one pass over the bytes without building values: a body of
/// a million `{}` is refused by its count before it costs memory. Malformed JSON counts as well as it
/// can; the parser names its fault afterwards.
#[must_use]
pub fn count_items(body: &[u8]) -> usize {
    let mut depth = 0usize;
    // Per open container up to depth 2: whether it is an array, and its items so far (1 once a value
    // starts, +1 per comma).
    let mut stack: Vec<(bool, usize)> = Vec::new();
    let mut most = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        // A value starting inside an array at depth 1 or 2 counts as its first item.
        if !matches!(b, b']' | b'}' | b',' | b':')
            && let Some(top) = stack.last_mut()
            && top.0
            && top.1 == 0
        {
            top.1 = 1;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth <= 2 {
                    stack.push((b == b'[', 0));
                }
            }
            b']' | b'}' => {
                if depth <= 2
                    && let Some((is_array, n)) = stack.pop()
                    && is_array
                {
                    most = most.max(n);
                }
                depth = depth.saturating_sub(1);
            }
            b',' if depth <= 2 => {
                if let Some(top) = stack.last_mut()
                    && top.0
                {
                    top.1 += 1;
                    most = most.max(top.1);
                }
            }
            _ => {}
        }
    }
    stack.iter().filter(|(a, _)| *a).map(|(_, n)| *n).fold(most, usize::max)
}

/// Refuses a JSON body in which an object gives a key twice (`422`, naming the key and its place): the
/// last one would silently win, so the answer would depend on key order.
pub fn unique_keys(body: &[u8]) -> Result<(), ApiError> {
    use crate::formats::json::{StrictJsonError, check_unique_keys};
    match check_unique_keys(body) {
        Ok(()) => Ok(()),
        Err(StrictJsonError::Syntax(e)) => Err(ApiError::malformed_json(&e)),
        Err(e @ StrictJsonError::DuplicateKey(_)) => Err(ApiError::unprocessable(e.to_string())),
    }
}

/// The raw body of a JSON request: checks the `Content-Type` and the size limit, with [`ApiError`]
/// rejections, and leaves parsing to the handler (for a fast typed path with a detailed fallback).
#[derive(Debug, Clone)]
pub struct AppBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for AppBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim();
                m.eq_ignore_ascii_case("application/json") || m.eq_ignore_ascii_case("application/geo+json")
            });
        if !is_json {
            return Err(Self::Rejection::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON with the header Content-Type: application/json",
            ));
        }
        match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => Ok(Self(b)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is too large: {}", e.body_text())))
            }
            Err(e) => Err(ApiError::new(e.status(), e.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::count_items;

    #[test]
    fn items_are_counted_in_the_first_two_levels_without_parsing() {
        assert_eq!(count_items(b"[]"), 0);
        assert_eq!(count_items(b" [ {} ] "), 1);
        assert_eq!(count_items(b"[{},{},{}]"), 3);
        assert_eq!(count_items(br#"[{"a":[1,2,3,4,5]},{"b":"x,y,z"}]"#), 2, "deeper arrays and strings do not count");
        assert_eq!(count_items(br#"{"type":"FeatureCollection","features":[{"p":[1,2]},{},{}]}"#), 3);
        assert_eq!(count_items(b"[[1,2],[3,4]]"), 2);
        assert_eq!(count_items(br#"["a\",b", "c"]"#), 2);
        let big = format!("[{}{{}}]", "{},".repeat(999_999));
        assert_eq!(count_items(big.as_bytes()), 1_000_000);
        assert_eq!(count_items(b"[{},{},"), 3, "cut off: counted as far as it goes");
    }
}
