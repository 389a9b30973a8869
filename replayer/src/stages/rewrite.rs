//! The `rewrite` stage: what is changed in a request before it goes out.
//!
//! - `-http-set-header 'Name: Value'`: split at the first `:`, both sides trimmed. As in
//!   GoReplay, a header already present gets the new value in place (name and position kept;
//!   later duplicates are removed so the value is unambiguous) and a missing one is inserted
//!   first. **An empty value sets the header to the empty string** (`X-Forwarded-Host: `), as
//!   GoReplay does; it does not remove it. GOV.UK's `X-Forwarded-Host:` relies on this.
//! - `-http-set-param 'name=value'`: sets a query parameter (replaced in place, else appended).
//! - `-http-rewrite-url 'regex:replacement'`: the first rule whose regex matches the
//!   request-target rewrites it (every match, `$1`/`${name}` expanded, as Go's `ReplaceAll`).
//! - `-http-rewrite-header 'Name: regex,replacement'`: each rule, in order, rewrites the
//!   header's value where its regex matches (every match, `$1` expanded), as GoReplay. A rule
//!   whose header is missing is skipped (GoReplay stopped there, skipping the later rules).
//! - `-input-raw-realip-header NAME`: set to the client's IP address before any other rule,
//!   as GoReplay's input does (a header of that name already there gets the address).
//! - credentials: `Authorization`, `Cookie` and `Proxy-Authorization` are removed unless
//!   `--keep-credentials`; a credential header the operator sets with `-http-set-header`
//!   (say, a staging token) is kept, since it is not production's.
//! - the marker header `X-Replayed-By: replayer` is added last (see `filter` for its use).
//!
//! Host is not touched here: each replay target sets its own (`-http-original-host` keeps
//! production's), see [`set_header`].

pub use crate::request::CREDENTIAL_HEADERS;
use crate::request::{Class, Header, Request, MARKER_HEADER, MARKER_VALUE};
use crate::stages::filter::{compile_bytes_regex, compile_regex};
use regex::Regex;

/// `-http-set-header 'Name: Value'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetHeader {
    /// The header's name as given (visible ASCII, no spaces), trimmed.
    pub name: String,
    /// Its new value, trimmed; may be empty (the header is then set to the empty string).
    pub value: String,
}

impl SetHeader {
    /// Parses `Name: Value` (split at the first `:`, both sides trimmed); the error names
    /// what is wrong, for the flag's message. A value with CR, LF or NUL is refused.
    pub fn parse(text: &str) -> Result<SetHeader, String> {
        let (name, value) = text
            .split_once(':')
            .ok_or_else(|| format!("'{text}' is not 'Header-Name: value'"))?;
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!("'{name}' is not a header name (in '{text}')"));
        }
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(format!("the value of '{name}' holds a line break or NUL"));
        }
        Ok(SetHeader {
            name: name.to_string(),
            value: value.to_string(),
        })
    }
}

impl std::fmt::Display for SetHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.value)
    }
}

/// `-http-set-param 'name=value'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetParam {
    /// The query parameter's name, trimmed, as it goes into the URL (not re-encoded).
    pub name: String,
    /// Its value, trimmed, as it goes into the URL (not re-encoded).
    pub value: String,
}

impl SetParam {
    /// Parses `name=value` (split at the first `=`, both sides trimmed); refuses a name or
    /// value holding `&`, `#`, `?`, a space or a control character, which would change the
    /// URL's structure.
    pub fn parse(text: &str) -> Result<SetParam, String> {
        let (name, value) = text
            .split_once('=')
            .ok_or_else(|| format!("'{text}' is not 'name=value'"))?;
        let (name, value) = (name.trim(), value.trim());
        let bad = |s: &str| {
            s.bytes()
                .any(|b| matches!(b, b'&' | b'#' | b' ' | b'?') || b < 0x20)
        };
        if name.is_empty() || bad(name) || bad(value) {
            return Err(format!(
                "'{text}' is not 'name=value' with URL-safe characters"
            ));
        }
        Ok(SetParam {
            name: name.to_string(),
            value: value.to_string(),
        })
    }
}

impl std::fmt::Display for SetParam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.name, self.value)
    }
}

/// `-http-rewrite-url 'regex:replacement'` (split at the first `:`).
#[derive(Debug, Clone)]
pub struct UrlRewrite {
    /// Unanchored regex on the request-target (path and query).
    pub pattern: Regex,
    /// What every match becomes; `$1` and `${name}` expand to capture groups.
    pub replacement: String,
}

