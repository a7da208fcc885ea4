//! The live in-memory event store: the columns every figure and impact is computed from, kept up to date
//! while events are ingested. Ingest only queues what it stored (cheap, on the ingest path); the next
//! reader appends the queue as a new block; small blocks are merged on a background thread and the
//! merge is rebased onto whatever was appended meanwhile. The whole copy is read from the store at start
//! and again after events were corrected in place, beside ingest (a read snapshot of the store, the
//! events stored after it added on top), while the previous copy, or at start none, is served. Each
//! change publishes a new immutable snapshot (swapped whole) and bumps a generation, which keys every
//! cached answer. The store stays the source of truth.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::ArcSwap;

use super::Placed;
use crate::cells::columns::{ColumnRow, ColumnsBuilder, EventColumns};

/// The live columns. Share behind an `Arc`.
#[derive(Debug)]
pub struct LiveEvents {
    columns: ArcSwap<EventColumns>,
    /// Bumped whenever `columns` changes.
    generation: AtomicU64,
    /// Appends, reloads and the end of a compaction take turns.
    append: Mutex<()>,
    /// Events stored, not yet in `columns`.
    pending: Mutex<Vec<Placed>>,
    /// Whether a compaction is running.
    compacting: AtomicBool,
    /// While the store is read again: the events appended to the old copy since the read's snapshot,
    /// to be added to the new one.
    since: Mutex<Option<Vec<Placed>>>,
    /// One read of the store at a time.
    reading: Mutex<()>,
    /// Whether the copy holds the store (false until the first read is done, or when it failed).
    ready: AtomicBool,
    /// Rows read by the read running now, and how many the store held when it began.
    read: AtomicU64,
    total: AtomicU64,
    /// Why the last read failed, if it did.
    failure: Mutex<Option<String>>,
}

/// Where the copy is: being read from the store (at start), ready, or not readable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnsState {
    /// Rows `read` of `total` read so far; nothing to answer from yet.
    Loading {
        /// Rows read.
        read: u64,
        /// Rows in the store when the read began.
        total: u64,
    },
    /// The copy holds every stored event.
    Ready,
    /// The first read failed (why); nothing to answer from.
    Failed(String),
}

impl ColumnsState {
    /// Its name as `/readyz` and `/metrics` give it: `loading`, `ready` or `failed`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Loading { .. } => "loading",
            Self::Ready => "ready",
            Self::Failed(_) => "failed",
        }
    }
}

impl LiveEvents {
    /// Live columns starting from `columns`, at `generation`, ready.
    #[must_use]
    pub fn new(columns: EventColumns, generation: u64) -> Self {
        let live = Self::starting();
        live.columns.store(Arc::new(columns));
        live.generation.store(generation, Ordering::Release);
        live.ready.store(true, Ordering::Release);
        live
    }

    /// Live columns with nothing in them yet, loading: [`LiveEvents::read_store`] fills them.
    #[must_use]
    pub fn starting() -> Self {
        Self {
            columns: ArcSwap::from_pointee(EventColumns::default()),
            generation: AtomicU64::new(1),
            append: Mutex::new(()),
            pending: Mutex::new(Vec::new()),
            compacting: AtomicBool::new(false),
            since: Mutex::new(None),
            reading: Mutex::new(()),
            ready: AtomicBool::new(false),
            read: AtomicU64::new(0),
            total: AtomicU64::new(0),
            failure: Mutex::new(None),
        }
    }

    /// Whether there is a copy to answer from, or how far its first read has come.
    #[must_use]
    pub fn state(&self) -> ColumnsState {
        if self.ready.load(Ordering::Acquire) {
            return ColumnsState::Ready;
        }
        if let Some(why) = self.failure.lock().unwrap_or_else(PoisonError::into_inner).clone() {
            return ColumnsState::Failed(why);
        }
        ColumnsState::Loading { read: self.read.load(Ordering::Relaxed), total: self.total.load(Ordering::Relaxed) }
    }

    /// The columns now, with every event queued so far, and their generation (call from a blocking
    /// task: the queue is appended here, by the reader).
    pub fn snapshot(self: &Arc<Self>) -> (Arc<EventColumns>, u64) {
        let appended = {
            // Appending takes its turn before the queue: a read of the store that ends meanwhile
            // publishes either before these are taken (and they go on top of its copy) or after they
            // are in `since` and in the old copy (and it adds them to its own), never half.
            let _turn = self.lock_append();
            let events = {
                let mut pending = self.lock_pending();
                let events = std::mem::take(&mut *pending);
                // Taken with the queue held: a read of the store that began before these were taken has
                // them already and none after (see read_store).
                if !events.is_empty()
                    && let Some(since) = self.lock_since().as_mut()
                {
                    since.extend(events.iter().cloned());
                }
                events
            };
            if !events.is_empty() {
                self.append_in_turn(&events);
            }
            !events.is_empty()
        };
        if appended {
            self.compact_if_needed();
        }
        // Generation first: a change between the two reads only makes a cache key stale, never wrong.
        let generation = self.generation.load(Ordering::Acquire);
        (self.columns.load_full(), generation)
    }

