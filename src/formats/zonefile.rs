//! Zone-set files: reading GeoJSON (RFC 7946, lon/lat) and FlatGeobuf boundary files into a validated
//! [`ZoneSet`] — choosing the id and name properties, selecting features and merging several into one
//! zone — and writing a zone set back out as GeoJSON or FlatGeobuf.
//!
//! leadmap's own zone files are GeoJSON feature collections with these optional foreign members:
//! `name`, `title`, `description`, `status` (`official` or `approximation`: how authoritative the
//! boundaries are), `time_zone` (IANA name: the program's day, "today", is the day there),
//! `effective_from`, `effective_to` (ISO dates) and `effective_from_reason`,
//! `effective_to_reason` (where each date comes from). Each feature has an `id` (feature id or `id`
//! property), a `name` and optionally a `source` property.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufReader, Write};
use std::path::Path;
use std::str::FromStr;

use chrono::NaiveDate;
use geo::{BooleanOps, MultiPolygon};
use serde_json::{Map, Value, json};

use crate::zones::{
    BoundaryStatus, MAX_VERTICES, RawPolygon, Zone, ZoneError, ZoneId, ZoneSet, ZoneSetMeta, validate_polygons,
};

/// How to turn a boundary file's features into zones.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZoneFileOptions {
    /// Property holding each feature's key (e.g. `NAME`). Without it the feature id or `id` property is used.
    pub zone_field: Option<String>,
    /// Property holding the display name. Default: the `name` property, else the key.
    pub name_field: Option<String>,
    /// Which features to keep, and under which zone id. Default: every feature, id from its key.
    pub select: Option<Selection>,
}

/// `KEY=id[:Display name],...`: keep features whose key is `KEY`, as zone `id`; several keys may map to
/// one id, and those features are merged (unioned) into one zone.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection(Vec<SelectionItem>);

/// One `KEY=id[:name]` entry of a [`Selection`].
#[derive(Clone, Debug, PartialEq)]
pub struct SelectionItem {
    /// The key value to match (exactly).
    pub key: String,
    /// The zone it goes into.
    pub id: ZoneId,
    /// Display name, if given.
    pub name: Option<String>,
}

impl Selection {
    /// The entries, in the order given.
    #[must_use]
    pub fn items(&self) -> &[SelectionItem] {
        &self.0
    }
}

impl FromStr for Selection {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut items = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, target)) = part.rsplit_once('=') else {
                return Err(format!("{part:?} is not KEY=id (e.g. 'PORTLAND DOWNTOWN=downtown')"));
            };
            let (id, name) = match target.split_once(':') {
                Some((id, name)) => (id, Some(name.trim().to_owned())),
                None => (target, None),
            };
            let id = id.trim().parse::<ZoneId>().map_err(|e| format!("in {part:?}: {e}"))?;
            items.push(SelectionItem { key: key.trim().to_owned(), id, name });
        }
        if items.is_empty() {
            return Err("empty selection: give KEY=id pairs separated by commas".to_owned());
        }
        for (i, a) in items.iter().enumerate() {
            if let Some(b) = items[i + 1..].iter().find(|b| b.key == a.key) {
                return Err(format!(
                    "{:?} is selected twice (as {} and as {}); each key maps to one zone",
                    a.key, a.id, b.id
                ));
            }
        }
        Ok(Self(items))
    }
}

/// One problem with one feature.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureProblem {
    /// 1-based feature number in the file; `None` for a problem of the file as a whole.
    pub feature: Option<usize>,
    /// The feature's id or key, if it has one.
    pub label: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for FeatureProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.feature, &self.label) {
            (Some(n), Some(l)) => write!(f, "feature {n} ({l:?}): {}", self.reason),
            (Some(n), None) => write!(f, "feature {n}: {}", self.reason),
            (None, _) => f.write_str(&self.reason),
        }
    }
}

/// Why a zone file could not be loaded. Always names the file; feature problems are all listed.
#[derive(Debug, thiserror::Error)]
pub enum ZoneFileError {
    /// The file cannot be opened or read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not well-formed GeoJSON / FlatGeobuf, or not a FeatureCollection in lon/lat.
    #[error("{file}: {reason}")]
    Format {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// One or more features are unusable.
    #[error("{file}: {} problem(s):\n  {}", problems.len(), problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Features {
        /// The file.
        file: String,
        /// Every problem found.
        problems: Vec<FeatureProblem>,
    },
    /// The features read hold more positions than [`MAX_VERTICES`]: nothing is validated.
    #[error(
        "{file}: the features read hold {count} positions; leadmap reads at most {limit} per zone file. Simplify the boundaries (e.g. `ogr2ogr -simplify 0.000001 out.geojson in.geojson`, about 10 cm) or select fewer features"
    )]
    TooManyVertices {
        /// The file.
        file: String,
        /// Positions in the features read (those `--select` keeps), closing ones included.
        count: usize,
        /// [`MAX_VERTICES`].
        limit: usize,
    },
    /// The features are fine one by one but do not form a valid zone set (duplicate ids, overlaps).
    #[error("{file}: {source}")]
    Set {
        /// The file.
        file: String,
        /// The set-level problem.
        source: ZoneError,
    },
}

