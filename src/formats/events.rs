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

use crate::events::checks::EventChecks;
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
#[derive(Clone, Debug)]
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
    /// Keep each event's raw fields in its batch ([`RowBatch::rows`]), for a rejects file.
    pub keep_rows: bool,
    /// What every event must satisfy (plausible location and date, text lengths).
    pub checks: EventChecks,
}

impl ImportOptions {
    /// Reading with `checks` and no other option: the file's own columns, no preset, source or CRS.
    #[must_use]
    pub fn new(checks: EventChecks) -> Self {
        Self {
            preset: None,
            kind: None,
            source: None,
            crs: None,
            map: BTreeMap::new(),
            groups: Groups::default(),
            keep_rows: false,
            checks,
        }
    }
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

/// The kinds of event file `leadmap import` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    /// CSV with a header row.
    Csv,
    /// A GeoJSON FeatureCollection of Point features (read as a stream, feature by feature).
    #[value(name = "geojson")]
    GeoJson,
    /// Newline-delimited GeoJSON: one Feature per line (`.geojsonl`, `.geojsons`, `.ndjson`).
    #[value(name = "geojsonseq")]
    GeoJsonSeq,
    /// FlatGeobuf with Point geometries.
    #[value(name = "fgb")]
    FlatGeobuf,
}

