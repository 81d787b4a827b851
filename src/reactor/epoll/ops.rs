//! The epoll backend's operations: each tries its system call on the
//! non-blocking descriptor first and waits for readiness ([`ready`]) only
//! when the kernel says EAGAIN; `coop` keeps a busy descriptor from
//! starving the other tasks.

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::task::Poll;

use rustix::event::epoll::EventFlags;
use rustix::io::Errno;

use super::{coop, ready};
use crate::reactor::select::{Either, select};

/// Puts `fd` in non-blocking mode, so that a system call on it returns
/// EAGAIN instead of stalling the loop. The ops only touch podmon's own
/// ends of pipes, sockets and ptys (children get other file descriptions),
/// so the flag changes nobody else's behaviour.
fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let fl = rustix::fs::fcntl_getfl(fd)?;
    if !fl.contains(rustix::fs::OFlags::NONBLOCK) {
        rustix::fs::fcntl_setfl(fd, fl | rustix::fs::OFlags::NONBLOCK)?;
    }
    Ok(())
}

/// `ops::read` on epoll: read(2) at once, wait for EPOLLIN on EAGAIN.
pub(crate) async fn read(
    fd: BorrowedFd<'_>,
    buf: Vec<u8>,
    max: usize,
) -> (io::Result<usize>, Vec<u8>) {
    read_until(fd, buf, max, std::future::pending()).await
}

/// `ops::read_until` on epoll: read(2) happens only after readiness, on
/// this thread, so racing the wait for readiness against `stop` cannot
/// lose data; a `stop` that wins leaves every byte in the descriptor.
pub(crate) async fn read_until(
    fd: BorrowedFd<'_>,
    mut buf: Vec<u8>,
    max: usize,
    stop: impl Future<Output = ()>,
) -> (io::Result<usize>, Vec<u8>) {
    coop().await;
    let mut stop = std::pin::pin!(stop);
    let stopped = || io::Error::from_raw_os_error(libc::ECANCELED);
    // The same rule as on io_uring: a stop that is due already reads nothing.
    let due = std::future::poll_fn(|cx| Poll::Ready(stop.as_mut().poll(cx).is_ready())).await;
    if due {
        return (Err(stopped()), buf);
    }
    if let Err(e) = set_nonblocking(fd) {
        return (Err(e), buf);
    }
    let start = buf.len();
    let room = (buf.capacity() - start).min(max).min(u32::MAX as usize);
    loop {
        let spare: &mut [MaybeUninit<u8>] = &mut buf.spare_capacity_mut()[..room];
        match rustix::io::read(fd, spare) {
            Ok((init, _)) => {
                let n = init.len();
                // SAFETY: read(2) initialised the first `n` spare bytes.
                unsafe { buf.set_len(start + n) };
                return (Ok(n), buf);
            }
            Err(Errno::AGAIN) => {
                match select(ready(fd, EventFlags::IN), stop.as_mut()).await {
                    Either::Left(Ok(())) => {}
                    Either::Left(Err(e)) => return (Err(e), buf),
                    // `stop` is not polled again once it has resolved.
                    Either::Right(()) => return (Err(stopped()), buf),
                }
            }
            Err(Errno::INTR) => {}
            Err(e) => return (Err(e.into()), buf),
        }
    }
}

/// `ops::write` on epoll: write(2) at once (a regular file never says
/// EAGAIN, so log files are written synchronously), wait for EPOLLOUT on
/// EAGAIN (a full pipe or pty).
pub(crate) async fn write(
    fd: BorrowedFd<'_>,
    buf: Vec<u8>,
    from: usize,
) -> (io::Result<usize>, Vec<u8>) {
    coop().await;
    if let Err(e) = set_nonblocking(fd) {
        return (Err(e), buf);
    }
    let end = buf.len().min(from.saturating_add(u32::MAX as usize));
    loop {
        match rustix::io::write(fd, &buf[from..end]) {
            Ok(n) => return (Ok(n), buf),
            Err(Errno::AGAIN) => {
                if let Err(e) = ready(fd, EventFlags::OUT).await {
                    return (Err(e), buf);
                }
            }
            Err(Errno::INTR) => {}
            Err(e) => return (Err(e.into()), buf),
        }
    }
}

/// `ops::recv` on epoll: recv(2) with MSG_DONTWAIT (no need to change the
/// socket's flags), wait for EPOLLIN on EAGAIN.
pub(crate) async fn recv(fd: BorrowedFd<'_>, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
    coop().await;
    let start = buf.len();
    let room = (buf.capacity() - start).min(u32::MAX as usize);
    loop {
        let spare: &mut [MaybeUninit<u8>] = &mut buf.spare_capacity_mut()[..room];
        match rustix::net::recv(fd, spare, rustix::net::RecvFlags::DONTWAIT) {
            Ok(((init, _), _)) => {
                let n = init.len();
                // SAFETY: recv(2) initialised the first `n` spare bytes.
                unsafe { buf.set_len(start + n) };
                return (Ok(n), buf);
            }
            Err(Errno::AGAIN) => {
                if let Err(e) = ready(fd, EventFlags::IN).await {
                    return (Err(e), buf);
                }
            }
            Err(Errno::INTR) => {}
            Err(e) => return (Err(e.into()), buf),
        }
    }
}

/// `ops::send_all` on epoll: send(2) with MSG_DONTWAIT | MSG_NOSIGNAL until
/// all is sent, waiting for EPOLLOUT whenever the socket buffer is full.
pub(crate) async fn send_all(fd: BorrowedFd<'_>, mut buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
    use rustix::net::SendFlags;
    let mut done = 0;
    while done < buf.len() {
        coop().await;
        match rustix::net::send(fd, &buf[done..], SendFlags::DONTWAIT | SendFlags::NOSIGNAL) {
            Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
            Ok(n) => done += n,
            Err(Errno::AGAIN) => {
                if let Err(e) = ready(fd, EventFlags::OUT).await {
                    return (Err(e), buf);
                }
            }
            Err(Errno::INTR) => {}
            Err(e) => return (Err(e.into()), buf),
        }
    }
    buf.clear();
    (Ok(()), buf)
}

/// `ops::accept` on epoll: accept4(2) on the (now non-blocking) listener,
/// waiting for EPOLLIN on EAGAIN. The new socket is blocking, as with
/// io_uring; the ops that use it do not depend on that.
pub(crate) async fn accept(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    coop().await;
    set_nonblocking(fd)?;
    loop {
        match rustix::net::accept_with(fd, rustix::net::SocketFlags::CLOEXEC) {
            Ok(sock) => return Ok(sock),
            Err(Errno::AGAIN) => ready(fd, EventFlags::IN).await?,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// `ops::readable` on epoll: waits for EPOLLIN (or a hang-up). The
/// descriptor's flags are left alone: a pidfd's O_NONBLOCK would change
/// what waitid on it does.
pub(crate) async fn readable(fd: BorrowedFd<'_>) -> io::Result<()> {
    coop().await;
    ready(fd, EventFlags::IN).await
}

/// Waits for EPOLLOUT: a non-blocking connect that finished.
pub(crate) async fn writable(fd: BorrowedFd<'_>) -> io::Result<()> {
    coop().await;
    ready(fd, EventFlags::OUT).await
}
