//! `check_replay_5xx`: how much of what staging answered in the window was a 5xx, as a ratio
//! of responses (default) or in 5xx responses per second (`--per-second`, as GOV.UK's site
//! checks measured it). Per second means per second the window covers (`covered_s`), the
//! daemon's own definition for `replayed_per_s`: a daemon up for 10 s with five 5xx is at
//! 0.5/s, not at five in five minutes.
//!
//! With fewer than `--min-responses` responses the ratio says little (one 5xx out of three is
//! 33 %), so the check stays OK and says why. The rate has no such floor: it is already
//! small when traffic is.

use crate::perfdata::{fmt_value, Perfdata, Threshold};
use crate::plugin::{Outcome, State};
use crate::range::Range;
use crate::rate::{covered_name, window, window_name, MissingWindow};
use replayer_status::schema::StatusDocument;

/// `check_replay_5xx`'s judgement, from its options; [`evaluate`](FiveXxCheck::evaluate)
/// applies it to a document.
pub struct FiveXxCheck {
    /// The window to judge, in seconds: 60, 300 or 900 (`--window`).
    pub window: u64,
    /// The warning range, for the ratio (0 to 1) or, with `per_second`, for 5xx per second.
    pub warn: Option<Range>,
    /// The critical range, in the same unit as `warn`.
    pub crit: Option<Range>,
    /// Below this many responses in the window the ratio is not judged (stays OK).
    pub min_responses: u64,
    /// Judge 5xx responses per second instead of the ratio; `min_responses` then does not
    /// apply.
    pub per_second: bool,
    /// `-v` count: from 1, each target's responses by class go in the long output (they do
    /// anyway when the state is not OK).
    pub verbose: u8,
}

