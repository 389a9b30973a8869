//! What the daemon knows about itself and how others read it: [`stats`] (counters and
//! windows; the comparison's own in [`diff_counts`]), [`socket`] (the shared state and the status document on a Unix socket),
//! [`metrics`] (the same figures for Prometheus) and [`sync_watch`] (the data-sync flag that
//! pauses replay).

pub mod diff_counts;
pub mod metrics;
pub mod socket;
pub mod stats;
pub mod sync_watch;
