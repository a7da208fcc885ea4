//! What the fuzz targets share: reading a whole event file with the options `leadmap import` uses.

use leadmap::formats::events::{FileFormat, ImportError, ImportOptions, read_events};

/// Reads every event of `bytes` as `format`; errors are fine, a panic is the finding.
pub fn read_all(format: FileFormat, bytes: &[u8]) {
    let opts = ImportOptions {
        kind: Some(leadmap::events::EventKind::Arrest),
        source: Some("fuzz".into()),
        keep_rows: true,
        ..ImportOptions::new(leadmap::events::checks::EventChecks::dated(
            leadmap::events::checks::DEFAULT_FIRST_DATE,
            leadmap::clock::Clock::now(&leadmap::clock::SystemClock),
        ))
    };
    let _ = read_events::<ImportError>(format, std::io::Cursor::new(bytes), "fuzz", &opts, 7, |_| Ok(()));
}
