//! The configuration reference stays true to the code: every flag `replayer --help` lists is
//! in the table of `docs/configuration.md` and every flag the table lists is in `--help`;
//! every flag written anywhere in that page exists; every flag is a key of the config file;
//! and the shipped example config (`icinga/systemd/replayer.toml`, installed as
//! `/etc/replayer/replayer.toml`) holds only valid keys, its commented-out ones included.

use crate::util::*;
use std::collections::BTreeSet;
use std::process::{Command, Output};
use std::time::Duration;

fn replayer(args: &[&str]) -> Output {
    run_with_timeout(
        Command::new(bin("replayer")).args(args),
        Duration::from_secs(30),
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A flag name (`input-raw` of `--input-raw=...`) at the start of `word`, if it starts with
/// one or two dashes.
fn flag_name(word: &str) -> Option<String> {
    let name = word.strip_prefix("--").or_else(|| word.strip_prefix('-'))?;
    let name: String = name
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    (!name.is_empty() && name.starts_with(|c: char| c.is_ascii_alphabetic())).then_some(name)
}

/// The flags `replayer --help` lists (long names and the aliases it mentions as "also -x").
fn help_flags() -> BTreeSet<String> {
    flags_of(&["--help"], 40)
}

/// The flags a `--help` text lists; at least `min` of them, or the parsing broke.
fn flags_of(help_args: &[&str], min: usize) -> BTreeSet<String> {
    let out = replayer(help_args);
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    let mut flags = BTreeSet::new();
    for line in help.lines() {
        let entry = line.trim_start();
        // "  -h, --help", "      --input-raw <[HOST]:PORT>": an option's first line.
        if line.starts_with("  ") && entry.starts_with('-') {
            // "-h, --help": the long name after the short one.
            let entry = match entry.as_bytes() {
                [b'-', short, b',', b' ', ..] if short.is_ascii_alphabetic() => &entry[4..],
                _ => entry,
            };
            if let Some(name) = entry.strip_prefix("--").and_then(|_| flag_name(entry)) {
                flags.insert(name);
            }
        }
    }
    // Aliases are named in the descriptions, which may wrap: look in the words, not lines.
    let words: Vec<&str> = help.split_whitespace().collect();
    for pair in words.windows(2) {
        if matches!(pair[0], "also" | "(also") {
            if let Some(alias) = flag_name(pair[1]) {
                flags.insert(alias);
            }
        }
    }
    assert!(
        flags.len() >= min,
        "too few flags parsed from --help: {flags:?}"
    );
    flags
}

/// `(flag, default)` for every option whose `--help` entry says `[default: VALUE]` (up to a
/// comma: `[default: 65535, so ...]` is 65535). Entries may wrap over several lines.
fn help_defaults() -> Vec<(String, String)> {
    let help = stdout(&replayer(&["--help"]));
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let entry = line.trim_start();
        if line.starts_with("  ") && entry.starts_with("--") {
            entries.push((flag_name(entry).unwrap(), entry.to_string()));
        } else if let Some((_, text)) = entries.last_mut().filter(|_| line.starts_with("  ")) {
            text.push(' ');
            text.push_str(entry);
        }
    }
    entries
        .into_iter()
        .filter_map(|(flag, text)| {
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let value = text.split_once("[default: ")?.1.split([']', ',']).next()?;
            Some((flag, value.to_string()))
        })
        .collect()
}

fn configuration_md() -> String {
    std::fs::read_to_string(workspace_root().join("docs/configuration.md")).unwrap()
}

/// The code spans (text between backticks) of a Markdown page.
fn code_spans(markdown: &str) -> Vec<String> {
    markdown
        .lines()
        .flat_map(|line| {
            line.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The flags named in the first column of the table under the `## TITLE` heading.
fn table_flags(page: &str, title: &str) -> (String, BTreeSet<String>) {
    let section = page
        .split(&format!("\n## {title}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("docs/configuration.md has a '## {title}' section"))
        .split("\n## ")
        .next()
        .unwrap()
        .to_string();
    let mut documented = BTreeSet::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let first_cell = row[2..].split(" | ").next().unwrap();
        for span in code_spans(first_cell) {
            for word in span.split([' ', ',']) {
                if let Some(name) = flag_name(word) {
                    documented.insert(name);
                }
            }
        }
    }
    // -h and -V are the short forms of help and version; -S and -t of status's options.
    for short in ["h", "V", "S", "t"] {
        documented.remove(short);
    }
    (section, documented)
}

#[test]
fn the_status_commands_table_lists_exactly_its_flags() {
    let _processes = lock::processes();
    let (_, documented) = table_flags(&configuration_md(), "`replayer status`");
    let help = flags_of(&["status", "--help"], 5);
    assert_eq!(
        documented, help,
        "docs/configuration.md against replayer status --help"
    );
}

#[test]
fn the_reference_table_lists_exactly_the_flags_of_help() {
    let _processes = lock::processes();
    let (section, documented) = table_flags(&configuration_md(), "Every flag");
    let help = help_flags();
    let undocumented: Vec<_> = help.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&help).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "in --help but not in docs/configuration.md's table: {undocumented:?}; \
         in the table but not in --help: {unknown:?}"
    );

    // Each default --help states is the one in the table's default column.
    let defaults = help_defaults();
    assert!(defaults.len() >= 12, "{defaults:?}");
    for (flag, value) in defaults {
        let row = section
            .lines()
            .find(|l| {
                l.starts_with(&format!("| `--{flag} "))
                    || l.starts_with(&format!("| `--{flag}`"))
                    || l.starts_with(&format!("| `--{flag}["))
            })
            .unwrap_or_else(|| panic!("no table row for --{flag}"));
        let default_cell = row[2..].split(" | ").nth(1).unwrap();
        assert!(
            default_cell.contains(&format!("`{value}`")),
            "--{flag}: --help says default {value}, docs/configuration.md says {default_cell}"
        );
    }
}

#[test]
fn every_flag_written_in_the_page_exists() {
    let _processes = lock::processes();
    let mut help = help_flags();
    help.extend(flags_of(&["status", "--help"], 5));
    // Words that look like flags but are not ours: the page's placeholder for "any flag",
    // the short options (help, version, status's socket and
    // timeout), and a value starting
    // with a dash (`-http-disallow-url -admin`).
    let not_flags = ["flag", "h", "V", "S", "t", "admin"];
    let mut unknown = BTreeSet::new();
    for span in code_spans(&configuration_md()) {
        for word in span.split_whitespace() {
            if let Some(name) = flag_name(word) {
                if !help.contains(&name) && !not_flags.contains(&name.as_str()) {
                    unknown.insert(name);
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "docs/configuration.md names flags replayer does not have: {unknown:?}"
    );
}

/// Keys (`name = ...`) of a TOML settings file, commented-out ones (`# name = ...`) apart.
fn config_keys(text: &str) -> (Vec<String>, Vec<String>) {
    let key = |line: &str| {
        let (name, _) = line.split_once(" = ")?;
        (!name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
            .then(|| name.to_string())
    };
    let set = text.lines().filter_map(key).collect();
    let commented = text
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter_map(key)
        .collect();
    (set, commented)
}

#[test]
fn the_example_config_holds_only_valid_keys() {
    let _processes = lock::processes();
    let scratch = Scratch::new("docs-config");
    let example = workspace_root().join("icinga/systemd/replayer.toml");
    let text = std::fs::read_to_string(&example).unwrap();
    let (keys, commented) = config_keys(&text);
    assert!(keys.len() >= 10, "{keys:?}");
    assert_eq!(commented, ["sync-window"], "commented-out example keys");

    // Uncommented, the optional keys are valid too.
    let mut full = text.clone();
    for key in &commented {
        full = full.replace(&format!("\n# {key} = "), &format!("\n{key} = "));
    }
    let path = scratch.join("replayer.toml");
    std::fs::write(&path, &full).unwrap();
    let out = replayer(&["--config", path.to_str().unwrap(), "--print-config"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (resolved, _) = config_keys(&stdout(&out));
    let help = help_flags();
    for key in keys.iter().chain(&commented) {
        assert!(resolved.contains(key), "{key} not in --print-config");
        assert!(help.contains(key), "{key} is not a flag");
    }
    for key in &resolved {
        assert!(help.contains(key), "--print-config key {key} is not a flag");
    }
}

#[test]
fn every_flag_is_a_config_key_and_unknown_keys_are_refused() {
    let _processes = lock::processes();
    let scratch = Scratch::new("docs-config-keys");
    // A value for each flag --print-config leaves out when unset; the others take theirs
    // from --print-config's own output.
    let optional = [
        ("input-raw-bpf-filter", "\"tcp port 80\""),
        ("input-raw-override-snaplen", "true"),
        ("output-file", "\"/dev/null\""),
        ("output-file-size-limit", "\"32mb\""),
        ("output-file-max-size-limit", "\"1tb\""),
        ("metrics-listen", "\"127.0.0.1:9464\""),
        ("sync-window", "\"22:00-08:00\""),
        ("exit-after", "\"30s\""),
        ("status-socket-group", "\"nagios\""),
        ("input-raw-realip-header", "\"X-Real-IP\""),
        // GoReplay's, accepted with no effect (or, for the protocol, only its default).
        ("input-raw-protocol", "\"http\""),
        ("input-raw-buffer-timeout", "\"10ms\""),
        ("input-raw-timestamp-type", "\"go\""),
        ("input-raw-stats", "true"),
        ("output-http-compatibility-mode", "true"),
        ("output-http-debug", "true"),
        ("output-http-response-buffer", "\"1mb\""),
        ("output-http-stats-ms", "5000"),
        ("output-http-worker-timeout", "\"2s\""),
    ];
    let defaults = stdout(&replayer(&[
        "--input-raw",
        "127.0.0.1:80",
        "--output-http",
        "http://127.0.0.1:1",
        "--print-config",
    ]));
    let mut config = defaults.clone();
    for (key, value) in optional {
        config.push_str(&format!("{key} = {value}\n"));
    }
    let path = scratch.join("all.toml");
    std::fs::write(&path, &config).unwrap();
    let out = replayer(&["--config", path.to_str().unwrap(), "--print-config"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{config}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (resolved, _) = config_keys(&stdout(&out));
    let resolved: BTreeSet<String> = resolved.into_iter().collect();
    // The file above holding every key was accepted (an unknown key is an error, below).
    // Not printed back: the flags about the command itself, the aliases (their flag is the
    // key) and the flags accepted for GoReplay with no effect (the file above holds them).
    let not_keys = [
        "input-raw-override-snaplen",
        "input-raw-protocol",
        "input-raw-buffer-timeout",
        "input-raw-timestamp-type",
        "input-raw-stats",
        "output-http-compatibility-mode",
        "output-http-debug",
        "output-http-response-buffer",
        "output-http-stats-ms",
        "output-http-worker-timeout",
        "copy-buffer-size",
        "output-http-url-regexp",
        "output-http-header-filter",
        "output-http-header-hash-filter",
        "output-http-rewrite-url",
        "config",
        "print-config",
        "help",
        "version",
        "output-http-insecure",
        "output-http-method",
        "output-http-header",
        // Only with a capture file as input (checked below); this file captures live.
        "input-raw-speed",
        // Printed only when set: it has no default to show.
        "middleware",
        // Only with record files as input, which replace -input-raw (tests/input_file.rs).
        "input-file-loop",
        "input-file-max-wait",
        "input-file-read-depth",
        "input-file-dry-run",
        // Printed back as output-http-workers-min and -max (a fixed count is both alike).
        "output-http-workers",
    ];
    let flags: BTreeSet<String> = help_flags()
        .into_iter()
        .filter(|f| !not_keys.contains(&f.as_str()))
        .collect();
    assert_eq!(resolved, flags, "config keys against --help's flags");

    // input-raw-speed is a key too, printed back, with a capture file as input.
    let demo = workspace_root().join("demo/production.pcap");
    std::fs::write(
        &path,
        format!(
            "input-raw = \"{}:7999\"\ninput-raw-speed = \"50%\"\noutput-null = true\n",
            demo.display()
        ),
    )
    .unwrap();
    let out = replayer(&["--config", path.to_str().unwrap(), "--print-config"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).contains("\ninput-raw-speed = \"50%\"\n"),
        "{}",
        stdout(&out)
    );

    std::fs::write(&path, "input-raw = \":80\"\nno-such-key = 1\n").unwrap();
    let out = replayer(&["--config", path.to_str().unwrap(), "--print-config"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("replayer: ") && stderr.contains("no-such-key"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// docs/migration.md's table of GoReplay's flags says what the binary does: each refused
/// flag with the very sentence the binary answers, each other flag one `--help` lists,
/// except those planned (which the binary does not know yet).
#[test]
fn the_migration_table_says_what_becomes_of_each_goreplay_flag() {
    let _processes = lock::processes();
    let page = std::fs::read_to_string(workspace_root().join("docs/migration.md")).unwrap();
    let section = page
        .split("\n## 2. Flag by flag\n")
        .nth(1)
        .expect("a '## 2. Flag by flag' section")
        .split("\n## ")
        .next()
        .unwrap();
    let mut rows = std::collections::BTreeMap::new();
    for row in section.lines().filter(|l| l.starts_with("| `-")) {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
        let name = flag_name(cells[0].trim_matches('`')).expect("a flag");
        if cells.len() == 3 {
            rows.insert(name, (cells[1].to_string(), cells[2].to_string()));
        }
    }
    assert!(
        rows.len() >= 100,
        "GoReplay 1.3 has about 100 flags: {}",
        rows.len()
    );
    let refused = replayer::config::goreplay::REFUSED;
    for (flag, why) in refused {
        let (what, notes) = rows
            .get(*flag)
            .unwrap_or_else(|| panic!("-{flag} is refused but not in the table"));
        assert_eq!(
            (what.as_str(), notes.as_str()),
            ("refused", *why),
            "-{flag}"
        );
    }
    let help = help_flags();
    for (flag, (what, _)) in &rows {
        let is_refused = refused.iter().any(|(name, _)| name == flag);
        match what.as_str() {
            "refused" => assert!(is_refused, "-{flag}: refused in the table only"),
            "planned" => assert!(
                !help.contains(flag) && !is_refused,
                "-{flag} is not planned"
            ),
            _ => assert!(help.contains(flag), "-{flag}: '{what}' but not a flag"),
        }
    }
}
