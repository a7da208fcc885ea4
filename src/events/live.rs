//! The live in-memory event store: the columns every figure and impact is computed from, kept up to date
//! while events are ingested. Ingest only queues what it stored (cheap, on the ingest path); the next
//! reader appends the queue as a new block; small blocks are merged on a background thread and the
//! merge is rebased onto whatever was appended meanwhile; a reload after events were corrected in place
//! replaces the whole copy. Each change publishes a new immutable snapshot (swapped whole) and bumps a
//! generation, which keys every cached answer. The store stays the source of truth.

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
}

impl LiveEvents {
    /// Live columns starting from `columns`, at `generation`.
    #[must_use]
    pub fn new(columns: EventColumns, generation: u64) -> Self {
        Self {
            columns: ArcSwap::from_pointee(columns),
            generation: AtomicU64::new(generation),
            append: Mutex::new(()),
            pending: Mutex::new(Vec::new()),
            compacting: AtomicBool::new(false),
        }
    }

    /// The columns now, with every event queued so far, and their generation (call from a blocking
    /// task: the queue is appended here, by the reader).
    pub fn snapshot(self: &Arc<Self>) -> (Arc<EventColumns>, u64) {
        let events = std::mem::take(&mut *self.lock_pending());
        if !events.is_empty() {
            self.append(&events);
        }
        // Generation first: a change between the two reads only makes a cache key stale, never wrong.
        let generation = self.generation.load(Ordering::Acquire);
        (self.columns.load_full(), generation)
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

    /// Replaces the whole copy with what `load` reads (after stored events changed in place). The queue
    /// is held, and emptied, while `load` runs: its events are in the store already, so none is counted
    /// twice. When `load` gives nothing, the copy and the queue stay as they were.
    pub fn reload(&self, load: impl FnOnce() -> Option<EventColumns>) {
        let mut pending = self.lock_pending();
        let Some(columns) = load() else { return };
        pending.clear();
        let _turn = self.lock_append();
        self.publish(columns);
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

    /// Appends events as a block; merges small blocks in the background when they pile up.
    fn append(self: &Arc<Self>, events: &[Placed]) {
        {
            let _turn = self.lock_append();
            let current = self.columns.load();
            let mut builder = ColumnsBuilder::extending(&current);
            for p in events {
                builder.push(&ColumnRow::of(p));
            }
            self.publish(current.appended(builder));
        }
        self.compact_if_needed();
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

    #[test]
    fn a_reload_replaces_the_copy_and_drops_the_queue_it_read_and_a_failed_one_changes_nothing() {
        let live = Arc::new(LiveEvents::new(EventColumns::default(), 1));
        live.queue(events(10, 1));
        let g = live.generation();
        live.reload(|| None);
        assert_eq!(live.generation(), g, "nothing read: nothing changes");
        assert_eq!(live.snapshot().0.len(), 10, "and the queue is kept");
        live.queue(events(5, 2));
        let mut b = ColumnsBuilder::default();
        for p in events(7, 3) {
            b.push(&ColumnRow::of(&p));
        }
        let fresh = b.finish();
        live.reload(move || Some(fresh));
        assert_eq!(live.snapshot().0.len(), 7, "the store's copy, the queued events in it already");
    }
}