impl FileFormat {
    /// The format a file name suggests: `.geojson`/`.json`, `.geojsonl`/`.geojsons`/`.ndjson`/`.jsonl`,
    /// `.fgb`; anything else is read as CSV.
    #[must_use]
    pub fn from_path(path: &std::path::Path) -> Self {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "geojson" | "json" => Self::GeoJson,
            "geojsonl" | "geojsons" | "geojsonseq" | "ndjson" | "jsonl" => Self::GeoJsonSeq,
            "fgb" => Self::FlatGeobuf,
            _ => Self::Csv,
        }
    }
}

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
struct Layout {
    columns: HashMap<&'static str, usize>,
    /// `columns` by position in [`FIELDS`].
    at: [Option<usize>; FIELDS.len()],
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
    /// The layout of a file whose columns (or properties) are `names`; `geometry`: the rows are features
    /// with a geometry, in `file_crs` when the file says so (FlatGeobuf).
    fn new(
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

    fn column(&self, field: &str) -> String {
        self.columns.get(field).and_then(|&i| self.names.get(i)).cloned().unwrap_or_else(|| field.to_owned())
    }

    /// One row to an event, or the field at fault and why. `value(i)` is the row's value in column `i`;
    /// `geometry` a feature's point (x, y) in the file's coordinates, or why it has none.
    fn event<'r>(
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
fn geojson_crs(value: &Value) -> Result<Option<Crs>, String> {
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
fn crs_hint(x: f64, y: f64, used: Crs, opts: &ImportOptions) -> String {
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
fn parse_time(t: &str) -> Option<NaiveTime> {
    crate::events::parse_clock_time(t).or_else(|| {
        let n: u32 = t.parse().ok().filter(|_| t.len() <= 4 && t.bytes().all(|b| b.is_ascii_digit()))?;
        NaiveTime::from_hms_opt(n / 100, n % 100, 0)
    })
}

/// A batch of rows read from a file, for `leadmap import` to place and store.
#[derive(Debug, Default)]
pub struct RowBatch {
    /// The rows that made events.
    pub events: Vec<Event>,
    /// The line (or feature number) of each event.
    pub lines: Vec<u64>,
    /// The raw fields of each event's row, when [`ImportOptions::keep_rows`] asks for them (to write a
    /// row the store rejects, as a repeated id, to a rejects file); empty otherwise.
    pub rows: Vec<Vec<String>>,
    /// The rows rejected while reading.
    pub rejects: Vec<Rejected>,
    /// Rows read so far in the file, this batch included.
    pub read: u64,
    /// The name of the file's id column (for the store's repeated-id rejects).
    pub id_column: String,
}

/// Collects rows into batches for the sink; every format's rows go through here.
struct Batcher<S> {
    current: RowBatch,
    batch: usize,
    keep_rows: bool,
    sink: S,
}

impl<S> Batcher<S> {
    fn new(batch: usize, sink: S, layout: &Layout, opts: &ImportOptions) -> Self {
        let current = RowBatch { id_column: layout.column("external_id"), ..RowBatch::default() };
        Self { current, batch: batch.max(1), keep_rows: opts.keep_rows, sink }
    }

    /// One row read at `line` (its raw fields from `fields`, for a rejects file).
    fn row<E>(
        &mut self,
        line: u64,
        result: Result<Event, (String, String)>,
        fields: impl FnOnce() -> Vec<String>,
    ) -> Result<(), E>
    where
        S: FnMut(RowBatch) -> Result<(), E>,
    {
        let b = &mut self.current;
        b.read += 1;
        match result {
            Err((field, reason)) => b.rejects.push(Rejected { line, field, reason, fields: fields() }),
            Ok(event) => {
                b.events.push(event);
                b.lines.push(line);
                if self.keep_rows {
                    b.rows.push(fields());
                }
            }
        }
        if b.events.len() >= self.batch {
            self.flush()?;
        }
        Ok(())
    }

    /// A problem that ends the file (counted as a read row).
    fn fatal(&mut self, line: u64, reason: String) {
        self.current.read += 1;
        self.current.rejects.push(Rejected { line, field: "record".into(), reason, fields: Vec::new() });
    }

    fn flush<E>(&mut self) -> Result<(), E>
    where
        S: FnMut(RowBatch) -> Result<(), E>,
    {
        let next = RowBatch {
            events: Vec::with_capacity(self.batch),
            read: self.current.read,
            id_column: self.current.id_column.clone(),
            ..RowBatch::default()
        };
        (self.sink)(std::mem::replace(&mut self.current, next))
    }
}

/// Reads `input` (named `file` in messages) in batches of `batch` events, calling `sink` with each batch
/// (its events with their lines, and the rows rejected while reading). The CSV line of each row is where
/// its record starts (the header is line 1). An id repeated within the file is left for the store to
/// catch (`EventStore::import_batch`), so memory does not grow with the file.
pub fn read_events_csv<E: From<ImportError>>(
    input: impl Read,
    file: &str,
    opts: &ImportOptions,
    batch: usize,
    sink: impl FnMut(RowBatch) -> Result<(), E>,
) -> Result<(), E> {
    let io = |e: csv::Error| ImportError::Io { file: file.to_owned(), source: std::io::Error::other(e.to_string()) };
    let seen = std::rc::Rc::new(LineCapSeen { last: std::cell::Cell::new(b'\n'), ..LineCapSeen::default() });
    let capped = LineCap {
        inner: input,
        max: MAX_LINE_BYTES,
        line: 1,
        len: 0,
        quotes: 0,
        skipping: false,
        seen: std::rc::Rc::clone(&seen),
    };
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(capped);
    let header = rdr.headers().map_err(io)?.clone();
    let layout = Layout::new(&header.iter().map(str::to_owned).collect::<Vec<_>>(), false, None, file, opts)?;
    let mut out = Batcher::new(batch, sink, &layout, opts);
    // `next`: the line the following record starts on (or none at the end), to find a cut line in it.
    let event = |rec: &csv::StringRecord, next: Option<u64>| {
        let line = rec.position().map_or(0, csv::Position::line);
        if let Some(cut) = seen.cut_in(line, next.unwrap_or(u64::MAX)) {
            Err((
                "record".into(),
                format!(
                    "line {cut} is longer than {MAX_LINE_BYTES} bytes (a field far longer than any event has); skipped"
                ),
            ))
        } else if rec.len() == header.len() {
            layout.event(|i| rec.get(i), None, opts)
        } else {
            let reason =
                format!("{} fields where the header has {} (a truncated or malformed line)", rec.len(), header.len());
            Err(("record".into(), reason))
        }
    };
    // Each record is stored once the next one is read, so the last can be checked for its line end: a
    // file cut inside its last number (no final newline) would otherwise store a wrong coordinate.
    let mut rec = csv::StringRecord::new();
    let mut pending: Option<csv::StringRecord> = None;
    loop {
        match rdr.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                // A broken record (bad UTF-8, an unterminated quote): name it and stop this file.
                if let Some(p) = pending.take() {
                    let line = p.position().map_or(0, csv::Position::line);
                    let next = e.position().map(csv::Position::line);
                    out.row(line, event(&p, next), || p.iter().map(str::to_owned).collect())?;
                }
                out.fatal(e.position().map_or(0, csv::Position::line), e.to_string());
                return out.flush();
            }
        }
        if let Some(p) = pending.replace(rec.clone()) {
            let line = p.position().map_or(0, csv::Position::line);
            let next = rec.position().map(csv::Position::line);
            out.row(line, event(&p, next), || p.iter().map(str::to_owned).collect())?;
        }
    }
    if let Some(p) = pending {
        let line = p.position().map_or(0, csv::Position::line);
        let result = if matches!(seen.last.get(), b'\n' | b'\r') {
            event(&p, None)
        } else {
            Err((
                "record".into(),
                "the file ends inside this line (no line end after it): it looks cut off, so it is not \
                 stored; if the file is whole, end it with a newline"
                    .to_owned(),
            ))
        };
        out.row(line, result, || p.iter().map(str::to_owned).collect())?;
    }
    out.flush()
}

/// The longest CSV line read whole, bytes: a longer one is cut here (the rest of it skipped) and its
/// record rejected, so one enormous field costs this much memory, not its size.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// What [`LineCap`] saw: the last byte it gave out and the lines it cut.
#[derive(Debug, Default)]
struct LineCapSeen {
    last: std::cell::Cell<u8>,
    cut: std::cell::RefCell<Vec<u64>>,
}

impl LineCapSeen {
    /// The first cut line from `from` up to (not including) `to`.
    fn cut_in(&self, from: u64, to: u64) -> Option<u64> {
        self.cut.borrow().iter().copied().find(|l| (from..to).contains(l))
    }
}

/// A reader that gives out at most `max` bytes of each line (1-based line numbers counted by `\n`),
/// skipping the rest and noting the line; a line cut inside a quoted field gets a closing quote (by the
/// quotes counted since the line began) so the CSV reader does not run on into the next lines.
struct LineCap<R> {
    inner: R,
    max: usize,
    line: u64,
    len: usize,
    quotes: usize,
    skipping: bool,
    seen: std::rc::Rc<LineCapSeen>,
}

impl<R: Read> Read for LineCap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.inner.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            let mut w = 0;
            let mut r = 0;
            while r < n {
                let end = memchr::memchr(b'\n', &buf[r..n]).map_or(n, |i| r + i);
                let segment = end - r;
                if !self.skipping {
                    let keep = segment.min(self.max.saturating_sub(self.len));
                    self.quotes += memchr::memchr_iter(b'"', &buf[r..r + keep]).count();
                    buf.copy_within(r..r + keep, w);
                    w += keep;
                    self.len += keep;
                    if keep < segment {
                        // The byte after the kept ones is dropped, so there is room for a quote.
                        self.skipping = true;
                        self.seen.cut.borrow_mut().push(self.line);
                        if self.quotes % 2 == 1 {
                            buf[w] = b'"';
                            w += 1;
                        }
                    }
                }
                if end < n {
                    buf[w] = b'\n';
                    w += 1;
                    self.line += 1;
                    self.len = 0;
                    self.quotes = 0;
                    self.skipping = false;
                }
                r = end + 1;
            }
            if w > 0 {
                self.seen.last.set(buf[w - 1]);
                return Ok(w);
            }
        }
    }
}