/// Reads a `.geojson`/`.json` or `.fgb` zone file.
pub fn read_zone_file(path: &Path, options: &ZoneFileOptions) -> Result<ZoneSet, ZoneFileError> {
    let file = path.display().to_string();
    let stem = path.file_stem().map_or_else(|| "zones".to_owned(), |s| s.to_string_lossy().into_owned());
    zone_set_from_document(&read_document(path)?, &file, &stem, options)
}

/// A study-area mask (e.g. land without the river): every polygon of a GeoJSON or FlatGeobuf file as
/// one area (lon, lat), checked as zone polygons are; features need no ids and must not overlap.
///
/// # Errors
/// As [`read_zone_file`], naming the file and the feature.
pub fn read_mask(path: &Path) -> Result<MultiPolygon<f64>, ZoneFileError> {
    let file = path.display().to_string();
    let mut doc = read_document(path)?;
    if let Some(features) = doc.get_mut("features").and_then(Value::as_array_mut) {
        for (i, f) in features.iter_mut().enumerate() {
            if let Some(obj) = f.as_object_mut() {
                obj.insert("id".to_owned(), Value::String(format!("mask-{}", i + 1)));
            }
        }
    }
    let set = zone_set_from_document(&doc, &file, "mask", &ZoneFileOptions::default())?;
    Ok(MultiPolygon(set.zones().iter().flat_map(|z| z.geometry.0.iter().cloned()).collect()))
}

/// A context file for the map (`serve --context`): every feature a named area drawn under the hexagons,
/// e.g. a city's neighbourhoods. Each polygon is checked as zone polygons are (closed rings, no
/// self-intersection, lon/lat); unlike zones, areas may overlap (neighbourhood files often do). As a
/// GeoJSON `FeatureCollection` for the page: each feature's `name` and `label_point` (where the page
/// writes the name: inside, as deep as the shape allows), and its geometry.
///
/// # Errors
/// A file that cannot be read or parsed, more than [`MAX_VERTICES`] positions, or features without a
/// name in `name_field` or with bad polygons: every problem, by feature number and name.
pub fn read_context(path: &Path, name_field: &str) -> Result<Value, ZoneFileError> {
    let file = path.display().to_string();
    let doc = read_document(path)?;
    let format_err = |reason: String| ZoneFileError::Format { file: file.clone(), reason };
    let features = doc
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| format_err("not a GeoJSON FeatureCollection with a \"features\" array".to_owned()))?;
    if let Some(obj) = doc.as_object() {
        check_crs(obj).map_err(&format_err)?;
    }
    let mut problems = Vec::new();
    let mut read = Vec::new();
    let mut positions = 0_usize;
    for (i, f) in features.iter().enumerate() {
        let n = i + 1;
        let Some(name) = f.get("properties").and_then(|p| p.get(name_field)).and_then(value_text) else {
            let keys: Vec<&str> = f
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| p.keys().map(String::as_str).collect())
                .unwrap_or_default();
            problems.push(FeatureProblem {
                feature: Some(n),
                label: None,
                reason: format!("no name in property {name_field:?}; its properties: {}", keys.join(", ")),
            });
            continue;
        };
        match raw_polygons(f.get("geometry")) {
            Ok(raw) => {
                positions += raw.iter().flatten().map(Vec::len).sum::<usize>();
                read.push((n, name, raw));
            }
            Err(reason) => problems.push(FeatureProblem { feature: Some(n), label: Some(name), reason }),
        }
    }
    if positions > MAX_VERTICES {
        return Err(ZoneFileError::TooManyVertices { file, count: positions, limit: MAX_VERTICES });
    }
    let mut out = Vec::with_capacity(read.len());
    for (n, name, raw) in read {
        match validate_polygons(&raw) {
            Ok(geometry) => out.push(json!({
                "type": "Feature",
                "properties": {"name": name, "label_point": label_point_json(&geometry)},
                "geometry": geometry_json(&geometry),
            })),
            Err(found) => problems.extend(found.into_iter().map(|p| FeatureProblem {
                feature: Some(n),
                label: Some(name.clone()),
                reason: p.to_string(),
            })),
        }
    }
    if !problems.is_empty() {
        return Err(ZoneFileError::Features { file, problems });
    }
    Ok(json!({"type": "FeatureCollection", "features": out}))
}

/// The GeoJSON document of a zone file (FlatGeobuf turned into one).
fn read_document(path: &Path) -> Result<Value, ZoneFileError> {
    let file = path.display().to_string();
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let io = |source| ZoneFileError::Io { file: file.clone(), source };
    let doc = if ext == "fgb" {
        let f = std::fs::File::open(path).map_err(io)?;
        fgb_to_document(BufReader::new(f)).map_err(|reason| ZoneFileError::Format { file: file.clone(), reason })?
    } else {
        let text = std::fs::read_to_string(path).map_err(io)?;
        serde_json::from_str(&text).map_err(|e| ZoneFileError::Format {
            file: file.clone(),
            reason: format!("not valid JSON at line {}, column {}: {e}", e.line(), e.column()),
        })?
    };
    Ok(doc)
}

