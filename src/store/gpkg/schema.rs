//! The `GeoPackage`'s schema: its application id and version, the numbered migrations, the one-off
//! upgrade steps they need, and the store's numbers for zone sets.
use rusqlite::{Connection, params};

use super::blob_point;

/// `PRAGMA application_id` of a GeoPackage: "GPKG".
pub(super) const GPKG_APPLICATION_ID: i32 = 0x4750_4B47;
/// `PRAGMA user_version` of GeoPackage 1.3.
pub(super) const GPKG_USER_VERSION: i32 = 10_300;

/// The migrations, in order; each runs once, in a transaction.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the GeoPackage core tables and the events layer.
    r#"
    CREATE TABLE gpkg_spatial_ref_sys (
        srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
        organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
    INSERT INTO gpkg_spatial_ref_sys VALUES
        ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
        ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'),
        ('WGS 84 geodetic', 4326, 'EPSG', 4326,
         'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]',
         'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');
    CREATE TABLE gpkg_contents (
        table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
        description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
        CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
    CREATE TABLE gpkg_geometry_columns (
        table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
        srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
        CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
        CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
        CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
    CREATE TABLE events (
        fid INTEGER PRIMARY KEY AUTOINCREMENT,
        geom POINT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('arrest', 'diversion_referral', 'social_contact_referral')),
        occurred_on DATE NOT NULL,
        occurred_at TEXT,
        lon DOUBLE NOT NULL,
        lat DOUBLE NOT NULL,
        offense TEXT NOT NULL,
        race_ethnicity TEXT,
        agency TEXT,
        source TEXT NOT NULL,
        external_id TEXT NOT NULL,
        zone TEXT,
        zone_set TEXT,
        zone_set_version TEXT,
        h3_res15 INTEGER NOT NULL,
        row_hash INTEGER NOT NULL,
        stored_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        UNIQUE (source, external_id));
    CREATE INDEX events_occurred_on ON events (occurred_on);
    INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
        VALUES ('events', 'features', 'events', 'LEAD-related contacts (no personal fields)', 4326);
    INSERT INTO gpkg_geometry_columns VALUES ('events', 'geom', 'POINT', 4326, 0, 0);
    "#,
    // 2: a slimmer events row (the point only in `geom`; the zone set by number; where each event came
    // from: the load, file line or HTTP group, that last wrote it), and idempotency keys.
    r"
    CREATE TABLE leadmap_loads (
        id INTEGER PRIMARY KEY, kind TEXT NOT NULL, file TEXT, source TEXT, started_at TEXT NOT NULL,
        finished_at TEXT, inserted INTEGER, updated INTEGER, unchanged INTEGER, rejected INTEGER);
    CREATE TABLE leadmap_zone_sets (
        id INTEGER PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL, UNIQUE (name, version));
    CREATE TABLE leadmap_idempotency (
        scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint BLOB NOT NULL, inserted INTEGER NOT NULL,
        updated INTEGER NOT NULL, unchanged INTEGER NOT NULL, created_at TEXT NOT NULL,
        PRIMARY KEY (scope, key)) WITHOUT ROWID;
    CREATE INDEX leadmap_idempotency_created ON leadmap_idempotency (created_at);
    INSERT INTO leadmap_loads (id, kind, started_at) VALUES (1, 'before schema 2', strftime('%Y-%m-%dT%H:%M:%fZ','now'));
    INSERT INTO leadmap_zone_sets (name, version)
        SELECT DISTINCT zone_set, zone_set_version FROM events WHERE zone_set IS NOT NULL;
    CREATE TABLE events_v2 (
        fid INTEGER PRIMARY KEY AUTOINCREMENT,
        geom POINT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('arrest', 'diversion_referral', 'social_contact_referral')),
        occurred_on DATE NOT NULL,
        occurred_at TEXT,
        offense TEXT NOT NULL,
        race_ethnicity TEXT,
        agency TEXT,
        source TEXT NOT NULL,
        external_id TEXT NOT NULL,
        zone TEXT,
        zone_set_id INTEGER,
        h3_res15 INTEGER NOT NULL,
        row_hash INTEGER NOT NULL,
        load_id INTEGER NOT NULL,
        load_line INTEGER,
        UNIQUE (source, external_id));
    INSERT INTO events_v2 SELECT e.fid, e.geom, e.kind, e.occurred_on, e.occurred_at, e.offense, e.race_ethnicity,
        e.agency, e.source, e.external_id, e.zone, z.id, e.h3_res15, 0, 1, NULL
        FROM events e LEFT JOIN leadmap_zone_sets z ON z.name = e.zone_set AND z.version = e.zone_set_version;
    DELETE FROM sqlite_sequence WHERE name = 'events_v2';
    INSERT INTO sqlite_sequence (name, seq) SELECT 'events_v2', seq FROM sqlite_sequence WHERE name = 'events';
    DROP TABLE events;
    ALTER TABLE events_v2 RENAME TO events;
    CREATE INDEX events_occurred_on ON events (occurred_on);
    ",
    // 3: each event's permanent random record key (0..=255), the basis of the perturbation of the counts
    // planners see; existing events draw theirs now (SQLite's random() is seeded from the system).
    r"
    ALTER TABLE events ADD COLUMN record_key INTEGER NOT NULL DEFAULT 0;
    UPDATE events SET record_key = random() & 255;
    ",
    // 4: proposed zone sets (analysts test boundaries against history) and the audit of who evaluated
    // which proposal over which window.
    r"
    CREATE TABLE leadmap_proposals (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        author TEXT NOT NULL,
        created_at TEXT NOT NULL,
        version TEXT NOT NULL,
        cells TEXT,
        zones_geojson TEXT NOT NULL);
    CREATE TABLE leadmap_audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        who TEXT NOT NULL,
        role TEXT NOT NULL,
        action TEXT NOT NULL,
        proposals TEXT NOT NULL,
        window_from TEXT,
        window_to TEXT);
    ",
    // 5: a fourth kind, `offense_report` (police open data report offenses, not arrests): the kind check
    // is part of the table, so the table is rebuilt (ids, their sequence and every column kept). Events
    // the `ppb` and `ppb-2012` presets imported as arrests were offense reports: they are relabelled.
    r"
    CREATE TABLE events_v5 (
        fid INTEGER PRIMARY KEY AUTOINCREMENT,
        geom POINT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('arrest', 'diversion_referral', 'social_contact_referral', 'offense_report')),
        occurred_on DATE NOT NULL,
        occurred_at TEXT,
        offense TEXT NOT NULL,
        race_ethnicity TEXT,
        agency TEXT,
        source TEXT NOT NULL,
        external_id TEXT NOT NULL,
        zone TEXT,
        zone_set_id INTEGER,
        h3_res15 INTEGER NOT NULL,
        row_hash INTEGER NOT NULL,
        load_id INTEGER NOT NULL,
        load_line INTEGER,
        record_key INTEGER NOT NULL DEFAULT 0,
        UNIQUE (source, external_id));
    INSERT INTO events_v5 (fid, geom, kind, occurred_on, occurred_at, offense, race_ethnicity, agency, source,
            external_id, zone, zone_set_id, h3_res15, row_hash, load_id, load_line, record_key)
        SELECT fid, geom,
            CASE WHEN kind = 'arrest' AND source IN ('ppb', 'ppb-2012') THEN 'offense_report' ELSE kind END,
            occurred_on, occurred_at, offense, race_ethnicity, agency, source, external_id, zone, zone_set_id,
            h3_res15, row_hash, load_id, load_line, record_key
        FROM events ORDER BY fid;
    DELETE FROM sqlite_sequence WHERE name = 'events_v5';
    INSERT INTO sqlite_sequence (name, seq) SELECT 'events_v5', seq FROM sqlite_sequence WHERE name = 'events';
    DROP TABLE events;
    ALTER TABLE events_v5 RENAME TO events;
    CREATE INDEX events_occurred_on ON events (occurred_on);
    ",
    // 6: removals (a wrong import, a retention schedule, sealed or expunged records): who removed what,
    // when and how many; and, on each load, whether and when its events were removed.
    r"
    CREATE TABLE leadmap_deletions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        who TEXT NOT NULL,
        selector TEXT NOT NULL,
        removed INTEGER NOT NULL);
    ALTER TABLE leadmap_loads ADD COLUMN removed_at TEXT;
    ALTER TABLE leadmap_loads ADD COLUMN removed INTEGER;
    CREATE INDEX events_load ON events (load_id);
    ",
    // 7: each event's cell fix code (which of its res-5..=12 cells are not ancestors of its res-15 cell,
    // see `cells::columns::fix_code`), so a start reads it instead of computing it. Stored events get
    // theirs in `Migration::Fixes`, after this.
    r"
    ALTER TABLE events ADD COLUMN h3_fix INTEGER;
    ",
];