/// A GeoJSON feature as read: anything may be missing or of the wrong type (it is then rejected, not
/// fatal).
#[derive(serde::Deserialize)]
struct RawFeature {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    geometry: Value,
    #[serde(default)]
    properties: Value,
}

impl RawFeature {
    /// The point (x, y) of a Point geometry, or why there is none.
    fn point(&self) -> Result<(f64, f64), String> {
        super::geometry::point_xy(&self.geometry).map_err(|e| e.to_string())
    }

    /// The property names, with the feature's `id` as a property `id` when it has none of that name.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.properties.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        if !self.id.is_null() && !names.iter().any(|n| n == "id") {
            names.push("id".into());
        }
        names
    }

    /// The values of the properties `names`, as text.
    fn values(&self, names: &[String]) -> Vec<Option<String>> {
        let props = self.properties.as_object();
        names
            .iter()
            .map(|n| {
                let v = props.and_then(|m| m.get(n)).or_else(|| (n == "id").then_some(&self.id));
                match v? {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                }
            })
            .collect()
    }
}

/// Feeds features to a row function as the layout (made from the first feature) reads them.
struct FeatureRows<'a, S> {
    file: &'a str,
    opts: &'a ImportOptions,
    /// The coordinate system the file names (a GeoJSON `crs` member), read before the features.
    file_crs: std::rc::Rc<std::cell::Cell<Option<Crs>>>,
    layout: Option<Layout>,
    out: Option<Batcher<S>>,
    batch: usize,
    sink: Option<S>,
}

