//! The service's shared state: the loaded zone and rule catalogs behind an `ArcSwap` (read without a
//! lock, replaced whole on reload), the tokens, the metrics and the limits.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::auth::Tokens;
use super::metrics::Metrics;
use crate::rules::RuleCatalog;
use chrono::NaiveDate;

use super::eligibility::AnswerTemplate;
use crate::store::EventStore;
use crate::store::writer::GroupWriter;
use crate::zones::{ZoneCatalog, ZoneError, ZoneIndex};

/// What a reload replaces, as one unit: zones and rules always match each other.
#[derive(Debug)]
pub struct Loaded {
    /// The zone sets, indexed.
    pub zones: ZoneCatalog,
    /// The rule sets.
    pub rules: RuleCatalog,
}

/// Request limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Most points in one `POST /v1/eligibility`.
    pub max_batch_points: usize,
    /// Longest a request may take, milliseconds.
    pub request_timeout_ms: u64,
    /// Most requests in flight at once; more are refused with 503.
    pub max_concurrency: usize,
}

/// Default request body limit: 4 MiB (about 40 000 points as GeoJSON).
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 << 20;
/// Default batch size limit.
pub const DEFAULT_MAX_BATCH_POINTS: usize = 10_000;
/// Default request timeout.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;
/// Default concurrency limit.
pub const DEFAULT_MAX_CONCURRENCY: usize = 1024;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch_points: DEFAULT_MAX_BATCH_POINTS,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
        }
    }
}

/// Cheap to clone: everything sits behind one `Arc`.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// What is served: the catalogs, and for each zone set (in [`ZoneCatalog::indexes`] order) the
/// constant parts of its eligibility answers, rendered once per load.
#[derive(Debug)]
pub struct Served {
    loaded: Loaded,
    answers: Vec<(Arc<ZoneIndex>, Option<AnswerTemplate>)>,
}

impl Served {
    fn new(loaded: Loaded) -> Self {
        let answers =
            loaded.zones.indexes().iter().map(|index| (Arc::clone(index), AnswerTemplate::new(index).ok())).collect();
        Self { loaded, answers }
    }

    /// The zone set in force on `at` and its answer template.
    pub(super) fn answering(&self, at: NaiveDate) -> Result<(&Arc<ZoneIndex>, Option<&AnswerTemplate>), ZoneError> {
        let index = self.loaded.zones.in_force(at)?;
        let template = self.answers.iter().find(|(i, _)| Arc::ptr_eq(i, index)).and_then(|(_, t)| t.as_ref());
        Ok((index, template))
    }
}

impl std::ops::Deref for Served {
    type Target = Loaded;

    fn deref(&self) -> &Loaded {
        &self.loaded
    }
}

#[derive(Debug)]
struct Inner {
    loaded: ArcSwap<Served>,
    /// The event store, when the service was started with one; writes and reads take turns.
    store: Option<Arc<std::sync::Mutex<Box<dyn EventStore>>>>,
    /// The group-commit writer in front of the store (ingest goes through it).
    writer: Option<GroupWriter>,
    tokens: Tokens,
    metrics: Metrics,
    limits: Limits,
}

impl AppState {
    /// State serving `loaded`.
    #[must_use]
    pub fn new(loaded: Loaded, tokens: Tokens, limits: Limits) -> Self {
        Self {
            inner: Arc::new(Inner {
                loaded: ArcSwap::from_pointee(Served::new(loaded)),
                store: None,
                writer: None,
                tokens,
                metrics: Metrics::new(),
                limits,
            }),
        }
    }

    /// State serving `loaded` and the events in `store`.
    ///
    /// # Errors
    /// The store's writer thread could not be started.
    pub fn with_store(
        loaded: Loaded,
        tokens: Tokens,
        limits: Limits,
        store: Option<Box<dyn EventStore>>,
    ) -> std::io::Result<Self> {
        let store = store.map(|s| Arc::new(std::sync::Mutex::new(s)));
        let writer = store.as_ref().map(|s| GroupWriter::start(Arc::clone(s))).transpose()?;
        Ok(Self {
            inner: Arc::new(Inner {
                loaded: ArcSwap::from_pointee(Served::new(loaded)),
                store,
                writer,
                tokens,
                metrics: Metrics::new(),
                limits,
            }),
        })
    }

    /// The group-commit writer, when there is a store.
    pub(super) fn writer(&self) -> Option<&GroupWriter> {
        self.inner.writer.as_ref()
    }

    /// The catalogs in force now (a lock-free snapshot; hold it for one request).
    #[must_use]
    pub fn loaded(&self) -> arc_swap::Guard<Arc<Served>> {
        self.inner.loaded.load()
    }

    /// Replaces the catalogs; requests in flight finish with the snapshot they took.
    pub fn replace(&self, loaded: Loaded) {
        self.inner.loaded.store(Arc::new(Served::new(loaded)));
    }

    /// Runs `f` on the event store (call from a blocking task), or says there is none.
    pub(super) fn with_events<T>(&self, f: impl FnOnce(&mut dyn EventStore) -> T) -> Option<T> {
        let store = self.inner.store.as_ref()?;
        // A panic while holding the lock cannot leave a half-written batch (each batch is one
        // transaction), so a poisoned lock is safe to keep using.
        let mut guard = store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(f(guard.as_mut()))
    }

    /// The tokens.
    #[must_use]
    pub fn tokens(&self) -> &Tokens {
        &self.inner.tokens
    }

    /// The metrics.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The limits.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }
}
