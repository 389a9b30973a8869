//! The `filter` stage: which captured requests may be replayed at all.
//!
//! Rules, each a reason a request is dropped (counted as `filtered`):
//! - **loop protection**: a request already carrying the marker header
//!   ([`MARKER_HEADER`], any value) was sent by a replayer; replaying it again would loop
//!   when staging and production share a host.
//! - **methods** (`-http-allow-method`, exact and case-sensitive as GoReplay): by default
//!   only the safe methods GET, HEAD and OPTIONS. Naming another method is a startup error
//!   unless `--allow-unsafe-methods` is also given: a typo or a copied GoReplay line must
//!   never start replaying writes to staging silently.
//! - **invalid request-target** (always on): a target that fits none of the forms of RFC 9112
//!   §3.2 (`GET zxc HTTP/1.1`; `*` other than with OPTIONS; CONNECT without `host:port`) was
//!   answered 400 by production, so replaying it tests nothing and may reach a staging
//!   server laxer than production.
//! - **method override**: a request whose `X-HTTP-Method-Override`, `X-HTTP-Method` or
//!   `X-Method-Override` header names a method outside the allowed set (compared without
//!   case) is dropped too: frameworks honour these headers, so a `GET` carrying
//!   `X-HTTP-Method-Override: DELETE` is a DELETE.
//! - **URLs**: `-http-allow-url` (at least one must match) and `-http-disallow-url` (none may
//!   match), unanchored regexes on the request-target (path and query).
//! - **headers**: `-http-allow-header 'Name: regex'` (the header must be present and match)
//!   and `-http-disallow-header 'Name: regex'` (dropped when present and matching), as
//!   GoReplay 1.3 does.
//! - **Basic credentials**: `-http-basic-auth-filter regex`: a request whose `Authorization`
//!   is `Basic ...` is kept only when the decoded `user:password` matches every regex, as
//!   GoReplay does; a request without Basic credentials passes. (They are checked here,
//!   before the rewrite stage strips credentials.)
//!
//! The stages run in GoReplay's order (see `stages::chain`): the method checks come before
//! `-http-set-header`, the URL and header checks after it.

use crate::request::{Class, Request};
pub use crate::request::{MARKER_HEADER, MARKER_VALUE, METHOD_OVERRIDE_HEADERS};
use regex::Regex;

/// Methods replayed when none are named.
pub const SAFE_METHODS: [&str; 3] = ["GET", "HEAD", "OPTIONS"];

/// Why a request was filtered out. Each is counted apart in the status document
/// (`requests.filtered_by`) and in `-stats` lines, under [`Reason::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Carries the replayer's marker header: replaying it again would loop.
    Loop,
    /// Its method is not one of those allowed (by default GET, HEAD and OPTIONS).
    Method,
    /// Its request-target fits none of the forms of RFC 9112 §3.2 (`GET zxc HTTP/1.1`):
    /// production answered it 400, so it is never replayed.
    InvalidTarget,
    /// A method-override header names a method that is not allowed.
    MethodOverride,
    /// No `-http-allow-url` pattern matches its target.
    UrlNotAllowed,
    /// A `-http-disallow-url` pattern matches its target.
    UrlDisallowed,
    /// A `-http-allow-header` rule is not met.
    HeaderNotAllowed,
    /// A `-http-disallow-header` rule matches.
    HeaderDisallowed,
    /// Its Basic credentials do not match a `-http-basic-auth-filter` regex.
    BasicAuth,
}

impl Reason {
    /// Every reason, in the order the filter checks them.
    pub const ALL: [Reason; 9] = [
        Reason::Method,
        Reason::InvalidTarget,
        Reason::Loop,
        Reason::MethodOverride,
        Reason::UrlNotAllowed,
        Reason::UrlDisallowed,
        Reason::HeaderNotAllowed,
        Reason::HeaderDisallowed,
        Reason::BasicAuth,
    ];

    /// The reason's name in the status document and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Loop => "loop",
            Reason::Method => "method",
            Reason::InvalidTarget => "invalid_target",
            Reason::MethodOverride => "method_override",
            Reason::UrlNotAllowed => "url_not_allowed",
            Reason::UrlDisallowed => "url_disallowed",
            Reason::HeaderNotAllowed => "header_not_allowed",
            Reason::HeaderDisallowed => "header_disallowed",
            Reason::BasicAuth => "basic_auth",
        }
    }

    /// Its position in [`Reason::ALL`] (and in per-reason counter arrays).
    pub fn index(self) -> usize {
        match self {
            Reason::Method => 0,
            Reason::InvalidTarget => 1,
            Reason::Loop => 2,
            Reason::MethodOverride => 3,
            Reason::UrlNotAllowed => 4,
            Reason::UrlDisallowed => 5,
            Reason::HeaderNotAllowed => 6,
            Reason::HeaderDisallowed => 7,
            Reason::BasicAuth => 8,
        }
    }
}

