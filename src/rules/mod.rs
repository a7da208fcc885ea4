//! LEAD eligibility screening beyond the location: versioned, effective-dated rule sets per jurisdiction,
//! read from JSON rule files (`geodata/rules/`), and [`screen`], which turns a referral (path, offense,
//! substances, the exclusion facts the officer knows) plus a [`LocationFact`] into a decision with every
//! criterion and its reason.
//!
//! Owns the rule file format and the decision logic. Does no I/O (it parses text it is given), knows
//! nothing of HTTP, and does not locate points: the caller turns a
//! [`PointEligibility`](crate::eligibility::PointEligibility) into a [`LocationFact`].
//!
//! # Decision
//! Every criterion is `passed`, `failed` or `unknown`. A failed criterion whose effect is `ineligible`
//! makes the person `ineligible`; otherwise any `unknown` criterion, or any failed criterion whose effect
//! is `needs_review`, makes the answer `needs_review`; otherwise it is `eligible`. Unknown facts never
//! make a person ineligible: they ask a question instead.
//!
//! # Rule file
//! See [`RuleSpec`]; `geodata/rules/portland.json` is the reference. Quantities are compared exactly as
//! the limit's field name says (`excluded_at_or_above_grams`, `excluded_above_grams`), to the microgram.

mod catalog;
mod screen;
mod spec;

pub use catalog::RuleCatalog;
pub use screen::{
    Criterion, CriterionStatus, Decision, LocationFact, ReferralPath, RuleSetRef, Screening, ScreeningError,
    ScreeningRequest, SubstanceAmount, SubstanceName, screen, screen_without_program,
};
pub use spec::{
    Comparison, Effect, Exclusion, FieldProblem, MAX_DEADLINE_DAYS, Offense, PathRules, QuantityRule,
    RESERVED_CRITERION_IDS, ReferralPaths, Requirement, RuleSpec, RuleStatus, Source, Substance,
};

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use spec::normalize;

/// The largest quantity leadmap accepts, in grams (a tonne): anything larger is a typo.
pub const MAX_GRAMS: f64 = 1_000_000.0;

/// A quantity of a substance, held to the microgram so that limits compare exactly (4.99 g is below
/// 5 g; 2.5 g + 2.5 g is 5 g). Zero or more, at most [`MAX_GRAMS`]. Serialized as grams.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "f64")]
pub struct Grams {
    micrograms: u64,
}

/// A quantity that is not a number of grams leadmap accepts.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error("{} is not a quantity in grams: give a number from 0 to 1000000", shown(*.0))]
pub struct InvalidGrams(pub f64);

/// A number as a person wrote it, or in scientific notation when it is huge (`1e308`, not 309 digits).
fn shown(x: f64) -> String {
    if x.abs() >= 1e15 { format!("{x:e}") } else { x.to_string() }
}

impl Grams {
    /// Validates a quantity in grams (finite, 0 to [`MAX_GRAMS`]) and rounds it to the microgram.
    pub fn new(grams: f64) -> Result<Self, InvalidGrams> {
        if grams.is_finite() && (0.0..=MAX_GRAMS).contains(&grams) {
            Ok(Self { micrograms: (grams * 1e6).round() as u64 })
        } else {
            Err(InvalidGrams(grams))
        }
    }

    /// The quantity in micrograms.
    #[must_use]
    pub fn micrograms(self) -> u64 {
        self.micrograms
    }

    /// The quantity in grams.
    #[must_use]
    pub fn as_grams(self) -> f64 {
        self.micrograms as f64 / 1e6
    }

    /// The sum of two quantities (saturating; both are at most [`MAX_GRAMS`] so it cannot overflow).
    #[must_use]
    pub fn plus(self, other: Self) -> Self {
        Self { micrograms: self.micrograms.saturating_add(other.micrograms) }
    }
}

impl TryFrom<f64> for Grams {
    type Error = InvalidGrams;

    fn try_from(grams: f64) -> Result<Self, Self::Error> {
        Self::new(grams)
    }
}

