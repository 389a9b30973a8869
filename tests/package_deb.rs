//! The Debian package: `cargo deb` builds it from the binaries the test suite already built
//! (`--no-build`, the same profile as this test, so no second release build), its contents
//! and control files are checked, then it is installed for real with `dpkg -i` on this
//! machine, used (`dpkg -L`, the binaries run, the plugins answer, the unit verifies, the
//! installed config is read by the installed daemon) and purged with `dpkg --purge`.
//!
//! Installing on the machine itself is deliberate: a chroot would need debootstrap (minutes
//! and a mirror), and `dpkg --root` does not run maintainer scripts the way a real install
//! does. CI runs as root on a throwaway machine. A guard purges the package even when a
//! step fails, and the test refuses to touch a replayer package it did not install. The
//! purge leaves the `replayer` system user behind (as Debian packages do); the guard removes
//! it when the test created it, since other tests expect a machine without it.
//!
//! The whole sequence runs once (`util::scenario`), holding the machine's installed state to
//! itself (`util::lock`), and records what each step showed; each test asserts one thing on
//! that record.

use crate::util::scenario::Scenario;
use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run(cmd: &mut Command) -> Output {
    run_with_timeout(cmd, Duration::from_secs(120))
}

/// Every file and symlink the package holds (directories left out), with its mode.
const CONTENTS: &[(&str, &str)] = &[
    ("-rwxr-xr-x", "./usr/bin/replayer"),
    ("lrwxrwxrwx", "./usr/bin/goreplay -> replayer"),
    (
        "-rwxr-xr-x",
        "./usr/lib/nagios/plugins/check_replayer_procs",
    ),
    ("-rwxr-xr-x", "./usr/lib/nagios/plugins/check_replay_rate"),
    ("-rwxr-xr-x", "./usr/lib/nagios/plugins/check_replay_5xx"),
    ("-rwxr-xr-x", "./usr/lib/nagios/plugins/check_replay_diff"),
    ("-rw-r--r--", "./usr/lib/systemd/system/replayer.service"),
    (
        "lrwxrwxrwx",
        "./lib/systemd/system/goreplay.service -> replayer.service",
    ),
    ("-rw-r--r--", "./etc/replayer/replayer.toml"),
    ("-rw-r--r--", "./etc/nagios/nrpe.d/replayer.cfg"),
    (
        "-rw-r--r--",
        "./usr/share/doc/replayer/examples/systemd/goreplay-compat.conf",
    ),
    (
        "-rw-r--r--",
        "./usr/share/doc/replayer/examples/icinga2/commands.conf",
    ),
    (
        "-rw-r--r--",
        "./usr/share/doc/replayer/examples/icinga2/constants.conf",
    ),
    (
        "-rw-r--r--",
        "./usr/share/doc/replayer/examples/icinga2/downtimes.conf",
    ),
    (
        "-rw-r--r--",
        "./usr/share/doc/replayer/examples/icinga2/hosts.conf",
    ),
    (
        "-rw-r--r--",
        "./usr/share/doc/replayer/examples/icinga2/services.conf",
    ),
    (
        "-rw-r--r--",
        "./usr/share/doc/replayer/examples/icinga2/templates.conf",
    ),
    (
        "-rw-r--r--",
        "./usr/share/doc/replayer/examples/prometheus/replayer.rules.yml",
    ),
    (
        "-rw-r--r--",
        "./usr/share/doc/replayer/examples/grafana/replayer.json",
    ),
    ("-rw-r--r--", "./usr/share/man/man1/replayer.1"),
    ("-rw-r--r--", "./usr/share/man/man1/replayer-status.1"),
    ("-rw-r--r--", "./usr/share/man/man1/replayer-diff.1"),
    ("-rw-r--r--", "./usr/share/man/man1/check_replayer_procs.1"),
    ("-rw-r--r--", "./usr/share/man/man1/check_replay_rate.1"),
    ("-rw-r--r--", "./usr/share/man/man1/check_replay_5xx.1"),
    ("-rw-r--r--", "./usr/share/man/man1/check_replay_diff.1"),
    (
        "-rw-r--r--",
        "./usr/share/bash-completion/completions/replayer",
    ),
    (
        "-rw-r--r--",
        "./usr/share/bash-completion/completions/check_replayer_procs",
    ),
    (
        "-rw-r--r--",
        "./usr/share/bash-completion/completions/check_replay_rate",
    ),
    (
        "-rw-r--r--",
        "./usr/share/bash-completion/completions/check_replay_5xx",
    ),
    (
        "-rw-r--r--",
        "./usr/share/bash-completion/completions/check_replay_diff",
    ),
    ("-rw-r--r--", "./usr/share/zsh/vendor-completions/_replayer"),
    (
        "-rw-r--r--",
        "./usr/share/zsh/vendor-completions/_check_replayer_procs",
    ),
    (
        "-rw-r--r--",
        "./usr/share/zsh/vendor-completions/_check_replay_rate",
    ),
    (
        "-rw-r--r--",
        "./usr/share/zsh/vendor-completions/_check_replay_5xx",
    ),
    (
        "-rw-r--r--",
        "./usr/share/zsh/vendor-completions/_check_replay_diff",
    ),
    (
        "-rw-r--r--",
        "./usr/share/fish/vendor_completions.d/replayer.fish",
    ),
    (
        "-rw-r--r--",
        "./usr/share/fish/vendor_completions.d/check_replayer_procs.fish",
    ),
    (
        "-rw-r--r--",
        "./usr/share/fish/vendor_completions.d/check_replay_rate.fish",
    ),
    (
        "-rw-r--r--",
        "./usr/share/fish/vendor_completions.d/check_replay_5xx.fish",
    ),
    (
        "-rw-r--r--",
        "./usr/share/fish/vendor_completions.d/check_replay_diff.fish",
    ),
    ("-rw-r--r--", "./usr/share/doc/replayer/README.md"),
    ("-rw-r--r--", "./usr/share/doc/replayer/copyright"),
    ("-rw-r--r--", "./usr/share/doc/replayer/checks.md"),
    ("-rw-r--r--", "./usr/share/doc/replayer/icinga.md"),
];

