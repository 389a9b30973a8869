//! The fleet test's harness: network namespaces joined by a bridge, code and processes run
//! inside one, processes stopped by PID, and Icinga 2 nodes each with a file system view of
//! their own.
//!
//! - [`Fleet`] makes the namespaces: one (`rpl-fleet-net-PID`) holding only a bridge, and
//!   one per member (`rpl-fleet-NAME-PID`), each joined to the bridge by a veth pair whose
//!   member end is `eth0` with an address in 10.251.0.0/24. Nothing is added to the
//!   machine's own namespace, so the machine's network is never touched and parallel runs
//!   (their names carry the PID) never meet. Dropped, it stops whatever still runs in them
//!   (by PID, `ip netns pids`) and deletes them; namespaces a crashed earlier run left
//!   behind (their PID no longer alive) are cleaned the same way first.
//! - [`in_netns`] runs a closure on a thread that joined a namespace: its sockets, and every
//!   process it starts, live there.
//! - [`Proc`] is a child process stopped by its PID when dropped (SIGTERM, then SIGKILL).
//! - [`IcingaNode`] runs `icinga2` inside a member namespace *and* a mount namespace of its
//!   own in which the node's scratch root is bind-mounted over /etc/icinga2,
//!   /var/lib/icinga2, /var/log/icinga2, /var/cache/icinga2 and /var/spool/icinga2. So
//!   `icinga2 node setup`, `pki` and `daemon` run exactly as an operator runs them, with
//!   their default paths, and every write lands in the scratch root: the machine's own
//!   /etc/icinga2 and /var/lib/icinga2 are never written (the root starts as a copy of the
//!   package's /etc/icinga2).

use super::{require_tool, run_with_timeout};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The prefix of every namespace the fleet test makes.
const PREFIX: &str = "rpl-fleet-";

fn ip(args: &[&str]) -> Output {
    run_with_timeout(
        Command::new(require_tool("ip")).args(args),
        Duration::from_secs(20),
    )
}

fn ip_ok(args: &[&str]) {
    let out = ip(args);
    assert!(out.status.success(), "ip {}: {out:?}", args.join(" "));
}

/// Stops every process still in namespace `ns` (by PID) and deletes it.
fn remove_namespace(ns: &str) {
    let pids = ip(&["netns", "pids", ns]);
    for pid in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
        if let Ok(pid) = pid.parse::<i32>() {
            // SAFETY: kill(2) on a PID that `ip netns pids` reported in our namespace.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    let _ = ip(&["netns", "del", ns]);
}

/// The namespaces of one fleet: a bridge and its members.
pub struct Fleet {
    net: String,
    members: Vec<String>,
    pid: u32,
}

impl Fleet {
    /// The bridge's namespace, after cleaning up what crashed runs left.
    pub fn new() -> Fleet {
        Fleet::clean_stale();
        let pid = std::process::id();
        let net = format!("{PREFIX}net-{pid}");
        remove_namespace(&net);
        ip_ok(&["netns", "add", &net]);
        let fleet = Fleet {
            net,
            members: Vec::new(),
            pid,
        };
        ip_ok(&["-n", &fleet.net, "link", "set", "lo", "up"]);
        // No STP: a port forwards as soon as it is up.
        ip_ok(&[
            "-n",
            &fleet.net,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
        ]);
        ip_ok(&["-n", &fleet.net, "link", "set", "br0", "up"]);
        fleet
    }

    /// Namespaces of earlier runs whose process is gone (a crash, a SIGKILL): their
    /// processes stopped and the namespaces deleted.
    fn clean_stale() {
        let Ok(entries) = std::fs::read_dir("/run/netns") else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(PREFIX) else {
                continue;
            };
            let Some(pid) = rest.rsplit('-').next().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                remove_namespace(&name);
            }
        }
    }

    /// A member namespace `rpl-fleet-NAME-PID` on the bridge, its `eth0` at `address`
    /// (in 10.251.0.0/24); returns the namespace's name. `port` names the bridge's end.
    pub fn member(&mut self, name: &str, port: &str, address: &str) -> String {
        let ns = format!("{PREFIX}{name}-{}", self.pid);
        remove_namespace(&ns);
        ip_ok(&["netns", "add", &ns]);
        self.members.push(ns.clone());
        // Ask for no IPv6 on the new links: nothing but our IPv4 traffic on the wire.
        for knob in ["all", "default"] {
            let _ = run_with_timeout(
                Command::new(require_tool("ip")).args([
                    "netns",
                    "exec",
                    &ns,
                    "sysctl",
                    "-qw",
                    &format!("net.ipv6.conf.{knob}.disable_ipv6=1"),
                ]),
                Duration::from_secs(10),
            );
        }
        ip_ok(&[
            "-n", &self.net, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns",
            &ns,
        ]);
        ip_ok(&["-n", &self.net, "link", "set", port, "master", "br0", "up"]);
        ip_ok(&["-n", &ns, "link", "set", "lo", "up"]);
        ip_ok(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{address}/24"),
            "dev",
            "eth0",
        ]);
        ip_ok(&["-n", &ns, "link", "set", "eth0", "up"]);
        ns
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for ns in self.members.iter().rev() {
            remove_namespace(ns);
        }
        remove_namespace(&self.net);
    }
}

