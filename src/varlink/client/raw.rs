//! The byte-level half of [`Client`]: bytes out exactly as given, one
//! message in without interpreting it, and waiting for the service to hang
//! up.
//!
//! The integration tests feed the server malformed, pipelined and partial
//! input and check how it reacts, which the call methods cannot express; the
//! framing and the read timeouts stay those of the one client.

use std::io::{self, Read, Write};
use std::time::Duration;

use super::{Client, ClientError};

/// How much one `read` asks for.
const READ_CHUNK: usize = 64 * 1024;

impl Client {
    /// Writes `bytes` as they are, with no framing added: bad-input tests
    /// need byte-exact messages, split or pipelined as they choose.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes)?;
        Ok(())
    }

    /// Reads one whole message and returns it without its NUL, unparsed;
    /// `None` when the service closed the connection between messages. A
    /// close inside a message is [`FrameError::Truncated`]; a read timeout
    /// is [`ClientError::Io`] with its own kind, and keeps what arrived so
    /// far for the next read.
    ///
    /// [`FrameError::Truncated`]: crate::varlink::FrameError::Truncated
    pub fn read_frame(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        let mut buf = [0u8; READ_CHUNK];
        loop {
            if let Some(frame) = self.decoder.next_frame()? {
                return Ok(Some(frame));
            }
            let n = match self.stream.read(&mut buf) {
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err.into()),
            };
            if n == 0 {
                self.decoder.finish()?;
                return Ok(None);
            }
            self.decoder.push(&buf[..n]);
        }
    }

    /// Waits up to `timeout` for the service to close the connection, and
    /// returns every byte it sent meanwhile that was not read as a message.
    /// A reset counts as a close: a server that hangs up on unread input
    /// resets. If the connection stays open the error carries those bytes.
    pub fn expect_eof(&mut self, timeout: Duration) -> Result<Vec<u8>, ClientError> {
        self.stream.set_read_timeout(Some(timeout))?;
        let mut received = self.decoder.take_remaining();
        let mut buf = [0u8; READ_CHUNK];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return Ok(received),
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(err) if err.kind() == io::ErrorKind::ConnectionReset => return Ok(received),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(ClientError::NotClosed { source, received }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::varlink::FrameError;
    use serde_json::json;
    use std::os::unix::net::UnixStream;

    /// What a client sends through `f` before it is dropped.
    fn sent_by(f: impl FnOnce(&mut Client)) -> Vec<u8> {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut client = Client::from_stream(a);
        f(&mut client);
        drop(client);
        let mut got = Vec::new();
        b.read_to_end(&mut got).unwrap();
        got
    }

    /// A client whose service has sent `bytes` and closed the connection.
    fn after_close(bytes: &[u8]) -> Client {
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(bytes).unwrap();
        Client::from_stream(a)
    }

    #[test]
    fn send_raw_writes_the_bytes_unchanged() {
        let got = sent_by(|c| c.send_raw(b"{\"method\": \"a.b.C\", \0").unwrap());
        assert_eq!(got, b"{\"method\": \"a.b.C\", \0");
    }

    #[test]
    fn read_frame_returns_messages_then_none_at_a_clean_close() {
        let mut client = after_close(b"{\"x\":1}\0not json\0");
        assert_eq!(client.read_frame().unwrap().unwrap(), b"{\"x\":1}");
        assert_eq!(client.read_frame().unwrap().unwrap(), b"not json");
        assert!(client.read_frame().unwrap().is_none());
    }

    #[test]
    fn read_frame_reports_a_close_inside_a_message() {
        let err = after_close(b"{\"parameters\":").read_frame().unwrap_err();
        assert!(
            matches!(err, ClientError::Frame(FrameError::Truncated { len: 14 })),
            "{err:?}"
        );
    }

    #[test]
    fn read_frame_timeout_keeps_the_partial_message() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut client = Client::from_stream(a);
        client
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        b.write_all(b"{\"a\"").unwrap();
        match client.read_frame() {
            Err(ClientError::Io(e)) => assert!(
                matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ),
                "{e}"
            ),
            other => panic!("expected a timeout, got {other:?}"),
        }
        b.write_all(b":1}\0").unwrap();
        assert_eq!(client.read_frame().unwrap().unwrap(), b"{\"a\":1}");
    }

    #[test]
    fn expect_eof_returns_what_came_before_the_close() {
        let mut client = after_close(b"{}\0{\"tail\"");
        assert_eq!(client.read_frame().unwrap().unwrap(), b"{}");
        let rest = client.expect_eof(Duration::from_secs(5)).unwrap();
        assert_eq!(rest, b"{\"tail\"");
    }

    #[test]
    fn expect_eof_on_an_open_connection_says_what_arrived() {
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(b"{\"parameters\":{}}\0").unwrap();
        let err = Client::from_stream(a)
            .expect_eof(Duration::from_millis(50))
            .unwrap_err();
        match &err {
            ClientError::NotClosed { received, .. } => {
                assert_eq!(received, b"{\"parameters\":{}}\0")
            }
            other => panic!("expected NotClosed, got {other:?}"),
        }
        assert!(err.to_string().contains("parameters"), "{err}");
    }

    #[test]
    fn oneway_call_sends_the_flag_and_expects_nothing() {
        let got = sent_by(|c| {
            c.call_oneway("io.podmon.Pod.KillContainer", json!({"id": "o"}))
                .unwrap()
        });
        let (nul, body) = got.split_last().unwrap();
        assert_eq!(*nul, 0);
        let sent: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            sent,
            json!({"method": "io.podmon.Pod.KillContainer", "parameters": {"id": "o"}, "oneway": true})
        );
    }
}