    /// Events in the copy now (without appending the queue).
    #[must_use]
    pub fn len(&self) -> usize {
        self.columns.load().len()
    }

    /// Whether the copy holds no event now.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The generation now (without appending the queue).
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Queues newly stored events (cheap: the next snapshot adds them).
    pub fn queue(&self, events: Vec<Placed>) {
        self.lock_pending().extend(events);
    }

    /// Reads the whole copy again from the store, beside ingest, and serves it when done (at start,
    /// and after stored events were corrected in place). `begin` must open a read snapshot of the store
    /// and, while it holds the store (so no write and its notice fall between), call the `mark` it is
    /// given once: the events queued until then are in the snapshot, those queued later are not (the
    /// service's writer queues what it stored before it lets go of the store; the queue is taken after
    /// the store, in that order). `read` then reads the snapshot, counting rows in the counter it is
    /// given; the events queued meanwhile are added on top. While it reads, the previous copy is
    /// served. When either fails, the previous copy and the queue stay as they were, and the reason is
    /// returned (and, before a first copy, kept for [`LiveEvents::state`]).
    pub fn read_store<S>(
        self: &Arc<Self>,
        begin: impl FnOnce(&dyn Fn()) -> Result<(S, u64), String>,
        read: impl FnOnce(S, &AtomicU64) -> Result<EventColumns, String>,
    ) -> Result<(), String> {
        let _one = self.reading.lock().unwrap_or_else(PoisonError::into_inner);
        let taken: Mutex<Option<Vec<Placed>>> = Mutex::new(None);
        let mark = || {
            let mut pending = self.lock_pending();
            *self.lock_since() = Some(Vec::new());
            *taken.lock().unwrap_or_else(PoisonError::into_inner) = Some(std::mem::take(&mut *pending));
        };
        let begun = begin(&mark);
        let taken = taken.into_inner().unwrap_or_else(PoisonError::into_inner);
        let (snapshot, total) = match begun {
            Ok(b) if taken.is_some() => b,
            other => {
                let e = other.err().unwrap_or_else(|| "the store's read began without marking the queue".to_owned());
                self.requeue(taken.unwrap_or_default());
                self.failed(&e);
                return Err(e);
            }
        };
        let queued = taken.unwrap_or_default();
        self.read.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        let result = read(snapshot, &self.read);
        match result {
            Ok(columns) => {
                let _turn = self.lock_append();
                let since = self.lock_since().take().unwrap_or_default();
                let columns = if since.is_empty() {
                    columns
                } else {
                    let mut builder = ColumnsBuilder::extending(&columns);
                    for p in &since {
                        builder.push(&ColumnRow::of(p));
                    }
                    columns.appended(builder)
                };
                self.publish(columns);
                self.ready.store(true, Ordering::Release);
                Ok(())
            }
            Err(e) => {
                self.requeue(queued);
                self.failed(&e);
                Err(e)
            }
        }
    }

    /// Puts events taken from the queue at a read's start back, ahead of the newer ones: they are in
    /// the store but not (all) in the copy served.
    fn requeue(&self, taken: Vec<Placed>) {
        let mut pending = self.lock_pending();
        *self.lock_since() = None;
        let newer = std::mem::replace(&mut *pending, taken);
        pending.extend(newer);
    }

    fn failed(&self, why: &str) {
        if !self.ready.load(Ordering::Acquire) {
            *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(why.to_owned());
        }
    }

