//! `filter` → `rewrite` → `limit` chained in GoReplay's order, with the counters the status
//! document reports. Both the command-line flow (`app`) and the daemon call
//! [`Stages::process`] once per captured request, on the capture thread: it never blocks.
//!
//! GoReplay's order, which decides what each rule sees: method filter (with our loop marker
//! and method-override checks), set header, set param, URL allow, URL deny, header
//! allow/deny, header limiters, URL rewrite; then ours: credentials stripped, marker added.
//! Per-output limits (`URL|N`, `URL|N%`) come after, one [`crate::limit::Limiter`] per output.

use crate::config::Config;
use crate::filter::{FilterConfig, Reason};
use crate::limit::HeaderLimiter;
use crate::request::Request;
use crate::rewrite::RewriteConfig;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// What happened to captured requests, read at any moment by the status server. Relaxed
/// atomics: monotonic totals. `seen = filtered + sampled_out + passed`; an output's own
/// limiter adds to `sampled_out` too (without touching `passed`).
#[derive(Debug, Default)]
pub struct FlowStats {
    pub seen: AtomicU64,
    pub filtered: AtomicU64,
    pub sampled_out: AtomicU64,
    pub passed: AtomicU64,
    /// The part of `filtered` that carried the marker header (a replay loop).
    pub filtered_loop: AtomicU64,
    /// The part of `filtered` whose method (or override header) is not replayed.
    pub filtered_method: AtomicU64,
}

impl FlowStats {
    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request an output's own limiter dropped.
    pub fn count_sampled_out(&self) {
        FlowStats::count(&self.sampled_out);
    }
}

/// The three stages with their settings and counters.
#[derive(Debug)]
pub struct Stages {
    filter: FilterConfig,
    rewrite: RewriteConfig,
    header_limiters: Vec<HeaderLimiter>,
    stats: Arc<FlowStats>,
}

impl Stages {
    pub fn new(config: &Config, stats: Arc<FlowStats>) -> Stages {
        Stages::from_parts(
            config.filter.clone(),
            config.rewrite.clone(),
            config.header_limiters.clone(),
            stats,
        )
    }

    pub fn from_parts(
        filter: FilterConfig,
        rewrite: RewriteConfig,
        header_limiters: Vec<HeaderLimiter>,
        stats: Arc<FlowStats>,
    ) -> Stages {
        Stages {
            filter,
            rewrite,
            header_limiters,
            stats,
        }
    }

    pub fn stats(&self) -> &Arc<FlowStats> {
        &self.stats
    }

    /// Runs one request through every stage: `Some` (rewritten) if it goes on to the outputs.
    pub fn process(&self, mut request: Request) -> Option<Request> {
        self.pass(&mut request).then_some(request)
    }

    /// [`Stages::process`] in place: `true` if the (rewritten) request goes on to the
    /// outputs. The capture side uses this one: a `Request` is a few hundred bytes, and
    /// moving it in and out costs more than some stages do.
    pub fn pass(&self, request: &mut Request) -> bool {
        FlowStats::count(&self.stats.seen);
        if let Err(reason) = self.filter.check_method(request) {
            self.count_filtered(reason);
            return false;
        }
        self.rewrite.set_headers(request);
        self.rewrite.set_params(request);
        if let Err(reason) = self.filter.check_url_and_headers(request) {
            self.count_filtered(reason);
            return false;
        }
        if !self.header_limiters.iter().all(|l| l.allow(request)) {
            FlowStats::count(&self.stats.sampled_out);
            return false;
        }
        self.rewrite.rewrite_url(request);
        self.rewrite.finish(request);
        FlowStats::count(&self.stats.passed);
        true
    }

    fn count_filtered(&self, reason: Reason) {
        FlowStats::count(&self.stats.filtered);
        match reason {
            Reason::Loop => FlowStats::count(&self.stats.filtered_loop),
            Reason::Method | Reason::MethodOverride => {
                FlowStats::count(&self.stats.filtered_method)
            }
            _ => {}
        }
    }
}