impl Serialize for Grams {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_grams())
    }
}

impl fmt::Display for Grams {
    /// `5 g`, `4.99 g`, `0.000001 g`: no trailing zeros.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.micrograms / 1_000_000;
        let frac = self.micrograms % 1_000_000;
        if frac == 0 {
            write!(f, "{whole} g")
        } else {
            let digits = format!("{frac:06}");
            write!(f, "{whole}.{} g", digits.trim_end_matches('0'))
        }
    }
}

/// A rule set's version: the first 16 hex digits of a SHA-256 over the canonical JSON of every field
/// (the rule file's content, independent of its whitespace and key order). Two rule sets with the same
/// version give the same screenings, reasons and questions included.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct RuleSetVersion(String);

impl RuleSetVersion {
    /// The version as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RuleSetVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated, versioned rule set. Serializes (for `GET /v1/rules`) as the rule file plus `version`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RuleSet {
    /// The content hash of the rules (16 hex digits), also the answer's `ETag`.
    #[schema(value_type = String)]
    version: RuleSetVersion,
    #[serde(flatten)]
    spec: RuleSpec,
}

impl RuleSet {
    /// Parses and validates a rule file's JSON text; `origin` (a path, or a name for embedded text) names
    /// it in errors.
    ///
    /// # Examples
    /// ```
    /// let rules = leadmap::rules::RuleSet::from_json(leadmap::builtin::PORTLAND_RULES, "portland.json").unwrap();
    /// assert_eq!(rules.spec().name, "portland-lead-2017");
    /// assert_eq!(rules.version().as_str().len(), 16);
    ///
    /// let err = leadmap::rules::RuleSet::from_json(r#"{"name": "x", "colour": 1}"#, "mine.json").unwrap_err();
    /// assert!(err.to_string().starts_with("mine.json: unknown field `colour`"), "{err}");
    /// ```
    pub fn from_json(text: &str, origin: &str) -> Result<Self, RuleError> {
        if !text.trim_start().starts_with('{') {
            let reason = "a rule file is a JSON object ({ \"name\": ..., ... }); see geodata/rules/portland.json";
            return Err(RuleError::Format { origin: origin.to_owned(), reason: reason.to_owned() });
        }
        if let Ok(serde_json::Value::Object(obj)) = serde_json::from_str::<serde_json::Value>(text)
            && obj.contains_key("substance_limits")
        {
            let reason = "substance_limits was replaced by substances: list every substance the rules know (with its \
                          aliases) and give each excluded_at_or_above_grams, excluded_above_grams or no_limit with the \
                          reason; a name not listed is asked about, never passed. See geodata/rules/portland.json";
            return Err(RuleError::Format { origin: origin.to_owned(), reason: reason.to_owned() });
        }
        let spec: RuleSpec = serde_json::from_str(text)
            .map_err(|e| RuleError::Format { origin: origin.to_owned(), reason: e.to_string() })?;
        Self::new(spec, origin)
    }

    /// Validates rules built in code (or edited after parsing) and computes the version.
    pub fn new(spec: RuleSpec, origin: &str) -> Result<Self, RuleError> {
        let problems = spec.problems();
        if !problems.is_empty() {
            return Err(RuleError::Invalid { origin: origin.to_owned(), problems });
        }
        let version = version_of(&spec)
            .map_err(|e| RuleError::Format { origin: origin.to_owned(), reason: format!("cannot serialize: {e}") })?;
        Ok(Self { version, spec })
    }

    /// The rules as written in the file.
    #[must_use]
    pub fn spec(&self) -> &RuleSpec {
        &self.spec
    }

    /// The content hash.
    #[must_use]
    pub fn version(&self) -> &RuleSetVersion {
        &self.version
    }

    /// The rule set's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Whether the rules are in force on `date` (both ends inclusive).
    #[must_use]
    pub fn in_force_on(&self, date: NaiveDate) -> bool {
        self.spec.effective_from <= date && self.spec.effective_to.is_none_or(|to| date <= to)
    }

