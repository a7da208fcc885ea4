//! The service's shared state: the loaded zone and rule catalogs behind an `ArcSwap` (read without a
//! lock, replaced whole on reload), the tokens, the metrics and the limits.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::auth::Tokens;
use super::metrics::Metrics;
use crate::clock::{Clock, SystemClock};
use crate::rules::RuleCatalog;
use chrono::NaiveDate;

use super::eligibility::AnswerTemplate;
use crate::cells::columns::EventColumns;
use crate::events::live::{ColumnsState, LiveEvents};
use crate::program::{ProgramError, ProgramOn, program_on};
use crate::store::EventStore;
use crate::store::writer::{GroupWriter, Stored};
use crate::zones::{ZoneCatalog, ZoneIndex};
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// Most requests in flight at once on one route; more are refused with 503.
    pub max_concurrency: usize,
    /// Planners see no count from 1 to this (withheld, with secondary suppression); 0 turns it off.
    pub planner_k: u64,
    /// Events farther than this from the zones' bounding box are refused, metres.
    pub plausible_m: u64,
    /// Events dated before this day (or after tomorrow) are refused.
    pub first_date: chrono::NaiveDate,
}

impl Limits {
    /// The checks an event ingested at `now` passes with `zones`.
    #[must_use]
    pub fn event_checks(
        &self,
        zones: &ZoneCatalog,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::events::checks::EventChecks {
        zones.event_checks(self.plausible_m as f64 / 1000.0, self.first_date, now)
    }
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
            planner_k: crate::privacy::DEFAULT_K,
            plausible_m: (crate::events::checks::DEFAULT_PLAUSIBLE_KM * 1000.0) as u64,
            first_date: crate::events::checks::DEFAULT_FIRST_DATE,
        }
    }
}

/// One figure computation per core at once.
fn figure_permits() -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get)))
}

/// Reads the store into the live columns on a thread of its own when asked (at start, and after
/// events were changed in place); asks made before a read begins share it.
#[derive(Debug)]
struct Reader {
    live: Arc<LiveEvents>,
    store: Arc<std::sync::Mutex<Box<dyn EventStore>>>,
    asked: AtomicBool,
    /// Held by the thread reading.
    busy: std::sync::Mutex<()>,
    metrics: Arc<Metrics>,
    /// The store's count of other writers' commits when last looked at (see [`EventStore::others_writes`]).
    others: std::sync::Mutex<Option<u64>>,
}

impl Reader {
    /// Reads the store again if another process wrote to it since the last look (call from a blocking
    /// task); whether it did.
    fn follow(self: &Arc<Self>) -> bool {
        let now = {
            let store = self.store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match store.others_writes() {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(error = %e, "cannot tell whether the store was written by another process");
                    return false;
                }
            }
        };
        let mut last = self.others.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let changed = last.is_some() && now != *last;
        *last = now;
        if changed {
            tracing::info!("the store was written by another process (an import?): reading its events again");
            self.ask();
        }
        changed
    }

    fn ask(self: &Arc<Self>) {
        if self.asked.swap(true, Ordering::AcqRel) {
            return;
        }
        let reader = Arc::clone(self);
        let spawned = std::thread::Builder::new().name("leadmap-events-read".into()).spawn(move || {
            // One read at a time: asks made while one runs share the next (at most one thread waits).
            let _turn = reader.busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            reader.asked.store(false, Ordering::Release);
            let mut wait = std::time::Duration::from_secs(2);
            loop {
                let started = std::time::Instant::now();
                let read = crate::store::read_into(&reader.live, &reader.store);
                reader.metrics.record_store_read(read.is_ok());
                match read {
                    Ok(events) => {
                        let ms = started.elapsed().as_millis() as u64;
                        tracing::info!(events, ms, "stored events read into memory");
                        return;
                    }
                    Err(e) if reader.live.state() != ColumnsState::Ready => {
                        // No copy to answer from yet: try again, less and less often.
                        tracing::error!(error = e, retry_s = wait.as_secs(), "the stored events could not be read");
                        std::thread::sleep(wait);
                        wait = (wait * 2).min(std::time::Duration::from_mins(1));
                    }
                    Err(e) => {
                        tracing::error!(
                            error = e,
                            "the stored events could not be read; figures keep the previous copy"
                        );
                        return;
                    }
                }
            }
        });
        if let Err(e) = spawned {
            self.asked.store(false, Ordering::Release);
            tracing::error!(error = %e, "cannot start a thread to read the stored events");
        }
    }
}

