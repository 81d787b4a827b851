//! The CRI file and the journal at once (`logDrivers: ["cri",
//! "journald"]`).
//!
//! The pumps still format into one buffer: per chunk, a section of CRI
//! records and a section of journal frames, each `<kind u8><u32 LE
//! length><bytes>`. The writer splits the buffer into the two (moving the
//! bytes once) and writes the file, then the journal. The CRI-only path
//! does not go through here and costs what it did.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::rc::Rc;

use super::{JournalDriver, JournalFormat};
use crate::logs::cri::Stream;
use crate::logs::driver::{CriFile, CriFormat, LogDriver, RecordFormat, WriteResult};
use crate::sys::time::Timestamp;

const CRI: u8 = 0;
const JOURNAL: u8 = 1;
const HEADER: usize = 5;

/// Appends a section of `kind`, its bytes made by `fill`.
fn section(out: &mut Vec<u8>, kind: u8, fill: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.push(kind);
    out.extend_from_slice(&[0; 4]);
    fill(out);
    let len = out.len() - at - HEADER;
    if len == 0 {
        out.truncate(at);
        return;
    }
    out[at + 1..at + HEADER].copy_from_slice(&(len as u32).to_le_bytes());
}

/// Splits a buffer of sections into the CRI bytes and the journal frames.
fn split(buf: &[u8], cri: &mut Vec<u8>, journal: &mut Vec<u8>) {
    let mut at = 0;
    while let Some(h) = buf.get(at..at + HEADER) {
        let len = u32::from_le_bytes([h[1], h[2], h[3], h[4]]) as usize;
        let Some(bytes) = buf.get(at + HEADER..at + HEADER + len) else {
            return;
        };
        match h[0] {
            CRI => cri.extend_from_slice(bytes),
            _ => journal.extend_from_slice(bytes),
        }
        at += HEADER + len;
    }
}

/// Both formats, section by section.
struct BothFormat {
    cri: CriFormat,
    journal: Rc<JournalFormat>,
}

impl RecordFormat for BothFormat {
    fn format(&self, stream: Stream, ts: &Timestamp, chunk: &[u8], out: &mut Vec<u8>) {
        section(out, CRI, |o| self.cri.format(stream, ts, chunk, o));
        section(out, JOURNAL, |o| self.journal.format(stream, ts, chunk, o));
    }
}

/// The CRI file and the journal: rotation, ReadLogs, ReopenLog's file
/// and syncs are the file's; the journal gets the same lines.
pub struct CriAndJournal {
    cri: CriFile,
    journal: JournalDriver,
    max_line: usize,
    /// The split buffers, kept between writes for their capacity.
    cri_buf: Vec<u8>,
    journal_buf: Vec<u8>,
}

impl CriAndJournal {
    /// Both drivers; `max_line` is the file's (the journal's format has
    /// its own, the same).
    pub fn new(cri: CriFile, journal: JournalDriver, max_line: usize) -> CriAndJournal {
        CriAndJournal {
            cri,
            journal,
            max_line,
            cri_buf: Vec::new(),
            journal_buf: Vec::new(),
        }
    }

    async fn write_both(&mut self, buf: Vec<u8>) -> WriteResult {
        let mut cri = std::mem::take(&mut self.cri_buf);
        let mut journal = std::mem::take(&mut self.journal_buf);
        cri.clear();
        journal.clear();
        split(&buf, &mut cri, &mut journal);
        let mut buf = buf;
        buf.clear();
        let (r, rest) = self.cri.write(cri).await;
        if r.is_err() {
            // What the file did not take, and all of the journal's.
            section(&mut buf, CRI, |o| o.extend_from_slice(&rest));
            section(&mut buf, JOURNAL, |o| o.extend_from_slice(&journal));
            (self.cri_buf, self.journal_buf) = (rest, journal);
            return (r, buf);
        }
        self.cri_buf = rest;
        let (r, rest) = self.journal.send_all(journal).await;
        if r.is_err() {
            section(&mut buf, JOURNAL, |o| o.extend_from_slice(&rest));
        }
        self.journal_buf = rest;
        (r, buf)
    }
}

impl LogDriver for CriAndJournal {
    fn formatter(&self) -> Rc<dyn RecordFormat> {
        Rc::new(BothFormat {
            cri: CriFormat {
                max_line: self.max_line,
            },
            journal: self.journal.format.clone(),
        })
    }

    fn write(&mut self, buf: Vec<u8>) -> Pin<Box<dyn Future<Output = WriteResult> + '_>> {
        Box::pin(self.write_both(buf))
    }

    /// Reopens the file and connects to the journal again; the file's
    /// error comes first.
    fn reopen(&mut self) -> io::Result<()> {
        let file = self.cri.reopen();
        let journal = self.journal.reconnect();
        file.and(journal)
    }

    fn path(&self) -> Option<&Path> {
        self.cri.path()
    }

    fn generation(&self) -> u64 {
        self.cri.generation()
    }

    fn rotations(&self) -> u64 {
        self.cri.rotations()
    }

    fn sync(&mut self) -> Pin<Box<dyn Future<Output = io::Result<()>> + '_>> {
        self.cri.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_split_back_into_the_two_formats() {
        let mut buf = Vec::new();
        section(&mut buf, CRI, |o| o.extend_from_slice(b"one\n"));
        section(&mut buf, JOURNAL, |o| o.extend_from_slice(b"J1"));
        section(&mut buf, JOURNAL, |_| {});
        section(&mut buf, CRI, |o| o.extend_from_slice(b"two\n"));
        section(&mut buf, JOURNAL, |o| o.extend_from_slice(b"J2"));
        let (mut cri, mut journal) = (Vec::new(), Vec::new());
        split(&buf, &mut cri, &mut journal);
        assert_eq!(cri, b"one\ntwo\n");
        assert_eq!(journal, b"J1J2");
    }
}
