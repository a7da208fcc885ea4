//! Mutation fuzzing on the stable toolchain: every reader of outside bytes (event files as CSV, GeoJSON,
//! GeoJSON lines and FlatGeobuf; zone files as GeoJSON and FlatGeobuf; rule files; the batch eligibility
//! body and the figure routes' query strings through the real router) gets seeded mutations of a valid
//! input (bytes flipped, inserted, deleted, repeated, cut, and tokens that break parsers: quotes, brackets,
//! huge and non-finite numbers, invalid UTF-8). Each must end in an answer or an error, never a panic or a
//! `500`. `LEADMAP_FUZZ_ITERS` sets the mutations per target (100 by default, under a minute in a debug build; the README
//! gives a longer run); a failure names the target and seed and writes the input under
//! `target/fuzz-failures/`, to become a regression test.

use std::panic::{AssertUnwindSafe, catch_unwind};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use leadmap::formats::events::{FileFormat, ImportError, ImportOptions, read_events};

const TOKENS: &[&[u8]] = &[
    b"\"",
    b",",
    b"\n",
    b"\r\n",
    b"[",
    b"]",
    b"{",
    b"}",
    b":",
    b"-",
    b"1e309",
    b"-1e309",
    b"NaN",
    b"null",
    b"\\",
    b"\xff\xfe",
    b"\xc3",
    b"0",
    b"99999999999999999999",
    b"\"type\":\"Point\"",
    b"\t",
    b"\0",
];

fn iterations() -> u64 {
    std::env::var("LEADMAP_FUZZ_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(100)
}

/// One mutation of `seed_input`, chosen by `rng`.
fn mutate(rng: &mut ChaCha8Rng, seed_input: &[u8]) -> Vec<u8> {
    let mut b = seed_input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let at = if b.is_empty() { 0 } else { rng.random_range(0..b.len()) };
        match rng.random_range(0..6) {
            0 if !b.is_empty() => b[at] ^= 1 << rng.random_range(0..8),
            1 => {
                let t = TOKENS[rng.random_range(0..TOKENS.len())];
                b.splice(at..at, t.iter().copied());
            }
            2 if !b.is_empty() => {
                let end = (at + rng.random_range(1..64)).min(b.len());
                b.drain(at..end);
            }
            3 if !b.is_empty() => {
                let end = (at + rng.random_range(1..256)).min(b.len());
                let piece = b[at..end].to_vec();
                for _ in 0..rng.random_range(1..8) {
                    b.splice(at..at, piece.iter().copied());
                }
            }
            4 => b.truncate(at),
            _ => b.insert(at, rng.random()),
        }
    }
    b
}

/// Runs `check` on `iterations()` mutations of `seed_input`; a panic fails with the target, the seed and
/// the saved input.
fn fuzz(target: &str, seed_input: &[u8], check: impl Fn(&[u8])) {
    for seed in 0..iterations() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let input = mutate(&mut rng, seed_input);
        if catch_unwind(AssertUnwindSafe(|| check(&input))).is_err() {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{target}-{seed}"));
            std::fs::write(&path, &input).unwrap();
            panic!("{target}: seed {seed} panicked; input saved to {}", path.display());
        }
    }
}

fn read_all(format: FileFormat, bytes: &[u8]) {
    let opts = ImportOptions {
        kind: Some(leadmap::events::EventKind::Arrest),
        source: Some("fuzz".into()),
        keep_rows: true,
        ..ImportOptions::new(leadmap::events::checks::EventChecks::dated(
            leadmap::events::checks::DEFAULT_FIRST_DATE,
            chrono::Utc::now(),
        ))
    };
    let _ = read_events::<ImportError>(format, std::io::Cursor::new(bytes), "fuzz", &opts, 7, |_| Ok(()));
}

const EVENTS_CSV: &str = "id,date,time,kind,lon,lat,offense,race_ethnicity,agency\n\
    a1,2019-06-01,14:05,arrest,-122.6793,45.5189,PCS,black,PPB\n\
    a2,06/02/2019,0400,diversion_referral,-122.6765,45.5245,SQ,white,PPB\n\
    a3,2019-06-03,,social_contact_referral,-122.66,45.53,\"Drug, other\",,\n";

