//! A complete HTTP/1.x request as recovered from the wire: the unit that flows from the
//! `http` stage through `filter`, `rewrite` and `limit` to the outputs (`replay`, stdout, file).
//!
//! A captured request is zero-copy: its head is copied once out of the stream into one shared
//! buffer, and the method and target are slices of it ([`ByteStr`]); the header fields are
//! offsets into it ([`Headers`]), which costs no reference count per field. Building a
//! `Request` costs two allocations (a share of that buffer and the field list) instead of one
//! per field; this is what lets the capture side keep up with the disk. Stages that change a
//! field replace it with one they own ([`Header`]).
//!
//! Long because the zero-copy header store ([`Headers`], [`Class`], [`ByteStr`]) keeps its
//! invariants (offsets into one buffer, the union of classes) in one place, with its tests.

use bytes::Bytes;
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::ops::{Deref, Range};

/// The connection a request came on, from the client's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Connection {
    /// The client's address and port (the packets' source).
    pub client: SocketAddr,
    /// The production server's address and port (the packets' destination).
    pub server: SocketAddr,
}

/// Two words per connection instead of `SocketAddr`'s derived hash (a discriminant, the
/// address as a slice, the port, and for IPv6 two more fields, each a call into the hasher):
/// the stream, answer and pairing tables each hash every packet's connection, and the derived
/// form was 2.5 % of a capture thread's time. Equal connections hash equal; IPv6's flow label
/// and scope are left out (equal addresses and ports but a different scope only collide).
impl Hash for Connection {
    fn hash<H: Hasher>(&self, state: &mut H) {
        fn word(addr: &SocketAddr) -> u64 {
            let ip = match addr {
                SocketAddr::V4(a) => u64::from(a.ip().to_bits()),
                SocketAddr::V6(a) => {
                    let bits = a.ip().to_bits();
                    (bits as u64) ^ ((bits >> 64) as u64).rotate_left(17)
                }
            };
            ip ^ (u64::from(addr.port()) << 48)
        }
        state.write_u64(word(&self.client));
        state.write_u64(word(&self.server));
    }
}

/// One request, parsed. Header names and values are kept as captured (case and order), so
/// that what goes to staging is what production received, after the configured rewrites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Monotonic id assigned by the pipeline, unique within a process run.
    pub id: u64,
    /// Capture time of the packet that carried the request line, nanoseconds since the Unix epoch.
    pub captured_at_ns: u64,
    /// The TCP connection it came on; requests of one connection keep their order.
    pub connection: Connection,
    /// As on the wire, e.g. `GET`.
    pub method: ByteStr,
    /// The request-target as on the wire (path and query, or absolute form).
    pub target: ByteStr,
    /// Minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version_minor: u8,
    /// The header fields in wire order, rewrites applied once the stages have run.
    pub headers: Headers,
    /// The message body with any chunked transfer coding removed.
    pub body: Bytes,
    /// The id of the GoReplay record it was read from (`--input-file`), written back as is
    /// by the record outputs; `None` for a captured request.
    pub record_id: Option<Bytes>,
    /// Read from a record file (`--input-file`), directly or through a middleware: not
    /// traffic on the wire, so the loop marker it may carry is not a loop (`filter`).
    pub from_record_file: bool,
}

/// A header field a stage made (or a test built): it owns its name and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Field name, in the case it is to be written.
    pub name: ByteStr,
    /// Field value, without the line ending (`-http-set-header` refuses CR, LF and NUL).
    pub value: Bytes,
}

impl Header {
    /// A header from constants, with no allocation (the marker header).
    pub const fn from_static(name: &'static str, value: &'static str) -> Header {
        Header {
            name: ByteStr::from_static(name),
            value: Bytes::from_static(value.as_bytes()),
        }
    }
}

