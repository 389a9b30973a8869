//! The replayer daemon's library: each stage of the data flow is one module.
//!
//! ```text
//! capture → decode → reassemble → http → filter → rewrite → limit → outputs (replay | stdout | file | null)
//!                                                                      ↘ stats → status (Unix socket)
//! sync (flag watcher) pauses replay while a data sync is in progress.
//! ```
//!
//! `main.rs` is thin: it parses the command line (`cli`) and runs the pipeline (`pipeline`).

pub mod request;
pub mod output;
pub mod pipeline;
pub mod stats;
pub mod status_server;
pub mod sync_watch;
pub mod replay;
pub mod capture;
pub mod decode;
pub mod reassemble;
pub mod http;
pub mod filter;
pub mod rewrite;
pub mod limit;
pub mod stages;
pub mod config;
pub mod cli;
pub mod app;
pub mod shutdown;
pub mod daemon;
pub mod metrics;
pub mod privileges;
pub mod status_cmd;
pub mod progress;
