//! The shipped Icinga 2 configuration (`icinga/icinga2/`) against the real `icinga2 daemon -C`:
//! alone, with the ITL and the example host, with an agent zone (command_endpoint), and
//! checked object by object with `icinga2 object list` (intervals, notes_url, arguments for
//! every option of the plugin contract, defaults equal to the plugins').

use crate::util::*;
use std::path::{Path, PathBuf};

/// Writes `main.conf` in `dir` with `prelude`, the shipped library files and `extra`.
fn main_conf(dir: &Path, prelude: &str, extra: &str) -> PathBuf {
    let mut text = String::from(prelude);
    for file in ICINGA_LIBRARY_FILES {
        text += &format!("include \"{}\"\n", icinga_conf_dir().join(file).display());
    }
    text += extra;
    let path = dir.join("main.conf");
    std::fs::write(&path, text).unwrap();
    path
}

const ITL: &str =
    "include <itl>\ninclude <plugins>\nconst PluginDir = \"/usr/lib/nagios/plugins\"\n";

fn example_host() -> String {
    format!(
        "include \"{}\"\n",
        icinga_conf_dir().join("hosts.conf").display()
    )
}

/// `icinga2 object list` over the objects the last validation in `dir` wrote.
fn object_list(dir: &Path, kind: &str, name: &str) -> String {
    let out = run_with_timeout(
        &mut icinga2_command(dir, &["object", "list", "--type", kind, "--name", name]),
        std::time::Duration::from_secs(30),
    );
    let text = assert_icinga2_ok(&out);
    assert!(
        text.contains(&format!("Object '{name}' of type '{kind}'")),
        "no {kind} {name} in:\n{text}"
    );
    text
}

#[test]
fn library_validates_alone() {
    let _processes = lock::processes();
    let scratch = Scratch::new("icinga-alone");
    let conf = main_conf(scratch.path(), "", "");
    let out = assert_icinga2_ok(&icinga2_validate(scratch.path(), &conf));
    assert!(out.contains("Instantiated 4 CheckCommands."), "{out}");
    assert!(
        out.contains("Finished validating the configuration file(s)."),
        "{out}"
    );
}

#[test]
fn validates_with_itl_and_plugins_and_builds_the_example_host() {
    let _processes = lock::processes();
    let scratch = Scratch::new("icinga-itl");
    let conf = main_conf(scratch.path(), ITL, &example_host());
    let out = assert_icinga2_ok(&icinga2_validate(scratch.path(), &conf));
    for line in [
        "Instantiated 1 Host.",
        "Instantiated 4 Services.",
        "Instantiated 4 ScheduledDowntimes.",
    ] {
        assert!(out.contains(line), "missing `{line}` in:\n{out}");
    }
    // No ITL command was shadowed or clashed (a clash is a validation error), and ours are
    // still ours.
    assert!(!out.contains("warning/"), "{out}");

    for service in [
        "replayer-procs",
        "replayer-rate",
        "replayer-5xx",
        "replayer-diff",
    ] {
        let text = object_list(
            scratch.path(),
            "Service",
            &format!("cache-1.example!{service}"),
        );
        for attr in [
            format!("* check_command = \"{service}\""),
            "* check_interval = 300".into(),
            "* retry_interval = 60".into(),
            "* max_check_attempts = 4".into(),
            "* notes_url = \"https://example.invalid/replayer/icinga/README.md#$service.name$\""
                .into(),
            "* command_endpoint = \"\"".into(),
        ] {
            assert!(
                text.contains(&attr),
                "{service}: missing `{attr}` in:\n{text}"
            );
        }
    }
    let downtime = object_list(
        scratch.path(),
        "ScheduledDowntime",
        "cache-1.example!replayer-5xx!replayer-data-sync",
    );
    assert!(downtime.contains("* fixed = true"), "{downtime}");
    assert!(
        downtime.contains("* monday = \"00:00-08:00,22:00-24:00\""),
        "{downtime}"
    );
}

/// Parses the arguments out of `icinga2 object list` for a command: each `--name` with its
/// fields (the indented lines below it) joined by newlines.
fn arguments(listing: &str) -> Vec<(String, String)> {
    let mut args: Vec<(String, String)> = Vec::new();
    let mut in_arguments = false;
    for line in listing.lines() {
        if line.starts_with("  * ") {
            in_arguments = line == "  * arguments";
        } else if !in_arguments {
            continue;
        } else if let Some(name) = line.strip_prefix("    * --") {
            args.push((format!("--{name}"), String::new()));
        } else if let Some(last) = args.last_mut() {
            last.1 += line.trim();
            last.1 += "\n";
        }
    }
    args
}

