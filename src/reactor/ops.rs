//! Futures for the io_uring operations podmon uses.
//!
//! Each operation takes its buffer by value and gives it back with the
//! result: while the kernel uses the memory, no one else can. Dropping an
//! operation's future cancels it; the ring keeps the buffer until the kernel
//! confirms, then frees it. Whatever a dropped read had read by then is
//! lost: to stop reading without losing a byte, use `read_until`.
//!
//! On the epoll backend each function hands over to its readiness-based
//! twin in `epoll.rs` first thing; the io_uring code below is unchanged.

use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use io_uring::{opcode, types};

use super::ring::{self, Owned};
use super::{backend, epoll};

pub(super) use super::op::Op;

fn result(res: i32) -> io::Result<usize> {
    if res < 0 {
        Err(io::Error::from_raw_os_error(-res))
    } else {
        Ok(res as usize)
    }
}

fn take_buf(owned: Owned) -> Vec<u8> {
    match owned {
        Owned::Buf(b) => b,
        _ => Vec::new(),
    }
}

/// Reads at most `max` bytes into the spare capacity of `buf` (after its
/// current length); returns the byte count (0 at end of file) and the
/// buffer with its length grown by that count.
pub async fn read(fd: BorrowedFd<'_>, buf: Vec<u8>, max: usize) -> (io::Result<usize>, Vec<u8>) {
    if backend::is_epoll() {
        return epoll::read(fd, buf, max).await;
    }
    let start = buf.len();
    let (res, owned) = submit_read(fd, buf, max).await;
    finish_read(res, owned, start)
}

/// Submits an IORING_OP_READ into the spare capacity of `buf`.
fn submit_read(fd: BorrowedFd<'_>, mut buf: Vec<u8>, max: usize) -> Op {
    let start = buf.len();
    let room = (buf.capacity() - start).min(max).min(u32::MAX as usize) as u32;
    // SAFETY: the pointer is into `buf`'s heap allocation, which moves into
    // the slot unchanged (moving a Vec does not move its heap data).
    let ptr = unsafe { buf.as_mut_ptr().add(start) };
    let entry = opcode::Read::new(types::Fd(fd.as_raw_fd()), ptr, room)
        .offset(u64::MAX)
        .build();
    // SAFETY: `ptr` points into `buf`, owned by the slot until completion;
    // the caller borrows `fd` for as long as it awaits the op.
    unsafe { Op::submit(entry, Owned::Buf(buf)) }
}

/// The buffer of a completed read, its length grown by what was read.
fn finish_read(res: i32, owned: Owned, start: usize) -> (io::Result<usize>, Vec<u8>) {
    let mut buf = take_buf(owned);
    let r = result(res);
    if let Ok(n) = r {
        // SAFETY: the kernel initialised `n` bytes after `start`.
        unsafe { buf.set_len(start + n) };
    }
    (r, buf)
}

/// Whether an error from [`read_until`] means it was stopped (nothing was
/// read, and the next read gets the bytes this one would have).
pub fn is_stopped(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ECANCELED)
}