impl<'a, S> FeatureRows<'a, S> {
    fn new(file: &'a str, opts: &'a ImportOptions, batch: usize, sink: S) -> Self {
        Self { file, opts, file_crs: std::rc::Rc::default(), layout: None, out: None, batch, sink: Some(sink) }
    }

    fn feature<E: From<ImportError>>(&mut self, number: u64, f: &RawFeature) -> Result<(), E>
    where
        S: FnMut(RowBatch) -> Result<(), E>,
    {
        if self.layout.is_none() {
            let layout = Layout::new(&f.names(), true, self.file_crs.get(), self.file, self.opts)?;
            let sink = self.sink.take().ok_or_else(|| ImportError::Setup {
                file: self.file.to_owned(),
                reason: "internal: features after the end".into(),
            })?;
            self.out = Some(Batcher::new(self.batch, sink, &layout, self.opts));
            self.layout = Some(layout);
        }
        let (Some(layout), Some(out)) = (&self.layout, &mut self.out) else { return Ok(()) };
        let values = f.values(&layout.names);
        let result = layout.event(|i| values.get(i).and_then(Option::as_deref), Some(f.point()), self.opts);
        out.row(number, result, || {
            let mut fields: Vec<String> = values.iter().map(|v| v.clone().unwrap_or_default()).collect();
            fields.push(f.geometry.to_string());
            fields
        })
    }

    fn fatal(&mut self, number: u64, reason: String) {
        if let Some(out) = &mut self.out {
            out.fatal(number, reason);
        }
    }

    fn finish<E>(mut self) -> Result<u64, E>
    where
        S: FnMut(RowBatch) -> Result<(), E>,
    {
        match &mut self.out {
            Some(out) => {
                out.flush()?;
                Ok(out.current.read)
            }
            None => Ok(0),
        }
    }
}

/// Reads a GeoJSON FeatureCollection of Point features from `input` as a stream (memory stays flat
/// however many features), like [`read_events_csv`]; the "line" of a reject is the feature's number.
/// Properties name the fields as CSV columns do; a feature's `id` serves as its `id` property.
pub fn read_events_geojson<E: From<ImportError>>(
    input: impl Read,
    file: &str,
    opts: &ImportOptions,
    batch: usize,
    sink: impl FnMut(RowBatch) -> Result<(), E>,
) -> Result<(), E> {
    use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};

    /// Visits the top-level object, streaming its `features`; a `crs` member before them sets the file's
    /// coordinate system.
    struct Collection<'f, F>(&'f mut F, std::rc::Rc<std::cell::Cell<Option<Crs>>>);
    /// Visits the `features` array, one feature at a time.
    struct Features<'f, F>(&'f mut F);

    impl<'de, F: FnMut(RawFeature) -> Result<(), ()>> Visitor<'de> for Collection<'_, F> {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a GeoJSON FeatureCollection")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            let mut features = false;
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "features" => {
                        map.next_value_seed(Features(&mut *self.0))?;
                        features = true;
                    }
                    "crs" => {
                        let value: Value = map.next_value()?;
                        if features {
                            return Err(A::Error::custom(
                                "the \"crs\" member comes after the features: put it before them, or give --crs",
                            ));
                        }
                        self.1.set(geojson_crs(&value).map_err(A::Error::custom)?);
                    }
                    "type" => {
                        let t: String = map.next_value()?;
                        if t != "FeatureCollection" {
                            return Err(A::Error::custom(format!(
                                "the file is a GeoJSON {t}; leadmap imports a FeatureCollection of Point features"
                            )));
                        }
                    }
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(features)
        }
    }
    impl<'de, F: FnMut(RawFeature) -> Result<(), ()>> DeserializeSeed<'de> for Features<'_, F> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de, F: FnMut(RawFeature) -> Result<(), ()>> Visitor<'de> for Features<'_, F> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of features")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(feature) = seq.next_element::<RawFeature>()? {
                (self.0)(feature).map_err(|()| A::Error::custom("stopped"))?;
            }
            Ok(())
        }
    }

    let mut rows = FeatureRows::new(file, opts, batch, sink);
    let file_crs = std::rc::Rc::clone(&rows.file_crs);
    let (mut number, mut stopped) = (0u64, None);
    let mut each = |f: RawFeature| {
        number += 1;
        rows.feature(number, &f).map_err(|e| stopped = Some(e))
    };
    let mut de = serde_json::Deserializer::from_reader(input);
    let parsed = serde::Deserializer::deserialize_map(&mut de, Collection(&mut each, file_crs));
    if let Some(e) = stopped {
        return Err(e);
    }
    let bad = |reason: String| ImportError::Setup { file: file.to_owned(), reason };
    match parsed {
        Ok(true) => {}
        Ok(false) => return Err(bad("not a FeatureCollection (no \"features\" array)".into()).into()),
        Err(e) if number == 0 => {
            return Err(
                bad(format!("not a GeoJSON FeatureCollection: line {}, column {}: {e}", e.line(), e.column())).into()
            );
        }
        // Features already read stay read; the broken one ends the file, named like a CSV record.
        Err(e) => rows.fatal(number + 1, format!("malformed JSON at line {}, column {}: {e}", e.line(), e.column())),
    }
    rows.finish().map(|_| ())
}

