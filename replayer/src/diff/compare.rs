//! `compare`: production's answer and staging's answer to one request → what differs.
//!
//! The rules, each a [`Cause`]:
//! - **status**: the codes differ; **status_class** as well when their classes (2xx, 3xx,
//!   ...) differ, so a 200 against a 404 counts under both and a 301 against a 302 only
//!   under the first.
//! - **content_type**: the media types differ (`text/html; charset=utf-8` and `TEXT/HTML`
//!   are alike: parameters and case are not the page's kind).
//! - **location**: the `Location` headers differ once an absolute one loses its scheme and
//!   host (staging's redirects name staging's host; that is not a difference).
//! - **body** and **length**: compared only when the statuses are the same (a 404 page is
//!   not "another body" for a 200), by the digest of the decoded body (content coding and
//!   chunking undone, masks applied): **length** when the decoded lengths differ, **body**
//!   when the digests do. A body that did not decode on one side only is a body difference.
//!
//! Headers named by `--diff-ignore-header` (content-type, location) are not compared. The
//! latency ratio is not a cause: a slower staging is counted apart ([`Comparison::slower`]).

use std::time::Duration;

/// Why two answers differ. The order is the order of the status document's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    /// The status codes differ.
    Status,
    /// The status classes differ.
    StatusClass,
    /// The media types differ.
    ContentType,
    /// The redirect targets differ.
    Location,
    /// The decoded bodies differ.
    Body,
    /// The decoded lengths differ.
    Length,
}

impl Cause {
    /// Every cause, in order.
    pub const ALL: [Cause; 6] = [
        Cause::Status,
        Cause::StatusClass,
        Cause::ContentType,
        Cause::Location,
        Cause::Body,
        Cause::Length,
    ];

    /// The key in the status document and the metrics' `cause` label.
    pub fn key(self) -> &'static str {
        match self {
            Cause::Status => "status",
            Cause::StatusClass => "status_class",
            Cause::ContentType => "content_type",
            Cause::Location => "location",
            Cause::Body => "body",
            Cause::Length => "length",
        }
    }

    /// Whether this cause is about the body alone (the kind production's own noise explains).
    pub fn is_body(self) -> bool {
        matches!(self, Cause::Body | Cause::Length)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of causes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Causes(u8);

impl Causes {
    /// No difference.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `cause` is among them.
    pub fn contains(self, cause: Cause) -> bool {
        self.0 & cause.bit() != 0
    }

    /// Adds `cause`.
    pub fn insert(&mut self, cause: Cause) {
        self.0 |= cause.bit();
    }

    /// Whether every cause is about the body.
    pub fn only_body(self) -> bool {
        !self.is_empty() && self.iter().all(Cause::is_body)
    }

    /// The causes without the body ones.
    pub fn without_body(self) -> Causes {
        Causes(self.0 & !(Cause::Body.bit() | Cause::Length.bit()))
    }

    /// The causes, in [`Cause::ALL`]'s order.
    pub fn iter(self) -> impl Iterator<Item = Cause> {
        Cause::ALL.into_iter().filter(move |c| self.contains(*c))
    }

    /// The first cause, the one an example is filed under.
    pub fn first(self) -> Option<Cause> {
        self.iter().next()
    }
}

/// What one side answered, as far as the comparison needs it.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// Status code.
    pub status: u16,
    /// The `Content-Type` header's value, as sent.
    pub content_type: Option<&'a [u8]>,
    /// The `Location` header's value, as sent.
    pub location: Option<&'a [u8]>,
    /// Digest of the decoded body (up to the comparison's body limit).
    pub body_hash: u64,
    /// Length of the decoded body (all of it).
    pub body_len: u64,
    /// Whether the body decoded (false: an unknown or broken content coding).
    pub body_decoded: bool,
    /// How long the answer took: production's from the request's last byte to the
    /// response's first; staging's likewise as the worker saw it.
    pub latency: Option<Duration>,
}

/// The comparison's options.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Do not compare `Content-Type`.
    pub ignore_content_type: bool,
    /// Do not compare `Location`.
    pub ignore_location: bool,
    /// Staging counts as slower when its latency is over this many times production's...
    pub slower_ratio: f64,
    /// ...and over production's by at least this much (microsecond jitter is not slowness).
    pub slower_margin: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            ignore_content_type: false,
            ignore_location: false,
            slower_ratio: DEFAULT_SLOWER_RATIO,
            slower_margin: DEFAULT_SLOWER_MARGIN,
        }
    }
}

/// Staging is "slower" past this ratio of production's latency (`--diff-slower-ratio`).
pub const DEFAULT_SLOWER_RATIO: f64 = 3.0;
/// ... and past this absolute margin.
pub const DEFAULT_SLOWER_MARGIN: Duration = Duration::from_millis(50);

/// The outcome for one pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comparison {
    /// What differs; empty when the answers are alike.
    pub causes: Causes,
    /// Staging took over the ratio and the margin longer than production.
    pub slower: bool,
}

/// Compares production's answer with staging's.
pub fn compare(production: &Answer<'_>, staging: &Answer<'_>, rules: &Rules) -> Comparison {
    let mut causes = Causes::default();
    if production.status != staging.status {
        causes.insert(Cause::Status);
        if production.status / 100 != staging.status / 100 {
            causes.insert(Cause::StatusClass);
        }
    }
    if !rules.ignore_content_type
        && media_type(production.content_type) != media_type(staging.content_type)
    {
        causes.insert(Cause::ContentType);
    }
    if !rules.ignore_location
        && production.location.map(location_path) != staging.location.map(location_path)
    {
        causes.insert(Cause::Location);
    }
    if production.status == staging.status {
        if production.body_len != staging.body_len {
            causes.insert(Cause::Length);
        }
        if production.body_hash != staging.body_hash
            || production.body_decoded != staging.body_decoded
        {
            causes.insert(Cause::Body);
        }
    }
    Comparison {
        causes,
        slower: is_slower(production.latency, staging.latency, rules),
    }
}

