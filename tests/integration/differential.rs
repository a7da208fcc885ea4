//! Differential tests: the index against a brute-force loop over every polygon with geo's own
//! `CoordinatePosition` (an independent implementation), the batch grid against the exact test, and
//! both against GEOS/PROJ reference answers made by `tools/reference/make_reference.py`.

use std::collections::BTreeMap;

use geo::coordinate_position::{CoordPos, CoordinatePosition};
use leadmap::coord::LonLat;
use leadmap::formats::zonefile::read_zone_file;
use leadmap::zones::{ZoneIndex, ZoneNo, ZoneSet};
use serde_json::Value;

use crate::support::{CITY_SELECT, city_options, fixture, index, load, repo, shared, stress_points};

/// Brute force with the documented rule: the first zone (in id order) that holds the point, edges
/// included; `on_boundary` when any zone's edge holds it.
fn brute_force(set: &ZoneSet, p: [f64; 2]) -> (Option<usize>, bool) {
    let c = geo::Coord { x: p[0], y: p[1] };
    let pos: Vec<CoordPos> = set.zones().iter().map(|z| z.geometry.coordinate_position(&c)).collect();
    (pos.iter().position(|&q| q != CoordPos::Outside), pos.contains(&CoordPos::OnBoundary))
}

fn assert_index_matches_brute_force(set: &ZoneSet, seed: u64) -> usize {
    let pts = stress_points(set, seed, 20_000);
    let idx = index(set.clone());
    let mut on_edge = 0;
    for p in &pts {
        let expect = brute_force(set, *p);
        assert_eq!(idx.zone_at(p[0], p[1]), expect, "exact index vs brute force at {p:?} in {}", set.meta().name);
        assert_eq!(idx.classify(p[0], p[1]), expect.0, "batch grid vs exact at {p:?} in {}", set.meta().name);
        on_edge += usize::from(expect.1);
    }
    let mut batch = Vec::new();
    idx.classify_batch(&pts, &mut batch);
    assert_eq!(batch.len(), pts.len());
    assert!(batch.iter().zip(&pts).all(|(z, p)| z.map(ZoneNo::index) == idx.zone_at(p[0], p[1]).0));
    on_edge
}

#[test]
fn index_and_grid_equal_brute_force_on_every_fixture_and_builtin_set() {
    for name in ["square", "donut", "shared-edge", "multipolygon", "clockwise"] {
        let on_edge = assert_index_matches_brute_force(&load(&fixture(&format!("{name}.geojson"))), 7);
        assert!(on_edge >= 20, "{name}: the stress points must include points exactly on edges ({on_edge})");
    }
    for set in leadmap::builtin::zone_sets().unwrap() {
        assert_index_matches_brute_force(&set, 11);
    }
}

#[test]
fn index_and_grid_equal_brute_force_on_the_city_file() {
    if !crate::support::have_shared() {
        return;
    }
    let set = read_zone_file(&shared("data/portland/neighborhoods-regions-2021.geojson"), &city_options(CITY_SELECT))
        .unwrap();
    assert_index_matches_brute_force(&set, 13);
}

/// Compares every reference point: zone and `on_boundary` exactly; distance to the centimetre (plus 1 part
/// in 10 000 for far points); nearest zone when outside.
fn check_reference(file: &str, set: ZoneSet) {
    let text = std::fs::read_to_string(repo().join("geodata/fixtures/reference").join(file)).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let idx: ZoneIndex = index(set);
    let zones = idx.set().zones();
    let points = doc["points"].as_array().unwrap();
    assert!(points.len() >= 1000, "{file}: {} points", points.len());
    let mut worst = 0.0f64;
    for p in points {
        let (lon, lat) = (p["lon"].as_f64().unwrap(), p["lat"].as_f64().unwrap());
        let loc = idx.locate(LonLat::new(lon, lat).unwrap());
        let zone = loc.zone.map(|z| zones[z].id.as_str());
        assert_eq!(zone, p["zone"].as_str(), "{file}: zone at ({lon}, {lat}) [{}]", p["kind"]);
        assert_eq!(loc.on_boundary, p["on_boundary"].as_bool().unwrap(), "{file}: on_boundary at ({lon}, {lat})");
        let expect = p["distance_m"].as_f64().unwrap();
        let tol = 0.01 + 1e-4 * expect;
        if expect < 100.0 {
            worst = worst.max((loc.distance_m - expect).abs());
        }
        assert!(
            (loc.distance_m - expect).abs() <= tol,
            "{file}: distance at ({lon}, {lat}): {} m vs reference {expect} m",
            loc.distance_m
        );
        if let Some(nearest) = p["nearest_zone"].as_str()
            && loc.zone.is_none()
        {
            assert_eq!(zones[loc.nearest_zone].id.as_str(), nearest, "{file}: nearest zone at ({lon}, {lat})");
        }
    }
    assert!(worst < 0.01, "{file}: worst distance error within 100 m of an edge: {worst} m");
}

#[test]
fn answers_match_geos_and_proj_reference_on_fixtures() {
    for name in ["square", "donut", "shared-edge", "multipolygon", "clockwise"] {
        check_reference(&format!("{name}.json"), load(&fixture(&format!("{name}.geojson"))));
    }
}

