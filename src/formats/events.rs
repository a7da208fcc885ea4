//! Event files for `leadmap import`: CSV as police departments publish it, with presets for the Portland
//! Police Bureau's two open-data formats, column mapping for anything else, and projected coordinates
//! (State Plane, UTM) transformed to WGS84. Streams row by row in batches; every rejected row is reported
//! with its line, field and reason. Only the mapped fields are read: an address or name column in the
//! file is never looked at, so it cannot be stored. Here: the options, the errors and the dispatch by
//! format; beside it `layout` (which column is which field), `batch`, one reader per format (`read_csv`,
//! `read_geojson`, `read_fgb`) and the export `writer`.

use std::collections::BTreeMap;
use std::io::Read;

use crate::events::checks::EventChecks;
use crate::events::{EventKind, Groups};
use crate::projection::Crs;

mod batch;
mod layout;
mod read_csv;
mod read_fgb;
mod read_geojson;
mod writer;

pub use batch::RowBatch;
pub use read_csv::{MAX_LINE_BYTES, read_events_csv};
pub use read_fgb::read_events_fgb;
pub use read_geojson::{read_events_geojson, read_events_geojsonseq};
pub use writer::{EVENT_CSV_HEADER, EventsWriter, ExportFormat, event_feature, event_properties, spreadsheet_safe};

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

/// Why a file cannot be read at all (row problems are [`Rejected`](crate::formats::points::Rejected) rows instead).
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

#[cfg(test)]
mod tests {
    use chrono::NaiveTime;
    use serde_json::Value;

    use super::layout::parse_time;
    use super::*;
    use crate::events::{Event, Offense, Placed};

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
