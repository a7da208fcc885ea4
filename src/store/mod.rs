//! Where events live. [`EventStore`] is the interface the rest of leadmap uses; [`gpkg::GpkgStore`] is the
//! embedded default (one `SQLite` file laid out as an OGC `GeoPackage`). A `PostgreSQL` backend for
//! deployments with several replicas will implement the same trait.

pub mod gpkg;
pub mod live;
pub mod writer;

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::events::{EventKind, Placed};

/// Which stored events to read, in id order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventQuery {
    /// First day included.
    pub from: Option<NaiveDate>,
    /// Last day included.
    pub to: Option<NaiveDate>,
    /// Only this kind.
    pub kind: Option<EventKind>,
    /// Only this zone id; `Some(None)`: only events outside every zone.
    pub zone: Option<Option<String>>,
    /// Only inside this box: (min lon, min lat, max lon, max lat), edges included.
    pub bbox: Option<[f64; 4]>,
    /// At most this many.
    pub limit: usize,
    /// Only events with a store id above this (paging).
    pub after: i64,
}

impl EventQuery {
    /// The first page, of `limit` events, of those in `filter`'s window, of its kind and in its zone,
    /// inside `bbox` when given. A listing selects by date, kind, zone and box only: `filter`'s offense,
    /// group and source are not applied (the CLI and HTTP listings take none).
    ///
    /// # Examples
    /// ```
    /// use leadmap::events::filter::{EventFilter, FilterText};
    /// use leadmap::store::EventQuery;
    /// let f = EventFilter::parse(FilterText { zone: Some("outside"), ..FilterText::default() }).unwrap();
    /// let q = EventQuery::listing(f, None, 100);
    /// assert_eq!((q.zone, q.limit, q.after), (Some(None), 100, 0));
    /// ```
    #[must_use]
    pub fn listing(filter: crate::events::filter::EventFilter, bbox: Option<[f64; 4]>, limit: usize) -> Self {
        let crate::events::filter::EventFilter { from, to, kind, zone, .. } = filter;
        Self { from, to, kind, zone, bbox, limit, after: 0 }
    }

    /// A box as users write it, `min lon,min lat,max lon,max lat`; `None` unless that is four numbers
    /// with each minimum at most its maximum.
    ///
    /// # Examples
    /// ```
    /// use leadmap::store::EventQuery;
    /// assert_eq!(EventQuery::parse_bbox("-122.7, 45.5,-122.6,45.6"), Some([-122.7, 45.5, -122.6, 45.6]));
    /// assert_eq!(EventQuery::parse_bbox("-122.6,45.5,-122.7,45.6"), None);
    /// ```
    #[must_use]
    pub fn parse_bbox(text: &str) -> Option<[f64; 4]> {
        let n: Vec<f64> = text.split(',').filter_map(|x| x.trim().parse().ok()).collect();
        <[f64; 4]>::try_from(n).ok().filter(|b| b[0] <= b[2] && b[1] <= b[3])
    }
}

/// What one batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// New events.
    pub inserted: u64,
    /// Events whose identity existed with different values.
    pub updated: u64,
    /// Events already stored exactly so.
    pub unchanged: u64,
}

impl std::ops::AddAssign for BatchOutcome {
    fn add_assign(&mut self, o: Self) {
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
    }
}

/// One load of events: an import of a file by `leadmap import`, or a group of HTTP ingests committed
/// together, as the store numbers it. Each stored event remembers the load that last wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LoadId(pub i64);

/// An event of an import, with the line (or feature number) it was read from.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportRow {
    /// Where in the file.
    pub line: u64,
    /// The event, placed.
    pub placed: Placed,
    /// [`fingerprint`] of `placed` (computed where the event is placed, off the writer's thread).
    pub fingerprint: i64,
}