/// Like `read`, but gives up once `stop` resolves, without losing a byte:
/// it ends either with the data it read (`Ok`, even if `stop` resolved
/// meanwhile) or with ECANCELED (see [`is_stopped`]) and nothing consumed,
/// so the bytes stay in the descriptor for whoever reads it next. Dropping
/// a `read` instead may discard data the kernel already read.
///
/// A `stop` that is ready at the first poll stops before anything is read.
/// On io_uring a later `stop` cancels the read in the kernel and waits for
/// its own completion, which says which of the two happened.
pub async fn read_until(
    fd: BorrowedFd<'_>,
    buf: Vec<u8>,
    max: usize,
    stop: impl Future<Output = ()>,
) -> (io::Result<usize>, Vec<u8>) {
    if backend::is_epoll() {
        return epoll::read_until(fd, buf, max, stop).await;
    }
    let start = buf.len();
    let mut stop = std::pin::pin!(stop);
    let mut buf = Some(buf);
    let mut op: Option<Op> = None;
    let mut cancelled = false;
    let done = std::future::poll_fn(|cx| {
        let Some(op) = op.as_mut() else {
            if stop.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            let submitted = op.insert(submit_read(fd, buf.take().expect("buffer"), max));
            // Registers the waker; the kernel sees the read at the next turn.
            return Pin::new(submitted).poll(cx).map(Some);
        };
        if let Poll::Ready(done) = Pin::new(&mut *op).poll(cx) {
            return Poll::Ready(Some(done));
        }
        if !cancelled && stop.as_mut().poll(cx).is_ready() {
            cancelled = true;
            ring::cancel(op.key.expect("op in flight"));
        }
        Poll::Pending
    })
    .await;
    let stopped = || io::Error::from_raw_os_error(libc::ECANCELED);
    match done {
        None => (Err(stopped()), buf.take().expect("buffer")),
        // A cancelled read that had not started is -ECANCELED; one that was
        // blocked on an io-wq worker is interrupted (-EINTR): neither read.
        Some((res, owned)) if cancelled && (res == -libc::ECANCELED || res == -libc::EINTR) => {
            let (_, buf) = finish_read(0, owned, start);
            (Err(stopped()), buf)
        }
        Some((res, owned)) => finish_read(res, owned, start),
    }
}

/// Refuses a start offset past the end of the buffer, the same way on both
/// backends: io_uring would be handed a pointer outside the allocation and
/// epoll would panic slicing, so neither may see it.
fn check_from(buf: &[u8], from: usize) -> io::Result<()> {
    if from <= buf.len() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("write from offset {from} of a {}-byte buffer", buf.len()),
    ))
}

/// Writes `buf[from..]` at the file position (or appends, for O_APPEND
/// files); returns the count written and the buffer. `from` past the end
/// of `buf` is an `InvalidInput` error.
pub async fn write(fd: BorrowedFd<'_>, buf: Vec<u8>, from: usize) -> (io::Result<usize>, Vec<u8>) {
    if let Err(e) = check_from(&buf, from) {
        return (Err(e), buf);
    }
    if backend::is_epoll() {
        return epoll::write(fd, buf, from).await;
    }
    write_with(fd, buf, from, io_uring::squeue::Flags::empty()).await
}

/// Like `write`, but the kernel runs it on an io-wq worker from the start
/// (IOSQE_ASYNC) instead of trying it inline first: a buffered file write
/// then copies into the page cache on the worker while this thread goes on
/// reading and formatting.
pub async fn write_offloaded(
    fd: BorrowedFd<'_>,
    buf: Vec<u8>,
    from: usize,
) -> (io::Result<usize>, Vec<u8>) {
    if let Err(e) = check_from(&buf, from) {
        return (Err(e), buf);
    }
    if backend::is_epoll() {
        return epoll::write(fd, buf, from).await;
    }
    write_with(fd, buf, from, io_uring::squeue::Flags::ASYNC).await
}

async fn write_with(
    fd: BorrowedFd<'_>,
    buf: Vec<u8>,
    from: usize,
    flags: io_uring::squeue::Flags,
) -> (io::Result<usize>, Vec<u8>) {
    let len = (buf.len() - from).min(u32::MAX as usize) as u32;
    // SAFETY: in bounds: the callers checked from <= len (`check_from`).
    let ptr = unsafe { buf.as_ptr().add(from) };
    let entry = opcode::Write::new(types::Fd(fd.as_raw_fd()), ptr, len)
        .offset(u64::MAX)
        .build()
        .flags(flags);
    // SAFETY: `ptr` points into `buf`, owned by the slot until completion.
    let (res, owned) = unsafe { Op::submit(entry, Owned::Buf(buf)) }.await;
    (result(res), take_buf(owned))
}

