//! The service manager's end of `NOTIFY_SOCKET`: a bound datagram socket,
//! read with recvmsg and SCM_RIGHTS as systemd reads it.

use std::fs;
use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

use crate::common::test_base;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// One played service manager; its directory goes when it is dropped.
pub struct Manager {
    socket: UnixDatagram,
    dir: PathBuf,
    path: PathBuf,
}

/// One notification: its text, split into assignments, and its descriptors.
pub struct Notification {
    pub text: String,
    pub fds: Vec<OwnedFd>,
}

impl Notification {
    /// The value of `KEY=` in it, if assigned.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.text
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
    }
}

impl Manager {
    pub fn bind(name: &str) -> Manager {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        // The pid after the first dot: dead runs' leftovers are removed.
        let dir = test_base().join(format!("notify-{name}.{}.{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        Manager { socket, dir, path }
    }

    /// The value for `NOTIFY_SOCKET`.
    pub fn address(&self) -> String {
        self.path.display().to_string()
    }

    /// The next notification, or `None` after `within` (at once for a
    /// zero `within`: a read timeout of 0 is no timeout to the socket).
    pub fn receive(&self, within: Duration) -> Option<Notification> {
        if within.is_zero() {
            return None;
        }
        self.socket.set_read_timeout(Some(within)).unwrap();
        let mut buf = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(16))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let got = rustix::net::recvmsg(
            self.socket.as_fd(),
            &mut iov,
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )
        .ok()?;
        let fds = control
            .drain()
            .filter_map(|m| match m {
                RecvAncillaryMessage::ScmRights(fds) => Some(fds.collect::<Vec<_>>()),
                _ => None,
            })
            .flatten()
            .collect();
        let text = String::from_utf8_lossy(&buf[..got.bytes]).into_owned();
        Some(Notification { text, fds })
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}
