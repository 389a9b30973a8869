//! Bad capture files through the real binary: random bytes, truncated files, absurd record
//! lengths, random frames of every link type, a header trickling in one byte per packet.
//! None may panic, hang or balloon; bad input gets one line on stderr and a non-zero exit.

use crate::util::tcp_flags::{ACK, SYN};
use crate::util::*;
use std::net::SocketAddrV4;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

fn run(file: &Path) -> Output {
    run_with_timeout(
        Command::new(bin("replayer"))
            .arg("-input-raw")
            .arg(format!("{}:80", file.display()))
            .args(["-input-raw-engine", "pcap_file", "-output-stdout"]),
        Duration::from_secs(60),
    )
}

/// Exactly one line on stderr, naming the problem, and no panic.
fn assert_one_line_error(out: &Output, mentions: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, stderr {stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.contains(mentions),
        "{stderr:?} should mention {mentions:?}"
    );
}

fn client() -> SocketAddrV4 {
    "10.0.0.1:40000".parse().unwrap()
}
fn server() -> SocketAddrV4 {
    "10.0.0.2:80".parse().unwrap()
}

#[test]
fn random_bytes_and_empty_files_are_refused_in_one_line() {
    let _processes = lock::processes();
    let dir = Scratch::new("malformed-random");
    let random = dir.join("random.pcap");
    std::fs::write(&random, Rng(7).bytes(100_000)).unwrap();
    let out = run(&random);
    assert_eq!(out.status.code(), Some(2));
    assert_one_line_error(&out, "random.pcap");
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    assert_one_line_error(&run(&empty), "empty.pcap");
}

/// A SYN, then 40 requests of one connection, one frame each; request `i` is frame `i + 1`.
fn forty_requests() -> PcapBuilder {
    let mut pcap = PcapBuilder::new(1);
    pcap.frame(&eth_ipv4_tcp(client(), server(), 0, 0, SYN, b""));
    let mut seq = 1u32;
    for i in 0..40 {
        let request = format!("GET /r/{i} HTTP/1.1\r\nHost: x\r\n\r\n");
        pcap.frame(&eth_ipv4_tcp(
            client(),
            server(),
            seq,
            1,
            ACK,
            request.as_bytes(),
        ));
        seq += request.len() as u32;
    }
    pcap
}

/// The request lines `out` printed.
fn printed(out: &Output) -> Vec<String> {
    goreplay_records(&out.stdout)
        .iter()
        .map(Record::request_line)
        .collect()
}

