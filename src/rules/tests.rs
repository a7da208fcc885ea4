//! Rule files: parsing, validation (every error names its field), versions, grams.

use super::*;
use crate::builtin::{PORTLAND_RULES, SEATTLE_EXAMPLE_RULES};

/// The built-in Portland rules, as an editable spec.
pub(crate) fn portland_spec() -> RuleSpec {
    serde_json::from_str(PORTLAND_RULES).unwrap()
}

fn portland_json() -> serde_json::Value {
    serde_json::from_str(PORTLAND_RULES).unwrap()
}

fn load(value: &serde_json::Value) -> Result<RuleSet, RuleError> {
    RuleSet::from_json(&value.to_string(), "test.json")
}

/// The error text for a rule file edited by `edit`.
fn error_after(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v = portland_json();
    edit(&mut v);
    load(&v).unwrap_err().to_string()
}

#[test]
fn portland_rules_say_what_the_published_criteria_say() {
    let r = RuleSet::from_json(PORTLAND_RULES, "geodata/rules/portland.json").unwrap();
    let s = r.spec();
    assert_eq!(s.name, "portland-lead-2017");
    assert_eq!(s.status, RuleStatus::Transcribed);
    assert_eq!(s.effective_from, NaiveDate::from_ymd_opt(2017, 2, 27).unwrap());
    assert_eq!(s.effective_to, NaiveDate::from_ymd_opt(2021, 1, 31), "the day before Measure 110");
    assert!(s.effective_from_reason.as_deref().unwrap().contains("27 February 2017"));
    assert!(s.effective_to_reason.as_deref().unwrap().contains("Measure 110"));
    assert_eq!(s.capacity, Some(300));
    assert!(s.note.as_deref().unwrap().contains("Policy Document"));
    assert!(
        s.sources
            .iter()
            .any(|x| x.url.as_deref() == Some("https://multco.us/lpscc/law-enforcement-assisted-diversion-lead%C2%AE"))
    );

    let arrest = r.path(ReferralPath::Arrest).unwrap();
    assert_eq!(arrest.eligible_offenses, ["PCS"]);
    assert!(arrest.offense_required && arrest.quantities_required);
    assert_eq!(arrest.assessment_deadline_days, Some(30));
    let ids = |p: &PathRules| p.requirements.iter().map(|r| (r.id.clone(), r.effect)).collect::<Vec<_>>();
    assert_eq!(ids(arrest), [("lead_officer".to_owned(), Effect::Ineligible)], "a LEAD officer diverts");
    let social = r.path(ReferralPath::SocialContact).unwrap();
    assert!(!social.offense_required && !social.quantities_required);
    assert_eq!(social.assessment_deadline_days, None);
    assert_eq!(ids(social), [("high_risk_of_drug_arrest".to_owned(), Effect::Ineligible)]);
    assert!(social.requirements[0].label.contains("high risk of future arrest for drug possession"));

    let rule = |name: &str| r.substance(name).map(|s| (s.substance.clone(), s.rule().unwrap()));
    let g = |x: f64| Grams::new(x).unwrap();
    assert_eq!(rule("heroin"), Some(("heroin".into(), QuantityRule::Limit(Comparison::AtOrAbove, g(5.0)))));
    assert_eq!(rule("Cocaine").unwrap().1, QuantityRule::Limit(Comparison::AtOrAbove, g(10.0)));
    assert_eq!(rule("methamphetamine").unwrap().1, QuantityRule::Limit(Comparison::AtOrAbove, g(10.0)));
    // The aliases the issue names, matched ignoring case, spaces and punctuation.
    for (alias, name) in [
        ("tar", "heroin"),
        ("black tar", "heroin"),
        ("Black-Tar  Heroin", "heroin"),
        ("BLACKTAR HEROIN", "heroin"),
        ("crack", "cocaine"),
        ("cocaine base", "cocaine"),
        ("Cocaine Hydrochloride", "cocaine"),
        (" meth ", "methamphetamine"),
        ("crystal", "methamphetamine"),
        ("ICE", "methamphetamine"),
        ("methamphetamine hydrochloride", "methamphetamine"),
    ] {
        assert_eq!(rule(alias).map(|r| r.0), Some(name.to_owned()), "{alias}");
    }
    // Every other named substance has an explicit rule, not a fallthrough.
    let Some((_, QuantityRule::NoLimit(why))) = rule("fentanyl") else { panic!("fentanyl has no explicit rule") };
    assert!(why.contains("heroin, cocaine and methamphetamine only"), "{why}");
    assert!(s.substances.iter().all(|x| x.rule().is_some()), "every substance has exactly one rule");
    // A name the rules do not know at all is not one of them.
    for unknown in ["herion", "cocaine powder base", "marijuana", "speed", ""] {
        assert!(r.substance(unknown).is_none(), "{unknown}");
    }

    let ids: Vec<&str> = s.exclusions.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "active_warrant",
            "no_contact_order",
            "lead_participant",
            "specialty_court",
            "supervision_person_offense",
            "operations_team_denial",
            "exceptional_circumstances"
        ]
    );
    let effect = |id: &str| r.exclusion(id).unwrap().effect;
    assert_eq!(effect("lead_participant"), Effect::NeedsReview);
    assert_eq!(effect("exceptional_circumstances"), Effect::NeedsReview);
    assert_eq!(effect("operations_team_denial"), Effect::Ineligible);
    assert_eq!(effect("active_warrant"), Effect::Ineligible);
    assert_eq!(r.fact_ids().count(), 9, "seven exclusions and two requirements");
    let code = |text: &str| r.offense(text).map(|o| o.code.as_str());
    assert_eq!(code("pcs"), Some("PCS"));
    assert_eq!(code("commercial drug offense"), Some("CDO"));
    // Oregon's charge names, as records systems send them.
    for pcs in [
        "ORS 475.854",
        "Unlawful Possession of Heroin",
        "475.884",
        "UNLAWFUL POSSESSION OF METHAMPHETAMINE",
        "PCS I",
        "pcs ii",
        "PCS-II",
    ] {
        assert_eq!(code(pcs), Some("PCS"), "{pcs}");
    }
    for (text, expected) in [
        ("ORS 475.850", "delivery"),
        ("DCS", "delivery"),
        ("Unlawful delivery of cocaine", "delivery"),
        ("ORS 475.886", "manufacture"),
        ("MCS II", "manufacture"),
    ] {
        assert_eq!(code(text), Some(expected), "{text}");
    }
    assert_eq!(code("possession of heroin"), None, "not a charge name: asked about");
}

