//! The `limit` stage: how many requests go on, as GoReplay's limiters decide it.
//!
//! Two kinds, both counted as `sampled_out` when they drop a request:
//! - an output's own limit, written after its address: `URL|N` (at most N requests per
//!   second) or `URL|N%` (N percent of the requests);
//! - `-http-header-limiter 'Name: N%'`: keeps a request when the FNV-1a 32 hash of the
//!   header's value, modulo 100, is below N, so every request of one user (one cookie, one
//!   session id) is kept or dropped together. A request without the header is kept.
//!   `-http-param-limiter 'name: N%'` does the same with a query parameter's value (as
//!   written in the request-target, not decoded; the header limiters are applied first).
//!
//! Both are deterministic, unlike GoReplay's random percentage: a percentage keeps exactly
//! N of every 100 requests, evenly spread, and a rate counts per second of *capture* time
//! (the request's timestamp), so replaying a pcap file keeps the production rate limit
//! whatever the speed of the disk.

use crate::request::Request;

/// An output's limit, from the `|N` or `|N%` suffix of its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// At most this many requests per second (of capture time).
    PerSecond(u32),
    /// This percentage of the requests, 0 to 100.
    Percent(u8),
}

impl Limit {
    /// Parses `N` or `N%` (the part after `|`).
    pub fn parse(text: &str) -> Result<Limit, String> {
        let text = text.trim();
        if let Some(number) = text.strip_suffix('%') {
            let percent: u8 = number
                .trim()
                .parse()
                .ok()
                .filter(|p| *p <= 100)
                .ok_or_else(|| format!("limit '{text}' is not a percentage from 0% to 100%"))?;
            Ok(Limit::Percent(percent))
        } else {
            let rate: u32 = text.parse().ok().filter(|r| *r > 0).ok_or_else(|| {
                format!(
                    "limit '{text}' is neither requests per second (N > 0) nor a percentage (N%)"
                )
            })?;
            Ok(Limit::PerSecond(rate))
        }
    }

    /// Splits `ADDRESS|LIMIT` into the address and its optional limit.
    pub fn split(text: &str) -> Result<(&str, Option<Limit>), String> {
        match text.rsplit_once('|') {
            Some((address, limit)) => Ok((address, Some(Limit::parse(limit)?))),
            None => Ok((text, None)),
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::PerSecond(n) => write!(f, "{n}"),
            Limit::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// The state of one [`Limit`]: each output (or replay target) has its own.
#[derive(Debug, Clone)]
pub struct Limiter {
    limit: Limit,
    /// Requests offered so far (percentage) or in the current second (rate).
    offered: u64,
    /// Requests let through so far (percentage) or in the current second (rate).
    kept: u64,
    /// The capture second the rate counters belong to.
    second: u64,
}

impl Limiter {
    /// A limiter with nothing counted yet: the first request of a rate limit starts its
    /// first second.
    pub fn new(limit: Limit) -> Limiter {
        Limiter {
            limit,
            offered: 0,
            kept: 0,
            second: u64::MAX,
        }
    }

    /// The [`Limit`] it was made with, e.g. to name it in a log line.
    pub fn limit(&self) -> Limit {
        self.limit
    }

    /// Whether this request may go on; counts it either way.
    pub fn allow(&mut self, request: &Request) -> bool {
        match self.limit {
            Limit::PerSecond(rate) => {
                let second = request.captured_at_ns / 1_000_000_000;
                if second != self.second {
                    self.second = second;
                    self.kept = 0;
                }
                if self.kept < u64::from(rate) {
                    self.kept += 1;
                    true
                } else {
                    false
                }
            }
            Limit::Percent(percent) => {
                // Keep request n when floor(n·p/100) steps up: exactly p of every 100,
                // spread evenly rather than in bursts.
                self.offered += 1;
                let due = self.offered * u64::from(percent) / 100;
                if due > self.kept {
                    self.kept = due;
                    true
                } else {
                    false
                }
            }
        }
    }
}

/// What a [`HashLimiter`] hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hashed {
    /// A header's value (`-http-header-limiter`).
    Header,
    /// A query parameter's value (`-http-param-limiter`).
    Param,
}

/// `-http-header-limiter 'Name: N%'` or `-http-param-limiter 'name: N%'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashLimiter {
    /// What is hashed: a header or a query parameter.
    pub of: Hashed,
    /// The header (matched without case; the first one counts) or the query parameter
    /// (matched exactly, as GoReplay) whose value is hashed.
    pub name: String,
    /// Share of values kept, 0 to 100: a value is kept when its hash modulo 100 is below
    /// this.
    pub percent: u8,
}

impl HashLimiter {
    /// Parses `Name: N%` for `of` (split at the first `:`, both sides trimmed).
    pub fn parse(of: Hashed, text: &str) -> Result<HashLimiter, String> {
        let (name, value) = text
            .split_once(':')
            .ok_or_else(|| format!("'{text}' is not 'Name: N%'"))?;
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("'{text}' has no name"));
        }
        match Limit::parse(value) {
            Ok(Limit::Percent(percent)) => Ok(HashLimiter {
                of,
                name: name.to_string(),
                percent,
            }),
            _ => Err(format!(
                "'{}' is not a percentage from 0% to 100% (in '{text}')",
                value.trim()
            )),
        }
    }

    /// Whether the request is kept: no such header or parameter → kept; otherwise by the
    /// hash of its value.
    pub fn allow(&self, request: &Request) -> bool {
        let value = match self.of {
            Hashed::Header => request.header(&self.name),
            Hashed::Param => query_param(&request.target, &self.name),
        };
        value.is_none_or(|value| fnv1a32(value) % 100 < u32::from(self.percent))
    }
}

