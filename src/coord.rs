//! A validated WGS84 point in (lon, lat) order, and the error that says what is wrong with a bad one,
//! including a hint when the two values look swapped. Every coordinate that enters leadmap from a user
//! (command line, CSV, later HTTP) goes through [`LonLat::new`].

use std::fmt;

/// A point in WGS84 degrees: `lon` in -180..=180 (x), `lat` in -90..=90 (y).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LonLat {
    lon: f64,
    lat: f64,
}

impl LonLat {
    /// Validates a (lon, lat) pair.
    ///
    /// # Examples
    /// ```
    /// use leadmap::coord::LonLat;
    /// assert!(LonLat::new(-122.6793, 45.5189).is_ok());
    /// let err = LonLat::new(45.5189, -122.6793).unwrap_err();
    /// assert!(err.to_string().contains("swap lon and lat"));
    /// ```
    pub fn new(lon: f64, lat: f64) -> Result<Self, CoordError> {
        if !lon.is_finite() || !lat.is_finite() {
            return Err(CoordError::NotFinite { lon, lat });
        }
        let lon_ok = (-180.0..=180.0).contains(&lon);
        let lat_ok = (-90.0..=90.0).contains(&lat);
        if lon_ok && lat_ok {
            return Ok(Self { lon, lat });
        }
        let swapped_ok = (-90.0..=90.0).contains(&lon) && (-180.0..=180.0).contains(&lat);
        if swapped_ok {
            Err(CoordError::LooksSwapped { lon, lat })
        } else if lon_ok {
            Err(CoordError::LatOutOfRange { lat })
        } else {
            Err(CoordError::LonOutOfRange { lon })
        }
    }

    /// Longitude, degrees east (x).
    #[must_use]
    pub fn lon(self) -> f64 {
        self.lon
    }

    /// Latitude, degrees north (y).
    #[must_use]
    pub fn lat(self) -> f64 {
        self.lat
    }
}

impl fmt::Display for LonLat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lon {} lat {}", self.lon, self.lat)
    }
}

/// Why a (lon, lat) pair was refused.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
pub enum CoordError {
    /// A value is NaN or infinite.
    #[error("lon {lon}, lat {lat}: coordinates must be finite numbers")]
    NotFinite {
        /// As given.
        lon: f64,
        /// As given.
        lat: f64,
    },
    /// Latitude outside -90..90 with a longitude that could be a latitude: the caller swapped them.
    #[error(
        "lat {lat} is outside -90..90 and lon {lon} would be a valid latitude: did you swap lon and lat? Coordinates are lon first, then lat (e.g. -122.6793 45.5189)"
    )]
    LooksSwapped {
        /// As given.
        lon: f64,
        /// As given.
        lat: f64,
    },
    /// Latitude outside -90..90.
    #[error("lat {lat} is outside -90..90")]
    LatOutOfRange {
        /// As given.
        lat: f64,
    },
    /// Longitude outside -180..180 (projected coordinates such as State Plane feet end up here).
    #[error("lon {lon} is outside -180..180: leadmap expects WGS84 degrees, not projected coordinates")]
    LonOutOfRange {
        /// As given.
        lon: f64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explains_each_kind_of_bad_pair() {
        assert!(matches!(LonLat::new(45.5, -122.6), Err(CoordError::LooksSwapped { .. })));
        assert!(matches!(LonLat::new(10.0, 200.0), Err(CoordError::LatOutOfRange { .. })));
        assert!(matches!(LonLat::new(7_645_653.0, 684_826.0), Err(CoordError::LonOutOfRange { .. })));
        assert!(matches!(LonLat::new(f64::NAN, 1.0), Err(CoordError::NotFinite { .. })));
        assert_eq!(LonLat::new(-180.0, 90.0).unwrap().lat(), 90.0);
    }
}
