//! The threshold range parser of the check plugins (`[@][start][:end]`): never a panic, and
//! what it accepts prints back (`Display`) as text that reads back as the same range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replayer_checks::Range;

fuzz_target!(|text: &str| {
    let Ok(range) = text.parse::<Range>() else {
        return;
    };
    let printed = range.to_string();
    let again: Range = printed
        .parse()
        .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which does not parse: {e}"));
    assert_eq!(again, range, "{text:?} printed as {printed:?}");
    for value in [f64::NEG_INFINITY, -1.0, 0.0, 0.5, 10.0, 1e300, f64::NAN] {
        let _ = range.alerts(value);
    }
    let threshold = replayer_checks::parse_threshold(text).expect("a range is a threshold");
    assert_eq!(threshold.range, Some(range));
});
