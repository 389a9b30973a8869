//! `--input-file`: GoReplay's record files read back and replayed. The file GoReplay 1.3.3
//! wrote itself (outside the repository: `util::corpus::goreplay_records_or_skip`) is read
//! record for record, replayed to a real nginx and round-tripped through `-output-file`;
//! synthetic files check timing, globs, `.gz`, and what damage does.

use crate::util::corpus::goreplay_records_or_skip;
use crate::util::nginx::Nginx;
use crate::util::records::{goreplay_records, write_get_records_at};
use crate::util::{bin, run_with_timeout, Scratch};
use replayer::records::reader::RecordReader;
use replayer::records::{Kind, Record};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn replayer(args: &[&str]) -> Output {
    run_with_timeout(
        Command::new(bin("replayer")).args(args),
        Duration::from_secs(60),
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn read_records(path: &Path) -> Vec<Record> {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = RecordReader::new(file);
    std::iter::from_fn(|| reader.next().unwrap()).collect()
}

#[test]
fn every_record_goreplay_wrote_is_read_with_its_payload_byte_for_byte() {
    let Some(dir) = goreplay_records_or_skip() else {
        return;
    };
    let path = dir.join("recorded-1.3.3.gor");
    let records = read_records(&path);
    // The harness's own strict splitter, independent of the reader.
    let expected = goreplay_records(&std::fs::read(&path).unwrap());
    assert_eq!(records.len(), 520);
    assert_eq!(expected.len(), 520);
    for (record, expected) in records.iter().zip(&expected) {
        let meta = format!(
            "{} {} {} {}",
            record.kind.digit() as char,
            String::from_utf8_lossy(&record.id),
            record.timestamp_ns,
            record.latency_ns
        );
        assert_eq!(meta, expected.meta);
        assert_eq!(&record.payload[..], &expected.payload[..], "{meta}");
    }
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for record in &records {
        let first = record.payload.split(|&b| b == b' ').next().unwrap();
        let what = match record.kind {
            Kind::Request => String::from_utf8_lossy(first).into_owned(),
            _ => String::from_utf8_lossy(&record.payload[9..12]).into_owned(),
        };
        *kinds
            .entry(format!("{:?} {what}", record.kind))
            .or_default() += 1;
    }
    assert_eq!(
        format!("{kinds:?}"),
        "{\"Request GET\": 160, \"Request HEAD\": 40, \"Request OPTIONS\": 40, \"Request POST\": 40, \
         \"Response 200\": 120, \"Response 404\": 80, \"Response 405\": 40}"
    );
    // Every response carries the id of a request before it.
    for (i, record) in records.iter().enumerate() {
        if record.kind == Kind::Response {
            assert!(records[..i]
                .iter()
                .any(|r| r.kind == Kind::Request && r.id == record.id));
        }
    }
}

#[test]
fn goreplays_file_is_replayed_to_nginx_safe_requests_only_each_once() {
    let Some(dir) = goreplay_records_or_skip() else {
        return;
    };
    let path = dir.join("recorded-1.3.3.gor");
    let scratch = Scratch::new("input-file-nginx");
    let staging = Nginx::start(&scratch.join("staging"), "");
    let socket = scratch.join("status.sock");
    let out = replayer(&[
        "-input-file",
        &format!("{}|max", path.display()),
        "-output-http",
        &staging.url(),
        "--status-socket",
        socket.to_str().unwrap(),
        "--sync-flag",
        scratch.join("no-sync-flag").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = staging.wait_for_log(240, Duration::from_secs(10));
    let mut sent: Vec<String> = log
        .iter()
        .map(|l| format!("{} {}", l.method, l.uri))
        .collect();
    sent.sort();
    let mut recorded: Vec<String> = read_records(&path)
        .iter()
        .filter(|r| r.kind == Kind::Request)
        .map(|r| {
            let line = String::from_utf8_lossy(&r.payload);
            let mut words = line.split(' ');
            format!("{} {}", words.next().unwrap(), words.next().unwrap())
        })
        .filter(|l| !l.starts_with("POST "))
        .collect();
    recorded.sort();
    assert_eq!(sent.len(), 240);
    assert_eq!(sent, recorded);
    assert!(log.iter().all(|l| l.x_replayed_by == "replayer"));
    assert!(log
        .iter()
        .all(|l| l.host == format!("127.0.0.1:{}", staging.port)));
}

#[test]
fn a_file_written_by_output_file_round_trips() {
    let Some(dir) = goreplay_records_or_skip() else {
        return;
    };
    let original = dir.join("recorded-1.3.3.gor");
    let scratch = Scratch::new("input-file-round-trip");
    let (first, second) = (scratch.join("first.gor"), scratch.join("second.gor"));
    // GoReplay's file: 40 POSTs filtered; ours: only what passed was written.
    let passes = [
        (
            &original,
            &first,
            "requests seen 280 filtered 40 sampled_out 0 written 240 (filtered: method 40)",
        ),
        (
            &first,
            &second,
            "requests seen 240 filtered 0 sampled_out 0 written 240",
        ),
    ];
    for (from, to, summary) in passes {
        let out = replayer(&[
            "-input-file",
            &format!("{}|max", from.display()),
            "-output-file",
            to.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!("replayer: input-file done: {summary}\n")
        );
    }
    let (first_bytes, second_bytes) = (
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap(),
    );
    assert!(
        first_bytes == second_bytes,
        "the second pass changed the file"
    );
    // What was written is GoReplay's records less the POSTs and their answers: requests
    // with the marker header added, responses byte for byte.
    let written = read_records(&first);
    let originals = read_records(&original);
    assert_eq!(written.len(), 440);
    let mut expected = Vec::new();
    let mut posts = Vec::new();
    for record in originals {
        if record.payload.starts_with(b"POST ") {
            posts.push(record.id.clone());
            continue;
        }
        if record.kind != Kind::Request && posts.contains(&record.id) {
            continue;
        }
        expected.push(record);
    }
    assert_eq!(written.len(), expected.len());
    for (w, e) in written.iter().zip(&expected) {
        assert_eq!(
            (w.kind, &w.id, w.timestamp_ns),
            (e.kind, &e.id, e.timestamp_ns)
        );
        if e.kind == Kind::Request {
            let head_end = e.payload.len() - 2;
            let mut marked = e.payload[..head_end].to_vec();
            marked.extend_from_slice(b"X-Replayed-By: replayer\r\n\r\n");
            assert_eq!(
                String::from_utf8_lossy(&w.payload),
                String::from_utf8_lossy(&marked)
            );
        } else {
            assert_eq!(w, e);
        }
    }
}

#[test]
fn damage_is_one_line_naming_the_record_and_what_came_before_is_written() {
    let scratch = Scratch::new("input-file-damage");
    let path = scratch.join("damaged.gor");
    write_get_records_at(&path, &[0, 1, 2]);
    let good_len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"garbage\n")
        .unwrap();
    let out = replayer(&["-input-file", path.to_str().unwrap(), "-output-stdout"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "replayer: input-file {}: record 4 at byte {good_len}: no record type 1, 2 or 3 in header line 'garbage'\n",
            path.display()
        )
    );
    let written: Vec<String> = goreplay_records(&out.stdout)
        .iter()
        .map(|r| r.request_line())
        .collect();
    assert_eq!(written, ["GET /r/0", "GET /r/1", "GET /r/2"]);

    // Cut in the middle of the last record.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..good_len as usize - 20]).unwrap();
    let out = replayer(&["-input-file", path.to_str().unwrap(), "-output-stdout"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).ends_with(": cut short: no 🐵🙈🙉 separator before the end of the file\n"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(": record 3 at byte "),
        "{}",
        stderr(&out)
    );
    assert_eq!(goreplay_records(&out.stdout).len(), 2);

    // A missing file is refused before anything runs.
    let out = replayer(&["-input-file", "/nonexistent/x.gor", "-output-stdout"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "replayer: input-file: cannot open /nonexistent/x.gor: No such file or directory (os error 2)\n"
    );
}

#[test]
fn dry_run_counts_and_times_at_the_speed_given_capped_and_never_stalled() {
    let scratch = Scratch::new("input-file-dry-run");
    let path = scratch.join("timed.gor");
    // Gaps of 1 s and 2 s, then a record from an hour earlier (it must not stall), then 1 s.
    write_get_records_at(&path, &[3_600_000, 3_601_000, 3_603_000, 0, 3_604_000]);
    let dry = |spec: &str, extra: &[&str]| {
        let mut args = vec![
            "-input-file".to_string(),
            format!("{}{spec}", path.display()),
        ];
        args.push("-input-file-dry-run".into());
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = replayer(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let line = |secs: &str| {
        format!("input-file dry run: 5 requests in 5 records; one pass would take {secs}s\n")
    };
    // Read two records ahead, the early record is met after its neighbours: sent at once.
    let depth = ["-input-file-read-depth", "2"];
    assert_eq!(dry("", &depth), line("4.000"));
    assert_eq!(dry("|200%", &depth), line("2.000"));
    assert_eq!(dry("|4x", &depth), line("1.000"));
    assert_eq!(dry("|10%", &depth), line("40.000"));
    assert_eq!(dry("|max", &depth), line("0.000"));
    let capped = [
        "-input-file-read-depth",
        "2",
        "-input-file-max-wait",
        "1500ms",
    ];
    assert_eq!(dry("", &capped), line("3.500"));
    // Within the default window (100) it is sorted to its place: the hour it leaves is
    // replayed, unless capped.
    assert_eq!(dry("", &[]), line("3604.000"));
    assert_eq!(dry("", &["-input-file-max-wait", "1s"]), line("4.000"));

    // Globs and .gz: two files, one compressed, merged into one timeline by timestamp.
    let (a, b) = (scratch.join("part-a.gor"), scratch.join("part-b.gor"));
    write_get_records_at(&a, &[0, 2_000]);
    write_get_records_at(&b, &[1_000, 3_000]);
    let gz = scratch.join("part-b.gor.gz");
    let mut encoder =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
    encoder.write_all(&std::fs::read(&b).unwrap()).unwrap();
    encoder.finish().unwrap();
    std::fs::remove_file(&b).unwrap();
    let pattern = format!("{}/part-*", scratch.path().display());
    let out = replayer(&["-input-file", &format!("{pattern}|max"), "-output-stdout"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let seconds: Vec<u64> = goreplay_records(&out.stdout)
        .iter()
        .map(|r| r.meta.split(' ').nth(2).unwrap().parse::<u64>().unwrap())
        .map(|ns| (ns - 1_700_000_000_000_000_000) / 1_000_000_000)
        .collect();
    assert_eq!(seconds, [0, 1, 2, 3], "merged by timestamp");
    let out = replayer(&[
        "-input-file",
        &format!("{pattern}|200%"),
        "-input-file-dry-run",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "input-file dry run: 4 requests in 4 records; one pass would take 1.500s\n"
    );
}

#[test]
fn requests_are_sent_at_the_recorded_pace_scaled() {
    let scratch = Scratch::new("input-file-pace");
    let path = scratch.join("paced.gor");
    write_get_records_at(&path, &[0, 400, 800]);
    for (speed, at_least) in [("", 800), ("|200%", 400), ("|max", 0)] {
        let started = Instant::now();
        let out = replayer(&[
            "-input-file",
            &format!("{}{speed}", path.display()),
            "-output-null",
        ]);
        let took = started.elapsed();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            took >= Duration::from_millis(at_least)
                && took < Duration::from_millis(at_least + 3000),
            "{speed}: {took:?}"
        );
    }
    // Looping: three passes in a second and a bit, stopped by -exit-after.
    let out = replayer(&[
        "-input-file",
        &format!("{}|200%", path.display()),
        "-input-file-loop",
        "-output-stdout",
        "-exit-after",
        "1100ms",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sent = goreplay_records(&out.stdout).len();
    assert!(
        (7..=9).contains(&sent),
        "{sent} requests in 1.1 s of a 0.4 s loop"
    );
}
