//! The import engine: one event file read, placed and stored as one load, in a pipeline of three
//! threads: the reader parses the file, the placer finds each event's zone, H3 cell and fix code on
//! every core, and the writer (the calling thread) stores each batch, each handed on through a short
//! queue so memory stays flat whatever the file's size. A second row with an id the load already
//! stored is rejected, naming the first. `leadmap import` drives it file by file; any other caller (a
//! bulk route, another backend) can too.

use std::io::Read;

use crate::formats::events::{FileFormat, ImportError, ImportOptions, RowBatch, read_events};
use crate::formats::points::Rejected;
use crate::store::{BatchOutcome, EventStore, ImportRow, LoadId, StoreError};
use crate::zones::ZoneCatalog;

/// A stage of the pipeline ended without a result (a panic in leadmap's own code).
#[derive(Debug, thiserror::Error)]
#[error("{file}: the {stage} thread failed")]
pub struct PipelineError {
    /// The file.
    pub file: String,
    /// `reader` or `placer`.
    pub stage: &'static str,
}

/// What one stored batch did, for the caller to show and keep.
#[derive(Debug)]
pub struct StoredBatch {
    /// What the store did with the batch's events.
    pub outcome: BatchOutcome,
    /// The batch's rejected rows, in line order: those the reader refused and the repeated ids.
    pub rejects: Vec<Rejected>,
    /// Rows read so far in the file, this batch included.
    pub read: u64,
}

/// What importing one file did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileImport {
    /// The load the file's events were stored under.
    pub load: LoadId,
    /// What the store did, over the file.
    pub outcome: BatchOutcome,
    /// Rows rejected, over the file.
    pub rejected: u64,
    /// Rows read.
    pub read: u64,
}

/// One file to import.
#[derive(Clone, Copy, Debug)]
pub struct ImportFile<'a> {
    /// Its name, as rejects and the load record give it.
    pub name: &'a str,
    /// How it is written.
    pub format: FileFormat,
    /// How to read it.
    pub options: &'a ImportOptions,
    /// Events per batch (at least 1).
    pub batch: usize,
}

/// Imports `input` as one load into `store`, placing each event in `catalog`; tells `on_batch` of each
/// batch once it is stored. Stops at the first error of any stage (or of `on_batch`), after the batches
/// already stored; the load's counts are recorded only when the whole file was read (as before the
/// engine left the CLI), so a failure is the one reported, not a later one while recording.
///
/// # Errors
/// The file cannot be read (not a row, the file), the store fails, a stage fails, or `on_batch` does.
pub fn import_file<E>(
    store: &mut dyn EventStore,
    catalog: &ZoneCatalog,
    input: impl Read + Send,
    file: ImportFile<'_>,
    on_batch: &mut dyn FnMut(StoredBatch) -> Result<(), E>,
) -> Result<FileImport, E>
where
    E: From<StoreError> + From<ImportError> + From<PipelineError>,
{
    // Where a repeated row is, in the words of the reader's rejects.
    let unit = match file.format {
        FileFormat::GeoJson | FileFormat::FlatGeobuf => "feature",
        FileFormat::Csv | FileFormat::GeoJsonSeq => "line",
    };
    let load = store.begin_import(file.name, file.options.source.as_deref().unwrap_or_default())?;
    let mut done = FileImport { load, outcome: BatchOutcome::default(), rejected: 0, read: 0 };
    let ran = pipeline(input, file, catalog, &mut |b: PlacedBatch| -> Result<(), E> {
        let PlacedBatch { rows, raw, mut rejects, read, id_column } = b;
        let (outcome, repeats) = store.import_batch(load, &rows)?;
        for r in repeats {
            let row = &rows[r.index];
            rejects.push(Rejected {
                line: row.line,
                field: id_column.clone(),
                reason: format!(
                    "id {:?} already read at {unit} {}; one event per id",
                    row.placed.event.external_id, r.first_line
                ),
                fields: raw.get(r.index).cloned().unwrap_or_default(),
            });
        }
        rejects.sort_by_key(|r| r.line);
        done.outcome += outcome;
        done.rejected += rejects.len() as u64;
        done.read = read;
        on_batch(StoredBatch { outcome, rejects, read })
    });
    ran?;
    store.finish_import(load, &done.outcome, done.rejected)?;
    Ok(done)
}

/// A batch ready for the store: the events placed, with their lines (and raw rows for a rejects file).
struct PlacedBatch {
    rows: Vec<ImportRow>,
    raw: Vec<Vec<String>>,
    rejects: Vec<Rejected>,
    read: u64,
    id_column: String,
}

/// Why the pipeline's reader stopped early.
enum ReadStop {
    Import(ImportError),
    /// A later stage stopped (its own error is the one reported).
    Stopped,
}

impl From<ImportError> for ReadStop {
    fn from(e: ImportError) -> Self {
        Self::Import(e)
    }
}

