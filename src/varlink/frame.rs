//! NUL-terminated message framing of the Varlink stream transport.
//!
//! Varlink over `AF_UNIX` stream sockets writes each message as its JSON text
//! followed by one `NUL` byte; reads may split a message or carry several.
//! [`FrameDecoder`] reassembles the byte stream into whole messages without
//! doing any I/O itself, so the io_uring reactor, the blocking client and the
//! tests all share the same byte-exact behaviour.

use std::collections::VecDeque;

use thiserror::Error;

use super::fds::Passed;

/// Why the byte stream cannot be framed into messages any more.
///
/// Every variant is fatal for the connection: the Varlink specification has no
/// way to reply to a message that cannot be delimited, so the peer is
/// disconnected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// A message exceeds the size limit the decoder was built with; detected as
    /// soon as more than `max` bytes without a terminator are buffered, so a
    /// hostile peer cannot make us buffer without bound.
    #[error("message exceeds the maximum size of {max} bytes")]
    TooLarge {
        /// The limit in force, in bytes, not counting the NUL terminator.
        max: usize,
    },
    /// The stream ended in the middle of a message; reported by
    /// [`FrameDecoder::finish`] so that EOF handling can tell a clean close
    /// from a truncated one.
    #[error("connection closed in the middle of a message ({len} bytes without terminator)")]
    Truncated {
        /// How many bytes of the incomplete message were received.
        len: usize,
    },
}

/// Buffer capacity kept between messages; more is given back.
const KEEP_CAPACITY: usize = 256 * 1024;

/// Splits a received byte stream into NUL-terminated Varlink messages.
///
/// Feed it whatever a `read` returned with [`push`](Self::push), then drain
/// complete messages with [`next_frame`](Self::next_frame) until it returns
/// `Ok(None)`. The result does not depend on how the stream was split into
/// reads. An empty message (two NULs in a row) is returned as an empty frame:
/// deciding that it is invalid JSON is the message layer's job, as in systemd's
/// sd-varlink, which fails to parse it and drops the connection.
///
/// Once an error has been returned the decoder stays failed and returns the
/// same error again, so a caller that keeps polling cannot resynchronise on
/// garbage.
#[derive(Debug)]
pub struct FrameDecoder {
    /// Received bytes; `buf[start..]` are not yet returned as frames.
    buf: Vec<u8>,
    /// Offset of the first byte that does not belong to a returned frame.
    start: usize,
    /// Offset up to which `buf[start..scanned]` is known to hold no NUL, so
    /// byte-by-byte pushes are not rescanned from the start each time.
    scanned: usize,
    /// Largest message accepted, in bytes, excluding the NUL.
    max_message: usize,
    /// The error returned once, returned again on every later call.
    failed: Option<FrameError>,
    /// Stream offset of `buf[0]`: where the bytes pushed so far began.
    base: u64,
    /// Descriptors passed with the bytes, by the stream offset of the
    /// message they came with, oldest first.
    fds: VecDeque<(u64, Passed)>,
}

impl FrameDecoder {
    /// Creates a decoder that refuses messages longer than `max_message` bytes
    /// (terminator not counted), bounding the memory one peer can pin.
    pub fn new(max_message: usize) -> Self {
        FrameDecoder {
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            max_message,
            failed: None,
            base: 0,
            fds: VecDeque::new(),
        }
    }

    /// Appends bytes received together with descriptors. The descriptors
    /// go with the last message that starts in `bytes`: the kernel ends a
    /// receive right after the bytes that carried descriptors, and a
    /// sender attaches them to the sendmsg(2) with a message's first byte.
    /// Descriptors with bytes in which no message starts break that rule:
    /// they are closed here, and false is returned.
    pub fn push_with_fds(&mut self, bytes: &[u8], passed: Passed) -> bool {
        if passed.fds.is_empty() && !passed.too_many {
            self.push(bytes);
            return true;
        }
        self.compact();
        let at_boundary = self.buf.len() == self.start || self.buf.last() == Some(&0);
        let mut last_start = at_boundary.then_some(0);
        for (i, &b) in bytes.iter().enumerate() {
            if b == 0 && i + 1 < bytes.len() {
                last_start = Some(i + 1);
            }
        }
        let pos = last_start.map(|off| self.base + (self.buf.len() + off) as u64);
        self.buf.extend_from_slice(bytes);
        match pos {
            Some(pos) => {
                self.fds.push_back((pos, passed));
                true
            }
            None => false,
        }
    }

    /// Descriptors held for messages not returned yet.
    pub fn held_fds(&self) -> usize {
        self.fds.iter().map(|(_, p)| p.fds.len()).sum()
    }

