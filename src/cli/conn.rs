//! A Varlink connection that the streaming subcommands drive reply by reply.
//!
//! The shared blocking [`Client`](crate::varlink::client::Client) hands
//! `more` replies to a closure until the last one, which cannot stop early
//! (a closed stdout under `logs -f`) and cannot take the socket over after
//! an `upgrade` reply. `events`, `logs`, `exec` and `attach` need both, so
//! this type exposes the single steps instead.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use serde_json::{Map, Value};

use crate::varlink::client::{ClientError, MAX_REPLY};
use crate::varlink::frame::FrameDecoder;
use crate::varlink::message::{Call, ProtocolError, Reply};

/// How a call asks to be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One reply.
    Plain,
    /// Replies with `continues` until the last.
    More,
    /// One reply, then the connection carries the method's own protocol.
    Upgrade,
}

/// One reply's parameters and whether more replies follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The reply's parameters.
    pub parameters: Map<String, Value>,
    /// Another reply to the same call follows.
    pub continues: bool,
}

/// What an `upgrade` call leaves: its reply's parameters, the socket now
/// carrying the method's own protocol, and the bytes of that protocol
/// already received.
#[derive(Debug)]
pub struct Upgraded {
    /// The one reply's parameters.
    pub reply: Map<String, Value>,
    /// The connection.
    pub stream: UnixStream,
    /// Bytes received after the reply.
    pub leftover: Vec<u8>,
}

/// A connection on which one call at a time is made, reply by reply.
#[derive(Debug)]
pub struct Conn {
    stream: UnixStream,
    decoder: FrameDecoder,
}

impl Conn {
    /// Connects to the monitor at `path`; the error names the path so the
    /// message says which socket failed.
    pub fn connect(path: &Path) -> Result<Conn, ClientError> {
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.to_owned(),
            source,
        })?;
        Ok(Conn::from_stream(stream))
    }

    /// Wraps a connected stream (one end of a socket pair in tests).
    pub fn from_stream(stream: UnixStream) -> Conn {
        Conn {
            stream,
            decoder: FrameDecoder::new(MAX_REPLY),
        }
    }

    /// Sends one call; read its replies with [`Conn::next_reply`].
    pub fn send(&mut self, method: &str, parameters: Value, mode: Mode) -> Result<(), ClientError> {
        let parameters = match parameters {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            _ => return Err(ClientError::InvalidParameters),
        };
        let call = Call {
            more: mode == Mode::More,
            upgrade: mode == Mode::Upgrade,
            ..Call::new(method, parameters)
        };
        let mut out = Vec::new();
        call.encode(&mut out);
        self.stream.write_all(&out)?;
        Ok(())
    }

    /// Waits for the next reply; an error reply is [`ClientError::Varlink`].
    pub fn next_reply(&mut self) -> Result<Step, ClientError> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if let Some(frame) = self.decoder.next_frame()? {
                let reply = Reply::parse(&frame)?;
                let continues = reply.continues;
                let parameters = reply.into_error()?;
                return Ok(Step {
                    parameters,
                    continues,
                });
            }
            let n = match self.stream.read(&mut buf) {
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err.into()),
            };
            if n == 0 {
                return Err(ClientError::Closed);
            }
            self.decoder.push(&buf[..n]);
        }
    }

    /// Makes an `upgrade` call and returns its one reply, the socket, and
    /// the bytes already received after the reply (the first frames of the
    /// new protocol, which must not be lost).
    pub fn upgrade(mut self, method: &str, parameters: Value) -> Result<Upgraded, ClientError> {
        self.send(method, parameters, Mode::Upgrade)?;
        let step = self.next_reply()?;
        if step.continues {
            return Err(ProtocolError::UnexpectedContinues.into());
        }
        let leftover = self.decoder.take_remaining();
        Ok(Upgraded {
            reply: step.parameters,
            stream: self.stream,
            leftover,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::thread;

    #[test]
    fn upgrade_keeps_bytes_after_the_reply() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let h = thread::spawn(move || {
            let mut dec = FrameDecoder::new(1 << 20);
            let mut buf = [0u8; 4096];
            let frame = loop {
                if let Some(f) = dec.next_frame().unwrap() {
                    break f;
                }
                let n = b.read(&mut buf).unwrap();
                dec.push(&buf[..n]);
            };
            let call = Call::parse(&frame).unwrap();
            assert!(call.upgrade && !call.more);
            assert_eq!(call.method, "io.podmon.Pod.Exec");
            // The reply and the first frame in one write.
            b.write_all(b"{\"parameters\":{\"pid\":7}}\0\x01\0\0\0\x02hi")
                .unwrap();
        });
        let up = Conn::from_stream(a)
            .upgrade("io.podmon.Pod.Exec", json!({"id": "c"}))
            .unwrap();
        assert_eq!(up.reply["pid"], 7);
        assert_eq!(up.leftover, b"\x01\0\0\0\x02hi");
        h.join().unwrap();
    }

    #[test]
    fn more_replies_one_at_a_time() {
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(b"{\"parameters\":{\"n\":1},\"continues\":true}\0{\"error\":\"io.podmon.Pod.NoSuchContainer\",\"parameters\":{\"id\":\"x\"}}\0")
            .unwrap();
        let mut conn = Conn::from_stream(a);
        conn.send("io.podmon.Pod.ReadLogs", json!({"id": "x"}), Mode::More)
            .unwrap();
        let first = conn.next_reply().unwrap();
        assert!(first.continues);
        assert_eq!(first.parameters["n"], 1);
        let err = conn.next_reply().unwrap_err();
        assert_eq!(err.varlink_name(), Some("io.podmon.Pod.NoSuchContainer"));
        // Read the call, so closing is a clean end rather than a reset.
        let mut call = [0u8; 4096];
        assert!(b.read(&mut call).unwrap() > 0);
        drop(b);
        let end = conn.next_reply();
        assert!(matches!(end, Err(ClientError::Closed)), "{end:?}");
    }
}
