//! Screening, case by case: each exclusion, each threshold at its edge, offenses, both referral paths,
//! the assessment date, unknowns, locations, and the Seattle example.

use chrono::NaiveDate;
use serde_json::json;

use super::*;
use crate::builtin;
use crate::eligibility::ZoneRef;

fn portland() -> RuleSet {
    builtin::rule_sets().unwrap().remove(0)
}

fn seattle() -> RuleSet {
    builtin::seattle_example_rules().unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

const TODAY: (i32, u32, u32) = (2017, 6, 2);

fn today() -> NaiveDate {
    day(TODAY.0, TODAY.1, TODAY.2)
}

fn downtown() -> ZoneRef {
    ZoneRef { id: "downtown".into(), name: "Downtown".into() }
}

fn inside() -> LocationFact {
    LocationFact::Inside { zone: downtown() }
}

/// Every fact of `rules` answered so that it stands in no one's way: each exclusion `false`, each
/// path's requirement `true`.
fn all_clear(rules: &RuleSet) -> serde_json::Value {
    let paths = &rules.spec().referral_paths;
    let requirements = [&paths.arrest, &paths.social_contact].into_iter().flatten().flat_map(|p| &p.requirements);
    rules
        .spec()
        .exclusions
        .iter()
        .map(|e| (e.id.clone(), json!(false)))
        .chain(requirements.map(|r| (r.id.clone(), json!(true))))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// A clean Portland arrest diversion: PCS, 1 g heroin, a LEAD officer, every exclusion answered no, on
/// 2017-06-01.
fn arrest_json(rules: &RuleSet) -> serde_json::Value {
    json!({
        "referral_path": "arrest",
        "offense": "PCS",
        "substances": [{"substance": "heroin", "grams": 1.0}],
        "facts": all_clear(rules),
        "at": "2017-06-01"
    })
}

fn request(v: &serde_json::Value) -> ScreeningRequest {
    serde_json::from_value(v.clone()).unwrap()
}

fn run(rules: &RuleSet, v: &serde_json::Value) -> Screening {
    screen(rules, &request(v), inside(), today())
}

fn run_with(rules: &RuleSet, edit: impl FnOnce(&mut serde_json::Value)) -> Screening {
    let mut v = arrest_json(rules);
    edit(&mut v);
    run(rules, &v)
}

fn criterion<'a>(s: &'a Screening, id: &str) -> &'a Criterion {
    s.criteria.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no criterion {id} in {:#?}", s.criteria))
}

fn with_substance(rules: &RuleSet, substance: &str, grams: f64) -> Screening {
    run_with(rules, |v| v["substances"] = json!([{"substance": substance, "grams": grams}]))
}

// ---- the whole answer ----

#[test]
fn clean_arrest_diversion_is_eligible_with_every_criterion_listed() {
    let rules = portland();
    let s = run(&rules, &arrest_json(&rules));
    assert_eq!(s.decision, Decision::Eligible, "{s:#?}");
    let ids: Vec<&str> = s.criteria.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "location",
            "referral_path",
            "lead_officer",
            "offense",
            "quantity.heroin",
            "active_warrant",
            "no_contact_order",
            "lead_participant",
            "specialty_court",
            "supervision_person_offense",
            "operations_team_denial",
            "exceptional_circumstances"
        ]
    );
    assert!(s.criteria.iter().all(|c| c.status == CriterionStatus::Passed && c.question.is_none()));
    assert!(s.questions.is_empty());
    assert_eq!(s.at, day(2017, 6, 1));
    assert_eq!(s.assessment_due, Some(day(2017, 7, 1)));
    assert_eq!(s.rule_set.name, "portland-lead-2017");
    assert_eq!(s.rule_set.version, rules.version().as_str());
    assert_eq!(s.rule_set.status, RuleStatus::Transcribed);
    assert_eq!(s.summary, "Eligible under portland-lead-2017: every criterion passed.");
    assert!(criterion(&s, "location").reason.contains("inside Downtown (downtown)"));
    assert!(
        criterion(&s, "offense").reason.contains("PCS (Possession of a Controlled Substance) is an eligible offense")
    );
    assert_eq!(
        criterion(&s, "quantity.heroin").reason,
        "1 g of heroin is within the limit: 5 g or more of heroin excludes."
    );
    assert!(criterion(&s, "active_warrant").reason.starts_with("Answered no: Does the person have an active"));
    assert!(
        criterion(&s, "lead_officer")
            .reason
            .starts_with("Answered yes: Is the officer making this diversion a LEAD officer")
    );
}

#[test]
fn serializes_in_snake_case() {
    let rules = portland();
    let mut v = arrest_json(&rules);
    v["referral_path"] = "social_contact".into();
    v["facts"].as_object_mut().unwrap().remove("active_warrant");
    let s = run(&rules, &v);
    let j = serde_json::to_value(&s).unwrap();
    assert_eq!(j["decision"], "needs_review");
    assert_eq!(j["referral_path"], "social_contact");
    assert_eq!(j["assessment_due"], serde_json::Value::Null);
    assert_eq!(j["at"], "2017-06-01");
    assert_eq!(j["location"], json!({"kind": "inside", "zone": {"id": "downtown", "name": "Downtown"}}));
    assert_eq!(j["rule_set"]["name"], "portland-lead-2017");
    assert_eq!(j["rule_set"]["version"], rules.version().as_str());
    let warrant = j["criteria"].as_array().unwrap().iter().find(|c| c["id"] == "active_warrant").unwrap();
    assert_eq!(warrant["status"], "unknown");
    assert_eq!(warrant["effect"], "ineligible");
    assert_eq!(warrant["question"], "Does the person have an active extraditable warrant?");
    let location = &j["criteria"][0];
    assert_eq!(location["status"], "passed");
    assert_eq!(location["question"], serde_json::Value::Null);
    assert_eq!(j["questions"], json!(["Does the person have an active extraditable warrant?"]));
    assert_eq!(j["unrecognized_facts"], json!([]));
}

