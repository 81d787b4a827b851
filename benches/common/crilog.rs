//! Reading a CRI log's record timestamps back, to find how long the
//! monitor went without reading a container's output.
//!
//! Records are `TIMESTAMP STREAM TAG TEXT`, the timestamp RFC 3339 UTC with
//! nanoseconds (`2026-01-02T15:04:05.123456789Z`): the monitor's clock when
//! it read the bytes. A gap between consecutive records of a container that
//! never stops writing is a time the monitor did not read its pipe.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the epoch of a `YYYY-MM-DDTHH:MM:SS[.fraction]Z`
/// timestamp; `None` for anything else (offsets other than Z included: the
/// monitor writes UTC only).
pub fn parse_utc_nanos(s: &[u8]) -> Option<i64> {
    if s.len() < 20 || s[4] != b'-' || s[7] != b'-' || s[10] != b'T' || *s.last()? != b'Z' {
        return None;
    }
    let num = |a: usize, b: usize| -> Option<i64> {
        s[a..b].iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let frac = &s[19..s.len() - 1];
    let nanos = match frac.split_first() {
        None => 0,
        Some((b'.', digits)) if !digits.is_empty() && digits.len() <= 9 => {
            num(20, 20 + digits.len())? * 10i64.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec;
    Some(secs * 1_000_000_000 + nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Nanoseconds since the epoch of a wall-clock time (the clock the monitor
/// stamps records with).
pub fn system_nanos(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// What one time window saw in the log.
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowGaps {
    /// The largest gap between consecutive records where the gap overlaps
    /// the window (so a stall that began before it or lasted past it
    /// counts whole).
    pub max_gap: Duration,
    /// Records stamped inside the window.
    pub records: u64,
    /// Whether any record came after the window: if none did, the log
    /// stopped, and the stall counts up to the window's end.
    pub continued: bool,
}

/// Streams the log once and returns, per window (`[start, end]` in
/// epoch nanoseconds), its largest gap and record count; also the number
/// of lines whose timestamp did not parse. Streaming keeps memory flat:
/// a flooding container writes tens of millions of records.
pub fn gaps_in_windows(path: &Path, windows: &[(i64, i64)]) -> io::Result<(Vec<WindowGaps>, u64)> {
    let mut r = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut out = vec![WindowGaps::default(); windows.len()];
    let mut line = Vec::with_capacity(256);
    let mut prev: Option<i64> = None;
    let mut malformed = 0;
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            close_stopped(&mut out, windows, prev);
            return Ok((out, malformed));
        }
        let ts = line.split(|&b| b == b' ').next().unwrap_or(&[]);
        let Some(t) = parse_utc_nanos(ts) else {
            malformed += 1;
            continue;
        };
        for (w, &(start, end)) in out.iter_mut().zip(windows) {
            if (start..=end).contains(&t) {
                w.records += 1;
            }
            w.continued |= t > end;
            if let Some(p) = prev
                && t >= start
                && p <= end
            {
                let gap = Duration::from_nanos(u64::try_from(t - p).unwrap_or(0));
                w.max_gap = w.max_gap.max(gap);
            }
        }
        prev = Some(t);
    }
}

/// For each window after which no record came, the stall runs from the
/// last record before its end (or its start, in an empty log) to its end.
fn close_stopped(out: &mut [WindowGaps], windows: &[(i64, i64)], last: Option<i64>) {
    for (w, &(start, end)) in out.iter_mut().zip(windows) {
        if !w.continued {
            let from = last.unwrap_or(start).min(end);
            let gap = Duration::from_nanos(u64::try_from(end - from).unwrap_or(0));
            w.max_gap = w.max_gap.max(gap);
        }
    }
}
