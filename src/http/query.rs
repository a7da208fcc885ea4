//! Query-parameter checks the routes share: no parameter a route does not take, and the `at` date.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::error::ApiError;

/// Parses the optional `at` date (`YYYY-MM-DD`); without one, `today` (the program's day, in its time
/// zone).
pub(super) fn date_param(q: &BTreeMap<String, String>, today: NaiveDate) -> Result<NaiveDate, ApiError> {
    at_param(q.get("at").map(String::as_str), today)
}

/// [`date_param`] for a query read into a struct: the `at` value, if given.
pub(super) fn at_param(raw: Option<&str>, today: NaiveDate) -> Result<NaiveDate, ApiError> {
    match raw {
        None => Ok(today),
        Some(raw) => crate::events::filter::parse_date(raw).map_err(|e| ApiError::bad_request(format!("at {e}"))),
    }
}

/// Refuses query parameters other than `allowed`.
pub(super) fn only_params(q: &BTreeMap<String, String>, allowed: &[&str]) -> Result<(), ApiError> {
    match q.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError::bad_request(format!(
            "unknown query parameter {k:?}; this endpoint takes {}",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_date_is_read_exactly_and_defaults_to_today() {
        let today = NaiveDate::from_ymd_opt(2019, 6, 1).unwrap();
        assert_eq!(date_param(&query(&[]), today).unwrap(), today);
        let at = date_param(&query(&[("at", "2018-05-16")]), today).unwrap();
        assert_eq!(at, NaiveDate::from_ymd_opt(2018, 5, 16).unwrap());
        for bad in ["2018-5-16", "16/05/2018", "2018-02-30", ""] {
            let e = date_param(&query(&[("at", bad)]), today).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{bad:?}");
        }
    }

    #[test]
    fn a_parameter_the_route_does_not_take_is_named() {
        assert!(only_params(&query(&[("lon", "1"), ("lat", "2")]), &["lon", "lat", "at"]).is_ok());
        let e = only_params(&query(&[("lon", "1"), ("lng", "2")]), &["lon", "lat", "at"]).unwrap_err();
        assert!(e.detail.contains("\"lng\""), "{}", e.detail);
    }
}
