//! One Varlink connection: read calls, handle them one after another (the
//! protocol answers in order), and notice a client that hangs up mid-call.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::pin;
use std::rc::Rc;

use crate::api::{self, Replier, Role, UpgradeIo};
use crate::pod::Pod;
use crate::reactor::PendingRecv;
use crate::reactor::ops;
use crate::reactor::sync::{Either, select};
use crate::varlink::{Call, FrameDecoder};

/// Largest message a client may send.
const MAX_MESSAGE: usize = 8 << 20;
/// Bytes asked for per receive.
const RECV_SIZE: usize = 64 * 1024;

/// Serves one client, whose peer credentials gave it `role`, until it
/// closes the connection or breaks the protocol.
pub async fn serve(pod: Rc<Pod>, sock: OwnedFd, role: Role) {
    let mut dec = FrameDecoder::new(MAX_MESSAGE);
    let mut buf = Vec::with_capacity(RECV_SIZE);
    // The one receive in flight. It stays in flight across calls, so bytes
    // that arrive while a call runs (pipelined calls) are never dropped.
    let mut pending: Option<PendingRecv<'_>> = None;
    loop {
        let frame = match dec.next_frame() {
            Ok(f) => f,
            Err(e) => {
                log::info!("closing connection: {e}");
                return;
            }
        };
        let Some(frame) = frame else {
            let recv = pending.take().unwrap_or_else(|| recv(&sock, &mut buf));
            let (r, b) = recv.await;
            if !received(&mut dec, r, b, &mut buf) {
                return;
            }
            continue;
        };
        let call = match Call::parse(&frame) {
            Ok(c) => c,
            Err(e) => {
                // A malformed message leaves the stream unparseable: close.
                log::info!("closing connection: {e}");
                return;
            }
        };
        if call.upgrade {
            // The handler may take the connection over: it gets the bytes
            // after this call and the receive in flight, and no receive of
            // ours runs concurrently.
            let io = UpgradeIo {
                leftover: dec.take_remaining(),
                pending: pending.take(),
            };
            let mut replier = Replier::new(sock.as_fd(), &call).with_upgrade(io);
            if api::dispatch(&pod, &call, role, &mut replier)
                .await
                .is_err()
            {
                return;
            }
            match replier.into_upgrade_io() {
                // Not taken: the call failed, the connection stays Varlink.
                Some(io) => {
                    dec.push(&io.leftover);
                    pending = io.pending;
                    continue;
                }
                // Taken and finished: the connection is done.
                None => return,
            }
        }
        let mut replier = Replier::new(sock.as_fd(), &call);
        let mut handler = pin!(api::dispatch(&pod, &call, role, &mut replier));
        loop {
            let recv = pending.get_or_insert_with(|| recv(&sock, &mut buf));
            match select(handler.as_mut(), recv.as_mut()).await {
                Either::Left(Ok(())) => break,
                Either::Left(Err(e)) => {
                    log::debug!("closing connection: {e}");
                    return;
                }
                Either::Right((r, b)) => {
                    pending = None;
                    if !received(&mut dec, r, b, &mut buf) {
                        // The client hung up: the handler is dropped, which
                        // cancels whatever it waited for.
                        log::debug!("client left during {}", call.method);
                        return;
                    }
                }
            }
        }
    }
}

/// Starts a receive into `buf`.
fn recv<'a>(sock: &'a OwnedFd, buf: &mut Vec<u8>) -> PendingRecv<'a> {
    let b = std::mem::take(buf);
    let b = if b.capacity() == 0 {
        Vec::with_capacity(RECV_SIZE)
    } else {
        b
    };
    Box::pin(ops::recv(sock.as_fd(), b))
}

/// Feeds received bytes to the decoder; false when the connection is over.
fn received(dec: &mut FrameDecoder, r: io::Result<usize>, b: Vec<u8>, buf: &mut Vec<u8>) -> bool {
    *buf = b;
    match r {
        Ok(0) => {
            if dec.has_partial() {
                log::info!("client closed in the middle of a message");
            }
            false
        }
        Ok(_) => {
            dec.push(buf);
            buf.clear();
            true
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => true,
        Err(e) => {
            log::debug!("receive failed: {e}");
            false
        }
    }
}
