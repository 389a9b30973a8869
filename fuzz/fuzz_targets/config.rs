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
    let settings = config.to_settings();
    let toml = settings.to_toml();
    let read = Settings::from_toml(&toml)
        .unwrap_or_else(|e| panic!("--print-config output does not read back: {e}\n{toml}"));
    let again = Config::resolve(&read)
        .unwrap_or_else(|e| panic!("--print-config output does not resolve: {e}\n{toml}"));
    assert_eq!(again.to_settings(), settings, "{toml}");
});
