//! Where events live. [`EventStore`] is the interface the rest of leadmap uses; [`gpkg::GpkgStore`] is the
//! embedded default (one `SQLite` file laid out as an OGC `GeoPackage`). A `PostgreSQL` backend for
//! deployments with several replicas will implement the same trait.

pub mod gpkg;

use std::collections::BTreeMap;

use crate::events::Placed;

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

/// An event store.
pub trait EventStore {
    /// Stores a batch atomically: after a crash either every event of it is stored or none is. Events are
    /// identified by `source` + `external_id`: a new identity is inserted, a known one with other values
    /// updated, a known one with the same values left alone.
    fn upsert(&mut self, batch: &[Placed]) -> Result<BatchOutcome, StoreError>;

    /// How many events are stored.
    fn count(&self) -> Result<u64, StoreError>;

    /// Stored events per zone id (`None`: outside every zone, or no zone set in force on the date).
    fn count_by_zone(&self) -> Result<BTreeMap<Option<String>, u64>, StoreError>;
}
