//! Hostile clients and careless queries against a real `leadmap serve` on a port: idle and slow
//! connections, the connection cap under a low open-file limit, figures too large to answer, the figure
//! cache's key, and the headers and checks of issue 16.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{Killed, Server, http_get};

/// Reads what the server sends on `s` until it closes (or 3 s pass): the text, and whether it closed.
fn read_until_closed(s: &mut TcpStream) -> (String, bool) {
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&text).into_owned(), true),
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&text).into_owned(), true);
            }
            Err(_) => return (String::from_utf8_lossy(&text).into_owned(), false),
        }
    }
}

#[test]
fn idle_slow_and_kept_alive_connections_are_closed_and_over_the_cap_is_a_503() {
    let server = Server::start(&["--header-timeout-ms", "700", "--max-connections", "6"]);
    let connect = || TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    // The start's own readiness request (`support::Server::start`) has let go of its connection.
    std::thread::sleep(Duration::from_millis(300));
    // Six idle sockets fill the cap; a seventh is answered 503 problem+json at once and closed.
    let mut idle: Vec<TcpStream> = (0..6).map(|_| connect()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let (text, closed) = read_until_closed(&mut connect());
    assert!(closed && text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("application/problem+json") && text.contains("too many connections"), "{text}");
    assert!(text.to_ascii_lowercase().contains("\r\nx-request-id: "), "every answer has a request id: {text}");
    // The server closes the idle ones itself (header-read timeout), and then answers again.
    for s in &mut idle {
        assert!(read_until_closed(s).1, "an idle connection is closed");
    }
    assert_eq!(http_get(server.port, "/healthz").0, 200);
    // A client sending its headers a byte at a time is cut off when the time is up.
    let mut slow = connect();
    let started = std::time::Instant::now();
    for b in b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ".iter().cycle() {
        if slow.write_all(&[*b]).is_err() || started.elapsed() > Duration::from_secs(5) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(started.elapsed() < Duration::from_secs(3), "the slow client was cut off after {:?}", started.elapsed());
    // A kept-alive connection left idle after its answer is closed too.
    let mut kept = connect();
    write!(kept, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let (text, closed) = read_until_closed(&mut kept);
    assert!(text.starts_with("HTTP/1.1 200") && closed, "{text}");
}

#[test]
fn hundreds_of_idle_sockets_under_a_low_file_limit_do_not_stop_the_service() {
    let bin = env!("CARGO_BIN_EXE_leadmap");
    let mut child = Command::new("sh")
        .args(["-c", &format!("ulimit -n 256 && exec {bin} serve --addr 127.0.0.1:0 --header-timeout-ms 1000")])
        .env("LEADMAP_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let _child = Killed(child);
    let mut log = Vec::new();
    let port: u16 = loop {
        let line = lines.next().expect("server exited before serving").unwrap();
        log.push(line.clone());
        if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
            break rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap();
        }
    };
    assert!(log.join("\n").contains("the open-file limit is 256"), "{log:?}");
    // 400 idle sockets: more than the file limit.
    let idle: Vec<TcpStream> = (0..400).filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok()).collect();
    assert!(idle.len() > 256);
    std::thread::sleep(Duration::from_millis(1500));
    let (status, _) = http_get(port, "/healthz");
    assert_eq!(status, 200, "the service answers once the idle connections have timed out");
    drop(idle);
}

fn write_events(path: &std::path::Path, far: &[(f64, f64)]) {
    let mut text = String::from("id,date,kind,lon,lat\n");
    for i in 0..60 {
        let kind = if i % 2 == 0 { "arrest" } else { "social_contact_referral" };
        let (dx, dy) = (f64::from(i % 8) * 0.002, f64::from(i / 8) * 0.002);
        writeln!(text, "p{i},2019-05-{:02},{kind},{},{}", 1 + i % 28, -122.69 + dx, 45.51 + dy).unwrap();
    }
    for (i, (lon, lat)) in far.iter().enumerate() {
        writeln!(text, "far{i},2019-05-03,arrest,{lon},{lat}").unwrap();
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_figure_too_large_to_answer_is_a_problem_saying_how_to_narrow_it() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, store) = (dir.path().join("e.csv"), dir.path().join("s.gpkg"));
    // Events in Alaska and Mexico (let in with a wide plausible area): the study area would span a
    // continent.
    write_events(&csv, &[(-150.0, 61.2), (-99.1, 19.4)]);
    let out = Command::new(env!("CARGO_BIN_EXE_leadmap"))
        .args(["import", csv.to_str().unwrap(), "--source", "t", "--data", store.to_str().unwrap()])
        .args(["--plausible-km", "40000", "--quiet"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_leadmap"))
        .args(["hotspots", "--data", store.to_str().unwrap(), "--res", "9", "-o"])
        .arg(dir.path().join("h.csv"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("more than the limit of 1000000") && err.contains("narrow the query"), "{err}");
    assert!(!dir.path().join("h.csv").exists(), "no output file is left");

    let server = Server::start(&["--data", store.to_str().unwrap()]);
    let (status, problem) = server.get("/v1/hotspots?res=9");
    assert_eq!(status, 422, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("coarser res"), "{problem}");
    // Coarser, or the events selected without the far one (the study area follows the selection).
    assert_eq!(server.get("/v1/hotspots?res=5").0, 200);
    let (status, body) = server.get("/v1/hotspots?res=9&kind=social_contact_referral");
    assert_eq!(status, 200, "{body}");
    assert!(body["features"].as_array().unwrap().len() < 200, "the area is around the selected events only");
}

#[test]
fn the_figure_cache_is_keyed_by_parsed_parameters_not_the_query_text() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, store) = (dir.path().join("e.csv"), dir.path().join("s.gpkg"));
    write_events(&csv, &[]);
    let out = Command::new(env!("CARGO_BIN_EXE_leadmap"))
        .args(["import", csv.to_str().unwrap(), "--source", "t", "--data", store.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let server = Server::start(&["--data", store.to_str().unwrap()]);
    // One value that reads like two parameters, asked first; then the two parameters. Keyed by the
    // joined query text, both were `reference=black&to=2019-05-01` and the second got the first's answer.
    let (status, odd) = server.get("/v1/equity?reference=black%26to%3D2019-05-01");
    assert_eq!(status, 200, "{odd}");
    // (Read as a group name is: hyphens as `_`.)
    assert_eq!(odd["reference_group"], "black&to=2019_05_01");
    let (status, honest) = server.get("/v1/equity?reference=black&to=2019-05-01");
    assert_eq!(status, 200, "{honest}");
    assert_eq!(honest["reference_group"], "black", "{honest}");
    assert_ne!(odd, honest);
    // Spellings of one question share an answer.
    let (_, again) = server.get("/v1/equity?to=2019-05-01&reference=%20Black");
    assert_eq!(again, honest);
}

/// Sends `head` (request line and headers, without the final blank line) on a fresh connection: the
/// status, the response head (lower case) and the body.
fn raw(port: u16, head: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "{head}\r\nConnection: close\r\n\r\n").unwrap();
    let (text, _) = read_until_closed(&mut s);
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (h, b) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, h.to_ascii_lowercase(), b.to_owned())
}

#[test]
fn an_open_server_answers_loopback_host_names_only() {
    let server = Server::start(&[]);
    let port = server.port;
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}"), "LOCALHOST".into()]
    {
        let (status, _, body) = raw(port, &format!("GET /v1/zones?at=2019-06-01 HTTP/1.1\r\nHost: {host}"));
        assert_eq!(status, 200, "{host}: {body}");
    }
    // DNS rebinding: the attacker's page asks with its own host name.
    for host in ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost.evil.example:80", "[::2]:80"]
    {
        let (status, head, body) = raw(port, &format!("GET /v1/zones?at=2019-06-01 HTTP/1.1\r\nHost: {host}"));
        assert_eq!(status, 421, "{host}: {body}");
        assert!(head.contains("application/problem+json") && body.contains("localhost"), "{host}: {body}");
    }
}

#[test]
fn tokens_pages_and_caches_get_the_headers_they_need() {
    let field = "field-token-0123456789";
    let server = Server::start_with(&[], &[("LEADMAP_TOKENS", &format!("app:field:{field}"))]);
    let port = server.port;
    // The Authorization scheme is case-insensitive (RFC 7235).
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let (status, head, body) = raw(
            port,
            &format!("GET /v1/zones?at=2019-06-01 HTTP/1.1\r\nHost: localhost\r\nAuthorization: {scheme} {field}"),
        );
        assert_eq!(status, 200, "{scheme}: {body}");
        // Answers that need a token stay in the client's own cache.
        assert!(head.contains("cache-control: private"), "{head}");
    }
    let (status, head, _) =
        raw(port, &format!("GET /v1/rules?at=2019-06-01 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {field}"));
    assert_eq!(status, 200);
    assert!(head.contains("cache-control: private"), "{head}");
    assert_eq!(
        raw(port, &format!("GET /v1/zones?at=2019-06-01 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {field}"))
            .0,
        401
    );
    // The map page: no framing, no referrer, its own scripts only.
    for path in ["/", "/map/map.js", "/map/config.json"] {
        let (status, head, _) = raw(port, &format!("GET {path} HTTP/1.1\r\nHost: localhost"));
        assert_eq!(status, 200, "{path}");
        for needle in [
            "content-security-policy: default-src 'self'; script-src 'self'",
            "frame-ancestors 'none'",
            "referrer-policy: no-referrer",
            "x-frame-options: deny",
        ] {
            assert!(head.contains(needle), "{path}: {needle}: {head}");
        }
    }
}

