//! Dev tool, not installed: renders the map page's label glyphs (`MapLibre` glyph PBFs, signed distance
//! fields) from DejaVu Sans, a free font in Debian's packages, into `src/http/web/glyphs/`.
//!
//! ```sh
//! sudo apt-get install fonts-dejavu-core fonts-dejavu-extra   # Sans, Sans Bold; Sans Oblique
//! cargo run --example make_glyphs                              # writes src/http/web/glyphs/
//! cargo run --example make_glyphs -- --fonts DIR --out DIR
//! ```
//!
//! The fields follow node-fontnik (what `MapLibre`'s glyph servers use): 24 px, a 3 px buffer, radius 8,
//! cutoff 0.25 (the outline at 191 of 255), `top` the glyph's top above the baseline less the font's
//! ascender. The licence of the font is copied beside the glyphs (`LICENSE.txt`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// Glyph size in pixels, and the SDF's buffer, radius and cutoff (node-fontnik's values).
const SIZE: f64 = 24.0;
const BUFFER: i32 = 3;
const RADIUS: f64 = 8.0;
const CUTOFF: f64 = 0.25;

/// The 256-codepoint ranges rendered: Latin-1, Latin Extended-A/B, Greek, Cyrillic, Latin Extended
/// Additional and General Punctuation. The service answers other ranges with no glyphs.
const RANGES: [u32; 6] = [0, 256, 768, 1024, 7680, 8192];

/// The three faces the service has: a font stack naming Bold/Medium/Semibold gets `bold`, one naming
/// Italic/Oblique `italic`, any other `regular`.
const FACES: [(&str, &str); 3] =
    [("regular", "DejaVuSans.ttf"), ("bold", "DejaVuSans-Bold.ttf"), ("italic", "DejaVuSans-Oblique.ttf")];

