//! Event files for `leadmap import`: CSV as police departments publish it, with presets for the Portland
//! Police Bureau's two open-data formats, column mapping for anything else, and projected coordinates
//! (State Plane, UTM) transformed to WGS84. Streams row by row in batches; every rejected row is reported
//! with its line, field and reason. Only the mapped fields are read: an address or name column in the
//! file is never looked at, so it cannot be stored.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use chrono::{NaiveDate, NaiveTime};

use super::points::{Rejected, parse_row_date};
use crate::coord::LonLat;
use serde_json::{Value, json};

use crate::events::{Event, EventKind, Groups, Offense, Placed};
use crate::projection::Crs;

/// Known source formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// Portland Police Bureau open data, 2015+ (NIBRS): `CaseNumber`, `OccurDate`, `OccurTime`,
    /// `OffenseType`, `OpenDataLon`/`OpenDataLat` (WGS84).
    Ppb,
    /// Portland Police Bureau `crime_incident_data`, 2012 and before: `Record ID`, `Report Date`
    /// (MM/DD/YYYY), `Report Time`, `Major Offense Type`, `X Coordinate`/`Y Coordinate` in EPSG:2913
    /// (Oregon North, international feet).
    #[value(name = "ppb-2012")]
    Ppb2012,
}

/// The fields an import reads, by their names for `--map FIELD=COLUMN`.
pub const FIELDS: &[&str] = &[
    "external_id",
    "occurred_on",
    "occurred_at",
    "kind",
    "lon",
    "lat",
    "x",
    "y",
    "offense",
    "race_ethnicity",
    "agency",
];

/// How to read a file.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// A known format.
    pub preset: Option<Preset>,
    /// The kind of every event (when the file has no kind column).
    pub kind: Option<EventKind>,
    /// The source name (the identity's first half); presets give `ppb` / `ppb-2012`.
    pub source: Option<String>,
    /// The coordinate system of `x`/`y` columns.
    pub crs: Option<Crs>,
    /// `field -> column` overrides.
    pub map: BTreeMap<String, String>,
    /// Race/ethnicity groups.
    pub groups: Groups,
}

/// Why a file cannot be read at all (row problems are [`Rejected`] rows instead).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The header or the options do not allow reading any row.
    #[error("{file}: {reason}")]
    Setup {
        /// The file.
        file: String,
        /// What to do about it.
        reason: String,
    },
    /// Reading failed.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Column positions of each field in one file.
struct Layout {
    columns: HashMap<&'static str, usize>,
    names: Vec<String>,
    kind: Option<EventKind>,
    source: String,
    crs: Option<Crs>,
}

fn preset_columns(preset: Option<Preset>) -> Vec<(&'static str, &'static str)> {
    match preset {
        Some(Preset::Ppb) => vec![
            ("external_id", "CaseNumber"),
            ("occurred_on", "OccurDate"),
            ("occurred_at", "OccurTime"),
            ("offense", "OffenseType"),
            ("lon", "OpenDataLon"),
            ("lat", "OpenDataLat"),
        ],
        Some(Preset::Ppb2012) => vec![
            ("external_id", "Record ID"),
            ("occurred_on", "Report Date"),
            ("occurred_at", "Report Time"),
            ("offense", "Major Offense Type"),
            ("x", "X Coordinate"),
            ("y", "Y Coordinate"),
        ],
        None => FIELDS.iter().map(|f| (*f, *f)).collect(),
    }
}

