//! The planners' map page: `GET /` and its files under `/map/` (HTML, script, style, landmarks and the
//! pinned `MapLibre` GL JS with its licence), all embedded in the binary so the page works with no
//! internet; `GET /map/config.json` tells the page whether tokens are needed and which base map, if
//! any, to draw. The page itself reads only the figure routes, with the caller's token.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::Digest;

use super::ApiError;
use super::state::AppState;

/// What `leadmap serve` adds to the page: a street map behind it and the landmarks it labels.
#[derive(Clone, Debug, Default)]
pub struct MapPage {
    /// A tile URL template (`https://.../{z}/{x}/{y}.png`, raster) or a style URL (`...json`, vector).
    pub basemap: Option<String>,
    /// GeoJSON points with a `name` (default: the built-in Portland landmarks).
    pub landmarks: Option<String>,
}

/// Why a map page setting was refused.
#[derive(Debug, thiserror::Error)]
pub enum MapPageError {
    /// The base map is neither a tile template nor a style URL.
    #[error(
        "--basemap {0:?}: give an http(s) tile URL template with {{z}}, {{x}} and {{y}} (raster tiles, e.g. https://tile.example.org/{{z}}/{{x}}/{{y}}.png) or the URL of a MapLibre style ending in .json"
    )]
    Basemap(String),
    /// The landmarks are not GeoJSON points with names.
    #[error("{file}: {reason}")]
    Landmarks {
        /// The file.
        file: String,
        /// What is wrong, and where.
        reason: String,
    },
}

impl MapPage {
    /// Checks a `--basemap` value.
    ///
    /// # Errors
    /// When it is neither a raster tile template nor a style URL.
    pub fn check_basemap(url: &str) -> Result<(), MapPageError> {
        let http = url.starts_with("https://") || url.starts_with("http://");
        let template = ["{z}", "{x}", "{y}"].iter().all(|p| url.contains(p));
        let style = url.split(['?', '#']).next().is_some_and(|u| u.to_ascii_lowercase().ends_with(".json"));
        if http && (template || style) { Ok(()) } else { Err(MapPageError::Basemap(url.to_owned())) }
    }

    /// Checks a landmarks file's text: a GeoJSON `FeatureCollection` of points, each with a `name`.
    ///
    /// # Errors
    /// Names the first feature that is not a named point with lon/lat coordinates.
    pub fn check_landmarks(text: &str, file: &str) -> Result<(), MapPageError> {
        let err = |reason: String| MapPageError::Landmarks { file: file.to_owned(), reason };
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| err(format!("not JSON: {e}")))?;
        let features = v
            .get("features")
            .and_then(|f| f.as_array())
            .ok_or_else(|| err("expected a GeoJSON FeatureCollection".to_owned()))?;
        for (i, f) in features.iter().enumerate() {
            let name = f.pointer("/properties/name").and_then(|n| n.as_str());
            let xy = f.pointer("/geometry/coordinates").and_then(|c| c.as_array());
            let point = f.pointer("/geometry/type").and_then(|t| t.as_str()) == Some("Point");
            let lonlat = xy.is_some_and(|c| {
                c.len() >= 2
                    && c[0].as_f64().is_some_and(|x| (-180.0..=180.0).contains(&x))
                    && c[1].as_f64().is_some_and(|y| (-90.0..=90.0).contains(&y))
            });
            if name.is_none() || !point || !lonlat {
                return Err(err(format!(
                    "feature {i}: each landmark is a Point with [lon, lat] coordinates and a `name` property"
                )));
            }
        }
        Ok(())
    }
}

/// One embedded file.
struct Asset {
    body: &'static [u8],
    content_type: &'static str,
}

/// Prepares the page's files (hashes, gzip) ahead of the first request; `serve` calls it before it
/// listens, so the first page load does not wait for it.
pub fn prepare() {
    let _ = assets();
}

/// The page's files by path under `/map/` (`index.html` is also `/`).
fn assets() -> &'static HashMap<&'static str, Prepared> {
    static PREPARED: OnceLock<HashMap<&'static str, Prepared>> = OnceLock::new();
    PREPARED.get_or_init(|| {
        let files: [(&str, Asset); 9] = [
            ("index.html", Asset { body: include_bytes!("web/index.html"), content_type: "text/html; charset=utf-8" }),
            ("map.js", Asset { body: include_bytes!("web/map.js"), content_type: "text/javascript; charset=utf-8" }),
            ("map.css", Asset { body: include_bytes!("web/map.css"), content_type: "text/css; charset=utf-8" }),
            (
                "landmarks.geojson",
                Asset {
                    body: include_bytes!("../../geodata/landmarks/portland.geojson"),
                    content_type: "application/geo+json",
                },
            ),
            (
                "vendor/maplibre-gl/maplibre-gl.mjs",
                Asset {
                    body: include_bytes!("web/vendor/maplibre-gl/maplibre-gl.mjs"),
                    content_type: "text/javascript; charset=utf-8",
                },
            ),
            (
                "vendor/maplibre-gl/maplibre-gl-worker.mjs",
                Asset {
                    body: include_bytes!("web/vendor/maplibre-gl/maplibre-gl-worker.mjs"),
                    content_type: "text/javascript; charset=utf-8",
                },
            ),
            (
                "vendor/maplibre-gl/maplibre-gl.css",
                Asset {
                    body: include_bytes!("web/vendor/maplibre-gl/maplibre-gl.css"),
                    content_type: "text/css; charset=utf-8",
                },
            ),
            (
                "vendor/maplibre-gl/LICENSE.txt",
                Asset {
                    body: include_bytes!("web/vendor/maplibre-gl/LICENSE.txt"),
                    content_type: "text/plain; charset=utf-8",
                },
            ),
            (
                "vendor/maplibre-gl/VERSION",
                Asset {
                    body: include_bytes!("web/vendor/maplibre-gl/VERSION"),
                    content_type: "text/plain; charset=utf-8",
                },
            ),
        ];
        files.into_iter().map(|(path, a)| (path, Prepared::new(a.body.to_vec(), a.content_type))).collect()
    })
}

