//! Field answers over a real `leadmap serve` on the built-in defaults, as an officer's app asks: the
//! closed vocabulary of substances, what each referral path requires, Oregon's charge names, the
//! program's periods (the day before and after each boundary), official and approximate zone sets, and
//! the phone's GPS accuracy per request.

use serde_json::{Value, json};

use crate::support::Server;

/// Every exclusion answered no and the path's requirement yes, as `GET /v1/rules` lists them.
fn clear_facts(rules: &Value) -> serde_json::Map<String, Value> {
    let mut facts: serde_json::Map<String, Value> = rules["exclusions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_str().unwrap().to_owned(), json!(false)))
        .collect();
    for path in ["arrest", "social_contact"] {
        for r in rules["referral_paths"][path]["requirements"].as_array().unwrap() {
            facts.insert(r["id"].as_str().unwrap().to_owned(), json!(true));
        }
    }
    facts
}

/// An arrest diversion in Old Town on 2019-03-01 that passes every criterion.
fn arrest(rules: &Value) -> Value {
    json!({"lon": -122.6765, "lat": 45.5245, "referral_path": "arrest", "offense": "PCS",
        "substances": [{"substance": "heroin", "grams": 1}], "facts": clear_facts(rules), "at": "2019-03-01"})
}

fn criterion<'a>(screening: &'a Value, id: &str) -> &'a Value {
    screening["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no criterion {id}: {screening:#}"))
}

#[test]
fn substances_are_a_closed_vocabulary_over_http() {
    let server = Server::start(&[]);
    let (status, rules) = server.get("/v1/rules?at=2019-03-01");
    assert_eq!(status, 200);
    // The vocabulary is published: every substance with its aliases and its rule.
    let heroin = &rules["substances"][0];
    assert_eq!(heroin["substance"], "heroin");
    assert!(heroin["aliases"].as_array().unwrap().contains(&json!("black tar heroin")));
    assert_eq!(heroin["excluded_at_or_above_grams"], 5.0);
    let fentanyl = rules["substances"].as_array().unwrap().iter().find(|s| s["substance"] == "fentanyl").unwrap();
    assert!(fentanyl["no_limit"].as_str().unwrap().contains("they set none for fentanyl"));

    let screen = |substance: &str, grams: f64| {
        let mut body = arrest(&rules);
        body["substances"] = json!([{"substance": substance, "grams": grams}]);
        let (status, v) = server.post("/v1/screenings", &body);
        assert_eq!(status, 200, "{v:#}");
        v
    };
    // Misspellings and unknown names are asked about, never passed, at any weight.
    for name in ["herion", "fentanil", "brown"] {
        let v = screen(name, 250.0);
        assert_eq!(v["decision"], "needs_review", "{name}");
        let c = criterion(&v, &format!("quantity.{name}"));
        assert_eq!(c["status"], "unknown");
        assert!(
            c["question"]
                .as_str()
                .unwrap()
                .starts_with(&format!("Which substance is \"{name}\"? These rules know: heroin,"))
        );
    }
    // Aliases reach their limits.
    assert_eq!(screen("Black Tar Heroin", 250.0)["decision"], "ineligible");
    assert_eq!(screen("cocaine base", 10.0)["decision"], "ineligible");
    assert_eq!(screen("methamphetamine hydrochloride", 10.0)["decision"], "ineligible");
    assert_eq!(screen("ICE", 9.99)["decision"], "eligible");
    // Another named substance passes by its explicit rule, which the answer quotes.
    let v = screen("fentanyl", 50.0);
    assert_eq!(v["decision"], "eligible");
    assert!(
        criterion(&v, "quantity.fentanyl")["reason"].as_str().unwrap().contains("only; they set none for fentanyl")
    );
}

