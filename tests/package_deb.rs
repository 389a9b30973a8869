//! The Debian package: `cargo deb` builds it from the binaries the test suite already built
//! (`--no-build`, the same profile as this test, so no second release build), its contents
//! and control files are checked, then it is installed for real with `dpkg -i` on this
//! machine, used (`dpkg -L`, the binaries run, the plugins answer, the unit verifies, the
//! installed config is read by the installed daemon) and purged with `dpkg --purge`.
//!
//! Installing on the machine itself is deliberate: a chroot would need debootstrap (minutes
//! and a mirror), and `dpkg --root` does not run maintainer scripts the way a real install
//! does. CI runs as root on a throwaway machine. A guard purges the package even when an
//! assertion fails, and the test refuses to touch a replayer package it did not install.
//! Left behind on purpose (as Debian packages do): the `replayer` system user.

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

fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(out.status.success(), "{cmd:?} failed: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
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
    ("-rw-r--r--", "./usr/share/man/man1/replayer.1"),
    ("-rw-r--r--", "./usr/share/man/man1/replayer-status.1"),
    ("-rw-r--r--", "./usr/share/man/man1/check_replayer_procs.1"),
    ("-rw-r--r--", "./usr/share/man/man1/check_replay_rate.1"),
    ("-rw-r--r--", "./usr/share/man/man1/check_replay_5xx.1"),
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

fn check_contents(deb: &Path) {
    let listing = run_ok(Command::new(require_tool("dpkg-deb")).arg("-c").arg(deb));
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

    let scratch = Scratch::new("deb-control");
    run_ok(
        Command::new(require_tool("dpkg-deb"))
            .arg("-e")
            .arg(deb)
            .arg(scratch.join("DEBIAN")),
    );
    let conffiles = std::fs::read_to_string(scratch.join("DEBIAN/conffiles")).unwrap();
    assert_eq!(
        conffiles.lines().collect::<Vec<_>>(),
        [
            "/etc/replayer/replayer.toml",
            "/etc/nagios/nrpe.d/replayer.cfg"
        ]
    );
    let control = std::fs::read_to_string(scratch.join("DEBIAN/control")).unwrap();
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
    let postinst = std::fs::read_to_string(scratch.join("DEBIAN/postinst")).unwrap();
    assert!(postinst.contains("adduser --system --group"), "{postinst}");
    // The unit is registered but neither enabled nor started by the package.
    assert!(postinst.contains("deb-systemd-helper update-state replayer.service"));
    assert!(!postinst.contains("deb-systemd-invoke start"), "{postinst}");
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

#[test]
fn the_package_builds_installs_runs_and_purges() {
    let _processes = lock::processes();
    assert!(is_root(), "dpkg -i needs root (CI runs as root)");
    require_tool("dpkg");
    let scratch = Scratch::new("deb");
    let deb = build_deb(scratch.path());
    check_contents(&deb);

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
    assert!(install.status.success(), "dpkg -i: {}", text(&install));
    assert_eq!(package_status().as_deref(), Some("install ok installed"));

    // dpkg -L names every file the package holds.
    let listed = run_ok(Command::new("dpkg").args(["-L", "replayer"]));
    let listed: Vec<&str> = listed.lines().collect();
    for (_, entry) in CONTENTS {
        let path = entry.trim_start_matches('.').split(" -> ").next().unwrap();
        assert!(listed.contains(&path), "dpkg -L lacks {path}: {listed:?}");
    }

    // The system user the unit runs as, without a login shell.
    let passwd = run_ok(Command::new("getent").args(["passwd", "replayer"]));
    let fields: Vec<&str> = passwd.trim().split(':').collect();
    let uid: u32 = fields[2].parse().unwrap();
    assert!(uid < 1000, "a system uid: {passwd}");
    assert_eq!(fields[6], "/usr/sbin/nologin", "{passwd}");
    run_ok(Command::new("getent").args(["group", "replayer"]));

    // The binaries run, also through the compatibility name and as the replayer user.
    let version = format!("replayer {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        run_ok(Command::new("/usr/bin/replayer").arg("--version")),
        version
    );
    assert_eq!(
        std::fs::read_link("/usr/bin/goreplay").unwrap(),
        Path::new("replayer")
    );
    assert_eq!(
        run_ok(Command::new("/usr/bin/goreplay").arg("--version")),
        version
    );
    assert_eq!(
        run_ok(Command::new(require_tool("runuser")).args([
            "-u",
            "replayer",
            "--",
            "/usr/bin/replayer",
            "--version"
        ])),
        version
    );

    // `man replayer` shows the page; every program has one.
    for page in [
        "replayer",
        "replayer-status",
        "check_replayer_procs",
        "check_replay_rate",
        "check_replay_5xx",
    ] {
        assert_eq!(
            run_ok(Command::new(require_tool("man")).args(["-w", page])),
            format!("/usr/share/man/man1/{page}.1\n")
        );
    }
    let page = run(Command::new(require_tool("man"))
        .args(["-P", "cat", "replayer"])
        .env("MANWIDTH", "100"));
    let page_text = String::from_utf8_lossy(&page.stdout);
    assert!(
        page.status.success() && page_text.contains("--input-raw") && page_text.contains("status"),
        "man replayer: {}",
        text(&page)
    );
    // The bash completion loads and completes the daemon's flags.
    let completion = run_ok(Command::new("bash").args([
        "-c",
        "source /usr/share/bash-completion/completions/replayer && complete -p replayer",
    ]));
    assert!(completion.starts_with("complete "), "{completion}");

    // The installed daemon reads the installed config (the unit's ExecStart).
    let config = run_ok(Command::new("/usr/bin/replayer").args([
        "--config",
        "/etc/replayer/replayer.toml",
        "--print-config",
    ]));
    assert!(
        config.contains("input-raw = \"127.0.0.1:7999\""),
        "{config}"
    );

    // The plugins answer from their Debian place, in the Monitoring Plugins format.
    let plugins = Path::new("/usr/lib/nagios/plugins");
    let procs =
        run(Command::new(plugins.join("check_replayer_procs")).args(["-C", "no-such-daemon"]));
    assert_eq!(procs.status.code(), Some(2), "{}", text(&procs));
    assert_eq!(
        String::from_utf8_lossy(&procs.stdout),
        "PROCS CRITICAL: 0 processes with command name 'no-such-daemon' | procs=0;;1:;0;\n"
    );
    let missing = scratch.join("no.sock");
    for (plugin, label) in [
        ("check_replay_rate", "REPLAY RATE CRITICAL: "),
        ("check_replay_5xx", "REPLAY 5XX CRITICAL: "),
    ] {
        let out = run(Command::new(plugins.join(plugin))
            .arg("--socket")
            .arg(&missing)
            .args(["--sync-flag", "/nonexistent"]));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{plugin}: {}", text(&out));
        assert!(
            stdout.starts_with(label) && stdout.contains(&*missing.to_string_lossy()),
            "{plugin}: {}",
            text(&out)
        );
    }

    // Every NRPE command names an installed, executable plugin.
    let nrpe = std::fs::read_to_string("/etc/nagios/nrpe.d/replayer.cfg").unwrap();
    let commands: Vec<&str> = nrpe
        .lines()
        .filter_map(|l| l.strip_prefix("command["))
        .map(|l| l.split_once("]=").unwrap().1)
        .collect();
    assert_eq!(commands.len(), 4, "{nrpe}");
    for command in commands {
        let program = command.split_whitespace().next().unwrap();
        let out = run(Command::new(program).arg("-V"));
        assert_eq!(out.status.code(), Some(3), "{program} -V: {}", text(&out));
    }

    // The installed unit and its goreplay alias verify against the installed binary.
    for unit in ["replayer.service", "goreplay.service"] {
        let out = run(Command::new(require_tool("systemd-analyze"))
            .arg("verify")
            .arg(format!("/usr/lib/systemd/system/{unit}")));
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "systemd-analyze verify {unit}: {}",
            text(&out)
        );
    }

    // The Icinga 2 objects, installed on a config master as README.md says, load into a
    // real Icinga 2 and give a marked host its three services.
    let icinga = scratch.join("icinga2");
    let objects = icinga.join("conf/replayer");
    std::fs::create_dir_all(&objects).unwrap();
    let examples = Path::new("/usr/share/doc/replayer/examples/icinga2");
    for file in ICINGA_LIBRARY_FILES {
        std::fs::copy(examples.join(file), objects.join(file)).unwrap();
    }
    let main_conf = icinga.join("conf/icinga2.conf");
    std::fs::write(
        &main_conf,
        "const PluginDir = \"/usr/lib/nagios/plugins\"\n\
         const NodeName = \"cache-1\"\n\
         include <itl>\ninclude <plugins>\ninclude \"replayer/*.conf\"\n\
         object Host \"cache-1\" {\n  check_command = \"hostalive\"\n  \
         address = \"127.0.0.1\"\n  vars.replayer = true\n}\n",
    )
    .unwrap();
    let log = assert_icinga2_ok(&icinga2_validate(&icinga, &main_conf));
    assert!(log.contains("Instantiated 3 Services."), "{log}");

    // Purge: everything goes, the conffiles included.
    let purge = run(Command::new("dpkg").args(["--purge", "replayer"]));
    assert!(purge.status.success(), "dpkg --purge: {}", text(&purge));
    assert_eq!(package_status(), None);
    for path in [
        "/usr/bin/replayer",
        "/usr/bin/goreplay",
        "/usr/lib/nagios/plugins/check_replay_rate",
        "/usr/lib/systemd/system/replayer.service",
        "/etc/replayer/replayer.toml",
        "/etc/nagios/nrpe.d/replayer.cfg",
    ] {
        assert!(
            std::fs::symlink_metadata(path).is_err(),
            "{path} left after purge"
        );
    }
    // The purge keeps the system user; the guard removes it when this test created it.
    assert!(installed.user_existed || exists("passwd", "replayer"));
    let user_existed = installed.user_existed;
    drop(installed);
    assert_eq!(exists("passwd", "replayer"), user_existed);
}
