//! Mutated captures through the real binary: random bit flips, truncations and splices of
//! the project's own captures (always) and of the public capture corpus (when it is there;
//! the test says it skipped that part when it is not), each run as `replayer -input-raw
//! FILE:PORT -input-raw-engine pcap_file -output-stdout`.
//!
//! Every run must end by itself within its time limit, without a panic or a signal, with
//! exit 0, or with exactly one line on stderr and exit 2 (the file cannot be opened as a
//! capture) or 1 (it is damaged part-way: the requests before the damage are printed first).
//! The generator is seeded, so a failure reproduces; the failing mutant is kept and named.

use crate::util::corpus::{self, corpus_or_skip_part};
use crate::util::tcp_flags::{ACK, FIN, PSH, SYN};
use crate::util::*;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Mutants per run of the test: a few hundred keeps it to seconds.
const MUTANTS: usize = 300;
const SEED: u64 = 0x5eed_cafe_f00d;
/// Per run; a healthy run of these small files takes milliseconds.
const LIMIT: Duration = Duration::from_secs(20);

/// A capture to mutate: its bytes and the server port of its requests.
struct Base {
    name: String,
    bytes: Vec<u8>,
    port: u16,
}

/// The project's own captures: a keep-alive conversation with pipelined GETs, a POST body, a
/// chunked upload, a FIN; and the demo capture shipped in `demo/`.
fn synthetic_bases() -> Vec<Base> {
    let client: SocketAddrV4 = "10.0.0.1:40000".parse().unwrap();
    let server: SocketAddrV4 = "10.0.0.2:80".parse().unwrap();
    let mut stream = Vec::new();
    for i in 0..6 {
        stream.extend_from_slice(
            format!("GET /page/{i}?q=1 HTTP/1.1\r\nHost: example.org\r\nAccept: */*\r\n\r\n")
                .as_bytes(),
        );
    }
    stream.extend_from_slice(
        b"POST /form HTTP/1.1\r\nHost: example.org\r\nContent-Length: 11\r\n\r\nhello=world",
    );
    stream.extend_from_slice(
        b"PUT /up HTTP/1.1\r\nHost: example.org\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    stream.extend_from_slice(b"HEAD /last HTTP/1.0\r\n\r\n");
    let mut pcap = PcapBuilder::new(1);
    pcap.frame(&eth_ipv4_tcp(client, server, 99, 0, SYN, b""));
    pcap.frame(&eth_ipv4_tcp(server, client, 500, 100, SYN | ACK, b""));
    let mut seq = 100u32;
    for piece in stream.chunks(37) {
        pcap.frame(&eth_ipv4_tcp(client, server, seq, 501, ACK | PSH, piece));
        seq += piece.len() as u32;
        pcap.frame(&eth_ipv4_tcp(server, client, 501, seq, ACK, b""));
    }
    pcap.frame(&eth_ipv4_tcp(client, server, seq, 501, FIN | ACK, b""));
    let mut bases = vec![Base {
        name: "synthetic-keepalive".into(),
        bytes: pcap.bytes().to_vec(),
        port: 80,
    }];
    let demo = workspace_root().join("demo/production.pcap");
    bases.push(Base {
        name: "demo-production".into(),
        bytes: std::fs::read(&demo).unwrap_or_else(|e| panic!("{}: {e}", demo.display())),
        port: 80,
    });
    bases
}

/// The public corpus captures with their ports (tests/corpus_ports.tsv), or none.
fn corpus_bases() -> Vec<Base> {
    let Some(dir) = corpus_or_skip_part("; only the project's own captures are mutated") else {
        return Vec::new();
    };
    let mut bases: Vec<Base> = corpus::ports()
        .into_iter()
        .filter_map(|(name, port)| {
            let bytes = std::fs::read(dir.join(format!("{name}.pcap"))).ok()?;
            Some(Base { name, bytes, port })
        })
        .collect();
    bases.sort_by(|a, b| a.name.cmp(&b.name));
    bases
}

/// One mutant: which kind, and its bytes.
fn mutate(rng: &mut Rng, bases: &[&Base], base: &Base) -> (&'static str, Vec<u8>) {
    let mut bytes = base.bytes.clone();
    let len = bytes.len();
    match rng.below(4) {
        0 => {
            // Bit flips, half of the time aimed at the headers (file header and the first
            // records), where a flip changes lengths and link types rather than payload.
            let span = if rng.below(2) == 0 { len.min(200) } else { len };
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(span);
                bytes[at] ^= 1 << rng.below(8);
            }
            ("bit flips", bytes)
        }
        1 => {
            bytes.truncate(rng.below(len));
            ("truncation", bytes)
        }
        2 => {
            // Splice: a prefix of this capture, then the tail of another one (any offset, so
            // record boundaries rarely line up).
            let other = &bases[rng.below(bases.len())].bytes;
            bytes.truncate(rng.below(len));
            bytes.extend_from_slice(&other[rng.below(other.len())..]);
            ("splice", bytes)
        }
        _ => {
            // A run of bytes duplicated or removed in the middle: records shift.
            let at = rng.below(len);
            let n = 1 + rng.below(64).min(len - at);
            if rng.below(2) == 0 {
                let chunk = bytes[at..(at + n).min(len)].to_vec();
                bytes.splice(at..at, chunk);
            } else {
                bytes.drain(at..(at + n).min(len));
            }
            ("chunk moved", bytes)
        }
    }
}

