//! What the service manager gives `podmon serve` at start: the Varlink
//! socket of socket activation and any other named descriptors (the
//! file-descriptor store of a previous monitor), and the notifications
//! podmon sends it back (`READY=1`, `STATUS=`, `STOPPING=1`).

use std::os::fd::{AsRawFd, OwnedFd};

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
    /// The descriptor picked as the Varlink socket does not listen.
    #[error("socket activation: descriptor {fd} named {name:?} is not a listening socket")]
    NotListening {
        /// Its number.
        fd: i32,
        /// Its name.
        name: String,
    },
}

/// The passed descriptors, sorted: the listener, if one was passed, and
/// the rest by name, held for re-adopting a previous monitor's
/// containers (a container's log pipes, pty master and stdin).
#[derive(Debug, Default)]
pub struct Activation {
    /// The Varlink socket; `None` means podmon binds `--socket` itself.
    pub listener: Option<OwnedFd>,
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
        let listener = listener.map(check_listening).transpose()?;
        if let Some(l) = &listener {
            log::info!(
                "socket activation: the Varlink socket is fd {}",
                l.as_raw_fd()
            );
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

/// The descriptor, if it is a listening socket.
fn check_listening(f: ListenFd) -> Result<OwnedFd, ActivationError> {
    match rustix::net::sockopt::socket_acceptconn(&f.fd) {
        Ok(true) => Ok(f.fd),
        _ => Err(ActivationError::NotListening {
            fd: f.fd.as_raw_fd(),
            name: f.name,
        }),
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
        assert!(a.listener.is_some());
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
    fn a_listener_that_does_not_listen_is_refused() {
        match Activation::sort(passed(vec![("varlink", pipe())])) {
            Err(ActivationError::NotListening { name, .. }) => assert_eq!(name, "varlink"),
            other => panic!("{other:?}"),
        }
    }
}
