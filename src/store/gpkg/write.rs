//! Writing events: multi-row inserts, identity conflicts (unchanged, updated in place, repeated in a
//! load), loads, group-commit submissions, removals, and the layer's extent in `gpkg_contents`.
use std::fmt::Write;

use rusqlite::{Connection, OptionalExtension, params};

use super::encoding::{ascii, iso_date, iso_time};
use super::point_blob;
use super::schema::ZoneSetIds;
use crate::events::Placed;
use crate::store::{BatchOutcome, LoadId, Receipt, Repeat, Submission};

/// Writes an event (parameters bound by [`bind_event`]); an identity already stored is left alone.
pub(super) const INSERT: &str =
    "INSERT INTO events (geom, kind, occurred_on, occurred_at, offense, race_ethnicity, agency,
        source, external_id, zone, zone_set_id, h3_res15, row_hash, load_id, load_line, record_key, h3_fix)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
    ON CONFLICT (source, external_id) DO NOTHING";
/// A stored event by identity: its id, fingerprint and provenance.
pub(super) const FIND: &str =
    "SELECT fid, row_hash, load_id, load_line FROM events WHERE source = ?1 AND external_id = ?2";
/// Rewrites a stored event (parameters as [`INSERT`]'s, then the fid as ?18); its record key stays.
pub(super) const UPDATE: &str =
    "UPDATE events SET geom = ?1, kind = ?2, occurred_on = ?3, occurred_at = ?4, offense = ?5,
        race_ethnicity = ?6, agency = ?7, source = ?8, external_id = ?9, zone = ?10, zone_set_id = ?11,
        h3_res15 = ?12, row_hash = ?13, load_id = ?14, load_line = ?15, h3_fix = ?17
    WHERE fid = ?18";
/// Records that a load read a stored event unchanged.
pub(super) const TOUCH: &str = "UPDATE events SET load_id = ?1, load_line = ?2 WHERE fid = ?3";

/// See [`crate::store::fingerprint`].
pub(super) fn row_hash(p: &Placed) -> i64 {
    crate::store::fingerprint(p)
}

/// Now, as the store writes times.
pub(super) fn now_text() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The bounding box of written events, to keep `gpkg_contents`' extent.
pub(super) struct Extent([f64; 4]);

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
pub(super) const PARAMS: usize = 17;

/// Binds an event to [`INSERT`]'s (and [`UPDATE`]'s) first [`PARAMS`] parameters, or to the ones after
/// `base` of a many-row insert.
#[allow(clippy::too_many_arguments, reason = "one parameter per bound column group; a struct would only rename them")]
pub(super) fn bind_event(
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
pub(super) fn write_events<'p>(
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
pub(super) struct Conflict<'p> {
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
pub(super) const ROWS_PER_INSERT: usize = 64;

/// An event to write with [`write_rows`]: the event, its line in its load, its fingerprint.
pub(super) type Row<'p> = (&'p Placed, u64, i64);

/// [`write_events`] for many events, [`ROWS_PER_INSERT`] rows per INSERT statement: a statement's fixed
/// cost (cursors on the table and its indexes, a statement journal) is paid once for all of them. Each
/// row's line must be unique within the load. When a statement stores fewer rows than it was given, each
/// of its rows is looked up: one stored by this load at its own line was inserted now; the others are
/// resolved one by one as conflicts. With `repeats`, an identity this load already wrote is a [`Repeat`].
pub(super) fn write_rows(
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
pub(super) fn begin_load(
    conn: &Connection,
    kind: &str,
    file: Option<&str>,
    source: Option<&str>,
) -> rusqlite::Result<LoadId> {
    conn.prepare_cached("INSERT INTO leadmap_loads (kind, file, source, started_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![kind, file, source, now_text()])?;
    Ok(LoadId(conn.last_insert_rowid()))
}

/// One submission of a group commit, inside its savepoint: its key checked (and recorded), its events
/// written.
pub(super) fn submit(
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
        sub.events.iter().zip(first_line..).map(|(p, line)| (p, line, crate::store::fingerprint(p))).collect();
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
pub(super) fn removal_filter(selector: &crate::store::Removal) -> (&'static str, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    match selector {
        crate::store::Removal::Load(id) => ("load_id = ?1", vec![Value::Integer(id.0)]),
        crate::store::Removal::Source { source, before: None } => ("source = ?1", vec![Value::Text(source.clone())]),
        crate::store::Removal::Source { source, before: Some(day) } => {
            ("source = ?1 AND occurred_on < ?2", vec![Value::Text(source.clone()), Value::Text(day.to_string())])
        }
        crate::store::Removal::Id { source, external_id } => {
            ("source = ?1 AND external_id = ?2", vec![Value::Text(source.clone()), Value::Text(external_id.clone())])
        }
    }
}
