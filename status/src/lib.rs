//! What the daemon and the check plugins must agree on, kept in exactly one place:
//! the status document served on the Unix socket ([`schema`]) and the meaning of the
//! data-sync flag file ([`sync`]).
//!
//! This crate is deliberately small (serde only) so that the plugins start fast and never
//! link libpcap, tokio or an HTTP client.

pub mod schema;
pub mod sync;

pub use schema::{StatusDocument, Window, SCHEMA_VERSION};
