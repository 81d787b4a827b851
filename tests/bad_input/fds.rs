//! Descriptors sent along with calls (SCM_RIGHTS). Only CreateContainer
//! takes any (tests/fdpass); every other method refuses them with
//! InvalidValue naming "fileDescriptors" and closes them, more than 64 with
//! one message is LimitExceeded and the close, and descriptors sent with
//! bytes where no message starts are closed. Whatever the message and
//! wherever in it the descriptors arrive, the monitor holds no more
//! descriptors than before.

use serde_json::{Value, json};
use std::io::{ErrorKind, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::common::*;
use crate::fd_count;
use crate::table::GET_INFO;

/// Sends `bytes` on `sock` with `fds` attached in one sendmsg(2).
fn send_with_fds(sock: &UnixStream, bytes: &[u8], fds: &[RawFd]) {
    let payload = std::mem::size_of_val(fds);
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(payload as u32) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    // SAFETY: msghdr is plain data; every field used is set below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `control` has CMSG_SPACE(payload) bytes, so the first header
    // and `payload` bytes of data fit (CMSG_FIRSTHDR is non-null for it).
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        assert!(!cmsg.is_null());
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(payload as u32) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(cmsg), payload);
    }
    // SAFETY: `msg` points at `iov`, `bytes` and `control`, all alive.
    let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    assert_eq!(
        n,
        bytes.len() as isize,
        "sendmsg: {}",
        std::io::Error::last_os_error()
    );
}

/// Reads one NUL-terminated message, or None at EOF or reset.
fn read_message(sock: &mut UnixStream) -> Option<Value> {
    let mut out = vec![];
    let mut byte = [0u8];
    loop {
        match sock.read(&mut byte) {
            Ok(0) => return None,
            Ok(_) if byte[0] == 0 => return Some(serde_json::from_slice(&out).unwrap()),
            Ok(_) => out.push(byte[0]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
            Err(e) => panic!("reading a reply: {e}"),
        }
    }
}

fn connect(pod: &Pod) -> UnixStream {
    let s = UnixStream::connect(&pod.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn get_info() -> Vec<u8> {
    Client::encode(GET_INFO, Value::Null, false, false)
}

/// The InvalidValue a call that takes no descriptors gets for them.
#[track_caller]
fn assert_refused(reply: Option<Value>) {
    let reply = reply.expect("no reply");
    assert_eq!(reply["error"], json!(INVALID_VALUE), "{reply}");
    assert_eq!(
        reply["parameters"]["parameter"], "fileDescriptors",
        "{reply}"
    );
}

#[test]
fn descriptors_sent_with_calls_are_not_kept() {
    let pod = Pod::start("bad-fds");
    let before = fd_count(pod.pid);
    let (r, w) = std::io::pipe().unwrap();
    let pipe = [r.as_raw_fd(), w.as_raw_fd()];
    // Three with one whole call of a method that takes none: refused, and
    // the connection goes on.
    let mut s = connect(&pod);
    send_with_fds(&s, &get_info(), &[pipe[0], pipe[1], pipe[0]]);
    assert_refused(read_message(&mut s));
    let nope = Client::encode(GET_CONTAINER, json!({"id": "ghost"}), false, false);
    send_with_fds(&s, &nope, &[pipe[0]]);
    assert_refused(read_message(&mut s));
    // With the second half of a message (not where a message starts):
    // closed, and the call is answered as if none came. (Had the monitor
    // read both halves at once, it could not tell: the kernel does not say
    // where in a read the descriptors' bytes began. The pause lets it read
    // the first half alone.)
    let call = get_info();
    let (a, b) = call.split_at(10);
    send_with_fds(&s, a, &[]);
    std::thread::sleep(Duration::from_millis(300));
    send_with_fds(&s, b, &[pipe[1]]);
    assert!(read_message(&mut s).unwrap()["parameters"]["interfaces"].is_array());
    // Pipelined: the descriptors go with the second call, not the first.
    let mut two = get_info();
    send_with_fds(&s, &two, &[]);
    two = nope.clone();
    send_with_fds(&s, &two, &[pipe[0]]);
    assert!(read_message(&mut s).unwrap()["parameters"]["interfaces"].is_array());
    assert_refused(read_message(&mut s));
    // One more than a message may carry (64): LimitExceeded, then the close.
    send_with_fds(&s, &get_info(), &[pipe[0]; 65]);
    let reply = read_message(&mut s).unwrap();
    assert_eq!(
        reply["error"],
        json!("io.podmon.Pod.LimitExceeded"),
        "{reply}"
    );
    assert_eq!(
        reply["parameters"],
        json!({"limit": "fileDescriptors", "max": 64})
    );
    assert!(read_message(&mut s).is_none(), "not closed after too many");
    // As many as the kernel lets one message carry (SCM_MAX_FD is 253).
    let mut s = connect(&pod);
    send_with_fds(&s, &get_info(), &[pipe[0]; 253]);
    assert_eq!(
        read_message(&mut s).unwrap()["error"],
        json!("io.podmon.Pod.LimitExceeded")
    );
    // With a malformed message (the close).
    let mut s = connect(&pod);
    send_with_fds(&s, b"{\"method\":\0", &[pipe[0], pipe[1]]);
    assert!(
        read_message(&mut s).is_none(),
        "malformed message not closed"
    );
    // During a long call, then hanging up.
    pod.run(
        "w",
        &["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"],
    );
    let during = fd_count(pod.pid);
    let s = connect(&pod);
    send_with_fds(
        &s,
        &Client::encode(WAIT_CONTAINER, json!({"id": "w"}), false, false),
        &[],
    );
    send_with_fds(&s, &get_info(), &[pipe[0]; 16]);
    drop(s);
    // Pipelined during a long call: more than 256 held for the calls
    // waiting is LimitExceeded (the long call's reply), then the close.
    let mut s = connect(&pod);
    send_with_fds(
        &s,
        &Client::encode(WAIT_CONTAINER, json!({"id": "w"}), false, false),
        &[],
    );
    for _ in 0..5 {
        send_with_fds(&s, &get_info(), &[pipe[1]; 64]);
    }
    let reply = read_message(&mut s).unwrap();
    assert_eq!(
        reply["parameters"],
        json!({"limit": "heldFileDescriptors", "max": 256}),
        "{reply}"
    );
    assert!(read_message(&mut s).is_none(), "not closed");
    drop(s);
    // Nothing was kept: the pipe's write end is ours alone, so reading it
    // after closing ours sees EOF.
    drop(w);
    // SAFETY: fcntl(2) on a descriptor we own, setting a status flag.
    unsafe { libc::fcntl(r.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let mut r = std::fs::File::from(std::os::fd::OwnedFd::from(r));
    let mut buf = [0u8; 1];
    let got = r.read(&mut buf);
    assert!(
        matches!(got, Ok(0)),
        "the monitor holds the pipe's write end: {got:?}"
    );
    let back = wait_until(Duration::from_secs(5), || fd_count(pod.pid) <= during);
    assert!(back, "{} descriptors, {during} before", fd_count(pod.pid));
    assert!(before <= during);
}
