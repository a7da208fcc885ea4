//! Reading events: rows back into placed events, and snapshots read in parts (each on a connection of
//! its own) into the live columns.
use rusqlite::{Connection, params};

use super::blob_point;
use super::encoding::iso_day;
use crate::events::{Event, Offense, Placed};
use crate::store::{StoreError, StoreSnapshot};

/// An `events` row as stored.
pub(super) struct RawRow {
    pub(super) kind: String,
    pub(super) occurred_on: String,
    pub(super) occurred_at: Option<String>,
    pub(super) geom: Vec<u8>,
    pub(super) offense: String,
    pub(super) race_ethnicity: Option<String>,
    pub(super) agency: Option<String>,
    pub(super) source: String,
    pub(super) external_id: String,
    pub(super) zone: Option<String>,
    pub(super) zone_set: Option<String>,
    pub(super) zone_set_version: Option<String>,
    pub(super) cell: i64,
    pub(super) record_key: i64,
    pub(super) fix: Option<i64>,
}

impl RawRow {
    pub(super) fn into_placed(self) -> Result<Placed, String> {
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

/// A read snapshot of a store file on a connection of its own (see [`EventStore::read_snapshot`]).
/// A snapshot of at least this many events is read in parts (fewer in the unit tests, so they read in
/// parts too).
pub(super) const SPLIT_AT: i64 = if cfg!(test) { 50 } else { 200_000 };

pub(super) struct GpkgSnapshot {
    pub(super) path: String,
    /// The events' count when the snapshot began (on the first part's connection).
    pub(super) count: u64,
    /// One read connection per part, each in its own transaction, with the part's first and last id.
    pub(super) parts: Vec<(Connection, i64, i64)>,
    /// The least and greatest id when the snapshot began.
    pub(super) ids: (i64, i64),
}

impl StoreSnapshot for GpkgSnapshot {
    fn count(&self) -> u64 {
        self.count
    }

    fn into_parts(self: Box<Self>) -> Vec<Box<dyn StoreSnapshot>> {
        let Self { path, count, parts, ids } = *self;
        let span = u64::try_from(ids.1.saturating_sub(ids.0)).unwrap_or(0).saturating_add(1);
        parts
            .into_iter()
            .map(|part| {
                // Ids are dense (deletions are rare): a part holds about its share of the ids' range.
                let (from, to) = (part.1.max(ids.0), part.2.min(ids.1));
                let width = u64::try_from(to.saturating_sub(from)).unwrap_or(0).saturating_add(1);
                let share = u64::try_from(u128::from(count) * u128::from(width) / u128::from(span)).unwrap_or(count);
                Box::new(Self { path: path.clone(), count: share, parts: vec![part], ids }) as Box<dyn StoreSnapshot>
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
pub(super) fn scan_events(
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
        let kind = stored_kind(text(2)?.unwrap_or_default()).map_err(bad)?;
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

/// A stored kind: spelled as `EventKind::as_str` writes it, compared before the lenient parser (which
/// allocates).
fn stored_kind(text: &str) -> Result<crate::events::EventKind, String> {
    match crate::events::EventKind::ALL.into_iter().find(|k| k.as_str() == text) {
        Some(k) => Ok(k),
        None => text.parse(),
    }
}

/// [`super::super::EventStore::cell_groups`] in SQL: the ancestor at `res` and the fix at `res` are
/// bit operations on the stored `h3_res15` and `h3_fix` (as [`crate::cells::columns::ancestor_bits`] and
/// [`crate::cells::grouped::fix_at`]), grouped with the kind; events with fix 7 or none stored come
/// back as points. Integer operations only: a `PostgreSQL` backend can group the same way (its literals
/// cast to `bigint`). A stored kind or point that cannot be read is an error, as in [`scan_events`].
pub(super) fn cell_groups(
    conn: &Connection,
    path: &str,
    res: u8,
) -> Result<crate::cells::grouped::Grouped, StoreError> {
    use crate::cells::grouped::{CellGroup, Grouped};
    let sqlite = |source| StoreError::Sqlite { path: path.to_owned(), source };
    let bad = |reason: String| StoreError::Incompatible { path: path.to_owned(), reason };
    let res = res.clamp(crate::cells::MIN_RES, crate::cells::MAX_RES);
    let (r, shift) = (i64::from(res), 3 * i64::from(res - crate::cells::MIN_RES));
    let mut grouped = Grouped::default();
    let mut groups = conn
        .prepare_cached(
            "SELECT (h3_res15 & ~(15 << 52)) | (?1 << 52) | ((1 << (3 * (15 - ?1))) - 1) AS ancestor,
                (h3_fix >> ?2) & 7 AS fix, kind, count(*)
         FROM events WHERE h3_fix IS NOT NULL AND (h3_fix >> ?2) & 7 < 7
         GROUP BY ancestor, fix, kind",
        )
        .map_err(sqlite)?;
    let mut rows = groups.query(params![r, shift]).map_err(sqlite)?;
    while let Some(row) = rows.next().map_err(sqlite)? {
        let kind: String = row.get(2).map_err(sqlite)?;
        grouped.groups.push(CellGroup {
            ancestor: row.get::<_, i64>(0).map_err(sqlite)?.cast_unsigned(),
            fix: u8::try_from(row.get::<_, i64>(1).map_err(sqlite)?).unwrap_or(7),
            kind: stored_kind(&kind).map_err(bad)?,
            count: row.get::<_, i64>(3).map_err(sqlite)?.cast_unsigned(),
        });
    }
    let mut points = conn
        .prepare_cached("SELECT fid, geom, kind FROM events WHERE h3_fix IS NULL OR (h3_fix >> ?1) & 7 = 7")
        .map_err(sqlite)?;
    let mut rows = points.query(params![shift]).map_err(sqlite)?;
    while let Some(row) = rows.next().map_err(sqlite)? {
        let fid: i64 = row.get(0).map_err(sqlite)?;
        let geom: Vec<u8> = row.get(1).map_err(sqlite)?;
        let (lon, lat) = blob_point(&geom).ok_or_else(|| bad(format!("event {fid}: the geometry is not a point")))?;
        let kind: String = row.get(2).map_err(sqlite)?;
        grouped.points.push((lon, lat, stored_kind(&kind).map_err(|e| bad(format!("event {fid}: {e}")))?));
    }
    Ok(grouped)
}
