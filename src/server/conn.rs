//! One Varlink connection: read calls, handle them one after another (the
//! protocol answers in order), notice a client that hangs up mid-call, and
//! keep every buffer of the connection bounded whatever its state.
//!
//! The bounds (README, "Bounds"): one message is at most [`MAX_MESSAGE`]
//! bytes; while a call runs the client may send at most [`MAX_BUFFERED`]
//! bytes ahead (pipelined calls); replies are written one at a time, each
//! within 30 s (`SEND_STALL` in `api/replier.rs`). A client over a bound gets
//! `io.podmon.Pod.LimitExceeded` naming it, and the connection closes.
//!
//! Descriptors (SCM_RIGHTS) are received with the bytes, at most
//! [`MAX_FDS_PER_MESSAGE`] with one message and [`MAX_HELD_FDS`] held for
//! the calls not handled yet; each goes with the message whose first byte
//! it came with (`varlink/fds.rs`) and is closed when its call is over
//! unless the method took it.

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::time::Duration;

use crate::api::{self, Replier, Role, UpgradeIo};
use crate::pod::Pod;
use crate::proto::errors::{LimitExceeded, ProtoError};
use crate::reactor::PendingRecv;
use crate::reactor::msg::{self, Received};
use crate::reactor::ops;
use crate::reactor::sync::{Either, select, timeout};
use crate::varlink::{
    Call, FrameDecoder, FrameError, MAX_FDS_PER_MESSAGE, PassedFds, VarlinkError,
};

/// Largest message a client may send.
pub const MAX_MESSAGE: usize = 8 << 20;
/// Bytes a client may have sent ahead of the replies while a call runs:
/// one message in the making plus 1 MiB of pipelined calls.
pub const MAX_BUFFERED: usize = MAX_MESSAGE + (1 << 20);
/// Bytes asked for per receive.
const RECV_SIZE: usize = 64 * 1024;
/// Descriptors a connection may have sent ahead, with calls not handled
/// yet (pipelined calls).
pub const MAX_HELD_FDS: usize = 4 * MAX_FDS_PER_MESSAGE;
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
    pending: Option<PendingRecvFds<'a>>,
}

/// A receive in flight that brings descriptors too.
type PendingRecvFds<'a> = Pin<Box<dyn Future<Output = Received> + 'a>>;

/// How a call that the connection keeps reading during ended.
enum Ended {
    /// The handler finished; the connection goes on unless it was cut off.
    Done,
    /// Writing failed or the client left: close.
    Gone,
    /// The client sent more than [`MAX_BUFFERED`] ahead.
    InputOverflow,
    /// The client sent more than [`MAX_HELD_FDS`] descriptors ahead.
    FdOverflow,
}