/// One header field as read: borrowed from [`Headers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRef<'a> {
    /// Field name, case as captured or set.
    pub name: &'a str,
    /// Field value as captured or set, without the line ending; not necessarily UTF-8.
    pub value: &'a [u8],
    /// What the name is known as ([`Class::NONE`] for most).
    pub class: Class,
    /// The whole header line as captured, from the name to the line ending (excluded),
    /// spaces kept: `Content-Length:7`, `Cookie:`, a value's trailing blanks. `None` for a
    /// field a stage set or added. Outputs write it as is, so an untouched header goes out
    /// byte for byte as production received it.
    pub line: Option<&'a [u8]>,
}

/// Headers that carry a user's identity; never sent to staging by default (`rewrite`).
pub const CREDENTIAL_HEADERS: [&str; 3] = ["Authorization", "Cookie", "Proxy-Authorization"];

/// Headers through which clients ask a server to treat a request as another method (`filter`).
pub const METHOD_OVERRIDE_HEADERS: [&str; 3] = [
    "X-HTTP-Method-Override",
    "X-HTTP-Method",
    "X-Method-Override",
];

/// The header `rewrite` adds to every replayed request, and that `filter` refuses to see twice.
pub const MARKER_HEADER: &str = "X-Replayed-By";
/// The value [`MARKER_HEADER`] is sent with; `filter` refuses the header whatever its value,
/// so a loop through another replayer (another value) is stopped too.
pub const MARKER_VALUE: &str = "replayer";

/// The header names some stage must notice on every request, as a set of bits. A field's
/// class is found once, when it is stored, and [`Headers`] keeps the union: the stages ask
/// [`Headers::contains`] instead of comparing every name of every request with their lists
/// (most requests carry none of these, and then no stage looks at a single name).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Class(u8);

impl Class {
    /// No bit: a name no stage looks for (most headers).
    pub const NONE: Class = Class(0);
    /// [`CREDENTIAL_HEADERS`].
    pub const CREDENTIAL: Class = Class(1);
    /// [`METHOD_OVERRIDE_HEADERS`].
    pub const METHOD_OVERRIDE: Class = Class(2);
    /// [`MARKER_HEADER`].
    pub const MARKER: Class = Class(4);
    /// `Content-Length`: the HTTP framer reads the body length from it.
    pub const CONTENT_LENGTH: Class = Class(8);
    /// `Transfer-Encoding`: the HTTP framer looks for `chunked` in it.
    pub const TRANSFER_ENCODING: Class = Class(16);