fn main() -> anyhow::Result<()> {
    let mut fonts = PathBuf::from("/usr/share/fonts/truetype/dejavu");
    let mut out = PathBuf::from("src/http/web/glyphs");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--fonts" => fonts = args.next().context("--fonts DIR")?.into(),
            "--out" => out = args.next().context("--out DIR")?.into(),
            "-h" | "--help" => {
                eprintln!("usage: cargo run --example make_glyphs [-- --fonts DIR --out DIR]");
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    for (face, file) in FACES {
        let path = fonts.join(file);
        let data = std::fs::read(&path).with_context(|| {
            format!("{}: cannot be read (apt-get install fonts-dejavu-core fonts-dejavu-extra)", path.display())
        })?;
        let font = ttf_parser::Face::parse(&data, 0).with_context(|| format!("{}: not a font", path.display()))?;
        let dir = out.join(face);
        std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot be made", dir.display()))?;
        for start in RANGES {
            let name = format!("{start}-{}.pbf", start + 255);
            let (pbf, n) = render_range(&font, face, start);
            write(&dir.join(&name), &pbf)?;
            eprintln!("{face}/{name}: {n} glyphs, {} bytes", pbf.len());
        }
    }
    write_licence(&out)
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f = std::fs::File::create(path).with_context(|| format!("{}: cannot be written", path.display()))?;
    f.write_all(bytes).with_context(|| format!("{}: cannot be written", path.display()))
}

/// The font's licence (Debian's copyright file), with where the glyphs came from.
fn write_licence(out: &Path) -> anyhow::Result<()> {
    let src = Path::new("/usr/share/doc/fonts-dejavu-core/copyright");
    let text = std::fs::read_to_string(src).with_context(|| format!("{}: cannot be read", src.display()))?;
    let head = "The glyphs in this folder are signed distance fields rendered by tools/assets/make_glyphs.rs from\n\
                DejaVu Sans, Sans Bold and Sans Oblique (Debian's fonts-dejavu-core and fonts-dejavu-extra).\n\
                The font's licence, from /usr/share/doc/fonts-dejavu-core/copyright:\n\n";
    write(&out.join("LICENSE.txt"), format!("{head}{text}").as_bytes())
}

/// One range's PBF (`glyphs { stacks { name, range, glyphs* } }`) and how many glyphs it holds.
fn render_range(font: &ttf_parser::Face, face: &str, start: u32) -> (Vec<u8>, usize) {
    let scale = SIZE / f64::from(font.units_per_em());
    let ascender = (f64::from(font.ascender()) * scale).round() as i32;
    let mut stack = Vec::new();
    field_bytes(&mut stack, 1, format!("DejaVu Sans {face}").as_bytes());
    field_bytes(&mut stack, 2, format!("{start}-{}", start + 255).as_bytes());
    let mut n = 0;
    for cp in start..start + 256 {
        // Control characters are never drawn.
        let Some(ch) = char::from_u32(cp).filter(|c| !c.is_control()) else { continue };
        let Some(id) = font.glyph_index(ch) else { continue };
        let glyph = render_glyph(font, id, scale, ascender);
        let mut g = Vec::new();
        field_varint(&mut g, 1, u64::from(cp));
        if !glyph.bitmap.is_empty() {
            field_bytes(&mut g, 2, &glyph.bitmap);
        }
        field_varint(&mut g, 3, u64::from(glyph.width));
        field_varint(&mut g, 4, u64::from(glyph.height));
        field_varint(&mut g, 5, zigzag(glyph.left));
        field_varint(&mut g, 6, zigzag(glyph.top));
        field_varint(&mut g, 7, u64::from(glyph.advance));
        field_bytes(&mut stack, 3, &g);
        n += 1;
    }
    let mut pbf = Vec::new();
    field_bytes(&mut pbf, 1, &stack);
    (pbf, n)
}

struct Glyph {
    bitmap: Vec<u8>,
    width: u32,
    height: u32,
    left: i32,
    top: i32,
    advance: u32,
}

/// The outline as straight segments in pixels (y up), curves flattened.
#[derive(Default)]
struct Segments {
    segs: Vec<[(f64, f64); 2]>,
    start: (f64, f64),
    at: (f64, f64),
    scale: f64,
}

impl Segments {
    fn p(&self, x: f32, y: f32) -> (f64, f64) {
        (f64::from(x) * self.scale, f64::from(y) * self.scale)
    }
    fn line(&mut self, to: (f64, f64)) {
        if to != self.at {
            self.segs.push([self.at, to]);
        }
        self.at = to;
    }
}

/// Curves are cut into this many segments: at 24 px the error is far below a pixel.
const STEPS: u32 = 8;

impl ttf_parser::OutlineBuilder for Segments {
    fn move_to(&mut self, x: f32, y: f32) {
        self.start = self.p(x, y);
        self.at = self.start;
    }
    fn line_to(&mut self, x: f32, y: f32) {
        let to = self.p(x, y);
        self.line(to);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let (a, b, c) = (self.at, self.p(x1, y1), self.p(x, y));
        for i in 1..=STEPS {
            let t = f64::from(i) / f64::from(STEPS);
            let u = 1.0 - t;
            self.line((u * u * a.0 + 2.0 * u * t * b.0 + t * t * c.0, u * u * a.1 + 2.0 * u * t * b.1 + t * t * c.1));
        }
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let (a, b, c, d) = (self.at, self.p(x1, y1), self.p(x2, y2), self.p(x, y));
        for i in 1..=STEPS {
            let t = f64::from(i) / f64::from(STEPS);
            let u = 1.0 - t;
            let (k0, k1, k2, k3) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
            self.line((k0 * a.0 + k1 * b.0 + k2 * c.0 + k3 * d.0, k0 * a.1 + k1 * b.1 + k2 * c.1 + k3 * d.1));
        }
    }
    fn close(&mut self) {
        let start = self.start;
        self.line(start);
    }
}

fn render_glyph(font: &ttf_parser::Face, id: ttf_parser::GlyphId, scale: f64, ascender: i32) -> Glyph {
    let advance = (f64::from(font.glyph_hor_advance(id).unwrap_or(0)) * scale).round() as u32;
    let mut outline = Segments { scale, ..Segments::default() };
    let empty = Glyph { bitmap: Vec::new(), width: 0, height: 0, left: 0, top: -ascender, advance };
    if font.outline_glyph(id, &mut outline).is_none() || outline.segs.is_empty() {
        return empty;
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for [a, b] in &outline.segs {
        for p in [a, b] {
            x0 = x0.min(p.0);
            y0 = y0.min(p.1);
            x1 = x1.max(p.0);
            y1 = y1.max(p.1);
        }
    }
    let (left, bottom, right, top) = (x0.floor() as i32, y0.floor() as i32, x1.ceil() as i32, y1.ceil() as i32);
    let (width, height) = ((right - left) as u32, (top - bottom) as u32);
    if width == 0 || height == 0 {
        return empty;
    }
    let (w, h) = (right - left + 2 * BUFFER, top - bottom + 2 * BUFFER);
    let mut bitmap = Vec::with_capacity((w * h) as usize);
    for row in 0..h {
        // Pixel centres, row 0 at the top of the buffered box.
        let py = f64::from(top + BUFFER - row) - 0.5;
        for col in 0..w {
            let px = f64::from(left - BUFFER + col) + 0.5;
            let mut d = distance(&outline.segs, px, py);
            if winding(&outline.segs, px, py) != 0 {
                d = -d;
            }
            let v = (d / RADIUS + CUTOFF).clamp(0.0, 1.0);
            bitmap.push((255.0 - 255.0 * v).round() as u8);
        }
    }
    Glyph { bitmap, width, height, left, top: top - ascender, advance }
}

/// The distance from (px, py) to the nearest segment.
fn distance(segs: &[[(f64, f64); 2]], px: f64, py: f64) -> f64 {
    let mut best = f64::MAX;
    for [a, b] in segs {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 { (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
        let (qx, qy) = (a.0 + t * dx - px, a.1 + t * dy - py);
        best = best.min(qx * qx + qy * qy);
    }
    best.sqrt()
}

/// The outline's winding number around (px, py): non-zero inside (TrueType's fill rule).
fn winding(segs: &[[(f64, f64); 2]], px: f64, py: f64) -> i32 {
    let mut w = 0;
    for [a, b] in segs {
        let side = (b.0 - a.0) * (py - a.1) - (px - a.0) * (b.1 - a.1);
        if a.1 <= py {
            if b.1 > py && side > 0.0 {
                w += 1;
            }
        } else if b.1 <= py && side < 0.0 {
            w -= 1;
        }
    }
    w
}

fn zigzag(v: i32) -> u64 {
    u64::from(((v << 1) ^ (v >> 31)) as u32)
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_varint(out: &mut Vec<u8>, field: u32, v: u64) {
    varint(out, u64::from(field << 3));
    varint(out, v);
}

fn field_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    varint(out, u64::from(field << 3 | 2));
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}
