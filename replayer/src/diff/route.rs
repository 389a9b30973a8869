//! `route`: a request-target → the route it belongs to, so that differences group by page
//! kind rather than by URL. `/government/publications/42?page=3` and
//! `/government/publications/7?page=1` are one route: `/government/publications/{n}?page={n}`.
//!
//! In each path segment and query value, what identifies one item rather than a kind of page
//! becomes a placeholder: decimal numbers `{n}`, UUIDs `{uuid}`, hex digests of 16 or more
//! characters `{hash}`, and any other query value `{}` (a search term, a token). Query names
//! are kept, in their order. The fragment never reaches a server. The result is bounded
//! ([`MAX_ROUTE`]), so a hostile URL cannot make a route table grow.

/// Longest route kept; longer ones are cut and end with `…`.
pub const MAX_ROUTE: usize = 200;

/// The route of `target` (origin form, absolute form, `*`), for grouping.
pub fn template(target: &str) -> String {
    // Absolute form: only the path and query count (the host is production's own).
    let target = match target.find("://") {
        Some(scheme_end) if !target.starts_with('/') => {
            let rest = &target[scheme_end + 3..];
            rest.find(['/', '?']).map_or("/", |at| &rest[at..])
        }
        _ => target,
    };
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let mut out = String::with_capacity(target.len().min(MAX_ROUTE));
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(placeholder(segment).unwrap_or(segment));
    }
    if let Some(query) = query {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((name, value)) => {
                    out.push_str(name);
                    out.push('=');
                    out.push_str(placeholder(value).unwrap_or("{}"));
                }
                None => out.push_str(pair),
            }
        }
    }
    if out.len() > MAX_ROUTE {
        let mut cut = MAX_ROUTE;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// The placeholder for a segment or value that names one item, if it does.
fn placeholder(part: &str) -> Option<&'static str> {
    let bytes = part.as_bytes();
    if !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit) {
        return Some("{n}");
    }
    if is_uuid(bytes) {
        return Some("{uuid}");
    }
    let hex = bytes.len() >= 16 && bytes.iter().all(u8::is_ascii_hexdigit);
    // A word of letters a–f only ("deadbeefcafebabe") is rare enough, but needs a digit
    // to be called a digest, so that a long lowercase word stays itself.
    if hex && bytes.iter().any(u8::is_ascii_digit) {
        return Some("{hash}");
    }
    None
}

/// 8-4-4-4-12 hex digits.
fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::template;

    #[test]
    fn items_become_placeholders_and_kinds_stay() {
        let cases = [
            ("/", "/"),
            (
                "/government/publications/42?page=3",
                "/government/publications/{n}?page={n}",
            ),
            ("/search?q=tax+credits&order=asc", "/search?q={}&order={}"),
            (
                "/api/content/3f2504e0-4f89-11d3-9a0c-0305e82c3301",
                "/api/content/{uuid}",
            ),
            (
                "/assets/app-0a1b2c3d4e5f6a7b8c9d.js",
                "/assets/app-0a1b2c3d4e5f6a7b8c9d.js",
            ),
            (
                "/assets/0a1b2c3d4e5f6a7b8c9d/app.js",
                "/assets/{hash}/app.js",
            ),
            ("/deadbeefcafebabefeed", "/deadbeefcafebabefeed"),
            ("/a?flag&x=1", "/a?flag&x={n}"),
            ("http://www.example.org/p/9?x=y", "/p/{n}?x={}"),
            ("http://www.example.org", "/"),
            ("*", "*"),
            ("/moved/7", "/moved/{n}"),
        ];
        for (target, route) in cases {
            assert_eq!(template(target), route, "{target}");
        }
    }

    #[test]
    fn routes_are_bounded() {
        let long = format!("/{}", "é".repeat(500));
        let route = template(&long);
        assert!(route.len() <= super::MAX_ROUTE + '…'.len_utf8());
        assert!(route.ends_with('…'));
    }
}
