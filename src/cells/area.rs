//! Which H3 cells the zones cover (`inside`: the whole hexagon lies in the zones' union; `boundary`: part
//! of it does; `outside`: none), by h3o's tiler in `Covers` mode on the union of the zone polygons, and
//! the study area: every cell over the events' convex hull and the zones, where cells without events are
//! explicit zeros.

use std::collections::{BTreeSet, HashMap};

use geo::{BooleanOps, ConvexHull, MultiPoint, MultiPolygon, Point, Polygon};
use h3o::CellIndex;
use h3o::geom::{ContainmentMode, TilerBuilder};
use serde::Serialize;

use super::CellRes;

/// How a cell relates to the zone set in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    /// The whole hexagon is inside the zones.
    Inside,
    /// The hexagon crosses a zone boundary.
    Boundary,
    /// The hexagon is clear of every zone.
    Outside,
}

impl Relation {
    /// `inside`, `boundary` or `outside`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inside => "inside",
            Self::Boundary => "boundary",
            Self::Outside => "outside",
        }
    }
}

/// The cells, at one resolution, that the zones reach.
#[derive(Clone, Debug, Default)]
pub struct ZoneCover {
    cells: HashMap<CellIndex, Relation>,
}

/// The tiler for `polygons` at `res` in `mode`, or none when h3o refuses a polygon (a degenerate ring;
/// `Covers` would panic on an empty one, so those are left out before).
fn tile(polygons: &MultiPolygon<f64>, res: CellRes, mode: ContainmentMode) -> Vec<h3o::geom::AnnotatedCell> {
    let mut tiler = TilerBuilder::new(res.resolution()).containment_mode(mode).build();
    for p in polygons {
        if p.exterior().0.len() < 4 || geo::Area::unsigned_area(p) <= 0.0 {
            continue;
        }
        // A ring h3o refuses (degenerate after validation) adds nothing.
        let _ = tiler.add(p.clone());
    }
    tiler.into_annotated_coverage().collect()
}

/// The cells at `res` whose centre lies in `polygons` (lon, lat degrees): the cells a cell-based
/// comparison of two areas counts as theirs.
#[must_use]
pub fn centre_cells(polygons: &MultiPolygon<f64>, res: CellRes) -> std::collections::HashSet<CellIndex> {
    tile(polygons, res, ContainmentMode::ContainsCentroid).into_iter().map(|c| c.cell).collect()
}

impl ZoneCover {
    /// The cover of the union of `zones` (lon, lat degrees) at `res`.
    #[must_use]
    pub fn new<'a>(zones: impl IntoIterator<Item = &'a MultiPolygon<f64>>, res: CellRes) -> Self {
        let mut union = MultiPolygon::<f64>::new(Vec::new());
        for z in zones {
            union = union.union(z);
        }
        let mut cells = HashMap::new();
        for c in tile(&union, res, ContainmentMode::Covers) {
            let r = if c.is_fully_contained { Relation::Inside } else { Relation::Boundary };
            cells.entry(c.cell).and_modify(|old: &mut Relation| *old = (*old).min(r)).or_insert(r);
        }
        Self { cells }
    }

    /// How `cell` relates to the zones.
    #[must_use]
    pub fn relation(&self, cell: CellIndex) -> Relation {
        self.cells.get(&cell).copied().unwrap_or(Relation::Outside)
    }

    /// The cells inside or on the boundary.
    pub fn cells(&self) -> impl Iterator<Item = CellIndex> + '_ {
        self.cells.keys().copied()
    }
}

/// The convex hull of `points` (lon, lat), or none for fewer than three distinct points.
#[must_use]
pub fn hull(points: impl IntoIterator<Item = [f64; 2]>) -> Option<Polygon<f64>> {
    let mp: MultiPoint<f64> = points.into_iter().map(|[x, y]| Point::new(x, y)).collect();
    let h = mp.convex_hull();
    (geo::Area::unsigned_area(&h) > 0.0).then_some(h)
}

/// The study area at `res`: every cell touching `hull` (the events' outline), every cell the zones
/// reach, and `also` (cells with events), in cell order.
#[must_use]
pub fn study_area(
    hull: Option<&Polygon<f64>>,
    zones: &ZoneCover,
    also: impl IntoIterator<Item = CellIndex>,
    res: CellRes,
) -> Vec<CellIndex> {
    let mut cells: BTreeSet<CellIndex> = also.into_iter().collect();
    cells.extend(zones.cells());
    if let Some(h) = hull {
        let mp = MultiPolygon::new(vec![h.clone()]);
        cells.extend(tile(&mp, res, ContainmentMode::Covers).into_iter().map(|c| c.cell));
    }
    cells.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, polygon};
    use h3o::{LatLng, Resolution};

    #[test]
    fn cells_are_inside_on_the_boundary_or_outside_of_the_zones_union() {
        // Two squares sharing an edge: a cell across the shared edge is inside the union.
        let west: MultiPolygon<f64> =
            polygon![(x: -122.70, y: 45.50), (x: -122.68, y: 45.50), (x: -122.68, y: 45.52), (x: -122.70, y: 45.52)]
                .into();
        let east: MultiPolygon<f64> =
            polygon![(x: -122.68, y: 45.50), (x: -122.66, y: 45.50), (x: -122.66, y: 45.52), (x: -122.68, y: 45.52)]
                .into();
        let res: CellRes = "10".parse().unwrap();
        let cover = ZoneCover::new([&west, &east], res);
        let on_seam = LatLng::new(45.51, -122.68).unwrap().to_cell(Resolution::Ten);
        assert_eq!(cover.relation(on_seam), Relation::Inside);
        let on_edge = LatLng::new(45.50, -122.67).unwrap().to_cell(Resolution::Ten);
        assert_eq!(cover.relation(on_edge), Relation::Boundary);
        let far = LatLng::new(45.60, -122.67).unwrap().to_cell(Resolution::Ten);
        assert_eq!(cover.relation(far), Relation::Outside);
        // Every inside cell's hexagon lies within the union (to planar-vs-spherical edge rounding); every
        // boundary cell's straddles it.
        let union = west.union(&east);
        for c in cover.cells() {
            let hex = Polygon::new(
                LineString::from(super::super::ring(c).iter().map(|p| (p[0], p[1])).collect::<Vec<_>>()),
                vec![],
            );
            let inside_area = geo::Area::unsigned_area(&union.intersection(&MultiPolygon::new(vec![hex.clone()])));
            let ratio = inside_area / geo::Area::unsigned_area(&hex);
            match cover.relation(c) {
                Relation::Inside => assert!(ratio > 1.0 - 1e-6, "{c}: {ratio}"),
                _ => assert!(ratio < 1.0 - 1e-9, "{c}: {ratio}"),
            }
        }
        let area = study_area(None, &cover, [far], res);
        assert!(area.contains(&far) && area.contains(&on_seam) && area.contains(&on_edge));
    }
}
