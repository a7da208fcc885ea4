//! The screening: a request (referral path, offense, substances, exclusion facts, date) and a
//! [`LocationFact`] in, a [`Screening`] out (decision, every criterion with status, reason and question).
//! Pure: no I/O, no clock (the caller passes `today`).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use super::spec::normalize;
use super::{Comparison, Effect, Grams, PathRules, QuantityRule, RuleSet, RuleStatus, Substance};
use crate::eligibility::{PointEligibility, ZoneRef};

/// The way into LEAD a referral takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferralPath {
    /// Post-arrest/pre-booking diversion: the officer has probable cause to arrest and diverts instead.
    Arrest,
    /// Social contact referral: no arrest; the officer refers a person at high risk of a future arrest.
    SocialContact,
}

impl ReferralPath {
    /// Plain-language name, e.g. "arrest diversion".
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Arrest => "arrest diversion",
            Self::SocialContact => "social-contact referral",
        }
    }
}

impl fmt::Display for ReferralPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Arrest => "arrest",
            Self::SocialContact => "social_contact",
        })
    }
}

/// A substance name as given in a request: not blank.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String")]
pub struct SubstanceName(String);

impl SubstanceName {
    /// The name as given, trimmed.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SubstanceName {
    type Error = &'static str;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        let t = s.trim();
        if t.is_empty() { Err("substance must not be blank: name it, e.g. \"heroin\"") } else { Ok(Self(t.to_owned())) }
    }
}

/// One substance the person had, and how much.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubstanceAmount {
    /// The substance, e.g. `heroin` (matched against the rule set's names and aliases, ignoring case).
    pub substance: SubstanceName,
    /// Grams; absent or `null` when not yet weighed. Entries of one substance are added up.
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub grams: Option<Grams>,
}

/// The most substance entries a screening may list (a seizure has a handful; the cap keeps one request
/// from costing the service seconds).
pub const MAX_SUBSTANCES: usize = 50;

/// What the officer knows about a referral. Unknown fields are rejected. The location is not part of
/// it: the caller locates the point and passes a [`LocationFact`] to [`screen`].
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreeningRequest {
    /// `arrest` or `social_contact`.
    pub referral_path: ReferralPath,
    /// The offense: a code such as `PCS`, `SQ`, `CDO`, `other`, or free text; absent when not known.
    #[serde(default)]
    pub offense: Option<String>,
    /// The substances the person had, with grams.
    #[serde(default)]
    pub substances: Vec<SubstanceAmount>,
    /// Facts by id: the exclusions (e.g. `active_warrant`) and the path's requirements (e.g.
    /// `lead_officer`): `true`, `false`, or absent/`null` when not known.
    #[serde(default)]
    pub facts: BTreeMap<String, Option<bool>>,
    /// The date of the arrest or contact; default today.
    #[serde(default)]
    pub at: Option<NaiveDate>,
}

impl ScreeningRequest {
    /// Checks the request against the rule set it will be screened with: every fact id must be one of the
    /// rule set's facts, exclusions or requirements (a typo would otherwise leave the real fact unknown).
    pub fn check(&self, rules: &RuleSet) -> Result<(), ScreeningError> {
        if self.substances.len() > MAX_SUBSTANCES {
            return Err(ScreeningError::TooManySubstances { given: self.substances.len() });
        }
        let unknown = unrecognized_facts(rules, self);
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(ScreeningError::UnknownFacts {
                rule_set: rules.name().to_owned(),
                unknown,
                known: rules.fact_ids().map(str::to_owned).collect(),
            })
        }
    }
}

