//! `check_replay_diff`: does staging answer like production? The share of compared answers
//! that differ over the window, by a status difference alone (`--cause status`, the default)
//! or by any cause (`--cause any`: status, content type, Location, body, length).
//!
//! Status is the default because it is the difference that means a broken deploy (a 404
//! where production serves, a 500, a redirect): bodies also differ when staging simply holds
//! other data, which is normal between syncs. Pairs that differ only in the body on a request
//! production itself answers differently each time are noisy, not differing, either way.
//!
//! With fewer than `--min-compared` compared pairs the share says little, so the check stays
//! OK and says why. A daemon that does not compare answers is UNKNOWN: the check cannot
//! judge, and a silent OK would hide that it was never set up.

use crate::perfdata::{fmt_value, Perfdata, Threshold};
use crate::plugin::{Outcome, State};
use crate::range::Range;
use crate::rate::{window, window_name, MissingWindow};
use replayer_status::schema::{DiffCounters, StatusDocument};

/// Which differences count (`--cause`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CauseFilter {
    /// A different status code.
    Status,
    /// Any cause: status, content type, Location, body, length.
    Any,
}

/// Routes listed in the long output.
pub const LONG_OUTPUT_ROUTES: usize = 5;

/// `check_replay_diff`'s judgement, from its options; [`evaluate`](DiffCheck::evaluate)
/// applies it to a document.
pub struct DiffCheck {
    /// The window to judge, in seconds: 60, 300 or 900 (`--window`).
    pub window: u64,
    /// The warning range, for the share of compared pairs that differ (0 to 1).
    pub warn: Option<Range>,
    /// The critical range, likewise.
    pub crit: Option<Range>,
    /// Which differences count.
    pub cause: CauseFilter,
    /// Below this many compared pairs in the window the share is not judged (stays OK).
    pub min_compared: u64,
    /// `-v` count: from 1, the top differing routes go in the long output (they do anyway
    /// when the state is not OK).
    pub verbose: u8,
}

impl DiffCheck {
    /// The state, first line and perfdata for `doc`, before the sync rules. An error only
    /// when the document lacks the window.
    pub fn evaluate(&self, doc: &StatusDocument) -> Result<Outcome, MissingWindow> {
        let w = &window(doc, self.window)?.diff;
        if !doc.diff.enabled {
            return Ok(Outcome::new(
                State::Unknown,
                "the daemon does not compare staging's answers with production's \
                 (production's responses are not captured: see --diff in replayer(1))"
                    .to_string(),
            ));
        }
        let span = window_name(self.window);
        let status_only = self.cause == CauseFilter::Status;
        let differing = differing(w, status_only);
        let share = w.differing_share(status_only);
        let what = if status_only {
            "differ in status"
        } else {
            "differ"
        };
        let (state, text) = match share {
            _ if w.compared < self.min_compared => (
                State::Ok,
                format!(
                    "only {} answers compared over {span}, fewer than --min-compared {}: share not judged ({differing} {what})",
                    w.compared, self.min_compared
                ),
            ),
            None => (
                State::Ok,
                format!("no answers compared over {span}: share not judged"),
            ),
            Some(share) => (
                State::from_thresholds(share, self.warn.as_ref(), self.crit.as_ref()),
                format!(
                    "{} of answers {what} from production's over {span} ({differing} of {} compared{})",
                    percent(share),
                    w.compared,
                    causes_text(w)
                ),
            ),
        };
        let mut outcome = Outcome::new(state, text);
        outcome.perfdata = vec![
            Perfdata::new("differing_ratio", share)
                .thresholds(
                    self.warn.map(Threshold::Range),
                    self.crit.map(Threshold::Range),
                )
                .min(0.0)
                .max(1.0),
            Perfdata::new("compared", Some(w.compared as f64)).min(0.0),
            Perfdata::new("differing", Some(differing as f64)).min(0.0),
            Perfdata::new("noisy", Some(w.noisy as f64)).min(0.0),
            Perfdata::new("prod_missing", Some(w.prod_missing as f64)).min(0.0),
            Perfdata::new("slower", Some(w.slower as f64)).min(0.0),
        ];
        if self.verbose > 0 || state != State::Ok {
            let routes = doc
                .diff_routes
                .iter()
                .filter(|r| !status_only || r.by_cause.get("status").copied().unwrap_or(0) > 0);
            for route in routes.take(LONG_OUTPUT_ROUTES) {
                let e = &route.example;
                let by: Vec<String> = route
                    .by_cause
                    .iter()
                    .map(|(cause, n)| format!("{cause} {n}"))
                    .collect();
                outcome.long.push(format!(
                    "{}: {} differing since start ({}), e.g. {} {} production {} staging {}",
                    route.route,
                    route.differing,
                    by.join(", "),
                    e.method,
                    e.target,
                    e.production_status,
                    e.staging_status
                ));
            }
        }
        Ok(outcome)
    }
}