#[test]
fn every_plugin_option_is_an_argument_with_a_description_and_the_plugins_default() {
    let _processes = lock::processes();
    // The plugin command-line contract (checks ↔ icinga), option by option.
    let common = [
        "--timeout",
        "--verbose",
        "--sync-flag",
        "--sync-max-age",
        "--sync-window",
        "--help",
        "--version",
    ];
    let specific: [(&str, &[&str]); 4] = [
        (
            "replayer-procs",
            &[
                "--command",
                "--argument-array",
                "--user",
                "--warning",
                "--critical",
            ],
        ),
        (
            "replayer-rate",
            &["--socket", "--window", "--warning", "--critical"],
        ),
        (
            "replayer-5xx",
            &[
                "--socket",
                "--window",
                "--warning",
                "--critical",
                "--min-responses",
                "--per-second",
            ],
        ),
        (
            "replayer-diff",
            &[
                "--socket",
                "--window",
                "--warning",
                "--critical",
                "--cause",
                "--min-compared",
            ],
        ),
    ];
    // Defaults as the plugins have them; `None` = no default, never passed unless set.
    let defaults: [(&str, &[(&str, &str)]); 4] = [
        (
            "replayer-procs",
            &[
                ("replayer_procs_command", "\"replayer\""),
                ("replayer_procs_critical", "\"1:\""),
            ],
        ),
        (
            "replayer-rate",
            &[
                ("replayer_socket", "\"/run/replayer/status.sock\""),
                ("replayer_rate_window", "300"),
                ("replayer_rate_warning", "\"0.1:\""),
                ("replayer_rate_critical", "\"0.01:\""),
            ],
        ),
        (
            "replayer-5xx",
            &[
                ("replayer_socket", "\"/run/replayer/status.sock\""),
                ("replayer_5xx_window", "300"),
                ("replayer_5xx_warning", "\"0.05\""),
                ("replayer_5xx_critical", "\"0.1\""),
                ("replayer_5xx_min_responses", "20"),
                ("replayer_5xx_per_second", "false"),
            ],
        ),
        (
            "replayer-diff",
            &[
                ("replayer_socket", "\"/run/replayer/status.sock\""),
                ("replayer_diff_window", "300"),
                ("replayer_diff_warning", "\"0.05\""),
                ("replayer_diff_critical", "\"0.1\""),
                ("replayer_diff_cause", "\"status\""),
                ("replayer_diff_min_compared", "20"),
            ],
        ),
    ];
    let common_defaults = [
        ("replayer_timeout", "10"),
        ("replayer_verbose", "false"),
        (
            "replayer_sync_flag",
            "\"/etc/govuk/env.d/FACTER_data_sync_in_progress\"",
        ),
        ("replayer_sync_max_age", "\"12h\""),
    ];

    let scratch = Scratch::new("icinga-args");
    let conf = main_conf(scratch.path(), "", "");
    assert_icinga2_ok(&icinga2_validate(scratch.path(), &conf));

    for ((command, options), (_, own_defaults)) in specific.iter().zip(defaults.iter()) {
        let listing = object_list(scratch.path(), "CheckCommand", command);
        let args = arguments(&listing);
        let mut names: Vec<&str> = args.iter().map(|(n, _)| n.as_str()).collect();
        names.sort();
        let mut expected: Vec<&str> = common.iter().chain(options.iter()).copied().collect();
        expected.sort();
        assert_eq!(
            names, expected,
            "{command}: arguments differ from the contract"
        );

        for (name, fields) in &args {
            assert!(
                fields.contains("description = \""),
                "{command} {name}: no description"
            );
            // Booleans are passed only when true; every valued argument either is required
            // or drops out when its var is "" (set_if on a macro() lambda).
            if fields.contains("value = ") {
                assert!(
                    fields.contains("required = true") || fields.contains("type = \"Function\""),
                    "{command} {name}: neither required nor set_if for empty strings:\n{fields}"
                );
            } else {
                assert!(
                    fields.contains("set_if = \"$replayer_"),
                    "{command} {name}: a boolean without set_if:\n{fields}"
                );
            }
        }
        for (var, value) in common_defaults.iter().chain(own_defaults.iter()) {
            let line = format!("* {var} = {value}");
            assert!(
                listing.contains(&line),
                "{command}: missing default `{line}`"
            );
        }
        // The plugin's -t must fire before Icinga kills it (then UNKNOWN, exit 128).
        assert!(listing.contains("* timeout = 30"), "{command}: timeout");
        assert!(
            listing.contains(&format!(
                "/usr/lib/nagios/plugins/{}",
                match *command {
                    "replayer-procs" => "check_replayer_procs",
                    "replayer-rate" => "check_replay_rate",
                    "replayer-diff" => "check_replay_diff",
                    _ => "check_replay_5xx",
                }
            )),
            "{command}: not under Debian's plugin dir:\n{listing}"
        );
    }
}

