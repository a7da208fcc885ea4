//! Rows read into batches of placed-ready events, each rejected row kept with its line and reason.
use super::ImportOptions;
use super::layout::Layout;
use crate::events::Event;
use crate::formats::points::Rejected;

/// A batch of rows read from a file, for `leadmap import` to place and store.
#[derive(Debug, Default)]
pub struct RowBatch {
    /// The rows that made events.
    pub events: Vec<Event>,
    /// The line (or feature number) of each event.
    pub lines: Vec<u64>,
    /// The raw fields of each event's row, when [`ImportOptions::keep_rows`] asks for them (to write a
    /// row the store rejects, as a repeated id, to a rejects file); empty otherwise.
    pub rows: Vec<Vec<String>>,
    /// The rows rejected while reading.
    pub rejects: Vec<Rejected>,
    /// Rows read so far in the file, this batch included.
    pub read: u64,
    /// The name of the file's id column (for the store's repeated-id rejects).
    pub id_column: String,
}

/// Collects rows into batches for the sink; every format's rows go through here.
pub(super) struct Batcher<S> {
    pub(super) current: RowBatch,
    pub(super) batch: usize,
    pub(super) keep_rows: bool,
    pub(super) sink: S,
}

impl<S> Batcher<S> {
    pub(super) fn new(batch: usize, sink: S, layout: &Layout, opts: &ImportOptions) -> Self {
        let current = RowBatch { id_column: layout.column("external_id"), ..RowBatch::default() };
        Self { current, batch: batch.max(1), keep_rows: opts.keep_rows, sink }
    }

    /// One row read at `line` (its raw fields from `fields`, for a rejects file).
    pub(super) fn row<E>(
        &mut self,
        line: u64,
        result: Result<Event, (String, String)>,
        fields: impl FnOnce() -> Vec<String>,
    ) -> Result<(), E>
    where
        S: FnMut(RowBatch) -> Result<(), E>,
    {
        let b = &mut self.current;
        b.read += 1;
        match result {
            Err((field, reason)) => b.rejects.push(Rejected { line, field, reason, fields: fields() }),
            Ok(event) => {
                b.events.push(event);
                b.lines.push(line);
                if self.keep_rows {
                    b.rows.push(fields());
                }
            }
        }
        if b.events.len() >= self.batch {
            self.flush()?;
        }
        Ok(())
    }

    /// A problem that ends the file (counted as a read row).
    pub(super) fn fatal(&mut self, line: u64, reason: String) {
        self.current.read += 1;
        self.current.rejects.push(Rejected { line, field: "record".into(), reason, fields: Vec::new() });
    }

    pub(super) fn flush<E>(&mut self) -> Result<(), E>
    where
        S: FnMut(RowBatch) -> Result<(), E>,
    {
        let next = RowBatch {
            events: Vec::with_capacity(self.batch),
            read: self.current.read,
            id_column: self.current.id_column.clone(),
            ..RowBatch::default()
        };
        (self.sink)(std::mem::replace(&mut self.current, next))
    }
}
