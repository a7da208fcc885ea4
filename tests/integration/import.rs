//! `leadmap import` end to end: the Portland Police Bureau's two published formats into a real store
//! file, checked against the known answers in `../shared/README.md` (points classified by shapely against
//! the City's neighbourhood file); idempotent re-import; every kind of bad row rejected and named.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{CITY_SELECT, city_options, index, leadmap, shared};

pub(crate) fn summary(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)))
}

/// The first column of every row `sql` returns, as text.
fn strings(conn: &rusqlite::Connection, sql: &str) -> Vec<String> {
    conn.prepare(sql).unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

fn zone_counts(store: &Path, source: &str) -> BTreeMap<String, u64> {
    let conn = rusqlite::Connection::open(store).unwrap();
    let mut stmt =
        conn.prepare("SELECT coalesce(zone, 'outside'), count(*) FROM events WHERE source = ?1 GROUP BY 1").unwrap();
    stmt.query_map([source], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.cast_unsigned())))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Rows of the rejects file whose reason contains `what`, classified into the City's LEAD areas by
/// their coordinates (columns `lon_col`, `lat_col` of the original row, or projected x/y).
fn rejected_per_zone(
    rejects: &Path,
    what: &str,
    lonlat: impl Fn(&csv::StringRecord) -> Option<(f64, f64)>,
) -> BTreeMap<String, u64> {
    let city = index(
        leadmap::formats::zonefile::read_zone_file(
            &shared("data/portland/neighborhoods-regions-2021.geojson"),
            &city_options(CITY_SELECT),
        )
        .unwrap(),
    );
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_path(rejects).unwrap();
    let mut counts = BTreeMap::new();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        if !rec[3].contains(what) {
            continue;
        }
        let zone = lonlat(&rec)
            .and_then(|(lon, lat)| city.classify(lon, lat))
            .map_or("outside".to_owned(), |z| city.set().zones()[z].id.as_str().to_owned());
        *counts.entry(zone).or_insert(0) += 1;
    }
    counts
}