// ---- exclusions: true, false, absent, null ----

#[test]
fn each_exclusion_true_fails_with_its_effect() {
    let rules = portland();
    for e in &rules.spec().exclusions {
        let s = run_with(&rules, |v| v["facts"][&e.id] = true.into());
        let c = criterion(&s, &e.id);
        assert_eq!(c.status, CriterionStatus::Failed, "{}", e.id);
        assert_eq!(c.reason, e.reason);
        assert_eq!(c.question, None);
        let expected = match e.effect {
            Effect::Ineligible => Decision::Ineligible,
            Effect::NeedsReview => Decision::NeedsReview,
        };
        assert_eq!(s.decision, expected, "{}", e.id);
        assert!(s.summary.contains(&e.reason), "{}: {}", e.id, s.summary);
        // Every other criterion still passed.
        assert_eq!(s.criteria.iter().filter(|c| c.status != CriterionStatus::Passed).count(), 1, "{}", e.id);
    }
}

#[test]
fn the_ineligible_exclusions_are_the_published_ones() {
    let rules = portland();
    let decision = |id: &str| run_with(&rules, |v| v["facts"][id] = true.into()).decision;
    assert_eq!(decision("active_warrant"), Decision::Ineligible);
    assert_eq!(decision("no_contact_order"), Decision::Ineligible);
    assert_eq!(decision("specialty_court"), Decision::Ineligible);
    assert_eq!(decision("supervision_person_offense"), Decision::Ineligible);
    assert_eq!(decision("operations_team_denial"), Decision::Ineligible);
    assert_eq!(decision("lead_participant"), Decision::NeedsReview);
    assert_eq!(decision("exceptional_circumstances"), Decision::NeedsReview);
}

#[test]
fn former_participant_needs_review_not_ineligible() {
    let rules = portland();
    let s = run_with(&rules, |v| v["facts"]["lead_participant"] = true.into());
    assert_eq!(s.decision, Decision::NeedsReview);
    let c = criterion(&s, "lead_participant");
    assert_eq!((c.status, c.effect), (CriterionStatus::Failed, Effect::NeedsReview));
    assert!(
        s.summary.starts_with("Needs review: A current or former LEAD participant can continue only if"),
        "{}",
        s.summary
    );
    assert!(s.summary.contains("District Attorney"));
    assert!(s.questions.is_empty(), "nothing to ask; the Operations Team and the DA decide");
    assert_eq!(s.assessment_due, Some(day(2017, 7, 1)), "the deadline still runs while the case is reviewed");
}

#[test]
fn each_exclusion_absent_is_unknown_and_asks_its_question() {
    let rules = portland();
    for e in &rules.spec().exclusions {
        let s = run_with(&rules, |v| {
            v["facts"].as_object_mut().unwrap().remove(&e.id);
        });
        let c = criterion(&s, &e.id);
        assert_eq!(c.status, CriterionStatus::Unknown, "{}", e.id);
        assert_eq!(c.question.as_deref(), Some(e.question.as_str()));
        assert!(c.reason.starts_with("Not known yet; if yes,") && c.reason.ends_with(&e.label), "{}", c.reason);
        assert_eq!(s.decision, Decision::NeedsReview, "unknown never makes a person ineligible: {}", e.id);
        assert_eq!(s.questions, std::slice::from_ref(&e.question));
        assert!(s.summary.ends_with("1 question to answer."), "{}", s.summary);
    }
}

#[test]
fn each_exclusion_null_is_unknown_too() {
    let rules = portland();
    for e in &rules.spec().exclusions {
        let s = run_with(&rules, |v| v["facts"][&e.id] = serde_json::Value::Null);
        assert_eq!(criterion(&s, &e.id).status, CriterionStatus::Unknown, "{}", e.id);
        assert_eq!(s.decision, Decision::NeedsReview);
    }
}

#[test]
fn each_exclusion_false_passes() {
    let rules = portland();
    for e in &rules.spec().exclusions {
        let s = run_with(&rules, |v| v["facts"][&e.id] = false.into());
        assert_eq!(criterion(&s, &e.id).status, CriterionStatus::Passed, "{}", e.id);
        assert_eq!(criterion(&s, &e.id).reason, format!("Answered no: {}", e.question));
    }
}

#[test]
fn no_facts_at_all_asks_every_question() {
    let rules = portland();
    let s = run_with(&rules, |v| v["facts"] = json!({}));
    assert_eq!(s.decision, Decision::NeedsReview);
    assert_eq!(s.questions.len(), rules.spec().exclusions.len() + 1);
    assert!(s.summary.ends_with("8 questions to answer."), "seven exclusions and the LEAD officer: {}", s.summary);
}

