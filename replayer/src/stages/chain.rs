//! `filter` → `rewrite` → `limit` chained in GoReplay's order, with the counters the status
//! document reports. Every mode of the flow (`crate::flow`) calls [`Stages::pass`] once per
//! captured request, on the capture thread: it never blocks, and it says what it decided
//! and why ([`Verdict`]), so callers count without second-guessing.
//!
//! GoReplay's order, which decides what each rule sees: the client's address header
//! (`-input-raw-realip-header`, which GoReplay's input adds), method filter (with our loop
//! marker and method-override checks), set header, set param, URL allow, URL deny, header
//! allow/deny, Basic credentials filter, header limiters, parameter limiters, URL rewrite,
//! header rewrite; then ours: credentials stripped (so the credentials filter sees them),
//! marker added.
//! Per-output limits (`URL|N`, `URL|N%`) come after, one [`Limiter`] per output, applied by
//! the flow.
//!
//! [`Limiter`]: crate::stages::limit::Limiter

use crate::request::Request;
use crate::stages::filter::{FilterConfig, Reason};
use crate::stages::limit::HashLimiter;
use crate::stages::rewrite::RewriteConfig;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// What the stages decided about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Goes on to the outputs, rewritten.
    Pass,
    /// Rejected by a filter rule, for this reason.
    Filtered(Reason),
    /// Dropped by a header or parameter limiter (`-http-header-limiter`,
    /// `-http-param-limiter`).
    SampledOut,
}

impl Verdict {
    /// `true` for [`Verdict::Pass`].
    pub fn passed(self) -> bool {
        self == Verdict::Pass
    }
}

/// What happened to captured requests, read at any moment by the status server. Relaxed
/// atomics: monotonic totals. `seen = filtered + sampled_out + passed`; an output's own
/// limiter adds to `sampled_out` too (without touching `passed`).
#[derive(Debug, Default)]
pub struct FlowStats {
    /// Requests that entered the stages.
    pub seen: AtomicU64,
    /// Requests rejected by a filter rule (the sum of `filtered_by`).
    pub filtered: AtomicU64,
    /// Requests dropped by a header limiter or an output's own limit.
    pub sampled_out: AtomicU64,
    /// Requests that went on to the outputs.
    pub passed: AtomicU64,
    /// `filtered`, by [`Reason`] (indexed by [`Reason::index`]).
    pub filtered_by: [AtomicU64; Reason::ALL.len()],
}

impl FlowStats {
    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request an output's own limiter dropped.
    pub fn count_sampled_out(&self) {
        FlowStats::count(&self.sampled_out);
    }

    /// Requests filtered for `reason` so far.
    pub fn filtered_for(&self, reason: Reason) -> u64 {
        self.filtered_by[reason.index()].load(Ordering::Relaxed)
    }

    /// Every reason with a non-zero count, as `(name, count)`, in [`Reason::ALL`]'s order.
    pub fn filtered_by_name(&self) -> Vec<(&'static str, u64)> {
        Reason::ALL
            .iter()
            .map(|&r| (r.as_str(), self.filtered_for(r)))
            .filter(|&(_, n)| n > 0)
            .collect()
    }
}

/// The three stages with their settings and counters.
#[derive(Debug)]
pub struct Stages {
    filter: FilterConfig,
    rewrite: RewriteConfig,
    limiters: Vec<HashLimiter>,
    stats: Arc<FlowStats>,
}

impl Stages {
    /// The stages with their settings; `stats` is where they count. `limiters` are the
    /// header limiters then the parameter limiters, GoReplay's order.
    pub fn new(
        filter: FilterConfig,
        rewrite: RewriteConfig,
        limiters: Vec<HashLimiter>,
        stats: Arc<FlowStats>,
    ) -> Stages {
        Stages {
            filter,
            rewrite,
            limiters,
            stats,
        }
    }

    /// The counters these stages keep.
    pub fn stats(&self) -> &Arc<FlowStats> {
        &self.stats
    }

    /// Runs one request through every stage: `Some` (rewritten) if it goes on to the outputs.
    pub fn process(&self, mut request: Request) -> Option<Request> {
        self.pass(&mut request).passed().then_some(request)
    }

