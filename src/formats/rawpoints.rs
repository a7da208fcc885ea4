//! Raw point files for `leadmap cells --input`: the (lon, lat) of every row of a CSV, every Point feature
//! of a GeoJSON `FeatureCollection`, or every Point of a FlatGeobuf file (EPSG:4326). A CSV without
//! quoted fields is split at line ends and parsed on every core; one with quotes goes through the csv
//! reader. Rows without valid coordinates are counted and the first few described (file, line, field).

use std::path::Path;

use rayon::prelude::*;

use super::points::{LAT_CANDIDATES, LON_CANDIDATES, PointFileError, find_column};

/// The points read, and what was left out.
#[derive(Debug, Default)]
pub struct RawPoints {
    /// (lon, lat), WGS84 degrees, in pieces (as read, in file order).
    pub pieces: Vec<Vec<[f64; 2]>>,
    /// Rows or features without valid coordinates.
    pub rejected: u64,
    /// The first few of them: `file:line: field: reason`.
    pub examples: Vec<String>,
}

const EXAMPLES: usize = 10;

fn check(lon: f64, lat: f64) -> Result<[f64; 2], String> {
    crate::coord::LonLat::new(lon, lat).map(|p| [p.lon(), p.lat()]).map_err(|e| e.to_string())
}

fn number(bytes: &[u8], column: &str) -> Result<f64, String> {
    let t = bytes.trim_ascii();
    if t.is_empty() {
        return Err(format!("{column}: empty (no coordinates)"));
    }
    fast_float2::parse::<f64, _>(t).map_err(|_| format!("{column}: {:?} is not a number", String::from_utf8_lossy(t)))
}

/// One piece of a CSV body: its points, and its bad rows as (line within the piece, reason).
type Piece = (Vec<[f64; 2]>, Vec<(u64, String)>, u64);

fn parse_piece(body: &[u8], lon_i: usize, lat_i: usize) -> Piece {
    let mut points = Vec::with_capacity(body.len() / 24);
    let mut bad = Vec::new();
    let mut lines = 0u64;
    let need = lon_i.max(lat_i);
    let mut start = 0;
    while start < body.len() {
        let end = memchr::memchr(b'\n', &body[start..]).map_or(body.len(), |p| start + p);
        let line = &body[start..end];
        start = end + 1;
        lines += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        // The fields up to the later of the two columns, found with memchr.
        let (mut lon, mut lat) = (None, None);
        let mut from = 0;
        for i in 0..=need {
            if from > line.len() {
                break;
            }
            let to = memchr::memchr(b',', &line[from..]).map_or(line.len(), |p| from + p);
            if i == lon_i {
                lon = Some(&line[from..to]);
            } else if i == lat_i {
                lat = Some(&line[from..to]);
            }
            from = to + 1;
        }
        let got = match (lon, lat) {
            (Some(x), Some(y)) => number(x, "lon").and_then(|x| number(y, "lat").and_then(|y| check(x, y))),
            _ => Err("lon/lat: the row has too few fields".to_owned()),
        };
        match got {
            Ok(p) => points.push(p),
            Err(reason) => bad.push((lines, reason)),
        }
    }
    (points, bad, lines)
}