#[test]
fn ineligible_wins_over_review_and_unknown() {
    let rules = portland();
    let s = run_with(&rules, |v| {
        v["facts"] = json!({"active_warrant": true, "lead_participant": true});
    });
    assert_eq!(s.decision, Decision::Ineligible);
    assert_eq!(s.assessment_due, None, "no assessment for an ineligible person");
    assert_eq!(s.summary, "Not eligible: An active extraditable warrant excludes the person from LEAD.");
}

#[test]
fn facts_the_rules_do_not_have_are_reported() {
    let rules = portland();
    let mut v = arrest_json(&rules);
    v["facts"]["active_warrent"] = true.into();
    let req = request(&v);
    let e = req.check(&rules).unwrap_err();
    assert!(matches!(&e, ScreeningError::UnknownFacts { unknown, .. } if unknown == &["active_warrent"]));
    assert!(e.to_string().contains("its facts are: active_warrant, no_contact_order"), "{e}");
    let s = screen(&rules, &req, inside(), today());
    assert_eq!(s.unrecognized_facts, ["active_warrent"]);
    assert!(request(&arrest_json(&rules)).check(&rules).is_ok());
    // Seattle's facts are not Portland's.
    assert!(request(&arrest_json(&seattle())).check(&rules).is_err());
}

// ---- thresholds, strict as published ----

#[test]
fn portland_heroin_5_grams_or_more_excludes() {
    let rules = portland();
    let s = with_substance(&rules, "heroin", 4.99);
    assert_eq!((s.decision, criterion(&s, "quantity.heroin").status), (Decision::Eligible, CriterionStatus::Passed));
    let s = with_substance(&rules, "heroin", 4.999_999);
    assert_eq!(s.decision, Decision::Eligible, "one microgram under");
    let s = with_substance(&rules, "heroin", 5.0);
    assert_eq!((s.decision, criterion(&s, "quantity.heroin").status), (Decision::Ineligible, CriterionStatus::Failed));
    assert_eq!(
        criterion(&s, "quantity.heroin").reason,
        "5 g of heroin is at or above the limit: 5 g or more of heroin excludes."
    );
    assert_eq!(with_substance(&rules, "Heroin", 5.01).decision, Decision::Ineligible);
}

#[test]
fn portland_cocaine_10_grams_or_more_excludes() {
    let rules = portland();
    assert_eq!(with_substance(&rules, "cocaine", 9.99).decision, Decision::Eligible);
    assert_eq!(with_substance(&rules, "cocaine", 10.0).decision, Decision::Ineligible);
    assert_eq!(with_substance(&rules, "crack", 10.0).decision, Decision::Ineligible, "alias");
    let s = with_substance(&rules, "crack cocaine", 9.99);
    assert_eq!(criterion(&s, "quantity.cocaine").status, CriterionStatus::Passed, "aliases report the limit's name");
}

#[test]
fn portland_methamphetamine_10_grams_or_more_excludes() {
    let rules = portland();
    assert_eq!(with_substance(&rules, "methamphetamine", 9.99).decision, Decision::Eligible);
    assert_eq!(with_substance(&rules, "methamphetamine", 10.0).decision, Decision::Ineligible);
    assert_eq!(with_substance(&rules, "meth", 9.99).decision, Decision::Eligible);
    let s = with_substance(&rules, "METH", 10.0);
    assert_eq!(s.decision, Decision::Ineligible);
    assert_eq!(criterion(&s, "quantity.methamphetamine").status, CriterionStatus::Failed);
}

#[test]
fn other_named_substances_have_an_explicit_no_limit_rule() {
    let rules = portland();
    let s = with_substance(&rules, "fentanyl", 50.0);
    assert_eq!(s.decision, Decision::Eligible, "the published criteria set no limit for fentanyl");
    let c = criterion(&s, "quantity.fentanyl");
    assert_eq!(c.status, CriterionStatus::Passed);
    assert!(
        c.reason.starts_with("These rules set no quantity limit for fentanyl (50 g): The County's published criteria set gram limits for heroin, cocaine and methamphetamine only"),
        "{}",
        c.reason
    );
    let s = with_substance(&rules, "Xanax", 2.0);
    assert_eq!(criterion(&s, "quantity.alprazolam").status, CriterionStatus::Passed, "an alias names its substance");
    let s = run_with(&rules, |v| v["substances"] = json!([{"substance": "oxycodone"}]));
    assert_eq!(s.decision, Decision::Eligible, "no limit: the amount does not matter");
    assert!(criterion(&s, "quantity.oxycodone").reason.contains("(not weighed)"));
}

