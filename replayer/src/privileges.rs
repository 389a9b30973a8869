//! `privileges`: after the capture and the status socket are open, the daemon gives up every
//! Linux capability for good.
//!
//! Capturing needs `CAP_NET_RAW` (and `CAP_NET_ADMIN` for a large kernel buffer or
//! promiscuous mode), chgrp of the status socket may need `CAP_CHOWN`; all of that happens at
//! start. Nothing after it does: reading the capture ring, replaying to staging, answering on
//! the socket, reading the sync flag and removing the socket at exit need no capability. So
//! the daemon keeps none: effective, permitted, inheritable and ambient sets are emptied, the
//! bounding set too when it may (`CAP_SETPCAP`, i.e. when started as root), and
//! `no_new_privs` is set so no exec can ever bring one back.
//!
//! Capabilities are per thread on Linux, so [`drop_all`] must run while the process has one
//! thread: before the async runtime and the capture thread start. Threads created later
//! inherit the empty sets.
//!
//! The sets are changed with the `caps` crate (capget/capset and the prctl calls behind it),
//! `no_new_privs` with `nix`'s prctl wrapper; no hand-written kernel structs here.

use caps::{CapSet, Capability};
use std::io;

/// What [`drop_all`] did, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    /// The bounding set was emptied too (false without `CAP_SETPCAP`: it stays as the
    /// service manager set it, harmless with empty permitted sets and `no_new_privs`).
    pub bounding_set: bool,
}

/// Gives up every capability of the calling thread (the only one, see the module doc) and
/// sets `no_new_privs`.
pub fn drop_all() -> io::Result<Dropped> {
    let bounding_set = drop_bounding_set()?;
    // Kernels before 4.3 have no ambient set: nothing to clear.
    if caps::runtime::ambient_set_supported().is_ok() {
        caps::clear(None, CapSet::Ambient).map_err(caps_err)?;
    }
    // Effective first: the kernel refuses a permitted set that no longer covers it.
    for set in [CapSet::Effective, CapSet::Permitted, CapSet::Inheritable] {
        caps::clear(None, set).map_err(caps_err)?;
    }
    nix::sys::prctl::set_no_new_privs().map_err(io::Error::from)?;
    Ok(Dropped { bounding_set })
}

/// Empties the bounding set if this thread may (`CAP_SETPCAP` in its effective set); false if
/// it may not. Only capabilities both the kernel and the `caps` crate know are dropped; one
/// newer than the crate would stay in the bounding set, out of reach all the same (empty
/// permitted set, `no_new_privs`).
fn drop_bounding_set() -> io::Result<bool> {
    if !caps::has_cap(None, CapSet::Effective, Capability::CAP_SETPCAP).map_err(caps_err)? {
        return Ok(false);
    }
    caps::clear(None, CapSet::Bounding).map_err(caps_err)?;
    Ok(true)
}

/// A `caps` error (a message with the OS error in it) as an `io::Error`.
fn caps_err(e: caps::errors::CapsError) -> io::Error {
    io::Error::other(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Capabilities and `no_new_privs` are per thread, so a thread of its own keeps the test
    /// runner's other threads as they were.
    #[test]
    fn drop_all_leaves_every_set_empty_and_no_new_privs_set() {
        // Read on this thread, which keeps what the runner started with.
        let may_drop_bounding_set =
            caps::has_cap(None, CapSet::Effective, Capability::CAP_SETPCAP).unwrap();
        let dropped = std::thread::spawn(|| {
            let dropped = drop_all().expect("drop_all");
            for set in [CapSet::Effective, CapSet::Permitted, CapSet::Inheritable] {
                assert!(caps::read(None, set).unwrap().is_empty(), "{set:?}");
            }
            if caps::runtime::ambient_set_supported().is_ok() {
                assert!(caps::read(None, CapSet::Ambient).unwrap().is_empty());
            }
            if dropped.bounding_set {
                assert!(caps::read(None, CapSet::Bounding).unwrap().is_empty());
            }
            assert!(nix::sys::prctl::get_no_new_privs().unwrap());
            // Nothing left to drop: a second call succeeds and cannot touch the bounding set.
            assert!(!drop_all().unwrap().bounding_set);
            dropped
        })
        .join()
        .unwrap();
        // As root (CAP_SETPCAP) the bounding set goes too; without it, it stays.
        assert_eq!(dropped.bounding_set, may_drop_bounding_set);
    }
}