impl FiveXxCheck {
    /// The state, first line and perfdata (`ratio_5xx`, `rate_5xx`, `responses`,
    /// `5xx_total`) for `doc`, before the sync rules. An error only when the document lacks
    /// the window.
    pub fn evaluate(&self, doc: &StatusDocument) -> Result<Outcome, MissingWindow> {
        let w = window(doc, self.window)?;
        let span = window_name(self.window);
        let ratio = (w.responses > 0).then(|| w.c5xx as f64 / w.responses as f64);
        let rate = w.c5xx as f64 / w.seconds_covered(self.window);
        let counts = format!("{} of {} responses", w.c5xx, w.responses);

        let (state, text) = if self.per_second {
            let state = State::from_thresholds(rate, self.warn.as_ref(), self.crit.as_ref());
            let text = format!(
                "{} 5xx responses/s from staging over {} ({counts})",
                fmt_value(rate),
                covered_name(doc, self.window)
            );
            (state, text)
        } else if w.responses < self.min_responses {
            let text = format!(
                "only {} responses over {span}, fewer than --min-responses {}: ratio not judged ({} were 5xx)",
                w.responses, self.min_responses, w.c5xx
            );
            (State::Ok, text)
        } else {
            // responses >= min_responses; with --min-responses 0 and no responses there is
            // nothing to judge either.
            match ratio {
                None => (
                    State::Ok,
                    format!("no responses from staging over {span}: 5xx ratio not judged"),
                ),
                Some(ratio) => {
                    let state =
                        State::from_thresholds(ratio, self.warn.as_ref(), self.crit.as_ref());
                    let text = format!("5xx ratio {} over {span} ({counts})", fmt_value(ratio));
                    (state, text)
                }
            }
        };

        let (ratio_thresholds, rate_thresholds) = {
            let t = (
                self.warn.map(Threshold::Range),
                self.crit.map(Threshold::Range),
            );
            if self.per_second {
                ((None, None), t)
            } else {
                (t, (None, None))
            }
        };
        let mut outcome = Outcome::new(state, text);
        outcome.perfdata = vec![
            Perfdata::new("ratio_5xx", ratio)
                .thresholds(ratio_thresholds.0, ratio_thresholds.1)
                .min(0.0)
                .max(1.0),
            Perfdata::new("rate_5xx", Some(rate))
                .thresholds(rate_thresholds.0, rate_thresholds.1)
                .min(0.0),
            Perfdata::new("responses", Some(w.responses as f64)).min(0.0),
            Perfdata::counter("5xx_total", doc.responses.c5xx),
        ];
        if self.verbose > 0 || state != State::Ok {
            for t in &doc.targets {
                let r = &t.responses;
                outcome.long.push(format!(
                    "target {}: 2xx {}, 3xx {}, 4xx {}, 5xx {} since start",
                    t.url, r.c2xx, r.c3xx, r.c4xx, r.c5xx
                ));
            }
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use replayer_status::schema::Window;

    fn demo() -> StatusDocument {
        crate::status_client::parse(include_bytes!("../demo/status.json")).unwrap()
    }

    fn check(w: &str, c: &str) -> FiveXxCheck {
        FiveXxCheck {
            window: 300,
            warn: Some(w.parse().unwrap()),
            crit: Some(c.parse().unwrap()),
            min_responses: 20,
            per_second: false,
            verbose: 0,
        }
    }

    fn with_window(responses: u64, c5xx: u64) -> StatusDocument {
        let mut doc = demo();
        *doc.windows.get_mut("300").unwrap() = Window {
            seen: responses,
            replayed: responses,
            responses,
            c5xx,
            ..Window::default()
        };
        doc
    }

    #[test]
    fn ok_on_the_demo_document() {
        let o = check("0.05", "0.1").evaluate(&demo()).unwrap();
        assert_eq!(
            o.render("REPLAY 5XX"),
            "REPLAY 5XX OK: 5xx ratio 0.001309 over 5m (17 of 12989 responses) | ratio_5xx=0.001309;0.05;0.1;0;1 rate_5xx=0.056667;;;0; responses=12989;;;0; 5xx_total=1846c\n"
        );
    }

    #[test]
    fn ratio_at_and_around_the_thresholds() {
        let c = check("0.05", "0.1");
        for (five, state) in [
            (0, State::Ok),
            (5, State::Ok),
            (6, State::Warning),
            (10, State::Warning),
            (11, State::Critical),
            (100, State::Critical),
        ] {
            let o = c.evaluate(&with_window(100, five)).unwrap();
            assert_eq!(o.state, state, "{five} of 100");
        }
    }

    #[test]
    fn min_responses_keeps_it_ok_and_says_so() {
        let o = check("0.05", "0.1").evaluate(&with_window(19, 19)).unwrap();
        assert_eq!(o.state, State::Ok);
        assert_eq!(
            o.text,
            "only 19 responses over 5m, fewer than --min-responses 20: ratio not judged (19 were 5xx)"
        );
        assert_eq!(o.perfdata[0].to_string(), "ratio_5xx=1;0.05;0.1;0;1");
        let o = check("0.05", "0.1").evaluate(&with_window(20, 19)).unwrap();
        assert_eq!(o.state, State::Critical);
        let o = FiveXxCheck {
            min_responses: 0,
            ..check("0.05", "0.1")
        }
        .evaluate(&with_window(0, 0))
        .unwrap();
        assert_eq!(o.state, State::Ok);
        assert_eq!(o.perfdata[0].to_string(), "ratio_5xx=U;0.05;0.1;0;1");
    }

    #[test]
    fn per_second_moves_the_thresholds() {
        let c = FiveXxCheck {
            per_second: true,
            ..check("0.3", "0.9")
        };
        // 90 5xx in 300 s = 0.3/s: at the threshold, OK.
        let o = c.evaluate(&with_window(1000, 90)).unwrap();
        assert_eq!(o.state, State::Ok);
        assert_eq!(
            o.render("REPLAY 5XX").lines().next().unwrap(),
            "REPLAY 5XX OK: 0.3 5xx responses/s from staging over 5m (90 of 1000 responses) | ratio_5xx=0.09;;;0;1 rate_5xx=0.3;0.3;0.9;0; responses=1000;;;0; 5xx_total=1846c"
        );
        assert_eq!(
            c.evaluate(&with_window(1000, 91)).unwrap().state,
            State::Warning
        );
        assert_eq!(
            c.evaluate(&with_window(1000, 271)).unwrap().state,
            State::Critical
        );
        // No floor on responses for the rate.
        assert_eq!(c.evaluate(&with_window(5, 5)).unwrap().state, State::Ok);
        assert_eq!(
            FiveXxCheck {
                per_second: true,
                ..check("0.01", "0.02")
            }
            .evaluate(&with_window(10, 10))
            .unwrap()
            .state,
            State::Critical
        );
    }

    /// A daemon up for 10 s of its 5-minute window, with five 5xx answers in that time.
    fn young_daemon(covered_s: f64) -> StatusDocument {
        let mut doc = with_window(5, 5);
        doc.started_at = "2026-11-24T14:00:00Z".into();
        doc.now = "2026-11-24T14:00:10Z".into();
        doc.windows.get_mut("300").unwrap().covered_s = covered_s;
        doc
    }

    #[test]
    fn per_second_divides_by_the_time_the_window_covers() {
        let c = FiveXxCheck {
            per_second: true,
            ..check("0.3", "0.9")
        };
        // 5 in the 10 s covered: 0.5/s, past the warning threshold (not 5/300 = 0.0167/s).
        let o = c.evaluate(&young_daemon(10.0)).unwrap();
        assert_eq!(o.state, State::Warning);
        assert_eq!(
            o.render("REPLAY 5XX").lines().next().unwrap(),
            "REPLAY 5XX WARNING: 0.5 5xx responses/s from staging over 5m (daemon up for 10s) (5 of 5 responses) | ratio_5xx=1;;;0;1 rate_5xx=0.5;0.3;0.9;0; responses=5;;;0; 5xx_total=1846c"
        );
        // The ratio check's rate perfdata is the same figure.
        let o = check("0.05", "0.1").evaluate(&young_daemon(10.0)).unwrap();
        assert_eq!(o.perfdata[1].to_string(), "rate_5xx=0.5;;;0;");
    }

    #[test]
    fn per_second_without_covered_seconds_divides_by_the_window() {
        // A document from a daemon older than `covered_s`: the window's length is all there is.
        let c = FiveXxCheck {
            per_second: true,
            ..check("0.3", "0.9")
        };
        let o = c.evaluate(&young_daemon(0.0)).unwrap();
        assert_eq!(o.state, State::Ok);
        assert_eq!(
            o.text,
            "0.016667 5xx responses/s from staging over 5m (daemon up for 10s) (5 of 5 responses)"
        );
    }
}
