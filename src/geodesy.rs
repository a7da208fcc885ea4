//! Metres on the WGS84 ellipsoid near a point: the local scale that turns (lon, lat) degree differences into
//! metres, and point-to-segment distances built on it. Owns no geometry of its own.
//!
//! Zone edges are straight lines in lon/lat (as in GeoJSON and GEOS). A distance from a point to an edge is
//! measured in the tangent plane at the point, scaled by the ellipsoid's meridional and prime-vertical radii
//! at the point's latitude. Within a few kilometres this agrees with the geodesic distance to better than
//! 1 part in 10 000 (a few millimetres at the 25 m borderline distance); tests check it against pyproj.

use std::f64::consts::PI;

/// WGS84 semi-major axis, metres.
const WGS84_A: f64 = 6_378_137.0;
/// WGS84 flattening.
const WGS84_F: f64 = 1.0 / 298.257_223_563;

/// Metres per degree of longitude and of latitude at one latitude.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalScale {
    /// Metres per degree of longitude (east-west) at this latitude.
    pub m_per_deg_lon: f64,
    /// Metres per degree of latitude (north-south) at this latitude.
    pub m_per_deg_lat: f64,
}

impl LocalScale {
    /// The scale at `lat` degrees on the WGS84 ellipsoid.
    ///
    /// # Examples
    /// ```
    /// let s = leadmap::geodesy::LocalScale::at_lat(45.52);
    /// assert!((s.m_per_deg_lat - 111_141.9).abs() < 0.1);
    /// assert!((s.m_per_deg_lon - 78_130.4).abs() < 0.1);
    /// ```
    #[must_use]
    pub fn at_lat(lat: f64) -> Self {
        let e2 = WGS84_F * (2.0 - WGS84_F);
        let phi = lat.to_radians();
        let s = phi.sin();
        let w = (1.0 - e2 * s * s).sqrt();
        let prime_vertical = WGS84_A / w;
        let meridional = WGS84_A * (1.0 - e2) / (w * w * w);
        Self { m_per_deg_lon: prime_vertical * phi.cos() * PI / 180.0, m_per_deg_lat: meridional * PI / 180.0 }
    }

    /// Offset of `to` from `from`, both (lon, lat) degrees, in metres (east, north) at this scale.
    #[inline]
    #[must_use]
    pub fn offset_m(&self, from: [f64; 2], to: [f64; 2]) -> [f64; 2] {
        [(to[0] - from[0]) * self.m_per_deg_lon, (to[1] - from[1]) * self.m_per_deg_lat]
    }
}

/// Distance in metres from point `p` to the segment `a`–`b`, all (lon, lat) degrees, measured in the
/// tangent plane at `p` (see the module docs for the accuracy).
#[inline]
#[must_use]
pub fn point_segment_distance_m(p: [f64; 2], a: [f64; 2], b: [f64; 2], scale: LocalScale) -> f64 {
    let a = scale.offset_m(p, a);
    let b = scale.offset_m(p, b);
    distance_origin_to_segment(a, b)
}

/// Distance from the origin to the segment `a`–`b` in a plane.
#[inline]
#[must_use]
pub fn distance_origin_to_segment(a: [f64; 2], b: [f64; 2]) -> f64 {
    let d = [b[0] - a[0], b[1] - a[1]];
    let len2 = d[0] * d[0] + d[1] * d[1];
    let t = if len2 > 0.0 { (-(a[0] * d[0] + a[1] * d[1]) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let c = [a[0] + t * d[0], a[1] + t * d[1]];
    // Plain square root: metre-scale values cannot overflow, and `hypot` costs several times more.
    (c[0] * c[0] + c[1] * c[1]).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_matches_known_values_at_equator_and_pole_side() {
        let eq = LocalScale::at_lat(0.0);
        assert!((eq.m_per_deg_lon - 111_319.49).abs() < 0.01);
        assert!((eq.m_per_deg_lat - 110_574.28).abs() < 0.01);
        let high = LocalScale::at_lat(89.9);
        assert!(high.m_per_deg_lon < 200.0);
    }

    #[test]
    fn distance_to_segment_uses_the_nearest_point() {
        // Perpendicular foot inside the segment.
        assert!((distance_origin_to_segment([-1.0, 2.0], [1.0, 2.0]) - 2.0).abs() < 1e-12);
        // Nearest point is an end point.
        assert!((distance_origin_to_segment([3.0, 4.0], [6.0, 8.0]) - 5.0).abs() < 1e-12);
        // Degenerate segment.
        assert!((distance_origin_to_segment([3.0, 4.0], [3.0, 4.0]) - 5.0).abs() < 1e-12);
    }

    #[test]
    fn metre_distance_east_of_a_meridian_segment() {
        let s = LocalScale::at_lat(45.5);
        let p = [-122.67, 45.5];
        let d = point_segment_distance_m(p, [-122.68, 45.4], [-122.68, 45.6], s);
        assert!((d - 0.01 * s.m_per_deg_lon).abs() < 1e-9);
    }
}
