//! A (damaged) GoReplay record file through `--input-file`'s reader and the whole record
//! input (merge, pace at full speed, HTTP framing of type-1 payloads): an error is the only
//! way out, never a panic. What reads cleanly is written back and must read back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replayer::capture::CaptureStats;
use replayer::records::input::{self, FileSpec, FromFile, RecordInput};
use replayer::records::reader::RecordReader;
use std::sync::atomic::AtomicBool;

fuzz_target!(|data: &[u8]| {
    let mut reader = RecordReader::new(data);
    let mut records = Vec::new();
    while let Ok(Some(record)) = reader.next() {
        records.push(record);
    }
    let mut written = Vec::new();
    for record in &records {
        record.write_to(&mut written).expect("writing to memory");
    }
    let mut again = RecordReader::new(&written[..]);
    for record in &records {
        assert_eq!(again.next().expect("reads back").as_ref(), Some(record));
    }
    assert!(again.next().expect("ends cleanly").is_none());

    // The whole input, from a file as the binary reads it.
    let path = std::env::temp_dir().join(format!("replayer-fuzz-{}.gor", std::process::id()));
    std::fs::write(&path, data).expect("the fuzz input is written to a scratch file");
    let config = RecordInput {
        files: vec![FileSpec {
            pattern: path.display().to_string(),
            speed: f64::INFINITY,
        }],
        repeat: false,
        max_wait: None,
        read_depth: 1 + usize::from(data.first().copied().unwrap_or(0) % 8),
        dry_run: false,
    };
    let timelines = input::open(&config).expect("the scratch file opens");
    let (mut requests, mut responses) = (0usize, 0usize);
    let _ = input::run(timelines, &AtomicBool::new(false), &std::sync::Arc::new(CaptureStats::default()), &mut |item| {
        match item {
            FromFile::Request(request) => {
                assert!(!request.method.is_empty());
                requests += 1;
            }
            FromFile::Response(..) => responses += 1,
        }
    });
    assert!(requests + responses <= records.len());
});
