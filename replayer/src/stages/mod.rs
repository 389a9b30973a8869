//! What happens to each framed request before any output sees it, in GoReplay's order:
//! [`filter`] (methods, URLs, headers, loops), [`rewrite`] (headers, parameters, URLs,
//! credentials), [`limit`] (rates and percentages), chained by [`chain`] with the verdict
//! and counters the status document reports; then, for every output alike, [`prettify`]
//! (`-prettify-http`).

pub mod chain;
pub mod filter;
pub mod limit;
pub mod prettify;
pub mod rewrite;

pub use chain::{FlowStats, Stages, Verdict};