/// Reads newline-delimited GeoJSON (one Feature per line; RFC 8142's record separators allowed), like
/// [`read_events_csv`]; the line of a reject is its line in the file.
pub fn read_events_geojsonseq<E: From<ImportError>>(
    input: impl Read,
    file: &str,
    opts: &ImportOptions,
    batch: usize,
    sink: impl FnMut(RowBatch) -> Result<(), E>,
) -> Result<(), E> {
    use std::io::BufRead;
    let mut rows = FeatureRows::new(file, opts, batch, sink);
    let mut input = std::io::BufReader::new(input);
    let (mut line, mut text) = (0u64, String::new());
    loop {
        text.clear();
        match input.read_line(&mut text) {
            Ok(0) => break,
            Ok(_) => line += 1,
            Err(source) => {
                if line == 0 {
                    return Err(ImportError::Io { file: file.to_owned(), source }.into());
                }
                rows.fatal(line + 1, format!("cannot read: {source}"));
                break;
            }
        }
        let record = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{1e}');
        if record.is_empty() {
            continue;
        }
        match serde_json::from_str::<RawFeature>(record) {
            Ok(f) => rows.feature(line, &f)?,
            Err(e) if rows.layout.is_none() => {
                return Err(ImportError::Setup {
                    file: file.to_owned(),
                    reason: format!("line {line}: not a GeoJSON Feature: {e}"),
                }
                .into());
            }
            Err(e) => {
                if let Some(out) = &mut rows.out {
                    out.row(line, Err(("record".into(), format!("not a GeoJSON Feature: {e}"))), || {
                        vec![record.to_owned()]
                    })?;
                }
            }
        }
    }
    rows.finish().map(|_| ())
}

