//! Signal names <-> numbers for the `kill` API and runtime argv.
//!
//! We always hand the runtime a number, so the host's table is what matters.
//! Real-time signals use the `kill -l` / Docker convention (`SIGRTMIN` = 34,
//! `SIGRTMAX` = 64) instead of asking the C library, so the mapping does not
//! depend on whether podmon was linked against glibc or musl.

use thiserror::Error;

/// First real-time signal as glibc and Docker number it (the kernel reserves 32 and 33).
pub const SIGRTMIN: i32 = 34;
/// Last real-time signal on Linux (`_NSIG - 1`).
pub const SIGRTMAX: i32 = 64;

/// Why a signal spec was refused; shown to API clients.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignalError {
    /// Empty string: there is no sensible default at this layer.
    #[error("signal is empty")]
    Empty,
    /// A number outside 1..=64 (0 only probes, it would "succeed" without killing).
    #[error("signal number {0} is out of range 1..={SIGRTMAX}")]
    OutOfRange(i64),
    /// Not a known name nor a decimal number.
    #[error("unknown signal {0:?}")]
    Unknown(String),
}

/// Standard signals by number; index = signal number.
const NAMES: [Option<&str>; 32] = [
    None,
    Some("SIGHUP"),
    Some("SIGINT"),
    Some("SIGQUIT"),
    Some("SIGILL"),
    Some("SIGTRAP"),
    Some("SIGABRT"),
    Some("SIGBUS"),
    Some("SIGFPE"),
    Some("SIGKILL"),
    Some("SIGUSR1"),
    Some("SIGSEGV"),
    Some("SIGUSR2"),
    Some("SIGPIPE"),
    Some("SIGALRM"),
    Some("SIGTERM"),
    Some("SIGSTKFLT"),
    Some("SIGCHLD"),
    Some("SIGCONT"),
    Some("SIGSTOP"),
    Some("SIGTSTP"),
    Some("SIGTTIN"),
    Some("SIGTTOU"),
    Some("SIGURG"),
    Some("SIGXCPU"),
    Some("SIGXFSZ"),
    Some("SIGVTALRM"),
    Some("SIGPROF"),
    Some("SIGWINCH"),
    Some("SIGIO"),
    Some("SIGPWR"),
    Some("SIGSYS"),
];

/// Real-time signal names, index = number - SIGRTMIN, as `kill -l` prints them.
const RT_NAMES: [&str; (SIGRTMAX - SIGRTMIN + 1) as usize] = [
    "SIGRTMIN",
    "SIGRTMIN+1",
    "SIGRTMIN+2",
    "SIGRTMIN+3",
    "SIGRTMIN+4",
    "SIGRTMIN+5",
    "SIGRTMIN+6",
    "SIGRTMIN+7",
    "SIGRTMIN+8",
    "SIGRTMIN+9",
    "SIGRTMIN+10",
    "SIGRTMIN+11",
    "SIGRTMIN+12",
    "SIGRTMIN+13",
    "SIGRTMIN+14",
    "SIGRTMIN+15",
    "SIGRTMAX-14",
    "SIGRTMAX-13",
    "SIGRTMAX-12",
    "SIGRTMAX-11",
    "SIGRTMAX-10",
    "SIGRTMAX-9",
    "SIGRTMAX-8",
    "SIGRTMAX-7",
    "SIGRTMAX-6",
    "SIGRTMAX-5",
    "SIGRTMAX-4",
    "SIGRTMAX-3",
    "SIGRTMAX-2",
    "SIGRTMAX-1",
    "SIGRTMAX",
];

/// Other spellings people and tools use for the same signals.
const ALIASES: [(&str, i32); 3] = [("IOT", 6), ("POLL", 29), ("CLD", 17)];

/// Accepts what users type to `kill`: "SIGKILL", "KILL", "kill", "9",
/// "SIGRTMIN+3", "RTMAX-1". Signal 0 is refused: it only probes for existence.
pub fn parse_signal(s: &str) -> Result<i32, SignalError> {
    if s.is_empty() {
        return Err(SignalError::Empty);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: parse as wide as possible so huge inputs report out-of-range.
        let n: i64 = s.parse().unwrap_or(i64::MAX);
        return in_range(n).ok_or(SignalError::OutOfRange(n));
    }
    let unknown = || SignalError::Unknown(s.to_owned());
    let upper = s.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(n) = parse_rt(bare) {
        return n.ok_or_else(unknown);
    }
    if let Some(n) = NAMES
        .iter()
        .position(|name| name.is_some_and(|name| &name[3..] == bare))
    {
        // NAMES has 32 entries, so the index always fits.
        return i32::try_from(n).map_err(|_| unknown());
    }
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == bare)
        .map(|&(_, n)| n)
        .ok_or_else(unknown)
}

/// Canonical "SIGxxx" name for logs and API replies; None for unnamed numbers.
pub fn signal_name(n: i32) -> Option<&'static str> {
    if (SIGRTMIN..=SIGRTMAX).contains(&n) {
        return RT_NAMES.get(usize::try_from(n - SIGRTMIN).ok()?).copied();
    }
    NAMES.get(usize::try_from(n).ok()?).copied().flatten()
}

