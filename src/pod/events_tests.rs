//! The hub's numbering, replay and cut-off, in memory and on a journal in
//! a temporary directory (on an epoll reactor: no io_uring needed).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;
use crate::pod::tests::on_reactor;
use crate::sys::process::ExitInfo;

/// The seqs and ids a watcher can take now, without waiting.
fn take(w: &Watcher) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    while let Some(n) = w.poll() {
        match n {
            Next::Event(e) => out.push((e.seq, e.id)),
            Next::Overflowed => panic!("cut off after {out:?}"),
        }
    }
    out
}

fn seqs(w: &Watcher) -> Vec<u64> {
    take(w).into_iter().map(|(s, _)| s).collect()
}

fn started(ev: &Events, id: &str) {
    ev.emit(Event::new(EventKind::Started, id));
}

/// A fresh, empty state directory.
fn state_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("podmon-journal-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

fn lines(dir: &Path, name: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(name))
        .expect("segment")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn events_are_numbered_in_order_and_watchers_filter() {
    let ev = Events::default();
    let all = ev.watch(None, None).unwrap();
    let one = ev.watch(Some("a".into()), None).unwrap();
    ev.emit(Event::new(EventKind::Created, "a"));
    ev.emit(Event::new(EventKind::Created, "b"));
    started(&ev, "a");
    assert_eq!(
        take(&all),
        [(1, "a".into()), (2, "b".into()), (3, "a".into())]
    );
    assert_eq!(take(&one), [(1, "a".into()), (3, "a".into())]);
    assert_eq!(ev.last_seq(), 3);
    // A watcher without `since` starts after the last event.
    let late = ev.watch(None, None).unwrap();
    assert!(take(&late).is_empty());
    started(&ev, "b");
    assert_eq!(seqs(&late), [4]);
}

#[test]
fn since_replays_then_goes_live_without_gap_or_duplicate() {
    let ev = Events::default();
    for _ in 0..5 {
        started(&ev, "a");
    }
    let w = ev.watch(None, Some(2)).unwrap();
    assert_eq!(
        w.poll().map(|n| matches!(n, Next::Event(e) if e.seq == 3)),
        Some(true)
    );
    // Live events come while the replay is half done.
    started(&ev, "a");
    started(&ev, "a");
    assert_eq!(seqs(&w), [4, 5, 6, 7]);
    assert_eq!(
        seqs(&ev.watch(None, Some(0)).unwrap()),
        [1, 2, 3, 4, 5, 6, 7]
    );
    assert!(take(&ev.watch(None, Some(7)).unwrap()).is_empty());
    assert_eq!(
        ev.watch(None, Some(8)).err(),
        Some(WatchError::Future { since: 8, last: 7 })
    );
}

#[test]
fn since_before_the_oldest_kept_expires_and_a_slow_watcher_is_cut_off() {
    let ev = Events::default();
    let slow = ev.watch(None, None).unwrap();
    let total = 2 * SEGMENT_EVENTS + 5;
    for _ in 0..total {
        started(&ev, "a");
    }
    // In memory the ring keeps the last 2 × SEGMENT_EVENTS: 6 is the oldest.
    assert_eq!(
        ev.watch(None, Some(4)).err(),
        Some(WatchError::Expired {
            since: 4,
            oldest: 6
        })
    );
    assert_eq!(
        seqs(&ev.watch(None, Some(5)).unwrap()).len(),
        2 * SEGMENT_EVENTS
    );
    assert!(matches!(slow.poll(), Some(Next::Overflowed)));
}

#[test]
fn an_empty_journal_accepts_since_zero_only() {
    let ev = Events::default();
    assert!(take(&ev.watch(None, Some(0)).unwrap()).is_empty());
    assert_eq!(
        ev.watch(None, Some(1)).err(),
        Some(WatchError::Future { since: 1, last: 0 })
    );
}

#[test]
fn the_journal_survives_a_restart_and_numbering_goes_on() {
    let dir = state_dir();
    let d = dir.clone();
    on_reactor(move || async move {
        let ev = Events::open(&d).expect("open");
        let w = ev.watch(None, None).unwrap();
        ev.emit(Event::new(EventKind::Created, "a"));
        ev.emit(Event::new(
            EventKind::Exited {
                exit: ExitInfo {
                    code: None,
                    signal: Some(9),
                },
                oom_killed: true,
            },
            "a",
        ));
        // Not visible before it is written.
        assert!(w.poll().is_none());
        ev.flushed().await;
        assert_eq!(seqs(&w), [1, 2]);
    });
    assert_eq!(lines(&dir, "events.0").len(), 2);
    let d = dir.clone();
    on_reactor(move || async move {
        let ev = Events::open(&d).expect("reopen");
        assert_eq!(ev.last_seq(), 2);
        let w = ev.watch(None, Some(1)).unwrap();
        match w.poll() {
            Some(Next::Event(e)) => {
                assert_eq!(e.seq, 2);
                assert_eq!(
                    e.kind,
                    EventKind::Exited {
                        exit: ExitInfo {
                            code: None,
                            signal: Some(9)
                        },
                        oom_killed: true
                    }
                );
            }
            _ => panic!("the exit is not replayed"),
        }
        ev.emit(Event::new(EventKind::Deleted, "a"));
        ev.flushed().await;
        assert_eq!(seqs(&w), [3]);
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_torn_last_line_is_ignored_and_cut_off() {
    let dir = state_dir();
    let mut text = Vec::new();
    for seq in 1..=2 {
        let mut e = Event::new(EventKind::Started, "a");
        e.seq = seq;
        journal::encode(&e, &mut text);
    }
    let whole = text.len();
    text.extend_from_slice(br#"{"seq":3,"id":"a","se"#);
    std::fs::write(dir.join("events.0"), &text).unwrap();
    let d = dir.clone();
    on_reactor(move || async move {
        let ev = Events::open(&d).expect("open");
        assert_eq!(ev.last_seq(), 2);
        assert_eq!(
            std::fs::metadata(d.join("events.0")).unwrap().len(),
            whole as u64
        );
        started(&ev, "b");
        ev.flushed().await;
    });
    let l = lines(&dir, "events.0");
    assert_eq!(l.len(), 3, "{l:?}");
    assert!(l[2].starts_with(r#"{"seq":3,"#), "{l:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_damaged_line_is_skipped() {
    let mut text = Vec::new();
    let mut e = Event::new(EventKind::Oom, "a");
    e.seq = 1;
    journal::encode(&e, &mut text);
    text.extend_from_slice(b"not json\n");
    e.seq = 2;
    journal::encode(&e, &mut text);
    let (events, end) = journal::decode(&text);
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(end, text.len());
}

#[test]
fn the_journal_keeps_two_segments_at_most() {
    let dir = state_dir();
    let d = dir.clone();
    let total = 2 * SEGMENT_EVENTS + 3;
    on_reactor(move || async move {
        let ev = Events::open(&d).expect("open");
        for _ in 0..total {
            started(&ev, "a");
        }
        ev.flushed().await;
        // The first segment was dropped when the third one began.
        let oldest = SEGMENT_EVENTS as u64 + 1;
        assert_eq!(
            ev.watch(None, Some(oldest - 2)).err(),
            Some(WatchError::Expired {
                since: oldest - 2,
                oldest
            })
        );
    });
    assert_eq!(lines(&dir, "events.0").len(), 3);
    assert_eq!(lines(&dir, "events.1").len(), SEGMENT_EVENTS);
    let d = dir.clone();
    on_reactor(move || async move {
        let ev = Events::open(&d).expect("reopen");
        assert_eq!(ev.last_seq(), total as u64);
        let w = ev.watch(None, Some(SEGMENT_EVENTS as u64)).unwrap();
        let got = seqs(&w);
        assert_eq!(got.len(), SEGMENT_EVENTS + 3);
        assert!(got.windows(2).all(|p| p[1] == p[0] + 1));
        // Appends go on in the newer segment.
        started(&ev, "a");
        ev.flushed().await;
    });
    assert_eq!(lines(&dir, "events.0").len(), 4);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_link_at_a_segment_name_is_not_followed() {
    let dir = state_dir();
    let target = dir.join("target");
    std::fs::write(&target, "keep").unwrap();
    std::os::unix::fs::symlink(&target, dir.join("events.1")).unwrap();
    let e = Events::open(&dir).err().expect("a link is refused");
    assert_eq!(e.source.raw_os_error(), Some(libc::ELOOP), "{e}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    let _ = std::fs::remove_dir_all(&dir);
}