/// Reads a FlatGeobuf file of Point features in file order, like [`read_events_csv`]; the "line" of a
/// reject is the feature's number. The file's CRS (from its header) is used unless `--crs` says otherwise.
pub fn read_events_fgb<E: From<ImportError>>(
    input: impl Read,
    file: &str,
    opts: &ImportOptions,
    batch: usize,
    sink: impl FnMut(RowBatch) -> Result<(), E>,
) -> Result<(), E> {
    use flatgeobuf::{FallibleStreamingIterator, FgbReader};
    use geozero::FeatureProperties;
    let bad = |reason: String| ImportError::Setup { file: file.to_owned(), reason };
    let (input, frames) = super::fgbframes::FrameGuard::new(input);
    let fgb = FgbReader::open(input).map_err(|e| bad(format!("not a FlatGeobuf file: {e}")))?;
    let header = fgb.header();
    let names: Vec<String> =
        header.columns().map(|cols| cols.iter().map(|c| c.name().to_owned()).collect()).unwrap_or_default();
    let file_crs = match header.crs().map(|c| c.code()) {
        None | Some(0 | 4326) => None,
        Some(code) if opts.crs.is_some() => Crs::from_epsg(code.cast_unsigned()).ok(),
        Some(code) => Some(Crs::from_epsg(code.cast_unsigned()).map_err(|e| {
            bad(format!(
                "the file's CRS is EPSG:{code}, which leadmap cannot transform ({e}); reproject it to EPSG:4326"
            ))
        })?),
    };
    let promised = header.features_count();
    let layout = Layout::new(&names, true, file_crs, file, opts)?;
    let mut out = Batcher::new(batch, sink, &layout, opts);
    frames.features_after(super::fgbframes::index_bytes(fgb.header()));
    let mut iter = super::contain::contained(|| fgb.select_all_seq())
        .map_err(|()| bad("malformed: its header's feature count and index size do not fit together".into()))?
        .map_err(|e| bad(format!("cannot read features: {e}")))?;
    let mut number = 0u64;
    loop {
        let feature = match iter.next() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                out.fatal(number + 1, format!("cannot read feature: {e}"));
                break;
            }
        };
        number += 1;
        // The flatgeobuf crate indexes property and geometry buffers by the lengths a feature states, and
        // panics on a corrupt one (found by tests/integration/fuzz.rs): such a feature ends the file as
        // malformed, like a broken CSV record, instead of ending the process.
        let decoded = super::contain::contained(|| {
            let props = feature.properties().unwrap_or_default();
            let point = super::geometry::fgb_point_xy(feature).map_err(|e| e.to_string());
            (props, point)
        });
        let Ok((props, point)) = decoded else {
            out.fatal(number, "malformed feature: its stated lengths run past its bytes (a damaged file)".into());
            break;
        };
        let values: Vec<Option<&str>> = layout.names.iter().map(|n| props.get(n).map(String::as_str)).collect();
        let result = layout.event(|i| values.get(i).copied().flatten(), Some(point), opts);
        out.row(number, result, || values.iter().map(|v| v.unwrap_or_default().to_owned()).collect())?;
    }
    // What was read is stored; a file shorter than its header says is then an error, not a success.
    if let Some((n, reason)) = frames.refusal() {
        out.fatal(n, reason);
    }
    out.flush()?;
    if promised > 0 && number < promised {
        return Err(bad(format!(
            "truncated: its header promises {promised} features and the file ends after {number} (those are \
             stored; the other {} are not): copy the whole file and import it again",
            promised - number
        ))
        .into());
    }
    Ok(())
}

/// Reads an event file of any [`FileFormat`] (see [`read_events_csv`]).
pub fn read_events<E: From<ImportError>>(
    format: FileFormat,
    input: impl Read,
    file: &str,
    opts: &ImportOptions,
    batch: usize,
    sink: impl FnMut(RowBatch) -> Result<(), E>,
) -> Result<(), E> {
    match format {
        FileFormat::Csv => read_events_csv(input, file, opts, batch, sink),
        FileFormat::GeoJson => read_events_geojson(input, file, opts, batch, sink),
        FileFormat::GeoJsonSeq => read_events_geojsonseq(input, file, opts, batch, sink),
        FileFormat::FlatGeobuf => read_events_fgb(input, file, opts, batch, sink),
    }
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

/// The CSV columns of an [`EventsWriter`].
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

/// How an [`EventsWriter`] writes events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// A GeoJSON FeatureCollection of [`event_feature`]s.
    GeoJson,
    /// CSV with one header row ([`EVENT_CSV_HEADER`]).
    Csv,
}

enum Sink<W: std::io::Write> {
    GeoJson(W),
    /// Boxed: the CSV writer holds its buffer state inline.
    Csv(Box<csv::Writer<W>>),
}

/// Writes stored events into one document a page at a time, so an export of any size is written with
/// flat memory: `leadmap events export` and `GET /v1/events` both write through it. GeoJSON is a
/// FeatureCollection (one feature a line); CSV has one header row.
///
/// Text a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage
/// return) is written to CSV with a leading `'` (OWASP's CSV-injection guidance), in the free-text
/// columns (offense, agency, source, external id, zone names); numbers and codes are written as they are.
pub struct EventsWriter<W: std::io::Write> {
    sink: Sink<W>,
    written: u64,
}

