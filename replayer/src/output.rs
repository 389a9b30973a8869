//! Where requests go after `filter` → `rewrite` → `limit`: stdout and file (GoReplay's
//! record format), null, and the HTTP replay to staging (in `replay`).
//!
//! CONTRACT: every output implements [`Output`]. `emit` must never block capture: outputs that
//! talk to the network push into a bounded queue and count what does not fit.

use crate::request::Request;

pub trait Output: Send {
    /// Hands one request to the output.
    fn emit(&mut self, request: &Request) -> Result<(), OutputError>;
    /// Called once at the end (file input done, or shutdown): flush buffers, drain queues.
    fn finish(&mut self) -> Result<(), OutputError>;
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}
