//! The event model: one contact (an arrest, a diversion referral, a social-contact referral or a police
//! offense report) with where and when it happened, the offense, optional race/ethnicity group and
//! agency, and its identity (`source` + `external_id`). No names, addresses or other personal fields exist here, so none can be
//! stored. [`Placed`] adds what the store keeps beside each event: its zone under the zone set in force on
//! its date, and its H3 cell at resolution 15.

pub mod checks;
pub mod filter;
pub mod live;

use std::fmt;

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

use crate::coord::LonLat;
use crate::zones::ZoneCatalog;

/// What kind of contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// An arrest (booked, not diverted).
    Arrest,
    /// Post-arrest, pre-booking diversion to LEAD.
    DiversionReferral,
    /// Social contact referral: no arrest.
    SocialContactReferral,
    /// A police offense report (what police open data publish: a reported offense, not an arrest and not a
    /// referral). Counted as a contact and in hotspots; never in diversion or referral rates.
    OffenseReport,
}

impl EventKind {
    /// How many kinds there are: the length of every per-kind array.
    pub const COUNT: usize = 4;

    /// Every kind, in order.
    pub const ALL: [Self; Self::COUNT] =
        [Self::Arrest, Self::DiversionReferral, Self::SocialContactReferral, Self::OffenseReport];

    /// The wire name, e.g. `diversion_referral`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Arrest => "arrest",
            Self::DiversionReferral => "diversion_referral",
            Self::SocialContactReferral => "social_contact_referral",
            Self::OffenseReport => "offense_report",
        }
    }

    /// Its place in [`EventKind::ALL`] (0 to 3): the column of per-kind counts.
    #[must_use]
    pub fn index(self) -> usize {
        match self {
            Self::Arrest => 0,
            Self::DiversionReferral => 1,
            Self::SocialContactReferral => 2,
            Self::OffenseReport => 3,
        }
    }
}

impl std::str::FromStr for EventKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Self::ALL.into_iter().find(|k| k.as_str() == t).ok_or_else(|| {
            format!(
                "unknown event kind {s:?}; use arrest, diversion_referral, social_contact_referral or offense_report"
            )
        })
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The offense: LEAD's three codes, or the source's own text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Offense {
    /// Possession of a controlled substance.
    Pcs,
    /// Substantial quantity.
    Sq,
    /// Commercial drug offense.
    Cdo,
    /// Anything else, as the source wrote it.
    Other(String),
}

impl Offense {
    /// `PCS`, `SQ`, `CDO` (any case) or the text itself.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let t = text.trim();
        match t.to_ascii_uppercase().as_str() {
            "PCS" => Self::Pcs,
            "SQ" => Self::Sq,
            "CDO" => Self::Cdo,
            _ => Self::Other(t.to_owned()),
        }
    }

    /// As stored.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pcs => "PCS",
            Self::Sq => "SQ",
            Self::Cdo => "CDO",
            Self::Other(s) => s,
        }
    }
}

/// The default race/ethnicity groups (the categories used in relative-rate-index reporting); a
/// deployment may configure its own list.
pub const DEFAULT_GROUPS: &[&str] = &[
    "white",
    "black",
    "hispanic_latino",
    "asian",
    "native_american",
    "pacific_islander",
    "multiracial",
    "other",
    "unknown",
];

/// A race/ethnicity group's name as it is stored and compared: trimmed, lower case, spaces, hyphens
/// and slashes read as `_` (`Hispanic/Latino` is `hispanic_latino`). Used for imported values and for
/// the filters and reference group people type.
#[must_use]
pub fn group_key(text: &str) -> String {
    text.trim().to_ascii_lowercase().replace([' ', '-', '/'], "_")
}

/// The configured race/ethnicity groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Groups(Vec<String>);

impl Default for Groups {
    fn default() -> Self {
        Self(DEFAULT_GROUPS.iter().map(|g| (*g).to_owned()).collect())
    }
}

impl Groups {
    /// A custom list (lower-case names).
    #[must_use]
    pub fn new(names: Vec<String>) -> Self {
        Self(names.into_iter().map(|n| n.trim().to_ascii_lowercase()).collect())
    }

    /// The group named `text` (case-insensitive; spaces, hyphens and slashes read as `_`).
    pub fn parse(&self, text: &str) -> Result<String, String> {
        let t = group_key(text);
        self.0
            .iter()
            .find(|g| **g == t)
            .cloned()
            .ok_or_else(|| format!("unknown group {text:?}; use one of {}", self.0.join(", ")))
    }

    /// The names.
    #[must_use]
    pub fn names(&self) -> &[String] {
        &self.0
    }
}

/// A time of day written `HH:MM:SS` or `HH:MM`.
#[must_use]
pub fn parse_clock_time(t: &str) -> Option<NaiveTime> {
    // By hand: chrono's parse_from_str re-reads its format string on every call, and imports call this
    // once a row. Like chrono's %H:%M[:%S]: one or two digits each.
    let mut parts = [0u32; 3];
    let mut n = 0;
    for part in t.trim().split(':') {
        let b = part.as_bytes();
        if n == 3 || b.is_empty() || b.len() > 2 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        parts[n] = b.iter().fold(0, |v, d| v * 10 + u32::from(d - b'0'));
        n += 1;
    }
    if n < 2 {
        return None;
    }
    NaiveTime::from_hms_opt(parts[0], parts[1], parts[2])
}

