//! `GET /map/basemap.pmtiles`: the base-map archive of `serve --basemap FILE.pmtiles`, read by the
//! page with HTTP range requests (one byte range per request, streamed from the file; no tile server).

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::ApiError;
use super::web::MapPage;
use crate::formats::pmtiles::ArchiveInfo;

/// Bytes read from the file at a time.
const CHUNK: usize = 64 * 1024;

/// A base-map archive on disk and what its header says.
#[derive(Clone, Debug)]
pub struct Archive {
    /// The file.
    pub path: PathBuf,
    /// Its header and metadata, as checked at start.
    pub info: Arc<ArchiveInfo>,
}

impl Archive {
    /// The archive at `path`, as [`crate::formats::pmtiles::read_info`] read it.
    #[must_use]
    pub fn new(path: PathBuf, info: ArchiveInfo) -> Self {
        Self { path, info: Arc::new(info) }
    }
}

/// The archive opened, its length and a tag for this version of it (length and modification time),
/// read at every request: a file replaced under the running service is served and tagged as it is now,
/// so a reader holding the old tag (`If-Range`) gets the whole new file, not a piece of it.
async fn open(path: &Path) -> std::io::Result<(tokio::fs::File, u64, String)> {
    let file = tokio::fs::File::open(path).await?;
    let meta = file.metadata().await?;
    let modified =
        meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    Ok((file, meta.len(), format!("\"{:x}-{modified:x}\"", meta.len())))
}

/// A `Range` header's one byte range in a file of `len` bytes, as inclusive `(first, last)`.
#[derive(Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// No range asked (or one this server does not honour, such as several ranges): the whole file.
    Whole,
    /// These bytes.
    Part(u64, u64),
    /// A range that starts at or beyond the end of the file.
    Unsatisfiable,
}

/// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n` (RFC 9110 §14.1.2); anything else is the whole file.
#[must_use]
pub fn byte_range(header: Option<&str>, len: u64) -> ByteRange {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return ByteRange::Whole };
    if spec.contains(',') {
        return ByteRange::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return ByteRange::Whole };
    let (a, b) = (a.trim(), b.trim());
    let parse = |s: &str| if s.bytes().all(|c| c.is_ascii_digit()) { s.parse::<u64>().ok() } else { None };
    match (a.is_empty(), parse(a), parse(b)) {
        // The last n bytes.
        (true, _, Some(n)) if !b.is_empty() => {
            if n == 0 || len == 0 {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Part(len - n.min(len), len - 1)
            }
        }
        (false, Some(first), last) if b.is_empty() || last.is_some() => {
            if first >= len {
                return ByteRange::Unsatisfiable;
            }
            match last {
                Some(last) if last < first => ByteRange::Whole,
                Some(last) => ByteRange::Part(first, last.min(len - 1)),
                None => ByteRange::Part(first, len - 1),
            }
        }
        _ => ByteRange::Whole,
    }
}

/// `GET /map/basemap.pmtiles`: the archive, or the one range asked for (`206`), with an `ETag`; `416`
/// for a range beyond its end; `404` when the service has no archive.
pub async fn get_archive(State(page): State<Arc<MapPage>>, headers: HeaderMap) -> Response {
    let Some(archive) = page.archive().cloned() else {
        return ApiError::not_found("this service has no base-map archive (serve --basemap FILE.pmtiles)")
            .into_response();
    };
    // The cause is logged under the request's id (front.rs); the client is told only the id.
    let unreadable = |e: std::io::Error| {
        ApiError::internal(format!("the base-map archive {} cannot be read: {e}", archive.path.display()))
            .into_response()
    };
    let (mut file, len, etag) = match open(&archive.path).await {
        Ok(opened) => opened,
        Err(e) => return unreadable(e),
    };
    // A range asked under another version of the file (If-Range) gets the whole file.
    let current = headers.get(header::IF_RANGE).is_none_or(|v| v.as_bytes() == etag.as_bytes());
    let range = if current {
        byte_range(headers.get(header::RANGE).and_then(|v| v.to_str().ok()), len)
    } else {
        ByteRange::Whole
    };
    let (status, first, count) = match range {
        ByteRange::Whole => (StatusCode::OK, 0, len),
        ByteRange::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        ByteRange::Unsatisfiable => {
            let mut r = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                format!("the range starts beyond the archive's {len} bytes"),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
    };
    if first > 0
        && let Err(e) = file.seek(SeekFrom::Start(first)).await
    {
        return unreadable(e);
    }
    // Streamed a chunk at a time: a request for the whole of a large archive holds 64 KiB, not the file.
    let chunks = futures_util::stream::unfold((file.take(count), false), |(mut rest, done)| async move {
        if done {
            return None;
        }
        let mut buf = vec![0u8; CHUNK];
        match rest.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(axum::body::Bytes::from(buf)), (rest, false)))
            }
            Err(e) => Some((Err(e), (rest, true))),
        }
    });
    let mut r = Response::new(Body::from_stream(chunks));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.pmtiles"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{}/{len}", first + count - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        let r = |h: &str| byte_range(Some(h), 1000);
        assert_eq!(byte_range(None, 1000), ByteRange::Whole);
        assert_eq!(r("bytes=0-126"), ByteRange::Part(0, 126));
        assert_eq!(r("bytes=990-2000"), ByteRange::Part(990, 999), "clamped to the end");
        assert_eq!(r("bytes=500-"), ByteRange::Part(500, 999));
        assert_eq!(r("bytes=-10"), ByteRange::Part(990, 999));
        assert_eq!(r("bytes=-5000"), ByteRange::Part(0, 999));
        assert_eq!(r("bytes=1000-"), ByteRange::Unsatisfiable);
        assert_eq!(r("bytes=-0"), ByteRange::Unsatisfiable);
        for whole in ["bytes=0-1,5-6", "bytes=9-3", "items=0-1", "bytes=x-1", "bytes=-", "bytes=+1-2", "bytes=1"] {
            assert_eq!(r(whole), ByteRange::Whole, "{whole}");
        }
        assert_eq!(byte_range(Some("bytes=0-"), 0), ByteRange::Unsatisfiable);
    }
}
