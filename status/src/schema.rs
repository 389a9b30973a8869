//! The status document, schema version 1 (DESIGN.md §2).
//!
//! Rules: fields may be added, the meaning of a field never changes. Counters are totals since
//! the daemon started; windows are exact sums of per-second buckets over the last 60, 300 or
//! 900 seconds. Unknown fields are ignored when reading, so an older plugin reads a newer
//! daemon's document.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `schema` value this crate writes and understands.
pub const SCHEMA_VERSION: u64 = 1;

/// The window lengths, in seconds, that every document carries.
pub const WINDOWS: [u64; 3] = [60, 300, 900];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusDocument {
    pub schema: u64,
    pub version: String,
    pub pid: u32,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// RFC 3339, UTC; when the document was made.
    pub now: String,
    pub state: DaemonState,
    pub sync: SyncStatus,
    pub capture: CaptureCounters,
    pub requests: RequestCounters,
    pub responses: ResponseClasses,
    /// Keyed by window length in seconds: "60", "300", "900".
    pub windows: BTreeMap<String, Window>,
    pub targets: Vec<TargetStatus>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DaemonState {
    Starting,
    Replaying,
    Paused,
    Stopping,
}

impl DaemonState {
    pub fn as_str(self) -> &'static str {
        match self {
            DaemonState::Starting => "starting",
            DaemonState::Replaying => "replaying",
            DaemonState::Paused => "paused",
            DaemonState::Stopping => "stopping",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub in_progress: bool,
    pub flag: String,
    /// RFC 3339 modification time of the flag file while a sync is in progress.
    pub since: Option<String>,
    pub stale: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CaptureCounters {
    pub source: String,
    pub packets: u64,
    pub bytes: u64,
    pub kernel_dropped: u64,
    pub if_dropped: u64,
    pub reassembly_gaps: u64,
    pub streams: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestCounters {
    pub seen: u64,
    pub filtered: u64,
    pub sampled_out: u64,
    pub paused_sync: u64,
    pub queued: u64,
    pub replayed: u64,
    pub dropped_queue_full: u64,
    pub failed: u64,
}

/// Responses from staging by status class.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseClasses {
    #[serde(rename = "1xx")]
    pub c1xx: u64,
    #[serde(rename = "2xx")]
    pub c2xx: u64,
    #[serde(rename = "3xx")]
    pub c3xx: u64,
    #[serde(rename = "4xx")]
    pub c4xx: u64,
    #[serde(rename = "5xx")]
    pub c5xx: u64,
}

/// Figures over one window (exact sums of per-second buckets).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub seen: u64,
    pub replayed: u64,
    pub failed: u64,
    /// Responses received from staging (any status).
    pub responses: u64,
    #[serde(rename = "5xx")]
    pub c5xx: u64,
    pub replayed_per_s: f64,
    /// `5xx / responses`, or null when there were no responses.
    pub ratio_5xx: Option<f64>,
    pub latency_ms: Latency,
    // Added to schema 1 for the checks to name the cause of a low rate; absent in older
    // documents, hence the defaults.
    /// Packets captured in the window.
    #[serde(default)]
    pub packets: u64,
    #[serde(default)]
    pub filtered: u64,
    #[serde(default)]
    pub sampled_out: u64,
    #[serde(default)]
    pub paused_sync: u64,
    #[serde(default)]
    pub dropped_queue_full: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetStatus {
    pub url: String,
    pub replayed: u64,
    pub failed: u64,
    pub in_flight: u64,
    pub responses: ResponseClasses,
}
