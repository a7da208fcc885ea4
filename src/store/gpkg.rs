//! The embedded event store: one `SQLite` file (WAL) laid out as an OGC `GeoPackage` 1.3, so QGIS and
//! `ogrinfo` open its `events` table as a point layer (EPSG:4326) as it is. Schema changes are numbered
//! migrations recorded in `leadmap_migrations` (GeoPackage owns `PRAGMA user_version`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    AuditRecord, BatchOutcome, EventQuery, EventStore, IDEMPOTENCY_KEY_HOURS, ImportRow, LoadId, ProposalRecord,
    Receipt, Repeat, StoreError, Submission,
};
use crate::events::{Event, Offense, Placed};

/// `PRAGMA application_id` of a GeoPackage: "GPKG".
const GPKG_APPLICATION_ID: i32 = 0x4750_4B47;
/// `PRAGMA user_version` of GeoPackage 1.3.
const GPKG_USER_VERSION: i32 = 10_300;

/// The migrations, in order; each runs once, in a transaction.
const MIGRATIONS: &[&str] = &[
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

/// Writes an event (parameters bound by [`bind_event`]); an identity already stored is left alone.
const INSERT: &str = "INSERT INTO events (geom, kind, occurred_on, occurred_at, offense, race_ethnicity, agency,
        source, external_id, zone, zone_set_id, h3_res15, row_hash, load_id, load_line, record_key, h3_fix)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
    ON CONFLICT (source, external_id) DO NOTHING";
/// A stored event by identity: its id, fingerprint and provenance.
const FIND: &str = "SELECT fid, row_hash, load_id, load_line FROM events WHERE source = ?1 AND external_id = ?2";
/// Rewrites a stored event (parameters as [`INSERT`]'s, then the fid as ?18); its record key stays.
const UPDATE: &str = "UPDATE events SET geom = ?1, kind = ?2, occurred_on = ?3, occurred_at = ?4, offense = ?5,
        race_ethnicity = ?6, agency = ?7, source = ?8, external_id = ?9, zone = ?10, zone_set_id = ?11,
        h3_res15 = ?12, row_hash = ?13, load_id = ?14, load_line = ?15, h3_fix = ?17
    WHERE fid = ?18";
/// Records that a load read a stored event unchanged.
const TOUCH: &str = "UPDATE events SET load_id = ?1, load_line = ?2 WHERE fid = ?3";

/// A GeoPackage event store.
#[derive(Debug)]
pub struct GpkgStore {
    conn: Connection,
    path: String,
    /// When expired idempotency keys were last deleted.
    last_purge: Option<std::time::Instant>,
    /// The numbers of the zone sets events were placed under.
    zone_sets: ZoneSetIds,
}

impl GpkgStore {
    /// Opens the store at `path`, creating it (or migrating it) as needed.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let name = path.display().to_string();
        let conn = Connection::open(path).map_err(|source| StoreError::Sqlite { path: name.clone(), source })?;
        Self::prepare(conn, name)
    }

    /// A store in memory, gone when dropped (the demo data set).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let name = ":memory:".to_owned();
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Sqlite { path: name.clone(), source })?;
        Self::prepare(conn, name)
    }

    fn prepare(conn: Connection, name: String) -> Result<Self, StoreError> {
        let err = |source| StoreError::Sqlite { path: name.clone(), source };
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(err)?;
        // 64 MB of page cache (the default is 2 MB): the identity index's hot pages stay in memory
        // between the service's commits instead of being read back from the file.
        conn.pragma_update(None, "cache_size", -65_536).map_err(err)?;
        // Checkpoint every 16 MB of WAL (the default is 4 MB): fewer, larger copies of the same hot pages.
        conn.pragma_update(None, "wal_autocheckpoint", 4096).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(err)?;
        // leadmap_lon(geom), leadmap_lat(geom): the point of a geometry blob, for bounding-box filters.
        for (name, pick) in [("leadmap_lon", 0), ("leadmap_lat", 1)] {
            conn.create_scalar_function(
                name,
                1,
                rusqlite::functions::FunctionFlags::SQLITE_UTF8
                    | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
                move |ctx| {
                    let blob = ctx.get_raw(0).as_blob_or_null().ok().flatten().unwrap_or_default();
                    Ok(blob_point(blob).map(|(x, y)| if pick == 0 { x } else { y }))
                },
            )
            .map_err(err)?;
        }
        let mut store = Self { conn, path: name, last_purge: None, zone_sets: ZoneSetIds::default() };
        store.migrate()?;
        Ok(store)
    }

    /// Stored proposals (one, by id, or all), oldest first.
    fn read_proposals(&self, id: Option<&str>) -> Result<Vec<ProposalRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, name, author, created_at, version, cells, zones_geojson FROM leadmap_proposals
                 WHERE ?1 IS NULL OR id = ?1 ORDER BY created_at, id",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map(params![id], |r| {
                let cells: Option<String> = r.get(5)?;
                Ok(ProposalRecord {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    author: r.get(2)?,
                    created_at: r.get(3)?,
                    version: r.get(4)?,
                    cells: cells.map(|c| c.split(',').map(str::to_owned).collect()),
                    zones_geojson: r.get(6)?,
                })
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.path.clone(), source }
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let app_id: i32 =
            self.conn.pragma_query_value(None, "application_id", |r| r.get(0)).map_err(|e| self.sqlite(e))?;
        let tables: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0))
            .map_err(|e| self.sqlite(e))?;
        if tables > 0 && app_id != GPKG_APPLICATION_ID {
            return Err(StoreError::Incompatible {
                path: self.path.clone(),
                reason: "not a GeoPackage (application_id is not GPKG); refusing to change it".into(),
            });
        }
        self.conn
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS leadmap_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
            )
            .map_err(|e| self.sqlite(e))?;
        let done: i64 = self
            .conn
            .query_row("SELECT coalesce(max(version), 0) FROM leadmap_migrations", [], |r| r.get(0))
            .map_err(|e| self.sqlite(e))?;
        let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        if done > known {
            return Err(StoreError::Incompatible {
                path: self.path.clone(),
                reason: format!(
                    "the store has schema version {done}; this leadmap knows up to {known}: upgrade leadmap"
                ),
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(done).unwrap_or(0)) {
            let tx = self.conn.transaction().map_err(|e| StoreError::Sqlite { path: self.path.clone(), source: e })?;
            let version = i64::try_from(i + 1).unwrap_or(i64::MAX);
            let result = tx
                .execute_batch(sql)
                .and_then(|()| if version == 7 { fill_fixes(&tx) } else { Ok(()) })
                .and_then(|()| {
                    tx.execute(
                        "INSERT INTO leadmap_migrations VALUES (?1, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
                        params![version],
                    )
                });
            result.and_then(|_| tx.commit()).map_err(|e| StoreError::Sqlite { path: self.path.clone(), source: e })?;
        }
        self.conn.pragma_update(None, "application_id", GPKG_APPLICATION_ID).map_err(|e| self.sqlite(e))?;
        self.conn.pragma_update(None, "user_version", GPKG_USER_VERSION).map_err(|e| self.sqlite(e))?;
        Ok(())
    }
}

