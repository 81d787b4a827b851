//! What the service manager gives `podmon serve` at start: the Varlink
//! socket of socket activation and any other named descriptors (the
//! file-descriptor store of a previous monitor), and the notifications
//! podmon sends it back (`READY=1` with `MAINPID=`, a `STATUS=` line kept
//! current as containers come and go, `WATCHDOG=1`, `STOPPING=1`).

use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::time::Duration;

use crate::pod::events::{EventKind, Next};
use crate::pod::{Pod, Status};
use crate::reactor::ops;
use crate::sys::listen_fds::{ListenFd, ListenFds, ListenFdsError, UNKNOWN_NAME};
use crate::sys::sdnotify::{Delivery, Notifier, State};

/// The name podmon's socket unit gives the Varlink socket
/// (`FileDescriptorName=varlink` in contrib/systemd/podmon@.socket).
pub const LISTENER_NAME: &str = "varlink";

/// Why the passed descriptors are unusable.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// The variables or descriptors are wrong.
    #[error("socket activation: {0}")]
    ListenFds(#[from] ListenFdsError),
    /// The descriptor picked as the Varlink socket is neither a listening
    /// nor a connected stream socket.
    #[error(
        "socket activation: descriptor {fd} named {name:?} is neither a listening nor a connected stream socket"
    )]
    NotListening {
        /// Its number.
        fd: i32,
        /// Its name.
        name: String,
    },
}

/// The Varlink socket the service manager passed.
#[derive(Debug)]
pub enum Passed {
    /// A listening socket (`Accept=no`, the default): podmon accepts on it.
    Listening(OwnedFd),
    /// One connection, already accepted (`Accept=yes`, or
    /// `systemd-socket-activate --accept`): podmon serves it alone and
    /// exits when the client closes it, as a per-connection service does.
    Connected(OwnedFd),
}

/// The passed descriptors, sorted: the listener, if one was passed, and
/// the rest by name, held for re-adopting a previous monitor's
/// containers (a container's log pipes, pty master and stdin).
#[derive(Debug, Default)]
pub struct Activation {
    /// The Varlink socket; `None` means podmon binds `--socket` itself.
    pub listener: Option<Passed>,
    /// Every other passed descriptor, with its name.
    pub inherited: ListenFds,
}

impl Activation {
    /// Takes the descriptors `LISTEN_FDS` announces (see
    /// [`ListenFds::from_env`]: once, before any thread) and logs them.
    pub fn from_env() -> Result<Activation, ActivationError> {
        Activation::sort(ListenFds::from_env()?)
    }

    /// Picks the listener out of `passed`: the descriptor named "varlink";
    /// else one named after a socket unit ("….socket", systemd's default
    /// name); else, when no names were given (plain `LISTEN_FDS`, as
    /// `systemd-socket-activate` passes), fd 3.
    fn sort(mut passed: ListenFds) -> Result<Activation, ActivationError> {
        let listener = passed
            .take_first(|n| n == LISTENER_NAME)
            .or_else(|| passed.take_first(|n| n.ends_with(".socket")))
            .or_else(|| passed.take_first(|n| n == UNKNOWN_NAME));
        let listener = listener.map(classify).transpose()?;
        match &listener {
            Some(Passed::Listening(l)) => log::info!(
                "socket activation: the Varlink socket is fd {}",
                l.as_raw_fd()
            ),
            Some(Passed::Connected(c)) => log::info!(
                "socket activation: fd {} is one accepted connection (Accept=yes): serving it, then exiting",
                c.as_raw_fd()
            ),
            None => {}
        }
        if !passed.is_empty() {
            let names: Vec<&str> = passed.names().collect();
            log::info!(
                "received {} descriptors from the service manager, kept for re-adoption: {}",
                names.len(),
                names.join(", ")
            );
        }
        Ok(Activation {
            listener,
            inherited: passed,
        })
    }
}

/// Whether the descriptor listens (SO_ACCEPTCONN) or is a connected
/// stream socket (it has a peer); anything else is refused, since
/// accepting on it would fail forever.
fn classify(f: ListenFd) -> Result<Passed, ActivationError> {
    use rustix::net::sockopt;
    match sockopt::socket_acceptconn(&f.fd) {
        Ok(true) => return Ok(Passed::Listening(f.fd)),
        Ok(false)
            if sockopt::socket_type(&f.fd) == Ok(rustix::net::SocketType::STREAM)
                && rustix::net::getpeername(&f.fd).is_ok() =>
        {
            return Ok(Passed::Connected(f.fd));
        }
        _ => {}
    }
    Err(ActivationError::NotListening {
        fd: f.fd.as_raw_fd(),
        name: f.name,
    })
}

/// The `STATUS=` line: what the monitor serves and how many containers
/// it has (`systemctl status` shows it).
fn status_line(serving: &str, pod: &Pod) -> String {
    let all = pod.list();
    let running = all.iter().filter(|c| c.status() == Status::Running).count();
    let n = all.len();
    let s = if n == 1 { "" } else { "s" };
    // A newline (in a path) would end the STATUS= assignment early.
    format!("{serving}: {n} container{s}, {running} running").replace('\n', " ")
}