    fn lock_since(&self) -> MutexGuard<'_, Option<Vec<Placed>>> {
        self.since.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_pending(&self) -> MutexGuard<'_, Vec<Placed>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_append(&self) -> MutexGuard<'_, ()> {
        self.append.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish(&self, columns: EventColumns) {
        self.columns.store(Arc::new(columns));
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Appends events as a block (the caller holds the append turn).
    fn append_in_turn(&self, events: &[Placed]) {
        let current = self.columns.load();
        let mut builder = ColumnsBuilder::extending(&current);
        for p in events {
            builder.push(&ColumnRow::of(p));
        }
        self.publish(current.appended(builder));
    }

    fn compact_if_needed(self: &Arc<Self>) {
        let before = self.columns.load_full();
        if !before.needs_compaction() || self.compacting.swap(true, Ordering::AcqRel) {
            return;
        }
        let live = Arc::clone(self);
        std::thread::spawn(move || {
            let compacted = before.compacted();
            let _turn = live.lock_append();
            let now = live.columns.load();
            if let Some(rebased) = now.rebased(&before, compacted) {
                live.publish(rebased);
            }
            live.compacting.store(false, Ordering::Release);
        });
    }

    /// Whether a compaction is running.
    #[must_use]
    pub fn compacting(&self) -> bool {
        self.compacting.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cells::CellRes;
    use crate::cells::columns::EventFilter;
    use crate::events::{Event, EventKind, place};

    /// The built-in zone sets, indexed once for the whole test binary.
    fn zones() -> &'static crate::zones::ZoneCatalog {
        static ZONES: std::sync::OnceLock<crate::zones::ZoneCatalog> = std::sync::OnceLock::new();
        ZONES.get_or_init(|| {
            crate::zones::ZoneCatalog::new(crate::builtin::zone_sets().unwrap(), crate::zones::IndexOptions::default())
        })
    }

    fn events(n: usize, seed: usize) -> Vec<Placed> {
        let zones = zones();
        (0..n)
            .map(|i| {
                let k = i + seed * 1_000_000;
                let lon = -122.70 + (k % 97) as f64 * 0.0005;
                let lat = 45.50 + (k % 89) as f64 * 0.0004;
                let e = Event {
                    kind: EventKind::ALL[k % 3],
                    occurred_on: "2019-06-01".parse().unwrap(),
                    occurred_at: None,
                    point: crate::coord::LonLat::new(lon, lat).unwrap(),
                    offense: crate::events::Offense::parse("PCS"),
                    race_ethnicity: None,
                    agency: None,
                    source: "t".into(),
                    external_id: format!("e{k}"),
                };
                place(e, zones)
            })
            .collect()
    }

    fn total(cols: &EventColumns) -> u64 {
        cols.count_cells(&EventFilter::default(), CellRes::DEFAULT).iter().map(|(_, k)| k.total()).sum()
    }

    #[test]
    fn queued_events_show_in_the_next_snapshot_with_a_new_generation_and_compaction_keeps_them() {
        let live = Arc::new(LiveEvents::new(EventColumns::default(), 1));
        let (empty, g0) = live.snapshot();
        assert_eq!((empty.len(), g0), (0, 1));
        let mut want = 0;
        for round in 0..30 {
            live.queue(events(50, round));
            want += 50;
            let (cols, g) = live.snapshot();
            assert_eq!(cols.len(), want, "round {round}");
            assert!(g > g0);
        }
        // Thirty appends pile up blocks: a compaction runs in the background and loses nothing.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while live.compacting() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let (cols, _) = live.snapshot();
        assert_eq!(total(&cols), u64::try_from(want).unwrap());
        assert!(!cols.needs_compaction());
    }

    fn columns_of(events: &[Placed]) -> EventColumns {
        let mut b = ColumnsBuilder::default();
        for p in events {
            b.push(&ColumnRow::of(p));
        }
        b.finish()
    }

    #[test]
    fn a_read_of_the_store_serves_its_copy_with_what_was_queued_after_it_and_a_failed_one_changes_nothing() {
        let live = Arc::new(LiveEvents::starting());
        assert_eq!(live.state(), ColumnsState::Loading { read: 0, total: 0 });
        // Stored and queued before the read began: in the store's copy.
        let before = events(10, 1);
        live.queue(before.clone());
        let stored = std::sync::Mutex::new(before.clone());
        let after = events(5, 2);
        let appended_meanwhile = events(3, 3);
        live.read_store(
            |mark| {
                mark();
                Ok((stored.lock().unwrap().clone(), 10))
            },
            |snapshot, read| {
                // While the store is read: more events are stored and queued, and a reader takes some.
                live.queue(appended_meanwhile.clone());
                assert_eq!(live.state(), ColumnsState::Loading { read: 0, total: 10 });
                let _ = live.snapshot();
                live.queue(after.clone());
                read.store(10, Ordering::Relaxed);
                Ok(columns_of(&snapshot))
            },
        )
        .unwrap();
        assert_eq!(live.state(), ColumnsState::Ready);
        let (cols, _) = live.snapshot();
        assert_eq!(cols.len(), 18, "10 read, 3 taken by a reader during the read, 5 queued: none twice");
        assert_eq!(total(&cols), 18);

        // A read that fails: the copy served and the queue stay as they were.
        live.queue(events(4, 4));
        let g = live.generation();
        let e = live
            .read_store(
                |mark| {
                    mark();
                    Ok(((), 0))
                },
                |(), _| Err("disk on fire".to_owned()),
            )
            .unwrap_err();
        assert_eq!(e, "disk on fire");
        assert_eq!(live.generation(), g);
        assert_eq!(live.state(), ColumnsState::Ready, "a copy is still served");
        assert_eq!(live.snapshot().0.len(), 22, "and the queue is kept");
        assert!(live.read_store(|_| Err::<((), u64), _>("locked".to_owned()), |(), _| unreachable!()).is_err());
        // Failing after the mark: the queue is given back.
        live.queue(events(1, 5));
        let failed = live.read_store(
            |mark| {
                mark();
                Err::<((), u64), _>("gone".to_owned())
            },
            |(), _| unreachable!(),
        );
        assert!(failed.is_err());
        assert_eq!(live.snapshot().0.len(), 23);
    }

    #[test]
    fn a_first_read_that_fails_says_why() {
        let live = Arc::new(LiveEvents::starting());
        live.queue(events(2, 1));
        let _ = live.read_store(
            |mark| {
                mark();
                Ok(((), 7))
            },
            |(), _| Err("event 3: bad date".to_owned()),
        );
        assert_eq!(live.state(), ColumnsState::Failed("event 3: bad date".to_owned()));
    }
}