    /// What `path` requires, or `None` when these rules do not have that path.
    #[must_use]
    pub fn path(&self, path: ReferralPath) -> Option<&PathRules> {
        match path {
            ReferralPath::Arrest => self.spec.referral_paths.arrest.as_ref(),
            ReferralPath::SocialContact => self.spec.referral_paths.social_contact.as_ref(),
        }
    }

    /// The offense whose code or alias is `text` (ignoring case and extra spaces).
    #[must_use]
    pub fn offense(&self, text: &str) -> Option<&Offense> {
        let n = normalize(text);
        self.spec.offenses.iter().find(|o| normalize(&o.code) == n || o.aliases.iter().any(|a| normalize(a) == n))
    }

    /// The substance whose name or alias is `name` (ignoring case, spaces and punctuation), or `None` when
    /// the rules do not know it: the vocabulary is closed.
    #[must_use]
    pub fn substance(&self, name: &str) -> Option<&Substance> {
        let n = normalize(name);
        self.spec.substances.iter().find(|s| s.names().any(|a| normalize(a) == n))
    }

    /// The exclusion with this fact id.
    #[must_use]
    pub fn exclusion(&self, id: &str) -> Option<&Exclusion> {
        self.spec.exclusions.iter().find(|e| e.id == id)
    }

    /// Every fact id a request may give: the exclusions, then each path's requirements.
    pub fn fact_ids(&self) -> impl Iterator<Item = &str> {
        let paths = &self.spec.referral_paths;
        self.spec.exclusions.iter().map(|e| e.id.as_str()).chain(
            [&paths.arrest, &paths.social_contact]
                .into_iter()
                .flatten()
                .flat_map(|p| &p.requirements)
                .map(|r| r.id.as_str()),
        )
    }
}

fn version_of(spec: &RuleSpec) -> Result<RuleSetVersion, serde_json::Error> {
    let canonical = serde_json::to_vec(spec)?;
    let mut h = Sha256::new();
    h.update(b"leadmap-rule-set-v1\n");
    h.update(&canonical);
    Ok(RuleSetVersion(crate::digest::hex(&h.finalize()[..8])))
}

/// Why a rule set cannot be loaded or used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RuleError {
    /// The text is not JSON, or not a rule file's shape: an unknown field, a missing field, or a value of
    /// the wrong type. The message names the field and the line; compare with `geodata/rules/portland.json`.
    #[error("{origin}: {reason}")]
    Format {
        /// The file or embedded text.
        origin: String,
        /// serde's message, with the field and position.
        reason: String,
    },
    /// The file has the right shape but values the rules cannot use (negative grams, dates out of order,
    /// an eligible offense that is not defined, duplicate ids). Every problem is listed by field.
    #[error("{origin}: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// The file or embedded text.
        origin: String,
        /// Every problem, by field.
        problems: Vec<FieldProblem>,
    },
    /// No loaded rule set is in force on the date asked about; load one whose dates cover it.
    #[error("no rule set is in force on {date}; loaded: {loaded}")]
    NoneInForce {
        /// The date asked about.
        date: NaiveDate,
        /// The loaded rule sets and their dates.
        loaded: String,
    },
    /// Two loaded rule sets are in force on one date and start the same day; give them different dates.
    #[error("rule sets {0:?} and {1:?} are both in force on {2} and start the same day; give them different dates")]
    Ambiguous(String, String, NaiveDate),
    /// A catalog was given rule sets of different jurisdictions; load one jurisdiction's rules (and zones)
    /// per catalog.
    #[error(
        "rule sets {first:?} ({first_jurisdiction}) and {second:?} ({second_jurisdiction}) are for different jurisdictions; load one jurisdiction's rules at a time"
    )]
    MixedJurisdictions {
        /// The first set's name.
        first: String,
        /// Its jurisdiction.
        first_jurisdiction: String,
        /// The other set's name.
        second: String,
        /// Its jurisdiction.
        second_jurisdiction: String,
    },
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "screen_tests.rs"]
mod screen_tests;
