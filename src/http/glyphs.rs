//! `GET /map/glyphs/{fontstack}/{range}.pbf`: the glyphs a vector base map's labels are drawn with
//! (`MapLibre` glyph PBFs, signed distance fields of DejaVu Sans made by `tools/assets/make_glyphs.rs`),
//! embedded so no label needs a font server.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::cached::{Rendered, strong_etag};

const PBF: &str = "application/x-protobuf";

/// The rendered ranges of each face: (first codepoint, PBF).
type Face = [(u32, &'static [u8]); 6];

macro_rules! face {
    ($dir:literal) => {
        [
            (0, include_bytes!(concat!("web/glyphs/", $dir, "/0-255.pbf"))),
            (256, include_bytes!(concat!("web/glyphs/", $dir, "/256-511.pbf"))),
            (768, include_bytes!(concat!("web/glyphs/", $dir, "/768-1023.pbf"))),
            (1024, include_bytes!(concat!("web/glyphs/", $dir, "/1024-1279.pbf"))),
            (7680, include_bytes!(concat!("web/glyphs/", $dir, "/7680-7935.pbf"))),
            (8192, include_bytes!(concat!("web/glyphs/", $dir, "/8192-8447.pbf"))),
        ]
    };
}

const FACES: [Face; 3] = [face!("regular"), face!("bold"), face!("italic")];

/// The face for a font stack (`Noto Sans Medium,Arial Unicode MS Bold`): its first font's weight and
/// slant. 0 regular, 1 bold, 2 italic.
fn face_of(fontstack: &str) -> usize {
    let first = fontstack.split(',').next().unwrap_or_default();
    if ["Bold", "Medium", "Semibold", "SemiBold", "Black", "Heavy"].iter().any(|w| first.contains(w)) {
        1
    } else if ["Italic", "Oblique"].iter().any(|w| first.contains(w)) {
        2
    } else {
        0
    }
}

/// `N-M.pbf` with N a multiple of 256 and M = N + 255 below 65536: N.
fn range_start(range: &str) -> Option<u32> {
    let (start, end) = range.strip_suffix(".pbf")?.split_once('-')?;
    let (start, end): (u32, u32) = (start.parse().ok()?, end.parse().ok()?);
    (start % 256 == 0 && end == start + 255 && end < 65536).then_some(start)
}

/// Each face's ranges, made ready (tag, gzip) at their first request.
fn prepared(face: usize, i: usize) -> &'static Rendered {
    static READY: [[OnceLock<Rendered>; 6]; 3] = [const { [const { OnceLock::new() }; 6] }; 3];
    READY[face][i].get_or_init(|| {
        let body = FACES[face][i].1;
        Rendered::new(Bytes::from_static(body), PBF, strong_etag(body), 1024)
    })
}

/// `GET /map/glyphs/{fontstack}/{range}`: the range's glyphs in the stack's face; a range no face
/// has (CJK, say) answers a valid PBF with no glyphs, so `MapLibre` draws what it can.
pub async fn get_glyphs(Path((fontstack, range)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let Some(start) = range_start(&range) else {
        return ApiError::not_found(format!(
            "no glyph range {range:?}: ranges are N-M.pbf with N a multiple of 256 and M = N + 255"
        ))
        .into_response();
    };
    let face = face_of(&fontstack);
    let mut r = if let Some(i) = FACES[face].iter().position(|(s, _)| *s == start) {
        prepared(face, i).respond(&headers, "public, max-age=86400", "Accept-Encoding")
    } else {
        let mut r = empty_range(&fontstack, start).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PBF));
        r
    };
    r.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

/// `glyphs { stacks { name, range } }`: a range with no glyphs.
fn empty_range(fontstack: &str, start: u32) -> Vec<u8> {
    fn bytes_field(out: &mut Vec<u8>, field: u8, bytes: &[u8]) {
        out.push(field << 3 | 2);
        let mut n = bytes.len();
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out.extend_from_slice(bytes);
    }
    let mut stack = Vec::new();
    bytes_field(&mut stack, 1, fontstack.as_bytes());
    bytes_field(&mut stack, 2, format!("{start}-{}", start + 255).as_bytes());
    let mut out = Vec::new();
    bytes_field(&mut out, 1, &stack);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_stacks_and_ranges_are_read() {
        assert_eq!(face_of("Noto Sans Regular"), 0);
        assert_eq!(face_of("Noto Sans Medium"), 1);
        assert_eq!(face_of("Open Sans Bold,Arial Unicode MS Regular"), 1);
        assert_eq!(face_of("Noto Sans Italic"), 2);
        assert_eq!(face_of("Arial Unicode MS Regular,Noto Sans Italic"), 0);
        assert_eq!(range_start("0-255.pbf"), Some(0));
        assert_eq!(range_start("65280-65535.pbf"), Some(65280));
        for bad in ["0-255", "1-256.pbf", "0-511.pbf", "65536-65791.pbf", "-0-255.pbf", "a-b.pbf", ""] {
            assert_eq!(range_start(bad), None, "{bad}");
        }
    }

    /// The fields of one protobuf message: (field number, varint or bytes).
    fn fields(mut b: &[u8]) -> Vec<(u64, Result<u64, &[u8]>)> {
        fn varint(b: &mut &[u8]) -> u64 {
            let (mut v, mut shift) = (0, 0);
            loop {
                let c = b[0];
                *b = &b[1..];
                v |= u64::from(c & 0x7f) << shift;
                shift += 7;
                if c < 0x80 {
                    return v;
                }
            }
        }
        let mut out = Vec::new();
        while !b.is_empty() {
            let key = varint(&mut b);
            if key & 7 == 2 {
                let n = varint(&mut b) as usize;
                out.push((key >> 3, Err(&b[..n])));
                b = &b[n..];
            } else {
                out.push((key >> 3, Ok(varint(&mut b))));
            }
        }
        out
    }

    #[test]
    fn every_embedded_range_holds_distance_fields_of_its_own_codepoints() {
        for face in &FACES {
            for (start, pbf) in face {
                let top = fields(pbf);
                let Err(stack) = top[0].1 else { panic!("no stack") };
                let stack = fields(stack);
                assert_eq!(stack[1], (2, Err(format!("{start}-{}", start + 255).as_bytes())));
                let glyphs: Vec<_> = stack.iter().filter(|(f, _)| *f == 3).collect();
                assert!(glyphs.len() > 150, "range {start}: {} glyphs", glyphs.len());
                for (_, g) in glyphs {
                    let Err(g) = g else { panic!("glyph not a message") };
                    let g = fields(g);
                    let get = |n| g.iter().find(|(f, _)| *f == n).map(|(_, v)| *v);
                    let Some(Ok(id)) = get(1) else { panic!("no id") };
                    assert!((u64::from(*start)..u64::from(*start) + 256).contains(&id));
                    let (Some(Ok(w)), Some(Ok(h))) = (get(3), get(4)) else { panic!("no size") };
                    match get(2) {
                        // A buffer of 3 pixels round the glyph: inside the outline above 191, the
                        // buffer's corner (3.5 pixels out at least) below 80.
                        Some(Err(bitmap)) => {
                            assert_eq!(bitmap.len() as u64, (w + 6) * (h + 6), "glyph {id}");
                            assert!(bitmap.iter().any(|&v| v > 191) && bitmap[0] < 80, "glyph {id}");
                        }
                        _ => assert_eq!((w, h), (0, 0), "glyph {id} has a size but no bitmap"),
                    }
                }
            }
        }
    }

    #[test]
    fn an_empty_range_is_a_stack_with_no_glyphs() {
        let pbf = empty_range("Noto Sans Regular", 19968);
        let Err(stack) = fields(&pbf)[0].1 else { panic!("no stack") };
        assert_eq!(fields(stack), [(1, Err(&b"Noto Sans Regular"[..])), (2, Err(&b"19968-20223"[..]))]);
    }
}
