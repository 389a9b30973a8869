//! Unit tests of the settings, their resolution and the value parsers (a file of its own,
//! and over 600 lines, because every flag's accepted and refused forms are pinned here).

use super::values::*;
use super::*;
use crate::capture::Input;
use crate::stages::limit::Limit;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

fn settings(input: &str) -> Settings {
    Settings {
        input_raw: Some(input.into()),
        output_stdout: Some(true),
        ..Settings::default()
    }
}

fn resolve_err(s: Settings) -> String {
    Config::resolve(&s).unwrap_err().to_string()
}

#[test]
fn go_durations() {
    let ms = Duration::from_millis;
    assert_eq!(parse_go_duration("5s"), Ok(ms(5000)));
    assert_eq!(parse_go_duration("500ms"), Ok(ms(500)));
    assert_eq!(parse_go_duration("1m30s"), Ok(ms(90_000)));
    assert_eq!(parse_go_duration("1.5h"), Ok(ms(5_400_000)));
    assert_eq!(parse_go_duration(".5s"), Ok(ms(500)));
    assert_eq!(
        parse_go_duration("2h45m10s"),
        Ok(ms((2 * 3600 + 45 * 60 + 10) * 1000))
    );
    assert_eq!(parse_go_duration("10us"), Ok(Duration::from_micros(10)));
    assert_eq!(parse_go_duration("10µs"), Ok(Duration::from_micros(10)));
    assert_eq!(parse_go_duration("7ns"), Ok(Duration::from_nanos(7)));
    assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
    for bad in ["", "5", "5x", "s", "-5s", "1.2.3s", "5 s", "1d", "."] {
        assert!(parse_go_duration(bad).is_err(), "{bad:?}");
    }
    for d in ["5s", "500ms", "1m30s", "2h", "1h0m1s", "10us", "7ns", "0s"] {
        let parsed = parse_go_duration(d).unwrap();
        assert_eq!(
            parse_go_duration(&format_go_duration(parsed)),
            Ok(parsed),
            "{d}"
        );
    }
    assert_eq!(format_go_duration(ms(90_000)), "1m30s");
}

#[test]
fn goreplay_sizes() {
    assert_eq!(parse_size("65536"), Ok(65536));
    assert_eq!(parse_size("64kb"), Ok(65536));
    assert_eq!(parse_size("10mb"), Ok(10 << 20));
    assert_eq!(parse_size("10MB"), Ok(10 << 20));
    assert_eq!(parse_size("1gb"), Ok(1 << 30));
    assert_eq!(parse_size("1_000"), Ok(1000));
    assert_eq!(parse_size("0x10kb"), Ok(16 << 10));
    for bad in ["", "mb", "10 mb x", "ten", "-1", "10m"] {
        assert!(parse_size(bad).is_err(), "{bad:?}");
    }
    for bytes in [0, 1, 65535, 65536, 16 << 20, 3 << 30, (1 << 20) + 1] {
        assert_eq!(parse_size(&format_size(bytes)), Ok(bytes));
    }
    assert_eq!(format_size(16 << 20), "16mb");
}

#[test]
fn go_bools_and_modes() {
    for t in ["1", "t", "T", "true", "TRUE", "True"] {
        assert_eq!(parse_go_bool(t), Ok(true));
    }
    for f in ["0", "f", "F", "false", "FALSE", "False"] {
        assert_eq!(parse_go_bool(f), Ok(false));
    }
    assert!(parse_go_bool("yes").is_err());
    assert_eq!(parse_mode("0660"), Ok(0o660));
    assert_eq!(parse_mode("600"), Ok(0o600));
    assert_eq!(parse_mode("0o640"), Ok(0o640));
    assert!(parse_mode("0668").is_err());
    assert!(parse_mode("").is_err());
    assert_eq!(
        parse_listen_addr(":9464"),
        Ok("0.0.0.0:9464".parse().unwrap())
    );
    assert_eq!(
        parse_listen_addr("localhost:1"),
        Ok("127.0.0.1:1".parse().unwrap())
    );
    assert_eq!(parse_listen_addr("[::1]:2"), Ok("[::1]:2".parse().unwrap()));
    assert!(parse_listen_addr("nowhere").is_err());
}

