//! The client against a played service manager: a datagram socket bound
//! where NOTIFY_SOCKET points, read with recvmsg and SCM_RIGHTS as systemd
//! reads it.

use super::*;
use std::io::{IoSliceMut, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

/// The service manager's side: a bound datagram socket.
struct Manager {
    socket: UnixDatagram,
    dir: Option<PathBuf>,
}

impl Manager {
    /// Bound to a fresh path; returns it with its NOTIFY_SOCKET value.
    fn at_path(name: &str) -> (Manager, String) {
        let dir = std::env::temp_dir().join(format!("podmon-notify-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        let value = path.display().to_string();
        (
            Manager {
                socket,
                dir: Some(dir),
            },
            value,
        )
    }

    /// Bound to an abstract name; returns it with its `@name` value.
    fn abstract_name(name: &str) -> (Manager, String) {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("podmon-notify-{name}-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&addr).unwrap();
        (Manager { socket, dir: None }, format!("@{name}"))
    }

    /// The next datagram's text and descriptors (within 5 s).
    fn receive(&self) -> (String, Vec<OwnedFd>) {
        self.socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(8))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let got = rustix::net::recvmsg(
            self.socket.as_fd(),
            &mut iov,
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )
        .expect("no notification within 5 s");
        let mut fds = Vec::new();
        for msg in control.drain() {
            if let RecvAncillaryMessage::ScmRights(got) = msg {
                fds.extend(got);
            }
        }
        let text = String::from_utf8(buf[..got.bytes].to_vec()).unwrap();
        (text, fds)
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

#[test]
fn fd_names_follow_systemds_rules() {
    assert_eq!(
        FdName::new("ctr-web-stdout").unwrap().as_str(),
        "ctr-web-stdout"
    );
    assert!(FdName::new("with space and ~").is_ok());
    assert!(FdName::new("x".repeat(FDNAME_MAX)).is_ok());
    assert_eq!(FdName::new(""), Err(FdNameError::Empty));
    assert_eq!(
        FdName::new("x".repeat(FDNAME_MAX + 1)),
        Err(FdNameError::TooLong { len: 256 })
    );
    assert_eq!(
        FdName::new("a:b"),
        Err(FdNameError::Colon { name: "a:b".into() })
    );
    for (bad, at) in [("a\nb", 1), ("\tx", 0), ("ab\u{7f}", 2), ("é", 0)] {
        assert_eq!(
            FdName::new(bad),
            Err(FdNameError::NotPrintable {
                name: bad.into(),
                at
            }),
            "{bad:?}"
        );
    }
}

#[test]
fn unset_notify_socket_sends_nothing_and_says_so() {
    for v in [None, Some(OsString::new())] {
        let n = Notifier::from_var(v).unwrap();
        assert!(!n.is_active());
        assert_eq!(
            n.notify(&[State::Ready]).unwrap(),
            Delivery::NoServiceManager
        );
        let name = FdName::new("x").unwrap();
        assert_eq!(n.remove_fds(&name).unwrap(), Delivery::NoServiceManager);
    }
}

#[test]
fn bad_addresses_are_refused() {
    let long = format!("/{}", "x".repeat(200));
    for v in ["relative/path", "vsock:2:1234", long.as_str()] {
        match Notifier::to(v) {
            Err(NotifyError::BadAddress { value, .. }) => assert_eq!(value, v),
            other => panic!("{v}: {other:?}"),
        }
    }
}

#[test]
fn states_arrive_as_one_datagram() {
    let (m, addr) = Manager::at_path("states");
    let n = Notifier::from_var(Some(addr.into())).unwrap();
    assert!(n.is_active());
    let sent = n
        .notify(&[
            State::Ready,
            State::Status("serving pod web"),
            State::MainPid(42),
        ])
        .unwrap();
    assert_eq!(sent, Delivery::Sent);
    let (text, fds) = m.receive();
    assert_eq!(text, "READY=1\nSTATUS=serving pod web\nMAINPID=42\n");
    assert!(fds.is_empty());
    n.notify(&[State::Stopping]).unwrap();
    assert_eq!(m.receive().0, "STOPPING=1\n");
    n.notify(&[State::Watchdog]).unwrap();
    assert_eq!(m.receive().0, "WATCHDOG=1\n");
}

#[test]
fn watchdog_interval_is_half_of_watchdog_usec_for_us_only() {
    use super::watchdog_interval as w;
    use std::time::Duration;
    assert_eq!(
        w(Some("3000000"), None, 7),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        w(Some("3000000"), Some("7"), 7),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        w(Some("3000000"), Some(""), 7),
        Some(Duration::from_millis(1500))
    );
    // Another process's watchdog, unset, zero or garbage: no timer.
    assert_eq!(w(Some("3000000"), Some("8"), 7), None);
    assert_eq!(w(Some("3000000"), Some("x"), 7), None);
    assert_eq!(w(None, Some("7"), 7), None);
    assert_eq!(w(Some("0"), None, 7), None);
    assert_eq!(w(Some("-5"), None, 7), None);
    assert_eq!(w(Some(""), None, 7), None);
    // A tiny value still gives a timer that is not a busy loop.
    assert_eq!(w(Some("1"), None, 7), Some(Duration::from_millis(1)));
}

#[test]
fn status_with_a_newline_is_refused_unsent() {
    let (m, addr) = Manager::at_path("newline");
    let n = Notifier::to(&addr).unwrap();
    let err = n.notify(&[State::Status("x\nREADY=1")]).unwrap_err();
    assert!(matches!(err, NotifyError::Newline { .. }), "{err:?}");
    m.socket.set_nonblocking(true).unwrap();
    let mut b = [0u8; 64];
    let e = m.socket.recv(&mut b).unwrap_err();
    assert_eq!(
        e.kind(),
        std::io::ErrorKind::WouldBlock,
        "something was sent"
    );
}

#[test]
fn stored_pipes_are_the_same_pipes() {
    let (m, addr) = Manager::abstract_name("store");
    let n = Notifier::to(&addr).unwrap();
    let (r1, mut w1) = std::io::pipe().unwrap();
    let (mut r2, w2) = std::io::pipe().unwrap();
    let name = FdName::new("ctr-a-stdio").unwrap();
    let sent = n
        .store_fds(&name, &[r1.as_fd(), w2.as_fd()], OnHangup::Drop)
        .unwrap();
    assert_eq!(sent, Delivery::Sent);
    let (text, mut fds) = m.receive();
    assert_eq!(text, "FDSTORE=1\nFDNAME=ctr-a-stdio\n");
    assert_eq!(fds.len(), 2, "{text}");
    // The manager's copies are the same pipes: what goes in one end comes
    // out of the other.
    let got_w2 = std::io::PipeWriter::from(fds.pop().unwrap());
    let got_r1 = std::io::PipeReader::from(fds.pop().unwrap());
    w1.write_all(b"log line").unwrap();
    drop(w1);
    let mut s = String::new();
    (&got_r1).read_to_string(&mut s).unwrap();
    assert_eq!(s, "log line");
    (&got_w2).write_all(b"stdin").unwrap();
    drop((got_w2, w2));
    let mut s = String::new();
    r2.read_to_string(&mut s).unwrap();
    assert_eq!(s, "stdin");

    n.remove_fds(&name).unwrap();
    assert_eq!(m.receive().0, "FDSTOREREMOVE=1\nFDNAME=ctr-a-stdio\n");
}

#[test]
fn a_log_pipe_is_kept_past_its_writers() {
    let (m, addr) = Manager::at_path("keep");
    let n = Notifier::to(&addr).unwrap();
    let (r, mut w) = std::io::pipe().unwrap();
    let name = FdName::new("ctr-b-stdout").unwrap();
    n.store_fds(&name, &[r.as_fd()], OnHangup::Keep).unwrap();
    drop(r);
    let (text, mut fds) = m.receive();
    assert_eq!(text, "FDSTORE=1\nFDNAME=ctr-b-stdout\nFDPOLL=0\n");
    // The container's last words, written before it exited, are there for
    // whoever holds the stored read end.
    w.write_all(b"last").unwrap();
    drop(w);
    let mut s = String::new();
    (&std::io::PipeReader::from(fds.pop().unwrap()))
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "last");
}

#[test]
fn too_many_fds_are_refused() {
    let (_m, addr) = Manager::at_path("many");
    let n = Notifier::to(&addr).unwrap();
    let (r, _w) = std::io::pipe().unwrap();
    let fds = vec![r.as_fd(); MAX_FDS_PER_MESSAGE + 1];
    let name = FdName::new("x").unwrap();
    let err = n.store_fds(&name, &fds, OnHangup::Keep).unwrap_err();
    assert!(
        matches!(err, NotifyError::TooManyFds { count: 254 }),
        "{err:?}"
    );
}

#[test]
fn a_full_queue_is_an_error_not_a_wait() {
    let (m, addr) = Manager::at_path("full");
    let n = Notifier::to(&addr).unwrap();
    // Nobody reads: the receiver's queue (net.unix.max_dgram_qlen, 10 by
    // default, or its buffer) fills and the next send must fail at once.
    let full = (0..100_000).find_map(|_| n.notify(&[State::Status("filling")]).err());
    match full {
        Some(NotifyError::Full { target }) => assert_eq!(target, addr),
        other => panic!("expected Full, got {other:?}"),
    }
    drop(m);
}

#[test]
fn a_missing_socket_is_a_sys_error_with_errno() {
    let dir = std::env::temp_dir().join(format!("podmon-notify-none-{}", std::process::id()));
    let n = Notifier::to(&dir.join("absent").display().to_string()).unwrap();
    match n.notify(&[State::Ready]) {
        Err(NotifyError::Sys(e)) => assert_eq!(e.errno, Some(libc::ENOENT), "{e}"),
        other => panic!("{other:?}"),
    }
}
