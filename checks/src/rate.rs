//! `check_replay_rate`: replayed requests per second over a window, and, when that is low,
//! the reason in words, so the alert says what to fix rather than only that something broke.

use crate::perfdata::{Perfdata, Threshold};
use crate::plugin::{Outcome, State};
use crate::range::Range;
use replayer_status::schema::{DaemonState, StatusDocument, Window};

/// The windows every document carries, in seconds.
pub const WINDOWS: [u64; 3] = [60, 300, 900];

/// Reads `--window`: one of 60, 300, 900.
pub fn parse_window(s: &str) -> Result<u64, String> {
    s.parse::<u64>()
        .ok()
        .filter(|w| WINDOWS.contains(w))
        .ok_or_else(|| format!("window must be 60, 300 or 900 seconds, not {s:?}"))
}

/// `1m`, `5m`, `15m`.
pub fn window_name(secs: u64) -> String {
    replayer_status::sync::format_duration(std::time::Duration::from_secs(secs))
}

/// What the rate was measured over: the window, or the time since the daemon started when
/// that is shorter (per-second figures divide by the time the window covers, the window's
/// `covered_s`, so the text must not claim five minutes for a daemon up for ten seconds).
/// Named from the document's times rather than `covered_s`, which an older daemon's document
/// lacks; for a young daemon the two are the same seconds.
pub fn covered_name(doc: &StatusDocument, window_secs: u64) -> String {
    use replayer_status::time::parse_rfc3339;
    let up = match (parse_rfc3339(&doc.started_at), parse_rfc3339(&doc.now)) {
        (Ok(start), Ok(now)) => now.duration_since(start).ok(),
        _ => None,
    };
    match up {
        Some(up) if up.as_secs() < window_secs => format!(
            "{} (daemon up for {})",
            window_name(window_secs),
            window_name(up.as_secs().max(1))
        ),
        _ => window_name(window_secs),
    }
}

/// The window from the document, or what is wrong.
pub fn window(doc: &StatusDocument, secs: u64) -> Result<&Window, MissingWindow> {
    doc.windows
        .get(&secs.to_string())
        .ok_or(MissingWindow(secs))
}

/// The document has no window of the length asked for (written by something that is not
/// the daemon, or by a future one that changed the windows): UNKNOWN.
#[derive(Debug, thiserror::Error)]
#[error("the status document has no {0} s window")]
pub struct MissingWindow(
    /// The window's length in seconds.
    pub u64,
);

/// `check_replay_rate`'s judgement, from its options; [`evaluate`](RateCheck::evaluate)
/// applies it to a document.
pub struct RateCheck {
    /// The window to judge, in seconds: 60, 300 or 900 (`--window`).
    pub window: u64,
    /// The warning range, in replayed requests per second.
    pub warn: Option<Range>,
    /// The critical range, in replayed requests per second.
    pub crit: Option<Range>,
    /// `-v` count: from 1, the window's figures and each target go in the long output (they
    /// do anyway when the state is not OK).
    pub verbose: u8,
}

impl RateCheck {
    /// The state, first line (with the cause when the rate is low) and perfdata (`rate`,
    /// `seen`, `replayed`) for `doc`, before the sync rules. An error only when the document
    /// lacks the window.
    pub fn evaluate(&self, doc: &StatusDocument) -> Result<Outcome, MissingWindow> {
        let w = window(doc, self.window)?;
        // The daemon's own figure: it divides by the time the window actually covers, so a
        // daemon started two minutes ago is not reported at 2/5 of its true rate in the 5-minute
        // window. One definition, in the daemon's stats, shared by the check, `replayer status`
        // and the metrics.
        let rate = w.replayed_per_s;
        let state = State::from_thresholds(rate, self.warn.as_ref(), self.crit.as_ref());
        let mut text = format!(
            "{} requests/s replayed over {}",
            crate::perfdata::fmt_value(rate),
            covered_name(doc, self.window)
        );
        if state != State::Ok {
            text.push_str(": ");
            text.push_str(&low_rate_cause(doc, w));
        }
        let mut outcome = Outcome::new(state, text);
        outcome.perfdata = vec![
            Perfdata::new("rate", Some(rate))
                .thresholds(
                    self.warn.map(Threshold::Range),
                    self.crit.map(Threshold::Range),
                )
                .min(0.0),
            // Totals since start (UOM c): graphers derive the rates. Failures and drops are
            // in the long output, keeping the first line short.
            Perfdata::counter("seen", doc.requests.seen),
            Perfdata::counter("replayed", doc.requests.replayed),
        ];
        if self.verbose > 0 || state != State::Ok {
            outcome.long = details(doc, w, self.window);
        }
        Ok(outcome)
    }
}

