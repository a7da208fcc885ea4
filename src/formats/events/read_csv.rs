//! The CSV reader: a stream of records, each line capped in length, into row batches.
use std::io::Read;

use super::batch::Batcher;
use super::layout::Layout;
use super::{ImportError, ImportOptions, RowBatch};

/// Reads `input` (named `file` in messages) in batches of `batch` events, calling `sink` with each batch
/// (its events with their lines, and the rows rejected while reading). The CSV line of each row is where
/// its record starts (the header is line 1). An id repeated within the file is left for the store to
/// catch (`EventStore::import_batch`), so memory does not grow with the file.
pub fn read_events_csv<E: From<ImportError>>(
    input: impl Read,
    file: &str,
    opts: &ImportOptions,
    batch: usize,
    sink: impl FnMut(RowBatch) -> Result<(), E>,
) -> Result<(), E> {
    let io = |e: csv::Error| ImportError::Io { file: file.to_owned(), source: std::io::Error::other(e.to_string()) };
    let seen = std::rc::Rc::new(LineCapSeen { last: std::cell::Cell::new(b'\n'), ..LineCapSeen::default() });
    let capped = LineCap {
        inner: input,
        max: MAX_LINE_BYTES,
        line: 1,
        len: 0,
        quotes: 0,
        skipping: false,
        seen: std::rc::Rc::clone(&seen),
    };
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(capped);
    let header = rdr.headers().map_err(io)?.clone();
    let layout = Layout::new(&header.iter().map(str::to_owned).collect::<Vec<_>>(), false, None, file, opts)?;
    let mut out = Batcher::new(batch, sink, &layout, opts);
    // `next`: the line the following record starts on (or none at the end), to find a cut line in it.
    let event = |rec: &csv::StringRecord, next: Option<u64>| {
        let line = rec.position().map_or(0, csv::Position::line);
        if let Some(cut) = seen.cut_in(line, next.unwrap_or(u64::MAX)) {
            Err((
                "record".into(),
                format!(
                    "line {cut} is longer than {MAX_LINE_BYTES} bytes (a field far longer than any event has); skipped"
                ),
            ))
        } else if rec.len() == header.len() {
            layout.event(|i| rec.get(i), None, opts)
        } else {
            let reason =
                format!("{} fields where the header has {} (a truncated or malformed line)", rec.len(), header.len());
            Err(("record".into(), reason))
        }
    };
    // Each record is stored once the next one is read, so the last can be checked for its line end: a
    // file cut inside its last number (no final newline) would otherwise store a wrong coordinate.
    let mut rec = csv::StringRecord::new();
    let mut pending: Option<csv::StringRecord> = None;
    loop {
        match rdr.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                // A broken record (bad UTF-8, an unterminated quote): name it and stop this file.
                if let Some(p) = pending.take() {
                    let line = p.position().map_or(0, csv::Position::line);
                    let next = e.position().map(csv::Position::line);
                    out.row(line, event(&p, next), || p.iter().map(str::to_owned).collect())?;
                }
                out.fatal(e.position().map_or(0, csv::Position::line), e.to_string());
                return out.flush();
            }
        }
        if let Some(p) = pending.replace(rec.clone()) {
            let line = p.position().map_or(0, csv::Position::line);
            let next = rec.position().map(csv::Position::line);
            out.row(line, event(&p, next), || p.iter().map(str::to_owned).collect())?;
        }
    }
    if let Some(p) = pending {
        let line = p.position().map_or(0, csv::Position::line);
        let result = if matches!(seen.last.get(), b'\n' | b'\r') {
            event(&p, None)
        } else {
            Err((
                "record".into(),
                "the file ends inside this line (no line end after it): it looks cut off, so it is not \
                 stored; if the file is whole, end it with a newline"
                    .to_owned(),
            ))
        };
        out.row(line, result, || p.iter().map(str::to_owned).collect())?;
    }
    out.flush()
}

/// The longest CSV line read whole, bytes: a longer one is cut here (the rest of it skipped) and its
/// record rejected, so one enormous field costs this much memory, not its size.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// What [`LineCap`] saw: the last byte it gave out and the lines it cut.
#[derive(Debug, Default)]
pub(super) struct LineCapSeen {
    last: std::cell::Cell<u8>,
    cut: std::cell::RefCell<Vec<u64>>,
}

impl LineCapSeen {
    /// The first cut line from `from` up to (not including) `to`.
    pub(super) fn cut_in(&self, from: u64, to: u64) -> Option<u64> {
        self.cut.borrow().iter().copied().find(|l| (from..to).contains(l))
    }
}

/// A reader that gives out at most `max` bytes of each line (1-based line numbers counted by `\n`),
/// skipping the rest and noting the line; a line cut inside a quoted field gets a closing quote (by the
/// quotes counted since the line began) so the CSV reader does not run on into the next lines.
pub(super) struct LineCap<R> {
    inner: R,
    max: usize,
    line: u64,
    len: usize,
    quotes: usize,
    skipping: bool,
    seen: std::rc::Rc<LineCapSeen>,
}

impl<R: Read> Read for LineCap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.inner.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            let mut w = 0;
            let mut r = 0;
            while r < n {
                let end = memchr::memchr(b'\n', &buf[r..n]).map_or(n, |i| r + i);
                let segment = end - r;
                if !self.skipping {
                    let keep = segment.min(self.max.saturating_sub(self.len));
                    self.quotes += memchr::memchr_iter(b'"', &buf[r..r + keep]).count();
                    buf.copy_within(r..r + keep, w);
                    w += keep;
                    self.len += keep;
                    if keep < segment {
                        // The byte after the kept ones is dropped, so there is room for a quote.
                        self.skipping = true;
                        self.seen.cut.borrow_mut().push(self.line);
                        if self.quotes % 2 == 1 {
                            buf[w] = b'"';
                            w += 1;
                        }
                    }
                }
                if end < n {
                    buf[w] = b'\n';
                    w += 1;
                    self.line += 1;
                    self.len = 0;
                    self.quotes = 0;
                    self.skipping = false;
                }
                r = end + 1;
            }
            if w > 0 {
                self.seen.last.set(buf[w - 1]);
                return Ok(w);
            }
        }
    }
}
