//! Which events a figure, impact or listing counts ([`EventFilter`]), and the one reader of a filter as
//! people write it, on the command line or in a query string: dates exactly `YYYY-MM-DD`, offense codes,
//! race/ethnicity keys and `outside` for "in no zone" normalised as they are stored.

use chrono::NaiveDate;

use super::EventKind;

/// Which events an aggregate counts. Names are matched as stored; an unknown name matches nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// First day included.
    pub from: Option<NaiveDate>,
    /// Last day included.
    pub to: Option<NaiveDate>,
    /// Only this kind.
    pub kind: Option<EventKind>,
    /// Only this offense (`PCS`, `SQ`, `CDO`, or the source's text).
    pub offense: Option<String>,
    /// Only this zone (`Some(None)`: outside every zone).
    pub zone: Option<Option<String>>,
    /// Only this race/ethnicity group.
    pub group: Option<String>,
    /// Only this source.
    pub source: Option<String>,
}

/// A filter as written: the values of `--from`/`from=`, `--offense`/`offense=` and so on, before they
/// are normalised.
#[derive(Clone, Copy, Debug, Default)]
pub struct FilterText<'a> {
    /// First day included.
    pub from: Option<NaiveDate>,
    /// Last day included.
    pub to: Option<NaiveDate>,
    /// Only this kind.
    pub kind: Option<EventKind>,
    /// An offense code or the source's own text (`pcs` reads as `PCS`).
    pub offense: Option<&'a str>,
    /// A zone id, or `outside`.
    pub zone: Option<&'a str>,
    /// A race/ethnicity group as people write it (`Hispanic/Latino`, `black`).
    pub group: Option<&'a str>,
    /// A data source, as stored.
    pub source: Option<&'a str>,
}

/// Why a written filter cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The window ends before it starts.
    #[error("from {from} is after to {to}")]
    FromAfterTo {
        /// First day.
        from: NaiveDate,
        /// Last day.
        to: NaiveDate,
    },
}

impl EventFilter {
    /// The filter `text` writes, names normalised as stored.
    ///
    /// # Errors
    /// `from` is after `to`.
    ///
    /// # Examples
    /// ```
    /// use leadmap::events::filter::{EventFilter, FilterText};
    /// let f = EventFilter::parse(FilterText { offense: Some("pcs"), zone: Some("outside"), group: Some("Hispanic/Latino"), ..FilterText::default() }).unwrap();
    /// assert_eq!((f.offense.as_deref(), f.zone, f.group.as_deref()), (Some("PCS"), Some(None), Some("hispanic_latino")));
    /// ```
    pub fn parse(text: FilterText<'_>) -> Result<Self, FilterError> {
        if let (Some(from), Some(to)) = (text.from, text.to)
            && from > to
        {
            return Err(FilterError::FromAfterTo { from, to });
        }
        Ok(Self {
            from: text.from,
            to: text.to,
            kind: text.kind,
            offense: text.offense.map(|o| super::Offense::parse(o).as_str().to_owned()),
            zone: text.zone.map(zone_filter),
            group: text.group.map(super::group_key),
            source: text.source.map(str::to_owned),
        })
    }
}

/// A zone filter as people write it: a zone id, or `outside` for events in no zone (`None`).
#[must_use]
pub fn zone_filter(text: &str) -> Option<String> {
    (text != "outside").then(|| text.to_owned())
}

/// A date written as a parameter is not `YYYY-MM-DD`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a date: use YYYY-MM-DD, e.g. 2018-06-01")]
pub struct DateError {
    /// As written.
    pub text: String,
}

/// A date parameter (`--at`, `--from`, `at=`, `to=`, …), written exactly `YYYY-MM-DD`: the one reader
/// of dates the CLI and the HTTP API take.
///
/// # Errors
/// Anything else (`2019-5-1`, `05/01/2019`, a time, a five-digit year).
///
/// # Examples
/// ```
/// use leadmap::events::filter::parse_date;
/// assert_eq!(parse_date("2019-05-01").unwrap().to_string(), "2019-05-01");
/// assert!(parse_date("2019-5-1").unwrap_err().to_string().contains("use YYYY-MM-DD"));
/// ```
pub fn parse_date(text: &str) -> Result<NaiveDate, DateError> {
    super::checks::parse_iso_date(text).ok_or_else(|| DateError { text: text.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_filter_reads_as_the_stored_names() {
        let d = |s| parse_date(s).unwrap();
        let f = EventFilter::parse(FilterText {
            from: Some(d("2019-01-01")),
            to: Some(d("2019-12-31")),
            kind: Some(EventKind::Arrest),
            offense: Some(" sq "),
            zone: Some("old-town"),
            group: Some("Black"),
            source: Some("ppb"),
        })
        .unwrap();
        assert_eq!(f.offense.as_deref(), Some("SQ"));
        assert_eq!(f.zone, Some(Some("old-town".to_owned())));
        assert_eq!(f.group.as_deref(), Some("black"));
        assert_eq!(EventFilter::parse(FilterText::default()).unwrap(), EventFilter::default());
        let backwards = FilterText { from: Some(d("2020-01-02")), to: Some(d("2020-01-01")), ..FilterText::default() };
        assert_eq!(EventFilter::parse(backwards).unwrap_err().to_string(), "from 2020-01-02 is after to 2020-01-01");
        for bad in ["2019-5-1", "+2019-05-01", "2019-05-01T00:00", "2019-02-30", ""] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }
}
