//! The `leadmap` binary as a user runs it: JSON answers, hints, exit codes, files written.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{CITY_SELECT, fixture, leadmap, repo, shared};

fn stdout_json(out: &Output) -> Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn check_prints_one_json_answer_from_any_directory() {
    let v = stdout_json(&leadmap(&["check", "-122.6793", "45.5189", "--at", "2019-06-01"]));
    assert_eq!(v["eligible"], true);
    assert_eq!(v["program_in_force"], true);
    assert_eq!(v["program_note"], Value::Null);
    assert_eq!(v["zone"]["id"], "downtown");
    assert_eq!(v["zone"]["name"], "Downtown");
    assert_eq!(v["on_boundary"], false);
    assert_eq!(v["nearest_zone"], Value::Null);
    assert_eq!(v["zone_set"]["name"], "portland-lead-2018");
    assert_eq!(v["zone_set"]["status"], "approximation");
    assert_eq!(v["zone_set"]["effective_from"], "2018-05-16");
    assert_eq!(v["zone_set"]["version"].as_str().unwrap().len(), 16);
    assert!(v["distance_m"].as_f64().unwrap() > 0.0);

    // Today the built-in program has ended: in an area, but never eligible, and the answer says why.
    let today = stdout_json(&leadmap(&["check", "-122.6793", "45.5189"]));
    assert_eq!(today["eligible"], false);
    assert_eq!(today["program_in_force"], false);
    assert_eq!(today["zone"]["id"], "downtown", "where the point lies in the nearest set");
    let note = today["program_note"].as_str().unwrap();
    assert!(note.starts_with("No LEAD program is in force on ") && note.contains("portland-lead-2018"), "{note}");

    let old = stdout_json(&leadmap(&["check", "-122.6655", "45.5084", "--at", "2017-06-01"]));
    assert_eq!(old["zone_set"]["name"], "portland-lead-2017");
    assert_eq!(old["eligible"], false);
    assert_eq!(old["zone"], Value::Null);
    assert!(old["nearest_zone"]["id"].is_string());
}

#[test]
fn swapped_or_bad_coordinates_fail_with_a_hint() {
    let out = leadmap(&["check", "45.5189", "-122.6793"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("swap lon and lat"), "{}", stderr(&out));
    let out = leadmap(&["check", "-122.6793", "95"]);
    assert!(stderr(&out).contains("outside -90..90"), "{}", stderr(&out));
    let before = stdout_json(&leadmap(&["check", "-122.6793", "45.5189", "--at", "2010-01-01"]));
    assert_eq!((before["eligible"].as_bool(), before["program_in_force"].as_bool()), (Some(false), Some(false)));
    let note = before["program_note"].as_str().unwrap();
    assert!(
        note.contains("no zone set or rule set is in force then") && note.contains("it starts on 2017-02-27"),
        "{note}"
    );
}

#[test]
fn borderline_follows_the_configured_distance() {
    let v = stdout_json(&leadmap(&["check", "-122.6793", "45.5189", "--at", "2019-06-01"]));
    let d = v["distance_m"].as_f64().unwrap();
    let wide = stdout_json(&leadmap(&[
        "check",
        "-122.6793",
        "45.5189",
        "--at",
        "2019-06-01",
        "--borderline-m",
        &format!("{}", d + 1.0),
    ]));
    assert_eq!((v["borderline"].as_bool(), wide["borderline"].as_bool()), (Some(false), Some(true)));
}

#[test]
fn city_file_loads_with_zone_field_and_select() {
    if !crate::support::have_shared() {
        return;
    }
    let city = shared("data/portland/neighborhoods-regions-2021.geojson");
    let v = stdout_json(&leadmap(&[
        "check",
        "-122.6765",
        "45.5245",
        "--at",
        "2019-06-01",
        "--zones",
        city.to_str().unwrap(),
        "--zone-field",
        "NAME",
        "--select",
        CITY_SELECT,
    ]));
    assert_eq!(v["zone"]["id"], "old-town");
    assert_eq!(v["eligible"], true, "an undated file with the rules in force");
    assert_eq!(v["zone_set"]["name"], "Neighborhoods_(Regions)", "the file's own name member");
    assert_eq!(v["zone_set"]["status"], "unknown", "the City's file does not say");
    let out = leadmap(&["check", "-122.6765", "45.5245", "--zones", city.to_str().unwrap(), "--zone-field", "NAME"]);
    assert!(!out.status.success(), "all 98 neighbourhoods include overlapping ones");
    assert!(stderr(&out).contains("overlap"), "{}", stderr(&out));
}

#[test]
fn classify_adds_a_zone_column_and_reports_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("calls.csv");
    std::fs::write(
        &input,
        "id,lon,lat,note\n1,-122.6793,45.5189,square\n2,-122.6765,abc,typo\n3,-122.60,45.52,east\n4,45.52,-122.67,swapped\n5,,,blank\n",
    )
    .unwrap();
    let output = dir.path().join("out.csv");
    let rejects = dir.path().join("rejects.csv");
    let out = leadmap(&[
        "classify",
        input.to_str().unwrap(),
        "--at",
        "2019-06-01",
        "-o",
        output.to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "rejected rows give exit status 3: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("calls.csv:3: lat: lat \"abc\" is not a number"), "{err}");
    assert!(err.contains("calls.csv:5: lat:") && err.contains("swap"), "{err}");
    assert!(err.contains("calls.csv:6: lon: lon is empty"), "{err}");
    assert!(err.contains("read 5, classified 2") && err.contains("rejected 3"), "{err}");
    let written = std::fs::read_to_string(&output).unwrap();
    assert_eq!(written, "id,lon,lat,note,zone\n1,-122.6793,45.5189,square,downtown\n3,-122.60,45.52,east,\n");
    let rej = std::fs::read_to_string(&rejects).unwrap();
    assert!(rej.starts_with("line,field,reason,id,lon,lat,note\n3,lat,"), "{rej}");
    assert_eq!(rej.lines().count(), 4);
}