/// Why few requests were replayed, from the window's own figures, most telling first.
pub fn low_rate_cause(doc: &StatusDocument, w: &Window) -> String {
    match doc.state {
        DaemonState::Paused if doc.sync.in_progress => {
            return "replay paused: the daemon sees a data sync in progress".into()
        }
        DaemonState::Paused => return "replay paused".into(),
        DaemonState::Starting => return "the daemon is still starting".into(),
        DaemonState::Stopping => return "the daemon is stopping".into(),
        DaemonState::Replaying => {}
    }
    let source = &doc.capture.source;
    if w.seen == 0 {
        return if w.packets == 0 {
            format!("no traffic captured on {source}")
        } else {
            format!(
                "{} packets captured on {source} but no HTTP requests in them",
                w.packets
            )
        };
    }
    // Most requests replayed: nothing is lost, there is just little traffic.
    if w.replayed.saturating_mul(2) >= w.seen {
        return format!(
            "low traffic: {} of {} requests seen were replayed",
            w.replayed, w.seen
        );
    }
    // Each request seen ends one way; name the largest way of not being replayed. Which
    // target fails is in the long output: URLs would crowd the first line.
    let losses = [
        (w.paused_sync, "paused for data sync", "held back"),
        (w.filtered, "filtered", "filtered out"),
        (w.sampled_out, "sampled out", "dropped by the limits"),
        (w.dropped_queue_full, "replay queue full", "dropped"),
        (w.failed, "target failing", "failed"),
    ];
    let (lost, cause, how) = losses
        .iter()
        .copied()
        .max_by_key(|(n, _, _)| *n)
        .unwrap_or((0, "", ""));
    if lost == 0 {
        // Neither replayed nor lost: still queued or in flight.
        return format!(
            "only {} of {} requests seen were replayed, none lost",
            w.replayed, w.seen
        );
    }
    if lost >= w.seen && cause == "filtered" {
        return format!("everything filtered: all {} requests filtered out", w.seen);
    }
    format!("{cause}: {lost} of {} requests {how}", w.seen)
}