#[test]
fn answers_match_geos_and_proj_reference_on_the_city_file() {
    if !crate::support::have_shared() {
        return;
    }
    let set = read_zone_file(&shared("data/portland/neighborhoods-regions-2021.geojson"), &city_options(CITY_SELECT))
        .unwrap();
    check_reference("portland-city-2021.json", set);
}

/// State Plane and UTM to lon/lat against PROJ (`tools/reference/make_projection_reference.py`): within 1 cm
/// everywhere each system is used (and half a degree beyond).
#[test]
fn projections_match_pyproj_to_the_centimetre() {
    let text = std::fs::read_to_string(fixture("reference/projection.csv")).unwrap();
    let mut worst: f64 = 0.0;
    let mut codes = std::collections::BTreeSet::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let code: u32 = f[0].parse().unwrap();
        let [x, y, lon, lat] = [f[1], f[2], f[3], f[4]].map(|v| v.parse::<f64>().unwrap());
        let crs = leadmap::projection::Crs::from_epsg(code).unwrap();
        let (got_lon, got_lat) = crs.to_lon_lat(x, y);
        let scale = leadmap::geodesy::LocalScale::at_lat(lat);
        let err_m = scale.offset_m([lon, lat], [got_lon, got_lat]);
        let err = err_m[0].hypot(err_m[1]);
        assert!(err < 0.01, "EPSG:{code} ({x}, {y}): ({got_lon}, {got_lat}) vs pyproj ({lon}, {lat}): {err} m");
        worst = worst.max(err);
        codes.insert(code);
    }
    assert!(codes.len() >= 12, "every system is covered: {codes:?}");
    eprintln!("worst projection error vs pyproj: {worst:.2e} m");
}

#[test]
fn h3_cells_and_parents_match_h3_py() {
    // geodata/fixtures/reference/h3_cells.csv: tools/reference/make_h3_reference.py (h3-py 4.5.0).
    let path = repo().join("geodata/fixtures/reference/h3_cells.csv");
    let mut rdr = csv::Reader::from_path(path).unwrap();
    let (mut rows, mut moved) = (0, 0);
    for rec in rdr.records().map(Result::unwrap) {
        let (lon, lat): (f64, f64) = (rec[0].parse().unwrap(), rec[1].parse().unwrap());
        let hex = |c: u64| format!("{c:x}");
        // What the store keeps for an event (h3o takes latitude first).
        let cell = leadmap::events::h3_res15(LonLat::new(lon, lat).unwrap());
        assert_eq!(hex(cell), &rec[2], "res 15 at ({lon}, {lat})");
        let cell = h3o::CellIndex::try_from(cell).unwrap();
        for (k, res) in (5u8..=12).enumerate() {
            let parent = cell.parent(h3o::Resolution::try_from(res).unwrap()).unwrap();
            assert_eq!(hex(u64::from(parent)), &rec[3 + k], "parent at res {res} of ({lon}, {lat})");
        }
        for (k, res) in (5u8..=12).enumerate() {
            let direct = h3o::LatLng::new(lat, lon).unwrap().to_cell(h3o::Resolution::try_from(res).unwrap());
            assert_eq!(hex(u64::from(direct)), &rec[11 + k], "res {res} of ({lon}, {lat})");
        }
        rows += 1;
        moved += usize::from(rec[15] != rec[7]);
    }
    assert!(rows > 4000);
    // H3 cells do not nest: the res-9 ancestor of a point's res-15 cell is not always the res-9 cell
    // the point lies in (here 279 of 4006 points, about 7 %, all near res-9 edges).
    assert_eq!(moved, 279);
}

#[test]
fn gi_star_matches_esda_g_local_star_binary() {
    // geodata/fixtures/reference/gistar.csv: tools/reference/make_gistar_reference.py, PySAL esda 2.9.0
    // G_Local(y, w, transform='B', star=True) over H3 k-rings (self weight 1); p_norm is one-sided.
    let path = repo().join("geodata/fixtures/reference/gistar.csv");
    let mut cases: BTreeMap<(String, u32), Vec<csv::StringRecord>> = BTreeMap::new();
    for rec in csv::Reader::from_path(path).unwrap().records().map(Result::unwrap) {
        cases.entry((rec[0].to_owned(), rec[2].parse().unwrap())).or_default().push(rec);
    }
    assert_eq!(cases.len(), 4);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    for ((case, k), rows) in &cases {
        let cells: Vec<h3o::CellIndex> = rows.iter().map(|r| r[3].parse().unwrap()).collect();
        let values: Vec<f64> = rows.iter().map(|r| r[4].parse().unwrap()).collect();
        let gi = leadmap::hotspots::gi_star(&cells, &values, *k);
        for (r, g) in rows.iter().zip(&gi) {
            let (z, p_one): (f64, f64) = (r[6].parse().unwrap(), r[7].parse().unwrap());
            assert_eq!(g.neighbours, r[5].parse::<u32>().unwrap(), "{case} {}", &r[3]);
            let got = g.z.unwrap();
            assert!(close(got, z), "{case} {}: z {got} vs esda {z}", &r[3]);
            assert!(close(g.p.unwrap(), 2.0 * p_one), "{case} {}: p {:?} vs 2 x {p_one}", &r[3], g.p);
        }
        assert!(gi.iter().any(|g| g.bin == 3), "{case}: a hot spot at 99 %");
    }
}