fn is_slower(production: Option<Duration>, staging: Option<Duration>, rules: &Rules) -> bool {
    let (Some(p), Some(s)) = (production, staging) else {
        return false;
    };
    s > p + rules.slower_margin && s.as_secs_f64() > p.as_secs_f64() * rules.slower_ratio
}

/// The media type of a `Content-Type` value: before any `;`, trimmed, lowercase.
fn media_type(value: Option<&[u8]>) -> Option<Vec<u8>> {
    let value = value?;
    let end = value.iter().position(|&b| b == b';').unwrap_or(value.len());
    Some(value[..end].trim_ascii().to_ascii_lowercase())
}

/// A `Location` without the scheme and host of an absolute URL: what it points at on
/// whichever host answered.
fn location_path(value: &[u8]) -> &[u8] {
    let value = value.trim_ascii();
    let after_scheme = memchr::memmem::find(value, b"://").map(|i| &value[i + 3..]);
    let rest = match after_scheme {
        Some(rest) => rest,
        None if value.starts_with(b"//") => &value[2..],
        None => return value,
    };
    match rest.iter().position(|&b| b == b'/' || b == b'?') {
        Some(at) => &rest[at..],
        None => b"/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16) -> Answer<'static> {
        Answer {
            status,
            content_type: Some(b"text/html; charset=utf-8"),
            location: None,
            body_hash: 7,
            body_len: 100,
            body_decoded: true,
            latency: Some(Duration::from_millis(10)),
        }
    }

    fn causes(p: &Answer<'_>, s: &Answer<'_>) -> Vec<&'static str> {
        compare(p, s, &Rules::default())
            .causes
            .iter()
            .map(Cause::key)
            .collect()
    }

    #[test]
    fn alike_answers_have_no_cause() {
        let mut staging = answer(200);
        staging.content_type = Some(b"TEXT/HTML");
        let c = compare(&answer(200), &staging, &Rules::default());
        assert!(c.causes.is_empty());
        assert!(!c.slower);
    }

    #[test]
    fn status_and_class() {
        assert_eq!(
            causes(&answer(200), &answer(404)),
            ["status", "status_class"]
        );
        assert_eq!(causes(&answer(301), &answer(302)), ["status"]);
    }

    #[test]
    fn bodies_are_compared_only_for_the_same_status() {
        let mut other = answer(404);
        other.body_hash = 8;
        other.body_len = 5;
        assert_eq!(causes(&answer(200), &other), ["status", "status_class"]);
        other.status = 200;
        assert_eq!(causes(&answer(200), &other), ["body", "length"]);
        other.body_len = 100;
        assert_eq!(causes(&answer(200), &other), ["body"]);
        let mut undecoded = answer(200);
        undecoded.body_decoded = false;
        assert_eq!(causes(&answer(200), &undecoded), ["body"]);
    }

    #[test]
    fn content_type_is_its_media_type() {
        let mut json = answer(200);
        json.content_type = Some(b"application/json");
        assert_eq!(causes(&answer(200), &json), ["content_type"]);
        json.content_type = None;
        assert_eq!(causes(&answer(200), &json), ["content_type"]);
        let rules = Rules {
            ignore_content_type: true,
            ..Rules::default()
        };
        assert!(compare(&answer(200), &json, &rules).causes.is_empty());
    }

    #[test]
    fn location_hosts_are_normalised() {
        let mut p = answer(301);
        let mut s = answer(301);
        p.location = Some(b"https://www.example.org/new?x=1");
        s.location = Some(b"http://staging.internal:8080/new?x=1");
        assert_eq!(causes(&p, &s), Vec::<&str>::new());
        s.location = Some(b"/new?x=1");
        assert_eq!(causes(&p, &s), Vec::<&str>::new());
        s.location = Some(b"//cdn.example/new?x=1");
        assert_eq!(causes(&p, &s), Vec::<&str>::new());
        s.location = Some(b"https://www.example.org/old");
        assert_eq!(causes(&p, &s), ["location"]);
        p.location = Some(b"https://www.example.org");
        s.location = Some(b"http://staging/");
        assert_eq!(causes(&p, &s), Vec::<&str>::new());
    }

    #[test]
    fn slower_needs_the_ratio_and_the_margin() {
        let p = answer(200);
        let mut s = answer(200);
        s.latency = Some(Duration::from_millis(40)); // 4×, but only 30 ms more
        assert!(!compare(&p, &s, &Rules::default()).slower);
        s.latency = Some(Duration::from_millis(70)); // 7× and 60 ms more
        assert!(compare(&p, &s, &Rules::default()).slower);
        s.latency = None;
        assert!(!compare(&p, &s, &Rules::default()).slower);
    }

    #[test]
    fn cause_sets() {
        let mut c = Causes::default();
        c.insert(Cause::Length);
        c.insert(Cause::Body);
        assert!(c.only_body());
        assert_eq!(c.first(), Some(Cause::Body));
        c.insert(Cause::Status);
        assert!(!c.only_body());
        assert_eq!(c.without_body().iter().collect::<Vec<_>>(), [Cause::Status]);
    }
}