impl<W: std::io::Write> EventsWriter<W> {
    /// A writer of `format` to `out` (a CSV's header is written now).
    ///
    /// # Errors
    /// Writing to `out` failed.
    pub fn new(out: W, format: ExportFormat) -> std::io::Result<Self> {
        let sink = match format {
            ExportFormat::GeoJson => Sink::GeoJson(out),
            ExportFormat::Csv => {
                let mut w = csv::Writer::from_writer(out);
                w.write_record(EVENT_CSV_HEADER).map_err(std::io::Error::other)?;
                Sink::Csv(Box::new(w))
            }
        };
        Ok(Self { sink, written: 0 })
    }

    /// Writes a page of events (store id, event).
    ///
    /// # Errors
    /// Writing failed.
    pub fn write(&mut self, rows: &[(i64, Placed)]) -> std::io::Result<()> {
        match &mut self.sink {
            Sink::GeoJson(out) => {
                for (i, (id, p)) in rows.iter().enumerate() {
                    let first = self.written == 0 && i == 0;
                    let sep = if first { "{\"type\":\"FeatureCollection\",\"features\":[\n" } else { ",\n" };
                    write!(out, "{sep}{}", event_feature(*id, p))?;
                }
            }
            Sink::Csv(w) => {
                let text = |t: &str| spreadsheet_safe(t).into_owned();
                for (id, p) in rows {
                    let e = &p.event;
                    w.write_record([
                        id.to_string(),
                        e.kind.as_str().to_owned(),
                        e.occurred_on.to_string(),
                        e.occurred_at.map(|t| t.format("%H:%M:%S").to_string()).unwrap_or_default(),
                        e.point.lon().to_string(),
                        e.point.lat().to_string(),
                        text(e.offense.as_str()),
                        e.race_ethnicity.clone().unwrap_or_default(),
                        text(e.agency.as_deref().unwrap_or_default()),
                        text(&e.source),
                        text(&e.external_id),
                        text(p.zone.as_deref().unwrap_or_default()),
                        text(p.zone_set.as_ref().map_or("", |z| z.0.as_str())),
                        format!("{:x}", p.cell),
                    ])
                    .map_err(std::io::Error::other)?;
                }
            }
        }
        self.written += rows.len() as u64;
        Ok(())
    }

    /// Events written so far.
    #[must_use]
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Ends the document (a FeatureCollection gets `members` after its features, e.g. `links`) and
    /// hands back the output, flushed.
    ///
    /// # Errors
    /// Writing failed.
    pub fn finish(self, members: &[(&str, Value)]) -> std::io::Result<W> {
        match self.sink {
            Sink::GeoJson(mut out) => {
                out.write_all(if self.written == 0 {
                    b"{\"type\":\"FeatureCollection\",\"features\":[]"
                } else {
                    b"\n]"
                })?;
                for (name, value) in members {
                    write!(out, ",{}:{value}", Value::from(*name))?;
                }
                out.write_all(b"}\n")?;
                out.flush()?;
                Ok(out)
            }
            Sink::Csv(w) => w.into_inner().map_err(|e| std::io::Error::other(e.to_string())),
        }
    }
}

