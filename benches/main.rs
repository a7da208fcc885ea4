//! leadmap's criterion benches, one group per hot path, inputs deterministic (built-in zones, seeded
//! points). Each group asserts its expected answer so a fast wrong answer fails.
//!
//! - `index_build`: validate-free index construction (R-trees + batch grid) for the built-in 2018 set,
//!   and for one zone of 100 000 vertices (a wiggly circle with a hole).
//! - `locate`: one full point answer (zone, boundary, distance, borderline): target under 1 µs; and
//!   10 000 seeded points in a row, as a batch request answers them.
//! - `classify_batch`: 10 million seeded points through the batch grid, against the exact per-point test
//!   and a brute-force loop over every polygon (geo `CoordinatePosition`) on the same points.
//!   Target: at least 100 million points per second on one core.
//! - `cells_aggregate`: 10 million events (seeded: dense downtown, spread over the city, every kind)
//!   counted per H3 cell at resolutions 5, 7, 9, 10, 11 and 12 from the in-memory columns (`count_cells`, on
//!   every core), against the plain exact way on the same events: h3o `latlng_to_cell` per event and a
//!   hash map, also on every core. Target: under 100 ms at every resolution. `LEADMAP_BENCH_EVENTS`
//!   sets the number of events.
//! - `proposals_impact`: issue 17: what a proposed zone set would have changed (`proposals::impact`) over
//!   10 million seeded events, the built-in 2018 set against the 2017 set: target under 300 ms; five
//!   proposals and their comparison: target under 1 s; each phase of `impact` alone, and the core
//!   count (newly inside / newly outside by month) that `tools/bench/bench_impact.sh` sets against a
//!   `PostGIS` query on the same events (target: at least 10x). Every impact is checked against a
//!   per-event count first.
//! - `zone_validate`: checking one star-shaped ring the way zone files are checked (`validate_polygons`:
//!   coordinates, rings, R-tree self-intersection): a wiggly circle of 20 000 and 100 000 vertices and a
//!   spiky star of 100 000 (each segment's box meets ~300 others), against geo's `Validation` (every
//!   pair of segments) on the 20 000-vertex circle.
//!
//! Run: `cargo bench --bench main` (all) or `cargo bench --bench main -- classify_batch`.
//!
//! The benches allocate with mimalloc, as the `leadmap` binary does, so they time what the service runs
//! (with glibc's malloc, the 64 MB a res-12 count writes are fresh pages every time).

use std::hint::black_box;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use geo::coordinate_position::{CoordPos, CoordinatePosition};
use leadmap::coord::LonLat;
use leadmap::zones::{IndexOptions, ZoneIndex, ZoneSet};
use rand::{RngExt, SeedableRng};

const BATCH_POINTS: usize = 10_000_000;

fn portland_2018() -> ZoneSet {
    leadmap::builtin::zone_sets().expect("built-in zones load").remove(1)
}

/// 80 % uniform over the zones' box grown by 25 % each side, 20 % within ~50 m of a zone vertex.
fn seeded_points(set: &ZoneSet, n: usize, seed: u64) -> Vec<[f64; 2]> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let b = set.bounds();
    let (w, h) = (b.width(), b.height());
    let vertices: Vec<[f64; 2]> = set
        .zones()
        .iter()
        .flat_map(|z| z.geometry.0.iter().flat_map(|p| p.exterior().0.iter().map(|c| [c.x, c.y])))
        .collect();
    (0..n)
        .map(|i| {
            if i % 5 == 0 {
                let v = vertices[rng.random_range(0..vertices.len())];
                [v[0] + (rng.random::<f64>() - 0.5) * 0.0013, v[1] + (rng.random::<f64>() - 0.5) * 0.0009]
            } else {
                [
                    b.min().x - 0.25 * w + rng.random::<f64>() * 1.5 * w,
                    b.min().y - 0.25 * h + rng.random::<f64>() * 1.5 * h,
                ]
            }
        })
        .collect()
}

fn index_build(c: &mut Criterion) {
    let set = portland_2018();
    c.bench_function("index_build/portland-2018", |b| {
        b.iter(|| {
            let idx = ZoneIndex::new(black_box(set.clone()), IndexOptions::default());
            assert_eq!(idx.set().zones().len(), 4);
            idx
        });
    });
    // Issue 16: one zone of 100 000 vertices (a wiggly circle with a hole) took seconds and a gigabyte.
    let big = wiggly_zone_set(100_000);
    let mut g = c.benchmark_group("index_build");
    g.sample_size(10);
    g.bench_function("wiggly-with-hole-100000", |b| {
        b.iter(|| {
            let idx = ZoneIndex::new(black_box(big.clone()), IndexOptions::default());
            assert_eq!(idx.classify(-122.6 + 0.03, 45.5), Some(0), "inside the ring");
            assert_eq!(idx.classify(-122.595, 45.501), None, "in the hole");
            idx
        });
    });
    g.finish();
}