fn in_range(n: i64) -> Option<i32> {
    if (1..=i64::from(SIGRTMAX)).contains(&n) {
        i32::try_from(n).ok()
    } else {
        None
    }
}

/// Some(result) when `bare` (upper case, no "SIG") is an RTMIN/RTMAX form.
fn parse_rt(bare: &str) -> Option<Option<i32>> {
    let (base, rest, sign) = if let Some(rest) = bare.strip_prefix("RTMIN") {
        (SIGRTMIN, rest, 1)
    } else if let Some(rest) = bare.strip_prefix("RTMAX") {
        (SIGRTMAX, rest, -1)
    } else {
        return None;
    };
    if rest.is_empty() {
        return Some(Some(base));
    }
    let digits = if sign > 0 {
        rest.strip_prefix('+')
    } else {
        rest.strip_prefix('-')
    };
    let offset = match digits {
        Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => d.parse::<i32>().ok(),
        _ => None,
    };
    Some(offset.and_then(|off| {
        // checked: "RTMIN+2147483647" must be unknown, not an overflow.
        let n = base.checked_add(sign * off)?;
        (SIGRTMIN..=SIGRTMAX).contains(&n).then_some(n)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_in_all_spellings() {
        for s in ["SIGKILL", "KILL", "kill", "sigkill", "SigKill", "9"] {
            assert_eq!(parse_signal(s), Ok(9), "{s}");
        }
        assert_eq!(parse_signal("TERM"), Ok(15));
        assert_eq!(parse_signal("SIGHUP"), Ok(1));
        assert_eq!(parse_signal("sigsys"), Ok(31));
        assert_eq!(parse_signal("WINCH"), Ok(28));
        assert_eq!(parse_signal("IOT"), Ok(6));
        assert_eq!(parse_signal("SIGPOLL"), Ok(29));
        assert_eq!(parse_signal("CLD"), Ok(17));
    }

    #[test]
    fn agrees_with_libc() {
        let pairs = [
            ("SIGHUP", libc::SIGHUP),
            ("SIGINT", libc::SIGINT),
            ("SIGQUIT", libc::SIGQUIT),
            ("SIGKILL", libc::SIGKILL),
            ("SIGUSR1", libc::SIGUSR1),
            ("SIGUSR2", libc::SIGUSR2),
            ("SIGTERM", libc::SIGTERM),
            ("SIGCHLD", libc::SIGCHLD),
            ("SIGCONT", libc::SIGCONT),
            ("SIGSTOP", libc::SIGSTOP),
            ("SIGWINCH", libc::SIGWINCH),
            ("SIGPWR", libc::SIGPWR),
            ("SIGSYS", libc::SIGSYS),
        ];
        for (name, n) in pairs {
            assert_eq!(parse_signal(name), Ok(n));
            assert_eq!(signal_name(n), Some(name));
        }
    }

    #[test]
    fn parses_numbers() {
        assert_eq!(parse_signal("1"), Ok(1));
        assert_eq!(parse_signal("64"), Ok(64));
        assert_eq!(parse_signal("015"), Ok(15));
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(parse_signal(""), Err(SignalError::Empty));
        assert_eq!(parse_signal("0"), Err(SignalError::OutOfRange(0)));
        assert_eq!(parse_signal("65"), Err(SignalError::OutOfRange(65)));
        assert!(matches!(
            parse_signal("99999999999999999999999"),
            Err(SignalError::OutOfRange(_))
        ));
        for s in [
            "-9", "+9", " 9", "9 ", "SIG", "FOO", "SIGFOO", "SIGKILLX", "KIL", "RTMIN+", "RTMIN-1",
            "RTMAX+1", "RTMIN+31", "RTMAX-31", "RTMIN+x", "RTMIN++1", "é",
        ] {
            assert!(
                matches!(parse_signal(s), Err(SignalError::Unknown(_))),
                "{s:?} -> {:?}",
                parse_signal(s)
            );
        }
        assert_eq!(
            parse_signal("FOO").unwrap_err().to_string(),
            "unknown signal \"FOO\""
        );
    }

    #[test]
    fn parses_realtime() {
        assert_eq!(parse_signal("SIGRTMIN"), Ok(34));
        assert_eq!(parse_signal("RTMIN+1"), Ok(35));
        assert_eq!(parse_signal("sigrtmin+30"), Ok(64));
        assert_eq!(parse_signal("RTMAX"), Ok(64));
        assert_eq!(parse_signal("SIGRTMAX-2"), Ok(62));
        assert_eq!(parse_signal("RTMAX-30"), Ok(34));
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(signal_name(9), Some("SIGKILL"));
        assert_eq!(signal_name(15), Some("SIGTERM"));
        assert_eq!(signal_name(34), Some("SIGRTMIN"));
        assert_eq!(signal_name(49), Some("SIGRTMIN+15"));
        assert_eq!(signal_name(50), Some("SIGRTMAX-14"));
        assert_eq!(signal_name(64), Some("SIGRTMAX"));
        for n in [0, 32, 33, 65, -1, i32::MIN, i32::MAX] {
            assert_eq!(signal_name(n), None, "{n}");
        }
        for n in (1..=31).chain(34..=64) {
            let name = signal_name(n).unwrap_or_else(|| panic!("no name for {n}"));
            assert_eq!(parse_signal(name), Ok(n), "{name}");
        }
    }
}
