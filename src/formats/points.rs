//! Point files for bulk classification: CSV (any columns, lon/lat by name) and GeoJSON (Point features).
//! Streams CSV row by row, adds a `zone` column, and reports every rejected row with its line, field and
//! reason; nothing is dropped silently.

use std::io::{Read, Write};

use chrono::NaiveDate;

use serde_json::{Map, Value};

use crate::classify::{Classifier, ClassifySummary, Detail, SetChoice};
use crate::coord::{CoordError, LonLat};
use crate::eligibility::AccuracyM;
use crate::zones::{ZoneCatalog, ZoneIndex};

/// Column names tried, in order, when `--lon-col` is not given (case-insensitive).
pub const LON_CANDIDATES: &[&str] = &["lon", "lng", "long", "longitude", "x", "opendatalon"];
/// Column names tried, in order, when `--lat-col` is not given (case-insensitive).
pub const LAT_CANDIDATES: &[&str] = &["lat", "latitude", "y", "opendatalat"];
/// The GPS accuracy column used when `--accuracy-col` is not given and the file has it (case-insensitive).
pub const ACCURACY_COLUMN: &str = "accuracy_m";

/// Which columns hold the coordinates and, optionally, each point's GPS accuracy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnChoice {
    /// Longitude column; default: the first of [`LON_CANDIDATES`] present.
    pub lon: Option<String>,
    /// Latitude column; default: the first of [`LAT_CANDIDATES`] present.
    pub lat: Option<String>,
    /// GPS accuracy column (metres); default: [`ACCURACY_COLUMN`] when present. With one, each row is
    /// also given `borderline` and `coverage_borderline` columns, within its own accuracy (an empty cell
    /// uses the index's borderline distance).
    pub accuracy: Option<String>,
}

/// The names of the input and output, for messages.
#[derive(Clone, Copy, Debug)]
pub struct Files<'a> {
    /// The input, as the user named it.
    pub input: &'a str,
    /// The output (a path, or `stdout`).
    pub output: &'a str,
}

/// Which zone set classifies each row.
#[derive(Clone, Copy, Debug)]
pub enum ZoneChoice<'a> {
    /// Every row against this set.
    Fixed(&'a ZoneIndex),
    /// Each row against the set in force on the date in this column (`YYYY-MM-DD`, optionally followed
    /// by a time, or `MM/DD/YYYY`); a `zone_set` column names the set that answered.
    ByDate {
        /// The loaded sets.
        catalog: &'a ZoneCatalog,
        /// The date column's name.
        column: &'a str,
    },
}

/// Parses a row's date: `YYYY-MM-DD` (anything after the tenth character, such as a time, is ignored)
/// or `MM/DD/YYYY`.
///
/// # Examples
/// ```
/// use leadmap::formats::points::parse_row_date;
/// assert_eq!(parse_row_date(b"2017-06-01T13:05:00").unwrap().to_string(), "2017-06-01");
/// assert_eq!(parse_row_date(b"09/26/2012").unwrap().to_string(), "2012-09-26");
/// assert!(parse_row_date(b"yesterday").is_none());
/// assert!(parse_row_date(b"09/26/12").is_none(), "two-digit years are refused");
/// ```
#[must_use]
pub fn parse_row_date(bytes: &[u8]) -> Option<NaiveDate> {
    let text = std::str::from_utf8(bytes.trim_ascii()).ok()?;
    // Four-digit years only: chrono's %Y would read "09/26/12" as the year 12.
    let iso = text
        .get(..10)
        .filter(|d| d.as_bytes().get(4) == Some(&b'-'))
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let us = || {
        let d = text.split_whitespace().next()?;
        let year = d.rsplit('/').next()?;
        (year.len() == 4).then(|| NaiveDate::parse_from_str(d, "%m/%d/%Y").ok()).flatten()
    };
    iso.or_else(us)
}

/// A row or feature that could not be classified.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    /// CSV: 1-based line where the record starts (the header is line 1). GeoJSON: 1-based feature number.
    pub line: u64,
    /// The field at fault (`lon`, `lat`, or the column name), or `record` for a malformed row.
    pub field: String,
    /// What is wrong.
    pub reason: String,
    /// The raw CSV fields, to write a rejects file.
    pub fields: Vec<String>,
}