/// A fingerprint of everything an event says, to tell an update from a repeat: 64-bit FNV-1a over the
/// fields, each followed by a 0 byte (stable across releases and platforms).
#[must_use]
pub fn fingerprint(p: &Placed) -> i64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let e = &p.event;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes.iter().chain(&[0]) {
            h = (h ^ u64::from(b)).wrapping_mul(PRIME);
        }
    };
    eat(e.kind.as_str().as_bytes());
    eat(&gpkg::iso_date(e.occurred_on));
    eat(&e.occurred_at.map_or([0; 8], gpkg::iso_time));
    eat(&e.point.lon().to_bits().to_le_bytes());
    eat(&e.point.lat().to_bits().to_le_bytes());
    eat(e.offense.as_str().as_bytes());
    eat(e.race_ethnicity.as_deref().unwrap_or("\u{1}").as_bytes());
    eat(e.agency.as_deref().unwrap_or("\u{1}").as_bytes());
    h.cast_signed()
}

/// An event whose identity the same import run already stored: the file has that id twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repeat {
    /// Its index in the batch.
    pub index: usize,
    /// The line of the first row with that id.
    pub first_line: u64,
}

/// A client's `Idempotency-Key` for one submission, with a fingerprint of the request it came with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// Whose key (the token's name; empty on an open service): keys of different clients never meet.
    pub scope: String,
    /// The key as sent.
    pub key: String,
    /// SHA-256 of the request body.
    pub fingerprint: [u8; 32],
}

/// One submission of a group commit: a batch of events, all or nothing, perhaps under a key.
#[derive(Clone, Debug, PartialEq)]
pub struct Submission {
    /// The events.
    pub events: Vec<Placed>,
    /// The client's idempotency key, if it sent one.
    pub key: Option<IdempotencyKey>,
}

/// What became of a [`Submission`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receipt {
    /// Stored now.
    Stored(BatchOutcome),
    /// The key was used before with the same request: nothing was written, this is the first answer.
    Replayed(BatchOutcome),
    /// The key was used before with a different request: nothing was written.
    KeyReused,
}

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_KEY_HOURS: i64 = 24;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `SQLite` reported an error.
    #[error("{path}: {source}")]
    Sqlite {
        /// The store file.
        path: String,
        /// The error.
        source: rusqlite::Error,
    },
    /// The file is not a leadmap store, or is from a newer leadmap.
    #[error("{path}: {reason}")]
    Incompatible {
        /// The store file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Which stored events to remove (`leadmap events delete`, `DELETE /v1/events`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Removal {
    /// Every event a load (an import run, or a group of ingested events) last wrote or read.
    Load(LoadId),
    /// Every event of a source, or only those that occurred before a day (a retention schedule).
    Source {
        /// The source.
        source: String,
        /// Only events that occurred before this day.
        before: Option<chrono::NaiveDate>,
    },
    /// One event, by its identity.
    Id {
        /// Its source.
        source: String,
        /// Its id in the source.
        external_id: String,
    },
}

impl Removal {
    /// One record by `SOURCE:ID` (both parts non-empty; the id may hold further colons), as
    /// `leadmap events delete --id` and `DELETE /v1/events?id=` take it.
    #[must_use]
    pub fn parse_id(text: &str) -> Option<Self> {
        let (source, external_id) = text.split_once(':').filter(|(s, e)| !s.is_empty() && !e.is_empty())?;
        Some(Self::Id { source: source.to_owned(), external_id: external_id.to_owned() })
    }

    /// The selector as the audit keeps it: as [`Removal`]'s text, except that one record's id is kept
    /// as a digest (SHA-256, 16 hex digits), so that removing a sealed or expunged record leaves its id
    /// nowhere in the store.
    #[must_use]
    pub fn audit_text(&self) -> String {
        match self {
            Self::Id { source, external_id } => {
                let hex = crate::digest::sha256_hex(format!("{source}:{external_id}").as_bytes(), 8);
                format!("id {source}:sha256 {hex}")
            }
            other => other.to_string(),
        }
    }
}

