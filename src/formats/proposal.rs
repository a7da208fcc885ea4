//! A proposal as submitted (JSON): a name and either a whole zone set (a GeoJSON zone file), edits
//! against a loaded set (add, replace or remove a zone), or whole H3 cells; read into a zone set
//! validated exactly as zone files are, with their messages.

use std::str::FromStr;

use h3o::CellIndex;
use serde_json::{Value, json};

use super::zonefile::{ZoneFileError, ZoneFileOptions, zone_set_from_value};
use crate::zones::{Zone, ZoneCatalog, ZoneError, ZoneId, ZoneSet, ZoneSetMeta};

/// The most cells a cell proposal may hold.
pub const MAX_PROPOSAL_CELLS: usize = 20_000;
/// The longest name.
pub const MAX_NAME_CHARS: usize = 100;

/// Why a submission is refused.
#[derive(Debug, thiserror::Error)]
pub enum ProposalError {
    /// The body's shape is wrong.
    #[error("{0}")]
    Shape(String),
    /// The zone set is not a valid zone file (the zone file's own message).
    #[error(transparent)]
    Zones(#[from] ZoneFileError),
    /// The edited set is not a valid zone set.
    #[error("{0}")]
    Set(#[from] ZoneError),
}

/// A submission read and validated.
#[derive(Debug)]
pub struct Submitted {
    /// The proposal's name.
    pub name: String,
    /// Its zone set.
    pub set: ZoneSet,
    /// For a cell proposal, its cells.
    pub cells: Option<Vec<CellIndex>>,
}

fn shape(msg: impl Into<String>) -> ProposalError {
    ProposalError::Shape(msg.into())
}

/// Reads a submission: `{"name", "zones": FeatureCollection}`, `{"name", "base": SET, "edits": [{"op":
/// "add"|"replace", "feature": Feature} | {"op": "remove", "zone": ID}]}` or `{"name", "cells": [hex,
/// ...]}` (one resolution, `max_res` or coarser, 5 at the coarsest). `cells_only`: anything but cells is
/// refused (the planner role).
pub fn read_submission(
    body: &Value,
    catalog: &ZoneCatalog,
    cells_only: bool,
    max_res: u8,
) -> Result<Submitted, ProposalError> {
    let obj = body.as_object().ok_or_else(|| shape("the body is not a JSON object: give {\"name\", \"zones\"}, {\"name\", \"base\", \"edits\"} or {\"name\", \"cells\"}"))?;
    if let Some(k) = obj.keys().find(|k| !["name", "zones", "base", "edits", "cells"].contains(&k.as_str())) {
        return Err(shape(format!("unknown member {k:?}: a proposal has name and one of zones, base + edits, cells")));
    }
    let name = obj.get("name").and_then(Value::as_str).map(str::trim).unwrap_or_default();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(shape(format!("name: give the proposal a name of 1 to {MAX_NAME_CHARS} printable characters")));
    }
    let ways = ["zones", "edits", "cells"].iter().filter(|k| obj.contains_key(**k)).count();
    if ways != 1 {
        return Err(shape("give exactly one of zones (a whole zone set), base + edits, or cells"));
    }
    if cells_only && !obj.contains_key("cells") {
        return Err(shape(format!(
            "the planner role submits proposals made of whole H3 cells at resolution {max_res} or coarser ({{\"name\", \"cells\": [\"89283082803ffff\", ...]}}): a free polygon could single out a few records by its difference from another; free polygons need the analyst role"
        )));
    }
    let meta = ZoneSetMeta { name: name.to_owned(), ..ZoneSetMeta::default() };
    if let Some(zones) = obj.get("zones") {
        let mut set = zone_set_from_value(zones, "zones", &ZoneFileOptions::default())?;
        // The set is named by the proposal (its dates, if any, are kept).
        let mut m = set.meta().clone();
        name.clone_into(&mut m.name);
        set = ZoneSet::new(m, set.zones().to_vec())?;
        return Ok(Submitted { name: name.to_owned(), set, cells: None });
    }
    if let Some(edits) = obj.get("edits") {
        let base_name = obj
            .get("base")
            .and_then(Value::as_str)
            .ok_or_else(|| shape("edits need a base: the name of a loaded zone set"))?;
        let base = catalog.indexes().iter().find(|i| i.set().meta().name == base_name).ok_or_else(|| {
            let names: Vec<&str> = catalog.indexes().iter().map(|i| i.set().meta().name.as_str()).collect();
            shape(format!("base {base_name:?} is not a loaded zone set; loaded: {}", names.join(", ")))
        })?;
        let zones = apply_edits(base.set(), edits)?;
        return Ok(Submitted { name: name.to_owned(), set: ZoneSet::new(meta, zones)?, cells: None });
    }
    if obj.contains_key("base") {
        return Err(shape("base goes with edits"));
    }
    let cells = read_cells(obj.get("cells").unwrap_or(&Value::Null), max_res)?;
    let geometry = h3o::geom::SolventBuilder::new()
        .build()
        .dissolve(cells.iter().copied())
        .map_err(|e| shape(format!("cells: cannot join them into a polygon: {e}")))?;
    let zone = Zone {
        id: ZoneId::from_str("cells").map_err(ProposalError::Set)?,
        name: name.to_owned(),
        geometry,
        source: None,
    };
    Ok(Submitted { name: name.to_owned(), set: ZoneSet::new(meta, vec![zone])?, cells: Some(cells) })
}

fn read_cells(v: &Value, max_res: u8) -> Result<Vec<CellIndex>, ProposalError> {
    let list = v.as_array().ok_or_else(|| shape("cells: a list of H3 cell ids (hex strings)"))?;
    if list.is_empty() || list.len() > MAX_PROPOSAL_CELLS {
        return Err(shape(format!("cells: give 1 to {MAX_PROPOSAL_CELLS} cells")));
    }
    let mut cells = Vec::with_capacity(list.len());
    for (i, c) in list.iter().enumerate() {
        let text = c.as_str().ok_or_else(|| shape(format!("cells[{i}]: not a string")))?;
        let cell = CellIndex::from_str(text).map_err(|e| shape(format!("cells[{i}] {text:?}: not an H3 cell: {e}")))?;
        let res = u8::from(cell.resolution());
        if !(5..=max_res).contains(&res) {
            return Err(shape(format!("cells[{i}] {text:?} is at resolution {res}: use resolutions 5 to {max_res}")));
        }
        cells.push(cell);
    }
    let first = cells[0].resolution();
    if let Some(i) = cells.iter().position(|c| c.resolution() != first) {
        return Err(shape(format!(
            "cells[{i}] is at resolution {}, cells[0] at {first}: give one resolution",
            cells[i].resolution()
        )));
    }
    cells.sort_unstable();
    cells.dedup();
    Ok(cells)
}

/// The base set's zones with the edits applied, in order.
fn apply_edits(base: &ZoneSet, edits: &Value) -> Result<Vec<Zone>, ProposalError> {
    let list =
        edits.as_array().ok_or_else(|| shape("edits: a list of {\"op\": \"add\" | \"replace\" | \"remove\", ...}"))?;
    let mut zones: Vec<Zone> = base.zones().to_vec();
    for (i, e) in list.iter().enumerate() {
        let op = e.get("op").and_then(Value::as_str).unwrap_or_default();
        match op {
            "add" | "replace" => {
                let feature = e.get("feature").ok_or_else(|| shape(format!("edits[{i}]: {op} needs a feature")))?;
                let doc = json!({"type": "FeatureCollection", "features": [feature]});
                let set = zone_set_from_value(&doc, &format!("edits[{i}]"), &ZoneFileOptions::default())?;
                for z in set.zones() {
                    let at = zones.iter().position(|x| x.id == z.id);
                    match (op, at) {
                        ("add", Some(_)) => {
                            return Err(shape(format!(
                                "edits[{i}]: zone {} is already in {}: use replace",
                                z.id,
                                base.meta().name
                            )));
                        }
                        ("replace", None) => {
                            return Err(shape(format!(
                                "edits[{i}]: zone {} is not in {}: use add",
                                z.id,
                                base.meta().name
                            )));
                        }
                        (_, Some(at)) => zones[at] = z.clone(),
                        (_, None) => zones.push(z.clone()),
                    }
                }
            }
            "remove" => {
                let id = e
                    .get("zone")
                    .and_then(Value::as_str)
                    .ok_or_else(|| shape(format!("edits[{i}]: remove needs a zone id")))?;
                let before = zones.len();
                zones.retain(|z| z.id.as_str() != id);
                if zones.len() == before {
                    return Err(shape(format!("edits[{i}]: zone {id:?} is not in {}", base.meta().name)));
                }
            }
            other => return Err(shape(format!("edits[{i}]: op {other:?}: use add, replace or remove"))),
        }
    }
    if zones.is_empty() {
        return Err(shape("the edits leave no zone"));
    }
    Ok(zones)
}
