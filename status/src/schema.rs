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
    // Added to schema 1 for the memory caps; absent in older documents, hence the defaults.
    /// Requests framed but never emitted: cut by a gap, unparseable, or over the per-stream cap.
    #[serde(default)]
    pub requests_cut: u64,
    /// Segments, streams or requests dropped because a reassembly cap (`--max-streams`,
    /// `--max-stream-bytes`, `--max-buffered-bytes`) was reached.
    #[serde(default)]
    pub dropped_over_cap: u64,
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
    // Added to schema 1 so every per-second figure of a window divides by the same time; absent
    // in older documents, hence the default (0 = not known: see `Window::seconds_covered`).
    /// Seconds of this window the daemon has actually covered: less than the window's length
    /// while the daemon is younger than the window. `replayed_per_s` is `replayed / covered_s`.
    #[serde(default)]
    pub covered_s: f64,
}

impl Window {
    /// The seconds a per-second figure of this window divides by: `covered_s`, or the window's
    /// length `window_secs` when the document does not say (written before the field existed,
    /// or carrying nonsense). Kept within 1 s and the window's length, as the daemon writes it,
    /// so that a bad document cannot turn five 5xx into millions per second.
    pub fn seconds_covered(&self, window_secs: u64) -> f64 {
        let length = window_secs as f64;
        if self.covered_s > 0.0 {
            self.covered_s.clamp(1.0_f64.min(length), length)
        } else {
            length // also NaN
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// A document as DESIGN.md §2 writes it, with only the fields schema 1 started with.
    fn original_shape() -> Value {
        let w = json!({ "seen": 10, "replayed": 9, "failed": 1, "responses": 9, "5xx": 1,
                        "replayed_per_s": 0.15, "ratio_5xx": 0.111, "latency_ms": { "p50": 4.0, "p99": 9.5 } });
        json!({
            "schema": 1, "version": "0.1.0", "pid": 1234,
            "started_at": "2026-11-24T14:00:00Z", "now": "2026-11-24T14:22:10Z",
            "state": "replaying",
            "sync": { "in_progress": false, "flag": "/etc/govuk/env.d/FACTER_data_sync_in_progress",
                      "since": null, "stale": false },
            "capture": { "source": "lo:7999", "packets": 1, "bytes": 2, "kernel_dropped": 0,
                         "if_dropped": 0, "reassembly_gaps": 0, "streams": 1 },
            "requests": { "seen": 10, "filtered": 0, "sampled_out": 0, "paused_sync": 0,
                          "queued": 0, "replayed": 9, "dropped_queue_full": 0, "failed": 1 },
            "responses": { "1xx": 0, "2xx": 8, "3xx": 0, "4xx": 0, "5xx": 1 },
            "windows": { "60": w.clone(), "300": w.clone(), "900": w },
            "targets": [ { "url": "http://staging.example", "replayed": 9, "failed": 1,
                           "in_flight": 0,
                           "responses": { "1xx": 0, "2xx": 8, "3xx": 0, "4xx": 0, "5xx": 1 } } ]
        })
    }

    #[test]
    fn reads_the_documented_shape_and_defaults_the_added_window_fields() {
        let doc: StatusDocument = serde_json::from_value(original_shape()).unwrap();
        assert_eq!(doc.state, DaemonState::Replaying);
        assert_eq!(doc.responses.c5xx, 1);
        let w = &doc.windows["300"];
        assert_eq!(
            (w.c5xx, w.ratio_5xx, w.latency_ms.p99),
            (1, Some(0.111), 9.5)
        );
        assert_eq!(
            (w.packets, w.filtered, w.paused_sync, w.dropped_queue_full),
            (0, 0, 0, 0)
        );
        // Not known: per-second figures fall back to the window's length.
        assert_eq!(w.covered_s, 0.0);
        assert_eq!(w.seconds_covered(300), 300.0);
        assert_eq!(doc.targets[0].responses.c2xx, 8);
    }

    #[test]
    fn writes_the_documented_field_names() {
        let doc: StatusDocument = serde_json::from_value(original_shape()).unwrap();
        let v = serde_json::to_value(&doc).unwrap();
        assert_eq!(v["state"], "replaying");
        assert_eq!(v["responses"]["5xx"], 1);
        assert_eq!(v["responses"]["1xx"], 0);
        assert_eq!(v["windows"]["300"]["5xx"], 1);
        assert_eq!(v["windows"]["60"]["ratio_5xx"], 0.111);
        assert_eq!(v["sync"]["since"], Value::Null);
        assert_eq!(v["targets"][0]["responses"]["4xx"], 0);
        assert_eq!(v["windows"]["300"]["covered_s"], 0.0);
        for key in WINDOWS {
            assert!(v["windows"].get(key.to_string()).is_some(), "window {key}");
        }
        // Round trip.
        assert_eq!(serde_json::from_value::<StatusDocument>(v).unwrap(), doc);
    }

    #[test]
    fn covered_seconds_are_read_and_kept_within_the_window() {
        let mut v = original_shape();
        v["windows"]["300"]["covered_s"] = json!(10.0);
        v["windows"]["60"]["covered_s"] = json!(59.25);
        let doc: StatusDocument = serde_json::from_value(v).unwrap();
        assert_eq!(doc.windows["300"].covered_s, 10.0);
        assert_eq!(doc.windows["300"].seconds_covered(300), 10.0);
        assert_eq!(doc.windows["60"].seconds_covered(60), 59.25);
        assert_eq!(doc.windows["900"].seconds_covered(900), 900.0);
        let w = |covered_s| Window {
            covered_s,
            ..Window::default()
        };
        assert_eq!(w(0.25).seconds_covered(300), 1.0);
        assert_eq!(w(4000.0).seconds_covered(300), 300.0);
        assert_eq!(w(-3.0).seconds_covered(300), 300.0);
        assert_eq!(w(f64::NAN).seconds_covered(300), 300.0);
    }

    #[test]
    fn a_newer_daemon_s_extra_fields_are_ignored_and_states_are_lowercase() {
        let mut v = original_shape();
        v["something_new"] = json!({ "a": 1 });
        v["windows"]["300"]["p999"] = json!(3);
        v["state"] = json!("paused");
        let doc: StatusDocument = serde_json::from_value(v).unwrap();
        assert_eq!(doc.state.as_str(), "paused");
        let mut v = original_shape();
        v["state"] = json!("Paused");
        assert!(serde_json::from_value::<StatusDocument>(v).is_err());
    }
}