impl std::fmt::Display for Removal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Load(id) => write!(f, "load {}", id.0),
            Self::Source { source, before: None } => write!(f, "source {source}"),
            Self::Source { source, before: Some(d) } => write!(f, "source {source} before {d}"),
            Self::Id { source, external_id } => write!(f, "id {source}:{external_id}"),
        }
    }
}

/// One removal, as audited.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DeletionRecord {
    /// When (UTC, RFC 3339).
    pub at: String,
    /// Who: the token's name, or the operating-system user of `leadmap events delete`.
    pub who: String,
    /// What was asked for (`load 3`, `source ppb before 2016-01-01`, `id ppb:sha256 …`: one record's
    /// id only as a digest).
    pub selector: String,
    /// How many events were removed.
    pub removed: u64,
}

/// A proposed zone set as stored: who submitted it, when, and its content.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ProposalRecord {
    /// Its id (`p` and 12 hex digits of a hash of the rest).
    pub id: String,
    /// Its name, as submitted.
    pub name: String,
    /// The name of the token that submitted it (never the token).
    pub author: String,
    /// When it was stored (UTC, RFC 3339).
    pub created_at: String,
    /// The zone set's version (its content hash).
    pub version: String,
    /// For a proposal made of whole H3 cells, the cells (hex ids); else none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cells: Option<Vec<String>>,
    /// The zone set, as a GeoJSON zone file.
    #[serde(skip)]
    pub zones_geojson: String,
}

/// One evaluation of a proposal, for the audit table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// The token's name.
    pub who: String,
    /// Its role.
    pub role: String,
    /// What was done (`impact`, `compare`, `create`, `delete`).
    pub action: String,
    /// The proposals concerned.
    pub proposals: Vec<String>,
    /// The window's first day, if any.
    pub from: Option<chrono::NaiveDate>,
    /// Its last day, if any.
    pub to: Option<chrono::NaiveDate>,
}

/// An event store. `Send` so the service can keep one behind a lock and use it from blocking tasks.
pub trait EventStore: std::fmt::Debug + Send {
    /// Stores a batch atomically: after a crash either every event of it is stored or none is. Events are
    /// identified by `source` + `external_id`: a new identity is inserted, a known one with other values
    /// updated, a known one with the same values left alone.
    fn upsert(&mut self, batch: &[Placed]) -> Result<BatchOutcome, StoreError>;

    /// Commits several submissions in one transaction (one sync to disk for all), each all or nothing on
    /// its own: a submission that fails is rolled back alone and reported in its slot. A submission with
    /// an idempotency key seen in the last [`IDEMPOTENCY_KEY_HOURS`] hours is not written again.
    fn commit_group(&mut self, group: &[Submission]) -> Result<Vec<Result<Receipt, StoreError>>, StoreError>;

    /// Starts an import run of `file` and numbers it; rows written under it remember it (with their line),
    /// so an id repeated within the file is caught without holding the file's ids in memory.
    fn begin_import(&mut self, file: &str, source: &str) -> Result<LoadId, StoreError>;

    /// Stores a batch of an import run like [`EventStore::upsert`], except that an event whose identity
    /// this same run already stored is not written but returned as a [`Repeat`].
    fn import_batch(&mut self, run: LoadId, batch: &[ImportRow]) -> Result<(BatchOutcome, Vec<Repeat>), StoreError>;

    /// Ends an import run, recording its counts.
    fn finish_import(&mut self, run: LoadId, outcome: &BatchOutcome, rejected: u64) -> Result<(), StoreError>;

    /// How many events are stored.
    fn count(&self) -> Result<u64, StoreError>;

    /// Stored events matching `q`, each with its store id, in id order.
    fn query(&self, q: &EventQuery) -> Result<Vec<(i64, Placed)>, StoreError>;

    /// Stored events per zone id (`None`: outside every zone, or no zone set in force on the date).
    fn count_by_zone(&self) -> Result<BTreeMap<Option<String>, u64>, StoreError>;