/// Reads a CSV's points: `lon_col`/`lat_col`, or the usual names (lon, lng, longitude, x, ...).
pub fn read_csv(
    bytes: &[u8],
    file: &str,
    lon_col: Option<&str>,
    lat_col: Option<&str>,
) -> Result<RawPoints, PointFileError> {
    let (lon_i, lat_i, body_start) = csv_header(bytes, file, lon_col, lat_col)?;
    let body = bytes.get(body_start..).unwrap_or_default();
    let mut out = RawPoints::default();
    if body.contains(&b'"') {
        // Quoted fields may hold commas and line ends: the csv reader, one core.
        let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(body);
        let mut rec = csv::ByteRecord::new();
        loop {
            let line = rdr.position().line() + 1;
            match rdr.read_byte_record(&mut rec) {
                Ok(false) => break,
                Ok(true) => {
                    let got = match (rec.get(lon_i), rec.get(lat_i)) {
                        (Some(x), Some(y)) => number(x, "lon").and_then(|x| number(y, "lat").and_then(|y| check(x, y))),
                        _ => Err("lon/lat: the row has too few fields".to_owned()),
                    };
                    match got {
                        Ok(p) => out.push(p),
                        Err(r) => out.reject(format!("{file}:{line}: {r}")),
                    }
                }
                Err(e) => {
                    return Err(PointFileError::Csv { file: file.to_owned(), line, reason: e.to_string() });
                }
            }
        }
        return Ok(out);
    }
    // Pieces of about 8 MB, cut at line ends, parsed in parallel; line numbers follow from the pieces'
    // line counts.
    let mut cuts = vec![0];
    let piece = 8 << 20;
    while let Some(&last) = cuts.last() {
        if last >= body.len() {
            break;
        }
        let target = (last + piece).min(body.len());
        let cut = body[target..].iter().position(|&b| b == b'\n').map_or(body.len(), |p| target + p + 1);
        cuts.push(cut);
    }
    let pieces: Vec<Piece> = cuts.par_windows(2).map(|w| parse_piece(&body[w[0]..w[1]], lon_i, lat_i)).collect();
    out.gather(pieces, file);
    Ok(out)
}

/// The header of a CSV: its coordinate columns' positions, and where the body starts.
fn csv_header(
    head: &[u8],
    file: &str,
    lon_col: Option<&str>,
    lat_col: Option<&str>,
) -> Result<(usize, usize, usize), PointFileError> {
    let header_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).from_reader(&head[..header_end]);
    let mut headers = csv::ByteRecord::new();
    rdr.read_byte_record(&mut headers).map_err(|e| PointFileError::Csv {
        file: file.to_owned(),
        line: 1,
        reason: e.to_string(),
    })?;
    let lon_i = find_column(&headers, lon_col, LON_CANDIDATES, "lon", file)?;
    let lat_i = find_column(&headers, lat_col, LAT_CANDIDATES, "lat", file)?;
    Ok((lon_i, lat_i, header_end + 1))
}

/// Bytes per piece of a CSV file read in parallel.
const PIECE: u64 = 8 << 20;

/// Reads a CSV file's points, each core reading and parsing its own pieces of the file (the whole file is
/// never in memory at once); a file with quoted fields is read whole and parsed by the csv reader.
fn read_csv_file(
    path: &Path,
    file: &str,
    lon_col: Option<&str>,
    lat_col: Option<&str>,
) -> Result<RawPoints, PointFileError> {
    use std::os::unix::fs::FileExt;
    let io = |source: std::io::Error| PointFileError::Io { file: file.to_owned(), source };
    let f = std::fs::File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    let mut head = vec![0u8; usize::try_from(len.min(1 << 16)).unwrap_or(1 << 16)];
    f.read_exact_at(&mut head, 0).map_err(io)?;
    if !head.contains(&b'\n') && len > head.len() as u64 {
        let reason = "the header line is longer than 64 KiB".to_owned();
        return Err(PointFileError::Csv { file: file.to_owned(), line: 1, reason });
    }
    let (lon_i, lat_i, body_start) = csv_header(&head, file, lon_col, lat_col)?;
    let body_start = body_start as u64;
    let starts: Vec<u64> = (body_start..len.max(body_start)).step_by(PIECE as usize).collect();
    // A piece parses the lines that start in it: it reads from one byte before its range (to see whether
    // its first byte starts a line) to the end of the line its range ends in.
    let read_piece = |start: u64| -> Result<Option<Piece>, std::io::Error> {
        let end = (start + PIECE).min(len);
        let from = if start > body_start { start - 1 } else { start };
        let own = usize::try_from(end - from).unwrap_or(0);
        let mut buf = vec![0u8; own];
        f.read_exact_at(&mut buf, from)?;
        let mut at = end;
        while at < len && buf.last() != Some(&b'\n') {
            let mut more = vec![0u8; usize::try_from((len - at).min(1 << 16)).unwrap_or(0)];
            f.read_exact_at(&mut more, at)?;
            at += more.len() as u64;
            if let Some(p) = more.iter().position(|&b| b == b'\n') {
                buf.extend_from_slice(&more[..=p]);
                break;
            }
            buf.extend_from_slice(&more);
        }
        let first = if start > body_start {
            match buf.iter().position(|&b| b == b'\n') {
                Some(p) if p + 1 < own => p + 1,
                _ => return Ok(Some((Vec::new(), Vec::new(), 0))),
            }
        } else {
            0
        };
        if buf.contains(&b'"') {
            return Ok(None);
        }
        Ok(Some(parse_piece(&buf[first..], lon_i, lat_i)))
    };
    let pieces: Vec<Option<Piece>> = starts.par_iter().map(|&s| read_piece(s)).collect::<Result<_, _>>().map_err(io)?;
    if pieces.iter().any(Option::is_none) {
        let bytes = std::fs::read(path).map_err(io)?;
        return read_csv(&bytes, file, lon_col, lat_col);
    }
    let mut out = RawPoints::default();
    out.gather(pieces.into_iter().flatten().collect(), file);
    Ok(out)
}

