//! PMTiles v3 archives (a base map in one file): reads the header and metadata that the map page needs
//! to draw one (tile type, zooms, bounds, attribution) and checks that the file is an archive before the
//! service offers it. The tiles themselves are read by the browser with HTTP range requests.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The fixed header's length, bytes.
pub const HEADER_LEN: usize = 127;

/// Most metadata read, bytes (a base map's metadata is a few kilobytes).
const MAX_METADATA: u64 = 4 << 20;

/// What an archive's tiles are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TileType {
    /// Mapbox Vector Tiles.
    Vector,
    /// PNG images.
    Png,
    /// JPEG images.
    Jpeg,
    /// WebP images.
    Webp,
    /// AVIF images.
    Avif,
}

impl TileType {
    /// `vector` or `raster`, as the page's style needs it.
    #[must_use]
    pub fn kind(self) -> &'static str {
        if self == Self::Vector { "vector" } else { "raster" }
    }

    /// The format's name (`mvt`, `png`, `jpg`, `webp`, `avif`).
    #[must_use]
    pub fn format(self) -> &'static str {
        match self {
            Self::Vector => "mvt",
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
            Self::Avif => "avif",
        }
    }
}

/// An archive's header and the parts of its metadata the page uses. Bounds and centre are lon/lat.
#[derive(Clone, Debug, PartialEq)]
pub struct ArchiveInfo {
    /// The file's length, bytes.
    pub len: u64,
    /// What the tiles are.
    pub tile_type: TileType,
    /// Lowest zoom with tiles.
    pub min_zoom: u8,
    /// Highest zoom with tiles.
    pub max_zoom: u8,
    /// `[west, south, east, north]`, degrees lon/lat.
    pub bounds: [f64; 4],
    /// `[lon, lat, zoom]`.
    pub center: [f64; 3],
    /// The metadata's `attribution`, as plain text (markup removed), if any.
    pub attribution: Option<String>,
    /// The names of the vector layers the metadata lists (empty for raster archives).
    pub vector_layers: Vec<String>,
}

impl ArchiveInfo {
    /// Whether the data come from OpenStreetMap, judged from the attribution and, for vector tiles,
    /// the layer names of the Protomaps and OpenMapTiles schemas (both built from OpenStreetMap).
    #[must_use]
    pub fn from_openstreetmap(&self) -> bool {
        const OSM_LAYERS: [&str; 6] = ["earth", "roads", "landuse", "transportation", "water_name", "boundaries"];
        self.attribution.as_deref().is_some_and(|a| a.to_ascii_lowercase().contains("openstreetmap"))
            || self.vector_layers.iter().filter(|l| OSM_LAYERS.contains(&l.as_str())).count() >= 2
    }

    /// Whether the vector layers are the Protomaps basemap schema (drawn with `@protomaps/basemaps`).
    #[must_use]
    pub fn protomaps_schema(&self) -> bool {
        ["earth", "water", "roads"].iter().all(|l| self.vector_layers.iter().any(|v| v == l))
    }
}

/// Why a file is not a usable archive.
#[derive(Debug, thiserror::Error)]
pub enum PmtilesError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a PMTiles v3 archive.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        reason: String,
    },
}