/// Parses GeoJSON text (e.g. an embedded default); `origin` names it in errors and is the default set name.
pub fn parse_zone_geojson(text: &str, origin: &str, options: &ZoneFileOptions) -> Result<ZoneSet, ZoneFileError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| ZoneFileError::Format {
        file: origin.to_owned(),
        reason: format!("not valid JSON at line {}, column {}: {e}", e.line(), e.column()),
    })?;
    zone_set_from_document(&doc, origin, origin, options)
}

/// Reads a zone set from GeoJSON already parsed (e.g. a member of a request body); `origin` names it in
/// errors and is the default set name.
pub fn zone_set_from_value(doc: &Value, origin: &str, options: &ZoneFileOptions) -> Result<ZoneSet, ZoneFileError> {
    zone_set_from_document(doc, origin, origin, options)
}

fn zone_set_from_document(
    doc: &Value,
    file: &str,
    default_name: &str,
    options: &ZoneFileOptions,
) -> Result<ZoneSet, ZoneFileError> {
    let format_err = |reason: String| ZoneFileError::Format { file: file.to_owned(), reason };
    let obj = doc.as_object().ok_or_else(|| format_err("not a GeoJSON object".to_owned()))?;
    match obj.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => {}
        Some(t) => return Err(format_err(format!("GeoJSON type is {t}; a zone file must be a FeatureCollection"))),
        None => {
            return Err(format_err("no GeoJSON \"type\" member; a zone file must be a FeatureCollection".to_owned()));
        }
    }
    check_crs(obj).map_err(&format_err)?;
    let meta = meta_from(obj, default_name).map_err(&format_err)?;
    let features = obj
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| format_err("FeatureCollection has no \"features\" array".to_owned()))?;

    let mut problems = Vec::new();
    let mut zones: BTreeMap<ZoneId, Pending> = BTreeMap::new();
    let mut first_feature_of: BTreeMap<ZoneId, usize> = BTreeMap::new();
    let mut matched_keys = vec![false; options.select.as_ref().map_or(0, |s| s.items().len())];
    let mut read = Vec::new();
    let mut positions = 0_usize;
    for (i, feature) in features.iter().enumerate() {
        let n = i + 1;
        let Identity { key, id, name, source } = match identify(feature, options, &mut matched_keys) {
            Ok(Some(found)) => found,
            Ok(None) => continue,
            Err((label, reason)) => {
                problems.push(FeatureProblem { feature: Some(n), label, reason });
                continue;
            }
        };
        let label = Some(key);
        let raw = match raw_polygons(feature.get("geometry")) {
            Ok(raw) => raw,
            Err(reason) => {
                problems.push(FeatureProblem { feature: Some(n), label, reason });
                continue;
            }
        };
        if options.select.is_none()
            && let Some(first) = first_feature_of.get(&id)
        {
            problems.push(FeatureProblem {
                feature: Some(n),
                label,
                reason: format!(
                    "duplicate zone id \"{id}\" (feature {first} has it too); give each zone its own id, or merge features on purpose with --select"
                ),
            });
            continue;
        }
        first_feature_of.entry(id.clone()).or_insert(n);
        positions += raw.iter().flatten().map(Vec::len).sum::<usize>();
        read.push(ReadFeature { n, label, id, name, source, raw });
    }
    // The cap comes before any validation: a file far over it would cost seconds for nothing.
    if positions > MAX_VERTICES {
        return Err(ZoneFileError::TooManyVertices { file: file.to_owned(), count: positions, limit: MAX_VERTICES });
    }
    for ReadFeature { n, label, id, name, source, raw } in read {
        match validate_polygons(&raw) {
            Ok(geometry) => {
                let entry = zones.entry(id).or_insert_with(|| Pending { name, source, parts: Vec::new() });
                entry.parts.push(geometry);
            }
            Err(found) => {
                for p in found {
                    problems.push(FeatureProblem { feature: Some(n), label: label.clone(), reason: p.to_string() });
                }
            }
        }
    }
    if let Some(sel) = &options.select {
        let field = options.zone_field.as_deref().unwrap_or("id");
        for (item, matched) in sel.items().iter().zip(&matched_keys) {
            if !matched {
                problems.push(FeatureProblem {
                    feature: None,
                    label: None,
                    reason: format!("--select: no feature has {field} = {:?}", item.key),
                });
            }
        }
    }
    if !problems.is_empty() {
        return Err(ZoneFileError::Features { file: file.to_owned(), problems });
    }
    let mut out = Vec::with_capacity(zones.len());
    for (id, Pending { name, source, parts }) in zones {
        let geometry = merge(parts);
        out.push(Zone { id, name, geometry, source });
    }
    ZoneSet::new(meta, out).map_err(|source| ZoneFileError::Set { file: file.to_owned(), source })
}