    /// Every known name with its class (letters and '-' only, see [`Class::among`]).
    const NAMES: [(&'static str, Class); 9] = [
        (CREDENTIAL_HEADERS[0], Class::CREDENTIAL),
        (CREDENTIAL_HEADERS[1], Class::CREDENTIAL),
        (CREDENTIAL_HEADERS[2], Class::CREDENTIAL),
        (METHOD_OVERRIDE_HEADERS[0], Class::METHOD_OVERRIDE),
        (METHOD_OVERRIDE_HEADERS[1], Class::METHOD_OVERRIDE),
        (METHOD_OVERRIDE_HEADERS[2], Class::METHOD_OVERRIDE),
        (MARKER_HEADER, Class::MARKER),
        ("Content-Length", Class::CONTENT_LENGTH),
        ("Transfer-Encoding", Class::TRANSFER_ENCODING),
    ];

    /// For each name length, the indices into [`Class::NAMES`] of the names that long, as
    /// bits: most names are ruled out by their length alone, the rest by one comparison.
    const BY_LENGTH: [u16; 64] = {
        let mut table = [0u16; 64];
        let mut i = 0;
        while i < Class::NAMES.len() {
            table[Class::NAMES[i].0.len()] |= 1 << i;
            i += 1;
        }
        table
    };

    /// The class of a header name (case-insensitive).
    #[inline]
    pub fn of(name: &str) -> Class {
        match Class::BY_LENGTH.get(name.len()) {
            None | Some(0) => Class::NONE,
            Some(&candidates) => Class::among(candidates, name.as_bytes()),
        }
    }

    /// The class of `name` if it is one of the `candidates` (bits indexing [`Class::NAMES`]).
    #[inline(never)]
    fn among(mut candidates: u16, name: &[u8]) -> Class {
        while candidates != 0 {
            let (known, class) = Class::NAMES[candidates.trailing_zeros() as usize];
            // The known names are letters and '-'; on those, and on every byte a header name
            // may hold, `| 0x20` folds exactly the case (the lengths are already equal).
            if known.bytes().zip(name).all(|(k, &n)| k | 0x20 == n | 0x20) {
                return class;
            }
            candidates &= candidates - 1;
        }
        Class::NONE
    }

    /// Whether the two share a bit.
    pub fn intersects(self, other: Class) -> bool {
        self.0 & other.0 != 0
    }
}

impl std::ops::BitOr for Class {
    type Output = Class;
    fn bitor(self, other: Class) -> Class {
        Class(self.0 | other.0)
    }
}

impl std::ops::BitOrAssign for Class {
    fn bitor_assign(&mut self, other: Class) {
        self.0 |= other.0;
    }
}

/// A request's header fields, in order, names in their captured case.
///
/// Captured fields are offsets into the head they were read from (one shared buffer, held
/// once here); a field a stage sets or adds owns its bytes. Reading goes through
/// [`HeaderRef`]s, so both kinds look the same to every stage and output.
#[derive(Clone, Default)]
pub struct Headers {
    /// The captured head that [`Text::Captured`] offsets point into.
    head: Bytes,
    fields: Vec<Field>,
    /// The union of the fields' classes.
    classes: Class,
}

#[derive(Clone)]
struct Field {
    class: Class,
    text: Text,
}

#[derive(Clone)]
enum Text {
    /// `head[name.0..name.1]` (UTF-8, see [`Headers::push_captured`]) and `head[value.0..value.1]`;
    /// the whole line is `head[name.0..line_end]`.
    Captured {
        name: (u32, u32),
        value: (u32, u32),
        line_end: u32,
    },
    /// Boxed: most fields are captured, and a small field keeps the list compact.
    Owned(Box<Header>),
    /// A constant header (the marker, on every request): no allocation at all.
    Static(&'static Header),
}

impl Headers {
    /// Fields that will be slices of `head`, with room for `capacity` of them.
    pub fn captured(head: Bytes, capacity: usize) -> Headers {
        Headers {
            head,
            fields: Vec::with_capacity(capacity),
            classes: Class::NONE,
        }
    }

    /// Adds a field whose name and value are `head[name]` and `head[value]`, on a line that
    /// is `head[name.start..line_end]` without its line ending; returns the name's class.
    ///
    /// # Safety
    /// `head[name]` must be valid UTF-8 (the parser returned it as a `str`), and the ranges
    /// must lie inside `head`, `value` inside the line (checked in debug builds only).
    #[inline]
    pub unsafe fn push_captured(
        &mut self,
        name: Range<usize>,
        value: Range<usize>,
        line_end: usize,
    ) -> Class {
        debug_assert!(name.end <= value.start && value.end <= line_end);
        debug_assert!(line_end <= self.head.len());
        // SAFETY: the caller's promise.
        let text = unsafe { std::str::from_utf8_unchecked(&self.head[name.clone()]) };
        let class = Class::of(text);
        self.classes |= class;
        // Heads are at most 64 KiB (`http::MAX_HEAD_BYTES`), far inside u32.
        self.fields.push(Field {
            class,
            text: Text::Captured {
                name: (name.start as u32, name.end as u32),
                value: (value.start as u32, value.end as u32),
                line_end: line_end as u32,
            },
        });
        class
    }

    /// Whether some field is of `class` (one of them, if several bits are given).
    pub fn contains(&self, class: Class) -> bool {
        self.classes.intersects(class)
    }

    /// Number of fields, each repeated name counted.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when the request has no header field at all.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The fields in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            head: &self.head,
            fields: self.fields.iter(),
        }
    }

