//! Bodies made once and sent many times (figure answers, the map page's files): a strong `ETag`
//! answered with `304` on `If-None-Match`, and a gzipped copy made once for clients that accept it.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A body ready to send.
#[derive(Debug)]
pub(super) struct Rendered {
    body: Bytes,
    /// The body gzipped once, for clients that accept it (larger bodies only).
    gzip: Option<Bytes>,
    content_type: &'static str,
    etag: String,
}

impl Rendered {
    /// `body` under `etag` (quoted), also gzipped when longer than `gzip_from` bytes.
    pub(super) fn new(body: Bytes, content_type: &'static str, etag: String, gzip_from: usize) -> Self {
        let gzip = (body.len() > gzip_from).then(|| gzipped(&body)).flatten().map(Bytes::from);
        Self { body, gzip, content_type, etag }
    }

    /// Bytes held: the body and its gzipped copy.
    pub(super) fn size(&self) -> usize {
        self.body.len() + self.gzip.as_ref().map_or(0, Bytes::len)
    }

    /// The body's media type.
    pub(super) fn content_type(&self) -> &'static str {
        self.content_type
    }

    /// The response to a request with `headers`: `304` when `If-None-Match` names the tag, else the
    /// body (gzipped when the client accepts it and a gzipped copy exists).
    pub(super) fn respond(&self, headers: &HeaderMap, cache_control: &'static str, vary: &'static str) -> Response {
        let matches = none_match(headers, &self.etag);
        let accepts_gzip = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
        let gzip = self.gzip.as_ref().filter(|_| accepts_gzip && !matches);
        let mut response = match (matches, gzip) {
            (true, _) => StatusCode::NOT_MODIFIED.into_response(),
            (false, Some(z)) => z.clone().into_response(),
            (false, None) => self.body.clone().into_response(),
        };
        let h = response.headers_mut();
        if gzip.is_some() {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        if !matches {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        }
        if let Ok(v) = HeaderValue::from_str(&self.etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
        h.insert(header::VARY, HeaderValue::from_static(vary));
        response
    }
}

/// Whether the request's `If-None-Match` names `etag` (quoted) or is `*`: then the client has the body
/// and gets `304`. The comparison is weak (RFC 9110 §13.1.2), so `W/"x"` names `"x"`.
pub(super) fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

/// A JSON body made only when the client lacks it: with its strong `ETag` (`version`, quoted) and
/// `cache_control`, or `304` repeating both (RFC 9110 §15.4.5) when [`none_match`].
pub(super) fn conditional(
    headers: &HeaderMap,
    version: &str,
    content_type: &'static str,
    cache_control: &'static str,
    body: impl FnOnce() -> serde_json::Value,
) -> Response {
    let etag = format!("\"{version}\"");
    let mut res = if none_match(headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = axum::Json(body()).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    res
}

/// A strong `ETag` (quoted) for `data`: the first 12 bytes of its SHA-256, in hex.
pub(super) fn strong_etag(data: &[u8]) -> String {
    format!("\"{}\"", crate::digest::sha256_hex(data, 12))
}

/// `body` gzipped (fast level: compressed once, then served many times).
fn gzipped(body: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write as _;
    let mut z = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::fast());
    z.write_all(body).ok()?;
    z.finish().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn if_none_match_names_the_tag_weakly_in_any_list_or_line() {
        let tag = "\"abc\"";
        for yes in [&["\"abc\""][..], &["\"x\", \"abc\""], &["W/\"abc\""], &["*"], &["\"x\"", "\"abc\""]] {
            assert!(none_match(&with(yes), tag), "{yes:?}");
        }
        for no in [&[][..], &["\"abcd\""], &["abc"], &["W/\"x\""], &["\"ABC\""]] {
            assert!(!none_match(&with(no), tag), "{no:?}");
        }
    }
}
