//! Figures over HTTP against a real store file: `/v1/cells` equals `leadmap cells` and a brute-force count
//! with h3o; ingest shows up at once; ETag/304; the planner role's limits; and a differencing attack on
//! the planner's cells (parents at coarser resolutions, citywide totals, kind columns) that must not
//! recover any count from 1 to k. Hotspots and candidates by role.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use h3o::{LatLng, Resolution};
use leadmap::http::{Tokens, router};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::Reply;

const PLANNER: &str = "planner-token-0123456789";
const ANALYST: &str = "analyst-token-0123456789";
const INGEST: &str = "ingest-token-0123456789a";
const K: u64 = 10;

/// Seeded points whose own cells nest at resolutions 5 to 9 (each coarser cell is the parent of the
/// res-9 one), so a parent's count is exactly the sum of its children's: differencing is exact.
fn nested_points(n: usize, seed: u64) -> Vec<(f64, f64)> {
    let mut s = seed;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = Vec::new();
    while out.len() < n {
        // Three in four near downtown, the rest spread over the city (sparse cells, small counts).
        let (lon, lat) = if next() < 0.75 {
            (-122.68 + (next() - 0.5) * 0.03, 45.52 + (next() - 0.5) * 0.02)
        } else {
            (-122.80 + next() * 0.3, 45.45 + next() * 0.17)
        };
        let ll = LatLng::new(lat, lon).unwrap();
        let c9 = ll.to_cell(Resolution::Nine);
        let nests = (5..9).all(|r| {
            let r = Resolution::try_from(r).unwrap();
            c9.parent(r) == Some(ll.to_cell(r))
        });
        if nests {
            out.push((lon, lat));
        }
    }
    out
}

/// A request as `token`, with an optional JSON body and If-None-Match, through the router in process.
async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<Value>,
    etag: Option<&str>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri).header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(e) = etag {
        req = req.header(header::IF_NONE_MATCH, e);
    }
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let req = req.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).unwrap();
    crate::support::call(app, req).await
}

/// Count and per-kind columns of a `/v1/cells` or `leadmap cells` CSV, by hex id (None = withheld).
fn csv_cells(bytes: &[u8]) -> BTreeMap<String, [Option<u64>; 5]> {
    let mut rdr = csv::Reader::from_reader(bytes);
    rdr.records()
        .map(Result::unwrap)
        .map(|r| {
            let n = |i: usize| r[i].parse::<u64>().ok();
            (r[0].to_owned(), [n(1), n(2), n(3), n(4), n(5)])
        })
        .collect()
}

const KINDS: [&str; 4] = ["arrest", "diversion_referral", "social_contact_referral", "offense_report"];
const GROUPS: [&str; 3] = ["white", "black", "hispanic_latino"];

