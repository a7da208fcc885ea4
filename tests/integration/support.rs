//! What the integration tests share: paths, loaders, seeded point generators, the service on the built-in
//! sets in process (state, requests, answers) and a real `leadmap serve` process (with a minimal
//! HTTP/1.1 client).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use leadmap::formats::zonefile::{ZoneFileOptions, read_zone_file};
use leadmap::http::{AppState, Limits, Loaded, Tokens};
use leadmap::rules::RuleCatalog;
use leadmap::zones::{IndexOptions, ZoneCatalog, ZoneIndex, ZoneSet};
use rand::{RngExt, SeedableRng};
use tower::ServiceExt;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/` beside the repository.
pub fn shared(rel: &str) -> PathBuf {
    repo().join("../shared").join(rel)
}

/// A file under `geodata/fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    repo().join("geodata/fixtures").join(rel)
}

/// The City file's three LEAD areas, as `--select` takes them.
pub const CITY_SELECT: &str =
    "PORTLAND DOWNTOWN=downtown,OLD TOWN COMMUNITY ASSOCIATION=old-town,LLOYD DISTRICT COMMUNITY ASSOCIATION=lloyd";

/// Options selecting the City's three LEAD areas by `NAME`.
pub fn city_options(select: &str) -> ZoneFileOptions {
    ZoneFileOptions {
        zone_field: Some("NAME".into()),
        select: Some(select.parse().expect("selection parses")),
        ..ZoneFileOptions::default()
    }
}

/// Loads a zone file with default options.
pub fn load(path: &std::path::Path) -> ZoneSet {
    read_zone_file(path, &ZoneFileOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// Indexes a zone set with the default borderline distance.
pub fn index(set: ZoneSet) -> ZoneIndex {
    ZoneIndex::new(set, IndexOptions::default())
}

/// Seeded points that stress the boundary: every vertex, points exactly on edges (where representable),
/// points a hair (1e-12 to 1e-6 degrees) either side of every edge, and uniform points over the
/// zones' bounding box grown by 20 %. Returned as (lon, lat).
pub fn stress_points(set: &ZoneSet, seed: u64, uniform: usize) -> Vec<[f64; 2]> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut pts = Vec::new();
    for zone in set.zones() {
        for poly in &zone.geometry {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for w in ring.0.windows(2) {
                    let (a, b) = (w[0], w[1]);
                    pts.push([a.x, a.y]);
                    pts.push([f64::midpoint(a.x, b.x), f64::midpoint(a.y, b.y)]);
                    for _ in 0..8 {
                        let t: f64 = rng.random();
                        let on = [a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)];
                        let exp: i32 = rng.random_range(6..=12);
                        let eps = 10f64.powi(-exp);
                        let (nx, ny) = (-(b.y - a.y), b.x - a.x);
                        let len = nx.hypot(ny).max(f64::MIN_POSITIVE);
                        pts.push(on);
                        pts.push([on[0] + eps * nx / len, on[1] + eps * ny / len]);
                        pts.push([on[0] - eps * nx / len, on[1] - eps * ny / len]);
                    }
                    // Near the vertex, all round.
                    for _ in 0..4 {
                        let ang: f64 = rng.random::<f64>() * std::f64::consts::TAU;
                        let r = 10f64.powi(-rng.random_range(6..=11));
                        pts.push([a.x + r * ang.cos(), a.y + r * ang.sin()]);
                    }
                }
            }
        }
    }
    let bounds = set.bounds();
    let (w, h) = (bounds.width(), bounds.height());
    for _ in 0..uniform {
        let x = bounds.min().x - 0.2 * w + rng.random::<f64>() * 1.4 * w;
        let y = bounds.min().y - 0.2 * h + rng.random::<f64>() * 1.4 * h;
        pts.push([x, y]);
    }
    pts
}

/// Sends one request on a fresh connection and reads the whole answer: (status, body). `None` when the
/// server cannot be reached.
pub fn http_request(port: u16, method: &str, path: &str, body: Option<&str>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    let sent = match body {
        Some(b) => write!(s, "{head}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len()),
        None => write!(s, "{head}\r\n"),
    };
    sent.ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok())?;
    Some((status, text.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned()))
}

/// `GET path`: (status, body).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    http_request(port, "GET", path, None).expect("the server answers")
}

/// `POST path` with a JSON body: the status, or `None` when the server cannot be reached.
pub fn http_post(port: u16, path: &str, body: &str) -> Option<u16> {
    http_request(port, "POST", path, Some(body)).map(|(status, _)| status)
}

