//! Icinga 2 as the tests run it: the shipped object files, and `icinga2` commands whose every
//! write lands in a scratch directory, run as the current user (used by the icinga_*,
//! puppet_module and package_deb tests).

use super::{require_tool, run_with_timeout, workspace_root};
use std::collections::BTreeMap;
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

/// Icinga 2's REST API as the tests read it: curl with basic auth against `base`
/// (`https://ADDRESS:PORT`), run inside the network namespace `netns` when set (the fleet
/// test's master lives in one). Shared by `icinga_live` (one Icinga on 127.0.0.1) and `fleet`
/// (a master with agents).
pub struct IcingaApi {
    pub base: String,
    pub user: String,
    pub password: String,
    pub netns: Option<String>,
}

impl IcingaApi {
    /// Waits until the API answers (30 s at most); `log` is the node's log, for the panic.
    pub fn wait_until_up(&self, log: impl Fn() -> String) {
        let start = std::time::Instant::now();
        while self
            .call("GET", "/v1/status/IcingaApplication", None)
            .is_none()
        {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the Icinga 2 API at {} did not come up; log:\n{}",
                self.base,
                log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One API call; `None` while the API does not answer 200.
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> Option<serde_json::Value> {
        self.curl(method, path, body, &[])
    }

    /// A query (`/v1/objects/...`) whose filter and attributes are in a JSON body: a POST
    /// that says it is a GET (`X-HTTP-Method-Override`), since a plain POST there modifies.
    pub fn query(&self, path: &str, body: &serde_json::Value) -> Option<serde_json::Value> {
        self.curl(
            "POST",
            path,
            Some(&body.to_string()),
            &["X-HTTP-Method-Override: GET"],
        )
    }

    fn curl(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[&str],
    ) -> Option<serde_json::Value> {
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut cmd = Command::new(require_tool("ip"));
                cmd.args(["netns", "exec", ns]).arg(require_tool("curl"));
                cmd
            }
            None => Command::new(require_tool("curl")),
        };
        cmd.args(["-sS", "-k", "-f", "--max-time", "20", "-X", method, "-u"])
            .arg(format!("{}:{}", self.user, self.password))
            .args(["-H", "Accept: application/json"]);
        for header in headers {
            cmd.args(["-H", header]);
        }
        cmd.arg(format!("{}{path}", self.base));
        if let Some(body) = body {
            cmd.args(["-d", body]);
        }
        let out = run_with_timeout(&mut cmd, Duration::from_secs(30));
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// The `last_check_result` (null before the first) of every service `filter` (an Icinga
    /// filter expression, "true" for all) selects, by "host!service".
    pub fn last_results(&self, filter: &str) -> BTreeMap<String, serde_json::Value> {
        let list = self
            .query(
                "/v1/objects/services",
                &serde_json::json!({ "attrs": ["last_check_result"], "filter": filter }),
            )
            .expect("list services");
        list["results"]
            .as_array()
            .expect("a results array")
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_string(),
                    s["attrs"]["last_check_result"].clone(),
                )
            })
            .collect()
    }

    /// Runs the checks of the `services` services `filter` selects now (`reschedule-check`,
    /// forced) and returns, per "host!service", a result newer than the one each had before
    /// this call; panics after `limit` with what it has.
    pub fn check_now(
        &self,
        filter: &str,
        services: usize,
        limit: Duration,
    ) -> BTreeMap<String, serde_json::Value> {
        let started =
            |result: &serde_json::Value| result["execution_start"].as_f64().unwrap_or(0.0);
        let before: BTreeMap<String, f64> = self
            .last_results(filter)
            .iter()
            .map(|(name, result)| (name.clone(), started(result)))
            .collect();
        assert_eq!(before.len(), services, "{before:?}");
        let answer = self
            .call(
                "POST",
                "/v1/actions/reschedule-check",
                Some(
                    &serde_json::json!({ "type": "Service", "filter": filter, "force": true })
                        .to_string(),
                ),
            )
            .expect("reschedule-check");
        assert_eq!(
            answer["results"].as_array().unwrap().len(),
            services,
            "{answer}"
        );
        let start = std::time::Instant::now();
        loop {
            let results = self.last_results(filter);
            let fresh = results
                .iter()
                .filter(|(name, result)| started(result) > before[*name])
                .count();
            if fresh == services {
                return results;
            }
            assert!(
                start.elapsed() < limit,
                "only {fresh} of {services} new results after {limit:?}: {results:#?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
