//! Accepting connections: at most [`MAX_CONNECTIONS`] open at once, and
//! load shed visibly when the process runs out of file descriptors.
//!
//! A connection over the bound, or one that arrives while no descriptor is
//! free, is accepted, answered with a named error and closed at once: the
//! client learns why instead of waiting in the listen backlog forever, and
//! the monitor keeps serving the connections it has.

use std::cell::Cell;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;
use std::time::Duration;

use rustix::net::SendFlags;

use super::access::{self, AccessConfig};
use super::conn;
use crate::pod::{ExitRequest, Pod, limits};
use crate::proto::errors::{LimitExceeded, ProtoError, SystemError};
use crate::reactor::{self, ops};
use crate::varlink::VarlinkError;

/// Connections open at once. Each costs a descriptor and a few KiB; a
/// client over the bound gets `LimitExceeded` ("connections").
pub const MAX_CONNECTIONS: usize = 512;

/// Back-off after an accept error that is not about descriptors.
const BACKOFF: Duration = Duration::from_millis(100);

/// The connections being served, so that a live upgrade can end them all
/// (their handlers' guards then kill the execs they ran) before the exec.
#[derive(Default)]
pub struct Connections {
    tasks: std::cell::RefCell<std::collections::HashMap<u64, reactor::TaskId>>,
    next: Cell<u64>,
}

impl Connections {
    fn add(&self, task: reactor::TaskId) -> u64 {
        let key = self.next.get();
        self.next.set(key + 1);
        self.tasks.borrow_mut().insert(key, task);
        key
    }

    /// Ends every connection: its task is dropped, and with it the
    /// socket (the client reads end of file) and what the call held.
    pub fn abort_all(&self) {
        let tasks: Vec<reactor::TaskId> = self.tasks.borrow_mut().drain().map(|(_, t)| t).collect();
        for t in tasks {
            reactor::abort(t);
        }
    }
}

/// Accepts connections forever, one task each.
pub async fn accept_loop(
    pod: Rc<Pod>,
    listener: Rc<OwnedFd>,
    access: AccessConfig,
    conns: Rc<Connections>,
) {
    let open = Rc::new(Cell::new(0usize));
    let mut shed = Shedding::new();
    loop {
        match ops::accept(listener.as_fd()).await {
            Ok(sock) => {
                shed.recovered();
                if open.get() >= MAX_CONNECTIONS {
                    log::debug!("refusing a connection: {MAX_CONNECTIONS} are open");
                    let e = LimitExceeded::new("connections", MAX_CONNECTIONS);
                    refuse_now(&sock, e.into_varlink());
                    continue;
                }
                let slot = Slot::take(&open);
                match access::check(&access, &sock) {
                    Ok(role) => {
                        let pod = pod.clone();
                        let key = Rc::new(Cell::new(None::<u64>));
                        let (mine, registry) = (key.clone(), conns.clone());
                        let task = reactor::spawn(async move {
                            let _slot = slot;
                            conn::serve(pod, sock, role).await;
                            if let Some(k) = mine.get() {
                                registry.tasks.borrow_mut().remove(&k);
                            }
                        });
                        key.set(Some(conns.add(task)));
                    }
                    Err(who) => {
                        reactor::spawn(async move {
                            let _slot = slot;
                            access::refuse(sock, who).await;
                        });
                    }
                }
            }
            Err(e) if out_of_fds(&e) => shed.refuse_one(&listener, &e).await,
            Err(e) => {
                // Out of memory and the like: back off instead of spinning.
                log::warn!("accept: {e}");
                ops::sleep(BACKOFF).await;
            }
        }
    }
}

/// Serves the one connection a service manager accepted (`Accept=yes`),
/// then asks the monitor to exit, as a per-connection service does (the
/// containers stay unless `kill_on_exit`; the next connection's monitor
/// re-adopts them). The connection stays open in `conn` for a live
/// upgrade to hand over.
pub async fn serve_one(pod: Rc<Pod>, conn: Rc<OwnedFd>, access: AccessConfig, kill_on_exit: bool) {
    match conn.try_clone() {
        Ok(sock) => match access::check(&access, &sock) {
            Ok(role) => conn::serve(pod.clone(), sock, role).await,
            Err(who) => access::refuse(sock, who).await,
        },
        Err(e) => log::error!("the accepted connection: {e}"),
    }
    log::info!("the accepted connection is closed: exiting (Accept=yes serves one connection)");
    pod.request_exit(ExitRequest::Stop {
        kill_containers: kill_on_exit,
        grace: Duration::from_secs(limits::SHUTDOWN_TIMEOUT_DEFAULT.unsigned_abs()),
    });
}

fn out_of_fds(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// One open connection, counted while it lives.
struct Slot(Rc<Cell<usize>>);

impl Slot {
    fn take(open: &Rc<Cell<usize>>) -> Slot {
        open.set(open.get() + 1);
        Slot(open.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

/// What the loop does without descriptors: one kept in reserve is given up
/// to accept the waiting client, tell it why and close it; the warning is
/// logged once per shortage, and once more when accepting works again.
struct Shedding {
    reserve: Option<OwnedFd>,
    refused: u64,
}

impl Shedding {
    fn new() -> Shedding {
        Shedding {
            reserve: reserve(),
            refused: 0,
        }
    }

    async fn refuse_one(&mut self, listener: &OwnedFd, e: &io::Error) {
        if self.refused == 0 {
            log::warn!("accept: {e}: refusing new connections until descriptors are free");
        }
        self.refused += 1;
        if self.reserve.take().is_none() {
            // No reserve to give up (someone else took its number): wait.
            ops::sleep(BACKOFF).await;
            self.reserve = reserve();
            return;
        }
        match ops::accept(listener.as_fd()).await {
            Ok(sock) => refuse_now(&sock, no_descriptors(e)),
            Err(e) => log::debug!("accept with the reserve descriptor: {e}"),
        }
        self.reserve = reserve();
    }

    fn recovered(&mut self) {
        if self.refused > 0 {
            log::warn!(
                "accepting connections again after refusing {} for want of descriptors",
                self.refused
            );
            self.refused = 0;
        }
        if self.reserve.is_none() {
            self.reserve = reserve();
        }
    }
}

/// A descriptor held only so it can be closed when none is left.
fn reserve() -> Option<OwnedFd> {
    let flags = rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC;
    rustix::fs::open("/dev/null", flags, rustix::fs::Mode::empty()).ok()
}

/// The error a client gets when the monitor has no descriptor for it.
fn no_descriptors(e: &io::Error) -> VarlinkError {
    SystemError {
        message: format!("accepting a connection: {e}"),
        operation: "accepting a connection".to_owned(),
        path: None,
        errno: e.raw_os_error(),
    }
    .into_varlink()
}

/// Sends `e` on a new connection without waiting and closes it. The socket
/// is fresh, so its send buffer is empty and the short reply fits; if it
/// does not, the close alone tells the client.
fn refuse_now(sock: &OwnedFd, e: VarlinkError) {
    let mut out = Vec::new();
    e.into_reply().encode(&mut out);
    let flags = SendFlags::DONTWAIT | SendFlags::NOSIGNAL;
    if let Err(err) = rustix::net::send(sock, &out, flags) {
        log::debug!("refusing a connection: {err}");
    }
}
