//! The `replayer` command line, driven as operators use it: GoReplay's flags, `--help`,
//! `--config`, `--print-config`, and one clear line with exit status 2 for anything wrong.

use crate::util::*;
use std::process::Command;
use std::time::Duration;

fn replayer(args: &[&str]) -> std::process::Output {
    run_with_timeout(
        Command::new(bin("replayer")).args(args),
        Duration::from_secs(20),
    )
}

/// Runs a command that must fail with exit 2 and a single `replayer: ...` line on stderr.
fn fails(args: &[&str]) -> String {
    let out = replayer(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{args:?}: stderr {stderr:?}");
    assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: one line, got {stderr:?}"
    );
    assert!(stderr.starts_with("replayer: "), "{stderr:?}");
    stderr.trim_end().to_string()
}

fn prints(args: &[&str]) -> String {
    let out = replayer(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// GOV.UK's init line (docs/migration.md, "GOV.UK's command line"), as the shell hands it
/// over after removing the quotes.
const GOVUK: &[&str] = &[
    "-http-allow-method=GET",
    "-http-allow-method=HEAD",
    "-http-allow-method=OPTIONS",
    "-http-disallow-url=apply-for-a-licence/payment",
    "-http-disallow-url=sign-in/callback",
    "-http-set-header=X-Forwarded-Host:",
    "-input-raw=127.0.0.1:7999",
    "-output-http=https://www-origin.staging.example",
];

#[test]
fn govuk_command_line_parses_and_prints_its_resolved_config() {
    let _processes = lock::processes();
    let mut args = GOVUK.to_vec();
    args.push("--print-config");
    let printed = prints(&args);
    for line in [
        "input-raw = \"127.0.0.1:7999\"",
        "input-raw-engine = \"libpcap\"",
        "output-http = [\"https://www-origin.staging.example/\"]",
        "output-http-timeout = \"5s\"",
        "input-raw-buffer-size = \"16mb\"",
        "input-raw-snaplen = \"256kb\"",
        "output-http-redirects = 0",
        "output-http-skip-verify = false",
        "http-allow-method = [\"GET\", \"HEAD\", \"OPTIONS\"]",
        "allow-unsafe-methods = false",
        "http-disallow-url = [\"apply-for-a-licence/payment\", \"sign-in/callback\"]",
        "http-set-header = [\"X-Forwarded-Host: \"]",
        "keep-credentials = false",
        "status-socket = \"/run/replayer/status.sock\"",
        "status-socket-mode = \"0660\"",
        "sync-flag = \"/etc/govuk/env.d/FACTER_data_sync_in_progress\"",
        "sync-max-age = \"12h\"",
        "drain-timeout = \"5s\"",
    ] {
        assert!(
            printed.lines().any(|l| l == line),
            "missing {line:?} in:\n{printed}"
        );
    }

    // The same line with two dashes and separate values means the same thing.
    let mut long: Vec<String> = Vec::new();
    for arg in GOVUK {
        let (name, value) = arg.split_once('=').unwrap();
        long.push(format!("-{name}"));
        long.push(value.to_string());
    }
    long.push("--print-config".into());
    let long: Vec<&str> = long.iter().map(String::as_str).collect();
    assert_eq!(prints(&long), printed);
}

#[test]
fn printed_config_reads_back_through_config() {
    let _processes = lock::processes();
    let scratch = Scratch::new("cli-config");
    let mut args = GOVUK.to_vec();
    args.extend([
        "-output-http-timeout",
        "2500ms",
        "--sync-window",
        "22:0-8:0",
        "--print-config",
    ]);
    let printed = prints(&args);
    let file = scratch.join("replayer.toml");
    std::fs::write(&file, &printed).unwrap();
    let again = prints(&["--config", file.to_str().unwrap(), "--print-config"]);
    assert_eq!(again, printed);
    assert!(again.contains("sync-window = \"22:00-08:00\""), "{again}");

    // The command line wins over the file.
    let over = prints(&[
        "--config",
        file.to_str().unwrap(),
        "-output-http-timeout=1s",
        "-http-disallow-url",
        "^/only",
        "--print-config",
    ]);
    assert!(over.contains("output-http-timeout = \"1s\""), "{over}");
    assert!(over.contains("http-disallow-url = [\"^/only\"]"), "{over}");
}

#[test]
fn shipped_example_config_is_valid() {
    let _processes = lock::processes();
    let example = workspace_root().join("icinga/systemd/replayer.toml");
    let printed = prints(&["--config", example.to_str().unwrap(), "--print-config"]);
    assert!(
        printed.contains("input-raw = \"127.0.0.1:7999\""),
        "{printed}"
    );
    assert!(
        printed.contains("status-socket-group = \"nagios\""),
        "{printed}"
    );
}

#[test]
fn help_is_grouped_and_version_prints() {
    let _processes = lock::processes();
    for flag in ["--help", "-help", "-h"] {
        let help = prints(&[flag]);
        for heading in [
            "Input:",
            "Output:",
            "Filters and rewrites:",
            "Daemon:",
            "General:",
        ] {
            assert!(help.contains(heading), "{flag}: {heading} missing");
        }
        for flag_name in [
            "--input-raw <[HOST]:PORT>",
            "--output-http <URL[|LIMIT]>",
            "--http-set-header <NAME: VALUE>",
            "--allow-unsafe-methods",
            "--status-socket <PATH>",
            "--config <FILE>",
        ] {
            assert!(help.contains(flag_name), "{flag_name} missing from help");
        }
    }
    assert_eq!(
        prints(&["--version"]).trim(),
        format!("replayer {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn every_bad_argument_is_one_line_and_exit_2() {
    let _processes = lock::processes();
    let cases: &[(&[&str], &str)] = &[
        (&["-input-raw", ":80", "-output-stdout", "-bogus"], "replayer: unknown flag '-bogus' (see --help)"),
        (&["--input-raw=:80", "--output-stdout", "--input-raw-turbo=1"], "replayer: unknown flag '--input-raw-turbo=1' (see --help)"),
        (&["-input-raw"], "replayer: -input-raw needs a value"),
        (
            &["-input-raw", ":80", "-input-raw", ":81", "-output-stdout"],
            "replayer: -input-raw given more than once: one input per process",
        ),
        (&["-input-raw", ":80", "extra"], "replayer: unexpected argument 'extra'"),
        (&["-output-stdout"], "replayer: no input: give -input-raw [host]:port (or FILE.pcap:port)"),
        (&["-input-raw", ":80"], "replayer: no output: give -output-http URL, -output-stdout, -output-file PATH or -output-null"),
        (&["-input-raw", "127.0.0.1", "-output-stdout"], "replayer: input-raw: '127.0.0.1' is not [host]:port"),
        (&["-input-raw", ":99999", "-output-stdout"], "replayer: input-raw: '99999' in ':99999' is not a port (1-65535)"),
        (&["-input-raw", "/nonexistent/x.pcap:80", "-output-stdout"], "replayer: input-raw: cannot read /nonexistent/x.pcap: "),
        (&["-input-raw", "nosuchif0:80", "-output-stdout"], "replayer: input-raw: 'nosuchif0' is neither an IP address"),
        (&["-input-raw", ":80", "-output-stdout", "-input-raw-engine", "af_packet"], "replayer: input-raw-engine: 'af_packet' is not supported (use libpcap or pcap_file)"),
        (&["-input-raw", ":80", "-output-stdout", "-input-raw-expire", "2"], "replayer: input-raw-expire: '2' is not a duration like 5s, 500ms or 1m30s"),
        (&["-input-raw", ":80", "-output-stdout", "-input-raw-buffer-size", "lots"], "replayer: input-raw-buffer-size: 'lots' is not a size like 65536, 64kb or 10mb"),
        (&["-input-raw", ":80", "-output-http", "ftp://staging"], "replayer: output-http: 'ftp://staging': only http:// and https:// targets are supported"),
        // A query or fragment would be silently lost (every request brings its own): refused.
        (&["-input-raw", ":80", "-output-http", "http://host/?x=1#f"], "replayer: output-http: 'http://host/?x=1#f': a target may not have a query or fragment (each replayed request brings its own)"),
        (&["-input-raw", ":80", "-output-http", "http://host/#f"], "replayer: output-http: 'http://host/#f': a target may not have a query or fragment"),
        (&["-input-raw", ":80", "-output-http", "staging|200%"], "replayer: output-http: limit '200%' is not a percentage from 0% to 100%"),
        (&["-input-raw", ":80", "-output-http", "staging", "-output-http-timeout", "5"], "replayer: output-http-timeout: '5' is not a duration above 0 like 5s or 500ms"),
        (&["-input-raw", ":80", "-output-stdout", "-output-http-workers", "-3"], "replayer: invalid value '-3' for '--output-http-workers <N>'"),
        (&["-input-raw", ":80", "-output-stdout=maybe"], "replayer: invalid value 'maybe' for '--output-stdout[=<BOOL>]'"),
        (&["-input-raw", ":80", "-output-stdout", "-http-allow-method", "POST"], "replayer: http-allow-method: POST is not a safe method (GET, HEAD, OPTIONS); add --allow-unsafe-methods to replay it"),
        (&["-input-raw", ":80", "-output-stdout", "-http-allow-url", "(unclosed"], "replayer: http-allow-url: invalid regex '(unclosed': "),
        (&["-input-raw", ":80", "-output-stdout", "-http-disallow-url", "a{2,1}"], "replayer: http-disallow-url: invalid regex 'a{2,1}': "),
        (&["-input-raw", ":80", "-output-stdout", "-http-allow-header", "User-Agent"], "replayer: http-allow-header: 'User-Agent' is not 'Header-Name: regex'"),
        (&["-input-raw", ":80", "-output-stdout", "-http-disallow-header", "User-Agent: ["], "replayer: http-disallow-header: invalid regex '[': "),
        (&["-input-raw", ":80", "-output-stdout", "-http-set-header", "X-Forwarded-Host"], "replayer: http-set-header: 'X-Forwarded-Host' is not 'Header-Name: value'"),
        (&["-input-raw", ":80", "-output-stdout", "-http-rewrite-url", "(:x"], "replayer: http-rewrite-url: invalid regex '(': "),
        (&["-input-raw", ":80", "-output-stdout", "-http-header-limiter", "Cookie: 10"], "replayer: http-header-limiter: '10' is not a percentage from 0% to 100% (in 'Cookie: 10')"),
        (&["-input-raw", ":80", "-output-stdout", "--status-socket-mode", "rw-rw----"], "replayer: status-socket-mode: 'rw-rw----' is not an octal mode like 0660"),
        (&["-input-raw", ":80", "-output-stdout", "--sync-window", "22-8"], "replayer: sync-window: "),
        (&["-input-raw", ":80", "-output-stdout", "--metrics-listen", "everywhere"], "replayer: metrics-listen: 'everywhere' is not an address like 127.0.0.1:9464"),
        (&["-input-raw", ":80", "-output-stdout", "--config", "/nonexistent/replayer.toml"], "replayer: config file /nonexistent/replayer.toml: "),
        (&["-input-raw", ":80", "-output-file", "/nonexistent/dir/out.gor"], "replayer: output-file: cannot create /nonexistent/dir/out.gor: "),
    ];
    for (args, expected) in cases {
        let line = fails(args);
        assert!(
            line.starts_with(expected),
            "{args:?}:\n got {line:?}\nwant {expected:?}..."
        );
    }
}

#[test]
fn bad_config_file_names_the_line() {
    let _processes = lock::processes();
    let scratch = Scratch::new("cli-bad-config");
    let file = scratch.join("bad.toml");
    std::fs::write(
        &file,
        "input-raw = \":80\"\noutput-stdout = true\ninput-raw-turbo = true\n",
    )
    .unwrap();
    let line = fails(&["--config", file.to_str().unwrap()]);
    assert!(
        line.starts_with(&format!(
            "replayer: config file {}: line 3: unknown field `input-raw-turbo`",
            file.display()
        )),
        "{line}"
    );
    std::fs::write(&file, "input-raw = [\n").unwrap();
    let line = fails(&["--config", file.to_str().unwrap()]);
    assert!(line.contains(": line "), "{line}");
}
