//! Threshold ranges as the Monitoring Plugins guidelines define them: `[@][start][:end]`.
//!
//! | range     | alerts when            |
//! |-----------|------------------------|
//! | `10`      | x < 0 or x > 10        |
//! | `10:`     | x < 10                 |
//! | `~:10`    | x > 10                 |
//! | `10:20`   | x < 10 or x > 20       |
//! | `@10:20`  | 10 ≤ x ≤ 20            |
//!
//! Endpoints are inside the range, so they never alert unless `@` inverts it. A missing start
//! is 0, `~` is minus infinity, a missing end (after the colon) is plus infinity.
//!
//! Unlike the C library behind `check_procs` (which reads `abc` as 0 through `strtod`), every
//! number must be a plain decimal (`-1`, `0.5`, `2e3`): anything else is an error, because a
//! typo in a threshold must never pass for a threshold of zero.

use std::fmt;
use std::str::FromStr;

/// A parsed range. `start`/`end` of `None` mean minus/plus infinity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// The lowest value inside the range; `None` is minus infinity (`~`).
    pub start: Option<f64>,
    /// The highest value inside the range; `None` is plus infinity (nothing after the `:`).
    pub end: Option<f64>,
    /// `@`: alert when inside instead of outside.
    pub inverted: bool,
}

/// Why a range could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid range {input:?}: {reason}")]
pub struct RangeError {
    /// The text that was given, whole.
    pub input: String,
    /// What is wrong with it, in a few words.
    pub reason: &'static str,
}

impl Range {
    /// Whether `value` is inside the range (endpoints included), ignoring `@`.
    pub fn contains(&self, value: f64) -> bool {
        self.start.is_none_or(|s| value >= s) && self.end.is_none_or(|e| value <= e)
    }

    /// Whether `value` should raise this range's alert: outside it, or inside it with `@`.
    pub fn alerts(&self, value: f64) -> bool {
        self.contains(value) == self.inverted
    }
}

impl FromStr for Range {
    type Err = RangeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| RangeError {
            input: input.to_string(),
            reason,
        };
        let (inverted, body) = match input.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, input),
        };
        if body.is_empty() {
            return Err(err("empty"));
        }
        let (start, end) = match body.split_once(':') {
            None => (Some(0.0), Some(parse_number(body).ok_or(err(NUMBER))?)),
            Some((s, e)) => {
                let start = match s {
                    "~" => None,
                    "" => Some(0.0),
                    s => Some(parse_number(s).ok_or(err(NUMBER))?),
                };
                let end = match e {
                    "" => None,
                    e => Some(parse_number(e).ok_or(err(NUMBER))?),
                };
                (start, end)
            }
        };
        if let (Some(s), Some(e)) = (start, end) {
            if s > e {
                return Err(err("start is greater than end"));
            }
        }
        Ok(Range {
            start,
            end,
            inverted,
        })
    }
}

const NUMBER: &str = "expected [@][start][:end] with decimal numbers, e.g. 10, 10:, ~:10, @10:20";