/// `text` with a leading `'` when a spreadsheet would read it as a formula.
#[must_use]
pub fn spreadsheet_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_make_one_document_in_either_format() {
        let catalog =
            crate::zones::ZoneCatalog::new(crate::builtin::zone_sets().unwrap(), crate::zones::IndexOptions::default());
        let rows: Vec<(i64, Placed)> = (0..5)
            .map(|i| {
                let e = Event {
                    kind: EventKind::Arrest,
                    occurred_on: chrono::NaiveDate::from_ymd_opt(2019, 6, 1).unwrap(),
                    occurred_at: None,
                    point: crate::coord::LonLat::new(-122.6793, 45.5189).unwrap(),
                    offense: Offense::Pcs,
                    race_ethnicity: None,
                    agency: None,
                    source: "t".into(),
                    external_id: format!("=e{i}"),
                };
                (i, crate::events::place(e, &catalog))
            })
            .collect();
        let write = |format, pages: &[&[(i64, Placed)]], members: &[(&str, Value)]| {
            let mut w = EventsWriter::new(Vec::new(), format).unwrap();
            for page in pages {
                w.write(page).unwrap();
            }
            assert_eq!(w.written(), pages.iter().map(|p| p.len() as u64).sum::<u64>());
            String::from_utf8(w.finish(members).unwrap()).unwrap()
        };
        let csv = write(ExportFormat::Csv, &[&rows[..2], &[], &rows[2..]], &[]);
        assert_eq!(csv.lines().count(), 6, "one header: {csv}");
        assert!(csv.starts_with("id,kind,") && csv.contains(",'=e4,"), "{csv}");
        let links = ("links", serde_json::json!([{"rel": "next"}]));
        let doc: Value =
            serde_json::from_str(&write(ExportFormat::GeoJson, &[&rows[..3], &rows[3..]], &[links])).unwrap();
        assert_eq!(doc["features"].as_array().unwrap().len(), 5);
        assert_eq!(doc["features"][4], event_feature(4, &rows[4].1));
        assert_eq!(doc["links"][0]["rel"], "next");
        let empty: Value = serde_json::from_str(&write(ExportFormat::GeoJson, &[], &[])).unwrap();
        assert_eq!(empty, serde_json::json!({"type": "FeatureCollection", "features": []}));
    }

    #[test]
    fn formulas_are_not_left_for_a_spreadsheet_to_run() {
        for t in ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(spreadsheet_safe(t), format!("'{t}"));
        }
        for t in ["PCS", "ppb", "19-123", "", "a=b"] {
            assert_eq!(spreadsheet_safe(t), t);
        }
    }

    #[test]
    fn times_in_police_formats() {
        assert_eq!(parse_time("400"), NaiveTime::from_hms_opt(4, 0, 0));
        assert_eq!(parse_time("2359"), NaiveTime::from_hms_opt(23, 59, 0));
        assert_eq!(parse_time("20:25:00"), NaiveTime::from_hms_opt(20, 25, 0));
        assert_eq!(parse_time("2460"), None);
        assert_eq!(parse_time("noon"), None);
    }

    fn read_all(text: &[u8], chunk: usize) -> RowBatch {
        /// Gives out at most `chunk` bytes a read, as a pipe might.
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let checks = EventChecks::dated(crate::events::checks::DEFAULT_FIRST_DATE, chrono::Utc::now());
        let opts =
            ImportOptions { kind: Some(EventKind::Arrest), source: Some("t".into()), ..ImportOptions::new(checks) };
        let mut all = RowBatch::default();
        read_events_csv::<ImportError>(Trickle(text, chunk), "t.csv", &opts, 1000, |b| {
            all.events.extend(b.events);
            all.lines.extend(b.lines);
            all.rejects.extend(b.rejects);
            Ok(())
        })
        .unwrap();
        all
    }

    #[test]
    fn an_enormous_field_rejects_its_record_and_the_next_lines_are_read() {
        let big = "x".repeat(MAX_LINE_BYTES + 10);
        for quoted in [false, true] {
            let field = if quoted { format!("\"{big}, \"\"still\"\" inside\"") } else { big.clone() };
            let text = format!(
                "id,date,lon,lat,agency\n\
                 a,2018-06-01,-122.68,45.52,PPB\n\
                 b,2018-06-01,-122.68,45.52,{field}\n\
                 c,2018-06-01,-122.68,45.52,\"two\nlines\"\n\
                 d,2018-06-01,-122.68,45.52,PPB\n"
            );
            for chunk in [7, 8192, 1 << 20] {
                let all = read_all(text.as_bytes(), chunk);
                let ids: Vec<&str> = all.events.iter().map(|e| e.external_id.as_str()).collect();
                assert_eq!(ids, ["a", "c", "d"], "quoted {quoted}, chunk {chunk}");
                assert_eq!(all.lines, [2, 4, 6]);
                assert_eq!(all.rejects.len(), 1);
                assert_eq!((all.rejects[0].line, all.rejects[0].field.as_str()), (3, "record"));
                assert!(all.rejects[0].reason.contains("line 3 is longer than 1048576 bytes"));
            }
        }
    }
}