/// Long-output lines: the window's figures, then each target.
fn details(doc: &StatusDocument, w: &Window, secs: u64) -> Vec<String> {
    let mut lines = vec![format!(
        "last {}: packets {}, seen {}, filtered {}, sampled out {}, paused for sync {}, queue full {}, failed {}, replayed {}",
        window_name(secs),
        w.packets,
        w.seen,
        w.filtered,
        w.sampled_out,
        w.paused_sync,
        w.dropped_queue_full,
        w.failed,
        w.replayed
    )];
    lines.push(format!(
        "daemon {} (pid {}), state {}, capturing {}",
        doc.version,
        doc.pid,
        doc.state.as_str(),
        doc.capture.source
    ));
    for t in &doc.targets {
        lines.push(format!(
            "target {}: replayed {}, failed {}, in flight {}",
            t.url, t.replayed, t.failed, t.in_flight
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> StatusDocument {
        crate::status_client::parse(include_bytes!("../demo/status.json")).unwrap()
    }

    fn check(w: &str, c: &str) -> RateCheck {
        RateCheck {
            window: 300,
            warn: Some(w.parse().unwrap()),
            crit: Some(c.parse().unwrap()),
            verbose: 0,
        }
    }

    #[test]
    fn a_young_daemon_says_how_long_it_has_been_up() {
        let mut doc = demo();
        doc.started_at = "2026-11-24T14:00:00Z".into();
        doc.now = "2026-11-24T14:00:10Z".into();
        assert_eq!(covered_name(&doc, 300), "5m (daemon up for 10s)");
        assert_eq!(covered_name(&doc, 60), "1m (daemon up for 10s)");
        doc.now = "2026-11-24T14:05:00Z".into();
        assert_eq!(covered_name(&doc, 300), "5m");
        // An unreadable time never breaks the check: the plain window is named.
        doc.started_at = "yesterday".into();
        assert_eq!(covered_name(&doc, 300), "5m");
    }

    #[test]
    fn ok_on_the_demo_document() {
        let o = check("0.1:", "0.01:").evaluate(&demo()).unwrap();
        assert_eq!(
            o.render("REPLAY RATE"),
            "REPLAY RATE OK: 43.3 requests/s replayed over 5m | rate=43.3;0.1:;0.01:;0; seen=1523400c replayed=1493100c\n"
        );
    }

    #[test]
    fn thresholds_decide_the_state() {
        let doc = demo();
        assert_eq!(
            check("50:", "10:").evaluate(&doc).unwrap().state,
            State::Warning
        );
        assert_eq!(
            check("50:", "44:").evaluate(&doc).unwrap().state,
            State::Critical
        );
        assert_eq!(
            check("43.3:", "43.3:").evaluate(&doc).unwrap().state,
            State::Ok
        );
    }

    #[test]
    fn names_each_cause() {
        let base = demo();
        let cause = |f: &dyn Fn(&mut StatusDocument)| {
            let mut doc = base.clone();
            f(&mut doc);
            let w = window(&doc, 300).unwrap().clone();
            low_rate_cause(&doc, &w)
        };
        fn w300(d: &mut StatusDocument) -> &mut Window {
            d.windows.get_mut("300").unwrap()
        }
        assert_eq!(
            cause(&|d| {
                *w300(d) = Window::default();
            }),
            "no traffic captured on lo:7999"
        );
        assert_eq!(
            cause(&|d| {
                *w300(d) = Window {
                    packets: 12,
                    ..Window::default()
                };
            }),
            "12 packets captured on lo:7999 but no HTTP requests in them"
        );
        assert_eq!(
            cause(&|d| {
                *w300(d) = Window {
                    packets: 99,
                    seen: 40,
                    filtered: 40,
                    ..Window::default()
                };
            }),
            "everything filtered: all 40 requests filtered out"
        );
        assert_eq!(
            cause(&|d| {
                *w300(d) = Window {
                    seen: 40,
                    replayed: 2,
                    dropped_queue_full: 38,
                    ..Window::default()
                };
            }),
            "replay queue full: 38 of 40 requests dropped"
        );
        assert_eq!(
            cause(&|d| {
                *w300(d) = Window {
                    seen: 40,
                    failed: 39,
                    filtered: 1,
                    ..Window::default()
                };
            }),
            "target failing: 39 of 40 requests failed"
        );
        assert_eq!(
            cause(&|d| {
                *w300(d) = Window {
                    seen: 3,
                    replayed: 3,
                    ..Window::default()
                };
            }),
            "low traffic: 3 of 3 requests seen were replayed"
        );
        assert_eq!(
            cause(&|d| {
                d.state = DaemonState::Paused;
                d.sync.in_progress = true;
            }),
            "replay paused: the daemon sees a data sync in progress"
        );
        assert_eq!(
            cause(&|d| {
                *w300(d) = Window {
                    seen: 50,
                    paused_sync: 50,
                    ..Window::default()
                };
            }),
            "paused for data sync: 50 of 50 requests held back"
        );
        assert_eq!(
            cause(&|d| d.state = DaemonState::Starting),
            "the daemon is still starting"
        );
    }

    #[test]
    fn missing_window_is_an_error() {
        let mut doc = demo();
        doc.windows.remove("900");
        let c = RateCheck {
            window: 900,
            ..check("1:", "1:")
        };
        assert_eq!(
            c.evaluate(&doc).unwrap_err().to_string(),
            "the status document has no 900 s window"
        );
    }

    #[test]
    fn window_option() {
        assert_eq!(parse_window("60"), Ok(60));
        assert_eq!(parse_window("900"), Ok(900));
        assert!(parse_window("120").is_err());
        assert!(parse_window("5m").is_err());
        assert_eq!(window_name(60), "1m");
        assert_eq!(window_name(900), "15m");
    }
}
