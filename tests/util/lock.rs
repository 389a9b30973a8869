//! Named locks for what the tests of the one test binary share and cannot each have their
//! own of. Most fixtures need none: ports come from [`super::free_port`] (or port 0),
//! directories from [`super::Scratch`], and nothing sets environment variables, changes
//! the current directory or installs signal handlers. What is left is the machine itself:
//!
//! - the process table: a test that counts processes it did not start (every name on the
//!   machine, every `replayer`, every `ps`) must run while no other test starts any. Tests
//!   that start processes take [`processes`] (shared); the counting ones [`processes_alone`].
//! - the machine's installed state (packages, the `replayer` user, `/usr/lib/systemd/system`):
//!   the package test installs and purges the package with `dpkg` ([`machine_alone`]); tests
//!   that read that state or copy the system's units take [`machine`] (shared).
//!
//! Take [`processes`] before [`machine`], and each at most once per test: the locks are not
//! reentrant, and a thread that takes one twice may wait on itself.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static PROCESSES: RwLock<()> = RwLock::new(());
static MACHINE: RwLock<()> = RwLock::new(());

/// Held (shared) by a test that starts processes.
pub type Shared = RwLockReadGuard<'static, ()>;
/// Held by a test that needs the resource to itself.
pub type Alone = RwLockWriteGuard<'static, ()>;

/// For a test that starts processes: other such tests run alongside.
pub fn processes() -> Shared {
    PROCESSES.read().unwrap_or_else(|e| e.into_inner())
}

/// For a test that counts processes it did not start: no other test runs meanwhile.
pub fn processes_alone() -> Alone {
    PROCESSES.write().unwrap_or_else(|e| e.into_inner())
}

/// For a test that reads what is installed on the machine (users, system units).
pub fn machine() -> Shared {
    MACHINE.read().unwrap_or_else(|e| e.into_inner())
}

/// For the test that installs and purges the Debian package.
pub fn machine_alone() -> Alone {
    MACHINE.write().unwrap_or_else(|e| e.into_inner())
}
