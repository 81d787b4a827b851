//! A small blocking Varlink client over a UNIX stream socket: the one
//! client of the project, used by the CLI, the integration tests and the
//! benches.
//!
//! They all need to talk to a running `podmon serve` without an event loop;
//! one call at a time on a blocking socket is all they need. Tests that feed
//! the server bad input use the byte-level methods of `raw.rs` (raw sends,
//! one unparsed message, waiting for the close) on the same connection.

mod error;
mod raw;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use super::frame::{FrameDecoder, FrameError};
use super::message::{Call, ProtocolError, Reply};

pub use error::ClientError;

/// Largest reply accepted, as in systemd's sd-varlink (16 MiB).
pub const MAX_REPLY: usize = 16 * 1024 * 1024;

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

/// A connection to one Varlink service; calls are made one after another,
/// either whole (`call`, `call_more`) or reply by reply (`send` and
/// `next_reply`, which a streaming client can stop at any point), or by
/// taking the socket over after an `upgrade` reply.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    decoder: FrameDecoder,
    out: Vec<u8>,
}

impl Client {
    /// Connects to the service listening on `path`.
    pub fn connect(path: &Path) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.to_owned(),
            source,
        })?;
        Ok(Client::from_stream(stream))
    }

    /// Wraps an already connected stream, e.g. one end of a `socketpair` in
    /// tests.
    pub fn from_stream(stream: UnixStream) -> Client {
        Client {
            stream,
            decoder: FrameDecoder::new(MAX_REPLY),
            out: Vec::new(),
        }
    }

    /// Bounds how long a single read or write may block; `None` (the default)
    /// waits forever, which `WaitContainer` needs.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> Result<(), ClientError> {
        self.stream.set_read_timeout(timeout)?;
        self.stream.set_write_timeout(timeout)?;
        Ok(())
    }

    /// Bounds only how long a read may block, leaving writes as they are: a
    /// bench waits a long while for one reply, a test briefly for a reply
    /// that must not come.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<(), ClientError> {
        self.stream.set_read_timeout(timeout)?;
        Ok(())
    }

    /// Replaces the bound on one reply's size ([`MAX_REPLY`]); only before
    /// the first read, since bytes already buffered are dropped. The test
    /// harness lifts it to read whatever the server sends, however large.
    pub fn with_max_reply(mut self, max: usize) -> Client {
        self.decoder = FrameDecoder::new(max);
        self
    }

    /// Calls `method` and returns the reply's parameters; an error reply is
    /// [`ClientError::Varlink`].
    pub fn call(
        &mut self,
        method: &str,
        parameters: Value,
    ) -> Result<Map<String, Value>, ClientError> {
        self.send_with(method, parameters, |call| call)?;
        let reply = self.receive()?;
        if reply.continues {
            return Err(ProtocolError::UnexpectedContinues.into());
        }
        Ok(reply.into_error()?)
    }

    /// 'more' call: calls f for each reply's parameters until the one without
    /// "continues".
    pub fn call_more(
        &mut self,
        method: &str,
        parameters: Value,
        mut f: impl FnMut(Map<String, Value>),
    ) -> Result<(), ClientError> {
        self.send_with(method, parameters, |call| Call { more: true, ..call })?;
        loop {
            let reply = self.receive()?;
            let continues = reply.continues;
            f(reply.into_error()?);
            if !continues {
                return Ok(());
            }
        }
    }

    /// Sends a `oneway` call: the service sends no reply, so nothing reports
    /// whether it succeeded; the tests check that the next reply on the
    /// connection belongs to the next call.
    pub fn call_oneway(&mut self, method: &str, parameters: Value) -> Result<(), ClientError> {
        self.send_with(method, parameters, |call| Call {
            oneway: true,
            ..call
        })
    }

    /// Sends one call; read its replies with [`Client::next_reply`].
    pub fn send(&mut self, method: &str, parameters: Value, mode: Mode) -> Result<(), ClientError> {
        self.send_with(method, parameters, |call| Call {
            more: mode == Mode::More,
            upgrade: mode == Mode::Upgrade,
            ..call
        })
    }

    /// Waits for the next reply; an error reply is [`ClientError::Varlink`].
    pub fn next_reply(&mut self) -> Result<Step, ClientError> {
        let reply = self.receive()?;
        let continues = reply.continues;
        let parameters = reply.into_error()?;
        Ok(Step {
            parameters,
            continues,
        })
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
        let (stream, leftover) = self.into_parts();
        Ok(Upgraded {
            reply: step.parameters,
            stream,
            leftover,
        })
    }

    /// Ends the Varlink part of the connection: the socket, and the bytes
    /// already received after the last message read (they belong to
    /// whatever protocol follows). For callers that read an `upgrade`
    /// reply themselves, e.g. tests that want an error reply as it came.
    pub fn into_parts(mut self) -> (UnixStream, Vec<u8>) {
        let leftover = self.decoder.take_remaining();
        (self.stream, leftover)
    }

    fn send_with(
        &mut self,
        method: &str,
        parameters: Value,
        flags: impl FnOnce(Call) -> Call,
    ) -> Result<(), ClientError> {
        let parameters = match parameters {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            _ => return Err(ClientError::InvalidParameters),
        };
        let call = flags(Call::new(method, parameters));
        self.out.clear();
        call.encode(&mut self.out);
        self.stream.write_all(&self.out)?;
        Ok(())
    }

    /// Reads one whole reply and parses it; the service closing the
    /// connection before or inside it is [`ClientError::Closed`].
    fn receive(&mut self) -> Result<Reply, ClientError> {
        match self.read_frame() {
            Ok(Some(frame)) => Ok(Reply::parse(&frame)?),
            Ok(None) | Err(ClientError::Frame(FrameError::Truncated { .. })) => {
                Err(ClientError::Closed)
            }
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Read;
    use std::thread;

    /// Runs a fake service on the other end of a socket pair: it reads one
    /// call, checks it, and writes the canned bytes back in small pieces.
    fn serve(expect: &'static str, respond: &'static [u8]) -> (Client, thread::JoinHandle<()>) {
        let (a, mut b) = UnixStream::pair().unwrap();
        let handle = thread::spawn(move || {
            let mut dec = FrameDecoder::new(1 << 20);
            let mut buf = [0u8; 256];
            let frame = loop {
                if let Some(f) = dec.next_frame().unwrap() {
                    break f;
                }
                let n = b.read(&mut buf).unwrap();
                assert!(n > 0, "client closed");
                dec.push(&buf[..n]);
            };
            let got: Value = serde_json::from_slice(&frame).unwrap();
            let want: Value = serde_json::from_str(expect).unwrap();
            assert_eq!(got, want);
            for chunk in respond.chunks(3) {
                b.write_all(chunk).unwrap();
            }
        });
        (Client::from_stream(a), handle)
    }

    #[test]
    fn call_returns_parameters() {
        let (mut client, h) = serve(
            r#"{"method":"io.podmon.Pod.GetContainer","parameters":{"id":"web"}}"#,
            b"{\"parameters\":{\"container\":{\"id\":\"web\"}}}\0",
        );
        let reply = client
            .call("io.podmon.Pod.GetContainer", json!({"id": "web"}))
            .unwrap();
        assert_eq!(Value::Object(reply), json!({"container": {"id": "web"}}));
        h.join().unwrap();
    }

    #[test]
    fn error_reply_is_varlink_error() {
        let (mut client, h) = serve(
            r#"{"method":"io.podmon.Pod.GetContainer","parameters":{"id":"web"}}"#,
            b"{\"error\":\"io.podmon.Pod.NoSuchContainer\",\"parameters\":{\"id\":\"web\"}}\0",
        );
        let err = client
            .call("io.podmon.Pod.GetContainer", json!({"id": "web"}))
            .unwrap_err();
        assert_eq!(err.varlink_name(), Some("io.podmon.Pod.NoSuchContainer"));
        assert_eq!(err.to_string(), "io.podmon.Pod.NoSuchContainer: id=web");
        h.join().unwrap();
    }

    #[test]
    fn call_more_collects_until_final_reply() {
        let (mut client, h) = serve(
            r#"{"method":"io.podmon.Pod.ListContainers","more":true}"#,
            b"{\"parameters\":{\"n\":1},\"continues\":true}\0{\"parameters\":{\"n\":2},\"continues\":true}\0{\"parameters\":{\"n\":3}}\0",
        );
        let mut seen = Vec::new();
        client
            .call_more("io.podmon.Pod.ListContainers", Value::Null, |p| {
                seen.push(p["n"].clone())
            })
            .unwrap();
        assert_eq!(seen, vec![json!(1), json!(2), json!(3)]);
        h.join().unwrap();
    }

    #[test]
    fn call_more_stops_at_error() {
        let (mut client, h) = serve(
            r#"{"method":"io.podmon.Pod.ListContainers","more":true}"#,
            b"{\"parameters\":{\"n\":1},\"continues\":true}\0{\"error\":\"org.varlink.service.PermissionDenied\"}\0",
        );
        let mut seen = 0;
        let err = client
            .call_more("io.podmon.Pod.ListContainers", json!({}), |_| seen += 1)
            .unwrap_err();
        assert_eq!(seen, 1);
        assert_eq!(err.to_string(), "org.varlink.service.PermissionDenied");
        h.join().unwrap();
    }

    #[test]
    fn close_mid_reply_is_closed() {
        let (mut client, h) = serve(r#"{"method":"a.b.C"}"#, b"{\"parameters\":");
        assert!(matches!(
            client.call("a.b.C", json!({})),
            Err(ClientError::Closed)
        ));
        h.join().unwrap();
    }

    #[test]
    fn garbage_reply_is_protocol_error() {
        let (mut client, h) = serve(r#"{"method":"a.b.C"}"#, b"[]\0");
        assert!(matches!(
            client.call("a.b.C", json!({})),
            Err(ClientError::Protocol(ProtocolError::NotAnObject))
        ));
        h.join().unwrap();
    }

    #[test]
    fn continues_without_more_is_protocol_error() {
        let (mut client, h) = serve(r#"{"method":"a.b.C"}"#, b"{\"continues\":true}\0");
        assert!(matches!(
            client.call("a.b.C", json!({})),
            Err(ClientError::Protocol(ProtocolError::UnexpectedContinues))
        ));
        h.join().unwrap();
    }

    #[test]
    fn non_object_parameters_are_refused() {
        let (a, _b) = UnixStream::pair().unwrap();
        let mut client = Client::from_stream(a);
        assert!(matches!(
            client.call("a.b.C", json!([1])),
            Err(ClientError::InvalidParameters)
        ));
    }

    #[test]
    fn connect_error_names_the_path() {
        let err = Client::connect(Path::new("/nonexistent/podmon-test.sock")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nonexistent/podmon-test.sock"), "{text}");
    }

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
        let up = Client::from_stream(a)
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
        let mut conn = Client::from_stream(a);
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
