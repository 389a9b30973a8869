//! The check plugins' reading of the status document: any bytes through
//! `status_client::parse`; a document it accepts is then judged by both socket checks for
//! every window, and written back out and read again unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replayer_checks::five_xx::FiveXxCheck;
use replayer_checks::rate::RateCheck;
use replayer_checks::status_client::parse;
use replayer_checks::Range;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = parse(data) else {
        return;
    };
    let warn: Option<Range> = "1:".parse().ok();
    let crit: Option<Range> = "0.1:".parse().ok();
    for window in [60, 300, 900] {
        let rate = RateCheck {
            window,
            warn,
            crit,
            verbose: 1,
        };
        if let Ok(outcome) = rate.evaluate(&doc) {
            let _ = outcome.render("REPLAY RATE");
        }
        for per_second in [false, true] {
            let five_xx = FiveXxCheck {
                window,
                warn: "0:0.05".parse().ok(),
                crit: "0:0.2".parse().ok(),
                min_responses: 10,
                per_second,
                verbose: 1,
            };
            if let Ok(outcome) = five_xx.evaluate(&doc) {
                let _ = outcome.render("REPLAY 5XX");
            }
        }
    }
    let written = serde_json::to_vec(&doc).expect("a parsed document serialises");
    let again = parse(&written).expect("a written document parses");
    // NaN never equals itself; compare the JSON.
    assert_eq!(serde_json::to_vec(&again).unwrap(), written);
});