#[test]
fn seattle_example_has_a_3_gram_limit_on_every_substance_and_two_offenses() {
    let r = RuleSet::from_json(SEATTLE_EXAMPLE_RULES, "geodata/rules/seattle.json").unwrap();
    assert_eq!(r.spec().status, RuleStatus::Example);
    assert!(r.spec().title.contains("EXAMPLE"));
    assert_eq!(r.spec().effective_from.to_string(), "2011-01-01");
    for s in ["heroin", "crack", "fentanyl", "MDMA"] {
        assert_eq!(
            r.substance(s).and_then(Substance::rule),
            Some(QuantityRule::Limit(Comparison::Above, Grams::new(3.0).unwrap())),
            "{s}"
        );
    }
    assert!(r.substance("anything else").is_none(), "a closed vocabulary here too");
    assert_eq!(r.path(ReferralPath::Arrest).unwrap().eligible_offenses, ["possession", "delivery"]);
    assert_eq!(r.offense("sales").unwrap().code, "delivery");
    assert_eq!(r.offense("PCS").unwrap().code, "possession");
    assert_eq!(r.path(ReferralPath::SocialContact).unwrap().requirements[0].id, "known_drug_activity");
}

#[test]
fn an_old_rule_file_with_substance_limits_is_told_what_replaced_them() {
    let mut v = portland_json();
    let substances = v.as_object_mut().unwrap().remove("substances").unwrap();
    v["substance_limits"] = substances;
    let e = load(&v).unwrap_err().to_string();
    assert!(e.starts_with("test.json: substance_limits was replaced by substances"), "{e}");
    assert!(e.contains("never passed"), "{e}");
}

#[test]
fn unknown_fields_are_rejected_by_name() {
    let e = error_after(|v| v["colour"] = "red".into());
    assert!(e.starts_with("test.json: unknown field `colour`"), "{e}");
    let e = error_after(|v| v["referral_paths"]["arrest"]["deadline"] = 30.into());
    assert!(e.contains("unknown field `deadline`"), "{e}");
    let e = error_after(|v| v["exclusions"][0]["severity"] = "high".into());
    assert!(e.contains("unknown field `severity`"), "{e}");
    let e = error_after(|v| v["referral_paths"]["citation"] = serde_json::json!({}));
    assert!(e.contains("unknown field `citation`"), "{e}");
}

