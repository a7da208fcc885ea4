//! Query parameters as typed structs: the [`Query`] extractor reads a route's parameters into its
//! struct, and the struct's `IntoParams` description is both the route's OpenAPI parameters and the list
//! of names it takes (any other name, or a name given twice, is refused naming it). Also the shared
//! parameter sets ([`AtParams`], [`DateParams`]) and the parsers of dates, windows, kinds and event
//! filters.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::NaiveDate;

use crate::cells::columns::EventFilter;
use crate::events::EventKind;
use crate::events::filter::FilterText;
use crate::figures::period::Period;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};

use super::error::ApiError;

/// A route's query parameters: what it reads ([`serde::Deserialize`]) and what it documents
/// ([`IntoParams`], in order, the parameter sets it flattens first).
pub(super) trait RouteQuery: DeserializeOwned {
    /// Every query parameter the route takes, as its OpenAPI description.
    fn parameters() -> Vec<Parameter>;

    /// The parameters' names, in order (made once per type: read on every request).
    fn names() -> &'static [String];
}

/// Implements [`RouteQuery`] for a struct deriving `Deserialize` and `IntoParams`, after the parameter
/// sets it holds with `#[serde(flatten)]` (which its own `IntoParams` skips with `#[param(ignore)]`).
macro_rules! route_query {
    ($t:ty $(, $part:ty)*) => {
        impl $crate::http::query::RouteQuery for $t {
            fn parameters() -> Vec<utoipa::openapi::path::Parameter> {
                let mut all = Vec::new();
                $( all.extend($crate::http::query::query_parameters::<$part>()); )*
                all.extend($crate::http::query::query_parameters::<$t>());
                all
            }

            fn names() -> &'static [String] {
                static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
                NAMES.get_or_init(|| Self::parameters().into_iter().map(|p| p.name).collect())
            }
        }
    };
}
pub(super) use route_query;

/// The query parameters `T` describes.
pub(super) fn query_parameters<T: IntoParams>() -> Vec<Parameter> {
    T::into_params(|| Some(ParameterIn::Query))
}

/// Reads the query into `T`, refusing (`400`, naming it) a parameter `T` does not describe or one given
/// twice, and a value that does not fit.
#[derive(Debug)]
pub(super) struct Query<T>(pub T);

impl<S: Send + Sync, T: RouteQuery> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        read_query(&parts.uri).map(Self)
    }
}

/// The query of `uri` read into `T` (see [`Query`]).
pub(super) fn read_query<T: RouteQuery>(uri: &axum::http::Uri) -> Result<T, ApiError> {
    let raw = uri.query().unwrap_or_default();
    let names = T::names();
    // Which names were given, by their place in `names` (no route takes 128 parameters).
    let mut seen = 0u128;
    for (name, _) in form_urlencoded::parse(raw.as_bytes()) {
        let Some(at) = names.iter().position(|n| *n == name) else {
            return Err(unknown_param(&name, names));
        };
        let bit = 1u128.checked_shl(u32::try_from(at).unwrap_or(u32::MAX)).unwrap_or(0);
        if seen & bit != 0 {
            return Err(repeated_param(&name));
        }
        seen |= bit;
    }
    axum::extract::Query::<T>::try_from_uri(uri).map(|q| q.0).map_err(ApiError::from)
}

/// The problem for a query parameter `name` a route does not take (`takes`, its parameters).
pub(super) fn unknown_param(name: &str, takes: &[impl AsRef<str>]) -> ApiError {
    let takes: Vec<&str> = takes.iter().map(AsRef::as_ref).collect();
    ApiError::bad_request(format!(
        "unknown query parameter {name:?}; this endpoint takes {}",
        if takes.is_empty() { "none".to_owned() } else { takes.join(", ") }
    ))
}

/// The problem for a query parameter given more than once (order would decide which counts).
pub(super) fn repeated_param(name: &str) -> ApiError {
    ApiError::bad_request(format!("query parameter {name:?} is given more than once"))
}

/// No query parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct NoParams {}
route_query!(NoParams);

/// The day whose zone and rule sets answer.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct AtParams {
    /// Date whose zone and rule sets apply, YYYY-MM-DD; default today (the program's day in its time
    /// zone)
    #[param(format = Date)]
    pub at: Option<String>,
}
route_query!(AtParams);

/// A window of days: a fixed period, or a first and a last day.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct DateParams {
    /// A fixed period: 2019-06 (a month), 2019-Q2, 2019, or all; planners ask for fixed periods only
    /// (this, or from and to a whole period's first and last day)
    pub period: Option<String>,
    /// First day, YYYY-MM-DD
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD
    #[param(format = Date)]
    pub to: Option<String>,
}

