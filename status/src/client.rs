//! Fetches the daemon's status document: connect to the Unix socket, read to end of file,
//! parse with the [`schema`](crate::schema). Used by the check plugins and by
//! `replayer status`, so both read the socket the same way and fail with the same words.
//!
//! Std only (no tokio): a blocking read with a deadline is all a one-shot client needs, and
//! the plugins must start fast.
//!
//! The failures split the way an operator acts on them: the daemon not there or not
//! answering ([`FetchError::not_answering`]: replay is down) and a document that cannot be
//! read (a broken client, or daemon and client versions that disagree), each naming what
//! was wrong.

use crate::{StatusDocument, SCHEMA_VERSION};
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The daemon's default socket (systemd's `RuntimeDirectory=replayer`).
pub const DEFAULT_SOCKET: &str = "/run/replayer/status.sock";

/// A document is a few kilobytes; anything past this is not one.
const MAX_DOCUMENT: u64 = 1 << 20;

/// Why no document could be had from the socket. Every variant names the socket's path.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Nothing accepted the connection: no socket file (daemon not running), refused
    /// (daemon gone, stale file), or no permission on the socket.
    #[error("cannot connect to status socket {path}: {source}")]
    Connect {
        /// The socket that was tried.
        path: PathBuf,
        /// The error from `connect(2)`.
        source: std::io::Error,
    },
    /// Connected, but the whole document did not arrive before the deadline: the daemon is
    /// hung or overloaded.
    #[error("status socket {path} did not answer within {secs} s")]
    Silent {
        /// The socket that was read.
        path: PathBuf,
        /// The deadline, in whole seconds (the plugins' `-t`).
        secs: u64,
    },
    /// Reading failed after the connection was made (other than by timing out).
    #[error("reading status socket {path}: {source}")]
    Read {
        /// The socket that was read.
        path: PathBuf,
        /// The error from `read(2)` or from setting the read timeout.
        source: std::io::Error,
    },
    /// Something came back, but it is not a schema-1 status document.
    #[error("status document from {path} is unreadable: {source}")]
    Document {
        /// The socket that was read.
        path: PathBuf,
        /// What is wrong with the bytes.
        source: DocError,
    },
}

impl FetchError {
    /// True when the daemon is absent or silent (nothing listens on the socket, or nothing
    /// came back in time); false when it answered with something unreadable.
    pub fn not_answering(&self) -> bool {
        matches!(self, FetchError::Connect { .. } | FetchError::Silent { .. })
    }
}

/// What is wrong with a document's bytes.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    /// Nothing, or only whitespace, before end of file.
    #[error("empty (the daemon closed the connection without sending anything)")]
    Empty,
    /// More than 1 MiB: not a status document (a real one is a few kilobytes).
    #[error("larger than {MAX_DOCUMENT} bytes")]
    TooLarge,
    /// Not JSON at all, or cut short; serde_json's error says where.
    #[error("not valid JSON ({0})")]
    Json(serde_json::Error),
    /// JSON, but not an object with a `schema` field: something else is on the socket.
    #[error("no \"schema\" number in it")]
    NoSchema,
    /// A schema version other than [`SCHEMA_VERSION`]: daemon and plugins are from
    /// different releases.
    #[error("schema version {found}, but this plugin reads schema {SCHEMA_VERSION}: upgrade the plugins with the daemon")]
    Schema {
        /// The `schema` value as found (any JSON value, shown as JSON).
        found: serde_json::Value,
    },
    /// The right schema version, but a field is missing or of the wrong type; serde_json's
    /// error names it.
    #[error("does not match schema {SCHEMA_VERSION} ({0})")]
    Shape(serde_json::Error),
}

/// Connects to `path` and reads the whole document, giving up after `timeout` (reported in
/// whole seconds, as the user gave it).
pub fn fetch(path: &Path, timeout: Duration) -> Result<StatusDocument, FetchError> {
    let bytes = fetch_bytes(path, timeout)?;
    parse(&bytes).map_err(|source| FetchError::Document {
        path: path.to_path_buf(),
        source,
    })
}

/// The document's bytes exactly as the daemon sent them (for `replayer status --json`).
pub fn fetch_bytes(path: &Path, timeout: Duration) -> Result<Vec<u8>, FetchError> {
    let deadline = Instant::now() + timeout;
    let silent = || FetchError::Silent {
        path: path.to_path_buf(),
        secs: timeout.as_secs(),
    };
    let read_error = |source| FetchError::Read {
        path: path.to_path_buf(),
        source,
    };
    let stream = UnixStream::connect(path).map_err(|source| FetchError::Connect {
        path: path.to_path_buf(),
        source,
    })?;
    let mut bytes = Vec::with_capacity(4096);
    let mut limited = (&stream).take(MAX_DOCUMENT + 1);
    let mut chunk = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(silent());
        }
        stream.set_read_timeout(Some(left)).map_err(read_error)?;
        match limited.read(&mut chunk) {
            Ok(0) => return Ok(bytes),
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(silent())
            }
            Err(source) => return Err(read_error(source)),
        }
    }
}

/// Reads a document, checking the schema version before the shape so that a newer daemon
/// gets "schema 2" rather than a confusing missing-field message.
pub fn parse(bytes: &[u8]) -> Result<StatusDocument, DocError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DocError::Empty);
    }
    if bytes.len() as u64 > MAX_DOCUMENT {
        return Err(DocError::TooLarge);
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(DocError::Json)?;
    match value.get("schema") {
        Some(v) if v.as_u64() == Some(SCHEMA_VERSION) => {}
        Some(v) => return Err(DocError::Schema { found: v.clone() }),
        None => return Err(DocError::NoSchema),
    }
    serde_json::from_value(value).map_err(DocError::Shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = include_str!("../../checks/demo/status.json");

    #[test]
    fn reads_the_demo_document() {
        let doc = parse(DEMO.as_bytes()).unwrap();
        assert_eq!(doc.schema, 1);
        assert!(doc.windows.contains_key("300"));
    }

    #[test]
    fn says_what_is_wrong() {
        let cut = &DEMO[..DEMO.len() / 2];
        let e = parse(cut.as_bytes()).unwrap_err().to_string();
        assert!(e.starts_with("not valid JSON (EOF while parsing"), "{e}");
        let e = parse(
            DEMO.replacen("\"schema\": 1", "\"schema\": 2", 1)
                .as_bytes(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("schema version 2, but this plugin reads schema 1"),
            "{e}"
        );
        let e = parse(br#"{"version": "0.1.0"}"#).unwrap_err().to_string();
        assert_eq!(e, "no \"schema\" number in it");
        let e = parse(br#"{"schema": 1}"#).unwrap_err().to_string();
        assert!(
            e.starts_with("does not match schema 1 (missing field"),
            "{e}"
        );
        assert_eq!(
            parse(b" \n").unwrap_err().to_string(),
            DocError::Empty.to_string()
        );
        let e = parse(b"[1,2]").unwrap_err().to_string();
        assert_eq!(e, "no \"schema\" number in it");
    }

    #[test]
    fn a_missing_socket_is_not_answering() {
        let e = fetch(
            Path::new("/nonexistent/status.sock"),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(e.not_answering());
        assert_eq!(
            e.to_string(),
            "cannot connect to status socket /nonexistent/status.sock: No such file or directory (os error 2)"
        );
    }
}
