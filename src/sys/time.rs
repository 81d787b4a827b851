//! Time as text, in one place: RFC 3339 in UTC with nine fractional digits
//! for everything podmon writes (log records, API fields), and the parser
//! for the RFC 3339 times clients send or other tools wrote.
//!
//! Formatting is fixed-width (`2026-01-02T15:04:05.123456789Z`) so log
//! files sort as plain text and clients can compare API times with log
//! times as strings. Pure calendar arithmetic: no IO, no time zone data.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Length of `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`: what a record prefix
/// reserves for its timestamp.
pub const TS_LEN: usize = 30;

/// A formatted UTC timestamp with exactly 9 fractional digits and a 'Z'.
///
/// Formatted once per chunk (not per line) and kept on the stack, so
/// formatting a chunk allocates nothing beyond growing the output buffer.
/// Fixed width also keeps log files sortable as plain text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    buf: [u8; TS_LEN],
}

impl Timestamp {
    /// Wall-clock time now (CLOCK_REALTIME), like kubelet/conmon use.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// Formats any SystemTime; times outside years 0000..=9999 are clamped
    /// because RFC 3339 only has four year digits.
    pub fn from_system_time(t: SystemTime) -> Self {
        let (secs, nanos) = split_unix(t);
        Self::from_unix(secs, nanos)
    }

    /// Formats seconds + nanoseconds since the Unix epoch (UTC).
    fn from_unix(secs: i64, nanos: u32) -> Self {
        // 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
        const MIN_SECS: i64 = -62_167_219_200;
        const MAX_SECS: i64 = 253_402_300_799;
        let (secs, nanos) = if secs < MIN_SECS {
            (MIN_SECS, 0)
        } else if secs > MAX_SECS {
            (MAX_SECS, 999_999_999)
        } else {
            (secs, nanos.min(999_999_999))
        };
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let mut buf = *b"0000-00-00T00:00:00.000000000Z";
        put_digits(&mut buf[0..4], year);
        put_digits(&mut buf[5..7], month);
        put_digits(&mut buf[8..10], day);
        put_digits(&mut buf[11..13], sod / 3600);
        put_digits(&mut buf[14..16], sod % 3600 / 60);
        put_digits(&mut buf[17..19], sod % 60);
        put_digits(&mut buf[20..29], i64::from(nanos));
        Timestamp { buf }
    }

    /// The text, e.g. "2026-01-02T15:04:05.123456789Z".
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written into buf.
        std::str::from_utf8(&self.buf).unwrap_or("")
    }

    /// The text as bytes, for appending to output buffers.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.as_str())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RFC 3339 UTC with nanoseconds for API fields (createdAt etc.), the same
/// text as the log timestamps so clients can compare them.
pub fn rfc3339_nanos(t: SystemTime) -> String {
    Timestamp::from_system_time(t).as_str().to_owned()
}

/// Seconds (floored) and nanoseconds since the epoch, also for times before it.
fn split_unix(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            match d.subsec_nanos() {
                0 => (-secs, 0),
                n => (-secs - 1, 1_000_000_000 - n),
            }
        }
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Writes `value` zero-padded into all of `dst` (value is known to fit).
fn put_digits(dst: &mut [u8], mut value: i64) {
    for slot in dst.iter_mut().rev() {
        // rem_euclid keeps the digit in 0..=9 even for unexpected input.
        *slot = b'0' + value.rem_euclid(10) as u8;
        value /= 10;
    }
}

