//! What an event must satisfy before it is stored, the same for `leadmap import` and `POST /v1/events`:
//! a location within a plausible area around the zones (never (0, 0), the usual stand-in for "no
//! location"), a date in a plausible range (1990-01-01 to tomorrow by default), and text fields of at
//! most [`MAX_TEXT_CHARS`] characters. One event far away would stretch the study area over half the
//! globe; one dated year 10000 would stretch every monthly grid.

use chrono::{Datelike, NaiveDate};
use geo::Rect;

use super::Event;

/// The longest id, offense, source or agency text, in characters.
pub const MAX_TEXT_CHARS: usize = 256;

/// The default distance around the zones' bounding box within which events are plausible, km.
pub const DEFAULT_PLAUSIBLE_KM: f64 = 50.0;

/// The default first plausible date.
pub const DEFAULT_FIRST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1990, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

const KM_PER_DEGREE_LAT: f64 = 111.32;

/// A box in lon/lat degrees (x = lon, y = lat) within which events may lie: the zones' bounding box
/// grown by a distance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlausibleArea {
    /// West, south, east, north, degrees.
    pub bounds: [f64; 4],
    /// The distance the zones' box was grown by, km (for messages).
    pub around_km: f64,
}

impl PlausibleArea {
    /// The box `zones` (lon, lat) grown by `km` on every side (longitude by the scale at its most
    /// poleward latitude, so the margin is at least `km` everywhere).
    #[must_use]
    pub fn around(zones: Rect<f64>, km: f64) -> Self {
        let dlat = km / KM_PER_DEGREE_LAT;
        let south = (zones.min().y - dlat).max(-90.0);
        let north = (zones.max().y + dlat).min(90.0);
        let cos = south.abs().max(north.abs()).to_radians().cos().max(1e-6);
        let dlon = km / (KM_PER_DEGREE_LAT * cos);
        Self {
            bounds: [(zones.min().x - dlon).max(-180.0), south, (zones.max().x + dlon).min(180.0), north],
            around_km: km,
        }
    }

    /// Whether (`lon`, `lat`) lies in the box.
    #[must_use]
    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        let [w, s, e, n] = self.bounds;
        (w..=e).contains(&lon) && (s..=n).contains(&lat)
    }
}

/// The checks an event passes before it is stored.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EventChecks {
    /// Where events may lie; `None` checks only (0, 0).
    pub area: Option<PlausibleArea>,
    /// The first plausible date.
    pub first_date: NaiveDate,
    /// The last plausible date: the day after the UTC date when the checks were made, so a contact late
    /// in the evening west of Greenwich passes (the service makes them for each request, so it moves
    /// with the calendar).
    pub last_date: NaiveDate,
}

impl EventChecks {
    /// Events dated from `first_date` to the day after `now`'s UTC date, anywhere but (0, 0).
    #[must_use]
    pub fn dated(first_date: NaiveDate, now: chrono::DateTime<chrono::Utc>) -> Self {
        let today = now.date_naive();
        Self { area: None, first_date, last_date: today.succ_opt().unwrap_or(today) }
    }

    /// `dates` with events within `km` of `zones` (lon, lat).
    #[must_use]
    pub fn around(zones: Rect<f64>, km: f64, dates: Self) -> Self {
        Self { area: Some(PlausibleArea::around(zones, km)), ..dates }
    }

    /// The location check alone: the field at fault (`lon`) and why.
    pub fn location(&self, lon: f64, lat: f64) -> Result<(), String> {
        if lon == 0.0 && lat == 0.0 {
            return Err("(0, 0) is not a location (it is what a missing location often becomes)".into());
        }
        if let Some(a) = &self.area
            && !a.contains(lon, lat)
        {
            let [w, s, e, n] = a.bounds;
            return Err(format!(
                "lon {lon} lat {lat} is outside the plausible area (within {} km of the zones: lon {w:.3}..{e:.3}, lat {s:.3}..{n:.3}); check the coordinates and their CRS, or widen it with --plausible-km",
                a.around_km
            ));
        }
        Ok(())
    }

    /// The date check alone.
    pub fn date(&self, day: NaiveDate) -> Result<(), String> {
        let last = self.last_date;
        if day < self.first_date || day > last {
            return Err(format!(
                "{} is outside the plausible dates {} to {last}; check the date's format (a two-digit year?), or set --first-date",
                show_date(day),
                self.first_date
            ));
        }
        Ok(())
    }

    /// Every check on `event`: the field at fault (`lon`, `occurred_on`, `external_id`, `source`,
    /// `offense`, `agency`) and why.
    ///
    /// # Examples
    /// ```
    /// use chrono::NaiveDate;
    /// use leadmap::coord::LonLat;
    /// use leadmap::events::{Event, EventKind, Offense, checks::EventChecks};
    /// let e = Event {
    ///     kind: EventKind::Arrest,
    ///     occurred_on: NaiveDate::from_ymd_opt(2019, 5, 1).unwrap(),
    ///     occurred_at: None,
    ///     point: LonLat::new(0.0, 0.0).unwrap(),
    ///     offense: Offense::Pcs,
    ///     race_ethnicity: None,
    ///     agency: None,
    ///     source: "ppb".into(),
    ///     external_id: "19-1".into(),
    /// };
    /// let checks = EventChecks::dated(NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(), chrono::Utc::now());
    /// let (field, why) = checks.check(&e).unwrap_err();
    /// assert_eq!(field, "lon");
    /// assert!(why.contains("(0, 0)"));
    /// ```
    pub fn check(&self, event: &Event) -> Result<(), (&'static str, String)> {
        self.location(event.point.lon(), event.point.lat()).map_err(|e| ("lon", e))?;
        self.date(event.occurred_on).map_err(|e| ("occurred_on", e))?;
        text("external_id", &event.external_id)?;
        text("source", &event.source)?;
        text("offense", event.offense.as_str())?;
        if let Some(a) = &event.agency {
            text("agency", a)?;
        }
        Ok(())
    }
}

