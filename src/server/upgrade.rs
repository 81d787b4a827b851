//! The live upgrade (`Reexec`, SIGHUP): the monitor stops taking
//! connections (the listener stays open, so new ones queue in its
//! backlog), ends the ones it has, lets the creates in flight finish,
//! parks every container's log (the pipes are no longer read, and what was
//! read is in the file), writes the last events, and execs the binary on
//! disk with the listener and each container's pipes, pty and stdin as
//! named descriptors (`sys::reexec`). The new image re-adopts the
//! containers from their records as any new monitor does, and as their
//! parent it still learns the exit code of one that ended meanwhile.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use super::accept::Connections;
use crate::pod::fdstore::{self, Role};
use crate::pod::{Container, Pod, lifecycle};
use crate::reactor::{self, ops, sync};
use crate::sys::reexec::{self, Passed};

/// The name of the listening socket among the handed-over descriptors
/// (the one the socket unit gives it, so both paths read it alike).
const LISTENER: &str = super::activation::LISTENER_NAME;

/// How long parking one container's log may take (a log file on a stuck
/// disk): past it the pipes are handed over anyway, and what was read
/// and not yet written is lost.
const PARK_TIMEOUT: Duration = Duration::from_secs(5);

/// What the upgrade hands over besides the pod.
pub struct Handover<'a> {
    /// The listening socket.
    pub listener: &'a OwnedFd,
    /// Its path when this monitor bound it (none: the service manager's).
    pub socket: Option<&'a Path>,
    /// The connections to end.
    pub conns: &'a Connections,
}

/// Runs the upgrade; returns only if no binary could be exec'd (then the
/// descriptors are renumbered and the caller must exit: the containers
/// stay running and a restarted monitor re-adopts them).
pub async fn upgrade(pod: &Rc<Pod>, h: Handover<'_>) {
    h.conns.abort_all();
    // Let the aborted connections' drops run (their execs are killed).
    ops::sleep(Duration::from_millis(1)).await;
    lifecycle::wait_creates(pod).await;
    // From here on every exit waits, unreaped, for the new image (the
    // creates needed their runtime reaped: they come first).
    crate::sys::process::hold_reaping();
    lifecycle::save_pending_exits(pod);
    let mut held: Vec<(String, OwnedFd)> = Vec::new();
    for c in pod.list() {
        held.extend(park(&c).await);
    }
    if sync::timeout(Duration::from_secs(5), pod.events.flushed())
        .await
        .is_none()
    {
        log::warn!("event journal: events not yet written are lost with the upgrade");
    }
    let mut passed = vec![Passed {
        name: LISTENER.to_owned(),
        fd: h.listener.as_fd(),
    }];
    let extra: Vec<(String, Rc<OwnedFd>)> = pod.list().iter().flat_map(|c| shared(c)).collect();
    passed.extend(held.iter().map(|(name, fd)| Passed {
        name: name.clone(),
        fd: fd.as_fd(),
    }));
    passed.extend(extra.iter().map(|(name, fd)| Passed {
        name: name.clone(),
        fd: fd.as_fd(),
    }));
    log::info!(
        "upgrade: exec'ing with {} descriptors for {} containers",
        passed.len(),
        pod.list().len()
    );
    let e = reexec::reexec(&passed, h.socket);
    log::error!("upgrade failed: {e}; exiting with the containers left running");
    reactor::stop();
}

/// Stops reading the container's log pipes and takes them back, named.
/// A terminal container's output is its pty master, handed over as such.
async fn park(c: &Container) -> Vec<(String, OwnedFd)> {
    let pipes = match sync::timeout(PARK_TIMEOUT, c.log.park()).await {
        Some(p) => p,
        None => {
            log::error!("container {}: its log did not park in time", c.id);
            Vec::new()
        }
    };
    if c.pty.is_some() {
        // The copy the log read from; the master itself goes over.
        return Vec::new();
    }
    pipes
        .into_iter()
        .map(|(stream, fd)| (fdstore::name(&c.id, Role::Output(stream)), fd))
        .collect()
}

/// The descriptors the container holds itself: its pty master and its
/// stdin write end (for a terminal, the stdin is the master again).
fn shared(c: &Container) -> Vec<(String, Rc<OwnedFd>)> {
    let mut out = Vec::new();
    if let Some(master) = &c.pty {
        out.push((fdstore::name(&c.id, Role::Pty), master.clone()));
    } else if let Some(stdin) = c.stdin.fd() {
        out.push((fdstore::name(&c.id, Role::Stdin), stdin));
    }
    out
}