    /// Like [`next_frame`](Self::next_frame), with the descriptors that
    /// came with the message.
    pub fn next_message(&mut self) -> Result<Option<(Vec<u8>, Passed)>, FrameError> {
        let begins = self.base + self.start as u64;
        let Some(frame) = self.next_frame_only()? else {
            return Ok(None);
        };
        let mut passed = Passed::default();
        while let Some((pos, _)) = self.fds.front()
            && *pos <= begins
        {
            let (pos, p) = self.fds.pop_front().expect("front");
            if pos == begins {
                passed = p;
            }
        }
        Ok(Some((frame, passed)))
    }

    /// Appends bytes as received from the transport, in order.
    pub fn push(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    /// Returns the next complete message, without its terminating NUL, or
    /// `Ok(None)` when the buffered bytes do not yet end a message.
    /// Descriptors that came with it are closed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        Ok(self.next_message()?.map(|(frame, _)| frame))
    }

    fn next_frame_only(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let unscanned = &self.buf[self.scanned..];
        match unscanned.iter().position(|&b| b == 0) {
            Some(offset) => {
                let end = self.scanned + offset;
                if end - self.start > self.max_message {
                    return Err(self.fail());
                }
                let frame = self.buf[self.start..end].to_vec();
                self.start = end + 1;
                self.scanned = self.start;
                if self.start == self.buf.len() {
                    self.release();
                }
                Ok(Some(frame))
            }
            None => {
                self.scanned = self.buf.len();
                if self.buf.len() - self.start > self.max_message {
                    return Err(self.fail());
                }
                Ok(None)
            }
        }
    }

    /// Hands over every buffered byte that follows the last returned frame and
    /// empties the decoder.
    ///
    /// After an `upgrade` call is confirmed these bytes were sent for the new
    /// protocol, not for Varlink, and must reach its handler unaltered.
    /// Descriptors that came with those bytes are closed: the new
    /// protocol carries none.
    pub fn take_remaining(&mut self) -> Vec<u8> {
        self.fds.clear();
        self.base += self.buf.len() as u64;
        let rest = self.buf.split_off(self.start);
        self.buf.clear();
        self.start = 0;
        self.scanned = 0;
        rest
    }

    /// Tells whether bytes are buffered after the last complete message, i.e.
    /// whether EOF now would cut a message short.
    pub fn has_partial(&self) -> bool {
        let pending = &self.buf[self.start..];
        match pending.iter().rposition(|&b| b == 0) {
            Some(last_nul) => last_nul + 1 < pending.len(),
            None => !pending.is_empty(),
        }
    }