#[test]
fn both_paths_check_what_qualifies_them_and_charge_names_are_read() {
    let server = Server::start(&[]);
    let (_, rules) = server.get("/v1/rules?at=2019-03-01");
    let (status, v) = server.post("/v1/screenings", &arrest(&rules));
    assert_eq!((status, v["decision"].as_str()), (200, Some("eligible")), "{v:#}");

    // The arrest diversion is a LEAD officer's: unknown asks, no refuses.
    let mut body = arrest(&rules);
    body["facts"].as_object_mut().unwrap().remove("lead_officer");
    let (_, v) = server.post("/v1/screenings", &body);
    assert_eq!(v["decision"], "needs_review");
    assert_eq!(v["questions"], json!(["Is the officer making this diversion a LEAD officer (trained for LEAD)?"]));
    body["facts"]["lead_officer"] = json!(false);
    assert_eq!(server.post("/v1/screenings", &body).1["decision"], "ineligible");

    // A social contact is for a person at high risk of a drug-possession arrest.
    let mut social = json!({"lon": -122.6765, "lat": 45.5245, "referral_path": "social_contact",
        "facts": clear_facts(&rules), "at": "2019-03-01"});
    assert_eq!(server.post("/v1/screenings", &social).1["decision"], "eligible");
    social["facts"]["high_risk_of_drug_arrest"] = Value::Null;
    let (_, v) = server.post("/v1/screenings", &social);
    assert_eq!(v["decision"], "needs_review");
    assert_eq!(criterion(&v, "high_risk_of_drug_arrest")["status"], "unknown");
    social["facts"]["high_risk_of_drug_arrest"] = json!(false);
    assert_eq!(server.post("/v1/screenings", &social).1["decision"], "ineligible");

    // What records systems send.
    for (offense, decision) in [
        ("ORS 475.854", "eligible"),
        ("UNLAWFUL POSSESSION OF METHAMPHETAMINE", "eligible"),
        ("PCS II", "eligible"),
        ("Unlawful delivery of heroin", "ineligible"),
        ("ORS 475.886", "ineligible"),
        ("possession of heroin", "needs_review"),
    ] {
        let mut body = arrest(&rules);
        body["offense"] = json!(offense);
        let (_, v) = server.post("/v1/screenings", &body);
        assert_eq!(v["decision"], decision, "{offense}: {:#}", criterion(&v, "offense"));
    }
    // A social contact needs no offense, but one the rules exclude on that path rules it out, and one
    // they do not know is asked about.
    for (offense, decision) in [
        ("DCS", "ineligible"),
        ("commercial drug offense", "ineligible"),
        ("PCS", "eligible"),
        ("other", "eligible"),
        ("shoplifting", "needs_review"),
    ] {
        let mut body = json!({"lon": -122.6765, "lat": 45.5245, "referral_path": "social_contact",
            "offense": offense, "facts": clear_facts(&rules), "at": "2019-03-01"});
        let (_, v) = server.post("/v1/screenings", &body);
        assert_eq!(v["decision"], decision, "social contact, {offense}: {:#}", criterion(&v, "offense"));
        body.as_object_mut().unwrap().remove("offense");
        assert_eq!(server.post("/v1/screenings", &body).1["decision"], "eligible");
    }
    // A misplaced decimal point is not the statute.
    let mut body = arrest(&rules);
    body["offense"] = json!("ORS 4758.54");
    assert_eq!(server.post("/v1/screenings", &body).1["decision"], "needs_review");

    // A key given twice would let key order decide: refused, naming the key.
    let raw = |text: &str| server.post_raw("/v1/screenings", text);
    let clear = serde_json::to_string(&clear_facts(&rules)).unwrap();
    let twice = [
        format!(
            r#"{{"lon": -122.6765, "lat": 45.5245, "referral_path": "arrest", "offense": "PCS", "at": "2019-03-01",
            "substances": [{{"substance": "heroin", "grams": 1}}], "facts": {{"active_warrant": true, {}"#,
            &clear[1..]
        ),
        format!(
            r#"{{"lon": -122.6765, "lat": 45.5245, "referral_path": "arrest", "offense": "DCS", "offense": "PCS",
            "at": "2019-03-01", "substances": [{{"substance": "heroin", "grams": 1}}], "facts": {clear}}}"#
        ),
        format!(
            r#"{{"lon": -122.6765, "lat": 45.5245, "referral_path": "arrest", "offense": "PCS", "at": "2019-03-01",
            "substances": [{{"substance": "heroin", "grams": 50, "grams": 1}}], "facts": {clear}}}"#
        ),
    ];
    for (text, key) in twice.iter().zip(["active_warrant", "offense", "grams"]) {
        let (status, v) = raw(text);
        assert_eq!(status, 422, "{v}");
        assert!(v["detail"].as_str().unwrap().contains(&format!("the key \"{key}\" is given twice")), "{v}");
    }
    // The same body with each key once is answered.
    let once = twice[1].replace(r#""offense": "DCS", "#, "");
    assert_eq!(raw(&once).1["decision"], "eligible");
    let (status, v) = server.post_raw(
        "/v1/eligibility?at=2019-06-01",
        r#"{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"accuracy_m": 5, "accuracy_m": 500},
            "geometry": {"type": "Point", "coordinates": [-122.6793, 45.5189]}}]}"#,
    );
    assert_eq!(status, 422, "{v}");

    // One request cannot cost the service seconds: at most 50 substance entries.
    let mut body = arrest(&rules);
    body["substances"] = (0..51).map(|i| json!({"substance": format!("unknown {i}"), "grams": 1})).collect();
    let (status, v) = server.post("/v1/screenings", &body);
    assert_eq!(status, 422);
    assert!(v["detail"].as_str().unwrap().starts_with("51 substance entries is more than 50"), "{v}");

    // A fact id the rules do not have is a typo the officer must fix.
    let mut body = arrest(&rules);
    body["facts"]["lead_oficer"] = json!(true);
    let (status, v) = server.post("/v1/screenings", &body);
    assert_eq!(status, 422);
    assert!(v["detail"].as_str().unwrap().contains("lead_oficer"), "{v}");
}

