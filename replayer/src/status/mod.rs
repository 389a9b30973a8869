//! What the daemon knows about itself and how others read it: [`stats`] (counters and
//! windows), [`socket`] (the shared state and the status document on a Unix socket),
//! [`metrics`] (the same figures for Prometheus) and [`sync_watch`] (the data-sync flag that
//! pauses replay).

pub mod metrics;
pub mod socket;
pub mod stats;
pub mod sync_watch;
