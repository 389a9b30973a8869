//! Icinga 2 as the tests run it: the shipped object files, and `icinga2` commands whose every
//! write lands in a scratch directory, run as the current user (used by the icinga_*,
//! puppet_module and package_deb tests).

use super::{require_tool, run_with_timeout, workspace_root};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// The shipped Icinga 2 object files, one per kind of object (`icinga/icinga2/`).
pub fn icinga_conf_dir() -> PathBuf {
    workspace_root().join("icinga/icinga2")
}

/// The library part of the shipped configuration in load order: everything but the example
/// host (which needs the ITL's `hostalive`).
pub const ICINGA_LIBRARY_FILES: [&str; 5] = [
    "constants.conf",
    "commands.conf",
    "templates.conf",
    "services.conf",
    "downtimes.conf",
];

/// An `icinga2` command whose every write (cache, state, logs, spool, pid file) lands in
/// `dir`, running as the current user: `-DCacheDir=...` and friends plus `ICINGA2_USER` /
/// `ICINGA2_GROUP`, so that validating or running Icinga 2 needs neither root nor its system
/// directories (docs/design.md, "Icinga, NRPE, Puppet"). Creates the directories.
pub fn icinga2_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(require_tool("icinga2"));
    cmd.args(args);
    for (define, sub) in [
        ("CacheDir", "cache"),
        ("DataDir", "data"),
        ("LogDir", "log"),
        ("SpoolDir", "spool"),
        ("InitRunDir", "run"),
    ] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path).expect("create icinga2 scratch dir");
        cmd.arg(format!("-D{define}={}", path.display()));
    }
    let (user, group) = current_user_and_group();
    cmd.env("ICINGA2_USER", user).env("ICINGA2_GROUP", group);
    cmd
}

/// `icinga2 daemon -C -c main_conf` (validation only, about 0.1 s), scratch state in `dir`.
pub fn icinga2_validate(dir: &Path, main_conf: &Path) -> Output {
    let conf = main_conf.to_str().expect("utf-8 path");
    run_with_timeout(
        &mut icinga2_command(dir, &["daemon", "-C", "-c", conf]),
        Duration::from_secs(60),
    )
}

/// Asserts an `icinga2` run succeeded and logged no error, returning its stdout.
pub fn assert_icinga2_ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stdout.contains("critical/"),
        "icinga2 failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

/// Names of the effective user and group, for `ICINGA2_USER` / `ICINGA2_GROUP`.
pub fn current_user_and_group() -> (String, String) {
    // SAFETY: getpwuid/getgrgid return NULL or a pointer to static storage that stays valid
    // until the next call; we copy the names out at once and the tests never call them
    // concurrently with anything that would overwrite it in between.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        let gr = libc::getgrgid(libc::getegid());
        assert!(
            !pw.is_null() && !gr.is_null(),
            "no passwd/group entry for this user"
        );
        let user = std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned();
        let group = std::ffi::CStr::from_ptr((*gr).gr_name)
            .to_string_lossy()
            .into_owned();
        (user, group)
    }
}