#[test]
fn plugin_dir_follows_the_sites_plugin_dir_or_its_own_constant() {
    let _processes = lock::processes();
    for (prelude, expected) in [
        (
            "const PluginDir = \"/opt/plugins\"\n",
            "/opt/plugins/check_replay_rate",
        ),
        (
            "const PluginDir = \"/opt/plugins\"\nconst ReplayerPluginDir = \"/srv/replayer\"\n",
            "/srv/replayer/check_replay_rate",
        ),
    ] {
        let scratch = Scratch::new("icinga-plugindir");
        let conf = main_conf(scratch.path(), prelude, "");
        assert_icinga2_ok(&icinga2_validate(scratch.path(), &conf));
        let listing = object_list(scratch.path(), "CheckCommand", "replayer-rate");
        assert!(listing.contains(expected), "want {expected} in:\n{listing}");
    }
}

#[test]
fn command_endpoint_follows_the_hosts_agent_endpoint() {
    let _processes = lock::processes();
    let zones = "\
object Endpoint \"master.example\" { }
object Zone \"master\" { endpoints = [ \"master.example\" ] }
object Endpoint \"cache-2.example\" { }
object Zone \"cache-2.example\" { endpoints = [ \"cache-2.example\" ]; parent = \"master\" }
object Host \"cache-2.example\" {
  check_command = \"hostalive\"
  address = \"192.0.2.11\"
  vars.replayer = true
  vars.agent_endpoint = name
  zone = \"master\" // as for a file in zones.d/master/
}
";
    let scratch = Scratch::new("icinga-agent");
    let prelude =
        format!("{ITL}const NodeName = \"master.example\"\nconst ZoneName = \"master\"\n");
    let conf = main_conf(scratch.path(), &prelude, zones);
    let out = assert_icinga2_ok(&icinga2_validate(scratch.path(), &conf));
    assert!(out.contains("Instantiated 3 Services."), "{out}");
    for service in ["replayer-procs", "replayer-rate", "replayer-5xx"] {
        let text = object_list(
            scratch.path(),
            "Service",
            &format!("cache-2.example!{service}"),
        );
        assert!(
            text.contains("* command_endpoint = \"cache-2.example\""),
            "{service}:\n{text}"
        );
    }

    // The rule really is applied: an agent endpoint that does not exist fails validation.
    let broken = zones.replace(
        "vars.agent_endpoint = name",
        "vars.agent_endpoint = \"nowhere\"",
    );
    let scratch = Scratch::new("icinga-agent-broken");
    let conf = main_conf(scratch.path(), &prelude, &broken);
    let out = icinga2_validate(scratch.path(), &conf);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("command_endpoint"), "{stdout}");
}

/// The plugins' own `--help`, option by option: every long option has an argument in the
/// CheckCommand, and every `[default: X]` equals the var that argument passes.
#[test]
fn arguments_and_defaults_match_the_real_plugins_help() {
    let _processes = lock::processes();
    let scratch = Scratch::new("icinga-help");
    let conf = main_conf(scratch.path(), "", "");
    assert_icinga2_ok(&icinga2_validate(scratch.path(), &conf));
    for (command, plugin) in [
        ("replayer-procs", "check_replayer_procs"),
        ("replayer-rate", "check_replay_rate"),
        ("replayer-5xx", "check_replay_5xx"),
        ("replayer-diff", "check_replay_diff"),
    ] {
        let out = run_with_timeout(
            std::process::Command::new(bin(plugin)).arg("--help"),
            std::time::Duration::from_secs(10),
        );
        assert_eq!(out.status.code(), Some(3), "{plugin} --help exits UNKNOWN");
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        let listing = object_list(scratch.path(), "CheckCommand", command);
        let args = arguments(&listing);

        let mut options = 0;
        for line in help.lines().map(str::trim_start) {
            // "-w, --warning <RANGE>  text [default: x]" or "--sync-flag <PATH>  text"
            let line =
                line.split_once(", ").map_or(
                    line,
                    |(short, rest)| {
                        if short.len() == 2 {
                            rest
                        } else {
                            line
                        }
                    },
                );
            let Some(option) = line
                .strip_prefix("--")
                .and_then(|l| l.split([' ', '.']).next())
            else {
                continue;
            };
            options += 1;
            let name = format!("--{option}");
            let (_, fields) = args
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("{command}: no argument for {plugin} {name}"));
            let Some(default) = line
                .rsplit_once("[default: ")
                .and_then(|(_, d)| d.strip_suffix(']'))
            else {
                continue;
            };
            let var = fields
                .lines()
                .find_map(|f| f.strip_prefix("* value = \"$")?.strip_suffix("$\""))
                .unwrap_or_else(|| panic!("{command} {name}: no value macro"));
            let quoted = format!("* {var} = \"{default}\"");
            let bare = format!("* {var} = {default}");
            assert!(
                listing
                    .lines()
                    .any(|l| l.trim() == quoted || l.trim() == bare),
                "{command}: {var} is not the plugin's default {default}"
            );
        }
        assert!(
            options >= 9,
            "{plugin}: only {options} options in its help:\n{help}"
        );
    }
}