/// A feature's key, zone id and display name; `Ok(None)` when `--select` leaves it out; on error, the
/// label to name it by (if any) and the reason.
fn identify(
    feature: &Value,
    options: &ZoneFileOptions,
    matched_keys: &mut [bool],
) -> Result<Option<Identity>, (Option<String>, String)> {
    let prop = |name: &str| feature.get("properties").and_then(|p| p.get(name)).and_then(value_text);
    let key = match &options.zone_field {
        Some(field) => prop(field),
        None => feature.get("id").and_then(value_text).or_else(|| prop("id")),
    };
    let Some(key) = key else {
        let reason = match &options.zone_field {
            Some(field) => format!("has no property {field:?}"),
            None => "has no id: set a feature \"id\" or an \"id\" property, or choose one with --zone-field".to_owned(),
        };
        return Err((None, reason));
    };
    let (id, chosen_name) = if let Some(sel) = &options.select {
        let Some(pos) = sel.items().iter().position(|it| it.key == key) else { return Ok(None) };
        matched_keys[pos] = true;
        let id = sel.items()[pos].id.clone();
        // A display name given for the id on any entry names the merged zone.
        let name = sel.items().iter().filter(|it| it.id == id).find_map(|it| it.name.clone());
        (id, name)
    } else {
        let parsed = if options.zone_field.is_some() { ZoneId::slugify(&key) } else { key.parse() };
        (parsed.map_err(|e| (Some(key.clone()), e.to_string()))?, None)
    };
    if id.is_reserved() {
        return Err((Some(key), ZoneError::ReservedId(id).to_string()));
    }
    let name = chosen_name
        .or_else(|| options.name_field.as_deref().and_then(prop))
        .or_else(|| prop("name"))
        .unwrap_or_else(|| key.clone());
    Ok(Some(Identity { key, id, name, source: prop("source") }))
}

/// Who a feature is: the key it was matched by, its zone id, display name and `source` property.
struct Identity {
    key: String,
    id: ZoneId,
    name: String,
    source: Option<String>,
}

/// A feature read and identified, its geometry not yet validated.
struct ReadFeature {
    /// 1-based feature number.
    n: usize,
    /// Its key, to name it by.
    label: Option<String>,
    id: ZoneId,
    name: String,
    source: Option<String>,
    raw: Vec<RawPolygon>,
}

/// A zone being assembled from one or more features.
struct Pending {
    name: String,
    source: Option<String>,
    parts: Vec<MultiPolygon<f64>>,
}

/// Unions the polygons of several features that go into one zone.
fn merge(mut parts: Vec<MultiPolygon<f64>>) -> MultiPolygon<f64> {
    if parts.len() == 1 {
        return parts.remove(0);
    }
    let mut it = parts.into_iter();
    let first = it.next().unwrap_or_else(|| MultiPolygon(vec![]));
    it.fold(first, |acc, p| acc.union(&p))
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn check_crs(obj: &Map<String, Value>) -> Result<(), String> {
    let Some(name) = obj.get("crs").and_then(|c| c.pointer("/properties/name")).and_then(Value::as_str) else {
        return Ok(());
    };
    let lonlat =
        ["urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84", "EPSG:4326", "urn:ogc:def:crs:EPSG::4326"];
    if lonlat.iter().any(|c| c.eq_ignore_ascii_case(name)) {
        Ok(())
    } else {
        Err(format!(
            "the file declares CRS {name:?}; leadmap reads lon/lat (CRS84/EPSG:4326) only. Reproject it, e.g. `ogr2ogr -t_srs EPSG:4326 out.geojson in.geojson`"
        ))
    }
}

fn meta_from(obj: &Map<String, Value>, default_name: &str) -> Result<ZoneSetMeta, String> {
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
    let date = |k: &str| -> Result<Option<NaiveDate>, String> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Some)
                .map_err(|e| format!("{k} {s:?} is not a date like 2018-05-01: {e}")),
            Some(other) => Err(format!("{k} must be a date string like \"2018-05-01\", not {other}")),
        }
    };
    let status = match obj.get("status") {
        None | Some(Value::Null) => BoundaryStatus::Unknown,
        Some(Value::String(s)) => s.parse()?,
        Some(other) => return Err(format!("status must be \"official\" or \"approximation\", not {other}")),
    };
    Ok(ZoneSetMeta {
        name: text("name").unwrap_or_else(|| default_name.to_owned()),
        title: text("title"),
        description: text("description"),
        status,
        effective_from: date("effective_from")?,
        effective_to: date("effective_to")?,
        effective_from_reason: text("effective_from_reason"),
        effective_to_reason: text("effective_to_reason"),
        time_zone: match text("time_zone") {
            None => None,
            Some(tz) => Some(tz.parse::<chrono_tz::Tz>().map_err(|_| {
                format!("time_zone {tz:?} is not an IANA time zone name (e.g. \"America/Los_Angeles\")")
            })?),
        },
    })
}

fn raw_polygons(geometry: Option<&Value>) -> Result<Vec<RawPolygon>, String> {
    let Some(g) = geometry.filter(|g| !g.is_null()) else {
        return Err("has no geometry (empty geometry)".to_owned());
    };
    let kind = g.get("type").and_then(Value::as_str).unwrap_or("(none)");
    let coords = g.get("coordinates");
    match kind {
        "Polygon" => Ok(vec![rings(coords)?]),
        "MultiPolygon" => match coords {
            Some(Value::Array(polys)) => polys.iter().map(|p| rings(Some(p))).collect(),
            _ => Err("MultiPolygon coordinates must be an array of polygons".to_owned()),
        },
        other => Err(format!("geometry type {other} is not supported: zones must be Polygon or MultiPolygon")),
    }
}

