//! The tests' Varlink client: podmon's own client
//! (`podmon::varlink::client::Client`) with the tests' habits on top.
//! Every read and write times out after [`TIMEOUT`], anything unexpected
//! panics with a message saying what arrived, and replies are kept as the
//! raw JSON message so a test can look at any field the server sent.

use serde_json::{Map, Value, json};
use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use podmon::varlink::client::{Client as Connection, ClientError, Mode};
use podmon::varlink::{Call, FrameError};

use super::TIMEOUT;

/// One reply message.
#[derive(Debug, Clone)]
pub struct Reply(pub Value);

impl Reply {
    pub fn error(&self) -> Option<&str> {
        self.0.get("error").and_then(Value::as_str)
    }

    pub fn continues(&self) -> bool {
        self.0
            .get("continues")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// The parameters object ({} when absent).
    pub fn params(&self) -> Value {
        self.0
            .get("parameters")
            .cloned()
            .unwrap_or_else(|| json!({}))
    }

    /// Parameters of a successful reply; panics showing the error otherwise.
    #[track_caller]
    pub fn ok(&self) -> Value {
        if let Some(e) = self.error() {
            panic!("expected a successful reply, got error {e}: {}", self.0);
        }
        self.params()
    }

    /// Parameters of the error `name`; panics if the reply is anything else.
    #[track_caller]
    pub fn err(&self, name: &str) -> Value {
        assert_eq!(
            self.error(),
            Some(name),
            "expected error {name}, got reply {}",
            self.0
        );
        self.params()
    }
}

/// One connection to a test's server.
pub struct Client {
    conn: Connection,
}

impl Client {
    pub fn connect(path: &Path) -> Client {
        // The error names the path: "cannot connect to PATH: ...".
        let mut conn = Connection::connect(path).unwrap_or_else(|e| panic!("{e}"));
        conn.set_timeout(Some(TIMEOUT)).unwrap();
        // The tests read whatever the server sends, however large.
        Client {
            conn: conn.with_max_reply(usize::MAX),
        }
    }

    pub fn set_read_timeout(&self, d: Duration) {
        self.conn.set_read_timeout(Some(d)).unwrap();
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.conn.send_raw(bytes).map_err(io_error)
    }

    /// The bytes of one call message, NUL included.
    pub fn encode(method: &str, params: Value, more: bool, oneway: bool) -> Vec<u8> {
        let call = Call {
            more,
            oneway,
            ..Call::new(method, parameters(params))
        };
        let mut b = vec![];
        call.encode(&mut b);
        b
    }

    pub fn send(&mut self, method: &str, params: Value) {
        let sent = self.conn.send(method, params, Mode::Plain);
        sent.unwrap_or_else(|e| panic!("write call: {e}"));
    }

    pub fn send_more(&mut self, method: &str, params: Value) {
        let sent = self.conn.send(method, params, Mode::More);
        sent.unwrap_or_else(|e| panic!("write call: {e}"));
    }

    pub fn send_oneway(&mut self, method: &str, params: Value) {
        let sent = self.conn.call_oneway(method, params);
        sent.unwrap_or_else(|e| panic!("write call: {e}"));
    }

    /// Reads one NUL-terminated message. Ok(None) on a clean EOF before any byte of a message.
    pub fn read_raw(&mut self) -> io::Result<Option<Vec<u8>>> {
        self.conn.read_frame().map_err(io_error)
    }

    /// Reads one reply; panics on EOF, timeout or invalid JSON.
    #[track_caller]
    pub fn recv(&mut self) -> Reply {
        match self.read_raw() {
            Ok(Some(b)) => Reply(serde_json::from_slice(&b).unwrap_or_else(|e| {
                panic!("reply is not JSON ({e}): {:?}", String::from_utf8_lossy(&b))
            })),
            Ok(None) => panic!("server closed the connection instead of replying"),
            Err(e) => panic!("reading a reply failed: {e}"),
        }
    }

    #[track_caller]
    pub fn call(&mut self, method: &str, params: Value) -> Reply {
        self.send(method, params);
        self.recv()
    }

    /// Calls with `more` and collects replies until one without `continues` (or an error).
    #[track_caller]
    pub fn call_more(&mut self, method: &str, params: Value) -> Vec<Reply> {
        self.send_more(method, params);
        let mut out = vec![];
        loop {
            let r = self.recv();
            let done = !r.continues() || r.error().is_some();
            out.push(r);
            if done {
                return out;
            }
            assert!(out.len() < 10_000, "endless stream of replies");
        }
    }

    /// Sends `method` with `upgrade` and reads the one reply, error or not;
    /// returns it with the socket and the bytes that came after it (the
    /// first frames of the upgraded protocol), for tests that speak that
    /// protocol themselves.
    #[track_caller]
    pub fn upgrade(mut self, method: &str, params: Value) -> (Reply, UnixStream, Vec<u8>) {
        let sent = self.conn.send(method, params, Mode::Upgrade);
        sent.unwrap_or_else(|e| panic!("write call: {e}"));
        let reply = self.recv();
        let (stream, leftover) = self.conn.into_parts();
        (reply, stream, leftover)
    }

    /// Waits for the server to close the connection; returns the bytes received before.
    pub fn expect_eof(&mut self, timeout: Duration) -> Result<Vec<u8>, String> {
        self.conn.expect_eof(timeout).map_err(|e| match e {
            ClientError::NotClosed { source, received } => format!(
                "connection not closed within {timeout:?} ({source}); received {:?}",
                String::from_utf8_lossy(&received)
            ),
            other => format!("connection not closed within {timeout:?} ({other})"),
        })
    }
}

/// Call parameters: an object, or nothing for `null`. Anything else is a
/// mistake in the test; malformed calls are sent with `send_raw`.
#[track_caller]
fn parameters(params: Value) -> Map<String, Value> {
    match params {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => panic!("call parameters must be an object or null, not {other}; use send_raw"),
    }
}

/// The I/O error behind a client error, so tests can match its kind
/// (timeout, reset); a close inside a message is `UnexpectedEof`.
fn io_error(err: ClientError) -> io::Error {
    match err {
        ClientError::Io(e) => e,
        ClientError::Frame(e @ FrameError::Truncated { .. }) => io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("EOF inside a message: {e}"),
        ),
        other => io::Error::other(other),
    }
}
