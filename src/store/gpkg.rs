//! The embedded event store: one `SQLite` file (WAL) laid out as an OGC `GeoPackage` 1.3, so QGIS and
//! `ogrinfo` open its `events` table as a point layer (EPSG:4326) as it is. Schema changes are numbered
//! migrations recorded in `leadmap_migrations` (GeoPackage owns `PRAGMA user_version`). The store and
//! its [`EventStore`] methods are here; its parts beside it: `schema` (migrations), `encoding` (point
//! blobs, date and time text), `write`, `read` (rows and snapshots) and `backup`.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, params};

use super::{
    AuditRecord, BatchOutcome, EventQuery, EventStore, IDEMPOTENCY_KEY_HOURS, ImportRow, LoadId, ProposalRecord,
    Receipt, Repeat, StoreError, Submission,
};
use crate::events::Placed;

mod backup;
mod encoding;
mod read;
mod schema;
mod write;

pub use backup::{BackupReport, backup};
pub use encoding::{blob_point, point_blob};
pub(super) use encoding::{iso_date, iso_time};
use read::{GpkgSnapshot, RawRow, SPLIT_AT, scan_events};
use schema::{GPKG_APPLICATION_ID, GPKG_USER_VERSION, MIGRATIONS, ZoneSetIds, fill_fixes};
use write::{Row, begin_load, now_text, removal_filter, submit, write_events, write_rows};

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

    fn cell_groups(&self, res: u8) -> Result<crate::cells::grouped::Grouped, StoreError> {
        read::cell_groups(&self.conn, &self.path, res)
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
pub(crate) mod tests;
