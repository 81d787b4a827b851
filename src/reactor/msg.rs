//! Socket messages that carry file descriptors (SCM_RIGHTS), on both
//! backends: readiness first, then one non-blocking recvmsg(2) or
//! sendmsg(2) at once.
//!
//! Waiting for readiness rather than submitting a RECVMSG keeps the
//! descriptors' ownership plain: a received descriptor exists only as an
//! [`OwnedFd`] returned to the caller, never in a buffer of a cancelled
//! operation, so dropping a receive (a hang-up, an upgrade) can neither
//! lose bytes nor leak a descriptor. Descriptors are received with
//! MSG_CMSG_CLOEXEC, so none leaks into a child either.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

use super::ops;

/// What one receive brought.
#[derive(Debug)]
pub struct Received {
    /// The byte count (0 at end of stream), or the error.
    pub result: io::Result<usize>,
    /// The buffer, its length grown by the bytes received.
    pub buf: Vec<u8>,
    /// The descriptors that came with the bytes, at most the `max_fds`
    /// asked for; ours to close.
    pub fds: Vec<OwnedFd>,
    /// More descriptors came than `max_fds` (MSG_CTRUNC, or more than
    /// asked for): the kernel closed those that did not fit, and the
    /// sender is over its bound.
    pub fds_truncated: bool,
}

/// Receives bytes into the spare capacity of `buf` (as `ops::recv` does)
/// and up to `max_fds` descriptors with them. The kernel ends a receive
/// right after the bytes that carried descriptors, so the descriptors
/// belong to the last sendmsg(2) whose bytes this receive returns.
pub async fn recv_with_fds(fd: BorrowedFd<'_>, mut buf: Vec<u8>, max_fds: usize) -> Received {
    // One more than allowed, so that "too many" is seen (MSG_CTRUNC alone
    // says only that the space ran out).
    let mut space = vec![MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(max_fds + 1))];
    loop {
        match try_recv(fd, &mut buf, &mut space, max_fds) {
            Err(Errno::AGAIN) => {
                if let Err(e) = ops::readable(fd).await {
                    return failed(e, buf);
                }
            }
            Err(Errno::INTR) => {}
            Err(e) => return failed(e.into(), buf),
            Ok((n, fds, fds_truncated)) => {
                return Received {
                    result: Ok(n),
                    buf,
                    fds,
                    fds_truncated,
                };
            }
        }
    }
}

fn failed(e: io::Error, buf: Vec<u8>) -> Received {
    Received {
        result: Err(e),
        buf,
        fds: Vec::new(),
        fds_truncated: false,
    }
}

/// Most bytes one recvmsg reads (and zeroes first).
const RECV_WINDOW: usize = 4 * 1024;

/// One recvmsg(2), MSG_DONTWAIT | MSG_CMSG_CLOEXEC.
fn try_recv(
    fd: BorrowedFd<'_>,
    buf: &mut Vec<u8>,
    space: &mut [MaybeUninit<u8>],
    max_fds: usize,
) -> Result<(usize, Vec<OwnedFd>, bool), Errno> {
    let start = buf.len();
    // rustix's recvmsg wants initialised memory: zero only a window of the
    // spare capacity, not all of it, so an idle connection keeps a page or
    // two resident rather than its whole buffer (200 clients held 64 KiB
    // each, and the allocator kept it after they left). A bigger message
    // takes more reads.
    let window = buf.capacity().min(start + RECV_WINDOW).max(start + 1);
    buf.resize(window, 0);
    let mut control = RecvAncillaryBuffer::new(space);
    let got = rustix::net::recvmsg(
        fd,
        &mut [IoSliceMut::new(&mut buf[start..])],
        &mut control,
        RecvFlags::DONTWAIT | RecvFlags::CMSG_CLOEXEC,
    );
    let got = match got {
        Ok(m) => m,
        Err(e) => {
            buf.truncate(start);
            return Err(e);
        }
    };
    buf.truncate(start + got.bytes);
    let mut fds = Vec::new();
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = msg {
            fds.extend(rights);
        }
    }
    let truncated = got.flags.contains(ReturnFlags::CTRUNC) || fds.len() > max_fds;
    // Over the bound, none is kept: closed here, the call gets the error.
    if truncated {
        fds.clear();
    }
    Ok((got.bytes, fds, truncated))
}

/// Sends all of `buf` on a socket with `fds` attached to its first byte
/// (MSG_NOSIGNAL); the rest goes as `ops::send_all` sends it. The
/// descriptors are ours until the kernel has them: dropped (closed here)
/// once sent or on failure. The buffer comes back empty on success.
pub async fn send_with_fds(
    fd: BorrowedFd<'_>,
    buf: Vec<u8>,
    fds: Vec<OwnedFd>,
) -> (io::Result<()>, Vec<u8>) {
    if fds.is_empty() || buf.is_empty() {
        return ops::send_all(fd, buf).await;
    }
    let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
    let mut space = vec![MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(fds.len()))];
    let sent = loop {
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !control.push(SendAncillaryMessage::ScmRights(&borrowed)) {
            return (Err(io::Error::other("descriptors do not fit")), buf);
        }
        let r = rustix::net::sendmsg(
            fd,
            &[IoSlice::new(&buf)],
            &mut control,
            SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
        );
        match r {
            Ok(n) => break n,
            Err(Errno::AGAIN) => {
                if let Err(e) = ops::writable(fd).await {
                    return (Err(e), buf);
                }
            }
            Err(Errno::INTR) => {}
            Err(e) => return (Err(e.into()), buf),
        }
    };
    // The peer holds its own copies now.
    drop(borrowed);
    drop(fds);
    if sent == 0 {
        return (Err(io::ErrorKind::WriteZero.into()), buf);
    }
    let rest = buf[sent..].to_vec();
    let (r, mut back) = ops::send_all(fd, rest).await;
    back.clear();
    (r, back)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn descriptors_go_with_the_bytes_and_too_many_are_refused() {
        crate::reactor::tests::on_both(|_| async {
            let (a, b) = UnixStream::pair().unwrap();
            let (r, _w) = std::io::pipe().unwrap();
            let fds = vec![OwnedFd::from(r.try_clone().unwrap()), OwnedFd::from(r)];
            let (res, _) = send_with_fds(a.as_fd(), b"hello\0".to_vec(), fds).await;
            res.unwrap();
            let got = recv_with_fds(b.as_fd(), Vec::with_capacity(64), 4).await;
            assert_eq!(got.result.unwrap(), 6);
            assert_eq!(got.buf, b"hello\0");
            assert_eq!(got.fds.len(), 2);
            assert!(!got.fds_truncated);
            let (p, _q) = std::io::pipe().unwrap();
            let many: Vec<OwnedFd> = (0..5)
                .map(|_| OwnedFd::from(p.try_clone().unwrap()))
                .collect();
            send_with_fds(a.as_fd(), b"x".to_vec(), many)
                .await
                .0
                .unwrap();
            let got = recv_with_fds(b.as_fd(), Vec::with_capacity(64), 4).await;
            assert_eq!(got.result.unwrap(), 1);
            assert!(got.fds.is_empty());
            assert!(got.fds_truncated);
        });
    }
}
