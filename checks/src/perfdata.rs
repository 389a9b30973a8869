//! Performance data: `'label'=value[UOM];warn;crit;min;max`, as graphers (PNP, Graphite,
//! InfluxDB writers in Icinga 2) parse it.
//!
//! Labels are quoted when they contain a space, `'` or `=`, with an embedded `'` doubled.
//! Values are plain decimals with `.` and at most six decimal places, so `0.1 + 0.2` prints as
//! `0.3`, not `0.30000000000000004`; an unknown value is `U`. Units come only from the
//! guidelines' list, enforced by the [`Uom`] type.

use crate::range::Range;
use std::fmt;

/// The units of measurement the guidelines allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Uom {
    /// A plain number (count, rate, ratio).
    #[default]
    None,
    /// `s`.
    Seconds,
    /// `ms`.
    Milliseconds,
    /// `us` (the guidelines' spelling of µs).
    Microseconds,
    /// `%`: 0 to 100, not a ratio.
    Percent,
    /// `B`.
    Bytes,
    /// `KB`.
    Kilobytes,
    /// `MB`.
    Megabytes,
    /// `TB`.
    Terabytes,
    /// A continuous counter (total since start); graphers derive a rate from it.
    Counter,
}

impl Uom {
    /// The suffix as printed after the value (`""` for [`Uom::None`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Uom::None => "",
            Uom::Seconds => "s",
            Uom::Milliseconds => "ms",
            Uom::Microseconds => "us",
            Uom::Percent => "%",
            Uom::Bytes => "B",
            Uom::Kilobytes => "KB",
            Uom::Megabytes => "MB",
            Uom::Terabytes => "TB",
            Uom::Counter => "c",
        }
    }
}

/// A threshold as printed in perfdata: either a parsed range (shown canonically) or, for the
/// `check_procs` drop-in, the exact text the user gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Threshold {
    /// A range, printed in its canonical form (`10:`, `~:5`, `@1:2`).
    Range(Range),
    /// Printed exactly as the user gave it, as `check_procs` does (`-c 01:` stays `01:`,
    /// `-c ''` prints nothing).
    Verbatim(String),
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Range(r) => r.fmt(f),
            Threshold::Verbatim(s) => f.write_str(s),
        }
    }
}

/// One perfdata item.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Perfdata {
    /// The name graphers file the series under; quoted on output when it needs to be.
    pub label: String,
    /// `None` prints `U` (value unknown).
    pub value: Option<f64>,
    /// The unit printed right after the value.
    pub uom: Uom,
    /// The warning threshold, printed in the first `;` field (empty when `None`).
    pub warn: Option<Threshold>,
    /// The critical threshold, the second field.
    pub crit: Option<Threshold>,
    /// The smallest possible value, for graph scales (0 for counts and rates).
    pub min: Option<f64>,
    /// The largest possible value (1 for ratios); `None` for unbounded ones.
    pub max: Option<f64>,
}

impl Perfdata {
    /// An item with a label and a value (`None`: unknown, printed `U`), no unit, no
    /// thresholds and no bounds; the builder methods below add those.
    pub fn new(label: impl Into<String>, value: Option<f64>) -> Perfdata {
        Perfdata {
            label: label.into(),
            value,
            ..Perfdata::default()
        }
    }

    /// A total since start, with UOM `c` (graphers derive the rate), in the short form
    /// `seen=42c` to keep the first line short.
    pub fn counter(label: impl Into<String>, value: u64) -> Perfdata {
        Perfdata {
            uom: Uom::Counter,
            ..Perfdata::new(label, Some(value as f64))
        }
    }

    /// Sets the unit.
    pub fn uom(mut self, uom: Uom) -> Perfdata {
        self.uom = uom;
        self
    }

    /// Sets both thresholds (either may be `None`: its field is printed empty).
    pub fn thresholds(mut self, warn: Option<Threshold>, crit: Option<Threshold>) -> Perfdata {
        self.warn = warn;
        self.crit = crit;
        self
    }

    /// Sets the lower bound of the value's scale.
    pub fn min(mut self, min: f64) -> Perfdata {
        self.min = Some(min);
        self
    }

    /// Sets the upper bound of the value's scale.
    pub fn max(mut self, max: f64) -> Perfdata {
        self.max = Some(max);
        self
    }
}

/// A value for perfdata or text: at most six decimals, trailing zeros dropped, never `-0`,
/// `U` for NaN or infinity.
pub fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        return "U".to_string();
    }
    let mut s = format!("{v:.6}");
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s = "0".to_string();
    }
    s
}