    /// The first value of this name (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// Appends a field after the others; its class is looked up from its name.
    pub fn push(&mut self, header: Header) {
        let class = Class::of(&header.name);
        self.push_classified(header, class);
    }

    /// [`Headers::push`] for a header whose class the caller knows (the marker header, on
    /// every request).
    fn push_classified(&mut self, header: Header, class: Class) {
        self.classes |= class;
        self.fields.push(Field {
            class,
            text: Text::Owned(Box::new(header)),
        });
    }

    /// Adds a constant header of a known class (the marker, on every request).
    pub fn push_static(&mut self, header: &'static Header, class: Class) {
        debug_assert_eq!(class, Class::of(&header.name));
        self.classes |= class;
        self.fields.push(Field {
            class,
            text: Text::Static(header),
        });
    }

    /// Inserts a field at position `index` (0 is first), shifting the rest; panics if
    /// `index > len()`, like `Vec::insert`.
    pub fn insert(&mut self, index: usize, header: Header) {
        let field = Field::owned(header);
        self.classes |= field.class;
        self.fields.insert(index, field);
    }

    /// Keeps the fields for which `keep` says so, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(HeaderRef<'_>) -> bool) {
        let head = &self.head;
        let mut classes = Class::NONE;
        self.fields.retain(|field| {
            let kept = keep(read(head, field));
            if kept {
                classes |= field.class;
            }
            kept
        });
        self.classes = classes;
    }

    /// Removes the fields of `class`, except those `keep` wants; the others are not looked at.
    pub fn remove_class(&mut self, class: Class, keep: impl Fn(HeaderRef<'_>) -> bool) {
        if self.contains(class) {
            let head = &self.head;
            self.fields
                .retain(|field| !field.class.intersects(class) || keep(read(head, field)));
            self.classes = self.fields.iter().fold(Class::NONE, |all, f| all | f.class);
        }
    }

    /// Sets a field: the first one of that name (any case) gets the value and keeps its
    /// place and the name's case, later ones go; a missing one is inserted first.
    pub fn set(&mut self, name: &str, value: &[u8]) {
        let value = Bytes::copy_from_slice(value);
        let mut found = false;
        let head = &self.head;
        self.fields.retain_mut(|field| {
            let current = read(head, field);
            if !current.name.eq_ignore_ascii_case(name) {
                return true;
            }
            if found {
                return false;
            }
            found = true;
            *field = Field::owned(Header {
                name: current.name.into(),
                value: value.clone(),
            });
            true
        });
        if !found {
            self.insert(
                0,
                Header {
                    name: name.into(),
                    value,
                },
            );
        }
    }
}

impl Field {
    fn owned(header: Header) -> Field {
        Field {
            class: Class::of(&header.name),
            text: Text::Owned(Box::new(header)),
        }
    }
}

fn read<'a>(head: &'a Bytes, field: &'a Field) -> HeaderRef<'a> {
    match &field.text {
        Text::Captured {
            name,
            value,
            line_end,
        } => HeaderRef {
            // SAFETY: `push_captured`'s contract: this range of the (immutable) head is UTF-8.
            name: unsafe { std::str::from_utf8_unchecked(&head[name.0 as usize..name.1 as usize]) },
            value: &head[value.0 as usize..value.1 as usize],
            class: field.class,
            line: Some(&head[name.0 as usize..*line_end as usize]),
        },
        Text::Owned(header) => HeaderRef {
            name: &header.name,
            value: &header.value,
            class: field.class,
            line: None,
        },
        Text::Static(header) => HeaderRef {
            name: &header.name,
            value: &header.value,
            class: field.class,
            line: None,
        },
    }
}

