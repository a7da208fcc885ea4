//! The rule file's shape (`geodata/rules/*.json`), as parsed with serde, and its validation: every
//! problem is reported with the field's path (e.g. `substance_limits[0].excluded_at_or_above_grams`).
//!
//! The types are plain data with public fields so that tests and tools can build or edit a
//! [`RuleSpec`]; only [`super::RuleSet::new`] turns one into something [`super::screen`] uses.

use std::collections::BTreeSet;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Grams;

/// Criterion ids the screening itself uses; fact ids (exclusions, requirements) may not take them.
pub const RESERVED_CRITERION_IDS: [&str; 5] = ["program", "location", "referral_path", "offense", "quantity"];

/// The longest assessment deadline a rule file may give, in days.
pub const MAX_DEADLINE_DAYS: u16 = 366;

/// One jurisdiction's LEAD eligibility rules as written in a rule file. Unknown fields are rejected.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Short name, a slug like `portland-lead-2017`.
    pub name: String,
    /// Human title.
    pub title: String,
    /// Whose rules these are, e.g. "Multnomah County, Oregon (City of Portland)".
    pub jurisdiction: String,
    /// How authoritative the file is.
    pub status: RuleStatus,
    /// First day in force.
    pub effective_from: NaiveDate,
    /// Last day in force (inclusive); `null` means until further notice.
    #[serde(default)]
    pub effective_to: Option<NaiveDate>,
    /// Why the rules start on `effective_from`: the source of the date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_from_reason: Option<String>,
    /// Why the rules end on `effective_to`: what replaced or ended them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_to_reason: Option<String>,
    /// Free text: where the rules come from, what is uncertain.
    #[serde(default)]
    pub note: Option<String>,
    /// The documents the rules were taken from; at least one.
    pub sources: Vec<Source>,
    /// The offenses the rules name (codes, labels, aliases); referral paths refer to them by code.
    pub offenses: Vec<Offense>,
    /// The ways into the program and what each requires.
    pub referral_paths: ReferralPaths,
    /// The closed vocabulary of substances: every substance the rules know, with its other names and its
    /// quantity rule (a limit, or an explicit statement that there is none). A name not listed here is
    /// never passed: the screening asks which substance it is.
    pub substances: Vec<Substance>,
    /// The facts that exclude a person or send the case to review.
    pub exclusions: Vec<Exclusion>,
    /// How many people the program serves at a time. Informational; not screened.
    #[serde(default)]
    pub capacity: Option<u32>,
}

/// How authoritative a rule file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleStatus {
    /// Transcribed from the program's published criteria; the program's own policy document is the authority.
    Transcribed,
    /// An illustration of the format, not a jurisdiction's rules: do not screen real people with it.
    Example,
}

/// A document the rules come from.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// What the document is and what it says that the rules use.
    pub title: String,
    /// Where it is, if it is online (`http://` or `https://`).
    #[serde(default)]
    pub url: Option<String>,
}

/// An offense the rules know, e.g. `PCS`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Offense {
    /// The code a request uses, e.g. `PCS` (matched ignoring case and surrounding spaces).
    pub code: String,
    /// Plain-language name, e.g. "Possession of a Controlled Substance".
    pub label: String,
    /// Other spellings that mean the same offense.
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// The two ways into LEAD; a rule file may define either or both, and say why one is not available.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferralPaths {
    /// Post-arrest/pre-booking diversion.
    #[serde(default)]
    pub arrest: Option<PathRules>,
    /// Social contact referral, without an arrest.
    #[serde(default)]
    pub social_contact: Option<PathRules>,
}

/// What one referral path requires.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PathRules {
    /// How the path works, in plain language.
    pub description: String,
    /// Whether the person must be arrested for (have probable cause for) one of `eligible_offenses`.
    pub offense_required: bool,
    /// Offense codes (from `offenses`) that qualify; empty when no offense is required.
    pub eligible_offenses: Vec<String>,
    /// Offense codes (from `offenses`) that rule this path out when the officer gives one, e.g. a social
    /// contact who has committed a delivery: the answer is `ineligible`. On a path with no required
    /// offense and a non-empty list, an offense text the rules do not know is asked about.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_offenses: Vec<String>,
    /// Whether substances and grams must be known on this path (an arrest seizes them; a social contact
    /// does not). When `false` and none are reported, the quantity criterion passes.
    pub quantities_required: bool,
    /// Days from the arrest or contact by which the in-depth assessment is due, if any.
    #[serde(default)]
    pub assessment_deadline_days: Option<u16>,
    /// Facts that must be true for this path (e.g. the referring officer is a LEAD officer; the person is
    /// at high risk of a future arrest for drug possession): asked when unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requirements: Vec<Requirement>,
}