impl Layout {
    fn new(header: &csv::StringRecord, file: &str, opts: &ImportOptions) -> Result<Self, ImportError> {
        let setup = |reason: String| ImportError::Setup { file: file.to_owned(), reason };
        let names: Vec<String> = header.iter().map(|h| h.trim().trim_start_matches('\u{feff}').to_owned()).collect();
        let find = |col: &str| names.iter().position(|n| n.eq_ignore_ascii_case(col));
        let mut columns = HashMap::new();
        for (field, col) in preset_columns(opts.preset) {
            if let Some(i) = find(col) {
                columns.insert(field, i);
            }
        }
        // Common synonyms when no preset names the columns.
        if opts.preset.is_none() {
            for (field, alts) in [
                ("external_id", &["id", "case_number", "casenumber"][..]),
                ("occurred_on", &["date", "occur_date"][..]),
                ("occurred_at", &["time"][..]),
                ("lon", &["lng", "longitude"][..]),
                ("lat", &["latitude"][..]),
            ] {
                if !columns.contains_key(field)
                    && let Some(i) = alts.iter().find_map(|a| find(a))
                {
                    columns.insert(field, i);
                }
            }
        }
        for (field, col) in &opts.map {
            let field = FIELDS.iter().find(|f| **f == field.as_str()).ok_or_else(|| {
                setup(format!("--map {field}={col}: unknown field {field:?}; fields: {}", FIELDS.join(", ")))
            })?;
            let i = find(col).ok_or_else(|| {
                setup(format!("--map {field}={col}: no column {col:?}; columns: {}", names.join(", ")))
            })?;
            columns.insert(field, i);
        }
        let crs =
            opts.crs.or_else(|| (opts.preset == Some(Preset::Ppb2012)).then(|| Crs::from_epsg(2913).ok()).flatten());
        let has = |f: &str| columns.contains_key(f);
        let coordinates = (has("lon") && has("lat")) || (has("x") && has("y"));
        let missing: Vec<&str> = ["external_id", "occurred_on"].into_iter().filter(|f| !has(f)).collect();
        if !missing.is_empty() || !coordinates {
            let mut need: Vec<String> = missing.iter().map(|f| (*f).to_owned()).collect();
            if !coordinates {
                need.push("lon and lat (or x and y with --crs)".into());
            }
            return Err(setup(format!(
                "no column for {}; columns: {}. Name them with --map FIELD=COLUMN or use --preset",
                need.join(", "),
                names.join(", ")
            )));
        }
        if has("x") && !has("lon") && crs.is_none() {
            return Err(setup("x/y columns need --crs (e.g. --crs EPSG:2913)".into()));
        }
        let kind = opts.kind.or_else(|| opts.preset.map(|_| EventKind::Arrest));
        if kind.is_none() && !has("kind") {
            return Err(setup("no kind column: say what these events are with --kind arrest|diversion_referral|social_contact_referral".into()));
        }
        let source = opts.source.clone().or_else(|| {
            opts.preset.map(|p| match p {
                Preset::Ppb => "ppb".to_owned(),
                Preset::Ppb2012 => "ppb-2012".to_owned(),
            })
        });
        let source = source.ok_or_else(|| {
            setup("name the data source with --source NAME (events are identified by source and id)".into())
        })?;
        Ok(Self { columns, names, kind, source, crs })
    }

