//! GoReplay 1.3's flags that the replayer refuses, each with the one sentence that says why
//! and what to use instead: the single table `replayer -output-kafka-host x` is answered
//! from (`replayer: -output-kafka-host: <sentence>`, exit 2, by
//! [`normalise`](super::cli::normalise)), and that docs/migration.md's flag table repeats.
//!
//! A flag is refused rather than accepted and ignored when ignoring it would change what
//! the operator gets: a service to talk to (Kafka, Elasticsearch, S3, another GoReplay over
//! TCP), a file to be written (profiles), traffic to be treated differently (incomplete
//! messages, other interfaces, binary protocols). Flags accepted with no effect are ordinary
//! settings (`settings.rs`) whose help says so.

/// `(flag without dashes, why it is refused and what to use instead)`, by name.
pub const REFUSED: &[(&str, &str)] = &[
    (
        "cpuprofile",
        "writes a Go runtime CPU profile, which this program has none of; profile with `perf record -p PID`",
    ),
    (
        "http-pprof",
        "serves Go's /debug/pprof pages, which this program has none of; figures are in `replayer status` and --metrics-listen",
    ),
    (
        "input-dummy",
        "emits a made-up request every second; to test outputs, read a capture file instead (-input-raw FILE.pcap:PORT)",
    ),
    (
        "input-kafka-host",
        "Kafka is a service this replayer does not use; capture with -input-raw (or read GoReplay files with -input-file)",
    ),
    (
        "input-kafka-json-format",
        "Kafka is a service this replayer does not use; capture with -input-raw",
    ),
    (
        "input-kafka-topic",
        "Kafka is a service this replayer does not use; capture with -input-raw",
    ),
    (
        "input-raw-allow-incomplete",
        "a request with missing packets is never written or replayed (a cut request could do anything on staging); such requests are counted in the status document",
    ),
    (
        "input-raw-ignore-interface",
        "capture names its one interface instead: -input-raw IFACE:PORT (or an address of that interface)",
    ),
    (
        "input-raw-max-wait",
        "GoReplay's release notes' name for -input-file-max-wait, which reads recorded files, not captures",
    ),
    (
        "input-raw-monitor",
        "802.11 monitor mode is for capturing radio frames; capture on the host that receives the HTTP traffic",
    ),
    (
        "input-tcp",
        "receiving from another GoReplay over its TCP protocol is not supported; run a replayer on each host that sees the traffic",
    ),
    (
        "input-tcp-certificate",
        "belongs to -input-tcp, which is not supported; run a replayer on each host that sees the traffic",
    ),
    (
        "input-tcp-certificate-key",
        "belongs to -input-tcp, which is not supported; run a replayer on each host that sees the traffic",
    ),
    (
        "input-tcp-secure",
        "belongs to -input-tcp, which is not supported; run a replayer on each host that sees the traffic",
    ),
    (
        "kafka-tls-ca-cert",
        "Kafka is a service this replayer does not use; write GoReplay records with -output-file or -output-stdout",
    ),
    (
        "kafka-tls-client-cert",
        "Kafka is a service this replayer does not use; write GoReplay records with -output-file or -output-stdout",
    ),
    (
        "kafka-tls-client-key",
        "Kafka is a service this replayer does not use; write GoReplay records with -output-file or -output-stdout",
    ),
    (
        "memprofile",
        "writes a Go runtime heap profile, which this program has none of; the status document reports memory held by capture",
    ),
    (
        "output-binary",
        "replays non-HTTP payloads; this replayer captures and replays HTTP/1.x only (use -output-http)",
    ),
    (
        "output-binary-debug",
        "belongs to -output-binary, which is not supported; use -output-http and -verbose",
    ),
    (
        "output-binary-timeout",
        "belongs to -output-binary, which is not supported; use -output-http and -output-http-timeout",
    ),
    (
        "output-binary-track-response",
        "belongs to -output-binary, which is not supported; use -output-http",
    ),
    (
        "output-binary-workers",
        "belongs to -output-binary, which is not supported; use -output-http and -output-http-workers",
    ),
    (
        "output-dummy",
        "GoReplay's old name for -output-stdout; write -output-stdout",
    ),
    (
        "output-file-buffer",
        "is where GoReplay buffers s3:// files, and S3 is a service this replayer does not use; write to a local -output-file",
    ),
    (
        "output-http-elasticsearch",
        "Elasticsearch is a service this replayer does not use; staging's answers are counted in the status document, --metrics-listen and --diff",
    ),
    (
        "output-kafka-host",
        "Kafka is a service this replayer does not use; write GoReplay records with -output-file or -output-stdout",
    ),
    (
        "output-kafka-json-format",
        "Kafka is a service this replayer does not use; write GoReplay records with -output-file or -output-stdout",
    ),
    (
        "output-kafka-topic",
        "Kafka is a service this replayer does not use; write GoReplay records with -output-file or -output-stdout",
    ),
    (
        "output-tcp",
        "forwarding to another GoReplay over its TCP protocol is not supported; replay from each capturing host with -output-http",
    ),
    (
        "output-tcp-response-buffer",
        "belongs to -output-binary, which is not supported; use -output-http",
    ),
    (
        "output-tcp-secure",
        "belongs to -output-tcp, which is not supported; replay with -output-http (https:// targets use TLS)",
    ),
    (
        "output-tcp-skip-verify",
        "belongs to -output-tcp, which is not supported; replay with -output-http (and -output-http-skip-verify)",
    ),
    (
        "output-tcp-stats",
        "belongs to -output-tcp, which is not supported; replay with -output-http (and -output-http-stats)",
    ),
    (
        "output-tcp-sticky",
        "belongs to -output-tcp, which is not supported; replay with -output-http",
    ),
    (
        "output-tcp-workers",
        "belongs to -output-tcp, which is not supported; replay with -output-http (and -output-http-workers)",
    ),
    (
        "output-ws",
        "WebSocket outputs are not supported; replay with -output-http",
    ),
    (
        "recognize-tcp-sessions",
        "is a GoReplay PRO feature; requests keep their connection's order on each staging connection, and -split-output spreads requests, not sessions",
    ),
];

