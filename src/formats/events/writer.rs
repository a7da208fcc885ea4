//! The streaming events writer shared by `leadmap events export` and `GET /v1/events`: GeoJSON or CSV,
//! spreadsheet-safe.
use serde_json::{Value, json};

use crate::events::Placed;

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

pub(super) enum Sink<W: std::io::Write> {
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
