//! The GeoJSON readers: a FeatureCollection streamed feature by feature, and newline-delimited GeoJSON.
use std::io::Read;

use serde_json::Value;

use super::batch::Batcher;
use super::layout::{Layout, geojson_crs};
use super::{ImportError, ImportOptions, RowBatch};
use crate::projection::Crs;

/// A GeoJSON feature as read: anything may be missing or of the wrong type (it is then rejected, not
/// fatal).
#[derive(serde::Deserialize)]
pub(super) struct RawFeature {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    geometry: Value,
    #[serde(default)]
    properties: Value,
}

impl RawFeature {
    /// The point (x, y) of a Point geometry, or why there is none.
    pub(super) fn point(&self) -> Result<(f64, f64), String> {
        crate::formats::geometry::point_xy(&self.geometry).map_err(|e| e.to_string())
    }

    /// The property names, with the feature's `id` as a property `id` when it has none of that name.
    pub(super) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.properties.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        if !self.id.is_null() && !names.iter().any(|n| n == "id") {
            names.push("id".into());
        }
        names
    }

    /// The values of the properties `names`, as text.
    pub(super) fn values(&self, names: &[String]) -> Vec<Option<String>> {
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
pub(super) struct FeatureRows<'a, S> {
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
    pub(super) fn new(file: &'a str, opts: &'a ImportOptions, batch: usize, sink: S) -> Self {
        Self { file, opts, file_crs: std::rc::Rc::default(), layout: None, out: None, batch, sink: Some(sink) }
    }

    pub(super) fn feature<E: From<ImportError>>(&mut self, number: u64, f: &RawFeature) -> Result<(), E>
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

    pub(super) fn fatal(&mut self, number: u64, reason: String) {
        if let Some(out) = &mut self.out {
            out.fatal(number, reason);
        }
    }

    pub(super) fn finish<E>(mut self) -> Result<u64, E>
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
/// however many features), like [`read_events_csv`](super::read_events_csv); the "line" of a reject is the feature's number.
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
/// [`read_events_csv`](super::read_events_csv); the line of a reject is its line in the file.
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