/// Parses the optional `at` date (`YYYY-MM-DD`); without one, `today` (the program's day, in its time
/// zone).
pub(super) fn at_param(raw: Option<&str>, today: NaiveDate) -> Result<NaiveDate, ApiError> {
    Ok(date("at", raw)?.unwrap_or(today))
}

/// The date parameter `name`, if given (`YYYY-MM-DD`, as [`crate::events::filter::parse_date`] reads it).
pub(super) fn date(name: &str, raw: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    raw.map(|v| crate::events::filter::parse_date(v).map_err(|e| ApiError::bad_request(format!("{name} {e}"))))
        .transpose()
}

/// The window a [`DateParams`] gives (planners: a whole fixed period), checked.
pub(super) fn window_dates(d: &DateParams, planner: bool) -> Result<(Option<NaiveDate>, Option<NaiveDate>), ApiError> {
    let (mut from, mut to) = (date("from", d.from.as_deref())?, date("to", d.to.as_deref())?);
    if let Some(p) = &d.period {
        if from.is_some() || to.is_some() {
            return Err(ApiError::bad_request(format!("period {p:?} and from/to: give one or the other")));
        }
        (from, to) = p.parse::<Period>().map_err(|e| ApiError::bad_request(e.to_string()))?.bounds().unzip();
    }
    if planner {
        Period::from_window(from, to).map_err(|e| ApiError::bad_request(e.to_string()))?;
    }
    Ok((from, to))
}

/// The yes/no parameter `name` (`true` or `false`; absent is `false`).
pub(super) fn flag(name: &str, raw: Option<&str>) -> Result<bool, ApiError> {
    match raw {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(v) => Err(ApiError::bad_request(format!("{name} {v:?}: use true or false"))),
    }
}

/// The event kind parameter, if given.
pub(super) fn kind(raw: Option<&str>) -> Result<Option<EventKind>, ApiError> {
    raw.map(str::parse).transpose().map_err(ApiError::bad_request)
}

/// The event filter `text` gives, checked (a backwards window is refused).
pub(super) fn event_filter(text: FilterText<'_>) -> Result<EventFilter, ApiError> {
    EventFilter::parse(text).map_err(|e| ApiError::bad_request(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<T: RouteQuery>(query: &str) -> Result<T, ApiError> {
        read_query(&format!("/v1/x?{query}").parse().unwrap())
    }

    #[derive(Debug, Deserialize, IntoParams)]
    #[into_params(parameter_in = Query)]
    struct Both {
        #[serde(flatten)]
        #[param(ignore)]
        dates: DateParams,
        /// A zone
        zone: Option<String>,
    }
    route_query!(Both, DateParams);

    #[test]
    fn the_date_is_read_exactly_and_defaults_to_today() {
        let today = NaiveDate::from_ymd_opt(2019, 6, 1).unwrap();
        assert_eq!(at_param(None, today).unwrap(), today);
        let at = at_param(Some("2018-05-16"), today).unwrap();
        assert_eq!(at, NaiveDate::from_ymd_opt(2018, 5, 16).unwrap());
        for bad in ["2018-5-16", "16/05/2018", "2018-02-30", ""] {
            let e = at_param(Some(bad), today).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{bad:?}");
            assert!(e.detail.starts_with("at "), "{}", e.detail);
        }
    }

    #[test]
    fn the_names_taken_are_the_names_described_flattened_sets_first() {
        assert_eq!(Both::names(), ["period", "from", "to", "zone"]);
        assert_eq!(AtParams::names(), ["at"]);
        assert!(NoParams::names().is_empty());
        let q: Both = read("zone=old-town&from=2019-01-01&period=").unwrap();
        assert_eq!(
            (q.dates.from.as_deref(), q.dates.period.as_deref(), q.dates.to),
            (Some("2019-01-01"), Some(""), None)
        );
        assert_eq!(q.zone.as_deref(), Some("old-town"));
        // Percent-decoded once: `%26` is part of the value, not a new parameter.
        let q: Both = read("zone=a%26to%3D2019").unwrap();
        assert_eq!((q.zone.as_deref(), q.dates.to), (Some("a&to=2019"), None));
    }

    #[test]
    fn a_parameter_the_route_does_not_take_or_given_twice_is_named() {
        let e = read::<Both>("zone=x&lng=2").unwrap_err();
        assert!(
            e.detail.contains("unknown query parameter \"lng\"; this endpoint takes period, from, to, zone"),
            "{}",
            e.detail
        );
        let e = read::<Both>("from=2019-01-01&from=2019-02-01").unwrap_err();
        assert!(e.detail.contains("\"from\" is given more than once"), "{}", e.detail);
        let e = read::<NoParams>("x=1").unwrap_err();
        assert!(e.detail.contains("takes none"), "{}", e.detail);
        assert!(read::<NoParams>("").is_ok());
    }
}
