//! Projected coordinates to WGS84 (lon, lat): the State Plane and UTM systems police departments publish
//! their data in. Inverse Lambert Conformal Conic (Snyder, *Map Projections: A Working Manual*, 15) and
//! inverse Transverse Mercator (Krüger's series to n⁴, as in Karney 2011 and PROJ's `tmerc`), on the
//! GRS80 or WGS84 ellipsoid. Datum shifts follow PROJ's defaults without grids: NAD83 is taken as WGS84
//! (a null transformation), NAD83(HARN) goes through PROJ's seven-parameter Helmert for the conterminous
//! US (about 1 m). So results equal pyproj's `Transformer.from_crs(code, "EPSG:4326", always_xy=True)`
//! to well under a centimetre onshore (tested against fixtures made with pyproj).
//!
//! Input is (x = easting, y = northing) in the system's unit; output is (lon, lat) in degrees.

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};

/// A supported projected coordinate system, by EPSG code.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Crs {
    code: u32,
    projection: Projection,
    /// Metres per unit of x and y.
    unit_m: f64,
    datum: Datum,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Projection {
    Lcc(Lcc),
    Tm(Tm),
    /// EPSG:3857: the sphere of radius `A`, x = Rλ, y = R ln tan(π/4 + φ/2).
    WebMercator,
}

/// Why a coordinate system cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CrsError {
    /// Not of the form `EPSG:NNNN`.
    #[error("{0:?} is not a coordinate system code; use e.g. EPSG:2913")]
    Syntax(String),
    /// A code this build does not know.
    #[error("EPSG:{0} is not supported; supported: EPSG:4326 (lon/lat), {list}", list = supported_list())]
    Unsupported(u32),
}

const GRS80_INV_F: f64 = 298.257_222_101;
const WGS84_INV_F: f64 = 298.257_223_563;
const A: f64 = 6_378_137.0;
const FOOT: f64 = 0.3048;
const US_FOOT: f64 = 1200.0 / 3937.0;

/// Which datum shift to apply after the inverse projection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Datum {
    /// NAD83 or WGS84: none (PROJ's "NAD83 to WGS 84 (1)" is a null transformation).
    None,
    /// NAD83(HARN): PROJ's default "NAD83(HARN) to WGS 84 (3)" (EPSG:1901 family, CONUS onshore), a
    /// seven-parameter Helmert, coordinate-frame convention.
    Harn,
}

/// The defining parameters of one State Plane zone (Lambert Conformal Conic, two standard parallels),
/// the same for NAD83 and NAD83(HARN) and for every unit, in degrees (false eastings: see [`StatePlane`]).
#[derive(Clone, Copy, Debug)]
struct LccZone {
    lat_1: f64,
    lat_2: f64,
    lat_0: f64,
    lon_0: f64,
}

const OREGON_NORTH: LccZone =
    LccZone { lat_1: 46.0, lat_2: 44.0 + 20.0 / 60.0, lat_0: 43.0 + 40.0 / 60.0, lon_0: -120.5 };
const OREGON_SOUTH: LccZone =
    LccZone { lat_1: 44.0, lat_2: 42.0 + 20.0 / 60.0, lat_0: 41.0 + 40.0 / 60.0, lon_0: -120.5 };
const WASHINGTON_NORTH: LccZone =
    LccZone { lat_1: 48.0 + 44.0 / 60.0, lat_2: 47.5, lat_0: 47.0, lon_0: -120.0 - 50.0 / 60.0 };
const OREGON_LAMBERT: LccZone = LccZone { lat_1: 43.0, lat_2: 45.5, lat_0: 41.75, lon_0: -120.5 };
const WASHINGTON_SOUTH: LccZone =
    LccZone { lat_1: 47.0 + 20.0 / 60.0, lat_2: 45.0 + 50.0 / 60.0, lat_0: 45.0 + 20.0 / 60.0, lon_0: -120.5 };