#[test]
fn missing_fields_are_named() {
    for field in ["name", "jurisdiction", "effective_from", "exclusions", "substances", "status"] {
        let e = error_after(|v| {
            v.as_object_mut().unwrap().remove(field);
        });
        assert!(e.starts_with(&format!("test.json: missing field `{field}`")), "{e}");
    }
    let e = error_after(|v| {
        v["exclusions"][2].as_object_mut().unwrap().remove("question");
    });
    assert!(e.contains("missing field `question`"), "{e}");
    let e = error_after(|v| v["exclusions"][0]["effect"] = "maybe".into());
    assert!(e.contains("unknown variant `maybe`"), "{e}");
}

#[test]
fn bad_values_are_reported_with_their_field_path() {
    let e = error_after(|v| v["substances"][0]["excluded_at_or_above_grams"] = (-5).into());
    assert_eq!(
        e,
        "test.json: substances[0].excluded_at_or_above_grams: -5 is not a quantity in grams: give a number from 0 to 1000000"
    );
    let e = error_after(|v| v["effective_to"] = "2016-12-31".into());
    assert_eq!(e, "test.json: effective_to: 2016-12-31 is before effective_from 2017-02-27");
    let e = error_after(|v| v["effective_to"] = serde_json::Value::Null);
    assert!(e.contains("effective_to_reason: there is no effective_to to give a reason for"), "{e}");
    let e = error_after(|v| v["effective_from_reason"] = " ".into());
    assert!(e.contains("effective_from_reason: must not be empty"), "{e}");
    let e = error_after(|v| v["substances"][1]["excluded_above_grams"] = 3.into());
    assert!(e.contains("substances[1]: give only one of"), "{e}");
    let e = error_after(|v| v["substances"][3]["excluded_above_grams"] = 3.into());
    assert!(e.contains("substances[3]: give only one of"), "a limit and no_limit: {e}");
    let e = error_after(|v| {
        v["substances"][2].as_object_mut().unwrap().remove("excluded_at_or_above_grams");
    });
    assert!(e.contains("substances[2]: give its quantity rule: excluded_at_or_above_grams (>=)"), "{e}");
    let e = error_after(|v| v["substances"][3]["no_limit"] = "".into());
    assert!(e.contains("substances[3].no_limit: must not be empty"), "{e}");
    let e = error_after(|v| v["substances"] = serde_json::json!([]));
    assert!(e.contains("substances: list every substance the rules know"), "{e}");
    let e = error_after(|v| v["referral_paths"]["arrest"]["eligible_offenses"] = serde_json::json!(["PCS", "DUII"]));
    assert!(e.contains("referral_paths.arrest.eligible_offenses[1]: \"DUII\" is not the code of an offense"), "{e}");
    let e = error_after(|v| v["referral_paths"]["arrest"]["assessment_deadline_days"] = 0.into());
    assert!(e.contains("referral_paths.arrest.assessment_deadline_days: 0 is not between 1 and 366"), "{e}");
    let e = error_after(|v| v["exclusions"][1]["id"] = "active_warrant".into());
    assert!(e.contains("exclusions[1].id: \"active_warrant\" is the id of an earlier fact"), "{e}");
    let e = error_after(|v| v["exclusions"][0]["id"] = "Active Warrant".into());
    assert!(e.contains("exclusions[0].id: \"Active Warrant\" is not a valid fact id"), "{e}");
    let e = error_after(|v| v["exclusions"][0]["id"] = "location".into());
    assert!(e.contains("exclusions[0].id: \"location\" is the id of a built-in criterion"), "{e}");
    let e = error_after(|v| v["exclusions"][0]["id"] = "program".into());
    assert!(e.contains("exclusions[0].id: \"program\" is the id of a built-in criterion"), "{e}");
    // Requirements and exclusions share one namespace of facts.
    let e = error_after(|v| v["exclusions"][0]["id"] = "lead_officer".into());
    assert!(e.contains("exclusions[0].id: \"lead_officer\" is the id of an earlier fact"), "{e}");
    let e = error_after(|v| v["referral_paths"]["social_contact"]["requirements"][0]["id"] = "lead_officer".into());
    assert!(
        e.contains("referral_paths.social_contact.requirements[0].id: \"lead_officer\" is the id of an earlier fact"),
        "{e}"
    );
    let e = error_after(|v| v["referral_paths"]["arrest"]["requirements"][0]["question"] = "".into());
    assert!(e.contains("referral_paths.arrest.requirements[0].question: must not be empty"), "{e}");
    let e = error_after(|v| v["referral_paths"]["arrest"]["requirements"][0]["effect"] = "maybe".into());
    assert!(e.contains("unknown variant `maybe`"), "{e}");
    // Names collide after normalizing: case, spaces and punctuation do not make another name.
    let e = error_after(|v| v["substances"][2]["aliases"] = serde_json::json!(["crack"]));
    assert!(e.contains("substances[2].aliases[0]: \"crack\" is already the name or an alias of a substance"), "{e}");
    let e = error_after(|v| v["substances"][2]["aliases"] = serde_json::json!(["Black-Tar"]));
    assert!(e.contains("\"Black-Tar\" is already the name or an alias"), "{e}");
    let e = error_after(|v| v["substances"][2]["aliases"] = serde_json::json!(["--"]));
    assert!(e.contains("substances[2].aliases[0]: \"--\" has no letters or digits"), "{e}");
    let e = error_after(|v| v["offenses"][1]["aliases"] = serde_json::json!(["pcs"]));
    assert!(e.contains("offenses[1].aliases[0]: \"pcs\" is already the code or an alias"), "{e}");
    let e = error_after(|v| v["sources"][0]["url"] = "multco.us".into());
    assert!(e.contains("sources[0].url: \"multco.us\" is not an http(s) URL"), "{e}");
    let e = error_after(|v| v["name"] = "Portland LEAD".into());
    assert!(e.contains("name: \"Portland LEAD\" is not a valid name"), "{e}");
    let e = error_after(|v| v["referral_paths"] = serde_json::json!({}));
    assert!(e.contains("referral_paths: define at least one of arrest, social_contact"), "{e}");
    let e = error_after(|v| v["referral_paths"]["social_contact"]["eligible_offenses"] = serde_json::json!(["PCS"]));
    assert!(e.contains("referral_paths.social_contact.eligible_offenses: must be empty"), "{e}");
    let e = error_after(|v| v["referral_paths"]["social_contact"]["excluded_offenses"] = serde_json::json!(["DUII"]));
    assert!(
        e.contains("referral_paths.social_contact.excluded_offenses[0]: \"DUII\" is not the code of an offense"),
        "{e}"
    );
    let e =
        error_after(|v| v["referral_paths"]["arrest"]["excluded_offenses"] = serde_json::json!(["delivery", "pcs"]));
    assert!(e.contains("referral_paths.arrest.excluded_offenses[1]: \"pcs\" is also in eligible_offenses"), "{e}");
    let e = error_after(|v| v["capacity"] = 0.into());
    assert!(e.contains("capacity: must be at least 1"), "{e}");
}