/// The fields of [`Headers`], in order.
pub struct Iter<'a> {
    head: &'a Bytes,
    fields: std::slice::Iter<'a, Field>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = HeaderRef<'a>;
    fn next(&mut self) -> Option<HeaderRef<'a>> {
        self.fields.next().map(|field| read(self.head, field))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.fields.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.fields.next_back().map(|field| read(self.head, field))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Headers {
    type Item = HeaderRef<'a>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl FromIterator<Header> for Headers {
    fn from_iter<I: IntoIterator<Item = Header>>(headers: I) -> Headers {
        let fields: Vec<Field> = headers.into_iter().map(Field::owned).collect();
        Headers {
            head: Bytes::new(),
            classes: fields.iter().fold(Class::NONE, |all, f| all | f.class),
            fields,
        }
    }
}

/// Equal when the fields read the same, however they are stored.
/// The same fields (names, values, order), however they are held: a captured line's spacing
/// is not compared.
impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        fn fields(h: HeaderRef<'_>) -> (&str, &[u8]) {
            (h.name, h.value)
        }
        self.iter().map(fields).eq(other.iter().map(fields))
    }
}

impl Eq for Headers {}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|h| (h.name, String::from_utf8_lossy(h.value))),
            )
            .finish()
    }
}

impl Request {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name)
    }
}

/// Text that shares a [`Bytes`] buffer: always valid UTF-8, and reads as a `&str` (it
/// dereferences to one), so `request.method == "GET"` and every `str` method work.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteStr(Bytes);

impl ByteStr {
    /// A constant, with no allocation.
    pub const fn from_static(text: &'static str) -> ByteStr {
        ByteStr(Bytes::from_static(text.as_bytes()))
    }

    /// Checks that `bytes` are UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Result<ByteStr, std::str::Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(ByteStr(bytes))
    }

    /// The part of `buffer` that `text` is, shared rather than copied; `text` must lie
    /// inside `buffer` (panics otherwise, like [`Bytes::slice_ref`]).
    pub fn slice_of(buffer: &Bytes, text: &str) -> ByteStr {
        ByteStr(buffer.slice_ref(text.as_bytes()))
    }

    /// Takes `bytes` as text without checking.
    ///
    /// # Safety
    /// `bytes` must be valid UTF-8 (for instance, an exact copy of a `str`'s bytes).
    pub unsafe fn from_utf8_unchecked(bytes: Bytes) -> ByteStr {
        ByteStr(bytes)
    }

    /// The text, borrowed (also reachable through `Deref`).
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor takes a `str` or checks UTF-8, and the bytes never change.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The UTF-8 bytes, sharing the same buffer (no copy).
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for ByteStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for ByteStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for ByteStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

// Hashed as the `str` it reads as, so that `Borrow<str>` lookups agree.
impl Hash for ByteStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl From<String> for ByteStr {
    fn from(text: String) -> ByteStr {
        ByteStr(Bytes::from(text.into_bytes()))
    }
}