/// `wanted`, or when `taken` says the input already has it, `leadmap_<wanted>` (then `leadmap_<wanted>_2`,
/// ...: the first name the input does not have), recorded in `renamed`.
fn new_column_name(taken: impl Fn(&str) -> bool, wanted: &str, run: &mut Classifier<'_>) -> String {
    if !taken(wanted) {
        return wanted.to_owned();
    }
    let mut name = format!("leadmap_{wanted}");
    let mut n = 2;
    while taken(&name) {
        name = format!("leadmap_{wanted}_{n}");
        n += 1;
    }
    run.renamed(wanted, &name);
    name
}

/// Why a point file could not be processed at all.
#[derive(Debug, thiserror::Error)]
pub enum PointFileError {
    /// Reading or writing failed.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The CSV is malformed beyond a single row (e.g. unreadable header).
    #[error("{file}: line {line}: {reason}")]
    Csv {
        /// The file.
        file: String,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The coordinate columns cannot be found.
    #[error("{file}: no {which} column {wanted}; the header has: {available}. Name it with --{which}-col")]
    MissingColumn {
        /// The file.
        file: String,
        /// `lon` or `lat`.
        which: &'static str,
        /// What was looked for.
        wanted: String,
        /// The header's columns.
        available: String,
    },
    /// The GeoJSON is not a FeatureCollection of points.
    #[error("{file}: {reason}")]
    GeoJson {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
}

pub(crate) fn find_column(
    headers: &csv::ByteRecord,
    wanted: Option<&str>,
    candidates: &[&str],
    which: &'static str,
    file: &str,
) -> Result<usize, PointFileError> {
    let names: Vec<String> = headers.iter().map(|h| String::from_utf8_lossy(h).trim().to_owned()).collect();
    let found = match wanted {
        Some(w) => names.iter().position(|n| n == w).or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(w))),
        None => candidates.iter().find_map(|c| names.iter().position(|n| n.eq_ignore_ascii_case(c))),
    };
    found.ok_or_else(|| PointFileError::MissingColumn {
        file: file.to_owned(),
        which,
        wanted: wanted.map_or_else(|| format!("(looked for {})", candidates.join(", ")), |w| format!("{w:?}")),
        available: names.join(", "),
    })
}

fn parse_number(bytes: &[u8], column: &str) -> Result<f64, String> {
    let t = bytes.trim_ascii();
    if t.is_empty() {
        return Err(format!("{column} is empty (no coordinates)"));
    }
    fast_float2::parse::<f64, _>(t).map_err(|_| format!("{column} {:?} is not a number", String::from_utf8_lossy(t)))
}

