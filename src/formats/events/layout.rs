//! Which column holds which event field: the presets, `--map FIELD=COLUMN`, the header checks, and the
//! coordinate reference system a file's coordinates are in.
use std::collections::HashMap;

use chrono::{NaiveDate, NaiveTime};
use serde_json::Value;

use super::{FIELDS, ImportError, ImportOptions, Preset};
use crate::coord::LonLat;
use crate::events::{Event, EventKind, Offense};
use crate::formats::points::parse_row_date;
use crate::projection::Crs;

/// Positions in [`FIELDS`], for reading rows without looking fields up by name.
mod field {
    pub const EXTERNAL_ID: usize = 0;
    pub const OCCURRED_ON: usize = 1;
    pub const OCCURRED_AT: usize = 2;
    pub const KIND: usize = 3;
    pub const LON: usize = 4;
    pub const LAT: usize = 5;
    pub const X: usize = 6;
    pub const Y: usize = 7;
    pub const OFFENSE: usize = 8;
    pub const RACE_ETHNICITY: usize = 9;
    pub const AGENCY: usize = 10;
}

/// Column positions of each field in one file (CSV columns, or feature property names).
pub(super) struct Layout {
    pub(super) columns: HashMap<&'static str, usize>,
    /// `columns` by position in [`FIELDS`].
    pub(super) at: [Option<usize>; FIELDS.len()],
    pub(super) names: Vec<String>,
    pub(super) kind: Option<EventKind>,
    pub(super) source: String,
    pub(super) crs: Option<Crs>,
}