/// Builds the .deb into `dir` from the already built binaries of this test's profile.
fn build_deb(dir: &Path) -> PathBuf {
    let cargo_deb = require_tool("cargo-deb");
    // The binaries must exist: --no-build packages whatever is there.
    for name in [
        "replayer",
        "check_replayer_procs",
        "check_replay_rate",
        "check_replay_5xx",
        "check_replay_diff",
    ] {
        bin(name);
    }
    // Man pages and completions from the clap definitions, where the package metadata
    // expects them: target/<profile>/dist (cargo-deb's `target/release/` placeholder).
    let docs = run(Command::new(bin("xtask"))
        .arg("docs")
        .arg("--out")
        .arg(bin_dir().join("dist")));
    assert!(docs.status.success(), "xtask docs: {}", text(&docs));
    let profile = match bin_dir().file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some("release") => "release",
        other => panic!("unexpected profile directory {other:?}"),
    };
    let out = run(Command::new(cargo_deb)
        .current_dir(workspace_root())
        .args(["-p", "replayer", "--no-build", "--fast", "--quiet"])
        .args(["--profile", profile, "--output"])
        .arg(dir));
    assert!(out.status.success(), "cargo deb: {}", text(&out));
    let deb = dir.join(format!(
        "replayer_{}-1_amd64.deb",
        env!("CARGO_PKG_VERSION")
    ));
    assert!(
        deb.is_file(),
        "no {} after cargo deb: {}",
        deb.display(),
        text(&out)
    );
    deb
}

fn package_status() -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Status}", "replayer"])
        .output()
        .expect("dpkg-query");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        .filter(|s| !s.ends_with("not-installed"))
}

fn exists(database: &str, name: &str) -> bool {
    Command::new("getent")
        .args([database, name])
        .output()
        .expect("getent")
        .status
        .success()
}

/// Purges the package when dropped, so that a failed assertion leaves the machine clean;
/// also removes the `replayer` user and group the postinst created (a purge keeps them, as
/// Debian packages do, but other tests, e.g. puppet_module, expect a machine without them).
struct Installed {
    user_existed: bool,
    group_existed: bool,
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "replayer"]).output();
        if !self.user_existed && exists("passwd", "replayer") {
            let _ = Command::new("userdel").arg("replayer").output();
        }
        if !self.group_existed && exists("group", "replayer") {
            let _ = Command::new("groupdel").arg("replayer").output();
        }
    }
}