/// One supported State Plane system: a zone in a unit on a datum. The false easting is in the system's
/// unit, as EPSG and PROJ define it for foot systems (8 202 099.738 ft is 2 500 000.000 142 m); the
/// false northing is 0 in all of them.
struct StatePlane {
    code: u32,
    name: &'static str,
    zone: LccZone,
    false_easting: f64,
    unit_m: f64,
    datum: Datum,
    /// EPSG's area of use: west, south, east, north (degrees).
    area: [f64; 4],
}

const OREGON_NORTH_AREA: [f64; 4] = [-124.17, 43.95, -116.47, 46.26];
const OREGON_SOUTH_AREA: [f64; 4] = [-124.6, 41.98, -116.9, 44.56];
const OREGON_AREA: [f64; 4] = [-124.6, 41.98, -116.47, 46.26];
const WASHINGTON_NORTH_AREA: [f64; 4] = [-124.79, 47.08, -117.02, 49.05];
const WASHINGTON_SOUTH_AREA: [f64; 4] = [-124.4, 45.54, -116.91, 47.61];

/// State Plane systems in the Pacific Northwest.
const STATE_PLANE: &[StatePlane] = &[
    StatePlane {
        code: 2913,
        name: "NAD83(HARN) / Oregon North (ft)",
        zone: OREGON_NORTH,
        false_easting: 8_202_099.738,
        unit_m: FOOT,
        datum: Datum::Harn,
        area: OREGON_NORTH_AREA,
    },
    StatePlane {
        code: 2269,
        name: "NAD83 / Oregon North (ft)",
        zone: OREGON_NORTH,
        false_easting: 8_202_099.738,
        unit_m: FOOT,
        datum: Datum::None,
        area: OREGON_NORTH_AREA,
    },
    StatePlane {
        code: 2838,
        name: "NAD83(HARN) / Oregon North",
        zone: OREGON_NORTH,
        false_easting: 2_500_000.0,
        unit_m: 1.0,
        datum: Datum::Harn,
        area: OREGON_NORTH_AREA,
    },
    StatePlane {
        code: 32126,
        name: "NAD83 / Oregon North",
        zone: OREGON_NORTH,
        false_easting: 2_500_000.0,
        unit_m: 1.0,
        datum: Datum::None,
        area: OREGON_NORTH_AREA,
    },
    StatePlane {
        code: 2914,
        name: "NAD83(HARN) / Oregon South (ft)",
        zone: OREGON_SOUTH,
        false_easting: 4_921_259.843,
        unit_m: FOOT,
        datum: Datum::Harn,
        area: OREGON_SOUTH_AREA,
    },
    StatePlane {
        code: 2285,
        name: "NAD83 / Washington North (ftUS)",
        zone: WASHINGTON_NORTH,
        false_easting: 1_640_416.667,
        unit_m: US_FOOT,
        datum: Datum::None,
        area: WASHINGTON_NORTH_AREA,
    },
    StatePlane {
        code: 2286,
        name: "NAD83 / Washington South (ftUS)",
        zone: WASHINGTON_SOUTH,
        false_easting: 1_640_416.667,
        unit_m: US_FOOT,
        datum: Datum::None,
        area: WASHINGTON_SOUTH_AREA,
    },
    StatePlane {
        code: 2926,
        name: "NAD83(HARN) / Washington North (ftUS)",
        zone: WASHINGTON_NORTH,
        false_easting: 1_640_416.667,
        unit_m: US_FOOT,
        datum: Datum::Harn,
        area: WASHINGTON_NORTH_AREA,
    },
    StatePlane {
        code: 2927,
        name: "NAD83(HARN) / Washington South (ftUS)",
        zone: WASHINGTON_SOUTH,
        false_easting: 1_640_416.667,
        unit_m: US_FOOT,
        datum: Datum::Harn,
        area: WASHINGTON_SOUTH_AREA,
    },
    StatePlane {
        code: 2992,
        name: "NAD83 / Oregon GIC Lambert (ft)",
        zone: OREGON_LAMBERT,
        false_easting: 1_312_335.958,
        unit_m: FOOT,
        datum: Datum::None,
        area: OREGON_AREA,
    },
];

