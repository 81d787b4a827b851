//! The sd_notify protocol, client side: telling the service manager that
//! the monitor is ready, what it is doing, that it is stopping, and handing
//! it descriptors to keep (its file-descriptor store) so that a restarted
//! monitor gets a container's pipes back through `LISTEN_FDS`.
//!
//! The protocol is one datagram per message on the UNIX socket named by
//! `NOTIFY_SOCKET` (a path, or `@name` for an abstract socket), its text
//! newline-separated `KEY=VALUE` assignments, descriptors riding along as
//! SCM_RIGHTS. It is small enough to write here; libsystemd would bring a
//! C library and its own blocking `sendmsg`. Each send uses MSG_DONTWAIT:
//! the loop never waits for the manager, and a full queue is an error the
//! caller sees ([`NotifyError::Full`]) rather than a stall.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::net::{
    AddressFamily, SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketAddrUnix,
    SocketFlags, SocketType,
};

use crate::sys::error::SysError;

/// The longest descriptor name systemd accepts (its `FDNAME_MAX`).
pub const FDNAME_MAX: usize = 255;

/// The most descriptors one SCM_RIGHTS message may carry (the kernel's
/// `SCM_MAX_FD`); more fail with EINVAL, so they are refused up front.
pub const MAX_FDS_PER_MESSAGE: usize = 253;

/// A name for descriptors in the service manager's store, checked against
/// the rules systemd applies to `FDNAME=`: a name it rejects is not an
/// error there but a warning, and the descriptors are stored as "stored",
/// where a restarted monitor could not tell them apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FdName(String);

/// Why a descriptor name is not one systemd would keep.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FdNameError {
    /// An empty name: systemd accepts it, but it names nothing a restarted
    /// monitor could look for.
    #[error("a descriptor name must not be empty")]
    Empty,
    /// Longer than [`FDNAME_MAX`].
    #[error("descriptor name of {len} bytes is longer than {FDNAME_MAX}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// Holds ':', the separator of `LISTEN_FDNAMES`.
    #[error("descriptor name {name:?} contains ':'")]
    Colon {
        /// The name.
        name: String,
    },
    /// Holds a control character or a byte outside printable ASCII.
    #[error("descriptor name {name:?} has a character systemd refuses at byte {at}")]
    NotPrintable {
        /// The name.
        name: String,
        /// The byte offset of the first such character.
        at: usize,
    },
}

impl FdName {
    /// Checks `name`: 1 to 255 bytes of printable ASCII (space to '~'),
    /// no ':'.
    pub fn new(name: impl Into<String>) -> Result<FdName, FdNameError> {
        let name = name.into();
        if name.is_empty() {
            return Err(FdNameError::Empty);
        }
        if name.len() > FDNAME_MAX {
            return Err(FdNameError::TooLong { len: name.len() });
        }
        if let Some(at) = name.bytes().position(|b| !(b' '..=b'~').contains(&b)) {
            return Err(FdNameError::NotPrintable { name, at });
        }
        if name.contains(':') {
            return Err(FdNameError::Colon { name });
        }
        Ok(FdName(name))
    }

    /// The name as sent in `FDNAME=`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for FdName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a notification was not sent.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// `NOTIFY_SOCKET` is neither an absolute path nor `@name`, or does not
    /// fit a socket address (vsock addresses are not supported).
    #[error("NOTIFY_SOCKET={value:?} is not an absolute path or @abstract name: {why}")]
    BadAddress {
        /// The variable's value.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A STATUS text with a newline would be read as further assignments.
    #[error("notification text {text:?} contains a newline")]
    Newline {
        /// The text.
        text: String,
    },
    /// More descriptors than one message can carry.
    #[error("{count} descriptors in one message; at most {MAX_FDS_PER_MESSAGE}")]
    TooManyFds {
        /// How many were given.
        count: usize,
    },
    /// The service manager's socket queue is full (EAGAIN): the message
    /// was not sent, and the caller decides whether to try again later.
    #[error("the service manager's socket {target} is full; notification not sent")]
    Full {
        /// NOTIFY_SOCKET's value.
        target: String,
    },
    /// The socket could not be made or the datagram not sent.
    #[error(transparent)]
    Sys(#[from] SysError),
}

/// What became of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The datagram is in the service manager's queue.
    Sent,
    /// `NOTIFY_SOCKET` is unset: no service manager listens, nothing was
    /// sent, and that is not an error.
    NoServiceManager,
}

/// What the service manager does with a stored descriptor whose other end
/// is closed (it polls for POLLHUP and POLLERR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnHangup {
    /// Closes and forgets it: right for a stdin write end or a pty master,
    /// which are of no use once the reader or the terminal is gone.
    Drop,
    /// Keeps it (`FDPOLL=0`) until `FDSTOREREMOVE=1`: a log pipe's read
    /// end, whose writers all closed when the container exited, still holds
    /// the container's last output for a restarted monitor to read.
    Keep,
}

