//! Sans-IO journal entries in the native protocol of systemd-journald
//! (`KEY=value\n` fields, or `KEY\n<u64 LE length><bytes>\n` for a value
//! that holds a newline), framed for the writer.
//!
//! The pumps format chunks straight into the filling buffer, as for the
//! CRI file: each entry is one frame, `<u32 LE length><entry>`, so the
//! writer can send one datagram per entry without parsing fields. A line
//! is split exactly as the CRI format splits it (see
//! [`crate::logs::cri::format_chunk`]): pieces of at most `max_line`
//! bytes, an unterminated tail sent at once; every piece but a line's
//! last, and an unterminated tail, carries `CONTAINER_PARTIAL_MESSAGE=true`,
//! the marker Docker's and Podman's journald drivers write and read back
//! to join the pieces. MESSAGE holds the line without its newline.

use crate::logs::cri::Stream;
use crate::logs::driver::RecordFormat;
use crate::sys::time::Timestamp;

/// The marker of a piece that the next entry of the stream continues.
pub const PARTIAL: &[u8] = b"CONTAINER_PARTIAL_MESSAGE=true\n";
/// Bytes of a frame's length prefix.
pub const FRAME_HEADER: usize = 4;
/// `CONTAINER_ID` is the id's first 12 characters, as Docker and conmon
/// write it (the whole id is `CONTAINER_ID_FULL`).
const SHORT_ID: usize = 12;

/// Who a container's entries come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The container id.
    pub id: String,
    /// `CONTAINER_NAME`: podmon has no names of its own, so the id.
    pub name: String,
    /// `CONTAINER_TAG` and `SYSLOG_IDENTIFIER` (default the name).
    pub tag: String,
}

impl Identity {
    /// The identity of container `id`, tagged `tag` or, without one, by
    /// its name.
    pub fn new(id: &str, tag: Option<&str>) -> Identity {
        Identity {
            id: id.to_owned(),
            name: id.to_owned(),
            tag: tag.unwrap_or(id).to_owned(),
        }
    }
}