/// One zone: [`star_ring`] with `n` vertices (a wiggly circle) and a small triangular hole.
fn wiggly_zone_set(n: usize) -> ZoneSet {
    let hole = vec![[-122.6, 45.5], [-122.59, 45.5], [-122.59, 45.51], [-122.6, 45.5]];
    let geometry = leadmap::zones::validate_polygons(&[vec![star_ring(n, 1.0), hole]]).expect("a valid star");
    let zone =
        leadmap::zones::Zone { id: "wiggly".parse().expect("id"), name: "Wiggly".into(), geometry, source: None };
    let meta = leadmap::zones::ZoneSetMeta { name: "wiggly".into(), ..leadmap::zones::ZoneSetMeta::default() };
    ZoneSet::new(meta, vec![zone]).expect("one zone")
}

fn locate(c: &mut Criterion) {
    let idx = ZoneIndex::new(portland_2018(), IndexOptions::default());
    let inside = LonLat::new(-122.6793, 45.5189).expect("valid");
    let outside = LonLat::new(-122.6300, 45.5400).expect("valid");
    let mut g = c.benchmark_group("locate");
    g.bench_function("inside-downtown", |b| {
        b.iter(|| {
            let loc = idx.locate(black_box(inside));
            assert!(loc.zone.is_some());
            loc
        });
    });
    g.bench_function("outside-east", |b| {
        b.iter(|| {
            let loc = idx.locate(black_box(outside));
            assert!(loc.zone.is_none());
            loc
        });
    });
    // Seeded points in and around the zones, as a batch request brings them.
    let scatter: Vec<LonLat> = seeded_points(idx.set(), 10_000, 7)
        .into_iter()
        .map(|[lon, lat]| LonLat::new(lon, lat).expect("valid"))
        .collect();
    let inside = scatter.iter().filter(|p| idx.zone_at(p.lon(), p.lat()).0.is_some()).count();
    g.throughput(Throughput::Elements(scatter.len() as u64));
    g.bench_function(BenchmarkId::new("scatter", scatter.len()), |b| {
        b.iter(|| {
            let n = scatter.iter().filter(|p| idx.locate(**p).zone.is_some()).count();
            assert_eq!(n, inside);
            n
        });
    });
    g.finish();
}

fn brute_force(set: &ZoneSet, p: [f64; 2]) -> Option<usize> {
    let c = geo::Coord { x: p[0], y: p[1] };
    let pos: Vec<CoordPos> = set.zones().iter().map(|z| z.geometry.coordinate_position(&c)).collect();
    pos.iter().position(|&q| q != CoordPos::Outside)
}

fn classify_batch(c: &mut Criterion) {
    let set = portland_2018();
    let idx = ZoneIndex::new(set.clone(), IndexOptions::default());
    let points = seeded_points(&set, BATCH_POINTS, 42);
    // The expected count of points inside any zone, from the exact test.
    let inside_exact = points.iter().filter(|p| idx.zone_at(p[0], p[1]).0.is_some()).count();
    let mut g = c.benchmark_group("classify_batch");
    g.sample_size(10);
    g.throughput(Throughput::Elements(BATCH_POINTS as u64));
    let mut out = Vec::with_capacity(BATCH_POINTS);
    g.bench_function(BenchmarkId::new("grid", BATCH_POINTS), |b| {
        b.iter(|| {
            idx.classify_batch(black_box(&points), &mut out);
            assert_eq!(out.iter().filter(|z| z.is_some()).count(), inside_exact);
        });
    });
    g.bench_function(BenchmarkId::new("exact", BATCH_POINTS), |b| {
        b.iter(|| {
            let n = points.iter().filter(|p| idx.zone_at(p[0], p[1]).0.is_some()).count();
            assert_eq!(n, inside_exact);
        });
    });
    // Brute force is slow: measure it on a tenth of the points.
    let tenth = &points[..BATCH_POINTS / 10];
    let inside_tenth = tenth.iter().filter(|p| idx.zone_at(p[0], p[1]).0.is_some()).count();
    g.throughput(Throughput::Elements(tenth.len() as u64));
    g.bench_function(BenchmarkId::new("brute-force-geo", tenth.len()), |b| {
        b.iter(|| {
            let n = tenth.iter().filter(|p| brute_force(&set, **p).is_some()).count();
            assert_eq!(n, inside_tenth);
        });
    });
    g.finish();
}

