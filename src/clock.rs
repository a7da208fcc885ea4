//! The clock: "now" is read at the edges (the service's state, the CLI's command) and passed into the
//! core as a value, so the core's answers depend only on their arguments and a test can fix the day.

use chrono::{DateTime, Utc};

/// A source of the current instant.
pub trait Clock: std::fmt::Debug + Send + Sync {
    /// The instant now, UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// This machine's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock stopped at one instant (tests, and answers "as of" a moment).
///
/// # Examples
/// ```
/// use leadmap::clock::{Clock, FixedClock};
/// let at = chrono::DateTime::parse_from_rfc3339("2019-06-01T12:00:00Z").unwrap().to_utc();
/// assert_eq!(FixedClock(at).now(), at);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}
