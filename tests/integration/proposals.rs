//! `leadmap whatif`: proposed zone sets against the stored history, checked against an independent
//! recount with shapely (`tools/reference/make_whatif_reference.py`) of the 2018 expansion against the 2017 pilot
//! areas over the Police Bureau's contacts, and as a careless user runs it.

use serde_json::Value;

use crate::support::{fixture, leadmap, ppb_store, repo};

fn stdout_json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_2018_expansion_against_the_2017_areas_matches_a_shapely_recount() {
    if !crate::support::have_shared() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = ppb_store(dir.path());
    let data = store.to_str().unwrap();
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("reference/whatif-2018-vs-2017.json")).unwrap()).unwrap();
    let proposal = repo().join("geodata/portland-2018.geojson");
    let (from, to) = (want["from"].as_str().unwrap(), want["to"].as_str().unwrap());
    let args = ["whatif", proposal.to_str().unwrap(), "--at", "2017-06-01", "--from", from, "--to", to, "--data", data];
    let doc = stdout_json(&leadmap(&[&args[..], &["--format", "json"]].concat()));
    let i = &doc["impacts"][0];
    assert_eq!(i["current"]["name"], "portland-lead-2017");
    assert_eq!(i["proposal"]["name"], "portland-lead-2018");
    let t = &want["totals"];
    assert_eq!(i["inside_current"]["contacts"], t["inside_current"]);
    assert_eq!(i["inside_proposal"]["contacts"], t["inside_proposal"]);
    assert_eq!(i["newly_inside"]["contacts"], t["newly_inside"]);
    assert_eq!(i["newly_outside"]["contacts"], t["newly_outside"]);
    assert_eq!(i["citywide"]["contacts"], t["contacts"]);
    assert!(t["newly_inside"].as_u64().unwrap() > 100, "the expansion takes in the Central Eastside's contacts");
    assert_eq!(i["net"].as_i64(), Some(t["newly_inside"].as_i64().unwrap() - t["newly_outside"].as_i64().unwrap()));
    // Every month of the window is listed; those with contacts equal the recount's.
    let months = i["months"].as_array().unwrap();
    assert_eq!(months.first().unwrap()["month"], "2015-01");
    assert_eq!(months.last().unwrap()["month"], "2018-04");
    for m in months {
        let key = m["month"].as_str().unwrap();
        let w = &want["months"][key];
        for f in ["inside_current", "inside_proposal", "newly_inside", "newly_outside"] {
            assert_eq!(m[f].as_u64().unwrap(), w[f].as_u64().unwrap_or(0), "{key} {f}");
        }
    }
    // The 2017 set's start is marked in its month.
    let launch = months.iter().find(|m| m["month"] == "2017-02").unwrap();
    assert_eq!(launch["launches"], serde_json::json!(["portland-lead-2017"]));
    for z in i["zones"].as_array().unwrap() {
        let w = &want["zones"][z["zone"].as_str().unwrap()];
        assert_eq!(z["contacts"]["contacts"], w["contacts"], "{z}");
        assert_eq!(z["newly_inside"]["contacts"], w["newly_inside"], "{z}");
    }
    // Cells gained lie in the Central Eastside; none lost; area gained is the new zone's.
    assert!(i["cells"]["gained"].as_array().unwrap().len() > 20);
    assert_eq!(i["cells"]["lost"].as_array().unwrap().len(), 0);
    // And as GeoJSON hexagons (lon/lat, closed rings) for a map.
    let features = i["cells"]["geojson"]["features"].as_array().unwrap();
    assert_eq!(features.len(), i["cells"]["gained"].as_array().unwrap().len());
    for f in features {
        assert_eq!(f["properties"]["change"], "gained");
        let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
        assert_eq!((ring.len(), &ring[0]), (7, &ring[6]));
        let lon = ring[0][0].as_f64().unwrap();
        assert!((-122.7..-122.6).contains(&lon), "{lon}: lon first");
    }
    let ces = i["proposal"]["area_km2"].as_f64().unwrap() - i["current"]["area_km2"].as_f64().unwrap();
    assert!((i["cells"]["area_gained_km2"].as_f64().unwrap() - ces).abs() < 0.01, "{}", i["cells"]);
    // Capacity: the built-in rules' 300 people, 20 per case manager.
    let c = &i["capacity"];
    assert_eq!(
        (c["capacity"].as_u64(), c["caseload"].as_u64(), c["case_managers_at_capacity"].as_u64()),
        (Some(300), Some(20), Some(15))
    );
    assert_eq!((c["from"].as_str(), c["to"].as_str()), (Some("2017-05-01"), Some("2018-04-30")));
    let last12: u64 = months[months.len() - 12..].iter().map(|m| m["inside_proposal"].as_u64().unwrap()).sum();
    assert!((c["per_month_proposal"].as_f64().unwrap() - last12 as f64 / 12.0).abs() < 1e-3);

    // The same as a table a person reads, and as CSV with the same rows.
    let out = leadmap(&args);
    let table = stdout_text(&out);
    assert!(table.lines().next().unwrap().contains("portland-lead-2017 (current)"), "{table}");
    let newly = table.lines().find(|l| l.starts_with("newly_inside ")).unwrap();
    assert!(newly.trim_end().ends_with(&t["newly_inside"].to_string()), "{newly}");
    let csv_out = dir.path().join("compare.csv");
    let out = leadmap(&[&args[..], &["-o", csv_out.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = std::fs::read_to_string(&csv_out).unwrap();
    assert!(csv.starts_with("measure,portland-lead-2017 (current),portland-lead-2018\n"), "{csv}");
    assert!(csv.contains(&format!("\nnewly_inside,0,{}\n", t["newly_inside"])), "{csv}");
}

fn stdout_text(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn whatif_compares_several_proposals_and_a_copy_of_the_current_set_changes_nothing() {
    if !crate::support::have_shared() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = ppb_store(dir.path());
    let data = store.to_str().unwrap();
    let same = repo().join("geodata/portland-2018.geojson");
    let bigger = repo().join("geodata/portland-2017.geojson");
    let doc = stdout_json(&leadmap(&[
        "whatif",
        same.to_str().unwrap(),
        bigger.to_str().unwrap(),
        "--against",
        "portland-lead-2018",
        "--from",
        "2019-01-01",
        "--to",
        "2019-12-31",
        "--data",
        data,
        "--format",
        "json",
    ]));
    let copy = &doc["impacts"][0];
    assert_eq!(
        (copy["newly_inside"]["contacts"].as_u64(), copy["newly_outside"]["contacts"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(copy["inside_current"], copy["inside_proposal"]);
    assert_eq!(copy["cells"]["gained"].as_array().unwrap().len() + copy["cells"]["lost"].as_array().unwrap().len(), 0);
    let smaller = &doc["impacts"][1];
    assert!(smaller["newly_outside"]["contacts"].as_u64().unwrap() > 0);
    assert_eq!(smaller["newly_inside"]["contacts"], 0);
    let cmp = &doc["comparison"];
    assert_eq!(
        cmp["columns"],
        serde_json::json!(["portland-lead-2018 (current)", "portland-lead-2018", "portland-lead-2017"])
    );
    let row = |m: &str| cmp["rows"].as_array().unwrap().iter().find(|r| r["measure"] == m).unwrap()["values"].clone();
    assert_eq!(row("contacts_inside")[0], row("contacts_inside")[1]);
    assert_eq!(row("net")[2].as_f64().unwrap(), -(smaller["newly_outside"]["contacts"].as_f64().unwrap()));
}

#[test]
fn whatif_names_what_is_wrong_and_never_writes_over_its_inputs() {
    if !crate::support::have_shared() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("events.gpkg");
    let data = store.to_str().unwrap();
    // Nothing stored yet: says how to make a store.
    let proposal = repo().join("geodata/portland-2018.geojson");
    let out = leadmap(&["whatif", proposal.to_str().unwrap(), "--data", data]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!store.exists(), "no empty store left behind");
    let store = ppb_store(dir.path());
    let data = store.to_str().unwrap();
    // A proposal that is not a valid zone file: the zone file's own message, naming the file.
    let bad = fixture("invalid/bowtie.geojson");
    let out = leadmap(&["whatif", bad.to_str().unwrap(), "--data", data]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(bad.file_name().unwrap().to_str().unwrap()), "{err}");
    // An unknown set to compare with: the loaded names.
    let out = leadmap(&["whatif", proposal.to_str().unwrap(), "--against", "portland-2017", "--data", data]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("portland-lead-2017, portland-lead-2018"), "{err}");
    // -o onto a proposal or the store is refused, and both are left as they were.
    let copy = dir.path().join("p.json");
    std::fs::copy(&proposal, &copy).unwrap();
    for target in [copy.to_str().unwrap(), data] {
        let before = std::fs::read(target).unwrap();
        let out = leadmap(&["whatif", copy.to_str().unwrap(), "--data", data, "-o", target]);
        assert_eq!(out.status.code(), Some(1), "{target}");
        assert_eq!(std::fs::read(target).unwrap(), before, "{target}");
    }
    // A window backwards.
    let out =
        leadmap(&["whatif", proposal.to_str().unwrap(), "--data", data, "--from", "2019-01-01", "--to", "2018-01-01"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("from 2019-01-01 is after to 2018-01-01"));
}

const ANALYST: &str = "proposal-analyst-token-0123456789";
const PLANNER: &str = "proposal-planner-token-0123456789";
const PLANNER2: &str = "proposal-planner2-token-0123456789";

fn start(data: &str) -> crate::support::Server {
    let tokens = format!("an:analyst:{ANALYST},pl:planner:{PLANNER},pl2:planner:{PLANNER2}");
    // Impacts in a debug build beside other tests take seconds: a minute before the request times out.
    crate::support::Server::start_with(
        &["--data", data, "--request-timeout-ms", "60000"],
        &[("LEADMAP_TOKENS", tokens.as_str())],
    )
}

fn call(s: &crate::support::Server, token: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let text = body.map(Value::to_string);
    let (status, body) = s.request_as(token, method, path, text.as_deref());
    (
        status,
        if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
        },
    )
}

/// Published contacts per res-9 cell of a planner's cell table for a period.
fn published_cells(s: &crate::support::Server, period: &str) -> std::collections::BTreeMap<String, u64> {
    let (status, body) = s.get_as(PLANNER, &format!("/v1/cells?res=9&period={period}&f=csv"));
    assert_eq!(status, 200, "{body}");
    body.lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split(',');
            (f.next().unwrap().to_owned(), f.next().unwrap().parse().unwrap())
        })
        .collect()
}

/// Proposals over HTTP: stored with their author, validated as zone files are, evaluated (analysts exact,
/// planners as sums of their own published cell values, so the proposal-minus-one-cell difference is that
/// cell's published value, the same every time), audited, and kept across a restart.
#[test]
fn proposals_over_http_are_validated_audited_private_and_survive_a_restart() {
    if !crate::support::have_shared() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = ppb_store(dir.path());
    let data = store.to_str().unwrap();
    let server = start(data);
    let zones2018: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("geodata/portland-2018.geojson")).unwrap()).unwrap();

    // An analyst's whole set: the impact equals the shapely recount.
    let (status, created) = call(
        &server,
        ANALYST,
        "POST",
        "/v1/proposals",
        Some(&serde_json::json!({"name": "2018 areas", "zones": zones2018})),
    );
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["author"], "an");
    let id = created["id"].as_str().unwrap().to_owned();
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("reference/whatif-2018-vs-2017.json")).unwrap()).unwrap();
    let q = format!("at=2017-06-01&from={}&to={}", want["from"].as_str().unwrap(), want["to"].as_str().unwrap());
    let (status, i) = call(&server, ANALYST, "GET", &format!("/v1/proposals/{id}/impact?{q}"), None);
    assert_eq!(status, 200, "{i}");
    assert_eq!(i["newly_inside"]["contacts"], want["totals"]["newly_inside"]);
    assert_eq!(i["inside_current"]["contacts"], want["totals"]["inside_current"]);
    assert_eq!(
        i["cells"]["geojson"]["features"].as_array().unwrap().len(),
        i["cells"]["gained"].as_array().unwrap().len()
    );

    // The same as edits against the 2017 set: add the Central Eastside, replace Lloyd with its 2018 shape.
    let feature = |zid: &str| {
        zones2018["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == zid || f["properties"]["id"] == zid)
            .unwrap()
            .clone()
    };
    let edits = serde_json::json!({"name": "edits", "base": "portland-lead-2017", "edits": [
        {"op": "add", "feature": feature("central-eastside")}, {"op": "replace", "feature": feature("lloyd")}]});
    let (status, e) = call(&server, ANALYST, "POST", "/v1/proposals", Some(&edits));
    assert_eq!(status, 201, "{e}");
    let (_, ei) =
        call(&server, ANALYST, "GET", &format!("/v1/proposals/{}/impact?{q}", e["id"].as_str().unwrap()), None);
    assert_eq!(ei["newly_inside"], i["newly_inside"]);
    // Bad submissions: the zone file's own message; an edit that does not fit says why.
    let bowtie: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("invalid/bowtie.geojson")).unwrap()).unwrap();
    let (status, p) =
        call(&server, ANALYST, "POST", "/v1/proposals", Some(&serde_json::json!({"name": "b", "zones": bowtie})));
    assert_eq!(status, 422, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("polygon 1: exterior ring has a self-intersection"), "{p}");
    let bad_edit = serde_json::json!({"name": "x", "base": "portland-lead-2017", "edits": [{"op": "add", "feature": feature("lloyd")}]});
    let (status, p) = call(&server, ANALYST, "POST", "/v1/proposals", Some(&bad_edit));
    assert_eq!(status, 422);
    assert!(p["detail"].as_str().unwrap().contains("lloyd is already in portland-lead-2017: use replace"), "{p}");

    let pid = planners(&server, &id, &zones2018);
    let pid = pid.as_str();
    // Analysts compare several.
    let (status, cmp) = call(
        &server,
        ANALYST,
        "GET",
        &format!("/v1/proposals/compare?ids={id},{},{pid}&{q}", e["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(status, 200, "{cmp}");
    assert_eq!(cmp["comparison"]["columns"].as_array().unwrap().len(), 4);
    assert!(server.log_with("action=compare").contains("who=an"));
    // Figures in a proposal's areas: the 2018 set as a proposal counts as the 2018 set does.
    let (status, by_proposal) = call(&server, ANALYST, "GET", &format!("/v1/coverage?proposal={id}"), None);
    assert_eq!(status, 200, "{by_proposal}");
    let (_, by_date) = call(&server, ANALYST, "GET", "/v1/coverage?at=2018-06-01", None);
    assert_eq!(by_proposal["totals"], by_date["totals"]);
    assert_eq!(by_proposal["geography"]["zone_set"], "2018 areas");
    assert_eq!(call(&server, ANALYST, "GET", "/v1/cells?proposal=p000000000000", None).0, 404);
    assert_eq!(call(&server, PLANNER, "GET", &format!("/v1/coverage?proposal={pid}"), None).0, 403);
    drop(server);

    // Audited in the store; kept across a restart.
    let conn = rusqlite::Connection::open(&store).unwrap();
    let rows: Vec<(String, String)> = conn
        .prepare("SELECT who, action FROM leadmap_audit ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (who, action) in
        [("an", "create"), ("an", "impact"), ("pl", "create"), ("pl", "impact"), ("pl", "delete"), ("an", "compare")]
    {
        assert!(rows.contains(&(who.to_owned(), action.to_owned())), "{who} {action}: {rows:?}");
    }
    drop(conn);
    let server = start(data);
    let (_, list) = call(&server, ANALYST, "GET", "/v1/proposals", None);
    let ids: Vec<&str> = list["proposals"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "{list}");
    assert!(ids.contains(&id.as_str()) && ids.contains(&pid));
    let (status, again) = call(&server, ANALYST, "GET", &format!("/v1/proposals/{id}/impact?{q}"), None);
    assert_eq!((status, &again["newly_inside"]), (200, &i["newly_inside"]));
}

/// The planner's side: cells only, impacts as sums of published cell values, what a planner may not do;
/// the id of the planner's proposal kept.
fn planners(server: &crate::support::Server, id: &str, zones2018: &Value) -> String {
    // Planners: a free polygon is refused, whole cells at res 9 or coarser are taken.
    let (status, p) =
        call(server, PLANNER, "POST", "/v1/proposals", Some(&serde_json::json!({"name": "poly", "zones": zones2018})));
    assert_eq!(status, 403, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("whole H3 cells"), "{p}");
    let published = published_cells(server, "2019");
    let cells: Vec<String> = published.keys().take(40).cloned().collect();
    let fine = h3o::CellIndex::try_from(u64::from_str_radix(&cells[0], 16).unwrap())
        .unwrap()
        .children(h3o::Resolution::Ten)
        .next()
        .unwrap()
        .to_string();
    let (status, p) =
        call(server, PLANNER, "POST", "/v1/proposals", Some(&serde_json::json!({"name": "fine", "cells": [fine]})));
    assert_eq!(status, 422, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("resolution 10"), "{p}");
    let (status, all) =
        call(server, PLANNER, "POST", "/v1/proposals", Some(&serde_json::json!({"name": "40 cells", "cells": cells})));
    assert_eq!(status, 201, "{all}");
    let (_, less) = call(
        server,
        PLANNER,
        "POST",
        "/v1/proposals",
        Some(&serde_json::json!({"name": "39 cells", "cells": cells[1..]})),
    );
    let impact_of = |v: &Value| {
        let (status, i) = call(
            server,
            PLANNER,
            "GET",
            &format!("/v1/proposals/{}/impact?period=2019", v["id"].as_str().unwrap()),
            None,
        );
        assert_eq!(status, 200, "{i}");
        i
    };
    let (a, b) = (impact_of(&all), impact_of(&less));
    // Sums of the published cell values, and the difference of one cell is that cell's published value.
    let sum = |ids: &[String]| ids.iter().map(|c| published.get(c).copied().unwrap_or(0)).sum::<u64>();
    assert_eq!(a["inside_proposal"]["contacts"].as_u64().unwrap(), sum(&cells));
    let gained: Vec<String> =
        a["gained"].as_array().unwrap().iter().map(|c| c["cell"].as_str().unwrap().to_owned()).collect();
    assert_eq!(a["newly_inside"]["contacts"].as_u64().unwrap(), sum(&gained));
    let diff = a["inside_proposal"]["contacts"].as_u64().unwrap() - b["inside_proposal"]["contacts"].as_u64().unwrap();
    assert_eq!(diff, published[&cells[0]]);
    assert!(diff == 0 || diff > 10, "never a count from 1 to k: {diff}");
    for _ in 0..3 {
        assert_eq!(impact_of(&all), a, "the same answer every time: nothing to average");
    }
    assert!(a["perturbed"]["note"].as_str().unwrap().contains("shown as 0"));
    assert_eq!(
        a["geojson"]["features"].as_array().unwrap().len(),
        a["gained"].as_array().unwrap().len() + a["lost"].as_array().unwrap().len()
    );
    // What planners may not do.
    let pid = all["id"].as_str().unwrap().to_owned();
    for (path, want) in [
        (format!("/v1/proposals/{id}/impact?period=2019"), 404),
        (format!("/v1/proposals/{pid}/impact?from=2019-01-01&to=2019-01-05"), 400),
        (format!("/v1/proposals/{pid}/impact?period=2019&reference=black"), 403),
        (format!("/v1/proposals/compare?ids={pid}"), 403),
    ] {
        let (status, body) = call(server, PLANNER, "GET", &path, None);
        assert_eq!(status, want, "{path}: {body}");
    }
    let (_, list) = call(server, PLANNER, "GET", "/v1/proposals", None);
    assert_eq!(list["proposals"].as_array().unwrap().len(), 2, "planners see cell proposals only: {list}");
    assert_eq!(call(server, PLANNER2, "DELETE", &format!("/v1/proposals/{pid}"), None).0, 403);
    assert_eq!(
        call(server, PLANNER, "DELETE", &format!("/v1/proposals/{}", less["id"].as_str().unwrap()), None).0,
        204
    );
    pid
}

/// A script that keeps posting cannot fill the disk: the store keeps at most 1000 proposals, and says
/// how to make room.
#[test]
fn the_store_keeps_a_bounded_number_of_proposals() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("events.gpkg");
    let server = start(store.to_str().unwrap());
    let cell = h3o::LatLng::new(45.52, -122.68).unwrap().to_cell(h3o::Resolution::Nine).to_string();
    let body = serde_json::json!({"name": "one cell", "cells": [cell]});
    let mut last = String::new();
    for i in 0..1000 {
        let (status, created) = call(&server, ANALYST, "POST", "/v1/proposals", Some(&body));
        assert_eq!(status, 201, "proposal {i}: {created}");
        last = created["id"].as_str().unwrap().to_owned();
    }
    let (status, p) = call(&server, ANALYST, "POST", "/v1/proposals", Some(&body));
    assert_eq!(status, 409, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("at most 1000 proposals"), "{p}");
    assert_eq!(call(&server, ANALYST, "DELETE", &format!("/v1/proposals/{last}"), None).0, 204);
    assert_eq!(call(&server, ANALYST, "POST", "/v1/proposals", Some(&body)).0, 201);
}