/// Migration 7's second step: every stored event's cell fix code, computed on every core a slice of
/// events at a time (about 4 s a million events on two cores; once, at the upgrade).
fn fill_fixes(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
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

/// An `events` row as stored.
struct RawRow {
    kind: String,
    occurred_on: String,
    occurred_at: Option<String>,
    geom: Vec<u8>,
    offense: String,
    race_ethnicity: Option<String>,
    agency: Option<String>,
    source: String,
    external_id: String,
    zone: Option<String>,
    zone_set: Option<String>,
    zone_set_version: Option<String>,
    cell: i64,
    record_key: i64,
    fix: Option<i64>,
}

impl RawRow {
    fn into_placed(self) -> Result<Placed, String> {
        let (lon, lat) = blob_point(&self.geom).ok_or("geom is not a GeoPackage point")?;
        let event = Event {
            kind: self.kind.parse()?,
            occurred_on: self.occurred_on.parse().map_err(|_| format!("bad date {:?}", self.occurred_on))?,
            occurred_at: self
                .occurred_at
                .map(|t| chrono::NaiveTime::parse_from_str(&t, "%H:%M:%S").map_err(|_| format!("bad time {t:?}")))
                .transpose()?,
            point: crate::coord::LonLat::new(lon, lat).map_err(|e| e.to_string())?,
            offense: Offense::parse(&self.offense),
            race_ethnicity: self.race_ethnicity,
            agency: self.agency,
            source: self.source,
            external_id: self.external_id,
        };
        let zone_set = self.zone_set.zip(self.zone_set_version);
        let record_key = u8::try_from(self.record_key).map_err(|_| format!("bad record key {}", self.record_key))?;
        let cell = self.cell.cast_unsigned();
        let fix = match self.fix.map(u32::try_from) {
            Some(Ok(fix)) => fix,
            Some(Err(_)) => return Err(format!("bad cell fix code {:?}", self.fix)),
            None => crate::cells::columns::fix_code(cell, lon, lat),
        };
        Ok(Placed { event, zone: self.zone, zone_set, cell, fix, record_key })
    }
}

/// The (x, y) of a GeoPackage point blob: the `GP` header (its envelope skipped) and a WKB point in either
/// byte order.
#[must_use]
pub fn blob_point(b: &[u8]) -> Option<(f64, f64)> {
    if b.get(..2)? != b"GP" {
        return None;
    }
    let flags = *b.get(3)?;
    let envelope = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        _ => return None,
    };
    let wkb = b.get(8 + envelope..)?;
    let little = *wkb.first()? == 1;
    let word = |at: usize| -> Option<[u8; 4]> { wkb.get(at..at + 4)?.try_into().ok() };
    let float = |at: usize| -> Option<f64> {
        let bytes: [u8; 8] = wkb.get(at..at + 8)?.try_into().ok()?;
        Some(if little { f64::from_le_bytes(bytes) } else { f64::from_be_bytes(bytes) })
    };
    let kind = if little { u32::from_le_bytes(word(1)?) } else { u32::from_be_bytes(word(1)?) };
    (kind == 1).then_some(())?;
    Some((float(5)?, float(13)?))
}

/// The store's numbers for zone sets (`leadmap_zone_sets`), cached: an import places its events under a
/// handful of sets.
#[derive(Debug, Default)]
struct ZoneSetIds(Vec<(String, String, i64)>);

impl ZoneSetIds {
    fn id(&mut self, conn: &Connection, name: &str, version: &str) -> rusqlite::Result<i64> {
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

/// A GeoPackage geometry blob for a point: the `GP` header (version 0, little-endian, no envelope,
/// SRS 4326) and the WKB point.
#[must_use]
pub fn point_blob(lon: f64, lat: f64) -> [u8; 29] {
    let mut b = [0u8; 29];
    b[..4].copy_from_slice(&[b'G', b'P', 0, 0b0000_0001]);
    b[4..8].copy_from_slice(&4326i32.to_le_bytes());
    b[8] = 1; // WKB little-endian
    b[9..13].copy_from_slice(&1u32.to_le_bytes()); // Point
    b[13..21].copy_from_slice(&lon.to_le_bytes());
    b[21..29].copy_from_slice(&lat.to_le_bytes());
    b
}

/// See [`super::fingerprint`].
fn row_hash(p: &Placed) -> i64 {
    super::fingerprint(p)
}

/// `YYYY-MM-DD` without allocating (years 0–9999; the store's dates are checked to lie there).
/// A stored date (`YYYY-MM-DD`, as [`iso_date`] writes it) read without chrono's general parser (a
/// start reads millions); anything else is left to chrono.
fn iso_day(s: &str) -> Option<chrono::NaiveDate> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        chrono::NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
    } else {
        s.parse().ok()
    }
}