/// A fact that must be true for a referral path to apply. `true` meets it; `false` applies `effect`;
/// unknown asks `question`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// The key of the fact in a screening request's `facts`, e.g. `lead_officer` (`a-z`, `0-9`, `_`);
    /// unique among the rule set's facts.
    pub id: String,
    /// The published criterion, as written.
    pub label: String,
    /// What a `false` answer does.
    pub effect: Effect,
    /// The yes/no question to ask when the fact is not known; `yes` meets the requirement.
    pub question: String,
    /// Why a `false` answer has its effect, in plain language.
    pub reason: String,
}

/// A substance the rules know, its other names, and its quantity rule. Exactly one of the three rule
/// fields is given, and its name is its meaning: `excluded_at_or_above_grams: 5` excludes 5 g and more
/// (4.99 g passes); `excluded_above_grams: 3` excludes more than 3 g (3 g passes, 3.01 g does not);
/// `no_limit: "why"` says that the rules set no quantity limit for it, and why.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Substance {
    /// The substance's name, e.g. `heroin`; criteria are named after it (`quantity.heroin`).
    pub substance: String,
    /// Other names a report may use for it, e.g. `black tar`, `crack`, `meth`, matched ignoring case,
    /// spaces and punctuation.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// This many grams or more excludes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_at_or_above_grams: Option<f64>,
    /// More than this many grams excludes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_above_grams: Option<f64>,
    /// The rules set no quantity limit for this substance: why (e.g. the published criteria name limits
    /// for other substances only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_limit: Option<String>,
}

/// A substance's quantity rule, once validated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum QuantityRule<'a> {
    /// A limit: amounts the comparison excludes are excluded.
    Limit(Comparison, Grams),
    /// No limit, for the reason given.
    NoLimit(&'a str),
}

/// How a quantity is compared with a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// The limit itself excludes (`>=`).
    AtOrAbove,
    /// Only more than the limit excludes (`>`).
    Above,
}

impl Comparison {
    /// Whether `amount` is excluded by `limit` under this comparison.
    #[must_use]
    pub fn excludes(self, amount: Grams, limit: Grams) -> bool {
        match self {
            Self::AtOrAbove => amount >= limit,
            Self::Above => amount > limit,
        }
    }
}

impl Substance {
    /// The quantity rule, once validated (`None` only for an unvalidated entry with no rule or more than
    /// one, or a bad number).
    #[must_use]
    pub fn rule(&self) -> Option<QuantityRule<'_>> {
        match (self.excluded_at_or_above_grams, self.excluded_above_grams, self.no_limit.as_deref()) {
            (Some(g), None, None) => Grams::new(g).ok().map(|g| QuantityRule::Limit(Comparison::AtOrAbove, g)),
            (None, Some(g), None) => Grams::new(g).ok().map(|g| QuantityRule::Limit(Comparison::Above, g)),
            (None, None, Some(why)) => Some(QuantityRule::NoLimit(why)),
            _ => None,
        }
    }

    /// The name and every alias.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.substance.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

/// What a failed criterion does to the decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// The person is not eligible.
    Ineligible,
    /// A person (e.g. the Operations Team) must decide.
    NeedsReview,
}

/// A fact about the person that excludes them, or sends the case to review, when true.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    /// The key of the fact in a screening request's `facts`, e.g. `active_warrant` (`a-z`, `0-9`, `_`).
    pub id: String,
    /// The published criterion, as written.
    pub label: String,
    /// What the fact being true does.
    pub effect: Effect,
    /// The yes/no question to ask when the fact is not known.
    pub question: String,
    /// Why a true fact has its effect, in plain language.
    pub reason: String,
}

/// One problem in a rule file: the field's path and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field, e.g. `substance_limits[0].excluded_at_or_above_grams`.
    pub field: String,
    /// What is wrong with it and what a valid value looks like.
    pub reason: String,
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Lower case letters and digits only, and a decimal point between two digits: how codes, aliases and
/// substance names are matched, so that case, spacing and punctuation do not matter (`Black-Tar  Heroin`,
/// `black tar heroin` and `BLACKTAR HEROIN` are one name; so are `ORS 475.854` and `ors475.854`), but a
/// misplaced decimal point does (`4758.54` is not `475.854`, and `475854` is neither).
pub(crate) fn normalize(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if c == '.'
            && out.ends_with(|p: char| p.is_ascii_digit())
            && chars[i + 1..].iter().find(|n| !n.is_whitespace()).is_some_and(char::is_ascii_digit)
        {
            out.push('.');
        }
    }
    out
}