#[test]
fn an_empty_input_is_refused_in_libpcaps_words_naming_it() {
    let _processes = lock::processes();
    let dir = Scratch::new("malformed-empty");
    let refused = |input: &str, stdin: std::process::Stdio| {
        let out = run_with_timeout_fed(
            Command::new(bin("replayer")).args(["-input-raw", input, "-output-stdout"]),
            stdin,
            Duration::from_secs(30),
        );
        assert_eq!(out.status.code(), Some(2), "{input}");
        assert!(out.stdout.is_empty(), "{input}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let line = |name: &str| {
        format!(
            "replayer: cannot read capture file {name}: truncated dump file; tried to read 4 \
             file header bytes, only got 0\n"
        )
    };
    // Standard input from /dev/null, as `-` and as /dev/stdin.
    for input in ["-:80", "/dev/stdin:80"] {
        assert_eq!(
            refused(input, std::process::Stdio::null()),
            line("/dev/stdin")
        );
    }
    // A FIFO whose writer closes it at once, and an empty file.
    let fifo = dir.join("empty.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let mut writer = Command::new("sh")
        .arg("-c")
        .arg(format!(": > '{}'", fifo.display()))
        .spawn()
        .expect("sh");
    let input = format!("{}:80", fifo.display());
    let stderr = refused(&input, std::process::Stdio::null());
    let _ = writer.wait();
    assert_eq!(stderr, line(&fifo.display().to_string()));
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let input = format!("{}:80", empty.display());
    assert_eq!(
        refused(&input, std::process::Stdio::null()),
        line(&empty.display().to_string())
    );
}

#[test]
fn a_truncated_file_yields_every_request_before_the_cut_then_an_error() {
    let _processes = lock::processes();
    let dir = Scratch::new("malformed-truncated");
    let pcap = forty_requests();
    // Inside request 30's frame: the file header, 31 records, a record header, 30 bytes.
    let frames = pcap.records();
    let cut_at = 24
        + frames[..31]
            .iter()
            .map(|(_, f)| 16 + f.len())
            .sum::<usize>()
        + 16
        + 30;
    let file = dir.join("truncated.pcap");
    std::fs::write(&file, &pcap.bytes()[..cut_at]).unwrap();
    let out = run(&file);
    assert_one_line_error(&out, "truncated");
    let want: Vec<String> = (0..30).map(|i| format!("GET /r/{i}")).collect();
    assert_eq!(printed(&out), want);
}

#[test]
fn a_damaged_pcapng_yields_every_request_before_the_damage_then_an_error() {
    let _processes = lock::processes();
    let dir = Scratch::new("malformed-pcapng");
    let pcap = forty_requests();
    let mut ng = PcapngBuilder::new();
    ng.section(false).interface(1, 6);
    // Request 30's block, its number and where it starts.
    let mut at = (0, 0, 0);
    for (i, &(ts_us, frame)) in pcap.records().iter().enumerate() {
        if i == 31 {
            at = (
                ng.blocks() + 1,
                ng.bytes().len(),
                frame.len().next_multiple_of(4) + 32,
            );
        }
        ng.packet(0, ts_us, frame);
    }
    let (block, offset, len) = at;
    let whole = ng.bytes().to_vec();
    let want: Vec<String> = (0..30).map(|i| format!("GET /r/{i}")).collect();
    // Cut inside the block; its trailing length changed; its length not a multiple of 4.
    let mut mismatch = whole.clone();
    mismatch[offset + len - 4] ^= 4;
    let mut unaligned = whole.clone();
    unaligned[offset + 4] ^= 1;
    for (name, bytes, damage) in [
        (
            "cut",
            whole[..offset + 30].to_vec(),
            format!(
                "truncated capture file: block {block} is cut short at byte {offset} \
                 (it needs {len} bytes, the file has 30 more)"
            ),
        ),
        (
            "mismatch",
            mismatch,
            format!(
                "damaged capture file: block {block} at byte {offset} ends with the length {}, \
                 not the {len} it starts with",
                len ^ 4
            ),
        ),
        (
            "unaligned",
            unaligned,
            format!(
                "damaged capture file: block {block} at byte {offset} has a length of {}, \
                 not a multiple of 4",
                len ^ 1
            ),
        ),
    ] {
        let file = dir.join(format!("{name}.pcapng"));
        std::fs::write(&file, bytes).unwrap();
        let out = run(&file);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("replayer: capture failed: {}: {damage}\n", file.display()),
            "{name}"
        );
        assert_eq!(printed(&out), want, "{name}");
    }
}

#[test]
fn an_absurd_record_length_is_an_error_not_an_allocation() {
    let _processes = lock::processes();
    let dir = Scratch::new("malformed-length");
    let mut pcap = PcapBuilder::new(1);
    pcap.frame(&eth_ipv4_tcp(client(), server(), 0, 0, SYN, b""));
    let mut bytes = pcap.bytes().to_vec();
    // A record header claiming 4 GB of captured data.
    bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
    bytes.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    bytes.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    bytes.extend_from_slice(&[0x41; 64]);
    let file = dir.join("absurd.pcap");
    std::fs::write(&file, bytes).unwrap();
    assert_one_line_error(&run(&file), "absurd.pcap");
}

#[test]
fn random_frames_of_every_link_type_are_survived() {
    let _processes = lock::processes();
    let dir = Scratch::new("malformed-frames");
    for linktype in [1u32, 0, 101, 113, 276, 228, 229, 108] {
        let mut rng = Rng(u64::from(linktype) + 99);
        let mut pcap = PcapBuilder::new(linktype);
        for _ in 0..3000 {
            let len = (rng.next_u64() % 300) as usize;
            let mut frame = rng.bytes(len);
            // Make many of them plausible up to TCP so the deeper layers get exercised too.
            if rng.next_u64().is_multiple_of(2) {
                let payload_len = (rng.next_u64() % 200) as usize;
                let payload = rng.bytes(payload_len);
                let seq = (rng.next_u64() % 5000) as u32;
                let tcp = eth_ipv4_tcp(client(), server(), seq, 0, rng.next_u64() as u8, &payload);
                frame = match linktype {
                    1 => tcp,
                    0 | 108 => [&2u32.to_le_bytes()[..], &tcp[14..]].concat(),
                    113 => [&[0u8; 14][..], &[8, 0], &tcp[14..]].concat(),
                    276 => [&[8u8, 0][..], &[0; 18], &tcp[14..]].concat(),
                    _ => tcp[14..].to_vec(),
                };
            }
            pcap.frame(&frame);
        }
        let file = dir.join(format!("frames-{linktype}.pcap"));
        pcap.write(&file);
        let out = run(&file);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "link type {linktype}: {stderr}");
        assert!(!stderr.contains("panicked"));
    }
}

#[test]
fn a_head_trickling_in_byte_by_byte_costs_linear_time() {
    let _processes = lock::processes();
    // 60 000 one-byte segments of a head that never ends: cut at the head limit, never
    // re-parsed from the start on every byte (that would take minutes).
    let dir = Scratch::new("malformed-trickle");
    let mut pcap = PcapBuilder::new(1);
    pcap.frame(&eth_ipv4_tcp(client(), server(), 0, 0, SYN, b""));
    let head = [
        b"GET /slow HTTP/1.1\r\n".to_vec(),
        b"X-Pad: ".to_vec(),
        vec![b'p'; 60_000],
    ]
    .concat();
    for (i, byte) in head.iter().enumerate() {
        pcap.frame(&eth_ipv4_tcp(
            client(),
            server(),
            1 + i as u32,
            1,
            ACK,
            &[*byte],
        ));
    }
    let ok = "\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n";
    pcap.frame(&eth_ipv4_tcp(
        client(),
        server(),
        1 + head.len() as u32,
        1,
        ACK,
        ok.as_bytes(),
    ));
    let file = dir.join("trickle.pcap");
    pcap.write(&file);
    let out = run(&file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<String> = goreplay_records(&out.stdout)
        .iter()
        .map(Record::request_line)
        .collect();
    assert_eq!(got, ["GET /slow", "GET /after"]);
}
