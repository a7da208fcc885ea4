#![no_main]
//! Event files as CSV: any bytes end in events or errors, never a panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    leadmap_fuzz::read_all(leadmap::formats::events::FileFormat::Csv, data);
});
