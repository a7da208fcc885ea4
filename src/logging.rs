//! Where log lines go: [`LogSink`] gathers formatted lines in memory and one background thread writes
//! them to stderr in batches, so a request's log line costs a copy into a buffer, never a system call or
//! a thread wake-up of its own. No line is dropped: when the buffer is full (stderr not keeping up),
//! writers wait for room; [`LogGuard`] writes out everything when it is dropped. [`PlainLines`] formats
//! events as tracing's default text lines do, at a fraction of the cost (the timestamp's date and time
//! are formatted once a second, fields are written without a detour through a formatter per value).

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Lines wait at most this long before they are written.
const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// A buffer this full is written at once.
const WRITE_SOON_BYTES: usize = 256 << 10;
/// Writers wait while the buffer holds this much.
const FULL_BYTES: usize = 8 << 20;

#[derive(Debug, Default)]
struct Buffer {
    bytes: Vec<u8>,
    closed: bool,
}

#[derive(Debug, Default)]
struct Shared {
    buffer: Mutex<Buffer>,
    /// The writer thread waits on this (for a full buffer or the close).
    wake: Condvar,
    /// Writers wait on this for room.
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Buffer> {
        // A thread that panicked while holding the lock left whole lines only (appends are one call).
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A `tracing_subscriber` writer: each formatted event is appended whole to the shared buffer.
#[derive(Clone, Debug)]
pub struct LogSink {
    shared: Arc<Shared>,
}

/// Writes out the lines still buffered and stops the writer thread when dropped.
#[derive(Debug)]
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl LogSink {
    /// A sink writing to `out` (stderr for the binary) from a thread named `leadmap-log`. When the
    /// thread cannot be started, lines are written by the caller instead.
    pub fn new(out: impl Write + Send + 'static) -> (Self, LogGuard) {
        let shared = Arc::new(Shared::default());
        let for_thread = Arc::clone(&shared);
        let mut out = out;
        let thread =
            std::thread::Builder::new().name("leadmap-log".into()).spawn(move || write_batches(&for_thread, &mut out));
        let thread = thread.ok();
        if thread.is_none() {
            shared.lock().closed = true;
        }
        (Self { shared: Arc::clone(&shared) }, LogGuard { shared, thread })
    }
}

fn write_batches(shared: &Shared, out: &mut impl Write) {
    let mut batch = Vec::new();
    loop {
        let closed = {
            let mut buffer = shared.lock();
            if !buffer.closed && buffer.bytes.len() < WRITE_SOON_BYTES {
                buffer = shared.wake.wait_timeout(buffer, FLUSH_EVERY).unwrap_or_else(PoisonError::into_inner).0;
            }
            std::mem::swap(&mut batch, &mut buffer.bytes);
            buffer.closed
        };
        shared.room.notify_all();
        if !batch.is_empty() {
            // Nowhere to report a failed write to stderr; the lines are dropped, the service goes on.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
        }
        if closed && shared.lock().bytes.is_empty() {
            return;
        }
    }
}

impl Write for LogSink {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut buffer = self.shared.lock();
        if buffer.closed {
            // No writer thread (it could not start, or the guard is gone): write directly.
            drop(buffer);
            return std::io::stderr().write(line);
        }
        while buffer.bytes.len() >= FULL_BYTES && !buffer.closed {
            buffer = self.shared.room.wait(buffer).unwrap_or_else(PoisonError::into_inner);
        }
        buffer.bytes.extend_from_slice(line);
        if buffer.bytes.len() >= WRITE_SOON_BYTES {
            self.shared.wake.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogSink {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        self.shared.room.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The text format of log lines: `2026-12-05T21:18:01.452791Z  INFO leadmap::http::front: request
/// method=GET route="/v1/eligibility" status=200 latency_us=41`, as tracing's default format writes them
/// (without spans, which leadmap does not use): UTC time to the microsecond, the level right-aligned in
/// five characters (coloured on a terminal), the target, the message, then each field as `name=value`
/// (text quoted and escaped). Unlike tracing's, a line break in a message is written `\n`, so that one
/// event is always one line.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainLines;

thread_local! {
    /// The second last formatted, and its text up to the seconds.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Writes the UTC time `since_epoch` as `YYYY-MM-DDTHH:MM:SS.uuuuuuZ`.
fn write_time(w: &mut impl std::fmt::Write, since_epoch: Duration) -> std::fmt::Result {
    let secs = since_epoch.as_secs();
    SECOND.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            let text = i64::try_from(secs)
                .ok()
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .map_or_else(String::new, |t| t.format("%Y-%m-%dT%H:%M:%S").to_string());
            *cached = (secs, text);
        }
        w.write_str(&cached.1)
    })?;
    write!(w, ".{:06}Z", since_epoch.subsec_micros())
}

/// Writes an event's fields: the message first (as it is), then the others.
struct Fields<'w, 'a> {
    w: &'w mut Writer<'a>,
    message: bool,
    result: std::fmt::Result,
}

impl Fields<'_, '_> {
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> std::fmt::Result) {
        if self.result.is_err() || (field.name() == "message") != self.message {
            return;
        }
        self.result = if self.message {
            self.w.write_char(' ').and_then(|()| value(self.w))
        } else {
            write!(self.w, " {}=", field.name()).and_then(|()| value(self.w))
        };
    }
}

/// Writes through, with line breaks as `\n` and `\r`: a message (which tracing writes as it is) never
/// breaks its line, so a text from a file or a client cannot forge a log line.
struct OneLine<'w, W>(&'w mut W);

impl<W: std::fmt::Write> std::fmt::Write for OneLine<'_, W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let mut rest = s;
        while let Some(i) = rest.find(['\n', '\r']) {
            self.0.write_str(&rest[..i])?;
            self.0.write_str(if rest.as_bytes()[i] == b'\n' { "\\n" } else { "\\r" })?;
            rest = &rest[i + 1..];
        }
        self.0.write_str(rest)
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.message {
            self.field(field, |w| OneLine(w).write_str(value));
        } else {
            self.field(field, |w| write!(w, "{value:?}"));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |w| write!(w, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |w| w.write_str(if value { "true" } else { "false" }));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if self.message {
            self.field(field, |w| write!(OneLine(w), "{value:?}"));
        } else {
            self.field(field, |w| write!(w, "{value:?}"));
        }
    }
}

