//! One Varlink connection: read calls, handle them one after another (the
//! protocol answers in order), notice a client that hangs up mid-call, and
//! keep every buffer of the connection bounded whatever its state.
//!
//! The bounds (README, "Bounds"): one message is at most [`MAX_MESSAGE`]
//! bytes; while a call runs the client may send at most [`MAX_BUFFERED`]
//! bytes ahead (pipelined calls); replies are written one at a time, each
//! within 30 s (`SEND_STALL` in `api/replier.rs`). A client over a bound gets
//! `io.podmon.Pod.LimitExceeded` naming it, and the connection closes.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use crate::api::{self, Replier, Role, UpgradeIo};
use crate::pod::Pod;
use crate::proto::errors::{LimitExceeded, ProtoError};
use crate::reactor::PendingRecv;
use crate::reactor::ops;
use crate::reactor::sync::{Either, select, timeout};
use crate::varlink::{Call, FrameDecoder, FrameError, VarlinkError};

/// Largest message a client may send.
pub const MAX_MESSAGE: usize = 8 << 20;
/// Bytes a client may have sent ahead of the replies while a call runs:
/// one message in the making plus 1 MiB of pipelined calls.
pub const MAX_BUFFERED: usize = MAX_MESSAGE + (1 << 20);
/// Bytes asked for per receive.
const RECV_SIZE: usize = 64 * 1024;
/// How long the error that ends a connection may wait for a client that
/// does not read it; then the connection closes without it.
const REFUSE_GRACE: Duration = Duration::from_secs(5);

/// The receiving side of a connection: what arrived and is not handled yet,
/// and the one receive in flight. The receive stays in flight across calls,
/// so bytes that arrive while a call runs (pipelined calls) are never
/// dropped.
struct Incoming<'a> {
    dec: FrameDecoder,
    buf: Vec<u8>,
    pending: Option<PendingRecv<'a>>,
}

/// How a call that the connection keeps reading during ended.
enum Ended {
    /// The handler finished; the connection goes on unless it was cut off.
    Done,
    /// Writing failed or the client left: close.
    Gone,
    /// The client sent more than [`MAX_BUFFERED`] ahead.
    InputOverflow,
}

/// Serves one client, whose peer credentials gave it `role`, until it
/// closes the connection or breaks the protocol.
pub async fn serve(pod: Rc<Pod>, sock: OwnedFd, role: Role) {
    let mut inc = Incoming {
        dec: FrameDecoder::new(MAX_MESSAGE),
        buf: Vec::with_capacity(RECV_SIZE),
        pending: None,
    };
    loop {
        let frame = match inc.dec.next_frame() {
            Ok(f) => f,
            Err(e) => {
                log::info!("closing connection: {e}");
                refuse(sock.as_fd(), frame_limit(&e)).await;
                return;
            }
        };
        let Some(frame) = frame else {
            let recv = inc
                .pending
                .take()
                .unwrap_or_else(|| recv(&sock, &mut inc.buf));
            let (r, b) = recv.await;
            if !received(&mut inc, r, b) {
                return;
            }
            continue;
        };
        let parsed = Call::parse(&frame);
        // The message can be 8 MiB: not kept while its call runs.
        drop(frame);
        let call = match parsed {
            Ok(c) => c,
            Err(e) => {
                // A malformed message leaves the stream unparseable: close.
                log::info!("closing connection: {e}");
                return;
            }
        };
        let go_on = if !call.names_a_method() {
            let mut r = Replier::new(sock.as_fd(), &call);
            let e = VarlinkError::method_not_found(&call.method);
            r.error(e).await.is_ok()
        } else if call.upgrade {
            upgrade(&pod, &call, role, &sock, &mut inc).await
        } else {
            plain(&pod, &call, role, &sock, &mut inc).await
        };
        if !go_on {
            return;
        }
    }
}