impl std::fmt::Display for HashLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}%", self.name, self.percent)
    }
}

/// The value of query parameter `name` in `target`, found as GoReplay finds it: after
/// `&name=` (first) or `?name=`, up to the next `&`; as written, not percent-decoded.
/// `None` when the parameter is not there with an `=`.
pub fn query_param<'a>(target: &'a str, name: &str) -> Option<&'a [u8]> {
    let start = [b'&', b'?'].iter().find_map(|&lead| {
        let needle = format!("{}{name}=", lead as char);
        target.find(&needle).map(|at| at + needle.len())
    })?;
    let value = &target[start..];
    Some(value.split('&').next().unwrap_or(value).as_bytes())
}

/// FNV-1a, 32 bits: the hash GoReplay's header limiter uses, so the same users are sampled.
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    const OFFSET_BASIS: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    bytes.iter().fold(OFFSET_BASIS, |hash, &byte| {
        (hash ^ u32::from(byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::test_support::request as test_request;

    #[test]
    fn fnv1a32_matches_reference_vectors() {
        // Published FNV-1a 32 test vectors.
        assert_eq!(fnv1a32(b""), 0x811c9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9cf968);
    }

    #[test]
    fn parses_limits() {
        assert_eq!(Limit::parse("10"), Ok(Limit::PerSecond(10)));
        assert_eq!(Limit::parse("10%"), Ok(Limit::Percent(10)));
        assert_eq!(Limit::parse(" 100% "), Ok(Limit::Percent(100)));
        assert_eq!(Limit::parse("0%"), Ok(Limit::Percent(0)));
        assert!(Limit::parse("101%").is_err());
        assert!(Limit::parse("0").is_err());
        assert!(Limit::parse("-1").is_err());
        assert!(Limit::parse("ten").is_err());
        assert!(Limit::parse("").is_err());
        assert_eq!(
            Limit::split("http://s:8080|25%"),
            Ok(("http://s:8080", Some(Limit::Percent(25))))
        );
        assert_eq!(Limit::split("http://s"), Ok(("http://s", None)));
        assert!(Limit::split("http://s|x").is_err());
    }

    #[test]
    fn percentage_keeps_exactly_n_of_every_hundred() {
        let mut limiter = Limiter::new(Limit::Percent(25));
        let request = test_request("GET", "/");
        let kept: Vec<bool> = (0..8).map(|_| limiter.allow(&request)).collect();
        assert_eq!(kept, [false, false, false, true, false, false, false, true]);
        let kept = (8..1000).filter(|_| limiter.allow(&request)).count() + 2;
        assert_eq!(kept, 250);
        let mut none = Limiter::new(Limit::Percent(0));
        assert!((0..100).all(|_| !none.allow(&request)));
        let mut all = Limiter::new(Limit::Percent(100));
        assert!((0..100).all(|_| all.allow(&request)));
    }

    #[test]
    fn rate_counts_per_capture_second() {
        let mut limiter = Limiter::new(Limit::PerSecond(2));
        let mut request = test_request("GET", "/");
        let mut at = |ns: u64| {
            request.captured_at_ns = ns;
            limiter.allow(&request)
        };
        assert!(at(5_000_000_000));
        assert!(at(5_100_000_000));
        assert!(!at(5_900_000_000));
        assert!(at(6_000_000_000), "a new second starts a new count");
        assert!(at(6_000_000_001));
        assert!(!at(6_999_999_999));
    }

    #[test]
    fn header_limiter_hashes_the_value() {
        let header = |text: &str| HashLimiter::parse(Hashed::Header, text);
        let limiter = header(" X-User-Id : 50% ").unwrap();
        assert_eq!(
            limiter,
            HashLimiter {
                of: Hashed::Header,
                name: "X-User-Id".into(),
                percent: 50
            }
        );
        let mut request = test_request("GET", "/");
        assert!(limiter.allow(&request), "no header: kept");
        // fnv1a32("a") % 100 = 3826002220 % 100 = 20 → kept at 50% and 21%, dropped at 20%.
        request.headers.push(crate::request::Header {
            name: "x-user-id".into(),
            value: b"a".to_vec().into(),
        });
        assert!(limiter.allow(&request));
        assert!(!header("X-User-Id: 20%").unwrap().allow(&request));
        assert!(header("X-User-Id: 21%").unwrap().allow(&request));
        assert!(header("X-User-Id 50%").is_err());
        assert!(header("X-User-Id: 50").is_err());
        assert!(header(": 50%").is_err());
    }

    #[test]
    fn param_limiter_hashes_the_parameter_as_written() {
        assert_eq!(query_param("/p?a=1&user=a&b=2", "user"), Some(&b"a"[..]));
        assert_eq!(query_param("/p?user=a", "user"), Some(&b"a"[..]));
        assert_eq!(query_param("/p?user=", "user"), Some(&b""[..]));
        assert_eq!(query_param("/p?xuser=a", "user"), None);
        assert_eq!(query_param("/p?user", "user"), None);
        assert_eq!(query_param("/user=a", "user"), None);
        // GoReplay looks for `&name=` before `?name=`.
        assert_eq!(query_param("/p?user=a&user=b", "user"), Some(&b"b"[..]));
        let param = |text: &str| HashLimiter::parse(Hashed::Param, text).unwrap();
        // fnv1a32("a") % 100 == 20, as above.
        assert!(!param("user: 20%").allow(&test_request("GET", "/p?user=a")));
        assert!(param("user: 21%").allow(&test_request("GET", "/p?user=a")));
        assert!(param("user: 0%").allow(&test_request("GET", "/p?other=a")));
        assert!(!param("user: 0%").allow(&test_request("GET", "/p?user=")));
    }
}