fn rings(coords: Option<&Value>) -> Result<RawPolygon, String> {
    let Some(Value::Array(rings)) = coords else {
        return Err("polygon coordinates must be an array of rings".to_owned());
    };
    rings
        .iter()
        .enumerate()
        .map(|(ri, ring)| {
            let Value::Array(positions) = ring else {
                return Err(format!("ring {} is not an array of positions", ri + 1));
            };
            positions
                .iter()
                .enumerate()
                .map(|(pi, pos)| match pos.as_array().map(Vec::as_slice) {
                    Some([x, y, ..]) => match (x.as_f64(), y.as_f64()) {
                        (Some(x), Some(y)) => Ok([x, y]),
                        _ => Err(format!("ring {}, position {}: not numbers: {pos}", ri + 1, pi + 1)),
                    },
                    _ => Err(format!("ring {}, position {}: a position needs [lon, lat], got {pos}", ri + 1, pi + 1)),
                })
                .collect()
        })
        .collect()
}

/// FlatGeobuf → the same JSON document shape as a GeoJSON zone file (header metadata carries the
/// zone-set members when leadmap wrote the file).
fn fgb_to_document<R: std::io::Read + std::io::Seek>(mut reader: R) -> Result<Value, String> {
    use flatgeobuf::{FallibleStreamingIterator, FgbReader};
    use geozero::{FeatureProperties, ToGeo};
    let (guarded, frames) = super::fgbframes::FrameGuard::new(&mut reader);
    let fgb = FgbReader::open(guarded).map_err(|e| format!("not a FlatGeobuf file: {e}"))?;
    let header = fgb.header();
    if let Some(crs) = header.crs() {
        let code = crs.code();
        if code != 0 && code != 4326 {
            return Err(format!(
                "the file's CRS is EPSG:{code}; leadmap reads lon/lat (EPSG:4326) only. Reproject it, e.g. `ogr2ogr -t_srs EPSG:4326 out.fgb in.fgb`"
            ));
        }
    }
    let mut doc = Map::new();
    if let Some(meta) = header.metadata()
        && let Ok(Value::Object(m)) = serde_json::from_str::<Value>(meta)
    {
        doc.extend(m);
    }
    doc.insert("type".into(), json!("FeatureCollection"));
    let mut features = Vec::new();
    frames.features_after(super::fgbframes::index_bytes(fgb.header()));
    let mut iter = super::contain::contained(|| fgb.select_all_seq())
        .map_err(|()| "malformed: its header's feature count and index size do not fit together".to_owned())?
        .map_err(|e| format!("cannot read features: {e}"))?;
    let mut n = 0;
    while let Some(feature) = iter.next().map_err(|e| format!("feature {}: {e}", n + 1))? {
        n += 1;
        // The flatgeobuf crate panics on a feature whose stated lengths run past its bytes: a damaged
        // file is an error naming the feature, not a crash.
        let decoded = super::contain::contained(|| (feature.to_geo(), feature.properties()))
            .map_err(|()| format!("feature {n}: malformed (its stated lengths run past its bytes; a damaged file)"))?;
        let geometry = match decoded.0 {
            Ok(geo::Geometry::Polygon(p)) => geometry_json(&MultiPolygon(vec![p])),
            Ok(geo::Geometry::MultiPolygon(mp)) if !mp.0.is_empty() => geometry_json(&mp),
            Ok(geo::Geometry::MultiPolygon(_)) => Value::Null,
            Err(e) => return Err(format!("feature {n}: cannot decode its geometry: {e}")),
            Ok(other) => json!({"type": geometry_type_name(&other), "coordinates": []}),
        };
        let props = decoded.1.map_err(|e| format!("feature {n}: bad properties: {e}"))?;
        let props: Map<String, Value> = props.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        features.push(json!({"type": "Feature", "properties": props, "geometry": geometry}));
    }
    if let Some((n, reason)) = frames.refusal() {
        return Err(format!("feature {n}: {reason}"));
    }
    doc.insert("features".into(), Value::Array(features));
    Ok(Value::Object(doc))
}

fn geometry_type_name(g: &geo::Geometry<f64>) -> &'static str {
    match g {
        geo::Geometry::Point(_) => "Point",
        geo::Geometry::Line(_) | geo::Geometry::LineString(_) => "LineString",
        geo::Geometry::MultiPoint(_) => "MultiPoint",
        geo::Geometry::MultiLineString(_) => "MultiLineString",
        geo::Geometry::GeometryCollection(_) => "GeometryCollection",
        geo::Geometry::Polygon(_) | geo::Geometry::Rect(_) | geo::Geometry::Triangle(_) => "Polygon",
        geo::Geometry::MultiPolygon(_) => "MultiPolygon",
    }
}

/// A zone's own properties as every zone Feature gives them: `id`, `name`, `source` (when known) and
/// `label_point` (lon, lat).
fn zone_properties(z: &Zone) -> Map<String, Value> {
    let mut props = Map::new();
    props.insert("id".into(), json!(z.id));
    props.insert("name".into(), json!(z.name));
    if let Some(s) = &z.source {
        props.insert("source".into(), json!(s));
    }
    props.insert("label_point".into(), label_point_json(&z.geometry));
    props
}