#[test]
fn a_substance_the_rules_do_not_know_is_asked_about_never_passed() {
    let rules = portland();
    for name in ["herion", "heroine", "black tar herion", "cocaine powder", "fentanil", "speed", "marijuana"] {
        let s = with_substance(&rules, name, 250.0);
        assert_eq!(s.decision, Decision::NeedsReview, "{name}: never eligible, never passed");
        let c = criterion(&s, &format!("quantity.{name}"));
        assert_eq!((c.status, c.effect), (CriterionStatus::Unknown, Effect::Ineligible), "{name}");
        assert!(c.reason.contains("is not a substance these rules know (250 g)"), "{}", c.reason);
        let q = c.question.as_deref().unwrap();
        assert!(
            q.starts_with(&format!(
                "Which substance is {name:?}? These rules know: heroin, cocaine, methamphetamine, fentanyl,"
            )),
            "{q}"
        );
        assert!(q.ends_with("(other names for each in GET /v1/rules)."), "{q}");
        assert!(s.questions.contains(&q.to_owned()));
    }
    // The same misspelling twice is one question; it is never added to the real substance.
    let s = run_with(&rules, |v| {
        v["substances"] = json!([
            {"substance": "heroin", "grams": 3},
            {"substance": "Herion", "grams": 3},
            {"substance": " herion ", "grams": 1}
        ]);
    });
    assert_eq!(s.decision, Decision::NeedsReview);
    assert_eq!(criterion(&s, "quantity.heroin").status, CriterionStatus::Passed, "3 g of heroin itself");
    let c = criterion(&s, "quantity.Herion");
    assert!(c.reason.contains("(4 g)"), "{}", c.reason);
    assert_eq!(s.criteria.iter().filter(|c| c.id.starts_with("quantity")).count(), 2);
    // A known limit already failed still decides: not eligible.
    let s = run_with(&rules, |v| {
        v["substances"] = json!([{"substance": "heroin", "grams": 5}, {"substance": "herion", "grams": 1}]);
    });
    assert_eq!(s.decision, Decision::Ineligible);
}

#[test]
fn aliases_for_what_records_say_reach_the_limits() {
    let rules = portland();
    for (name, grams, decision, id) in [
        ("tar", 5.0, Decision::Ineligible, "quantity.heroin"),
        ("black tar", 4.99, Decision::Eligible, "quantity.heroin"),
        ("Black Tar Heroin", 250.0, Decision::Ineligible, "quantity.heroin"),
        ("crack", 10.0, Decision::Ineligible, "quantity.cocaine"),
        ("cocaine base", 10.0, Decision::Ineligible, "quantity.cocaine"),
        ("cocaine hydrochloride", 9.99, Decision::Eligible, "quantity.cocaine"),
        ("meth", 10.0, Decision::Ineligible, "quantity.methamphetamine"),
        ("crystal", 10.0, Decision::Ineligible, "quantity.methamphetamine"),
        ("ICE", 12.0, Decision::Ineligible, "quantity.methamphetamine"),
        ("methamphetamine hydrochloride", 10.0, Decision::Ineligible, "quantity.methamphetamine"),
    ] {
        let s = with_substance(&rules, name, grams);
        assert_eq!(s.decision, decision, "{name} {grams} g");
        criterion(&s, id);
    }
    // Aliases of one substance add up.
    let s = run_with(&rules, |v| {
        v["substances"] = json!([{"substance": "tar", "grams": 2.5}, {"substance": "black tar heroin", "grams": 2.5}]);
    });
    assert_eq!(s.decision, Decision::Ineligible, "5 g of heroin in all");
}

#[test]
fn amounts_of_one_substance_are_added_up() {
    let rules = portland();
    let s = run_with(&rules, |v| {
        v["substances"] = json!([
            {"substance": "heroin", "grams": 2.5},
            {"substance": "cocaine", "grams": 9.0},
            {"substance": "Heroin", "grams": 2.5}
        ]);
    });
    assert_eq!(s.decision, Decision::Ineligible);
    assert_eq!(criterion(&s, "quantity.heroin").status, CriterionStatus::Failed);
    assert_eq!(criterion(&s, "quantity.cocaine").status, CriterionStatus::Passed);
    assert_eq!(s.criteria.iter().filter(|c| c.id.starts_with("quantity")).count(), 2);
    let s = run_with(&rules, |v| {
        v["substances"] =
            json!([{"substance": "meth", "grams": 4.995}, {"substance": "methamphetamine", "grams": 4.995}]);
    });
    assert_eq!(s.decision, Decision::Eligible, "9.99 g in all");
}

#[test]
fn seattle_more_than_3_grams_excludes() {
    let rules = seattle();
    let s = with_substance(&rules, "heroin", 3.0);
    assert_eq!(s.decision, Decision::Eligible, "{s:#?}");
    assert_eq!(
        criterion(&s, "quantity.heroin").reason,
        "3 g of heroin is within the limit: more than 3 g of heroin excludes."
    );
    let s = with_substance(&rules, "heroin", 3.01);
    assert_eq!(s.decision, Decision::Ineligible);
    assert_eq!(
        criterion(&s, "quantity.heroin").reason,
        "3.01 g of heroin is over the limit: more than 3 g of heroin excludes."
    );
    assert_eq!(with_substance(&rules, "cocaine", 3.0).decision, Decision::Eligible);
    assert_eq!(with_substance(&rules, "cocaine", 3.01).decision, Decision::Ineligible);
    assert_eq!(with_substance(&rules, "methamphetamine", 3.000_001).decision, Decision::Ineligible);
    assert_eq!(with_substance(&rules, "fentanyl", 3.01).decision, Decision::Ineligible, "any substance");
}

// ---- unknown grams ----

#[test]
fn unknown_grams_need_review_and_ask_how_much() {
    let rules = portland();
    let s = run_with(&rules, |v| v["substances"] = json!([{"substance": "heroin"}]));
    assert_eq!(s.decision, Decision::NeedsReview);
    let c = criterion(&s, "quantity.heroin");
    assert_eq!(c.status, CriterionStatus::Unknown);
    assert_eq!(c.reason, "The amount of heroin is not known; 5 g or more of heroin excludes.");
    assert_eq!(s.questions, ["How many grams of heroin did the person have in all?"]);
    let s = run_with(&rules, |v| v["substances"] = json!([{"substance": "heroin", "grams": null}]));
    assert_eq!(criterion(&s, "quantity.heroin").status, CriterionStatus::Unknown);
}

