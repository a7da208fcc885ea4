#![no_main]
//! Rule files: any text ends in a rule set or an error, never a panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = leadmap::rules::RuleSet::from_json(&String::from_utf8_lossy(data), "fuzz.json");
});
