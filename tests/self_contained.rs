//! The repository stands alone: no file in it cites design notes, layouts or data that live
//! outside it. The sanctioned outside paths are the default locations of the test data: the
//! public capture corpus (`../shared/corpus`, overridden by `REPLAYER_CORPUS`) and the record
//! file GoReplay wrote (`../shared/goreplay-records`, `REPLAYER_GOREPLAY_RECORDS`), which
//! only their finder and the scripts that run the tests name.

use crate::util::workspace_root;
use std::process::Command;

/// Files outside the repository that nothing in it may cite.
const OUTSIDE: [&str; 5] = [
    "DESIGN.md",
    "LAYOUT.md",
    "seed.txt",
    "goreplay-records",
    "../shared",
];

/// Where `../shared/corpus` may be named: test data's default location, not a document.
const CORPUS_PATH_ALLOWED_IN: [&str; 5] = [
    "tests/util/corpus.rs",
    "tests/self_contained.rs",
    "scripts/test",
    "scripts/fuzz-short",
    ".ci/run",
];

#[test]
fn nothing_cites_a_file_outside_the_repository() {
    let listed = Command::new("git")
        .arg("-C")
        .arg(workspace_root())
        .args(["ls-files", "-z"])
        .output()
        .expect("git ls-files");
    assert!(listed.status.success(), "git ls-files failed");
    let files: Vec<String> = String::from_utf8(listed.stdout)
        .unwrap()
        .split('\0')
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect();
    assert!(files.len() > 100, "only {} files listed", files.len());
    let mut citations = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(workspace_root().join(file)) else {
            continue; // binary (a capture): cites nothing
        };
        for (number, line) in text.lines().enumerate() {
            for outside in OUTSIDE {
                if !line.contains(outside) {
                    continue;
                }
                // The two data folders tests read, each by its one default path.
                let corpus_default = (line.contains("../shared/corpus")
                    || line.contains("../shared/goreplay-records"))
                    && !line
                        .replace("../shared/corpus", "")
                        .replace("../shared/goreplay-records", "")
                        .contains("../shared")
                    && CORPUS_PATH_ALLOWED_IN.contains(&file.as_str());
                if !corpus_default && file != "tests/self_contained.rs" {
                    citations.push(format!("{file}:{}: {}", number + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        citations.is_empty(),
        "files outside the repository cited:\n{}",
        citations.join("\n")
    );
}
