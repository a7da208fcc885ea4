//! The HTTP service: every route and error shape in-process through `leadmap::http::router`, auth by
//! role, ETag/304, screening over HTTP, the OpenAPI document, and a real `leadmap serve` process on an
//! ephemeral port with SIGHUP reload under concurrent requests and graceful SIGTERM.

use std::process::Command;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use leadmap::http::{AppState, Limits, Loaded, Tokens, router};
use leadmap::rules::RuleCatalog;
use leadmap::zones::{IndexOptions, ZoneCatalog};
use serde_json::{Value, json};

use crate::support::{
    Killed, Reply, Server, builtin_with_store, call, http_get, http_post, http_request, leadmap, repo, signal,
};

const FIELD: &str = "field-token-0123456789";
const PLANNER: &str = "planner-token-0123456789";
const ADMIN: &str = "admin-token-0123456789ab";

fn state(tokens: Tokens, limits: Limits) -> AppState {
    AppState::new(crate::support::builtin(), tokens, limits)
}

fn open_app() -> axum::Router {
    router(state(Tokens::default(), Limits::default()))
}

fn secured_app() -> axum::Router {
    let tokens = Tokens::parse_env(&format!("app:field:{FIELD},plan:planner:{PLANNER},ops:admin:{ADMIN}")).unwrap();
    router(state(tokens, Limits::default()))
}

async fn get(app: &axum::Router, uri: &str) -> Reply {
    call(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post_json(app: &axum::Router, uri: &str, body: &Value) -> Reply {
    let req = Request::post(uri).header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string()));
    call(app, req.unwrap()).await
}

#[tokio::test]
async fn get_eligibility_gives_the_same_answer_as_check() {
    let app = open_app();
    let r = get(&app, "/v1/eligibility?lon=-122.6793&lat=45.5189&at=2017-06-01").await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    let catalog = ZoneCatalog::new(leadmap::builtin::zone_sets().unwrap(), IndexOptions::default());
    let rules = RuleCatalog::new(leadmap::builtin::rule_sets().unwrap()).unwrap();
    let at = chrono::NaiveDate::from_ymd_opt(2017, 6, 1).unwrap();
    let expect = leadmap::eligibility::PointEligibility::of(
        &leadmap::program::program_on(&catalog, &rules, at).unwrap(),
        leadmap::coord::LonLat::new(-122.6793, 45.5189).unwrap(),
        None,
    );
    assert_eq!(v, serde_json::to_value(expect).unwrap());
    assert_eq!(v["zone_set"]["name"], "portland-lead-2017");
}

#[tokio::test]
async fn answers_without_a_date_are_for_the_program_day_on_the_state_clock() {
    // The 2018 expansion starts on 2018-05-16 in Portland: at 05:00 UTC that day it is still the 15th
    // there (the 2017 areas answer), at 08:00 UTC it is the 16th (the 2018 areas).
    let at = |rfc3339: &str| {
        let now = chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc();
        router(
            state(Tokens::default(), Limits::default())
                .with_clock(std::sync::Arc::new(leadmap::clock::FixedClock(now))),
        )
    };
    let point = "/v1/eligibility?lon=-122.6793&lat=45.5189";
    let before = get(&at("2018-05-16T05:00:00Z"), point).await.json();
    assert_eq!(
        (before["zone_set"]["name"].as_str(), before["eligible"].as_bool()),
        (Some("portland-lead-2017"), Some(true))
    );
    let after = get(&at("2018-05-16T08:00:00Z"), point).await.json();
    assert_eq!(
        (after["zone_set"]["name"].as_str(), after["eligible"].as_bool()),
        (Some("portland-lead-2018"), Some(true))
    );
    // After the pilot ended no answer for "today" is eligible; an explicit date still answers for it.
    let ended = at("2026-12-07T12:00:00Z");
    assert_eq!(get(&ended, point).await.json()["eligible"], false);
    assert_eq!(get(&ended, &format!("{point}&at=2019-06-01")).await.json()["eligible"], true);
    let ready = get(&at("2018-05-16T08:00:00Z"), "/readyz").await.json();
    assert_eq!(ready["today"], "2018-05-16", "{ready}");
    let in_force: Vec<bool> =
        ready["zone_sets"].as_array().unwrap().iter().map(|z| z["in_force_today"].as_bool().unwrap()).collect();
    assert_eq!(in_force, [false, true], "{ready}");
}

#[tokio::test]
async fn bad_queries_are_problems_a_person_can_act_on() {
    let app = open_app();
    get(&app, "/v1/eligibility?lat=45.5").await.problem(400, "lon is required");
    get(&app, "/v1/eligibility?lon=abc&lat=45.5").await.problem(400, "\"abc\" is not a number");
    get(&app, "/v1/eligibility?lon=45.5189&lat=-122.6793").await.problem(400, "did you swap lon and lat?");
    get(&app, "/v1/eligibility?lon=-122.6&lat=200").await.problem(400, "outside -90..90");
    get(&app, "/v1/eligibility?lon=-122.6&lat=45.5&zoom=3").await.problem(400, "unknown query parameter \"zoom\"");
    get(&app, "/v1/eligibility?lon=-122.6&lat=45.5&at=June").await.problem(400, "YYYY-MM-DD");
    // Every route reads its query into its typed parameters: a name it does not take, or one given twice
    // (which would let order decide), is refused naming it.
    get(&app, "/v1/zones?at=2019-06-01&at=2020-06-01").await.problem(400, "\"at\" is given more than once");
    get(&app, "/v1/eligibility?lon=-122.6&lat=45.5&lon=-122.7").await.problem(400, "\"lon\" is given more than once");
    get(&app, "/v1/rules?date=2019-06-01")
        .await
        .problem(400, "unknown query parameter \"date\"; this endpoint takes at");
    get(&app, "/v1/cells?res=8&period=2019&period=2020").await.problem(400, "\"period\" is given more than once");
    get(&app, "/v1/hotspots/candidates?f=csv").await.problem(400, "unknown query parameter \"f\"");
    let r = call(&app, Request::post("/v1/screenings?debug=1").body(Body::from("{}")).unwrap()).await;
    r.problem(400, "unknown query parameter \"debug\"; this endpoint takes none");
    get(&app, "/v1/eligibility?lon=-122.6&lat=45.5&accuracy_m=0")
        .await
        .problem(400, "accuracy_m 0 is not a GPS accuracy");
    get(&app, "/v1/eligibility?lon=-122.6&lat=45.5&accuracy_m=ten")
        .await
        .problem(400, "\"ten\" is not a number of metres");
    get(&app, "/v2/nothing").await.problem(404, "no route /v2/nothing");
    let r = call(&app, Request::delete("/v1/eligibility").body(Body::empty()).unwrap()).await;
    r.problem(405, "DELETE is not allowed");
}

#[tokio::test]
async fn batches_answer_in_order_and_name_every_bad_item() {
    let app = open_app();
    let pts = json!([[-122.6793, 45.5189], [-122.60, 45.52], [-122.6668, 45.5316]]);
    let r = post_json(&app, "/v1/eligibility", &pts).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v["count"], 3);
    let zones: Vec<Value> = v["results"].as_array().unwrap().iter().map(|x| x["zone"].clone()).collect();
    assert_eq!(zones, [json!("downtown"), Value::Null, json!("lloyd")]);
    assert_eq!(v["results"][1]["nearest_zone"], "lloyd");

    let fc = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [-122.6668, 45.5316]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [-122.6793, 45.5189]}}]});
    let v = post_json(&app, "/v1/eligibility", &fc).await.json();
    assert_eq!((v["results"][0]["zone"].as_str(), v["results"][1]["zone"].as_str()), (Some("lloyd"), Some("downtown")));

    let bad = json!([[-122.6793, 45.5189], [45.5, -122.6], "x", [1]]);
    let r = post_json(&app, "/v1/eligibility", &bad).await;
    r.problem(422, "3 of 4 points are not valid");
    let errors = r.json()["errors"].clone();
    let indexes: Vec<u64> = errors.as_array().unwrap().iter().map(|e| e["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, [1, 2, 3]);
    assert!(errors[0]["detail"].as_str().unwrap().contains("swap"));

    let req =
        Request::post("/v1/eligibility").header(header::CONTENT_TYPE, "application/json").body(Body::from("[[1,2],"));
    call(&app, req.unwrap()).await.problem(400, "not valid JSON");
    let req = Request::post("/v1/eligibility").body(Body::from("[[1,2]]"));
    call(&app, req.unwrap()).await.problem(415, "Content-Type: application/json");
}

#[tokio::test]
async fn limits_refuse_oversized_batches_and_bodies() {
    let app =
        router(state(Tokens::default(), Limits { max_batch_points: 5, max_body_bytes: 2000, ..Limits::default() }));
    let six: Vec<[f64; 2]> = vec![[-122.67, 45.52]; 6];
    post_json(&app, "/v1/eligibility", &json!(six)).await.problem(413, "limit of 5");
    let big: Vec<[f64; 2]> = vec![[-122.67, 45.52]; 200];
    let r = post_json(&app, "/v1/eligibility", &json!(big)).await;
    r.problem(413, "too large");
}

#[tokio::test]
async fn zones_carry_a_strong_etag_and_answer_304() {
    let app = open_app();
    let r = get(&app, "/v1/zones?at=2019-06-01").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type(), "application/geo+json");
    let etag = r.headers[header::ETAG].to_str().unwrap().to_owned();
    let v = r.json();
    assert_eq!(etag, format!("\"{}\"", v["version"].as_str().unwrap()));
    assert_eq!(v["features"].as_array().unwrap().len(), 4);
    assert_eq!(v["status"], "approximation");
    assert!(v["effective_to_reason"].as_str().unwrap().contains("PATH"));
    let req = Request::get("/v1/zones?at=2019-06-01").header(header::IF_NONE_MATCH, &etag).body(Body::empty()).unwrap();
    let r = call(&app, req).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.body.is_empty());
    assert_eq!(r.headers[header::ETAG].to_str().unwrap(), etag);
    assert!(r.headers.contains_key(header::CACHE_CONTROL));
    let old = get(&app, "/v1/zones?at=2017-06-01").await;
    assert_ne!(old.headers[header::ETAG].to_str().unwrap(), etag, "another set, another ETag");

    let one = get(&app, "/v1/zones/old-town?at=2019-06-01").await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json()["properties"]["name"], "Old Town");
    assert_eq!(one.json()["properties"]["zone_set"]["name"], "portland-lead-2018");
    // `leadmap zones show` prints the same Feature.
    let shown = Command::new(env!("CARGO_BIN_EXE_leadmap"))
        .args(["zones", "show", "old-town", "--at", "2019-06-01"])
        .output()
        .unwrap();
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&shown.stdout).unwrap(), one.json());
    get(&app, "/v1/zones/pearl?at=2019-06-01").await.problem(404, "has no zone \"pearl\"");
    let rules = get(&app, "/v1/rules?at=2019-06-01").await;
    assert_eq!(rules.status, StatusCode::OK);
    assert!(rules.headers.contains_key(header::ETAG));
    assert_eq!(rules.json()["version"].as_str().unwrap().len(), 16);
    // Today no set is in force: the problem names the loaded sets and their dates.
    get(&app, "/v1/zones").await.problem(422, "portland-lead-2018 (2018-05-16 to 2021-06-30, approximation)");
    get(&app, "/v1/rules").await.problem(422, "portland-lead-2017 (2017-02-27 to 2021-01-31)");
}