    /// Hands every stored event to `f` as a column row (for the in-memory copy aggregates come from),
    /// in no particular order; returns how many.
    fn scan(&self, f: &mut dyn FnMut(&crate::cells::columns::ColumnRow<'_>)) -> Result<u64, StoreError>;

    /// The stored events at resolution `res` (5..=12) grouped by ancestor, fix and kind, and those no
    /// group can place as points ([`crate::cells::grouped`]): the counts a store with SQL computes
    /// itself with integer operations (a `GROUP BY`) instead of handing over every event. This default
    /// groups a [`EventStore::scan`].
    fn cell_groups(&self, res: u8) -> Result<crate::cells::grouped::Grouped, StoreError> {
        let mut grouped = crate::cells::grouped::Grouped::default();
        self.scan(&mut |r| grouped.add(res, r.cell, r.fix, r.lon, r.lat, r.kind))?;
        Ok(grouped)
    }

    /// A read snapshot of every stored event on a connection of its own, to read the whole store
    /// beside the writer; `None` when the store has no second connection (one in memory).
    fn read_snapshot(&self) -> Result<Option<Box<dyn StoreSnapshot>>, StoreError> {
        Ok(None)
    }

    /// Removes the events `selector` picks, in one transaction with an audit row (who, when, what
    /// selector, how many); a load's removal is also recorded on the load. Returns how many were removed.
    fn delete_events(&mut self, selector: &Removal, who: &str) -> Result<u64, StoreError>;

    /// How many events `selector` picks (what a removal would remove).
    fn count_removal(&self, selector: &Removal) -> Result<u64, StoreError>;

    /// The removals, oldest first.
    fn deletions(&self) -> Result<Vec<DeletionRecord>, StoreError>;

    /// A number that changes when another connection (another process: `leadmap import`) has written
    /// to the store since it was last asked, and not for this store's own writes; `None` when the store
    /// cannot tell (one in memory has no other writer).
    fn others_writes(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }

    /// Stores a proposal (its id new).
    fn put_proposal(&mut self, p: &ProposalRecord) -> Result<(), StoreError>;

    /// Every stored proposal, oldest first.
    fn proposals(&self) -> Result<Vec<ProposalRecord>, StoreError>;

    /// One stored proposal.
    fn proposal(&self, id: &str) -> Result<Option<ProposalRecord>, StoreError>;

    /// Deletes a proposal; whether it was there.
    fn delete_proposal(&mut self, id: &str) -> Result<bool, StoreError>;

    /// Writes an audit row (its time is the store's clock).
    fn audit(&mut self, row: &AuditRecord) -> Result<(), StoreError>;

    /// The audit rows, oldest first: (time, row).
    fn audit_log(&self) -> Result<Vec<(String, AuditRecord)>, StoreError>;
}

/// The stored events as they were when [`EventStore::read_snapshot`] was called, whatever is written
/// since.
pub trait StoreSnapshot: Send {
    /// How many events it holds.
    fn count(&self) -> u64;

    /// The snapshot as parts to be read at once, each on its own thread, with about as many events as
    /// its [`Self::count`] says (a store that cannot split it gives it whole: `vec![self]`).
    fn into_parts(self: Box<Self>) -> Vec<Box<dyn StoreSnapshot>>;

    /// Hands every event of the snapshot to `f` as a column row, in no particular order; returns how
    /// many.
    fn scan(&mut self, f: &mut dyn FnMut(&crate::cells::columns::ColumnRow<'_>)) -> Result<u64, StoreError>;
}

/// The in-memory columns of every event in `store` (see [`crate::cells::columns`]).
pub fn load_columns(store: &dyn EventStore) -> Result<crate::cells::columns::EventColumns, StoreError> {
    let mut builder = crate::cells::columns::ColumnsBuilder::default();
    store.scan(&mut |row| builder.push(row))?;
    Ok(builder.finish())
}
