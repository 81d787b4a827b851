//! The client side of the framing on an upgraded `Exec` or `Attach`
//! connection: one byte of kind, a 32-bit big-endian length, the payload.
//!
//! Kept apart from the I/O so the byte layout is unit-tested; the server's
//! own codec lives in `crate::proto::frame`, and these tests pin the client
//! to the IDL rather than to that code.

use std::io::{self, Read};

/// Bytes of a frame header (kind + length).
pub const HEADER: usize = 5;

/// Largest payload accepted from the monitor; it sends output in chunks of
/// at most 64 KiB, so anything near this is a broken stream.
pub const MAX_PAYLOAD: usize = 16 << 20;

/// One frame, in either direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Input for the process; empty closes its stdin (kind 0).
    Stdin(Vec<u8>),
    /// Standard output (kind 1).
    Stdout(Vec<u8>),
    /// Standard error (kind 2).
    Stderr(Vec<u8>),
    /// The exit code, last frame (kind 3).
    Exit(i32),
    /// Terminal size (kind 4).
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// A failure message, last frame (kind 5).
    Error(String),
}

impl Frame {
    /// Appends the frame's bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (kind, payload): (u8, std::borrow::Cow<'_, [u8]>) = match self {
            Frame::Stdin(b) => (0, b.into()),
            Frame::Stdout(b) => (1, b.into()),
            Frame::Stderr(b) => (2, b.into()),
            Frame::Exit(code) => (3, code.to_be_bytes().to_vec().into()),
            Frame::Resize { cols, rows } => {
                let mut p = cols.to_be_bytes().to_vec();
                p.extend_from_slice(&rows.to_be_bytes());
                (4, p.into())
            }
            Frame::Error(msg) => (5, msg.as_bytes().into()),
        };
        out.push(kind);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&payload);
    }

    /// The frame as bytes, for one `write_all` (so frames written from
    /// several threads never interleave).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// Decodes the frame at the start of `buf`: `Ok(None)` while it is
/// incomplete, else the frame and the bytes it took.
pub fn decode(buf: &[u8]) -> io::Result<Option<(Frame, usize)>> {
    if buf.len() < HEADER {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if len > MAX_PAYLOAD {
        return Err(invalid(format!("frame of {len} bytes is too large")));
    }
    if buf.len() < HEADER + len {
        return Ok(None);
    }
    let payload = &buf[HEADER..HEADER + len];
    let frame = match buf[0] {
        0 => Frame::Stdin(payload.to_vec()),
        1 => Frame::Stdout(payload.to_vec()),
        2 => Frame::Stderr(payload.to_vec()),
        3 => {
            let code: [u8; 4] = payload
                .try_into()
                .map_err(|_| invalid(format!("exit frame of {len} bytes, not 4")))?;
            Frame::Exit(i32::from_be_bytes(code))
        }
        4 => {
            let [c0, c1, r0, r1]: [u8; 4] = payload
                .try_into()
                .map_err(|_| invalid(format!("resize frame of {len} bytes, not 4")))?;
            Frame::Resize {
                cols: u16::from_be_bytes([c0, c1]),
                rows: u16::from_be_bytes([r0, r1]),
            }
        }
        5 => Frame::Error(String::from_utf8_lossy(payload).into_owned()),
        kind => return Err(invalid(format!("unknown frame kind {kind}"))),
    };
    Ok(Some((frame, HEADER + len)))
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Reads frames from a byte stream, starting with bytes received earlier
/// (what followed the Varlink reply).
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
}

impl<R: Read> FrameReader<R> {
    /// A reader that first decodes `leftover`, then reads `inner`.
    pub fn new(inner: R, leftover: Vec<u8>) -> Self {
        FrameReader {
            inner,
            buf: leftover,
            start: 0,
        }
    }

    /// The next frame; `Ok(None)` at a clean end of stream, an
    /// `UnexpectedEof` error when it ends inside a frame.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        loop {
            if let Some((frame, used)) = decode(&self.buf[self.start..])? {
                self.start += used;
                if self.start == self.buf.len() {
                    self.buf.clear();
                    self.start = 0;
                }
                return Ok(Some(frame));
            }
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            let mut chunk = [0u8; 64 * 1024];
            let n = match self.inner.read(&mut chunk) {
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if n == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed inside a frame",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_the_idl_says() {
        assert_eq!(Frame::Stdin(b"ab".to_vec()).to_bytes(), b"\0\0\0\0\x02ab");
        assert_eq!(Frame::Stdin(Vec::new()).to_bytes(), b"\0\0\0\0\0");
        assert_eq!(
            Frame::Resize {
                cols: 0x0102,
                rows: 0x0304
            }
            .to_bytes(),
            b"\x04\0\0\0\x04\x01\x02\x03\x04"
        );
        assert_eq!(
            Frame::Exit(-1).to_bytes(),
            b"\x03\0\0\0\x04\xff\xff\xff\xff"
        );
    }

    #[test]
    fn round_trips() {
        for f in [
            Frame::Stdin(b"x".to_vec()),
            Frame::Stdout(b"out".to_vec()),
            Frame::Stderr(Vec::new()),
            Frame::Exit(137),
            Frame::Resize { cols: 80, rows: 24 },
            Frame::Error("too slow".into()),
        ] {
            let bytes = f.to_bytes();
            assert_eq!(decode(&bytes).unwrap(), Some((f.clone(), bytes.len())));
            assert_eq!(decode(&bytes[..bytes.len() - 1]).unwrap_or(None), None);
        }
    }

    #[test]
    fn bad_frames() {
        assert!(decode(b"\x09\0\0\0\0").is_err());
        assert!(decode(b"\x03\0\0\0\x02ab").is_err());
        assert!(decode(b"\x04\0\0\0\x03abc").is_err());
        assert!(decode(b"\x01\xff\xff\xff\xff").is_err());
        assert_eq!(decode(b"\x01\0\0").unwrap(), None);
    }

    #[test]
    fn reader_splits_and_joins() {
        let mut bytes = Frame::Stdout(b"hello".to_vec()).to_bytes();
        bytes.extend(Frame::Stderr(b"err".to_vec()).to_bytes());
        bytes.extend(Frame::Exit(3).to_bytes());
        // The leftover holds the first frame and part of the second.
        let (head, tail) = bytes.split_at(12);
        let mut r = FrameReader::new(tail, head.to_vec());
        assert_eq!(
            r.next_frame().unwrap(),
            Some(Frame::Stdout(b"hello".to_vec()))
        );
        assert_eq!(
            r.next_frame().unwrap(),
            Some(Frame::Stderr(b"err".to_vec()))
        );
        assert_eq!(r.next_frame().unwrap(), Some(Frame::Exit(3)));
        assert_eq!(r.next_frame().unwrap(), None);
        let mut cut = FrameReader::new(&b"\x01\0\0\0\x05hel"[..], Vec::new());
        assert_eq!(
            cut.next_frame().unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }
}