/// A file ready to send: its `ETag` and, for larger ones, its gzipped body (made once).
struct Prepared {
    body: Bytes,
    gzip: Option<Bytes>,
    content_type: &'static str,
    etag: HeaderValue,
}

impl Prepared {
    fn new(body: Vec<u8>, content_type: &'static str) -> Self {
        let digest = sha2::Sha256::digest(&body);
        let mut tag = String::from("\"");
        for b in digest.iter().take(10) {
            let _ = write!(tag, "{b:02x}");
        }
        tag.push('"');
        let etag = HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"0\""));
        let gzip = (body.len() > 1024).then(|| gzip(&body)).flatten().map(Bytes::from);
        Self { body: Bytes::from(body), gzip, content_type, etag }
    }

    fn respond(&self, headers: &HeaderMap) -> Response {
        let matches = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == self.etag.to_str().unwrap_or("")));
        let accepts_gzip = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
        let mut response = if matches {
            StatusCode::NOT_MODIFIED.into_response()
        } else if let (true, Some(z)) = (accepts_gzip, &self.gzip) {
            let mut r = z.clone().into_response();
            r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        } else {
            self.body.clone().into_response()
        };
        let h = response.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        h.insert(header::ETAG, self.etag.clone());
        // Revalidated every time (a 304 is cheap), so a new binary's page is seen at once.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        response
    }
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut z = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 3), flate2::Compression::default());
    z.write_all(body).ok()?;
    z.finish().ok()
}

/// `GET /`: the map page.
pub async fn get_page(headers: HeaderMap) -> Response {
    file("index.html", &headers)
}

/// `GET /map/{*path}`: the page's files.
pub async fn get_file(Path(path): Path<String>, headers: HeaderMap, State(state): State<AppState>) -> Response {
    if path == "landmarks.geojson"
        && let Some(text) = &state.map_page().landmarks
    {
        let mut r = text.clone().into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json"));
        return r;
    }
    file(&path, &headers)
}

fn file(path: &str, headers: &HeaderMap) -> Response {
    match assets().get(path) {
        Some(p) => match dev_dir() {
            Some(dir) => from_dir(dir, path, p.content_type),
            None => p.respond(headers),
        },
        None => ApiError::not_found(format!("no file /map/{path}")).into_response(),
    }
}

/// `LEADMAP_WEB_DIR`: for work on the page, its files are read from this folder (a checkout's
/// `src/http/web`) on every request instead of from the binary. Only the page's own file names.
fn dev_dir() -> Option<&'static std::path::Path> {
    static DIR: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| std::env::var_os("LEADMAP_WEB_DIR").map(std::path::PathBuf::from)).as_deref()
}

fn from_dir(dir: &std::path::Path, path: &str, content_type: &'static str) -> Response {
    let file = if path == "landmarks.geojson" {
        dir.join("../../../geodata/landmarks/portland.geojson")
    } else {
        dir.join(path)
    };
    match std::fs::read(&file) {
        Ok(body) => {
            let mut r = body.into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => ApiError::internal(format!("LEADMAP_WEB_DIR: {}: {e}", file.display())).into_response(),
    }
}

/// `GET /map/config.json`: whether the API needs a token, and the base map, for the page.
pub async fn get_config(State(state): State<AppState>) -> Response {
    let page = state.map_page();
    let body = json!({
        "auth": !state.tokens().is_open(),
        "basemap": page.basemap,
        "maplibre_version": String::from_utf8_lossy(include_bytes!("web/vendor/maplibre-gl/VERSION")).trim(),
    });
    let mut r = axum::Json(body).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basemaps_and_landmarks_are_checked() {
        assert!(MapPage::check_basemap("https://tile.openstreetmap.org/{z}/{x}/{y}.png").is_ok());
        assert!(MapPage::check_basemap("https://demotiles.maplibre.org/style.json?key=1").is_ok());
        assert!(MapPage::check_basemap("tile.openstreetmap.org/{z}/{x}/{y}.png").is_err());
        assert!(MapPage::check_basemap("https://example.org/tiles").is_err());
        let builtin = std::str::from_utf8(include_bytes!("../../geodata/landmarks/portland.geojson")).unwrap();
        MapPage::check_landmarks(builtin, "built-in").unwrap();
        let bad = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"A"},"geometry":{"type":"Point","coordinates":[-122.6,45.5]}},{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[1,2]}}]}"#;
        let e = MapPage::check_landmarks(bad, "marks.geojson").unwrap_err().to_string();
        assert!(e.starts_with("marks.geojson: feature 1:"), "{e}");
    }

    #[test]
    fn every_page_file_is_served_with_an_etag_and_gzip() {
        for (path, p) in assets() {
            assert!(!p.body.is_empty(), "{path}");
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip, br"));
            let r = p.respond(&h);
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            if p.body.len() > 1024 {
                assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip", "{path}");
            }
            h.insert(header::IF_NONE_MATCH, p.etag.clone());
            assert_eq!(p.respond(&h).status(), StatusCode::NOT_MODIFIED, "{path}");
        }
    }
}