    fn get<'r>(&self, rec: &'r csv::StringRecord, field: &str) -> Option<&'r str> {
        self.columns.get(field).and_then(|&i| rec.get(i)).map(str::trim).filter(|v| !v.is_empty())
    }

    fn column(&self, field: &str) -> String {
        self.columns.get(field).and_then(|&i| self.names.get(i)).cloned().unwrap_or_else(|| field.to_owned())
    }

    /// One row to an event, or the field at fault and why.
    fn event(&self, rec: &csv::StringRecord, groups: &Groups) -> Result<Event, (String, String)> {
        let bad = |field: &str, reason: String| (self.column(field), reason);
        let external_id = self.get(rec, "external_id").ok_or_else(|| bad("external_id", "no id".into()))?.to_owned();
        let date_text = self.get(rec, "occurred_on").ok_or_else(|| bad("occurred_on", "no date".into()))?;
        let occurred_on: NaiveDate = parse_row_date(date_text.as_bytes())
            .ok_or_else(|| bad("occurred_on", format!("{date_text:?} is not a date (YYYY-MM-DD or MM/DD/YYYY)")))?;
        let occurred_at = match self.get(rec, "occurred_at") {
            None => None,
            Some(t) => Some(
                parse_time(t).ok_or_else(|| bad("occurred_at", format!("{t:?} is not a time (HH:MM[:SS] or HHMM)")))?,
            ),
        };
        let kind = match self.get(rec, "kind") {
            Some(k) => k.parse().map_err(|e| bad("kind", e))?,
            None => self.kind.ok_or_else(|| bad("kind", "no kind".into()))?,
        };
        let number = |field: &str| -> Result<Option<f64>, (String, String)> {
            self.get(rec, field)
                .map(|v| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|n| n.is_finite())
                        .ok_or_else(|| bad(field, format!("{v:?} is not a finite number")))
                })
                .transpose()
        };
        let point = if self.columns.contains_key("lon") {
            match (number("lon")?, number("lat")?) {
                (Some(lon), Some(lat)) => LonLat::new(lon, lat).map_err(|e| bad("lon", e.to_string()))?,
                _ => return Err(bad("lon", "no coordinates".into())),
            }
        } else {
            match (number("x")?, number("y")?, self.crs) {
                (Some(x), Some(y), Some(crs)) => {
                    let (lon, lat) = crs.to_lon_lat(x, y);
                    LonLat::new(lon, lat).map_err(|e| bad("x", format!("EPSG:{} ({x}, {y}) -> {e}", crs.code())))?
                }
                _ => return Err(bad("x", "no coordinates".into())),
            }
        };
        let offense = Offense::parse(self.get(rec, "offense").unwrap_or("unknown"));
        let race_ethnicity = self
            .get(rec, "race_ethnicity")
            .map(|g| groups.parse(g))
            .transpose()
            .map_err(|e| bad("race_ethnicity", e))?;
        let agency = self.get(rec, "agency").map(str::to_owned);
        Ok(Event {
            kind,
            occurred_on,
            occurred_at,
            point,
            offense,
            race_ethnicity,
            agency,
            source: self.source.clone(),
            external_id,
        })
    }
}

/// `HH:MM[:SS]` or the police `HHMM` (`400` is 04:00).
fn parse_time(t: &str) -> Option<NaiveTime> {
    crate::events::parse_clock_time(t).or_else(|| {
        let n: u32 = t.parse().ok().filter(|_| t.len() <= 4 && t.bytes().all(|b| b.is_ascii_digit()))?;
        NaiveTime::from_hms_opt(n / 100, n % 100, 0)
    })
}

/// Reads `input` (named `file` in messages) in batches of `batch` rows, calling `sink` with each batch's
/// events and rejected rows (which includes a repeated id within the file, naming the first line). The
/// CSV line of each reject is where its record starts (the header is line 1).
pub fn read_events_csv<E: From<ImportError>>(
    input: impl Read,
    file: &str,
    opts: &ImportOptions,
    batch: usize,
    mut sink: impl FnMut(Vec<Event>, Vec<Rejected>, u64) -> Result<(), E>,
) -> Result<(), E> {
    let io = |e: csv::Error| ImportError::Io { file: file.to_owned(), source: std::io::Error::other(e.to_string()) };
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let header = rdr.headers().map_err(io)?.clone();
    let layout = Layout::new(&header, file, opts)?;
    let mut seen: HashMap<String, u64> = HashMap::new();
    let (mut events, mut rejects, mut read) = (Vec::with_capacity(batch), Vec::new(), 0u64);
    let mut rec = csv::StringRecord::new();
    loop {
        let more = match rdr.read_record(&mut rec) {
            Ok(more) => more,
            Err(e) => {
                // A broken record (bad UTF-8, an unterminated quote): name it and stop this file.
                let line = e.position().map_or(0, csv::Position::line);
                rejects.push(Rejected { line, field: "record".into(), reason: e.to_string(), fields: Vec::new() });
                read += 1;
                false
            }
        };
        if !more {
            break;
        }
        read += 1;
        let line = rec.position().map_or(0, csv::Position::line);
        let reject = |field: String, reason: String| Rejected {
            line,
            field,
            reason,
            fields: rec.iter().map(str::to_owned).collect(),
        };
        if rec.len() == header.len() {
            match layout.event(&rec, &opts.groups) {
                Err((field, reason)) => rejects.push(reject(field, reason)),
                Ok(event) => {
                    if let Some(first) = seen.get(&event.external_id) {
                        rejects.push(reject(
                            layout.column("external_id"),
                            format!("id {:?} already read at line {first}; one event per id", event.external_id),
                        ));
                    } else {
                        seen.insert(event.external_id.clone(), line);
                        events.push(event);
                    }
                }
            }
        } else {
            rejects.push(reject(
                "record".into(),
                format!("{} fields where the header has {} (a truncated or malformed line)", rec.len(), header.len()),
            ));
        }
        if events.len() >= batch {
            sink(std::mem::take(&mut events), std::mem::take(&mut rejects), read)?;
        }
    }
    sink(events, rejects, read)
}

