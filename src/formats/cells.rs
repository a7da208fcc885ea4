//! Cell answers out: CSV with a `hex_id` column (kepler.gl makes an H3 layer of it as it is), GeoJSON
//! hexagons (RFC 7946, lon/lat), FlatGeobuf; and expansion candidates as GeoJSON outlines. Hotspot columns
//! carry `ArcGIS`'s names (`GiZScore`, `GiPValue`, `Gi_Bin`, plus `Gi_Bin_FDR`, `NNeighbors`). A withheld
//! count is an empty CSV field, a JSON `null`, or an absent FlatGeobuf property, with `suppressed` true.

use std::io::{self, Write};

use crate::cells::ring;
use crate::figures::Count;
use crate::figures::cells::{CellFigure, CellFigures};

/// An output format for cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CellFormat {
    /// CSV, one row per cell.
    Csv,
    /// GeoJSON `FeatureCollection` of hexagons.
    Geojson,
    /// FlatGeobuf, hexagon polygons.
    Fgb,
}

impl CellFormat {
    /// From a file name's extension (`.csv`, `.geojson`/`.json`, `.fgb`).
    #[must_use]
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Self::Csv),
            "geojson" | "json" => Some(Self::Geojson),
            "fgb" => Some(Self::Fgb),
            _ => None,
        }
    }

    /// The media type.
    #[must_use]
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Geojson => "application/geo+json",
            Self::Fgb => "application/flatgeobuf",
        }
    }
}

/// The columns after `hex_id`, in order.
fn header(f: &CellFigures) -> Vec<&'static str> {
    let mut h = vec!["count"];
    if f.kinds {
        h.extend(["arrest", "diversion_referral", "social_contact_referral", "offense_report", "suppressed"]);
    }
    h.push("relation");
    if f.k_ring.is_some() {
        h.extend(["GiZScore", "GiPValue", "Gi_Bin", "Gi_Bin_FDR", "NNeighbors"]);
    }
    h
}

/// A column's value as text; none for a null.
fn value(row: &CellFigure, column: &str) -> Option<String> {
    let count = |c: Count| c.0.map(|v| v.to_string());
    let hot = row.hotspot;
    match column {
        "count" => count(row.count),
        "arrest" => count(row.arrest),
        "diversion_referral" => count(row.diversion_referral),
        "social_contact_referral" => count(row.social_contact_referral),
        "offense_report" => count(row.offense_report),
        "suppressed" => Some(row.suppressed.to_string()),
        "relation" => Some(row.relation.as_str().to_owned()),
        "GiZScore" => hot.and_then(|h| h.z).map(|z| z.to_string()),
        "GiPValue" => hot.and_then(|h| h.p).map(|p| p.to_string()),
        "Gi_Bin" => hot.map(|h| h.bin.to_string()),
        "Gi_Bin_FDR" => hot.map(|h| h.bin_fdr.to_string()),
        "NNeighbors" => hot.map(|h| h.neighbours.to_string()),
        _ => None,
    }
}

/// Whether a column holds text (the rest are numbers or booleans).
fn is_text(column: &str) -> bool {
    column == "relation"
}

