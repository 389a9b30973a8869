//! The replayer daemon's library. The folders follow the data flow, one concern each:
//!
//! ```text
//! capture → stream ─┐
//!          records ─┴→ [middleware] → stages → flow → outputs (replay | stdout | file | null)
//!                                         ↘ status (counters → socket, metrics; the sync flag pauses replay)
//! ```
//!
//! `main.rs` is thin: it parses the command line (`config::cli`) and runs the flow (`flow`),
//! as a daemon (`daemon`) when there is an `-output-http` target.

#![warn(missing_docs)]

pub mod request; // the request as captured: shared by every stage below
pub mod diff; // production's answer against staging's: body digests, causes, noise, routes
pub mod response; // production's response as captured, paired with its request
pub mod capture; // packets in (libpcap live, pcap files) → decoded TCP segments
pub mod stream; // segments → ordered bytes per connection → HTTP/1.x requests
pub mod records; // GoReplay's record files as an input: read, merged by time, paced
pub mod middleware; // --middleware: an external program sees and may change every message
pub mod stages; // filter → rewrite → limit, with a verdict per request
pub mod outputs; // replay to staging over HTTP(S); GoReplay records to stdout or a file
pub mod status; // counters, the status socket, Prometheus metrics, the sync flag
pub mod join; // production's answer and staging's to one request, brought together and compared
pub mod config; // the command line and the TOML file → one typed Config
pub mod flow; // wires capture → stages → per-output limits → outputs, once for every mode
pub mod shutdown; // one way to stop: signals, -exit-after, the end of a file
pub mod privileges; // gives up capabilities once capture is open
pub mod daemon; // the long-running shape of the flow, with replay and the status socket
pub mod progress; // a progress bar while reading a capture file in a terminal
pub mod status_cmd; // `replayer status`: asks a running daemon
pub mod diff_cmd; // `replayer diff`: staging against production, from a running daemon

/// The folders above form layers: no module may import one that imports it back, directly
/// or through others. Checked on the source itself, so a new `use crate::...` that closes a
/// loop fails here with the loop named.
#[cfg(test)]
mod layering {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    /// `crate::X` paths used by each top-level module (a folder or a file of `src/`).
    fn imports() -> BTreeMap<String, BTreeSet<String>> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut files = vec![src.clone()];
        let mut sources: Vec<PathBuf> = Vec::new();
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            } else if path.extension().is_some_and(|e| e == "rs") {
                sources.push(path);
            }
        }
        for path in sources {
            let relative = path.strip_prefix(&src).unwrap();
            let first = relative.components().next().unwrap().as_os_str();
            let module = Path::new(first)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if module == "lib" || module == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let used = graph.entry(module.clone()).or_default();
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (at, _) in line.match_indices("crate::") {
                    let name: String = line[at + 7..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != module {
                        used.insert(name);
                    }
                }
            }
        }
        graph
    }

    /// A path from `from` back to itself, if there is one.
    fn cycle_through(
        graph: &BTreeMap<String, BTreeSet<String>>,
        from: &str,
    ) -> Option<Vec<String>> {
        let mut stack = vec![vec![from.to_string()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = path.last().unwrap();
            for next in graph.get(last).into_iter().flatten() {
                if next == from {
                    let mut cycle = path.clone();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push(longer);
                }
            }
        }
        None
    }

    #[test]
    fn no_module_imports_one_that_imports_it_back() {
        let graph = imports();
        assert!(graph.len() >= 10, "found too few modules: {graph:?}");
        for module in graph.keys() {
            if let Some(cycle) = cycle_through(&graph, module) {
                panic!("import cycle: {}", cycle.join(" → "));
            }
        }
    }

    #[test]
    fn the_check_sees_a_cycle_when_there_is_one() {
        let mut graph = imports();
        graph.get_mut("request").unwrap().insert("flow".into());
        assert!(cycle_through(&graph, "request").is_some());
    }
}