impl RawPoints {
    /// Every point, piece by piece.
    #[must_use]
    pub fn points(&self) -> Vec<&[[f64; 2]]> {
        self.pieces.iter().map(Vec::as_slice).collect()
    }

    /// How many points.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pieces.iter().map(Vec::len).sum()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes parsed pieces in file order: their points, and their bad rows with file line numbers (the
    /// body starts on line 2).
    fn gather(&mut self, pieces: Vec<Piece>, file: &str) {
        let mut first_line = 2u64;
        for (points, bad, lines) in pieces {
            self.pieces.push(points);
            for (l, reason) in bad {
                self.reject(format!("{file}:{}: {reason}", first_line + l - 1));
            }
            first_line += lines;
        }
    }

    fn push(&mut self, p: [f64; 2]) {
        match self.pieces.last_mut() {
            Some(v) => v.push(p),
            None => self.pieces.push(vec![p]),
        }
    }

    fn reject(&mut self, what: String) {
        self.rejected += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(what);
        }
    }
}

/// Reads a GeoJSON `FeatureCollection`'s Point features.
pub fn read_geojson(bytes: &[u8], file: &str) -> Result<RawPoints, PointFileError> {
    let fail = |reason: String| PointFileError::GeoJson { file: file.to_owned(), reason };
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| fail(format!("not JSON: {e}")))?;
    let features =
        v.get("features").and_then(|f| f.as_array()).ok_or_else(|| fail("not a FeatureCollection".to_owned()))?;
    let mut out = RawPoints::default();
    for (i, f) in features.iter().enumerate() {
        let got = super::geometry::feature_xy(f).map_err(|e| e.to_string()).and_then(|(x, y)| check(x, y));
        match got {
            Ok(p) => out.push(p),
            Err(r) => out.reject(format!("{file}: feature {}: geometry: {r}", i + 1)),
        }
    }
    Ok(out)
}