/// Serves one client, whose peer credentials gave it `role`, until it
/// closes the connection or breaks the protocol.
pub async fn serve(pod: Rc<Pod>, sock: OwnedFd, role: Role) {
    // When the last connection closes, what the calls made resident goes.
    let _open = crate::sys::resident::Connection::open();
    let mut inc = Incoming {
        dec: FrameDecoder::new(MAX_MESSAGE),
        buf: Vec::with_capacity(RECV_SIZE),
        pending: None,
    };
    loop {
        let frame = match inc.dec.next_message() {
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
            if !received(&mut inc, recv.await) {
                return;
            }
            if inc.dec.held_fds() > MAX_HELD_FDS {
                refuse_fds(sock.as_fd(), "heldFileDescriptors", MAX_HELD_FDS).await;
                return;
            }
            continue;
        };
        let (frame, passed) = frame;
        if passed.too_many {
            refuse_fds(sock.as_fd(), "fileDescriptors", MAX_FDS_PER_MESSAGE).await;
            return;
        }
        let fds = PassedFds::new(passed.fds);
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
            drop(fds);
            let mut r = Replier::new(sock.as_fd(), &call);
            let e = VarlinkError::method_not_found(&call.method);
            r.error(e).await.is_ok()
        } else if call.upgrade {
            upgrade(&pod, &call, fds, role, &sock, &mut inc).await
        } else {
            plain(&pod, &call, fds, role, &sock, &mut inc).await
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
    fds: PassedFds,
    role: Role,
    sock: &'a OwnedFd,
    inc: &mut Incoming<'a>,
) -> bool {
    let io = UpgradeIo {
        leftover: inc.dec.take_remaining(),
        pending: inc.pending.take().map(without_fds),
    };
    let mut replier = Replier::new(sock.as_fd(), call)
        .with_fds(fds)
        .with_upgrade(io);
    if api::dispatch(pod, call, role, &mut replier).await.is_err() || replier.closes() {
        return false;
    }
    match replier.into_upgrade_io() {
        // Not taken: the call failed, the connection stays Varlink.
        Some(io) => {
            inc.dec.push(&io.leftover);
            inc.pending = io.pending.map(with_no_fds);
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
    fds: PassedFds,
    role: Role,
    sock: &'a OwnedFd,
    inc: &mut Incoming<'a>,
) -> bool {
    let mut replier = Replier::new(sock.as_fd(), call).with_fds(fds);
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
                Either::Right(got) => {
                    inc.pending = None;
                    if !received(inc, got) {
                        // The client hung up: the handler is dropped, which
                        // cancels whatever it waited for.
                        log::debug!("client left during {}", call.method);
                        break Ended::Gone;
                    }
                    if inc.dec.buffered() > MAX_BUFFERED {
                        break Ended::InputOverflow;
                    }
                    if inc.dec.held_fds() > MAX_HELD_FDS {
                        break Ended::FdOverflow;
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
        Ended::FdOverflow => {
            log::info!(
                "closing connection: more than {MAX_HELD_FDS} descriptors sent during {}",
                call.method
            );
            if !replier.mid_reply() {
                refuse_fds(sock.as_fd(), "heldFileDescriptors", MAX_HELD_FDS).await;
            }
            false
        }
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

/// Refuses a client over a bound on descriptors: `LimitExceeded`, then
/// the close (the descriptors held are closed with the connection).
async fn refuse_fds(sock: BorrowedFd<'_>, limit: &str, max: usize) {
    log::info!("closing connection: more than {max} descriptors ({limit})");
    refuse(sock, LimitExceeded::new(limit, max).into_varlink()).await;
}

/// Starts a receive into `buf`.
fn recv<'a>(sock: &'a OwnedFd, buf: &mut Vec<u8>) -> PendingRecvFds<'a> {
    let b = std::mem::take(buf);
    let b = if b.capacity() == 0 {
        Vec::with_capacity(RECV_SIZE)
    } else {
        b
    };
    Box::pin(msg::recv_with_fds(sock.as_fd(), b, MAX_FDS_PER_MESSAGE))
}

/// The receive in flight, for a handler that takes the connection over:
/// its protocol carries no descriptors, any that come are closed.
fn without_fds(p: PendingRecvFds<'_>) -> PendingRecv<'_> {
    Box::pin(async move {
        let got = p.await;
        if !got.fds.is_empty() {
            log::debug!("{} descriptors sent after an upgrade closed", got.fds.len());
        }
        (got.result, got.buf)
    })
}

/// A receive handed back by a handler that did not take the connection.
fn with_no_fds(p: PendingRecv<'_>) -> PendingRecvFds<'_> {
    Box::pin(async move {
        let (result, buf) = p.await;
        Received {
            result,
            buf,
            fds: Vec::new(),
            fds_truncated: false,
        }
    })
}

/// Feeds received bytes (and descriptors) to the decoder; false when the
/// connection is over.
fn received(inc: &mut Incoming<'_>, got: Received) -> bool {
    let Received {
        result: r,
        buf: b,
        fds,
        fds_truncated,
    } = got;
    inc.buf = b;
    let passed = crate::varlink::Passed {
        fds,
        too_many: fds_truncated,
    };
    match r {
        Ok(0) => {
            if inc.dec.has_partial() {
                log::info!("client closed in the middle of a message");
            }
            false
        }
        Ok(_) => {
            if !inc.dec.push_with_fds(&inc.buf, passed) {
                log::info!("descriptors sent with no message's first byte closed");
            }
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