#[tokio::test]
async fn tokens_and_roles_guard_the_routes() {
    let app = secured_app();
    let with = |uri: &str, token: &str| {
        Request::get(uri).header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).unwrap()
    };
    let r = get(&app, "/v1/eligibility?lon=-122.6793&lat=45.5189").await;
    r.problem(401, "needs an API token");
    assert_eq!(r.headers[header::WWW_AUTHENTICATE], "Bearer");
    call(&app, with("/v1/eligibility?lon=-122.6793&lat=45.5189", "not-a-valid-token-123"))
        .await
        .problem(401, "not valid");
    for token in [FIELD, PLANNER, ADMIN] {
        let r = call(&app, with("/v1/eligibility?lon=-122.6793&lat=45.5189", token)).await;
        assert_eq!(r.status, StatusCode::OK, "field or above may ask");
    }
    call(&app, with("/metrics", FIELD)).await.problem(403, "needs the admin role");
    call(&app, with("/metrics", PLANNER)).await.problem(403, "the token has the planner role");
    let r = call(&app, with("/metrics", ADMIN)).await;
    assert_eq!(r.status, StatusCode::OK);
    let text = String::from_utf8(r.body).unwrap();
    // Exact statuses, by method (the single GET and the batch POST have histograms of their own).
    assert!(
        text.contains("leadmap_http_requests_total{route=\"/v1/eligibility\",method=\"GET\",status=\"200\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("leadmap_http_requests_total{route=\"/v1/eligibility\",method=\"GET\",status=\"401\"} 2"),
        "{text}"
    );
    assert!(text.contains("leadmap_http_requests_total{route=\"/metrics\",method=\"GET\",status=\"403\"} 2"), "{text}");
    assert!(text.contains(
        "leadmap_http_request_duration_seconds_bucket{route=\"/v1/eligibility\",method=\"GET\",le=\"+Inf\"} 5"
    ));
    assert!(!text.contains("method=\"POST\""), "no POST was made: {text}");
    // What is served, and the service's own gauges.
    let set = leadmap::builtin::zone_sets().unwrap().pop().unwrap();
    assert!(
        text.contains(&format!("{}@{}", set.meta().name, set.version()))
            && text.contains("leadmap_build_info{version=\""),
        "{text}"
    );
    assert!(text.contains("leadmap_http_requests_in_flight 1"), "this request: {text}");
    assert!(
        text.contains("leadmap_events_in_memory{state=\"ready\"} 0")
            && text.contains("leadmap_ingested_events_total{result=\"inserted\"} 0"),
        "{text}"
    );
    for open in ["/healthz", "/readyz", "/openapi.json"] {
        assert_eq!(get(&app, open).await.status, StatusCode::OK, "{open} needs no token");
    }
}

/// Every operation the OpenAPI document lists answers a token only as its route's role allows: `401`
/// without a token (unless it is open), `403` for a role below it, and past the guard for every role it
/// allows. The table must name every operation, so a new route cannot arrive unguarded.
#[tokio::test]
async fn every_operation_answers_only_the_roles_its_route_allows() {
    const INGEST: &str = "ingest-token-0123456789a";
    const ANALYST: &str = "analyst-token-0123456789";
    let tokens = Tokens::parse_env(&format!(
        "feed:ingest:{INGEST},app:field:{FIELD},plan:planner:{PLANNER},study:analyst:{ANALYST},ops:admin:{ADMIN}"
    ))
    .unwrap();
    let app = router(state(tokens, Limits::default()));
    let roles = [("ingest", INGEST), ("field", FIELD), ("planner", PLANNER), ("analyst", ANALYST), ("admin", ADMIN)];
    let from = |i: usize| roles[i..].iter().map(|r| r.0).collect::<Vec<_>>();
    let (field, planner, analyst) = (from(1), from(2), from(3));
    let open: Vec<&str> = roles.iter().map(|r| r.0).collect();
    // (method, path): the roles allowed; `open` also answers without a token.
    let table: Vec<((&str, &str), Vec<&str>)> = vec![
        (("GET", "/v1/eligibility"), field.clone()),
        (("POST", "/v1/eligibility"), field.clone()),
        (("POST", "/v1/screenings"), field.clone()),
        (("GET", "/v1/zones"), field.clone()),
        (("GET", "/v1/zones/{id}"), field.clone()),
        (("GET", "/v1/rules"), field),
        (("POST", "/v1/events"), vec!["ingest", "admin"]),
        (("GET", "/v1/events"), analyst.clone()),
        (("DELETE", "/v1/events"), vec!["admin"]),
        (("GET", "/v1/cells"), planner.clone()),
        (("GET", "/v1/hotspots"), planner.clone()),
        (("GET", "/v1/hotspots/candidates"), planner.clone()),
        (("GET", "/v1/coverage"), planner.clone()),
        (("GET", "/v1/equity"), planner.clone()),
        (("GET", "/v1/me"), planner.clone()),
        (("GET", "/v1/proposals"), planner.clone()),
        (("POST", "/v1/proposals"), planner.clone()),
        (("GET", "/v1/proposals/{id}"), planner.clone()),
        (("DELETE", "/v1/proposals/{id}"), planner.clone()),
        (("GET", "/v1/proposals/{id}/impact"), planner),
        // The guard lets planners in; the handler refuses them (comparing is for analysts).
        (("GET", "/v1/proposals/compare"), analyst),
        (("GET", "/metrics"), vec!["admin"]),
        (("GET", "/healthz"), open.clone()),
        (("GET", "/readyz"), open.clone()),
        (("GET", "/openapi.json"), open.clone()),
    ];
    let doc = get(&app, "/openapi.json").await.json();
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in
            item.as_object().unwrap().keys().filter(|k| ["get", "post", "delete", "put", "patch"].contains(&k.as_str()))
        {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    documented.sort();
    let mut listed: Vec<(String, String)> =
        table.iter().map(|((m, p), _)| ((*m).to_owned(), (*p).to_owned())).collect();
    listed.sort();
    assert_eq!(listed, documented, "the table names every documented operation, and only those");

    for ((method, path), allowed) in &table {
        let uri = path.replace("{id}", "x");
        let request = |token: Option<&str>| {
            let mut b = Request::builder().method(*method).uri(&uri);
            if let Some(t) = token {
                b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
            }
            b.body(Body::empty()).unwrap()
        };
        let anonymous = call(&app, request(None)).await;
        if allowed.len() == roles.len() {
            assert!(anonymous.status.is_success(), "{method} {path} is open: {}", anonymous.status);
        } else {
            anonymous.problem(401, "needs an API token");
        }
        for (role, token) in roles {
            let r = call(&app, request(Some(token))).await;
            if allowed.contains(&role) {
                assert!(
                    r.status != StatusCode::UNAUTHORIZED && r.status != StatusCode::FORBIDDEN,
                    "{method} {path} lets the {role} role in: {} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                );
            } else {
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path} refuses the {role} role");
            }
        }
    }
}

#[tokio::test]
async fn screenings_apply_the_rules_over_http() {
    let app = open_app();
    let rules = get(&app, "/v1/rules?at=2019-03-01").await.json();
    let fact_ids: Vec<String> =
        rules["exclusions"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
    let mut all_false: serde_json::Map<String, Value> = fact_ids.iter().map(|id| (id.clone(), json!(false))).collect();
    all_false.insert("lead_officer".into(), json!(true));
    let base = json!({"lon": -122.6765, "lat": 45.5245, "referral_path": "arrest", "offense": "PCS",
        "substances": [{"substance": "heroin", "grams": 4.99}], "facts": all_false, "at": "2019-03-01"});
    let v = post_json(&app, "/v1/screenings", &base).await.json();
    assert_eq!(v["decision"], "eligible", "{v:#}");
    assert_eq!(v["assessment_due"], "2019-03-31", "30 days after the arrest");
    assert_eq!(v["point"]["zone"]["id"], "old-town");
    assert!(v["rule_set"]["version"].is_string());

    let mut five = base.clone();
    five["substances"] = json!([{"substance": "heroin", "grams": 5.0}]);
    assert_eq!(post_json(&app, "/v1/screenings", &five).await.json()["decision"], "ineligible");

    let mut unknown = base.clone();
    unknown["facts"] = json!({});
    let v = post_json(&app, "/v1/screenings", &unknown).await.json();
    assert_eq!(v["decision"], "needs_review");
    assert!(!v["questions"].as_array().unwrap().is_empty(), "says what to ask");

    let mut outside = base.clone();
    outside["lon"] = json!(-122.60);
    assert_eq!(post_json(&app, "/v1/screenings", &outside).await.json()["decision"], "ineligible");

    let mut typo = base.clone();
    typo["colour"] = json!("blue");
    post_json(&app, "/v1/screenings", &typo).await.problem(422, "colour");
    let mut no_lat = base;
    no_lat.as_object_mut().unwrap().remove("lat");
    post_json(&app, "/v1/screenings", &no_lat).await.problem(422, "lat is required");
}

#[tokio::test]
async fn openapi_document_covers_every_route() {
    let v = get(&open_app(), "/openapi.json").await.json();
    assert!(v["openapi"].as_str().unwrap().starts_with("3.1"), "{}", v["openapi"]);
    assert_eq!(v["info"]["license"]["identifier"], "MIT", "the document names the licence of LICENSE");
    assert!(std::fs::read_to_string(crate::support::repo().join("LICENSE")).unwrap().starts_with("MIT License"));
    let paths = v["paths"].as_object().unwrap();
    for p in [
        "/v1/eligibility",
        "/v1/screenings",
        "/v1/zones",
        "/v1/zones/{id}",
        "/v1/rules",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(p), "{p} is documented");
    }
    assert!(paths["/v1/eligibility"]["post"].is_object() && paths["/v1/eligibility"]["get"].is_object());
    assert!(v["components"]["schemas"]["Problem"].is_object());
    assert!(v["components"]["securitySchemes"]["bearer"].is_object());
}

/// A tiny HTTP/1.1 client: one request per connection, returns (status, body).
/// Sends a signal with the shell's built-in `kill` (no external tool needed).
/// A self-signed certificate for `localhost` and its key, as PEM.
fn self_signed() -> (String, String, Vec<u8>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    (ck.cert.pem(), ck.signing_key.serialize_pem(), ck.cert.der().to_vec())
}

/// `GET path` over TLS trusting only `root` (DER): the answer's text and the certificate the server
/// presented; none when the handshake fails.
#[expect(deprecated, reason = "rustls's ring provider, as the service uses")]
fn tls_get(port: u16, path: &str, root: &[u8]) -> Option<(String, Vec<u8>)> {
    use std::io::{Read, Write};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from(root.to_vec())).unwrap();
    let config =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes()).ok()?;
    let mut out = Vec::new();
    match tls.read_to_end(&mut out) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => {}
        Err(_) => return None,
    }
    let presented = tls.conn.peer_certificates()?.first()?.to_vec();
    Some((String::from_utf8_lossy(&out).into_owned(), presented))
}