#[test]
fn bodies_and_queries_that_cost_or_confuse_are_refused_early_and_exports_are_spreadsheet_safe() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    let server = Server::start(&["--data", store.to_str().unwrap()]);
    let port = server.port;
    // A declared body over the limit is a 413 at once, before any of it is sent.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "POST /v1/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n").unwrap();
    let (text, _) = read_until_closed(&mut s);
    assert!(text.starts_with("HTTP/1.1 413") && text.contains("104857600 bytes"), "{text}");
    // A body of tiny items is refused by its count (before a value is built for each).
    let many = format!("[{}{{}}]", "{},".repeat(20_000));
    for path in ["/v1/events", "/v1/eligibility"] {
        let (status, problem) = server.post_raw(path, &many);
        assert_eq!(status, 413, "{path}: {problem}");
        assert!(problem["detail"].as_str().unwrap().contains("20001"), "{path}: {problem}");
    }
    // Batch eligibility takes Point features only.
    let fc = serde_json::json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [-122.6793, 45.5189]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "LineString", "coordinates": [[-122.6793, 45.5189], [-122.68, 45.52]]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "MultiPoint", "coordinates": [[-122.6793, 45.5189]]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [-122.6793, 45.5189]}}
    ]});
    let (status, problem) = server.post("/v1/eligibility?at=2019-06-01", &fc);
    assert_eq!(status, 422, "{problem}");
    let bad: Vec<u64> = problem["errors"].as_array().unwrap().iter().map(|e| e["index"].as_u64().unwrap()).collect();
    assert_eq!(bad, [1, 2, 3], "{problem}");
    let details: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["detail"].as_str().unwrap()).collect();
    assert_eq!(
        details,
        [
            "geometry is a LineString, not a Point",
            "geometry is a MultiPoint, not a Point",
            "geometry is a Polygon, not a Point"
        ],
        "{problem}"
    );
    // from after to is a 400 on the events route too.
    assert_eq!(server.get("/v1/events?from=2019-02-01&to=2019-01-01").0, 400);
    // Exports: text a spreadsheet would run is written with a leading quote.
    let event = serde_json::json!({"kind": "arrest", "occurred_on": "2019-06-01", "lon": -122.6793, "lat": 45.5189,
        "offense": "=HYPERLINK(\"http://evil.example\",\"x\")", "agency": "@SUM(A1)", "source": "+feed", "external_id": "-2+3"});
    assert_eq!(server.post("/v1/events", &event).0, 201);
    let (status, csv) = http_get(port, "/v1/events?f=csv");
    assert_eq!(status, 200);
    for cell in ["'=HYPERLINK", "'@SUM(A1)", "'+feed", "'-2+3"] {
        assert!(csv.contains(cell), "{cell}: {csv}");
    }
    assert!(csv.contains(",-122.6793,45.5189,"), "coordinates stay numbers: {csv}");
    drop(server);
    let out_file = dir.path().join("e.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_leadmap"))
        .args(["events", "export", "--data", store.to_str().unwrap(), "-o", out_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&out_file).unwrap();
    assert!(text.contains("'=HYPERLINK") && text.contains("'-2+3"), "{text}");
}