fn quote_label(label: &str) -> String {
    if label.contains([' ', '\'', '=']) {
        format!("'{}'", label.replace('\'', "''"))
    } else {
        label.to_string()
    }
}

impl fmt::Display for Perfdata {
    /// `label=value[UOM]`, then `;warn;crit;min;max` when any of them is set (all four
    /// separators, as `check_procs` prints them: `procs=0;;1:;0;`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.value.map_or("U".to_string(), fmt_value);
        write!(
            f,
            "{}={value}{}",
            quote_label(&self.label),
            self.uom.as_str()
        )?;
        if self.warn.is_some() || self.crit.is_some() || self.min.is_some() || self.max.is_some() {
            let t = |t: &Option<Threshold>| t.as_ref().map(|t| t.to_string()).unwrap_or_default();
            let n = |n: Option<f64>| n.map(fmt_value).unwrap_or_default();
            write!(
                f,
                ";{};{};{};{}",
                t(&self.warn),
                t(&self.crit),
                n(self.min),
                n(self.max)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(s: &str) -> Option<Threshold> {
        Some(Threshold::Range(s.parse().unwrap()))
    }

    #[test]
    fn check_procs_shape() {
        let p = Perfdata::new("procs", Some(0.0))
            .thresholds(None, Some(Threshold::Verbatim("1:".into())))
            .min(0.0);
        assert_eq!(p.to_string(), "procs=0;;1:;0;");
    }

    #[test]
    fn values_without_float_noise() {
        for (v, s) in [
            (0.1 + 0.2, "0.3"),
            (0.0, "0"),
            (-0.0, "0"),
            (-1e-9, "0"),
            (1.0, "1"),
            (2.5, "2.5"),
            (1.0 / 3.0, "0.333333"),
            (0.000_001, "0.000001"),
            (123_456_789.0, "123456789"),
            (1e20, "100000000000000000000"),
            (-7.25, "-7.25"),
            (f64::NAN, "U"),
            (f64::INFINITY, "U"),
        ] {
            assert_eq!(fmt_value(v), s, "{v:?}");
        }
    }

    #[test]
    fn labels_are_quoted_when_needed() {
        assert_eq!(Perfdata::new("rate", Some(1.0)).to_string(), "rate=1");
        assert_eq!(
            Perfdata::new("replay rate", Some(1.0)).to_string(),
            "'replay rate'=1"
        );
        assert_eq!(Perfdata::new("it's", Some(1.0)).to_string(), "'it''s'=1");
        assert_eq!(Perfdata::new("a=b", Some(1.0)).to_string(), "'a=b'=1");
        assert_eq!(
            Perfdata::new("'quoted' x", Some(1.0)).to_string(),
            "'''quoted'' x'=1"
        );
        assert_eq!(Perfdata::new("/var", Some(1.0)).to_string(), "/var=1");
    }

    #[test]
    fn unknown_units_counters_and_thresholds() {
        assert_eq!(Perfdata::new("rate", None).to_string(), "rate=U");
        assert_eq!(
            Perfdata::new("rate", None).min(0.0).to_string(),
            "rate=U;;;0;"
        );
        assert_eq!(Perfdata::counter("seen", 42).to_string(), "seen=42c");
        assert_eq!(
            Perfdata::new("ratio_5xx", Some(0.1 + 0.2))
                .thresholds(range("0.05"), range("0.1"))
                .min(0.0)
                .max(1.0)
                .to_string(),
            "ratio_5xx=0.3;0.05;0.1;0;1"
        );
        assert_eq!(
            Perfdata::new("rate", Some(0.5))
                .thresholds(range("0.1:"), range("@0:0.01"))
                .to_string(),
            "rate=0.5;0.1:;@0.01;;"
        );
        assert_eq!(
            Perfdata::new("p99", Some(12.5))
                .uom(Uom::Milliseconds)
                .to_string(),
            "p99=12.5ms"
        );
        let all = [
            Uom::None,
            Uom::Seconds,
            Uom::Milliseconds,
            Uom::Microseconds,
            Uom::Percent,
            Uom::Bytes,
            Uom::Kilobytes,
            Uom::Megabytes,
            Uom::Terabytes,
            Uom::Counter,
        ];
        let units: Vec<&str> = all.iter().map(|u| u.as_str()).collect();
        assert_eq!(
            units,
            ["", "s", "ms", "us", "%", "B", "KB", "MB", "TB", "c"]
        );
    }
}
