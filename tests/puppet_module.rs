//! The Puppet module (`icinga/puppet/replayer/`) with the real Puppet: every manifest,
//! function and template validates; `puppet apply` of the module's own example (GOV.UK's
//! setup, `examples/scratch.pp`) into a scratch root renders a configuration the daemon
//! reads, a unit with its drop-in and goreplay alias that `systemd-analyze verify` accepts,
//! Icinga 2 objects that `icinga2 daemon -C` accepts and the NRPE commands; a second apply
//! changes nothing; a real host's catalog evaluates in `--noop`; bad parameters are refused
//! with the parameter's name.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn module_dir() -> PathBuf {
    workspace_root().join("icinga/puppet/replayer")
}

fn files_under(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

fn puppet(args: &[&str]) -> Output {
    let mut cmd = Command::new(require_tool("puppet"));
    cmd.args(args);
    run_with_timeout(&mut cmd, Duration::from_secs(120))
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `puppet apply` of `manifest` with the module on the modulepath; returns the exit code
/// (--detailed-exitcodes: 0 no changes, 2 changes, 1/4/6 failures) and the output.
fn apply(scratch: &Scratch, manifest: &str) -> (i32, String) {
    let path = scratch.join("test.pp");
    std::fs::write(&path, manifest).unwrap();
    apply_file(&path, None)
}

/// `puppet apply` of a manifest file, with the fact `replayer_root` when given.
fn apply_file(path: &Path, root: Option<&Path>) -> (i32, String) {
    let modulepath = workspace_root().join("icinga/puppet");
    let mut cmd = Command::new(require_tool("puppet"));
    cmd.args(["apply", "--detailed-exitcodes", "--modulepath"])
        .arg(&modulepath)
        .arg(path);
    if let Some(root) = root {
        cmd.env("FACTER_replayer_root", root);
    }
    let out = run_with_timeout(&mut cmd, Duration::from_secs(120));
    (out.status.code().unwrap_or(-1), text(&out))
}

/// The module's documented example (GOV.UK's setup), applied under `root`.
fn apply_example(root: &Path) -> (i32, String) {
    apply_file(&module_dir().join("examples/scratch.pp"), Some(root))
}

#[test]
fn manifests_functions_and_templates_validate() {
    let _processes = lock::processes();
    // Puppet reads the machine's users and the scratch roots get a copy of its system units:
    // never while the package test installs the package and its user.
    let _machine = lock::machine();
    let mut manifests = Vec::new();
    files_under(&module_dir().join("manifests"), "pp", &mut manifests);
    files_under(&module_dir().join("functions"), "pp", &mut manifests);
    files_under(&module_dir().join("examples"), "pp", &mut manifests);
    assert!(manifests.len() >= 7, "{manifests:?}");
    let mut args = vec!["parser", "validate"];
    args.extend(manifests.iter().map(|p| p.to_str().unwrap()));
    let out = puppet(&args);
    assert!(out.status.success(), "{}", text(&out));

    let mut templates = Vec::new();
    files_under(&module_dir().join("templates"), "epp", &mut templates);
    assert_eq!(templates.len(), 3, "{templates:?}");
    let mut args = vec!["epp", "validate"];
    args.extend(templates.iter().map(|p| p.to_str().unwrap()));
    let out = puppet(&args);
    assert!(out.status.success(), "{}", text(&out));

    let metadata: serde_json::Value =
        serde_json::from_slice(&std::fs::read(module_dir().join("metadata.json")).unwrap())
            .expect("metadata.json is JSON");
    assert_eq!(metadata["name"], "replayer-replayer");
    assert!(metadata["version"].is_string() && metadata["dependencies"].is_array());

    // The module ships the canonical files of icinga/ (symlinks into the repository); each
    // must resolve.
    for file in [
        "files/systemd/replayer.service",
        "files/nrpe/replayer.cfg",
        "files/icinga2/constants.conf",
        "files/icinga2/commands.conf",
        "files/icinga2/templates.conf",
        "files/icinga2/services.conf",
        "files/icinga2/downtimes.conf",
    ] {
        assert!(module_dir().join(file).is_file(), "{file} does not resolve");
    }
}

/// `replayer --config FILE --print-config`: the daemon's own reading of a configuration.
fn print_config(file: &Path) -> String {
    let out = run_with_timeout(
        Command::new(bin("replayer"))
            .arg("--config")
            .arg(file)
            .arg("--print-config"),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "replayer rejects {}: {}",
        file.display(),
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn apply_into_a_scratch_root_renders_files_icinga_and_systemd_accept() {
    let _processes = lock::processes();
    // Puppet reads the machine's users and the scratch roots get a copy of its system units:
    // never while the package test installs the package and its user.
    let _machine = lock::machine();
    let scratch = Scratch::new("puppet-apply");
    let root = scratch.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let (code, out) = apply_example(&root);
    assert_eq!(code, 2, "first apply must make changes and succeed:\n{out}");

    // The daemon's configuration: GOV.UK's flags, by their long names.
    let config = std::fs::read_to_string(root.join("etc/replayer/replayer.toml")).unwrap();
    for line in [
        "input-raw = \"127.0.0.1:7999\"",
        "output-http = [\"https://www-origin.staging.example\"]",
        "http-allow-method = [\"GET\", \"HEAD\", \"OPTIONS\"]",
        "http-disallow-url = [\"apply-for-a-licence/payment\", \"sign-in/callback\"]",
        "http-set-header = [\"X-Forwarded-Host:\"]",
        "status-socket = \"/run/replayer/status.sock\"",
        "status-socket-mode = \"0660\"",
        "status-socket-group = \"nagios\"",
        "sync-flag = \"/etc/govuk/env.d/FACTER_data_sync_in_progress\"",
        "sync-max-age = \"12h\"",
        "diff = true",
    ] {
        assert!(
            config.lines().any(|l| l == line),
            "missing `{line}` in:\n{config}"
        );
    }
    assert!(!config.contains("allow-unsafe-methods"), "{config}");
    // The daemon itself reads it: the resolved settings keep GOV.UK's filters.
    let printed = print_config(&root.join("etc/replayer/replayer.toml"));
    for line in [
        "input-raw = \"127.0.0.1:7999\"",
        "http-disallow-url = [\"apply-for-a-licence/payment\", \"sign-in/callback\"]",
        "allow-unsafe-methods = false",
        "keep-credentials = false",
        "status-socket-group = \"nagios\"",
        "diff = true",
    ] {
        assert!(
            printed.lines().any(|l| l == line),
            "missing `{line}` in:\n{printed}"
        );
    }

    // Icinga 2 accepts the rendered objects, with the ITL, and builds both hosts' services.
    let icinga = scratch.join("icinga");
    std::fs::create_dir_all(&icinga).unwrap();
    let main = icinga.join("main.conf");
    std::fs::write(
        &main,
        format!(
            "include <itl>\ninclude <plugins>\nconst PluginDir = \"/usr/lib/nagios/plugins\"\n\
             include_recursive \"{}\"\n",
            root.join("etc/icinga2/conf.d").display()
        ),
    )
    .unwrap();
    let out = assert_icinga2_ok(&icinga2_validate(&icinga, &main));
    // (CheckCommands: the ITL's plus ours, so counted by the validation tests instead.)
    for line in [
        "Instantiated 2 Hosts.",
        "Instantiated 7 Services.",
        "Instantiated 4 ScheduledDowntimes.",
    ] {
        assert!(out.contains(line), "missing `{line}` in:\n{out}");
    }
    let host = std::fs::read_to_string(
        root.join("etc/icinga2/conf.d/replayer/hosts/cache-2.example.conf"),
    )
    .unwrap();
    assert!(
        host.contains("  vars.replayer_sync_window = \"22:00-08:00\"\n"),
        "{host}"
    );
    assert!(
        host.contains("  vars.replayer_procs_command = \"replayer\"\n"),
        "{host}"
    );
    assert!(host.contains("  vars.replayer_diff = false\n"), "{host}");
    let host = std::fs::read_to_string(
        root.join("etc/icinga2/conf.d/replayer/hosts/cache-1.example.conf"),
    )
    .unwrap();
    assert!(host.contains("  vars.replayer_diff = true\n"), "{host}");

    // systemd accepts the unit with Puppet's drop-in and the goreplay alias, inside the
    // scratch root (its own copy of the system units, and a replayer binary to point at).
    let units = Path::new("/usr/lib/systemd/system");
    assert!(units.is_dir(), "no systemd units on this machine");
    std::fs::create_dir_all(root.join("usr/lib/systemd")).unwrap();
    let copied = Command::new("cp")
        .arg("-a")
        .arg(units)
        .arg(root.join("usr/lib/systemd/"))
        .status()
        .expect("run cp");
    assert!(copied.success(), "copying the system units failed");
    std::fs::copy(bin("replayer"), root.join("usr/bin/replayer")).unwrap();
    let link = std::fs::read_link(root.join("usr/bin/goreplay")).unwrap();
    assert_eq!(link, Path::new("replayer"));
    let alias = std::fs::read_link(root.join("etc/systemd/system/goreplay.service")).unwrap();
    assert_eq!(alias, Path::new("replayer.service"));
    for unit in ["replayer.service", "goreplay.service"] {
        let out = run_with_timeout(
            Command::new(require_tool("systemd-analyze"))
                .arg("verify")
                .arg(format!("--root={}", root.display()))
                .arg(unit),
            Duration::from_secs(60),
        );
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "systemd-analyze verify {unit}: {}",
            text(&out)
        );
    }
    let dropin =
        std::fs::read_to_string(root.join("etc/systemd/system/replayer.service.d/puppet.conf"))
            .unwrap();
    assert!(
        dropin.contains(
            "\nExecStart=\nExecStart=/usr/bin/goreplay --config /etc/replayer/replayer.toml\n"
        ),
        "{dropin}"
    );
    assert!(
        dropin.contains("\nUser=replayer\n") && dropin.contains("\nSupplementaryGroups=nagios\n")
    );

    // The NRPE commands, as shipped.
    assert_eq!(
        std::fs::read(root.join("etc/nagios/nrpe.d/replayer.cfg")).unwrap(),
        std::fs::read(workspace_root().join("icinga/nrpe/replayer.cfg")).unwrap()
    );

    // A second run finds everything in place.
    let (code, out) = apply_example(&root);
    assert_eq!(code, 0, "second apply must change nothing:\n{out}");
}

#[test]
fn a_socket_outside_run_replayer_is_made_writable_and_no_goreplay_names_without_compat() {
    let _processes = lock::processes();
    // Puppet reads the machine's users and the scratch roots get a copy of its system units:
    // never while the package test installs the package and its user.
    let _machine = lock::machine();
    let scratch = Scratch::new("puppet-socket");
    let root = scratch.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let manifest = format!(
        "class {{ 'replayer': root => '{}', targets => ['http://staging.example:8080'], \
         status_socket => '/var/lib/replayer/sock/status.sock', sync_window => '22:0-8:0', \
         extra_options => {{ 'output-http-timeout' => '5s', 'output-http-workers' => 8 }} }}\n",
        root.display()
    );
    let (code, out) = apply(&scratch, &manifest);
    assert_eq!(code, 2, "{out}");
    let dropin =
        std::fs::read_to_string(root.join("etc/systemd/system/replayer.service.d/puppet.conf"))
            .unwrap();
    assert!(
        dropin.contains("\nReadWritePaths=/var/lib/replayer/sock\n"),
        "{dropin}"
    );
    assert!(
        dropin.contains("\nExecStart=/usr/bin/replayer --config /etc/replayer/replayer.toml\n"),
        "{dropin}"
    );
    let config = std::fs::read_to_string(root.join("etc/replayer/replayer.toml")).unwrap();
    for line in [
        "sync-window = \"22:0-8:0\"",
        "output-http-timeout = \"5s\"",
        "output-http-workers = 8",
        "status-socket = \"/var/lib/replayer/sock/status.sock\"",
    ] {
        assert!(
            config.lines().any(|l| l == line),
            "missing `{line}` in:\n{config}"
        );
    }
    let printed = print_config(&root.join("etc/replayer/replayer.toml"));
    for line in [
        "output-http-workers-min = 8",
        "output-http-workers-max = 8",
        "sync-window = \"22:00-08:00\"",
    ] {
        assert!(
            printed.lines().any(|l| l == line),
            "missing `{line}` in:\n{printed}"
        );
    }
    assert!(!root.join("usr/bin/goreplay").exists());
    assert!(std::fs::symlink_metadata(root.join("etc/systemd/system/goreplay.service")).is_err());
}

#[test]
fn bad_parameters_are_refused_naming_the_parameter() {
    let _processes = lock::processes();
    // Puppet reads the machine's users and the scratch roots get a copy of its system units:
    // never while the package test installs the package and its user.
    let _machine = lock::machine();
    let cases = [
        ("targets => []", "targets"),
        ("targets => ['x'], sync_window => 'tonight'", "sync_window"),
        (
            "targets => ['x'], status_socket => 'relative.sock'",
            "status_socket",
        ),
        (
            "targets => ['x'], status_socket_mode => '999'",
            "status_socket_mode",
        ),
        (
            "targets => ['x'], extra_options => { 'sync-flag' => '/x' }",
            "extra_options sync-flag",
        ),
    ];
    // One Puppet each, side by side: each run is mostly Puppet starting up.
    std::thread::scope(|threads| {
        for (params, name) in cases {
            threads.spawn(move || {
                let scratch = Scratch::new("puppet-bad");
                let (code, out) = apply(
                    &scratch,
                    &format!(
                        "class {{ 'replayer': {params}, root => '{}' }}\n",
                        scratch.path().display()
                    ),
                );
                assert_eq!(code, 1, "{params}: {out}");
                assert!(
                    out.contains(&format!("parameter '{name}'"))
                        || out.contains(&format!("replayer: {name}: ")),
                    "{params}: {out}"
                );
            });
        }
    });
}

/// The catalog for a real host (no `root`): users, service and the real paths, compiled and
/// evaluated with `--noop` (nothing on this machine changes).
#[test]
fn a_real_hosts_catalog_evaluates_in_noop() {
    let _processes = lock::processes();
    // Puppet reads the machine's users and the scratch roots get a copy of its system units:
    // never while the package test installs the package and its user.
    let _machine = lock::machine();
    let scratch = Scratch::new("puppet-noop");
    let manifest = "class { 'replayer': input => '127.0.0.1:7999', \
         targets => ['https://www-origin.staging.example'], goreplay_compat => true }\n\
         class { 'replayer::icinga::objects': notify_service => 'icinga2' }\n\
         service { 'icinga2': }\n\
         replayer::icinga { 'cache-1.example': address => '192.0.2.10' }\n\
         class { 'replayer::nrpe': }\n";
    let path = scratch.join("noop.pp");
    std::fs::write(&path, manifest).unwrap();
    let modulepath = workspace_root().join("icinga/puppet");
    let out = puppet(&[
        "apply",
        "--noop",
        "--modulepath",
        modulepath.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    for resource in [
        "User[replayer]",
        "Group[replayer]",
        "Service[replayer]",
        "File[/etc/replayer/replayer.toml]",
        "File[/etc/systemd/system/replayer.service.d/puppet.conf]",
        "File[/usr/bin/goreplay]",
        "File[/etc/icinga2/conf.d/replayer/commands.conf]",
        "File[/etc/icinga2/conf.d/replayer/hosts/cache-1.example.conf]",
        "File[/etc/nagios/nrpe.d/replayer.cfg]",
    ] {
        assert!(output.contains(resource), "{resource} not in:\n{output}");
    }
    assert!(output.contains("(noop)"), "{output}");
}