/// Cheap to clone: everything sits behind one `Arc`.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
    /// "Now" for every answer not given a date (this machine's clock unless [`AppState::with_clock`]).
    clock: Arc<dyn Clock>,
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

    /// The program on `at` (the zone and rule sets to answer with, and whether they are in force).
    pub(super) fn program(&self, at: NaiveDate) -> Result<ProgramOn<'_>, ProgramError> {
        program_on(&self.loaded.zones, &self.loaded.rules, at)
    }

    /// The answer template of a zone set this state serves.
    pub(super) fn template(&self, index: &Arc<ZoneIndex>) -> Option<&AnswerTemplate> {
        self.answers.iter().find(|(i, _)| Arc::ptr_eq(i, index)).and_then(|(_, t)| t.as_ref())
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
    /// Reads the store into `live` (at start, after changes in place, after other processes' writes).
    reader: Option<Arc<Reader>>,
    tokens: Tokens,
    metrics: Arc<Metrics>,
    limits: Limits,
    /// The in-memory columns every figure is computed from (loaded at start, appended on ingest); their
    /// generation is part of every cached figure's key and `ETag`.
    live: Arc<LiveEvents>,
    /// Rendered figures, by request.
    cache: super::figures::FigureCache,
    /// Figure computations running at once: one per core, so a burst of heavy requests queues (and
    /// those that time out while queued never start) instead of running all at once.
    figure_permits: Arc<tokio::sync::Semaphore>,
    /// The map page's base map and landmarks.
    map_page: super::web::MapPage,
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
                reader: None,
                tokens,
                metrics: Arc::new(Metrics::new()),
                limits,
                live: Arc::new(LiveEvents::new(EventColumns::default(), 0)),
                cache: super::figures::FigureCache::default(),
                figure_permits: figure_permits(),
                map_page: super::web::MapPage::default(),
            }),
            clock: Arc::new(SystemClock),
        }
    }

    /// State serving `loaded` and the events in `store`, read into memory on a thread of its own: until
    /// they are in, the figure routes answer 503.
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
        let metrics = Arc::new(Metrics::new());
        let live = Arc::new(match &store {
            Some(_) => LiveEvents::starting(),
            None => LiveEvents::new(EventColumns::default(), 1),
        });
        let writer = match &store {
            Some(s) => {
                let reader = Arc::new(Reader {
                    live: Arc::clone(&live),
                    store: Arc::clone(s),
                    asked: AtomicBool::new(false),
                    busy: std::sync::Mutex::new(()),
                    metrics: Arc::clone(&metrics),
                    others: std::sync::Mutex::new(None),
                });
                // The count of other writers' commits now: a later change is an import to follow.
                let _ = reader.follow();
                let on_stored = {
                    let reader = Arc::clone(&reader);
                    move |stored: Stored<'_>| match stored {
                        Stored::New(events) => reader.live.queue(events.to_vec()),
                        // Updated in place: the store is read again beside ingest (figures catch up then).
                        Stored::Changed => reader.ask(),
                    }
                };
                let writer = GroupWriter::start(Arc::clone(s), Box::new(on_stored))?;
                reader.ask();
                Some((writer, reader))
            }
            None => None,
        };
        let (writer, reader) = writer.unzip();
        Ok(Self {
            inner: Arc::new(Inner {
                loaded: ArcSwap::from_pointee(Served::new(loaded)),
                store,
                writer,
                reader,
                tokens,
                metrics,
                limits,
                live,
                cache: super::figures::FigureCache::default(),
                figure_permits: figure_permits(),
                map_page: super::web::MapPage::default(),
            }),
            clock: Arc::new(SystemClock),
        })
    }

    /// This state answering "now" with `clock` (a test's fixed day).
    #[must_use]
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { clock, ..self }
    }

    /// The instant now, on the state's clock.
    #[must_use]
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The program's day now, in the served zones' time zone: the day of every answer not given one.
    #[must_use]
    pub fn today(&self) -> NaiveDate {
        self.loaded().zones.day_at(self.now())
    }

    /// The cache of rendered figures.
    pub(super) fn cache(&self) -> &super::figures::FigureCache {
        &self.inner.cache
    }

    /// The in-memory event columns now, with every event ingested so far, and their generation (call
    /// from a blocking task: events queued by ingest are added here, by the reader, not on the ingest
    /// path); `503` while they are first read from the store.
    pub(super) fn columns(&self) -> Result<(Arc<EventColumns>, u64), super::ApiError> {
        match self.inner.live.state() {
            ColumnsState::Ready => Ok(self.inner.live.snapshot()),
            ColumnsState::Loading { read, total } => Err(super::ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                format!("loading events ({read} of {total}): figures are answered once every stored event is read"),
            )
            .with_retry_after(2)),
            ColumnsState::Failed(_) => Err(super::ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "the stored events could not be read; the operator has the reason in the log",
            )),
        }
    }

    /// Reads the stored events again, beside ingest (SIGHUP); the previous copy answers until then.
    pub fn reread_events(&self) {
        if let Some(r) = &self.inner.reader {
            r.ask();
        }
    }

    /// Reads the stored events again now, on this thread (call from a blocking task), beside ingest.
    pub(super) fn reread_events_now(&self) -> Result<u64, String> {
        match &self.inner.reader {
            Some(r) => {
                let read = crate::store::read_into(&r.live, &r.store);
                r.metrics.record_store_read(read.is_ok());
                read
            }
            None => Ok(0),
        }
    }

    /// Events in memory now (without adding those queued), and where their read is.
    #[must_use]
    pub fn events_in_memory(&self) -> (usize, ColumnsState) {
        (self.inner.live.len(), self.inner.live.state())
    }

    /// Reads the stored events again if another process (`leadmap import`) wrote to the store since
    /// the last call (call from a blocking task, every few seconds); whether it had.
    #[must_use]
    pub fn follow_store(&self) -> bool {
        self.inner.reader.as_ref().is_some_and(Reader::follow)
    }

    /// Whether the service has an event store.
    #[must_use]
    pub fn has_store(&self) -> bool {
        self.inner.store.is_some()
    }

    /// Where the in-memory event columns are (for `/readyz`).
    #[must_use]
    pub fn columns_state(&self) -> ColumnsState {
        self.inner.live.state()
    }

    /// Blocks until the stored events are read (or their read failed) and says which (for tests and
    /// tools that need figures at once).
    #[must_use]
    pub fn wait_for_events(&self) -> ColumnsState {
        loop {
            match self.inner.live.state() {
                ColumnsState::Loading { .. } => std::thread::sleep(std::time::Duration::from_millis(5)),
                done => return done,
            }
        }
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

    /// The permits figure computations take (one per core).
    #[must_use]
    pub fn figure_permits(&self) -> Arc<tokio::sync::Semaphore> {
        Arc::clone(&self.inner.figure_permits)
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

    /// The map page's settings.
    #[must_use]
    pub fn map_page(&self) -> &super::web::MapPage {
        &self.inner.map_page
    }

    /// The same state with the map page's settings; for use while building the state, before it is
    /// shared (a shared state keeps its settings).
    #[must_use]
    pub fn with_map_page(mut self, page: super::web::MapPage) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.map_page = page;
        }
        self
    }
}