#[test]
fn partly_weighed_amounts() {
    let rules = portland();
    let s =
        run_with(&rules, |v| v["substances"] = json!([{"substance": "heroin", "grams": 3}, {"substance": "heroin"}]));
    assert_eq!(s.decision, Decision::NeedsReview);
    assert!(criterion(&s, "quantity.heroin").reason.contains("(3 g weighed so far)"));
    let s =
        run_with(&rules, |v| v["substances"] = json!([{"substance": "heroin", "grams": 5}, {"substance": "heroin"}]));
    assert_eq!(s.decision, Decision::Ineligible, "5 g known is already at the limit");
    assert!(criterion(&s, "quantity.heroin").reason.starts_with("at least 5 g of heroin"));
}

#[test]
fn an_arrest_without_substances_asks_for_them() {
    let rules = portland();
    let s = run_with(&rules, |v| v["substances"] = json!([]));
    assert_eq!(s.decision, Decision::NeedsReview);
    let c = criterion(&s, "quantity");
    assert_eq!(c.status, CriterionStatus::Unknown);
    assert_eq!(c.question.as_deref(), Some("Which substances did the person have, and how many grams of each?"));
}

// ---- offenses ----

#[test]
fn pcs_is_eligible_sq_and_cdo_are_not() {
    let rules = portland();
    let offense = |o: &str| run_with(&rules, |v| v["offense"] = o.into());
    assert_eq!(offense("PCS").decision, Decision::Eligible);
    assert_eq!(offense(" pcs ").decision, Decision::Eligible);
    assert_eq!(offense("Possession of a Controlled Substance").decision, Decision::Eligible);
    for code in ["SQ", "CDO", "sq", "other"] {
        let s = offense(code);
        assert_eq!(s.decision, Decision::Ineligible, "{code}");
        let c = criterion(&s, "offense");
        assert_eq!((c.status, c.effect), (CriterionStatus::Failed, Effect::Ineligible), "{code}");
        assert!(
            c.reason.ends_with("arrest diversion covers PCS (Possession of a Controlled Substance) only."),
            "{}",
            c.reason
        );
    }
    assert!(criterion(&offense("SQ"), "offense").reason.starts_with("SQ (substantial-quantity drug offense) is not"));
    assert!(criterion(&offense("CDO"), "offense").reason.starts_with("CDO (commercial drug offense) is not"));
}

#[test]
fn an_offense_the_rules_do_not_name_is_asked_about_not_refused() {
    let rules = portland();
    let s = run_with(&rules, |v| v["offense"] = "possession of heroin".into());
    assert_eq!(s.decision, Decision::NeedsReview);
    let c = criterion(&s, "offense");
    assert_eq!(c.status, CriterionStatus::Unknown);
    assert_eq!(
        c.question.as_deref(),
        Some(
            "Which of these is the offense \"possession of heroin\": PCS (Possession of a Controlled Substance), SQ (substantial-quantity drug offense), CDO (commercial drug offense), delivery (delivery of a controlled substance), manufacture (manufacture of a controlled substance), other (any other offense)?"
        )
    );
    let s = run_with(&rules, |v| {
        v.as_object_mut().unwrap().remove("offense");
    });
    assert_eq!(s.decision, Decision::NeedsReview);
    assert_eq!(
        criterion(&s, "offense").question.as_deref(),
        Some("What is the offense? Eligible: PCS (Possession of a Controlled Substance).")
    );
}

#[test]
fn seattle_covers_possession_and_delivery() {
    let rules = seattle();
    let offense = |o: &str| run_with(&rules, |v| v["offense"] = o.into()).decision;
    assert_eq!(offense("possession"), Decision::Eligible);
    assert_eq!(offense("delivery"), Decision::Eligible);
    assert_eq!(offense("sales"), Decision::Eligible);
    assert_eq!(offense("PCS"), Decision::Eligible);
    assert_eq!(offense("other"), Decision::Ineligible);
    assert_eq!(offense("SQ"), Decision::NeedsReview, "Seattle's rules do not name SQ");
    let s = run_with(&rules, |v| v["facts"]["promoting_prostitution"] = true.into());
    assert_eq!(s.decision, Decision::Ineligible);
    let s = run(&rules, &arrest_json(&rules));
    assert_eq!(s.assessment_due, None, "the Seattle example has no assessment deadline");
    assert_eq!(s.rule_set.status, RuleStatus::Example);
}

// ---- referral paths and the assessment date ----

fn social_json(rules: &RuleSet) -> serde_json::Value {
    json!({"referral_path": "social_contact", "facts": all_clear(rules), "at": "2017-06-01"})
}

