//! The point of a feature, read one way for every input that takes points: a GeoJSON `geometry` object
//! (event files, point files, request bodies, landmarks) or a FlatGeobuf feature. Coordinates come out
//! in the file's order, x (lon) then y (lat); range checks are the caller's (`LonLat::new`).

use serde_json::Value;

/// Why a feature has no usable point.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PointGeometryError {
    /// `geometry` is `null` or absent.
    #[error("no coordinates (the geometry is null)")]
    Null,
    /// `geometry` is an object without a `type`.
    #[error("geometry has no type")]
    NoType,
    /// Another geometry type (a `LineString` or `MultiPoint` whose positions happen to read as a pair is not
    /// a location).
    #[error("geometry is a {0}, not a Point")]
    NotPoint(String),
    /// A Point without a position of at least two elements.
    #[error("a Point needs [lon, lat] coordinates")]
    NoPosition,
    /// A position whose first two elements are not both numbers.
    #[error("coordinates are not numbers")]
    NotNumbers,
    /// A FlatGeobuf feature whose geometry cannot be decoded.
    #[error("no coordinates ({0})")]
    Undecodable(String),
}

/// The (x, y) = (lon, lat) of a GeoJSON Point geometry object; a third (elevation) element is ignored.
///
/// # Examples
/// ```
/// use leadmap::formats::geometry::{point_xy, PointGeometryError};
/// let g = serde_json::json!({"type": "Point", "coordinates": [-122.68, 45.52, 12.0]});
/// assert_eq!(point_xy(&g), Ok((-122.68, 45.52)));
/// let line = serde_json::json!({"type": "LineString", "coordinates": [[0, 0], [1, 1]]});
/// assert_eq!(point_xy(&line), Err(PointGeometryError::NotPoint("LineString".into())));
/// assert_eq!(point_xy(&serde_json::Value::Null), Err(PointGeometryError::Null));
/// ```
pub fn point_xy(geometry: &Value) -> Result<(f64, f64), PointGeometryError> {
    match geometry.get("type").and_then(Value::as_str) {
        Some("Point") => {}
        Some(other) => return Err(PointGeometryError::NotPoint(other.to_owned())),
        None if geometry.is_null() => return Err(PointGeometryError::Null),
        None => return Err(PointGeometryError::NoType),
    }
    match geometry.get("coordinates").and_then(Value::as_array).map(Vec::as_slice) {
        Some([x, y, ..]) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => Ok((x, y)),
            _ => Err(PointGeometryError::NotNumbers),
        },
        _ => Err(PointGeometryError::NoPosition),
    }
}

/// The (x, y) of a GeoJSON Feature's Point geometry ([`point_xy`] of its `geometry` member).
pub fn feature_xy(feature: &Value) -> Result<(f64, f64), PointGeometryError> {
    point_xy(feature.get("geometry").unwrap_or(&Value::Null))
}

/// The (x, y) of a FlatGeobuf feature's Point (or a `MultiPoint` of one point, as some writers store
/// points).
pub(super) fn fgb_point_xy<T: geozero::ToGeo + ?Sized>(feature: &T) -> Result<(f64, f64), PointGeometryError> {
    match feature.to_geo() {
        Ok(geo::Geometry::Point(p)) => Ok((p.x(), p.y())),
        Ok(geo::Geometry::MultiPoint(mp)) if mp.0.len() == 1 => Ok((mp.0[0].x(), mp.0[0].y())),
        Ok(g) => Err(PointGeometryError::NotPoint(geometry_name(&g).to_owned())),
        Err(e) => Err(PointGeometryError::Undecodable(e.to_string())),
    }
}

/// The GeoJSON name of a geometry's type.
fn geometry_name(g: &geo::Geometry<f64>) -> &'static str {
    match g {
        geo::Geometry::Point(_) => "Point",
        geo::Geometry::Line(_) | geo::Geometry::LineString(_) => "LineString",
        geo::Geometry::Polygon(_) | geo::Geometry::Rect(_) | geo::Geometry::Triangle(_) => "Polygon",
        geo::Geometry::MultiPoint(_) => "MultiPoint",
        geo::Geometry::MultiLineString(_) => "MultiLineString",
        geo::Geometry::MultiPolygon(_) => "MultiPolygon",
        geo::Geometry::GeometryCollection(_) => "GeometryCollection",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_point_and_names_what_is_wrong_with_anything_else() {
        assert_eq!(point_xy(&json!({"type": "Point", "coordinates": [1.5, -2]})), Ok((1.5, -2.0)));
        assert_eq!(point_xy(&json!({"coordinates": [1, 2]})), Err(PointGeometryError::NoType));
        assert_eq!(point_xy(&json!({"type": "Point", "coordinates": [1]})), Err(PointGeometryError::NoPosition));
        assert_eq!(point_xy(&json!({"type": "Point"})), Err(PointGeometryError::NoPosition));
        assert_eq!(point_xy(&json!({"type": "Point", "coordinates": ["1", 2]})), Err(PointGeometryError::NotNumbers));
        assert_eq!(
            point_xy(&json!({"type": "MultiPoint", "coordinates": [[1, 2]]})),
            Err(PointGeometryError::NotPoint("MultiPoint".into()))
        );
        assert_eq!(feature_xy(&json!({"type": "Feature", "properties": {}})), Err(PointGeometryError::Null));
        assert_eq!(
            feature_xy(&json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [3, 4]}})),
            Ok((3.0, 4.0))
        );
    }
}
