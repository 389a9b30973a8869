//! Counting processes the way `check_procs` (monitoring-plugins 2.3) counts them, read from
//! `/proc` instead of forking `ps`.
//!
//! `check_procs` runs `ps axwwo 'stat uid pid ppid vsz rss pcpu etime comm args'` and parses
//! each line with `sscanf`, so its idea of a process's name and arguments has quirks a
//! drop-in must share:
//! - the name is the kernel's `comm` (at most 15 bytes), cut at the first space (`%s`), then
//!   passed through gnulib's `base_name`, so `kworker/u8:1` is named `u8:1`;
//! - the arguments are whatever follows on the line: `ps` pads `comm` to 15 columns, so for a
//!   name with a space the rest of the name comes first; an empty command line is shown as
//!   `[comm]`, a zombie gets ` <defunct>`; trailing blanks are stripped;
//! - `ps` runs in the C locale and prints control characters as `.`, bytes above 0x7f as
//!   `?`, and NULs and newlines between arguments as spaces;
//! - the user is the effective UID.
//!
//! Like `check_procs` it never counts itself nor any other process running the same
//! executable, nor its parent (the shell, NRPE or Icinga that started it). And like
//! `check_procs` it counts the `ps` that `check_procs` would have started, when the filters
//! match that `ps` (`-C ps`, `-a axwwo`, ...): see `check_procs_own_ps`.

