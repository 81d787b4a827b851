//! PortForward's connection: a TCP socket made inside the pod's network
//! namespace (by the monitor's own thread, `sys::netns::socket_in`) and
//! connected through the loop to 127.0.0.1, then ::1, so a listener on
//! either, IPv6-only ones included, is reached.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use super::netns::pod_netns;
use super::{Pod, PodError};
use crate::reactor::{ops, sync};
use crate::sys::error::SysError;
use crate::sys::netns;

/// How long one connect may take: loopback answers at once unless the
/// listener's backlog is full.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors that mean "nobody listens there" rather than a failure of ours:
/// a refused connect, or an address the namespace does not have (no ::1
/// where IPv6 is off).
fn nobody_there(errno: Option<i32>) -> bool {
    matches!(
        errno,
        Some(libc::ECONNREFUSED | libc::EADDRNOTAVAIL | libc::ENETUNREACH | libc::EAFNOSUPPORT)
    )
}

/// A TCP connection to `port` inside the pod's network namespace.
/// `NoNamespace("net")` without one; `ConnectionRefused` when neither
/// 127.0.0.1 nor ::1 accepts; anything else is a `SystemError`.
pub async fn connect(pod: &Pod, port: u16) -> Result<OwnedFd, PodError> {
    let path = pod_netns(pod).ok_or_else(|| PodError::NoNamespace("net".into()))?;
    let ns = netns::open(&path)?;
    let addrs = [
        (libc::AF_INET, SocketAddr::from((Ipv4Addr::LOCALHOST, port))),
        (
            libc::AF_INET6,
            SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
        ),
    ];
    let mut said = Vec::new();
    for (domain, addr) in addrs {
        let sock = match netns::socket_in(ns.as_fd(), domain) {
            Ok(s) => s,
            Err(e) if nobody_there(e.errno) => {
                said.push(format!("{addr}: {e}"));
                continue;
            }
            Err(e) => return Err(e.with_path(&path).into()),
        };
        let res = sync::timeout(CONNECT_TIMEOUT, ops::connect(sock.as_fd(), addr)).await;
        let e = match res {
            Some(Ok(())) => return Ok(sock),
            Some(Err(e)) => e,
            None => std::io::Error::from_raw_os_error(libc::ETIMEDOUT),
        };
        if !nobody_there(e.raw_os_error()) {
            return Err(SysError::io(format!("connecting to {addr} in the pod"), &e).into());
        }
        said.push(format!("{addr}: {e}"));
    }
    Err(PodError::ConnectionRefused {
        port,
        message: said.join("; "),
    })
}
