//! What the drop policy discards, and the marker records that say so.
//! Sans-IO: clocks are passed in, so the accounting is tested exactly.
//!
//! The rule: every dropped byte is reported in exactly one marker, on the
//! stream it was dropped from. Markers are written at most once a second
//! per stream, so a flood yields a few summary lines rather than one per
//! chunk; at the end of a stream's input the rest is reported at once, even
//! within that second, because a count held back then would never appear.

use std::time::{Duration, Instant, SystemTime};

use crate::logs::cri::Stream;
use crate::sys::time::rfc3339_nanos;

/// Markers are written at most this often per stream (and at end of input).
pub const MARKER_INTERVAL: Duration = Duration::from_secs(1);

/// One marker's report: bytes dropped since a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    /// Bytes dropped since the previous marker of the stream.
    pub bytes: u64,
    /// When the first of them was dropped.
    pub since: SystemTime,
}

impl Marker {
    /// The record's text, which readers (and the tests) recognise by its
    /// "podmon: dropped N bytes" start.
    pub fn text(&self, stream: Stream) -> String {
        format!(
            "podmon: dropped {} bytes of {} since {} (log rate limit)\n",
            self.bytes,
            stream.as_str(),
            rfc3339_nanos(self.since)
        )
    }
}

/// Bytes of one stream dropped and not yet reported in a marker.
#[derive(Debug, Default)]
pub struct Ledger {
    bytes: u64,
    since: Option<SystemTime>,
    last_marker: Option<Instant>,
}

impl Ledger {
    /// Counts `n` bytes dropped at wall-clock time `at`.
    pub fn record(&mut self, n: u64, at: SystemTime) {
        if n == 0 {
            return;
        }
        self.bytes += n;
        self.since.get_or_insert(at);
    }

    /// Bytes dropped that no marker reported yet.
    #[cfg(test)]
    pub fn pending(&self) -> u64 {
        self.bytes
    }

    /// The marker due at `now`, if any; what it reports is then no longer
    /// pending. `at_end` (the stream's input ended) ignores the interval.
    pub fn take_marker(&mut self, now: Instant, at_end: bool) -> Option<Marker> {
        if self.bytes == 0 {
            return None;
        }
        let recent = self
            .last_marker
            .is_some_and(|t| now.saturating_duration_since(t) < MARKER_INTERVAL);
        if recent && !at_end {
            return None;
        }
        let marker = Marker {
            bytes: self.bytes,
            since: self.since.unwrap_or_else(SystemTime::now),
        };
        *self = Ledger {
            last_marker: Some(now),
            ..Ledger::default()
        };
        Some(marker)
    }
}

/// How much of `chunk` the drop policy keeps when `avail` bytes may pass:
/// all of it if it fits, else whole lines up to the last newline that
/// does, so kept output is not cut mid-line more than the container's own
/// writes cut it.
pub fn whole_lines_within(chunk: &[u8], avail: u64) -> usize {
    let avail = usize::try_from(avail).unwrap_or(usize::MAX);
    if avail >= chunk.len() {
        return chunk.len();
    }
    memchr::memrchr(b'\n', &chunk[..avail]).map_or(0, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn the_first_marker_is_due_at_once_and_then_once_a_second() {
        let (t0, wall) = (Instant::now(), SystemTime::now());
        let mut l = Ledger::default();
        assert_eq!(l.take_marker(t0, false), None, "nothing dropped");
        l.record(10, wall);
        assert_eq!(
            l.take_marker(t0, false),
            Some(Marker {
                bytes: 10,
                since: wall
            })
        );
        l.record(5, wall + SEC);
        assert_eq!(
            l.take_marker(t0 + SEC / 2, false),
            None,
            "within the second"
        );
        l.record(6, wall + 2 * SEC);
        let m = l.take_marker(t0 + SEC, false).expect("a second later");
        assert_eq!(
            (m.bytes, m.since),
            (11, wall + SEC),
            "since the first of them"
        );
        assert_eq!(l.pending(), 0);
    }

    #[test]
    fn the_end_reports_the_rest_within_the_second() {
        let (t0, wall) = (Instant::now(), SystemTime::now());
        let mut l = Ledger::default();
        l.record(100, wall);
        assert_eq!(l.take_marker(t0, false).map(|m| m.bytes), Some(100));
        // The last bytes before exit, a few milliseconds after a marker.
        l.record(11, wall);
        let soon = t0 + Duration::from_millis(3);
        assert_eq!(l.take_marker(soon, false), None);
        assert_eq!(l.take_marker(soon, true).map(|m| m.bytes), Some(11));
        assert_eq!(l.take_marker(soon, true), None, "reported once");
    }

    /// Drops at random-ish sizes and times, with markers offered after
    /// each as the pump offers them: the markers add up to what was
    /// dropped, and only the end marker comes within a second of another.
    #[test]
    fn every_dropped_byte_is_in_exactly_one_marker() {
        let (t0, wall) = (Instant::now(), SystemTime::now());
        let mut l = Ledger::default();
        let (mut dropped, mut reported) = (0u64, 0u64);
        let mut times = Vec::new();
        let mut seed = 7u64;
        for step in 0..5000u64 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let n = (seed >> 33) % 70_000;
            let now = t0 + Duration::from_millis(step * 3);
            l.record(n, wall);
            dropped += n;
            if !seed.is_multiple_of(3)
                && let Some(m) = l.take_marker(now, false)
            {
                reported += m.bytes;
                times.push(now);
            }
        }
        let end = t0 + Duration::from_millis(5000 * 3);
        if let Some(m) = l.take_marker(end, true) {
            reported += m.bytes;
        }
        assert_eq!(reported, dropped);
        assert_eq!(l.pending(), 0);
        assert!(times.len() >= 10, "{} markers", times.len());
        assert!(times.windows(2).all(|w| w[1] - w[0] >= MARKER_INTERVAL));
    }

    #[test]
    fn recording_nothing_starts_no_period() {
        let (t0, wall) = (Instant::now(), SystemTime::now());
        let mut l = Ledger::default();
        l.record(0, wall);
        l.record(3, wall + SEC);
        let m = l.take_marker(t0, false).expect("due");
        assert_eq!((m.bytes, m.since), (3, wall + SEC));
    }

    #[test]
    fn marker_text_names_count_stream_and_time() {
        let since = SystemTime::UNIX_EPOCH + Duration::new(1_767_366_245, 123_456_789);
        let m = Marker { bytes: 42, since };
        assert_eq!(
            m.text(Stream::Stderr),
            "podmon: dropped 42 bytes of stderr since \
             2026-01-02T15:04:05.123456789Z (log rate limit)\n"
        );
    }

    #[test]
    fn keeps_whole_lines_that_fit() {
        assert_eq!(whole_lines_within(b"ab\ncd\n", 6), 6, "all fits");
        assert_eq!(whole_lines_within(b"ab\ncd\n", 100), 6);
        assert_eq!(whole_lines_within(b"ab\ncd\n", 5), 3, "up to the newline");
        assert_eq!(whole_lines_within(b"ab\ncd\n", 3), 3);
        assert_eq!(whole_lines_within(b"ab\ncd\n", 2), 0, "no whole line");
        assert_eq!(whole_lines_within(b"abcdef", 5), 0, "no newline at all");
        assert_eq!(whole_lines_within(b"", 0), 0);
        assert_eq!(whole_lines_within(b"abc", u64::MAX), 3);
    }
}
