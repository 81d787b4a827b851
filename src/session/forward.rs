//! PortForward's session: after the reply, raw bytes both ways between
//! the upgraded client connection and a TCP connection in the pod, no
//! framing. Each direction has one bounded buffer; when one side shuts
//! its write half down the other side's write half is shut down too and
//! the other direction goes on until it ends, so half-close works end to
//! end. A failing side ends both directions.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::pin;

use crate::reactor::ops;
use crate::reactor::sync::{self, Either};

/// Bytes each direction holds at most (one buffer in flight).
pub const FORWARD_BUFFER: usize = 256 * 1024;

/// Copies `from` to `to` until `from` ends, then shuts `to`'s write side.
/// `first` is what arrived on `from` already (after the Varlink call).
async fn copy(from: BorrowedFd<'_>, to: BorrowedFd<'_>, first: Vec<u8>) -> io::Result<()> {
    let mut buf = first;
    loop {
        if !buf.is_empty() {
            let (r, b) = ops::send_all(to, buf).await;
            r?;
            buf = b;
        }
        if buf.capacity() < FORWARD_BUFFER {
            buf = Vec::with_capacity(FORWARD_BUFFER);
        }
        let (r, b) = ops::recv(from, buf).await;
        buf = b;
        if r? == 0 {
            rustix::net::shutdown(to, rustix::net::Shutdown::Write)?;
            return Ok(());
        }
    }
}

/// Runs the session until both directions ended (or one failed).
/// `leftover` and `pending` are the client's bytes the connection had
/// received or was receiving when it was handed over.
pub async fn forward(
    client: BorrowedFd<'_>,
    leftover: Vec<u8>,
    pending: Option<crate::reactor::PendingRecv<'_>>,
    tcp: OwnedFd,
) {
    let tcp = tcp.as_fd();
    let mut up = pin!(async {
        let mut first = leftover;
        if let Some(p) = pending {
            let (r, b) = p.await;
            if r? == 0 {
                // The client shut its side before anything else.
                if !first.is_empty() {
                    let (r, _) = ops::send_all(tcp, first).await;
                    r?;
                }
                return rustix::net::shutdown(tcp, rustix::net::Shutdown::Write)
                    .map_err(io::Error::from);
            }
            first.extend_from_slice(&b);
        }
        copy(client, tcp, first).await
    });
    let mut down = pin!(copy(tcp, client, Vec::new()));
    let r = match sync::select(up.as_mut(), down.as_mut()).await {
        Either::Left(Ok(())) => down.await,
        Either::Right(Ok(())) => up.await,
        Either::Left(Err(e)) | Either::Right(Err(e)) => Err(e),
    };
    if let Err(e) = r {
        log::debug!("port forward ended: {e}");
    }
}