impl UrlRewrite {
    /// Parses `regex:replacement`, split at the first `:` (so the regex cannot hold one,
    /// the replacement can); the error is the regex's, on one line.
    pub fn parse(text: &str) -> Result<UrlRewrite, String> {
        let (pattern, replacement) = text
            .split_once(':')
            .ok_or_else(|| format!("'{text}' is not 'regex:replacement'"))?;
        Ok(UrlRewrite {
            pattern: compile_regex(pattern)?,
            replacement: replacement.to_string(),
        })
    }
}

impl std::fmt::Display for UrlRewrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.pattern.as_str(), self.replacement)
    }
}

/// `-http-rewrite-header 'Name: regex,replacement'` (split at the first `:`, then at the
/// first `,` of the trimmed rest: the regex cannot hold a comma, the replacement can).
#[derive(Debug, Clone)]
pub struct HeaderRewrite {
    /// The header rewritten (matched without case; the first one counts).
    pub name: String,
    /// Unanchored regex on the header's value (bytes: a value need not be UTF-8).
    pub pattern: regex::bytes::Regex,
    /// What every match becomes; `$1` and `${name}` expand to capture groups.
    pub replacement: String,
}

impl HeaderRewrite {
    /// Parses `Name: regex,replacement`; the error names what is missing, or the regex's.
    pub fn parse(text: &str) -> Result<HeaderRewrite, String> {
        let shape = || format!("'{text}' is not 'Header-Name: regex,replacement'");
        let (name, rule) = text.split_once(':').ok_or_else(shape)?;
        let (pattern, replacement) = rule.trim().split_once(',').ok_or_else(shape)?;
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!("'{name}' is not a header name (in '{text}')"));
        }
        if replacement
            .bytes()
            .any(|b| b == b'\r' || b == b'\n' || b == 0)
        {
            return Err(format!(
                "the replacement for '{name}' holds a line break or NUL"
            ));
        }
        Ok(HeaderRewrite {
            name: name.to_string(),
            pattern: compile_bytes_regex(pattern)?,
            replacement: replacement.to_string(),
        })
    }
}

impl std::fmt::Display for HeaderRewrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {},{}",
            self.name,
            self.pattern.as_str(),
            self.replacement
        )
    }
}

/// Everything the rewrite stage changes.
#[derive(Debug, Clone, Default)]
pub struct RewriteConfig {
    /// `-http-set-header`, applied in the order given.
    pub set_headers: Vec<SetHeader>,
    /// `-http-set-param`, applied in the order given.
    pub set_params: Vec<SetParam>,
    /// `-http-rewrite-url`: the first rule whose regex matches rewrites the target.
    pub url_rewrites: Vec<UrlRewrite>,
    /// `-http-rewrite-header`: every rule, in the order given.
    pub header_rewrites: Vec<HeaderRewrite>,
    /// `-input-raw-realip-header`: this header is set to the client's IP address.
    pub realip_header: Option<String>,
    /// `--keep-credentials`: production's `Authorization`, `Cookie` and
    /// `Proxy-Authorization` go out as captured instead of being removed.
    pub keep_credentials: bool,
}

impl RewriteConfig {
    /// `-http-set-header`, in the order given.
    pub fn set_headers(&self, request: &mut Request) {
        for set in &self.set_headers {
            set_header(request, &set.name, set.value.as_bytes());
        }
    }

    /// `-http-set-param`, in the order given.
    pub fn set_params(&self, request: &mut Request) {
        for param in &self.set_params {
            request.target = with_query_param(&request.target, &param.name, &param.value).into();
        }
    }

    /// `-http-rewrite-url`: the first matching rule only, as GoReplay.
    pub fn rewrite_url(&self, request: &mut Request) {
        if let Some(rule) = self
            .url_rewrites
            .iter()
            .find(|r| r.pattern.is_match(&request.target))
        {
            let rewritten = rule
                .pattern
                .replace_all(&request.target, rule.replacement.as_str())
                .into_owned();
            request.target = rewritten.into();
        }
    }

    /// `-input-raw-realip-header`: the client's address, before any rule looks.
    pub fn set_real_ip(&self, request: &mut Request) {
        if let Some(name) = &self.realip_header {
            let ip = request.connection.client.ip().to_string();
            set_header(request, name, ip.as_bytes());
        }
    }

    /// `-http-rewrite-header`: each rule whose header is there and whose regex matches.
    pub fn rewrite_headers(&self, request: &mut Request) {
        for rule in &self.header_rewrites {
            let Some(value) = request.header(&rule.name) else {
                continue;
            };
            if rule.pattern.is_match(value) {
                let value = rule
                    .pattern
                    .replace_all(value, rule.replacement.as_bytes())
                    .into_owned();
                set_header(request, &rule.name, &value);
            }
        }
    }