pub(super) fn preset_columns(preset: Option<Preset>) -> Vec<(&'static str, &'static str)> {
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
    /// The layout of a file whose columns (or properties) are `names`; `geometry`: the rows are features
    /// with a geometry, in `file_crs` when the file says so (FlatGeobuf).
    pub(super) fn new(
        names: &[String],
        geometry: bool,
        file_crs: Option<Crs>,
        file: &str,
        opts: &ImportOptions,
    ) -> Result<Self, ImportError> {
        let setup = |reason: String| ImportError::Setup { file: file.to_owned(), reason };
        let names: Vec<String> = names.iter().map(|h| h.trim().trim_start_matches('\u{feff}').to_owned()).collect();
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
        let what = if geometry { "property" } else { "column" };
        for (field, col) in &opts.map {
            let field = FIELDS.iter().find(|f| **f == field.as_str()).ok_or_else(|| {
                setup(format!("--map {field}={col}: unknown field {field:?}; fields: {}", FIELDS.join(", ")))
            })?;
            let i = find(col).ok_or_else(|| {
                setup(format!("--map {field}={col}: no {what} {col:?}; {what}s: {}", names.join(", ")))
            })?;
            columns.insert(field, i);
        }
        let crs = opts
            .crs
            .or(file_crs)
            .or_else(|| (opts.preset == Some(Preset::Ppb2012)).then(|| Crs::from_epsg(2913).ok()).flatten());
        let has = |f: &str| columns.contains_key(f);
        let coordinates = geometry || (has("lon") && has("lat")) || (has("x") && has("y"));
        let missing: Vec<&str> = ["external_id", "occurred_on"].into_iter().filter(|f| !has(f)).collect();
        if !missing.is_empty() || !coordinates {
            let mut need: Vec<String> = missing.iter().map(|f| (*f).to_owned()).collect();
            if !coordinates {
                need.push("lon and lat (or x and y with --crs)".into());
            }
            return Err(setup(format!(
                "no {what} for {}; {what}s: {}. Name them with --map FIELD={} or use --preset",
                need.join(", "),
                names.join(", "),
                what.to_ascii_uppercase(),
            )));
        }
        if !geometry && has("x") && !has("lon") && crs.is_none() {
            return Err(setup("x/y columns need --crs (e.g. --crs EPSG:2913)".into()));
        }
        // Police open data report offenses: they are neither arrests nor referrals.
        let kind = opts.kind.or_else(|| opts.preset.map(|_| EventKind::OffenseReport));
        if kind.is_none() && !has("kind") {
            return Err(setup(format!(
                "no kind {what}: say what these events are with --kind arrest|diversion_referral|social_contact_referral|offense_report"
            )));
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
        crate::events::checks::text("source", &source).map_err(|(_, reason)| setup(format!("--source: {reason}")))?;
        let at = std::array::from_fn(|i| columns.get(FIELDS[i]).copied());
        Ok(Self { columns, at, names, kind, source, crs })
    }

    pub(super) fn column(&self, field: &str) -> String {
        self.columns.get(field).and_then(|&i| self.names.get(i)).cloned().unwrap_or_else(|| field.to_owned())
    }

    /// One row to an event, or the field at fault and why. `value(i)` is the row's value in column `i`;
    /// `geometry` a feature's point (x, y) in the file's coordinates, or why it has none.
    pub(super) fn event<'r>(
        &self,
        value: impl Fn(usize) -> Option<&'r str>,
        geometry: Option<Result<(f64, f64), String>>,
        opts: &ImportOptions,
    ) -> Result<Event, (String, String)> {
        let get = |at: usize| self.at[at].and_then(&value).map(str::trim).filter(|v| !v.is_empty());
        let bad = |field: &str, reason: String| (self.column(field), reason);
        let external_id = get(field::EXTERNAL_ID).ok_or_else(|| bad("external_id", "no id".into()))?.to_owned();
        let date_text = get(field::OCCURRED_ON).ok_or_else(|| bad("occurred_on", "no date".into()))?;
        let occurred_on: NaiveDate = parse_row_date(date_text.as_bytes())
            .ok_or_else(|| bad("occurred_on", format!("{date_text:?} is not a date (YYYY-MM-DD or MM/DD/YYYY)")))?;
        let occurred_at = match get(field::OCCURRED_AT) {
            None => None,
            Some(t) => Some(
                parse_time(t).ok_or_else(|| bad("occurred_at", format!("{t:?} is not a time (HH:MM[:SS] or HHMM)")))?,
            ),
        };
        let kind = match get(field::KIND) {
            Some(k) => k.parse().map_err(|e| bad("kind", e))?,
            None => self.kind.ok_or_else(|| bad("kind", "no kind".into()))?,
        };
        let number = |at: usize| -> Result<Option<f64>, (String, String)> {
            get(at)
                .map(|v| {
                    fast_float2::parse::<f64, _>(v)
                        .ok()
                        .filter(|n: &f64| n.is_finite())
                        .ok_or_else(|| bad(FIELDS[at], format!("{v:?} is not a finite number")))
                })
                .transpose()
        };
        let projected = |x: f64, y: f64, field: &str| match self.crs {
            Some(crs) => {
                let (lon, lat) = crs.to_lon_lat(x, y);
                let p = LonLat::new(lon, lat).map_err(|e| {
                    bad(field, format!("EPSG:{} ({x}, {y}) -> {e}{}", crs.code(), crs_hint(x, y, crs, opts)))
                })?;
                let plausible = opts.checks.location(lon, lat);
                if !crs.in_area_of_use(lon, lat) || plausible.is_err() {
                    let [w, s, e, n] = crs.area_of_use();
                    let why = if crs.in_area_of_use(lon, lat) {
                        plausible.err().unwrap_or_default()
                    } else {
                        format!("outside the area EPSG:{} is used for (lon {w}..{e}, lat {s}..{n})", crs.code())
                    };
                    return Err(bad(
                        field,
                        format!(
                            "EPSG:{} ({x}, {y}) -> lon {lon:.5} lat {lat:.5}: {why}{}",
                            crs.code(),
                            crs_hint(x, y, crs, opts)
                        ),
                    ));
                }
                Ok(p)
            }
            None => LonLat::new(x, y).map_err(|e| bad(field, e.to_string())),
        };
        let coordinate_field = match &geometry {
            Some(Ok(_)) => "geometry",
            _ if self.at[field::LON].is_some() => "lon",
            _ => "x",
        };
        let point = match geometry {
            Some(Ok((x, y))) => projected(x, y, "geometry")?,
            // A feature without a point may still carry coordinates as properties.
            Some(Err(reason)) if self.at[field::LON].is_none() => return Err(("geometry".into(), reason)),
            _ if self.at[field::LON].is_some() => match (number(field::LON)?, number(field::LAT)?) {
                (Some(lon), Some(lat)) => LonLat::new(lon, lat).map_err(|e| bad("lon", e.to_string()))?,
                _ => return Err(bad("lon", "no coordinates".into())),
            },
            _ => match (number(field::X)?, number(field::Y)?) {
                (Some(x), Some(y)) => projected(x, y, "x")?,
                _ => return Err(bad("x", "no coordinates".into())),
            },
        };
        let offense = Offense::parse(get(field::OFFENSE).unwrap_or("unknown"));
        let race_ethnicity = get(field::RACE_ETHNICITY)
            .map(|g| opts.groups.parse(g))
            .transpose()
            .map_err(|e| bad("race_ethnicity", e))?;
        let agency = get(field::AGENCY).map(str::to_owned);
        let event = Event {
            kind,
            occurred_on,
            occurred_at,
            point,
            offense,
            race_ethnicity,
            agency,
            source: self.source.clone(),
            external_id,
        };
        opts.checks.check(&event).map_err(|(f, reason)| match f {
            "lon" if coordinate_field == "geometry" => ("geometry".to_owned(), reason),
            "lon" => bad(coordinate_field, reason),
            // The source comes from --source or the preset, not from a column.
            "source" => ("source".to_owned(), reason),
            other => bad(other, reason),
        })?;
        Ok(event)
    }
}