#[test]
fn no_answer_is_eligible_outside_the_program_and_each_boundary_holds() {
    let server = Server::start(&[]);
    // The log says at start which sets are in force today, and that none is.
    let log = server.log_with("No LEAD program is in force on");
    assert!(log.contains("No LEAD program is in force on"), "{log}");
    assert!(log.contains("not the official boundaries"), "{log}");

    let square = "lon=-122.6793&lat=45.5189";
    let omsi = "lon=-122.6655&lat=45.5084";
    let ask = |point: &str, at: &str| {
        let (status, v) = server.get(&format!("/v1/eligibility?{point}&at={at}"));
        assert_eq!(status, 200, "{v}");
        v
    };
    for (at, in_force, set, status) in [
        ("2017-02-26", false, "portland-lead-2017", "official"),
        ("2017-02-27", true, "portland-lead-2017", "official"),
        ("2018-05-15", true, "portland-lead-2017", "official"),
        ("2018-05-16", true, "portland-lead-2018", "approximation"),
        ("2021-01-31", true, "portland-lead-2018", "approximation"),
        ("2021-02-01", false, "portland-lead-2018", "approximation"),
        ("2021-06-30", false, "portland-lead-2018", "approximation"),
        ("2021-07-01", false, "portland-lead-2018", "approximation"),
    ] {
        let v = ask(square, at);
        assert_eq!(v["program_in_force"], in_force, "{at}: {v:#}");
        assert_eq!(v["eligible"], in_force, "{at}: inside Downtown, eligible exactly when a program is in force");
        assert_eq!(v["zone"]["id"], "downtown", "{at}");
        assert_eq!(v["zone_set"]["name"], set, "{at}");
        assert_eq!(v["zone_set"]["status"], status, "{at}");
        assert_eq!(v["program_note"].is_null(), in_force, "{at}");
    }
    // The expansion: OMSI joined on the day the County announced it.
    assert_eq!(ask(omsi, "2018-05-15")["eligible"], false);
    assert_eq!(ask(omsi, "2018-05-16")["zone"]["id"], "central-eastside");
    assert_eq!(ask(omsi, "2018-05-16")["eligible"], true);
    // Measure 110: the note names the rule set, its dates and why it ended.
    let note = ask(square, "2021-02-01")["program_note"].as_str().unwrap().to_owned();
    assert!(note.contains("portland-lead-2017: it was in force from 2017-02-27 to 2021-01-31 (Measure 110"), "{note}");
    // Today (no at): not in force.
    let (_, today) = server.get(&format!("/v1/eligibility?{square}"));
    assert_eq!((today["eligible"].as_bool(), today["program_in_force"].as_bool()), (Some(false), Some(false)));

    // Batches say so too, for every point.
    let (status, batch) =
        server.post("/v1/eligibility?at=2021-02-01", &json!([[-122.6793, 45.5189], [-122.6765, 45.5245]]));
    assert_eq!(status, 200);
    assert_eq!(batch["program_in_force"], false);
    assert!(batch["program_note"].as_str().unwrap().starts_with("No LEAD program is in force on 2021-02-01"));
    assert!(batch["results"].as_array().unwrap().iter().all(|r| r["eligible"] == false && r["zone"].is_string()));
    let (_, batch) = server.post("/v1/eligibility?at=2021-01-31", &json!([[-122.6793, 45.5189]]));
    assert_eq!(batch["results"][0]["eligible"], true);

    // A screening on such a day is ineligible, says why, and asks nothing.
    let (_, rules) = server.get("/v1/rules?at=2019-03-01");
    let mut body = arrest(&rules);
    body["at"] = json!("2021-02-01");
    let (status, v) = server.post("/v1/screenings", &body);
    assert_eq!(status, 200);
    assert_eq!(v["decision"], "ineligible");
    assert_eq!(v["criteria"].as_array().unwrap().len(), 1);
    assert_eq!(criterion(&v, "program")["reason"].as_str().unwrap(), note, "the same reason as the eligibility answer");
    assert_eq!(v["questions"], json!([]));
    body["at"] = json!("2021-01-31");
    assert_eq!(server.post("/v1/screenings", &body).1["decision"], "eligible");

    // Readiness tells operators the same.
    let (_, ready) = server.get("/readyz");
    assert_eq!(ready["program_in_force_today"], false);
    assert!(
        ready["zone_sets"].as_array().unwrap().iter().all(|z| z["in_force_today"] == false && z["status"].is_string())
    );
}

