//! The sink on the loop, under both backends: what the drop policy counts
//! is what the markers in the log say, on both streams, to the last byte
//! before the pipes close.

use std::cell::{Cell, RefCell};
use std::future::{Future, ready};
use std::io;
use std::os::fd::AsFd;
use std::path::Path;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use super::driver::{CriFormat, LogDriver, RecordFormat, WriteResult};
use super::ratelimit::{Limit, Policy};
use super::{DEFAULT_MAX_LINE, LogSink, cri};
use crate::logs::cri::Stream;
use crate::reactor::{ops, tests::on_both};

/// Keeps what is written in memory, for the test to parse.
struct Memory(Rc<RefCell<Vec<u8>>>);

impl LogDriver for Memory {
    fn formatter(&self) -> Rc<dyn RecordFormat> {
        Rc::new(CriFormat {
            max_line: DEFAULT_MAX_LINE,
        })
    }

    fn write(&mut self, mut buf: Vec<u8>) -> Pin<Box<dyn Future<Output = WriteResult> + '_>> {
        self.0.borrow_mut().extend_from_slice(&buf);
        buf.clear();
        Box::pin(ready((Ok(()), buf)))
    }

    fn reopen(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn path(&self) -> Option<&Path> {
        None
    }

    fn generation(&self) -> u64 {
        0
    }
}

/// Per stream (stdout, stderr): bytes kept and bytes the markers report.
fn tally(log: &[u8]) -> [(u64, u64); 2] {
    let mut t = [(0, 0); 2];
    for line in log.split_inclusive(|&b| b == b'\n') {
        let r = cri::parse_line(line).expect("a CRI record");
        let slot = &mut t[usize::from(r.stream == Stream::Stderr)];
        let text = String::from_utf8_lossy(r.content);
        match text.strip_prefix("podmon: dropped ") {
            Some(rest) => slot.1 += rest.split(' ').next().unwrap().parse::<u64>().unwrap(),
            None => slot.0 += r.content.len() as u64 + u64::from(!r.partial),
        }
    }
    t
}

/// A flood on stdout, then (the bucket empty) a shell's 11-byte
/// "Terminated" on stderr right before both pipes close: each stream's
/// markers report its drops, the end markers included, and together they
/// are the counter the API reports and what the drop hook was told.
#[test]
fn markers_report_every_dropped_byte_on_both_streams() {
    on_both(|_| async {
        let (out_r, out_w) = crate::sys::process::pipe().unwrap();
        let (err_r, err_w) = crate::sys::process::pipe().unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        // Lines of 34 bytes, written 300 at a time, and a burst of 29 lines:
        // the burst is spent exactly, so nothing of stderr fits afterwards.
        let line = b"drop policy flood line 0123456789\n";
        let limit = Limit {
            bytes_per_second: 1,
            burst: 29 * line.len() as u64,
            policy: Policy::Drop,
        };
        let pipes = vec![(Stream::Stdout, out_r), (Stream::Stderr, err_r)];
        let sink = LogSink::start(Box::new(Memory(log.clone())), pipes, Some(limit));
        let hooked = Rc::new(Cell::new(0u64));
        let h = hooked.clone();
        sink.on_drop(Box::new(move |n| h.set(h.get() + n)));
        let flood = line.repeat(10_000);
        let flood_len = flood.len() as u64;
        for piece in flood.chunks(300 * line.len()) {
            ops::write_all(out_w.as_fd(), piece.to_vec())
                .await
                .0
                .unwrap();
        }
        drop(out_w);
        ops::sleep(Duration::from_millis(20)).await;
        ops::write_all(err_w.as_fd(), b"Terminated\n".to_vec())
            .await
            .0
            .unwrap();
        drop(err_w);
        sink.drained().await;

        let [(out_kept, out_dropped), (err_kept, err_dropped)] = tally(&log.borrow());
        let counters = sink.counters();
        assert_eq!((err_kept, err_dropped), (0, 11), "stderr's last line");
        assert_eq!(out_kept + out_dropped, flood_len);
        assert_eq!(out_kept, limit.burst, "the burst, in whole lines");
        assert_eq!(counters.bytes_dropped, out_dropped + err_dropped);
        assert_eq!(hooked.get(), counters.bytes_dropped);
    });
}