/// Writes all of `buf`, retrying short writes; the buffer comes back empty
/// (its capacity kept) on success.
pub async fn write_all(fd: BorrowedFd<'_>, mut buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
    let mut done = 0;
    while done < buf.len() {
        let (r, b) = write(fd, buf, done).await;
        buf = b;
        match r {
            Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (Err(e), buf),
        }
    }
    buf.clear();
    (Ok(()), buf)
}

/// Receives from a socket into the spare capacity of `buf`, like `read`.
pub async fn recv(fd: BorrowedFd<'_>, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
    if backend::is_epoll() {
        return epoll::recv(fd, buf).await;
    }
    let start = buf.len();
    let room = (buf.capacity() - start).min(u32::MAX as usize) as u32;
    // SAFETY: see `read`.
    let ptr = unsafe { buf.as_mut_ptr().add(start) };
    let entry = opcode::Recv::new(types::Fd(fd.as_raw_fd()), ptr, room).build();
    // SAFETY: `ptr` points into `buf`, owned by the slot until completion.
    let (res, owned) = unsafe { Op::submit(entry, Owned::Buf(buf)) }.await;
    let mut buf = take_buf(owned);
    let r = result(res);
    if let Ok(n) = r {
        // SAFETY: the kernel initialised `n` bytes after `start`.
        unsafe { buf.set_len(start + n) };
    }
    (r, buf)
}

/// Sends all of `buf` on a socket (MSG_NOSIGNAL: a closed peer is an error,
/// not a SIGPIPE).
pub async fn send_all(fd: BorrowedFd<'_>, mut buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
    if backend::is_epoll() {
        return epoll::send_all(fd, buf).await;
    }
    let mut done = 0;
    while done < buf.len() {
        let len = (buf.len() - done).min(u32::MAX as usize) as u32;
        // SAFETY: in bounds.
        let ptr = unsafe { buf.as_ptr().add(done) };
        let entry = opcode::Send::new(types::Fd(fd.as_raw_fd()), ptr, len)
            .flags(libc::MSG_NOSIGNAL)
            .build();
        // SAFETY: `ptr` points into `buf`, owned by the slot until completion.
        let (res, owned) = unsafe { Op::submit(entry, Owned::Buf(buf)) }.await;
        buf = take_buf(owned);
        match result(res) {
            Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (Err(e), buf),
        }
    }
    buf.clear();
    (Ok(()), buf)
}