#[tokio::test]
async fn cells_over_http_are_exact_for_analysts_and_leak_nothing_small_to_planners() {
    let dir = tempfile::tempdir().unwrap();
    let (csv_path, store) = (dir.path().join("events.csv"), dir.path().join("events.gpkg"));
    let points = nested_points(4000, 0x5eed_1234_abcd_0001);
    let mut text = String::from("id,date,kind,lon,lat,race_ethnicity\n");
    for (i, (lon, lat)) in points.iter().enumerate() {
        writeln!(text, "e{i},2019-0{}-15,{},{lon},{lat},{}", 1 + i % 9, KINDS[i % 4], GROUPS[i % 3 / 2 + i % 2])
            .unwrap();
    }
    std::fs::write(&csv_path, &text).unwrap();
    let bin = env!("CARGO_BIN_EXE_leadmap");
    let out = Command::new(bin)
        .args(["import", csv_path.to_str().unwrap(), "--source", "t", "--data", store.to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let tokens = Tokens::parse_env(&format!("p:planner:{PLANNER},a:analyst:{ANALYST},feed:ingest:{INGEST}")).unwrap();
    let app = router(crate::support::builtin_with_store(tokens, &store));

    // Analysts: exact, equal to the command line and to h3o point by point.
    let r = call(&app, "GET", "/v1/cells?res=9&f=csv", ANALYST, None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let http = csv_cells(&r.body);
    let cli = Command::new(bin).args(["cells", "--data", store.to_str().unwrap(), "--res", "9"]).output().unwrap();
    assert_eq!(http, csv_cells(&cli.stdout), "HTTP and CLI agree");
    let mut brute: BTreeMap<String, [Option<u64>; 5]> = BTreeMap::new();
    for (i, (lon, lat)) in points.iter().enumerate() {
        let c = LatLng::new(*lat, *lon).unwrap().to_cell(Resolution::Nine).to_string();
        let e = brute.entry(c).or_insert([Some(0); 5]);
        e[0] = e[0].map(|v| v + 1);
        e[1 + i % 4] = e[1 + i % 4].map(|v| v + 1);
    }
    assert_eq!(http, brute, "h3o brute force");

    // ETag: the same question answers 304; an ingest changes the answer at once.
    let r = call(&app, "GET", "/v1/cells?res=9", ANALYST, None, None).await;
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/geo+json");
    let etag = r.headers[header::ETAG].to_str().unwrap().to_owned();
    // Large answers come gzipped to clients that accept it (browsers do), and unzip to the same body.
    let req = Request::builder()
        .uri("/v1/cells?res=9")
        .header(header::AUTHORIZATION, format!("Bearer {ANALYST}"))
        .header(header::ACCEPT_ENCODING, "gzip, deflate, br")
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
    let zipped = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&zipped[..]), &mut unzipped).unwrap();
    assert_eq!(unzipped, r.body);
    assert!(zipped.len() * 3 < r.body.len(), "{} of {}", zipped.len(), r.body.len());
    let again = call(&app, "GET", "/v1/cells?res=9", ANALYST, None, Some(&etag)).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers[header::ETAG], etag.as_str());
    let (lon, lat) = points[0];
    let new = json!({"kind": "arrest", "occurred_on": "2019-03-03", "lon": lon, "lat": lat, "offense": "PCS", "source": "t", "external_id": "new-1"});
    assert_eq!(call(&app, "POST", "/v1/events", INGEST, Some(json!([new])), None).await.status, StatusCode::CREATED);
    let r = call(&app, "GET", "/v1/cells?res=9", ANALYST, None, Some(&etag)).await;
    assert_eq!(r.status, StatusCode::OK, "changed by the ingest");
    let cell = LatLng::new(lat, lon).unwrap().to_cell(Resolution::Nine).to_string();
    let fc = r.json();
    let f = fc["features"].as_array().unwrap().iter().find(|f| f["id"] == cell.as_str()).unwrap();
    assert_eq!(f["properties"]["count"].as_u64(), Some(brute[&cell][0].unwrap() + 1));
    assert_eq!(f["geometry"]["type"], "Polygon");

    // Planners: resolution 9 at most, no group filter.
    let r = call(&app, "GET", "/v1/cells?res=10", PLANNER, None, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/problem+json");
    let r = call(&app, "GET", "/v1/cells?group=black", PLANNER, None, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    planner_figures_give_no_small_count_away(&app).await;
}

/// Planners' cells, coverage and equity: every count published is 0 or above k and within the table's
/// range of the exact one (0 to 12 for 0, ±2 otherwise), the same every time; a cell listed has something
/// published; some counts moved. (The chained attack over every route and period is in `privacy`.)
async fn planner_figures_give_no_small_count_away(app: &axum::Router) {
    let range = |p: u64| if p == 0 { 0..=K + 2 } else { (p - 2).max(K + 1)..=p + 2 };
    let mut moved = 0;
    let mut small_seen = 0;
    for res in 5u8..=9 {
        let analyst =
            csv_cells(&call(app, "GET", &format!("/v1/cells?res={res}&f=csv"), ANALYST, None, None).await.body);
        let planner = call(app, "GET", &format!("/v1/cells?res={res}&f=csv"), PLANNER, None, None).await;
        assert_eq!(
            planner.body,
            call(app, "GET", &format!("/v1/cells?res={res}&f=csv"), PLANNER, None, None).await.body
        );
        let mut rdr = csv::Reader::from_reader(&planner.body[..]);
        assert_eq!(rdr.headers().unwrap().get(6), Some("suppressed"));
        let mut listed = std::collections::HashSet::new();
        for rec in rdr.records().map(Result::unwrap) {
            let values: Vec<u64> = (1..6).map(|i| rec[i].parse().expect("nothing is null")).collect();
            assert_eq!(&rec[6], "false", "{rec:?}");
            assert!(values.iter().any(|&v| v > 0), "a listed cell has something published: {rec:?}");
            for (v, exact) in values.iter().zip(analyst[&rec[0]]) {
                let exact = exact.unwrap();
                assert!(*v == 0 || *v > K, "published small count {v} in {rec:?}");
                assert!(range(*v).contains(&exact), "{v} for {exact} in {rec:?}");
                moved += usize::from(*v != exact);
            }
            listed.insert(rec[0].to_owned());
        }
        // Cells left out are those whose counts are all published as 0: small ones among them.
        for (hex, exact) in &analyst {
            if !listed.contains(hex) {
                assert!(exact[0].unwrap() <= K + 2, "res {res} {hex}: {exact:?} left out");
                small_seen += 1;
            }
        }
    }
    assert!(moved > 0 && small_seen > 0, "moved {moved}, small {small_seen}");
    let cov = call(app, "GET", "/v1/coverage", PLANNER, None, None).await.json();
    let exact = call(app, "GET", "/v1/coverage", ANALYST, None, None).await.json();
    assert_eq!(cov["perturbed"]["max_noise"], 2, "{}", cov["perturbed"]);
    assert!(exact["perturbed"].is_null());
    for table in ["months", "totals"] {
        for (row, e) in cov[table].as_array().unwrap().iter().zip(exact[table].as_array().unwrap()) {
            assert_eq!((&row["area"], &row["month"]), (&e["area"], &e["month"]));
            for k in ["arrest", "diversion_referral", "social_contact_referral", "offense_report", "contacts"] {
                let v = row[k].as_u64().unwrap();
                assert!(v == 0 || v > K, "{row}");
                assert!(range(v).contains(&e[k].as_u64().unwrap()), "{k}: {row} against {e}");
            }
        }
    }
    let eq = call(app, "GET", "/v1/equity", PLANNER, None, None).await.json();
    for row in eq["rows"].as_array().unwrap() {
        assert!(row["contacts"].as_u64().is_some_and(|v| v == 0 || v > K), "{row}");
    }
}

#[tokio::test]
async fn hotspots_give_analysts_z_and_planners_classes_and_candidates_lie_outside_the_zones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.gpkg");
    let tokens = Tokens::parse_env(&format!("p:planner:{PLANNER},a:analyst:{ANALYST},feed:ingest:{INGEST}")).unwrap();
    let app = router(crate::support::builtin_with_store(tokens, &path));
    // A dense cluster far east of every zone, background noise over the city, over HTTP ingest.
    let hot = LatLng::new(45.505, -122.58).unwrap().to_cell(Resolution::Nine);
    let mut events = Vec::new();
    for (i, c) in hot.grid_disk::<Vec<_>>(1).into_iter().enumerate() {
        for j in 0..40 {
            let ll = LatLng::from(c);
            events.push(json!({"kind": "arrest", "occurred_on": "2020-05-01", "lon": ll.lng(), "lat": ll.lat(),
                "offense": "PCS", "source": "t", "external_id": format!("h{i}-{j}")}));
        }
    }
    for (i, (lon, lat)) in nested_points(600, 99).into_iter().enumerate() {
        events.push(json!({"kind": "arrest", "occurred_on": "2020-05-02", "lon": lon, "lat": lat,
            "offense": "PCS", "source": "t", "external_id": format!("n{i}")}));
    }
    assert_eq!(
        call(&app, "POST", "/v1/events", INGEST, Some(Value::Array(events)), None).await.status,
        StatusCode::CREATED
    );

    let a = call(&app, "GET", "/v1/hotspots?res=9", ANALYST, None, None).await.json();
    let row = |fc: &Value, hex: &str| {
        fc["features"].as_array().unwrap().iter().find(|f| f["id"] == hex).unwrap()["properties"].clone()
    };
    let h = row(&a, &hot.to_string());
    assert!(h["GiZScore"].as_f64().unwrap() > 3.0, "{h}");
    assert_eq!((h["Gi_Bin"].as_i64(), h["Gi_Bin_FDR"].as_i64(), h["NNeighbors"].as_u64()), (Some(3), Some(3), Some(7)));
    assert_eq!(a["k_ring"], 1);
    let p = call(&app, "GET", "/v1/hotspots?res=9", PLANNER, None, None).await.json();
    let h = row(&p, &hot.to_string());
    assert!(h["GiZScore"].is_null() && h["GiPValue"].is_null(), "planners get classes only: {h}");
    assert_eq!(h["Gi_Bin"].as_i64(), Some(3));
    // Every study-area cell is there, zeros included.
    let features = a["features"].as_array().unwrap();
    assert!(features.iter().any(|f| f["properties"]["count"] == 0));
    // Candidates: the cluster, ranked first, outside every zone, with its outline.
    let c = call(&app, "GET", "/v1/hotspots/candidates?res=9", PLANNER, None, None).await.json();
    let first = &c["features"][0];
    assert_eq!(first["properties"]["rank"], 1);
    let ids: Vec<&str> =
        first["properties"]["hex_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(ids.contains(&hot.to_string().as_str()), "{first}");
    assert!(first["properties"]["contacts"].as_u64().unwrap() >= 7 * 40 - 2, "perturbed by at most 2");
    // Candidates are GeoJSON only and coverage has no reference group: a parameter a route would ignore
    // is refused, naming it.
    for path in ["/v1/hotspots/candidates?res=9&f=csv", "/v1/coverage?reference=black"] {
        let r = call(&app, "GET", path, PLANNER, None, None).await;
        assert_eq!(r.status, 400, "{path}");
        let name = if path.contains("f=csv") { "f" } else { "reference" };
        assert!(r.json()["detail"].as_str().unwrap().contains(name), "{path}: {}", r.json());
    }
    // A reference group is read as a group filter is: `Hispanic/Latino` is `hispanic_latino`.
    let typed = call(&app, "GET", "/v1/equity?reference=Hispanic%2FLatino", PLANNER, None, None).await;
    let stored = call(&app, "GET", "/v1/equity?reference=hispanic_latino", PLANNER, None, None).await;
    assert_eq!((typed.status.as_u16(), stored.status.as_u16()), (200, 200));
    assert_eq!(typed.json()["reference_group"], "hispanic_latino", "{}", typed.json());
    assert_eq!(typed.json(), stored.json());
    assert_eq!(first["geometry"]["type"], "Polygon");
    for id in ids {
        assert_eq!(row(&a, id)["relation"], "outside");
    }
    let r = call(&app, "GET", "/v1/hotspots?k=9", ANALYST, None, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