#[test]
fn input_raw_forms() {
    let live = |t: &str| parse_input_raw(t, None).map(|(input, _)| input);
    assert_eq!(
        live(":80"),
        Ok(Input::Live {
            interface: None,
            host: None,
            port: 80
        })
    );
    // 127.0.0.1 belongs to lo: captured there, filtered by address.
    let (input, source) = parse_input_raw("127.0.0.1:7999", None).unwrap();
    assert_eq!(
        input,
        Input::Live {
            interface: Some("lo".into()),
            host: Some("127.0.0.1".parse().unwrap()),
            port: 7999
        }
    );
    assert_eq!(source, "lo:7999");
    assert_eq!(live("localhost:80"), live("127.0.0.1:80"));
    assert!(matches!(
        live("[::1]:8080"),
        Ok(Input::Live {
            host: Some(IpAddr::V6(_)),
            port: 8080,
            ..
        })
    ));
    assert_eq!(
        live("lo:80"),
        Ok(Input::Live {
            interface: Some("lo".into()),
            host: None,
            port: 80
        })
    );
    // An address no interface has: every interface, filtered by address.
    assert_eq!(
        live("192.0.2.77:80"),
        Ok(Input::Live {
            interface: None,
            host: Some("192.0.2.77".parse().unwrap()),
            port: 80
        })
    );
    assert!(live("nosuchif0:80")
        .unwrap_err()
        .starts_with("'nosuchif0' is neither"));
    assert_eq!(
        live("127.0.0.1").unwrap_err(),
        "'127.0.0.1' is not [host]:port"
    );
    assert!(live("127.0.0.1:0").is_err());
    assert!(live("127.0.0.1:65536").is_err());
    assert!(live(":http").is_err());
}

