//! Keeps the live in-memory event columns ([`LiveEvents`]) fresh from an [`EventStore`]: reads the
//! whole store into them on a thread of its own when asked (at start, after events were changed in
//! place, after another process wrote to the store), beside the store's writer, whose new events are
//! queued onto them as they are stored. Used by the service; any process that serves figures from a
//! store while writing to it can use it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::writer::Stored;
use super::{EventStore, StoreSnapshot, load_columns};
use crate::cells::columns::{ColumnsBuilder, ColumnsPart, EventColumns};
use crate::events::live::{ColumnsState, LiveEvents};

/// A store shared by its writer and its reader; they take turns.
pub type SharedStore = Arc<Mutex<Box<dyn EventStore>>>;

/// Told of every whole read of the store: whether it succeeded (the service counts them).
pub type OnRead = Box<dyn Fn(bool) + Send + Sync>;

/// Reads a store into live columns when asked; asks made before a read begins share it.
pub struct LiveReader {
    live: Arc<LiveEvents>,
    store: SharedStore,
    asked: AtomicBool,
    /// Held by the thread reading.
    busy: Mutex<()>,
    on_read: OnRead,
    /// The store's count of other writers' commits when last looked at (see [`EventStore::others_writes`]).
    others: Mutex<Option<u64>>,
}

impl std::fmt::Debug for LiveReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveReader").field("live", &self.live).field("asked", &self.asked).finish_non_exhaustive()
    }
}

impl LiveReader {
    /// A reader of `store` into `live`, which notes the store's count of other writers' commits now
    /// (a later change is another process's write to follow; see [`Self::follow`]). Nothing is read
    /// until [`Self::ask`] or [`Self::read_now`].
    #[must_use]
    pub fn new(live: Arc<LiveEvents>, store: SharedStore, on_read: OnRead) -> Arc<Self> {
        let reader = Arc::new(Self {
            live,
            store,
            asked: AtomicBool::new(false),
            busy: Mutex::new(()),
            on_read,
            others: Mutex::new(None),
        });
        let _ = reader.follow();
        reader
    }

    /// The columns it keeps.
    #[must_use]
    pub fn live(&self) -> &Arc<LiveEvents> {
        &self.live
    }

    /// What the store's writer calls after each commit (see [`super::writer::GroupWriter::start`]):
    /// new events are queued onto the columns; events changed in place make the store be read again.
    pub fn on_stored(self: &Arc<Self>) -> impl Fn(Stored<'_>) + Send + 'static {
        let reader = Arc::clone(self);
        move |stored: Stored<'_>| match stored {
            Stored::New(events) => reader.live.queue(events.to_vec()),
            // Updated in place: the store is read again beside ingest (figures catch up then).
            Stored::Changed => reader.ask(),
        }
    }

    /// Reads the store again now, on this thread (a blocking one), beside its writer; how many events
    /// were read.
    ///
    /// # Errors
    /// The store could not be read; the columns keep what they had.
    pub fn read_now(&self) -> Result<u64, String> {
        let read = read_into(&self.live, &self.store);
        (self.on_read)(read.is_ok());
        read
    }