pub(super) fn iso_date(d: chrono::NaiveDate) -> [u8; 10] {
    use chrono::Datelike;
    let (y, m, day) = (d.year().clamp(0, 9999).cast_unsigned(), d.month(), d.day());
    let digit = |n: u32| b'0' + (n % 10) as u8;
    [
        digit(y / 1000),
        digit(y / 100),
        digit(y / 10),
        digit(y),
        b'-',
        digit(m / 10),
        digit(m),
        b'-',
        digit(day / 10),
        digit(day),
    ]
}

/// `HH:MM:SS` without allocating.
pub(super) fn iso_time(t: chrono::NaiveTime) -> [u8; 8] {
    use chrono::Timelike;
    let (h, m, s) = (t.hour(), t.minute(), t.second());
    let digit = |n: u32| b'0' + (n % 10) as u8;
    [digit(h / 10), digit(h), b':', digit(m / 10), digit(m), b':', digit(s / 10), digit(s)]
}

/// Text from ASCII bytes made by [`iso_date`] / [`iso_time`].
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// Now, as the store writes times.
fn now_text() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The bounding box of written events, to keep `gpkg_contents`' extent.
struct Extent([f64; 4]);

impl Extent {
    fn new() -> Self {
        Self([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY])
    }

    fn add(&mut self, lon: f64, lat: f64) {
        let b = &mut self.0;
        *b = [b[0].min(lon), b[1].min(lat), b[2].max(lon), b[3].max(lat)];
    }

    fn save(&self, conn: &Connection) -> rusqlite::Result<()> {
        let b = self.0;
        if b[0].is_finite() {
            conn.execute(
                "UPDATE gpkg_contents SET min_x = min(coalesce(min_x, ?1), ?1), min_y = min(coalesce(min_y, ?2), ?2),
                    max_x = max(coalesce(max_x, ?3), ?3), max_y = max(coalesce(max_y, ?4), ?4),
                    last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE table_name = 'events'",
                params![b[0], b[1], b[2], b[3]],
            )?;
        }
        Ok(())
    }
}

/// Parameters of one event in [`INSERT`].
const PARAMS: usize = 17;

/// Binds an event to [`INSERT`]'s (and [`UPDATE`]'s) first [`PARAMS`] parameters, or to the ones after
/// `base` of a many-row insert.
#[allow(clippy::too_many_arguments, reason = "one parameter per bound column group; a struct would only rename them")]
fn bind_event(
    stmt: &mut rusqlite::CachedStatement<'_>,
    base: usize,
    p: &Placed,
    zone_set: Option<i64>,
    hash: i64,
    load: LoadId,
    line: Option<u64>,
) -> rusqlite::Result<()> {
    let e = &p.event;
    let blob = point_blob(e.point.lon(), e.point.lat());
    let date = iso_date(e.occurred_on);
    let time = e.occurred_at.map(iso_time);
    stmt.raw_bind_parameter(base + 1, &blob[..])?;
    stmt.raw_bind_parameter(base + 2, e.kind.as_str())?;
    stmt.raw_bind_parameter(base + 3, ascii(&date))?;
    stmt.raw_bind_parameter(base + 4, time.as_ref().map(|t| ascii(t)))?;
    stmt.raw_bind_parameter(base + 5, e.offense.as_str())?;
    stmt.raw_bind_parameter(base + 6, e.race_ethnicity.as_deref())?;
    stmt.raw_bind_parameter(base + 7, e.agency.as_deref())?;
    stmt.raw_bind_parameter(base + 8, e.source.as_str())?;
    stmt.raw_bind_parameter(base + 9, e.external_id.as_str())?;
    stmt.raw_bind_parameter(base + 10, p.zone.as_deref())?;
    stmt.raw_bind_parameter(base + 11, zone_set)?;
    stmt.raw_bind_parameter(base + 12, p.cell.cast_signed())?;
    stmt.raw_bind_parameter(base + 13, hash)?;
    stmt.raw_bind_parameter(base + 14, load.0)?;
    stmt.raw_bind_parameter(base + 15, line.map(u64::cast_signed))?;
    stmt.raw_bind_parameter(base + 16, i64::from(p.record_key))?;
    stmt.raw_bind_parameter(base + 17, i64::from(p.fix))
}

/// Writes events on `conn` (inside the caller's transaction) as load `load`: inserted when new,
/// rewritten when changed, left alone when the same. With `repeats`, each event carries its file line,
/// an event this same load already wrote is returned as a [`Repeat`] instead, and unchanged events are
/// marked as read by the load.
fn write_events<'p>(
    conn: &Connection,
    zone_sets: &mut ZoneSetIds,
    rows: impl Iterator<Item = (&'p Placed, Option<u64>)>,
    load: LoadId,
    repeats_of: Option<LoadId>,
) -> rusqlite::Result<(BatchOutcome, Vec<Repeat>)> {
    let mut insert = conn.prepare_cached(INSERT)?;
    let mut extent = Extent::new();
    let (mut outcome, mut repeats) = (BatchOutcome::default(), Vec::new());
    for (index, (p, line)) in rows.enumerate() {
        let hash = row_hash(p);
        let zone_set = p.zone_set.as_ref().map(|(n, v)| zone_sets.id(conn, n, v)).transpose()?;
        bind_event(&mut insert, 0, p, zone_set, hash, load, line)?;
        let (lon, lat) = (p.event.point.lon(), p.event.point.lat());
        if insert.raw_execute()? == 1 {
            outcome.inserted += 1;
            extent.add(lon, lat);
            continue;
        }
        let conflict = Conflict { p, zone_set, hash, load, line, repeats_of, index };
        conflict.resolve(conn, &mut outcome, &mut repeats, &mut extent)?;
    }
    extent.save(conn)?;
    Ok((outcome, repeats))
}