#[test]
fn every_problem_is_listed_at_once() {
    let mut v = portland_json();
    v["substances"][0]["excluded_at_or_above_grams"] = (-1).into();
    v["effective_to"] = "2000-01-01".into();
    v["exclusions"][3]["reason"] = " ".into();
    let RuleError::Invalid { origin, problems } = load(&v).unwrap_err() else { panic!("not Invalid") };
    assert_eq!(origin, "test.json");
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["effective_to", "substances[0].excluded_at_or_above_grams", "exclusions[3].reason"]);
}

#[test]
fn not_json_names_the_origin_and_position() {
    let e = RuleSet::from_json("{\"name\": ", "broken.json").unwrap_err().to_string();
    assert!(e.starts_with("broken.json: EOF while parsing") && e.contains("line 1"), "{e}");
    let e = RuleSet::from_json("[]", "list.json").unwrap_err().to_string();
    assert!(e.starts_with("list.json: a rule file is a JSON object"), "{e}");
    let e = RuleSet::from_json("{\"name\": 5}", "typed.json").unwrap_err().to_string();
    assert!(e.starts_with("typed.json: invalid type: integer `5`, expected a string"), "{e}");
}

#[test]
fn version_is_a_content_hash() {
    let a = RuleSet::from_json(PORTLAND_RULES, "a").unwrap();
    assert_eq!(a.version().as_str().len(), 16);
    assert!(a.version().as_str().bytes().all(|b| b.is_ascii_hexdigit()));
    // Same content, different whitespace and key order: same version.
    let v = portland_json();
    let pretty = serde_json::to_string_pretty(&v).unwrap();
    assert_eq!(RuleSet::from_json(&pretty, "b").unwrap().version(), a.version());
    let mut reordered = serde_json::Map::new();
    for (k, val) in v.as_object().unwrap().iter().rev() {
        reordered.insert(k.clone(), val.clone());
    }
    assert_eq!(load(&serde_json::Value::Object(reordered)).unwrap().version(), a.version());
    // Any change to a rule changes it.
    let mut changed = portland_json();
    changed["substances"][0]["excluded_at_or_above_grams"] = 6.into();
    assert_ne!(load(&changed).unwrap().version(), a.version());
    let mut changed = portland_json();
    changed["exclusions"][2]["effect"] = "ineligible".into();
    assert_ne!(load(&changed).unwrap().version(), a.version());
    let mut changed = portland_json();
    changed["effective_to"] = "2021-06-30".into();
    assert_ne!(load(&changed).unwrap().version(), a.version());
    let mut changed = portland_json();
    changed["substances"][0]["aliases"][0] = "tarr".into();
    assert_ne!(load(&changed).unwrap().version(), a.version(), "the vocabulary is part of the rules");
    assert_ne!(RuleSet::from_json(SEATTLE_EXAMPLE_RULES, "s").unwrap().version(), a.version());
}

