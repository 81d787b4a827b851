//! Sans-IO Kubernetes CRI log format (what kubelet and `kubectl logs` read).
//!
//! Each record is `<RFC3339Nano UTC timestamp> <stream> <P|F> <content>\n`:
//! `F` ends a line, `P` is a piece of a line that continues in the next
//! record. The format is byte-oriented: content is passed through untouched
//! (binary and invalid UTF-8 included) and only the '\n' terminators are
//! consumed. This module does no IO and no allocation per line so the reactor
//! can format straight into its write buffer.

use std::fmt;

use thiserror::Error;

use crate::sys::time::{TS_LEN, Timestamp, is_rfc3339};

/// Which pipe a chunk came from; kubelet keeps the two apart by this tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The container's fd 1.
    Stdout,
    /// The container's fd 2.
    Stderr,
}

impl Stream {
    /// The word used in the log record.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Formats a chunk read from a pipe into CRI records appended to `out`, in
/// place, with no per-line allocation.
///
/// Each complete line (ending in '\n') becomes an "F" record without the
/// '\n'; a trailing piece without '\n' becomes a "P" record immediately (as
/// conmon does) so nothing is held back waiting for a newline that may never
/// come. Concatenating record contents (adding '\n' after F records)
/// reproduces the input exactly. A line longer than `max_line` bytes is split
/// into P records followed by the final piece; `max_line == 0` means no limit.
pub fn format_chunk(
    stream: Stream,
    timestamp: &Timestamp,
    chunk: &[u8],
    max_line: usize,
    out: &mut Vec<u8>,
) {
    let limit = if max_line == 0 { usize::MAX } else { max_line };
    // The record prefix is the same for every line of a chunk: build it
    // once ("<ts> <stream> F "), flipping one byte for partial records.
    let mut prefix = [0u8; TS_LEN + 10];
    let name = stream.as_str().as_bytes();
    let mut n = 0;
    for part in [timestamp.as_bytes(), b" ", name, b" F "] {
        prefix[n..n + part.len()].copy_from_slice(part);
        n += part.len();
    }
    let tag = n - 2;
    let prefix = &mut prefix[..n];
    // Most chunks hold short lines: one reservation for the usual case.
    out.reserve(chunk.len() + chunk.len() / 2 + n + 1);
    let mut push = |out: &mut Vec<u8>, partial: bool, content: &[u8]| {
        prefix[tag] = if partial { b'P' } else { b'F' };
        out.extend_from_slice(prefix);
        out.extend_from_slice(content);
        out.push(b'\n');
    };
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', chunk).chain(std::iter::once(chunk.len()));
    for end in ends {
        if start >= chunk.len() && end == chunk.len() {
            break;
        }
        let complete = end < chunk.len();
        let mut line = &chunk[start..end];
        // Over-long lines: full-size P pieces; the remainder keeps the
        // line's own ending. `>` (not `>=`) so a line of exactly `limit`
        // bytes is one F record rather than P + empty F.
        while line.len() > limit {
            let (piece, tail) = line.split_at(limit);
            push(out, true, piece);
            line = tail;
        }
        if complete || !line.is_empty() {
            push(out, !complete, line);
        }
        start = end + 1;
    }
}

/// One parsed CRI log record, borrowing from the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The timestamp text as written (RFC 3339).
    pub timestamp: &'a str,
    /// Which stream the bytes came from.
    pub stream: Stream,
    /// True for "P": the line continues in the next record of this stream.
    pub partial: bool,
    /// The bytes, without the record's terminating '\n'.
    pub content: &'a [u8],
}

/// Why a log line is not a CRI record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CriError {
    /// A space-separated field is missing.
    #[error("CRI log record is missing the {0} field")]
    Missing(&'static str),
    /// The first field is not an RFC 3339 timestamp.
    #[error("CRI log record has a malformed timestamp")]
    BadTimestamp,
    /// The second field is neither "stdout" nor "stderr".
    #[error("CRI log record has unknown stream {0:?}")]
    BadStream(String),
    /// The third field is neither "P" nor "F".
    #[error("CRI log record has unknown tag {0:?}")]
    BadTag(String),
}