/// Whether `s` has the shape `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)`, the
/// shapes Go's RFC3339Nano produces (kubelet writes with Go, we write with 9
/// digits and 'Z'). A shape check only, for telling a CRI record from
/// garbage fast: [`parse_rfc3339`] is the one that checks the values.
pub fn is_rfc3339(s: &[u8]) -> bool {
    let shape = b"dddd-dd-ddTdd:dd:dd";
    if s.len() < shape.len() {
        return false;
    }
    let (head, mut rest) = s.split_at(shape.len());
    let head_ok = head.iter().zip(shape).all(|(&c, &p)| match p {
        b'd' => c.is_ascii_digit(),
        _ => c == p,
    });
    if !head_ok {
        return false;
    }
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|b| b.is_ascii_digit()).count();
        if !(1..=9).contains(&n) {
            return false;
        }
        rest = &frac[n..];
    }
    match rest {
        b"Z" => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

/// Parses an RFC 3339 time such as `2026-01-02T15:04:05.5Z` or with an
/// offset `+02:00`. Returns `None` for anything else.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num =
        |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse::<u32>().ok().map(i64::from) };
    let (y, mo, d, h, mi, sec) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = frac[..digits].parse::<u32>().ok()? * 10u32.pow(9 - digits as u32);
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || !matches!(rb[0], b'+' | b'-') || rb[3] != b':' {
                return None;
            }
            let oh: i64 = rest[1..3].parse().ok()?;
            let om: i64 = rest[4..6].parse().ok()?;
            let o = oh * 3600 + om * 60;
            if rb[0] == b'-' { -o } else { o }
        }
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86400 + h * 3600 + mi * 60 + sec - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A known time and its text, shared with the CRI codec's tests.
    pub(crate) const TS: &str = "2026-01-02T15:04:05.123456789Z";

    /// [`TS`] as a `Timestamp`.
    pub(crate) fn ts() -> Timestamp {
        at(1_767_366_245, 123_456_789)
    }

    fn at(secs: u64, nanos: u32) -> Timestamp {
        Timestamp::from_system_time(UNIX_EPOCH + Duration::new(secs, nanos))
    }

    /// (seconds, nanoseconds) since the epoch and the text they must give.
    fn check(cases: &[(u64, u32, &str)]) {
        for &(secs, nanos, want) in cases {
            assert_eq!(at(secs, nanos).as_str(), want, "{secs}.{nanos:09}");
        }
    }

    #[test]
    fn timestamp_known_value() {
        assert_eq!(ts().as_str(), TS);
        assert_eq!(ts().to_string(), TS);
        assert_eq!(ts().as_bytes().len(), TS_LEN);
    }

    #[test]
    fn timestamp_epoch_and_edges() {
        check(&[
            (0, 0, "1970-01-01T00:00:00.000000000Z"),
            (0, 1, "1970-01-01T00:00:00.000000001Z"),
            (86_399, 999_999_999, "1970-01-01T23:59:59.999999999Z"),
            // 2^31: the 32-bit rollover.
            (2_147_483_648, 0, "2038-01-19T03:14:08.000000000Z"),
            (1_000_000_000, 5, "2001-09-09T01:46:40.000000005Z"),
            // The cases the CLI's own formatter was tested with.
            (1_709_210_096, 5, "2024-02-29T12:34:56.000000005Z"),
            (4_102_444_799, 0, "2099-12-31T23:59:59.000000000Z"),
        ]);
    }

    #[test]
    fn timestamp_leap_years() {
        check(&[
            // 2024-02-29 (divisible by 4).
            (1_709_164_800, 0, "2024-02-29T00:00:00.000000000Z"),
            (1_709_251_199, 0, "2024-02-29T23:59:59.000000000Z"),
            (1_709_251_200, 0, "2024-03-01T00:00:00.000000000Z"),
            // 2000-02-29 (divisible by 400).
            (951_782_400, 0, "2000-02-29T00:00:00.000000000Z"),
            // 2100 is not a leap year: Feb 28 is followed by Mar 1.
            (4_107_456_000, 0, "2100-02-28T00:00:00.000000000Z"),
            (4_107_542_400, 0, "2100-03-01T00:00:00.000000000Z"),
            // Last day of a leap year is day 366.
            (1_735_603_200, 0, "2024-12-31T00:00:00.000000000Z"),
        ]);
    }

    #[test]
    fn timestamp_before_epoch_and_clamped() {
        let before = |d: Duration| Timestamp::from_system_time(UNIX_EPOCH - d);
        assert_eq!(
            before(Duration::new(1, 500_000_000)).as_str(),
            "1969-12-31T23:59:58.500000000Z"
        );
        assert_eq!(
            before(Duration::from_secs(86_400 * 365)).as_str(),
            "1969-01-01T00:00:00.000000000Z"
        );
        check(&[(300_000_000_000, 0, "9999-12-31T23:59:59.999999999Z")]);
        let clamped = [
            (i64::MIN, "0000-01-01T00:00:00.000000000Z"),
            (i64::MAX, "9999-12-31T23:59:59.999999999Z"),
        ];
        for (secs, want) in clamped {
            assert_eq!(Timestamp::from_unix(secs, 0).as_str(), want);
        }
    }

    #[test]
    fn timestamp_now_is_well_formed() {
        let now = Timestamp::now();
        assert!(is_rfc3339(now.as_bytes()), "{now}");
        assert!(now.as_str().starts_with("20"));
    }

    #[test]
    fn rfc3339_matches_timestamp() {
        let t = UNIX_EPOCH + Duration::new(1_767_366_245, 123_456_789);
        assert_eq!(rfc3339_nanos(t), TS);
    }

    #[test]
    fn rfc3339_parsing() {
        let t = parse_rfc3339("1970-01-01T00:00:01Z").unwrap();
        assert_eq!(t, UNIX_EPOCH + Duration::from_secs(1));
        let t = parse_rfc3339("2024-02-29T12:00:00.5+01:00").unwrap();
        assert_eq!(
            Timestamp::from_system_time(t).as_str(),
            "2024-02-29T11:00:00.500000000Z"
        );
        for bad in [
            "",
            "2024-02-29",
            "2024-13-01T00:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "x024-01-01T00:00:00Z",
        ] {
            assert!(parse_rfc3339(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn parse_reads_back_what_format_writes() {
        for (secs, nanos) in [
            (0, 0),
            (1, 1),
            (951_782_400, 5),
            (1_767_366_245, 123_456_789),
        ] {
            let t = UNIX_EPOCH + Duration::new(secs, nanos);
            assert_eq!(parse_rfc3339(&rfc3339_nanos(t)), Some(t));
        }
    }

    #[test]
    fn shape_check_takes_go_forms_only() {
        for good in [
            "2016-10-06T00:17:09.669794202Z",
            "2016-10-06T00:17:09.6Z",
            "2016-10-06T00:17:09Z",
            "2016-10-06T00:17:09.669794202+02:00",
        ] {
            assert!(is_rfc3339(good.as_bytes()), "{good}");
        }
        for bad in [
            "",
            "2016-10-06",
            "2016-10-06t00:17:09Z",
            "2016-10-06T00:17:09.Z",
            "2016-10-06T00:17:09.1234567890Z",
            "2016-10-06T00:17:09+0200",
        ] {
            assert!(!is_rfc3339(bad.as_bytes()), "{bad}");
        }
    }
}