/// One contact, as imported or ingested.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// What kind of contact.
    pub kind: EventKind,
    /// The day it happened.
    pub occurred_on: NaiveDate,
    /// The time, when the source gives it.
    pub occurred_at: Option<NaiveTime>,
    /// Where, WGS84.
    pub point: LonLat,
    /// The offense.
    pub offense: Offense,
    /// Race/ethnicity group, one of the configured [`Groups`].
    pub race_ethnicity: Option<String>,
    /// The agency that made the contact.
    pub agency: Option<String>,
    /// The data source, e.g. `ppb`: with `external_id`, the identity.
    pub source: String,
    /// The source's own id (its case number).
    pub external_id: String,
}

/// An event with what the store derives from it.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    /// The event.
    pub event: Event,
    /// Zone id under the zone set in force on its date, if inside one.
    pub zone: Option<String>,
    /// Name and version of that zone set (none when no set is in force on the date).
    pub zone_set: Option<(String, String)>,
    /// H3 cell at resolution 15, from which every coarser cell follows.
    pub cell: u64,
    /// The event's permanent random record key (0..=255), drawn when it is first stored and never
    /// shown: the sum of a set of events' keys is the cell key that perturbs a count planners see
    /// ([`crate::privacy`]).
    pub record_key: u8,
    /// Which of its res-5..=12 cells are not the ancestors of `cell` ([`crate::cells::columns::fix_code`]):
    /// stored beside it, so the in-memory columns need not compute them at every start.
    pub fix: u32,
}

/// Places `event`: zone under the set in force on its date, and its resolution-15 H3 cell.
#[must_use]
pub fn place(event: Event, zones: &ZoneCatalog) -> Placed {
    let (zone, zone_set) = match zones.in_force(event.occurred_on) {
        Ok(index) => {
            let p = event.point;
            let zone = index.classify(p.lon(), p.lat()).map(|z| index.set().zones()[z].id.as_str().to_owned());
            (zone, Some((index.set().meta().name.clone(), index.set().version().to_string())))
        }
        Err(_) => (None, None),
    };
    let (cell, fix) = crate::cells::columns::cell15_and_fix(event.point.lon(), event.point.lat());
    Placed { cell, fix, event, zone, zone_set, record_key: rand::random() }
}

/// The resolution-15 H3 cell of a point (h3o takes latitude first).
#[must_use]
pub fn h3_res15(p: LonLat) -> u64 {
    // A validated LonLat is always a valid h3o LatLng.
    h3o::LatLng::new(p.lat(), p.lon()).map_or(0, |ll| u64::from(ll.to_cell(h3o::Resolution::Fifteen)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_times_parse_as_chrono_reads_them() {
        let chrono =
            |t: &str| NaiveTime::parse_from_str(t, "%H:%M:%S").or_else(|_| NaiveTime::parse_from_str(t, "%H:%M")).ok();
        for t in [
            "00:00:00",
            "23:59:59",
            "7:05",
            "07:05",
            "12:30:15",
            "24:00:00",
            "12:60",
            "1:2:3",
            "12:3",
            "",
            ":",
            "aa:bb",
            "12:30:1",
            "123:00",
            "12:30:15:00",
            "-1:00",
            " 1:00",
        ] {
            assert_eq!(parse_clock_time(t), chrono(t), "{t:?}");
        }
    }

    #[test]
    fn kinds_offenses_and_groups_parse() {
        assert_eq!("Diversion-Referral".parse::<EventKind>().unwrap(), EventKind::DiversionReferral);
        assert!("booking".parse::<EventKind>().unwrap_err().contains("arrest"));
        assert_eq!(Offense::parse(" pcs "), Offense::Pcs);
        assert_eq!(Offense::parse("Drug Equipment Violations").as_str(), "Drug Equipment Violations");
        let g = Groups::default();
        assert_eq!(g.parse("Hispanic/Latino").unwrap(), "hispanic_latino");
        assert_eq!(group_key(" Native-American "), "native_american");
        assert!(g.parse("martian").unwrap_err().contains("white"));
    }

    #[test]
    fn events_are_placed_in_the_zone_set_of_their_date() {
        let zones = ZoneCatalog::new(crate::builtin::zone_sets().unwrap(), crate::zones::IndexOptions::default());
        let event = |y| Event {
            kind: EventKind::Arrest,
            occurred_on: NaiveDate::from_ymd_opt(y, 6, 1).unwrap(),
            occurred_at: None,
            point: LonLat::new(-122.6793, 45.5189).unwrap(),
            offense: Offense::Pcs,
            race_ethnicity: None,
            agency: None,
            source: "test".into(),
            external_id: "1".into(),
        };
        let p = place(event(2017), &zones);
        assert_eq!(p.zone.as_deref(), Some("downtown"));
        assert_eq!(p.zone_set.unwrap().0, "portland-lead-2017");
        let cell = h3o::CellIndex::try_from(p.cell).unwrap();
        assert_eq!(cell.resolution(), h3o::Resolution::Fifteen);
        let ll = h3o::LatLng::from(cell);
        assert!((ll.lat() - 45.5189).abs() < 1e-5 && (ll.lng() + 122.6793).abs() < 1e-5);
        assert!(place(event(2010), &zones).zone_set.is_none(), "no set in force before the pilot");
    }
}
