//! The eligibility answer rendered without a serializer: one template per zone set, filled per point
//! (single answers and each item of a batch), and a batch's answers written in input order.
use chrono::NaiveDate;

use super::scanner::{BatchPoints, in_parallel, worker_threads};
use super::{AccuracyM, BatchAnswer, LonLat, ZoneRef, ZoneSetRef, round_cm};
use crate::zones::{Location, ZoneIndex};

/// A JSON boolean.
pub(super) fn flag(b: bool) -> &'static [u8] {
    if b { b"true" } else { b"false" }
}

/// The constant parts of one zone set's [`PointEligibility`] answers on dates its program is in force,
/// rendered once when the set is loaded, so that answering a point writes only what varies.
/// [`AnswerTemplate::render`] gives the bytes serializing a [`PointEligibility`] would.
#[derive(Debug)]
pub struct AnswerTemplate {
    /// `{"id":..,"name":..}` of each zone.
    zones: Vec<Vec<u8>>,
    /// `,"zone_set":{..}}`
    tail: Vec<u8>,
}

impl AnswerTemplate {
    /// Renders the constant parts for `index` (serializing plain structs into memory does not fail in
    /// practice; if it did, answers would be serialized whole instead).
    pub fn new(index: &ZoneIndex) -> Result<Self, serde_json::Error> {
        let zones =
            index.set().zones().iter().map(|z| serde_json::to_vec(&ZoneRef::from(z))).collect::<Result<_, _>>()?;
        let mut tail = b",\"zone_set\":".to_vec();
        serde_json::to_writer(&mut tail, &ZoneSetRef::from(index.set()))?;
        tail.push(b'}');
        Ok(Self { zones, tail })
    }

    /// The answer for `point` located as `loc` (with `borderline_m`) on `at`, a date a program is in force.
    pub(super) fn render(
        &self,
        loc: &Location,
        point: LonLat,
        at: NaiveDate,
        borderline_m: f64,
    ) -> Result<Vec<u8>, serde_json::Error> {
        let zone_or_null = |z: Option<usize>| z.map_or(&b"null"[..], |z| self.zones[z].as_slice());
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(b"{\"eligible\":");
        out.extend_from_slice(flag(loc.zone.is_some()));
        out.extend_from_slice(b",\"program_in_force\":true,\"program_note\":null,\"zone\":");
        out.extend_from_slice(zone_or_null(loc.zone));
        out.extend_from_slice(b",\"on_boundary\":");
        out.extend_from_slice(flag(loc.on_boundary));
        out.extend_from_slice(b",\"borderline\":");
        out.extend_from_slice(flag(loc.borderline));
        out.extend_from_slice(b",\"distance_m\":");
        serde_json::to_writer(&mut out, &round_cm(loc.distance_m))?;
        out.extend_from_slice(b",\"coverage_borderline\":");
        out.extend_from_slice(flag(loc.coverage_borderline));
        out.extend_from_slice(b",\"coverage_distance_m\":");
        serde_json::to_writer(&mut out, &round_cm(loc.coverage_distance_m))?;
        out.extend_from_slice(b",\"nearest_zone\":");
        out.extend_from_slice(zone_or_null(loc.zone.is_none().then_some(loc.nearest_zone)));
        out.extend_from_slice(b",\"borderline_m\":");
        serde_json::to_writer(&mut out, &borderline_m)?;
        out.extend_from_slice(b",\"point\":{\"lon\":");
        serde_json::to_writer(&mut out, &point.lon())?;
        out.extend_from_slice(b",\"lat\":");
        serde_json::to_writer(&mut out, &point.lat())?;
        out.extend_from_slice(b"},\"at\":");
        serde_json::to_writer(&mut out, &at)?;
        out.extend_from_slice(&self.tail);
        Ok(out)
    }
}