fn supported_list() -> String {
    let mut codes: Vec<String> = STATE_PLANE.iter().map(|z| format!("EPSG:{} ({})", z.code, z.name)).collect();
    codes.push("EPSG:3857 (WGS 84 / Pseudo-Mercator)".to_owned());
    codes.push("EPSG:269NN NAD83 / UTM zone NN N (1-23)".to_owned());
    codes.push("EPSG:326NN / 327NN WGS 84 / UTM zone NN N / S".to_owned());
    codes.join(", ")
}

impl Crs {
    /// The system for `EPSG:NNNN` (case-insensitive; a bare number works too). `Ok(None)` for EPSG:4326 and
    /// CRS84, which need no transformation.
    ///
    /// # Examples
    /// ```
    /// let crs = leadmap::projection::Crs::parse("EPSG:2913").unwrap().unwrap();
    /// // A Portland intersection, NW Davis St & NW 1st Ave, from the 2012 police data (international feet).
    /// let (lon, lat) = crs.to_lon_lat(7_645_653.239_17, 684_826.795_6);
    /// assert!((lon - -122.6715).abs() < 0.001 && (lat - 45.5245).abs() < 0.001);
    /// ```
    pub fn parse(text: &str) -> Result<Option<Self>, CrsError> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("CRS84") || t.eq_ignore_ascii_case("OGC:CRS84") {
            return Ok(None);
        }
        let digits = t.get(..5).filter(|p| p.eq_ignore_ascii_case("EPSG:")).map_or(t, |_| &t[5..]);
        let code: u32 = digits.parse().map_err(|_| CrsError::Syntax(text.to_owned()))?;
        if code == 4326 {
            return Ok(None);
        }
        Self::from_epsg(code).map(Some)
    }

    /// The system with this EPSG code.
    pub fn from_epsg(code: u32) -> Result<Self, CrsError> {
        if let Some(sp) = STATE_PLANE.iter().find(|z| z.code == code) {
            let z = sp.zone;
            let lcc = Lcc::new(GRS80_INV_F, z.lat_1, z.lat_2, z.lat_0, z.lon_0, sp.false_easting * sp.unit_m, 0.0);
            return Ok(Self { code, projection: Projection::Lcc(lcc), unit_m: sp.unit_m, datum: sp.datum });
        }
        let utm = |zone: u32, south: bool, inv_f: f64| {
            (1..=60).contains(&zone).then(|| Self {
                code,
                projection: Projection::Tm(Tm::utm(zone, south, inv_f)),
                unit_m: 1.0,
                datum: Datum::None,
            })
        };
        let found = match code {
            3857 => Some(Self { code, projection: Projection::WebMercator, unit_m: 1.0, datum: Datum::None }),
            26901..=26923 => utm(code - 26900, false, GRS80_INV_F),
            32601..=32660 => utm(code - 32600, false, WGS84_INV_F),
            32701..=32760 => utm(code - 32700, true, WGS84_INV_F),
            _ => None,
        };
        found.ok_or(CrsError::Unsupported(code))
    }

    /// The EPSG code.
    #[must_use]
    pub fn code(&self) -> u32 {
        self.code
    }

    /// EPSG's area of use, (west, south, east, north) in degrees: where the system is meant for. A
    /// point transformed to outside it was almost certainly read in the wrong system.
    #[must_use]
    pub fn area_of_use(&self) -> [f64; 4] {
        if let Some(sp) = STATE_PLANE.iter().find(|z| z.code == self.code) {
            return sp.area;
        }
        let zone_west = |zone: u32| f64::from(zone) * 6.0 - 186.0;
        match self.code {
            26901..=26923 => [zone_west(self.code - 26900), 0.0, zone_west(self.code - 26900) + 6.0, 84.0],
            32601..=32660 => [zone_west(self.code - 32600), 0.0, zone_west(self.code - 32600) + 6.0, 84.0],
            32701..=32760 => [zone_west(self.code - 32700), -80.0, zone_west(self.code - 32700) + 6.0, 0.0],
            _ => [-180.0, -85.06, 180.0, 85.06],
        }
    }

    /// Whether (`lon`, `lat`) lies in the area of use (with a margin of 0.5°: published data reach a
    /// little past a zone's edge).
    #[must_use]
    pub fn in_area_of_use(&self, lon: f64, lat: f64) -> bool {
        let [w, s, e, n] = self.area_of_use();
        (w - 0.5..=e + 0.5).contains(&lon) && (s - 0.5..=n + 0.5).contains(&lat)
    }

    /// Every supported projected system (UTM zones 1 to 60 north and south on WGS 84, 1 to 23 on NAD83),
    /// for suggesting the right one when a point lands in the wrong place.
    #[must_use]
    pub fn all() -> Vec<Self> {
        let mut codes: Vec<u32> = STATE_PLANE.iter().map(|z| z.code).collect();
        codes.push(3857);
        codes.extend(26901..=26923);
        codes.extend(32601..=32660);
        codes.extend(32701..=32760);
        codes.into_iter().filter_map(|c| Self::from_epsg(c).ok()).collect()
    }

    /// (lon, lat) degrees of the projected point (`x` easting, `y` northing, in the system's unit).
    #[must_use]
    pub fn to_lon_lat(&self, x: f64, y: f64) -> (f64, f64) {
        let (x, y) = (x * self.unit_m, y * self.unit_m);
        let (lon, lat) = match &self.projection {
            Projection::Lcc(p) => p.inverse(x, y),
            Projection::Tm(p) => p.inverse(x, y),
            Projection::WebMercator => ((x / A).to_degrees(), (2.0 * (y / A).exp().atan() - FRAC_PI_2).to_degrees()),
        };
        match self.datum {
            Datum::None => (lon, lat),
            Datum::Harn => harn_to_wgs84(lon, lat),
        }
    }
}