#[test]
fn the_phones_accuracy_sets_the_borderline_per_request() {
    let server = Server::start(&[]);
    // A point 24.6 m outside Downtown (Powell's Books): borderline at the default 25 m.
    let point = "lon=-122.6813&lat=45.5232&at=2019-06-01";
    let (_, default) = server.get(&format!("/v1/eligibility?{point}"));
    let d = default["coverage_distance_m"].as_f64().unwrap();
    assert!(d > 5.0 && d < 25.0, "{default:#}");
    assert_eq!((default["coverage_borderline"].as_bool(), default["borderline_m"].as_f64()), (Some(true), Some(25.0)));
    let (_, precise) = server.get(&format!("/v1/eligibility?{point}&accuracy_m=5"));
    assert_eq!((precise["borderline"].as_bool(), precise["coverage_borderline"].as_bool()), (Some(false), Some(false)));
    assert_eq!(precise["borderline_m"], 5.0);
    let (_, coarse) = server.get("/v1/eligibility?lon=-122.6793&lat=45.5189&at=2019-06-01&accuracy_m=600");
    assert_eq!(coarse["coverage_borderline"], true, "600 m of error reaches Downtown's edge");

    // Bounds, each a problem naming the parameter.
    for (bad, needle) in [
        ("0", "accuracy_m 0 is not a GPS accuracy"),
        ("1000.5", "accuracy_m 1000.5"),
        ("-3", "accuracy_m -3"),
        ("NaN", "accuracy_m NaN"),
        ("x", "\"x\" is not a number of metres"),
    ] {
        let (status, v) = server.get(&format!("/v1/eligibility?{point}&accuracy_m={bad}"));
        assert_eq!(status, 400, "{bad}");
        assert!(v["detail"].as_str().unwrap().contains(needle), "{bad}: {v}");
    }
    assert_eq!(server.get(&format!("/v1/eligibility?{point}&accuracy_m=1000")).0, 200, "1000 m is allowed");

    // Batches: for all points in the query, or per GeoJSON feature.
    let (_, batch) = server.post("/v1/eligibility?at=2019-06-01&accuracy_m=5", &json!([[-122.6813, 45.5232]]));
    assert_eq!(
        (batch["borderline_m"].as_f64(), batch["results"][0]["coverage_borderline"].as_bool()),
        (Some(5.0), Some(false))
    );
    let features = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"accuracy_m": 5}, "geometry": {"type": "Point", "coordinates": [-122.6813, 45.5232]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [-122.6813, 45.5232]}}]});
    let (_, batch) = server.post("/v1/eligibility?at=2019-06-01", &features);
    let r = &batch["results"];
    assert_eq!((r[0]["coverage_borderline"].as_bool(), r[0]["borderline_m"].as_f64()), (Some(false), Some(5.0)));
    assert_eq!((r[1]["coverage_borderline"].as_bool(), r[1].get("borderline_m")), (Some(true), None));
    let mut bad = features.clone();
    bad["features"][1]["properties"]["accuracy_m"] = json!(5000);
    let (status, v) = server.post("/v1/eligibility?at=2019-06-01", &bad);
    assert_eq!(status, 422);
    assert_eq!(v["errors"][0]["index"], 1);

    // Screenings: a borderline location is asked about; a precise fix there is decided.
    let (_, rules) = server.get("/v1/rules?at=2019-06-01");
    let mut body = arrest(&rules);
    body["lon"] = json!(-122.6813);
    body["lat"] = json!(45.5232);
    body["at"] = json!("2019-06-01");
    let (_, v) = server.post("/v1/screenings", &body);
    assert_eq!(
        (v["decision"].as_str(), criterion(&v, "location")["status"].as_str()),
        (Some("needs_review"), Some("unknown"))
    );
    body["accuracy_m"] = json!(5);
    let (_, v) = server.post("/v1/screenings", &body);
    assert_eq!(
        (v["decision"].as_str(), criterion(&v, "location")["status"].as_str()),
        (Some("ineligible"), Some("failed"))
    );
    assert_eq!(v["point"]["borderline_m"], 5.0);
    body["accuracy_m"] = json!(0);
    let (status, v) = server.post("/v1/screenings", &body);
    assert_eq!(status, 422);
    assert!(v["detail"].as_str().unwrap().contains("accuracy_m 0 is not a GPS accuracy"), "{v}");
}

