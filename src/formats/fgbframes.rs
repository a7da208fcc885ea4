//! FlatGeobuf feature frames checked before the flatgeobuf crate reads them. The crate sizes its buffer
//! from a feature's stated length before it reads a byte of the feature, so a damaged or hostile file
//! of a few hundred bytes that states 4 GB made `leadmap import` take 3 GB and 20 s before failing
//! (found by `tools/fuzz.sh`). [`FrameGuard`] sits between the file and the crate: told where the
//! features begin ([`Frames::features_after`], the index's size after the header), it reads each
//! feature's 4-byte length itself and refuses one over [`MAX_FEATURE_BYTES`] with an error, which the
//! crate takes as the end of the file; the reader then reports [`Frames::refusal`].

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

/// The largest feature read, bytes: a zone of the 1 000 000 positions a zone file may hold takes about
/// 16 MB; an event's Point with its properties, under a kilobyte.
pub(crate) const MAX_FEATURE_BYTES: u32 = 64 << 20;

/// What the guard saw, shared with the reader that made it.
#[derive(Debug)]
pub(crate) struct Frames {
    active: Cell<bool>,
    /// Bytes still to pass before the first feature (the spatial index).
    skip_left: Cell<u64>,
    /// Bytes of the current feature still to pass.
    body_left: Cell<u64>,
    /// The features whose length was read.
    started: Cell<u64>,
    /// The length prefix being handed over, and how much of it is handed over.
    prefix: Cell<([u8; 4], usize)>,
    refused: Cell<Option<(u64, u32)>>,
}

impl Default for Frames {
    fn default() -> Self {
        // At a feature boundary: the last length (none yet) is wholly handed over.
        Self {
            active: Cell::new(false),
            skip_left: Cell::new(0),
            body_left: Cell::new(0),
            started: Cell::new(0),
            prefix: Cell::new(([0; 4], 4)),
            refused: Cell::new(None),
        }
    }
}

impl Frames {
    /// The feature (numbered from 1) refused, and the length it stated.
    pub(crate) fn refused(&self) -> Option<(u64, u32)> {
        self.refused.get()
    }

    /// The feature refused and why (the reason without the feature's number).
    pub(crate) fn refusal(&self) -> Option<(u64, String)> {
        self.refused().map(|(n, size)| {
            (
                n,
                format!(
                    "malformed: it states a length of {size} bytes, more than the {MAX_FEATURE_BYTES} a feature may have (a damaged file)"
                ),
            )
        })
    }
}

/// The size of the spatial index that follows `header` (as the crate computes it; a header whose
/// numbers make that computation fail gives `u64::MAX`: then nothing is checked).
pub(crate) fn index_bytes(header: flatgeobuf::Header<'_>) -> u64 {
    let (count, node) = (header.features_count(), header.index_node_size());
    if node == 0 || count == 0 {
        return 0;
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    super::contain::contained(|| flatgeobuf::packed_r_tree::PackedRTree::index_size(count, node) as u64)
        .unwrap_or(u64::MAX)
}

/// A reader passing bytes through, checking feature lengths once the features begin.
#[derive(Debug)]
pub(crate) struct FrameGuard<R> {
    inner: R,
    frames: Rc<Frames>,
}

impl<R: Read> FrameGuard<R> {
    /// A guard over `inner`, and its shared state.
    pub(crate) fn new(inner: R) -> (Self, Rc<Frames>) {
        let frames = Rc::new(Frames::default());
        (Self { inner, frames: Rc::clone(&frames) }, frames)
    }
}

impl Frames {
    /// Call when the crate has read the header: the features begin after `index_bytes` more bytes
    /// ([`index_bytes`]).
    pub(crate) fn features_after(&self, index_bytes: u64) {
        self.skip_left.set(index_bytes);
        self.active.set(true);
    }
}

/// Passes at most `left` bytes (the rest of the index, or of a feature) from `inner`, counting them off.
fn pass(inner: &mut impl Read, buf: &mut [u8], left: &Cell<u64>) -> io::Result<usize> {
    let want = buf.len().min(usize::try_from(left.get()).unwrap_or(usize::MAX));
    let n = inner.read(&mut buf[..want])?;
    left.set(left.get() - n as u64);
    Ok(n)
}

impl<R: Read> Read for FrameGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let f = &*self.frames;
        if !f.active.get() || buf.is_empty() {
            return self.inner.read(buf);
        }
        if f.skip_left.get() > 0 {
            return pass(&mut self.inner, buf, &f.skip_left);
        }
        let (mut prefix, mut given) = f.prefix.get();
        if given == 4 {
            if f.body_left.get() > 0 {
                return pass(&mut self.inner, buf, &f.body_left);
            }
            // A feature boundary: read the next length whole before handing any of it over.
            let mut got = 0;
            while got < 4 {
                match self.inner.read(&mut prefix[got..]) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if got < 4 {
                // The end of the file (or a cut-off length): pass on what there is.
                buf[..got].copy_from_slice(&prefix[..got]);
                return Ok(got);
            }
            let size = u32::from_le_bytes(prefix);
            let number = f.started.get() + 1;
            if size > MAX_FEATURE_BYTES {
                f.refused.set(Some((number, size)));
                f.active.set(false);
                return Err(io::Error::new(io::ErrorKind::InvalidData, "feature length over the limit"));
            }
            f.started.set(number);
            f.body_left.set(u64::from(size));
            given = 0;
        }
        let n = buf.len().min(4 - given);
        buf[..n].copy_from_slice(&prefix[given..given + n]);
        f.prefix.set((prefix, given + n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(sizes: &[u32]) -> Vec<u8> {
        let mut out = b"HEADER".to_vec();
        for &s in sizes {
            out.extend_from_slice(&s.to_le_bytes());
            out.extend(std::iter::repeat_n(7u8, s.min(100) as usize));
        }
        out
    }

    #[test]
    fn lengths_pass_until_one_is_over_the_limit() {
        let bytes = frames(&[3, 100, MAX_FEATURE_BYTES + 1]);
        let (mut guard, state) = FrameGuard::new(&bytes[..]);
        let mut header = [0u8; 2];
        guard.read_exact(&mut header).unwrap();
        // Four more bytes of header, as if they were the index: passed through, unchecked.
        state.features_after(4);
        let mut index = [0u8; 4];
        guard.read_exact(&mut index).unwrap();
        assert_eq!(&index, b"ADER");
        for size in [3usize, 100] {
            // Read as the crate does: the length whole, then the body whole.
            let mut len = [0u8; 4];
            guard.read_exact(&mut len).unwrap();
            assert_eq!(u32::from_le_bytes(len) as usize, size);
            let mut body = vec![0u8; size];
            guard.read_exact(&mut body).unwrap();
            assert!(body.iter().all(|&b| b == 7));
        }
        let mut len = [0u8; 4];
        assert!(guard.read_exact(&mut len).is_err());
        assert_eq!(state.refused(), Some((3, MAX_FEATURE_BYTES + 1)));
        let (n, reason) = state.refusal().unwrap();
        assert!(n == 3 && reason.starts_with("malformed: it states a length of"), "{reason}");
    }

    #[test]
    fn a_length_read_a_byte_at_a_time_and_the_end_pass_through() {
        let bytes = frames(&[5]);
        let (mut guard, state) = FrameGuard::new(&bytes[6..]);
        state.features_after(0);
        let mut all = Vec::new();
        let mut one = [0u8; 1];
        while guard.read(&mut one).unwrap() == 1 {
            all.push(one[0]);
        }
        assert_eq!(all, bytes[6..]);
        assert_eq!(state.refused(), None);
    }
}