/// Why a request cannot be screened with a rule set.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScreeningError {
    /// More substance entries than any seizure has: a client bug, refused before any work.
    #[error("{given} substance entries is more than {MAX_SUBSTANCES}: list each substance once, with its total grams")]
    TooManySubstances {
        /// How many were given.
        given: usize,
    },
    /// The request names facts the rule set does not have: a typo, or facts meant for another
    /// jurisdiction's rules. Use the ids listed in `known` (also in `GET /v1/rules`).
    #[error("facts {} are not facts of rule set {rule_set:?}; its facts are: {}", unknown.join(", "), known.join(", "))]
    UnknownFacts {
        /// The rule set's name.
        rule_set: String,
        /// The fact ids it does not have.
        unknown: Vec<String>,
        /// The fact ids it has.
        known: Vec<String>,
    },
}

/// Where the contact happened, relative to the LEAD areas in force, as the screening needs it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LocationFact {
    /// Inside a LEAD zone, clear of its edge.
    Inside {
        /// The zone.
        zone: ZoneRef,
    },
    /// Outside every LEAD zone, clear of their edges.
    Outside {
        /// The nearest zone, if the zone set has any.
        nearest_zone: Option<ZoneRef>,
        /// Metres to its edge.
        distance_m: f64,
    },
    /// Within GPS error of a zone edge: the contact could be on either side.
    Borderline {
        /// The zone the point falls in or, when outside, the nearest zone.
        zone: Option<ZoneRef>,
        /// Whether the point itself falls inside `zone`.
        inside: bool,
        /// Metres to the edge.
        distance_m: f64,
    },
}

impl From<&PointEligibility> for LocationFact {
    /// `coverage_borderline` wins over inside/outside: a point within the borderline distance of an edge
    /// between a LEAD area and the outside is [`LocationFact::Borderline`] even when it is inside. Near an
    /// edge two zones share, the point is in a LEAD area either way, so it is simply inside.
    fn from(p: &PointEligibility) -> Self {
        if p.coverage_borderline {
            Self::Borderline {
                zone: p.zone.clone().or_else(|| p.nearest_zone.clone()),
                inside: p.zone.is_some(),
                distance_m: p.coverage_distance_m,
            }
        } else if let Some(zone) = &p.zone {
            Self::Inside { zone: zone.clone() }
        } else {
            Self::Outside { nearest_zone: p.nearest_zone.clone(), distance_m: p.distance_m }
        }
    }
}

/// The answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Every criterion passed.
    Eligible,
    /// A criterion whose effect is `ineligible` failed.
    Ineligible,
    /// Something is unknown, or a person (Operations Team, District Attorney) must decide.
    NeedsReview,
}

/// One criterion's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CriterionStatus {
    /// Met: does not stand in the way.
    Passed,
    /// Not met: its effect applies.
    Failed,
    /// Not known yet: the question says what to ask.
    Unknown,
}

/// One criterion of a screening.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Criterion {
    /// `program` (only when no program is in force), `location`, `referral_path`, a requirement's fact id,
    /// `offense`, `quantity` (no substances reported), `quantity.<substance>` (the rules' name for it, or
    /// the name as given when the rules do not know it), or an exclusion's fact id.
    pub id: String,
    /// Passed, failed or unknown.
    pub status: CriterionStatus,
    /// What failing this criterion does (also given when it passed or is unknown).
    pub effect: Effect,
    /// Why, in plain language.
    pub reason: String,
    /// For `unknown`: the question to ask. Otherwise `null`.
    pub question: Option<String>,
}

/// Which rule set answered.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RuleSetRef {
    /// Its name.
    pub name: String,
    /// Its content hash.
    pub version: String,
    /// `transcribed` or `example`.
    pub status: RuleStatus,
    /// Whose rules.
    pub jurisdiction: String,
    /// First day in force.
    pub effective_from: NaiveDate,
    /// Last day in force, if bounded.
    pub effective_to: Option<NaiveDate>,
}

impl From<&RuleSet> for RuleSetRef {
    fn from(r: &RuleSet) -> Self {
        let s = r.spec();
        Self {
            name: s.name.clone(),
            version: r.version().to_string(),
            status: s.status,
            jurisdiction: s.jurisdiction.clone(),
            effective_from: s.effective_from,
            effective_to: s.effective_to,
        }
    }
}

