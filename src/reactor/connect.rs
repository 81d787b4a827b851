//! `ops::connect` on both backends: a non-blocking connect whose wait
//! for the handshake goes through the loop, never stalling it.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

use io_uring::{opcode, types};

use super::op::Op;
use super::ring::Owned;
use super::{backend, epoll};

/// The C form of `addr`, boxed so its address is stable while the kernel
/// reads it.
fn sockaddr(addr: SocketAddr) -> (Box<libc::sockaddr_storage>, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut ss: Box<libc::sockaddr_storage> = Box::new(unsafe { std::mem::zeroed() });
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            let sin = unsafe { &mut *(&mut *ss as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from(*a.ip()).to_be();
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut *ss as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

/// Connects the (non-blocking) stream socket `fd` to `addr`.
pub(super) async fn connect(fd: BorrowedFd<'_>, addr: SocketAddr) -> io::Result<()> {
    let (ss, len) = sockaddr(addr);
    if backend::is_epoll() {
        return connect_epoll(fd, &ss, len).await;
    }
    let ptr = &*ss as *const libc::sockaddr_storage as *const libc::sockaddr;
    let entry = opcode::Connect::new(types::Fd(fd.as_raw_fd()), ptr, len).build();
    // SAFETY: `ptr` points into the box, owned by the slot until completion.
    let (res, _) = unsafe { Op::submit(entry, Owned::Addr(ss)) }.await;
    if res < 0 {
        return Err(io::Error::from_raw_os_error(-res));
    }
    Ok(())
}

/// connect(2), then on EINPROGRESS a wait for writability and SO_ERROR.
async fn connect_epoll(
    fd: BorrowedFd<'_>,
    ss: &libc::sockaddr_storage,
    len: libc::socklen_t,
) -> io::Result<()> {
    let ptr = ss as *const libc::sockaddr_storage as *const libc::sockaddr;
    // SAFETY: `ptr` and `len` describe a valid socket address in `ss`.
    if unsafe { libc::connect(fd.as_raw_fd(), ptr, len) } == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::EINPROGRESS) {
        return Err(e);
    }
    epoll::writable(fd).await?;
    match rustix::net::sockopt::socket_error(fd)? {
        Ok(()) => Ok(()),
        Err(errno) => Err(errno.into()),
    }
}