/// The differing pairs that count.
fn differing(w: &DiffCounters, status_only: bool) -> u64 {
    if status_only {
        w.by_cause.get("status").copied().unwrap_or(0)
    } else {
        w.differing
    }
}

/// `; status 3, body 1; noisy 2; production's answer missing 1`: the non-zero figures.
fn causes_text(w: &DiffCounters) -> String {
    let by: Vec<String> = w
        .by_cause
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(cause, n)| format!("{cause} {n}"))
        .collect();
    let mut text = String::new();
    if !by.is_empty() {
        text.push_str(&format!("; {}", by.join(", ")));
    }
    if w.noisy > 0 {
        text.push_str(&format!("; noisy {}", w.noisy));
    }
    if w.prod_missing > 0 {
        text.push_str(&format!("; production's answer missing {}", w.prod_missing));
    }
    if w.slower > 0 {
        text.push_str(&format!("; staging slower {}", w.slower));
    }
    text
}

/// A share as a percentage with up to two decimals: `2.5%`.
fn percent(share: f64) -> String {
    format!("{}%", fmt_value((share * 10_000.0).round() / 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use replayer_status::schema::{DiffExample, DiffRoute};

    fn doc(compared: u64, status: u64, body: u64) -> StatusDocument {
        let mut doc = crate::status_client::parse(include_bytes!("../demo/status.json")).unwrap();
        doc.diff.enabled = true;
        let w = &mut doc.windows.get_mut("300").unwrap().diff;
        w.compared = compared;
        w.differing = status.max(body);
        w.same = compared - w.differing;
        w.by_cause.insert("status".into(), status);
        w.by_cause.insert("body".into(), body);
        doc.diff_routes = vec![DiffRoute {
            route: "GET /moved/{n}".into(),
            differing: status,
            by_cause: [("status".to_string(), status)].into(),
            example: DiffExample {
                method: "GET".into(),
                target: "/moved/1".into(),
                production_status: 200,
                staging_status: 404,
                cause: "status".into(),
            },
        }];
        doc
    }

    fn check(cause: CauseFilter) -> DiffCheck {
        DiffCheck {
            window: 300,
            warn: Some("0.05".parse().unwrap()),
            crit: Some("0.1".parse().unwrap()),
            cause,
            min_compared: 20,
            verbose: 0,
        }
    }

    #[test]
    fn status_differences_are_judged_by_share() {
        let o = check(CauseFilter::Status)
            .evaluate(&doc(200, 4, 30))
            .unwrap();
        assert_eq!(o.state, State::Ok);
        assert_eq!(
            o.text,
            "2% of answers differ in status from production's over 5m (4 of 200 compared; body 30, status 4)"
        );
        assert!(o.long.is_empty());
        let o = check(CauseFilter::Status)
            .evaluate(&doc(200, 30, 0))
            .unwrap();
        assert_eq!(o.state, State::Critical);
        assert_eq!(
            o.long,
            ["GET /moved/{n}: 30 differing since start (status 30), e.g. GET /moved/1 production 200 staging 404"]
        );
    }

    #[test]
    fn any_cause_counts_bodies_too() {
        let o = check(CauseFilter::Any).evaluate(&doc(200, 4, 15)).unwrap();
        assert_eq!(o.state, State::Warning);
        assert!(
            o.text
                .starts_with("7.5% of answers differ from production's"),
            "{}",
            o.text
        );
    }

    #[test]
    fn too_few_compared_is_ok_and_says_why() {
        let o = check(CauseFilter::Status).evaluate(&doc(10, 9, 0)).unwrap();
        assert_eq!(o.state, State::Ok);
        assert_eq!(
            o.text,
            "only 10 answers compared over 5m, fewer than --min-compared 20: share not judged (9 differ in status)"
        );
    }

    #[test]
    fn a_daemon_that_does_not_compare_is_unknown() {
        let mut d = doc(200, 30, 0);
        d.diff.enabled = false;
        let o = check(CauseFilter::Status).evaluate(&d).unwrap();
        assert_eq!(o.state, State::Unknown);
    }
}