/// The result of a screening.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Screening {
    /// `eligible`, `ineligible` or `needs_review`.
    pub decision: Decision,
    /// One or two sentences saying why.
    pub summary: String,
    /// The path screened.
    pub referral_path: ReferralPath,
    /// The date of the arrest or contact.
    pub at: NaiveDate,
    /// For a path with an assessment deadline (Portland: arrest diversion, 30 days) and a decision other
    /// than `ineligible`: the last day for the in-depth assessment. Otherwise `null`.
    pub assessment_due: Option<NaiveDate>,
    /// Every criterion: location, referral path, the path's requirements, offense, quantities, then the
    /// exclusions in rule order (or, on a date no program is in force, `program` alone).
    pub criteria: Vec<Criterion>,
    /// The questions of the unknown criteria, in order.
    pub questions: Vec<String>,
    /// Fact ids in the request that the rule set does not have (ignored; see [`ScreeningRequest::check`]).
    pub unrecognized_facts: Vec<String>,
    /// The location as given.
    pub location: LocationFact,
    /// The rule set that answered.
    pub rule_set: RuleSetRef,
}

/// Screens a referral against `rules`. `location` comes from the zone set in force (see
/// [`LocationFact::from`]); `today` is the date used when the request has no `at`. The caller picks
/// `rules` in force on that date (see [`crate::program::program_on`]; on a date no program is in force,
/// use [`screen_without_program`]) and should [`ScreeningRequest::check`] the request first; facts the
/// rules do not have are ignored and listed in `unrecognized_facts`.
///
/// # Examples
/// ```
/// use chrono::NaiveDate;
/// use leadmap::eligibility::ZoneRef;
/// use leadmap::rules::{Decision, LocationFact, ScreeningRequest, screen};
/// let rules = leadmap::builtin::rule_sets().unwrap().remove(0);
/// let request: ScreeningRequest = serde_json::from_str(r#"{
///     "referral_path": "arrest", "offense": "PCS",
///     "substances": [{"substance": "black tar heroin", "grams": 4.99}],
///     "facts": {"lead_officer": true, "active_warrant": false, "no_contact_order": false,
///               "lead_participant": false, "specialty_court": false, "supervision_person_offense": false,
///               "operations_team_denial": false, "exceptional_circumstances": false},
///     "at": "2017-06-01"
/// }"#).unwrap();
/// let here = LocationFact::Inside { zone: ZoneRef { id: "downtown".into(), name: "Downtown".into() } };
/// let s = screen(&rules, &request, here.clone(), NaiveDate::from_ymd_opt(2017, 6, 2).unwrap());
/// assert_eq!(s.decision, Decision::Eligible);
/// assert_eq!(s.assessment_due, NaiveDate::from_ymd_opt(2017, 7, 1));
///
/// // A substance the rules do not know is asked about, never passed.
/// let typo: ScreeningRequest = serde_json::from_value(serde_json::json!({
///     "referral_path": "arrest", "offense": "PCS", "substances": [{"substance": "herion", "grams": 250}],
///     "facts": request.facts, "at": "2017-06-01"})).unwrap();
/// let s = screen(&rules, &typo, here, NaiveDate::from_ymd_opt(2017, 6, 2).unwrap());
/// assert_eq!(s.decision, Decision::NeedsReview);
/// assert!(s.questions[0].starts_with("Which substance is \"herion\"?"));
/// ```
#[must_use]
pub fn screen(rules: &RuleSet, request: &ScreeningRequest, location: LocationFact, today: NaiveDate) -> Screening {
    let at = request.at.unwrap_or(today);
    let path = rules.path(request.referral_path);
    let mut criteria = vec![location_criterion(&location), path_criterion(rules, request.referral_path, path)];
    if let Some(path) = path {
        criteria.extend(path.requirements.iter().map(|r| {
            let fact = FactCriterion { id: &r.id, label: &r.label, question: &r.question, reason: &r.reason };
            fact.judge(request.facts.get(&r.id).copied().flatten(), false, r.effect)
        }));
        criteria.push(offense_criterion(rules, request, path));
        criteria.extend(quantity_criteria(rules, request, path));
    }
    criteria.extend(rules.spec().exclusions.iter().map(|e| {
        let fact = FactCriterion { id: &e.id, label: &e.label, question: &e.question, reason: &e.reason };
        fact.judge(request.facts.get(&e.id).copied().flatten(), true, e.effect)
    }));

    let decision = decide(&criteria);
    let assessment_due = match decision {
        Decision::Ineligible => None,
        Decision::Eligible | Decision::NeedsReview => path
            .and_then(|p| p.assessment_deadline_days)
            .and_then(|days| at.checked_add_days(Days::new(u64::from(days)))),
    };
    let questions: Vec<String> = criteria.iter().filter_map(|c| c.question.clone()).collect();
    let summary = summarize(rules, decision, &criteria, questions.len());
    Screening {
        decision,
        summary,
        referral_path: request.referral_path,
        at,
        assessment_due,
        criteria,
        questions,
        unrecognized_facts: unrecognized_facts(rules, request),
        location,
        rule_set: RuleSetRef::from(rules),
    }
}

