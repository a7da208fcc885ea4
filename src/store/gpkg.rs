//! The embedded event store: one `SQLite` file (WAL) laid out as an OGC `GeoPackage` 1.3, so QGIS and
//! `ogrinfo` open its `events` table as a point layer (EPSG:4326) as it is. Schema changes are numbered
//! migrations recorded in `leadmap_migrations` (GeoPackage owns `PRAGMA user_version`).

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{BatchOutcome, EventQuery, EventStore, StoreError};
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
];

/// A GeoPackage event store.
#[derive(Debug)]
pub struct GpkgStore {
    conn: Connection,
    path: String,
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
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(err)?;
        let mut store = Self { conn, path: name };
        store.migrate()?;
        Ok(store)
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
            let result = tx.execute_batch(sql).and_then(|()| {
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

/// An `events` row as stored.
struct RawRow {
    kind: String,
    occurred_on: String,
    occurred_at: Option<String>,
    lon: f64,
    lat: f64,
    offense: String,
    race_ethnicity: Option<String>,
    agency: Option<String>,
    source: String,
    external_id: String,
    zone: Option<String>,
    zone_set: Option<String>,
    zone_set_version: Option<String>,
    cell: i64,
}

impl RawRow {
    fn into_placed(self) -> Result<Placed, String> {
        let event = Event {
            kind: self.kind.parse()?,
            occurred_on: self.occurred_on.parse().map_err(|_| format!("bad date {:?}", self.occurred_on))?,
            occurred_at: self
                .occurred_at
                .map(|t| chrono::NaiveTime::parse_from_str(&t, "%H:%M:%S").map_err(|_| format!("bad time {t:?}")))
                .transpose()?,
            point: crate::coord::LonLat::new(self.lon, self.lat).map_err(|e| e.to_string())?,
            offense: Offense::parse(&self.offense),
            race_ethnicity: self.race_ethnicity,
            agency: self.agency,
            source: self.source,
            external_id: self.external_id,
        };
        let zone_set = self.zone_set.zip(self.zone_set_version);
        Ok(Placed { event, zone: self.zone, zone_set, cell: self.cell.cast_unsigned() })
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

/// A fingerprint of everything an event says, to tell an update from a repeat.
fn row_hash(p: &Placed) -> i64 {
    let e = &p.event;
    let mut h = Sha256::new();
    for part in [
        e.kind.as_str(),
        &e.occurred_on.to_string(),
        &e.occurred_at.map(|t| t.to_string()).unwrap_or_default(),
        &e.point.lon().to_bits().to_string(),
        &e.point.lat().to_bits().to_string(),
        e.offense.as_str(),
        e.race_ethnicity.as_deref().unwrap_or(
            "),
        e.agency.as_deref().unwrap_or(",
        ),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    let mut eight = [0u8; 8];
    eight.copy_from_slice(&d[..8]);
    i64::from_le_bytes(eight)
}

impl EventStore for GpkgStore {
    fn upsert(&mut self, batch: &[Placed]) -> Result<BatchOutcome, StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(err)?;
        let mut outcome = BatchOutcome::default();
        {
            let mut find =
                tx.prepare_cached("SELECT row_hash FROM events WHERE source = ?1 AND external_id = ?2").map_err(err)?;
            let mut write = tx
                .prepare_cached(
                    "INSERT INTO events (geom, kind, occurred_on, occurred_at, lon, lat, offense, race_ethnicity, agency,
                        source, external_id, zone, zone_set, zone_set_version, h3_res15, row_hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
                     ON CONFLICT (source, external_id) DO UPDATE SET geom = excluded.geom, kind = excluded.kind,
                        occurred_on = excluded.occurred_on, occurred_at = excluded.occurred_at, lon = excluded.lon,
                        lat = excluded.lat, offense = excluded.offense, race_ethnicity = excluded.race_ethnicity,
                        agency = excluded.agency, zone = excluded.zone, zone_set = excluded.zone_set,
                        zone_set_version = excluded.zone_set_version, h3_res15 = excluded.h3_res15,
                        row_hash = excluded.row_hash, stored_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')",
                )
                .map_err(err)?;
            let mut bounds = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
            for p in batch {
                let e = &p.event;
                let hash = row_hash(p);
                let existing: Option<i64> =
                    find.query_row(params![e.source, e.external_id], |r| r.get(0)).optional().map_err(err)?;
                match existing {
                    Some(h) if h == hash => {
                        outcome.unchanged += 1;
                        continue;
                    }
                    Some(_) => outcome.updated += 1,
                    None => outcome.inserted += 1,
                }
                let (lon, lat) = (e.point.lon(), e.point.lat());
                bounds = [bounds[0].min(lon), bounds[1].min(lat), bounds[2].max(lon), bounds[3].max(lat)];
                write
                    .execute(params![
                        &point_blob(lon, lat)[..],
                        e.kind.as_str(),
                        e.occurred_on.to_string(),
                        e.occurred_at.map(|t| t.format("%H:%M:%S").to_string()),
                        lon,
                        lat,
                        e.offense.as_str(),
                        e.race_ethnicity,
                        e.agency,
                        e.source,
                        e.external_id,
                        p.zone,
                        p.zone_set.as_ref().map(|z| z.0.as_str()),
                        p.zone_set.as_ref().map(|z| z.1.as_str()),
                        p.cell.cast_signed(),
                        hash,
                    ])
                    .map_err(err)?;
            }
            if bounds[0].is_finite() {
                tx.execute(
                    "UPDATE gpkg_contents SET min_x = min(coalesce(min_x, ?1), ?1), min_y = min(coalesce(min_y, ?2), ?2),
                        max_x = max(coalesce(max_x, ?3), ?3), max_y = max(coalesce(max_y, ?4), ?4),
                        last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE table_name = 'events'",
                    params![bounds[0], bounds[1], bounds[2], bounds[3]],
                )
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(outcome)
    }

    fn query(&self, q: &EventQuery) -> Result<Vec<(i64, Placed)>, StoreError> {
        let mut sql = String::from(
            "SELECT fid, kind, occurred_on, occurred_at, lon, lat, offense, race_ethnicity, agency, source, external_id,
                zone, zone_set, zone_set_version, h3_res15 FROM events WHERE fid > ?",
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
            for (clause, v) in
                [(" AND lon >= ?", x0), (" AND lat >= ?", y0), (" AND lon <= ?", x1), (" AND lat <= ?", y1)]
            {
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
                        lon: r.get(4)?,
                        lat: r.get(5)?,
                        offense: r.get(6)?,
                        race_ethnicity: r.get(7)?,
                        agency: r.get(8)?,
                        source: r.get(9)?,
                        external_id: r.get(10)?,
                        zone: r.get(11)?,
                        zone_set: r.get(12)?,
                        zone_set_version: r.get(13)?,
                        cell: r.get(14)?,
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
}