/// The coordinate system a GeoJSON `crs` member names (the 2008 GeoJSON form, which GDAL still writes:
/// `{"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2913"}}`); `None` for lon/lat (CRS84,
/// EPSG:4326).
pub(super) fn geojson_crs(value: &Value) -> Result<Option<Crs>, String> {
    let name = value
        .pointer("/properties/name")
        .and_then(Value::as_str)
        .ok_or("the \"crs\" member has no properties.name (e.g. \"urn:ogc:def:crs:EPSG::2913\")")?;
    if name.to_ascii_uppercase().contains("CRS84") {
        return Ok(None);
    }
    let code = name.rsplit(':').next().unwrap_or_default();
    Crs::parse(code).map_err(|e| format!("the \"crs\" member names {name:?}: {e}"))
}

/// The supported systems other than `used` that put (`x`, `y`) inside their own area of use and the
/// plausible area: "; did you mean EPSG:2913?" (up to three), or nothing when none does.
pub(super) fn crs_hint(x: f64, y: f64, used: Crs, opts: &ImportOptions) -> String {
    static ALL: std::sync::OnceLock<Vec<Crs>> = std::sync::OnceLock::new();
    let fits: Vec<String> = ALL
        .get_or_init(Crs::all)
        .iter()
        .filter(|c| c.code() != used.code())
        .filter(|c| {
            let (lon, lat) = c.to_lon_lat(x, y);
            lon.is_finite()
                && lat.is_finite()
                && c.in_area_of_use(lon, lat)
                && opts.checks.area.is_some()
                && opts.checks.location(lon, lat).is_ok()
        })
        .take(3)
        .map(|c| format!("EPSG:{}", c.code()))
        .collect();
    if fits.is_empty() { String::new() } else { format!("; did you mean {}? (--crs)", fits.join(" or ")) }
}

/// `HH:MM[:SS]` or the police `HHMM` (`400` is 04:00).
pub(super) fn parse_time(t: &str) -> Option<NaiveTime> {
    crate::events::parse_clock_time(t).or_else(|| {
        let n: u32 = t.parse().ok().filter(|_| t.len() <= 4 && t.bytes().all(|b| b.is_ascii_digit()))?;
        NaiveTime::from_hms_opt(n / 100, n % 100, 0)
    })
}
