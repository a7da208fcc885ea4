//! The planners' map page: `GET /` and its files under `/map/` (HTML, script, style, landmarks and the
//! pinned `MapLibre` GL JS with its licence), all embedded in the binary so the page works with no
//! internet; `GET /map/config.json` tells the page whether tokens are needed and which base map, if
//! any, to draw. The page itself reads only the figure routes, with the caller's token.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::ApiError;
use super::cached::{Rendered, strong_etag};

/// What `leadmap serve` adds to the page: a street map behind it and the landmarks it labels.
#[derive(Clone, Debug, Default)]
pub struct MapPage {
    /// A tile URL template (`https://.../{z}/{x}/{y}.png`, raster) or a style URL (`...json`, vector).
    pub basemap: Option<String>,
    /// A PMTiles archive served at `/map/basemap.pmtiles` (`--basemap FILE.pmtiles`).
    archive: Option<super::basemap::Archive>,
    /// `--basemap-attribution`: shown on the map for the base map (plain text).
    attribution: Option<String>,
    /// GeoJSON points with a `name` (default: the built-in Portland landmarks).
    pub landmarks: Option<String>,
    /// Named areas drawn under the hexagons (`--context`, see [`MapPage::with_context`]), ready to send;
    /// none: an empty collection.
    context: Option<std::sync::Arc<Rendered>>,
    /// The data are the made-up demo set: the page says so on the map and beside every headline figure.
    pub demo: bool,
}

/// Why a map page setting was refused.
#[derive(Debug, thiserror::Error)]
pub enum MapPageError {
    /// The base map is neither a tile template nor a style URL.
    #[error(
        "--basemap {0:?}: give an http(s) tile URL template with {{z}}, {{x}} and {{y}} (raster tiles, e.g. https://tile.example.org/{{z}}/{{x}}/{{y}}.png), the URL of a MapLibre style ending in .json, or a PMTiles archive on this machine (FILE.pmtiles)"
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
    /// A page with this base map, these landmarks (GeoJSON text) and, when `demo`, the demo labels.
    #[must_use]
    pub fn new(basemap: Option<String>, landmarks: Option<String>, demo: bool) -> Self {
        Self { basemap, landmarks, demo, context: None, archive: None, attribution: None }
    }

    /// The same page over the PMTiles archive at `path` (as [`crate::formats::pmtiles::read_info`]
    /// read it), instead of a base map URL.
    #[must_use]
    pub fn with_archive(mut self, path: std::path::PathBuf, info: crate::formats::pmtiles::ArchiveInfo) -> Self {
        self.basemap = None;
        self.archive = Some(super::basemap::Archive::new(path, info));
        self
    }

    /// The same page with `text` as the base map's attribution.
    #[must_use]
    pub fn with_attribution(mut self, text: Option<String>) -> Self {
        self.attribution = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        self
    }

    /// The PMTiles archive, if the page has one.
    #[must_use]
    pub fn archive(&self) -> Option<&super::basemap::Archive> {
        self.archive.as_ref()
    }

    /// What the map credits for the base map: `--basemap-attribution`, else the archive's own
    /// attribution, else "© OpenStreetMap contributors" for an archive built from OpenStreetMap.
    #[must_use]
    pub fn basemap_attribution(&self) -> Option<String> {
        self.attribution.clone().or_else(|| {
            let info = &self.archive.as_ref()?.info;
            info.attribution
                .clone()
                .or_else(|| info.from_openstreetmap().then(|| "© OpenStreetMap contributors".to_owned()))
        })
    }

    /// The same page with named areas under the hexagons: `geojson` as
    /// [`crate::formats::zonefile::read_context`] gives it (kept gzipped too, and sent with an `ETag`).
    #[must_use]
    pub fn with_context(mut self, geojson: &serde_json::Value) -> Self {
        let body = Bytes::from(geojson.to_string());
        let etag = strong_etag(&body);
        self.context = Some(std::sync::Arc::new(Rendered::new(body, "application/geo+json", etag, GZIP_FROM)));
        self
    }

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
            let lonlat = crate::formats::geometry::feature_xy(f)
                .is_ok_and(|(lon, lat)| crate::coord::LonLat::new(lon, lat).is_ok());
            if name.is_none() || !lonlat {
                return Err(err(format!(
                    "feature {i}: each landmark is a Point with [lon, lat] coordinates and a `name` property"
                )));
            }
        }
        Ok(())
    }
}

