//! The service's shared state, [`AppState`]: the loaded zone and rule catalogs behind an `ArcSwap` (read
//! without a lock, replaced whole on reload), the store and live event columns, the tokens, the metrics
//! and the limits; and the narrow states handlers take from it by `FromRef`: [`Program`] (catalogs,
//! clock, limits), [`Events`] (the store and the in-memory columns), [`Figures`] (both, the figure
//! cache and the permits), the metrics and the map page's settings.

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
use crate::store::live::{LiveReader, OnRead};
use crate::store::writer::GroupWriter;
use crate::zones::{ZoneCatalog, ZoneIndex};

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

/// Cheap to clone: everything sits behind one `Arc`.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
    /// The store and the in-memory columns.
    events: Events,
    /// The served catalogs, "now" for every answer not given a date (this machine's clock unless
    /// [`AppState::with_clock`]) and the limits.
    program: Program,
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

/// What the field and catalog routes need (`/v1/eligibility`, `/v1/screenings`, `/v1/zones`,
/// `/v1/rules`): the served catalogs (swapped whole on reload), the clock and the limits; no store, no
/// events, no tokens. Handlers take it from [`AppState`] by `FromRef`.
#[derive(Clone, Debug)]
pub struct Program {
    served: Arc<ArcSwap<Served>>,
    clock: Arc<dyn Clock>,
    limits: Limits,
}

impl Program {
    fn new(loaded: Loaded, limits: Limits) -> Self {
        Self { served: Arc::new(ArcSwap::from_pointee(Served::new(loaded))), clock: Arc::new(SystemClock), limits }
    }

    /// The catalogs in force now (a lock-free snapshot; hold it for one request).
    #[must_use]
    pub fn loaded(&self) -> arc_swap::Guard<Arc<Served>> {
        self.served.load()
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

    /// The limits.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.limits
    }
}

/// The map page's routes need only its settings.
impl axum::extract::FromRef<AppState> for Arc<super::web::MapPage> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.inner.map_page)
    }
}

impl axum::extract::FromRef<AppState> for Program {
    fn from_ref(state: &AppState) -> Self {
        state.program()
    }
}

/// The event side of the service: the store (when there is one), its group-commit writer, the reader
/// that keeps the in-memory columns fresh, and those columns. What the events and proposals routes
/// need besides the [`Program`]; handlers take it from [`AppState`] by `FromRef`.
#[derive(Clone, Debug)]
pub struct Events {
    inner: Arc<EventSide>,
}

#[derive(Debug)]
struct EventSide {
    /// The event store, when the service was started with one; writes and reads take turns.
    store: Option<Arc<std::sync::Mutex<Box<dyn EventStore>>>>,
    /// The group-commit writer in front of the store (ingest goes through it).
    writer: Option<GroupWriter>,
    /// Reads the store into `live` (at start, after changes in place, after other processes' writes).
    reader: Option<Arc<LiveReader>>,
    /// The in-memory columns every figure is computed from (loaded at start, appended on ingest); their
    /// generation is part of every cached figure's key and `ETag`.
    live: Arc<LiveEvents>,
}

impl Events {
    /// No store: empty columns, ready at once.
    fn none() -> Self {
        Self {
            inner: Arc::new(EventSide {
                store: None,
                writer: None,
                reader: None,
                live: Arc::new(LiveEvents::new(EventColumns::default(), 0)),
            }),
        }
    }