/// Streams a CSV from `input` to `output`, adding a `zone` column (zone id, empty when outside every
/// zone; plus `zone_set` when classifying by date; plus `borderline` and `coverage_borderline` when
/// the rows carry a GPS accuracy column, see [`ColumnChoice::accuracy`]). Rejected rows are passed to `on_reject` with the
/// header, and left out of the output. `progress` is called with the bytes read so far every 64 Ki rows.
#[expect(clippy::too_many_lines, reason = "one streaming loop; its steps read best in order")]
pub fn classify_csv(
    input: impl Read,
    output: impl Write,
    files: Files<'_>,
    zones: ZoneChoice<'_>,
    columns: &ColumnChoice,
    mut on_reject: impl FnMut(&[String], Rejected),
    mut progress: impl FnMut(u64),
) -> Result<ClassifySummary, PointFileError> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).buffer_capacity(1 << 20).from_reader(input);
    let mut wtr = csv::WriterBuilder::new().buffer_capacity(1 << 20).from_writer(output);
    let file = files.input;
    let csv_err = |e: csv::Error| {
        let line = e.position().map_or(0, csv::Position::line);
        let reason = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::Io(source) => PointFileError::Io { file: file.to_owned(), source },
            _ => PointFileError::Csv { file: file.to_owned(), line, reason },
        }
    };
    let write_err = |e: csv::Error| {
        let source = match e.into_kind() {
            csv::ErrorKind::Io(source) => source,
            kind => std::io::Error::other(format!("{kind:?}")),
        };
        PointFileError::Io { file: files.output.to_owned(), source }
    };
    let headers = rdr.byte_headers().map_err(csv_err)?.clone();
    let header_names: Vec<String> = headers.iter().map(|h| String::from_utf8_lossy(h).into_owned()).collect();
    let lon_i = find_column(&headers, columns.lon.as_deref(), LON_CANDIDATES, "lon", file)?;
    let lat_i = find_column(&headers, columns.lat.as_deref(), LAT_CANDIDATES, "lat", file)?;
    let lon_name = String::from_utf8_lossy(&headers[lon_i]).into_owned();
    let lat_name = String::from_utf8_lossy(&headers[lat_i]).into_owned();
    let accuracy_i = match &columns.accuracy {
        Some(_) => Some(find_column(&headers, columns.accuracy.as_deref(), &[], "accuracy", file)?),
        None => headers.iter().position(|h| h.eq_ignore_ascii_case(ACCURACY_COLUMN.as_bytes())),
    };
    let accuracy_name = accuracy_i.map(|i| String::from_utf8_lossy(&headers[i]).into_owned()).unwrap_or_default();
    // The sets, and the date column when each row is classified by its own date.
    let (sets, date_col) = match zones {
        ZoneChoice::Fixed(index) => (SetChoice::Fixed(index), None),
        ZoneChoice::ByDate { catalog, column } => {
            let col = find_column(&headers, Some(column), &[], "date", file)?;
            (SetChoice::ByDate(catalog), Some((col, String::from_utf8_lossy(&headers[col]).into_owned())))
        }
    };
    let mut run = Classifier::new(sets);
    let taken = |name: &str| headers.iter().any(|h| h == name.as_bytes());
    let zone_col = new_column_name(taken, "zone", &mut run);
    let set_col = if run.by_date() { new_column_name(taken, "zone_set", &mut run) } else { String::new() };
    let borderline_cols = if accuracy_i.is_some() {
        ["borderline", "coverage_borderline"].map(|c| new_column_name(taken, c, &mut run))
    } else {
        Default::default()
    };
    let mut added: Vec<&[u8]> = vec![zone_col.as_bytes()];
    if run.by_date() {
        added.push(set_col.as_bytes());
    }
    if accuracy_i.is_some() {
        added.extend(borderline_cols.iter().map(String::as_bytes));
    }
    wtr.write_record(headers.iter().chain(added.iter().copied())).map_err(write_err)?;

    let mut rec = csv::ByteRecord::new();
    let width = headers.len();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                // A malformed record (e.g. bad quoting): report it, keep going.
                let line = e.position().map_or(0, csv::Position::line);
                if let csv::ErrorKind::Io(source) = e.into_kind() {
                    return Err(PointFileError::Io { file: file.to_owned(), source });
                }
                run.reject();
                on_reject(
                    &header_names,
                    Rejected { line, field: "record".into(), reason: "malformed CSV record".into(), fields: vec![] },
                );
                continue;
            }
        }
        if (run.summary().read + 1).trailing_zeros() >= 16 {
            progress(rdr.position().byte());
        }
        let line = rec.position().map_or(0, csv::Position::line);
        let reject = |field: &str, reason: String, rec: &csv::ByteRecord| Rejected {
            line,
            field: field.to_owned(),
            reason,
            fields: rec.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect(),
        };
        if rec.len() != width {
            run.reject();
            on_reject(
                &header_names,
                reject("record", format!("has {} fields, the header has {width}", rec.len()), &rec),
            );
            continue;
        }
        let lon = parse_number(&rec[lon_i], &lon_name);
        let lat = parse_number(&rec[lat_i], &lat_name);
        let point = match (lon, lat) {
            (Err(r), _) => Err((lon_name.as_str(), r)),
            (_, Err(r)) => Err((lat_name.as_str(), r)),
            (Ok(lon), Ok(lat)) => LonLat::new(lon, lat).map_err(|e| {
                // Blame the value at fault: a non-finite or out-of-range longitude is the lon column's.
                let lon_at_fault = match e {
                    CoordError::NotFinite { lon, .. } => !lon.is_finite(),
                    CoordError::LonOutOfRange { .. } => true,
                    CoordError::LatOutOfRange { .. } | CoordError::LooksSwapped { .. } => false,
                };
                (if lon_at_fault { lon_name.as_str() } else { lat_name.as_str() }, e.to_string())
            }),
        };
        let point = match point {
            Ok(p) => p,
            Err((field, reason)) => {
                run.reject();
                on_reject(&header_names, reject(field, reason, &rec));
                continue;
            }
        };
        let date = match &date_col {
            None => None,
            Some((col, name)) => {
                let Some(date) = parse_row_date(&rec[*col]) else {
                    let shown = String::from_utf8_lossy(&rec[*col]).into_owned();
                    run.reject();
                    let reason = format!("{name} {shown:?} is not a date (YYYY-MM-DD or MM/DD/YYYY)");
                    on_reject(&header_names, reject(name, reason, &rec));
                    continue;
                };
                Some(date)
            }
        };
        // With an accuracy column: the full answer within the row's own accuracy; else the zone alone.
        let detail = match accuracy_i {
            None => Detail::Zone,
            Some(i) => match rec[i].trim_ascii() {
                b"" => Detail::Borderline(None),
                text => {
                    match std::str::from_utf8(text).map_err(|_| "not UTF-8".to_owned()).and_then(AccuracyM::parse) {
                        Ok(a) => Detail::Borderline(Some(a)),
                        Err(reason) => {
                            run.reject();
                            let reason = reason.replace("accuracy_m", &accuracy_name);
                            on_reject(&header_names, reject(&accuracy_name, reason, &rec));
                            continue;
                        }
                    }
                }
            },
        };
        let answer = match run.classify(point, date, detail) {
            Ok(answer) => answer,
            Err(e) => {
                run.reject();
                let field = date_col.as_ref().map_or("record", |(_, name)| name.as_str());
                on_reject(&header_names, reject(field, e.to_string(), &rec));
                continue;
            }
        };
        let mut extra: Vec<&[u8]> = vec![answer.zone.unwrap_or_default().as_bytes()];
        if run.by_date() {
            extra.push(answer.set.as_bytes());
        }
        if let Some((near, coverage)) = answer.borderline {
            extra.push(if near { b"true" } else { b"false" });
            extra.push(if coverage { b"true" } else { b"false" });
        }
        wtr.write_record(rec.iter().chain(extra.iter().copied())).map_err(write_err)?;
    }
    wtr.flush().map_err(|source| PointFileError::Io { file: files.output.to_owned(), source })?;
    Ok(run.finish())
}

