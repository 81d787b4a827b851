//! Time in the tests: polling with a deadline, and the RFC 3339 timestamps
//! the API and the CRI log carry.

use serde_json::Value;
use std::thread;
use std::time::{Duration, Instant};

/// How long one Varlink reply or one CLI command may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Polls `f` until it returns true or `timeout` passes; returns the last result.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// True for `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`: RFC 3339, UTC, nine fraction digits.
pub fn is_rfc3339_nano_utc(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 30 {
        return false;
    }
    let pattern = b"dddd-dd-ddTdd:dd:dd.dddddddddZ";
    let shape_ok = b.iter().zip(pattern.iter()).all(|(c, p)| match p {
        b'd' => c.is_ascii_digit(),
        other => c == other,
    });
    if !shape_ok {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap();
    (1..=12).contains(&num(5..7))
        && (1..=31).contains(&num(8..10))
        && num(11..13) < 24
        && num(14..16) < 60
        && num(17..19) < 61
}

/// Parses such a timestamp into (seconds since epoch, nanoseconds), for ordering and sanity checks.
pub fn rfc3339_to_unix(s: &str) -> (i64, u32) {
    assert!(
        is_rfc3339_nano_utc(s),
        "not an RFC 3339 UTC nanosecond timestamp: {s:?}"
    );
    let y: i64 = s[0..4].parse().unwrap();
    let m: i64 = s[5..7].parse().unwrap();
    let d: i64 = s[8..10].parse().unwrap();
    let hh: i64 = s[11..13].parse().unwrap();
    let mm: i64 = s[14..16].parse().unwrap();
    let ss: i64 = s[17..19].parse().unwrap();
    let ns: u32 = s[20..29].parse().unwrap();
    // days from civil (Howard Hinnant)
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = if y2 >= 0 { y2 } else { y2 - 399 } / 400;
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    (days * 86400 + hh * 3600 + mm * 60 + ss, ns)
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Asserts `s` is a timestamp within a minute of now.
pub fn assert_recent_timestamp(what: &str, v: &Value) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
    assert!(
        is_rfc3339_nano_utc(s),
        "{what} = {s:?} is not RFC 3339 UTC with nanoseconds"
    );
    let (secs, _) = rfc3339_to_unix(s);
    let now = unix_now();
    assert!(
        (secs - now).abs() < 120,
        "{what} = {s} is not near now ({now})"
    );
}