    /// The events in `store` (read into memory on a thread of its own), its writer recording each
    /// read's outcome in `metrics`.
    fn open(store: Option<Box<dyn EventStore>>, metrics: &Arc<Metrics>) -> std::io::Result<Self> {
        let store = store.map(|s| Arc::new(std::sync::Mutex::new(s)));
        let live = Arc::new(match &store {
            Some(_) => LiveEvents::starting(),
            None => LiveEvents::new(EventColumns::default(), 1),
        });
        let writer = match &store {
            Some(s) => {
                let counts = Arc::clone(metrics);
                let on_read: OnRead = Box::new(move |ok| counts.record_store_read(ok));
                let reader = LiveReader::new(Arc::clone(&live), Arc::clone(s), on_read);
                let writer = GroupWriter::start(Arc::clone(s), Box::new(reader.on_stored()))?;
                reader.ask();
                Some((writer, reader))
            }
            None => None,
        };
        let (writer, reader) = writer.unzip();
        Ok(Self { inner: Arc::new(EventSide { store, writer, reader, live }) })
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
    pub fn reread(&self) {
        if let Some(r) = &self.inner.reader {
            r.ask();
        }
    }

    /// Reads the stored events again now, on this thread (call from a blocking task), beside ingest.
    pub(super) fn reread_now(&self) -> Result<u64, String> {
        self.inner.reader.as_ref().map_or(Ok(0), |r| r.read_now())
    }

    /// Events in memory now (without adding those queued), and where their read is.
    #[must_use]
    pub fn in_memory(&self) -> (usize, ColumnsState) {
        (self.inner.live.len(), self.inner.live.state())
    }

    /// Reads the stored events again if another process (`leadmap import`) wrote to the store since
    /// the last call (call from a blocking task, every few seconds); whether it had.
    #[must_use]
    pub fn follow_store(&self) -> bool {
        self.inner.reader.as_ref().is_some_and(LiveReader::follow)
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
    pub fn wait_until_read(&self) -> ColumnsState {
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

    /// Runs `f` on the event store (call from a blocking task), or says there is none.
    pub(super) fn with_store<T>(&self, f: impl FnOnce(&mut dyn EventStore) -> T) -> Option<T> {
        let store = self.inner.store.as_ref()?;
        // A panic while holding the lock cannot leave a half-written batch (each batch is one
        // transaction), so a poisoned lock is safe to keep using.
        let mut guard = store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(f(guard.as_mut()))
    }
}

/// What the figure routes need: the [`Program`] (zones to relate cells to, the day, the privacy
/// limit), the [`Events`] (columns, and proposals for `proposal=`), the cache of rendered answers and
/// the permits computations take.
#[derive(Clone, Debug)]
pub struct Figures {
    /// The catalogs, clock and limits.
    pub program: Program,
    /// The stored events and their columns.
    pub events: Events,
    /// Rendered figures, by request.
    pub(super) cache: Arc<super::figures::FigureCache>,
    /// Figure computations running at once: one per core, so a burst of heavy requests queues (and
    /// those that time out while queued never start) instead of running all at once.
    pub(super) permits: Arc<tokio::sync::Semaphore>,
}

impl axum::extract::FromRef<AppState> for Events {
    fn from_ref(state: &AppState) -> Self {
        state.events.clone()
    }
}

impl axum::extract::FromRef<AppState> for Figures {
    fn from_ref(state: &AppState) -> Self {
        Self {
            program: state.program(),
            events: state.events.clone(),
            cache: Arc::clone(&state.inner.cache),
            permits: Arc::clone(&state.inner.figure_permits),
        }
    }
}

impl axum::extract::FromRef<AppState> for Arc<Metrics> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.inner.metrics)
    }
}

impl axum::extract::FromRef<AppState> for Arc<Tokens> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.inner.tokens)
    }
}

impl axum::extract::FromRef<AppState> for Arc<super::figures::FigureCache> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.inner.cache)
    }
}

#[derive(Debug)]
struct Inner {
    tokens: Arc<Tokens>,
    metrics: Arc<Metrics>,
    /// Rendered figures, by request.
    cache: Arc<super::figures::FigureCache>,
    /// Figure computations running at once (see [`Figures`]).
    figure_permits: Arc<tokio::sync::Semaphore>,
    /// The map page's base map and landmarks.
    map_page: Arc<super::web::MapPage>,
}

impl AppState {
    /// State serving `loaded`.
    #[must_use]
    pub fn new(loaded: Loaded, tokens: Tokens, limits: Limits) -> Self {
        Self::with_events(loaded, tokens, limits, Arc::new(Metrics::new()), Events::none())
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
        let metrics = Arc::new(Metrics::new());
        let events = Events::open(store, &metrics)?;
        Ok(Self::with_events(loaded, tokens, limits, metrics, events))
    }