/// An event whose identity was already stored when it was inserted.
struct Conflict<'p> {
    p: &'p Placed,
    zone_set: Option<i64>,
    hash: i64,
    load: LoadId,
    line: Option<u64>,
    repeats_of: Option<LoadId>,
    index: usize,
}

impl Conflict<'_> {
    /// Counts it a repeat of this load, unchanged (marked as read by the load), or an update (rewritten).
    fn resolve(
        &self,
        conn: &Connection,
        outcome: &mut BatchOutcome,
        repeats: &mut Vec<Repeat>,
        extent: &mut Extent,
    ) -> rusqlite::Result<()> {
        let (e, load, line) = (&self.p.event, self.load, self.line);
        let (fid, stored_hash, stored_load, stored_line): (i64, i64, i64, Option<i64>) = conn
            .prepare_cached(FIND)?
            .query_row(params![e.source, e.external_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        if self.repeats_of == Some(LoadId(stored_load)) {
            repeats.push(Repeat { index: self.index, first_line: stored_line.unwrap_or(0).cast_unsigned() });
        } else if stored_hash == self.hash {
            outcome.unchanged += 1;
            if self.repeats_of.is_some() {
                conn.prepare_cached(TOUCH)?.execute(params![load.0, line.map(u64::cast_signed), fid])?;
            }
        } else {
            outcome.updated += 1;
            extent.add(e.point.lon(), e.point.lat());
            let mut update = conn.prepare_cached(UPDATE)?;
            bind_event(&mut update, 0, self.p, self.zone_set, self.hash, load, line)?;
            update.raw_bind_parameter(18, fid)?;
            update.raw_execute()?;
        }
        Ok(())
    }
}

/// Rows per statement of [`write_rows`]' many-row insert.
const ROWS_PER_INSERT: usize = 64;

/// An event to write with [`write_rows`]: the event, its line in its load, its fingerprint.
type Row<'p> = (&'p Placed, u64, i64);