    /// [`Stages::process`] in place, saying what was decided and why. The capture side uses
    /// this one: a `Request` is a few hundred bytes, and moving it in and out costs more
    /// than some stages do.
    pub fn pass(&self, request: &mut Request) -> Verdict {
        FlowStats::count(&self.stats.seen);
        let verdict = self.decide(request);
        match verdict {
            Verdict::Pass => FlowStats::count(&self.stats.passed),
            Verdict::SampledOut => FlowStats::count(&self.stats.sampled_out),
            Verdict::Filtered(reason) => {
                FlowStats::count(&self.stats.filtered);
                FlowStats::count(&self.stats.filtered_by[reason.index()]);
            }
        }
        verdict
    }

    fn decide(&self, request: &mut Request) -> Verdict {
        // GoReplay's input adds it, so every rule after sees it.
        self.rewrite.set_real_ip(request);
        if let Err(reason) = self.filter.check_method(request) {
            return Verdict::Filtered(reason);
        }
        self.rewrite.set_headers(request);
        self.rewrite.set_params(request);
        if let Err(reason) = self.filter.check_url_and_headers(request) {
            return Verdict::Filtered(reason);
        }
        if !self.limiters.iter().all(|l| l.allow(request)) {
            return Verdict::SampledOut;
        }
        self.rewrite.rewrite_url(request);
        self.rewrite.rewrite_headers(request);
        self.rewrite.finish(request);
        Verdict::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::test_support::*;
    use crate::stages::filter::{compile_regex, HeaderRule};
    use crate::stages::limit::Hashed;
    use crate::stages::rewrite::{HeaderRewrite, SetHeader, UrlRewrite};

    fn stages(filter: FilterConfig, rewrite: RewriteConfig, limiters: Vec<HashLimiter>) -> Stages {
        Stages::new(filter, rewrite, limiters, Arc::new(FlowStats::default()))
    }

    fn counts(stages: &Stages) -> [u64; 6] {
        let s = stages.stats();
        [
            s.seen.load(Ordering::Relaxed),
            s.filtered.load(Ordering::Relaxed),
            s.sampled_out.load(Ordering::Relaxed),
            s.passed.load(Ordering::Relaxed),
            s.filtered_for(Reason::Loop),
            s.filtered_for(Reason::Method) + s.filtered_for(Reason::MethodOverride),
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
    fn goreplay_order_for_the_client_address_credentials_parameters_and_header_rewrites() {
        let filter = FilterConfig {
            // Sees the address header added first.
            allow_headers: vec![HeaderRule::parse("X-Real-IP: .").unwrap()],
            // Sees Authorization, which the last step strips.
            basic_auth: vec![compile_regex("^customer").unwrap()],
            ..FilterConfig::default()
        };
        let rewrite = RewriteConfig {
            realip_header: Some("X-Real-IP".into()),
            header_rewrites: vec![HeaderRewrite::parse("X-Real-IP: ^(.*)$,ip-$1").unwrap()],
            url_rewrites: vec![UrlRewrite::parse("^/a:/b").unwrap()],
            ..RewriteConfig::default()
        };
        // fnv1a32("a") % 100 == 20: dropped at 20%.
        let param = HashLimiter::parse(Hashed::Param, "user: 20%").unwrap();
        let stages = stages(filter, rewrite, vec![param]);
        // customer1:pw
        let customer = with_header(
            request("GET", "/a"),
            "Authorization",
            "Basic Y3VzdG9tZXIxOnB3",
        );
        let out = stages.process(customer).expect("passes");
        let ip = out.connection.client.ip();
        assert_eq!(out.target, "/b");
        assert_eq!(
            header_lines(&out),
            [
                format!("X-Real-IP: ip-{ip}"),
                "X-Replayed-By: replayer".into()
            ]
        );
        // admin:pw
        let admin = with_header(request("GET", "/a"), "Authorization", "Basic YWRtaW46cHc=");
        assert!(stages.process(admin).is_none());
        assert!(stages.process(request("GET", "/a?user=a")).is_none());
        assert_eq!(stages.stats().filtered_for(Reason::BasicAuth), 1);
        assert_eq!(counts(&stages), [3, 1, 1, 1, 0, 0]);
    }

    #[test]
    fn header_limiter_drops_are_sampled_out() {
        let limiter = HashLimiter::parse(Hashed::Header, "X-User: 20%").unwrap();
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
    use super::*;
    use crate::request::test_support::request;
    use crate::request::Header;
    use crate::stages::filter::{METHOD_OVERRIDE_HEADERS, SAFE_METHODS};
    use crate::stages::rewrite::CREDENTIAL_HEADERS;
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
            let stages = Stages::new(
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