impl<S, N> FormatEvent<S, N> for PlainLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> std::fmt::Result {
        let meta = event.metadata();
        write_time(&mut w, SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default())?;
        let level = match *meta.level() {
            Level::ERROR => ("ERROR", "31"),
            Level::WARN => (" WARN", "33"),
            Level::INFO => (" INFO", "32"),
            Level::DEBUG => ("DEBUG", "34"),
            Level::TRACE => ("TRACE", "35"),
        };
        if w.has_ansi_escapes() {
            write!(w, " \x1b[{}m{}\x1b[0m {}:", level.1, level.0, meta.target())?;
        } else {
            write!(w, " {} {}:", level.0, meta.target())?;
        }
        for message in [true, false] {
            let mut fields = Fields { w: &mut w, message, result: Ok(()) };
            event.record(&mut fields);
            fields.result?;
        }
        w.write_char('\n')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` into memory shared with the test.
    #[derive(Clone, Default)]
    struct Memory(Arc<Mutex<Vec<u8>>>);

    impl Write for Memory {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_written_whole_and_in_order_per_thread() {
        let out = Memory::default();
        let (sink, guard) = LogSink::new(out.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000 {
                        sink.write_all(format!("thread {t} line {i} {}\n", "x".repeat(i % 300)).as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // Lines written shortly after arrive without a drop (the writer thread wakes on its own).
        std::thread::sleep(FLUSH_EVERY * 3);
        assert!(!out.0.lock().unwrap().is_empty());
        drop(guard);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let mut next = [0usize; 4];
        for line in text.lines() {
            let mut words = line.split(' ');
            let (_, t, _, i, pad) = (words.next(), words.next(), words.next(), words.next(), words.next());
            let (t, i): (usize, usize) = (t.unwrap().parse().unwrap(), i.unwrap().parse().unwrap());
            assert_eq!(i, next[t], "thread {t}");
            assert_eq!(pad.unwrap().len(), i % 300);
            next[t] += 1;
        }
        assert_eq!(next, [20_000; 4]);
    }

    #[test]
    fn plain_lines_read_as_tracings_default_format_does() {
        let ours = Memory::default();
        let theirs = Memory::default();
        let (o, t) = (ours.clone(), theirs.clone());
        let with = |format: bool, out: Memory| {
            let b = tracing_subscriber::fmt().with_ansi(false).with_writer(move || out.clone());
            if format {
                tracing::subscriber::set_default(b.event_format(PlainLines).finish())
            } else {
                tracing::subscriber::set_default(b.finish())
            }
        };
        for (format, out) in [(true, o), (false, t)] {
            let _guard = with(format, out);
            let method = axum::http::Method::GET;
            tracing::info!(method = %method, route = "/v1/eligibility", status = 200u16, latency_us = 41u64, "request");
            tracing::warn!(zone_set = "a \"quoted\"\nname", ok = true, delta = -3i64, "two words");
            tracing::error!(error = ?std::io::Error::other("x"), "failed");
        }
        let ours = String::from_utf8(ours.0.lock().unwrap().clone()).unwrap();
        let theirs = String::from_utf8(theirs.0.lock().unwrap().clone()).unwrap();
        assert_eq!(ours.lines().count(), 3, "{ours}");
        for (a, b) in ours.lines().zip(theirs.lines()) {
            let (time_a, rest_a) = a.split_once(' ').unwrap();
            let (time_b, rest_b) = b.split_once(' ').unwrap();
            assert_eq!(rest_a, rest_b);
            assert_eq!(time_a.len(), "2026-12-05T21:18:01.452791Z".len(), "{time_a}");
            let ta = chrono::DateTime::parse_from_rfc3339(time_a).unwrap();
            let tb = chrono::DateTime::parse_from_rfc3339(time_b).unwrap();
            assert!((ta - tb).num_seconds().abs() < 5, "{time_a} {time_b}");
        }
        // A line break in a message stays in its line.
        let out = Memory::default();
        let o = out.clone();
        let b = tracing_subscriber::fmt().with_ansi(false).with_writer(move || o.clone()).event_format(PlainLines);
        tracing::subscriber::with_default(b.finish(), || {
            tracing::warn!(file = "x.csv", "row 3\nINFO forged line\r\n{}", "and more");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.ends_with(
                r#"WARN leadmap::logging::tests: row 3\nINFO forged line\r\nand more file="x.csv"
"#
            ),
            "{text}"
        );
        let mut t = String::new();
        write_time(&mut t, Duration::new(1_796_505_481, 452_791_000)).unwrap();
        assert_eq!(t, "2026-12-05T21:18:01.452791Z");
        t.clear();
        write_time(&mut t, Duration::new(1_796_505_482, 7_000)).unwrap();
        assert_eq!(t, "2026-12-05T21:18:02.000007Z");
    }

    #[test]
    fn a_slow_output_makes_writers_wait_not_drop_lines() {
        struct Slow(Memory);
        impl Write for Slow {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                std::thread::sleep(Duration::from_millis(20));
                self.0.write(b)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let out = Memory::default();
        let (mut sink, guard) = LogSink::new(Slow(out.clone()));
        let line = vec![b'y'; 64 << 10];
        // 24 MiB through an 8 MiB buffer.
        for _ in 0..384 {
            sink.write_all(&line).unwrap();
        }
        drop(guard);
        assert_eq!(out.0.lock().unwrap().len(), 384 * line.len());
    }
}