#[test]
fn serializes_as_the_file_plus_its_version() {
    let r = RuleSet::from_json(PORTLAND_RULES, "p").unwrap();
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["version"], r.version().as_str());
    assert_eq!(v["name"], "portland-lead-2017");
    assert_eq!(v["status"], "transcribed");
    assert_eq!(v["referral_paths"]["arrest"]["assessment_deadline_days"], 30);
    assert_eq!(v["substances"][0]["excluded_at_or_above_grams"], 5.0);
    assert!(v["substances"][0].get("excluded_above_grams").is_none());
    assert!(v["substances"][0].get("no_limit").is_none());
    assert!(v["substances"][3]["no_limit"].as_str().unwrap().contains("fentanyl"));
    assert_eq!(v["referral_paths"]["arrest"]["requirements"][0]["id"], "lead_officer");
    assert_eq!(v["effective_to"], "2021-01-31");
    assert!(v["effective_to_reason"].as_str().unwrap().contains("Measure 110"));
    assert_eq!(v["exclusions"][2]["effect"], "needs_review");
    // What GET /v1/rules serves parses back (minus the version) to the same rule set.
    let mut back = v.clone();
    back.as_object_mut().unwrap().remove("version");
    assert_eq!(load(&back).unwrap(), r);
}

#[test]
fn grams_are_exact_to_the_microgram() {
    let g = |x: f64| Grams::new(x).unwrap();
    assert!(g(4.99) < g(5.0));
    assert_eq!(g(2.5).plus(g(2.5)), g(5.0));
    assert_eq!(g(0.1).plus(g(0.2)), g(0.3), "no floating-point drift");
    assert_eq!(g(1.1).plus(g(1.9)), g(3.0));
    assert_eq!(g(4.99).micrograms(), 4_990_000);
    assert_eq!(g(5.0).to_string(), "5 g");
    assert_eq!(g(4.99).to_string(), "4.99 g");
    assert_eq!(g(0.000_001).to_string(), "0.000001 g");
    assert_eq!(g(3.01).as_grams(), 3.01);
    assert!(Grams::new(-0.01).is_err());
    assert!(Grams::new(f64::NAN).is_err());
    assert!(Grams::new(f64::INFINITY).is_err());
    assert!(Grams::new(MAX_GRAMS + 1.0).is_err());
    assert_eq!(serde_json::to_string(&g(4.99)).unwrap(), "4.99");
    assert!(serde_json::from_str::<Grams>("-1").unwrap_err().to_string().contains("-1 is not a quantity in grams"));
    let huge = serde_json::from_str::<Grams>("1e308").unwrap_err().to_string();
    assert!(huge.starts_with("1e308 is not a quantity in grams"), "{huge}");
}

#[test]
fn names_match_whatever_the_case_spacing_and_punctuation_but_not_a_moved_decimal_point() {
    use crate::rules::spec::normalize;
    assert_eq!(normalize("Black-Tar  Heroin"), normalize("blacktar heroin"));
    assert_eq!(normalize("ORS 475.854"), "ors475.854");
    assert_eq!(normalize("ors  475 .854"), "ors475.854", "spacing around the point does not matter");
    assert_eq!(normalize("475. 854."), "475.854", "a point not followed by a digit is punctuation");
    assert_eq!(normalize("P.C.S. II"), "pcsii");
    assert_ne!(normalize("4758.54"), normalize("475.854"));
    assert_ne!(normalize("475854"), normalize("475.854"));
}