    fn with_events(loaded: Loaded, tokens: Tokens, limits: Limits, metrics: Arc<Metrics>, events: Events) -> Self {
        Self {
            inner: Arc::new(Inner {
                tokens: Arc::new(tokens),
                metrics,
                cache: Arc::default(),
                figure_permits: figure_permits(),
                map_page: Arc::default(),
            }),
            events,
            program: Program::new(loaded, limits),
        }
    }

    /// This state answering "now" with `clock` (a test's fixed day).
    #[must_use]
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { program: Program { clock, ..self.program }, ..self }
    }

    /// The narrow state of the field and catalog routes.
    #[must_use]
    pub fn program(&self) -> Program {
        self.program.clone()
    }

    /// The instant now, on the state's clock.
    #[must_use]
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.program.now()
    }

    /// The program's day now, in the served zones' time zone: the day of every answer not given one.
    #[must_use]
    pub fn today(&self) -> NaiveDate {
        self.program.today()
    }

    /// The store and the in-memory event columns.
    #[must_use]
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// The catalogs in force now (a lock-free snapshot; hold it for one request).
    #[must_use]
    pub fn loaded(&self) -> arc_swap::Guard<Arc<Served>> {
        self.program.loaded()
    }

    /// Replaces the catalogs; requests in flight finish with the snapshot they took.
    pub fn replace(&self, loaded: Loaded) {
        self.program.served.store(Arc::new(Served::new(loaded)));
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
        self.program.limits
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
            inner.map_page = Arc::new(page);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use axum::extract::FromRef;

    use super::*;

    fn builtin() -> Loaded {
        let zones =
            crate::zones::ZoneCatalog::new(crate::builtin::zone_sets().unwrap(), crate::zones::IndexOptions::default());
        Loaded { zones, rules: RuleCatalog::new(crate::builtin::rule_sets().unwrap()).unwrap() }
    }

    #[test]
    fn the_narrow_states_share_the_served_catalogs_and_see_a_reload() {
        let limits = Limits { max_batch_points: 7, ..Limits::default() };
        let state = AppState::new(builtin(), Tokens::default(), limits);
        let program = Program::from_ref(&state);
        assert_eq!(program.limits().max_batch_points, 7);
        assert_eq!(program.loaded().zones.indexes().len(), 2);
        // A reload replaces the catalogs whole: a narrow state taken before it answers with the new ones.
        let mut one = builtin();
        let first = one.zones.indexes()[0].set().clone();
        one.zones = crate::zones::ZoneCatalog::new(vec![first], crate::zones::IndexOptions::default());
        state.replace(one);
        assert_eq!(program.loaded().zones.indexes().len(), 1);
        assert_eq!(program.today(), state.today());
        let page = <Arc<super::super::web::MapPage>>::from_ref(&state);
        assert!(std::ptr::eq(Arc::as_ptr(&page), state.map_page()), "the page's settings are shared, not copied");
    }

    #[test]
    fn the_event_and_figure_states_share_the_services_columns_cache_and_permits() {
        let state = AppState::new(builtin(), Tokens::default(), Limits { planner_k: 3, ..Limits::default() });
        let events = Events::from_ref(&state);
        let figures = Figures::from_ref(&state);
        assert!(Arc::ptr_eq(&events.inner, &state.events().inner), "one event side, not a copy");
        assert!(Arc::ptr_eq(&figures.events.inner, &events.inner));
        assert!(Arc::ptr_eq(&figures.cache, &<Arc<super::super::figures::FigureCache>>::from_ref(&state)));
        assert!(Arc::ptr_eq(&figures.permits, &Figures::from_ref(&state).permits), "one set of permits");
        assert!(Arc::ptr_eq(&<Arc<Metrics>>::from_ref(&state), &<Arc<Metrics>>::from_ref(&state)));
        assert_eq!(figures.program.limits().planner_k, 3);
        // No store: nothing to read, the columns are ready and empty at once.
        assert!(!events.has_store());
        assert_eq!(events.wait_until_read(), ColumnsState::Ready);
        assert_eq!(events.in_memory().0, 0);
        assert!(events.with_store(|_| ()).is_none());
        assert!(events.writer().is_none());
    }
}