#[test]
fn social_contact_needs_no_offense_nor_quantities_and_has_no_deadline() {
    let rules = portland();
    let s = run(&rules, &social_json(&rules));
    assert_eq!(s.decision, Decision::Eligible, "{s:#?}");
    assert_eq!(s.referral_path, ReferralPath::SocialContact);
    assert_eq!(s.assessment_due, None);
    assert_eq!(criterion(&s, "offense").reason, "A social-contact referral needs no arrest offense.");
    assert_eq!(
        criterion(&s, "quantity").reason,
        "No substances were reported; a social-contact referral has no seized quantity to check."
    );
    // An offense the rules exclude on this path rules a social contact out; others do not.
    let mut v = social_json(&rules);
    v["offense"] = "SQ".into();
    let s = run(&rules, &v);
    assert_eq!(s.decision, Decision::Ineligible);
    assert_eq!(
        criterion(&s, "offense").reason,
        "SQ (substantial-quantity drug offense) rules out a social-contact referral: these rules exclude it on this path."
    );
    v["offense"] = "unlawful possession of cocaine".into();
    assert_eq!(run(&rules, &v).decision, Decision::Eligible);
    v["offense"] = "trespass".into();
    let s = run(&rules, &v);
    assert_eq!(s.decision, Decision::NeedsReview);
    assert!(
        criterion(&s, "offense").question.as_deref().unwrap().starts_with("Which of these is the offense \"trespass\"")
    );
}

#[test]
fn social_contact_still_checks_location_exclusions_and_reported_quantities() {
    let rules = portland();
    let mut v = social_json(&rules);
    v["substances"] = json!([{"substance": "heroin", "grams": 5}]);
    assert_eq!(run(&rules, &v).decision, Decision::Ineligible);
    let mut v = social_json(&rules);
    v["substances"] = json!([{"substance": "heroin"}]);
    assert_eq!(run(&rules, &v).decision, Decision::NeedsReview, "a reported but unweighed amount is asked about");
    let mut v = social_json(&rules);
    v["facts"]["active_warrant"] = true.into();
    assert_eq!(run(&rules, &v).decision, Decision::Ineligible);
    let v = social_json(&rules);
    let outside = LocationFact::Outside { nearest_zone: Some(downtown()), distance_m: 800.0 };
    assert_eq!(screen(&rules, &request(&v), outside, today()).decision, Decision::Ineligible);
    let mut v = social_json(&rules);
    v["facts"] = json!({});
    assert_eq!(run(&rules, &v).decision, Decision::NeedsReview);
}

#[test]
fn a_social_contact_must_be_at_high_risk_of_a_drug_arrest() {
    let rules = portland();
    let with = |answer: serde_json::Value| {
        let mut v = social_json(&rules);
        v["facts"]["high_risk_of_drug_arrest"] = answer;
        run(&rules, &v)
    };
    let s = with(json!(true));
    assert_eq!(s.decision, Decision::Eligible);
    assert_eq!(
        criterion(&s, "high_risk_of_drug_arrest").reason,
        "Answered yes: Is the person at high risk of a future arrest for drug possession, as the officer knows them?"
    );
    let s = with(json!(null));
    assert_eq!(s.decision, Decision::NeedsReview, "unanswered: asked, not passed");
    let c = criterion(&s, "high_risk_of_drug_arrest");
    assert_eq!(c.status, CriterionStatus::Unknown);
    assert_eq!(s.questions, [c.question.clone().unwrap()]);
    assert!(c.reason.starts_with("Not known yet; if no, the person is not eligible."), "{}", c.reason);
    let s = with(json!(false));
    assert_eq!(s.decision, Decision::Ineligible);
    assert!(s.summary.contains("A social contact referral is for a person at high risk"), "{}", s.summary);
    let mut v = social_json(&rules);
    v["facts"].as_object_mut().unwrap().remove("high_risk_of_drug_arrest");
    assert_eq!(run(&rules, &v).decision, Decision::NeedsReview, "absent is unknown too");
}

#[test]
fn an_arrest_diversion_is_made_by_a_lead_officer() {
    let rules = portland();
    let s = run_with(&rules, |v| v["facts"]["lead_officer"] = false.into());
    assert_eq!(s.decision, Decision::Ineligible);
    assert_eq!(criterion(&s, "lead_officer").status, CriterionStatus::Failed);
    assert!(s.summary.contains("have a LEAD officer make the diversion"), "{}", s.summary);
    let s = run_with(&rules, |v| {
        v["facts"].as_object_mut().unwrap().remove("lead_officer");
    });
    assert_eq!(s.decision, Decision::NeedsReview);
    assert_eq!(s.questions, ["Is the officer making this diversion a LEAD officer (trained for LEAD)?"]);
    // Each path asks only its own requirement.
    let s = run(&rules, &social_json(&rules));
    assert!(s.criteria.iter().all(|c| c.id != "lead_officer"));
    let s = run(&rules, &arrest_json(&rules));
    assert!(s.criteria.iter().all(|c| c.id != "high_risk_of_drug_arrest"));
}

#[test]
fn oregon_charge_names_are_read_and_delivery_or_manufacture_is_not_possession() {
    let rules = portland();
    let offense = |o: &str| run_with(&rules, |v| v["offense"] = o.into());
    for pcs in
        ["ORS 475.854", "Unlawful possession of heroin", "UNLAWFUL POSSESSION OF COCAINE", "475.894", "PCS I", "PCS II"]
    {
        assert_eq!(offense(pcs).decision, Decision::Eligible, "{pcs}");
    }
    for (text, reason) in [
        ("Unlawful delivery of heroin", "delivery (delivery of a controlled substance) is not an eligible offense"),
        ("ORS 475.880", "delivery (delivery of a controlled substance) is not an eligible offense"),
        ("DCS", "delivery ("),
        (
            "unlawful manufacture of methamphetamine",
            "manufacture (manufacture of a controlled substance) is not an eligible offense",
        ),
        ("MCS", "manufacture ("),
    ] {
        let s = offense(text);
        assert_eq!(s.decision, Decision::Ineligible, "{text}: refused with the reason, not asked about");
        let c = criterion(&s, "offense");
        assert_eq!(c.status, CriterionStatus::Failed, "{text}");
        assert!(c.reason.starts_with(reason), "{text}: {}", c.reason);
        assert!(s.questions.is_empty(), "{text}");
    }
}