/// The properties of a stored event as GeoJSON.
#[must_use]
pub fn event_properties(id: i64, p: &Placed) -> Value {
    let e = &p.event;
    json!({
        "id": id,
        "kind": e.kind,
        "occurred_on": e.occurred_on,
        "occurred_at": e.occurred_at.map(|t| t.format("%H:%M:%S").to_string()),
        "offense": e.offense.as_str(),
        "race_ethnicity": e.race_ethnicity,
        "agency": e.agency,
        "source": e.source,
        "external_id": e.external_id,
        "zone": p.zone,
        "zone_set": p.zone_set.as_ref().map(|z| &z.0),
        "h3_res15": format!("{:x}", p.cell),
    })
}

/// A stored event as a GeoJSON Feature (its store id as `id`).
#[must_use]
pub fn event_feature(id: i64, p: &Placed) -> Value {
    json!({
        "type": "Feature",
        "id": id,
        "geometry": {"type": "Point", "coordinates": [p.event.point.lon(), p.event.point.lat()]},
        "properties": event_properties(id, p),
    })
}

/// The CSV columns of [`write_events_csv`].
pub const EVENT_CSV_HEADER: [&str; 14] = [
    "id",
    "kind",
    "occurred_on",
    "occurred_at",
    "lon",
    "lat",
    "offense",
    "race_ethnicity",
    "agency",
    "source",
    "external_id",
    "zone",
    "zone_set",
    "h3_res15",
];

/// Writes stored events as CSV with a header row.
pub fn write_events_csv(out: impl std::io::Write, rows: &[(i64, Placed)]) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(EVENT_CSV_HEADER)?;
    for (id, p) in rows {
        let e = &p.event;
        w.write_record([
            id.to_string(),
            e.kind.as_str().to_owned(),
            e.occurred_on.to_string(),
            e.occurred_at.map(|t| t.format("%H:%M:%S").to_string()).unwrap_or_default(),
            e.point.lon().to_string(),
            e.point.lat().to_string(),
            e.offense.as_str().to_owned(),
            e.race_ethnicity.clone().unwrap_or_default(),
            e.agency.clone().unwrap_or_default(),
            e.source.clone(),
            e.external_id.clone(),
            p.zone.clone().unwrap_or_default(),
            p.zone_set.as_ref().map(|z| z.0.clone()).unwrap_or_default(),
            format!("{:x}", p.cell),
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_police_formats() {
        assert_eq!(parse_time("400"), NaiveTime::from_hms_opt(4, 0, 0));
        assert_eq!(parse_time("2359"), NaiveTime::from_hms_opt(23, 59, 0));
        assert_eq!(parse_time("20:25:00"), NaiveTime::from_hms_opt(20, 25, 0));
        assert_eq!(parse_time("2460"), None);
        assert_eq!(parse_time("noon"), None);
    }
}
