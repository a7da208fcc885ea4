//! How values are stored: `GeoPackage` point blobs (read and written), dates and times as ISO text.

/// The (x, y) of a `GeoPackage` point blob: the `GP` header (its envelope skipped) and a WKB point in either
/// byte order.
#[must_use]
pub fn blob_point(b: &[u8]) -> Option<(f64, f64)> {
    if b.get(..2)? != b"GP" {
        return None;
    }
    let flags = *b.get(3)?;
    let envelope = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        _ => return None,
    };
    let wkb = b.get(8 + envelope..)?;
    let little = *wkb.first()? == 1;
    let word = |at: usize| -> Option<[u8; 4]> { wkb.get(at..at + 4)?.try_into().ok() };
    let float = |at: usize| -> Option<f64> {
        let bytes: [u8; 8] = wkb.get(at..at + 8)?.try_into().ok()?;
        Some(if little { f64::from_le_bytes(bytes) } else { f64::from_be_bytes(bytes) })
    };
    let kind = if little { u32::from_le_bytes(word(1)?) } else { u32::from_be_bytes(word(1)?) };
    (kind == 1).then_some(())?;
    Some((float(5)?, float(13)?))
}

/// A GeoPackage geometry blob for a point: the `GP` header (version 0, little-endian, no envelope,
/// SRS 4326) and the WKB point.
#[must_use]
pub fn point_blob(lon: f64, lat: f64) -> [u8; 29] {
    let mut b = [0u8; 29];
    b[..4].copy_from_slice(&[b'G', b'P', 0, 0b0000_0001]);
    b[4..8].copy_from_slice(&4326i32.to_le_bytes());
    b[8] = 1; // WKB little-endian
    b[9..13].copy_from_slice(&1u32.to_le_bytes()); // Point
    b[13..21].copy_from_slice(&lon.to_le_bytes());
    b[21..29].copy_from_slice(&lat.to_le_bytes());
    b
}

/// `YYYY-MM-DD` without allocating (years 0–9999; the store's dates are checked to lie there).
/// A stored date (`YYYY-MM-DD`, as [`iso_date`] writes it) read without chrono's general parser (a
/// start reads millions); anything else is left to chrono.
pub(super) fn iso_day(s: &str) -> Option<chrono::NaiveDate> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        chrono::NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
    } else {
        s.parse().ok()
    }
}

pub(in crate::store) fn iso_date(d: chrono::NaiveDate) -> [u8; 10] {
    use chrono::Datelike;
    let (y, m, day) = (d.year().clamp(0, 9999).cast_unsigned(), d.month(), d.day());
    let digit = |n: u32| b'0' + (n % 10) as u8;
    [
        digit(y / 1000),
        digit(y / 100),
        digit(y / 10),
        digit(y),
        b'-',
        digit(m / 10),
        digit(m),
        b'-',
        digit(day / 10),
        digit(day),
    ]
}

/// `HH:MM:SS` without allocating.
pub(in crate::store) fn iso_time(t: chrono::NaiveTime) -> [u8; 8] {
    use chrono::Timelike;
    let (h, m, s) = (t.hour(), t.minute(), t.second());
    let digit = |n: u32| b'0' + (n % 10) as u8;
    [digit(h / 10), digit(h), b':', digit(m / 10), digit(m), b':', digit(s / 10), digit(s)]
}

/// Text from ASCII bytes made by [`iso_date`] / [`iso_time`].
pub(super) fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}