/// NAD83(HARN) (lon, lat) on GRS80 at height 0 to WGS84, by PROJ's pipeline for "NAD83(HARN) to WGS 84
/// (3)": to Earth-centred Cartesian, Helmert (coordinate frame), back to geodetic on WGS84.
fn harn_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    const ARCSEC: f64 = std::f64::consts::PI / (180.0 * 3600.0);
    let (tx, ty, tz) = (-0.991, 1.9072, 0.5129);
    let (rx, ry, rz) =
        (-0.025_789_907_519_493_2 * ARCSEC, -0.009_650_098_960_270_4 * ARCSEC, -0.011_659_943_232_342_1 * ARCSEC);
    let [x, y, z] = to_cartesian(lon, lat, GRS80_INV_F);
    // Coordinate-frame rotation (the transpose of the position-vector one), scale 0.
    let xt = tx + x + rz * y - ry * z;
    let yt = ty - rz * x + y + rx * z;
    let zt = tz + ry * x - rx * y + z;
    from_cartesian([xt, yt, zt], WGS84_INV_F)
}

/// Earth-centred Cartesian metres of (lon, lat) degrees at height 0.
fn to_cartesian(lon: f64, lat: f64, inv_f: f64) -> [f64; 3] {
    let f = 1.0 / inv_f;
    let e2 = f * (2.0 - f);
    let (phi, lam) = (lat.to_radians(), lon.to_radians());
    let n = A / (1.0 - e2 * phi.sin().powi(2)).sqrt();
    [n * phi.cos() * lam.cos(), n * phi.cos() * lam.sin(), n * (1.0 - e2) * phi.sin()]
}