    /// Checks the stream may end here: call it on EOF after draining
    /// [`next_frame`](Self::next_frame); a partial message is
    /// [`FrameError::Truncated`].
    pub fn finish(&self) -> Result<(), FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if self.has_partial() {
            let pending = &self.buf[self.start..];
            let tail = pending
                .iter()
                .rposition(|&b| b == 0)
                .map_or(pending.len(), |nul| pending.len() - nul - 1);
            return Err(FrameError::Truncated { len: tail });
        }
        Ok(())
    }

    /// Number of bytes buffered and not yet returned as frames; lets the reader
    /// apply back-pressure before pushing more.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Empties the buffer once every byte in it was returned, and gives
    /// back its memory if a large message made it grow: an idle connection
    /// does not keep the 8 MiB its last message needed.
    fn release(&mut self) {
        self.base += self.buf.len() as u64;
        self.buf.clear();
        self.start = 0;
        self.scanned = 0;
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
        }
    }

    /// Records and returns the size error; the decoder stays failed.
    fn fail(&mut self) -> FrameError {
        let err = FrameError::TooLarge {
            max: self.max_message,
        };
        self.failed = Some(err.clone());
        err
    }

    /// Drops already returned frames from the front of the buffer when they
    /// make up at least half of it, keeping pushes amortised O(n).
    fn compact(&mut self) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.base += self.start as u64;
            self.scanned -= self.start;
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What draining a decoder produced: the frames, then the error if any.
    #[derive(Debug, PartialEq)]
    struct Outcome {
        frames: Vec<Vec<u8>>,
        error: Option<FrameError>,
        remaining: Vec<u8>,
        partial: bool,
    }

    fn drain(dec: &mut FrameDecoder, out: &mut Outcome) {
        if out.error.is_some() {
            return;
        }
        loop {
            match dec.next_frame() {
                Ok(Some(frame)) => out.frames.push(frame),
                Ok(None) => return,
                Err(err) => {
                    out.error = Some(err);
                    return;
                }
            }
        }
    }

    /// Feeds `input` as the given chunks, draining after each push.
    fn run_chunks(max: usize, chunks: &[&[u8]]) -> Outcome {
        let mut dec = FrameDecoder::new(max);
        let mut out = Outcome {
            frames: Vec::new(),
            error: None,
            remaining: Vec::new(),
            partial: false,
        };
        for chunk in chunks {
            dec.push(chunk);
            drain(&mut dec, &mut out);
        }
        out.partial = dec.has_partial();
        if out.error.is_none() {
            out.remaining = dec.take_remaining();
        }
        out
    }

    /// Runs `input` whole, split at every byte boundary, split at every pair of
    /// boundaries, and byte by byte; asserts every run gives the same outcome
    /// and returns it.
    fn check_all_splits(max: usize, input: &[u8]) -> Outcome {
        let whole = run_chunks(max, &[input]);
        for i in 0..=input.len() {
            let (a, b) = input.split_at(i);
            assert_eq!(run_chunks(max, &[a, b]), whole, "split at {i}");
        }
        if input.len() <= 64 {
            for i in 0..=input.len() {
                for j in i..=input.len() {
                    let parts = [&input[..i], &input[i..j], &input[j..]];
                    assert_eq!(run_chunks(max, &parts), whole, "split at {i} and {j}");
                }
            }
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run_chunks(max, &bytes), whole, "byte by byte");
        whole
    }

    #[test]
    fn single_message() {
        let out = check_all_splits(1024, b"{\"method\":\"a.b.C\"}\0");
        assert_eq!(out.frames, vec![b"{\"method\":\"a.b.C\"}".to_vec()]);
        assert_eq!(out.error, None);
        assert!(!out.partial);
        assert!(out.remaining.is_empty());
    }

    #[test]
    fn pipelined_messages_in_one_buffer() {
        let out = check_all_splits(1024, b"{\"a\":1}\0{\"b\":2}\0{\"c\":3}\0");
        assert_eq!(
            out.frames,
            vec![
                b"{\"a\":1}".to_vec(),
                b"{\"b\":2}".to_vec(),
                b"{\"c\":3}".to_vec()
            ]
        );
        assert!(!out.partial);
    }

    #[test]
    fn trailing_partial_message_is_kept() {
        let out = check_all_splits(1024, b"{\"a\":1}\0{\"b\"");
        assert_eq!(out.frames, vec![b"{\"a\":1}".to_vec()]);
        assert!(out.partial);
        assert_eq!(out.remaining, b"{\"b\"".to_vec());
    }

    #[test]
    fn empty_message_between_nuls_is_an_empty_frame() {
        let out = check_all_splits(1024, b"{}\0\0{}\0");
        assert_eq!(out.frames, vec![b"{}".to_vec(), Vec::new(), b"{}".to_vec()]);
        assert_eq!(out.error, None);
    }

    #[test]
    fn message_of_exactly_max_is_accepted() {
        let out = check_all_splits(4, b"1234\0");
        assert_eq!(out.frames, vec![b"1234".to_vec()]);
        assert_eq!(out.error, None);
    }

    #[test]
    fn message_larger_than_max_is_refused() {
        let out = check_all_splits(4, b"12\x0012345\0ab\0");
        assert_eq!(out.frames, vec![b"12".to_vec()]);
        assert_eq!(out.error, Some(FrameError::TooLarge { max: 4 }));
    }

    #[test]
    fn oversized_message_is_refused_before_its_terminator_arrives() {
        let mut dec = FrameDecoder::new(4);
        dec.push(b"1234");
        assert_eq!(dec.next_frame(), Ok(None));
        dec.push(b"5");
        assert_eq!(dec.next_frame(), Err(FrameError::TooLarge { max: 4 }));
        // The error is sticky: more input does not resynchronise.
        dec.push(b"\0ok\0");
        assert_eq!(dec.next_frame(), Err(FrameError::TooLarge { max: 4 }));
        assert_eq!(dec.finish(), Err(FrameError::TooLarge { max: 4 }));
    }

    #[test]
    fn arbitrary_bytes_pass_through_unchanged() {
        // Framing is byte-exact: invalid UTF-8 is the message layer's concern.
        let out = check_all_splits(1024, b"\xff\xfe{\0\x80\0");
        assert_eq!(out.frames, vec![b"\xff\xfe{".to_vec(), b"\x80".to_vec()]);
    }

    #[test]
    fn take_remaining_returns_bytes_after_an_upgrade_call() {
        let mut dec = FrameDecoder::new(1024);
        dec.push(b"{\"upgrade\":true}\0raw\0bytes");
        assert_eq!(dec.next_frame(), Ok(Some(b"{\"upgrade\":true}".to_vec())));
        assert_eq!(dec.take_remaining(), b"raw\0bytes".to_vec());
        assert_eq!(dec.buffered(), 0);
        assert!(!dec.has_partial());
        assert_eq!(dec.next_frame(), Ok(None));
    }

    #[test]
    fn finish_reports_truncation() {
        let mut dec = FrameDecoder::new(1024);
        assert_eq!(dec.finish(), Ok(()));
        dec.push(b"{}\0{\"a\"");
        assert_eq!(dec.next_frame(), Ok(Some(b"{}".to_vec())));
        assert_eq!(dec.next_frame(), Ok(None));
        assert_eq!(dec.finish(), Err(FrameError::Truncated { len: 4 }));
        dec.push(b"}\0");
        assert_eq!(dec.next_frame(), Ok(Some(b"{\"a\"}".to_vec())));
        assert_eq!(dec.finish(), Ok(()));
    }

    #[test]
    fn has_partial_ignores_complete_undrained_frames() {
        let mut dec = FrameDecoder::new(1024);
        dec.push(b"{}\0");
        assert!(!dec.has_partial());
        dec.push(b"{");
        assert!(dec.has_partial());
    }

    #[test]
    fn a_large_message_does_not_keep_its_memory() {
        let mut dec = FrameDecoder::new(4 << 20);
        let mut big = vec![b'x'; 2 << 20];
        big.push(0);
        dec.push(&big);
        assert_eq!(
            dec.next_frame().map(|f| f.map(|f| f.len())),
            Ok(Some(2 << 20))
        );
        assert!(
            dec.buf.capacity() <= KEEP_CAPACITY,
            "{}",
            dec.buf.capacity()
        );
        // Small ones keep the buffer, and what follows a frame stays.
        dec.push(b"{}\0{\"a\"");
        assert_eq!(dec.next_frame(), Ok(Some(b"{}".to_vec())));
        assert_eq!(dec.take_remaining(), b"{\"a\"".to_vec());
    }

    fn passed(n: usize) -> Passed {
        let (r, _w) = std::io::pipe().unwrap();
        let fds = (0..n)
            .map(|_| std::os::fd::OwnedFd::from(r.try_clone().unwrap()))
            .collect();
        Passed {
            fds,
            too_many: false,
        }
    }

    fn fd_counts(dec: &mut FrameDecoder) -> Vec<(Vec<u8>, usize)> {
        let mut out = vec![];
        while let Some((f, p)) = dec.next_message().unwrap() {
            out.push((f, p.fds.len()));
        }
        out
    }

    #[test]
    fn descriptors_go_with_the_last_message_starting_in_their_bytes() {
        let mut dec = FrameDecoder::new(1024);
        // Pipelined: a call without, then one with descriptors.
        dec.push(b"{\"a\":1}\0");
        assert!(dec.push_with_fds(b"{\"b\":2}\0", passed(2)));
        dec.push(b"{\"c\":");
        assert_eq!(dec.held_fds(), 2);
        let got = fd_counts(&mut dec);
        assert_eq!(
            got,
            vec![(b"{\"a\":1}".to_vec(), 0), (b"{\"b\":2}".to_vec(), 2)]
        );
        assert_eq!(dec.held_fds(), 0);
        // The end of one message and the start of the next: the next.
        assert!(dec.push_with_fds(b"3}\0{\"d\"", passed(1)));
        dec.push(b":4}\0");
        assert_eq!(
            fd_counts(&mut dec),
            vec![(b"{\"c\":3}".to_vec(), 0), (b"{\"d\":4}".to_vec(), 1)]
        );
        // In the middle of a message: refused, closed.
        dec.push(b"{\"e\"");
        assert!(!dec.push_with_fds(b":5}\0", passed(1)));
        assert_eq!(dec.held_fds(), 0);
        assert_eq!(fd_counts(&mut dec), vec![(b"{\"e\":5}".to_vec(), 0)]);
        // Given up at an upgrade.
        assert!(dec.push_with_fds(b"{}\0", passed(1)));
        assert!(dec.push_with_fds(b"raw\0more", passed(1)));
        assert_eq!(dec.next_message().unwrap().unwrap().1.fds.len(), 1);
        assert_eq!(dec.held_fds(), 1);
        assert_eq!(dec.take_remaining(), b"raw\0more".to_vec());
        assert_eq!(dec.held_fds(), 0);
    }

    #[test]
    fn long_stream_byte_by_byte_compacts() {
        let mut input = Vec::new();
        for i in 0..500 {
            input.extend_from_slice(format!("{{\"n\":{i}}}\0").as_bytes());
        }
        let mut dec = FrameDecoder::new(64);
        let mut count = 0;
        for byte in &input {
            dec.push(std::slice::from_ref(byte));
            while let Ok(Some(frame)) = dec.next_frame() {
                assert_eq!(frame, format!("{{\"n\":{count}}}").into_bytes());
                count += 1;
            }
            assert!(dec.buf.len() < 64, "buffer not compacted");
        }
        assert_eq!(count, 500);
    }
}