    /// The last step: credentials out (unless kept or set by the operator), marker in.
    pub fn finish(&self, request: &mut Request) {
        if !self.keep_credentials {
            // A credential the operator sets explicitly is theirs to send.
            request.headers.remove_class(Class::CREDENTIAL, |h| {
                self.set_headers
                    .iter()
                    .any(|s| s.name.eq_ignore_ascii_case(h.name))
            });
        }
        static MARKER: Header = Header::from_static(MARKER_HEADER, MARKER_VALUE);
        // Only a request from a record file can carry it still (`filter`): once is enough.
        if !request.headers.contains(Class::MARKER) {
            request.headers.push_static(&MARKER, Class::MARKER);
        }
    }
}

/// Sets a header: the first one of that name (any case) gets the value, later ones go;
/// a missing header is inserted first, where GoReplay puts it. Also used by replay for Host.
pub fn set_header(request: &mut Request, name: &str, value: &[u8]) {
    request.headers.set(name, value);
}

/// The request-target with `name=value` set in its query.
fn with_query_param(target: &str, name: &str, value: &str) -> String {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let wanted = format!("{name}={value}");
    let Some(query) = query else {
        return format!("{path}?{wanted}");
    };
    let mut replaced = false;
    let pairs: Vec<&str> = query
        .split('&')
        .map(|pair| {
            let key = pair.split_once('=').map_or(pair, |(k, _)| k);
            if key == name && !replaced {
                replaced = true;
                wanted.as_str()
            } else {
                pair
            }
        })
        .collect();
    let mut query = pairs.join("&");
    if !replaced {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&wanted);
    }
    format!("{path}?{query}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::test_support::{header_lines, request, with_header};

    #[test]
    fn set_header_splits_at_the_first_colon_and_trims() {
        assert_eq!(
            SetHeader::parse(" X-Forwarded-Host : "),
            Ok(SetHeader {
                name: "X-Forwarded-Host".into(),
                value: String::new()
            })
        );
        assert_eq!(
            SetHeader::parse("Referer: http://a:8080/x"),
            Ok(SetHeader {
                name: "Referer".into(),
                value: "http://a:8080/x".into()
            })
        );
        assert!(SetHeader::parse("No-Colon").is_err());
        assert!(SetHeader::parse(": value").is_err());
        assert!(SetHeader::parse("Bad Name: v").is_err());
        assert!(SetHeader::parse("X: a\r\nInjected: 1").is_err());
    }

    #[test]
    fn set_header_replaces_in_place_or_inserts_first() {
        let rewrite = RewriteConfig {
            set_headers: vec![
                SetHeader::parse("X-Forwarded-Host:").unwrap(),
                SetHeader::parse("X-New: 1").unwrap(),
            ],
            ..RewriteConfig::default()
        };
        let mut req = with_header(request("GET", "/"), "Host", "www.example");
        req = with_header(req, "x-forwarded-host", "a.example");
        req = with_header(req, "Accept", "*/*");
        req = with_header(req, "X-Forwarded-Host", "b.example");
        rewrite.set_headers(&mut req);
        assert_eq!(
            header_lines(&req),
            [
                "X-New: 1",
                "Host: www.example",
                "x-forwarded-host: ",
                "Accept: */*"
            ]
        );
    }

    #[test]
    fn set_param_replaces_or_appends() {
        assert_eq!(with_query_param("/a", "k", "v"), "/a?k=v");
        assert_eq!(with_query_param("/a?", "k", "v"), "/a?k=v");
        assert_eq!(with_query_param("/a?x=1", "k", "v"), "/a?x=1&k=v");
        assert_eq!(
            with_query_param("/a?k=1&x=2&k=3", "k", "v"),
            "/a?k=v&x=2&k=3"
        );
        assert_eq!(with_query_param("/a?k&x=2", "k", "v"), "/a?k=v&x=2");
        assert_eq!(with_query_param("/a?kk=1", "k", "v"), "/a?kk=1&k=v");
        assert_eq!(
            SetParam::parse(" api_key = x "),
            Ok(SetParam {
                name: "api_key".into(),
                value: "x".into()
            })
        );
        assert!(SetParam::parse("novalue").is_err());
        assert!(SetParam::parse("a=b&c=d").is_err());
    }

    #[test]
    fn url_rewrite_uses_the_first_matching_rule_with_captures() {
        let rewrite = RewriteConfig {
            url_rewrites: vec![
                UrlRewrite::parse("^/v1/(\\w+):/v2/$1").unwrap(),
                UrlRewrite::parse("/v1:/never").unwrap(),
                UrlRewrite::parse("x:y").unwrap(),
            ],
            ..RewriteConfig::default()
        };
        let mut req = request("GET", "/v1/users?x=1");
        rewrite.rewrite_url(&mut req);
        assert_eq!(
            req.target, "/v2/users?x=1",
            "only the first matching rule applies"
        );
        let mut req = request("GET", "/xax");
        rewrite.rewrite_url(&mut req);
        assert_eq!(req.target, "/yay", "every match of the rule is replaced");
        let mut req = request("GET", "/untouched");
        rewrite.rewrite_url(&mut req);
        assert_eq!(req.target, "/untouched");
        assert!(UrlRewrite::parse("no-colon").is_err());
        assert!(UrlRewrite::parse("(:x")
            .unwrap_err()
            .starts_with("invalid regex '('"));
    }

    #[test]
    fn header_rewrite_follows_goreplay_syntax_and_applies_every_rule() {
        let rule = HeaderRewrite::parse("Host: (.*).example.com,$1.beta.example.com").unwrap();
        assert_eq!(rule.name, "Host");
        assert_eq!(
            rule.to_string(),
            "Host: (.*).example.com,$1.beta.example.com"
        );
        let rewrite = RewriteConfig {
            header_rewrites: vec![
                rule,
                HeaderRewrite::parse("X-Missing: a,b").unwrap(),
                HeaderRewrite::parse("accept: \\*,any,more").unwrap(),
            ],
            ..RewriteConfig::default()
        };
        let mut req = with_header(request("GET", "/"), "host", "www.example.com");
        req = with_header(req, "Accept", "*/*");
        rewrite.rewrite_headers(&mut req);
        assert_eq!(
            header_lines(&req),
            ["host: www.beta.example.com", "Accept: any,more/any,more"],
            "a missing header skips its rule only; the replacement may hold commas"
        );
        let mut untouched = with_header(request("GET", "/"), "Host", "other.org");
        rewrite.rewrite_headers(&mut untouched);
        assert_eq!(header_lines(&untouched), ["Host: other.org"]);
        assert!(HeaderRewrite::parse("Host (.*),x").is_err());
        assert!(HeaderRewrite::parse("Host: no-comma").is_err());
        assert!(HeaderRewrite::parse("Host: (,x")
            .unwrap_err()
            .starts_with("invalid regex"));
        assert!(HeaderRewrite::parse("Host: a,b\r\nX: 1").is_err());
    }

    #[test]
    fn realip_header_is_the_client_address_set_or_replaced() {
        let rewrite = RewriteConfig {
            realip_header: Some("X-Real-IP".into()),
            ..RewriteConfig::default()
        };
        let mut req = request("GET", "/");
        let client = req.connection.client.ip().to_string();
        rewrite.set_real_ip(&mut req);
        assert_eq!(header_lines(&req), [format!("X-Real-IP: {client}")]);
        let mut spoofed = with_header(request("GET", "/"), "x-real-ip", "6.6.6.6");
        rewrite.set_real_ip(&mut spoofed);
        assert_eq!(header_lines(&spoofed), [format!("x-real-ip: {client}")]);
        let mut none = request("GET", "/");
        RewriteConfig::default().set_real_ip(&mut none);
        assert!(header_lines(&none).is_empty());
    }

    #[test]
    fn credentials_are_stripped_and_the_marker_added() {
        let mut req = with_header(request("GET", "/"), "Host", "h");
        req = with_header(req, "authorization", "Basic eA==");
        req = with_header(req, "Cookie", "session=1");
        req = with_header(req, "PROXY-AUTHORIZATION", "x");
        req = with_header(req, "Accept", "*/*");
        let mut stripped = req.clone();
        RewriteConfig::default().finish(&mut stripped);
        assert_eq!(
            header_lines(&stripped),
            ["Host: h", "Accept: */*", "X-Replayed-By: replayer"]
        );

        let mut kept = req.clone();
        RewriteConfig {
            keep_credentials: true,
            ..RewriteConfig::default()
        }
        .finish(&mut kept);
        assert_eq!(header_lines(&kept).len(), 6);

        // A credential the operator sets for staging is not production's: it stays.
        let rewrite = RewriteConfig {
            set_headers: vec![SetHeader::parse("Authorization: Bearer staging").unwrap()],
            ..RewriteConfig::default()
        };
        let mut operator = req;
        rewrite.set_headers(&mut operator);
        rewrite.finish(&mut operator);
        assert_eq!(
            header_lines(&operator),
            [
                "Host: h",
                "authorization: Bearer staging",
                "Accept: */*",
                "X-Replayed-By: replayer"
            ]
        );
    }
}