/// The README's first example, literally: the `curl` line's query against a real server gives the JSON
/// printed under it, and the screening example says `eligible`.
#[test]
fn the_readmes_field_examples_answer_as_printed() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let prefix = "curl 'http://127.0.0.1:8080";
    let start = readme.find(&format!("{prefix}/v1/eligibility?")).expect("the run example") + prefix.len();
    let path = &readme[start..start + readme[start..].find('\'').unwrap()];
    let json_start = start + readme[start..].find("```json\n").unwrap() + "```json\n".len();
    let printed: Value =
        serde_json::from_str(&readme[json_start..json_start + readme[json_start..].find("```").unwrap()])
            .expect("the printed answer is JSON");
    let server = Server::start(&[]);
    let (status, answer) = server.get(path);
    assert_eq!(status, 200);
    assert_eq!(answer, printed, "GET {path}");

    let marker = "curl -X POST 'http://127.0.0.1:8080/v1/screenings' -H 'Content-Type: application/json' -d '";
    let body_start = readme.find(marker).expect("the screening example") + marker.len();
    let body: Value = serde_json::from_str(&readme[body_start..body_start + readme[body_start..].find('\'').unwrap()])
        .expect("the screening example's body is JSON");
    let (status, v) = server.post("/v1/screenings", &body);
    assert_eq!((status, v["decision"].as_str()), (200, Some("eligible")), "{v:#}");
}