/// Starts `leadmap serve` on an ephemeral port (log level info) with these extra arguments and
/// environment variables (e.g. `LEADMAP_TOKENS`); returns the child, its port (read from the log) and the
/// log lines written so far, which keep arriving. Tests use it through [`Server`], which stops the
/// process when dropped.
fn start_server(args: &[&str], env: &[(&str, &str)]) -> (Child, u16, Arc<Mutex<Vec<String>>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadmap"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied())
        .env("LEADMAP_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let log = Arc::new(Mutex::new(Vec::new()));
    let port = loop {
        let line = lines.next().expect("server exited before serving").unwrap();
        log.lock().unwrap().push(line.clone());
        if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
            break rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap();
        }
    };
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    // Serving at once; its stored events are read in the background (figures answer 503 until then):
    // the tests ask for figures once they are in, as a client told Retry-After would.
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    loop {
        let (status, body) = http_get(port, "/readyz");
        let loading = serde_json::from_str::<serde_json::Value>(&body).is_ok_and(|v| v["events"]["state"] == "loading");
        if status != 200 || !loading {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the stored events were not read in 60 s");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    (child, port, log)
}

/// A `leadmap serve` process stopped when dropped, with JSON helpers.
pub struct Server {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts one with these extra arguments.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with(args, &[])
    }

    /// Starts one with these extra arguments and environment variables.
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Self {
        let (child, port, log) = start_server(args, env);
        Self { child, port, log }
    }

    /// `GET path` with `Authorization: Bearer token`: (status, body).
    pub fn get_as(&self, token: &str, path: &str) -> (u16, String) {
        self.request_as(token, "GET", path, None)
    }

    /// `METHOD path` with `Authorization: Bearer token` and a JSON body, if any: (status, body).
    pub fn request_as(&self, token: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let body = body.unwrap_or_default();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            unchunk(body)
        } else {
            body.to_owned()
        };
        (status, body)
    }

    /// `GET path`: status and JSON body.
    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, body) = http_get(self.port, path);
        (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}")))
    }

    /// `POST path` with a JSON body: status and JSON body.
    pub fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let (status, text) = http_request(self.port, "POST", path, Some(&body.to_string())).unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}")))
    }

    /// `POST path` with a body sent exactly as written (e.g. JSON that repeats a key): status and JSON body.
    pub fn post_raw(&self, path: &str, body: &str) -> (u16, serde_json::Value) {
        let (status, text) = http_request(self.port, "POST", path, Some(body)).unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}")))
    }

    /// The log so far, waiting up to 5 s for a line containing `needle` (returned whether or not it came).
    pub fn log_with(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let text = self.log.lock().unwrap().join("\n");
            if text.contains(needle) || std::time::Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Server {
    /// Sends the process `sig` (`-HUP`, `-TERM`, `-9`).
    pub fn signal(&self, sig: &str) {
        signal(&self.child, sig);
    }

    /// Waits for the process to exit (after [`Server::signal`]).
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `child` the signal `sig` (`-HUP`, `-TERM`, `-9`).
pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("sh").args(["-c", &format!("kill {sig} {}", child.id())]).status().unwrap();
    assert!(ok.success());
}

/// A child process killed when dropped, also when the test panics first (a server left running would
/// keep `cargo test` waiting: it holds the test's output).
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The body of a chunked HTTP/1.1 answer.
fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

/// Runs the `leadmap` binary with `args` in the temporary directory (so a relative output lands there,
/// never in the checkout) and waits for it.
pub fn leadmap(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_leadmap")).args(args).current_dir(std::env::temp_dir()).output().unwrap()
}

/// A store in `dir` holding the Police Bureau's 2015–2021 contacts from `../shared`, imported with
/// `--preset ppb` and the built-in zone sets: 8,942 stored (242 rows without coordinates and 13 repeated
/// case numbers are rejected, so the import exits 3).
pub fn ppb_store(dir: &std::path::Path) -> PathBuf {
    let store = dir.join("events.gpkg");
    let file = shared("data/portland/ppb-drug-offenses-2015-2021.csv");
    let out =
        leadmap(&["import", file.to_str().unwrap(), "--preset", "ppb", "--json", "--data", store.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["imported"], 8942, "{stderr}");
    store
}

/// The built-in Portland zone and rule sets, as `leadmap serve` loads them by default.
pub fn builtin() -> Loaded {
    let zones = ZoneCatalog::new(leadmap::builtin::zone_sets().unwrap(), IndexOptions::default());
    let rules = RuleCatalog::new(leadmap::builtin::rule_sets().unwrap()).unwrap();
    Loaded { zones, rules }
}

/// The service on the built-in sets with `tokens`, default limits and the store file at `path` (created
/// if missing), its stored events read in.
pub fn builtin_with_store(tokens: Tokens, path: &std::path::Path) -> AppState {
    let store = leadmap::store::gpkg::GpkgStore::open(path).unwrap();
    ready(AppState::with_store(builtin(), tokens, Limits::default(), Some(Box::new(store))).unwrap())
}

/// An answer of the in-process router.
pub struct Reply {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: axum::http::HeaderMap,
    /// Its whole body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (the test fails, showing the body, when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The Content-Type, or "".
    pub fn content_type(&self) -> &str {
        self.headers.get(header::CONTENT_TYPE).map_or("", |v| v.to_str().unwrap())
    }

    /// Asserts a problem+json error with this status whose detail contains `needle`.
    pub fn problem(&self, status: u16, needle: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.content_type(), "application/problem+json");
        let p = self.json();
        assert_eq!(p["status"], status);
        assert!(p["title"].is_string() && p["type"].is_string());
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.contains(needle), "detail {detail:?} should contain {needle:?}");
    }
}

/// Sends `req` through the router in process and reads the whole answer.
pub async fn call(app: &axum::Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec();
    Reply { status, headers, body }
}

/// `state` once its stored events are read into memory (figures answer 503 until then).
pub fn ready(state: leadmap::http::AppState) -> leadmap::http::AppState {
    assert_eq!(state.events().wait_until_read(), leadmap::events::live::ColumnsState::Ready);
    state
}

/// Whether `../shared/` (the City's boundaries, the Police Bureau's data) is beside the checkout. A test
/// that needs it returns early when it is not, saying so, so that `cargo test` passes on a fresh clone
/// alone; where `CI` is set it must be there, and its absence fails the test.
pub fn have_shared() -> bool {
    if repo().join("../shared/README.md").exists() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "../shared is not beside the checkout, and CI must run every test");
    eprintln!("skipped: ../shared is not beside the checkout (the test needs its data)");
    false
}