/// The screening on a date when no LEAD program is in force (no zone set or no rule set is; `why` says
/// which, naming the nearest sets and their dates): `ineligible`, with that one criterion and nothing to
/// ask. `rules` is the nearest rule set, named in the answer.
#[must_use]
pub fn screen_without_program(
    rules: &RuleSet,
    request: &ScreeningRequest,
    location: LocationFact,
    today: NaiveDate,
    why: &str,
) -> Screening {
    let criteria = vec![Criterion {
        id: "program".to_owned(),
        status: CriterionStatus::Failed,
        effect: Effect::Ineligible,
        reason: why.to_owned(),
        question: None,
    }];
    Screening {
        decision: Decision::Ineligible,
        summary: format!("Not eligible: {why}"),
        referral_path: request.referral_path,
        at: request.at.unwrap_or(today),
        assessment_due: None,
        criteria,
        questions: Vec::new(),
        unrecognized_facts: unrecognized_facts(rules, request),
        location,
        rule_set: RuleSetRef::from(rules),
    }
}

/// A yes/no fact the officer answers: a path's requirement (failing when answered no) or an exclusion
/// (failing when answered yes).
struct FactCriterion<'a> {
    id: &'a str,
    label: &'a str,
    question: &'a str,
    reason: &'a str,
}

impl FactCriterion<'_> {
    /// The criterion for the officer's answer `fact` (`None`: not known), failing when the answer is
    /// `fails_when`.
    fn judge(&self, fact: Option<bool>, fails_when: bool, effect: Effect) -> Criterion {
        let (status, reason, question) = match fact {
            Some(answer) if answer == fails_when => (CriterionStatus::Failed, self.reason.to_owned(), None),
            Some(answer) => {
                let said = if answer { "yes" } else { "no" };
                (CriterionStatus::Passed, format!("Answered {said}: {}", self.question), None)
            }
            None => {
                let failing = if fails_when { "yes" } else { "no" };
                let outcome = match effect {
                    Effect::Ineligible => "the person is not eligible",
                    Effect::NeedsReview => "the case goes to review",
                };
                (
                    CriterionStatus::Unknown,
                    format!("Not known yet; if {failing}, {outcome}. {}", self.label),
                    Some(self.question.to_owned()),
                )
            }
        };
        Criterion { id: self.id.to_owned(), status, effect, reason, question }
    }
}

fn unrecognized_facts(rules: &RuleSet, request: &ScreeningRequest) -> Vec<String> {
    request.facts.keys().filter(|k| !rules.fact_ids().any(|id| id == k.as_str())).cloned().collect()
}