/// `Name: regex`, as given to `-http-allow-header` and `-http-disallow-header`.
#[derive(Debug, Clone)]
pub struct HeaderRule {
    /// The header's name, matched without case; the first header of that name is tested.
    pub name: String,
    /// Unanchored regex tested against the header's value (invalid UTF-8 replaced).
    pub pattern: Regex,
}

impl HeaderRule {
    /// Parses `Name: regex` (split at the first `:`, both sides trimmed).
    pub fn parse(text: &str) -> Result<HeaderRule, String> {
        let (name, pattern) = text
            .split_once(':')
            .ok_or_else(|| format!("'{text}' is not 'Header-Name: regex'"))?;
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("'{text}' has no header name"));
        }
        Ok(HeaderRule {
            name: name.to_string(),
            pattern: compile_regex(pattern.trim())?,
        })
    }

    fn matches(&self, request: &Request) -> Option<bool> {
        let value = request.header(&self.name)?;
        Some(self.pattern.is_match(&String::from_utf8_lossy(value)))
    }
}

impl std::fmt::Display for HeaderRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.pattern.as_str())
    }
}

/// Compiles a user's regex, with the error on one line.
pub fn compile_regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| {
        let detail = e.to_string();
        let last = detail
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("invalid");
        format!("invalid regex '{pattern}': {}", last.trim())
    })
}

/// A regex over bytes (a body or header value need not be UTF-8), with [`compile_regex`]'s
/// message.
pub fn compile_bytes_regex(pattern: &str) -> Result<regex::bytes::Regex, String> {
    compile_regex(pattern)?;
    regex::bytes::Regex::new(pattern).map_err(|e| e.to_string())
}

/// What the filter stage lets through.
#[derive(Debug, Clone)]
pub struct FilterConfig {
    /// The methods replayed, exact match: [`SAFE_METHODS`] unless others were named.
    pub methods: Vec<String>,
    /// `--allow-unsafe-methods` was given: `methods` may hold methods other than the safe
    /// three. Checked when `methods` is built; kept so `--print-config` shows it.
    pub allow_unsafe_methods: bool,
    /// `-http-allow-url`: when any are given, a request's target must match at least one.
    pub allow_urls: Vec<Regex>,
    /// `-http-disallow-url`: a request whose target matches any of these is dropped.
    pub disallow_urls: Vec<Regex>,
    /// `-http-allow-header`: every rule must hold (header present, value matching).
    pub allow_headers: Vec<HeaderRule>,
    /// `-http-disallow-header`: a request with a header matching any rule is dropped.
    pub disallow_headers: Vec<HeaderRule>,
    /// `-http-basic-auth-filter`: Basic credentials, decoded, must match every one.
    pub basic_auth: Vec<Regex>,
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig {
            methods: SAFE_METHODS.iter().map(|m| m.to_string()).collect(),
            allow_unsafe_methods: false,
            allow_urls: Vec::new(),
            disallow_urls: Vec::new(),
            allow_headers: Vec::new(),
            disallow_headers: Vec::new(),
            basic_auth: Vec::new(),
        }
    }
}

impl FilterConfig {
    /// The allowed methods from `-http-allow-method` values: the safe three when none are
    /// named; an unsafe one only with `--allow-unsafe-methods`.
    pub fn methods_from(named: &[String], allow_unsafe: bool) -> Result<Vec<String>, String> {
        if named.is_empty() {
            return Ok(SAFE_METHODS.iter().map(|m| m.to_string()).collect());
        }
        let mut methods: Vec<String> = Vec::new();
        for method in named {
            let method = method.trim();
            if method.is_empty() || !method.bytes().all(is_token_byte) {
                return Err(format!("'{method}' is not an HTTP method"));
            }
            let upper = method.to_ascii_uppercase();
            if upper != method && SAFE_METHODS.contains(&upper.as_str()) {
                return Err(format!(
                    "methods match exactly, as on the wire: '{method}' would never match; write {upper}"
                ));
            }
            if !SAFE_METHODS.contains(&method) && !allow_unsafe {
                return Err(format!(
                    "{method} is not a safe method (GET, HEAD, OPTIONS); add --allow-unsafe-methods to replay it"
                ));
            }
            if !methods.iter().any(|m| m == method) {
                methods.push(method.to_string());
            }
        }
        Ok(methods)
    }