/// Runs `f` on a thread that joined network namespace `ns`: its sockets and every process
/// it starts are in that namespace.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: setns(2) with a namespace file we opened; it changes only this thread,
        // which is ours alone and ends with `f`.
        let rc = unsafe {
            libc::setns(
                std::os::unix::io::AsRawFd::as_raw_fd(&file),
                libc::CLONE_NEWNET,
            )
        };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// A child process stopped by its PID when dropped: SIGTERM, up to 10 s to exit, then
/// SIGKILL.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command) -> Proc {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name} ({cmd:?}): {e}"));
        Proc {
            child,
            name: name.to_string(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Panics naming the process when it has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early: {status}", self.name);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // SAFETY: kill(2) on the PID of a child we spawned and have not reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The directories an Icinga 2 node writes, bind-mounted from its scratch root.
const ICINGA_DIRS: [&str; 5] = [
    "etc/icinga2",
    "var/lib/icinga2",
    "var/log/icinga2",
    "var/cache/icinga2",
    "var/spool/icinga2",
];

/// One Icinga 2 node (master or agent): a member namespace and a scratch root whose
/// `etc/icinga2`, `var/lib/icinga2`, ... are what the node sees at /etc/icinga2, ....
pub struct IcingaNode {
    pub name: String,
    pub ns: String,
    pub root: PathBuf,
    pub daemon: Option<Proc>,
}

impl IcingaNode {
    /// A node whose /etc/icinga2 starts as a copy of the package's.
    pub fn new(name: &str, ns: &str, root: &Path) -> IcingaNode {
        for dir in ICINGA_DIRS {
            std::fs::create_dir_all(root.join(dir)).expect("icinga2 scratch dir");
        }
        std::fs::create_dir_all(root.join("run/icinga2")).expect("icinga2 run dir");
        let out = run_with_timeout(
            Command::new("cp")
                .arg("-a")
                .arg("/etc/icinga2/.")
                .arg(root.join("etc/icinga2")),
            Duration::from_secs(30),
        );
        assert!(out.status.success(), "copy /etc/icinga2: {out:?}");
        let node = IcingaNode {
            name: name.to_string(),
            ns: ns.to_string(),
            root: root.to_path_buf(),
            daemon: None,
        };
        node.own_by_nagios();
        node
    }

    /// As the package leaves them: Icinga's folders belong to nagios, which the daemon and
    /// the CLI drop to when started as root (and the plugins run as).
    pub fn own_by_nagios(&self) {
        let mut chown = Command::new("chown");
        chown.args(["-R", "nagios:nagios"]);
        for dir in ICINGA_DIRS {
            chown.arg(self.root.join(dir));
        }
        chown.arg(self.root.join("run/icinga2"));
        let out = run_with_timeout(&mut chown, Duration::from_secs(30));
        assert!(out.status.success(), "{}: chown: {out:?}", self.name);
    }

    /// `icinga2 ARGS` inside the node's namespaces, as Debian runs it (`ICINGA2_USER`
    /// nagios: the daemon drops to it, the CLI gives it what it writes): `ip netns
    /// exec` then `unshare -m` with the bind mounts, then `exec icinga2`, so the command's
    /// PID is icinga2's own.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut script = String::from("set -e\n");
        for dir in ICINGA_DIRS {
            script += &format!(
                "mount --bind '{}' '/{dir}'\n",
                self.root.join(dir).display()
            );
        }
        script += "exec \"$@\"\n";
        let mut cmd = Command::new(require_tool("ip"));
        cmd.args(["netns", "exec", &self.ns])
            .arg(require_tool("unshare"))
            .args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
            .arg(require_tool("icinga2"))
            .args(args)
            .env("ICINGA2_USER", "nagios")
            .env("ICINGA2_GROUP", "nagios")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `icinga2 ARGS` to completion (60 s at most); panics unless it succeeds.
    pub fn run(&self, args: &[&str]) -> String {
        let out = run_with_timeout(&mut self.command(args), Duration::from_secs(60));
        assert!(
            out.status.success(),
            "{}: icinga2 {}: {}\n{}",
            self.name,
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A file of the node's, by the path the node sees (`/etc/icinga2/zones.conf`).
    pub fn path(&self, seen_as: &str) -> PathBuf {
        self.root.join(seen_as.trim_start_matches('/'))
    }

    pub fn append(&self, seen_as: &str, text: &str) {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(self.path(seen_as))
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .unwrap_or_else(|e| panic!("{}: append to {seen_as}: {e}", self.name));
    }

    /// Starts `icinga2 daemon` (its configuration validated first), logging to
    /// /var/log/icinga2/icinga2.log (the mainlog feature) and to `console.log`.
    pub fn start(&mut self) {
        // What was written as root since (the module's files, the certificates' folder).
        self.own_by_nagios();
        self.run(&["daemon", "-C"]);
        let run_dir = format!("-DInitRunDir={}", self.root.join("run/icinga2").display());
        let console =
            std::fs::File::create(self.root.join("console.log")).expect("icinga2 console log");
        let mut cmd = self.command(&["daemon", &run_dir]);
        cmd.stdout(console.try_clone().unwrap()).stderr(console);
        self.daemon = Some(Proc::spawn(&format!("icinga2 {}", self.name), &mut cmd));
    }

    /// The node's main log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("/var/log/icinga2/icinga2.log")).unwrap_or_default()
    }
}