/// One assignment of a state notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State<'a> {
    /// `READY=1`: start-up is done (for `Type=notify` units).
    Ready,
    /// `STOPPING=1`: shutdown has begun.
    Stopping,
    /// `STATUS=text`: one line shown by `systemctl status`.
    Status(&'a str),
    /// `MAINPID=pid`: the service's main process is `pid` (podmon's own:
    /// said with `READY=1`, also by the image a live re-exec started,
    /// which keeps the pid).
    MainPid(u32),
    /// `WATCHDOG=1`: the loop is alive (sent every half of
    /// `WATCHDOG_USEC`, see [`watchdog_interval`]).
    Watchdog,
}

/// The interval at which to send `WATCHDOG=1`: half of `WATCHDOG_USEC`
/// (what sd_notify(3) advises), or `None` when the variable is unset,
/// zero or not a number, or when `WATCHDOG_PID` names another process
/// (the variables were inherited from a parent that is watched itself).
pub fn watchdog_interval(
    usec: Option<&str>,
    pid: Option<&str>,
    own_pid: u32,
) -> Option<std::time::Duration> {
    let usec: u64 = usec?.parse().ok().filter(|&u| u > 0)?;
    if let Some(pid) = pid.filter(|p| !p.is_empty())
        && pid.parse::<u32>().ok() != Some(own_pid)
    {
        return None;
    }
    Some(std::time::Duration::from_micros(usec / 2).max(std::time::Duration::from_millis(1)))
}

/// [`watchdog_interval`] from this process's environment.
pub fn watchdog_from_env() -> Option<std::time::Duration> {
    let var = |k: &str| std::env::var(k).ok();
    watchdog_interval(
        var("WATCHDOG_USEC").as_deref(),
        var("WATCHDOG_PID").as_deref(),
        std::process::id(),
    )
}

/// The client of one service manager's notification socket, or of none
/// (`NOTIFY_SOCKET` unset), in which case every send is a reported no-op.
#[derive(Debug)]
pub struct Notifier {
    target: Option<Target>,
}

/// The socket to send from and the address to send to.
#[derive(Debug)]
struct Target {
    /// NOTIFY_SOCKET's value, for messages.
    value: String,
    addr: SocketAddrUnix,
    socket: OwnedFd,
}

impl Notifier {
    /// The notifier `NOTIFY_SOCKET` names, or one that sends nothing when
    /// it is unset or empty. The variable is left set: podmon's children
    /// never see it anyway (they get a clean environment).
    pub fn from_env() -> Result<Notifier, NotifyError> {
        Notifier::from_var(std::env::var_os("NOTIFY_SOCKET"))
    }

    /// As [`Notifier::from_env`], from the variable's value.
    pub fn from_var(value: Option<OsString>) -> Result<Notifier, NotifyError> {
        match value {
            Some(v) if !v.is_empty() => Notifier::to(&v.to_string_lossy()),
            _ => Ok(Notifier::none()),
        }
    }

    /// A notifier that sends nothing.
    pub fn none() -> Notifier {
        Notifier { target: None }
    }