/// One zone as a GeoJSON Feature: the shape of both `leadmap zones show` and `GET /v1/zones/{id}`.
/// Its properties are those of the zone in [`zone_set_to_geojson`], its area on the ellipsoid
/// (`area_km2`, to 0.01 km²) and the set it belongs to (`zone_set`: name, version, status, dates).
#[must_use]
pub fn zone_feature(set: &ZoneSet, zone: &Zone) -> Value {
    let mut props = zone_properties(zone);
    props.insert("area_km2".into(), json!((crate::zones::area_m2(&zone.geometry) / 1e4).round() / 100.0));
    props.insert("zone_set".into(), json!(crate::eligibility::ZoneSetRef::from(set)));
    json!({"type": "Feature", "id": zone.id, "properties": props, "geometry": geometry_json(&zone.geometry)})
}

/// The zone set as a GeoJSON FeatureCollection (RFC 7946; leadmap's zone-file members included, plus
/// `version`).
#[must_use]
pub fn zone_set_to_geojson(set: &ZoneSet) -> Value {
    let m = set.meta();
    let features: Vec<Value> = set
        .zones()
        .iter()
        .map(|z| json!({"type": "Feature", "id": z.id, "properties": zone_properties(z), "geometry": geometry_json(&z.geometry)}))
        .collect();
    let mut doc = Map::new();
    doc.insert("type".into(), json!("FeatureCollection"));
    doc.insert("name".into(), json!(m.name));
    if let Some(t) = &m.title {
        doc.insert("title".into(), json!(t));
    }
    if let Some(d) = &m.description {
        doc.insert("description".into(), json!(d));
    }
    doc.insert("status".into(), json!(m.status));
    if let Some(tz) = m.time_zone {
        doc.insert("time_zone".into(), json!(tz.name()));
    }
    doc.insert("effective_from".into(), json!(m.effective_from));
    doc.insert("effective_to".into(), json!(m.effective_to));
    for (key, reason) in
        [("effective_from_reason", &m.effective_from_reason), ("effective_to_reason", &m.effective_to_reason)]
    {
        if let Some(r) = reason {
            doc.insert(key.into(), json!(r));
        }
    }
    doc.insert("version".into(), json!(set.version()));
    doc.insert("features".into(), Value::Array(features));
    Value::Object(doc)
}

/// Where to write an area's name, `[lon, lat]` (its pole of inaccessibility, inside it), or null for an
/// empty area.
#[must_use]
pub fn label_point_json(area: &MultiPolygon<f64>) -> Value {
    crate::zones::label_point(area).map_or(Value::Null, |(lon, lat)| json!([round7(lon), round7(lat)]))
}

/// Degrees to 7 decimals (about 1 cm), as a label point needs no more.
fn round7(x: f64) -> f64 {
    (x * 1e7).round() / 1e7
}

/// A (multi)polygon as a GeoJSON geometry: `Polygon` when it has one part.
#[must_use]
pub fn geometry_json(g: &MultiPolygon<f64>) -> Value {
    let poly = |p: &geo::Polygon<f64>| -> Value {
        std::iter::once(p.exterior())
            .chain(p.interiors())
            .map(|r| r.0.iter().map(|c| json!([c.x, c.y])).collect::<Vec<_>>())
            .collect::<Vec<_>>()
            .into()
    };
    if g.0.len() == 1 {
        json!({"type": "Polygon", "coordinates": poly(&g.0[0])})
    } else {
        json!({"type": "MultiPolygon", "coordinates": g.0.iter().map(poly).collect::<Vec<_>>()})
    }
}