/// Migration 7's second step: every stored event's cell fix code, computed on every core a slice of
/// events at a time (about 4 s a million events on two cores; once, at the upgrade).
pub(super) fn fill_fixes(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    use rayon::prelude::*;
    const SLICE: i64 = 262_144;
    let total: i64 = tx.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
    if total > 0 {
        tracing::info!(events = total, "store upgrade: computing each stored event's cell fix code (once)");
    }
    let mut read = tx.prepare("SELECT fid, geom, h3_res15 FROM events WHERE fid > ?1 ORDER BY fid LIMIT ?2")?;
    let mut write = tx.prepare("UPDATE events SET h3_fix = ?2 WHERE fid = ?1")?;
    let (mut after, mut done) = (0i64, 0i64);
    loop {
        // (id, point, res-15 cell)
        type Stored = (i64, Option<(f64, f64)>, i64);
        let rows: Vec<Stored> = read
            .query_map(params![after, SLICE], |r| Ok((r.get(0)?, blob_point(r.get_ref(1)?.as_blob()?), r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let Some(&(last, _, _)) = rows.last() else { break };
        let fixes: Vec<(i64, u32)> = rows
            .par_iter()
            .map(|&(fid, point, cell)| {
                (fid, point.map_or(0, |(lon, lat)| crate::cells::columns::fix_code(cell.cast_unsigned(), lon, lat)))
            })
            .collect();
        for (fid, fix) in fixes {
            write.execute(params![fid, i64::from(fix)])?;
        }
        after = last;
        done += i64::try_from(rows.len()).unwrap_or(0);
        if total >= 4 * SLICE {
            tracing::info!(done, events = total, "store upgrade: cell fix codes");
        }
    }
    Ok(())
}

/// The store's numbers for zone sets (`leadmap_zone_sets`), cached: an import places its events under a
/// handful of sets.
#[derive(Debug, Default)]
pub(super) struct ZoneSetIds(Vec<(String, String, i64)>);

impl ZoneSetIds {
    pub(super) fn id(&mut self, conn: &Connection, name: &str, version: &str) -> rusqlite::Result<i64> {
        if let Some((_, _, id)) = self.0.iter().find(|(n, v, _)| n == name && v == version) {
            return Ok(*id);
        }
        conn.execute(
            "INSERT OR IGNORE INTO leadmap_zone_sets (name, version) VALUES (?1, ?2)",
            params![name, version],
        )?;
        let id = conn.query_row(
            "SELECT id FROM leadmap_zone_sets WHERE name = ?1 AND version = ?2",
            params![name, version],
            |r| r.get(0),
        )?;
        self.0.push((name.to_owned(), version.to_owned(), id));
        Ok(id)
    }
}
