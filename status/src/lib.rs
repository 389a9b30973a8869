//! What the daemon and the check plugins must agree on, kept in exactly one place:
//! the status document served on the Unix socket ([`schema`]), the meaning of the
//! data-sync flag file ([`sync`]), the RFC 3339 timestamps the document carries ([`time`]),
//! and the one client that reads the socket ([`client`]).
//!
//! This crate is deliberately small (serde only) so that the plugins start fast and never
//! link libpcap, tokio or an HTTP client.

#![warn(missing_docs)]

pub mod client;
pub mod schema;
pub mod sync;
pub mod time;

pub use schema::{StatusDocument, Window, SCHEMA_VERSION};
pub use sync::{read_sync, SyncConfig, SyncReading, SyncWindow};
pub use time::{format_rfc3339, parse_rfc3339};
