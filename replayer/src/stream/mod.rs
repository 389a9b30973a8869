//! TCP segments in, HTTP/1.x requests out: [`reassemble`] puts each connection's bytes in
//! sequence order, [`http`] frames them into requests, and [`pipeline`] drives a capture
//! source through both on the capture thread. When production's responses are wanted too,
//! a second reassembler puts the server's bytes in order, [`response`] frames them, and
//! [`pairing`] tells which request each answers.

pub(crate) mod framing;
pub mod http;
pub mod pairing;
pub mod pipeline;
pub mod reassemble;
pub mod response;
