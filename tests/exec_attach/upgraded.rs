//! The client side of a connection upgraded by Exec or Attach: the frame
//! protocol over a plain std UnixStream, and what a session delivered.

use crate::common::*;
use serde_json::{Value, json};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const EXIT: u8 = 3;
const RESIZE: u8 = 4;
const ERROR: u8 = 5;

/// What an upgraded session delivered.
#[derive(Debug, Default)]
pub struct Collected {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit: Option<i32>,
    pub error: Option<String>,
    /// The server closed the connection (with or without a last frame).
    pub eof: bool,
    /// Frames of a kind a client never expects (stdin/resize/unknown).
    pub odd: Vec<u8>,
}

impl Collected {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn done(&self) -> bool {
        self.exit.is_some() || self.error.is_some() || self.eof
    }
}

/// A connection upgraded by Exec or Attach: the frame protocol over a
/// plain std UnixStream.
pub struct Upgraded {
    pub stream: UnixStream,
    buf: Vec<u8>,
}

impl Upgraded {
    /// Sends `method` with `upgrade: true` and reads the one Varlink reply.
    /// Returns the whole reply message and the connection (whose further
    /// bytes are frames if the reply was not an error).
    pub fn open(pod: &Pod, method: &str, params: Value) -> (Value, Upgraded) {
        let (reply, stream, leftover) = pod.client().upgrade(method, params);
        let u = Upgraded {
            stream,
            buf: leftover,
        };
        (reply.0, u)
    }

    /// One NUL-terminated Varlink message (the leftover stays buffered).
    pub fn read_message(&mut self) -> io::Result<Value> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == 0) {
                let m: Vec<u8> = self.buf.drain(..=i).collect();
                return serde_json::from_slice(&m[..i]).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("reply is not JSON ({e}): {:?}", String::from_utf8_lossy(&m)),
                    )
                });
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 65536];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    fn write_frame(&mut self, kind: u8, payload: &[u8]) {
        let mut f = vec![kind];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        self.stream.write_all(&f).expect("write frame");
    }

    pub fn stdin(&mut self, data: &[u8]) {
        self.write_frame(STDIN, data);
    }

    pub fn resize(&mut self, cols: u16, rows: u16) {
        let mut p = cols.to_be_bytes().to_vec();
        p.extend_from_slice(&rows.to_be_bytes());
        self.write_frame(RESIZE, &p);
    }

    /// One frame; Ok(None) on a clean EOF between frames.
    fn read_frame(&mut self) -> io::Result<Option<(u8, Vec<u8>)>> {
        loop {
            if self.buf.len() >= 5 {
                let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]])
                    as usize;
                if self.buf.len() >= 5 + len {
                    let kind = self.buf[0];
                    let payload = self.buf[5..5 + len].to_vec();
                    self.buf.drain(..5 + len);
                    return Ok(Some((kind, payload)));
                }
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) if self.buf.is_empty() => return Ok(None),
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("EOF inside a frame: {} bytes buffered", self.buf.len()),
                    ));
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset && self.buf.is_empty() => {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads frames into `c` until `stop(c)` holds, the session ends (exit,
    /// error, EOF) or `timeout` passes. Returns whether `stop` held or the
    /// session ended.
    fn read_into(
        &mut self,
        c: &mut Collected,
        timeout: Duration,
        stop: impl Fn(&Collected) -> bool,
    ) -> bool {
        let end = Instant::now() + timeout;
        while !stop(c) && !c.done() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            match self.read_frame() {
                Ok(None) => c.eof = true,
                Ok(Some((kind, p))) => match kind {
                    STDOUT => c.stdout.extend_from_slice(&p),
                    STDERR => c.stderr.extend_from_slice(&p),
                    EXIT => {
                        assert_eq!(p.len(), 4, "exit frame payload must be an i32: {p:?}");
                        c.exit = Some(i32::from_be_bytes([p[0], p[1], p[2], p[3]]));
                    }
                    ERROR => c.error = Some(String::from_utf8_lossy(&p).into_owned()),
                    other => c.odd.push(other),
                },
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return stop(c) || c.done();
                }
                Err(e) => panic!("reading frames failed: {e}; so far: {c:?}"),
            }
        }
        true
    }

    /// Reads until the session ends (exit frame, error frame or EOF).
    #[track_caller]
    pub fn collect(&mut self, c: &mut Collected, timeout: Duration) {
        let ok = self.read_into(c, timeout, |_| false);
        assert!(
            ok,
            "session did not end within {timeout:?}; so far: stdout {:?}, stderr {:?}",
            trunc(&c.stdout_text()),
            String::from_utf8_lossy(&c.stderr)
        );
    }

    /// Reads until stdout contains `needle`.
    #[track_caller]
    pub fn wait_stdout(&mut self, c: &mut Collected, needle: &str, timeout: Duration) {
        self.read_into(c, timeout, |c| c.stdout_text().contains(needle));
        assert!(
            c.stdout_text().contains(needle),
            "stdout never contained {needle:?} within {timeout:?}; got {c:?}"
        );
    }

    /// After the last frame the server must close the connection.
    #[track_caller]
    pub fn expect_eof(&mut self, timeout: Duration) {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
        match self.read_frame() {
            Ok(None) => {}
            Ok(Some((k, p))) => panic!("frame of kind {k} after the last frame: {p:?}"),
            Err(e) => panic!("connection not closed after the last frame: {e}"),
        }
    }
}

pub fn trunc(s: &str) -> String {
    if s.len() > 400 {
        format!(
            "{}...({} bytes)",
            s.chars().take(400).collect::<String>(),
            s.len()
        )
    } else {
        s.to_string()
    }
}

pub fn params_of(reply: &Value) -> Value {
    reply.get("parameters").cloned().unwrap_or(json!({}))
}

#[track_caller]
pub fn assert_no_error(reply: &Value) {
    assert!(
        reply.get("error").is_none(),
        "expected a successful reply, got {reply}"
    );
}