/// Runs the three stages, `write` on the calling thread.
fn pipeline<E>(
    input: impl Read + Send,
    file: ImportFile<'_>,
    catalog: &ZoneCatalog,
    write: &mut dyn FnMut(PlacedBatch) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<ImportError> + From<PipelineError>,
{
    use std::sync::mpsc::sync_channel;
    let (to_placer, placer_in) = sync_channel::<RowBatch>(2);
    let (to_writer, writer_in) = sync_channel::<PlacedBatch>(2);
    let failed = |stage| PipelineError { file: file.name.to_owned(), stage };
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            read_events(file.format, input, file.name, file.options, file.batch, |b| {
                to_placer.send(b).map_err(|_| ReadStop::Stopped)
            })
        });
        let placer = scope.spawn(move || {
            for b in placer_in {
                let rows = place_all(b.events, b.lines, catalog);
                let placed =
                    PlacedBatch { rows, raw: b.rows, rejects: b.rejects, read: b.read, id_column: b.id_column };
                if to_writer.send(placed).is_err() {
                    return;
                }
            }
        });
        let mut written = Ok(());
        for b in writer_in {
            written = write(b);
            if written.is_err() {
                break;
            }
        }
        written?;
        placer.join().map_err(|_| failed("placer"))?;
        match reader.join() {
            Ok(Ok(()) | Err(ReadStop::Stopped)) => Ok(()),
            Ok(Err(ReadStop::Import(e))) => Err(e.into()),
            Err(_) => Err(failed("reader").into()),
        }
    })
}

/// Places events (zone, H3 cell and fix code) on every core (rayon), keeping their order.
fn place_all(events: Vec<crate::events::Event>, lines: Vec<u64>, catalog: &ZoneCatalog) -> Vec<ImportRow> {
    use rayon::prelude::*;
    lines
        .into_par_iter()
        .zip(events.into_par_iter())
        .with_min_len(1024)
        .map(|(line, e)| {
            let placed = crate::events::place(e, catalog);
            ImportRow { line, fingerprint: crate::store::fingerprint(&placed), placed }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::checks::{DEFAULT_FIRST_DATE, EventChecks};

    #[test]
    fn a_file_is_stored_batch_by_batch_as_one_load_with_its_repeated_ids_rejected() {
        let catalog = ZoneCatalog::new(crate::builtin::zone_sets().unwrap(), crate::zones::IndexOptions::default());
        let mut store = crate::store::gpkg::GpkgStore::open_in_memory().unwrap();
        let checks = EventChecks::dated(DEFAULT_FIRST_DATE, chrono::Utc::now());
        let options = ImportOptions {
            source: Some("t".into()),
            kind: Some(crate::events::EventKind::Arrest),
            ..ImportOptions::new(checks)
        };
        let rows = (0..7).map(|i| format!("e{i},2019-06-01,-122.6793,45.5189\n"));
        let mut csv: String = std::iter::once("external_id,occurred_on,lon,lat\n".to_owned()).chain(rows).collect();
        csv.push_str("e2,2019-06-02,-122.6793,45.5189\n"); // line 9: e2 again
        csv.push_str("e9,2019-06-02,0,0\n"); // line 10: no location
        let file = ImportFile { name: "t.csv", format: FileFormat::Csv, options: &options, batch: 3 };
        let mut batches = Vec::new();
        let done = import_file::<crate::Error>(&mut store, &catalog, csv.as_bytes(), file, &mut |b| {
            batches.push(b);
            Ok(())
        })
        .unwrap();
        assert_eq!((done.outcome.inserted, done.rejected, done.read), (7, 2, 9));
        assert_eq!(batches.len(), 3, "{batches:?}");
        let rejects: Vec<(u64, String)> =
            batches.iter().flat_map(|b| b.rejects.iter().map(|r| (r.line, r.reason.clone()))).collect();
        assert_eq!(rejects[0], (9, "id \"e2\" already read at line 4; one event per id".to_owned()), "{rejects:?}");
        assert_eq!(rejects[1].0, 10);
        assert_eq!(crate::store::EventStore::count(&store).unwrap(), 7);
        // The same file again is a second load in which nothing changes.
        let again = import_file::<crate::Error>(&mut store, &catalog, csv.as_bytes(), file, &mut |_| Ok(())).unwrap();
        assert_ne!(again.load, done.load);
        assert_eq!((again.outcome.inserted, again.outcome.unchanged), (0, 7));
        // A caller's error stops the import after the batch it was told of.
        let mut told = 0;
        let stopped = import_file::<crate::Error>(&mut store, &catalog, csv.as_bytes(), file, &mut |_| {
            told += 1;
            Err(crate::Error::Usage("stop".into()))
        });
        assert!(matches!(stopped, Err(crate::Error::Usage(_))) && told == 1);
    }
}