/// Accepts one connection (close-on-exec); returns the new socket.
pub async fn accept(fd: BorrowedFd<'_>) -> io::Result<std::os::fd::OwnedFd> {
    if backend::is_epoll() {
        return epoll::accept(fd).await;
    }
    // Readiness, then accept4(2) at once: dropping this future (an
    // acceptor stopped for a live upgrade) never takes a connection off
    // the backlog that nobody then serves, as a cancelled IORING_OP_ACCEPT
    // that completed could.
    let fl = rustix::fs::fcntl_getfl(fd)?;
    if !fl.contains(rustix::fs::OFlags::NONBLOCK) {
        rustix::fs::fcntl_setfl(fd, fl | rustix::fs::OFlags::NONBLOCK)?;
    }
    loop {
        match rustix::net::accept_with(fd, rustix::net::SocketFlags::CLOEXEC) {
            Ok(sock) => return Ok(sock),
            Err(rustix::io::Errno::AGAIN) => readable(fd).await?,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Connects the non-blocking stream socket `fd` to `addr` (an
/// IORING_OP_CONNECT, or connect(2) and a wait for writability on epoll);
/// ECONNREFUSED and the like come back as the error.
pub async fn connect(fd: BorrowedFd<'_>, addr: std::net::SocketAddr) -> io::Result<()> {
    super::connect::connect(fd, addr).await
}

/// Waits until `fd` is readable (or hung up); used for pidfds, which become
/// readable when the process exits.
pub async fn readable(fd: BorrowedFd<'_>) -> io::Result<()> {
    if backend::is_epoll() {
        return epoll::readable(fd).await;
    }
    let entry = opcode::PollAdd::new(types::Fd(fd.as_raw_fd()), libc::POLLIN as u32).build();
    // SAFETY: no memory is passed to the kernel.
    let (res, _) = unsafe { Op::submit(entry, Owned::Nothing) }.await;
    result(res).map(|_| ())
}

/// `fdatasync(fd)` on an io-wq worker (IORING_OP_FSYNC with DATASYNC), so
/// the loop goes on while the disk works. The epoll backend has no way to
/// run it off the loop: there it is `Unsupported`, and the caller picks
/// another way (see `logs::sync`).
pub async fn fdatasync(fd: BorrowedFd<'_>) -> io::Result<()> {
    if backend::is_epoll() {
        return Err(io::ErrorKind::Unsupported.into());
    }
    let entry = opcode::Fsync::new(types::Fd(fd.as_raw_fd()))
        .flags(types::FsyncFlags::DATASYNC)
        .build();
    // SAFETY: no memory is passed to the kernel; it holds its own
    // reference to the file for the operation.
    let (res, _) = unsafe { Op::submit(entry, Owned::Nothing) }.await;
    result(res).map(|_| ())
}

/// `sync_file_range(fd, offset, len, flags)` on an io-wq worker, so a
/// wait for writeback (`SYNC_FILE_RANGE_WAIT_*`) never holds the loop.
/// `Unsupported` on the epoll backend, like [`fdatasync`].
pub async fn sync_range(fd: BorrowedFd<'_>, offset: u64, len: u32, flags: u32) -> io::Result<()> {
    if backend::is_epoll() {
        return Err(io::ErrorKind::Unsupported.into());
    }
    let entry = opcode::SyncFileRange::new(types::Fd(fd.as_raw_fd()), len)
        .offset(offset)
        .flags(flags)
        .build();
    // SAFETY: no memory is passed to the kernel.
    let (res, _) = unsafe { Op::submit(entry, Owned::Nothing) }.await;
    result(res).map(|_| ())
}

/// `posix_fadvise(fd, offset, len, advice)` as IORING_OP_FADVISE (the
/// kernel runs the advice that can block, such as DONTNEED, on io-wq).
/// `Unsupported` on the epoll backend.
pub async fn fadvise(fd: BorrowedFd<'_>, offset: u64, len: u32, advice: i32) -> io::Result<()> {
    if backend::is_epoll() {
        return Err(io::ErrorKind::Unsupported.into());
    }
    let entry = opcode::Fadvise::new(types::Fd(fd.as_raw_fd()), len.into(), advice)
        .offset(offset)
        .build();
    // SAFETY: no memory is passed to the kernel.
    let (res, _) = unsafe { Op::submit(entry, Owned::Nothing) }.await;
    result(res).map(|_| ())
}

/// Waits until `fd` is writable (or hung up): a socket whose send buffer
/// has room again.
pub async fn writable(fd: BorrowedFd<'_>) -> io::Result<()> {
    if backend::is_epoll() {
        return epoll::writable(fd).await;
    }
    let entry = opcode::PollAdd::new(types::Fd(fd.as_raw_fd()), libc::POLLOUT as u32).build();
    // SAFETY: no memory is passed to the kernel.
    let (res, _) = unsafe { Op::submit(entry, Owned::Nothing) }.await;
    result(res).map(|_| ())
}

/// Sleeps for `d` in the kernel (an io_uring timeout).
pub async fn sleep(d: Duration) {
    if backend::is_epoll() {
        return epoll::sleep(d).await;
    }
    let ts = Box::new(
        types::Timespec::new()
            .sec(d.as_secs())
            .nsec(d.subsec_nanos()),
    );
    let entry = opcode::Timeout::new(&*ts as *const types::Timespec).build();
    // SAFETY: the timespec is boxed and owned by the slot until completion.
    let _ = unsafe { Op::submit(entry, Owned::Timespec(ts)) }.await;
}
