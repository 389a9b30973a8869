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

use std::io;

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets in two 32-bit halves.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// The highest capability number the kernel might know, when /proc does not say.
const FALLBACK_LAST_CAP: u32 = 63;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

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
    // SAFETY: prctl with integer arguments only.
    check(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    })
    .or_else(|e| {
        // Kernels before 4.3 have no ambient set: nothing to clear.
        if e.raw_os_error() == Some(libc::EINVAL) {
            Ok(0)
        } else {
            Err(e)
        }
    })?;
    let header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData::default(); 2];
    // SAFETY: capset reads one header and two data structs of the layout the kernel expects
    // for version 3; both live for the call.
    check(unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) } as libc::c_int)?;
    // SAFETY: prctl with integer arguments only.
    check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })?;
    Ok(Dropped { bounding_set })
}

/// Empties the bounding set if this thread may (`CAP_SETPCAP`); false if it may not.
fn drop_bounding_set() -> io::Result<bool> {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(FALLBACK_LAST_CAP);
    for cap in 0..=last {
        // SAFETY: prctl with integer arguments only.
        match check(unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) }) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => return Ok(false),
            // A number this kernel does not know (the fallback guessed high): done.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}
