//! Sending the replies of one call, honouring `oneway` and `more`.

use std::io;
use std::os::fd::BorrowedFd;

use serde_json::{Map, Value};

use crate::reactor::ops;
use crate::varlink::{Call, Reply, VarlinkError};

/// Writes the replies of one call to its connection. For `oneway` calls it
/// writes nothing; after the final reply it refuses more.
pub struct Replier<'a> {
    fd: BorrowedFd<'a>,
    oneway: bool,
    more: bool,
    done: bool,
    buf: Vec<u8>,
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
        }
    }

    /// Whether the caller accepts several replies.
    pub fn more(&self) -> bool {
        self.more
    }

    /// Whether the call still awaits its final reply.
    pub fn done(&self) -> bool {
        self.done
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
