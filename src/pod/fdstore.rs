//! The container descriptors that must outlive a monitor: each container's
//! log pipe read ends, its pty master and its stdin write end. Under a
//! service manager they go to its file-descriptor store at create (and
//! leave it at delete), so a monitor that crashed or was restarted gets
//! them back in `LISTEN_FDS`; a live upgrade hands the same names over
//! itself. Either way a new monitor finds them by name: `ID.stdout`,
//! `ID.stderr`, `ID.stdin`, `ID.pty`.

use std::os::fd::{BorrowedFd, OwnedFd};

use super::Pod;
use crate::logs::cri::Stream;
use crate::sys::listen_fds::ListenFds;
use crate::sys::sdnotify::{Delivery, FdName, OnHangup};

/// Which of a container's descriptors a name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A log pipe's read end.
    Output(Stream),
    /// The stdin pipe's write end.
    Stdin,
    /// The pty master of a terminal container.
    Pty,
}

impl Role {
    /// Every role, in the order names are handed over.
    pub const ALL: [Role; 4] = [
        Role::Output(Stream::Stdout),
        Role::Output(Stream::Stderr),
        Role::Stdin,
        Role::Pty,
    ];

    fn suffix(self) -> &'static str {
        match self {
            Role::Output(Stream::Stdout) => "stdout",
            Role::Output(Stream::Stderr) => "stderr",
            Role::Stdin => "stdin",
            Role::Pty => "pty",
        }
    }
}

/// The name of container `id`'s descriptor in `role`. Ids are at most 64
/// characters of `[A-Za-z0-9_.-]`, so every name is one systemd accepts.
pub fn name(id: &str, role: Role) -> String {
    format!("{id}.{}", role.suffix())
}

/// Hands a new container's descriptors to the service manager's store, if
/// one listens. A failure is logged: the container runs on, only a crash
/// of this monitor would then cut its log.
pub(super) fn keep(pod: &Pod, id: &str, fds: &[(Role, BorrowedFd<'_>)]) {
    for (role, fd) in fds {
        let Ok(name) = FdName::new(name(id, *role)) else {
            continue;
        };
        // A log pipe or pty still holds the last output of a container that
        // ended: kept until the delete, not dropped at its hangup. A stdin
        // whose reader is gone is of no use to anyone.
        let on_hangup = match role {
            Role::Stdin => OnHangup::Drop,
            _ => OnHangup::Keep,
        };
        match pod.config.notifier.store_fds(&name, &[*fd], on_hangup) {
            Ok(Delivery::Sent) => log::debug!("stored {} with the service manager", name.as_str()),
            Ok(Delivery::NoServiceManager) => return,
            Err(e) => log::warn!("container {id}: {name} not stored with the service manager: {e}"),
        }
    }
}

/// Takes the container's descriptors out of the service manager's store.
pub(super) fn forget(pod: &Pod, id: &str) {
    if !pod.config.notifier.is_active() {
        return;
    }
    for role in Role::ALL {
        let Ok(name) = FdName::new(name(id, role)) else {
            continue;
        };
        if let Err(e) = pod.config.notifier.remove_fds(&name) {
            log::warn!("container {id}: {name} not removed from the store: {e}");
        }
    }
}

/// Takes container `id`'s descriptor in `role` out of what the service
/// manager (or the monitor before an upgrade) passed, if it is there; a
/// name passed twice (stored twice) keeps the first and closes the rest.
pub fn take(passed: &mut ListenFds, id: &str, role: Role) -> Option<OwnedFd> {
    let mut fds = passed.take_named(&name(id, role)).into_iter();
    fds.next()
}