/// What one run ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ending {
    Ok,
    Damaged,
    Refused,
}

/// Runs the binary on `file`; the ending, or why it is not acceptable.
fn run(file: &Path, port: u16) -> Result<Ending, String> {
    let out = run_with_timeout(
        Command::new(bin("replayer"))
            .arg("-input-raw")
            .arg(format!("{}:{port}", file.display()))
            .args(["-input-raw-engine", "pcap_file", "-output-stdout"]),
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        return Err(format!("panic: {stderr}"));
    }
    let one_line = || {
        let lines: Vec<&str> = stderr.trim_end().lines().collect();
        lines.len() == 1 && lines[0].starts_with("replayer: ")
    };
    match out.status.code() {
        Some(0) => Ok(Ending::Ok),
        Some(1) if one_line() => Ok(Ending::Damaged),
        Some(2) if one_line() => Ok(Ending::Refused),
        code => Err(format!("exit {code:?} (None: a signal), stderr {stderr:?}")),
    }
}

#[test]
fn mutated_captures_end_cleanly_every_time() {
    let _processes = lock::processes();
    let synthetic = synthetic_bases();
    let corpus = corpus_bases();
    let bases: Vec<&Base> = synthetic.iter().chain(&corpus).collect();

    // Every base capture is sound: unmutated, each one runs to exit 0.
    let dir = Scratch::new("mutated");
    for base in &bases {
        let file = dir.join(format!("{}.pcap", base.name));
        std::fs::write(&file, &base.bytes).unwrap();
        assert_eq!(run(&file, base.port), Ok(Ending::Ok), "{}", base.name);
    }

    // The mutants, made up front from the seed (so they do not depend on thread timing).
    let mut rng = Rng(SEED);
    let mutants: Vec<(String, &'static str, Vec<u8>, u16)> = (0..MUTANTS)
        .map(|i| {
            // Synthetic captures every other mutant, so they are always well covered.
            let base = if i % 2 == 0 || corpus.is_empty() {
                &synthetic[(i / 2) % synthetic.len()]
            } else {
                &corpus[(i / 2) % corpus.len()]
            };
            let (kind, bytes) = mutate(&mut rng, &bases, base);
            (base.name.clone(), kind, bytes, base.port)
        })
        .collect();

    let next = AtomicUsize::new(0);
    let endings = Mutex::new(Vec::new());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((name, kind, bytes, port)) = mutants.get(i) else {
                    return;
                };
                let file = dir.join(format!("mutant-{i}.pcap"));
                std::fs::write(&file, bytes).unwrap();
                match run(&file, *port) {
                    Ok(ending) => endings.lock().unwrap().push(ending),
                    Err(why) => {
                        let kept = keep(&file, i);
                        failures.lock().unwrap().push(format!(
                            "mutant {i} ({kind} of {name}, kept as {}): {why}",
                            kept.display()
                        ));
                    }
                }
                let _ = std::fs::remove_file(&file);
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let endings = endings.into_inner().unwrap();
    let count = |e: Ending| endings.iter().filter(|&&x| x == e).count();
    eprintln!(
        "mutated captures: {MUTANTS} mutants (seed {SEED:#x}) of {} synthetic and {} corpus captures: \
         {} exit 0, {} exit 1 (damaged part-way), {} exit 2 (refused), {} failures",
        synthetic.len(),
        corpus.len(),
        count(Ending::Ok),
        count(Ending::Damaged),
        count(Ending::Refused),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(endings.len(), MUTANTS);
    // The mutations bite: each kind of ending happens (a generator that changed nothing, or
    // broke every file, would make this test prove little).
    assert!(count(Ending::Ok) > 0 && count(Ending::Damaged) > 0 && count(Ending::Refused) > 0);
}

/// Copies a failing mutant where it outlives the scratch directory.
fn keep(file: &Path, i: usize) -> PathBuf {
    let dir = std::env::temp_dir().join("replayer-mutated-captures");
    std::fs::create_dir_all(&dir).unwrap();
    let kept = dir.join(format!("mutant-{i}.pcap"));
    std::fs::copy(file, &kept).unwrap();
    kept
}
