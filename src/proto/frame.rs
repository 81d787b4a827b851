//! The byte framing of an upgraded exec or attach connection, sans-IO, for
//! both ends: the server's session and the CLI use this one codec.
//!
//! After the one Varlink reply, the connection carries frames in both
//! directions: one byte of kind, a 32-bit big-endian length, then that many
//! bytes. Simple enough for a client in any language:
//!
//! | kind | direction | payload |
//! |------|-----------|---------|
//! | 0 stdin  | client → podmon | bytes for the process's stdin; empty = close stdin |
//! | 1 stdout | podmon → client | output |
//! | 2 stderr | podmon → client | output (never for terminals) |
//! | 3 exit   | podmon → client | i32 exit code (128+N for signal N); podmon then closes |
//! | 4 resize | client → podmon | u16 columns, u16 rows (terminals) |
//! | 5 error  | podmon → client | UTF-8 message; podmon then closes |

/// Frame kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Input for the process.
    Stdin = 0,
    /// Standard output.
    Stdout = 1,
    /// Standard error.
    Stderr = 2,
    /// The exit code; last frame.
    Exit = 3,
    /// Terminal size.
    Resize = 4,
    /// A failure; last frame.
    Error = 5,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            0 => Kind::Stdin,
            1 => Kind::Stdout,
            2 => Kind::Stderr,
            3 => Kind::Exit,
            4 => Kind::Resize,
            5 => Kind::Error,
            _ => return None,
        })
    }
}

/// Bytes of a frame header (kind + length).
pub const HEADER: usize = 5;
/// Largest payload the server accepts from a client (stdin comes in small
/// pieces; anything larger is a broken or hostile client).
pub const MAX_CLIENT_PAYLOAD: usize = 1 << 20;
/// Largest payload the CLI accepts from the monitor; it sends output in
/// chunks of at most 64 KiB, so anything near this is a broken stream.
pub const MAX_SERVER_PAYLOAD: usize = 16 << 20;

/// Bytes that are not a frame.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// Unknown kind byte.
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    /// Payload over the limit.
    #[error("frame of {len} bytes is larger than {max}")]
    TooLarge {
        /// The frame's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An exit or resize frame whose payload is not 4 bytes.
    #[error("{kind:?} frame must carry 4 bytes, not {len}")]
    BadLength {
        /// Exit or Resize.
        kind: Kind,
        /// What it carried.
        len: usize,
    },
}

/// One frame, in either direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Input for the process; empty closes its stdin.
    Stdin(Vec<u8>),
    /// Standard output.
    Stdout(Vec<u8>),
    /// Standard error.
    Stderr(Vec<u8>),
    /// The exit code, last frame.
    Exit(i32),
    /// Terminal size.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// A failure message, last frame.
    Error(String),
}

/// Appends one frame of `kind` carrying `payload` to `out`.
pub fn encode(kind: Kind, payload: &[u8], out: &mut Vec<u8>) {
    out.push(kind as u8);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
}

fn four(kind: Kind, payload: &[u8]) -> Result<[u8; 4], FrameError> {
    payload.try_into().map_err(|_| FrameError::BadLength {
        kind,
        len: payload.len(),
    })
}

/// Columns and rows of a resize payload.
fn size(payload: &[u8]) -> Result<(u16, u16), FrameError> {
    let [c0, c1, r0, r1] = four(Kind::Resize, payload)?;
    Ok((u16::from_be_bytes([c0, c1]), u16::from_be_bytes([r0, r1])))
}

impl Frame {
    /// Appends the frame's bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Stdin(b) => encode(Kind::Stdin, b, out),
            Frame::Stdout(b) => encode(Kind::Stdout, b, out),
            Frame::Stderr(b) => encode(Kind::Stderr, b, out),
            Frame::Exit(code) => encode(Kind::Exit, &code.to_be_bytes(), out),
            Frame::Resize { cols, rows } => {
                let [c0, c1] = cols.to_be_bytes();
                let [r0, r1] = rows.to_be_bytes();
                encode(Kind::Resize, &[c0, c1, r0, r1], out);
            }
            Frame::Error(msg) => encode(Kind::Error, msg.as_bytes(), out),
        }
    }

    /// The frame as bytes, for one `write_all` (so frames written from
    /// several threads never interleave).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// The frame of `kind` carrying `payload`.
    pub fn parse(kind: Kind, payload: Vec<u8>) -> Result<Frame, FrameError> {
        Ok(match kind {
            Kind::Stdin => Frame::Stdin(payload),
            Kind::Stdout => Frame::Stdout(payload),
            Kind::Stderr => Frame::Stderr(payload),
            Kind::Exit => Frame::Exit(i32::from_be_bytes(four(kind, &payload)?)),
            Kind::Resize => {
                let (cols, rows) = size(&payload)?;
                Frame::Resize { cols, rows }
            }
            Kind::Error => Frame::Error(String::from_utf8_lossy(&payload).into_owned()),
        })
    }
}

/// What the server takes from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// Bytes for stdin.
    Stdin(Vec<u8>),
    /// Close stdin.
    StdinEof,
    /// New terminal size.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
}

/// Collects bytes and yields whole frames.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    start: usize,
    max_payload: usize,
}

impl Decoder {
    /// A decoder that refuses payloads over `max_payload` bytes.
    pub fn new(max_payload: usize) -> Self {
        Decoder {
            buf: Vec::new(),
            start: 0,
            max_payload,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Whether bytes of an incomplete frame are held.
    pub fn is_empty(&self) -> bool {
        self.start == self.buf.len()
    }

    /// The next complete frame's kind and payload, if any.
    pub fn next_raw(&mut self) -> Result<Option<(Kind, Vec<u8>)>, FrameError> {
        let buf = &self.buf[self.start..];
        if buf.len() < HEADER {
            return Ok(None);
        }
        let kind = Kind::from_u8(buf[0]).ok_or(FrameError::UnknownKind(buf[0]))?;
        let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        if len > self.max_payload {
            return Err(FrameError::TooLarge {
                len,
                max: self.max_payload,
            });
        }
        if buf.len() < HEADER + len {
            return Ok(None);
        }
        let payload = buf[HEADER..HEADER + len].to_vec();
        self.start += HEADER + len;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        Ok(Some((kind, payload)))
    }

    /// The next complete frame, if any (the client's view: every kind).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        match self.next_raw()? {
            Some((kind, payload)) => Frame::parse(kind, payload).map(Some),
            None => Ok(None),
        }
    }

    /// The next complete frame a server acts on, if any: output kinds sent
    /// by a client are skipped, unknown kinds are an error.
    pub fn next_client_frame(&mut self) -> Result<Option<ClientFrame>, FrameError> {
        while let Some((kind, payload)) = self.next_raw()? {
            match kind {
                Kind::Stdin if payload.is_empty() => return Ok(Some(ClientFrame::StdinEof)),
                Kind::Stdin => return Ok(Some(ClientFrame::Stdin(payload))),
                Kind::Resize => {
                    let (cols, rows) = size(&payload)?;
                    return Ok(Some(ClientFrame::Resize { cols, rows }));
                }
                Kind::Stdout | Kind::Stderr | Kind::Exit | Kind::Error => continue,
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests;
