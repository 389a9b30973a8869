//! Does staging answer like production? The comparison of the two answers to each request.
//!
//! - [`digest`]: a response body → a fixed-size summary, computed while it streams (content
//!   coding undone, masks applied), the same on both sides;
//! - [`compare`]: two answers → the causes they differ by (status, class, media type,
//!   redirect target, body, length) and whether staging was slower;
//! - [`noise`]: requests production itself answers differently each time, whose body
//!   differences are counted apart;
//! - [`route`]: a request-target → its route template, for grouping the differences.

pub mod compare;
pub mod digest;
pub mod noise;
pub mod route;