/// (lon, lat) degrees of an Earth-centred Cartesian point (height dropped), iterated to convergence.
fn from_cartesian([x, y, z]: [f64; 3], inv_f: f64) -> (f64, f64) {
    let f = 1.0 / inv_f;
    let e2 = f * (2.0 - f);
    let p = x.hypot(y);
    let mut phi = z.atan2(p * (1.0 - e2));
    for _ in 0..10 {
        let n = A / (1.0 - e2 * phi.sin().powi(2)).sqrt();
        let h = p / phi.cos() - n;
        let next = z.atan2(p * (1.0 - e2 * n / (n + h)));
        let done = (next - phi).abs() < 1e-15;
        phi = next;
        if done {
            break;
        }
    }
    (y.atan2(x).to_degrees(), phi.to_degrees())
}

/// Lambert Conformal Conic with two standard parallels, on an ellipsoid.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Lcc {
    e: f64,
    n: f64,
    af: f64,
    rho_0: f64,
    lon_0: f64,
    x_0: f64,
    y_0: f64,
}

impl Lcc {
    fn new(inv_f: f64, lat_1: f64, lat_2: f64, lat_0: f64, lon_0: f64, x_0: f64, y_0: f64) -> Self {
        let f = 1.0 / inv_f;
        let e = (f * (2.0 - f)).sqrt();
        let m = |phi: f64| phi.cos() / (1.0 - (e * phi.sin()).powi(2)).sqrt();
        let t = |phi: f64| {
            let es = e * phi.sin();
            (FRAC_PI_4 - phi / 2.0).tan() / ((1.0 - es) / (1.0 + es)).powf(e / 2.0)
        };
        let (p1, p2, p0) = (lat_1.to_radians(), lat_2.to_radians(), lat_0.to_radians());
        let n = (m(p1).ln() - m(p2).ln()) / (t(p1).ln() - t(p2).ln());
        let af = A * m(p1) / (n * t(p1).powf(n));
        Self { e, n, af, rho_0: af * t(p0).powf(n), lon_0: lon_0.to_radians(), x_0, y_0 }
    }

    fn inverse(&self, x: f64, y: f64) -> (f64, f64) {
        let (dx, dy) = (x - self.x_0, self.rho_0 - (y - self.y_0));
        let s = self.n.signum();
        let rho = s * dx.hypot(dy);
        let t = (rho / self.af).powf(1.0 / self.n);
        let theta = (s * dx).atan2(s * dy);
        let lon = theta / self.n + self.lon_0;
        let e = self.e;
        let mut phi = FRAC_PI_2 - 2.0 * t.atan();
        for _ in 0..15 {
            let es = e * phi.sin();
            let next = FRAC_PI_2 - 2.0 * (t * ((1.0 - es) / (1.0 + es)).powf(e / 2.0)).atan();
            let done = (next - phi).abs() < 1e-14;
            phi = next;
            if done {
                break;
            }
        }
        (lon.to_degrees(), phi.to_degrees())
    }
}

/// Transverse Mercator by Krüger's series (fourth order in the third flattening).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Tm {
    k0_a: f64,
    beta: [f64; 4],
    delta: [f64; 4],
    lon_0: f64,
    x_0: f64,
    y_0: f64,
}

impl Tm {
    fn utm(zone: u32, south: bool, inv_f: f64) -> Self {
        let f = 1.0 / inv_f;
        let n = f / (2.0 - f);
        let (n2, n3, n4) = (n * n, n * n * n, n * n * n * n);
        let rectifying = A / (1.0 + n) * (1.0 + n2 / 4.0 + n4 / 64.0);
        Self {
            k0_a: 0.9996 * rectifying,
            beta: [
                n / 2.0 - 2.0 * n2 / 3.0 + 37.0 * n3 / 96.0 - n4 / 360.0,
                n2 / 48.0 + n3 / 15.0 - 437.0 * n4 / 1440.0,
                17.0 * n3 / 480.0 - 37.0 * n4 / 840.0,
                4397.0 * n4 / 161_280.0,
            ],
            delta: [
                2.0 * n - 2.0 * n2 / 3.0 - 2.0 * n3 + 116.0 * n4 / 45.0,
                7.0 * n2 / 3.0 - 8.0 * n3 / 5.0 - 227.0 * n4 / 45.0,
                56.0 * n3 / 15.0 - 136.0 * n4 / 35.0,
                4279.0 * n4 / 630.0,
            ],
            lon_0: (f64::from(zone) * 6.0 - 183.0).to_radians(),
            x_0: 500_000.0,
            y_0: if south { 10_000_000.0 } else { 0.0 },
        }
    }