/// Reads an archive's header and metadata, and checks that its directories, metadata and tile data lie
/// inside the file.
///
/// # Errors
/// When the file cannot be read, is not a PMTiles v3 archive, or names parts beyond its end.
pub fn read_info(path: &Path) -> Result<ArchiveInfo, PmtilesError> {
    let io = |source| PmtilesError::Io { path: path.to_owned(), source };
    let invalid = |reason: String| PmtilesError::Invalid { path: path.to_owned(), reason };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut h = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        match file.read(&mut h[got..]).map_err(io)? {
            0 => break,
            n => got += n,
        }
    }
    if got < 7 || &h[..7] != b"PMTiles" {
        return Err(invalid("not a PMTiles archive (it does not start with \"PMTiles\")".to_owned()));
    }
    if h[7] != 3 {
        return Err(invalid(format!(
            "PMTiles version {} (leadmap reads version 3; convert it with `pmtiles convert`)",
            h[7]
        )));
    }
    if got < HEADER_LEN {
        return Err(invalid(format!("the header is cut short: {got} of {HEADER_LEN} bytes")));
    }
    let u64_at = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().unwrap_or([0; 8]));
    let deg_at = |o: usize| f64::from(i32::from_le_bytes(h[o..o + 4].try_into().unwrap_or([0; 4]))) / 1e7;
    for (name, offset) in [("root directory", 8), ("metadata", 24), ("leaf directories", 40), ("tile data", 56)] {
        let (start, length) = (u64_at(offset), u64_at(offset + 8));
        if start.checked_add(length).is_none_or(|end| end > len) {
            return Err(invalid(format!(
                "the {name} (bytes {start} to {}) lies beyond the end of the file ({len} bytes): a partial or damaged copy",
                start.saturating_add(length)
            )));
        }
    }
    if u64_at(16) == 0 {
        return Err(invalid("the root directory is empty".to_owned()));
    }
    let tile_type = match h[99] {
        1 => TileType::Vector,
        2 => TileType::Png,
        3 => TileType::Jpeg,
        4 => TileType::Webp,
        5 => TileType::Avif,
        t => return Err(invalid(format!("tile type {t} is not one a map can draw (vector, PNG, JPEG, WebP or AVIF)"))),
    };
    let internal_compression = h[97];
    let (min_zoom, max_zoom) = (h[100], h[101]);
    if min_zoom > max_zoom || max_zoom > 30 {
        return Err(invalid(format!("zooms {min_zoom} to {max_zoom} are not a range of map zooms")));
    }
    let bounds = [deg_at(102), deg_at(106), deg_at(110), deg_at(114)];
    if !(-180.0..=180.0).contains(&bounds[0])
        || !(-180.0..=180.0).contains(&bounds[2])
        || !(-90.0..=90.0).contains(&bounds[1])
        || !(-90.0..=90.0).contains(&bounds[3])
    {
        return Err(invalid(format!("bounds {bounds:?} are not [west, south, east, north] in degrees")));
    }
    let center = [deg_at(119), deg_at(123), f64::from(h[118])];

    let (meta_at, meta_len) = (u64_at(24), u64_at(32));
    let metadata = if meta_len == 0 {
        serde_json::Value::Null
    } else {
        if meta_len > MAX_METADATA {
            return Err(invalid(format!("the metadata is {meta_len} bytes (at most {MAX_METADATA} are read)")));
        }
        file.seek(SeekFrom::Start(meta_at)).map_err(io)?;
        let mut raw = Vec::new();
        file.take(meta_len).read_to_end(&mut raw).map_err(io)?;
        let text = match internal_compression {
            1 | 0 => raw,
            2 => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&raw[..])
                    .take(MAX_METADATA)
                    .read_to_end(&mut out)
                    .map_err(|e| invalid(format!("the metadata does not gunzip: {e}")))?;
                out
            }
            c => return Err(invalid(format!("internal compression {c} (leadmap reads none or gzip)"))),
        };
        serde_json::from_slice(&text).map_err(|e| invalid(format!("the metadata is not JSON: {e}")))?
    };
    let attribution =
        metadata.get("attribution").and_then(serde_json::Value::as_str).map(plain_text).filter(|a| !a.is_empty());
    let vector_layers = metadata
        .get("vector_layers")
        .and_then(serde_json::Value::as_array)
        .map(|ls| ls.iter().filter_map(|l| l.get("id")?.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    Ok(ArchiveInfo { len, tile_type, min_zoom, max_zoom, bounds, center, attribution, vector_layers })
}

/// Text without markup: tags dropped, the common entities decoded, spaces collapsed (an archive's
/// attribution is often HTML with links; the page shows it as text).
fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&copy;", "©")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A header (and `metadata` after it) with the root directory, metadata and tile data inside.
    fn archive(tile_type: u8, metadata: &str) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_LEN];
        h[..7].copy_from_slice(b"PMTiles");
        h[7] = 3;
        let put = |h: &mut Vec<u8>, o: usize, v: u64| h[o..o + 8].copy_from_slice(&v.to_le_bytes());
        let root = HEADER_LEN as u64;
        put(&mut h, 8, root);
        put(&mut h, 16, 4);
        put(&mut h, 24, root + 4);
        put(&mut h, 32, metadata.len() as u64);
        put(&mut h, 56, root + 4 + metadata.len() as u64);
        put(&mut h, 64, 1);
        h[97] = 1;
        h[99] = tile_type;
        h[100] = 0;
        h[101] = 14;
        for (o, deg) in [(102, -122.8), (106, 45.4), (110, -122.5), (114, 45.7), (119, -122.67), (123, 45.52)] {
            h[o..o + 4].copy_from_slice(&((deg * 1e7_f64).round() as i32).to_le_bytes());
        }
        h[118] = 12;
        h.extend_from_slice(&[1, 0, 1, 1]);
        h.extend_from_slice(metadata.as_bytes());
        h.push(0);
        h
    }

    fn read(bytes: &[u8]) -> Result<ArchiveInfo, PmtilesError> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        read_info(f.path())
    }

    #[test]
    fn reads_the_header_and_the_metadata() {
        let meta = r#"{"attribution":"<a href=\"https://openstreetmap.org\">&copy; OpenStreetMap</a>  contributors","vector_layers":[{"id":"earth"},{"id":"water"},{"id":"roads"}]}"#;
        let info = read(&archive(1, meta)).unwrap();
        assert_eq!(info.tile_type, TileType::Vector);
        assert_eq!((info.min_zoom, info.max_zoom), (0, 14));
        assert!((info.bounds[0] + 122.8).abs() < 1e-7 && (info.bounds[3] - 45.7).abs() < 1e-7);
        assert!((info.center[0] + 122.67).abs() < 1e-7 && (info.center[2] - 12.0).abs() < 1e-9);
        assert_eq!(info.attribution.as_deref(), Some("© OpenStreetMap contributors"));
        assert!(info.from_openstreetmap() && info.protomaps_schema());
        let raster = read(&archive(2, "{}")).unwrap();
        assert_eq!((raster.tile_type.kind(), raster.tile_type.format()), ("raster", "png"));
        assert!(!raster.from_openstreetmap() && raster.attribution.is_none());
    }

    #[test]
    fn refuses_what_is_not_a_whole_archive_saying_why() {
        let err = |bytes: &[u8]| read(bytes).unwrap_err().to_string();
        assert!(err(b"<html>not found</html>").contains("not a PMTiles archive"));
        let mut v2 = archive(2, "{}");
        v2[7] = 2;
        assert!(err(&v2).contains("version 2"));
        let good = archive(2, "{}");
        assert!(err(&good[..HEADER_LEN - 1]).contains("cut short"));
        assert!(err(&good[..HEADER_LEN + 2]).contains("beyond the end of the file"));
        assert!(err(&archive(9, "{}")).contains("tile type 9"));
        assert!(err(&archive(2, "{not json")).contains("metadata is not JSON"));
        let missing = read_info(Path::new("/nonexistent/base.pmtiles")).unwrap_err().to_string();
        assert!(missing.starts_with("/nonexistent/base.pmtiles: "), "{missing}");
    }
}