/// `leadmap coverage` per zone and year equals a count of the file's rows by year, classified against the
/// City's polygons, keeping the first row of each case number as the import does; with the repeated
/// rows, the three zones' years add up to the known answers.
fn coverage_per_year_matches_the_file(store: &Path, file: &Path) {
    // The City's polygons as the one fixed set every event is counted in.
    let city = shared("data/portland/neighborhoods-regions-2021.geojson");
    let out = leadmap(&[
        "coverage",
        "--data",
        store.to_str().unwrap(),
        "--source",
        "ppb",
        "--format",
        "json",
        "--zones",
        city.to_str().unwrap(),
        "--zone-field",
        "NAME",
        "--select",
        CITY_SELECT,
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cov: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cov["geography"]["kind"], "fixed");
    let mut got: BTreeMap<(String, String), u64> = BTreeMap::new();
    for row in cov["months"].as_array().unwrap() {
        let year = row["month"].as_str().unwrap()[..4].to_owned();
        *got.entry((row["area"].as_str().unwrap().to_owned(), year)).or_default() += row["contacts"].as_u64().unwrap();
    }
    let city = index(
        leadmap::formats::zonefile::read_zone_file(
            &shared("data/portland/neighborhoods-regions-2021.geojson"),
            &city_options(CITY_SELECT),
        )
        .unwrap(),
    );
    let (mut want, mut all_rows): (BTreeMap<(String, String), u64>, BTreeMap<String, u64>) = Default::default();
    let mut seen = std::collections::HashSet::new();
    for rec in csv::Reader::from_path(file).unwrap().records().map(Result::unwrap) {
        let (Ok(lat), Ok(lon)) = (rec[8].parse::<f64>(), rec[9].parse::<f64>()) else { continue };
        let zone =
            city.classify(lon, lat).map_or("outside".to_owned(), |z| city.set().zones()[z].id.as_str().to_owned());
        *all_rows.entry(zone.clone()).or_default() += 1;
        if seen.insert(rec[1].to_owned()) {
            *want.entry((zone, rec[4][..4].to_owned())).or_default() += 1;
        }
    }
    // Every area by every month is listed (zeros included, so a row's presence says nothing).
    assert!(got.keys().any(|(z, y)| z == "downtown" && y == "2014"), "the grid has the months without events");
    got.retain(|key, n| *n > 0 || want.contains_key(key));
    assert_eq!(got, want);
    assert!(got.keys().map(|(_, y)| y.as_str()).collect::<std::collections::BTreeSet<_>>().len() >= 6, "2015-2021");
    for (zone, known) in [("old-town", 1862), ("downtown", 885), ("lloyd", 233)] {
        assert_eq!(all_rows[zone], known, "{zone}, every located row");
    }
    let total =
        |area: &str| cov["totals"].as_array().unwrap().iter().find(|r| r["area"] == area).unwrap()["contacts"].clone();
    assert_eq!(total("citywide"), 8942);
    let inside = total("inside").as_u64().unwrap();
    assert_eq!(cov["share_inside"], ((inside as f64 / 8942.0) * 1e4).round() / 1e4);
    // Police open data are offense reports: no arrest, no referral, so no rate (null, never 0), and why.
    let city_row = cov["totals"].as_array().unwrap().iter().find(|r| r["area"] == "citywide").unwrap();
    assert_eq!((city_row["offense_report"].as_u64(), city_row["arrest"].as_u64()), (Some(8942), Some(0)));
    assert!(city_row["diversion_rate"].is_null() && cov["diversion_rate_inside"].is_null(), "{city_row}");
    assert!(cov["rates_note"].as_str().unwrap().contains("referral"), "{}", cov["rates_note"]);
}

/// The file's located rows, the first of each case number (as the import keeps them), classified against
/// the City's polygons: (zone or `outside`, date).
fn classified_contacts(file: &Path) -> Vec<(String, String)> {
    let city = index(
        leadmap::formats::zonefile::read_zone_file(
            &shared("data/portland/neighborhoods-regions-2021.geojson"),
            &city_options(CITY_SELECT),
        )
        .unwrap(),
    );
    let mut seen = std::collections::HashSet::new();
    csv::Reader::from_path(file)
        .unwrap()
        .records()
        .map(Result::unwrap)
        .filter_map(|rec| {
            let (Ok(lat), Ok(lon)) = (rec[8].parse::<f64>(), rec[9].parse::<f64>()) else { return None };
            seen.insert(rec[1].to_owned()).then(|| {
                let zone = city
                    .classify(lon, lat)
                    .map_or("outside".to_owned(), |z| city.set().zones()[z].id.as_str().to_owned());
                (zone, rec[4].to_owned())
            })
        })
        .collect()
}

/// Contacts per area in a coverage answer's totals.
fn area_totals(cov: &Value) -> BTreeMap<String, u64> {
    cov["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["area"].as_str().unwrap().to_owned(), r["contacts"].as_u64().unwrap()))
        .collect()
}

/// Fixed geography on the real data, imported with the built-in dated sets. By default, a contact dated
/// before the 2017 launch or after the pilot's end is `no_program`, never `outside`. `--at 2017-06-01`
/// counts every contact in the 2017 areas, which hold exactly the PPB contacts the City's polygons do, so
/// each zone's total is a recount of the file against the City's polygons (the known answers 1862, 885
/// and 233 less the repeated case numbers), for 2015-2016 too; `/v1/coverage?at=` answers the same.
#[test]
fn fixed_geography_counts_every_year_in_the_same_areas() {
    if !crate::support::have_shared() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::ppb_store(dir.path());
    let data = store.to_str().unwrap();
    let contacts = classified_contacts(&shared("data/portland/ppb-drug-offenses-2015-2021.csv"));
    assert_eq!(contacts.len(), 8942);
    let count = |from: &str, to: &str| {
        let mut n: BTreeMap<String, u64> = BTreeMap::new();
        for (zone, day) in &contacts {
            if from <= day.as_str() && day.as_str() <= to {
                *n.entry(zone.clone()).or_default() += 1;
            }
        }
        n
    };
    let coverage = |extra: &[&str]| -> Value {
        let mut args = vec!["coverage", "--data", data, "--format", "json"];
        args.extend(extra);
        let out = leadmap(&args);
        assert!(out.status.success(), "{extra:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };

    // The default: each contact in the set in force on its date.
    let dated = coverage(&[]);
    assert_eq!(dated["geography"]["kind"], "in_force_on_event_date");
    let t = area_totals(&dated);
    let no_program =
        count("0000", "2017-02-26").values().sum::<u64>() + count("2021-07-01", "9999").values().sum::<u64>();
    assert!(no_program > 2000, "{no_program}");
    assert_eq!(t["no_program"], no_program);
    assert_eq!(t["citywide"], 8942);
    let before = coverage(&["--from", "2015-01-01", "--to", "2016-12-31"]);
    let t = area_totals(&before);
    assert_eq!((t["outside"], t["inside"]), (0, 0), "no contact before the launch is outside or inside");
    assert_eq!(t["no_program"], count("2015-01-01", "2016-12-31").values().sum::<u64>());
    assert_eq!(before["share_inside"], Value::Null, "no share of nothing");

    // The 2017 areas for every year.
    let fixed = coverage(&["--at", "2017-06-01"]);
    assert_eq!(
        (fixed["geography"]["kind"].as_str(), fixed["geography"]["zone_set"].as_str()),
        (Some("fixed"), Some("portland-lead-2017"))
    );
    let t = area_totals(&fixed);
    let want = count("0000", "9999");
    for zone in ["old-town", "downtown", "lloyd", "outside"] {
        assert_eq!(t[zone], want[zone], "{zone}");
    }
    assert!(!t.contains_key("no_program"));
    let early = coverage(&["--at", "2017-06-01", "--from", "2015-01-01", "--to", "2016-12-31"]);
    let t = area_totals(&early);
    let want = count("2015-01-01", "2016-12-31");
    let inside: u64 = ["old-town", "downtown", "lloyd"].iter().map(|z| want[*z]).sum();
    assert!(inside > 300, "{inside}");
    assert_eq!(t["inside"], inside);
    let share = (inside as f64 / want.values().sum::<u64>() as f64 * 1e4).round() / 1e4;
    assert_eq!(early["share_inside"], share);

    // One --zones file fixes that set; several are the sets to choose from by each event's date.
    let y2017 = crate::support::repo().join("geodata/portland-2017.geojson");
    let y2018 = crate::support::repo().join("geodata/portland-2018.geojson");
    let one = coverage(&["--zones", y2017.to_str().unwrap()]);
    assert_eq!((one["geography"]["kind"].as_str(), area_totals(&one)), (Some("fixed"), area_totals(&fixed)));
    let both = coverage(&["--zones", y2017.to_str().unwrap(), "--zones", y2018.to_str().unwrap()]);
    assert_eq!(both["geography"]["kind"], "in_force_on_event_date");
    assert_eq!(area_totals(&both), area_totals(&dated));
    // A day with no set in force is refused, naming it.
    let out = leadmap(&["coverage", "--data", data, "--at", "2014-06-01"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("2014-06-01"), "{}", String::from_utf8_lossy(&out.stderr));

    the_service_answers_the_same(data, [&fixed, &dated, &early], inside, want["old-town"]);
}

/// `/v1/coverage`, `/v1/equity` and `/v1/cells` with `at=` answer as the command line does (`cli`: the
/// CLI's coverage with `--at 2017-06-01`, by default, and `--at` over 2015–2016), and cells are related
/// to the set in force on the window's last day.
fn the_service_answers_the_same(data: &str, cli: [&Value; 3], inside: u64, old_town: u64) {
    let [fixed, dated, early] = cli;
    let server = crate::support::Server::start(&["--data", data]);
    for (q, cli) in [("?at=2017-06-01", fixed), ("", dated), ("?at=2017-06-01&from=2015-01-01&to=2016-12-31", early)] {
        let (status, body) = server.get(&format!("/v1/coverage{q}"));
        assert_eq!(status, 200, "{q}: {body}");
        assert_eq!(&body, cli, "{q}");
    }
    let (status, body) = server.get("/v1/coverage?at=2014-06-01");
    assert_eq!(status, 422, "{body}");
    // Equity too, and cells filtered by a zone of the fixed set.
    let (_, eq) = server.get("/v1/equity?at=2017-06-01&from=2015-01-01&to=2016-12-31");
    let eq_inside: u64 = eq["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["area"] == "inside")
        .map(|r| r["contacts"].as_u64().unwrap())
        .sum();
    assert_eq!(eq_inside, inside);
    let (_, cells) = server.get("/v1/cells?at=2017-06-01&zone=old-town&from=2015-01-01&to=2016-12-31");
    let n: u64 = cells["features"].as_array().unwrap().iter().map(|f| f["properties"]["count"].as_u64().unwrap()).sum();
    assert_eq!(n, old_town);
    // Cells are related to the set in force on the window's last day, not today's.
    let relations = |q: &str| -> BTreeMap<String, String> {
        let (status, cells) = server.get(&format!("/v1/cells?res=8&zeros=true&{q}"));
        assert_eq!(status, 200, "{q}");
        cells["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["id"].as_str().unwrap().to_owned(), f["properties"]["relation"].as_str().unwrap().to_owned()))
            .collect()
    };
    let in_2017 = relations("from=2017-03-01&to=2017-12-31");
    assert_eq!(in_2017, relations("from=2017-03-01&to=2017-12-31&at=2017-06-01"));
    let areas_2018 = relations("from=2017-03-01&to=2017-12-31&at=2018-06-01");
    let inside = |m: &BTreeMap<String, String>| m.values().filter(|r| *r != "outside").count();
    assert!(inside(&areas_2018) > inside(&in_2017), "the 2018 areas are larger");
    assert_eq!(
        relations("from=2019-01-01&to=2019-12-31").values().filter(|r| *r != "outside").count(),
        inside(&areas_2018)
    );
}

#[test]
fn ppb_files_import_with_the_known_zone_counts_and_reimport_adds_nothing() {
    if !crate::support::have_shared() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("events.gpkg");
    let rejects = dir.path().join("rejects.csv");
    let city = shared("data/portland/neighborhoods-regions-2021.geojson");
    let zone_args = ["--zones", city.to_str().unwrap(), "--zone-field", "NAME", "--select", CITY_SELECT];
    let file = shared("data/portland/ppb-drug-offenses-2015-2021.csv");
    let mut args =
        vec!["import", file.to_str().unwrap(), "--preset", "ppb", "--json", "--data", store.to_str().unwrap()];
    args.extend(zone_args);
    args.extend(["--rejects", rejects.to_str().unwrap()]);
    let out = leadmap(&args);
    assert_eq!(out.status.code(), Some(3), "some rows are rejected: {}", String::from_utf8_lossy(&out.stderr));
    let s = summary(&out);
    assert_eq!(s["read"], 9197);
    // 242 rows have no coordinates; 13 repeat a case number already read (one contact, two offense rows).
    assert_eq!(s["rejected"], 9197 - 8955 + 13);
    assert_eq!(s["imported"], 8955 - 13);
    let stored = zone_counts(&store, "ppb");
    // Known answers count rows; the repeated case numbers sit at the same place as their first row.
    let dup = rejected_per_zone(&rejects, "already read", |r| Some((r[13].parse().ok()?, r[12].parse().ok()?)));
    for (zone, known) in [("old-town", 1862), ("downtown", 885), ("lloyd", 233)] {
        assert_eq!(stored.get(zone).copied().unwrap_or(0) + dup.get(zone).copied().unwrap_or(0), known, "{zone}");
    }
    let no_coords = rejected_per_zone(&rejects, "no coordinates", |_| None);
    assert_eq!(no_coords.values().sum::<u64>(), 9197 - 8955);
    coverage_per_year_matches_the_file(&store, &file);

    // The same file again: nothing new, nothing changed.
    let again = summary(&leadmap(&args));
    assert_eq!(
        (again["imported"].as_u64(), again["updated"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(0), Some(8942))
    );
    assert_eq!(again["stored"], 8942);

    // The 2012 format: State Plane feet through EPSG:2913, MM/DD/YYYY dates.
    let file = shared("data/portland/ppb-drug-incidents-2012-stateplane.csv");
    let mut args =
        vec!["import", file.to_str().unwrap(), "--preset", "ppb-2012", "--json", "--data", store.to_str().unwrap()];
    args.extend(zone_args);
    args.extend(["--rejects", rejects.to_str().unwrap()]);
    let s = summary(&leadmap(&args));
    assert_eq!(s["read"], 2892);
    let stored = zone_counts(&store, "ppb-2012");
    let crs = leadmap::projection::Crs::from_epsg(2913).unwrap();
    let dup =
        rejected_per_zone(&rejects, "already read", |r| Some(crs.to_lon_lat(r[12].parse().ok()?, r[13].parse().ok()?)));
    for (zone, known) in [("old-town", 478), ("downtown", 631), ("lloyd", 91)] {
        assert_eq!(stored.get(zone).copied().unwrap_or(0) + dup.get(zone).copied().unwrap_or(0), known, "2012 {zone}");
    }
    assert_eq!(
        s["imported"].as_u64().unwrap() + dup.values().sum::<u64>(),
        2852,
        "every located row is stored or a repeat"
    );
    assert_eq!(s["stored"].as_u64(), Some(8942 + s["imported"].as_u64().unwrap()));

    // A GeoPackage as OGC readers expect it.
    let conn = rusqlite::Connection::open(&store).unwrap();
    let app: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0)).unwrap();
    assert_eq!(app, 0x4750_4B47);
    let (t, col, srs): (String, String, i64) = conn
        .query_row("SELECT table_name, column_name, srs_id FROM gpkg_geometry_columns", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((t.as_str(), col.as_str(), srs), ("events", "geom", 4326));
    let blob: Vec<u8> = conn.query_row("SELECT geom FROM events LIMIT 1", [], |r| r.get(0)).unwrap();
    assert_eq!(&blob[..2], b"GP");
    let columns = strings(&conn, "SELECT name FROM pragma_table_info('events')");
    assert!(
        !columns.iter().any(|c| c.contains("address") || c.contains("neighborhood")),
        "no personal or address fields: {columns:?}"
    );
}

#[test]
fn every_kind_of_bad_row_is_rejected_by_line_and_the_rest_stored() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.csv");
    std::fs::write(
        &input,
        "id,date,kind,lon,lat,offense,address\n\
         a1,2018-06-01,arrest,-122.6793,45.5189,PCS,1 Main St\n\
         a2,2018-06-01,arrest,,,PCS,\n\
         a3,2018-06-01,arrest,NaN,45.5,PCS,\n\
         a4,2018-06-01,arrest,45.5189,-122.6793,PCS,\n\
         a5,2018-06-01,arrest,-122.6,95.0,PCS,\n\
         a6,2018-13-45,arrest,-122.6793,45.5189,PCS,\n\
         a7,2018-06-01,booking,-122.6793,45.5189,PCS,\n\
         a1,2018-06-02,arrest,-122.6793,45.5189,PCS,\n\
         a8,2018-06-01,social_contact_referral,-122.6765,45.5245,,\n\
         a9,2018-06-01,arr",
    )
    .unwrap();
    let store = dir.path().join("s.gpkg");
    let rejects = dir.path().join("r.csv");
    let out = leadmap(&[
        "import",
        input.to_str().unwrap(),
        "--source",
        "test",
        "--data",
        store.to_str().unwrap(),
        "--json",
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let s = summary(&out);
    assert_eq!((s["read"].as_u64(), s["imported"].as_u64(), s["rejected"].as_u64()), (Some(10), Some(2), Some(8)));
    let text = std::fs::read_to_string(&rejects).unwrap();
    let got: Vec<(String, String)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, ',').collect();
            (f[1].to_owned(), f[2].to_owned())
        })
        .collect();
    let expect = [
        ("3", "lon"),
        ("4", "lon"),
        ("5", "lon"),
        ("6", "lon"),
        ("7", "date"),
        ("8", "kind"),
        ("9", "id"),
        ("11", "record"),
    ];
    assert_eq!(got, expect.map(|(a, b)| (a.to_owned(), b.to_owned())));
    assert!(
        text.contains("no coordinates")
            && text.contains("swap")
            && text.contains("not a date")
            && text.contains("already read at line 2")
    );
    // Again, in batches of 2 rows: the repeat is now in another batch than its first row, and the
    // first row is already stored (unchanged): it is still a repeat, not an update.
    let again = dir.path().join("r2.csv");
    let out = leadmap(&[
        "import",
        input.to_str().unwrap(),
        "--source",
        "test",
        "--data",
        store.to_str().unwrap(),
        "--json",
        "--batch",
        "2",
        "--rejects",
        again.to_str().unwrap(),
    ]);
    let s = summary(&out);
    assert_eq!(
        (s["imported"].as_u64(), s["updated"].as_u64(), s["unchanged"].as_u64(), s["rejected"].as_u64()),
        (Some(0), Some(0), Some(2), Some(8))
    );
    assert_eq!(std::fs::read_to_string(&again).unwrap(), text, "the same rejects, in the same order");
    let conn = rusqlite::Connection::open(&store).unwrap();
    let kinds = strings(&conn, "SELECT kind FROM events ORDER BY external_id");
    assert_eq!(kinds, ["arrest", "social_contact_referral"]);
    let dates = strings(&conn, "SELECT occurred_on FROM events WHERE external_id = 'a1'");
    assert_eq!(dates, ["2018-06-01"], "the repeated id's second row never replaced the first");
    let cols: String =
        conn.query_row("SELECT group_concat(name) FROM pragma_table_info('events')", [], |r| r.get(0)).unwrap();
    assert!(!cols.contains("address"), "the address column is never stored: {cols}");
    // A changed row updates its event.
    std::fs::write(&input, "id,date,kind,lon,lat\na1,2018-06-01,arrest,-122.6790,45.5189\n").unwrap();
    let s = summary(&leadmap(&[
        "import",
        input.to_str().unwrap(),
        "--source",
        "test",
        "--data",
        store.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!((s["updated"].as_u64(), s["stored"].as_u64()), (Some(1), Some(2)));
}

#[test]
fn events_export_writes_what_the_store_holds_with_filters() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let mut text = String::from("id,date,kind,lon,lat\n");
    for i in 0..120 {
        let (lon, lat) = if i % 3 == 0 { (-122.6765, 45.5245) } else { (-122.60 - f64::from(i) * 1e-4, 45.53) };
        writeln!(text, "e{i},2018-06-{:02},arrest,{lon},{lat}", 1 + i % 28).unwrap();
    }
    std::fs::write(&input, text).unwrap();
    let store = dir.path().join("s.gpkg");
    let out =
        leadmap(&["import", input.to_str().unwrap(), "--source", "t", "--data", store.to_str().unwrap(), "--json"]);
    assert_eq!(summary(&out)["imported"], 120);
    let geojson = dir.path().join("all.geojson");
    let out = leadmap(&["events", "export", "--data", store.to_str().unwrap(), "-o", geojson.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fc: Value = serde_json::from_str(&std::fs::read_to_string(&geojson).unwrap()).unwrap();
    assert_eq!(fc["features"].as_array().unwrap().len(), 120);
    let csv_out = dir.path().join("old-town.csv");
    let out = leadmap(&[
        "events",
        "export",
        "--data",
        store.to_str().unwrap(),
        "--zone",
        "old-town",
        "-o",
        csv_out.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let text = std::fs::read_to_string(&csv_out).unwrap();
    assert!(text.starts_with("id,kind,occurred_on"));
    // Record keys are never shown.
    let all = std::fs::read_to_string(&geojson).unwrap();
    assert!(!all.contains("record_key") && !text.contains("record_key"));
    assert_eq!(text.lines().count(), 1 + 40, "a header and the 40 Old Town events");
    let out = leadmap(&["events", "export", "--data", dir.path().join("none.gpkg").to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such store"));
}

/// Rows of the stored events, for comparing stores: identity, values, point, zone and cell.
fn stored_rows(store: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(store).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT concat_ws('|', source, external_id, kind, occurred_on, occurred_at, offense, race_ethnicity, agency,
                zone, h3_res15), geom FROM events ORDER BY external_id",
        )
        .unwrap();
    stmt.query_map([], |r| {
        let (text, geom): (String, Vec<u8>) = (r.get(0)?, r.get(1)?);
        let (lon, lat) = leadmap::store::gpkg::blob_point(&geom).unwrap();
        Ok(format!("{text}|{lon:.12}|{lat:.12}"))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// A FlatGeobuf file of points in `crs` with string columns `columns`, one row of values per point.
pub fn write_fgb(path: &Path, crs: i32, columns: &[&str], rows: &[((f64, f64), Vec<String>)]) {
    use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
    use geozero::{ColumnValue, PropertyProcessor};
    let options = FgbWriterOptions { crs: FgbCrs { code: crs, ..FgbCrs::default() }, ..FgbWriterOptions::default() };
    let mut fgb = FgbWriter::create_with_options("events", GeometryType::Point, options).unwrap();
    for c in columns {
        fgb.add_column(c, ColumnType::String, |_, _| {});
    }
    fgb.add_column("count", ColumnType::Int, |_, _| {});
    for ((x, y), values) in rows {
        fgb.add_feature_geom(geo::Geometry::Point(geo::Point::new(*x, *y)), |f| {
            for (i, (c, v)) in columns.iter().zip(values).enumerate() {
                if !v.is_empty() {
                    f.property(i, c, &ColumnValue::String(v)).unwrap();
                }
            }
            f.property(columns.len(), "count", &ColumnValue::Int(7)).unwrap();
        })
        .unwrap();
    }
    fgb.write(&mut std::fs::File::create(path).unwrap()).unwrap();
}

#[test]
fn geojson_geojsonseq_and_flatgeobuf_imports_store_what_the_csv_import_stores() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let import = |file: &str, store: &str| {
        let out = leadmap(&["import", file, "--source", "t", "--data", store, "--json"]);
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        summary(&out)
    };
    let groups = ["white", "black", "hispanic_latino", "", "unknown"];
    let kinds = ["arrest", "diversion_referral", "social_contact_referral", "offense_report"];
    let mut csv_text = String::from("id,date,time,kind,lon,lat,offense,race_ethnicity,agency\n");
    let mut fgb_rows = Vec::new();
    for i in 0..300u32 {
        let (lon, lat) = (-122.70 + f64::from(i % 17) * 0.0031, 45.50 + f64::from(i % 13) * 0.0029);
        let values = [
            format!("case-{i:04}"),
            format!("2018-{:02}-{:02}", 1 + i % 12, 1 + i % 28),
            if i % 4 == 0 { String::new() } else { format!("{:02}:{:02}:00", i % 24, i % 60) },
            kinds[i as usize % kinds.len()].to_owned(),
            (if i % 5 == 0 { "SQ" } else { "PCS" }).to_owned(),
            groups[i as usize % 5].to_owned(),
            "PPB".to_owned(),
        ];
        writeln!(
            csv_text,
            "{},{},{},{},{lon},{lat},{},{},{}",
            values[0], values[1], values[2], values[3], values[4], values[5], values[6]
        )
        .unwrap();
        fgb_rows.push(((lon, lat), values.to_vec()));
    }
    std::fs::write(p("in.csv"), csv_text).unwrap();
    assert_eq!(import(&p("in.csv"), &p("a.gpkg"))["imported"], 300);
    let expected = stored_rows(Path::new(&p("a.gpkg")));

    // GeoJSON as `leadmap events export` writes it (its `id` property is the store's, `external_id` the
    // source's: the import takes external_id by name).
    let out = leadmap(&["events", "export", "--data", &p("a.gpkg"), "-o", &p("out.geojson")]);
    assert!(out.status.success());
    assert_eq!(import(&p("out.geojson"), &p("b.gpkg"))["imported"], 300);
    assert_eq!(stored_rows(Path::new(&p("b.gpkg"))), expected, "GeoJSON import");

    // The same features, one per line.
    let fc: Value = serde_json::from_str(&std::fs::read_to_string(p("out.geojson")).unwrap()).unwrap();
    let lines: Vec<String> = fc["features"].as_array().unwrap().iter().map(Value::to_string).collect();
    std::fs::write(p("out.geojsonl"), lines.join("\n") + "\n").unwrap();
    assert_eq!(import(&p("out.geojsonl"), &p("c.gpkg"))["imported"], 300);
    assert_eq!(stored_rows(Path::new(&p("c.gpkg"))), expected, "GeoJSON lines import");

    // FlatGeobuf with typed columns (an integer column is read and ignored).
    let columns = ["id", "date", "time", "kind", "offense", "race_ethnicity", "agency"];
    write_fgb(Path::new(&p("in.fgb")), 4326, &columns, &fgb_rows);
    let s = import(&p("in.fgb"), &p("d.gpkg"));
    assert_eq!((s["read"].as_u64(), s["imported"].as_u64()), (Some(300), Some(300)));
    assert_eq!(stored_rows(Path::new(&p("d.gpkg"))), expected, "FlatGeobuf import");
    // And again: nothing new.
    let s = import(&p("in.fgb"), &p("d.gpkg"));
    assert_eq!((s["imported"].as_u64(), s["unchanged"].as_u64()), (Some(0), Some(300)));
}

#[test]
fn flatgeobuf_in_state_plane_is_transformed_by_its_header_crs() {
    // EPSG:2913 points and pyproj's lon/lat for them (geodata/fixtures/reference/projection.csv).
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata/fixtures/reference/projection.csv");
    let mut rdr = csv::Reader::from_path(fixture).unwrap();
    let mut rows = Vec::new();
    let mut expected = BTreeMap::new();
    for (i, rec) in rdr.records().map(Result::unwrap).filter(|r| &r[0] == "2913").enumerate() {
        let v: Vec<f64> = (1..5).map(|k| rec[k].parse().unwrap()).collect();
        let id = format!("p{i:03}");
        expected.insert(id.clone(), (v[2], v[3]));
        rows.push(((v[0], v[1]), vec![id, "2012-03-04".to_owned()]));
    }
    assert!(rows.len() > 100);
    let dir = tempfile::tempdir().unwrap();
    let (fgb, store) = (dir.path().join("sp.fgb"), dir.path().join("s.gpkg"));
    write_fgb(&fgb, 2913, &["id", "date"], &rows);
    // No --crs and no preset: the CRS comes from the file's header only. The points span the CRS's
    // whole zone (northern Oregon), beyond the default plausible area around Portland's zones.
    let out = leadmap(&[
        "import",
        fgb.to_str().unwrap(),
        "--source",
        "sp",
        "--kind",
        "arrest",
        "--data",
        store.to_str().unwrap(),
        "--json",
        "--plausible-km",
        "500",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(summary(&out)["imported"].as_u64(), Some(rows.len() as u64));
    let conn = rusqlite::Connection::open(&store).unwrap();
    let mut stmt = conn.prepare("SELECT external_id, geom FROM events").unwrap();
    let got: Vec<(String, f64, f64)> = stmt
        .query_map([], |r| {
            let (id, geom): (String, Vec<u8>) = (r.get(0)?, r.get(1)?);
            let (lon, lat) = leadmap::store::gpkg::blob_point(&geom).unwrap();
            Ok((id, lon, lat))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got.len(), rows.len());
    for (id, lon, lat) in got {
        let (elon, elat) = expected[&id];
        // 1e-9 degrees is about 0.1 mm: centimetre-exact with room to spare.
        assert!((lon - elon).abs() < 1e-9 && (lat - elat).abs() < 1e-9, "{id}: ({lon}, {lat}) vs ({elon}, {elat})");
    }
}

#[test]
fn bad_features_are_rejected_by_feature_number_and_the_rest_stored() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.geojson");
    let feature = |id: &str, date: &str, geometry: &str| {
        format!(
            r#"{{"type":"Feature","properties":{{"id":"{id}","date":"{date}","kind":"arrest"}},"geometry":{geometry}}}"#
        )
    };
    let point = r#"{"type":"Point","coordinates":[-122.6793,45.5189]}"#;
    let features = [
        feature("f1", "2018-06-01", point),
        feature("f2", "2018-06-01", "null"),
        feature("f3", "2018-06-01", r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}"#),
        feature("f4", "2018-02-30", point),
        feature("f1", "2018-06-02", point),
        feature("f6", "2018-06-01", r#"{"type":"Point","coordinates":[45.5189,-122.6793]}"#),
        feature("f7", "2018-06-01", point),
    ];
    std::fs::write(
        &input,
        format!(r#"{{"type":"FeatureCollection","features":[{},{{"type":"Feat"#, features.join(",\n")),
    )
    .unwrap();
    let (store, rejects) = (dir.path().join("s.gpkg"), dir.path().join("r.csv"));
    let out = leadmap(&[
        "import",
        input.to_str().unwrap(),
        "--source",
        "t",
        "--data",
        store.to_str().unwrap(),
        "--json",
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let s = summary(&out);
    assert_eq!((s["read"].as_u64(), s["imported"].as_u64(), s["rejected"].as_u64()), (Some(8), Some(2), Some(6)));
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_path(&rejects).unwrap();
    let got: Vec<(String, String, String)> =
        rdr.records().map(Result::unwrap).map(|r| (r[1].to_owned(), r[2].to_owned(), r[3].to_owned())).collect();
    let expect = [
        ("2", "geometry", "the geometry is null"),
        ("3", "geometry", "Polygon, not a Point"),
        ("4", "date", "not a date"),
        ("5", "id", "already read at feature 1"),
        ("6", "geometry", "swap"),
        ("8", "record", "malformed JSON"),
    ];
    assert_eq!(got.len(), expect.len(), "{got:?}");
    for ((line, field, reason), (el, ef, er)) in got.iter().zip(expect) {
        assert_eq!((line.as_str(), field.as_str()), (el, ef), "{reason}");
        assert!(reason.contains(er), "{line}: {reason:?} should say {er:?}");
    }
    let conn = rusqlite::Connection::open(&store).unwrap();
    assert_eq!(strings(&conn, "SELECT external_id FROM events ORDER BY 1"), ["f1", "f7"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.geojson: feature 3: geometry"), "{stderr}");
}

#[test]
fn the_store_opens_in_ogrinfo_as_a_point_layer_with_every_event() {
    // GDAL is the reference reader of GeoPackages (QGIS opens them through it). CI installs gdal-bin;
    // elsewhere the check needs `apt-get install gdal-bin`.
    if Command::new("ogrinfo").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI must install gdal-bin (ogrinfo) for this test");
        eprintln!("ogrinfo not found: skipping the GDAL check (apt-get install gdal-bin)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (input, store) = (dir.path().join("in.csv"), dir.path().join("s.gpkg"));
    let mut text = String::from("id,date,kind,lon,lat\n");
    for i in 0..257 {
        writeln!(text, "g{i},2019-0{}-11,arrest,{},{}", 1 + i % 9, -122.68 + f64::from(i) * 1e-4, 45.52).unwrap();
    }
    std::fs::write(&input, text).unwrap();
    let out =
        leadmap(&["import", input.to_str().unwrap(), "--source", "g", "--data", store.to_str().unwrap(), "--json"]);
    assert_eq!(summary(&out)["imported"], 257);
    let out = Command::new("ogrinfo").args(["-ro", "-so", "-al"]).arg(&store).output().unwrap();
    let info = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{info}{}", String::from_utf8_lossy(&out.stderr));
    assert!(info.contains("Layer name: events"), "{info}");
    assert!(info.contains("Geometry: Point"), "{info}");
    assert!(info.contains("Feature Count: 257"), "{info}");
    assert!(info.contains("EPSG\",4326") || info.contains("EPSG:4326"), "{info}");
    assert!(info.contains("Extent: (-122.680000, 45.520000) - (-122.654400, 45.520000)"), "{info}");
    // GDAL reads the points themselves back.
    let out = Command::new("ogrinfo")
        .args(["-ro", "-q", "-sql", "SELECT external_id, geom FROM events WHERE external_id = 'g256'"])
        .arg(&store)
        .output()
        .unwrap();
    let rows = String::from_utf8_lossy(&out.stdout);
    assert!(rows.contains("POINT (-122.6544 45.52)"), "{rows}");
}

#[test]
fn an_import_killed_midway_leaves_whole_batches_and_a_rerun_completes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (input, store) = (dir.path().join("big.csv"), dir.path().join("s.gpkg"));
    let rows = 60_000u32;
    let mut text = String::with_capacity(rows as usize * 50);
    text.push_str("id,date,time,kind,lon,lat\n");
    for i in 0..rows {
        let (lon, lat) = (-122.70 + f64::from(i % 997) * 5e-5, 45.50 + f64::from(i % 991) * 5e-5);
        writeln!(text, "k{i:07},2019-{:02}-{:02},12:{:02}:00,arrest,{lon:.6},{lat:.6}", 1 + i % 12, 1 + i % 28, i % 60)
            .unwrap();
    }
    std::fs::write(&input, text).unwrap();
    let args = ["import", input.to_str().unwrap(), "--source", "k", "--data", store.to_str().unwrap(), "--json"];
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadmap"))
        .args(args)
        .args(["--batch", "1000"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it (no chance to clean up) once some batches are in, well before the end.
    let count = |store: &Path| -> i64 {
        rusqlite::Connection::open(store)
            .and_then(|c| c.query_row("SELECT count(*) FROM events", [], |r| r.get(0)))
            .unwrap_or(0)
    };
    let started = std::time::Instant::now();
    while count(&store) < 3_000 && started.elapsed() < std::time::Duration::from_mins(1) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    let stored = count(&store);
    assert!(!status.success(), "the import should have been killed before finishing ({stored} stored)");
    assert!(stored > 0 && stored < i64::from(rows), "{stored}");
    assert_eq!(stored % 1000, 0, "whole batches of 1000 only: {stored}");
    // The re-run stores the rest and finds the killed run's events unchanged.
    let s = summary(&leadmap(&args));
    assert_eq!(s["unchanged"].as_i64(), Some(stored));
    assert_eq!(s["imported"].as_i64(), Some(i64::from(rows) - stored));
    assert_eq!(s["stored"].as_u64(), Some(u64::from(rows)));
}

/// The h3-py reference points (`tools/reference/make_h3_reference.py`) written to `dir/pts.csv` and
/// imported into a new store in `dir` as events of rotating kinds, and the count h3-py gives each of
/// their cells at 7, 9 and 12.
fn h3_reference_store(dir: &Path) -> (std::path::PathBuf, BTreeMap<(u8, String), [u64; 3]>) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata/fixtures/reference/h3_cells.csv");
    let mut rdr = csv::Reader::from_path(fixture).unwrap();
    let kinds = ["arrest", "diversion_referral", "social_contact_referral"];
    let mut text = String::from("id,date,kind,lon,lat\n");
    let mut expected: BTreeMap<(u8, String), [u64; 3]> = BTreeMap::new();
    // (0, 0) is in the reference but never a plausible event location: left out here.
    let records = rdr.records().map(Result::unwrap).filter(|r| !(&r[0] == "0.0" && &r[1] == "0.0"));
    for (i, rec) in records.enumerate() {
        writeln!(text, "h{i},2019-05-05,{},{},{}", kinds[i % 3], &rec[0], &rec[1]).unwrap();
        for res in [7u8, 9, 12] {
            // The point's own cell (h3-py latlng_to_cell), not its res-15 cell's parent.
            expected.entry((res, rec[11 + usize::from(res - 5)].to_owned())).or_default()[i % 3] += 1;
        }
    }
    let (input, store) = (dir.join("pts.csv"), dir.join("s.gpkg"));
    std::fs::write(&input, text).unwrap();
    // Points all over the globe: the plausible area is widened to all of it.
    let (input_arg, store_arg) = (input.to_str().unwrap(), store.to_str().unwrap());
    let out =
        leadmap(&["import", input_arg, "--source", "h", "--data", store_arg, "--json", "--plausible-km", "40000"]);
    assert_eq!(summary(&out)["rejected"], 0);
    (store, expected)
}

#[test]
fn cells_count_stored_events_as_h3_py_does() {
    let dir = tempfile::tempdir().unwrap();
    let (store, expected) = h3_reference_store(dir.path());
    let input = dir.path().join("pts.csv");
    for res in [7u8, 9, 12] {
        let csv_out = dir.path().join(format!("cells-{res}.csv"));
        let out = leadmap(&[
            "cells",
            "--data",
            store.to_str().unwrap(),
            "--res",
            &res.to_string(),
            "-o",
            csv_out.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut rdr = csv::Reader::from_path(&csv_out).unwrap();
        assert_eq!(
            rdr.headers().unwrap(),
            vec![
                "hex_id",
                "count",
                "arrest",
                "diversion_referral",
                "social_contact_referral",
                "offense_report",
                "suppressed",
                "relation"
            ]
        );
        let got: BTreeMap<(u8, String), [u64; 3]> = rdr
            .records()
            .map(Result::unwrap)
            .map(|r| {
                let n = |k: usize| r[k].parse::<u64>().unwrap();
                assert_eq!(n(1), n(2) + n(3) + n(4));
                ((res, r[0].to_owned()), [n(2), n(3), n(4)])
            })
            .collect();
        let want: BTreeMap<_, _> =
            expected.iter().filter(|((r, _), _)| *r == res).map(|(k, v)| (k.clone(), *v)).collect();
        assert_eq!(got, want, "resolution {res}");
    }
    // GeoJSON: one closed hexagon (or pentagon) per cell, with the same counts.
    let out = leadmap(&["cells", "--data", store.to_str().unwrap(), "--res", "7", "--format", "geojson"]);
    let fc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let features = fc["features"].as_array().unwrap();
    assert_eq!(features.len(), expected.keys().filter(|(r, _)| *r == 7).count());
    let total: u64 = features.iter().map(|f| f["properties"]["count"].as_u64().unwrap()).sum();
    assert_eq!(total, 4005, "every reference point but (0, 0)");
    for f in features {
        let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
        assert!(ring.len() >= 6 && ring.first() == ring.last(), "{f}");
    }
    leadmap(&["cells", "--data", store.to_str().unwrap(), "--res", "13"]).status.code().filter(|c| *c != 0).unwrap();

    // The same points counted straight from the file (--input), and the store's cells as FlatGeobuf.
    let totals = |res: u8| -> BTreeMap<String, u64> {
        expected.iter().filter(|((r, _), _)| *r == res).map(|((_, c), v)| (c.clone(), v.iter().sum())).collect()
    };
    let out = leadmap(&["cells", "--input", input.to_str().unwrap(), "--res", "9"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut rdr = csv::Reader::from_reader(&out.stdout[..]);
    assert_eq!(rdr.headers().unwrap(), vec!["hex_id", "count", "relation"]);
    let got: BTreeMap<String, u64> =
        rdr.records().map(Result::unwrap).map(|r| (r[0].to_owned(), r[1].parse().unwrap())).collect();
    assert_eq!(got, totals(9), "--input");
    let fgb_path = dir.path().join("cells.fgb");
    let out = leadmap(&["cells", "--data", store.to_str().unwrap(), "--res", "12", "-o", fgb_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut got = BTreeMap::new();
    {
        use flatgeobuf::{FallibleStreamingIterator, FgbReader};
        use geozero::FeatureProperties;
        let file = std::io::BufReader::new(std::fs::File::open(&fgb_path).unwrap());
        let mut features = FgbReader::open(file).unwrap().select_all_seq().unwrap();
        while let Some(f) = features.next().unwrap() {
            let props = f.properties().unwrap();
            got.insert(props["hex_id"].clone(), props["count"].parse::<u64>().unwrap());
        }
    }
    assert_eq!(got, totals(12), "FlatGeobuf");
}

/// The second path: the store's own `GROUP BY` on the stored res-15 cell and fix code (integer
/// operations only) counts every cell at every resolution 5 to 12 as the in-memory columns do (which
/// count as h3-py does: the test above), on points all over the globe.
#[test]
fn the_stores_group_by_counts_every_cell_as_the_in_memory_columns_do() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = h3_reference_store(dir.path());
    let opened = leadmap::store::gpkg::GpkgStore::open(&store).unwrap();
    let columns = leadmap::store::load_columns(&opened).unwrap();
    for res in 5u8..=12 {
        let grouped = leadmap::store::EventStore::cell_groups(&opened, res).unwrap();
        let by_sql = grouped.cell_counts(res);
        let counts =
            columns.count_cells(&leadmap::events::filter::EventFilter::default(), res.to_string().parse().unwrap());
        let in_memory: BTreeMap<u64, [u64; 4]> = counts
            .iter()
            .map(|(c, k)| {
                (u64::from(*c), [k.arrest, k.diversion_referral, k.social_contact_referral, k.offense_report])
            })
            .collect();
        assert_eq!(by_sql, in_memory, "resolution {res}");
        assert!(grouped.groups.len() < 4005, "grouped in the store, not one row an event ({res})");
    }
}

#[test]
fn truncated_files_fail_or_reject_their_cut_record_and_keep_what_was_whole() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let rows: Vec<((f64, f64), Vec<String>)> = (0..400u32)
        .map(|i| {
            (
                (-122.70 + f64::from(i % 17) * 0.003, 45.50 + f64::from(i % 13) * 0.003),
                vec![format!("c{i}"), "2018-03-04".to_owned()],
            )
        })
        .collect();
    write_fgb(Path::new(&p("whole.fgb")), 4326, &["id", "date"], &rows);
    let bytes = std::fs::read(p("whole.fgb")).unwrap();
    // Cut at 70 %: the header promises 400 features, the file ends sooner.
    std::fs::write(p("cut.fgb"), &bytes[..bytes.len() * 7 / 10]).unwrap();
    let out = leadmap(&["import", &p("cut.fgb"), "--source", "t", "--kind", "arrest", "--data", &p("a.gpkg")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("truncated: its header promises 400 features and the file ends after"), "{err}");
    // What was read whole is kept (nothing accepted is lost), and says how much is missing.
    let stored = stored_rows(Path::new(&p("a.gpkg"))).len();
    assert!(stored > 0 && stored < 400, "{stored}");
    assert!(err.contains(&format!("the other {} are not", 400 - stored)), "{err}");

    // A CSV cut inside its last number: that row is rejected, not stored with a wrong coordinate.
    let text = "id,date,lon,lat\nc1,2018-03-04,-122.6793,45.5189\nc2,2018-03-04,-122.6793,45.51";
    std::fs::write(p("cut.csv"), text).unwrap();
    let out =
        leadmap(&["import", &p("cut.csv"), "--source", "t", "--kind", "arrest", "--data", &p("b.gpkg"), "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let s = summary(&out);
    assert_eq!((s["imported"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(1)));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cut.csv:3: record: the file ends inside this line"));
    // The same file with its line end is whole.
    std::fs::write(p("whole.csv"), format!("{text}89\n")).unwrap();
    let out =
        leadmap(&["import", &p("whole.csv"), "--source", "t", "--kind", "arrest", "--data", &p("c.gpkg"), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(summary(&out)["imported"], 2);
}

#[test]
fn implausible_locations_dates_and_overlong_fields_are_rejected_by_import_and_ingest_alike() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("odd.csv");
    let long = "x".repeat(300);
    std::fs::write(
        &input,
        format!(
            "id,date,kind,lon,lat,offense,agency\n\
             ok,2018-06-01,arrest,-122.6793,45.5189,PCS,PPB\n\
             null-island,2018-06-01,arrest,0,0,PCS,PPB\n\
             seattle,2018-06-01,arrest,-122.33,47.61,PCS,PPB\n\
             gresham,2018-06-01,arrest,-122.43,45.50,PCS,PPB\n\
             old,1989-12-31,arrest,-122.6793,45.5189,PCS,PPB\n\
             future,2999-01-01,arrest,-122.6793,45.5189,PCS,PPB\n\
             long-agency,2018-06-01,arrest,-122.6793,45.5189,PCS,{long}\n\
             {long},2018-06-01,arrest,-122.6793,45.5189,PCS,PPB\n"
        ),
    )
    .unwrap();
    let store = dir.path().join("s.gpkg");
    let rejects = dir.path().join("r.csv");
    let out = leadmap(&[
        "import",
        input.to_str().unwrap(),
        "--source",
        "test",
        "--data",
        store.to_str().unwrap(),
        "--json",
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    let s = summary(&out);
    assert_eq!((s["imported"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(6)), "{s}");
    let text = std::fs::read_to_string(&rejects).unwrap();
    let got: Vec<(String, String)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.splitn(5, ',').collect();
            (f[1].to_owned(), f[2].to_owned())
        })
        .collect();
    let expect = [("3", "lon"), ("4", "lon"), ("6", "date"), ("7", "date"), ("8", "agency"), ("9", "id")];
    assert_eq!(got, expect.map(|(a, b)| (a.to_owned(), b.to_owned())));
    for needle in
        ["(0, 0)", "plausible area (within 50 km", "plausible dates 1990-01-01", "longer than the limit of 256"]
    {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    // A wider area and an earlier first date let them in.
    let out = leadmap(&[
        "import",
        input.to_str().unwrap(),
        "--source",
        "test",
        "--data",
        store.to_str().unwrap(),
        "--json",
        "--plausible-km",
        "300",
        "--first-date",
        "1980-01-01",
    ]);
    let s = summary(&out);
    assert_eq!((s["imported"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(4)), "{s}");

    // POST /v1/events: the same checks, and dates exactly as the API writes them.
    let server = crate::support::Server::start(&["--data", dir.path().join("h.gpkg").to_str().unwrap()]);
    let event = |id: &str, lon: f64, lat: f64, day: &str| {
        serde_json::json!({"kind": "arrest", "occurred_on": day, "lon": lon, "lat": lat, "offense": "PCS",
                           "source": "feed", "external_id": id})
    };
    for (body, needle) in [
        (event("n", 0.0, 0.0, "2018-06-01"), "(0, 0)"),
        (event("s", -122.33, 47.61, "2018-06-01"), "plausible area"),
        (event("y", -122.6793, 45.5189, "-0001-06-01"), "not a date"),
        (event("y", -122.6793, 45.5189, "+10000-06-01"), "not a date"),
        (event("y", -122.6793, 45.5189, "1989-06-01"), "plausible dates"),
        (event(&long, -122.6793, 45.5189, "2018-06-01"), "external_id: 300 characters"),
    ] {
        let (status, problem) = server.post("/v1/events", &body);
        assert_eq!(status, 422, "{body}: {problem}");
        assert!(problem.to_string().contains(needle), "{needle}: {problem}");
    }
    let (status, answer) = server.post("/v1/events", &event("fine", -122.6793, 45.5189, "2018-06-01"));
    assert_eq!((status, answer["inserted"].as_u64()), (201, Some(1)), "{answer}");
}

#[test]
fn projected_input_in_the_wrong_crs_is_rejected_with_a_hint_and_2992_3857_and_geojson_crs_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("sp.csv");
    // NW Davis St & NW 1st Ave in EPSG:2913 (international feet), from the 2012 police data.
    std::fs::write(&input, "id,date,x,y\nd1,2012-03-04,7645653.23917,684826.7956\n").unwrap();
    let store = dir.path().join("s.gpkg");
    let run = |crs: &str, file: &Path| {
        leadmap(&[
            "import",
            file.to_str().unwrap(),
            "--source",
            "t",
            "--kind",
            "arrest",
            "--crs",
            crs,
            "--data",
            store.to_str().unwrap(),
            "--json",
        ])
    };
    // Read as Oregon South or UTM, the point lands far off: rejected, and the right system suggested.
    for wrong in ["EPSG:2914", "EPSG:26910", "EPSG:3857"] {
        let out = run(wrong, &input);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(summary(&out)["rejected"].as_u64(), Some(1), "{wrong}: {err}");
        assert!(err.contains("did you mean EPSG:2913") || err.contains("or EPSG:2913"), "{wrong}: {err}");
    }
    assert_eq!(summary(&run("EPSG:2913", &input))["imported"].as_u64(), Some(1));
    // Oregon Lambert (EPSG:2992) and web Mercator (EPSG:3857): pyproj's coordinates of one downtown point.
    let other = dir.path().join("other.csv");
    for (crs, x, y) in [
        ("EPSG:2992", 753_759.454_652_359_4, 1_381_244.425_182_904_1),
        ("EPSG:3857", -13_656_597.206_875_248, 5_703_584.963_535_159),
    ] {
        std::fs::write(&other, format!("id,date,x,y\n{crs},2019-03-04,{x},{y}\n")).unwrap();
        assert_eq!(summary(&run(crs, &other))["imported"].as_u64(), Some(1), "{crs}");
    }
    let out = leadmap(&["events", "export", "--data", store.to_str().unwrap(), "--format", "csv"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for crs in ["EPSG:2992", "EPSG:3857"] {
        let line = text.lines().find(|l| l.contains(crs)).unwrap_or_else(|| panic!("{crs}: {text}"));
        let f: Vec<&str> = line.split(',').collect();
        let (lon, lat): (f64, f64) = (f[4].parse().unwrap(), f[5].parse().unwrap());
        assert!((lon + 122.6793).abs() < 1e-7 && (lat - 45.5189).abs() < 1e-7, "{crs}: {line}");
    }
    // A GeoJSON file's crs member (as GDAL writes it) is honoured; after the features, it is an error.
    let feature = r#"{"type": "Feature", "properties": {"id": "g1", "date": "2012-03-04"}, "geometry": {"type": "Point", "coordinates": [7645653.23917, 684826.7956]}}"#;
    let crs = r#""crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2913"}}"#;
    let gj = dir.path().join("sp.geojson");
    std::fs::write(&gj, format!(r#"{{"type": "FeatureCollection", {crs}, "features": [{feature}]}}"#)).unwrap();
    let out = leadmap(&[
        "import",
        gj.to_str().unwrap(),
        "--source",
        "g",
        "--kind",
        "arrest",
        "--data",
        store.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(summary(&out)["imported"].as_u64(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(&gj, format!(r#"{{"type": "FeatureCollection", "features": [{feature}], {crs}}}"#)).unwrap();
    let out = leadmap(&[
        "import",
        gj.to_str().unwrap(),
        "--source",
        "g2",
        "--kind",
        "arrest",
        "--data",
        store.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("comes after the features"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Expansion candidates on the real data: a floor of contacts (default 10) and a study-area mask that
/// keeps every cell, neighbour and candidate inside it.
#[test]
fn candidates_have_a_floor_of_contacts_and_stay_inside_a_mask() {
    if !crate::support::have_shared() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::ppb_store(dir.path());
    let data = store.to_str().unwrap();
    let candidates = |extra: &[&str]| -> Vec<Value> {
        // Resolution 10: small clusters (even of cells without contacts, hot through their neighbours).
        let mut args = vec!["hotspots", "--data", data, "--res", "10", "--candidates"];
        args.extend(extra);
        let out = leadmap(&args);
        assert!(out.status.success(), "{extra:?}: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["features"].as_array().unwrap().clone()
    };
    let contacts = |f: &Value| f["properties"]["contacts"].as_u64().unwrap();
    let all = candidates(&["--min-contacts", "0"]);
    let default = candidates(&[]);
    assert!(all.iter().any(|f| contacts(f) < 10), "the data have small clusters");
    assert_eq!(default.len(), all.iter().filter(|f| contacts(f) >= 10).count());
    assert!(default.iter().all(|f| contacts(f) >= 10));
    let ranks: Vec<u64> = default.iter().map(|f| f["properties"]["rank"].as_u64().unwrap()).collect();
    assert_eq!(ranks, (1..=default.len() as u64).collect::<Vec<_>>(), "ranked without gaps");

    // A mask west of -122.66 (the river's east bank is further east downtown): every cell of the
    // statistic and every candidate lies in it.
    let mask = dir.path().join("west.geojson");
    std::fs::write(
        &mask,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[-122.85,45.40],[-122.66,45.40],[-122.66,45.65],[-122.85,45.65],[-122.85,45.40]]]}}]}"#,
    )
    .unwrap();
    let masked = candidates(&["--mask", mask.to_str().unwrap()]);
    assert!(!masked.is_empty() && masked.len() < default.len(), "{} of {}", masked.len(), default.len());
    let out = leadmap(&["hotspots", "--data", data, "--res", "9", "--mask", mask.to_str().unwrap(), "--format", "csv"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut n = 0;
    for line in text.lines().skip(1) {
        let cell = h3o::CellIndex::try_from(u64::from_str_radix(line.split(',').next().unwrap(), 16).unwrap()).unwrap();
        let ll = h3o::LatLng::from(cell);
        assert!(ll.lng() < -122.66 && ll.lat() > 45.40, "{cell} at {}, {} is outside the mask", ll.lng(), ll.lat());
        n += 1;
    }
    assert!(n > 100, "{n} cells");
    // A mask that is not polygons: the zone file's message, naming the file.
    std::fs::write(&mask, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[-122.7,45.5]}}]}"#).unwrap();
    let out = leadmap(&["hotspots", "--data", data, "--candidates", "--mask", mask.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("west.geojson") && err.contains("geometry type Point is not supported"), "{err}");
}
