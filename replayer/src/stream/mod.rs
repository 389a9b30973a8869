//! TCP segments in, HTTP/1.x requests out: [`reassemble`] puts each connection's bytes in
//! sequence order, [`http`] frames them into requests, and [`pipeline`] drives a capture
//! source through both on the capture thread.

pub(crate) mod framing;
pub mod http;
pub mod pipeline;
pub mod reassemble;
