//! `-output-file` as GoReplay's users write it, through the real binary on
//! `demo/production.pcap` (port 7999): a `%Y` placeholder with `-output-file-size-limit`
//! gives GoReplay's chunk names, and the chunks put together are exactly what
//! `-output-stdout` writes for the same input; a `.gz` path gives complete gzip files
//! (read back by `zcat`, and chunk by chunk by flate2's single-member reader);
//! `-output-file-max-size-limit` stops at the limit, saying so once.

use crate::util::records::goreplay_records;
use crate::util::*;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

/// Runs replayer on the demo capture with `args`, whatever its exit.
fn run_demo(args: &[&str]) -> Output {
    let pcap = workspace_root().join("demo/production.pcap");
    run_with_timeout(
        Command::new(bin("replayer"))
            .arg(format!("-input-raw={}:7999", pcap.display()))
            .args(args),
        Duration::from_secs(30),
    )
}

/// Runs replayer on the demo capture with its production's responses too (71 requests and
/// 71 responses, 33 KB of records: enough for chunks of 20 KB) and `extra`; exit 0 checked.
fn replay_demo(extra: &[&str]) -> Output {
    let args = [&["-input-raw-track-response"], extra].concat();
    let out = run_demo(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// What `-output-stdout` writes for the demo capture (the reference).
fn stdout_records() -> Vec<u8> {
    let out = replay_demo(&["-output-stdout"]);
    assert_eq!(
        goreplay_records(&out.stdout).len(),
        142,
        "71 requests, 71 responses"
    );
    out.stdout
}

/// The file names in `dir`, chunk order (`_2` before `_10`).
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort_by_key(|n| (n.len(), n.clone()));
    names
}

/// The local year, as `%Y` spells it.
fn year() -> String {
    let out = Command::new("date").arg("+%Y").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn chunks_are_named_as_goreplay_and_hold_every_record_once() {
    let scratch = Scratch::new("output-file-chunks");
    let expected = stdout_records();
    let template = scratch.join("req_%Y.gor");
    let before = year();
    replay_demo(&[
        "-output-file",
        template.to_str().unwrap(),
        "-output-file-size-limit",
        "20kb",
    ]);
    let year = year();
    assert_eq!(
        before, year,
        "the year changed during the test: run it again"
    );
    let names = names_in(scratch.path());
    assert_eq!(
        names,
        [format!("req_{year}_0.gor"), format!("req_{year}_1.gor")]
    );
    let chunks: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(scratch.join(n)).unwrap())
        .collect();
    // The first chunk closed with the record that took it to 20 KB: whole records only.
    assert!(chunks[0].len() >= 20 * 1024, "{}", chunks[0].len());
    for chunk in &chunks {
        assert!(!goreplay_records(chunk).is_empty());
    }
    assert_eq!(chunks.concat(), expected);

    // Run again: the chunks already there stay, numbering goes on after them.
    replay_demo(&[
        "-output-file",
        template.to_str().unwrap(),
        "-output-file-size-limit",
        "20kb",
    ]);
    assert_eq!(
        names_in(scratch.path()),
        (0..4)
            .map(|i| format!("req_{year}_{i}.gor"))
            .collect::<Vec<_>>()
    );
    assert_eq!(std::fs::read(scratch.join(&names[0])).unwrap(), chunks[0]);
}

/// The file as `zcat` reads it (every gzip member, checked), which is how operators read it.
fn zcat(path: &Path) -> Vec<u8> {
    let out = run_with_timeout(
        Command::new(require_tool("zcat")).arg(path),
        Duration::from_secs(20),
    );
    assert!(out.status.success(), "{out:?}");
    out.stdout
}

#[test]
fn gz_paths_are_complete_gzip_files_whole_or_in_chunks() {
    let scratch = Scratch::new("output-file-gz");
    let expected = stdout_records();
    let whole = scratch.join("all.gor.gz");
    replay_demo(&["-output-file", whole.to_str().unwrap()]);
    let bytes = std::fs::read(&whole).unwrap();
    assert_eq!(&bytes[..2], [0x1f, 0x8b], "a gzip file");
    assert_eq!(zcat(&whole), expected);

    let chunked = scratch.join("c.gor.gz");
    replay_demo(&[
        "-output-file",
        chunked.to_str().unwrap(),
        "-output-file-size-limit",
        "2kb",
    ]);
    let chunks: Vec<String> = names_in(scratch.path())
        .into_iter()
        .filter(|n| n.starts_with("c.gor_"))
        .collect();
    assert!(chunks.len() >= 2, "{chunks:?}");
    let mut all = Vec::new();
    for (i, name) in chunks.iter().enumerate() {
        assert_eq!(name, &format!("c.gor_{i}.gz"));
        // Each chunk complete on its own: one member, its trailer checked.
        let mut one = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(scratch.join(name)).unwrap())
            .read_to_end(&mut one)
            .unwrap();
        all.extend(one);
    }
    assert_eq!(all, expected);
}

#[test]
fn max_size_keeps_the_records_that_fit_and_says_so_once() {
    let scratch = Scratch::new("output-file-max");
    let expected = goreplay_records(&stdout_records());
    let path = scratch.join("m.gor");
    let out = replay_demo(&[
        "-output-file",
        path.to_str().unwrap(),
        "-output-file-max-size-limit",
        "10kb",
        "-stats",
    ]);
    let written = std::fs::read(&path).unwrap();
    let records = goreplay_records(&written);
    assert!(written.len() <= 10 * 1024, "{}", written.len());
    assert_eq!(records[..], expected[..records.len()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr
            .matches("reached -output-file-max-size-limit")
            .count(),
        1,
        "{stderr}"
    );
    let dropped = expected.len() - records.len();
    let figures = format!(
        "file_written {} file_dropped queue_full 0 write_error 0 over_max_size {dropped}",
        records.len()
    );
    // Logged by the file output at its end, and in -stats's summary line.
    assert_eq!(stderr.matches(&figures).count(), 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "requests seen 77 filtered 6 sampled_out 0 written 71 (filtered: method 6) {figures}"
        )),
        "{stderr}"
    );
}

#[test]
fn a_path_that_cannot_be_created_is_refused_at_start() {
    let out = run_demo(&[
        "-output-file",
        "/nonexistent/dir/req_%Y.gor",
        "-output-file-size-limit",
        "1mb",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "replayer: output-file: cannot create /nonexistent/dir/req_{}_0.gor: No such file or directory (os error 2)",
            year()
        )
    );
}

#[test]
fn a_file_that_can_never_be_written_fails_the_run_after_capture() {
    // /dev/full: opened fine, every write ends in ENOSPC.
    let out = run_demo(&["-output-file", "/dev/full"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr
            .matches("output-file: cannot write /dev/full: No space left on device")
            .count(),
        1,
        "one warning while failing: {stderr}"
    );
    assert!(
        stderr.contains("file_written 0 file_dropped queue_full 0 write_error 71 over_max_size 0"),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().last(),
        Some("replayer: output-file: writing /dev/full: No space left on device (os error 28)")
    );
}