/// Writes the zone set as FlatGeobuf (MultiPolygon, EPSG:4326, columns `id`, `name`, `source`; the
/// zone-set members go in the header metadata as JSON).
pub fn write_zone_set_fgb(set: &ZoneSet, out: &mut impl Write, target: &str) -> Result<(), ZoneFileError> {
    use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
    use geozero::{ColumnValue, PropertyProcessor};
    let fail = |reason: String| ZoneFileError::Format {
        file: target.to_owned(),
        reason: format!("writing FlatGeobuf: {reason}"),
    };
    let m = set.meta();
    let metadata = json!({
        "name": m.name, "title": m.title, "description": m.description, "status": m.status,
        "time_zone": m.time_zone.map(chrono_tz::Tz::name), "effective_from": m.effective_from, "effective_to": m.effective_to,
        "effective_from_reason": m.effective_from_reason, "effective_to_reason": m.effective_to_reason,
        "version": set.version(),
    })
    .to_string();
    let options = FgbWriterOptions {
        crs: FgbCrs { code: 4326, ..FgbCrs::default() },
        title: m.title.as_deref(),
        description: m.description.as_deref(),
        metadata: Some(&metadata),
        ..FgbWriterOptions::default()
    };
    let mut fgb = FgbWriter::create_with_options(&m.name, GeometryType::MultiPolygon, options)
        .map_err(|e| fail(e.to_string()))?;
    fgb.add_column("id", ColumnType::String, |_, c| c.nullable = false);
    fgb.add_column("name", ColumnType::String, |_, c| c.nullable = false);
    fgb.add_column("source", ColumnType::String, |_, _| {});
    for z in set.zones() {
        let geom = geo::Geometry::MultiPolygon(z.geometry.clone());
        let mut result = Ok(());
        fgb.add_feature_geom(geom, |f| {
            result = f
                .property(0, "id", &ColumnValue::String(z.id.as_str()))
                .and_then(|_| f.property(1, "name", &ColumnValue::String(&z.name)))
                .and_then(|_| match &z.source {
                    Some(s) => f.property(2, "source", &ColumnValue::String(s)),
                    None => Ok(false),
                })
                .map(drop);
        })
        .map_err(|e| fail(e.to_string()))?;
        result.map_err(|e| fail(e.to_string()))?;
    }
    fgb.write(&mut *out).map_err(|e| fail(e.to_string()))?;
    out.flush().map_err(|source| ZoneFileError::Io { file: target.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQUARES: &str = r#"{"type":"FeatureCollection","name":"two","effective_from":"2020-01-01","features":[
      {"type":"Feature","properties":{"NAME":"West Part","pop":1},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}},
      {"type":"Feature","properties":{"NAME":"East Part"},"geometry":{"type":"Polygon","coordinates":[[[1,0],[2,0],[2,1],[1,1],[1,0]]]}},
      {"type":"Feature","properties":{"NAME":"Far"},"geometry":{"type":"Polygon","coordinates":[[[5,5],[6,5],[6,6],[5,6],[5,5]]]}}]}"#;

    #[test]
    fn selection_parses_and_rejects() {
        let s: Selection = "PORTLAND DOWNTOWN=downtown, X=old-town:Old Town".parse().unwrap();
        assert_eq!(s.items()[0].key, "PORTLAND DOWNTOWN");
        assert_eq!(s.items()[1].name.as_deref(), Some("Old Town"));
        assert!("nothing".parse::<Selection>().is_err());
        assert!("A=Not An Id".parse::<Selection>().is_err());
        assert!("A=x,A=y".parse::<Selection>().unwrap_err().contains("selected twice"));
    }

    #[test]
    fn selects_and_merges_features_into_zones() {
        let opts = ZoneFileOptions {
            zone_field: Some("NAME".into()),
            select: Some("West Part=core,East Part=core:Core".parse().unwrap()),
            ..ZoneFileOptions::default()
        };
        let set = parse_zone_geojson(SQUARES, "mem", &opts).unwrap();
        assert_eq!(set.zones().len(), 1);
        let z = &set.zones()[0];
        assert_eq!((z.id.as_str(), z.name.as_str()), ("core", "Core"));
        assert!((geo::Area::unsigned_area(&z.geometry) - 2.0).abs() < 1e-9, "merged area");
        assert_eq!(z.geometry.0.len(), 1, "shared edge dissolved");
        assert_eq!(set.meta().effective_from, NaiveDate::from_ymd_opt(2020, 1, 1));
    }

    #[test]
    fn status_and_date_reasons_are_read_and_written_back() {
        let opts = ZoneFileOptions { zone_field: Some("NAME".into()), ..ZoneFileOptions::default() };
        let unsaid = parse_zone_geojson(SQUARES, "mem", &opts).unwrap();
        assert_eq!(unsaid.meta().status, BoundaryStatus::Unknown, "a file that does not say");
        let text = SQUARES.replacen(
            r#""effective_from":"2020-01-01","#,
            r#""effective_from":"2020-01-01","status":"official","effective_to":"2020-12-31","effective_to_reason":"Replaced.","#,
            1,
        );
        let set = parse_zone_geojson(&text, "mem", &opts).unwrap();
        assert_eq!(set.meta().status, BoundaryStatus::Official);
        assert_eq!(set.meta().effective_to_reason.as_deref(), Some("Replaced."));
        assert_ne!(set.version(), unsaid.version(), "how official a set is changes its answers, so its version");
        let doc = zone_set_to_geojson(&set);
        assert_eq!(
            (doc["status"].as_str(), doc["effective_to_reason"].as_str()),
            (Some("official"), Some("Replaced."))
        );
        let again = parse_zone_geojson(&doc.to_string(), "again", &ZoneFileOptions::default()).unwrap();
        assert_eq!((again.meta(), again.version()), (set.meta(), set.version()));
        let bad = SQUARES.replacen(r#""effective_from":"2020-01-01","#, r#""status":"oficial","#, 1);
        let e = parse_zone_geojson(&bad, "typo.geojson", &opts).unwrap_err().to_string();
        assert!(
            e.contains("typo.geojson") && e.contains("status \"oficial\" is not official, approximation or unknown"),
            "{e}"
        );
    }

    #[test]
    fn without_selection_every_feature_is_a_slugged_zone() {
        let opts = ZoneFileOptions { zone_field: Some("NAME".into()), ..ZoneFileOptions::default() };
        let set = parse_zone_geojson(SQUARES, "mem", &opts).unwrap();
        let ids: Vec<&str> = set.zones().iter().map(|z| z.id.as_str()).collect();
        assert_eq!(ids, ["east-part", "far", "west-part"]);
        assert_eq!(set.zone("far").unwrap().name, "Far");
    }

    #[test]
    fn non_polygon_geometry_is_refused() {
        let text = r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"p","properties":{},
            "geometry":{"type":"Point","coordinates":[-122.6,45.5]}}]}"#;
        let e = parse_zone_geojson(text, "pt.geojson", &ZoneFileOptions::default()).unwrap_err().to_string();
        assert!(
            e.contains(
                "feature 1 (\"p\"): geometry type Point is not supported: zones must be Polygon or MultiPolygon"
            ),
            "{e}"
        );
    }

    #[test]
    fn reserved_ids_are_refused_naming_the_feature() {
        let text = SQUARES.replace("West Part", "Outside");
        let opts = ZoneFileOptions { zone_field: Some("NAME".into()), ..ZoneFileOptions::default() };
        let e = parse_zone_geojson(&text, "r.geojson", &opts).unwrap_err().to_string();
        assert!(e.contains("feature 1 (\"Outside\"): zone id \"outside\" is reserved"), "{e}");
        let sel = ZoneFileOptions { select: Some("East Part=inside".parse().unwrap()), ..opts };
        let e = parse_zone_geojson(SQUARES, "r.geojson", &sel).unwrap_err().to_string();
        assert!(e.contains("feature 2 (\"East Part\"): zone id \"inside\" is reserved"), "{e}");
        let ids = r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"no_program","properties":{},
            "geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}}]}"#;
        let e = parse_zone_geojson(ids, "r.geojson", &ZoneFileOptions::default()).unwrap_err().to_string();
        assert!(e.contains("feature 1 (\"no_program\"): zone id \"no_program\" is reserved"), "{e}");
    }

    #[test]
    fn caps_the_positions_of_a_file_before_validating() {
        let feature = |id: &str, n: usize| {
            let ring = vec!["[0,0]"; n].join(",");
            format!(
                r#"{{"type":"Feature","id":"{id}","properties":{{}},"geometry":{{"type":"Polygon","coordinates":[[{ring}]]}}}}"#
            )
        };
        let file = |a: usize, b: usize| {
            format!(r#"{{"type":"FeatureCollection","features":[{},{}]}}"#, feature("a", a), feature("b", b))
        };
        let opts = ZoneFileOptions::default();
        let e = parse_zone_geojson(&file(MAX_VERTICES / 2, MAX_VERTICES / 2 + 1), "big.geojson", &opts).unwrap_err();
        assert!(
            matches!(e, ZoneFileError::TooManyVertices { count, limit, .. } if count == MAX_VERTICES + 1 && limit == MAX_VERTICES),
            "{e}"
        );
        let text = e.to_string();
        assert!(
            text.starts_with("big.geojson: ") && text.contains("1000001 positions") && text.contains("at most 1000000"),
            "{text}"
        );
        // At the limit the features are validated (these, one point repeated, enclose no area).
        let e = parse_zone_geojson(&file(MAX_VERTICES / 2, MAX_VERTICES / 2), "big.geojson", &opts).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("feature 1 (\"a\")") && text.contains("encloses no area"), "{text}");
    }

    #[test]
    fn errors_name_the_file_the_feature_and_the_reason() {
        let opts = ZoneFileOptions {
            zone_field: Some("NAME".into()),
            select: Some("Nope=x".parse().unwrap()),
            ..ZoneFileOptions::default()
        };
        let e = parse_zone_geojson(SQUARES, "mem.geojson", &opts).unwrap_err().to_string();
        assert!(e.starts_with("mem.geojson:") && e.contains("no feature has NAME = \"Nope\""), "{e}");
        let bad = r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"a","properties":{},
            "geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}}]}"#;
        let e = parse_zone_geojson(bad, "bad.geojson", &ZoneFileOptions::default()).unwrap_err().to_string();
        assert!(e.contains("feature 1 (\"a\")") && e.contains("not closed"), "{e}");
        let crs =
            r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:2913"}},"features":[]}"#;
        let e = parse_zone_geojson(crs, "sp.geojson", &ZoneFileOptions::default()).unwrap_err().to_string();
        assert!(e.contains("EPSG:2913") && e.contains("ogr2ogr"), "{e}");
    }

    #[test]
    fn geojson_and_fgb_round_trip() {
        let opts = ZoneFileOptions { zone_field: Some("NAME".into()), ..ZoneFileOptions::default() };
        let set = parse_zone_geojson(SQUARES, "two", &opts).unwrap();
        let text = zone_set_to_geojson(&set).to_string();
        let again = parse_zone_geojson(&text, "again", &ZoneFileOptions::default()).unwrap();
        assert_eq!(again.version(), set.version());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("two.fgb");
        write_zone_set_fgb(&set, &mut std::fs::File::create(&path).unwrap(), "two.fgb").unwrap();
        let back = read_zone_file(&path, &ZoneFileOptions::default()).unwrap();
        assert_eq!(back.zones().len(), 3);
        assert_eq!(back.meta().name, "two");
        assert_eq!(back.zone("far").unwrap().name, "Far");
    }
}
