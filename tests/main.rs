//! Every test of the project beyond the crates' unit tests, in one binary: each module is one
//! concern, driving the real binaries and real parts (libpcap, nginx, Icinga 2, Puppet,
//! curl, wrk, tshark, dpkg) or the daemon's library. The modules' tests run in parallel
//! threads of this one process; `util` is their harness, and `util::lock` is how tests share
//! what cannot be had twice.
//!
//! `cargo test -p replayer-tests -- --test-threads=3`; one module: `... -- cli_pcap::`.

mod util;

// The daemon's library on its own: capture, reassembly, framing.
mod capture_responses;
mod corpus_library;
mod fuzz_regressions;
mod proptest_reassembly;
mod proptest_responses;
mod reassembly_robustness;

// The binary on capture files.
mod abuse_capture;
mod capture_malformed;
mod capture_synthetic;
mod cli_args;
mod cli_pcap;
mod goreplay_flags;
mod framing_fidelity;
mod corpus_binary;
mod mutated_captures;
mod output_file;
mod progress_bar;
mod input_file;
mod middleware;

// Live capture.
mod capture_live_veth;
mod capture_loopback;

// The daemon: replay to staging, its status, faults, security.
mod daemon_e2e;
mod daemon_replay;
mod diff_live;
mod faults_staging;
mod metrics_prometheus;
mod replay_fidelity;
mod security_daemon;
mod status_cmd;

// The check plugins.
mod checks_procs;
mod checks_socket;

// Deployment: Icinga 2, systemd, NRPE, Puppet, the Debian package, Prometheus's rules.
mod icinga_config;
mod icinga_live;
mod fleet;
mod fleet_load;
mod icinga_systemd;
mod package_deb;
mod prometheus_rules;
mod puppet_module;

// Documentation that must stay true.
mod docs_config;
mod docs_readme;
mod man_pages;
mod self_contained;