    fn inverse(&self, x: f64, y: f64) -> (f64, f64) {
        let xi = (y - self.y_0) / self.k0_a;
        let eta = (x - self.x_0) / self.k0_a;
        let (mut xi_p, mut eta_p) = (xi, eta);
        for (j, b) in self.beta.iter().enumerate() {
            let k = 2.0 * (j as f64 + 1.0);
            xi_p -= b * (k * xi).sin() * (k * eta).cosh();
            eta_p -= b * (k * xi).cos() * (k * eta).sinh();
        }
        let chi = (xi_p.sin() / eta_p.cosh()).asin();
        let lon = self.lon_0 + eta_p.sinh().atan2(xi_p.cos());
        let mut lat = chi;
        for (j, d) in self.delta.iter().enumerate() {
            lat += d * (2.0 * (j as f64 + 1.0) * chi).sin();
        }
        (lon.to_degrees(), lat.to_degrees())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_of_use_catch_a_point_read_in_the_wrong_system() {
        let sp = Crs::from_epsg(2913).unwrap();
        let (lon, lat) = sp.to_lon_lat(7_645_653.239_17, 684_826.795_6);
        assert!(sp.in_area_of_use(lon, lat));
        let south = Crs::from_epsg(2914).unwrap();
        let (lon, lat) = south.to_lon_lat(7_645_653.239_17, 684_826.795_6);
        assert!(!south.in_area_of_use(lon, lat), "{lon} {lat}");
        assert_eq!(Crs::from_epsg(32610).unwrap().area_of_use(), [-126.0, 0.0, -120.0, 84.0]);
        assert_eq!(Crs::from_epsg(32733).unwrap().area_of_use(), [12.0, -80.0, 18.0, 0.0]);
        assert!(Crs::all().len() > 150);
    }

    #[test]
    fn codes_parse_and_unknown_ones_are_named() {
        assert_eq!(Crs::parse("epsg:2913").unwrap().unwrap().code(), 2913);
        assert_eq!(Crs::parse("2913").unwrap().unwrap().code(), 2913);
        assert!(Crs::parse("EPSG:4326").unwrap().is_none());
        assert!(Crs::parse("CRS84").unwrap().is_none());
        assert_eq!(Crs::parse("EPSG:32610").unwrap().unwrap().code(), 32610);
        assert_eq!(Crs::parse("EPSG:3857").unwrap().unwrap().code(), 3857);
        assert_eq!(Crs::parse("EPSG:2992").unwrap().unwrap().code(), 2992);
        assert!(matches!(Crs::parse("EPSG:3395"), Err(CrsError::Unsupported(3395))));
        assert!(Crs::parse("EPSG:3395").unwrap_err().to_string().contains("EPSG:2913"));
        assert!(matches!(Crs::parse("Oregon North"), Err(CrsError::Syntax(_))));
    }

    #[test]
    fn origins_map_to_the_projection_centres() {
        let (lon, lat) = Crs::from_epsg(2269).unwrap().to_lon_lat(8_202_099.738, 0.0);
        assert!((lon + 120.5).abs() < 1e-12 && (lat - (43.0 + 40.0 / 60.0)).abs() < 1e-12, "{lon} {lat}");
        let (lon, lat) = Crs::from_epsg(32610).unwrap().to_lon_lat(500_000.0, 0.0);
        assert!((lon + 123.0).abs() < 1e-12 && lat.abs() < 1e-12, "{lon} {lat}");
    }
}