/// Hand-made requests for the unit tests of every stage.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::request::{Connection, Header, Request};

    pub fn request(method: &str, target: &str) -> Request {
        Request {
            id: 7,
            captured_at_ns: 1_700_000_000_123_456_789,
            connection: Connection {
                client: "192.0.2.10:50000".parse().unwrap(),
                server: "192.0.2.1:80".parse().unwrap(),
            },
            method: method.into(),
            target: target.into(),
            version_minor: 1,
            headers: Default::default(),
            body: bytes::Bytes::new(),
        }
    }

    pub fn with_header(mut request: Request, name: &str, value: &str) -> Request {
        request.headers.push(Header {
            name: name.into(),
            value: value.as_bytes().to_vec().into(),
        });
        request
    }

    pub fn header_lines(request: &Request) -> Vec<String> {
        request
            .headers
            .iter()
            .map(|h| format!("{}: {}", h.name, String::from_utf8_lossy(h.value)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use crate::filter::{compile_regex, HeaderRule};
    use crate::rewrite::{SetHeader, UrlRewrite};

    fn stages(
        filter: FilterConfig,
        rewrite: RewriteConfig,
        limiters: Vec<HeaderLimiter>,
    ) -> Stages {
        Stages::from_parts(filter, rewrite, limiters, Arc::new(FlowStats::default()))
    }

    fn counts(stages: &Stages) -> [u64; 6] {
        let s = stages.stats();
        [
            s.seen.load(Ordering::Relaxed),
            s.filtered.load(Ordering::Relaxed),
            s.sampled_out.load(Ordering::Relaxed),
            s.passed.load(Ordering::Relaxed),
            s.filtered_loop.load(Ordering::Relaxed),
            s.filtered_method.load(Ordering::Relaxed),
        ]
    }

    #[test]
    fn defaults_pass_safe_methods_rewritten_and_count_every_drop() {
        let stages = stages(FilterConfig::default(), RewriteConfig::default(), vec![]);
        let get = with_header(request("GET", "/a"), "Cookie", "s=1");
        let out = stages.process(get).expect("GET passes");
        assert_eq!(header_lines(&out), ["X-Replayed-By: replayer"]);
        assert!(stages.process(request("POST", "/a")).is_none());
        assert!(stages.process(request("DELETE", "/a")).is_none());
        // A replayed request seen again (the marker survives a round trip): a loop.
        assert!(stages.process(out).is_none());
        assert_eq!(counts(&stages), [4, 3, 0, 1, 1, 2]);
    }

    #[test]
    fn goreplay_order_set_header_is_seen_by_header_filters_and_url_rewrite_comes_last() {
        let filter = FilterConfig {
            // The allow rule only matches the value set by -http-set-header.
            allow_headers: vec![HeaderRule::parse("X-Env: ^staging$").unwrap()],
            // The deny rule is on the original URL: it applies before the rewrite.
            disallow_urls: vec![compile_regex("^/old/secret").unwrap()],
            ..FilterConfig::default()
        };
        let rewrite = RewriteConfig {
            set_headers: vec![SetHeader::parse("X-Env: staging").unwrap()],
            url_rewrites: vec![UrlRewrite::parse("^/old/:/new/").unwrap()],
            ..RewriteConfig::default()
        };
        let stages = stages(filter, rewrite, vec![]);
        let out = stages.process(request("GET", "/old/page")).unwrap();
        assert_eq!(out.target, "/new/page");
        assert_eq!(
            header_lines(&out),
            ["X-Env: staging", "X-Replayed-By: replayer"]
        );
        assert!(stages.process(request("GET", "/old/secret")).is_none());
        assert_eq!(counts(&stages), [2, 1, 0, 1, 0, 0]);
    }

    #[test]
    fn header_limiter_drops_are_sampled_out() {
        let limiter = HeaderLimiter::parse("X-User: 20%").unwrap();
        let stages = stages(
            FilterConfig::default(),
            RewriteConfig::default(),
            vec![limiter],
        );
        // fnv1a32("a") % 100 == 20: dropped at 20%; "no header" passes.
        assert!(stages
            .process(with_header(request("GET", "/"), "X-User", "a"))
            .is_none());
        assert!(stages.process(request("GET", "/")).is_some());
        assert_eq!(counts(&stages), [2, 0, 1, 1, 0, 0]);
    }
}

/// Whatever arrives, the default stages let out only safe, credential-free, marked requests.
#[cfg(test)]
mod properties {
    use super::test_support::request;
    use super::*;
    use crate::filter::{METHOD_OVERRIDE_HEADERS, SAFE_METHODS};
    use crate::request::Header;
    use crate::rewrite::CREDENTIAL_HEADERS;
    use proptest::prelude::*;

    const METHODS: [&str; 12] = [
        "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "TRACE", "get",
        "PROPFIND", "MKCOL",
    ];
    const NAMES: [&str; 12] = [
        "Host",
        "Cookie",
        "authorization",
        "PROXY-AUTHORIZATION",
        "X-HTTP-Method-Override",
        "x-http-method",
        "X-Method-Override",
        "X-Replayed-By",
        "Accept",
        "Transfer-Encoding",
        "Content-Length",
        "User-Agent",
    ];
    const VALUES: [&str; 8] = [
        "", "DELETE", "post", " GET ", "HEAD", "replayer", "x=1", "*/*",
    ];

    fn arbitrary_request() -> impl Strategy<Value = Request> {
        (
            0..METHODS.len(),
            prop::collection::vec((0..NAMES.len(), 0..VALUES.len()), 0..8),
        )
            .prop_map(|(method, headers)| {
                let mut req = request(METHODS[method], "/p?q=1");
                req.headers = headers
                    .into_iter()
                    .map(|(n, v)| Header {
                        name: NAMES[n].into(),
                        value: VALUES[v].as_bytes().to_vec().into(),
                    })
                    .collect();
                req
            })
    }

    proptest! {
        #[test]
        fn default_stages_never_let_an_unsafe_request_out(
            requests in prop::collection::vec(arbitrary_request(), 1..40)
        ) {
            let stats = Arc::new(FlowStats::default());
            let stages = Stages::from_parts(
                FilterConfig::default(), RewriteConfig::default(), vec![], Arc::clone(&stats));
            let total = requests.len() as u64;
            for req in requests {
                let was_marked = req.header("X-Replayed-By").is_some();
                let Some(out) = stages.process(req) else { continue };
                prop_assert!(!was_marked);
                prop_assert!(SAFE_METHODS.contains(&out.method.as_str()));
                for header in &out.headers {
                    let is = |names: &[&str]| names.iter().any(|n| header.name.eq_ignore_ascii_case(n));
                    prop_assert!(!is(&CREDENTIAL_HEADERS), "{} kept", header.name);
                    if is(&METHOD_OVERRIDE_HEADERS) {
                        let named = String::from_utf8_lossy(header.value).trim().to_ascii_uppercase();
                        prop_assert!(named.is_empty() || SAFE_METHODS.contains(&named.as_str()));
                    }
                }
                let markers = out.headers.iter().filter(|h| h.name == "X-Replayed-By").count();
                prop_assert_eq!(markers, 1);
                prop_assert_eq!(out.headers.iter().last().map(|h| h.value), Some(&b"replayer"[..]));
            }
            let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
            prop_assert_eq!(load(&stats.seen), total);
            prop_assert_eq!(load(&stats.filtered) + load(&stats.sampled_out) + load(&stats.passed), total);
        }
    }
}