#[test]
fn serves_https_with_its_certificate_and_takes_a_renewed_one_on_sighup() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let (cert_pem, key_pem, first) = self_signed();
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&key, key_pem).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadmap"))
        .args(["serve", "--addr", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .env("LEADMAP_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut child = Killed(child);
    let port: u16 = loop {
        let line = lines.next().expect("server exited before serving").unwrap();
        assert!(!line.contains("http://127.0.0.1:"), "it says it serves plain HTTP: {line}");
        if let Some(rest) = line.split("https://127.0.0.1:").nth(1) {
            break rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap();
        }
    };
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&log);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });

    let (answer, presented) = tls_get(port, "/v1/eligibility?lon=-122.6793&lat=45.5189&at=2019-06-01", &first).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"zone\":{\"id\":\"downtown\""), "{answer}");
    assert_eq!(presented, first);
    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    plain.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(!String::from_utf8_lossy(&got).contains("HTTP/1.1 200"), "{got:?}");
    // A client that does not trust the certificate is refused.
    let (_, _, stranger) = self_signed();
    assert!(tls_get(port, "/healthz", &stranger).is_none());

    // A renewed certificate, then SIGHUP: new connections get it.
    let (cert_pem, key_pem, second) = self_signed();
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&key, key_pem).unwrap();
    signal(&child.0, "-HUP");
    let mut renewed = false;
    for _ in 0..300 {
        if tls_get(port, "/healthz", &second).is_some_and(|(a, p)| a.starts_with("HTTP/1.1 200") && p == second) {
            renewed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(renewed, "the renewed certificate is served after SIGHUP");
    // A broken file on the next reload: the service keeps the certificate it has, and says why.
    std::fs::write(&cert, "not a certificate").unwrap();
    signal(&child.0, "-HUP");
    let mut said = false;
    for _ in 0..300 {
        if log.lock().unwrap().iter().any(|l| l.contains("TLS reload failed") && l.contains("cert.pem")) {
            said = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(said, "{:?}", log.lock().unwrap());
    let (answer, presented) = tls_get(port, "/healthz", &second).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200") && presented == second, "{answer}");
    signal(&child.0, "-TERM");
    assert!(child.0.wait().unwrap().success());

    // Files that cannot be used stop the start, naming the file; half a pair is a usage error.
    std::fs::write(&cert, self_signed().0).unwrap();
    let missing = dir.path().join("missing.pem");
    let out = Command::new(env!("CARGO_BIN_EXE_leadmap"))
        .args(["serve", "--addr", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&missing)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("missing.pem"), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_leadmap")).args(["serve", "--tls-cert"]).arg(&cert).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");
}

/// The OpenAPI document as generated, against `tests/snapshots/openapi.json`: a change to any route's
/// parameters, answers or schemas shows in review as a change to that file. After an intended change:
/// `UPDATE_SNAPSHOTS=1 cargo test openapi_document_matches_its_snapshot`, then read the diff.
#[test]
fn openapi_document_matches_its_snapshot() {
    let path = repo().join("tests/snapshots/openapi.json");
    let now = leadmap::http::document_json() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &now).unwrap();
        return;
    }
    let saved = std::fs::read_to_string(&path).unwrap_or_default();
    if saved != now {
        let line = saved
            .lines()
            .zip(now.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(saved.lines().count().min(now.lines().count()));
        panic!(
            "the OpenAPI document differs from {} from line {}:\n  saved: {}\n  now:   {}\nif the change is intended, run UPDATE_SNAPSHOTS=1 cargo test openapi_document_matches_its_snapshot and review the file's diff",
            path.display(),
            line + 1,
            saved.lines().nth(line).unwrap_or("(end)"),
            now.lines().nth(line).unwrap_or("(end)"),
        );
    }
}

#[test]
fn real_server_reloads_on_sighup_under_load_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let zones = dir.path().join("zones.geojson");
    std::fs::copy(repo().join("geodata/portland-2017.geojson"), &zones).unwrap();
    let zones_arg = zones.to_str().unwrap().to_owned();
    let mut server = Server::start(&["--zones", &zones_arg]);
    let port = server.port;
    let version =
        |body: &str| serde_json::from_str::<Value>(body).unwrap()["zone_set"]["version"].as_str().unwrap().to_owned();
    let (status, body) = http_get(port, "/v1/eligibility?lon=-122.6793&lat=45.5189&at=2017-06-01");
    assert_eq!(status, 200, "{body}");
    let before = version(&body);

    // Change the file (a new name member gives a new version), then reload while requests run.
    let text = std::fs::read_to_string(&zones).unwrap().replacen("portland-lead-2017", "portland-lead-2017-edited", 1);
    std::fs::write(&zones, text).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let (status, body) = http_get(port, "/v1/eligibility?lon=-122.6793&lat=45.5189&at=2017-06-01");
                    assert_eq!(status, 200, "no request fails during a reload: {body}");
                    n += 1;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(100));
    server.signal("-HUP");
    let mut after = before.clone();
    // Up to 30 s: a debug build reloads in a few seconds, longer on a busy machine.
    for _ in 0..600 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        after = version(&http_get(port, "/v1/eligibility?lon=-122.6793&lat=45.5189&at=2017-06-01").1);
        if after != before {
            break;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let served: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(served > 4, "requests ran during the reload ({served})");
    assert_ne!(after, before, "SIGHUP swapped in the edited zones");

    server.signal("-TERM");
    let status = server.wait();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
}

#[test]
fn an_open_server_refuses_to_listen_beyond_loopback() {
    let out = Command::new(env!("CARGO_BIN_EXE_leadmap"))
        .args(["serve", "--addr", "0.0.0.0:0"])
        .env_remove("LEADMAP_TOKENS")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to serve 0.0.0.0:0 without API tokens"), "{err}");
}

#[tokio::test]
async fn seattle_rules_and_areas_screen_with_their_own_limit() {
    use leadmap::formats::zonefile::read_zone_file;
    if !crate::support::have_shared() {
        return;
    }
    let set = read_zone_file(
        &crate::support::shared("data/seattle/spd-mcpp-areas.geojson"),
        &crate::support::city_options("BELLTOWN=belltown:Belltown"),
    )
    .unwrap();
    let zones = ZoneCatalog::new(vec![set], IndexOptions::default());
    let rules = RuleCatalog::new(vec![leadmap::builtin::seattle_example_rules().unwrap()]).unwrap();
    let app = router(AppState::new(Loaded { zones, rules }, Tokens::default(), Limits::default()));
    let rules = get(&app, "/v1/rules").await.json();
    let all_false: serde_json::Map<String, Value> = rules["exclusions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_str().unwrap().to_owned(), json!(false)))
        .collect();
    let screening = |grams: f64, offense: &str| {
        json!({"lon": -122.3465, "lat": 47.6140, "referral_path": "arrest", "offense": offense,
               "substances": [{"substance": "cocaine", "grams": grams}], "facts": all_false, "at": "2012-06-01"})
    };
    let v = post_json(&app, "/v1/screenings", &screening(3.0, "delivery")).await.json();
    assert_eq!(v["decision"], "eligible", "3 g or less, sales included: {v:#}");
    assert_eq!(v["point"]["zone"]["id"], "belltown");
    let v = post_json(&app, "/v1/screenings", &screening(3.01, "possession")).await.json();
    assert_eq!(v["decision"], "ineligible", "more than 3 g");
}

const ANALYST: &str = "analyst-token-0123456789";
const INGEST: &str = "ingest-token-0123456789a";

async fn with_token(app: &axum::Router, method: &str, uri: &str, token: &str, body: Option<&Value>) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())));
    call(app, req.unwrap()).await
}