/// Reads a GeoJSON FeatureCollection of Point features and writes it back with a `zone` property on
/// each classified feature. Features without a valid Point are rejected (by feature number).
pub fn classify_geojson(
    input: impl Read,
    mut output: impl Write,
    files: Files<'_>,
    index: &ZoneIndex,
    mut on_reject: impl FnMut(&[String], Rejected),
) -> Result<ClassifySummary, PointFileError> {
    let gj_err = |reason: String| PointFileError::GeoJson { file: files.input.to_owned(), reason };
    let mut doc: Value = serde_json::from_reader(input)
        .map_err(|e| gj_err(format!("not valid JSON at line {}, column {}: {e}", e.line(), e.column())))?;
    let features = doc
        .get_mut("features")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| gj_err("not a FeatureCollection (no \"features\" array)".to_owned()))?;
    let mut run = Classifier::new(SetChoice::Fixed(index));
    let mut kept = Vec::with_capacity(features.len());
    for (i, mut f) in features.drain(..).enumerate() {
        let point = match point_of(&f) {
            Ok(p) => p,
            Err(reason) => {
                run.reject();
                on_reject(&[], Rejected { line: i as u64 + 1, field: "geometry".into(), reason, fields: vec![] });
                continue;
            }
        };
        let zone = match run.classify(point, None, Detail::Zone) {
            Ok(answer) => answer.zone,
            Err(e) => {
                run.reject();
                let reject =
                    Rejected { line: i as u64 + 1, field: "geometry".into(), reason: e.to_string(), fields: vec![] };
                on_reject(&[], reject);
                continue;
            }
        };
        if !f.get("properties").is_some_and(Value::is_object) {
            f["properties"] = Value::Object(Map::new());
        }
        // Keep a property the input already has: add ours beside it, as CSV does.
        let key = new_column_name(|k| f["properties"].get(k).is_some(), "zone", &mut run);
        f["properties"][key] = zone.map_or(Value::Null, |id| Value::String(id.to_owned()));
        kept.push(f);
    }
    *features = kept;
    let io = |source| PointFileError::Io { file: files.output.to_owned(), source };
    serde_json::to_writer(&mut output, &doc).map_err(|e| io(e.into()))?;
    output.flush().map_err(io)?;
    Ok(run.finish())
}

/// The (lon, lat) of a Point feature, or why it has none.
fn point_of(feature: &Value) -> Result<LonLat, String> {
    let (x, y) = super::geometry::feature_xy(feature).map_err(|e| e.to_string())?;
    LonLat::new(x, y).map_err(|e| e.to_string())
}