use nix::unistd::{geteuid, Uid, User};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What to count. `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Exact process name (`-C`), compared with the name as `check_procs` sees it.
    pub command: Option<String>,
    /// Substring of the arguments (`-a`).
    pub args: Option<String>,
    /// Effective UID (`-u`).
    pub uid: Option<u32>,
}

/// One process as `check_procs` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Its process ID; 0 for the `ps` that `check_procs` would have started (see
    /// `check_procs_own_ps`).
    pub pid: u32,
    /// Its parent's process ID.
    pub ppid: u32,
    /// The `stat` state letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// The name `-C` compares with.
    pub prog: String,
    /// The arguments `-a` searches, read only when needed.
    pub args: Option<String>,
    /// Its effective UID, read only when `-u` filters on it (always set for the `ps` entry).
    pub uid: Option<u32>,
}

/// Why a matching process was not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Excluded {
    /// The plugin's own process.
    Myself,
    /// Another process running the plugin's executable (same device and inode): a
    /// concurrent run of the same check.
    SameExecutable,
    /// The plugin's parent: the shell, NRPE or Icinga that started it, whose arguments
    /// often contain the very name being counted.
    Parent,
}

impl Excluded {
    /// The reason in words, for `-vvv`'s "not counted" lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Excluded::Myself => "this plugin",
            Excluded::SameExecutable => "runs this plugin's executable",
            Excluded::Parent => "this plugin's parent",
        }
    }
}

/// The result of a scan.
#[derive(Debug, Default)]
pub struct Scan {
    /// The processes counted, by PID, then the `ps` that `check_procs` would count, if any.
    pub matched: Vec<Process>,
    /// Processes that match the filter but are never counted, with why, in `/proc` order.
    pub excluded: Vec<(Process, Excluded)>,
}

/// Reads `/proc` and returns the processes that match `filter`. `want_args` reads every
/// matching process's arguments even when no `-a` filter needs them (for `-vv`).
pub fn scan(filter: &Filter, want_args: bool) -> std::io::Result<Scan> {
    scan_root(Path::new("/proc"), filter, want_args)
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot list processes in /proc: {e}")))
}

fn scan_root(root: &Path, filter: &Filter, want_args: bool) -> std::io::Result<Scan> {
    let me = std::process::id();
    let parent = std::os::unix::process::parent_id();
    let my_exe = std::fs::metadata(root.join("self/exe"))
        .ok()
        .map(|m| (m.dev(), m.ino()));
    let mut result = Scan::default();
    let (mut comm_buf, mut stat_buf) = ([0u8; 64], [0u8; 1024]);
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = entry.path();
        // The name first, from `comm`, which is far cheaper for the kernel to produce than
        // `stat`: most processes are ruled out by it. A process may exit while we look at
        // it: it is then simply not there.
        let Some(comm) = read_small(&dir.join("comm"), &mut comm_buf) else {
            continue;
        };
        let comm = comm.strip_suffix(b"\n").unwrap_or(comm);
        if let Some(want) = &filter.command {
            if !name_may_match(comm, want) {
                continue;
            }
        }
        let (name, args_head) = ps_name_and_head(comm);
        if filter.command.as_ref().is_some_and(|c| *c != name) {
            continue;
        }
        let Some(stat) = read_stat(&dir, &mut stat_buf) else {
            continue;
        };
        let uid = match filter.uid {
            Some(want) => {
                let Some(uid) = read_euid(&dir) else { continue };
                if uid != want {
                    continue;
                }
                Some(uid)
            }
            None => None,
        };
        let args = if filter.args.is_some() || want_args {
            let Ok(cmdline) = std::fs::read(dir.join("cmdline")) else {
                continue;
            };
            Some(check_procs_args(
                &args_head,
                &ps_args(&cmdline, comm, stat.state),
            ))
        } else {
            None
        };
        if let (Some(want), Some(args)) = (&filter.args, &args) {
            if !args.contains(want.as_str()) {
                continue;
            }
        }
        let process = Process {
            pid,
            ppid: stat.ppid,
            state: stat.state,
            prog: name,
            args,
            uid,
        };
        // Exclusions are checked only for matching processes: same answer, fewer syscalls.
        let excluded = if pid == me {
            Some(Excluded::Myself)
        } else if pid == parent {
            Some(Excluded::Parent)
        } else if my_exe.is_some()
            && std::fs::metadata(dir.join("exe"))
                .ok()
                .map(|m| (m.dev(), m.ino()))
                == my_exe
        {
            Some(Excluded::SameExecutable)
        } else {
            None
        };
        match excluded {
            Some(why) => result.excluded.push((process, why)),
            None => result.matched.push(process),
        }
    }
    result.matched.sort_by_key(|p| p.pid);
    if let Some(ps) = check_procs_own_ps(filter) {
        result.matched.push(ps);
    }
    Ok(result)
}

/// What `check_procs` runs to list processes, as it then sees it among them.
const PS_ARGS: &str = "/bin/ps axwwo stat uid pid ppid vsz rss pcpu etime comm args";

/// `check_procs` counts the `ps` it starts itself whenever the filters match it (its
/// exclusions cover only itself and its parent), so `check_procs -C ps` always finds one
/// more than is running. A drop-in must count that `ps` too; it is listed with pid 0.
fn check_procs_own_ps(filter: &Filter) -> Option<Process> {
    let euid = geteuid().as_raw();
    let matches = filter.command.as_deref().is_none_or(|c| c == "ps")
        && filter.args.as_deref().is_none_or(|a| PS_ARGS.contains(a))
        && filter.uid.is_none_or(|u| u == euid);
    matches.then(|| Process {
        pid: 0,
        ppid: std::process::id(),
        state: 'R',
        prog: "ps".to_string(),
        args: Some(PS_ARGS.to_string()),
        uid: Some(euid),
    })
}

struct Stat {
    state: char,
    ppid: u32,
}

/// Reads a small `/proc` file into `buf`: one open, one read, one close. No `statx` for a
/// size hint as `fs::read` does (/proc sizes are 0 anyway), and no second read to see the
/// end: the kernel hands out a file this small whole, so a read that leaves room in the
/// buffer has it all. The scan is a few syscalls per process, so this halves its cost.
fn read_small<'a>(path: &Path, buf: &'a mut [u8]) -> Option<&'a [u8]> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) if len + n < buf.len() => return Some(&buf[..len + n]),
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(&buf[..len])
}

/// A cheap test that rules out most names without building `check_procs`' view of them: a
/// plain name (printable ASCII, no space or slash) is its own view.
fn name_may_match(comm: &[u8], want: &str) -> bool {
    let shown = &comm[..comm.len().min(COMM_COLUMN)];
    let plain = shown
        .iter()
        .all(|&b| (0x21..0x7f).contains(&b) && b != b'/');
    !plain || shown == want.as_bytes()
}

/// The width of `ps`'s `comm` column.
const COMM_COLUMN: usize = 15;

/// `/proc/PID/stat`: `pid (comm) state ppid ...`; comm may hold spaces and parentheses, so
/// it runs to the *last* `)`.
fn read_stat(dir: &Path, buf: &mut [u8]) -> Option<Stat> {
    let raw = read_small(&dir.join("stat"), buf)?;
    let close = raw.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(raw.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some(Stat { state, ppid })
}

/// The effective UID from `/proc/PID/status` (`Uid: real effective saved fs`).
fn read_euid(dir: &Path) -> Option<u32> {
    let status = std::fs::read_to_string(dir.join("status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_ascii_whitespace().nth(2)?.parse().ok()
}

/// How `ps` prints a string in the C locale, which `check_procs` always runs it in
/// (`LC_ALL=C`, whatever the plugin's own environment): control characters as `.`, bytes
/// above 0x7f as `?`.
fn ps_escape(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0x20..=0x7e => b as char,
            0x00..=0x1f | 0x7f => '.',
            _ => '?',
        })
        .collect()
}

/// `ps`'s `args` column: the command line with NULs and newlines as spaces, `[comm]` when it is empty,
/// ` <defunct>` after a zombie's.
fn ps_args(cmdline: &[u8], comm: &[u8], state: char) -> String {
    // procps drops trailing NULs, then turns NULs and newlines into spaces.
    let end = cmdline.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let trimmed = &cmdline[..end];
    let mut args = if trimmed.is_empty() {
        format!("[{}]", ps_escape(comm))
    } else {
        let spaced: Vec<u8> = trimmed
            .iter()
            .map(|&b| if b == 0 || b == b'\n' { b' ' } else { b })
            .collect();
        ps_escape(&spaced)
    };
    if state == 'Z' {
        args.push_str(" <defunct>");
    }
    args
}

/// Splits `ps`'s `comm` column the way `check_procs`' `sscanf("%s %n")` does: the name is the
/// first blank-delimited word (then `base_name`), and whatever of the column is left after
/// the blanks starts the arguments (non-empty only for names with a space).
fn ps_name_and_head(comm: &[u8]) -> (String, String) {
    // ps cuts the column to 15 characters (kernel threads have longer names in
    // /proc/PID/comm), pads it to 15 and adds one separating space.
    let escaped: String = ps_escape(comm).chars().take(COMM_COLUMN).collect();
    let column = format!("{escaped:<15} ");
    let line = column.trim_start_matches(is_c_space);
    let word_end = line.find(is_c_space).unwrap_or(line.len());
    let name = base_name(&line[..word_end]).to_string();
    let head = line[word_end..].trim_start_matches(is_c_space).to_string();
    (name, head)
}

/// The `-a` subject: the rest of the `comm` column, then `args`, trailing blanks stripped.
fn check_procs_args(head: &str, args: &str) -> String {
    let joined = format!("{head}{args}");
    // sscanf's final " " also swallows blanks that start `args`.
    let joined = if head.is_empty() {
        joined.trim_start_matches(is_c_space).to_string()
    } else {
        joined
    };
    joined.trim_end_matches([' ', '\t', '\r', '\n']).to_string()
}

fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// gnulib's `base_name`: the last component, keeping one trailing slash (`a/b` → `b`,
/// `a/` → `a/`, `/` → `/`).
fn base_name(name: &str) -> &str {
    let b = name.as_bytes();
    let mut base = b.iter().take_while(|&&c| c == b'/').count();
    let mut saw_slash = false;
    for (i, &c) in b.iter().enumerate().skip(base) {
        if c == b'/' {
            saw_slash = true;
        } else if saw_slash {
            base = i;
            saw_slash = false;
        }
    }
    if base == b.len() {
        // Only slashes: one of them.
        return if name.is_empty() { "" } else { &name[..1] };
    }
    let rest = &name[base..];
    let core = rest.trim_end_matches('/').len();
    let keep = if core < rest.len() { core + 1 } else { core };
    &rest[..keep]
}

/// Looks up `-u`: a user name or a numeric UID that must exist, as `check_procs` requires.
/// Returns the UID and the account name. Goes through NSS (`getpwnam_r`/`getpwuid_r`, via
/// `nix`) like `check_procs`, so LDAP or sssd accounts resolve too. A failed lookup (no such
/// entry, an NSS error, a name with a NUL) is "not found", as it is for `check_procs`.
pub fn resolve_user(user: &str) -> Result<(u32, String), String> {
    let numeric = !user.is_empty() && user.bytes().all(|b| b.is_ascii_digit());
    let found = if numeric {
        user.parse()
            .ok()
            .and_then(|uid| User::from_uid(Uid::from_raw(uid)).ok().flatten())
    } else {
        User::from_name(user).ok().flatten()
    };
    match found {
        Some(u) => Ok((u.uid.as_raw(), u.name)),
        None if numeric => Err(format!("UID was not found: {user}")),
        None => Err(format!("user name was not found: {user}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_name_like_gnulib() {
        for (input, base) in [
            ("sleep", "sleep"),
            ("/usr/bin/sleep", "sleep"),
            ("kworker/R-rcu_g", "R-rcu_g"),
            ("kworker/u8:1", "u8:1"),
            ("a/", "a/"),
            ("a//", "a/"),
            ("/", "/"),
            ("//", "/"),
            ("", ""),
            ("x/y/", "y/"),
        ] {
            assert_eq!(base_name(input), base, "{input}");
        }
    }

    #[test]
    fn names_and_args_as_check_procs_parses_ps() {
        assert_eq!(ps_name_and_head(b"sleep"), ("sleep".into(), "".into()));
        assert_eq!(
            ps_name_and_head(b"tmux: server"),
            ("tmux:".into(), "server    ".into())
        );
        assert_eq!(
            ps_name_and_head(b"kworker/0:1H"),
            ("0:1H".into(), "".into())
        );
        assert_eq!(ps_name_and_head(b"a\tb\xe9"), ("a.b?".into(), "".into()));
        assert_eq!(
            ps_name_and_head(b"exactly15charsx"),
            ("exactly15charsx".into(), "".into())
        );
        assert_eq!(ps_args(b"sleep\x00100\x00", b"sleep", 'S'), "sleep 100");
        assert_eq!(ps_args(b"", b"kthreadd", 'S'), "[kthreadd]");
        assert_eq!(ps_args(b"", b"sleep", 'Z'), "[sleep] <defunct>");
        assert_eq!(ps_args(b"a\nb\x00\xc3\xa9\x00\x00", b"a", 'S'), "a b ??");
        assert_eq!(ps_args(b"\xff\x01x\x7f", b"a", 'S'), "?.x.");
        assert_eq!(ps_args(b"a\tb", b"a", 'S'), "a.b");
        assert_eq!(
            check_procs_args("", "nginx: master process  "),
            "nginx: master process"
        );
        assert_eq!(check_procs_args("server    ", "tmux"), "server    tmux");
    }

    #[test]
    fn long_kernel_thread_names_are_cut_to_the_column() {
        assert_eq!(
            ps_name_and_head(b"pool_workqueue_release"),
            ("pool_workqueue_".into(), "".into())
        );
        assert_eq!(
            ps_name_and_head(b"kworker/R-rcu_gp"),
            ("R-rcu_g".into(), "".into())
        );
        assert!(name_may_match(b"pool_workqueue_release", "pool_workqueue_"));
        assert!(!name_may_match(
            b"pool_workqueue_release",
            "pool_workqueue_release"
        ));
        assert!(!name_may_match(b"sleep", "sleepy"));
        // Not plain: decided by the full emulation.
        assert!(name_may_match(b"kworker/0:1", "anything"));
        // The brackets keep the whole name.
        assert_eq!(
            ps_args(b"", b"pool_workqueue_release", 'I'),
            "[pool_workqueue_release]"
        );
    }

    #[test]
    fn counts_the_ps_check_procs_would_start() {
        let only = |command: Option<&str>, args: Option<&str>, uid: Option<u32>| {
            check_procs_own_ps(&Filter {
                command: command.map(String::from),
                args: args.map(String::from),
                uid,
            })
            .is_some()
        };
        let me = geteuid().as_raw();
        assert!(only(Some("ps"), None, None));
        assert!(only(Some("ps"), Some("axwwo stat"), Some(me)));
        assert!(only(None, Some("/bin/ps"), None));
        assert!(!only(Some("replayer"), None, None));
        assert!(!only(Some("ps"), Some("replayer"), None));
        assert!(!only(Some("ps"), None, Some(me + 1)));
    }

    #[test]
    fn finds_itself_only_as_excluded() {
        let exe = std::env::current_exe().unwrap();
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        let filter = Filter {
            command: Some(comm.trim().to_string()),
            ..Filter::default()
        };
        let scan = scan(&filter, true).unwrap();
        let me = std::process::id();
        assert!(scan.matched.iter().all(|p| p.pid != me), "{exe:?}");
        assert!(scan
            .excluded
            .iter()
            .any(|(p, why)| p.pid == me && *why == Excluded::Myself));
    }

    #[test]
    fn users() {
        assert_eq!(resolve_user("root"), Ok((0, "root".into())));
        assert_eq!(resolve_user("0"), Ok((0, "root".into())));
        assert_eq!(
            resolve_user("no-such-user-here"),
            Err("user name was not found: no-such-user-here".into())
        );
        assert_eq!(
            resolve_user("4000000"),
            Err("UID was not found: 4000000".into())
        );
    }
}