#[tokio::test]
async fn events_are_ingested_durably_and_read_back_by_analysts_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.gpkg");
    let tokens =
        Tokens::parse_env(&format!("app:field:{FIELD},an:analyst:{ANALYST},feed:ingest:{INGEST},ops:admin:{ADMIN}"))
            .unwrap();
    let app = router(builtin_with_store(tokens, &path));
    let event = |id: &str, lon: f64| {
        json!({"kind": "diversion_referral", "occurred_on": "2018-06-01", "occurred_at": "14:05", "lon": lon, "lat": 45.5189,
               "offense": "PCS", "race_ethnicity": "Black", "source": "ops", "external_id": id})
    };
    // One bad item: nothing is stored, every bad item is named.
    let mut bad = event("b", -122.6793);
    bad["lat"] = json!(200.0);
    let r =
        with_token(&app, "POST", "/v1/events", INGEST, Some(&json!([event("a", -122.6793), bad, {"kind": "arrest"}])))
            .await;
    r.problem(422, "none was stored");
    let errors: Vec<u64> =
        r.json()["errors"].as_array().unwrap().iter().map(|e| e["index"].as_u64().unwrap()).collect();
    assert_eq!(errors, [1, 2]);
    // Field tokens cannot ingest; ingest tokens cannot read.
    with_token(&app, "POST", "/v1/events", FIELD, Some(&event("a", -122.6793))).await.problem(403, "ingest or admin");
    with_token(&app, "GET", "/v1/events", INGEST, None).await.problem(403, "analyst");
    with_token(&app, "GET", "/v1/events", FIELD, None).await.problem(403, "analyst");
    // A batch, then the same batch again (a retry): nothing doubles.
    let batch = json!([event("a", -122.6793), event("b", -122.60)]);
    let r = with_token(&app, "POST", "/v1/events", INGEST, Some(&batch)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!((r.json()["inserted"].as_u64(), r.json()["unchanged"].as_u64()), (Some(2), Some(0)));
    let r = with_token(&app, "POST", "/v1/events", ADMIN, Some(&batch)).await;
    assert_eq!((r.json()["inserted"].as_u64(), r.json()["unchanged"].as_u64()), (Some(0), Some(2)));
    // A GeoJSON FeatureCollection, one of whose events changed.
    let fc = json!({"type": "FeatureCollection", "features": [{"type": "Feature",
        "geometry": {"type": "Point", "coordinates": [-122.6765, 45.5245]},
        "properties": {"kind": "social_contact_referral", "occurred_on": "2018-06-02", "offense": "PCS", "source": "ops", "external_id": "b"}}]});
    let r = with_token(&app, "POST", "/v1/events", INGEST, Some(&fc)).await;
    assert_eq!(r.json()["updated"].as_u64(), Some(1));
    // Counted: two new, the retry's two unchanged, one changed in place (and the store read again).
    let text = String::from_utf8(with_token(&app, "GET", "/metrics", ADMIN, None).await.body).unwrap();
    for line in [
        "leadmap_ingested_events_total{result=\"inserted\"} 2",
        "leadmap_ingested_events_total{result=\"updated\"} 1",
        "leadmap_ingested_events_total{result=\"unchanged\"} 2",
        "leadmap_http_requests_total{route=\"/v1/events\",method=\"POST\",status=\"422\"} 1",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
    assert!(!text.contains("leadmap_store_reads_total{result=\"ok\"} 0"), "{text}");
    // The store file itself holds them (committed before 201).
    let conn = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 2);
    // Reading back: GeoJSON with zones, filters, paging, CSV.
    let r = with_token(&app, "GET", "/v1/events", ANALYST, None).await;
    assert_eq!(r.content_type(), "application/geo+json");
    let fc = r.json();
    assert_eq!(fc["numberReturned"], 2);
    assert_eq!(fc["features"][0]["properties"]["zone"], "downtown");
    assert_eq!(fc["features"][0]["properties"]["race_ethnicity"], "black");
    assert_eq!(fc["features"][1]["properties"]["zone"], "old-town");
    let r = with_token(&app, "GET", "/v1/events?zone=old-town&kind=social_contact_referral", ANALYST, None).await;
    assert_eq!(r.json()["numberReturned"], 1);
    let r = with_token(&app, "GET", "/v1/events?limit=1", ANALYST, None).await;
    let next = r.json()["links"][0]["href"].as_str().unwrap().to_owned();
    let r = with_token(&app, "GET", &next, ANALYST, None).await;
    assert_eq!(r.json()["features"][0]["properties"]["external_id"], "b");
    let r = with_token(&app, "GET", "/v1/events?f=csv&bbox=-122.70,45.51,-122.67,45.52", ANALYST, None).await;
    assert!(r.content_type().starts_with("text/csv"));
    let text = String::from_utf8(r.body).unwrap();
    assert_eq!(text.lines().count(), 2, "header and the one event in the box: {text}");
    assert!(!text.contains("record_key"), "record keys are never shown");
    let r = with_token(&app, "GET", "/v1/events", ANALYST, None).await;
    assert!(!String::from_utf8_lossy(&r.body).contains("record_key"), "record keys are never shown");
    with_token(&app, "GET", "/v1/events?limit=0", ANALYST, None).await.problem(400, "limit");
    // Without a store the routes say how to get one.
    post_json(&open_app(), "/v1/events", &event("z", -122.6)).await.problem(503, "--data");
}

async fn post_with_key(app: &axum::Router, token: &str, key: &str, body: &Value) -> Reply {
    let req = Request::post("/v1/events")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", key)
        .body(Body::from(body.to_string()));
    call(app, req.unwrap()).await
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_across_restarts_and_refuses_another_body() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.gpkg");
    let app = || {
        let tokens = Tokens::parse_env(&format!("feed:ingest:{INGEST},ops:admin:{ADMIN}")).unwrap();
        router(builtin_with_store(tokens, &path))
    };
    let event = |id: &str| {
        json!({"kind": "arrest", "occurred_on": "2019-03-04", "lon": -122.6793, "lat": 45.5189, "offense": "PCS",
               "source": "feed", "external_id": id})
    };
    let batch = json!([event("k-1"), event("k-2")]);
    let first = app();
    let r = post_with_key(&first, INGEST, "3f2a-0001", &batch).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(r.headers.get("idempotent-replayed").is_none());
    let answer = r.json();
    assert_eq!(answer["inserted"], 2);
    // The retry gets the first answer (inserted 2, not unchanged 2), marked as a replay.
    let r = post_with_key(&first, INGEST, "3f2a-0001", &batch).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.headers.get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!(r.json(), answer);
    // The same key with other events is refused, and nothing of them is stored.
    post_with_key(&first, INGEST, "3f2a-0001", &json!([event("k-3")])).await.problem(422, "different request");
    // Keys belong to their client: the admin's "3f2a-0001" is another key.
    let r = post_with_key(&first, ADMIN, "3f2a-0001", &batch).await;
    assert_eq!((r.status, r.json()["unchanged"].as_u64()), (StatusCode::CREATED, Some(2)));
    assert!(r.headers.get("idempotent-replayed").is_none());
    // Malformed keys are refused before anything is stored.
    for bad in ["", "with space", &"x".repeat(256)] {
        post_with_key(&first, INGEST, bad, &json!([event("k-9")])).await.problem(400, "Idempotency-Key");
    }
    // Concurrent requests with one new key: one is stored, the others replay it.
    let twins = json!([event("k-4")]);
    let replies = futures_join_all(
        (0..8)
            .map(|_| {
                let (app, twins) = (first.clone(), twins.clone());
                async move { post_with_key(&app, INGEST, "\"3f2a-0002\"", &twins).await }
            })
            .collect(),
    )
    .await;
    assert!(replies.iter().all(|r| r.status == StatusCode::CREATED && r.json()["inserted"] == 1));
    assert_eq!(replies.iter().filter(|r| r.headers.get("idempotent-replayed").is_none()).count(), 1);
    drop(first);
    // The keys are in the store file: a restarted service still replays.
    let second = app();
    let r = post_with_key(&second, INGEST, "3f2a-0001", &batch).await;
    assert_eq!(r.headers.get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!(r.json(), answer);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let ids: Vec<String> = conn
        .prepare("SELECT external_id FROM events ORDER BY 1")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids, ["k-1", "k-2", "k-4"]);
}

/// Awaits every future, concurrently, in order.
async fn futures_join_all<F: std::future::Future<Output = Reply> + Send + 'static>(futures: Vec<F>) -> Vec<Reply> {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// One POST over a fresh connection; the status, or `None` when the connection failed or was cut.
#[test]
fn kill_9_under_ingest_load_loses_no_acknowledged_event_and_leaves_no_partial_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.gpkg");
    let mut server = Server::start(&["--data", path.to_str().unwrap()]);
    let port = server.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Two clients post 100-event batches back to back and remember which batches got 201.
    let clients: Vec<_> = (0..2)
        .map(|c| {
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                for b in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let batch: Vec<Value> = (0..100)
                        .map(|i| {
                            json!({"kind": "arrest", "occurred_on": "2018-06-01", "lon": -122.6793 + f64::from(i) * 1e-5,
                                   "lat": 45.5189, "offense": "PCS", "source": format!("c{c}"), "external_id": format!("b{b}-{i}")})
                        })
                        .collect();
                    match http_post(port, "/v1/events", &Value::Array(batch).to_string()) {
                        Some(201) => acked.push(format!("b{b}")),
                        Some(other) => panic!("unexpected status {other}"),
                        None => break, // the server is gone
                    }
                }
                (c, acked)
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    server.signal("-9");
    server.wait();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked: Vec<(i32, Vec<String>)> = clients.into_iter().map(|h| h.join().unwrap()).collect();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut per_batch: std::collections::HashMap<(String, String), i64> = std::collections::HashMap::new();
    let mut stmt = conn.prepare("SELECT source, external_id FROM events").unwrap();
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).unwrap() {
        let (source, id) = row.unwrap();
        let batch = id.split('-').next().unwrap().to_owned();
        *per_batch.entry((source, batch)).or_insert(0) += 1;
    }
    assert!(per_batch.values().all(|&n| n == 100), "no partial batch: {per_batch:?}");
    let mut total_acked = 0;
    for (c, batches) in &acked {
        for b in batches {
            assert_eq!(
                per_batch.get(&(format!("c{c}"), b.clone())),
                Some(&100),
                "acknowledged batch {b} of client {c} is stored"
            );
            total_acked += 1;
        }
    }
    assert!(total_acked >= 4, "the clients got batches in before the kill ({total_acked})");
}

