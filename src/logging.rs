//! Where log lines go: [`LogSink`] gathers formatted lines in memory and one background thread writes
//! them to stderr in batches, so a request's log line costs a copy into a buffer, never a system call or
//! a thread wake-up of its own. No line is dropped: when the buffer is full (stderr not keeping up),
//! writers wait for room; [`LogGuard`] writes out everything when it is dropped.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

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