/// Parses one record (for tests and `podmon logs`). `line` may include its
/// terminating '\n'; exactly one is stripped, the content is otherwise raw.
pub fn parse_line(line: &[u8]) -> Result<Record<'_>, CriError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let (ts, rest) = split_field(line).ok_or(CriError::Missing("stream"))?;
    let (stream, rest) = split_field(rest).ok_or(CriError::Missing("tag"))?;
    let (tag, content) = split_field(rest).ok_or(CriError::Missing("content"))?;
    if !is_rfc3339(ts) {
        return Err(CriError::BadTimestamp);
    }
    // is_rfc3339 only accepts ASCII, so this cannot fail.
    let timestamp = std::str::from_utf8(ts).map_err(|_| CriError::BadTimestamp)?;
    let stream = match stream {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        other => return Err(CriError::BadStream(lossy(other))),
    };
    let partial = match tag {
        b"P" => true,
        b"F" => false,
        other => return Err(CriError::BadTag(lossy(other))),
    };
    Ok(Record {
        timestamp,
        stream,
        partial,
        content,
    })
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Splits at the first space: (before, after).
fn split_field(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&b| b == b' ')?;
    Some((&s[..i], &s[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::time::tests::{TS, ts};

    fn fmt(stream: Stream, chunk: &[u8], max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        format_chunk(stream, &ts(), chunk, max, &mut out);
        out
    }

    /// Reassembles the original bytes from formatted output.
    fn reassemble(out: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for line in out.split_inclusive(|&b| b == b'\n') {
            let rec = parse_line(line).expect("valid record");
            bytes.extend_from_slice(rec.content);
            if !rec.partial {
                bytes.push(b'\n');
            }
        }
        bytes
    }

    #[test]
    fn formats_complete_lines() {
        let out = fmt(Stream::Stdout, b"hello\nworld\n", 0);
        let want = format!("{TS} stdout F hello\n{TS} stdout F world\n");
        assert_eq!(out, want.as_bytes());
    }

    #[test]
    fn formats_partial_last_line() {
        let out = fmt(Stream::Stderr, b"a\nbc", 16);
        let want = format!("{TS} stderr F a\n{TS} stderr P bc\n");
        assert_eq!(out, want.as_bytes());
        assert_eq!(reassemble(&out), b"a\nbc");
    }

    #[test]
    fn empty_chunk_writes_nothing() {
        assert!(fmt(Stream::Stdout, b"", 10).is_empty());
    }

    #[test]
    fn newline_only_chunk_is_empty_full_line() {
        let out = fmt(Stream::Stdout, b"\n", 10);
        assert_eq!(out, format!("{TS} stdout F \n").as_bytes());
        let out = fmt(Stream::Stdout, b"\n\n", 10);
        assert_eq!(out, format!("{TS} stdout F \n{TS} stdout F \n").as_bytes());
        assert_eq!(reassemble(&out), b"\n\n");
    }

    #[test]
    fn long_line_is_split() {
        let out = fmt(Stream::Stdout, b"abcdefghij\n", 4);
        let want = format!("{TS} stdout P abcd\n{TS} stdout P efgh\n{TS} stdout F ij\n");
        assert_eq!(out, want.as_bytes());
        // Exactly the limit: one F record, no empty tail.
        let out = fmt(Stream::Stdout, b"abcd\n", 4);
        assert_eq!(out, format!("{TS} stdout F abcd\n").as_bytes());
        // Exact multiple of the limit.
        let out = fmt(Stream::Stdout, b"abcdefgh\n", 4);
        let want = format!("{TS} stdout P abcd\n{TS} stdout F efgh\n");
        assert_eq!(out, want.as_bytes());
        // Long trailing piece without newline: all P.
        let out = fmt(Stream::Stdout, b"abcdefghij", 4);
        let want = format!("{TS} stdout P abcd\n{TS} stdout P efgh\n{TS} stdout P ij\n");
        assert_eq!(out, want.as_bytes());
        let out = fmt(Stream::Stdout, b"abcdefgh", 4);
        let want = format!("{TS} stdout P abcd\n{TS} stdout P efgh\n");
        assert_eq!(out, want.as_bytes());
        // Limit of 1 still terminates and round-trips.
        let out = fmt(Stream::Stdout, b"xyz\n\nq", 1);
        assert_eq!(reassemble(&out), b"xyz\n\nq");
    }

    #[test]
    fn binary_bytes_pass_through() {
        let chunk: Vec<u8> = (0u8..=255).collect();
        let out = fmt(Stream::Stdout, &chunk, 0);
        assert_eq!(reassemble(&out), chunk);
        let mut want = format!("{TS} stdout F ").into_bytes();
        want.extend_from_slice(&chunk[..10]);
        want.push(b'\n');
        assert!(out.starts_with(&want));
        let out = fmt(Stream::Stderr, b"\xff\xfe\r\0 \x1b[0m\n", 0);
        let mut want = format!("{TS} stderr F ").into_bytes();
        want.extend_from_slice(b"\xff\xfe\r\0 \x1b[0m\n");
        assert_eq!(out, want);
    }

    #[test]
    fn appends_to_existing_buffer() {
        let mut out = b"keep".to_vec();
        format_chunk(Stream::Stdout, &ts(), b"x\n", 0, &mut out);
        assert_eq!(out, format!("keep{TS} stdout F x\n").as_bytes());
    }

    #[test]
    fn round_trip_many_shapes() {
        let inputs: [&[u8]; 7] = [
            b"one line\n",
            b"no newline",
            b"\n\n\nx",
            b"  leading spaces and P F words \n",
            b"a very long line that needs splitting into pieces\nshort\n",
            b"\r\n\r\n",
            b"tab\there\n",
        ];
        for input in inputs {
            for max in [0, 1, 3, 7, 1000] {
                let out = fmt(Stream::Stderr, input, max);
                assert_eq!(reassemble(&out), input, "{input:?} max={max}");
                for line in out.split_inclusive(|&b| b == b'\n') {
                    let rec = parse_line(line).expect("valid");
                    assert_eq!(rec.timestamp, TS);
                    assert_eq!(rec.stream, Stream::Stderr);
                    if max > 0 {
                        assert!(rec.content.len() <= max);
                    }
                }
            }
        }
    }

    #[test]
    fn parses_records() {
        let rec = parse_line(format!("{TS} stdout F hello world\n").as_bytes()).map(|r| {
            (
                r.stream,
                r.partial,
                r.content.to_vec(),
                r.timestamp.to_owned(),
            )
        });
        assert_eq!(
            rec,
            Ok((
                Stream::Stdout,
                false,
                b"hello world".to_vec(),
                TS.to_owned()
            ))
        );
        let line = format!("{TS} stderr P  x ");
        let rec = parse_line(line.as_bytes()).expect("valid");
        assert!(rec.partial);
        assert_eq!(rec.content, b" x ");
        // Kubelet (Go) writes variable-width fractions and offsets.
        for ts in [
            "2016-10-06T00:17:09.669794202Z",
            "2016-10-06T00:17:09.6Z",
            "2016-10-06T00:17:09Z",
            "2016-10-06T00:17:09.669794202+02:00",
        ] {
            let line = format!("{ts} stdout F x");
            assert_eq!(parse_line(line.as_bytes()).map(|r| r.timestamp), Ok(ts));
        }
        // Only one trailing newline is stripped.
        let line = format!("{TS} stdout F x\n\n");
        assert_eq!(
            parse_line(line.as_bytes()).map(|r| r.content),
            Ok(&b"x\n"[..])
        );
    }

    #[test]
    fn rejects_malformed_records() {
        let bad: [(&[u8], CriError); 10] = [
            (b"", CriError::Missing("stream")),
            (b"2016-10-06T00:17:09Z", CriError::Missing("stream")),
            (b"2016-10-06T00:17:09Z stdout", CriError::Missing("tag")),
            (
                b"2016-10-06T00:17:09Z stdout F",
                CriError::Missing("content"),
            ),
            (b"yesterday stdout F x", CriError::BadTimestamp),
            (b"2016-10-06 stdout F x", CriError::BadTimestamp),
            (b"2016-10-06T00:17:09.Z stdout F x", CriError::BadTimestamp),
            (
                b"2016-10-06T00:17:09.1234567890Z stdout F x",
                CriError::BadTimestamp,
            ),
            (
                b"2016-10-06T00:17:09Z stdin F x",
                CriError::BadStream("stdin".into()),
            ),
            (
                b"2016-10-06T00:17:09Z stdout X x",
                CriError::BadTag("X".into()),
            ),
        ];
        for (line, err) in bad {
            assert_eq!(
                parse_line(line),
                Err(err),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }
}