#[test]
fn demo_mode_serves_the_labelled_synthetic_events() {
    let mut server = Server::start(&["--demo"]);
    let port = server.port;
    let (status, body) = http_get(port, "/v1/events?limit=10000&zone=old-town");
    assert_eq!(status, 200, "{body}");
    let fc: Value = serde_json::from_str(&body).unwrap();
    let features = fc["features"].as_array().unwrap();
    assert!(features.len() > 500, "Old Town holds a cluster ({})", features.len());
    assert!(features.iter().all(|f| f["properties"]["source"] == "synthetic-demo"));
    let kinds: std::collections::BTreeSet<&str> =
        features.iter().map(|f| f["properties"]["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 3, "every kind appears: {kinds:?}");
    server.signal("-TERM");
    assert!(server.wait().success(), "graceful shutdown exits 0");
}

/// Every module the map page imports, from `map.js` down, is served from the binary as JavaScript and
/// preloaded by the page (a module missing from the binary's file list, or from the page's preloads,
/// would break the page or make its first render wait on a chain of requests).
#[tokio::test]
async fn every_module_the_map_page_imports_is_served_and_preloaded() {
    let app = open_app();
    let html = String::from_utf8(get(&app, "/").await.body).unwrap();
    let attr_values = |text: &str, before: &str| -> Vec<String> {
        text.split(before).skip(1).map(|rest| rest[..rest.find('"').unwrap()].to_owned()).collect()
    };
    let preloaded: std::collections::BTreeSet<String> =
        attr_values(&html, "<link rel=\"modulepreload\" href=\"").into_iter().collect();
    assert_eq!(attr_values(&html, "<script type=\"module\" src=\""), ["/map/map.js"]);
    let mut seen = std::collections::BTreeSet::new();
    let mut queue = vec!["/map/map.js".to_owned()];
    while let Some(path) = queue.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let module = get(&app, &path).await;
        assert_eq!(module.status, StatusCode::OK, "{path}");
        assert_eq!(module.content_type(), "text/javascript; charset=utf-8", "{path}");
        if path.starts_with("/map/vendor/") {
            continue; // MapLibre's own bundle: its imports are its business
        }
        // Static imports only (`from '...'`); the page's dynamic imports are of vendor files.
        let text = String::from_utf8(module.body).unwrap();
        for rest in text.split(" from '").skip(1) {
            let target = &rest[..rest.find('\'').unwrap()];
            let resolved = match target.strip_prefix("./") {
                Some(name) => format!("/map/{name}"),
                None => target.to_owned(),
            };
            assert!(resolved.starts_with("/map/"), "{path} imports {target}, not from the binary");
            queue.push(resolved);
        }
    }
    let page_modules: Vec<&String> = seen.iter().filter(|p| *p != "/map/map.js").collect();
    assert!(page_modules.len() >= 9, "{seen:?}");
    for module in page_modules {
        assert!(preloaded.contains(module), "{module} is imported but not preloaded by the page");
    }
    for link in &preloaded {
        assert!(seen.contains(link) || link.starts_with("/map/vendor/"), "{link} is preloaded but nothing imports it");
    }
}

/// README: `LEADMAP_WEB_DIR=src/http/web leadmap serve --demo` reads the page's files from the checkout on
/// every request (no rebuild). A real server over a copy of the page's folder: an edit shows at once,
/// and everything the page loads first answers (the empty context is the binary's, not a file).
#[test]
fn the_page_is_read_from_a_checkout_on_every_request_with_leadmap_web_dir() {
    fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let checkout = tempfile::tempdir().unwrap();
    let web = checkout.path().join("src/http/web");
    copy_dir(&repo().join("src/http/web"), &web);
    copy_dir(&repo().join("geodata/landmarks"), &checkout.path().join("geodata/landmarks"));
    // Stopped when dropped, also when an assertion fails.
    let server = Server::start_with(&["--demo"], &[("LEADMAP_WEB_DIR", web.to_str().unwrap())]);
    let port = server.port;
    let (status, html) = http_get(port, "/");
    assert_eq!(status, 200);
    let mut loads: Vec<String> = html
        .split("href=\"")
        .chain(html.split("src=\""))
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .filter(|p| p.starts_with("/map/"))
        .collect();
    loads.extend(["/map/config.json", "/map/landmarks.geojson", "/map/context.geojson"].map(str::to_owned));
    assert!(loads.len() > 10, "{loads:?}");
    for path in &loads {
        assert_eq!(http_get(port, path).0, 200, "{path}");
    }
    let (_, context) = http_get(port, "/map/context.geojson");
    assert_eq!(serde_json::from_str::<Value>(&context).unwrap()["type"], "FeatureCollection");
    // An edit to the checkout is what the next request gets.
    let map_js = web.join("map.js");
    let edited = format!("{}\n// edited in the checkout\n", std::fs::read_to_string(&map_js).unwrap());
    std::fs::write(&map_js, &edited).unwrap();
    assert_eq!(http_get(port, "/map/map.js"), (200, edited));
}

#[tokio::test]
async fn the_map_page_is_public_and_its_data_routes_say_what_each_role_may_ask() {
    let app = secured_app();
    let page = get(&app, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.content_type(), "text/html; charset=utf-8");
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("/map/map.js") && html.contains("/map/vendor/maplibre-gl/maplibre-gl.css"));
    // MapLibre and its licence come from the binary; revalidation is a 304; gzip for those who ask.
    let js = get(&app, "/map/vendor/maplibre-gl/maplibre-gl.mjs").await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(js.content_type(), "text/javascript; charset=utf-8");
    assert!(js.body.len() > 500_000);
    let etag = js.headers[header::ETAG].clone();
    let again = Request::get("/map/vendor/maplibre-gl/maplibre-gl.mjs").header(header::IF_NONE_MATCH, etag);
    assert_eq!(call(&app, again.body(Body::empty()).unwrap()).await.status, StatusCode::NOT_MODIFIED);
    let zipped = Request::get("/map/map.js").header(header::ACCEPT_ENCODING, "gzip, deflate, br");
    let zipped = call(&app, zipped.body(Body::empty()).unwrap()).await;
    assert_eq!(zipped.headers[header::CONTENT_ENCODING], "gzip");
    let licence = String::from_utf8(get(&app, "/map/vendor/maplibre-gl/LICENSE.txt").await.body).unwrap();
    assert!(licence.contains("MapLibre contributors"));
    get(&app, "/map/nothing.js").await.problem(404, "no file /map/nothing.js");
    let config = get(&app, "/map/config.json").await.json();
    assert_eq!(config["auth"], true);
    assert_eq!(config["basemap"], Value::Null);
    let landmarks = get(&app, "/map/landmarks.geojson").await.json();
    assert!(landmarks["features"].as_array().unwrap().len() >= 5);

    // What the page asks first: the caller's role and what it may filter by.
    let with = |token: &str| {
        Request::get("/v1/me").header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).unwrap()
    };
    get(&app, "/v1/me").await.problem(401, "needs an API token");
    call(&app, with(FIELD)).await.problem(403, "the token has the field role");
    let planner = call(&app, with(PLANNER)).await.json();
    assert_eq!(planner["role"], "planner");
    assert_eq!((&planner["perturbed"]["zero_up_to"], &planner["perturbed"]["max_noise"]), (&json!(10), &json!(2)));
    assert_eq!(planner["fixed_periods"], true);
    assert!(planner["filters"].as_array().unwrap().iter().any(|f| f == "period"));
    assert_eq!(planner["max_res"], 9);
    assert!(!planner["filters"].as_array().unwrap().iter().any(|f| f == "group"));
    let admin = call(&app, with(ADMIN)).await.json();
    assert_eq!((&admin["perturbed"], &admin["fixed_periods"]), (&Value::Null, &json!(false)));
    assert_eq!(admin["max_res"], 12);
    assert!(admin["filters"].as_array().unwrap().iter().any(|f| f == "group"));
}

#[test]
fn serve_checks_the_base_map_and_landmarks_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_leadmap"))
        .args(["serve", "--addr", "127.0.0.1:0", "--basemap", "tiles.example.org/{z}/{x}/{y}.png"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--basemap \"tiles.example.org/{z}/{x}/{y}.png\": give an http(s) tile URL template")
    );
    let marks = dir.path().join("marks.geojson");
    std::fs::write(&marks, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"label":"x"},"geometry":{"type":"Point","coordinates":[-122.6,45.5]}}]}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_leadmap"))
        .args(["serve", "--addr", "127.0.0.1:0", "--landmarks", marks.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("marks.geojson: feature 0: each landmark is a Point"));
}

#[test]
fn context_areas_are_served_with_label_points_inside_them_and_bad_files_are_refused() {
    use geo::{Contains, Point};
    if !crate::support::have_shared() {
        return;
    }
    let file = crate::support::shared("data/portland/neighborhoods-regions-2021.geojson");
    let server =
        crate::support::Server::start(&["--demo", "--context", file.to_str().unwrap(), "--context-name", "MAPLABEL"]);
    let (status, fc) = server.get("/map/context.geojson");
    assert_eq!(status, 200);
    let features = fc["features"].as_array().unwrap();
    assert_eq!(features.len(), 98, "every neighbourhood, overlapping ones too");
    let read = |f: &Value| -> geo::MultiPolygon<f64> {
        let ring = |r: &Value| -> geo::LineString<f64> {
            r.as_array().unwrap().iter().map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap())).collect()
        };
        let polygon = |p: &Value| {
            let rings = p.as_array().unwrap();
            geo::Polygon::new(ring(&rings[0]), rings[1..].iter().map(ring).collect())
        };
        let g = &f["geometry"];
        match g["type"].as_str().unwrap() {
            "Polygon" => geo::MultiPolygon(vec![polygon(&g["coordinates"])]),
            _ => geo::MultiPolygon(g["coordinates"].as_array().unwrap().iter().map(polygon).collect()),
        }
    };
    for f in features.iter().chain(server.get("/v1/zones?at=2019-01-01").1["features"].as_array().unwrap()) {
        let p = f["properties"]["label_point"].as_array().unwrap_or_else(|| panic!("{}", f["properties"]));
        let (lon, lat) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
        assert!(read(f).contains(&Point::new(lon, lat)), "{}: ({lon}, {lat}) inside", f["properties"]["name"]);
    }
    assert!(features.iter().any(|f| f["properties"]["name"] == "Goose Hollow Foothills League"));
    // Without --context: an empty collection.
    let plain = crate::support::Server::start(&["--demo"]);
    assert_eq!(plain.get("/map/context.geojson").1["features"], json!([]));

    // A wrong name field: refused before listening, naming the feature and the properties it has.
    let out = Command::new(env!("CARGO_BIN_EXE_leadmap"))
        .args(["serve", "--addr", "127.0.0.1:0", "--context", file.to_str().unwrap(), "--context-name", "LABEL"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("--context: ") && err.contains("feature 1") && err.contains("MAPLABEL"), "{err}");
}

#[test]
fn a_base_map_archive_replaced_under_the_service_is_served_and_tagged_as_it_is_now() {
    let (bytes, _) = tiny_archive();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("base.pmtiles");
    std::fs::write(&file, &bytes).unwrap();
    let server = crate::support::Server::start(&["--demo", "--basemap", file.to_str().unwrap()]);
    // Replaced (a new extract): served and tagged as it is now;
    // a reader holding the old tag gets the whole new file, one holding the new tag its range.
    let old_tag = head_value(&get_bytes(server.port, "/map/basemap.pmtiles", "").1, "etag");
    let mut newer = bytes.clone();
    newer.extend_from_slice(&[9; 50]);
    std::fs::write(&file, &newer).unwrap();
    let (status, head, body) =
        get_bytes(server.port, "/map/basemap.pmtiles", &format!("Range: bytes=0-9\r\nIf-Range: {old_tag}\r\n"));
    assert_eq!((status, body), (200, newer.clone()), "{head}");
    let new_tag = head_value(&head, "etag");
    assert_ne!(new_tag, old_tag);
    let (status, head, body) =
        get_bytes(server.port, "/map/basemap.pmtiles", &format!("Range: bytes=-50\r\nIf-Range: {new_tag}\r\n"));
    assert_eq!((status, body), (206, vec![9; 50]), "{head}");
    assert!(head.contains(&format!("/{}", newer.len())), "{head}");
}

/// A header's value in a head from [`get_bytes`] (lower case).
fn head_value(head: &str, name: &str) -> String {
    head.lines().find_map(|l| l.strip_prefix(&format!("{name}: "))).unwrap_or_default().to_owned()
}

/// `GET path` with these extra header lines on a fresh connection: status, head (lower case), body bytes.
fn get_bytes(port: u16, path: &str, headers: &str) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n").unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&all[..split]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap();
    (status, head, all[split + 4..].to_vec())
}

