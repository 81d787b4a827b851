//! Sending the replies of one call, honouring `oneway` and `more`, and
//! giving up on a client that stopped reading.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::reactor::PendingRecv;
use crate::reactor::msg;
use crate::reactor::sync::timeout;
use crate::varlink::{Call, PassedFds, Reply, VarlinkError};

/// How long writing one reply may take. Replies are written one at a time
/// (the next is made only when the last is out), so a client that stops
/// reading holds at most one reply plus what its stream's own bound allows
/// (a cursor into the shared event journal, 4 MiB of output); after this long the connection is
/// given up, so it cannot hold the monitor's resources forever either.
pub const SEND_STALL: Duration = Duration::from_secs(30);

/// How long the reply that ends a cut-off call may take: the client is
/// already known to be slow, it gets a short chance to read it.
pub const CUT_OFF_GRACE: Duration = Duration::from_secs(5);

/// What an upgrading method takes over from the connection: the bytes
/// already received after the call, and the receive in flight.
pub struct UpgradeIo<'a> {
    /// Bytes received after the call's message; they belong to the new protocol.
    pub leftover: Vec<u8>,
    /// A receive in flight, if any.
    pub pending: Option<PendingRecv<'a>>,
}

/// Writes the replies of one call to its connection. For `oneway` calls it
/// writes nothing; after the final reply it refuses more.
pub struct Replier<'a> {
    fd: BorrowedFd<'a>,
    oneway: bool,
    more: bool,
    done: bool,
    /// A reply is being written (still set if its write was dropped half
    /// way: then nothing else may follow on the stream).
    writing: bool,
    /// The call was cut off: the connection closes after it.
    close: bool,
    buf: Vec<u8>,
    upgrade: Option<UpgradeIo<'a>>,
    /// The descriptors that came with the call.
    fds: PassedFds,
}

impl<'a> Replier<'a> {
    /// A replier for `call` on the connection `fd`.
    pub fn new(fd: BorrowedFd<'a>, call: &Call) -> Self {
        Replier {
            fd,
            oneway: call.oneway,
            more: call.more,
            done: false,
            writing: false,
            close: false,
            buf: Vec::new(),
            upgrade: None,
            fds: PassedFds::default(),
        }
    }

    /// With the descriptors that came with the call.
    pub fn with_fds(mut self, fds: PassedFds) -> Self {
        self.fds = fds;
        self
    }

    /// The descriptors that came with the call, for the handler to take
    /// by index; those left are closed with the replier.
    pub fn passed_fds(&self) -> &PassedFds {
        &self.fds
    }

    /// For calls with `upgrade`: the connection's receive state, which an
    /// upgrading handler takes after its reply.
    pub fn with_upgrade(mut self, io: UpgradeIo<'a>) -> Self {
        self.upgrade = Some(io);
        self
    }

    /// Whether the caller asked to upgrade the connection.
    pub fn upgrade_requested(&self) -> bool {
        self.upgrade.is_some()
    }

    /// Takes the connection over (after the final reply was sent): the
    /// socket plus what was received already. `None` without `upgrade`.
    pub fn take_upgrade(&mut self) -> Option<(BorrowedFd<'a>, UpgradeIo<'a>)> {
        let io = self.upgrade.take()?;
        Some((self.fd, io))
    }

    /// Gives the receive state back if no handler took it (the call failed
    /// and the connection goes on speaking Varlink).
    pub fn into_upgrade_io(self) -> Option<UpgradeIo<'a>> {
        self.upgrade
    }

    /// Whether the caller accepts several replies.
    pub fn more(&self) -> bool {
        self.more
    }

    /// Whether a reply was dropped half written: the stream is broken and
    /// nothing may be written after it.
    pub fn mid_reply(&self) -> bool {
        self.writing
    }

    /// Whether the call was cut off and the connection must close.
    pub fn closes(&self) -> bool {
        self.close
    }

    async fn send(&mut self, reply: Reply) -> io::Result<()> {
        self.send_within(reply, SEND_STALL, Vec::new()).await
    }

    async fn send_within(
        &mut self,
        reply: Reply,
        limit: Duration,
        fds: Vec<OwnedFd>,
    ) -> io::Result<()> {
        if self.done {
            log::warn!("reply after the final one dropped");
            return Ok(());
        }
        self.done = !reply.continues;
        if self.oneway {
            return Ok(());
        }
        let mut buf = std::mem::take(&mut self.buf);
        reply.encode(&mut buf);
        self.writing = true;
        let Some((r, b)) = timeout(limit, msg::send_with_fds(self.fd, buf, fds)).await else {
            // Half of the reply may be out: the stream cannot go on.
            self.close = true;
            let e = format!("the client took no reply in {limit:?}");
            log::info!("closing connection: {e}");
            return Err(io::Error::new(io::ErrorKind::TimedOut, e));
        };
        self.writing = false;
        self.buf = b;
        r
    }

    /// Sends the final reply.
    pub async fn reply(&mut self, parameters: Map<String, Value>) -> io::Result<()> {
        self.send(Reply::ok(parameters)).await
    }

    /// Sends the final reply with descriptors on its first byte; the
    /// parameters refer to them by index. A `oneway` call gets none (they
    /// are closed).
    pub async fn reply_with_fds(
        &mut self,
        parameters: Map<String, Value>,
        fds: Vec<OwnedFd>,
    ) -> io::Result<()> {
        self.send_within(Reply::ok(parameters), SEND_STALL, fds)
            .await
    }

    /// Like [`Self::reply_with_fds`], for a reply that more replies follow.
    pub async fn reply_continues_with_fds(
        &mut self,
        parameters: Map<String, Value>,
        fds: Vec<OwnedFd>,
    ) -> io::Result<()> {
        debug_assert!(self.more);
        self.send_within(Reply::continues(parameters), SEND_STALL, fds)
            .await
    }

    /// Sends a reply that more replies follow (only valid with `more`).
    pub async fn reply_continues(&mut self, parameters: Map<String, Value>) -> io::Result<()> {
        debug_assert!(self.more);
        self.send(Reply::continues(parameters)).await
    }

    /// Sends an error as the final reply.
    pub async fn error(&mut self, e: VarlinkError) -> io::Result<()> {
        self.send(e.into_reply()).await
    }

    /// Ends a call the monitor cuts off (a client over one of its bounds)
    /// with the error `e` as its final reply, then has the connection
    /// closed: every cut-off ends with a named error, and the client that
    /// caused it cannot keep the connection busy.
    pub async fn cut_off(&mut self, e: VarlinkError) -> io::Result<()> {
        log::info!("cutting off a client: {e}");
        self.close = true;
        self.send_within(e.into_reply(), CUT_OFF_GRACE, Vec::new())
            .await
    }
}