    /// The checks GoReplay makes before `-http-set-header`: loop marker, method, override.
    pub fn check_method(&self, request: &Request) -> Result<(), Reason> {
        if !self.methods.iter().any(|m| m == &*request.method) {
            return Err(Reason::Method);
        }
        if !is_valid_target(&request.method, request.target.as_bytes()) {
            return Err(Reason::InvalidTarget);
        }
        let headers = &request.headers;
        // A record file (`--input-file`) is not traffic on the wire: the files the replayer
        // writes carry the marker by design, and replaying one cannot loop back into it.
        if headers.contains(Class::MARKER) && !request.from_record_file {
            return Err(Reason::Loop);
        }
        if !headers.contains(Class::METHOD_OVERRIDE) {
            return Ok(());
        }
        for header in headers {
            if header.class == Class::METHOD_OVERRIDE {
                let named = String::from_utf8_lossy(header.value);
                let named = named.trim();
                if !named.is_empty() && !self.methods.iter().any(|m| m.eq_ignore_ascii_case(named))
                {
                    return Err(Reason::MethodOverride);
                }
            }
        }
        Ok(())
    }

    /// The checks GoReplay makes after `-http-set-header`: URL allow, URL deny, headers.
    pub fn check_url_and_headers(&self, request: &Request) -> Result<(), Reason> {
        if !self.allow_urls.is_empty()
            && !self.allow_urls.iter().any(|r| r.is_match(&request.target))
        {
            return Err(Reason::UrlNotAllowed);
        }
        if self
            .disallow_urls
            .iter()
            .any(|r| r.is_match(&request.target))
        {
            return Err(Reason::UrlDisallowed);
        }
        if self
            .allow_headers
            .iter()
            .any(|rule| rule.matches(request) != Some(true))
        {
            return Err(Reason::HeaderNotAllowed);
        }
        if self
            .disallow_headers
            .iter()
            .any(|rule| rule.matches(request) == Some(true))
        {
            return Err(Reason::HeaderDisallowed);
        }
        if !self.basic_auth.is_empty() {
            if let Some(credentials) = basic_credentials(request) {
                let credentials = String::from_utf8_lossy(&credentials);
                if !self.basic_auth.iter().all(|r| r.is_match(&credentials)) {
                    return Err(Reason::BasicAuth);
                }
            }
        }
        Ok(())
    }
}

/// The decoded `user:password` of a `Basic` `Authorization` header (the first one), as
/// GoReplay reads it: the scheme exactly `Basic ` and the rest standard base64; what does
/// not decode counts as empty credentials. `None` without Basic credentials.
fn basic_credentials(request: &Request) -> Option<Vec<u8>> {
    use base64::Engine;
    let encoded = request.header("Authorization")?.strip_prefix(b"Basic ")?;
    Some(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_default(),
    )
}

/// Whether `target` fits one of the request-target forms of RFC 9112 §3.2 for `method`:
/// origin-form (`/path?query`), absolute-form (`scheme:...`, RFC 3986 §3.1), authority-form
/// (`host:port`, CONNECT only) or asterisk-form (`*`, OPTIONS only). The framer already
/// refused bytes no target may hold (spaces, controls); this is about the shape.
fn is_valid_target(method: &str, target: &[u8]) -> bool {
    match target.first() {
        // origin-form: the case of nearly every request, decided on one byte.
        Some(b'/') => method != "CONNECT",
        Some(b'*') if target.len() == 1 => method == "OPTIONS",
        Some(_) if method == "CONNECT" => is_authority_form(target),
        Some(first) if first.is_ascii_alphabetic() => {
            // absolute-form: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ':'.
            match memchr::memchr(b':', target) {
                Some(colon) => target[1..colon]
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)),
                None => false,
            }
        }
        _ => false,
    }
}

/// `uri-host ":" port` (RFC 9112 §3.2.3): a non-empty host with no path, query, fragment or
/// userinfo, and a port of digits.
fn is_authority_form(target: &[u8]) -> bool {
    let Some(colon) = memchr::memrchr(b':', target) else {
        return false;
    };
    let (host, port) = (&target[..colon], &target[colon + 1..]);
    !host.is_empty()
        && !host.iter().any(|b| b"/?#@".contains(b))
        && !port.is_empty()
        && port.iter().all(u8::is_ascii_digit)
}