/// Prepares the page's files (tags, gzip) ahead of the first request; `serve` calls it before it
/// listens, so the first page load does not wait for it.
pub fn prepare() {
    let _ = assets();
}

/// One of the page's files: ready to send, and where its bytes are in a checkout (for
/// `LEADMAP_WEB_DIR`), relative to the page's folder `src/http/web`; `None` for a file made here.
struct Asset {
    rendered: Rendered,
    checkout: Option<&'static str>,
}

/// A file of the page's folder: its name under `/map/`, its bytes, its path in a checkout and its type.
macro_rules! page_file {
    ($path:literal, $content_type:expr) => {
        ($path, include_bytes!(concat!("web/", $path)) as &'static [u8], Some($path), $content_type)
    };
}

/// The page's files by path under `/map/` (`index.html` is also `/`), ready to send.
fn assets() -> &'static HashMap<&'static str, Asset> {
    static PREPARED: OnceLock<HashMap<&'static str, Asset>> = OnceLock::new();
    PREPARED.get_or_init(|| {
        const JS: &str = "text/javascript; charset=utf-8";
        const CSS: &str = "text/css; charset=utf-8";
        const TEXT: &str = "text/plain; charset=utf-8";
        const GEOJSON: &str = "application/geo+json";
        let files: [(&str, &'static [u8], Option<&'static str>, &'static str); 27] = [
            page_file!("index.html", "text/html; charset=utf-8"),
            page_file!("map.js", JS),
            page_file!("hexagons.js", JS),
            page_file!("api.js", JS),
            page_file!("format.js", JS),
            page_file!("geometry.js", JS),
            page_file!("legend.js", JS),
            page_file!("panels.js", JS),
            page_file!("proposals.js", JS),
            page_file!("time.js", JS),
            page_file!("url.js", JS),
            page_file!("map.css", CSS),
            // The built-in landmarks live with the other geodata.
            (
                "landmarks.geojson",
                include_bytes!("../../geodata/landmarks/portland.geojson"),
                Some("../../../geodata/landmarks/portland.geojson"),
                GEOJSON,
            ),
            // Without --context: no named areas (made here, in no file).
            ("context.geojson", br#"{"type":"FeatureCollection","features":[]}"#, None, GEOJSON),
            page_file!("vendor/maplibre-gl/maplibre-gl.mjs", JS),
            page_file!("vendor/maplibre-gl/maplibre-gl-worker.mjs", JS),
            page_file!("vendor/maplibre-gl/maplibre-gl.css", CSS),
            page_file!("vendor/maplibre-gl/LICENSE.txt", TEXT),
            page_file!("vendor/maplibre-gl/VERSION", TEXT),
            // For a PMTiles base map (tools/assets/update_pmtiles.sh): the archive reader and the Protomaps style.
            page_file!("vendor/pmtiles/pmtiles.js", JS),
            page_file!("vendor/pmtiles/LICENSE.txt", TEXT),
            page_file!("vendor/pmtiles/LICENSE-fflate.txt", TEXT),
            page_file!("vendor/pmtiles/VERSION", TEXT),
            page_file!("vendor/protomaps-basemaps/basemaps.js", JS),
            page_file!("vendor/protomaps-basemaps/LICENSE.txt", TEXT),
            page_file!("vendor/protomaps-basemaps/VERSION", TEXT),
            // The label glyphs' font licence (the glyphs themselves: glyphs.rs).
            page_file!("glyphs/LICENSE.txt", TEXT),
        ];
        files
            .into_iter()
            .map(|(path, body, checkout, content_type)| {
                let rendered = Rendered::new(Bytes::from_static(body), content_type, strong_etag(body), GZIP_FROM);
                (path, Asset { rendered, checkout })
            })
            .collect()
    })
}

/// Files larger than this are also kept gzipped.
const GZIP_FROM: usize = 1024;

/// `file` as the response to `headers`. Revalidated every time (a 304 is cheap), so a new binary's
/// page is seen at once.
fn send(file: &Rendered, headers: &HeaderMap) -> Response {
    let mut r = file.respond(headers, "no-cache", "Accept-Encoding");
    r.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

/// `GET /`: the map page.
pub async fn get_page(headers: HeaderMap) -> Response {
    file("index.html", &headers)
}

/// `GET /map/{*path}`: the page's files.
pub async fn get_file(Path(path): Path<String>, headers: HeaderMap, State(page): State<Arc<MapPage>>) -> Response {
    if path == "landmarks.geojson"
        && let Some(text) = &page.landmarks
    {
        let mut r = text.clone().into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json"));
        return r;
    }
    if path == "context.geojson"
        && let Some(context) = &page.context
    {
        return send(context, &headers);
    }
    file(&path, &headers)
}

fn file(path: &str, headers: &HeaderMap) -> Response {
    match assets().get(path) {
        Some(a) => match (dev_dir(), a.checkout) {
            (Some(dir), Some(checkout)) => from_dir(&dir.join(checkout), a.rendered.content_type()),
            _ => send(&a.rendered, headers),
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

fn from_dir(file: &std::path::Path, content_type: &'static str) -> Response {
    match std::fs::read(file) {
        Ok(body) => {
            let mut r = body.into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => ApiError::internal(format!("LEADMAP_WEB_DIR: {}: {e}", file.display())).into_response(),
    }
}

/// The Content-Security-Policy of the page: its own scripts only, no framing, no base or form tricks;
/// images and fetches also from the base map's origin (`{s}` subdomains as `*`), and with a style URL
/// from any https origin (a style names its tiles, sprites and glyphs elsewhere).
#[must_use]
pub fn content_security_policy(basemap: Option<&str>) -> String {
    let remote = basemap.map_or_else(String::new, |url| {
        let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let mut host_source = String::with_capacity(host.len());
        let mut in_brace = false;
        for c in host.chars() {
            match c {
                '{' => {
                    in_brace = true;
                    host_source.push('*');
                }
                '}' => in_brace = false,
                c if !in_brace => host_source.push(c),
                _ => {}
            }
        }
        let style = url.split(['?', '#']).next().is_some_and(|p| p.to_ascii_lowercase().ends_with(".json"));
        format!(" {scheme}://{host_source}{}", if style { " https:" } else { "" })
    });
    format!(
        "default-src 'self'; script-src 'self'; worker-src 'self' blob:; child-src blob:; \
         img-src 'self' data: blob:{remote}; connect-src 'self'{remote}; font-src 'self'{remote}; \
         style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

/// Adds the page's security headers to every answer of the page routes: CSP (with `frame-ancestors
/// 'none'`), `X-Frame-Options` for older browsers, and `Referrer-Policy: no-referrer`.
pub async fn security_headers(
    axum::extract::State(page): axum::extract::State<Arc<MapPage>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut res = next.run(req).await;
    let csp = content_security_policy(page.basemap.as_deref());
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

/// `GET /map/config.json`: whether the API needs a token, the base map, and `zones_at`: a date on which
/// the zone set the figures are classified by (the one in force today, else the newest) is in force, so
/// the page shows those zones even after the program has ended.
pub async fn get_config(
    State(program): State<crate::http::Program>,
    State(page): State<Arc<MapPage>>,
    State(tokens): State<Arc<super::auth::Tokens>>,
) -> Response {
    let today = program.today();
    let loaded = program.loaded();
    let zones_at = loaded.zones.in_force_or_newest(today).map(|index| {
        let m = index.set().meta();
        if m.in_force_on(today) { today } else { m.effective_from.or(m.effective_to).unwrap_or(today) }
    });
    let body = json!({
        "auth": !tokens.is_open(),
        "basemap": page.basemap,
        // A PMTiles archive at /map/basemap.pmtiles: how to draw it (bounds and centre lon/lat).
        "basemap_archive": page.archive().map(|a| {
            let i = &a.info;
            json!({
                "url": "/map/basemap.pmtiles",
                "type": i.tile_type.kind(),
                "format": i.tile_type.format(),
                "minzoom": i.min_zoom,
                "maxzoom": i.max_zoom,
                "bounds": i.bounds,
                "center": i.center,
                "vector_layers": i.vector_layers,
                "protomaps": i.protomaps_schema(),
            })
        }),
        "basemap_attribution": page.basemap_attribution(),
        "demo": page.demo,
        // serve --context: the page names areas itself (a base map's neighbourhood names are left out).
        "context": page.context.is_some(),
        // Each zone set's start, marked on the page's monthly chart.
        "zone_sets": loaded.zones.indexes().iter().map(|i| {
            let m = i.set().meta();
            json!({"name": m.name, "title": m.title, "effective_from": m.effective_from, "effective_to": m.effective_to})
        }).collect::<Vec<_>>(),
        "zones_at": zones_at,
        "maplibre_version": String::from_utf8_lossy(include_bytes!("web/vendor/maplibre-gl/VERSION")).trim(),
    });
    let mut r = axum::Json(body).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The map page, its files, config, base map and glyphs: public (no data in them; what the page shows
/// comes from the figure routes, with a token), each answer with the page's security headers.
pub(super) fn routes(page: Arc<MapPage>) -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/", get(get_page))
        .route("/map/config.json", get(get_config))
        .route("/map/basemap.pmtiles", get(super::basemap::get_archive))
        .route("/map/glyphs/{fontstack}/{range}", get(super::glyphs::get_glyphs))
        .route("/map/{*path}", get(get_file))
        .route_layer(axum::middleware::from_fn_with_state(page, security_headers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn the_policy_lets_the_base_map_in_and_nothing_else() {
        let none = content_security_policy(None);
        assert!(none.contains("connect-src 'self';") && none.contains("frame-ancestors 'none'"), "{none}");
        let tiles = content_security_policy(Some("https://{s}.tile.example.org/{z}/{x}/{y}.png"));
        assert!(tiles.contains("img-src 'self' data: blob: https://*.tile.example.org;"), "{tiles}");
        assert!(!tiles.contains(" https:;"), "{tiles}");
        let style = content_security_policy(Some("http://localhost:8090/style.json?key=1"));
        assert!(style.contains("connect-src 'self' http://localhost:8090 https:;"), "{style}");
    }

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

    #[tokio::test]
    async fn every_page_file_is_served_with_an_etag_and_gzip() {
        for (path, a) in assets() {
            let p = &a.rendered;
            let plain = send(p, &HeaderMap::new());
            assert_eq!(plain.status(), StatusCode::OK, "{path}");
            let etag = plain.headers()[header::ETAG].clone();
            let body = axum::body::to_bytes(plain.into_body(), usize::MAX).await.unwrap();
            assert!(!body.is_empty(), "{path}");
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip, br"));
            let r = send(p, &h);
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
            if body.len() > 1024 {
                assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip", "{path}");
            }
            h.insert(header::IF_NONE_MATCH, etag);
            assert_eq!(send(p, &h).status(), StatusCode::NOT_MODIFIED, "{path}");
        }
    }

    /// With `LEADMAP_WEB_DIR` a file is read from where the list says it is in a checkout: each such
    /// path holds exactly the bytes the binary serves; only the file made here has none.
    #[tokio::test]
    async fn every_page_file_says_where_its_bytes_are_in_a_checkout() {
        let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/web");
        for (path, a) in assets() {
            let served =
                axum::body::to_bytes(send(&a.rendered, &HeaderMap::new()).into_body(), usize::MAX).await.unwrap();
            match a.checkout {
                Some(checkout) => {
                    let on_disk =
                        std::fs::read(web.join(checkout)).unwrap_or_else(|e| panic!("{path}: {checkout}: {e}"));
                    assert!(on_disk == served, "{path}: {checkout} holds other bytes");
                }
                None => assert_eq!(*path, "context.geojson", "only the empty context is made here"),
            }
        }
    }
}
