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
    /// (lon, lat), WGS84 degrees.
    pub points: Vec<[f64; 2]>,
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
    let mut points = Vec::with_capacity(body.len() / 32);
    let mut bad = Vec::new();
    let mut lines = 0u64;
    let need = lon_i.max(lat_i);
    for line in body.split(|&b| b == b'\n') {
        lines += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let (mut lon, mut lat) = (None, None);
        for (i, field) in line.split(|&b| b == b',').enumerate().take(need + 1) {
            if i == lon_i {
                lon = Some(field);
            } else if i == lat_i {
                lat = Some(field);
            }
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
    // A body ending in '\n' yields one empty last piece; it is not a line.
    if body.last() == Some(&b'\n') {
        lines -= 1;
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
    let header_end = bytes.iter().position(|&b| b == b'\n').unwrap_or(bytes.len());
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).from_reader(&bytes[..header_end]);
    let mut headers = csv::ByteRecord::new();
    rdr.read_byte_record(&mut headers).map_err(|e| PointFileError::Csv {
        file: file.to_owned(),
        line: 1,
        reason: e.to_string(),
    })?;
    let lon_i = find_column(&headers, lon_col, LON_CANDIDATES, "lon", file)?;
    let lat_i = find_column(&headers, lat_col, LAT_CANDIDATES, "lat", file)?;
    let body = bytes.get(header_end + 1..).unwrap_or_default();
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
                        Ok(p) => out.points.push(p),
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
    out.points.reserve(pieces.iter().map(|p| p.0.len()).sum());
    let mut first_line = 2u64;
    for (points, bad, lines) in pieces {
        out.points.extend_from_slice(&points);
        for (l, reason) in bad {
            out.reject(format!("{file}:{}: {reason}", first_line + l - 1));
        }
        first_line += lines;
    }
    Ok(out)
}

impl RawPoints {
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
        let c = f.pointer("/geometry/coordinates").and_then(|c| c.as_array());
        let got = match (f.pointer("/geometry/type").and_then(|t| t.as_str()), c.map(Vec::as_slice)) {
            (Some("Point"), Some([x, y, ..])) => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => check(x, y),
                _ => Err("coordinates are not numbers".to_owned()),
            },
            _ => Err("geometry is not a Point".to_owned()),
        };
        match got {
            Ok(p) => out.points.push(p),
            Err(r) => out.reject(format!("{file}: feature {}: geometry: {r}", i + 1)),
        }
    }
    Ok(out)
}

/// Reads a FlatGeobuf file's Points (it must be in EPSG:4326).
pub fn read_fgb(bytes: &[u8], file: &str) -> Result<RawPoints, PointFileError> {
    use flatgeobuf::{FallibleStreamingIterator, FgbReader};
    use geozero::ToGeo;
    let fail = |reason: String| PointFileError::GeoJson { file: file.to_owned(), reason };
    let fgb = FgbReader::open(bytes).map_err(|e| fail(format!("not a FlatGeobuf file: {e}")))?;
    if let Some(code) = fgb.header().crs().map(|c| c.code()).filter(|c| *c != 0 && *c != 4326) {
        return Err(fail(format!("the file's CRS is EPSG:{code}; --input needs lon/lat (EPSG:4326)")));
    }
    let mut iter = fgb.select_all_seq().map_err(|e| fail(format!("cannot read features: {e}")))?;
    let mut out = RawPoints::default();
    let mut n = 0;
    while let Some(feature) = iter.next().map_err(|e| fail(format!("feature {}: {e}", n + 1)))? {
        n += 1;
        let got = match feature.to_geo() {
            Ok(geo::Geometry::Point(p)) => check(p.x(), p.y()),
            Ok(_) => Err("geometry is not a Point".to_owned()),
            Err(e) => Err(format!("no coordinates ({e})")),
        };
        match got {
            Ok(p) => out.points.push(p),
            Err(r) => out.reject(format!("{file}: feature {n}: geometry: {r}")),
        }
    }
    Ok(out)
}

/// Reads a point file by its extension (`.geojson`/`.json`, `.fgb`, else CSV).
pub fn read_points(path: &Path, lon_col: Option<&str>, lat_col: Option<&str>) -> Result<RawPoints, PointFileError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| PointFileError::Io { file: file.clone(), source })?;
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
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
        let mut text = String::from("id,lat,lon\n");
        for i in 0..300_000 {
            if i == 123_456 {
                text.push_str("x,45.5,abc\n");
            } else if i == 250_000 {
                text.push_str("y,95.0,-122.6\n");
            } else {
                writeln!(text, "{i},45.5{},-122.6{}", i % 10, i % 7).unwrap();
            }
        }
        let got = read_csv(text.as_bytes(), "p.csv", None, None).unwrap();
        assert_eq!(got.points.len(), 299_998);
        assert_eq!(got.points[0], [-122.6, 45.5]);
        assert_eq!(got.rejected, 2);
        assert_eq!(got.examples[0], "p.csv:123458: lon: \"abc\" is not a number");
        assert!(got.examples[1].starts_with("p.csv:250002: "), "{}", got.examples[1]);
        let quoted = read_csv(b"name,lon,lat\n\"a, b\",-122.6,45.5\n\"c\",x,45\n", "q.csv", None, None).unwrap();
        assert_eq!(quoted.points, vec![[-122.6, 45.5]]);
        assert_eq!(quoted.examples, vec!["q.csv:3: lon: \"x\" is not a number"]);
        let e = read_csv(b"a,b\n1,2\n", "n.csv", None, None).unwrap_err().to_string();
        assert!(e.contains("no lon column"), "{e}");
    }
}