/// A text field's length check.
pub fn text(field: &'static str, value: &str) -> Result<(), (&'static str, String)> {
    let n = value.chars().count();
    if n > MAX_TEXT_CHARS {
        return Err((field, format!("{n} characters is longer than the limit of {MAX_TEXT_CHARS}")));
    }
    Ok(())
}

/// A date as ISO 8601 writes it (years outside 0..=9999 with a sign).
fn show_date(d: NaiveDate) -> String {
    if (0..=9999).contains(&d.year()) { d.to_string() } else { format!("year {}", d.year()) }
}

/// A date written exactly `YYYY-MM-DD` (four-digit year): what the HTTP API takes. Anything else (a
/// sign, a five-digit year, a time) is refused, so a stored date is the date as sent.
#[must_use]
pub fn parse_iso_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |v, &d| d.is_ascii_digit().then(|| v * 10 + u32::from(d - b'0')))
    };
    NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Coord;

    fn portland() -> Rect<f64> {
        Rect::new(Coord { x: -122.69, y: 45.51 }, Coord { x: -122.65, y: 45.54 })
    }

    #[test]
    fn the_plausible_area_is_the_zones_box_grown_by_the_distance() {
        let c = EventChecks::around(portland(), 50.0, EventChecks::dated(DEFAULT_FIRST_DATE, chrono::Utc::now()));
        assert!(c.location(-122.68, 45.52).is_ok());
        // Gresham, Vancouver WA, Hillsboro: within 50 km.
        for (lon, lat) in [(-122.43, 45.50), (-122.66, 45.64), (-122.99, 45.52)] {
            assert!(c.location(lon, lat).is_ok(), "{lon} {lat}");
        }
        // Salem (70 km south), Seattle, the axes swapped into Colombia-ish, Null Island.
        for (lon, lat) in [(-123.03, 44.94), (-122.33, 47.61), (-75.0, 4.6), (0.0, 0.0)] {
            let e = c.location(lon, lat).unwrap_err();
            assert!(e.contains("plausible") || e.contains("(0, 0)"), "{e}");
        }
        // 50 km is at least 50 km in every direction: 0.44° of latitude, 0.64° of longitude at 45.5° N.
        let [w, s, e, n] = c.area.unwrap().bounds;
        assert!((s - (45.51 - 50.0 / 111.32)).abs() < 1e-9 && (n - (45.54 + 50.0 / 111.32)).abs() < 1e-9);
        assert!(w < -122.69 - 0.64 && e > -122.65 + 0.64);
    }

    #[test]
    fn null_island_is_refused_even_without_an_area() {
        let c = EventChecks::dated(DEFAULT_FIRST_DATE, chrono::Utc::now());
        assert!(c.location(0.0, 0.0).is_err());
        assert!(c.location(0.0, 0.1).is_ok());
    }

    #[test]
    fn dates_outside_1990_to_tomorrow_are_refused() {
        // Late on 31 December in Portland is already 1 January in UTC: that day and the next pass.
        let now = chrono::DateTime::parse_from_rfc3339("2020-12-31T20:00:00-08:00").unwrap().to_utc();
        let c = EventChecks::dated(DEFAULT_FIRST_DATE, now);
        let today = NaiveDate::from_ymd_opt(2021, 1, 1).unwrap();
        assert_eq!(c.last_date, NaiveDate::from_ymd_opt(2021, 1, 2).unwrap());
        assert!(c.date(today).is_ok());
        assert!(c.date(today.succ_opt().unwrap()).is_ok());
        assert!(c.date(today + chrono::Days::new(2)).is_err());
        assert!(c.date(DEFAULT_FIRST_DATE).is_ok());
        assert!(c.date(DEFAULT_FIRST_DATE.pred_opt().unwrap()).is_err());
        let far = NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap();
        assert!(c.date(far).unwrap_err().contains("year 10000"));
    }

    #[test]
    fn iso_dates_are_exactly_four_digit_years() {
        assert_eq!(parse_iso_date("2019-05-01"), NaiveDate::from_ymd_opt(2019, 5, 1));
        for bad in ["-0001-01-01", "+10000-01-01", "10000-01-01", "2019-5-1", "2019-02-30", "2019-05-01T00:00", ""] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn text_fields_have_a_limit_in_characters() {
        assert!(text("agency", &"é".repeat(MAX_TEXT_CHARS)).is_ok());
        assert!(text("agency", &"a".repeat(MAX_TEXT_CHARS + 1)).unwrap_err().1.contains("257 characters"));
    }
}
