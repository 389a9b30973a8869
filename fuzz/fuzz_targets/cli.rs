//! The GoReplay flag parser: any argument list through `cli::parse` (clap plus the
//! Go-style pre-pass). What it accepts must print (`--print-config`) as a TOML file that
//! reads back to the same settings, as docs/configuration.md promises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replayer::config::cli::{parse, Invocation};

fuzz_target!(|args: Vec<String>| {
    // `--config FILE` reads a file: no fuzz input may name one (the TOML is its own target).
    if args.iter().any(|a| a.contains("conf")) {
        return;
    }
    let argv = std::iter::once("replayer".to_string()).chain(args);
    let Ok(Invocation::Run(config)) = parse(argv) else {
        return;
    };
    replayer_fuzz::assert_config_round_trip(&config);
});