/// Runs an `upgrade` call. The handler may take the connection over: it
/// gets the bytes after this call and the receive in flight, and no receive
/// of ours runs concurrently (its protocol bounds its own input). True when
/// the connection goes on speaking Varlink.
async fn upgrade<'a>(
    pod: &Rc<Pod>,
    call: &Call,
    role: Role,
    sock: &'a OwnedFd,
    inc: &mut Incoming<'a>,
) -> bool {
    let io = UpgradeIo {
        leftover: inc.dec.take_remaining(),
        pending: inc.pending.take(),
    };
    let mut replier = Replier::new(sock.as_fd(), call).with_upgrade(io);
    if api::dispatch(pod, call, role, &mut replier).await.is_err() || replier.closes() {
        return false;
    }
    match replier.into_upgrade_io() {
        // Not taken: the call failed, the connection stays Varlink.
        Some(io) => {
            inc.dec.push(&io.leftover);
            inc.pending = io.pending;
            true
        }
        // Taken and finished: the connection is done.
        None => false,
    }
}

/// Runs a call while reading on, so that a hang-up ends it and input sent
/// meanwhile stays bounded. True when the connection goes on.
async fn plain<'a>(
    pod: &Rc<Pod>,
    call: &Call,
    role: Role,
    sock: &'a OwnedFd,
    inc: &mut Incoming<'a>,
) -> bool {
    let mut replier = Replier::new(sock.as_fd(), call);
    let ended = {
        let mut handler = pin!(api::dispatch(pod, call, role, &mut replier));
        loop {
            let recv = inc.pending.get_or_insert_with(|| recv(sock, &mut inc.buf));
            match select(handler.as_mut(), recv.as_mut()).await {
                Either::Left(Ok(())) => break Ended::Done,
                Either::Left(Err(e)) => {
                    log::debug!("closing connection: {e}");
                    break Ended::Gone;
                }
                Either::Right((r, b)) => {
                    inc.pending = None;
                    if !received(inc, r, b) {
                        // The client hung up: the handler is dropped, which
                        // cancels whatever it waited for.
                        log::debug!("client left during {}", call.method);
                        break Ended::Gone;
                    }
                    if inc.dec.buffered() > MAX_BUFFERED {
                        break Ended::InputOverflow;
                    }
                }
            }
        }
        // The handler is dropped here: its call is over either way.
    };
    match ended {
        Ended::Done if replier.closes() => {
            log::info!("closing connection: {} was cut off", call.method);
            false
        }
        Ended::Done => true,
        Ended::Gone => false,
        Ended::InputOverflow => {
            log::info!(
                "closing connection: more than {MAX_BUFFERED} bytes sent during {}",
                call.method
            );
            // A reply dropped half written cannot be followed by another.
            if !replier.mid_reply() {
                let e = LimitExceeded::new("bufferedInput", MAX_BUFFERED);
                refuse(sock.as_fd(), e.into_varlink()).await;
            }
            false
        }
    }
}

/// The error for a stream the decoder refuses.
fn frame_limit(e: &FrameError) -> VarlinkError {
    let max = match e {
        FrameError::TooLarge { max } => *max,
        // Only the blocking client reports truncation; a message's size
        // is the one limit the decoder has.
        FrameError::Truncated { .. } => MAX_MESSAGE,
    };
    LimitExceeded::new("messageSize", max).into_varlink()
}

/// Sends `e` as the last message of a connection about to be closed (the
/// next reply in order, so it answers the call that broke the bound). A
/// client that does not read gets [`REFUSE_GRACE`], then the close alone.
async fn refuse(sock: BorrowedFd<'_>, e: VarlinkError) {
    let mut out = Vec::new();
    e.into_reply().encode(&mut out);
    match timeout(REFUSE_GRACE, ops::send_all(sock, out)).await {
        Some((Ok(()), _)) => {}
        Some((Err(err), _)) => log::debug!("sending the last error: {err}"),
        None => log::debug!("the client did not read its last error"),
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
fn received(inc: &mut Incoming<'_>, r: io::Result<usize>, b: Vec<u8>) -> bool {
    inc.buf = b;
    match r {
        Ok(0) => {
            if inc.dec.has_partial() {
                log::info!("client closed in the middle of a message");
            }
            false
        }
        Ok(_) => {
            inc.dec.push(&inc.buf);
            inc.buf.clear();
            true
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => true,
        Err(e) => {
            log::debug!("receive failed: {e}");
            false
        }
    }
}
