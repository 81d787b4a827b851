//! Reading the frames of an upgraded `Exec` or `Attach` connection from a
//! blocking socket; the byte layout is `crate::proto::frame`'s, the one
//! codec the server uses too.

use std::io::{self, Read};

use crate::proto::frame::{Decoder, Frame, MAX_SERVER_PAYLOAD};

/// Reads frames from a byte stream, starting with bytes received earlier
/// (what followed the Varlink reply).
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    decoder: Decoder,
}

impl<R: Read> FrameReader<R> {
    /// A reader that first decodes `leftover`, then reads `inner`.
    pub fn new(inner: R, leftover: Vec<u8>) -> Self {
        let mut decoder = Decoder::new(MAX_SERVER_PAYLOAD);
        decoder.push(&leftover);
        FrameReader { inner, decoder }
    }

    /// The next frame; `Ok(None)` at a clean end of stream, an
    /// `UnexpectedEof` error when it ends inside a frame.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        loop {
            let next = self.decoder.next_frame();
            if let Some(frame) = next.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))? {
                return Ok(Some(frame));
            }
            let mut chunk = [0u8; 64 * 1024];
            let n = match self.inner.read(&mut chunk) {
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if n == 0 {
                if self.decoder.is_empty() {
                    return Ok(None);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed inside a frame",
                ));
            }
            self.decoder.push(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