    /// Reads the store again (see [`Self::ask`]) if another process wrote to it since the last look (call from a blocking
    /// thread); whether it did.
    #[must_use]
    pub fn follow(self: &Arc<Self>) -> bool {
        let now = {
            let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
            match store.others_writes() {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(error = %e, "cannot tell whether the store was written by another process");
                    return false;
                }
            }
        };
        let mut last = self.others.lock().unwrap_or_else(PoisonError::into_inner);
        let changed = last.is_some() && now != *last;
        *last = now;
        if changed {
            tracing::info!("the store was written by another process (an import?): reading its events again");
            self.ask();
        }
        changed
    }

    /// Reads the store on a thread of its own, soon: now if no read is running, else after it (asks
    /// made meanwhile share that one read). Until a first read succeeds it is tried again, less and
    /// less often; a later failure keeps the previous copy.
    pub fn ask(self: &Arc<Self>) {
        if self.asked.swap(true, Ordering::AcqRel) {
            return;
        }
        let reader = Arc::clone(self);
        let spawned = std::thread::Builder::new().name("leadmap-events-read".into()).spawn(move || {
            // One read at a time: asks made while one runs share the next (at most one thread waits).
            let _turn = reader.busy.lock().unwrap_or_else(PoisonError::into_inner);
            reader.asked.store(false, Ordering::Release);
            let mut wait = std::time::Duration::from_secs(2);
            loop {
                let started = std::time::Instant::now();
                match reader.read_now() {
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

/// Rows a block read from a store holds at most (see [`read_into`]).
const BLOCK_ROWS: usize = 1 << 21;

/// Reads `store` into `live` beside its writer (see [`LiveEvents::read_store`]): on a
/// connection of its own when the store has one, else (a store in memory) under its lock. Returns how
/// many events were read.
fn read_into(live: &Arc<LiveEvents>, store: &Mutex<Box<dyn EventStore>>) -> Result<u64, String> {
    use std::sync::atomic::Ordering;
    enum Source {
        Snapshot(Box<dyn StoreSnapshot>),
        Read(EventColumns),
    }
    let mut rows = 0;
    live.read_store(
        |mark| {
            // The writer queues what it stored before it lets go of the store (writer::Stored): marked
            // while the store is held, the queue splits at this snapshot.
            let store = store.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(s) = store.read_snapshot().map_err(|e| e.to_string())? {
                mark();
                let n = s.count();
                Ok((Source::Snapshot(s), n))
            } else {
                let columns = load_columns(store.as_ref()).map_err(|e| e.to_string())?;
                mark();
                let n = columns.len() as u64;
                Ok((Source::Read(columns), n))
            }
        },
        |source, read| match source {
            Source::Read(columns) => {
                rows = columns.len() as u64;
                Ok(columns)
            }
            Source::Snapshot(s) => {
                // Each part on its own thread, into blocks of at most BLOCK_ROWS rows (each sorted once
                // full: the memory one block's sort frees is taken again by the next, so little more
                // than the columns is held), the blocks' names then numbered as one.
                let started = std::time::Instant::now();
                let parts = s.into_parts();
                let built: Vec<Result<Vec<ColumnsPart>, String>> = std::thread::scope(|scope| {
                    let threads: Vec<_> = parts
                        .into_iter()
                        .map(|mut part| {
                            scope.spawn(move || {
                                let mut left = usize::try_from(part.count()).unwrap_or(0);
                                let mut builder = ColumnsBuilder::default();
                                builder.reserve(left.min(BLOCK_ROWS));
                                let mut blocks = Vec::new();
                                let mut n = 0u64;
                                part.scan(&mut |row| {
                                    builder.push(row);
                                    n += 1;
                                    if n.is_multiple_of(65_536) {
                                        read.fetch_add(65_536, Ordering::Relaxed);
                                    }
                                    if builder.len() == BLOCK_ROWS {
                                        left = left.saturating_sub(BLOCK_ROWS);
                                        blocks.push(std::mem::take(&mut builder).into_part());
                                        builder.reserve(left.clamp(1, BLOCK_ROWS));
                                    }
                                })
                                .map_err(|e| e.to_string())?;
                                read.fetch_add(n % 65_536, Ordering::Relaxed);
                                blocks.push(builder.into_part());
                                Ok(blocks)
                            })
                        })
                        .collect();
                    threads
                        .into_iter()
                        .map(|t| t.join().unwrap_or_else(|_| Err("a thread reading the store panicked".to_owned())))
                        .collect()
                });
                let mut blocks = Vec::new();
                for part in built {
                    blocks.extend(part?);
                }
                let columns = EventColumns::from_parts(blocks);
                rows = columns.len() as u64;
                tracing::debug!(
                    events = rows,
                    parts = columns.blocks(),
                    s = started.elapsed().as_secs_f64(),
                    "events read in parts"
                );
                Ok(columns)
            }
        },
    )?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;
    use crate::store::gpkg::GpkgStore;
    use crate::store::gpkg::tests::placed_grid;

    fn zones() -> crate::zones::ZoneCatalog {
        crate::zones::ZoneCatalog::new(crate::builtin::zone_sets().unwrap(), crate::zones::IndexOptions::default())
    }

    /// Waits for the columns to leave `Loading`, at most ten seconds.
    fn settled(live: &LiveEvents) -> ColumnsState {
        for _ in 0..2000 {
            match live.state() {
                ColumnsState::Loading { .. } => std::thread::sleep(std::time::Duration::from_millis(5)),
                done => return done,
            }
        }
        live.state()
    }

    /// Waits until the columns (queue included) hold `n` events, at most ten seconds.
    fn holds(live: &Arc<LiveEvents>, n: usize) -> bool {
        (0..2000).any(|_| {
            let enough = live.snapshot().0.len() == n;
            if !enough {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            enough
        })
    }

    #[test]
    fn a_store_is_read_into_the_columns_on_its_own_thread_and_each_read_is_counted() {
        let zones = zones();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.gpkg");
        let mut store = GpkgStore::open(&path).unwrap();
        store.upsert(&placed_grid(&zones, 250, |_, _| {})).unwrap();
        let store: SharedStore = Arc::new(Mutex::new(Box::new(store)));
        let live = Arc::new(LiveEvents::starting());
        let reads = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&reads);
        let reader = LiveReader::new(
            Arc::clone(&live),
            Arc::clone(&store),
            Box::new(move |ok| {
                assert!(ok);
                counted.fetch_add(1, Ordering::Relaxed);
            }),
        );
        assert_eq!(live.state(), ColumnsState::Loading { read: 0, total: 0 }, "nothing is read before it is asked");
        reader.ask();
        assert_eq!(settled(&live), ColumnsState::Ready);
        assert_eq!(live.len(), 250);
        assert_eq!(reads.load(Ordering::Relaxed), 1);
        assert!(Arc::ptr_eq(reader.live(), &live));

        // What the writer stores new is queued, not read again; a change in place is read again.
        let more = placed_grid(&zones, 260, |i, e| e.external_id = format!("n{i}"));
        store.lock().unwrap().upsert(&more[250..]).unwrap();
        (reader.on_stored())(Stored::New(&more[250..]));
        assert!(holds(&live, 260));
        assert_eq!(reads.load(Ordering::Relaxed), 1);
        (reader.on_stored())(Stored::Changed);
        assert!((0..2000).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(5));
            reads.load(Ordering::Relaxed) == 2
        }));
        assert!(holds(&live, 260));
        assert_eq!(reader.read_now().unwrap(), 260);
        assert_eq!(reads.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn another_process_s_write_is_followed_and_its_events_read() {
        let zones = zones();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("follow.gpkg");
        let mut store = GpkgStore::open(&path).unwrap();
        store.upsert(&placed_grid(&zones, 40, |_, _| {})).unwrap();
        let live = Arc::new(LiveEvents::starting());
        let reader = LiveReader::new(Arc::clone(&live), Arc::new(Mutex::new(Box::new(store))), Box::new(|_| {}));
        assert_eq!(reader.read_now().unwrap(), 40);
        assert!(!reader.follow(), "no other process wrote");

        // `leadmap import` in another process: its own connection to the file.
        let mut other = GpkgStore::open(&path).unwrap();
        other.upsert(&placed_grid(&zones, 70, |i, e| e.external_id = format!("o{i}"))).unwrap();
        assert!(reader.follow(), "the other connection's commit is seen");
        assert!(holds(&live, 110), "{} events", live.len());
        assert!(!reader.follow(), "the same write is followed once");
    }

    #[test]
    fn a_store_in_memory_is_read_under_its_lock_and_has_no_other_writers() {
        let zones = zones();
        let mut store = GpkgStore::open_in_memory().unwrap();
        store.upsert(&placed_grid(&zones, 30, |_, _| {})).unwrap();
        let live = Arc::new(LiveEvents::starting());
        let reader = LiveReader::new(Arc::clone(&live), Arc::new(Mutex::new(Box::new(store))), Box::new(|_| {}));
        assert_eq!(reader.read_now().unwrap(), 30);
        assert_eq!(live.state(), ColumnsState::Ready);
        assert!(!reader.follow());
    }
}
