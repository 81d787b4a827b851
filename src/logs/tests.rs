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

use super::driver::{CriFile, CriFormat, LogDriver, RecordFormat, Rotation, WriteResult};
use super::ratelimit::{Limit, Policy};
use super::sync::LogSync;
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
        let sink = LogSink::start(
            Box::new(Memory(log.clone())),
            pipes,
            Some(limit),
            LogSync::Never,
        );
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

/// Writes numbered lines ("out 00000001") to both pipes until told to
/// stop, in pieces that cut lines anywhere (so reads end mid-line and the
/// log holds P records); returns how many lines each stream got.
fn flood(
    out: std::os::fd::OwnedFd,
    err: std::os::fd::OwnedFd,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<[u64; 2]> {
    use std::io::Write;
    std::thread::spawn(move || {
        let mut files = [std::fs::File::from(out), std::fs::File::from(err)];
        let mut pending = [Vec::new(), Vec::new()];
        let mut lines = [0u64; 2];
        let mut piece = 1000;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            for s in 0..2 {
                while pending[s].len() < 2 * piece {
                    let tag = ["out", "err"][s];
                    writeln!(pending[s], "{tag} {:08}", lines[s]).unwrap();
                    lines[s] += 1;
                }
                files[s].write_all(&pending[s][..piece]).unwrap();
                pending[s].drain(..piece);
            }
            piece = piece % 4093 + 997;
        }
        for s in 0..2 {
            files[s].write_all(&pending[s]).unwrap();
        }
        lines
    })
}

/// Per stream, the lines the CRI records of `log` spell out.
fn lines_of(log: &[u8]) -> [Vec<String>; 2] {
    let mut text = [Vec::new(), Vec::new()];
    for line in log.split_inclusive(|&b| b == b'\n') {
        let r = cri::parse_line(line).expect("a CRI record");
        let t = &mut text[usize::from(r.stream == Stream::Stderr)];
        t.extend_from_slice(r.content);
        if !r.partial {
            t.push(b'\n');
        }
    }
    text.map(|t| {
        let t = String::from_utf8(t).unwrap();
        assert!(t.ends_with('\n'), "a line left unfinished");
        t.lines().map(str::to_owned).collect()
    })
}

/// A live upgrade's hand-over: park mid-flood, a new sink on the returned
/// pipes and the same file; every line is in the file exactly once, in
/// order, whole (its P pieces joined) across the switch.
#[test]
fn a_parked_sink_hands_its_pipes_over_without_losing_a_byte() {
    on_both(|b| async move {
        let dir = std::env::temp_dir().join(format!("podmon-park-{}-{b:?}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ctr.log");
        let open =
            || Box::new(CriFile::open(&path, DEFAULT_MAX_LINE, Rotation::default()).unwrap());
        let (out_r, out_w) = crate::sys::process::pipe().unwrap();
        let (err_r, err_w) = crate::sys::process::pipe().unwrap();
        let pipes = vec![(Stream::Stdout, out_r), (Stream::Stderr, err_r)];
        let mut sink = LogSink::start(open(), pipes, None, LogSync::Exit);
        const HANDOVERS: u64 = 30;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = flood(out_w, err_w, stop.clone());
        let mut at_park = 0;
        // Hand over again and again: each time the pumps are caught in a
        // different state (a read queued, in the kernel, or just done).
        for round in 0..HANDOVERS {
            ops::sleep(Duration::from_millis(if round == 0 {
                30
            } else {
                1 + round % 7
            }))
            .await;
            let pipes = sink.park().await;
            let len = std::fs::metadata(&path).unwrap().len();
            assert!(len > at_park || round > 0, "nothing written before parking");
            assert_eq!(
                len - at_park,
                sink.counters().bytes_written,
                "all of it written"
            );
            at_park = len;
            let streams: Vec<Stream> = pipes.iter().map(|p| p.0).collect();
            assert_eq!(streams, [Stream::Stdout, Stream::Stderr]);
            assert!(!sink.is_drained(), "parking is not the end of the output");
            if round == 0 {
                // The container goes on writing while no one reads.
                ops::sleep(Duration::from_millis(10)).await;
            }
            sink = LogSink::start(open(), pipes, None, LogSync::Exit);
        }
        let next = sink;
        ops::sleep(Duration::from_millis(20)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        // Not join: the flooder may wait for the loop to read.
        while !writer.is_finished() {
            ops::sleep(Duration::from_millis(5)).await;
        }
        let counts = writer.join().unwrap();
        next.drained().await;
        assert!(
            std::fs::metadata(&path).unwrap().len() > at_park,
            "appended"
        );
        let got = lines_of(&std::fs::read(&path).unwrap());
        for (s, tag) in ["out", "err"].into_iter().enumerate() {
            assert_eq!(
                got[s].len() as u64,
                counts[s],
                "{tag}: lines lost or repeated"
            );
            for (i, l) in got[s].iter().enumerate() {
                assert_eq!(*l, format!("{tag} {i:08}"), "{tag} line {i}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}

/// A pump that reached end of file has nothing to hand back; bytes written
/// after parking stay in the pipe; parking twice returns nothing.
#[test]
fn parking_returns_only_open_pipes() {
    on_both(|_| async {
        let (out_r, out_w) = crate::sys::process::pipe().unwrap();
        let (err_r, err_w) = crate::sys::process::pipe().unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        let pipes = vec![(Stream::Stdout, out_r), (Stream::Stderr, err_r)];
        let sink = LogSink::start(Box::new(Memory(log.clone())), pipes, None, LogSync::Exit);
        let sub = sink.hub.subscribe();
        rustix::io::write(&err_w, b"last words\n").unwrap();
        drop(err_w);
        rustix::io::write(&out_w, b"partial").unwrap();
        ops::sleep(Duration::from_millis(20)).await;
        let mut pipes = sink.park().await;
        assert_eq!(pipes.len(), 1);
        let (stream, fd) = pipes.pop().unwrap();
        assert_eq!(stream, Stream::Stdout);
        assert!(sink.park().await.is_empty());
        let text = String::from_utf8(log.borrow().clone()).unwrap();
        assert!(text.contains(" stderr F last words\n"), "{text}");
        assert!(text.contains(" stdout P partial\n"), "held back: {text}");
        assert!(!sink.is_drained());
        // The hub is not closed: the stream goes on elsewhere.
        let mut seen = Vec::new();
        while let Some(super::hub::Next::Chunk(_, c)) =
            crate::reactor::sync::timeout(Duration::from_millis(20), sub.next()).await
        {
            seen.extend(c);
        }
        assert_eq!(seen.len(), "last words\n".len() + "partial".len());
        rustix::io::write(&out_w, b" and more").unwrap();
        ops::sleep(Duration::from_millis(10)).await;
        let (res, buf) = ops::read(fd.as_fd(), Vec::with_capacity(64), usize::MAX).await;
        assert_eq!(res.unwrap(), 9);
        assert_eq!(buf, b" and more", "nobody read after parking");
    });
}