    /// A notifier for the socket at `address`: an absolute path, or
    /// `@name` for the abstract name `name`.
    pub fn to(address: &str) -> Result<Notifier, NotifyError> {
        let bad = |why| NotifyError::BadAddress {
            value: address.to_owned(),
            why,
        };
        let addr = if let Some(name) = address.strip_prefix('@') {
            SocketAddrUnix::new_abstract_name(name.as_bytes())
                .map_err(|_| bad("the abstract name is too long"))?
        } else if address.starts_with('/') {
            SocketAddrUnix::new(address).map_err(|_| bad("the path is too long"))?
        } else {
            return Err(bad("it does not start with '/' or '@'"));
        };
        let socket = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )
        .map_err(|e| SysError::io("socket for NOTIFY_SOCKET", &e.into()))?;
        Ok(Notifier {
            target: Some(Target {
                value: address.to_owned(),
                addr,
                socket,
            }),
        })
    }

    /// Whether a service manager listens (NOTIFY_SOCKET was set).
    pub fn is_active(&self) -> bool {
        self.target.is_some()
    }

    /// Sends the assignments in one datagram (e.g. `READY=1` with its
    /// `STATUS=`, so the manager never shows a stale status once ready).
    pub fn notify(&self, states: &[State<'_>]) -> Result<Delivery, NotifyError> {
        let mut text = String::new();
        for s in states {
            match s {
                State::Ready => text.push_str("READY=1\n"),
                State::Stopping => text.push_str("STOPPING=1\n"),
                State::Status(t) => {
                    no_newline(t)?;
                    let _ = writeln!(text, "STATUS={t}");
                }
                State::MainPid(pid) => {
                    let _ = writeln!(text, "MAINPID={pid}");
                }
                State::Watchdog => text.push_str("WATCHDOG=1\n"),
            }
        }
        self.send(&text, &[])
    }

    /// Hands `fds` to the service manager's store under `name`
    /// (`FDSTORE=1`); at the next start they come back in `LISTEN_FDS`,
    /// each named `name`. The unit needs `FileDescriptorStoreMax=` large
    /// enough, or the manager drops them (and says so in its own log
    /// only); a descriptor already in the store is not stored twice.
    pub fn store_fds(
        &self,
        name: &FdName,
        fds: &[BorrowedFd<'_>],
        on_hangup: OnHangup,
    ) -> Result<Delivery, NotifyError> {
        if fds.len() > MAX_FDS_PER_MESSAGE {
            return Err(NotifyError::TooManyFds { count: fds.len() });
        }
        let poll = match on_hangup {
            OnHangup::Drop => "",
            OnHangup::Keep => "FDPOLL=0\n",
        };
        self.send(&format!("FDSTORE=1\nFDNAME={name}\n{poll}"), fds)
    }

    /// Asks the service manager to close and forget every stored
    /// descriptor named `name` (`FDSTOREREMOVE=1`).
    pub fn remove_fds(&self, name: &FdName) -> Result<Delivery, NotifyError> {
        self.send(&format!("FDSTOREREMOVE=1\nFDNAME={name}\n"), &[])
    }

    /// One datagram with `text` and `fds`, without waiting.
    fn send(&self, text: &str, fds: &[BorrowedFd<'_>]) -> Result<Delivery, NotifyError> {
        let Some(t) = &self.target else {
            return Ok(Delivery::NoServiceManager);
        };
        let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(fds.len()))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
            return Err(NotifyError::TooManyFds { count: fds.len() });
        }
        let iov = [IoSlice::new(text.as_bytes())];
        let flags = SendFlags::DONTWAIT | SendFlags::NOSIGNAL;
        loop {
            match rustix::net::sendmsg_addr(&t.socket, &t.addr, &iov, &mut control, flags) {
                Ok(_) => return Ok(Delivery::Sent),
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::AGAIN) => {
                    return Err(NotifyError::Full {
                        target: t.value.clone(),
                    });
                }
                Err(e) => {
                    let e =
                        SysError::io(format!("sending to NOTIFY_SOCKET {}", t.value), &e.into());
                    return Err(e.into());
                }
            }
        }
    }
}

/// Refuses text with a newline, which the manager would split into
/// assignments of its own (`STATUS=x\nREADY=1`).
fn no_newline(text: &str) -> Result<(), NotifyError> {
    if text.contains('\n') {
        return Err(NotifyError::Newline {
            text: text.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
#[path = "sdnotify_tests.rs"]
mod tests;