/// Writes `figures` as CSV: `hex_id`, `count`, the kinds and `suppressed` (store answers), `relation`,
/// and the hotspot columns (hotspot answers).
pub fn write_csv(figures: &CellFigures, out: &mut impl Write) -> io::Result<()> {
    let cols = header(figures);
    writeln!(out, "hex_id,{}", cols.join(","))?;
    for row in &figures.rows {
        write!(out, "{}", row.cell)?;
        for c in &cols {
            write!(out, ",{}", value(row, c).unwrap_or_default())?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Writes `figures` as a GeoJSON `FeatureCollection`: each cell a Polygon with `hex_id` as its id and
/// property, and the answer's resolution, k-ring and suppression threshold as foreign members.
pub fn write_geojson(figures: &CellFigures, out: &mut impl Write) -> io::Result<()> {
    let cols = header(figures);
    write!(out, r#"{{"type":"FeatureCollection","resolution":{}"#, figures.res)?;
    if let Some(k) = figures.k_ring {
        write!(out, r#","k_ring":{k},"p_value":"two-sided, normal approximation""#)?;
    }
    match figures.disclosure {
        crate::figures::Disclosure::Exact => write!(out, r#","suppressed_from_to":null"#)?,
        crate::figures::Disclosure::Suppressed { k } => write!(out, r#","suppressed_from_to":[1,{k}]"#)?,
        crate::figures::Disclosure::Perturbed(_) => write!(
            out,
            r#","suppressed_from_to":null,"perturbed":{}"#,
            serde_json::to_string(&figures.disclosure.perturbation()).map_err(io::Error::other)?
        )?,
    }
    write!(out, r#","features":["#)?;
    for (i, row) in figures.rows.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        write!(out, r#"{{"type":"Feature","id":"{}","geometry":{{"type":"Polygon","coordinates":[["#, row.cell)?;
        for (j, [x, y]) in ring(row.cell).iter().enumerate() {
            if j > 0 {
                out.write_all(b",")?;
            }
            // 7 decimals: about a centimetre, well under what H3 or the data can tell apart.
            write!(out, "[{x:.7},{y:.7}]")?;
        }
        write!(out, r#"]]}},"properties":{{"hex_id":"{}""#, row.cell)?;
        for c in &cols {
            match value(row, c) {
                None => write!(out, r#","{c}":null"#)?,
                Some(v) if is_text(c) => write!(out, r#","{c}":"{v}""#)?,
                Some(v) => write!(out, r#","{c}":{v}"#)?,
            }
        }
        out.write_all(b"}}")?;
    }
    out.write_all(b"]}")?;
    Ok(())
}

/// Writes `figures` as FlatGeobuf (Polygon, EPSG:4326; columns `hex_id` then the CSV's, a withheld
/// count left out of its feature).
pub fn write_fgb(figures: &CellFigures, out: &mut impl Write) -> io::Result<()> {
    use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
    let fail = |e: &dyn std::fmt::Display| io::Error::other(format!("writing FlatGeobuf: {e}"));
    let options = FgbWriterOptions { crs: FgbCrs { code: 4326, ..FgbCrs::default() }, ..FgbWriterOptions::default() };
    let mut fgb = FgbWriter::create_with_options("cells", GeometryType::Polygon, options).map_err(|e| fail(&e))?;
    let cols = header(figures);
    fgb.add_column("hex_id", ColumnType::String, |_, c| c.nullable = false);
    for c in &cols {
        let ty = match *c {
            "relation" => ColumnType::String,
            "suppressed" => ColumnType::Bool,
            "GiZScore" | "GiPValue" => ColumnType::Double,
            "Gi_Bin" | "Gi_Bin_FDR" => ColumnType::Byte,
            _ => ColumnType::ULong,
        };
        fgb.add_column(c, ty, |_, _| {});
    }
    for row in &figures.rows {
        let polygon = geo::Polygon::new(ring(row.cell).iter().map(|p| (p[0], p[1])).collect(), vec![]);
        let mut result = Ok(());
        let hex = row.cell.to_string();
        fgb.add_feature_geom(geo::Geometry::Polygon(polygon), |f| result = fgb_properties(f, row, &hex, &cols))
            .map_err(|e| fail(&e))?;
        result.map_err(|e| fail(&e))?;
    }
    fgb.write(out).map_err(|e| fail(&e))
}

/// One feature's properties (a withheld count left out).
fn fgb_properties(
    f: &mut impl geozero::PropertyProcessor,
    row: &CellFigure,
    hex: &str,
    cols: &[&str],
) -> Result<(), geozero::error::GeozeroError> {
    use geozero::ColumnValue;
    f.property(0, "hex_id", &ColumnValue::String(hex))?;
    let hot = row.hotspot;
    for (i, c) in cols.iter().enumerate() {
        let count = |v: Count| v.0.map(ColumnValue::ULong);
        let v = match *c {
            "count" => count(row.count),
            "arrest" => count(row.arrest),
            "diversion_referral" => count(row.diversion_referral),
            "social_contact_referral" => count(row.social_contact_referral),
            "offense_report" => count(row.offense_report),
            "suppressed" => Some(ColumnValue::Bool(row.suppressed)),
            "relation" => Some(ColumnValue::String(row.relation.as_str())),
            "GiZScore" => hot.and_then(|h| h.z).map(ColumnValue::Double),
            "GiPValue" => hot.and_then(|h| h.p).map(ColumnValue::Double),
            "Gi_Bin" => hot.map(|h| ColumnValue::Byte(h.bin)),
            "Gi_Bin_FDR" => hot.map(|h| ColumnValue::Byte(h.bin_fdr)),
            _ => hot.map(|h| ColumnValue::ULong(u64::from(h.neighbours))),
        };
        if let Some(v) = v {
            f.property(i + 1, c, &v)?;
        }
    }
    Ok(())
}

/// Writes `figures` in `format`.
pub fn write_cells(figures: &CellFigures, format: CellFormat, out: &mut impl Write) -> io::Result<()> {
    match format {
        CellFormat::Csv => write_csv(figures, out),
        CellFormat::Geojson => write_geojson(figures, out),
        CellFormat::Fgb => write_fgb(figures, out),
    }
}

/// The expansion candidates as a GeoJSON `FeatureCollection`: one (Multi)Polygon outline each, with
/// `rank`, `contacts` (null when withheld), `cells` (their count) and `hex_ids`.
#[must_use]
pub fn candidates_geojson(figures: &CellFigures) -> serde_json::Value {
    let features: Vec<serde_json::Value> = figures
        .candidates
        .iter()
        .map(|c| {
            let polys: Vec<serde_json::Value> = c
                .outline
                .0
                .iter()
                .map(|p| {
                    std::iter::once(p.exterior())
                        .chain(p.interiors())
                        .map(|r| r.0.iter().map(|q| serde_json::json!([q.x, q.y])).collect::<Vec<_>>())
                        .collect::<Vec<_>>()
                        .into()
                })
                .collect();
            let geometry = if polys.len() == 1 {
                serde_json::json!({"type": "Polygon", "coordinates": polys[0]})
            } else {
                serde_json::json!({"type": "MultiPolygon", "coordinates": polys})
            };
            serde_json::json!({
                "type": "Feature",
                "id": c.rank,
                "geometry": geometry,
                "properties": {
                    "rank": c.rank,
                    "contacts": c.contacts.0,
                    "suppressed": c.contacts.0.is_none(),
                    "cells": c.cells.len(),
                    "hex_ids": c.cells.iter().map(ToString::to_string).collect::<Vec<_>>(),
                },
            })
        })
        .collect();
    serde_json::json!({
        "type": "FeatureCollection",
        "resolution": u8::from(figures.res.resolution()),
        "k_ring": figures.k_ring,
        "rule": "clusters of cells hot at 95 % or more after Benjamini-Hochberg FDR control (Gi_Bin_FDR >= 2), outside every zone, ranked by contacts",
        "perturbed": figures.disclosure.perturbation(),
        "features": features,
    })
}

/// Cells a proposal gains and loses as a GeoJSON FeatureCollection of hexagons (lon/lat), each with its
/// `cell`, `change` (`gained` or `lost`) and `contacts`; for a map to draw over the current areas.
#[must_use]
pub fn changed_cells_geojson<'a>(
    gained: impl IntoIterator<Item = (&'a str, u64)>,
    lost: impl IntoIterator<Item = (&'a str, u64)>,
) -> serde_json::Value {
    let feature = |(cell, contacts): (&str, u64), change: &str| -> Option<serde_json::Value> {
        let index: h3o::CellIndex = cell.parse().ok()?;
        Some(serde_json::json!({
            "type": "Feature",
            "id": cell,
            "geometry": {"type": "Polygon", "coordinates": [ring(index)]},
            "properties": {"cell": cell, "change": change, "contacts": contacts},
        }))
    };
    let features: Vec<serde_json::Value> = gained
        .into_iter()
        .filter_map(|c| feature(c, "gained"))
        .chain(lost.into_iter().filter_map(|c| feature(c, "lost")))
        .collect();
    serde_json::json!({"type": "FeatureCollection", "features": features})
}

/// An impact's cells gained and lost as GeoJSON (see [`changed_cells_geojson`]).
#[must_use]
pub fn impact_cells_geojson(c: &crate::proposals::CellsImpact) -> serde_json::Value {
    changed_cells_geojson(
        c.gained.iter().map(|x| (x.cell.as_str(), x.contacts)),
        c.lost.iter().map(|x| (x.cell.as_str(), x.contacts)),
    )
}