/// Appends one field to an entry: `KEY=value\n`, or the binary-safe form
/// when the value holds a newline.
pub fn push_field(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    out.extend_from_slice(key);
    if memchr::memchr(b'\n', value).is_some() {
        out.push(b'\n');
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        out.push(b'=');
    }
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// Formats chunks into framed journal entries.
pub struct JournalFormat {
    max_line: usize,
    /// The fields after MESSAGE, the same for every entry of a stream
    /// (PRIORITY 6, info, for stdout; 3, err, for stderr, as conmon).
    fields: [Vec<u8>; 2],
}

impl JournalFormat {
    /// The format of container `who`'s entries, lines split at `max_line`
    /// bytes (0: never).
    pub fn new(who: &Identity, max_line: usize) -> JournalFormat {
        let fields = |priority: &[u8]| {
            let mut f = Vec::new();
            let short = &who.id[..who.id.len().min(SHORT_ID)];
            push_field(&mut f, b"CONTAINER_ID", short.as_bytes());
            push_field(&mut f, b"CONTAINER_ID_FULL", who.id.as_bytes());
            push_field(&mut f, b"CONTAINER_NAME", who.name.as_bytes());
            push_field(&mut f, b"CONTAINER_TAG", who.tag.as_bytes());
            push_field(&mut f, b"SYSLOG_IDENTIFIER", who.tag.as_bytes());
            push_field(&mut f, b"PRIORITY", priority);
            f
        };
        JournalFormat {
            max_line,
            fields: [fields(b"6"), fields(b"3")],
        }
    }

    fn entry(&self, stream: Stream, partial: bool, message: &[u8], out: &mut Vec<u8>) {
        let at = out.len();
        out.extend_from_slice(&[0; FRAME_HEADER]);
        push_field(out, b"MESSAGE", message);
        out.extend_from_slice(match stream {
            Stream::Stdout => &self.fields[0],
            Stream::Stderr => &self.fields[1],
        });
        if partial {
            out.extend_from_slice(PARTIAL);
        }
        let len = (out.len() - at - FRAME_HEADER) as u32;
        out[at..at + FRAME_HEADER].copy_from_slice(&len.to_le_bytes());
    }
}

impl RecordFormat for JournalFormat {
    fn format(&self, stream: Stream, _: &Timestamp, chunk: &[u8], out: &mut Vec<u8>) {
        let limit = if self.max_line == 0 {
            usize::MAX
        } else {
            self.max_line
        };
        let mut start = 0;
        let ends = memchr::memchr_iter(b'\n', chunk).chain(std::iter::once(chunk.len()));
        for end in ends {
            if start >= chunk.len() && end == chunk.len() {
                break;
            }
            let complete = end < chunk.len();
            let mut line = &chunk[start..end];
            while line.len() > limit {
                let (piece, tail) = line.split_at(limit);
                self.entry(stream, true, piece, out);
                line = tail;
            }
            if complete || !line.is_empty() {
                self.entry(stream, !complete, line, out);
            }
            start = end + 1;
        }
    }
}

/// The entries of a framed buffer, in order; a torn frame (which the
/// format never makes) ends the walk.
pub fn frames(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let header = buf.get(at..at + FRAME_HEADER)?;
        let len = u32::from_le_bytes(header.try_into().ok()?) as usize;
        let entry = buf.get(at + FRAME_HEADER..at + FRAME_HEADER + len)?;
        at += FRAME_HEADER + len;
        Some(entry)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(chunk: &[u8], stream: Stream, max_line: usize) -> Vec<Vec<u8>> {
        let f = JournalFormat::new(&Identity::new("0123456789abcdef", Some("web")), max_line);
        let mut out = Vec::new();
        f.format(stream, &Timestamp::now(), chunk, &mut out);
        frames(&out).map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn one_entry_per_line_with_the_fields_of_its_stream() {
        let e = entries(b"hello\nworld\n", Stream::Stderr, 0);
        assert_eq!(e.len(), 2);
        assert_eq!(
            e[0],
            b"MESSAGE=hello\nCONTAINER_ID=0123456789ab\nCONTAINER_ID_FULL=0123456789abcdef\n\
              CONTAINER_NAME=0123456789abcdef\nCONTAINER_TAG=web\nSYSLOG_IDENTIFIER=web\nPRIORITY=3\n"
        );
        assert!(e[1].starts_with(b"MESSAGE=world\n"));
        let out = entries(b"x\n", Stream::Stdout, 0);
        assert!(out[0].ends_with(b"PRIORITY=6\n"));
    }

    #[test]
    fn long_lines_and_unterminated_tails_are_partial() {
        let e = entries(b"abcdefghij\ntail", Stream::Stdout, 4);
        let msgs: Vec<(&[u8], bool)> = e
            .iter()
            .map(|e| {
                let m = e.strip_prefix(b"MESSAGE=").unwrap();
                let end = memchr::memchr(b'\n', m).unwrap();
                (&m[..end], e.ends_with(PARTIAL))
            })
            .collect();
        assert_eq!(
            msgs,
            [
                (&b"abcd"[..], true),
                (b"efgh", true),
                (b"ij", false),
                (b"tail", true)
            ]
        );
    }

    #[test]
    fn a_value_with_a_newline_takes_the_binary_safe_form() {
        let mut out = Vec::new();
        push_field(&mut out, b"MESSAGE", b"a\nb");
        assert_eq!(out, b"MESSAGE\n\x03\0\0\0\0\0\0\0a\nb\n");
        out.clear();
        push_field(&mut out, b"MESSAGE", b"\0\xff");
        assert_eq!(out, b"MESSAGE=\0\xff\n");
    }

    #[test]
    fn empty_lines_are_entries_and_a_short_id_is_whole() {
        let f = JournalFormat::new(&Identity::new("ab", None), 0);
        let mut out = Vec::new();
        f.format(Stream::Stdout, &Timestamp::now(), b"\n", &mut out);
        let e: Vec<&[u8]> = frames(&out).collect();
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with(b"MESSAGE=\nCONTAINER_ID=ab\n"));
        assert!(memchr::memmem::find(e[0], b"SYSLOG_IDENTIFIER=ab\n").is_some());
    }
}
