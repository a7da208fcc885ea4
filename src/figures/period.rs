//! The fixed calendar periods planners ask for: a month, a quarter, a year or all history. Planners'
//! questions then form a finite family of tables, each always answered with the same published values,
//! so a one-day window cannot slice out single events and many overlapping windows cannot average the
//! perturbation away.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

/// A fixed period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Period {
    /// Every event.
    All,
    /// A calendar year.
    Year(i32),
    /// A quarter (1 to 4) of a year.
    Quarter(i32, u32),
    /// A month (1 to 12) of a year.
    Month(i32, u32),
}

/// Why a period or a date window is not one planners may ask for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PeriodError(String);

const FORMS: &str = "a month (2019-06), a quarter (2019-Q2), a year (2019) or all";

impl Period {
    /// The first and last day, none for [`Period::All`].
    #[must_use]
    pub fn bounds(self) -> Option<(NaiveDate, NaiveDate)> {
        let (y, first, last) = match self {
            Self::All => return None,
            Self::Year(y) => (y, 1, 12),
            Self::Quarter(y, q) => (y, 3 * q - 2, 3 * q),
            Self::Month(y, m) => (y, m, m),
        };
        let from = NaiveDate::from_ymd_opt(y, first, 1)?;
        let to = if last == 12 {
            NaiveDate::from_ymd_opt(y, 12, 31)?
        } else {
            NaiveDate::from_ymd_opt(y, last + 1, 1)?.pred_opt()?
        };
        Some((from, to))
    }

    /// The period whose bounds are exactly `from` and `to` (both or neither given).
    ///
    /// # Errors
    /// When the window is not a whole month, quarter or year, or only one end is given.
    ///
    /// # Examples
    /// ```
    /// use leadmap::figures::period::Period;
    /// let d = |s: &str| Some(s.parse().unwrap());
    /// assert_eq!(Period::from_window(d("2019-04-01"), d("2019-06-30")), Ok(Period::Quarter(2019, 2)));
    /// assert_eq!(Period::from_window(None, None), Ok(Period::All));
    /// assert!(Period::from_window(d("2019-09-30"), d("2019-10-01")).is_err());
    /// ```
    pub fn from_window(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<Self, PeriodError> {
        let (from, to) = match (from, to) {
            (None, None) => return Ok(Self::All),
            (Some(f), Some(t)) => (f, t),
            _ => {
                return Err(PeriodError(format!(
                    "planners ask for fixed periods: give both from and to, or period= {FORMS}"
                )));
            }
        };
        let y = from.year();
        [Self::Month(y, from.month()), Self::Quarter(y, from.month0() / 3 + 1), Self::Year(y)]
            .into_iter()
            .find(|p| p.bounds() == Some((from, to)))
            .ok_or_else(|| {
                PeriodError(format!(
                    "from {from} to {to} is not a whole month, quarter or year: planners ask for fixed periods \
                     (period= {FORMS}, or from and to its first and last day)"
                ))
            })
    }
}

impl FromStr for Period {
    type Err = PeriodError;

    /// `all`, `YYYY`, `YYYY-Qn` or `YYYY-MM`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PeriodError(format!("period {s:?}: use {FORMS}"));
        let s = s.trim();
        if s.eq_ignore_ascii_case("all") {
            return Ok(Self::All);
        }
        let year =
            |y: &str| (y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit())).then(|| y.parse::<i32>().ok()).flatten();
        let p = match s.split_once('-') {
            None => Self::Year(year(s).ok_or_else(bad)?),
            Some((y, rest)) => {
                let y = year(y).ok_or_else(bad)?;
                if let Some(q) = rest.strip_prefix(['Q', 'q']) {
                    Self::Quarter(y, q.parse().ok().filter(|q| (1..=4).contains(q)).ok_or_else(bad)?)
                } else if rest.len() == 2 {
                    Self::Month(y, rest.parse().ok().filter(|m| (1..=12).contains(m)).ok_or_else(bad)?)
                } else {
                    return Err(bad());
                }
            }
        };
        p.bounds().map(|_| p).ok_or_else(bad)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::Year(y) => write!(f, "{y}"),
            Self::Quarter(y, q) => write!(f, "{y}-Q{q}"),
            Self::Month(y, m) => write!(f, "{y}-{m:02}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn periods_read_write_and_bound_as_the_calendar_says() {
        for (text, from, to) in [
            ("2019", "2019-01-01", "2019-12-31"),
            ("2020-Q1", "2020-01-01", "2020-03-31"),
            ("2019-q4", "2019-10-01", "2019-12-31"),
            ("2020-02", "2020-02-01", "2020-02-29"),
            ("2019-02", "2019-02-01", "2019-02-28"),
            ("2019-12", "2019-12-01", "2019-12-31"),
        ] {
            let p: Period = text.parse().unwrap();
            assert_eq!(p.bounds(), Some((d(from), d(to))), "{text}");
            assert_eq!(Period::from_window(Some(d(from)), Some(d(to))), Ok(p), "{text}");
            assert_eq!(p.to_string().parse::<Period>(), Ok(p));
        }
        assert_eq!("ALL".parse::<Period>(), Ok(Period::All));
        assert_eq!(Period::All.bounds(), None);
        for bad in ["", "19", "2019-13", "2019-Q5", "2019-Q0", "2019-1", "2019-06-01", "x", "2019-00", "+201"] {
            let e = bad.parse::<Period>().unwrap_err().to_string();
            assert!(e.contains("a quarter (2019-Q2)"), "{bad}: {e}");
        }
    }

    #[test]
    fn windows_that_are_not_a_whole_period_are_refused_with_the_forms_allowed() {
        for (from, to) in [
            ("2019-09-30", "2019-10-01"),
            ("2019-10-01", "2019-10-01"),
            ("2019-01-01", "2019-06-30"),
            ("2019-01-02", "2019-12-31"),
            ("2018-01-01", "2019-12-31"),
        ] {
            let e = Period::from_window(Some(d(from)), Some(d(to))).unwrap_err().to_string();
            assert!(e.contains("is not a whole month, quarter or year") && e.contains("period="), "{e}");
        }
        assert!(Period::from_window(Some(d("2019-01-01")), None).unwrap_err().to_string().contains("give both"));
    }
}
