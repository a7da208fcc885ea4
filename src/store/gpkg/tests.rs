//! The `GeoPackage` store's unit tests.

use super::*;
use crate::events::Offense;
use crate::events::{Event, EventKind};

#[test]
fn a_schema_1_store_migrates_with_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.gpkg");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(
            "CREATE TABLE leadmap_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
             INSERT INTO leadmap_migrations VALUES (1, '2026-11-25');",
        )
        .unwrap();
        conn.pragma_update(None, "application_id", GPKG_APPLICATION_ID).unwrap();
        for i in 1..=300 {
            conn.execute(
                "INSERT INTO events (geom, kind, occurred_on, lon, lat, offense, source, external_id, zone,
                    zone_set, zone_set_version, h3_res15, row_hash) VALUES (?1, 'arrest', '2018-06-01', -122.6793,
                    45.5189, 'PCS', 'ppb', ?2, 'downtown', 'portland-lead-2018', 'v1', 42, 7)",
                params![&point_blob(-122.6793, 45.5189)[..], format!("18-{i}")],
            )
            .unwrap();
        }
        // Another source's arrest, and a deleted last event: its id is never given again.
        for (source, id) in [("pd", "A-1"), ("pd", "A-2")] {
            conn.execute(
                "INSERT INTO events (geom, kind, occurred_on, lon, lat, offense, source, external_id,
                    h3_res15, row_hash) VALUES (?1, 'arrest', '2018-06-02', -122.68, 45.52, 'PCS', ?2, ?3, 42, 7)",
                params![&point_blob(-122.68, 45.52)[..], source, id],
            )
            .unwrap();
        }
        conn.execute("DELETE FROM events WHERE external_id = 'A-2'", []).unwrap();
    }
    let store = GpkgStore::open(&path).unwrap();
    let rows = store.query(&EventQuery { limit: 1000, ..EventQuery::default() }).unwrap();
    assert_eq!(rows.len(), 301);
    // Migration 5: the presets' arrests were offense reports; another source's arrest stays one.
    let kind_of = |source: &str| -> Vec<EventKind> {
        rows.iter().filter(|(_, p)| p.event.source == source).map(|(_, p)| p.event.kind).collect()
    };
    assert!(kind_of("ppb").iter().all(|k| *k == EventKind::OffenseReport));
    assert_eq!(kind_of("pd"), [EventKind::Arrest]);
    let (max_fid, seq): (i64, i64) = store
        .conn
        .query_row(
            "SELECT (SELECT max(fid) FROM events), (SELECT seq FROM sqlite_sequence WHERE name = 'events')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((max_fid, seq), (301, 302), "the deleted event's id stays used");
    let kind_check: String =
        store.conn.query_row("SELECT sql FROM sqlite_master WHERE name = 'events'", [], |r| r.get(0)).unwrap();
    assert!(kind_check.contains("'offense_report'"), "{kind_check}");
    // Migration 3 drew each existing event a record key: 300 draws from 256 values give about 176
    // distinct ones.
    let keys: std::collections::BTreeSet<u8> = rows.iter().map(|(_, p)| p.record_key).collect();
    assert!(keys.len() > 120, "{} distinct record keys", keys.len());
    let p = &rows[0].1;
    assert_eq!((p.event.point.lon(), p.event.point.lat()), (-122.6793, 45.5189));
    assert_eq!(p.zone.as_deref(), Some("downtown"));
    assert_eq!(p.zone_set, Some(("portland-lead-2018".to_owned(), "v1".to_owned())));
    assert_eq!((p.cell, p.event.external_id.as_str()), (42, "18-1"));
    // Migration 7 stored each event's cell fix code.
    let missing: i64 =
        store.conn.query_row("SELECT count(*) FROM events WHERE h3_fix IS NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(missing, 0);
    assert_eq!(p.fix, crate::cells::columns::fix_code(42, -122.6793, 45.5189));
    let version: i64 = store.conn.query_row("SELECT max(version) FROM leadmap_migrations", [], |r| r.get(0)).unwrap();
    assert_eq!(version, i64::try_from(MIGRATIONS.len()).unwrap());
}

/// `n` events placed on a grid of 20 columns 0.001° apart in downtown Portland (kinds in turn, all
/// on 2019-06-01, PCS, source `t`, id `i`), each changed by `edit` before it is placed.
pub(crate) fn placed_grid(
    zones: &crate::zones::ZoneCatalog,
    n: usize,
    edit: impl Fn(usize, &mut Event),
) -> Vec<Placed> {
    (0..n)
        .map(|i| {
            let mut event = Event {
                kind: EventKind::ALL[i % 3],
                occurred_on: "2019-06-01".parse().unwrap(),
                occurred_at: None,
                point: crate::coord::LonLat::new(-122.68 + (i % 20) as f64 * 1e-3, 45.52 + (i / 20) as f64 * 1e-3)
                    .unwrap(),
                offense: Offense::parse("PCS"),
                race_ethnicity: None,
                agency: None,
                source: "t".into(),
                external_id: i.to_string(),
            };
            edit(i, &mut event);
            crate::events::place(event, zones)
        })
        .collect()
}

#[test]
fn record_keys_are_kept_through_the_store_and_give_the_same_cell_keys() {
    use crate::cells::columns::{ColumnRow, ColumnsBuilder, EventFilter};
    let zones =
        crate::zones::ZoneCatalog::new(crate::builtin::zone_sets().unwrap(), crate::zones::IndexOptions::default());
    let placed = placed_grid(&zones, 400, |_, _| {});
    let keys: std::collections::BTreeSet<u8> = placed.iter().map(|p| p.record_key).collect();
    assert!(keys.len() > 150, "keys are drawn at random: {} distinct of 400", keys.len());
    let mut store = GpkgStore::open_in_memory().unwrap();
    let run = store.begin_import("t.csv", "t").unwrap();
    let rows: Vec<ImportRow> = placed
        .iter()
        .enumerate()
        .map(|(i, p)| ImportRow { line: i as u64 + 2, placed: p.clone(), fingerprint: super::super::fingerprint(p) })
        .collect();
    let (outcome, _) = store.import_batch(run, &rows).unwrap();
    assert_eq!(outcome.inserted, 400);
    // The columns an ingest appends (from the placed events) and the ones a restart reads (from the
    // store) give every cell the same counts and cell keys.
    let mut live = ColumnsBuilder::default();
    for p in &placed {
        live.push(&ColumnRow::of(p));
    }
    let live = live.finish();
    let stored = crate::store::load_columns(&store).unwrap();
    for res in ["7", "9", "11"] {
        let res = res.parse().unwrap();
        let a = live.count_cells(&EventFilter::default(), res);
        assert_eq!(a, stored.count_cells(&EventFilter::default(), res), "res {res}");
        assert!(a.iter().any(|(_, n)| n.keys != [0; EventKind::COUNT]));
    }
    // A correction keeps the event's key.
    let mut moved = placed[0].clone();
    moved.event.offense = Offense::parse("SQ");
    moved.record_key = moved.record_key.wrapping_add(1);
    let run = store.begin_import("t2.csv", "t").unwrap();
    let fingerprint = super::super::fingerprint(&moved);
    let (outcome, _) = store.import_batch(run, &[ImportRow { line: 2, placed: moved, fingerprint }]).unwrap();
    assert_eq!(outcome.updated, 1);
    let after = store.query(&EventQuery { limit: 1, ..EventQuery::default() }).unwrap();
    assert_eq!(after[0].1.record_key, placed[0].record_key);
}

#[test]
fn a_snapshot_read_in_parts_gives_every_event_once_with_its_names() {
    use crate::cells::columns::{ColumnRow, ColumnsBuilder, EventFilter};
    let zones =
        crate::zones::ZoneCatalog::new(crate::builtin::zone_sets().unwrap(), crate::zones::IndexOptions::default());
    // Names first seen in a different order in each part, so the parts' dictionaries differ.
    let placed = placed_grid(&zones, 400, |i, e| {
        e.occurred_on = ["2017-03-01", "2019-06-01"][i % 2].parse().unwrap();
        e.offense = Offense::parse(["PCS", "SQ", "CDO"][(i / 90) % 3]);
        e.race_ethnicity = Some(["a", "b", "c"][(i / 150) % 3].to_owned());
        e.source = ["s", "t"][usize::from(i >= 250)].into();
    });
    let dir = tempfile::tempdir().unwrap();
    let mut store = GpkgStore::open(&dir.path().join("parts.gpkg")).unwrap();
    store.upsert(&placed).unwrap();
    // Ids not dense: a run in the middle removed.
    store.conn.execute("DELETE FROM events WHERE fid BETWEEN 120 AND 160", []).unwrap();
    let kept: Vec<&Placed> =
        placed.iter().enumerate().filter(|(i, _)| !(119..160).contains(i)).map(|(_, p)| p).collect();
    let snapshot = store.read_snapshot().unwrap().unwrap();
    assert_eq!(snapshot.count(), kept.len() as u64);
    let parts = snapshot.into_parts();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(4);
    assert_eq!(parts.len(), cores);
    let mut built = Vec::new();
    for mut part in parts {
        let mut b = ColumnsBuilder::default();
        part.scan(&mut |row| b.push(row)).unwrap();
        assert_eq!(b.to_compute(), 0, "every fix code was stored");
        built.push(b.into_part());
    }
    let read = crate::cells::columns::EventColumns::from_parts(built);
    assert_eq!(read.blocks(), cores);
    let mut want = ColumnsBuilder::default();
    for p in &kept {
        want.push(&ColumnRow::of(p));
    }
    let want = want.finish();
    assert_eq!(read.len(), kept.len());
    let filters = [
        EventFilter::default(),
        EventFilter { group: Some("c".into()), ..EventFilter::default() },
        EventFilter { group: Some("b".into()), source: Some("t".into()), ..EventFilter::default() },
        EventFilter {
            offense: Some("CDO".into()),
            from: Some("2018-01-01".parse().unwrap()),
            ..EventFilter::default()
        },
        EventFilter { zone: Some(Some("downtown".into())), ..EventFilter::default() },
    ];
    for f in &filters {
        for res in ["7", "9", "12"] {
            let res = res.parse().unwrap();
            assert_eq!(read.count_cells(f, res), want.count_cells(f, res), "{f:?} at {res:?}");
        }
    }
    assert!(!read.count_cells(&filters[1], "9".parse().unwrap()).is_empty());
}

#[test]
fn point_blobs_read_back_with_or_without_an_envelope() {
    assert_eq!(blob_point(&point_blob(-122.5, 45.25)), Some((-122.5, 45.25)));
    // GDAL writes points with an XY envelope (flags 0b0000_0011) in either byte order.
    let mut b = vec![b'G', b'P', 0, 0b0000_0011, 0xE6, 0x10, 0, 0];
    b.extend([0u8; 32]);
    b.push(0);
    b.extend(1u32.to_be_bytes());
    b.extend((-1.5f64).to_be_bytes());
    b.extend(2.5f64.to_be_bytes());
    assert_eq!(blob_point(&b), Some((-1.5, 2.5)));
    assert_eq!(blob_point(b"GP"), None);
}
