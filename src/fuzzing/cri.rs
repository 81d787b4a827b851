//! The CRI log codec and the RFC 3339 timestamps in its records.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Input, split};
use crate::logs::cri::{self, Stream};
use crate::sys::time::{Timestamp, is_rfc3339, parse_rfc3339};

/// The first byte picks the check: even bytes format the rest as a
/// container's output and parse it back, odd ones parse the rest as a log
/// file someone else wrote.
pub fn cri_roundtrip(data: &[u8]) {
    let mut input = Input::new(data);
    if input.byte().is_multiple_of(2) {
        format_and_parse(input);
    } else {
        parse_foreign(input.rest());
    }
}

/// Output read from a pipe in arbitrary chunks, at an arbitrary time, with
/// an arbitrary line limit: every record parses, carries the stream and
/// time it was written with, is no longer than the limit, and the records'
/// contents (a '\n' after each `F`) are the output byte for byte.
fn format_and_parse(mut input: Input<'_>) {
    let flags = input.byte();
    let stream = if flags & 1 == 0 {
        Stream::Stdout
    } else {
        Stream::Stderr
    };
    // Mostly short limits, which split lines often; 0 is "no limit".
    let max_line = match input.u16() {
        n if flags & 2 == 0 => usize::from(n % 32),
        n => usize::from(n),
    };
    let time = system_time(i64::from(input.u32() as i32) << 8, input.u32());
    let ts = Timestamp::from_system_time(time);
    check_timestamp(&ts, time);
    let sizes = input.read_sizes();
    let output = input.rest();
    let mut log = Vec::new();
    for chunk in split(output, &sizes) {
        let before = log.len();
        cri::format_chunk(stream, &ts, chunk, max_line, &mut log);
        // A chunk's records end as the chunk does: partial unless at '\n'.
        if let Some(last) = log[before..].split(|&b| b == b'\n').rev().nth(1) {
            let rec = cri::parse_line(last).expect("own record parses");
            assert_eq!(rec.partial, chunk.last() != Some(&b'\n'));
        } else {
            assert!(chunk.is_empty(), "a chunk wrote no record");
        }
    }
    let mut back = Vec::new();
    for line in log.split_inclusive(|&b| b == b'\n') {
        assert_eq!(line.last(), Some(&b'\n'), "record without its newline");
        let rec = cri::parse_line(line).expect("own record parses");
        assert_eq!(rec.timestamp, ts.as_str());
        assert_eq!(rec.stream, stream);
        assert!(!rec.content.contains(&b'\n'));
        assert!(max_line == 0 || rec.content.len() <= max_line);
        back.extend_from_slice(rec.content);
        if !rec.partial {
            back.push(b'\n');
        }
    }
    assert_eq!(back, output, "records do not reassemble the output");
}

/// `UNIX_EPOCH` moved by `secs` (either way) and `nanos`, if representable.
fn system_time(secs: i64, nanos: u32) -> SystemTime {
    let nanos = Duration::from_nanos(u64::from(nanos % 1_000_000_000));
    let moved = if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
    };
    moved
        .and_then(|t| t.checked_add(nanos))
        .unwrap_or(UNIX_EPOCH)
}

/// Record timestamps have the fixed shape and read back as the time they
/// were made from (for times after the epoch and before year 10000, which
/// is all a parse gives and all a timestamp holds).
fn check_timestamp(ts: &Timestamp, time: SystemTime) {
    assert_eq!(ts.as_bytes().len(), crate::sys::time::TS_LEN);
    assert!(is_rfc3339(ts.as_bytes()), "{ts:?}");
    const YEAR_10000: Duration = Duration::from_secs(253_402_300_800);
    if time
        .duration_since(UNIX_EPOCH)
        .is_ok_and(|since| since < YEAR_10000)
    {
        assert_eq!(parse_rfc3339(ts.as_str()), Some(time), "{ts:?}");
    }
}

/// Lines of a log file podmon did not write: parsing never panics, and a
/// line that parses is exactly its fields joined by spaces.
fn parse_foreign(file: &[u8]) {
    for line in file.split_inclusive(|&b| b == b'\n') {
        let Ok(rec) = cri::parse_line(line) else {
            continue;
        };
        let mut again = Vec::new();
        again.extend_from_slice(rec.timestamp.as_bytes());
        again.push(b' ');
        again.extend_from_slice(rec.stream.as_str().as_bytes());
        again.extend_from_slice(if rec.partial { b" P " } else { b" F " });
        again.extend_from_slice(rec.content);
        assert_eq!(again, line.strip_suffix(b"\n").unwrap_or(line));
        assert!(is_rfc3339(rec.timestamp.as_bytes()));
        // `podmon logs --since` compares with the parsed time.
        let _ = parse_rfc3339(rec.timestamp);
    }
    if let Ok(text) = std::str::from_utf8(file) {
        let _ = parse_rfc3339(text.trim_end_matches('\n'));
    }
}
