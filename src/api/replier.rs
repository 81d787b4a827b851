//! Sending the replies of one call, honouring `oneway` and `more`.

use std::io;
use std::os::fd::BorrowedFd;

use serde_json::{Map, Value};

use crate::reactor::PendingRecv;
use crate::reactor::ops;
use crate::varlink::{Call, Reply, VarlinkError};

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
    buf: Vec<u8>,
    upgrade: Option<UpgradeIo<'a>>,
}

impl<'a> Replier<'a> {
    /// A replier for `call` on the connection `fd`.
    pub fn new(fd: BorrowedFd<'a>, call: &Call) -> Self {
        Replier {
            fd,
            oneway: call.oneway,
            more: call.more,
            done: false,
            buf: Vec::new(),
            upgrade: None,
        }
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

    async fn send(&mut self, reply: Reply) -> io::Result<()> {
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
        let (r, b) = ops::send_all(self.fd, buf).await;
        self.buf = b;
        r
    }

    /// Sends the final reply.
    pub async fn reply(&mut self, parameters: Map<String, Value>) -> io::Result<()> {
        self.send(Reply::ok(parameters)).await
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
}