#[test]
fn classify_reads_geojson_points() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pts.geojson");
    std::fs::write(
        &input,
        r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"n":1},"geometry":{"type":"Point","coordinates":[-122.6668,45.5316]}},
          {"type":"Feature","properties":{"n":2},"geometry":{"type":"Point","coordinates":[-122.60,45.52]}},
          {"type":"Feature","properties":{"n":3},"geometry":null}]}"#,
    )
    .unwrap();
    let output = dir.path().join("out.geojson");
    let out = leadmap(&["classify", input.to_str().unwrap(), "--at", "2019-06-01", "-o", output.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("pts.geojson:feature 3: geometry"), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    assert_eq!(v["features"][0]["properties"]["zone"], "lloyd");
    assert_eq!(v["features"][1]["properties"]["zone"], Value::Null);
    assert_eq!(v["features"].as_array().unwrap().len(), 2);
}

#[test]
fn zones_list_show_validate_and_export() {
    let list = leadmap(&["zones", "list"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("portland-lead-2017") && text.contains("Lloyd District"), "{text}");
    assert!(text.contains("2018-05-16 to 2021-06-30, approximation"), "{text}");
    assert!(text.contains("No zone set is in force today"), "{text}");

    let show = stdout_json(&leadmap(&["zones", "show", "old-town", "--at", "2019-06-01"]));
    assert_eq!(show["type"], "Feature");
    assert_eq!(show["properties"]["name"], "Old Town");
    let missing = leadmap(&["zones", "show", "pearl", "--at", "2019-06-01"]);
    assert!(stderr(&missing).contains("has no zone \"pearl\""), "{}", stderr(&missing));
    let today = leadmap(&["zones", "show", "old-town"]);
    assert!(stderr(&today).contains("Give --at DATE"), "{}", stderr(&today));

    let ok = leadmap(&["zones", "validate", repo().join("geodata/portland-2017.geojson").to_str().unwrap()]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let bad = leadmap(&["zones", "validate", fixture("invalid/bowtie.geojson").to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("bowtie.geojson") && stderr(&bad).contains("self-intersection"));

    let dir = tempfile::tempdir().unwrap();
    let fgb = dir.path().join("zones.fgb");
    let gj = dir.path().join("zones.geojson");
    for p in [&fgb, &gj] {
        let out = leadmap(&["zones", "export", "--at", "2019-06-01", "-o", p.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let original = stdout_json(&leadmap(&["check", "-122.6765", "45.5245", "--at", "2019-06-01"]));
    for p in [&fgb, &gj] {
        let again = stdout_json(&leadmap(&[
            "check",
            "-122.6765",
            "45.5245",
            "--at",
            "2019-06-01",
            "--zones",
            p.to_str().unwrap(),
        ]));
        assert_eq!(again["zone"], original["zone"], "{}", p.display());
        assert_eq!(again["zone_set"], original["zone_set"], "{}: same name, status, dates and version", p.display());
    }
    assert!(Path::new(&fgb).metadata().unwrap().len() > 1000);
}

#[test]
fn help_has_examples_and_states_the_axis_order() {
    let out = leadmap(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("LON then LAT") && text.contains("leadmap check -122.6793 45.5189"));
    let out = leadmap(&["check", "--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Longitude"));
}

#[test]
fn classify_by_row_date_uses_the_zone_set_in_force_that_day() {
    if !crate::support::have_shared() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("ppb-zoned.csv");
    let rejects = dir.path().join("rejects.csv");
    let ppb = shared("data/portland/ppb-drug-offenses-2015-2021.csv");
    let out = leadmap(&[
        "classify",
        ppb.to_str().unwrap(),
        "--date-col",
        "OccurDate",
        "-o",
        output.to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));

    let catalog = leadmap::zones::ZoneCatalog::new(
        leadmap::builtin::zone_sets().unwrap(),
        leadmap::zones::IndexOptions::default(),
    );
    let mut rdr = csv::Reader::from_path(&output).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (date_i, lon_i, lat_i, zone_i, set_i) =
        (col("OccurDate"), col("OpenDataLon"), col("OpenDataLat"), col("zone"), col("zone_set"));
    let mut by_set = std::collections::BTreeMap::<String, usize>::new();
    for row in rdr.records() {
        let row = row.unwrap();
        let date: chrono::NaiveDate = row[date_i].parse().unwrap();
        let expected_set = if date >= chrono::NaiveDate::from_ymd_opt(2018, 5, 16).unwrap() {
            "portland-lead-2018"
        } else {
            "portland-lead-2017"
        };
        assert_eq!(&row[set_i], expected_set, "row dated {date}");
        let idx = catalog.in_force(date).unwrap();
        let zone = idx.zone_at(row[lon_i].parse().unwrap(), row[lat_i].parse().unwrap()).0;
        assert_eq!(&row[zone_i], zone.map_or("", |z| idx.set().zones()[z].id.as_str()));
        *by_set.entry(row[set_i].to_owned()).or_default() += 1;
    }
    assert!(by_set["portland-lead-2017"] > 500 && by_set["portland-lead-2018"] > 3000, "{by_set:?}");

    // Rows before the pilot began or after it ended have no zone set; rows without coordinates have no
    // point.
    let mut rej = csv::ReaderBuilder::new().flexible(true).from_path(&rejects).unwrap();
    let mut reasons = std::collections::BTreeMap::<String, usize>::new();
    for row in rej.records() {
        let row = row.unwrap();
        let kind = if row[2].contains("no zone set is in force") { "outside the pilot" } else { &row[2] };
        *reasons.entry(kind.to_owned()).or_default() += 1;
    }
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons["OpenDataLon is empty (no coordinates)"], 242);
    let located: usize = by_set.values().sum();
    assert_eq!(located + reasons["outside the pilot"], 8955);
}

#[test]
fn classify_refuses_to_overwrite_its_input_and_blames_the_right_column() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("calls.csv");
    let text = "id,lon,lat,zone\n1,NaN,45.5189,x\n2,-122.6793,45.5189,y\n";
    std::fs::write(&input, text).unwrap();
    let out = leadmap(&["classify", input.to_str().unwrap(), "-o", input.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is the input ("), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&input).unwrap(), text, "the input is untouched");

    let output = dir.path().join("out.csv");
    let out = leadmap(&["classify", input.to_str().unwrap(), "--at", "2019-06-01", "-o", output.to_str().unwrap()]);
    assert!(stderr(&out).contains("calls.csv:2: lon:"), "NaN longitude is the lon column's fault: {}", stderr(&out));
    let written = std::fs::read_to_string(&output).unwrap();
    assert_eq!(
        written, "id,lon,lat,zone,leadmap_zone\n2,-122.6793,45.5189,y,downtown\n",
        "an existing zone column is kept"
    );
}

#[test]
fn classify_by_date_works_with_history_only_zone_sets() {
    // A set that ended long ago: --date-col must not need a set in force today.
    let dir = tempfile::tempdir().unwrap();
    let zones = dir.path().join("old.geojson");
    let text = std::fs::read_to_string(repo().join("geodata/portland-2017.geojson")).unwrap();
    std::fs::write(&zones, text).unwrap();
    let input = dir.path().join("h.csv");
    std::fs::write(&input, "date,lon,lat\n2017-06-01,-122.6793,45.5189\n2019-06-01,-122.6793,45.5189\n").unwrap();
    let output = dir.path().join("out.csv");
    let out = leadmap(&[
        "classify",
        input.to_str().unwrap(),
        "--zones",
        zones.to_str().unwrap(),
        "--date-col",
        "date",
        "-o",
        output.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("h.csv:3: date: no zone set is in force on 2019-06-01"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "date,lon,lat,zone,zone_set\n2017-06-01,-122.6793,45.5189,downtown,portland-lead-2017\n"
    );
    // Two files with the same set name are refused: the zone_set column would be ambiguous.
    let out = leadmap(&[
        "check",
        "-122.6793",
        "45.5189",
        "--zones",
        zones.to_str().unwrap(),
        "--zones",
        zones.to_str().unwrap(),
    ]);
    assert!(stderr(&out).contains("two zone sets are named \"portland-lead-2017\""), "{}", stderr(&out));
}

#[test]
fn classify_reads_each_rows_gps_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("fixes.csv");
    // Powell's Books, about 25 m outside Downtown: borderline at 30 m, not at 5 m; the default (25 m)
    // for an empty cell; a bad value is rejected naming its column.
    std::fs::write(
        &input,
        "id,lon,lat,accuracy_m\n1,-122.6813,45.5232,30\n2,-122.6813,45.5232,5\n3,-122.6813,45.5232,\n4,-122.6793,45.5189,0\n",
    )
    .unwrap();
    let output = dir.path().join("out.csv");
    let out = leadmap(&["classify", input.to_str().unwrap(), "--at", "2019-06-01", "-o", output.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("fixes.csv:5: accuracy_m: accuracy_m 0 is not a GPS accuracy"), "{}", stderr(&out));
    let written = std::fs::read_to_string(&output).unwrap();
    assert_eq!(
        written,
        "id,lon,lat,accuracy_m,zone,borderline,coverage_borderline\n\
         1,-122.6813,45.5232,30,,true,true\n\
         2,-122.6813,45.5232,5,,false,false\n\
         3,-122.6813,45.5232,,,true,true\n"
    );
    // Columns the input already has are kept as they were; the answers go beside them, and stderr says where.
    let stale = dir.path().join("stale.csv");
    std::fs::write(
        &stale,
        "lon,lat,accuracy_m,zone,leadmap_zone,coverage_borderline\n-122.6813,45.5232,30,old-town,x,false\n",
    )
    .unwrap();
    let out = leadmap(&["classify", stale.to_str().unwrap(), "--at", "2019-06-01"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "lon,lat,accuracy_m,zone,leadmap_zone,coverage_borderline,leadmap_zone_2,borderline,leadmap_coverage_borderline\n\
         -122.6813,45.5232,30,old-town,x,false,,true,true\n"
    );
    let err = stderr(&out);
    assert!(
        err.contains(
            "stale.csv: the input already has \"zone\", kept as it was; leadmap's answer is in \"leadmap_zone_2\""
        ),
        "{err}"
    );
    assert!(err.contains("answer is in \"leadmap_coverage_borderline\""), "{err}");
    // Another column name, by --accuracy-col; without one, no borderline columns.
    let renamed = dir.path().join("renamed.csv");
    std::fs::write(&renamed, "lon,lat,gps\n-122.6813,45.5232,5\n").unwrap();
    let out = leadmap(&["classify", renamed.to_str().unwrap(), "--at", "2019-06-01", "--accuracy-col", "gps"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "lon,lat,gps,zone,borderline,coverage_borderline\n-122.6813,45.5232,5,,false,false\n"
    );
    let out = leadmap(&["classify", renamed.to_str().unwrap(), "--at", "2019-06-01"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "lon,lat,gps,zone\n-122.6813,45.5232,5,\n");
    let out = leadmap(&["classify", renamed.to_str().unwrap(), "--at", "2019-06-01", "--accuracy-col", "acc"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("acc"), "{}", stderr(&out));
}

/// A small store of the demo events, and its bytes.
fn demo_store(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
    let store = dir.join("events.gpkg");
    let events = repo().join("geodata/demo/events.csv");
    let out =
        leadmap(&["import", events.to_str().unwrap(), "--source", "demo", "--data", store.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(&store).unwrap();
    (store, bytes)
}

#[test]
fn coverage_and_equity_tables_in_csv_hold_what_their_json_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = demo_store(dir.path());
    let s = store.to_str().unwrap();
    for (command, rows_key, key_fields) in
        [("coverage", "months", ["area", "month"]), ("equity", "rows", ["area", "group"])]
    {
        let json = leadmap(&[command, "--data", s, "--format", "json"]);
        assert!(json.status.success(), "{}", stderr(&json));
        let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        let csv_out = leadmap(&[command, "--data", s]);
        assert!(csv_out.status.success(), "{}", stderr(&csv_out));
        let mut reader = csv::Reader::from_reader(&csv_out.stdout[..]);
        let header = reader.headers().unwrap().clone();
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let mut want: Vec<&serde_json::Value> = json[rows_key].as_array().unwrap().iter().collect();
        if command == "coverage" {
            want.extend(json["totals"].as_array().unwrap());
        }
        assert_eq!(records.len(), want.len(), "{command}: one CSV row per JSON row");
        assert!(!records.is_empty(), "{command}: the demo events give rows");
        for (record, row) in records.iter().zip(want) {
            for field in key_fields {
                let at = header.iter().position(|h| h == field).unwrap();
                assert_eq!(&record[at], row[field].as_str().unwrap(), "{command} {field}");
            }
            let contacts = header.iter().position(|h| h == "contacts").unwrap();
            assert_eq!(record[contacts], row["contacts"].to_string().replace("null", ""), "{command}");
        }
    }
}

#[test]
fn dates_are_read_one_way_and_a_backwards_window_is_refused() {
    // Every date option reads exactly YYYY-MM-DD, as the HTTP API does: 2019-6-1 or 06/01/2019 could be
    // read more than one way.
    for args in [
        vec!["check", "-122.6793", "45.5189", "--at", "2019-6-1"],
        vec!["zones", "show", "old-town", "--at", "06/01/2019"],
        vec!["cells", "--data", "x.gpkg", "--from", "+2019-01-01"],
    ] {
        let out = leadmap(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("is not a date: use YYYY-MM-DD, e.g. 2018-06-01"), "{args:?}: {}", stderr(&out));
    }
    assert!(leadmap(&["check", "-122.6793", "45.5189", "--at", "2019-06-01"]).status.success());
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = demo_store(dir.path());
    for command in ["cells", "coverage", "equity"] {
        let out = leadmap(&[command, "--data", store.to_str().unwrap(), "--from", "2020-01-02", "--to", "2020-01-01"]);
        assert!(!out.status.success(), "{command}");
        assert!(stderr(&out).contains("from 2020-01-02 is after to 2020-01-01"), "{command}: {}", stderr(&out));
    }
    // The export too (it wrote an empty file and succeeded), and it leaves no file behind.
    let out_file = dir.path().join("backwards.csv");
    let out = leadmap(&[
        "events",
        "export",
        "--data",
        store.to_str().unwrap(),
        "--from",
        "2020-01-02",
        "--to",
        "2020-01-01",
        "-o",
        out_file.to_str().unwrap(),
    ]);
    assert!(!out.status.success(), "events export: {}", stderr(&out));
    assert!(stderr(&out).contains("from 2020-01-02 is after to 2020-01-01"), "events export: {}", stderr(&out));
    assert!(!out_file.exists(), "events export wrote a file for a window that holds no day");
}

#[test]
fn no_command_writes_over_the_store_or_an_input_by_any_name() {
    let dir = tempfile::tempdir().unwrap();
    let (store, bytes) = demo_store(dir.path());
    let s = store.to_str().unwrap();
    let link = dir.path().join("link.csv");
    std::fs::hard_link(&store, &link).unwrap();
    let l = link.to_str().unwrap();
    let events = repo().join("geodata/demo/events.csv");
    let input = dir.path().join("input.csv");
    std::fs::copy(&events, &input).unwrap();
    let input_text = std::fs::read(&input).unwrap();
    let i = input.to_str().unwrap();
    let input_link = dir.path().join("input-link.csv");
    std::fs::hard_link(&input, &input_link).unwrap();
    let il = input_link.to_str().unwrap();
    for args in [
        vec!["cells", "--data", s, "-o", s],
        vec!["cells", "--data", s, "-o", l],
        vec!["hotspots", "--data", s, "-o", l],
        vec!["hotspots", "--data", s, "--candidates", "-o", s],
        vec!["coverage", "--data", s, "-o", l],
        vec!["equity", "--data", s, "-o", l],
        vec!["events", "export", "--data", s, "-o", l],
        vec!["import", i, "--source", "demo", "--data", s, "--rejects", l],
        vec!["import", i, "--source", "demo", "--data", s, "--rejects", il],
        vec!["import", i, "--source", "demo", "--data", i],
        vec!["classify", i, "--at", "2019-06-01", "-o", il],
        vec!["classify", i, "--at", "2019-06-01", "-o", "out.csv", "--rejects", il],
    ] {
        let out = leadmap(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?} must fail: {}", stderr(&out));
        let e = stderr(&out);
        assert!(e.contains("would destroy it") || e.contains("both an input and the store"), "{args:?}: {e}");
        assert_eq!(std::fs::read(&store).unwrap(), bytes, "{args:?}: the store is untouched");
        assert_eq!(std::fs::read(&input).unwrap(), input_text, "{args:?}: the input is untouched");
    }
    // Outputs the command cannot write are refused with those it can, not written as CSV.
    for (args, formats) in [
        (vec!["cells", "--data", s, "-o", "x.gpkg"], ".csv, .geojson, .json, .fgb"),
        (vec!["coverage", "--data", s, "-o", "x.xlsx"], ".csv, .json"),
        (vec!["events", "export", "--data", s, "-o", "x.shp"], ".geojson, .json, .csv"),
        (vec!["import", i, "--source", "demo", "--data", s, "--rejects", "bad.xlsx"], ".csv"),
    ] {
        let out = leadmap(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains(&format!(
                "cannot write .{} files; it writes {formats}",
                args.last().unwrap().rsplit('.').next().unwrap()
            )),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // A good output still works, and a store-sized file appears only whole.
    let good = dir.path().join("cells.csv");
    let out = leadmap(&["cells", "--data", s, "-o", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&good).unwrap().starts_with("hex_id,count"));
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("leadmap-"))
        .collect();
    assert!(left.is_empty(), "no temporary files left: {left:?}");
}

#[test]
fn a_failed_command_leaves_an_existing_output_untouched_and_no_half_file() {
    let dir = tempfile::tempdir().unwrap();
    // GeoJSON broken after its first feature: classify fails part-way.
    let input = dir.path().join("points.geojson");
    std::fs::write(
        &input,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[-122.6793,45.5189]}},{"type":"Feature","prop"#,
    )
    .unwrap();
    let out_file = dir.path().join("zoned.geojson");
    std::fs::write(&out_file, "yesterday's answer").unwrap();
    let out = leadmap(&["classify", input.to_str().unwrap(), "--at", "2019-06-01", "-o", out_file.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "yesterday's answer");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no half file beside it");
}

#[test]
fn a_failed_import_leaves_no_empty_store_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("new.gpkg");
    let missing = dir.path().join("no-such-file.csv");
    let out = leadmap(&["import", missing.to_str().unwrap(), "--source", "x", "--data", store.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no-such-file.csv"), "{}", stderr(&out));
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "nothing left: {left:?}");
    // An existing store is kept, whatever happens.
    let (store, bytes) = demo_store(dir.path());
    let out = leadmap(&["import", missing.to_str().unwrap(), "--source", "x", "--data", store.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(store.exists());
    let _ = bytes;
}

/// Writes a zone file whose features are (id, Polygon coordinates as JSON text) and returns its path.
fn zone_file(dir: &Path, name: &str, features: &[(&str, &str)]) -> String {
    let features: Vec<String> = features
        .iter()
        .map(|(id, coords)| {
            format!(
                r#"{{"type":"Feature","id":"{id}","properties":{{"name":"{id}"}},"geometry":{{"type":"Polygon","coordinates":{coords}}}}}"#
            )
        })
        .collect();
    let path = dir.join(name);
    let text = format!(r#"{{"type":"FeatureCollection","name":"t","features":[{}]}}"#, features.join(","));
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `zones validate` and `check` on one file: both fail, `validate` with exit code 1; returns validate's
/// message after checking `check` says the same.
fn refused(path: &str) -> String {
    let out = leadmap(&["zones", "validate", path]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let validate = stderr(&out);
    let check = leadmap(&["check", "-122.6", "45.5", "--at", "2019-06-01", "--zones", path]);
    assert!(!check.status.success());
    let first = validate.lines().next().unwrap().trim_start_matches("error: ");
    assert!(stderr(&check).contains(first), "check says the same: {}\nvalidate: {validate}", stderr(&check));
    validate
}

#[test]
fn zone_files_across_the_antimeridian_of_no_area_or_too_many_positions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fiji = zone_file(
        dir.path(),
        "fiji.geojson",
        &[("fiji", "[[[179.5,-17],[-179.5,-17],[-179.5,-16],[179.5,-16],[179.5,-17]]]")],
    );
    let e = refused(&fiji);
    assert!(e.contains("fiji.geojson") && e.contains("feature 1 (\"fiji\")"), "{e}");
    assert!(e.contains("crosses the antimeridian") && e.contains("RFC 7946 §3.1.9: cut it in two at ±180"), "{e}");

    let flat = zone_file(
        dir.path(),
        "flat.geojson",
        &[("flat", "[[[-122.6,45.5],[-122.5,45.6],[-122.4,45.7],[-122.6,45.5]]]")],
    );
    let e = refused(&flat);
    assert!(e.contains("feature 1 (\"flat\")") && e.contains("exterior ring encloses no area"), "{e}");

    let half = leadmap::zones::MAX_VERTICES / 2;
    let ring = |n: usize| format!("[[{}]]", vec!["[-122.6,45.5]"; n].join(","));
    let (a, b) = (ring(half), ring(half + 1));
    let big = zone_file(dir.path(), "big.geojson", &[("a", &a), ("b", &b)]);
    let e = refused(&big);
    assert!(e.contains("big.geojson") && e.contains("1000001 positions") && e.contains("at most 1000000"), "{e}");
}

/// Issue 16: one zone of 100 000 vertices (a wiggly circle round Portland, with a triangular hole) is
/// validated and answered by the binary as any other zone file.
#[test]
fn a_zone_of_100_000_vertices_validates_and_answers() {
    let n = 100_000;
    let spacing = 0.05 * std::f64::consts::TAU / f64::from(n);
    let ring: Vec<String> = (0..=n)
        .map(|i| {
            let t = std::f64::consts::TAU * f64::from(i % n) / f64::from(n);
            let r = if i % 2 == 0 { 0.05 } else { 0.05 - spacing };
            format!("[{},{}]", -122.6 + r * t.cos(), 45.5 + r * t.sin())
        })
        .collect();
    let hole = "[[-122.6,45.5],[-122.59,45.5],[-122.59,45.51],[-122.6,45.5]]";
    let dir = tempfile::tempdir().unwrap();
    let path = zone_file(dir.path(), "wiggly.geojson", &[("wiggly", &format!("[[{}],{hole}]", ring.join(",")))]);
    let out = leadmap(&["zones", "validate", &path]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = stdout_json(&leadmap(&["check", "-122.57", "45.5", "--at", "2019-06-01", "--zones", &path]));
    assert_eq!(v["zone"]["id"], "wiggly");
    assert_eq!(v["on_boundary"], false);
    let d = v["distance_m"].as_f64().unwrap();
    assert!(d > 1000.0 && d < 2000.0, "{d} m from the hole's east edge and the ring");
}

#[test]
fn reserved_zone_ids_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let square = "[[[-122.6,45.5],[-122.59,45.5],[-122.59,45.51],[-122.6,45.51],[-122.6,45.5]]]";
    let far = "[[[-122.5,45.5],[-122.49,45.5],[-122.49,45.51],[-122.5,45.51],[-122.5,45.5]]]";
    for id in leadmap::zones::RESERVED_ZONE_IDS {
        let path = zone_file(dir.path(), &format!("{id}.geojson"), &[("fine", square), (id, far)]);
        let e = refused(&path);
        assert!(e.contains(&format!("feature 2 (\"{id}\"): zone id \"{id}\" is reserved")), "{e}");
    }
}

#[test]
fn zones_validate_lists_every_overlapping_pair_of_the_city_file() {
    use geo::{BooleanOps, Relate};
    if !crate::support::have_shared() {
        return;
    }
    let city = shared("data/portland/neighborhoods-regions-2021.geojson");
    let out = leadmap(&["zones", "validate", city.to_str().unwrap(), "--zone-field", "NAME"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    let listed: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("zones \""))
        .map(|l| {
            let parts: Vec<&str> = l.split('"').collect();
            (parts[0].to_owned(), parts[2].to_owned())
        })
        .collect();
    // Brute force: every pair of the 98 neighbourhoods, related and intersected.
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&city).unwrap()).unwrap();
    let mut zones: Vec<(String, geo::MultiPolygon<f64>)> = doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let id = leadmap::zones::ZoneId::slugify(f["properties"]["NAME"].as_str().unwrap()).unwrap();
            let g = &f["geometry"];
            let polys: Vec<Value> = if g["type"] == "Polygon" {
                vec![g["coordinates"].clone()]
            } else {
                g["coordinates"].as_array().unwrap().clone()
            };
            let raw: Vec<leadmap::zones::RawPolygon> = polys
                .iter()
                .map(|p| {
                    p.as_array()
                        .unwrap()
                        .iter()
                        .map(|r| {
                            r.as_array()
                                .unwrap()
                                .iter()
                                .map(|c| [c[0].as_f64().unwrap(), c[1].as_f64().unwrap()])
                                .collect()
                        })
                        .collect()
                })
                .collect();
            (id.as_str().to_owned(), leadmap::zones::validate_polygons(&raw).unwrap())
        })
        .collect();
    zones.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = Vec::new();
    for (i, (a, ga)) in zones.iter().enumerate() {
        for (b, gb) in &zones[i + 1..] {
            let im = ga.relate(gb);
            if im.get(geo::coordinate_position::CoordPos::Inside, geo::coordinate_position::CoordPos::Inside)
                == geo::dimensions::Dimensions::TwoDimensional
                && leadmap::zones::area_m2(&ga.intersection(gb)) > leadmap::zones::OVERLAP_TOLERANCE_M2
            {
                expected.push((a.clone(), b.clone()));
            }
        }
    }
    assert!(expected.len() > 20, "the City file has many overlapping pairs: {expected:?}");
    assert_eq!(listed, expected, "{text}");
    assert!(text.contains(&format!("{} pair(s) of zones overlap", expected.len())), "{text}");
}

#[test]
fn version_names_the_commit_the_build_date_and_the_embedded_zone_and_rule_sets_and_completions_and_man_are_made() {
    let out = leadmap(&["--version"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("leadmap {} (commit ", env!("CARGO_PKG_VERSION"))) && first.contains(", built 20"),
        "{text}"
    );
    // The versions are the content hashes the service reports (GET /readyz, zone_set.version).
    for set in leadmap::builtin::zone_sets().unwrap() {
        assert!(text.contains(&format!("zone set {} {}", set.meta().name, set.version())), "{text}");
    }
    for set in leadmap::builtin::rule_sets().unwrap() {
        assert!(text.contains(&format!("rule set {} {}", set.name(), set.version())), "{text}");
    }
    assert_eq!(String::from_utf8_lossy(&leadmap(&["-V"]).stdout).trim(), first);
    let bash = leadmap(&["completions", "bash"]);
    assert!(bash.status.success() && String::from_utf8_lossy(&bash.stdout).contains("serve"));
    let man = leadmap(&["man"]);
    let man = String::from_utf8_lossy(&man.stdout);
    assert!(man.contains(".TH leadmap 1") && man.contains("serve"), "{man}");
    assert!(!leadmap(&["completions", "cmd.exe"]).status.success());
}

/// Whether `tool` runs here (`tool --version`).
fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

#[test]
fn the_systemd_unit_and_the_dockerfile_pass_their_checkers_where_available() {
    let unit = std::fs::read_to_string(repo().join("deploy/leadmap.service")).unwrap();
    // What the README promises of them, whatever the machine has.
    for needed in [
        "DynamicUser=yes",
        "ReadWritePaths=/var/lib/leadmap",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
    ] {
        assert!(unit.contains(needed), "the unit lacks {needed}");
    }
    let docker = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    assert_eq!(docker.lines().filter(|l| l.starts_with("FROM ")).count(), 2, "multi-stage");
    let user = docker.lines().rev().find_map(|l| l.strip_prefix("USER ")).expect("a USER");
    assert!(!user.starts_with("root") && !user.starts_with('0'), "runs as {user}");
    for needed in ["HEALTHCHECK", "VOLUME [\"/var/lib/leadmap\"]", "EXPOSE 8080"] {
        assert!(docker.contains(needed), "the Dockerfile lacks {needed}");
    }
    // The example config is one leadmap reads (its keys are checked before --help is answered).
    let config = repo().join("deploy/leadmap.toml");
    let out = leadmap(&["serve", "--config", config.to_str().unwrap(), "--help"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // systemd's own check, on the unit with ExecStart pointing at this build.
    if have("systemd-analyze") {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("leadmap.service");
        std::fs::write(&copy, unit.replace("/usr/local/bin/leadmap", env!("CARGO_BIN_EXE_leadmap"))).unwrap();
        let out = Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&copy).output().unwrap();
        assert!(out.status.success() && out.stderr.is_empty(), "systemd-analyze verify: {}", stderr(&out));
    } else {
        eprintln!("skipped: systemd-analyze is not installed (Debian: apt-get install systemd)");
    }
    if have("hadolint") {
        let out = Command::new("hadolint").arg(repo().join("Dockerfile")).output().unwrap();
        assert!(out.status.success(), "hadolint: {}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    } else {
        eprintln!("skipped: hadolint is not installed (no Debian package; https://github.com/hadolint/hadolint)");
    }
}

/// The words of an example line as a shell would split them (quotes kept together), up to a comment
/// (`#`) or a redirection or pipe (`>`, `<`, `|`).
fn shell_words(line: &str) -> Vec<String> {
    let (mut out, mut word, mut quote, mut quoted) = (Vec::new(), String::new(), None, false);
    // Inside `$( … )` (a command substitution: one word, whatever its spaces).
    let mut depth = 0;
    for c in line.chars() {
        if depth > 0 || (c == '(' && word.ends_with('$')) {
            depth += i32::from(c == '(') - i32::from(c == ')');
            word.push(c);
            continue;
        }
        match quote {
            Some(q) if c == q => quote = None,
            None if c == '\'' || c == '"' => (quote, quoted) = (Some(c), true),
            None if matches!(c, '#' | '>' | '<' | '|') && word.is_empty() && !quoted => break,
            None if c.is_whitespace() => {
                if !word.is_empty() || quoted {
                    out.push(std::mem::take(&mut word));
                    quoted = false;
                }
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() || quoted {
        out.push(word);
    }
    out
}

#[test]
fn every_command_shows_examples_and_every_example_parses() {
    use clap::CommandFactory;
    let mut root = leadmap::cli::Cli::command();
    root.build();
    // The root and every command without subcommands of its own.
    let mut commands = vec![(String::from("leadmap"), root.clone())];
    let mut stack: Vec<(String, clap::Command)> = root
        .get_subcommands()
        .filter(|c| c.get_name() != "help")
        .map(|c| (format!("leadmap {}", c.get_name()), c.clone()))
        .collect();
    while let Some((path, cmd)) = stack.pop() {
        let subs: Vec<_> = cmd.get_subcommands().filter(|c| c.get_name() != "help").cloned().collect();
        if subs.is_empty() {
            commands.push((path, cmd));
        } else {
            stack.extend(subs.into_iter().map(|c| (format!("{path} {}", c.get_name()), c)));
        }
    }
    assert!(commands.len() >= 17, "{} commands", commands.len());
    let mut examples = 0;
    for (path, mut cmd) in commands {
        let help = cmd.render_long_help().to_string();
        let Some((_, after)) = help.split_once("Examples:") else { panic!("{path} --help shows no examples:\n{help}") };
        // Example lines, with `\` continuations joined.
        let mut lines: Vec<String> = Vec::new();
        for line in after.lines() {
            match lines.last_mut() {
                Some(last) if last.ends_with('\\') => {
                    last.pop();
                    last.push_str(line);
                }
                _ if line.trim_start().starts_with("leadmap ") => lines.push(line.to_owned()),
                _ => {}
            }
        }
        let own: Vec<&String> =
            lines.iter().filter(|l| path == "leadmap" || l.trim_start().starts_with(&path)).collect();
        assert!(!own.is_empty(), "{path}: no example of the command itself in:\n{after}");
        for line in lines {
            let words = shell_words(&line);
            if let Err(e) = root.clone().try_get_matches_from(&words) {
                panic!("{path}: the example `{}` does not parse: {e}", line.trim());
            }
            examples += 1;
        }
    }
    assert!(examples >= 50, "{examples} examples");
}