/// [`write_events`] for many events, [`ROWS_PER_INSERT`] rows per INSERT statement: a statement's fixed
/// cost (cursors on the table and its indexes, a statement journal) is paid once for all of them. Each
/// row's line must be unique within the load. When a statement stores fewer rows than it was given, each
/// of its rows is looked up: one stored by this load at its own line was inserted now; the others are
/// resolved one by one as conflicts. With `repeats`, an identity this load already wrote is a [`Repeat`].
fn write_rows(
    conn: &Connection,
    zone_sets: &mut ZoneSetIds,
    batch: &[Row<'_>],
    load: LoadId,
    repeats_of: Option<LoadId>,
) -> rusqlite::Result<(BatchOutcome, Vec<Repeat>)> {
    let mut sql = String::from(&INSERT[..INSERT.find("VALUES").unwrap_or(0)]);
    sql.push_str("VALUES ");
    for r in 0..ROWS_PER_INSERT {
        let params: Vec<String> = (1..=PARAMS).map(|i| format!("?{}", r * PARAMS + i)).collect();
        let _ = write!(sql, "{}({})", if r == 0 { "" } else { ", " }, params.join(", "));
    }
    sql.push_str(" ON CONFLICT (source, external_id) DO NOTHING");
    let mut insert = conn.prepare_cached(&sql)?;
    let mut extent = Extent::new();
    let (mut outcome, mut repeats) = (BatchOutcome::default(), Vec::new());
    let chunks = batch.chunks_exact(ROWS_PER_INSERT);
    let rest = chunks.remainder();
    let mut zone_set_ids = Vec::with_capacity(ROWS_PER_INSERT);
    for (c, chunk) in chunks.enumerate() {
        zone_set_ids.clear();
        for (j, &(p, line, hash)) in chunk.iter().enumerate() {
            let zone_set = p.zone_set.as_ref().map(|(n, v)| zone_sets.id(conn, n, v)).transpose()?;
            bind_event(&mut insert, j * PARAMS, p, zone_set, hash, load, Some(line))?;
            zone_set_ids.push(zone_set);
        }
        let stored = insert.raw_execute()?;
        if stored == chunk.len() {
            outcome.inserted += stored as u64;
            for (p, _, _) in chunk {
                extent.add(p.event.point.lon(), p.event.point.lat());
            }
            continue;
        }
        for (j, (&(p, line, hash), &zone_set)) in chunk.iter().zip(&zone_set_ids).enumerate() {
            let e = &p.event;
            let (stored_load, stored_line): (i64, Option<i64>) = conn
                .prepare_cached("SELECT load_id, load_line FROM events WHERE source = ?1 AND external_id = ?2")?
                .query_row(params![e.source, e.external_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            if stored_load == load.0 && stored_line == Some(line.cast_signed()) {
                outcome.inserted += 1;
                extent.add(e.point.lon(), e.point.lat());
                continue;
            }
            let index = c * ROWS_PER_INSERT + j;
            let conflict = Conflict { p, zone_set, hash, load, line: Some(line), repeats_of, index };
            conflict.resolve(conn, &mut outcome, &mut repeats, &mut extent)?;
        }
    }
    extent.save(conn)?;
    let offset = batch.len() - rest.len();
    let (more, more_repeats) =
        write_events(conn, zone_sets, rest.iter().map(|&(p, line, _)| (p, Some(line))), load, repeats_of)?;
    outcome += more;
    repeats.extend(more_repeats.into_iter().map(|r| Repeat { index: r.index + offset, ..r }));
    Ok((outcome, repeats))
}

/// Records a load (an import of a file, or a group of HTTP ingests) and returns its number.
fn begin_load(conn: &Connection, kind: &str, file: Option<&str>, source: Option<&str>) -> rusqlite::Result<LoadId> {
    conn.prepare_cached("INSERT INTO leadmap_loads (kind, file, source, started_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![kind, file, source, now_text()])?;
    Ok(LoadId(conn.last_insert_rowid()))
}

/// One submission of a group commit, inside its savepoint: its key checked (and recorded), its events
/// written.
fn submit(
    conn: &Connection,
    zone_sets: &mut ZoneSetIds,
    sub: &Submission,
    load: LoadId,
    first_line: u64,
) -> rusqlite::Result<Receipt> {
    if let Some(k) = &sub.key {
        let seen: Option<(Vec<u8>, i64, i64, i64)> = conn
            .prepare_cached(
                "SELECT fingerprint, inserted, updated, unchanged FROM leadmap_idempotency WHERE scope = ?1 AND key = ?2",
            )?
            .query_row(params![k.scope, k.key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?;
        if let Some((fingerprint, inserted, updated, unchanged)) = seen {
            if fingerprint != k.fingerprint {
                return Ok(Receipt::KeyReused);
            }
            let n = i64::cast_unsigned;
            return Ok(Receipt::Replayed(BatchOutcome {
                inserted: n(inserted),
                updated: n(updated),
                unchanged: n(unchanged),
            }));
        }
    }
    // An ingest load's "lines" number its events across the group, so each is unique in the load.
    let rows: Vec<Row<'_>> =
        sub.events.iter().zip(first_line..).map(|(p, line)| (p, line, super::fingerprint(p))).collect();
    let (outcome, _) = write_rows(conn, zone_sets, &rows, load, None)?;
    if let Some(k) = &sub.key {
        let n = u64::cast_signed;
        conn.prepare_cached(
            "INSERT INTO leadmap_idempotency (scope, key, fingerprint, inserted, updated, unchanged, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
        )?
        .execute(params![
            k.scope,
            k.key,
            &k.fingerprint[..],
            n(outcome.inserted),
            n(outcome.updated),
            n(outcome.unchanged)
        ])?;
    }
    Ok(Receipt::Stored(outcome))
}

/// The `WHERE` clause picking a removal's events, and its parameters.
fn removal_filter(selector: &super::Removal) -> (&'static str, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    match selector {
        super::Removal::Load(id) => ("load_id = ?1", vec![Value::Integer(id.0)]),
        super::Removal::Source { source, before: None } => ("source = ?1", vec![Value::Text(source.clone())]),
        super::Removal::Source { source, before: Some(day) } => {
            ("source = ?1 AND occurred_on < ?2", vec![Value::Text(source.clone()), Value::Text(day.to_string())])
        }
        super::Removal::Id { source, external_id } => {
            ("source = ?1 AND external_id = ?2", vec![Value::Text(source.clone()), Value::Text(external_id.clone())])
        }
    }
}

/// What [`backup`] copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackupReport {
    /// Events in the copy.
    pub events: u64,
    /// Bytes of the copy.
    pub bytes: u64,
}

/// Copies the store at `src` into `dest` (a new file) with `SQLite`'s online backup API, all pages in one
/// step: the copy is one consistent snapshot of the store while a service goes on writing to it (in WAL
/// mode a reader does not stop the writer). The copy is then checked (`PRAGMA integrity_check`, and its
/// events counted).
pub fn backup(src: &Path, dest: &Path) -> Result<BackupReport, StoreError> {
    let name = src.display().to_string();
    let sqlite = |path: &Path| {
        let path = path.display().to_string();
        move |source| StoreError::Sqlite { path: path.clone(), source }
    };
    let from = Connection::open_with_flags(src, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sqlite(src))?;
    from.busy_timeout(std::time::Duration::from_secs(30)).map_err(sqlite(src))?;
    let is_store: bool = from
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'events'", [], |r| r.get(0))
        .map_err(sqlite(src))?;
    if !is_store {
        return Err(StoreError::Incompatible { path: name, reason: "not a leadmap store (no events table)".into() });
    }
    let mut to = Connection::open(dest).map_err(sqlite(dest))?;
    {
        let copy = rusqlite::backup::Backup::new(&from, &mut to).map_err(sqlite(dest))?;
        // Every page in one step (-1): one read transaction, so one snapshot. Busy or locked (a writer
        // checkpointing): ask again.
        let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
        loop {
            match copy.step(-1).map_err(sqlite(dest))? {
                rusqlite::backup::StepResult::Done => break,
                _ if std::time::Instant::now() > deadline => {
                    return Err(StoreError::Incompatible {
                        path: name,
                        reason: "the store stayed locked for 60 s; no copy was made".into(),
                    });
                }
                _ => std::thread::sleep(std::time::Duration::from_millis(50)),
            }
        }
    }
    let check: String = to.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(sqlite(dest))?;
    if check != "ok" {
        return Err(StoreError::Incompatible {
            path: dest.display().to_string(),
            reason: format!("the copy does not pass SQLite's integrity check: {check}"),
        });
    }
    let events: i64 = to.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).map_err(sqlite(dest))?;
    drop(to);
    let bytes = std::fs::metadata(dest).map_or(0, |m| m.len());
    Ok(BackupReport { events: events.cast_unsigned(), bytes })
}

/// A read snapshot of a store file on a connection of its own (see [`EventStore::read_snapshot`]).
/// A snapshot of at least this many events is read in parts (fewer in the unit tests, so they read in
/// parts too).
const SPLIT_AT: i64 = if cfg!(test) { 50 } else { 200_000 };

struct GpkgSnapshot {
    path: String,
    /// The events' count when the snapshot began (on the first part's connection).
    count: u64,
    /// One read connection per part, each in its own transaction, with the part's first and last id.
    parts: Vec<(Connection, i64, i64)>,
    /// The least and greatest id when the snapshot began.
    ids: (i64, i64),
}

impl super::StoreSnapshot for GpkgSnapshot {
    fn count(&self) -> u64 {
        self.count
    }

    fn into_parts(self: Box<Self>) -> Vec<Box<dyn super::StoreSnapshot>> {
        let Self { path, count, parts, ids } = *self;
        let span = u64::try_from(ids.1.saturating_sub(ids.0)).unwrap_or(0).saturating_add(1);
        parts
            .into_iter()
            .map(|part| {
                // Ids are dense (deletions are rare): a part holds about its share of the ids' range.
                let (from, to) = (part.1.max(ids.0), part.2.min(ids.1));
                let width = u64::try_from(to.saturating_sub(from)).unwrap_or(0).saturating_add(1);
                let share = u64::try_from(u128::from(count) * u128::from(width) / u128::from(span)).unwrap_or(count);
                Box::new(Self { path: path.clone(), count: share, parts: vec![part], ids })
                    as Box<dyn super::StoreSnapshot>
            })
            .collect()
    }

    fn scan(&mut self, f: &mut dyn FnMut(&crate::cells::columns::ColumnRow<'_>)) -> Result<u64, StoreError> {
        let mut n = 0;
        for (conn, from, to) in &self.parts {
            n += scan_events(conn, &self.path, *from, *to, f)?;
        }
        Ok(n)
    }
}

/// Every stored event on `conn` with an id in `from..=to` as a column row (see [`EventStore::scan`]).
fn scan_events(
    conn: &Connection,
    path: &str,
    from: i64,
    to: i64,
    f: &mut dyn FnMut(&crate::cells::columns::ColumnRow<'_>),
) -> Result<u64, StoreError> {
    let sqlite = |source| StoreError::Sqlite { path: path.to_owned(), source };
    let mut stmt = conn
        .prepare(
            "SELECT fid, geom, kind, occurred_on, offense, race_ethnicity, source, zone, h3_res15, record_key,
                h3_fix FROM events WHERE fid BETWEEN ?1 AND ?2",
        )
        .map_err(sqlite)?;
    let mut rows = stmt.query(params![from, to]).map_err(sqlite)?;
    let mut n = 0;
    while let Some(r) = rows.next().map_err(sqlite)? {
        let bad = |reason: String| StoreError::Incompatible {
            path: path.to_owned(),
            reason: format!("event {}: {reason}", r.get::<_, i64>(0).unwrap_or(-1)),
        };
        let text = |i: usize| -> Result<Option<&str>, StoreError> {
            match r.get_ref(i).map_err(sqlite)? {
                rusqlite::types::ValueRef::Null => Ok(None),
                v => v.as_str().map(Some).map_err(|e| bad(format!("column {i}: {e}"))),
            }
        };
        let geom = r.get_ref(1).and_then(|v| Ok(v.as_blob()?)).map_err(sqlite)?;
        let (lon, lat) = blob_point(geom).ok_or_else(|| bad("the geometry is not a point".to_owned()))?;
        // Stored kinds are spelled as `EventKind::as_str` writes them: compared before the lenient parser
        // (which allocates).
        let kind = text(2)?.unwrap_or_default();
        let kind = match crate::events::EventKind::ALL.into_iter().find(|k| k.as_str() == kind) {
            Some(k) => k,
            None => kind.parse().map_err(bad)?,
        };
        let day = text(3)?.unwrap_or_default();
        let day = iso_day(day).ok_or_else(|| bad(format!("bad date {day:?}")))?;
        let cell: i64 = r.get(8).map_err(sqlite)?;
        let key: i64 = r.get(9).map_err(sqlite)?;
        let record_key = u8::try_from(key).map_err(|_| bad(format!("bad record key {key}")))?;
        let fix: Option<i64> = r.get(10).map_err(sqlite)?;
        let fix = fix.map(|f| u32::try_from(f).map_err(|_| bad(format!("bad cell fix code {f}")))).transpose()?;
        f(&crate::cells::columns::ColumnRow {
            cell: cell.cast_unsigned(),
            lon,
            lat,
            day,
            kind,
            offense: text(4)?.unwrap_or_default(),
            group: text(5)?,
            source: text(6)?.unwrap_or_default(),
            zone: text(7)?,
            record_key,
            fix,
        });
        n += 1;
    }
    Ok(n)
}

impl EventStore for GpkgStore {
    fn upsert(&mut self, batch: &[Placed]) -> Result<BatchOutcome, StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(err)?;
        let load = begin_load(&tx, "ingest", None, None).map_err(err)?;
        let (outcome, _) =
            write_events(&tx, &mut self.zone_sets, batch.iter().map(|p| (p, None)), load, None).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(outcome)
    }

    fn commit_group(&mut self, group: &[Submission]) -> Result<Vec<Result<Receipt, StoreError>>, StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let purge = self.last_purge.is_none_or(|t| t.elapsed() > std::time::Duration::from_mins(10));
        let mut tx = self.conn.transaction().map_err(err)?;
        if purge {
            tx.execute(
                "DELETE FROM leadmap_idempotency WHERE created_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1)",
                params![format!("-{IDEMPOTENCY_KEY_HOURS} hours")],
            )
            .map_err(err)?;
        }
        let load = begin_load(&tx, "ingest", None, None).map_err(err)?;
        let mut receipts = Vec::with_capacity(group.len());
        let mut first_line = 1;
        for sub in group {
            let sp = tx.savepoint().map_err(err)?;
            let receipt = submit(&sp, &mut self.zone_sets, sub, load, first_line).map_err(err);
            first_line += sub.events.len() as u64;
            if receipt.is_ok() {
                sp.commit().map_err(err)?;
            }
            receipts.push(receipt);
        }
        tx.commit().map_err(err)?;
        if purge {
            self.last_purge = Some(std::time::Instant::now());
        }
        Ok(receipts)
    }

    fn begin_import(&mut self, file: &str, source: &str) -> Result<LoadId, StoreError> {
        // Bulk settings for the import's connection: commits need not reach the disk one by one (WAL
        // keeps each batch atomic; a crash loses at most the last batches, which a re-run stores), and a
        // larger page cache keeps the identity index in memory.
        self.conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| self.sqlite(e))?;
        self.conn.pragma_update(None, "cache_size", -262_144).map_err(|e| self.sqlite(e))?;
        // Checkpoint every 64 MB of WAL instead of 4 MB: the hot index pages a checkpoint copies are
        // copied once for many batches.
        self.conn.pragma_update(None, "wal_autocheckpoint", 16_384).map_err(|e| self.sqlite(e))?;
        begin_load(&self.conn, "import", Some(file), Some(source)).map_err(|e| self.sqlite(e))
    }

    fn import_batch(&mut self, run: LoadId, batch: &[ImportRow]) -> Result<(BatchOutcome, Vec<Repeat>), StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(err)?;
        let rows: Vec<Row<'_>> = batch.iter().map(|r| (&r.placed, r.line, r.fingerprint)).collect();
        let result = write_rows(&tx, &mut self.zone_sets, &rows, run, Some(run)).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(result)
    }

    fn finish_import(&mut self, run: LoadId, outcome: &BatchOutcome, rejected: u64) -> Result<(), StoreError> {
        let n = |v: u64| v.cast_signed();
        self.conn
            .execute(
                "UPDATE leadmap_loads SET finished_at = ?2, inserted = ?3, updated = ?4, unchanged = ?5, rejected = ?6
                 WHERE id = ?1",
                params![run.0, now_text(), n(outcome.inserted), n(outcome.updated), n(outcome.unchanged), n(rejected)],
            )
            .map_err(|e| self.sqlite(e))?;
        self.conn.pragma_update(None, "synchronous", "FULL").map_err(|e| self.sqlite(e))?;
        self.conn.pragma_update(None, "wal_autocheckpoint", 4096).map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    fn query(&self, q: &EventQuery) -> Result<Vec<(i64, Placed)>, StoreError> {
        let mut sql = String::from(
            "SELECT fid, kind, occurred_on, occurred_at, geom, offense, race_ethnicity, agency, source, external_id,
                zone, z.name, z.version, h3_res15, record_key, h3_fix FROM events LEFT JOIN leadmap_zone_sets z ON z.id = zone_set_id
             WHERE fid > ?",
        );
        let mut values: Vec<rusqlite::types::Value> = vec![q.after.into()];
        let mut add = |clause: &str, v: rusqlite::types::Value| {
            sql.push_str(clause);
            values.push(v);
        };
        if let Some(d) = q.from {
            add(" AND occurred_on >= ?", d.to_string().into());
        }
        if let Some(d) = q.to {
            add(" AND occurred_on <= ?", d.to_string().into());
        }
        if let Some(k) = q.kind {
            add(" AND kind = ?", k.as_str().to_owned().into());
        }
        match &q.zone {
            Some(Some(z)) => add(" AND zone = ?", z.clone().into()),
            Some(None) => add(" AND zone IS NULL AND ? = 1", 1i64.into()),
            None => {}
        }
        if let Some([x0, y0, x1, y1]) = q.bbox {
            for (clause, v) in [
                (" AND leadmap_lon(geom) >= ?", x0),
                (" AND leadmap_lat(geom) >= ?", y0),
                (" AND leadmap_lon(geom) <= ?", x1),
                (" AND leadmap_lat(geom) <= ?", y1),
            ] {
                add(clause, v.into());
            }
        }
        add(" ORDER BY fid LIMIT ?", i64::try_from(q.limit).unwrap_or(i64::MAX).into());
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(values), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    RawRow {
                        kind: r.get(1)?,
                        occurred_on: r.get(2)?,
                        occurred_at: r.get(3)?,
                        geom: r.get(4)?,
                        offense: r.get(5)?,
                        race_ethnicity: r.get(6)?,
                        agency: r.get(7)?,
                        source: r.get(8)?,
                        external_id: r.get(9)?,
                        zone: r.get(10)?,
                        zone_set: r.get(11)?,
                        zone_set_version: r.get(12)?,
                        cell: r.get(13)?,
                        record_key: r.get(14)?,
                        fix: r.get(15)?,
                    },
                ))
            })
            .map_err(|e| self.sqlite(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (fid, raw) = row.map_err(|e| self.sqlite(e))?;
            let placed = raw.into_placed().map_err(|reason| StoreError::Incompatible {
                path: self.path.clone(),
                reason: format!("event {fid}: {reason}"),
            })?;
            out.push((fid, placed));
        }
        Ok(out)
    }

    fn count(&self) -> Result<u64, StoreError> {
        let n: i64 =
            self.conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).map_err(|e| self.sqlite(e))?;
        Ok(n.cast_unsigned())
    }

    fn count_by_zone(&self) -> Result<BTreeMap<Option<String>, u64>, StoreError> {
        let mut stmt =
            self.conn.prepare("SELECT zone, count(*) FROM events GROUP BY zone").map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?.cast_unsigned())))
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    fn scan(&self, f: &mut dyn FnMut(&crate::cells::columns::ColumnRow<'_>)) -> Result<u64, StoreError> {
        scan_events(&self.conn, &self.path, i64::MIN, i64::MAX, f)
    }

    fn delete_events(&mut self, selector: &super::Removal, who: &str) -> Result<u64, StoreError> {
        let tx = self.conn.transaction().map_err(|e| StoreError::Sqlite { path: self.path.clone(), source: e })?;
        let (filter, args) = removal_filter(selector);
        let removed = tx
            .execute(&format!("DELETE FROM events WHERE {filter}"), rusqlite::params_from_iter(args.iter()))
            .map_err(|e| StoreError::Sqlite { path: self.path.clone(), source: e })?;
        let removed = removed as u64;
        tx.execute(
            "INSERT INTO leadmap_deletions (who, selector, removed) VALUES (?1, ?2, ?3)",
            params![who, selector.audit_text(), removed.cast_signed()],
        )
        .map_err(|e| StoreError::Sqlite { path: self.path.clone(), source: e })?;
        if let super::Removal::Load(id) = selector {
            tx.execute(
                "UPDATE leadmap_loads SET removed_at = strftime('%Y-%m-%dT%H:%M:%fZ','now'),
                    removed = coalesce(removed, 0) + ?2 WHERE id = ?1",
                params![id.0, removed.cast_signed()],
            )
            .map_err(|e| StoreError::Sqlite { path: self.path.clone(), source: e })?;
        }
        tx.commit().map_err(|e| StoreError::Sqlite { path: self.path.clone(), source: e })?;
        Ok(removed)
    }

    fn count_removal(&self, selector: &super::Removal) -> Result<u64, StoreError> {
        let (filter, args) = removal_filter(selector);
        let n: i64 = self
            .conn
            .query_row(
                &format!("SELECT count(*) FROM events WHERE {filter}"),
                rusqlite::params_from_iter(args.iter()),
                |r| r.get(0),
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(n.cast_unsigned())
    }

    fn deletions(&self) -> Result<Vec<super::DeletionRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT at, who, selector, removed FROM leadmap_deletions ORDER BY id")
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(super::DeletionRecord {
                    at: r.get(0)?,
                    who: r.get(1)?,
                    selector: r.get(2)?,
                    removed: r.get::<_, i64>(3)?.cast_unsigned(),
                })
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    fn others_writes(&self) -> Result<Option<u64>, StoreError> {
        if self.path == ":memory:" {
            return Ok(None);
        }
        // SQLite's data_version: unchanged by this connection's own commits.
        let v: i64 = self.conn.pragma_query_value(None, "data_version", |r| r.get(0)).map_err(|e| self.sqlite(e))?;
        Ok(Some(v.cast_unsigned()))
    }

    fn read_snapshot(&self) -> Result<Option<Box<dyn super::StoreSnapshot>>, StoreError> {
        if self.path == ":memory:" {
            return Ok(None);
        }
        let err = |source| StoreError::Sqlite { path: self.path.clone(), source };
        let open = || -> Result<Connection, StoreError> {
            let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = Connection::open_with_flags(&self.path, flags).map_err(err)?;
            conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(err)?;
            // The snapshot begins at the transaction's first read (WAL: the writer goes on beside it).
            conn.execute_batch("BEGIN").map_err(err)?;
            Ok(conn)
        };
        let first = open()?;
        let (count, min, max): (i64, Option<i64>, Option<i64>) = first
            .query_row(
                "SELECT count(*), (SELECT min(fid) FROM events), (SELECT max(fid) FROM events) FROM events",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(err)?;
        let ids = (min.unwrap_or(1), max.unwrap_or(0));
        // A part per core (at most four), each read on its own connection and thread, when there are
        // enough events to share. The parts' transactions begin here, one after another, while the
        // caller holds the store: no write of this process comes between them. A write of another
        // process may (then a later part sees it): each event is still read once, in one of its versions,
        // and the service reads the store again when it notices that write.
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(4);
        let n = if count >= SPLIT_AT { cores } else { 1 };
        let span = ids.1.saturating_sub(ids.0).saturating_add(1).max(1);
        let mut parts = Vec::with_capacity(n);
        let mut conn = Some(first);
        for k in 0..n {
            let k = i64::try_from(k).unwrap_or(0);
            let n = i64::try_from(n).unwrap_or(1);
            let from = if k == 0 { i64::MIN } else { ids.0 + span / n * k };
            let to = if k + 1 == n { i64::MAX } else { ids.0 + span / n * (k + 1) - 1 };
            let c = if let Some(c) = conn.take() {
                c
            } else {
                let c = open()?;
                c.query_row("SELECT (SELECT max(fid) FROM events)", [], |_| Ok(())).map_err(err)?;
                c
            };
            parts.push((c, from, to));
        }
        Ok(Some(Box::new(GpkgSnapshot { path: self.path.clone(), count: count.cast_unsigned(), parts, ids })))
    }

    fn put_proposal(&mut self, p: &ProposalRecord) -> Result<(), StoreError> {
        let cells = p.cells.as_ref().map(|c| c.join(","));
        self.conn
            .execute(
                "INSERT INTO leadmap_proposals (id, name, author, created_at, version, cells, zones_geojson)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![p.id, p.name, p.author, p.created_at, p.version, cells, p.zones_geojson],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    fn proposals(&self) -> Result<Vec<ProposalRecord>, StoreError> {
        self.read_proposals(None)
    }

    fn proposal(&self, id: &str) -> Result<Option<ProposalRecord>, StoreError> {
        Ok(self.read_proposals(Some(id))?.into_iter().next())
    }

    fn delete_proposal(&mut self, id: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute("DELETE FROM leadmap_proposals WHERE id = ?1", params![id])
            .map_err(|e| self.sqlite(e))?;
        Ok(n > 0)
    }

    fn audit(&mut self, row: &AuditRecord) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO leadmap_audit (who, role, action, proposals, window_from, window_to)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    row.who,
                    row.role,
                    row.action,
                    row.proposals.join(","),
                    row.from.map(|d| d.to_string()),
                    row.to.map(|d| d.to_string())
                ],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    fn audit_log(&self) -> Result<Vec<(String, AuditRecord)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT at, who, role, action, proposals, window_from, window_to FROM leadmap_audit ORDER BY id")
            .map_err(|e| self.sqlite(e))?;
        let date = |s: Option<String>| s.and_then(|s| s.parse().ok());
        let rows = stmt
            .query_map([], |r| {
                let proposals: String = r.get(4)?;
                Ok((
                    r.get(0)?,
                    AuditRecord {
                        who: r.get(1)?,
                        role: r.get(2)?,
                        action: r.get(3)?,
                        proposals: proposals.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                        from: date(r.get(5)?),
                        to: date(r.get(6)?),
                    },
                ))
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
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
        let version: i64 =
            store.conn.query_row("SELECT max(version) FROM leadmap_migrations", [], |r| r.get(0)).unwrap();
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
            .map(|(i, p)| ImportRow {
                line: i as u64 + 2,
                placed: p.clone(),
                fingerprint: super::super::fingerprint(p),
            })
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
}
