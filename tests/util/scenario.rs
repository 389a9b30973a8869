//! A scenario run once for several tests: the expensive setup (real daemons, Icinga 2, a
//! package install) runs on the first test that asks, records what it saw, and tears down
//! everything it started before returning, so no process outlives it (statics are never
//! dropped). Each test then asserts one thing on the record.

use std::sync::OnceLock;

/// The record of a scenario, made once. A scenario that panics is not run again: every test
/// that asks fails with its message.
pub struct Scenario<T>(OnceLock<Result<T, String>>);

impl<T> Scenario<T> {
    pub const fn new() -> Scenario<T> {
        Scenario(OnceLock::new())
    }

    /// The record, running `run` first if no test has yet.
    pub fn get(&self, run: impl FnOnce() -> T) -> &T {
        let record = self.0.get_or_init(|| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).map_err(|panic| {
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic without a message".to_string())
            })
        });
        match record {
            Ok(record) => record,
            Err(message) => panic!("the shared scenario failed: {message}"),
        }
    }
}
