//! The TOML configuration file: any text through `Settings::from_toml` and
//! `Config::resolve`; what resolves must print (`--print-config`) as TOML that reads back to
//! the same settings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replayer::config::{Config, Settings};

fuzz_target!(|text: &str| {
    let Ok(settings) = Settings::from_toml(text) else {
        return;
    };
    let Ok(config) = Config::resolve(&settings) else {
        return;
    };
    replayer_fuzz::assert_config_round_trip(&config);
});
