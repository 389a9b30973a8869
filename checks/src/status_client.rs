//! Fetches the daemon's status document: connect to the Unix socket, read to end of file,
//! parse with the shared schema.
//!
//! The failures split the way an SRE acts on them: the daemon not there or not answering is
//! CRITICAL (replay is down), a document we cannot read is UNKNOWN (the check is broken, or
//! the daemon and plugin versions disagree), each naming what was wrong.
//!
//! [`run_check`] is the whole of a socket check but its judgement of the document: the
//! options `-S`/`--window`, the `-t` deadline and the failures above.

use crate::plugin::{self, Outcome, PluginArgs, State};
use crate::rate::{parse_window, MissingWindow};
use replayer_status::{StatusDocument, SCHEMA_VERSION};
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The daemon's default socket.
pub const DEFAULT_SOCKET: &str = "/run/replayer/status.sock";

/// A document is a few kilobytes; anything past this is not one.
const MAX_DOCUMENT: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot connect to status socket {path}: {source}")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("status socket {path} did not answer within {secs} s")]
    Silent { path: PathBuf, secs: u64 },
    #[error("reading status socket {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("status document from {path} is unreadable: {source}")]
    Document { path: PathBuf, source: DocError },
}

impl FetchError {
    /// CRITICAL when the daemon is absent or silent, UNKNOWN when its answer is unreadable.
    pub fn state(&self) -> State {
        match self {
            FetchError::Connect { .. } | FetchError::Silent { .. } => State::Critical,
            FetchError::Read { .. } | FetchError::Document { .. } => State::Unknown,
        }
    }
}

/// What is wrong with a document's bytes.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    #[error("empty (the daemon closed the connection without sending anything)")]
    Empty,
    #[error("larger than {MAX_DOCUMENT} bytes")]
    TooLarge,
    #[error("not valid JSON ({0})")]
    Json(serde_json::Error),
    #[error("no \"schema\" number in it")]
    NoSchema,
    #[error("schema version {found}, but this plugin reads schema {SCHEMA_VERSION}: upgrade the plugins with the daemon")]
    Schema { found: serde_json::Value },
    #[error("does not match schema {SCHEMA_VERSION} ({0})")]
    Shape(serde_json::Error),
}

/// Connects to `path` and reads the whole document, giving up after `timeout` (reported as
/// `timeout_secs`, the `-t` the user gave).
pub fn fetch(path: &Path, timeout: Duration) -> Result<StatusDocument, FetchError> {
    let deadline = Instant::now() + timeout;
    let silent = || FetchError::Silent {
        path: path.to_path_buf(),
        secs: timeout.as_secs(),
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
        stream
            .set_read_timeout(Some(left))
            .map_err(|source| FetchError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        match limited.read(&mut chunk) {
            Ok(0) => break,
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
            Err(source) => {
                return Err(FetchError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
    parse(&bytes).map_err(|source| FetchError::Document {
        path: path.to_path_buf(),
        source,
    })
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

/// `-S` and `--window`, shared by the socket checks.
#[derive(Debug, Clone, clap::Args)]
pub struct SocketArgs {
    /// The daemon's status socket.
    #[arg(short = 'S', long = "socket", value_name = "PATH", allow_hyphen_values = true,
          default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,

    /// Window in seconds: 60, 300 or 900.
    #[arg(long = "window", value_name = "SECONDS", allow_hyphen_values = true,
          default_value = "300", value_parser = parse_window)]
    pub window: u64,
}

/// Implemented by the socket checks' options types.
pub trait SocketPlugin: PluginArgs {
    fn socket_args(&self) -> &SocketArgs;
}

/// Runs a socket check: fetches the document within `-t` (CRITICAL if the daemon is absent
/// or silent, UNKNOWN if the document is unreadable) and lets `evaluate` judge it.
pub fn run_check<A, E>(label: &'static str, evaluate: E) -> !
where
    A: SocketPlugin,
    E: FnOnce(&A, &StatusDocument) -> Result<Outcome, MissingWindow>,
{
    plugin::run::<A, _, _>(
        label,
        |args| {
            let silent = FetchError::Silent {
                path: args.socket_args().socket.clone(),
                secs: args.common().timeout,
            };
            Outcome::new(silent.state(), silent.to_string())
        },
        |args, _context| {
            let timeout = Duration::from_secs(args.common().timeout);
            match fetch(&args.socket_args().socket, timeout) {
                Ok(doc) => Ok(evaluate(args, &doc)?),
                Err(e) => Ok(Outcome::new(e.state(), e.to_string())),
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const DEMO: &str = include_str!("../demo/status.json");

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
}