/// Asserts a command succeeded; returns its stdout.
fn ok(out: &Output) -> String {
    assert!(out.status.success(), "failed: {}", text(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the scenario saw, step by step: the package's files, then each command run on the
/// installed package, then the machine after the purge.
struct Seen {
    /// `dpkg-deb -c`.
    listing: Output,
    /// DEBIAN/conffiles, control and postinst, from `dpkg-deb -e`.
    conffiles: String,
    control: String,
    postinst: String,
    install: Output,
    status_installed: Option<String>,
    /// `dpkg -L replayer`.
    listed: Output,
    /// `getent passwd replayer`, `getent group replayer`.
    passwd: Output,
    group: Output,
    /// `--version` of /usr/bin/replayer, /usr/bin/goreplay and, as the replayer user,
    /// /usr/bin/replayer; where /usr/bin/goreplay points.
    version: Output,
    goreplay_link: PathBuf,
    goreplay_version: Output,
    runuser_version: Output,
    /// `man -w PAGE` of each page; `man -P cat replayer`; the bash completion loaded.
    man_w: Vec<(&'static str, Output)>,
    man_page: Output,
    completion: Output,
    /// The installed daemon on the installed config: `--print-config`.
    config: Output,
    /// The installed plugins: `check_replayer_procs -C no-such-daemon`, and the socket
    /// plugins on a missing socket (plugin, label, output).
    procs: Output,
    missing_socket: PathBuf,
    socket_plugins: Vec<(&'static str, &'static str, Output)>,
    /// /etc/nagios/nrpe.d/replayer.cfg and `PROGRAM -V` of each command it names.
    nrpe: String,
    nrpe_programs: Vec<(String, Output)>,
    /// `systemd-analyze verify` of the installed units.
    units: Vec<(&'static str, Output)>,
    /// `icinga2 daemon -C` of the installed example objects with a marked host.
    icinga: Output,
    purge: Output,
    status_purged: Option<String>,
    /// The package's paths that are still there after the purge.
    left_after_purge: Vec<&'static str>,
    user_existed: bool,
    user_after_purge: bool,
    user_after_guard: bool,
}

static SCENARIO: Scenario<Seen> = Scenario::new();

fn seen() -> &'static Seen {
    SCENARIO.get(build_install_use_and_purge)
}

/// Builds the package, installs it on this machine, runs what it installed and purges it,
/// recording every step; the guard purges it even when a step panics. Holds the machine's
/// installed state alone meanwhile (`util::lock`).
fn build_install_use_and_purge() -> Seen {
    assert!(is_root(), "dpkg -i needs root (CI runs as root)");
    require_tool("dpkg");
    let _machine = lock::machine_alone();
    let scratch = Scratch::new("deb");
    let deb = build_deb(scratch.path());

    let listing = run(Command::new(require_tool("dpkg-deb")).arg("-c").arg(&deb));
    let control_dir = scratch.join("control");
    std::fs::create_dir_all(&control_dir).unwrap();
    ok(&run(Command::new(require_tool("dpkg-deb"))
        .arg("-e")
        .arg(&deb)
        .arg(control_dir.join("DEBIAN"))));
    let read = |name: &str| std::fs::read_to_string(control_dir.join("DEBIAN").join(name)).unwrap();
    let (conffiles, control, postinst) = (read("conffiles"), read("control"), read("postinst"));

    assert_eq!(
        package_status(),
        None,
        "a replayer package is already installed here; this test installs and purges its own \
         (remove it first: dpkg --purge replayer)"
    );
    let installed = Installed {
        user_existed: exists("passwd", "replayer"),
        group_existed: exists("group", "replayer"),
    };
    let install = run(Command::new("dpkg").arg("-i").arg(&deb));
    // Nothing after this means anything without the package.
    assert!(install.status.success(), "dpkg -i: {}", text(&install));
    let status_installed = package_status();
    let listed = run(Command::new("dpkg").args(["-L", "replayer"]));
    let passwd = run(Command::new("getent").args(["passwd", "replayer"]));
    let group = run(Command::new("getent").args(["group", "replayer"]));

    let version = run(Command::new("/usr/bin/replayer").arg("--version"));
    let goreplay_link = std::fs::read_link("/usr/bin/goreplay").unwrap();
    let goreplay_version = run(Command::new("/usr/bin/goreplay").arg("--version"));
    let runuser_version = run(Command::new(require_tool("runuser")).args([
        "-u",
        "replayer",
        "--",
        "/usr/bin/replayer",
        "--version",
    ]));

    let man_w = [
        "replayer",
        "replayer-status",
        "replayer-diff",
        "check_replayer_procs",
        "check_replay_rate",
        "check_replay_5xx",
        "check_replay_diff",
    ]
    .map(|page| {
        (
            page,
            run(Command::new(require_tool("man")).args(["-w", page])),
        )
    })
    .to_vec();
    let man_page = run(Command::new(require_tool("man"))
        .args(["-P", "cat", "replayer"])
        .env("MANWIDTH", "100"));
    let completion = run(Command::new("bash").args([
        "-c",
        "source /usr/share/bash-completion/completions/replayer && complete -p replayer",
    ]));

    let config = run(Command::new("/usr/bin/replayer").args([
        "--config",
        "/etc/replayer/replayer.toml",
        "--print-config",
    ]));

    let plugins = Path::new("/usr/lib/nagios/plugins");
    let procs =
        run(Command::new(plugins.join("check_replayer_procs")).args(["-C", "no-such-daemon"]));
    let missing_socket = scratch.join("no.sock");
    let socket_plugins = [
        ("check_replay_rate", "REPLAY RATE CRITICAL: "),
        ("check_replay_5xx", "REPLAY 5XX CRITICAL: "),
        ("check_replay_diff", "REPLAY DIFF CRITICAL: "),
    ]
    .map(|(plugin, label)| {
        let out = run(Command::new(plugins.join(plugin))
            .arg("--socket")
            .arg(&missing_socket)
            .args(["--sync-flag", "/nonexistent"]));
        (plugin, label, out)
    })
    .to_vec();

    let nrpe = std::fs::read_to_string("/etc/nagios/nrpe.d/replayer.cfg").unwrap();
    let nrpe_programs = nrpe_commands(&nrpe)
        .into_iter()
        .map(|command| {
            let program = command.split_whitespace().next().unwrap().to_string();
            let out = run(Command::new(&program).arg("-V"));
            (program, out)
        })
        .collect();

    let units = ["replayer.service", "goreplay.service"]
        .map(|unit| {
            let out = run(Command::new(require_tool("systemd-analyze"))
                .arg("verify")
                .arg(format!("/usr/lib/systemd/system/{unit}")));
            (unit, out)
        })
        .to_vec();

    // The Icinga 2 objects, installed on a config master as README.md says.
    let icinga_dir = scratch.join("icinga2");
    let objects = icinga_dir.join("conf/replayer");
    std::fs::create_dir_all(&objects).unwrap();
    let examples = Path::new("/usr/share/doc/replayer/examples/icinga2");
    for file in ICINGA_LIBRARY_FILES {
        std::fs::copy(examples.join(file), objects.join(file)).unwrap();
    }
    let main_conf = icinga_dir.join("conf/icinga2.conf");
    std::fs::write(
        &main_conf,
        "const PluginDir = \"/usr/lib/nagios/plugins\"\n\
         const NodeName = \"cache-1\"\n\
         include <itl>\ninclude <plugins>\ninclude \"replayer/*.conf\"\n\
         object Host \"cache-1\" {\n  check_command = \"hostalive\"\n  \
         address = \"127.0.0.1\"\n  vars.replayer = true\n}\n",
    )
    .unwrap();
    let icinga = icinga2_validate(&icinga_dir, &main_conf);

    let purge = run(Command::new("dpkg").args(["--purge", "replayer"]));
    let status_purged = package_status();
    let left_after_purge = [
        "/usr/bin/replayer",
        "/usr/bin/goreplay",
        "/usr/lib/nagios/plugins/check_replay_rate",
        "/usr/lib/systemd/system/replayer.service",
        "/etc/replayer/replayer.toml",
        "/etc/nagios/nrpe.d/replayer.cfg",
    ]
    .into_iter()
    .filter(|path| std::fs::symlink_metadata(path).is_ok())
    .collect();
    let user_existed = installed.user_existed;
    let user_after_purge = exists("passwd", "replayer");
    drop(installed);
    let user_after_guard = exists("passwd", "replayer");

    Seen {
        listing,
        conffiles,
        control,
        postinst,
        install,
        status_installed,
        listed,
        passwd,
        group,
        version,
        goreplay_link,
        goreplay_version,
        runuser_version,
        man_w,
        man_page,
        completion,
        config,
        procs,
        missing_socket,
        socket_plugins,
        nrpe,
        nrpe_programs,
        units,
        icinga,
        purge,
        status_purged,
        left_after_purge,
        user_existed,
        user_after_purge,
        user_after_guard,
    }
}

/// The commands of an NRPE configuration (`command[NAME]=COMMAND` lines).
fn nrpe_commands(cfg: &str) -> Vec<&str> {
    cfg.lines()
        .filter_map(|l| l.strip_prefix("command["))
        .map(|l| l.split_once("]=").unwrap().1)
        .collect()
}

#[test]
fn the_package_holds_exactly_its_files_owned_by_root() {
    let _processes = lock::processes();
    let listing = ok(&seen().listing);
    let mut entries: Vec<(String, String)> = listing
        .lines()
        .filter(|l| !l.starts_with('d'))
        .map(|l| {
            // "-rw-r--r-- 0/0 1954 2026-11-24 00:00 ./etc/..." : mode, owner, size, date,
            // time, path (with " -> target" for a symlink).
            let fields: Vec<&str> = l.splitn(6, char::is_whitespace).collect();
            let rest = l.split_whitespace().collect::<Vec<_>>();
            assert!(fields.len() == 6 && rest.len() >= 6, "odd line: {l}");
            assert_eq!(rest[1], "0/0", "owned by root: {l}");
            (rest[0].to_string(), rest[5..].join(" "))
        })
        .collect();
    entries.sort_by(|a, b| a.1.cmp(&b.1));
    let mut expected: Vec<(String, String)> = CONTENTS
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    // Every document in docs/ (the list grows; the metadata takes docs/*.md).
    for entry in std::fs::read_dir(workspace_root().join("docs")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".md") {
            expected.push((
                "-rw-r--r--".into(),
                format!("./usr/share/doc/replayer/docs/{name}"),
            ));
        }
    }
    expected.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(entries, expected, "package contents:\n{listing}");
}

#[test]
fn the_control_files_name_the_conffiles_dependencies_and_leave_the_unit_stopped() {
    let _processes = lock::processes();
    let seen = seen();
    assert_eq!(
        seen.conffiles.lines().collect::<Vec<_>>(),
        [
            "/etc/replayer/replayer.toml",
            "/etc/nagios/nrpe.d/replayer.cfg"
        ]
    );
    let control = &seen.control;
    let field = |name: &str| {
        control
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in control:\n{control}"))
            .to_string()
    };
    assert_eq!(field("Package"), "replayer");
    assert_eq!(field("Architecture"), "amd64");
    let depends = field("Depends");
    for dep in ["adduser", "libc6", "libpcap0.8"] {
        assert!(depends.contains(dep), "Depends lacks {dep}: {depends}");
    }
    let postinst = &seen.postinst;
    assert!(postinst.contains("adduser --system --group"), "{postinst}");
    // The unit is registered but neither enabled nor started by the package.
    assert!(postinst.contains("deb-systemd-helper update-state replayer.service"));
    assert!(!postinst.contains("deb-systemd-invoke start"), "{postinst}");
}

/// `dpkg -i` installs it, and `dpkg -L` names every file the package holds.
#[test]
fn dpkg_installs_it_and_lists_every_file() {
    let _processes = lock::processes();
    let seen = seen();
    assert!(
        seen.install.status.success(),
        "dpkg -i: {}",
        text(&seen.install)
    );
    assert_eq!(
        seen.status_installed.as_deref(),
        Some("install ok installed")
    );
    let listed = ok(&seen.listed);
    let listed: Vec<&str> = listed.lines().collect();
    for (_, entry) in CONTENTS {
        let path = entry.trim_start_matches('.').split(" -> ").next().unwrap();
        assert!(listed.contains(&path), "dpkg -L lacks {path}: {listed:?}");
    }
}

/// The system user the unit runs as, without a login shell.
#[test]
fn the_install_makes_a_system_user_without_a_login_shell() {
    let _processes = lock::processes();
    let seen = seen();
    let passwd = ok(&seen.passwd);
    let fields: Vec<&str> = passwd.trim().split(':').collect();
    let uid: u32 = fields[2].parse().unwrap();
    assert!(uid < 1000, "a system uid: {passwd}");
    assert_eq!(fields[6], "/usr/sbin/nologin", "{passwd}");
    ok(&seen.group);
}

/// The binaries run, also through the compatibility name and as the replayer user.
#[test]
fn the_daemon_runs_by_both_names_and_as_the_replayer_user() {
    let _processes = lock::processes();
    let seen = seen();
    let version = format!("replayer {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(ok(&seen.version), version);
    assert_eq!(seen.goreplay_link, Path::new("replayer"));
    assert_eq!(ok(&seen.goreplay_version), version);
    assert_eq!(ok(&seen.runuser_version), version);
}

/// `man replayer` shows the page; every program has one; the bash completion loads and
/// completes the daemon's flags.
#[test]
fn every_program_has_its_man_page_and_the_bash_completion_loads() {
    let _processes = lock::processes();
    let seen = seen();
    for (page, out) in &seen.man_w {
        assert_eq!(ok(out), format!("/usr/share/man/man1/{page}.1\n"));
    }
    let page = &seen.man_page;
    let page_text = String::from_utf8_lossy(&page.stdout);
    assert!(
        page.status.success() && page_text.contains("--input-raw") && page_text.contains("status"),
        "man replayer: {}",
        text(page)
    );
    let completion = ok(&seen.completion);
    assert!(completion.starts_with("complete "), "{completion}");
}

/// The installed daemon reads the installed config (the unit's ExecStart).
#[test]
fn the_installed_daemon_reads_the_installed_config() {
    let _processes = lock::processes();
    let config = ok(&seen().config);
    assert!(
        config.contains("input-raw = \"127.0.0.1:7999\""),
        "{config}"
    );
}

/// The plugins answer from their Debian place, in the Monitoring Plugins format.
#[test]
fn the_plugins_answer_from_their_debian_place() {
    let _processes = lock::processes();
    let seen = seen();
    let procs = &seen.procs;
    assert_eq!(procs.status.code(), Some(2), "{}", text(procs));
    assert_eq!(
        String::from_utf8_lossy(&procs.stdout),
        "PROCS CRITICAL: 0 processes with command name 'no-such-daemon' | procs=0;;1:;0;\n"
    );
    for (plugin, label, out) in &seen.socket_plugins {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{plugin}: {}", text(out));
        assert!(
            stdout.starts_with(label) && stdout.contains(&*seen.missing_socket.to_string_lossy()),
            "{plugin}: {}",
            text(out)
        );
    }
}

/// Every NRPE command names an installed, executable plugin.
#[test]
fn every_nrpe_command_names_an_installed_plugin() {
    let _processes = lock::processes();
    let seen = seen();
    assert_eq!(nrpe_commands(&seen.nrpe).len(), 5, "{}", seen.nrpe);
    for (program, out) in &seen.nrpe_programs {
        assert_eq!(out.status.code(), Some(3), "{program} -V: {}", text(out));
    }
}

/// The installed unit and its goreplay alias verify against the installed binary.
#[test]
fn the_installed_units_verify() {
    let _processes = lock::processes();
    for (unit, out) in &seen().units {
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "systemd-analyze verify {unit}: {}",
            text(out)
        );
    }
}

/// The Icinga 2 objects, installed on a config master as README.md says, load into a real
/// Icinga 2 and give a marked host its three services.
#[test]
fn the_installed_icinga_objects_give_a_marked_host_its_services() {
    let _processes = lock::processes();
    let log = assert_icinga2_ok(&seen().icinga);
    assert!(log.contains("Instantiated 3 Services."), "{log}");
}

/// Purge: everything goes, the conffiles included; the purge keeps the system user, and the
/// guard removes it when this test created it.
#[test]
fn purge_removes_everything_and_the_user_goes_with_the_guard() {
    let _processes = lock::processes();
    let seen = seen();
    assert!(
        seen.purge.status.success(),
        "dpkg --purge: {}",
        text(&seen.purge)
    );
    assert_eq!(seen.status_purged, None);
    assert!(
        seen.left_after_purge.is_empty(),
        "{:?} left after purge",
        seen.left_after_purge
    );
    assert!(seen.user_existed || seen.user_after_purge);
    assert_eq!(seen.user_after_guard, seen.user_existed);
}