/// Why `flag` (without dashes) is refused, if it is one of GoReplay's refused flags.
pub fn refused(flag: &str) -> Option<&'static str> {
    REFUSED
        .binary_search_by(|(name, _)| name.cmp(&flag))
        .ok()
        .map(|i| REFUSED[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cli::{parse, CliError};

    #[test]
    fn the_table_is_sorted_and_holds_no_duplicate() {
        // `refused` searches it by halves.
        for pair in REFUSED.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
    }

    #[test]
    fn every_refused_flag_is_refused_with_its_sentence_however_written() {
        for (flag, why) in REFUSED {
            for spelling in [
                vec![format!("-{flag}"), "x".to_string()],
                vec![format!("--{flag}=x")],
                vec![format!("-{flag}")],
            ] {
                let mut args = vec!["replayer", "-input-raw", ":80", "-output-stdout"];
                args.extend(spelling.iter().map(String::as_str));
                match parse(args) {
                    Err(CliError::Usage(message)) => {
                        assert_eq!(message, format!("-{flag}: {why}"), "{spelling:?}")
                    }
                    other => panic!("{spelling:?}: {other:?}"),
                }
            }
            assert!(!why.contains('\n') && why.len() < 200, "{flag}: one line");
            assert!(
                !why.ends_with('.'),
                "{flag}: a clause, as the other messages"
            );
        }
        assert_eq!(refused("output-kafka-host").map(|s| &s[..5]), Some("Kafka"));
        assert_eq!(refused("input-raw"), None);
    }

    fn run(args: &[&str]) -> Result<crate::config::cli::Invocation, CliError> {
        parse(
            ["replayer", "-input-raw", ":80", "-output-stdout"]
                .iter()
                .chain(args),
        )
    }

    #[test]
    fn goreplays_other_flags_and_old_spellings_are_accepted() {
        use crate::config::cli::Invocation;
        let args = [
            "-input-raw-realip-header",
            "X-Real-IP",
            "-input-raw-protocol",
            "http",
            "-split-output",
            "-prettify-http=true",
            "-http-basic-auth-filter",
            "^customer",
            "-http-param-limiter",
            "user_id: 25%",
            "-http-rewrite-header",
            "Host: (.*).example.com,$1.beta.example.com",
            "-copy-buffer-size",
            "5mb",
            "-output-http-url-regexp",
            "^/a",
            "-output-http-header-filter",
            "Accept: .",
            "-output-http-header-hash-filter",
            "X-User: 10%",
            "-output-http-rewrite-url",
            "/a:/b",
            // Accepted, no effect.
            "-input-raw-buffer-timeout",
            "10ms",
            "-input-raw-timestamp-type",
            "go",
            "-input-raw-stats",
            "-output-http-compatibility-mode",
            "-output-http-debug",
            "-output-http-response-buffer",
            "1mb",
            "-output-http-stats-ms",
            "1000",
            "-output-http-worker-timeout",
            "2s",
        ];
        let config = match run(&args) {
            Ok(Invocation::Run(config)) => config,
            other => panic!("{other:?}"),
        };
        assert_eq!(config.rewrite.realip_header.as_deref(), Some("X-Real-IP"));
        assert!(config.replay.split && config.prettify);
        assert_eq!(config.filter.basic_auth[0].as_str(), "^customer");
        assert_eq!(config.param_limiters[0].to_string(), "user_id: 25%");
        assert_eq!(
            config.rewrite.header_rewrites[0].to_string(),
            "Host: (.*).example.com,$1.beta.example.com"
        );
        assert_eq!(config.capture.limits.max_stream_bytes, 5 << 20);
        assert_eq!(config.filter.allow_urls[0].as_str(), "^/a");
        assert_eq!(config.filter.allow_headers[0].to_string(), "Accept: .");
        assert_eq!(config.header_limiters[0].to_string(), "X-User: 10%");
        assert_eq!(config.rewrite.url_rewrites[0].to_string(), "/a:/b");

        // And printed back as a --config file that gives the same.
        let mut printing = args.to_vec();
        printing.push("--print-config");
        let Ok(Invocation::Print(text)) = run(&printing) else {
            panic!("--print-config")
        };
        for line in [
            "input-raw-realip-header = \"X-Real-IP\"",
            "split-output = true",
            "prettify-http = true",
            "http-basic-auth-filter = [\"^customer\"]",
            "http-param-limiter = [\"user_id: 25%\"]",
            "http-rewrite-header = [\"Host: (.*).example.com,$1.beta.example.com\"]",
            "max-stream-bytes = \"5mb\"",
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line} in {text}");
        }
        let again = crate::config::Settings::from_toml(&text).unwrap();
        let again = crate::config::Config::resolve(&again).unwrap();
        assert_eq!(again.to_settings(), config.to_settings());
    }

    #[test]
    fn their_values_are_checked_naming_the_flag() {
        let error = |args: &[&str]| run(args).unwrap_err().to_string();
        assert_eq!(
            error(&["-input-raw-protocol", "binary"]),
            "input-raw-protocol: 'binary' is not supported: only http (HTTP/1.x) is captured and replayed"
        );
        assert!(error(&["-http-basic-auth-filter", "("])
            .starts_with("http-basic-auth-filter: invalid regex"));
        assert!(error(&["-http-param-limiter", "user"]).starts_with("http-param-limiter: "));
        assert!(error(&["-http-rewrite-header", "Host: x"]).starts_with("http-rewrite-header: "));
        assert_eq!(
            error(&[
                "-http-rewrite-header",
                "x-http-method-override: ^GET$,DELETE"
            ]),
            "http-rewrite-header: 'x-http-method-override: ^GET$,DELETE' could turn requests \
             into another method; set it with -http-set-header"
        );
        assert!(
            error(&["-input-raw-realip-header", "X Real"]).starts_with("input-raw-realip-header: ")
        );
    }

    #[test]
    fn a_refused_key_in_the_config_file_says_why_too() {
        let text = "input-raw = \":80\"\noutput-stdout = true\noutput-kafka-host = \"k:9092\"\n";
        assert_eq!(
            crate::config::Settings::from_toml(text).unwrap_err(),
            format!(
                "line 3: output-kafka-host: {}",
                refused("output-kafka-host").unwrap()
            )
        );
        let unknown = crate::config::Settings::from_toml("bogus = 1\n").unwrap_err();
        assert!(
            unknown.starts_with("line 1: unknown field `bogus`"),
            "{unknown}"
        );
    }

    #[test]
    fn no_refused_flag_is_also_accepted() {
        let command = crate::config::cli::command();
        for arg in command.get_arguments() {
            let names = arg
                .get_long()
                .into_iter()
                .chain(arg.get_all_aliases().unwrap_or_default());
            for name in names {
                assert_eq!(refused(name), None, "--{name} is a flag and refused");
            }
        }
    }
}