#[test]
fn oversized_urls_and_headers_get_problems_not_bare_statuses() {
    let server = Server::start(&[]);
    let long = "x".repeat(9000);
    let (status, head, body) = raw(server.port, &format!("GET /v1/zones?at={long} HTTP/1.1\r\nHost: localhost"));
    assert_eq!(status, 414, "{head}");
    assert!(head.contains("application/problem+json") && body.contains("8192"), "{body}");
    let many = (0..70).fold(String::new(), |mut h, i| {
        write!(h, "\r\nX-Pad-{i}: {i}").unwrap();
        h
    });
    let (status, head, body) = raw(server.port, &format!("GET /healthz HTTP/1.1\r\nHost: localhost{many}"));
    assert_eq!(status, 431, "{head}");
    assert!(head.contains("application/problem+json") && body.contains("64 fields"), "{body}");
    let big = "y".repeat(20_000);
    let (status, _, body) = raw(server.port, &format!("GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: {big}"));
    assert_eq!(status, 431, "{body}");
}

#[test]
fn requests_hyper_cannot_parse_get_problems_too() {
    let server = Server::start(&[]);
    let port = server.port;
    let problem = |status: u16, head: &str, body: &str| {
        assert!(head.contains("content-type: application/problem+json"), "{status}: {head}");
        assert!(head.to_ascii_lowercase().contains("x-request-id: "), "{status}: {head}");
        let p: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(p["status"], status, "{body}");
    };
    // A request line and header fields hyper cannot read: its own 400, now with a problem body.
    for bad in ["NOT A REQUEST", "GET /v1/zones\u{7f} HTTP/1.1\r\nHost: localhost", "GET / HTTP/1.1\r\nHost localhost"]
    {
        let (status, head, body) = raw(port, bad);
        assert_eq!(status, 400, "{bad:?}: {head}");
        problem(400, &head, &body);
    }
    // Beyond hyper's own limits (a URL of 64 KiB, more than 100 header fields), below which ours answer.
    let (status, head, body) =
        raw(port, &format!("GET /v1/zones?at={} HTTP/1.1\r\nHost: localhost", "x".repeat(70_000)));
    assert_eq!(status, 414, "{head}");
    problem(414, &head, &body);
    let many = (0..120).fold(String::new(), |mut h, i| {
        write!(h, "\r\nX-Pad-{i}: {i}").unwrap();
        h
    });
    let (status, head, body) = raw(port, &format!("GET /healthz HTTP/1.1\r\nHost: localhost{many}"));
    assert_eq!(status, 431, "{head}");
    problem(431, &head, &body);
    // The server goes on answering.
    assert_eq!(http_get(port, "/healthz").0, 200);
}
