//! The public capture corpus: real captures from public sources, each `NAME.pcap` with
//! `NAME.expected.tsv` (the requests tshark dissects from it: method TAB request-target),
//! kept outside the repository. [`corpus_dir`] is the one place that says where it is; tests
//! that read it call [`corpus_or_skip`], which says so (see [`super::skip`]) when it is not
//! there. The server port of each capture is in `tests/corpus_ports.tsv`.

use super::{skip, test_name, workspace_root};
use std::path::{Path, PathBuf};

/// Where the public capture corpus is: `$REPLAYER_CORPUS` when set, else `../shared/corpus`
/// beside the repository (where CI puts it). `Err` says why it cannot be used.
pub fn corpus_dir() -> Result<PathBuf, String> {
    match std::env::var_os("REPLAYER_CORPUS") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_dir() {
                Ok(dir)
            } else {
                Err(format!(
                    "the public capture corpus is not at REPLAYER_CORPUS={}",
                    dir.display()
                ))
            }
        }
        None => {
            let dir = workspace_root().join("../shared/corpus");
            if dir.is_dir() {
                Ok(dir)
            } else {
                Err(format!(
                    "the public capture corpus is not at {} (set REPLAYER_CORPUS)",
                    dir.display()
                ))
            }
        }
    }
}

/// Where the file GoReplay itself wrote is: `$REPLAYER_GOREPLAY_RECORDS` when set, else
/// `../shared/goreplay-records` beside the repository (where CI puts it). `None` after
/// saying that the running test skips what needs it.
pub fn goreplay_records_or_skip() -> Option<PathBuf> {
    let (dir, named) = match std::env::var_os("REPLAYER_GOREPLAY_RECORDS") {
        Some(dir) => (PathBuf::from(dir), "REPLAYER_GOREPLAY_RECORDS="),
        None => (workspace_root().join("../shared/goreplay-records"), ""),
    };
    if dir.join("recorded-1.3.3.gor").is_file() {
        return Some(dir);
    }
    skip(
        &test_name(),
        &format!(
            "the file GoReplay 1.3.3 wrote is not at {named}{}/recorded-1.3.3.gor (set REPLAYER_GOREPLAY_RECORDS)",
            dir.display()
        ),
    );
    None
}

/// The corpus directory, or `None` after saying that the running test skips what needs it.
pub fn corpus_or_skip() -> Option<PathBuf> {
    corpus_or_skip_part("")
}

/// [`corpus_or_skip`] for a test that goes on without the corpus: `rest` ends the reason
/// with what still runs (e.g. `"; only the project's own captures are mutated"`).
pub fn corpus_or_skip_part(rest: &str) -> Option<PathBuf> {
    match corpus_dir() {
        Ok(dir) => Some(dir),
        Err(reason) => {
            skip(&test_name(), &format!("{reason}{rest}"));
            None
        }
    }
}

/// Every capture's server port, from `tests/corpus_ports.tsv` (`NAME<TAB>PORT` lines).
pub fn ports() -> Vec<(String, u16)> {
    let text = std::fs::read_to_string(workspace_root().join("tests/corpus_ports.tsv"))
        .expect("tests/corpus_ports.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(n, p)| (n.to_owned(), p.trim().parse().expect("port number")))
        .collect()
}

/// The server port of capture `name`; a capture missing from the table fails the test.
pub fn port_of(name: &str) -> u16 {
    ports()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, p)| p)
        .unwrap_or_else(|| panic!("{name}: add its server port to tests/corpus_ports.tsv"))
}

/// The names of the corpus's captures (`NAME` of each `NAME.pcap`), sorted.
pub fn captures(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read corpus dir")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".pcap").map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}