/// Reads a FlatGeobuf file's Points (it must be in EPSG:4326).
pub fn read_fgb(bytes: &[u8], file: &str) -> Result<RawPoints, PointFileError> {
    use flatgeobuf::{FallibleStreamingIterator, FgbReader};
    let fail = |reason: String| PointFileError::GeoJson { file: file.to_owned(), reason };
    let (guarded, frames) = super::fgbframes::FrameGuard::new(bytes);
    let fgb = FgbReader::open(guarded).map_err(|e| fail(format!("not a FlatGeobuf file: {e}")))?;
    if let Some(code) = fgb.header().crs().map(|c| c.code()).filter(|c| *c != 0 && *c != 4326) {
        return Err(fail(format!("the file's CRS is EPSG:{code}; --input needs lon/lat (EPSG:4326)")));
    }
    frames.features_after(super::fgbframes::index_bytes(fgb.header()));
    let mut iter = super::contain::contained(|| fgb.select_all_seq())
        .map_err(|()| fail("malformed: its header's feature count and index size do not fit together".into()))?
        .map_err(|e| fail(format!("cannot read features: {e}")))?;
    let mut out = RawPoints::default();
    let mut n = 0;
    while let Some(feature) = iter.next().map_err(|e| fail(format!("feature {}: {e}", n + 1)))? {
        n += 1;
        let got = super::geometry::fgb_point_xy(feature).map_err(|e| e.to_string()).and_then(|(x, y)| check(x, y));
        match got {
            Ok(p) => out.push(p),
            Err(r) => out.reject(format!("{file}: feature {n}: geometry: {r}")),
        }
    }
    if let Some((n, reason)) = frames.refusal() {
        return Err(fail(format!("feature {n}: {reason}")));
    }
    Ok(out)
}

/// Reads a point file by its extension (`.geojson`/`.json`, `.fgb`, else CSV).
pub fn read_points(path: &Path, lon_col: Option<&str>, lat_col: Option<&str>) -> Result<RawPoints, PointFileError> {
    let file = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("geojson" | "json" | "fgb")) {
        return read_csv_file(path, &file, lon_col, lat_col);
    }
    let bytes = std::fs::read(path).map_err(|source| PointFileError::Io { file: file.clone(), source })?;
    match ext.as_deref() {
        Some("geojson" | "json") => read_geojson(&bytes, &file),
        Some("fgb") => read_fgb(&bytes, &file),
        _ => read_csv(&bytes, &file, lon_col, lat_col),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    #[test]
    fn csv_pieces_keep_line_numbers_and_report_bad_rows() {
        // Over 8 MiB: read from a file, it comes in two pieces.
        let mut text = String::from("id,lat,lon\n");
        for i in 0..500_000 {
            if i == 123_456 {
                text.push_str("x,45.5,abc\n");
            } else if i == 350_000 {
                text.push_str("y,95.0,-122.6\n");
            } else {
                writeln!(text, "{i},45.5{},-122.6{}", i % 10, i % 7).unwrap();
            }
        }
        let got = read_csv(text.as_bytes(), "p.csv", None, None).unwrap();
        assert_eq!(got.len(), 499_998);
        assert_eq!(got.pieces[0][0], [-122.6, 45.5]);
        // The same read piece by piece from a file.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        std::fs::write(&path, &text).unwrap();
        assert!(text.len() as u64 > PIECE);
        let from_file = read_points(&path, None, None).unwrap();
        assert_eq!(from_file.pieces.len(), 2);
        assert_eq!(from_file.pieces.concat(), got.pieces.concat());
        let dir_prefix = format!("{}/", dir.path().display());
        let named: Vec<String> = from_file.examples.iter().map(|e| e.replace(&dir_prefix, "")).collect();
        assert_eq!(named, got.examples);
        assert_eq!(got.rejected, 2);
        assert_eq!(got.examples[0], "p.csv:123458: lon: \"abc\" is not a number");
        assert!(got.examples[1].starts_with("p.csv:350002: "), "{}", got.examples[1]);
        let quoted = read_csv(b"name,lon,lat\n\"a, b\",-122.6,45.5\n\"c\",x,45\n", "q.csv", None, None).unwrap();
        assert_eq!(quoted.pieces.concat(), vec![[-122.6, 45.5]]);
        assert_eq!(quoted.examples, vec!["q.csv:3: lon: \"x\" is not a number"]);
        let e = read_csv(b"a,b\n1,2\n", "n.csv", None, None).unwrap_err().to_string();
        assert!(e.contains("no lon column"), "{e}");
    }
}