#[test]
fn with_no_program_in_force_the_screening_is_ineligible_and_says_why() {
    let rules = portland();
    let why = "No LEAD program is in force on 2026-12-04: no rule set is in force then; the nearest, portland-lead-2017: it was in force from 2017-02-27 to 2021-01-31 (Measure 110).";
    let mut v = arrest_json(&rules);
    v["at"] = "2026-12-04".into();
    let s = screen_without_program(&rules, &request(&v), inside(), today(), why);
    assert_eq!(s.decision, Decision::Ineligible);
    assert_eq!(s.summary, format!("Not eligible: {why}"));
    assert_eq!(s.criteria.len(), 1);
    let c = criterion(&s, "program");
    assert_eq!((c.status, c.effect, c.reason.as_str()), (CriterionStatus::Failed, Effect::Ineligible, why));
    assert!(s.questions.is_empty() && s.assessment_due.is_none());
    assert_eq!(s.at, day(2026, 12, 4));
    assert_eq!(s.rule_set.name, "portland-lead-2017", "the nearest rule set is named");
}

#[test]
fn arrest_assessment_is_due_30_days_after_the_arrest() {
    let rules = portland();
    let s = run_with(&rules, |v| v["at"] = "2017-12-15".into());
    assert_eq!(s.assessment_due, Some(day(2018, 1, 14)));
    let s = run_with(&rules, |v| v["at"] = "2020-02-10".into());
    assert_eq!(s.assessment_due, Some(day(2020, 3, 11)), "across a leap day");
    // Without `at`, the date is today.
    let s = run_with(&rules, |v| {
        v.as_object_mut().unwrap().remove("at");
    });
    assert_eq!(s.at, today());
    assert_eq!(s.assessment_due, Some(day(2017, 7, 2)));
    // Needs review: still due; ineligible: none.
    let s = run_with(&rules, |v| v["facts"] = json!({}));
    assert_eq!((s.decision, s.assessment_due), (Decision::NeedsReview, Some(day(2017, 7, 1))));
    let s = run_with(&rules, |v| v["offense"] = "CDO".into());
    assert_eq!((s.decision, s.assessment_due), (Decision::Ineligible, None));
}

#[test]
fn a_path_the_rules_lack_is_ineligible() {
    let mut spec = crate::rules::tests::portland_spec();
    spec.referral_paths.social_contact = None;
    let rules = RuleSet::new(spec, "arrest-only").unwrap();
    let s = run(&rules, &social_json(&rules));
    assert_eq!(s.decision, Decision::Ineligible);
    assert_eq!(criterion(&s, "referral_path").reason, "portland-lead-2017 has no social-contact referral path.");
    assert_eq!(s.assessment_due, None);
}

// ---- location ----

#[test]
fn outside_every_area_is_ineligible() {
    let rules = portland();
    let req = request(&arrest_json(&rules));
    let outside = LocationFact::Outside {
        nearest_zone: Some(ZoneRef { id: "lloyd".into(), name: "Lloyd District".into() }),
        distance_m: 812.34,
    };
    let s = screen(&rules, &req, outside, today());
    assert_eq!(s.decision, Decision::Ineligible);
    let c = criterion(&s, "location");
    assert_eq!(c.status, CriterionStatus::Failed);
    assert_eq!(
        c.reason,
        "The contact location is outside every LEAD area, 812 m from the nearest, Lloyd District (lloyd)."
    );
}

#[test]
fn borderline_location_is_unknown_and_asks_to_confirm() {
    let rules = portland();
    let req = request(&arrest_json(&rules));
    for (inside, reason) in [
        (
            true,
            "GPS puts the contact inside Downtown (downtown), 12 m from its edge: within GPS error, so it could be outside.",
        ),
        (false, "GPS puts the contact 12 m outside Downtown (downtown): within GPS error, so it could be inside."),
    ] {
        let loc = LocationFact::Borderline { zone: Some(downtown()), inside, distance_m: 12.4 };
        let s = screen(&rules, &req, loc, today());
        assert_eq!(s.decision, Decision::NeedsReview, "borderline is never ineligible");
        let c = criterion(&s, "location");
        assert_eq!((c.status, c.reason.as_str()), (CriterionStatus::Unknown, reason));
        assert_eq!(
            c.question.as_deref(),
            Some(
                "Did the contact happen inside Downtown? Confirm the address or cross streets against the LEAD area map."
            )
        );
    }
    let on_edge = LocationFact::Borderline { zone: Some(downtown()), inside: true, distance_m: 0.0 };
    let s = screen(&rules, &req, on_edge, today());
    assert!(criterion(&s, "location").reason.contains("exactly on the edge of Downtown"));
}