fn is_slug(s: &str, extra: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.contains(&b))
}

struct Problems(Vec<FieldProblem>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(FieldProblem { field: field.into(), reason: reason.into() });
    }

    fn non_empty(&mut self, field: impl Into<String>, value: &str) {
        if value.trim().is_empty() {
            self.add(field, "must not be empty");
        }
    }
}

impl RuleSpec {
    /// Every problem with the rules, each naming its field; empty when the rules are usable.
    #[must_use]
    pub fn problems(&self) -> Vec<FieldProblem> {
        let mut p = Problems(Vec::new());
        if !is_slug(&self.name, b"-_.") {
            p.add(
                "name",
                format!(
                    "{:?} is not a valid name: use 1-64 characters of a-z, 0-9, '-', '_' or '.', starting with a letter or digit",
                    self.name
                ),
            );
        }
        p.non_empty("title", &self.title);
        p.non_empty("jurisdiction", &self.jurisdiction);
        if let Some(to) = self.effective_to
            && to < self.effective_from
        {
            p.add("effective_to", format!("{to} is before effective_from {}", self.effective_from));
        }
        if let Some(reason) = &self.effective_from_reason {
            p.non_empty("effective_from_reason", reason);
        }
        match (&self.effective_to_reason, self.effective_to) {
            (Some(_), None) => p.add("effective_to_reason", "there is no effective_to to give a reason for"),
            (Some(reason), Some(_)) => p.non_empty("effective_to_reason", reason),
            (None, _) => {}
        }
        if self.sources.is_empty() {
            p.add("sources", "list at least one source document");
        }
        for (i, s) in self.sources.iter().enumerate() {
            p.non_empty(format!("sources[{i}].title"), &s.title);
            if let Some(url) = &s.url
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                p.add(
                    format!("sources[{i}].url"),
                    format!("{url:?} is not an http(s) URL; use null when there is none"),
                );
            }
        }
        let codes = self.check_offenses(&mut p);
        self.check_paths(&codes, &mut p);
        self.check_substances(&mut p);
        self.check_facts(&mut p);
        if self.capacity == Some(0) {
            p.add("capacity", "must be at least 1 person, or null when unknown");
        }
        p.0
    }

    /// Checks the offense list; returns the normalized codes.
    fn check_offenses(&self, p: &mut Problems) -> BTreeSet<String> {
        if self.offenses.is_empty() {
            p.add("offenses", "list at least one offense");
        }
        let mut names = BTreeSet::new();
        let mut codes = BTreeSet::new();
        for (i, o) in self.offenses.iter().enumerate() {
            p.non_empty(format!("offenses[{i}].code"), &o.code);
            p.non_empty(format!("offenses[{i}].label"), &o.label);
            codes.insert(normalize(&o.code));
            for (field, name) in std::iter::once((format!("offenses[{i}].code"), &o.code))
                .chain(o.aliases.iter().enumerate().map(|(j, a)| (format!("offenses[{i}].aliases[{j}]"), a)))
            {
                let n = normalize(name);
                if n.is_empty() {
                    continue;
                }
                if !names.insert(n.clone()) {
                    p.add(field, format!("{name:?} is already the code or an alias of another offense"));
                }
            }
        }
        codes
    }

    fn check_paths(&self, codes: &BTreeSet<String>, p: &mut Problems) {
        let paths = [("arrest", &self.referral_paths.arrest), ("social_contact", &self.referral_paths.social_contact)];
        if paths.iter().all(|(_, r)| r.is_none()) {
            p.add("referral_paths", "define at least one of arrest, social_contact");
        }
        for (name, rules) in paths {
            let Some(r) = rules else { continue };
            let at = format!("referral_paths.{name}");
            p.non_empty(format!("{at}.description"), &r.description);
            if r.offense_required && r.eligible_offenses.is_empty() {
                p.add(
                    format!("{at}.eligible_offenses"),
                    "list the eligible offense codes when offense_required is true",
                );
            }
            if !r.offense_required && !r.eligible_offenses.is_empty() {
                p.add(format!("{at}.eligible_offenses"), "must be empty when offense_required is false");
            }
            for (i, code) in r.eligible_offenses.iter().enumerate() {
                if !codes.contains(&normalize(code)) {
                    p.add(
                        format!("{at}.eligible_offenses[{i}]"),
                        format!("{code:?} is not the code of an offense in offenses"),
                    );
                }
            }
            for (i, code) in r.excluded_offenses.iter().enumerate() {
                let field = format!("{at}.excluded_offenses[{i}]");
                if !codes.contains(&normalize(code)) {
                    p.add(field, format!("{code:?} is not the code of an offense in offenses"));
                } else if r.eligible_offenses.iter().any(|e| normalize(e) == normalize(code)) {
                    p.add(field, format!("{code:?} is also in eligible_offenses: an offense cannot be both"));
                }
            }
            if let Some(d) = r.assessment_deadline_days
                && !(1..=MAX_DEADLINE_DAYS).contains(&d)
            {
                p.add(
                    format!("{at}.assessment_deadline_days"),
                    format!("{d} is not between 1 and {MAX_DEADLINE_DAYS}; use null for no deadline"),
                );
            }
        }
    }

    fn check_substances(&self, p: &mut Problems) {
        if self.substances.is_empty() {
            p.add(
                "substances",
                "list every substance the rules know, each with excluded_at_or_above_grams, excluded_above_grams or no_limit",
            );
        }
        let mut names = BTreeSet::new();
        for (i, sub) in self.substances.iter().enumerate() {
            let at = format!("substances[{i}]");
            p.non_empty(format!("{at}.substance"), &sub.substance);
            match (sub.excluded_at_or_above_grams, sub.excluded_above_grams, &sub.no_limit) {
                (Some(g), None, None) => check_grams(p, format!("{at}.excluded_at_or_above_grams"), g),
                (None, Some(g), None) => check_grams(p, format!("{at}.excluded_above_grams"), g),
                (None, None, Some(why)) => p.non_empty(format!("{at}.no_limit"), why),
                (None, None, None) => p.add(
                    at.clone(),
                    "give its quantity rule: excluded_at_or_above_grams (>=), excluded_above_grams (>), or no_limit with the reason there is none",
                ),
                _ => p.add(at.clone(), "give only one of excluded_at_or_above_grams, excluded_above_grams and no_limit"),
            }
            for (field, name) in std::iter::once((format!("{at}.substance"), &sub.substance))
                .chain(sub.aliases.iter().enumerate().map(|(j, a)| (format!("{at}.aliases[{j}]"), a)))
            {
                let n = normalize(name);
                if n.is_empty() {
                    p.add(field, format!("{name:?} has no letters or digits"));
                } else if !names.insert(n) {
                    p.add(field, format!("{name:?} is already the name or an alias of a substance"));
                }
            }
        }
    }

    /// Exclusions and every path's requirements share one namespace of fact ids.
    fn check_facts(&self, p: &mut Problems) {
        let mut ids = BTreeSet::new();
        let mut check_id = |p: &mut Problems, at: &str, id: &str| {
            if !is_slug(id, b"_") {
                p.add(
                    format!("{at}.id"),
                    format!("{id:?} is not a valid fact id: use 1-64 characters of a-z, 0-9 and '_'"),
                );
            } else if RESERVED_CRITERION_IDS.contains(&id) {
                p.add(format!("{at}.id"), format!("{id:?} is the id of a built-in criterion; pick another"));
            } else if !ids.insert(id.to_owned()) {
                p.add(format!("{at}.id"), format!("{id:?} is the id of an earlier fact (exclusion or requirement)"));
            }
        };
        let paths = [("arrest", &self.referral_paths.arrest), ("social_contact", &self.referral_paths.social_contact)];
        for (name, rules) in paths {
            for (i, r) in rules.iter().flat_map(|r| r.requirements.iter()).enumerate() {
                let at = format!("referral_paths.{name}.requirements[{i}]");
                check_id(p, &at, &r.id);
                p.non_empty(format!("{at}.label"), &r.label);
                p.non_empty(format!("{at}.question"), &r.question);
                p.non_empty(format!("{at}.reason"), &r.reason);
            }
        }
        for (i, e) in self.exclusions.iter().enumerate() {
            let at = format!("exclusions[{i}]");
            check_id(p, &at, &e.id);
            p.non_empty(format!("{at}.label"), &e.label);
            p.non_empty(format!("{at}.question"), &e.question);
            p.non_empty(format!("{at}.reason"), &e.reason);
        }
    }
}

fn check_grams(p: &mut Problems, field: String, grams: f64) {
    if let Err(e) = Grams::new(grams) {
        p.add(field, e.to_string());
    }
}