/// Seeded events for `cells_aggregate`: (lon, lat, kind), 60 % around downtown, 40 % over the city.
fn seeded_events(n: usize, seed: u64) -> Vec<(f64, f64, leadmap::events::EventKind)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let (lon, lat) = if rng.random::<f64>() < 0.6 {
                (-122.68 + (rng.random::<f64>() - 0.5) * 0.04, 45.52 + (rng.random::<f64>() - 0.5) * 0.03)
            } else {
                (-122.84 + rng.random::<f64>() * 0.37, 45.43 + rng.random::<f64>() * 0.22)
            };
            (lon, lat, leadmap::events::EventKind::ALL[i % 3])
        })
        .collect()
}

/// The day of seeded event `i`: 2017-01-01 to 2021-12-31, in turn.
fn seeded_day(i: usize) -> chrono::NaiveDate {
    let first = chrono::NaiveDate::from_ymd_opt(2017, 1, 1).expect("a date");
    first + chrono::Days::new((i % 1826) as u64)
}

/// The events of [`seeded_events`] in the in-memory columns: days over 2017-2021 ([`seeded_day`]), a
/// zone for those near downtown, a group for three in four, a pseudo-random record key each.
fn seeded_columns(events: &[(f64, f64, leadmap::events::EventKind)]) -> leadmap::cells::columns::EventColumns {
    use leadmap::cells::columns::{ColumnRow, ColumnsBuilder};
    let groups = [Some("white"), Some("black"), Some("hispanic_latino"), None];
    let mut builder = ColumnsBuilder::default();
    for (i, &(lon, lat, kind)) in events.iter().enumerate() {
        let cell = h3o::LatLng::new(lat, lon).expect("valid").to_cell(h3o::Resolution::Fifteen);
        let downtown = (lon + 122.68).abs() < 0.01 && (lat - 45.52).abs() < 0.008;
        builder.push(&ColumnRow {
            cell: u64::from(cell),
            lon,
            lat,
            day: seeded_day(i),
            kind,
            offense: "PCS",
            group: groups[i % 4],
            source: "bench",
            zone: downtown.then_some("downtown"),
            record_key: (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes()[7],
            fix: None,
        });
    }
    builder.finish()
}

fn event_count() -> usize {
    std::env::var("LEADMAP_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000)
}

fn cells_aggregate(c: &mut Criterion) {
    use leadmap::cells::CellRes;
    use leadmap::cells::columns::EventFilter;
    use rayon::prelude::*;
    let n = event_count();
    let events = seeded_events(n, 11);
    let cols = seeded_columns(&events);
    let all = EventFilter::default();
    let mut g = c.benchmark_group("cells_aggregate");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    for res in [5u8, 7, 9, 10, 11, 12] {
        let r: CellRes = res.to_string().parse().expect("a resolution");
        let total: u64 = cols.count_cells(&all, r).iter().map(|(_, k)| k.total()).sum();
        assert_eq!(total, n as u64);
        g.bench_function(BenchmarkId::new("columns", format!("res{res}")), |b| {
            b.iter(|| black_box(cols.count_cells(black_box(&all), r)));
        });
    }
    // The baseline: what one would write without the columns, exact, on every core.
    let count_plain = |res: h3o::Resolution| {
        events
            .par_chunks(1 << 16)
            .map(|chunk| {
                let mut m: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
                for &(lon, lat, _) in chunk {
                    let cell = h3o::LatLng::new(lat, lon).expect("valid").to_cell(res);
                    *m.entry(u64::from(cell)).or_default() += 1;
                }
                m
            })
            .reduce(std::collections::HashMap::new, |mut a, b| {
                for (k, v) in b {
                    *a.entry(k).or_default() += v;
                }
                a
            })
    };
    let plain = count_plain(h3o::Resolution::Nine);
    let nine: CellRes = "9".parse().expect("9");
    let columns: std::collections::HashMap<u64, u64> =
        cols.count_cells(&all, nine).into_iter().map(|(c, k)| (u64::from(c), k.total())).collect();
    assert_eq!(plain, columns, "the columns count exactly what h3o gives per event");
    g.bench_function(BenchmarkId::new("h3o-per-event-hashmap", "res9"), |b| {
        b.iter(|| black_box(count_plain(h3o::Resolution::Nine)));
    });
    g.finish();
}

/// Issue 15's target: perturbing the counts planners see adds no more than 10 % to a figure route's
/// answer time. Each route's cold work (compute and render, what a cache miss costs) over the same
/// 10 million events, exact (analysts, the baseline) and perturbed (planners), side by side. A warm
/// answer is a cache hit either way (the rendered bytes), so the disclosure cannot change it.
fn figures_disclosure(c: &mut Criterion) {
    type Route<'a> = Box<dyn Fn(&leadmap::cells::columns::EventColumns, Disclosure) -> Vec<u8> + 'a>;
    use leadmap::cells::columns::EventFilter;
    use leadmap::figures::Disclosure;
    use leadmap::figures::cells::{CellQuery, cell_figures, hotspot_figures};
    use leadmap::formats::cells::{CellFormat, candidates_geojson, write_cells};
    let n = event_count();
    let cols = seeded_columns(&seeded_events(n, 11));
    let set = portland_2018();
    let zones: Vec<&geo::MultiPolygon<f64>> = set.zones().iter().map(|z| &z.geometry).collect();
    let table = leadmap::builtin::perturbation_table().expect("the built-in table");
    let query = |res: &str| CellQuery { filter: EventFilter::default(), res: res.parse().expect("res"), zeros: false };
    let catalog = leadmap::zones::ZoneCatalog::new(
        leadmap::builtin::zone_sets().expect("the built-in sets"),
        leadmap::zones::IndexOptions::default(),
    );
    let dated = leadmap::figures::geography::Geography::InForce(&catalog);
    let routes: Vec<(&str, Route<'_>)> = vec![
        (
            "cells-res9-geojson",
            Box::new(|cols, d| {
                let mut out = Vec::new();
                write_cells(
                    &cell_figures(cols, &zones, &query("9"), d).expect("within the cell limit"),
                    CellFormat::Geojson,
                    &mut out,
                )
                .expect("render");
                out
            }),
        ),
        (
            "hotspots-res8-geojson",
            Box::new(|cols, d| {
                let f = hotspot_figures(cols, &zones, &query("8"), 1, d).expect("within the cell limit");
                let mut out = Vec::new();
                write_cells(&f, CellFormat::Geojson, &mut out).expect("render");
                out.extend(candidates_geojson(&f).to_string().into_bytes());
                out
            }),
        ),
        (
            "coverage",
            Box::new(|cols, d| {
                let c = leadmap::figures::coverage::coverage(cols, &dated, &EventFilter::default(), d);
                serde_json::to_vec(&c).expect("json")
            }),
        ),
        (
            "equity",
            Box::new(|cols, d| {
                let e = leadmap::figures::coverage::equity(cols, &dated, &EventFilter::default(), "white", d);
                serde_json::to_vec(&e).expect("json")
            }),
        ),
    ];
    let mut g = c.benchmark_group("figures_disclosure");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    for (name, route) in &routes {
        let exact = route(&cols, Disclosure::Exact);
        let perturbed = route(&cols, Disclosure::Perturbed(table));
        assert!(!exact.is_empty() && exact != perturbed, "{name}: perturbed answers differ from exact ones");
        for (label, d) in [("exact", Disclosure::Exact), ("perturbed", Disclosure::Perturbed(table))] {
            g.bench_function(BenchmarkId::new(*name, label), |b| b.iter(|| black_box(route(black_box(&cols), d))));
        }
    }
    g.finish();
}

type SeededEvent = (f64, f64, leadmap::events::EventKind);

/// The sets of `proposals_impact`: the current set (the built-in 2017 set) and five proposals: the
/// built-in 2018 set, the 2017 set itself (nothing changes), and the 2018 set moved 300 m east, grown by
/// 5 % and shrunk by 5 % about its centre (whole-set transforms: shared edges stay shared, no overlaps).
fn impact_sets() -> (ZoneIndex, Vec<ZoneIndex>) {
    use geo::{Scale, Translate};
    use leadmap::zones::{Zone, ZoneSetMeta};
    let sets = leadmap::builtin::zone_sets().expect("built-in zones load");
    let (s2017, s2018) = (&sets[0], &sets[1]);
    let centre = s2018.bounds().center();
    let variant = |name: &str, f: &dyn Fn(&geo::MultiPolygon<f64>) -> geo::MultiPolygon<f64>| {
        let zones: Vec<Zone> = s2018.zones().iter().map(|z| Zone { geometry: f(&z.geometry), ..z.clone() }).collect();
        let meta = ZoneSetMeta { name: name.to_owned(), ..s2018.meta().clone() };
        ZoneSet::new(meta, zones).expect("a valid proposal")
    };
    let proposals = vec![
        s2018.clone(),
        s2017.clone(),
        variant("portland-2018-east-300m", &|g| g.translate(300.0 / 78_130.0, 0.0)),
        variant("portland-2018-grown-5pct", &|g| g.scale_around_point(1.05, 1.05, centre)),
        variant("portland-2018-shrunk-5pct", &|g| g.scale_around_point(0.95, 0.95, centre)),
    ];
    let index = |s: ZoneSet| ZoneIndex::new(s, IndexOptions::default());
    (index(s2017.clone()), proposals.into_iter().map(index).collect())
}

/// As `leadmap whatif` asks by default: every event, res-9 cells, the built-in rules' capacity.
fn impact_query() -> leadmap::proposals::ImpactQuery {
    let sets = leadmap::builtin::zone_sets().expect("built-in zones load");
    leadmap::proposals::ImpactQuery {
        filter: leadmap::cells::columns::EventFilter::default(),
        res: "9".parse().expect("res 9"),
        capacity: Some(300),
        caseload: leadmap::proposals::DEFAULT_CASELOAD,
        reference: "white".to_owned(),
        launches: sets.iter().filter_map(|s| Some((s.meta().name.clone(), s.meta().effective_from?))).collect(),
    }
}

/// Brute force, event by event: `ZoneIndex::classify` against both sets, counted by month. `got` must
/// agree: the totals and every month (inside the current set, inside the proposal, newly inside, newly
/// outside).
fn check_impact(events: &[SeededEvent], current: &ZoneIndex, proposal: &ZoneIndex, got: &leadmap::proposals::Impact) {
    use chrono::Datelike;
    let mut want: std::collections::BTreeMap<String, [u64; 4]> = std::collections::BTreeMap::new();
    let mut by_month: std::collections::BTreeMap<(i32, u32), [u64; 4]> = std::collections::BTreeMap::new();
    for (i, &(lon, lat, _)) in events.iter().enumerate() {
        let (c, p) = (current.classify(lon, lat).is_some(), proposal.classify(lon, lat).is_some());
        if c || p {
            let d = seeded_day(i);
            let m = by_month.entry((d.year(), d.month())).or_default();
            for (k, yes) in [c, p, p && !c, c && !p].into_iter().enumerate() {
                m[k] += u64::from(yes);
            }
        }
    }
    want.extend(by_month.into_iter().map(|((y, m), v)| (format!("{y:04}-{m:02}"), v)));
    let total = |k: usize| want.values().map(|m| m[k]).sum::<u64>();
    let name = &proposal.set().meta().name;
    assert_eq!(
        [
            got.inside_current.contacts,
            got.inside_proposal.contacts,
            got.newly_inside.contacts,
            got.newly_outside.contacts
        ],
        [total(0), total(1), total(2), total(3)],
        "{name}: impact's totals against a per-event count (inside current, inside proposal, newly in, newly out)"
    );
    for m in &got.months {
        let w = want.get(&m.month).copied().unwrap_or_default();
        assert_eq!([m.inside_current, m.inside_proposal, m.newly_inside, m.newly_outside], w, "{name}: {}", m.month);
    }
    let listed = got.months.iter().filter(|m| want.contains_key(&m.month)).count();
    assert_eq!(listed, want.len(), "{name}: every month with events inside is listed");
}

/// `proposals::impact`'s first step as it takes it: each event's (current zone, proposal zone) as one
/// area number, `current * (proposal zones + 1) + proposal` (0: outside), through both batch grids.
fn classify_both(
    cols: &leadmap::cells::columns::EventColumns,
    current: &ZoneIndex,
    proposal: &ZoneIndex,
) -> leadmap::cells::columns::EventColumns {
    use leadmap::zones::ZoneNo;
    let count = |i: &ZoneIndex| u32::try_from(i.set().zones().len()).expect("few zones") + 1;
    let (nc, np) = (count(current), count(proposal));
    let names: Vec<String> = (1..nc * np).map(|code| format!("{}>{}", code / np, code % np)).collect();
    cols.with_areas(&names, |rows| {
        let points: Vec<[f64; 2]> = rows.lon.iter().zip(rows.lat).map(|(&x, &y)| [x, y]).collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        current.classify_batch(&points, &mut a);
        proposal.classify_batch(&points, &mut b);
        let no = |z: Option<ZoneNo>| z.map_or(0, |z| u32::try_from(z.index() + 1).expect("few zones"));
        a.iter().zip(&b).map(|(&c, &p)| no(c) * np + no(p)).collect()
    })
}

/// Months since 1970-01 of every day number (days since 1970-01-01) before 2100.
fn month_table() -> Vec<u16> {
    use chrono::Datelike;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    let end = chrono::NaiveDate::from_ymd_opt(2100, 1, 1).expect("a date");
    let days = u64::try_from((end - epoch).num_days()).expect("positive");
    (0..days)
        .map(|d| {
            let x = epoch + chrono::Days::new(d);
            let years = u32::try_from(x.year() - 1970).expect("after 1970");
            u16::try_from(years * 12 + x.month0()).expect("before 2100")
        })
        .collect()
}

/// The counting the SQL of `tools/bench/bench_impact.sh` does: per month, events newly inside and newly
/// outside, from a [`classify_both`] view (`np`: the proposal's zones + 1), in a dense array by month
/// since 1970-01, on every core.
fn newly_by_month(view: &leadmap::cells::columns::EventColumns, np: u32, months: &[u16]) -> Vec<[u64; 2]> {
    view.fold(
        &leadmap::cells::columns::EventFilter::default(),
        || vec![[0u64; 2]; 130 * 12],
        |acc, e| {
            let (c, p) = (e.zone / np, e.zone % np);
            if (c == 0) != (p == 0) {
                let m = usize::try_from(e.day).ok().and_then(|d| months.get(d)).map_or(0, |&m| usize::from(m));
                acc[m][usize::from(c != 0)] += 1;
            }
        },
        |mut a, b| {
            for (x, y) in a.iter_mut().zip(&b) {
                x[0] += y[0];
                x[1] += y[1];
            }
            a
        },
    )
}

/// `proposals::impact`'s cells step as it takes it: the res-`res` cells of every event, each set's
/// centre cells, the cells gained and lost with their contacts, the areas gained and lost.
fn impact_cells(
    cols: &leadmap::cells::columns::EventColumns,
    current: &ZoneIndex,
    proposal: &ZoneIndex,
    res: leadmap::cells::CellRes,
) -> (usize, usize, f64) {
    use geo::BooleanOps;
    let union = |i: &ZoneIndex| {
        geo::MultiPolygon(i.set().zones().iter().flat_map(|z| z.geometry.0.iter().cloned()).collect::<Vec<_>>())
    };
    let (ua, ub) = (union(current), union(proposal));
    let centre = |u: &geo::MultiPolygon<f64>| leadmap::cells::area::centre_cells(u, res);
    let (a, b) = (centre(&ua), centre(&ub));
    let all = leadmap::cells::columns::EventFilter::default();
    let counts: std::collections::BTreeMap<h3o::CellIndex, u64> =
        cols.count_cells(&all, res).iter().map(|(c, n)| (*c, n.total())).collect();
    let change = |set: &std::collections::HashSet<h3o::CellIndex>, minus| {
        let mut v: Vec<(u64, String)> =
            set.difference(minus).map(|c| (counts.get(c).copied().unwrap_or(0), c.to_string())).collect();
        v.sort();
        v.len()
    };
    let area = leadmap::zones::area_m2(&ub.difference(&ua)) + leadmap::zones::area_m2(&ua.difference(&ub));
    (change(&b, &a), change(&a, &b), area)
}

/// With `LEADMAP_BENCH_IMPACT_DIR` set, for `tools/bench/bench_impact.sh`: the events as `lon,lat,day` CSV
/// (`events.csv`; shortest round-trip decimals, so `PostgreSQL` reads the very same binary64 values) and
/// `leadmap.json`: N, the first proposal's impact by month (checked against the per-event count) and
/// in-process times (median of 5) of the impact of one proposal and of five plus the comparison.
fn dump_impact(
    dir: &std::path::Path,
    events: &[SeededEvent],
    first: &leadmap::proposals::Impact,
    timed: &[(&str, &dyn Fn())],
) {
    use std::io::Write;
    std::fs::create_dir_all(dir).expect("create the dump directory");
    let path = dir.join("events.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create events.csv"));
    writeln!(out, "lon,lat,day").expect("write events.csv");
    for (i, &(lon, lat, _)) in events.iter().enumerate() {
        writeln!(out, "{lon},{lat},{}", seeded_day(i)).expect("write events.csv");
    }
    out.flush().expect("write events.csv");
    let mut times = serde_json::Map::new();
    for (name, f) in timed {
        let mut ms: Vec<f64> = (0..5)
            .map(|_| {
                let t = std::time::Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        times.insert((*name).to_owned(), serde_json::json!({ "median_ms": ms[2], "runs_ms": ms }));
    }
    let months: Vec<serde_json::Value> = first
        .months
        .iter()
        .filter(|m| m.newly_inside + m.newly_outside > 0)
        .map(|m| serde_json::json!([m.month, m.newly_inside, m.newly_outside]))
        .collect();
    let doc = serde_json::json!({
        "events": events.len(),
        "current": first.current.name,
        "proposal": first.proposal.name,
        "newly_inside": first.newly_inside.contacts,
        "newly_outside": first.newly_outside.contacts,
        "months": months,
        "in_process": times,
    });
    std::fs::write(dir.join("leadmap.json"), format!("{doc:#}\n")).expect("write leadmap.json");
    eprintln!("proposals_impact: wrote {} and leadmap.json", path.display());
}

/// Issue 17's targets: the impact of one proposal over 10 million events under 300 ms on this 2-core
/// machine (and at least 10x a PostgreSQL/PostGIS query computing the same newly-inside and
/// newly-outside counts by month over the same events: `tools/bench/bench_impact.sh` runs this group with
/// `LEADMAP_BENCH_IMPACT_DIR` set, loads the dumped events into `PostGIS` and times that query), and
/// comparing 5 proposals under 1 s. Current set: the built-in 2017 set; proposals: [`impact_sets`].
/// Before timing, every proposal's impact is checked against a per-event brute-force count. Besides
/// the whole `impact`, its phases as it takes them (both sets' classification, the cells
/// gained and lost, the hotspot clusters) and `core/newly-by-month`: classification plus a dense
/// per-month count of newly inside and outside, the work the SQL baseline does.
fn proposals_impact(c: &mut Criterion) {
    use leadmap::proposals::{compare, impact};
    let n = event_count();
    let events = seeded_events(n, 11);
    let cols = seeded_columns(&events);
    let (current, proposals) = impact_sets();
    let q = impact_query();
    let impacts: Vec<_> = proposals.iter().map(|p| impact(&cols, &current, p, &q)).collect();
    for (p, got) in proposals.iter().zip(&impacts) {
        check_impact(&events, &current, p, got);
    }
    assert!(impacts[0].newly_inside.contacts > 0 && impacts[1].newly_inside.contacts == 0);
    let one = || drop(black_box(impact(&cols, &current, &proposals[0], &q)));
    // As `leadmap whatif` and `/v1/proposals/compare` do: the baseline (hotspots, cell counts, months)
    // once for the five.
    let refs: Vec<&ZoneIndex> = proposals.iter().collect();
    let five = || drop(black_box(compare(&leadmap::proposals::impacts(&cols, &current, &refs, &q))));
    if let Some(dir) = std::env::var_os("LEADMAP_BENCH_IMPACT_DIR") {
        let timed: [(&str, &dyn Fn()); 2] = [("impact_1", &one), ("impact_5_compare", &five)];
        dump_impact(std::path::Path::new(&dir), &events, &impacts[0], &timed);
    }
    drop(events);
    let mut g = c.benchmark_group("proposals_impact");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(BenchmarkId::new("impact", "1-proposal"), |b| b.iter(one));
    g.bench_function(BenchmarkId::new("impact+compare", "5-proposals"), |b| b.iter(five));
    impact_phases(&mut g, &cols, &current, &proposals[0], &impacts[0]);
    g.finish();
}

/// The phases of one `impact` (2018 against 2017), each timed alone, and the core count.
fn impact_phases(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    cols: &leadmap::cells::columns::EventColumns,
    current: &ZoneIndex,
    proposal: &ZoneIndex,
    want: &leadmap::proposals::Impact,
) {
    use leadmap::figures::Disclosure;
    use leadmap::figures::cells::{CellQuery, hotspot_figures};
    let np = u32::try_from(proposal.set().zones().len()).expect("few zones") + 1;
    let months = month_table();
    let view = classify_both(cols, current, proposal);
    let newly = newly_by_month(&view, np, &months);
    let sums = newly.iter().fold([0, 0], |s, m| [s[0] + m[0], s[1] + m[1]]);
    assert_eq!(sums, [want.newly_inside.contacts, want.newly_outside.contacts], "the dense count agrees");
    let res = "9".parse().expect("res 9");
    let (gained, lost, _) = impact_cells(cols, current, proposal, res);
    assert_eq!((gained, lost), (want.cells.gained.len(), want.cells.lost.len()));
    let zones: Vec<&geo::MultiPolygon<f64>> = current.set().zones().iter().map(|z| &z.geometry).collect();
    let hq = CellQuery { filter: leadmap::cells::columns::EventFilter::default(), res, zeros: true };
    let hot = || hotspot_figures(cols, &zones, &hq, 1, Disclosure::Exact).expect("within the cell limit");
    assert_eq!(hot().candidates.len(), want.hotspots.covered.len() + want.hotspots.missed.len());
    g.bench_function(BenchmarkId::new("phase", "classify-both"), |b| {
        b.iter(|| black_box(classify_both(cols, current, proposal)));
    });
    g.bench_function(BenchmarkId::new("phase", "cells-gained-lost"), |b| {
        b.iter(|| black_box(impact_cells(cols, current, proposal, res)));
    });
    g.bench_function(BenchmarkId::new("phase", "hotspots"), |b| b.iter(|| black_box(hot())));
    g.bench_function(BenchmarkId::new("core", "newly-by-month"), |b| {
        b.iter(|| {
            let v = classify_both(cols, current, proposal);
            let got = newly_by_month(&v, np, &months);
            assert_eq!(got, newly);
        });
    });
}

/// A star around Portland: `n` vertices, radius alternating 0.05° and 0.05° less `depth` times the
/// spacing of its vertices (valid: simple, no holes). With `depth` 1 it is a fine wiggly circle, like a
/// real boundary; with a large `depth` its spikes are long next to their spacing, so each segment's
/// box meets about `depth` others and the R-tree has that many candidates to test.
fn star_ring(n: usize, depth: f64) -> Vec<[f64; 2]> {
    let spacing = 0.05 * std::f64::consts::TAU / n as f64;
    let mut pts: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let t = std::f64::consts::TAU * i as f64 / n as f64;
            let r = if i % 2 == 0 { 0.05 } else { 0.05 - depth * spacing };
            [-122.6 + r * t.cos(), 45.5 + r * t.sin()]
        })
        .collect();
    pts.push(pts[0]);
    pts
}

fn bench_validate(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    n: usize,
    raw: &[Vec<Vec<[f64; 2]>>],
) {
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(BenchmarkId::new(name, n), |b| {
        b.iter(|| {
            let multi = leadmap::zones::validate_polygons(black_box(raw)).expect("a valid star");
            assert_eq!(multi.0[0].exterior().0.len(), n + 1);
            multi
        });
    });
}

/// Issue 16: validating a 100 000-vertex zone took 55 s (geo's test of every pair of segments).
fn zone_validate(c: &mut Criterion) {
    use geo::Validation;
    let mut g = c.benchmark_group("zone_validate");
    g.sample_size(10);
    for (shape, n, depth) in [("wiggly", 20_000, 1.0), ("wiggly", 100_000, 1.0), ("spiky", 100_000, 300.0)] {
        let raw = vec![vec![star_ring(n, depth)]];
        bench_validate(&mut g, &format!("leadmap-validate_polygons/{shape}"), n, &raw);
    }
    // A hole: the shell and hole are related by geo's Relate (prepared shell), as geo's Validation does.
    let hole = vec![[-122.6, 45.5], [-122.59, 45.5], [-122.59, 45.51], [-122.6, 45.5]];
    bench_validate(
        &mut g,
        "leadmap-validate_polygons/wiggly-with-hole",
        100_000,
        &[vec![star_ring(100_000, 1.0), hole]],
    );
    let n = 20_000;
    let polygon =
        geo::Polygon::new(star_ring(n, 1.0).into_iter().map(|[x, y]| geo::coord! { x: x, y: y }).collect(), vec![]);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(BenchmarkId::new("geo-Validation/wiggly", n), |b| {
        b.iter(|| assert!(black_box(&polygon).is_valid(), "a valid star"));
    });
    g.finish();
}

criterion_group!(
    benches,
    index_build,
    locate,
    classify_batch,
    cells_aggregate,
    figures_disclosure,
    proposals_impact,
    zone_validate
);
criterion_main!(benches);