/// A plain decimal number: optional sign, digits with an optional fraction, optional exponent.
/// No hex, no `inf`/`nan`, no spaces (all of which `strtod` would take).
fn parse_number(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        i += usize::from(matches!(b.get(i), Some(b'+' | b'-')));
        let exp_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp_digits == 0 {
            return None;
        }
        i += exp_digits;
    }
    if i != b.len() {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Shortest decimal that reads back as the same number (`0.1`, `10`, `-2.5`).
pub(crate) fn fmt_endpoint(v: f64) -> String {
    // `{}` on f64 is the shortest round-trip form and never uses an exponent.
    let s = format!("{v}");
    if s == "-0" {
        "0".to_string()
    } else {
        s
    }
}

impl fmt::Display for Range {
    /// The canonical short form: `10`, `10:`, `~:10`, `5:10`, `@10:20`, `~:`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inverted {
            f.write_str("@")?;
        }
        match (self.start, self.end) {
            (Some(0.0), Some(e)) => write!(f, "{}", fmt_endpoint(e)),
            (Some(s), Some(e)) => write!(f, "{}:{}", fmt_endpoint(s), fmt_endpoint(e)),
            (Some(s), None) => write!(f, "{}:", fmt_endpoint(s)),
            (None, Some(e)) => write!(f, "~:{}", fmt_endpoint(e)),
            (None, None) => f.write_str("~:"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Range {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Every row of the table in docs/design.md, 'Ranges', at, just inside and just outside
    /// each endpoint.
    #[test]
    fn design_table_at_and_around_every_endpoint() {
        let eps = 1e-9;
        // (range, value, alerts)
        let cases: &[(&str, f64, bool)] = &[
            // `10`: alert if < 0 or > 10
            ("10", -1.0, true),
            ("10", -eps, true),
            ("10", 0.0, false),
            ("10", eps, false),
            ("10", 5.0, false),
            ("10", 10.0 - eps, false),
            ("10", 10.0, false),
            ("10", 10.0 + eps, true),
            ("10", 11.0, true),
            // `10:`: alert if < 10
            ("10:", -1e12, true),
            ("10:", 0.0, true),
            ("10:", 10.0 - eps, true),
            ("10:", 10.0, false),
            ("10:", 10.0 + eps, false),
            ("10:", 1e12, false),
            // `~:10`: alert if > 10
            ("~:10", -1e12, false),
            ("~:10", -1.0, false),
            ("~:10", 10.0, false),
            ("~:10", 10.0 + eps, true),
            ("~:10", 1e12, true),
            // `10:20`: alert if < 10 or > 20
            ("10:20", 10.0 - eps, true),
            ("10:20", 10.0, false),
            ("10:20", 15.0, false),
            ("10:20", 20.0, false),
            ("10:20", 20.0 + eps, true),
            // `@10:20`: alert if 10 <= x <= 20
            ("@10:20", 10.0 - eps, false),
            ("@10:20", 10.0, true),
            ("@10:20", 15.0, true),
            ("@10:20", 20.0, true),
            ("@10:20", 20.0 + eps, false),
            // the process-count ranges of check_procs
            ("1:", 0.0, true),
            ("1:", 1.0, false),
            ("2:", 1.0, true),
            ("2:", 2.0, false),
            ("1", 0.0, false),
            ("1", 1.0, false),
            ("1", 2.0, true),
            ("0", 0.0, false),
            ("0", 1.0, true),
            ("@1", 0.0, true),
            ("@1", 1.0, true),
            ("@1", 2.0, false),
            ("@1:1", 0.0, false),
            ("@1:1", 1.0, true),
            ("@1:1", 2.0, false),
            ("@2:5", 1.0, false),
            ("@2:5", 2.0, true),
            ("@2:5", 5.0, true),
            ("@2:5", 6.0, false),
            ("~:0", 0.0, false),
            ("~:0", 1.0, true),
            ("~:0", -1.0, false),
            ("~:1", 1.0, false),
            ("~:1", 2.0, true),
            // rates and ratios
            ("0.1:", 0.1, false),
            ("0.1:", 0.099_999, true),
            ("0.05", 0.05, false),
            ("0.05", 0.050_001, true),
            ("@0", 0.0, true),
            ("@0", 0.1, false),
            ("~:", -1e300, false),
            ("~:", 1e300, false),
            ("@~:", 0.0, true),
            ("-5:-1", -5.0, false),
            ("-5:-1", -0.5, true),
            (":5", 5.0, false),
            (":5", -1.0, true),
        ];
        for &(range, value, alerts) in cases {
            assert_eq!(r(range).alerts(value), alerts, "{range} at {value}");
        }
    }

    #[test]
    fn parses_into_endpoints() {
        let full = |start, end, inverted| Range {
            start,
            end,
            inverted,
        };
        assert_eq!(r("10"), full(Some(0.0), Some(10.0), false));
        assert_eq!(r("10:"), full(Some(10.0), None, false));
        assert_eq!(r("~:10"), full(None, Some(10.0), false));
        assert_eq!(r("@10:20"), full(Some(10.0), Some(20.0), true));
        assert_eq!(r("~:"), full(None, None, false));
        assert_eq!(r(":"), full(Some(0.0), None, false));
        assert_eq!(r("1.5e1:+2E1"), full(Some(15.0), Some(20.0), false));
        assert_eq!(r(".5:5."), full(Some(0.5), Some(5.0), false));
    }

    #[test]
    fn garbage_and_reversed_ranges_are_errors() {
        for bad in [
            "", "@", "abc", "1:abc", "abc:1", "~", "~10", "@@1", "1:2:3", "0x10", "inf", "nan",
            "1e", "1e+", ".", "-", " 1", "1 ", "1,5", "10:~", "1;2", "5:1", "@20:10", "1e400",
        ] {
            let e = bad.parse::<Range>().expect_err(bad);
            assert!(e.to_string().starts_with("invalid range"), "{e}");
        }
        assert_eq!(
            "5:1".parse::<Range>().unwrap_err().reason,
            "start is greater than end"
        );
        // Equal ends are a one-point range, not an error.
        assert!(r("3:3").contains(3.0));
    }

    #[test]
    fn display_is_canonical_and_round_trips() {
        for (input, shown) in [
            ("10", "10"),
            ("0:10", "10"),
            ("10:", "10:"),
            ("~:10", "~:10"),
            ("10:20", "10:20"),
            ("@10:20", "@10:20"),
            ("@1", "@1"),
            ("~:", "~:"),
            (":", "0:"),
            (":5", "5"),
            ("0.1:", "0.1:"),
            ("-0:1", "1"),
            ("2.50", "2.5"),
            ("1e3", "1000"),
            ("-5:-1", "-5:-1"),
            ("0.30000000000000004", "0.30000000000000004"),
        ] {
            let range = r(input);
            assert_eq!(range.to_string(), shown, "{input}");
            assert_eq!(r(shown), range, "round trip of {input}");
        }
    }
}
