//! Paths, loaders and seeded point generators shared by the integration tests.

use std::path::PathBuf;

use leadmap::formats::zonefile::{ZoneFileOptions, read_zone_file};
use leadmap::zones::{IndexOptions, ZoneIndex, ZoneSet};
use rand::{RngExt, SeedableRng};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/` beside the repository.
pub fn shared(rel: &str) -> PathBuf {
    repo().join("../shared").join(rel)
}

/// A file under `geodata/fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    repo().join("geodata/fixtures").join(rel)
}

/// The City file's three LEAD areas, as `--select` takes them.
pub const CITY_SELECT: &str =
    "PORTLAND DOWNTOWN=downtown,OLD TOWN COMMUNITY ASSOCIATION=old-town,LLOYD DISTRICT COMMUNITY ASSOCIATION=lloyd";

/// Options selecting the City's three LEAD areas by `NAME`.
pub fn city_options(select: &str) -> ZoneFileOptions {
    ZoneFileOptions {
        zone_field: Some("NAME".into()),
        select: Some(select.parse().expect("selection parses")),
        ..ZoneFileOptions::default()
    }
}

/// Loads a zone file with default options.
pub fn load(path: &std::path::Path) -> ZoneSet {
    read_zone_file(path, &ZoneFileOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// Indexes a zone set with the default borderline distance.
pub fn index(set: ZoneSet) -> ZoneIndex {
    ZoneIndex::new(set, IndexOptions::default())
}

/// Seeded points that stress the boundary: every vertex, points exactly on edges (where representable),
/// points a hair (1e-12 to 1e-6 degrees) either side of every edge, and uniform points over the
/// zones' bounding box grown by 20 %. Returned as (lon, lat).
pub fn stress_points(set: &ZoneSet, seed: u64, uniform: usize) -> Vec<[f64; 2]> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut pts = Vec::new();
    for zone in set.zones() {
        for poly in &zone.geometry {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for w in ring.0.windows(2) {
                    let (a, b) = (w[0], w[1]);
                    pts.push([a.x, a.y]);
                    pts.push([f64::midpoint(a.x, b.x), f64::midpoint(a.y, b.y)]);
                    for _ in 0..8 {
                        let t: f64 = rng.random();
                        let on = [a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)];
                        let exp: i32 = rng.random_range(6..=12);
                        let eps = 10f64.powi(-exp);
                        let (nx, ny) = (-(b.y - a.y), b.x - a.x);
                        let len = nx.hypot(ny).max(f64::MIN_POSITIVE);
                        pts.push(on);
                        pts.push([on[0] + eps * nx / len, on[1] + eps * ny / len]);
                        pts.push([on[0] - eps * nx / len, on[1] - eps * ny / len]);
                    }
                    // Near the vertex, all round.
                    for _ in 0..4 {
                        let ang: f64 = rng.random::<f64>() * std::f64::consts::TAU;
                        let r = 10f64.powi(-rng.random_range(6..=11));
                        pts.push([a.x + r * ang.cos(), a.y + r * ang.sin()]);
                    }
                }
            }
        }
    }
    let bounds = set.bounds();
    let (w, h) = (bounds.width(), bounds.height());
    for _ in 0..uniform {
        let x = bounds.min().x - 0.2 * w + rng.random::<f64>() * 1.4 * w;
        let y = bounds.min().y - 0.2 * h + rng.random::<f64>() * 1.4 * h;
        pts.push([x, y]);
    }
    pts
}
