//! The fixture shapes load with the documented boundary rule, and every invalid fixture is refused with
//! an error naming the file, the feature and the reason.

use leadmap::coord::LonLat;
use leadmap::formats::zonefile::ZoneFileOptions;
use leadmap::formats::zonefile::read_zone_file;

use crate::support::{fixture, index, load};

#[test]
fn square_edges_and_vertices_are_inside() {
    let idx = index(load(&fixture("square.geojson")));
    // Points from the fixture's description (exactly representable in binary).
    assert_eq!(idx.zone_at(-122.677_734_375, 45.521_484_375), (Some(0), false));
    assert_eq!(idx.zone_at(-122.675_781_25, 45.521_484_375), (Some(0), true), "east edge");
    assert_eq!(idx.zone_at(-122.675_781_25, 45.523_437_5), (Some(0), true), "vertex");
    assert_eq!(idx.zone_at(-122.674_804_687_5, 45.521_484_375), (None, false));
    let outside = idx.locate(LonLat::new(-122.674_804_687_5, 45.521_484_375).unwrap());
    // 1/1024 degree of longitude at 45.52° N is about 76.3 m.
    assert!((outside.distance_m - 76.3).abs() < 0.2, "{outside:?}");
    assert!(!outside.borderline);
}

#[test]
fn clockwise_and_counter_clockwise_rings_answer_alike() {
    let cw = index(load(&fixture("clockwise.geojson")));
    let set = cw.set().clone();
    let z = &set.zones()[0];
    let c = geo::Centroid::centroid(&z.geometry).unwrap();
    assert_eq!(cw.zone_at(c.x(), c.y()).0, Some(0));
    let exterior = &z.geometry.0[0].exterior().0;
    let signed = geo::Area::signed_area(&z.geometry.0[0]);
    assert!(signed < 0.0, "the fixture really is clockwise ({signed}, {} vertices)", exterior.len());
}

#[test]
fn shared_edge_reports_the_first_id_and_on_boundary() {
    let set = load(&fixture("shared-edge.geojson"));
    let idx = index(set);
    let (a, b) = (&idx.set().zones()[0], &idx.set().zones()[1]);
    assert_eq!((a.id.as_str(), b.id.as_str()), ("a", "b"));
    // Find a vertex the two zones share and the midpoint of a shared edge.
    let va: Vec<[f64; 2]> = a.geometry.0[0].exterior().0.iter().map(|c| [c.x, c.y]).collect();
    let vb: Vec<[f64; 2]> = b.geometry.0[0].exterior().0.iter().map(|c| [c.x, c.y]).collect();
    let shared: Vec<&[f64; 2]> = va.iter().filter(|p| vb.contains(p)).collect();
    assert!(shared.len() >= 2, "fixture shares an edge");
    for p in &shared {
        assert_eq!(idx.zone_at(p[0], p[1]), (Some(0), true), "shared vertex {p:?} goes to a");
    }
    // The edge's ends are dyadic (multiples of 2^-10 degrees), so its midpoint is exact and exactly on it.
    let mid = [f64::midpoint(shared[0][0], shared[1][0]), f64::midpoint(shared[0][1], shared[1][1])];
    assert_eq!(mid, [-122.675_292_968_75, 45.521_484_375], "the midpoint the fixture's description names");
    assert_eq!(idx.zone_at(mid[0], mid[1]), (Some(0), true), "on the shared edge: a, on its boundary");
}

#[test]
fn donut_hole_is_outside_and_multipolygon_parts_are_one_zone() {
    let donut = index(load(&fixture("donut.geojson")));
    let hole = &donut.set().zones()[0].geometry.0[0].interiors()[0];
    let c = geo::Centroid::centroid(hole).unwrap();
    assert_eq!(donut.zone_at(c.x(), c.y()), (None, false));
    let v = hole.0[0];
    assert_eq!(donut.zone_at(v.x, v.y), (Some(0), true), "hole vertex is on the boundary");

    let multi = index(load(&fixture("multipolygon.geojson")));
    let z = &multi.set().zones()[0];
    assert_eq!(z.geometry.0.len(), 2);
    for part in &z.geometry {
        let v = part.exterior().0[0];
        assert_eq!(multi.zone_at(v.x, v.y), (Some(0), true));
    }
}

#[test]
fn invalid_fixtures_are_refused_with_file_feature_and_reason() {
    let cases = [
        ("stateplane-feet", "State Plane"),
        ("swapped-axes", "swapped"),
        ("unclosed-ring", "not closed"),
        ("bowtie", "self-intersection"),
        ("empty-geometry", "empty geometry"),
        ("duplicate-ids", "duplicate zone id"),
        ("overlapping-zones", "overlap"),
    ];
    for (name, reason) in cases {
        let path = fixture(&format!("invalid/{name}.geojson"));
        let err = read_zone_file(&path, &ZoneFileOptions::default()).expect_err(name).to_string();
        assert!(err.contains(&format!("invalid/{name}.geojson")), "{name}: names the file: {err}");
        assert!(err.contains(reason), "{name}: says why ({reason}): {err}");
        if name != "overlapping-zones" {
            assert!(err.contains("feature "), "{name}: names the feature: {err}");
        }
    }
}
