//! The byte framing of an upgraded exec or attach connection, sans-IO.
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

/// Bytes of a frame header.
pub const HEADER: usize = 5;
/// Largest payload accepted from a client.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// A client sent something that is not a frame.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// Unknown kind byte.
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    /// Payload over the limit.
    #[error("frame of {0} bytes is larger than {MAX_PAYLOAD}")]
    TooLarge(usize),
    /// A resize frame whose payload is not 4 bytes.
    #[error("resize frame must carry 4 bytes, not {0}")]
    BadResize(usize),
}

/// Appends one frame to `out`.
pub fn encode(kind: Kind, payload: &[u8], out: &mut Vec<u8>) {
    out.push(kind as u8);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
}

/// Appends the exit frame.
pub fn encode_exit(code: i32, out: &mut Vec<u8>) {
    encode(Kind::Exit, &code.to_be_bytes(), out);
}

/// A decoded client frame.
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

/// Collects bytes and yields whole client frames.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, if any. Output kinds sent by a client are
    /// ignored (skipped), unknown kinds are an error.
    pub fn next_frame(&mut self) -> Result<Option<ClientFrame>, FrameError> {
        loop {
            if self.buf.len() < HEADER {
                return Ok(None);
            }
            let kind = Kind::from_u8(self.buf[0]).ok_or(FrameError::UnknownKind(self.buf[0]))?;
            let len =
                u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
            if len > MAX_PAYLOAD {
                return Err(FrameError::TooLarge(len));
            }
            if self.buf.len() < HEADER + len {
                return Ok(None);
            }
            let payload: Vec<u8> = self.buf[HEADER..HEADER + len].to_vec();
            self.buf.drain(..HEADER + len);
            match kind {
                Kind::Stdin if payload.is_empty() => return Ok(Some(ClientFrame::StdinEof)),
                Kind::Stdin => return Ok(Some(ClientFrame::Stdin(payload))),
                Kind::Resize => {
                    if payload.len() != 4 {
                        return Err(FrameError::BadResize(payload.len()));
                    }
                    return Ok(Some(ClientFrame::Resize {
                        cols: u16::from_be_bytes([payload[0], payload[1]]),
                        rows: u16::from_be_bytes([payload[2], payload[3]]),
                    }));
                }
                Kind::Stdout | Kind::Stderr | Kind::Exit | Kind::Error => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut v = Vec::new();
        encode(Kind::Stdin, b"hello", &mut v);
        encode(Kind::Resize, &[0, 80, 0, 24], &mut v);
        encode(Kind::Stdout, b"ignored", &mut v);
        encode(Kind::Stdin, b"", &mut v);
        v
    }

    fn expected() -> Vec<ClientFrame> {
        vec![
            ClientFrame::Stdin(b"hello".to_vec()),
            ClientFrame::Resize { cols: 80, rows: 24 },
            ClientFrame::StdinEof,
        ]
    }

    fn drain(d: &mut Decoder, out: &mut Vec<ClientFrame>) {
        while let Some(f) = d.next_frame().unwrap() {
            out.push(f);
        }
    }

    #[test]
    fn every_split_point_gives_the_same_frames() {
        let bytes = sample();
        for cut in 0..=bytes.len() {
            let mut d = Decoder::default();
            let mut out = Vec::new();
            d.push(&bytes[..cut]);
            drain(&mut d, &mut out);
            d.push(&bytes[cut..]);
            drain(&mut d, &mut out);
            assert_eq!(out, expected(), "cut at {cut}");
        }
    }

    #[test]
    fn byte_by_byte() {
        let mut d = Decoder::default();
        let mut out = Vec::new();
        for b in sample() {
            d.push(&[b]);
            drain(&mut d, &mut out);
        }
        assert_eq!(out, expected());
    }

    #[test]
    fn bad_frames_are_errors() {
        let mut d = Decoder::default();
        d.push(&[9, 0, 0, 0, 0]);
        assert_eq!(d.next_frame(), Err(FrameError::UnknownKind(9)));
        let mut d = Decoder::default();
        d.push(&[0, 0xff, 0, 0, 0]);
        assert!(matches!(d.next_frame(), Err(FrameError::TooLarge(_))));
        let mut d = Decoder::default();
        d.push(&[4, 0, 0, 0, 1, 7]);
        assert_eq!(d.next_frame(), Err(FrameError::BadResize(1)));
    }

    #[test]
    fn exit_frame_layout() {
        let mut v = Vec::new();
        encode_exit(137, &mut v);
        assert_eq!(v, [3, 0, 0, 0, 4, 0, 0, 0, 137]);
    }
}