/// Writes the [`BatchItem`] of `loc` as serializing it would (the batch's hot loop: fixed keys, zone ids
/// escaped beforehand in `ids`, numbers formatted by `serde_json`). `own_borderline_m` is the point's
/// own accuracy, when its feature gave one.
pub(super) fn write_item(
    out: &mut Vec<u8>,
    loc: &Location,
    ids: &[Vec<u8>],
    in_force: bool,
    own_borderline_m: Option<f64>,
) -> Result<(), serde_json::Error> {
    let zone_or_null = |z: Option<usize>| z.map_or(&b"null"[..], |z| ids[z].as_slice());
    out.extend_from_slice(b"{\"eligible\":");
    out.extend_from_slice(flag(in_force && loc.zone.is_some()));
    out.extend_from_slice(b",\"zone\":");
    out.extend_from_slice(zone_or_null(loc.zone));
    out.extend_from_slice(b",\"on_boundary\":");
    out.extend_from_slice(flag(loc.on_boundary));
    out.extend_from_slice(b",\"borderline\":");
    out.extend_from_slice(flag(loc.borderline));
    out.extend_from_slice(b",\"coverage_borderline\":");
    out.extend_from_slice(flag(loc.coverage_borderline));
    out.extend_from_slice(b",\"distance_m\":");
    serde_json::to_writer(&mut *out, &round_cm(loc.distance_m))?;
    out.extend_from_slice(b",\"nearest_zone\":");
    out.extend_from_slice(zone_or_null(loc.zone.is_none().then_some(loc.nearest_zone)));
    if let Some(m) = own_borderline_m {
        out.extend_from_slice(b",\"borderline_m\":");
        serde_json::to_writer(&mut *out, &m)?;
    }
    out.push(b'}');
    Ok(())
}

/// What a batch is answered with: the zone set (in force, else the nearest), the date, whether a
/// program is in force (and why not), and the batch's borderline distance.
pub(super) struct BatchContext {
    pub(super) index: std::sync::Arc<ZoneIndex>,
    pub(super) at: NaiveDate,
    pub(super) program_note: Option<String>,
    pub(super) borderline_m: f64,
}

/// The JSON of a [`BatchAnswer`] for `points`, byte for byte what serializing one would give. Answering
/// and serializing are split across the CPU cores for large batches (each core renders its own run of
/// `results`; the runs are joined in order).
pub(super) fn render_batch(batch: &BatchContext, input: &BatchPoints) -> Result<Vec<u8>, serde_json::Error> {
    let index = &batch.index;
    let in_force = batch.program_note.is_none();
    // Zone ids as JSON strings, escaped once.
    let ids = index.set().zones().iter().map(|z| serde_json::to_vec(z.id.as_str())).collect::<Result<Vec<_>, _>>()?;
    let points = &input.points;
    let render = |(start, chunk): (usize, &[LonLat])| -> Result<Vec<u8>, serde_json::Error> {
        let mut out = Vec::with_capacity(chunk.len() * 160);
        for (i, p) in chunk.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let own = input.accuracies.as_ref().and_then(|a| a[start + i]).map(AccuracyM::metres);
            let loc = index.locate_within(*p, own.unwrap_or(batch.borderline_m));
            write_item(&mut out, &loc, &ids, in_force, own)?;
        }
        Ok(out)
    };
    let threads = worker_threads(points.len());
    let runs = if threads < 2 {
        vec![render((0, points))?]
    } else {
        let chunk = points.len().div_ceil(threads);
        let chunks = points.chunks(chunk).enumerate().map(|(k, c)| (k * chunk, c)).collect();
        in_parallel(chunks, render).into_iter().collect::<Result<Vec<_>, _>>()?
    };
    let head = BatchAnswer {
        at: batch.at,
        program_in_force: in_force,
        program_note: batch.program_note.clone(),
        zone_set: ZoneSetRef::from(index.set()),
        borderline_m: batch.borderline_m,
        count: points.len(),
        results: Vec::new(),
    };
    let mut out = serde_json::to_vec(&head)?;
    // `head` ends in `"results":[]}`: open the array again and append the runs.
    out.truncate(out.len() - 2);
    out.reserve(runs.iter().map(|r| r.len() + 1).sum::<usize>() + 2);
    for (i, run) in runs.iter().filter(|r| !r.is_empty()).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(run);
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}