#[test]
fn location_fact_from_point_eligibility() {
    use crate::coord::LonLat;
    use crate::eligibility::PointEligibility;
    use crate::zones::{IndexOptions, ZoneCatalog};
    let zones = ZoneCatalog::new(builtin::zone_sets().unwrap(), IndexOptions::default());
    let rules = RuleCatalog::new(builtin::rule_sets().unwrap()).unwrap();
    let program = crate::program::program_on(&zones, &rules, day(2017, 6, 1)).unwrap();
    let answer = |lon, lat| PointEligibility::of(&program, LonLat::new(lon, lat).unwrap(), None);
    let fact = |lon, lat| LocationFact::from(&answer(lon, lat));
    // Pioneer Courthouse Square, well inside Downtown.
    assert_eq!(fact(-122.6793, 45.5189), LocationFact::Inside { zone: downtown() });
    // A vertex of Downtown's boundary: on the edge, so borderline.
    let set = program.zones.set();
    let corner = set.zone("downtown").unwrap().geometry.0[0].exterior().0[0];
    let LocationFact::Borderline { zone, inside, distance_m } = fact(corner.x, corner.y) else {
        panic!("not borderline")
    };
    assert!(inside && distance_m == 0.0 && zone.is_some());
    // Beside the middle of an edge Old Town shares with Downtown (vertex for vertex), clear of every
    // other edge: in a LEAD area either way, so simply inside.
    let ring = |id: &str| set.zone(id).unwrap().geometry.0[0].exterior().0.clone();
    let (down, old) = (ring("downtown"), ring("old-town"));
    let shared: Vec<_> = down
        .windows(2)
        .filter(|w| old.windows(2).any(|o| (o[0] == w[0] && o[1] == w[1]) || (o[0] == w[1] && o[1] == w[0])))
        .map(|w| (f64::midpoint(w[0].x, w[1].x), f64::midpoint(w[0].y, w[1].y)))
        .collect();
    assert!(!shared.is_empty(), "the City's Downtown and Old Town share edges");
    let near_shared = shared
        .iter()
        .map(|&(x, y)| answer(x, y))
        .find(|a| a.borderline && !a.coverage_borderline)
        .expect("a shared edge clear of the outside edges");
    assert_eq!(LocationFact::from(&near_shared), LocationFact::Inside { zone: near_shared.zone.clone().unwrap() });
    // Far away (Portland airport): outside, with the nearest zone.
    let LocationFact::Outside { nearest_zone, distance_m } = fact(-122.5951, 45.5898) else { panic!("not outside") };
    assert!(nearest_zone.is_some() && distance_m > 1000.0);
    // With no program in force the location fact is still where the point lies (the screening says why
    // it is not eligible).
    let later = crate::program::program_on(&zones, &rules, day(2026, 12, 4)).unwrap();
    let a = PointEligibility::of(&later, LonLat::new(-122.6793, 45.5189).unwrap(), None);
    assert!(!a.eligible);
    assert_eq!(LocationFact::from(&a), LocationFact::Inside { zone: downtown() });
}

#[test]
fn unknowns_alone_never_make_a_person_ineligible() {
    let rules = portland();
    let req = request(&json!({"referral_path": "arrest", "substances": [{"substance": "heroin"}]}));
    let loc = LocationFact::Borderline { zone: Some(downtown()), inside: false, distance_m: 20.0 };
    let s = screen(&rules, &req, loc, today());
    assert_eq!(s.decision, Decision::NeedsReview);
    assert!(s.criteria.iter().all(|c| c.status != CriterionStatus::Failed));
    // location, the LEAD officer, offense, heroin and seven exclusions.
    assert_eq!(s.questions.len(), 11, "{:#?}", s.questions);
}

// ---- the request ----

#[test]
fn requests_are_parsed_strictly() {
    let err = |v: serde_json::Value| serde_json::from_value::<ScreeningRequest>(v).unwrap_err().to_string();
    let e = err(json!({"referral_path": "arrest", "lon": -122.67}));
    assert!(e.starts_with("unknown field `lon`"), "{e}");
    let e = err(json!({"referral_path": "citation"}));
    assert!(e.contains("unknown variant `citation`, expected `arrest` or `social_contact`"), "{e}");
    let e = err(json!({"offense": "PCS"}));
    assert!(e.contains("missing field `referral_path`"), "{e}");
    let e = err(json!({"referral_path": "arrest", "substances": [{"substance": "heroin", "grams": -1}]}));
    assert!(e.contains("-1 is not a quantity in grams"), "{e}");
    let e = err(json!({"referral_path": "arrest", "substances": [{"substance": " ", "grams": 1}]}));
    assert!(e.contains("substance must not be blank"), "{e}");
    let e = err(json!({"referral_path": "arrest", "substances": [{"substance": "heroin", "weight": 1}]}));
    assert!(e.contains("unknown field `weight`"), "{e}");
    let e = err(json!({"referral_path": "arrest", "facts": {"active_warrant": "yes"}}));
    assert!(e.contains("invalid type: string \"yes\", expected a boolean"), "{e}");
    let e = err(json!({"referral_path": "arrest", "at": "June 1"}));
    assert!(e.contains("input contains invalid characters") || e.contains("premature end"), "{e}");
    let minimal = request(&json!({"referral_path": "social_contact"}));
    assert!(minimal.offense.is_none() && minimal.substances.is_empty() && minimal.facts.is_empty());
}