impl From<&str> for ByteStr {
    fn from(text: &str) -> ByteStr {
        ByteStr(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl fmt::Display for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for ByteStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ByteStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for ByteStr {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<ByteStr> for str {
    fn eq(&self, other: &ByteStr) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<ByteStr> for &str {
    fn eq(&self, other: &ByteStr) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<ByteStr> for String {
    fn eq(&self, other: &ByteStr) -> bool {
        self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_str_shares_its_buffer_and_reads_as_str() {
        let buffer = Bytes::from_static(b"GET /a HTTP/1.1");
        let head = std::str::from_utf8(&buffer).unwrap();
        let method = ByteStr::slice_of(&buffer, &head[..3]);
        assert_eq!(method, "GET");
        assert!(method.eq_ignore_ascii_case("get"));
        assert_eq!(method.as_ptr(), buffer.as_ptr(), "a slice, not a copy");
        assert_eq!(ByteStr::from("GET"), method);
        assert!(ByteStr::from_utf8(Bytes::from_static(b"\xff")).is_err());
        let set: std::collections::HashSet<ByteStr> = [method].into();
        assert!(set.contains("GET"), "hashes like str");
    }

    #[test]
    fn classes_are_found_in_any_case_and_nothing_else_is_classed() {
        for (name, class) in Class::NAMES {
            assert!(name.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-'));
            assert_eq!(Class::of(name), class);
            assert_eq!(Class::of(&name.to_ascii_lowercase()), class);
            assert_eq!(Class::of(&name.to_ascii_uppercase()), class);
            // Same length, one byte changed anywhere: not that header.
            for i in 0..name.len() {
                let mut other = name.as_bytes().to_vec();
                other[i] = if other[i] == b'-' { b'_' } else { b'-' };
                let other = String::from_utf8(other).unwrap();
                assert_eq!(Class::of(&other), Class::NONE, "{other}");
            }
        }
        for name in [
            "",
            "A",
            "Accept",
            "Cookies",
            "Host",
            "X-Replayed-Byy",
            &"x".repeat(300),
        ] {
            assert_eq!(Class::of(name), Class::NONE, "{name}");
        }
    }

    #[test]
    fn headers_read_the_same_captured_or_owned_and_keep_their_classes() {
        let head = Bytes::from_static(b"Host: a\r\nCookie: c=1\r\nAccept: */*\r\n");
        let mut captured = Headers::captured(head.clone(), 4);
        for (name, value) in [(0..4, 6..7), (9..15, 17..20), (22..28, 30..33)] {
            // SAFETY: ASCII ranges inside `head`.
            unsafe { captured.push_captured(name, value.clone(), value.end) };
        }
        let owned: Headers = [("Host", "a"), ("Cookie", "c=1"), ("Accept", "*/*")]
            .into_iter()
            .map(|(n, v)| Header {
                name: n.into(),
                value: Bytes::copy_from_slice(v.as_bytes()),
            })
            .collect();
        assert_eq!(captured, owned);
        assert!(captured.contains(Class::CREDENTIAL) && owned.contains(Class::CREDENTIAL));
        assert_eq!(captured.get("cookie"), Some(&b"c=1"[..]));

        captured.remove_class(Class::CREDENTIAL, |_| false);
        assert!(!captured.contains(Class::CREDENTIAL));
        let names: Vec<&str> = captured.iter().map(|h| h.name).collect();
        assert_eq!(names, ["Host", "Accept"]);

        captured.set("HOST", b"b");
        captured.set("X-New", b"1");
        let lines: Vec<String> = captured
            .iter()
            .map(|h| format!("{}: {}", h.name, String::from_utf8_lossy(h.value)))
            .collect();
        assert_eq!(lines, ["X-New: 1", "Host: b", "Accept: */*"]);

        static MARKER: Header = Header::from_static(MARKER_HEADER, MARKER_VALUE);
        captured.push_static(&MARKER, Class::MARKER);
        assert!(captured.contains(Class::MARKER));
        captured.retain(|h| h.class != Class::MARKER);
        assert!(!captured.contains(Class::MARKER));
        assert_eq!(captured.len(), 3);
    }
}

/// Hand-made requests for the unit tests of every stage and output.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{Connection, Header, Request};

    /// The connection every hand-made request and response comes on.
    pub fn connection() -> Connection {
        Connection {
            client: "192.0.2.10:50000".parse().unwrap(),
            server: "192.0.2.1:80".parse().unwrap(),
        }
    }

    pub fn request(method: &str, target: &str) -> Request {
        Request {
            id: 7,
            captured_at_ns: 1_700_000_000_123_456_789,
            connection: connection(),
            method: method.into(),
            target: target.into(),
            version_minor: 1,
            headers: Default::default(),
            body: bytes::Bytes::new(),
            record_id: None,
            from_record_file: false,
        }
    }

    pub fn with_header(mut request: Request, name: &str, value: &str) -> Request {
        request.headers.push(Header {
            name: name.into(),
            value: value.as_bytes().to_vec().into(),
        });
        request
    }

    /// `data` gzip-encoded, as a server or client would send it.
    pub fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    pub fn header_lines(request: &Request) -> Vec<String> {
        request
            .headers
            .iter()
            .map(|h| format!("{}: {}", h.name, String::from_utf8_lossy(h.value)))
            .collect()
    }
}