/// Any failed `ineligible` criterion: ineligible. Else any unknown, or failed `needs_review`: needs
/// review. Else eligible.
fn decide(criteria: &[Criterion]) -> Decision {
    let failed = |effect| criteria.iter().any(|c| c.status == CriterionStatus::Failed && c.effect == effect);
    if failed(Effect::Ineligible) {
        Decision::Ineligible
    } else if failed(Effect::NeedsReview) || criteria.iter().any(|c| c.status == CriterionStatus::Unknown) {
        Decision::NeedsReview
    } else {
        Decision::Eligible
    }
}

fn summarize(rules: &RuleSet, decision: Decision, criteria: &[Criterion], questions: usize) -> String {
    let reasons = |effect| {
        criteria
            .iter()
            .filter(|c| c.status == CriterionStatus::Failed && c.effect == effect)
            .map(|c| c.reason.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    match decision {
        Decision::Eligible => format!("Eligible under {}: every criterion passed.", rules.name()),
        Decision::Ineligible => format!("Not eligible: {}", reasons(Effect::Ineligible)),
        Decision::NeedsReview => {
            let mut s = String::from("Needs review:");
            let review = reasons(Effect::NeedsReview);
            if !review.is_empty() {
                s.push(' ');
                s.push_str(&review);
            }
            if questions > 0 {
                let plural = if questions == 1 { "" } else { "s" };
                let _ = write!(s, " {questions} question{plural} to answer.");
            }
            s
        }
    }
}

fn zone_phrase(zone: Option<&ZoneRef>) -> String {
    zone.map_or_else(|| "a LEAD area".to_owned(), |z| format!("{} ({})", z.name, z.id))
}

fn location_criterion(location: &LocationFact) -> Criterion {
    let (status, reason, question) = match location {
        LocationFact::Inside { zone } => (
            CriterionStatus::Passed,
            format!("The contact location is inside {}, a LEAD area.", zone_phrase(Some(zone))),
            None,
        ),
        LocationFact::Outside { nearest_zone: Some(z), distance_m } => (
            CriterionStatus::Failed,
            format!(
                "The contact location is outside every LEAD area, {distance_m:.0} m from the nearest, {}.",
                zone_phrase(Some(z))
            ),
            None,
        ),
        LocationFact::Outside { nearest_zone: None, .. } => {
            (CriterionStatus::Failed, "The contact location is outside every LEAD area.".to_owned(), None)
        }
        LocationFact::Borderline { zone, inside, distance_m } => {
            let z = zone_phrase(zone.as_ref());
            let reason = match (inside, *distance_m == 0.0) {
                (true, true) => format!("GPS puts the contact exactly on the edge of {z}; it could be outside."),
                (true, false) => {
                    format!(
                        "GPS puts the contact inside {z}, {distance_m:.0} m from its edge: within GPS error, so it could be outside."
                    )
                }
                (false, _) => {
                    format!(
                        "GPS puts the contact {distance_m:.0} m outside {z}: within GPS error, so it could be inside."
                    )
                }
            };
            let name = zone.as_ref().map_or("a LEAD area", |z| z.name.as_str());
            let question = format!(
                "Did the contact happen inside {name}? Confirm the address or cross streets against the LEAD area map."
            );
            (CriterionStatus::Unknown, reason, Some(question))
        }
    };
    Criterion { id: "location".to_owned(), status, effect: Effect::Ineligible, reason, question }
}

fn path_criterion(rules: &RuleSet, path: ReferralPath, rules_path: Option<&PathRules>) -> Criterion {
    let (status, reason) = match rules_path {
        Some(_) => (
            CriterionStatus::Passed,
            format!("{} is a referral path under {}.", capitalize(path.label()), rules.name()),
        ),
        None => (CriterionStatus::Failed, format!("{} has no {} path.", rules.name(), path.label())),
    };
    Criterion { id: "referral_path".to_owned(), status, effect: Effect::Ineligible, reason, question: None }
}

fn offense_criterion(rules: &RuleSet, request: &ScreeningRequest, path: &PathRules) -> Criterion {
    let describe =
        |code: &str| rules.offense(code).map_or_else(|| code.to_owned(), |o| format!("{} ({})", o.code, o.label));
    let eligible = path.eligible_offenses.iter().map(|c| describe(c)).collect::<Vec<_>>().join(", ");
    let (status, reason, question) = if path.offense_required {
        match request.offense.as_deref() {
            None => (
                CriterionStatus::Unknown,
                format!("The offense was not given; eligible: {eligible}."),
                Some(format!("What is the offense? Eligible: {eligible}.")),
            ),
            Some(text) => match rules.offense(text) {
                Some(o) if path.eligible_offenses.iter().any(|c| normalize(c) == normalize(&o.code)) => (
                    CriterionStatus::Passed,
                    format!("{} ({}) is an eligible offense for {}.", o.code, o.label, request.referral_path.label()),
                    None,
                ),
                Some(o) => (
                    CriterionStatus::Failed,
                    format!(
                        "{} ({}) is not an eligible offense; {} covers {eligible} only.",
                        o.code,
                        o.label,
                        request.referral_path.label()
                    ),
                    None,
                ),
                None => {
                    let all = rules.spec().offenses.iter().map(|o| describe(&o.code)).collect::<Vec<_>>().join(", ");
                    (
                        CriterionStatus::Unknown,
                        format!("The offense {text:?} is not one these rules name; eligible: {eligible}."),
                        Some(format!("Which of these is the offense {text:?}: {all}?")),
                    )
                }
            },
        }
    } else {
        let label = request.referral_path.label();
        let excluded = |code: &str| path.excluded_offenses.iter().any(|c| normalize(c) == normalize(code));
        match request.offense.as_deref() {
            None => (CriterionStatus::Passed, format!("A {label} needs no arrest offense."), None),
            Some(text) => match rules.offense(text) {
                Some(o) if excluded(&o.code) => (
                    CriterionStatus::Failed,
                    format!("{} ({}) rules out a {label}: these rules exclude it on this path.", o.code, o.label),
                    None,
                ),
                Some(o) => (
                    CriterionStatus::Passed,
                    format!("A {label} needs no arrest offense; {} ({}) does not rule it out.", o.code, o.label),
                    None,
                ),
                None if path.excluded_offenses.is_empty() => (
                    CriterionStatus::Passed,
                    format!("A {label} needs no arrest offense; these rules exclude none on this path."),
                    None,
                ),
                None => {
                    let all = rules.spec().offenses.iter().map(|o| describe(&o.code)).collect::<Vec<_>>().join(", ");
                    let ruled_out = path.excluded_offenses.iter().map(|c| describe(c)).collect::<Vec<_>>().join(", ");
                    (
                        CriterionStatus::Unknown,
                        format!(
                            "The offense {text:?} is not one these rules name; these rule out a {label}: {ruled_out}."
                        ),
                        Some(format!("Which of these is the offense {text:?}: {all}?")),
                    )
                }
            },
        }
    };
    Criterion { id: "offense".to_owned(), status, effect: Effect::Ineligible, reason, question }
}

/// The amounts of one substance (entries of the same substance, by name or alias, added up); `known` is
/// `None` for a name the rules do not know.
struct Holding<'a> {
    /// The rules' name for it, or the name as given (trimmed) when they do not know it.
    name: String,
    known: Option<&'a Substance>,
    grams: Grams,
    any_unweighed: bool,
}

fn quantity_criteria(rules: &RuleSet, request: &ScreeningRequest, path: &PathRules) -> Vec<Criterion> {
    if request.substances.is_empty() {
        let (status, reason, question) = if path.quantities_required {
            (
                CriterionStatus::Unknown,
                "No substances were reported, so the quantity limits cannot be checked.".to_owned(),
                Some("Which substances did the person have, and how many grams of each?".to_owned()),
            )
        } else {
            (
                CriterionStatus::Passed,
                format!(
                    "No substances were reported; a {} has no seized quantity to check.",
                    request.referral_path.label()
                ),
                None,
            )
        };
        return vec![Criterion { id: "quantity".to_owned(), status, effect: Effect::Ineligible, reason, question }];
    }
    let mut holdings: Vec<Holding<'_>> = Vec::new();
    for s in &request.substances {
        let known = rules.substance(s.substance.as_str());
        // Unknown names are kept apart by their normalized spelling: "Herion" and "herion" are one entry,
        // never merged into a known substance.
        let key = known
            .map_or_else(|| super::spec::normalize(s.substance.as_str()), |k| super::spec::normalize(&k.substance));
        let i = holdings
            .iter()
            .position(|h| h.known.is_some() == known.is_some() && super::spec::normalize(&h.name) == key)
            .unwrap_or_else(|| {
                let name = known.map_or_else(|| s.substance.as_str().to_owned(), |k| k.substance.clone());
                holdings.push(Holding { name, known, grams: Grams::default(), any_unweighed: false });
                holdings.len() - 1
            });
        let h = &mut holdings[i];
        match s.grams {
            Some(g) => h.grams = h.grams.plus(g),
            None => h.any_unweighed = true,
        }
    }
    holdings.iter().map(|h| quantity_criterion(rules, h)).collect()
}

fn quantity_criterion(rules: &RuleSet, h: &Holding<'_>) -> Criterion {
    let name = &h.name;
    let id = format!("quantity.{name}");
    let amount = if h.any_unweighed {
        if h.grams.micrograms() > 0 {
            format!("{} weighed, more not weighed", h.grams)
        } else {
            "not weighed".to_owned()
        }
    } else {
        h.grams.to_string()
    };
    let criterion =
        |status, reason, question| Criterion { id: id.clone(), status, effect: Effect::Ineligible, reason, question };
    let Some(substance) = h.known else {
        let known = rules.spec().substances.iter().map(|s| s.substance.as_str()).collect::<Vec<_>>().join(", ");
        return criterion(
            CriterionStatus::Unknown,
            format!(
                "{name:?} is not a substance these rules know ({amount}), so no quantity limit can be checked for it: \
                 it may be a misspelling or another name of a limited substance."
            ),
            Some(format!(
                "Which substance is {name:?}? These rules know: {known} (other names for each in GET /v1/rules)."
            )),
        );
    };
    let (comparison, limit) = match substance.rule() {
        Some(QuantityRule::Limit(comparison, limit)) => (comparison, limit),
        Some(QuantityRule::NoLimit(why)) => {
            return criterion(
                CriterionStatus::Passed,
                format!("These rules set no quantity limit for {name} ({amount}): {why}"),
                None,
            );
        }
        // A validated rule set always has a rule; an unvalidated one is asked about, never passed.
        None => {
            return criterion(
                CriterionStatus::Unknown,
                format!("The rules give no usable quantity rule for {name} ({amount})."),
                Some(format!("How many grams of {name} did the person have, and what is the limit?")),
            );
        }
    };
    let rule = match comparison {
        Comparison::AtOrAbove => format!("{limit} or more of {name} excludes"),
        Comparison::Above => format!("more than {limit} of {name} excludes"),
    };
    if comparison.excludes(h.grams, limit) {
        let beyond = match comparison {
            Comparison::AtOrAbove => "at or above",
            Comparison::Above => "over",
        };
        let at_least = if h.any_unweighed { "at least " } else { "" };
        criterion(
            CriterionStatus::Failed,
            format!("{at_least}{} of {name} is {beyond} the limit: {rule}.", h.grams),
            None,
        )
    } else if h.any_unweighed {
        let so_far = if h.grams.micrograms() > 0 { format!(" ({} weighed so far)", h.grams) } else { String::new() };
        criterion(
            CriterionStatus::Unknown,
            format!("The amount of {name} is not known{so_far}; {rule}."),
            Some(format!("How many grams of {name} did the person have in all?")),
        )
    } else {
        criterion(CriterionStatus::Passed, format!("{} of {name} is within the limit: {rule}.", h.grams), None)
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}