/// Says `READY=1` (with `MAINPID=` and the status line) once the monitor
/// serves, then keeps the status line current: it is sent again after
/// each event that changes the counts, and only then (a watcher of the
/// pod's events, so an idle monitor is not woken).
pub async fn report_status(pod: Rc<Pod>, notifier: Rc<Notifier>, serving: String) {
    let mut last = status_line(&serving, &pod);
    tell(
        &notifier,
        &[
            State::Ready,
            State::MainPid(std::process::id()),
            State::Status(&last),
        ],
    );
    if !notifier.is_active() {
        return;
    }
    let watcher = match pod.events.watch(None, None) {
        Ok(w) => w,
        Err(e) => {
            log::warn!("STATUS= will not follow the containers: {e}");
            return;
        }
    };
    loop {
        if let Next::Event(e) = watcher.next().await
            && !matches!(
                e.kind,
                EventKind::Created
                    | EventKind::Started
                    | EventKind::Exited { .. }
                    | EventKind::Deleted
            )
        {
            continue;
        }
        let now = status_line(&serving, &pod);
        if now != last {
            tell(&notifier, &[State::Status(&now)]);
            last = now;
        }
    }
}

/// Sends `WATCHDOG=1` every `interval` (half of `WATCHDOG_USEC`), from a
/// reactor timer: a loop too stuck to run it gets the unit restarted.
/// Spawned only when the watchdog is on.
pub async fn keep_watchdog(notifier: Rc<Notifier>, interval: Duration) {
    log::info!("watchdog: WATCHDOG=1 every {interval:?}");
    loop {
        tell(&notifier, &[State::Watchdog]);
        ops::sleep(interval).await;
    }
}

/// Sends `states` to the service manager, if there is one; a failure is
/// logged, not fatal: podmon serves its pod whether or not the manager
/// hears it (a manager that misses `READY=1` stops the unit itself).
pub fn tell(notifier: &Notifier, states: &[State<'_>]) {
    match notifier.notify(states) {
        Ok(Delivery::Sent) => log::debug!("notified the service manager: {states:?}"),
        Ok(Delivery::NoServiceManager) => {}
        Err(e) => log::warn!("notifying the service manager: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listening UNIX socket on a fresh abstract name (no path to
    /// clean up).
    fn listening() -> OwnedFd {
        use std::os::linux::net::SocketAddrExt;
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let name = format!("podmon-activation-{}-{n}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name).unwrap();
        std::os::unix::net::UnixListener::bind_addr(&addr)
            .unwrap()
            .into()
    }

    fn passed(v: Vec<(&str, OwnedFd)>) -> ListenFds {
        let v = v.into_iter().map(|(n, fd)| ListenFd { name: n.into(), fd });
        ListenFds::from(v.collect::<Vec<_>>())
    }

    fn pipe() -> OwnedFd {
        std::io::pipe().unwrap().0.into()
    }

    #[test]
    fn picks_the_listener_by_name() {
        let a =
            Activation::sort(passed(vec![("stdin-x", pipe()), ("varlink", listening())])).unwrap();
        assert!(matches!(a.listener, Some(Passed::Listening(_))));
        assert_eq!(a.inherited.names().collect::<Vec<_>>(), ["stdin-x"]);

        let a = Activation::sort(passed(vec![("podmon@web.socket", listening())])).unwrap();
        assert!(a.listener.is_some() && a.inherited.is_empty());

        let a = Activation::sort(passed(vec![("unknown", listening())])).unwrap();
        assert!(a.listener.is_some());
    }

    #[test]
    fn stored_descriptors_alone_leave_binding_to_podmon() {
        let a = Activation::sort(passed(vec![("ctr-a-stdout", pipe())])).unwrap();
        assert!(a.listener.is_none());
        assert_eq!(a.inherited.len(), 1);
        assert!(
            Activation::sort(ListenFds::default())
                .unwrap()
                .listener
                .is_none()
        );
    }

    #[test]
    fn a_connected_socket_is_one_connection() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let act = Activation::sort(passed(vec![("unknown", a.into())])).unwrap();
        assert!(matches!(act.listener, Some(Passed::Connected(_))));
        // A socket that neither listens nor has a peer is refused.
        let lone = rustix::net::socket(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            None,
        )
        .unwrap();
        assert!(matches!(
            Activation::sort(passed(vec![("varlink", lone)])),
            Err(ActivationError::NotListening { .. })
        ));
    }

    #[test]
    fn a_listener_that_does_not_listen_is_refused() {
        match Activation::sort(passed(vec![("varlink", pipe())])) {
            Err(ActivationError::NotListening { name, .. }) => assert_eq!(name, "varlink"),
            other => panic!("{other:?}"),
        }
    }
}
