#![no_main]
//! Zone files as GeoJSON: any text ends in a zone set or an error, never a panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = leadmap::formats::zonefile::ZoneFileOptions::default();
    let _ = leadmap::formats::zonefile::parse_zone_geojson(&String::from_utf8_lossy(data), "fuzz.geojson", &opts);
});