#[test]
fn input_raw_files() {
    let dir = std::env::temp_dir().join(format!("replayer-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("capture.pcap");
    std::fs::write(&file, b"").unwrap();
    let text = format!("{}:80", file.display());
    let (input, source) = parse_input_raw(&text, None).unwrap();
    assert_eq!(
        input,
        Input::File {
            path: file.clone(),
            port: 80
        }
    );
    assert_eq!(source, file.display().to_string());
    // Any name is a file with the pcap_file engine.
    let other = dir.join("trace.bin");
    std::fs::write(&other, b"").unwrap();
    let text = format!("{}:8080", other.display());
    assert!(matches!(
        parse_input_raw(&text, Some(Engine::PcapFile)),
        Ok((Input::File { port: 8080, .. }, _))
    ));
    let missing = format!("{}:80", dir.join("missing.pcap").display());
    assert!(parse_input_raw(&missing, None)
        .unwrap_err()
        .starts_with("cannot read "));
    assert!(parse_input_raw("lo:80", Some(Engine::PcapFile))
        .unwrap_err()
        .starts_with("cannot read lo"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn http_targets() {
    let t = parse_http_target("staging.example:8080").unwrap();
    assert_eq!(t.url.as_str(), "http://staging.example:8080/");
    assert_eq!(t.limit, None);
    let t = parse_http_target("https://www-origin.staging.example|10%").unwrap();
    assert_eq!(t.url.as_str(), "https://www-origin.staging.example/");
    assert_eq!(t.limit, Some(Limit::Percent(10)));
    assert_eq!(
        parse_http_target("http://s|50").unwrap().limit,
        Some(Limit::PerSecond(50))
    );
    assert!(parse_http_target("ftp://s")
        .unwrap_err()
        .contains("only http:// and https://"));
    assert!(parse_http_target("http://").is_err());
    assert!(parse_http_target("http://s|abc").is_err());
    assert!(parse_http_target("http://s|150%").is_err());
}

#[test]
fn defaults_are_the_safe_ones() {
    let config = Config::resolve(&settings(":80")).unwrap();
    assert_eq!(config.filter.methods, ["GET", "HEAD", "OPTIONS"]);
    assert!(!config.filter.allow_unsafe_methods);
    assert!(!config.rewrite.keep_credentials);
    assert!(!config.replay.skip_verify);
    assert_eq!(config.replay.timeout, Duration::from_secs(5));
    assert_eq!(config.replay.redirects, 0);
    assert_eq!(config.replay.workers, WorkerRange { min: 1, max: 64 });
    assert_eq!(config.replay.pipeline, 16);
    assert_eq!(config.drain_timeout, Duration::from_secs(5));
    assert_eq!(
        config.status.path,
        PathBuf::from("/run/replayer/status.sock")
    );
    assert_eq!(config.status.mode, 0o660);
    assert_eq!(config.sync, SyncConfig::default());
    assert_eq!(config.capture.snaplen, 262_144);
    assert_eq!(config.capture.buffer_size, Some(16 << 20));
    assert_eq!(config.exit_after, None);
    assert_eq!(config.source, "any:80");
}

#[test]
fn every_bad_value_names_its_flag() {
    // Each case: TOML lines laid over a valid base, and how the error must start.
    let cases = [
        (
            "input-raw-engine = \"af_packet\"",
            "input-raw-engine: 'af_packet' is not supported",
        ),
        ("input-raw-expire = \"2\"", "input-raw-expire: "),
        (
            "input-raw-buffer-size = \"4gb\"",
            "input-raw-buffer-size: '4gb' is more than 2 GiB",
        ),
        ("input-raw-snaplen = \"10\"", "input-raw-snaplen: "),
        ("output-http = \"ftp://x\"", "output-http: "),
        (
            "output-http-workers = 0",
            "output-http-workers: must be at least 1",
        ),
        (
            "output-http-queue-len = 0",
            "output-http-queue-len: must be at least 1",
        ),
        (
            "output-http-workers-max = 0",
            "output-http-workers-max: must be at least 1",
        ),
        (
            "output-http-pipeline = 0",
            "output-http-pipeline: must be at least 1",
        ),
        (
            "output-http-workers = 4\noutput-http-workers-max = 9",
            "output-http-workers: sets a fixed count; give it alone",
        ),
        (
            "output-http-workers-min = 10\noutput-http-workers-max = 9",
            "output-http-workers-min: 10 is more than -output-http-workers-max 9",
        ),
        ("output-http-timeout = \"0\"", "output-http-timeout: "),
        ("output-file = \"|5%\"", "output-file: empty path"),
        (
            "output-file-size-limit = \"3 lb\"",
            "output-file-size-limit: '3 lb' is not a size",
        ),
        (
            "output-file-max-size-limit = \"x\"",
            "output-file-max-size-limit: 'x' is not a size",
        ),
        (
            "output-file-flush-interval = \"soon\"",
            "output-file-flush-interval: 'soon' is not a duration",
        ),
        (
            "http-allow-method = \"POST\"",
            "http-allow-method: POST is not a safe method",
        ),
        (
            "http-allow-url = \"(\"",
            "http-allow-url: invalid regex '('",
        ),
        (
            "http-disallow-url = \"[\"",
            "http-disallow-url: invalid regex '['",
        ),
        ("http-allow-header = \"X\"", "http-allow-header: "),
        (
            "http-disallow-header = \"X: (\"",
            "http-disallow-header: invalid regex",
        ),
        ("http-header-limiter = \"X: 5\"", "http-header-limiter: "),
        (
            "http-set-header = \"X\"",
            "http-set-header: 'X' is not 'Header-Name: value'",
        ),
        ("http-set-param = \"x\"", "http-set-param: "),
        (
            "http-set-header = \"X-HTTP-Method-Override: delete\"",
            "http-set-header: 'X-HTTP-Method-Override: delete' would replay every request as DELETE",
        ),
        ("http-rewrite-url = \"x\"", "http-rewrite-url: "),
        ("status-socket = \"\"", "status-socket: empty path"),
        ("status-socket-mode = \"rw\"", "status-socket-mode: "),
        ("metrics-listen = \"x\"", "metrics-listen: "),
        ("sync-flag = \" \"", "sync-flag: empty path"),
        ("sync-max-age = \"soon\"", "sync-max-age: "),
        ("sync-window = \"22-08\"", "sync-window: "),
        ("drain-timeout = \"5\"", "drain-timeout: "),
        ("exit-after = \"forever\"", "exit-after: "),
    ];
    let base = "input-raw = \":80\"\noutput-stdout = true\n";
    assert!(Config::resolve(&Settings::from_toml(base).unwrap()).is_ok());
    for (line, expected) in cases {
        let settings = Settings::from_toml(&format!("{base}{line}\n")).unwrap();
        let err = resolve_err(settings);
        assert!(
            err.starts_with(expected),
            "{line}: {err:?} should start with {expected:?}"
        );
        assert!(!err.contains('\n'), "{err:?}");
    }
    let no_input = Settings {
        input_raw: None,
        ..settings(":80")
    };
    assert!(resolve_err(no_input).starts_with("no input: "));
    let no_output = Settings {
        output_stdout: None,
        ..settings(":80")
    };
    assert!(resolve_err(no_output).starts_with("no output: "));
}

#[test]
fn override_headers_may_only_name_replayed_methods() {
    let with = |extra: &str| {
        let base = "input-raw = \":80\"\noutput-stdout = true\n";
        Config::resolve(&Settings::from_toml(&format!("{base}{extra}\n")).unwrap())
    };
    assert!(with("http-set-header = \"X-HTTP-Method-Override: HEAD\"").is_ok());
    assert!(with("http-set-header = \"X-Method-Override:\"").is_ok());
    assert!(with("http-set-header = \"x-http-method: PUT\"").is_err());
    let both = "http-set-header = \"X-HTTP-Method: PUT\"\nhttp-allow-method = [\"GET\", \"PUT\"]\nallow-unsafe-methods = true";
    assert!(with(both).is_ok());
}

#[test]
fn toml_file_and_command_line_overlay() {
    let file = Settings::from_toml(
        r#"
input-raw = ":80"
output-http = "https://staging.example|10%"
http-disallow-url = ["^/a", "^/b"]
output-http-timeout = "2s"
output-http-workers = 4
keep-credentials = true
sync-window = "22:00-08:00"
"#,
    )
    .unwrap();
    assert_eq!(file.output_http, ["https://staging.example|10%"]);
    assert_eq!(file.http_disallow_url, ["^/a", "^/b"]);
    let command_line = Settings {
        http_disallow_url: vec!["^/c".into()],
        output_http_timeout: Some("1s".into()),
        ..Settings::default()
    };
    let merged = file.overlaid_with(command_line);
    assert_eq!(
        merged.http_disallow_url,
        ["^/c"],
        "a list given on the command line replaces the file's"
    );
    assert_eq!(merged.output_http_timeout.as_deref(), Some("1s"));
    assert_eq!(merged.output_http_workers, Some(4));
    let config = Config::resolve(&merged).unwrap();
    assert_eq!(config.replay.timeout, Duration::from_secs(1));
    assert!(config.rewrite.keep_credentials);
    assert_eq!(config.sync.window.unwrap().to_string(), "22:00-08:00");

    let err = Settings::from_toml("input-raw = \":80\"\nno-such-flag = 1\n").unwrap_err();
    assert!(
        err.starts_with("line 2: unknown field `no-such-flag`"),
        "{err}"
    );
    assert!(!err.contains('\n'));
    let err = Settings::from_toml("output-http-workers = \"many\"").unwrap_err();
    assert!(err.starts_with("line 1: "), "{err}");
    let err = Settings::from_toml("output-http = 5").unwrap_err();
    assert!(
        err.contains("expected a string or an array of strings"),
        "{err}"
    );
}

#[test]
fn output_file_options_and_goreplays_zeros() {
    let config = Config::resolve(&settings(":80")).unwrap();
    assert_eq!(config.outputs.file_options, FileOptions::default());
    assert_eq!(
        config.outputs.file_options,
        FileOptions {
            append: false,
            size_limit: None,
            max_size: None,
            queue_limit: 10_000,
            flush_interval: Duration::from_secs(1),
        }
    );
    let s = Settings {
        output_file: Some("/tmp/r_%Y.gor.gz".into()),
        output_file_append: Some(true),
        output_file_size_limit: Some("20kb".into()),
        output_file_max_size_limit: Some("1gb".into()),
        output_file_queue_limit: Some(64),
        output_file_flush_interval: Some("250ms".into()),
        ..settings(":80")
    };
    let options = Config::resolve(&s).unwrap().outputs.file_options;
    assert_eq!(
        options,
        FileOptions {
            append: true,
            size_limit: Some(20 << 10),
            max_size: Some(1 << 30),
            queue_limit: 64,
            flush_interval: Duration::from_millis(250),
        }
    );
    // GoReplay's 0: no limit, the default queue, a 100 ms flush.
    let zeros = Settings {
        output_file_size_limit: Some("0".into()),
        output_file_max_size_limit: Some("0".into()),
        output_file_queue_limit: Some(0),
        output_file_flush_interval: Some("0".into()),
        ..settings(":80")
    };
    let options = Config::resolve(&zeros).unwrap().outputs.file_options;
    assert_eq!(
        options,
        FileOptions {
            flush_interval: Duration::from_millis(100),
            ..FileOptions::default()
        }
    );
}

#[test]
fn printed_settings_resolve_to_the_same_config() {
    let s = Settings {
        input_raw: Some("127.0.0.1:7999".into()),
        output_http: vec![
            "https://www-origin.staging.example|5".into(),
            "s2:81".into(),
        ],
        output_file: Some("/tmp/x_%Y%m%d.gor.gz|50%".into()),
        output_file_append: Some(true),
        output_file_size_limit: Some("32mb".into()),
        output_file_max_size_limit: Some("2gb".into()),
        output_file_queue_limit: Some(500),
        output_file_flush_interval: Some("2s".into()),
        http_allow_method: vec!["GET".into(), "HEAD".into()],
        http_disallow_url: vec!["sign-in/callback".into()],
        http_allow_header: vec!["Host: example".into()],
        http_set_header: vec!["X-Forwarded-Host:".into()],
        http_set_param: vec!["a=b".into()],
        http_rewrite_url: vec!["^/v1/(.*):/v2/$1".into()],
        http_header_limiter: vec!["Cookie: 10%".into()],
        output_http_timeout: Some("1500ms".into()),
        status_socket_mode: Some("0640".into()),
        sync_max_age: Some("1d".into()),
        exit_after: Some("1m30s".into()),
        ..Settings::default()
    };
    let config = Config::resolve(&s).unwrap();
    let printed = config.to_settings().to_toml();
    let again = Config::resolve(&Settings::from_toml(&printed).unwrap()).unwrap();
    assert_eq!(again.to_settings(), config.to_settings());
    assert_eq!(again.outputs, config.outputs);
    assert_eq!(again.replay, config.replay);
    for line in [
        "output-file = \"/tmp/x_%Y%m%d.gor.gz|50%\"",
        "output-file-append = true",
        "output-file-size-limit = \"32mb\"",
        "output-file-max-size-limit = \"2gb\"",
        "output-file-queue-limit = 500",
        "output-file-flush-interval = \"2s\"",
    ] {
        assert!(printed.contains(line), "{line} not in {printed}");
    }
    assert!(
        printed.contains("http-set-header = [\"X-Forwarded-Host: \"]"),
        "{printed}"
    );
    assert!(
        printed.contains("output-http-timeout = \"1500ms\""),
        "{printed}"
    );
    assert!(
        printed.contains("status-socket-mode = \"0640\""),
        "{printed}"
    );
}

#[test]
fn target_credentials_are_refused_and_never_echoed() {
    for target in [
        "http://user:hunter2@staging.example",
        "https://hunter2@staging.example:8443/prefix",
        "user:hunter2@staging.example",
    ] {
        let err = parse_http_target(target).unwrap_err();
        assert!(err.contains("credentials"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
    let err = parse_http_target("http://u:hunter2@host:99999").unwrap_err();
    assert!(
        !err.contains("hunter2") && err.contains("***@host"),
        "{err}"
    );
    assert_eq!(
        crate::outputs::replay::redact_userinfo("http://host/a@b"),
        "http://host/a@b"
    );
}

#[test]
fn caps_and_socket_mode_are_checked() {
    let c = Config::resolve(&Settings {
        max_streams: Some(10),
        max_stream_bytes: Some("64kb".into()),
        max_buffered_bytes: Some("1mb".into()),
        ..settings(":80")
    })
    .unwrap();
    let limits = c.capture.limits;
    assert_eq!(
        (
            limits.max_streams,
            limits.max_stream_bytes,
            limits.max_total_bytes
        ),
        (10, 64 << 10, 1 << 20)
    );
    let printed = c.to_settings();
    assert_eq!(printed.max_stream_bytes.as_deref(), Some("64kb"));
    assert!(resolve_err(Settings {
        max_streams: Some(0),
        ..settings(":80")
    })
    .contains("max-streams"));
    assert!(resolve_err(Settings {
        max_buffered_bytes: Some("12".into()),
        ..settings(":80")
    })
    .contains("max-buffered-bytes"));
    assert!(resolve_err(Settings {
        status_socket_mode: Some("0666".into()),
        ..settings(":80")
    })
    .contains("every user"));
}

#[test]
fn speeds() {
    assert_eq!(parse_speed("100%"), Ok(1.0));
    assert_eq!(parse_speed("10%"), Ok(0.1));
    assert_eq!(parse_speed(" 2x"), Ok(2.0));
    assert_eq!(parse_speed("0.5X"), Ok(0.5));
    assert_eq!(format_speed(0.1), "10%");
    assert_eq!(format_speed(2.0), "200%");
    assert_eq!(parse_speed(&format_speed(0.0125)), Ok(0.0125));
    for bad in ["", "10", "x", "-5%", "0%", "0x", "NaN%", "inf%", "1e9%"] {
        assert!(parse_speed(bad).is_err(), "{bad}");
    }
    let mut s = settings(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../demo/production.pcap:80"
    ));
    s.input_raw_speed = Some("5%".into());
    let config = Config::resolve(&s).unwrap();
    assert_eq!(config.capture.speed, Some(0.05));
    assert_eq!(config.to_settings().input_raw_speed.as_deref(), Some("5%"));
    let mut s = settings(":80");
    s.input_raw_speed = Some("5%".into());
    assert_eq!(
        resolve_err(s),
        "input-raw-speed: paces a capture file; a live capture runs at the wire's pace"
    );
}

#[test]
fn workers_are_a_fixed_count_or_a_range() {
    let with = |toml: &str| {
        let over = Settings::from_toml(toml).unwrap();
        Config::resolve(&settings(":80").overlaid_with(over))
            .unwrap()
            .replay
            .workers
    };
    assert_eq!(with("output-http-workers = 12"), WorkerRange::fixed(12));
    assert_eq!(
        with("output-http-workers-min = 4"),
        WorkerRange { min: 4, max: 64 }
    );
    assert_eq!(
        with("output-http-workers-max = 6"),
        WorkerRange { min: 1, max: 6 }
    );
    assert_eq!(
        with("output-http-workers-min = 100"),
        WorkerRange { min: 100, max: 100 }
    );
}
