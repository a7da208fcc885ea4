//! File formats at leadmap's edges: zone-set files (GeoJSON, FlatGeobuf) in and out, point files
//! (CSV, GeoJSON) for bulk classification, and the header of a PMTiles base-map archive. Turns bytes into domain types; no HTTP here.

pub mod cells;
mod contain;
pub mod events;
mod fgbframes;
pub mod geometry;
pub mod json;
pub mod pmtiles;
pub mod points;
pub mod proposal;
pub mod rawpoints;
pub mod zonefile;