/// A PMTiles v3 archive: header (raster PNG, zooms 0 to 2, Portland's bounds), a 3-byte root
/// directory, metadata crediting OpenStreetMap, and 200 bytes of "tile data"; and where the data start.
fn tiny_archive() -> (Vec<u8>, u64) {
    let meta = br#"{"attribution":"<a href=\"https://www.openstreetmap.org/copyright\">&copy; OpenStreetMap contributors</a>"}"#;
    let mut bytes = vec![0u8; 127];
    bytes[..8].copy_from_slice(b"PMTiles\x03");
    let (root, data) = (127u64, 130 + meta.len() as u64);
    for (at, v) in [(8, root), (16, 3), (24, 130), (32, meta.len() as u64), (56, data), (64, 200)] {
        bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
    bytes[97] = 1; // no internal compression
    bytes[99] = 2; // PNG
    bytes[101] = 2;
    for (at, deg) in [(102, -122.8f64), (106, 45.4), (110, -122.5), (114, 45.7)] {
        bytes[at..at + 4].copy_from_slice(&((deg * 1e7).round() as i32).to_le_bytes());
    }
    bytes.extend_from_slice(&[1, 0, 1]);
    bytes.extend_from_slice(meta);
    bytes.extend((0..200u8).map(|i| i.wrapping_mul(7)));
    (bytes, data)
}

#[test]
fn a_pmtiles_base_map_is_served_by_byte_ranges_and_a_damaged_one_is_refused() {
    let (bytes, data) = tiny_archive();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("base.pmtiles");
    std::fs::write(&file, &bytes).unwrap();
    let len = bytes.len();

    let server = crate::support::Server::start(&["--demo", "--basemap", file.to_str().unwrap()]);
    let (status, config) = server.get("/map/config.json");
    assert_eq!(status, 200);
    assert_eq!(config["basemap"], Value::Null);
    let archive = &config["basemap_archive"];
    assert_eq!(
        (archive["url"].as_str(), archive["type"].as_str(), archive["format"].as_str()),
        (Some("/map/basemap.pmtiles"), Some("raster"), Some("png"))
    );
    assert_eq!((archive["minzoom"].as_u64(), archive["maxzoom"].as_u64()), (Some(0), Some(2)));
    assert!((archive["bounds"][0].as_f64().unwrap() + 122.8).abs() < 1e-7);
    assert_eq!(config["basemap_attribution"], "© OpenStreetMap contributors", "the archive's credit, as text");

    // The header, as pmtiles.js asks for it; a middle range; the last bytes; the whole file.
    let (status, head, body) = get_bytes(server.port, "/map/basemap.pmtiles", "Range: bytes=0-16383\r\n");
    assert_eq!(status, 206, "{head}");
    assert!(head.contains(&format!("content-range: bytes 0-{}/{len}", len - 1)), "clamped to the file: {head}");
    assert!(head.contains("accept-ranges: bytes") && head.contains("etag: "), "{head}");
    assert_eq!(body, bytes);
    let (status, head, body) =
        get_bytes(server.port, "/map/basemap.pmtiles", &format!("Range: bytes={data}-{}\r\n", data + 9));
    assert_eq!(status, 206);
    assert!(head.contains(&format!("content-range: bytes {data}-{}/{len}", data + 9)), "{head}");
    assert_eq!(body, bytes[data as usize..data as usize + 10]);
    assert_eq!(get_bytes(server.port, "/map/basemap.pmtiles", "Range: bytes=-5\r\n").2, bytes[len - 5..]);
    let (status, head, body) = get_bytes(server.port, "/map/basemap.pmtiles", "");
    assert_eq!((status, body.len()), (200, len), "{head}");
    // Beyond the end: 416 with the length; another version of the file (If-Range): the whole file.
    let (status, head, _) = get_bytes(server.port, "/map/basemap.pmtiles", &format!("Range: bytes={len}-\r\n"));
    assert_eq!(status, 416);
    assert!(
        head.contains(&format!("content-range: bytes */{len}")) && head.contains("application/problem+json"),
        "{head}"
    );
    let (status, _, body) = get_bytes(server.port, "/map/basemap.pmtiles", "Range: bytes=0-9\r\nIf-Range: \"old\"\r\n");
    assert_eq!((status, body.len()), (200, len));
    // The scripts that read it, with their licences.
    for path in [
        "/map/vendor/pmtiles/pmtiles.js",
        "/map/vendor/pmtiles/LICENSE.txt",
        "/map/vendor/pmtiles/LICENSE-fflate.txt",
        "/map/vendor/protomaps-basemaps/basemaps.js",
        "/map/vendor/protomaps-basemaps/LICENSE.txt",
    ] {
        assert_eq!(get_bytes(server.port, path, "").0, 200, "{path}");
    }
    // --basemap-attribution wins; without an archive the route is a 404 problem.
    let credited = crate::support::Server::start(&[
        "--demo",
        "--basemap",
        file.to_str().unwrap(),
        "--basemap-attribution",
        "Tiles: Multnomah County GIS",
    ]);
    assert_eq!(credited.get("/map/config.json").1["basemap_attribution"], "Tiles: Multnomah County GIS");
    let plain = crate::support::Server::start(&["--demo"]);
    assert_eq!(plain.get("/map/basemap.pmtiles").0, 404);
    assert_eq!(plain.get("/map/config.json").1["basemap_archive"], Value::Null);

    // A partial copy, a file that is not an archive, a missing file: refused before listening, naming it.
    std::fs::write(dir.path().join("partial.pmtiles"), &bytes[..140]).unwrap();
    std::fs::write(dir.path().join("page.pmtiles"), b"<html>404 Not Found</html>").unwrap();
    for (name, says) in [
        ("partial.pmtiles", "beyond the end of the file"),
        ("page.pmtiles", "not a PMTiles archive"),
        ("missing.pmtiles", "No such file"),
    ] {
        let path = dir.path().join(name);
        let out = Command::new(env!("CARGO_BIN_EXE_leadmap"))
            .args(["serve", "--demo", "--addr", "127.0.0.1:0", "--basemap", path.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains(&format!("--basemap {}: ", path.display())) && err.contains(says), "{name}: {err}");
    }
}

#[test]
fn label_glyphs_are_served_from_the_binary_for_any_font_stack() {
    let server = crate::support::Server::start(&["--demo"]);
    let glyphs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/web/glyphs");
    // The Protomaps style's three stacks, and a stack of another style, map to the three faces.
    for (stack, face) in [
        ("Noto%20Sans%20Regular", "regular"),
        ("Noto%20Sans%20Medium", "bold"),
        ("Noto%20Sans%20Italic", "italic"),
        ("Open%20Sans%20Bold,Arial%20Unicode%20MS%20Regular", "bold"),
    ] {
        for range in ["0-255", "8192-8447"] {
            let (status, head, body) = get_bytes(server.port, &format!("/map/glyphs/{stack}/{range}.pbf"), "");
            assert_eq!(status, 200, "{stack} {range}: {head}");
            assert!(head.contains("content-type: application/x-protobuf") && head.contains("etag: "), "{head}");
            assert_eq!(body, std::fs::read(glyphs.join(face).join(format!("{range}.pbf"))).unwrap(), "{stack} {range}");
        }
    }
    // Gzipped for browsers; a range no face has is a stack with no glyphs, not an error.
    let (status, head, _) =
        get_bytes(server.port, "/map/glyphs/Noto%20Sans%20Regular/0-255.pbf", "Accept-Encoding: gzip\r\n");
    assert!(status == 200 && head.contains("content-encoding: gzip"), "{head}");
    let (status, _, body) = get_bytes(server.port, "/map/glyphs/Noto%20Sans%20Regular/19968-20223.pbf", "");
    assert_eq!(status, 200);
    assert!(body.len() < 64 && body.windows(11).any(|w| w == b"19968-20223"), "{body:?}");
    // Not a range: a 404 problem naming the form; the font's licence is served beside the glyphs.
    for bad in ["0-511.pbf", "1-256.pbf", "0-255.png", "65536-65791.pbf"] {
        let (status, head, body) = get_bytes(server.port, &format!("/map/glyphs/Noto%20Sans%20Regular/{bad}"), "");
        assert_eq!(status, 404, "{bad}");
        assert!(
            head.contains("application/problem+json") && String::from_utf8_lossy(&body).contains("N-M.pbf"),
            "{bad}"
        );
    }
    let (status, _, body) = get_bytes(server.port, "/map/glyphs/LICENSE.txt", "");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("Bitstream Vera"));
}

/// A real store file whose whole-store read waits until the test lets it go on: the service is
/// caught while it reads its events at start.
#[derive(Debug)]
struct GatedStore {
    inner: leadmap::store::gpkg::GpkgStore,
    gate: std::sync::Mutex<Option<std::sync::mpsc::Receiver<()>>>,
}

struct GatedSnapshot {
    inner: Box<dyn leadmap::store::StoreSnapshot>,
    gate: Option<std::sync::mpsc::Receiver<()>>,
}

impl leadmap::store::StoreSnapshot for GatedSnapshot {
    fn into_parts(self: Box<Self>) -> Vec<Box<dyn leadmap::store::StoreSnapshot>> {
        vec![self]
    }

    fn count(&self) -> u64 {
        self.inner.count()
    }
    fn scan(
        &mut self,
        f: &mut dyn FnMut(&leadmap::cells::columns::ColumnRow<'_>),
    ) -> Result<u64, leadmap::store::StoreError> {
        if let Some(gate) = self.gate.take() {
            let _ = gate.recv();
        }
        self.inner.scan(f)
    }
}

mod gated_store {
    use super::{GatedSnapshot, GatedStore};
    use leadmap::events::Placed;
    use leadmap::store::*;
    use std::collections::BTreeMap;

    impl EventStore for GatedStore {
        fn upsert(&mut self, batch: &[Placed]) -> Result<BatchOutcome, StoreError> {
            self.inner.upsert(batch)
        }
        fn commit_group(&mut self, group: &[Submission]) -> Result<Vec<Result<Receipt, StoreError>>, StoreError> {
            self.inner.commit_group(group)
        }
        fn begin_import(&mut self, file: &str, source: &str) -> Result<LoadId, StoreError> {
            self.inner.begin_import(file, source)
        }
        fn import_batch(
            &mut self,
            run: LoadId,
            batch: &[ImportRow],
        ) -> Result<(BatchOutcome, Vec<Repeat>), StoreError> {
            self.inner.import_batch(run, batch)
        }
        fn finish_import(&mut self, run: LoadId, outcome: &BatchOutcome, rejected: u64) -> Result<(), StoreError> {
            self.inner.finish_import(run, outcome, rejected)
        }
        fn count(&self) -> Result<u64, StoreError> {
            self.inner.count()
        }
        fn query(&self, q: &EventQuery) -> Result<Vec<(i64, Placed)>, StoreError> {
            self.inner.query(q)
        }
        fn count_by_zone(&self) -> Result<BTreeMap<Option<String>, u64>, StoreError> {
            self.inner.count_by_zone()
        }
        fn scan(&self, f: &mut dyn FnMut(&leadmap::cells::columns::ColumnRow<'_>)) -> Result<u64, StoreError> {
            self.inner.scan(f)
        }
        fn read_snapshot(&self) -> Result<Option<Box<dyn StoreSnapshot>>, StoreError> {
            let gate = self.gate.lock().unwrap().take();
            Ok(self
                .inner
                .read_snapshot()?
                .map(|inner| Box::new(GatedSnapshot { inner, gate }) as Box<dyn StoreSnapshot>))
        }
        fn put_proposal(&mut self, p: &ProposalRecord) -> Result<(), StoreError> {
            self.inner.put_proposal(p)
        }
        fn proposals(&self) -> Result<Vec<ProposalRecord>, StoreError> {
            self.inner.proposals()
        }
        fn proposal(&self, id: &str) -> Result<Option<ProposalRecord>, StoreError> {
            self.inner.proposal(id)
        }
        fn delete_proposal(&mut self, id: &str) -> Result<bool, StoreError> {
            self.inner.delete_proposal(id)
        }
        fn audit(&mut self, row: &AuditRecord) -> Result<(), StoreError> {
            self.inner.audit(row)
        }
        fn audit_log(&self) -> Result<Vec<(String, AuditRecord)>, StoreError> {
            self.inner.audit_log()
        }
        fn delete_events(&mut self, selector: &Removal, who: &str) -> Result<u64, StoreError> {
            self.inner.delete_events(selector, who)
        }
        fn count_removal(&self, selector: &Removal) -> Result<u64, StoreError> {
            self.inner.count_removal(selector)
        }
        fn deletions(&self) -> Result<Vec<DeletionRecord>, StoreError> {
            self.inner.deletions()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eligibility_and_ingest_answer_while_the_stored_events_are_read_and_figures_say_how_far_it_is() {
    use leadmap::store::EventStore;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.gpkg");
    let zones = ZoneCatalog::new(leadmap::builtin::zone_sets().unwrap(), IndexOptions::default());
    let event = |i: usize, lon: f64| leadmap::events::Event {
        kind: leadmap::events::EventKind::Arrest,
        occurred_on: "2019-06-01".parse().unwrap(),
        occurred_at: None,
        point: leadmap::coord::LonLat::new(lon, 45.5189).unwrap(),
        offense: leadmap::events::Offense::parse("PCS"),
        race_ethnicity: None,
        agency: None,
        source: "t".into(),
        external_id: format!("e{i}"),
    };
    let mut store = leadmap::store::gpkg::GpkgStore::open(&path).unwrap();
    let stored: Vec<_> = (0..30).map(|i| leadmap::events::place(event(i, -122.6793), &zones)).collect();
    store.upsert(&stored).unwrap();
    let (open_gate, gate) = std::sync::mpsc::channel();
    let store = GatedStore { inner: store, gate: std::sync::Mutex::new(Some(gate)) };
    let tokens = Tokens::parse_env(&format!("app:field:{FIELD},ops:admin:{ADMIN}")).unwrap();
    let rules = RuleCatalog::new(leadmap::builtin::rule_sets().unwrap()).unwrap();
    let state =
        AppState::with_store(Loaded { zones, rules }, tokens, Limits::default(), Some(Box::new(store))).unwrap();
    let app = router(state.clone());

    // The read has begun and waits: eligibility answers, readiness says how far the events are,
    // figures answer 503 with Retry-After and the count.
    let r = with_token(&app, "GET", "/v1/eligibility?lon=-122.6793&lat=45.5189&at=2019-06-01", FIELD, None).await;
    assert_eq!(r.status, StatusCode::OK);
    // (The read's thread counts the store first: until then the total is 0.)
    let mut r = with_token(&app, "GET", "/readyz", ADMIN, None).await;
    for _ in 0..500 {
        if r.json()["events"]["total"] == 30 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        r = with_token(&app, "GET", "/readyz", ADMIN, None).await;
    }
    assert_eq!((r.json()["status"].as_str(), r.json()["store"].as_str()), (Some("ready"), Some("open")));
    assert_eq!(r.json()["events"], json!({"state": "loading", "read": 0, "total": 30}));
    let r = with_token(&app, "GET", "/v1/cells?res=9", ADMIN, None).await;
    r.problem(503, "loading events (0 of 30)");
    assert_eq!(r.headers.get(header::RETRY_AFTER).unwrap(), "2");
    // Ingest does not wait for the read: five new events and one stored one changed in place.
    let body = json!(
        (100..105)
            .map(|i| json!({"kind": "arrest", "occurred_on": "2019-06-02", "lon": -122.6793, "lat": 45.5189,
        "offense": "PCS", "source": "t", "external_id": format!("e{i}")}))
            .collect::<Vec<_>>()
    );
    let r = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        with_token(&app, "POST", "/v1/events", ADMIN, Some(&body)),
    )
    .await
    .expect("ingest answered while the store is read");
    assert_eq!((r.status, r.json()["inserted"].as_u64()), (StatusCode::CREATED, Some(5)));

    // The read goes on: every event once, the thirty read and the five ingested meanwhile.
    open_gate.send(()).unwrap();
    let state2 = state.clone();
    assert_eq!(
        tokio::task::spawn_blocking(move || state2.events().wait_until_read()).await.unwrap(),
        leadmap::events::live::ColumnsState::Ready
    );
    let r = with_token(&app, "GET", "/readyz", ADMIN, None).await;
    assert_eq!(r.json()["events"], json!({"state": "ready"}));
    let r = with_token(&app, "GET", "/v1/cells?res=9&f=csv", ADMIN, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    let text = String::from_utf8(r.body).unwrap();
    let total: u64 = text.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(total, 35, "{text}");
}

/// The events of `/v1/cells?res=9` (open service: exact counts).
fn cells_total(port: u16) -> (u16, u64) {
    let (status, text) = http_get(port, "/v1/cells?res=9&f=csv");
    let total = if status == 200 {
        text.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse::<u64>().unwrap()).sum()
    } else {
        0
    };
    (status, total)
}

#[test]
fn an_import_into_the_store_a_service_serves_shows_in_its_figures_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("events.gpkg");
    let demo = std::fs::read_to_string(repo().join("geodata/demo/events.csv")).unwrap();
    let (header, rows) = demo.split_once('\n').unwrap();
    let rows: Vec<&str> = rows.lines().collect();
    let (first, second) = rows.split_at(rows.len() / 2);
    let import = |name: &str, part: &[&str]| {
        let file = dir.path().join(name);
        std::fs::write(&file, format!("{header}\n{}\n", part.join("\n"))).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_leadmap"))
            .args(["import", file.to_str().unwrap(), "--source", "demo", "--data", store.to_str().unwrap(), "-q"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    import("first.csv", first);
    let server = crate::support::Server::start(&["--data", store.to_str().unwrap()]);
    let wait_for = |want: u64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let (status, total) = cells_total(server.port);
            if (status == 200 && total == want) || std::time::Instant::now() > deadline {
                return (status, total);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let before = wait_for(first.len() as u64);
    assert_eq!(before, (200, first.len() as u64));
    // Another process imports into the store being served: the figures follow within seconds.
    import("second.csv", second);
    assert_eq!(wait_for(rows.len() as u64), (200, rows.len() as u64));
    assert!(server.log_with("written by another process").contains("written by another process"));
}

#[test]
fn every_request_is_logged_with_its_id_and_who_asked_and_a_failure_tells_the_client_only_the_id() {
    let (bytes, _) = tiny_archive();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("base.pmtiles");
    std::fs::write(&archive, &bytes).unwrap();
    let tokens = format!("county-gis:field:{FIELD},planning:planner:{PLANNER}");
    let server =
        Server::start_with(&["--demo", "--basemap", archive.to_str().unwrap()], &[("LEADMAP_TOKENS", tokens.as_str())]);
    let get = |path: &str, token: &str| get_bytes(server.port, path, &format!("Authorization: Bearer {token}\r\n"));
    // An eligibility question: logged with its id and the token's name, never its location or the token.
    let (status, head, _) = get("/v1/eligibility?lon=-122.6793&lat=45.5189", FIELD);
    assert_eq!(status, 200);
    let id = head_value(&head, "x-request-id");
    assert_eq!(id.len(), 16, "{head}");
    let log = server.log_with(&id);
    let line = log.lines().find(|l| l.contains(&id)).unwrap_or_else(|| panic!("no line for {id}: {log}"));
    assert!(
        line.contains("who=\"county-gis\"") && line.contains("route=\"/v1/eligibility\"") && !line.contains("query="),
        "{line}"
    );
    assert!(!line.contains("45.5189") && !line.contains(FIELD), "{line}");
    // A figure question: its filters are logged.
    let (status, head, _) = get("/v1/cells?res=8&kind=arrest&from=2019-01-01&to=2019-12-31", PLANNER);
    assert_eq!(status, 200);
    let id = head_value(&head, "x-request-id");
    let log = server.log_with(&id);
    let line = log.lines().find(|l| l.contains(&id)).unwrap();
    assert!(line.contains("who=\"planning\"") && line.contains("res=8&kind=arrest&from=2019-01-01"), "{line}");
    // A failure (the archive gone from under the service): the cause, with the file, is in the log
    // under the request id; the client is told the id and nothing of the file.
    std::fs::remove_file(&archive).unwrap();
    let (status, head, body) = get_bytes(server.port, "/map/basemap.pmtiles", "Range: bytes=0-99\r\n");
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 500, "{body}");
    let id = head_value(&head, "x-request-id");
    assert!(body.contains(&id) && !body.contains("base.pmtiles") && !body.contains("No such file"), "{head} {body}");
    let log = server.log_with("request failed");
    let failed =
        log.lines().find(|l| l.contains("request failed") && l.contains(&id)).unwrap_or_else(|| panic!("{log}"));
    assert!(failed.contains("No such file"), "{failed}");
}

#[test]
fn a_backup_of_a_live_store_under_ingest_is_one_consistent_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("events.gpkg");
    let out = leadmap(&[
        "import",
        repo().join("geodata/demo/events.csv").to_str().unwrap(),
        "--source",
        "demo",
        "--data",
        store.to_str().unwrap(),
        "-q",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let server = crate::support::Server::start(&["--data", store.to_str().unwrap()]);
    // Ingest goes on, batch after batch, while the backups are made.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ingest = {
        let (stop, port) = (std::sync::Arc::clone(&stop), server.port);
        std::thread::spawn(move || {
            let mut batches = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let body = json!(
                    (0..50)
                        .map(
                            |i| json!({"kind": "arrest", "occurred_on": "2019-06-02", "lon": -122.6793, "lat": 45.5189,
                    "offense": "PCS", "source": "feed", "external_id": format!("b{batches}-{i}")})
                        )
                        .collect::<Vec<_>>()
                );
                assert_eq!(http_post(port, "/v1/events", &body.to_string()), Some(201));
                batches += 1;
            }
            batches
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut copies = Vec::new();
    for n in 0..3 {
        let dest = dir.path().join(format!("backup-{n}.gpkg"));
        let out = leadmap(&["backup", dest.to_str().unwrap(), "--data", store.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).contains("backed up"));
        copies.push(dest);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let batches = ingest.join().unwrap();
    assert!(batches > 0);
    // Each copy opens, passes SQLite's check, holds every demo event and whole batches only (one
    // transaction each), no more than were ingested; a later copy holds at least what an earlier one did.
    let mut last = 0;
    for copy in &copies {
        let conn = rusqlite::Connection::open(copy).unwrap();
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(copy).unwrap().permissions().mode() & 0o777, 0o600, "the owner's only");
        }
        let demo: i64 = conn.query_row("SELECT count(*) FROM events WHERE source = 'demo'", [], |r| r.get(0)).unwrap();
        let fed: i64 = conn.query_row("SELECT count(*) FROM events WHERE source = 'feed'", [], |r| r.get(0)).unwrap();
        assert_eq!(demo, 12_000);
        assert!(
            fed % 50 == 0 && fed <= i64::try_from(batches).unwrap() * 50 && fed >= last,
            "{fed} of {batches} batches"
        );
        last = fed;
        // And leadmap reads it as a store.
        let out = leadmap(&[
            "events",
            "export",
            "--data",
            copy.to_str().unwrap(),
            "--format",
            "csv",
            "-o",
            dir.path().join("x.csv").to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        std::fs::remove_file(dir.path().join("x.csv")).unwrap();
    }
    // A backup never replaces a file, nor the store itself.
    for dest in [&copies[0], &store] {
        let before = std::fs::read(dest).unwrap();
        let out = leadmap(&["backup", dest.to_str().unwrap(), "--data", store.to_str().unwrap()]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("never replaces") || err.contains("the store"), "{err}");
        if dest == &copies[0] {
            assert_eq!(std::fs::read(dest).unwrap(), before);
        }
    }
}

#[test]
fn events_are_removed_by_load_source_or_id_transactionally_audited_and_at_once_in_the_figures() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("events.gpkg");
    let s = store.to_str().unwrap();
    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    // Two imports: the demo events, then a wrong file (a copy of 100 of them under another source).
    let demo = repo().join("geodata/demo/events.csv");
    let out = leadmap(&["import", demo.to_str().unwrap(), "--source", "demo", "--data", s, "--json", "-q"]);
    let first: Value = serde_json::from_slice(&out.stdout).unwrap();
    let wrong = dir.path().join("wrong.csv");
    let csv = std::fs::read_to_string(&demo).unwrap();
    std::fs::write(&wrong, csv.lines().take(101).collect::<Vec<_>>().join("\n") + "\n").unwrap();
    let out = leadmap(&["import", wrong.to_str().unwrap(), "--source", "wrong", "--data", s]);
    assert!(text(&out).contains("(load "), "{}", text(&out));
    let out = leadmap(&["import", wrong.to_str().unwrap(), "--source", "wrong2", "--data", s, "--json", "-q"]);
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    let load = second["loads"][0].as_i64().unwrap();
    assert!(load > first["loads"][0].as_i64().unwrap());
    let count = || -> i64 {
        rusqlite::Connection::open(&store).unwrap().query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap()
    };
    assert_eq!(count(), 12_200);
    // Without --yes: how many, nothing removed.
    let out = leadmap(&["events", "delete", "--load", &load.to_string(), "--data", s]);
    assert!(out.status.success() && text(&out).contains("100 events match load"), "{}", text(&out));
    assert_eq!(count(), 12_200);
    // A typo is a usage error, never a removal.
    for bad in [&["--id", "demo-000001"][..], &["--before", "2019-01-01"], &[]] {
        let mut args = vec!["events", "delete", "--data", s, "--yes"];
        args.extend_from_slice(bad);
        let out = leadmap(&args);
        assert!(!out.status.success(), "{bad:?}");
    }
    assert_eq!(count(), 12_200);
    let out = leadmap(&["events", "delete", "--load", &load.to_string(), "--data", s, "--yes"]);
    assert!(text(&out).contains("removed 100 events"), "{}", text(&out));
    assert_eq!(count(), 12_100);
    let conn = rusqlite::Connection::open(&store).unwrap();
    let (removed_at, removed): (Option<String>, Option<i64>) = conn
        .query_row("SELECT removed_at, removed FROM leadmap_loads WHERE id = ?1", [load], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(removed_at.is_some() && removed == Some(100));
    let (who, selector, n): (String, String, i64) = conn
        .query_row("SELECT who, selector, removed FROM leadmap_deletions", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert!(who.ends_with("(command line)") && selector == format!("load {load}") && n == 100, "{who} {selector} {n}");
    drop(conn);

    // Over HTTP: admins only; the figures reflect it when it answers; the token's name is audited.
    let tokens = format!("planning:planner:{PLANNER},ops:admin:{ADMIN}");
    let server = Server::start_with(&["--data", s], &[("LEADMAP_TOKENS", tokens.as_str())]);
    let total = || -> u64 {
        let (status, body) = server.get_as(ADMIN, "/v1/cells?res=9&f=csv");
        assert_eq!(status, 200, "{body}");
        body.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse::<u64>().unwrap()).sum()
    };
    assert_eq!(total(), 12_100);
    let (status, _) = server.request_as(PLANNER, "DELETE", "/v1/events?source=wrong", None);
    assert_eq!(status, 403);
    for bad in [
        "/v1/events",
        "/v1/events?source=wrong&id=a:b",
        "/v1/events?load=x",
        "/v1/events?id=nocolon",
        "/v1/events?before=2019-01-01",
        "/v1/events?source=wrong&dry_run=yes",
    ] {
        assert_eq!(server.request_as(ADMIN, "DELETE", bad, None).0, 400, "{bad}");
    }
    // A dry run counts and removes nothing (no audit row: the audited rows below are the three removals).
    assert_eq!(server.request_as(PLANNER, "DELETE", "/v1/events?source=wrong&dry_run=true", None).0, 403);
    let (status, body) = server.request_as(ADMIN, "DELETE", "/v1/events?source=wrong&dry_run=true", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"selector": "source wrong", "removed": 0, "would_remove": 100})
    );
    assert_eq!(total(), 12_100, "nothing removed");
    let (status, body) = server.request_as(ADMIN, "DELETE", "/v1/events?source=wrong&dry_run=false", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!({"selector": "source wrong", "removed": 100}));
    assert_eq!(total(), 12_000, "at once");
    let (_, body) = server.request_as(ADMIN, "DELETE", "/v1/events?source=demo&before=2019-11-01", None);
    let before: u64 = serde_json::from_str::<Value>(&body).unwrap()["removed"].as_u64().unwrap();
    assert!(before > 0 && before < 12_000);
    let (_, body) = server.request_as(ADMIN, "DELETE", "/v1/events?id=demo:demo-011999", None);
    let one = serde_json::from_str::<Value>(&body).unwrap()["removed"].as_u64().unwrap();
    assert_eq!(total(), 12_000 - before - one);
    let conn = rusqlite::Connection::open(&store).unwrap();
    let audited = |column: &str| -> Vec<String> {
        let sql = format!("SELECT {column} FROM leadmap_deletions ORDER BY id");
        conn.prepare(&sql).unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    let whos = audited("who");
    assert_eq!(whos.len(), 4, "the command line's removal and three over HTTP; no row for the dry run");
    assert_eq!(whos[1..], ["ops", "ops", "ops"]);
    // One record's id is kept only as a digest (a sealed record leaves its id nowhere), nor logged.
    let selectors = audited("selector");
    assert!(selectors[3].starts_with("id demo:sha256 ") && !selectors[3].contains("011999"), "{selectors:?}");
    assert!(!server.log_with("011999").contains("011999"), "the id is not in the log");
}

#[test]
fn a_config_file_sets_serve_options_and_the_command_line_and_environment_win() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("leadmap.toml");
    // `addr` is also on the command line (the test's port 0): the command line wins.
    std::fs::write(&config, "addr = \"127.0.0.1:1\"\ndemo = true\nmax-batch = 2\nmax_body_bytes = 100000\n").unwrap();
    let batch = "[[-122.6793, 45.5189], [-122.60, 45.52], [-122.61, 45.53]]";
    let server = crate::support::Server::start(&["--config", config.to_str().unwrap()]);
    let (status, body) = http_request(server.port, "POST", "/v1/eligibility", Some(batch)).unwrap();
    assert_eq!(status, 413, "max-batch = 2 from the file: {body}");
    assert!(body.contains("limit of 2"), "{body}");
    assert_eq!(server.get("/readyz").1["store"], "open", "demo = true from the file");
    // The environment wins over the file; LEADMAP_CONFIG names the file.
    let server = Server::start_with(&[], &[("LEADMAP_CONFIG", config.to_str().unwrap()), ("LEADMAP_MAX_BATCH", "5")]);
    let (status, body) = http_request(server.port, "POST", "/v1/eligibility", Some(batch)).unwrap();
    assert_eq!(status, 200, "{body}");
    // A key that is no option, and a file that is not TOML: refused before listening, naming the file.
    for (text, says) in [("adr = \"x\"\n", "\"adr\" is not an option"), ("addr = \n", "line 1")] {
        std::fs::write(&config, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_leadmap"))
            .args(["serve", "--config", config.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("leadmap.toml") && err.contains(says), "{err}");
    }
}

/// `POST path` with a JSON body, giving up after `secs` seconds without an answer: the status.
fn post_within(port: u16, path: &str, body: &str, secs: u64) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(secs))).ok()?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split(' ').nth(1)?.parse().ok()
}

#[test]
fn ingest_never_waits_on_a_read_of_the_store_that_changes_in_place_set_going() {
    // Batches that change stored events in place make the service read its store again, beside ingest,
    // again and again, while new events keep coming: every request is answered (a read of the store
    // and the writer once took their two locks in opposite orders), and no event is lost or doubled.
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("events.gpkg");
    let server = crate::support::Server::start(&["--data", store.to_str().unwrap()]);
    let event = |id: String, day: u32| {
        json!({"kind": "arrest", "occurred_on": format!("2019-06-{day:02}"), "lon": -122.6793, "lat": 45.5189,
               "offense": "PCS", "source": "t", "external_id": id})
    };
    let port = server.port;
    let changer = std::thread::spawn(move || {
        for round in 0..40u32 {
            let body = json!((0..20).map(|i| event(format!("c{i}"), 1 + round % 28)).collect::<Vec<_>>());
            assert_eq!(post_within(port, "/v1/events", &body.to_string(), 20), Some(201), "round {round}");
        }
    });
    let adder = std::thread::spawn(move || {
        for round in 0..40u32 {
            let body = json!((0..20).map(|i| event(format!("n{round}-{i}"), 2)).collect::<Vec<_>>());
            assert_eq!(post_within(port, "/v1/events", &body.to_string(), 20), Some(201), "round {round}");
        }
    });
    changer.join().unwrap();
    adder.join().unwrap();
    // Every event once: 20 changed in place, 800 new; the figures catch up with the last read.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (status, total) = cells_total(server.port);
        if (status, total) == (200, 820) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "figures {status} {total}, not 820");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
