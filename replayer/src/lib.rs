//! The replayer daemon's library. The folders follow the data flow, one concern each:
//!
//! ```text
//! capture → stream → stages → flow → outputs (replay | stdout | file | null)
//!                                         ↘ status (counters → socket, metrics; the sync flag pauses replay)
//! ```
//!
//! `main.rs` is thin: it parses the command line (`config::cli`) and runs the flow (`flow`),
//! as a daemon (`daemon`) when there is an `-output-http` target.

pub mod request; // the request as captured: shared by every stage below
pub mod capture; // packets in (libpcap live, pcap files) → decoded TCP segments
pub mod stream; // segments → ordered bytes per connection → HTTP/1.x requests
pub mod stages; // filter → rewrite → limit, with a verdict per request
pub mod outputs; // replay to staging over HTTP(S); GoReplay records to stdout or a file
pub mod status; // counters, the status socket, Prometheus metrics, the sync flag
pub mod config; // the command line and the TOML file → one typed Config
pub mod flow; // wires capture → stages → per-output limits → outputs, once for every mode
pub mod shutdown; // one way to stop: signals, -exit-after, the end of a file
pub mod privileges; // gives up capabilities once capture is open
pub mod daemon; // the long-running shape of the flow, with replay and the status socket
pub mod progress; // a progress bar while reading a capture file in a terminal
pub mod status_cmd; // `replayer status`: asks a running daemon