fn events_geojson() -> String {
    let f = |id: &str, lon: f64| {
        format!(
            r#"{{"type":"Feature","id":"{id}","properties":{{"date":"2019-06-01","kind":"arrest","offense":"PCS"}},"geometry":{{"type":"Point","coordinates":[{lon},45.5189]}}}}"#
        )
    };
    format!(r#"{{"type":"FeatureCollection","features":[{},{}]}}"#, f("g1", -122.6793), f("g2", -122.67))
}

#[test]
fn event_readers_survive_mutated_files() {
    fuzz("events-csv", EVENTS_CSV.as_bytes(), |b| read_all(FileFormat::Csv, b));
    let gj = events_geojson();
    fuzz("events-geojson", gj.as_bytes(), |b| read_all(FileFormat::GeoJson, b));
    let features = serde_json::from_str::<serde_json::Value>(&gj).unwrap()["features"].clone();
    let lines: String = features.as_array().unwrap().iter().map(|f| f.to_string() + "\n").collect();
    fuzz("events-geojsonl", lines.as_bytes(), |b| read_all(FileFormat::GeoJsonSeq, b));
    let dir = tempfile::tempdir().unwrap();
    let fgb = dir.path().join("e.fgb");
    let rows: Vec<((f64, f64), Vec<String>)> = (0..5)
        .map(|i| ((7_645_653.0 + f64::from(i) * 30.0, 684_826.0), vec![format!("f{i}"), "2012-03-04".into()]))
        .collect();
    crate::import::write_fgb(&fgb, 2913, &["id", "date"], &rows);
    let bytes = std::fs::read(&fgb).unwrap();
    fuzz("events-fgb", &bytes, |b| read_all(FileFormat::FlatGeobuf, b));
}

#[test]
fn zone_and_rule_readers_survive_mutated_files() {
    let opts = leadmap::formats::zonefile::ZoneFileOptions::default();
    let zones = std::fs::read_to_string(crate::support::repo().join("geodata/portland-2017.geojson")).unwrap();
    fuzz("zones-geojson", zones.as_bytes(), |b| {
        let _ = leadmap::formats::zonefile::parse_zone_geojson(&String::from_utf8_lossy(b), "fuzz.geojson", &opts);
    });
    let set = leadmap::formats::zonefile::parse_zone_geojson(&zones, "z.geojson", &opts).unwrap();
    let mut fgb = Vec::new();
    leadmap::formats::zonefile::write_zone_set_fgb(&set, &mut fgb, "z.fgb").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("z.fgb");
    fuzz("zones-fgb", &fgb, |b| {
        std::fs::write(&path, b).unwrap();
        let _ = leadmap::formats::zonefile::read_zone_file(&path, &opts);
    });
    for rules in ["portland.json", "seattle.json"] {
        let text = std::fs::read_to_string(crate::support::repo().join("geodata/rules").join(rules)).unwrap();
        fuzz(&format!("rules-{rules}"), text.as_bytes(), |b| {
            let _ = leadmap::rules::RuleSet::from_json(&String::from_utf8_lossy(b), "fuzz.json");
        });
    }
}

#[test]
fn batch_bodies_and_query_strings_never_make_the_router_fail() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;
    let app = leadmap::http::router(leadmap::http::AppState::new(
        crate::support::builtin(),
        leadmap::http::Tokens::default(),
        leadmap::http::Limits::default(),
    ));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = |req: Request<Body>| rt.block_on(app.clone().oneshot(req)).unwrap().status().as_u16();
    let pairs = b"[[-122.6793,45.5189],[-122.70,45.50], [ -122.6765 , 45.5245 ]]";
    fuzz("eligibility-batch", pairs, |b| {
        let req = Request::post("/v1/eligibility?at=2019-06-01")
            .header("content-type", "application/json")
            .body(Body::from(b.to_vec()))
            .unwrap();
        let s = status(req);
        assert!(s != 500, "status {s}");
    });
    for (route, query) in [
        ("/v1/cells", "res=9&period=2019-Q2&kind=arrest&zeros=true&f=csv"),
        ("/v1/hotspots", "res=8&k=2&from=2019-01-01&to=2019-12-31"),
        ("/v1/eligibility", "lon=-122.6793&lat=45.5189&at=2019-06-01&accuracy_m=30"),
        ("/v1/equity", "period=2019&reference=black"),
    ] {
        fuzz(&format!("query{}", route.replace('/', "-")), query.as_bytes(), |b| {
            // Only what a URI may hold: the bytes percent-encoded where they must be.
            let q: String = b
                .iter()
                .map(|&c| {
                    if c.is_ascii_alphanumeric() || b"=&-_.,~".contains(&c) {
                        char::from(c).to_string()
                    } else {
                        format!("%{c:02X}")
                    }
                })
                .collect();
            let req = Request::get(format!("{route}?{q}")).body(Body::empty()).unwrap();
            let s = status(req);
            assert!(s != 500, "{route}?{q}: status {s}");
        });
    }
}

/// Found by `event_readers_survive_mutated_files` (events-fgb, seed 274): a feature whose property
/// lengths run past its bytes made the flatgeobuf crate panic, ending `leadmap import`.
#[test]
fn a_damaged_flatgeobuf_feature_ends_the_import_with_an_error_not_a_panic() {
    // Found by the stable mutation fuzzing (lengths past the feature's bytes) and by cargo-fuzz
    // (`tools/fuzz.sh`: a property's stated length past them; a 905-byte file whose first feature states
    // 3 GB, which took 3 GB of memory before failing). Each import runs with 1 GB of address space.
    for name in ["events-fgb-274.fgb", "events-fgb-properties.fgb", "events-fgb-huge-length.fgb"] {
        let dir = tempfile::tempdir().unwrap();
        let file = crate::support::repo().join("geodata/fixtures/fuzz").join(name);
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(r#"ulimit -v 1000000 && exec "$@""#)
            .arg("bash")
            .arg(env!("CARGO_BIN_EXE_leadmap"))
            .args([
                "import",
                file.to_str().unwrap(),
                "--source",
                "f",
                "--kind",
                "arrest",
                "--plausible-km",
                "500",
                "--data",
            ])
            .arg(dir.path().join("s.gpkg"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(matches!(out.status.code(), Some(1 | 3)), "{name}: {:?}: {err}", out.status);
        assert!(err.contains("malformed"), "{name}: {err}");
        // The decoder's own panic message is contained too: only leadmap's words reach the user.
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
}