/// RFC 9110 `tchar`: what a method name may be made of.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::test_support::{request, with_header};

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn default_methods_are_the_safe_three() {
        let filter = FilterConfig::default();
        for method in ["GET", "HEAD", "OPTIONS"] {
            assert_eq!(filter.check_method(&request(method, "/")), Ok(()));
        }
        for method in [
            "POST", "PUT", "PATCH", "DELETE", "CONNECT", "TRACE", "get", "PROPFIND",
        ] {
            assert_eq!(
                filter.check_method(&request(method, "/")),
                Err(Reason::Method),
                "{method}"
            );
        }
    }

    #[test]
    fn naming_unsafe_methods_needs_the_extra_flag() {
        assert_eq!(
            FilterConfig::methods_from(&names(&["GET", "HEAD"]), false),
            Ok(names(&["GET", "HEAD"]))
        );
        let err = FilterConfig::methods_from(&names(&["GET", "POST"]), false).unwrap_err();
        assert_eq!(
            err,
            "POST is not a safe method (GET, HEAD, OPTIONS); add --allow-unsafe-methods to replay it"
        );
        assert_eq!(
            FilterConfig::methods_from(&names(&["POST", "GET", "POST"]), true),
            Ok(names(&["POST", "GET"]))
        );
        assert!(FilterConfig::methods_from(&names(&["GE T"]), true).is_err());
        assert_eq!(
            FilterConfig::methods_from(&names(&["get"]), false).unwrap_err(),
            "methods match exactly, as on the wire: 'get' would never match; write GET"
        );
        assert!(FilterConfig::methods_from(&names(&[""]), true).is_err());
        // The extra flag alone changes nothing.
        assert_eq!(
            FilterConfig::methods_from(&[], true),
            Ok(names(&["GET", "HEAD", "OPTIONS"]))
        );
    }

    #[test]
    fn named_methods_replace_the_default_set() {
        let filter = FilterConfig {
            methods: names(&["GET"]),
            ..FilterConfig::default()
        };
        assert_eq!(filter.check_method(&request("GET", "/")), Ok(()));
        assert_eq!(
            filter.check_method(&request("HEAD", "/")),
            Err(Reason::Method)
        );
        let unsafe_ok = FilterConfig {
            methods: names(&["GET", "POST"]),
            allow_unsafe_methods: true,
            ..FilterConfig::default()
        };
        assert_eq!(unsafe_ok.check_method(&request("POST", "/")), Ok(()));
    }

    #[test]
    fn method_override_to_an_unsafe_method_is_filtered() {
        let filter = FilterConfig::default();
        for header in METHOD_OVERRIDE_HEADERS {
            let req = with_header(request("GET", "/"), &header.to_lowercase(), "delete");
            assert_eq!(
                filter.check_method(&req),
                Err(Reason::MethodOverride),
                "{header}"
            );
            let req = with_header(request("GET", "/"), header, " HEAD ");
            assert_eq!(filter.check_method(&req), Ok(()), "{header}: HEAD is safe");
        }
        let allowed = FilterConfig {
            methods: names(&["GET", "DELETE"]),
            allow_unsafe_methods: true,
            ..FilterConfig::default()
        };
        let req = with_header(request("GET", "/"), "X-HTTP-Method-Override", "DELETE");
        assert_eq!(allowed.check_method(&req), Ok(()));
    }

    #[test]
    fn targets_of_no_rfc_9112_form_are_filtered() {
        let filter = FilterConfig {
            methods: names(&["GET", "OPTIONS", "CONNECT"]),
            ..FilterConfig::default()
        };
        let check = |method: &str, target: &str| filter.check_method(&request(method, target));
        for (method, target) in [
            ("GET", "/"),
            ("GET", "/a?b"),
            ("GET", "http://example.org/a"),
            ("GET", "HTTPS://example.org"),
            ("OPTIONS", "*"),
            ("CONNECT", "example.org:443"),
            ("CONNECT", "[::1]:443"),
        ] {
            assert_eq!(check(method, target), Ok(()), "{method} {target}");
        }
        for (method, target) in [
            ("GET", "zxc"),
            ("GET", "*"),
            ("GET", "1http://x/"),
            ("GET", "?a"),
            ("OPTIONS", "**"),
            ("CONNECT", "/"),
            ("CONNECT", "example.org"),
            ("CONNECT", "example.org:443/x"),
            ("CONNECT", "u@example.org:443"),
        ] {
            assert_eq!(
                check(method, target),
                Err(Reason::InvalidTarget),
                "{method} {target}"
            );
        }
    }

    #[test]
    fn marker_header_means_a_loop() {
        let filter = FilterConfig::default();
        let req = with_header(request("GET", "/"), "x-replayed-by", "replayer");
        assert_eq!(filter.check_method(&req), Err(Reason::Loop));
        let req = with_header(request("GET", "/"), "X-Replayed-By", "something else");
        assert_eq!(filter.check_method(&req), Err(Reason::Loop));
    }

    #[test]
    fn url_allow_and_deny_are_unanchored_on_path_and_query() {
        let filter = FilterConfig {
            allow_urls: vec![
                compile_regex("^/api/").unwrap(),
                compile_regex("q=1").unwrap(),
            ],
            disallow_urls: vec![compile_regex("sign-in/callback").unwrap()],
            ..FilterConfig::default()
        };
        let check = |target: &str| filter.check_url_and_headers(&request("GET", target));
        assert_eq!(check("/api/x"), Ok(()));
        assert_eq!(check("/other?q=1"), Ok(()));
        assert_eq!(check("/other"), Err(Reason::UrlNotAllowed));
        assert_eq!(check("/x/api/"), Err(Reason::UrlNotAllowed));
        assert_eq!(check("/api/sign-in/callback?x"), Err(Reason::UrlDisallowed));
    }

    #[test]
    fn header_rules_follow_goreplay_1_3() {
        let allow = FilterConfig {
            allow_headers: vec![HeaderRule::parse("User-Agent: ^curl/").unwrap()],
            ..FilterConfig::default()
        };
        let base = request("GET", "/");
        assert_eq!(
            allow.check_url_and_headers(&base),
            Err(Reason::HeaderNotAllowed),
            "absent header: not allowed"
        );
        let curl = with_header(base.clone(), "user-agent", "curl/8.0");
        assert_eq!(allow.check_url_and_headers(&curl), Ok(()));
        let wget = with_header(base.clone(), "User-Agent", "Wget/1.0");
        assert_eq!(
            allow.check_url_and_headers(&wget),
            Err(Reason::HeaderNotAllowed)
        );

        let deny = FilterConfig {
            disallow_headers: vec![HeaderRule::parse("User-Agent:bot").unwrap()],
            ..FilterConfig::default()
        };
        assert_eq!(
            deny.check_url_and_headers(&base),
            Ok(()),
            "absent header: fine"
        );
        let bot = with_header(base, "User-Agent", "Googlebot/2.1");
        assert_eq!(
            deny.check_url_and_headers(&bot),
            Err(Reason::HeaderDisallowed)
        );
    }

    #[test]
    fn basic_auth_filter_matches_the_decoded_credentials() {
        let filter = FilterConfig {
            basic_auth: vec![compile_regex("^customer[0-9]").unwrap()],
            ..FilterConfig::default()
        };
        let with_auth = |value: &str| with_header(request("GET", "/"), "Authorization", value);
        // customer1:pw and admin:pw.
        assert_eq!(
            filter.check_url_and_headers(&with_auth("Basic Y3VzdG9tZXIxOnB3")),
            Ok(())
        );
        assert_eq!(
            filter.check_url_and_headers(&with_auth("Basic YWRtaW46cHc=")),
            Err(Reason::BasicAuth)
        );
        // Not decodable: empty credentials, which do not match.
        assert_eq!(
            filter.check_url_and_headers(&with_auth("Basic !!")),
            Err(Reason::BasicAuth)
        );
        // No Basic credentials at all (or another scheme): the filter does not apply.
        assert_eq!(filter.check_url_and_headers(&request("GET", "/")), Ok(()));
        assert_eq!(
            filter.check_url_and_headers(&with_auth("Bearer YWRtaW46cHc=")),
            Ok(())
        );
    }

    #[test]
    fn header_rule_errors_are_one_line() {
        assert_eq!(
            HeaderRule::parse("User-Agent").unwrap_err(),
            "'User-Agent' is not 'Header-Name: regex'"
        );
        let err = HeaderRule::parse("User-Agent: (").unwrap_err();
        assert!(err.starts_with("invalid regex '(': "), "{err}");
        assert!(!err.contains('\n'), "{err}");
        assert!(HeaderRule::parse(" : x").is_err());
    }
}
