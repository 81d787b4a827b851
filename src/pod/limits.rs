//! The range of every number and the size of every string and list the
//! pod accepts, as named constants, and the checks that hold requests to
//! them whatever the transport. The IDL's field comments and the README's
//! "Limits" table quote these constants; a value outside them is
//! `InvalidValue` naming the parameter, never a stall or a panic later.
//!
//! The ranges follow what conmon, CRI-O and the kubelet use where they have
//! one (a 16 KiB CRI line, a handful of rotated files, 64-byte host names,
//! the kernel's argument limits) and otherwise keep every piece of work a
//! value asks of the one event loop small: rotation renames at most
//! [`LOG_MAX_FILES`] files, a tail holds at most [`TAIL_MAX`] records.

use std::time::Duration;

use super::{Field, PodError};
use crate::logs::ratelimit::Limit;

/// Longest path (bundle, rootfs, cwd) in bytes: PATH_MAX less its NUL.
pub const PATH_MAX_BYTES: usize = 4095;
/// Most entries in a command (program plus arguments).
pub const COMMAND_MAX_ARGS: usize = 4096;
/// Most environment entries.
pub const ENV_MAX_ENTRIES: usize = 4096;
/// Longest single argument or environment entry: the kernel's
/// MAX_ARG_STRLEN (32 pages) less its NUL; execve refuses longer ones.
pub const ARG_MAX_BYTES: usize = 128 * 1024 - 1;
/// Most bytes of command plus environment together: half of the 2 MiB that
/// execve allows with the default 8 MiB stack, leaving room for the
/// runtime's own additions.
pub const ARGV_ENV_MAX_BYTES: usize = 1 << 20;
/// Longest host name: the kernel's HOST_NAME_MAX.
pub const HOSTNAME_MAX_BYTES: usize = 64;
/// Smallest memory limit: 6 MiB, runc's own old minimum. The runtime's init
/// alone peaks near 2 MiB, so a smaller limit fails at create anyway, as a
/// RuntimeError that does not name the parameter.
pub const MEMORY_MIN: i64 = 6 << 20;
/// Largest memory limit: 4 EiB, the kernel's page counter limit.
pub const MEMORY_MAX: i64 = 1 << 62;
/// Largest process count limit: the kernel's PID_MAX_LIMIT on 64-bit.
pub const PIDS_MAX: i64 = 1 << 22;
/// Shortest log record content before a line is split: below this the CRI
/// prefix (about 40 bytes) would outweigh the content.
pub const LOG_MAX_LINE_MIN: u64 = 256;
/// Longest log record content (the default is 16 KiB, as the kubelet's).
pub const LOG_MAX_LINE_MAX: u64 = 1 << 20;
/// Smallest rotation size: a file holds at least one default-length record.
pub const LOG_MAX_SIZE_MIN: u64 = 16 * 1024;
/// Largest rotation size: 1 TiB.
pub const LOG_MAX_SIZE_MAX: u64 = 1 << 40;
/// Most rotated files kept. Each rotation stats and renames up to this many
/// files synchronously on the loop (only those that exist): with all 32
/// present that is about 2 ms on ext4, and it happens at most once per
/// `logMaxSize` bytes written. The kubelet keeps 5.
pub const LOG_MAX_FILES: u32 = 32;
/// Largest log rate: 1 TiB/s (anything faster is no limit at all).
pub const RATE_MAX: u64 = 1 << 40;
/// Largest burst: 1 GiB.
pub const BURST_MAX: u64 = 1 << 30;
/// Largest pty size in either direction (the winsize field is 16 bits).
pub const WINDOW_MAX: u16 = u16::MAX;
/// Most records ReadLogs keeps for a tail.
pub const TAIL_MAX: i64 = 1_000_000;
/// Longest ExecSync timeout: 7 days.
pub const TIMEOUT_MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;
/// Default and largest ExecSync output kept per stream: 16 MiB (replies
/// carry it as JSON text; longer output is what `Exec` streams).
pub const MAX_OUTPUT: u64 = 16 << 20;
/// Default seconds between SIGTERM and SIGKILL when the monitor stops the
/// pod's containers on its way out (`--kill-on-exit`, `Shutdown`): the
/// grace the monitor has always given; an engine that wants the kubelet's
/// 30 s, or any other, passes `timeout`.
pub const SHUTDOWN_TIMEOUT_DEFAULT: i64 = 10;
/// Longest grace `Shutdown` accepts: one hour. The call's reply waits for
/// it, and a monitor that waits longer to exit looks hung.
pub const SHUTDOWN_TIMEOUT_MAX: i64 = 3600;
/// The uid/gid `(uid_t)-1`, which setresuid reads as "unchanged".
pub const ID_UNCHANGED: u32 = u32::MAX;

/// `InvalidValue` for `field` unless `lo <= v <= hi`.
pub fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    field: Field,
    v: T,
    lo: T,
    hi: T,
) -> Result<T, PodError> {
    if v < lo || v > hi {
        return Err(PodError::invalid(
            field,
            format!("{v} is out of range {lo}..={hi}"),
        ));
    }
    Ok(v)
}

/// A string the kernel takes as a C string: no NUL, at most `max` bytes.
pub fn c_string(field: Field, s: &str, max: usize) -> Result<(), PodError> {
    if s.contains('\0') {
        return Err(PodError::invalid(field, "contains a NUL byte"));
    }
    if s.len() > max {
        return Err(PodError::invalid(
            field,
            format!("is {} bytes long, more than {max}", s.len()),
        ));
    }
    Ok(())
}

/// An absolute path of at most [`PATH_MAX_BYTES`] without NUL.
pub fn absolute_path(field: Field, s: &str) -> Result<(), PodError> {
    c_string(field, s, PATH_MAX_BYTES)?;
    if !s.starts_with('/') {
        return Err(PodError::invalid(field, "must be an absolute path"));
    }
    Ok(())
}

/// A command and an environment as execve takes them: at least one
/// argument, each entry a C string of at most [`ARG_MAX_BYTES`], env
/// entries `KEY=value` with a non-empty key, and in all at most
/// [`ARGV_ENV_MAX_BYTES`].
pub fn argv_env(command: &[String], env: &[String]) -> Result<(), PodError> {
    if command.is_empty() {
        return Err(PodError::invalid(Field::Command, "a command is required"));
    }
    for (field, list, max) in [
        (Field::Command, command, COMMAND_MAX_ARGS),
        (Field::Env, env, ENV_MAX_ENTRIES),
    ] {
        if list.len() > max {
            return Err(PodError::invalid(
                field,
                format!("has {} entries, more than {max}", list.len()),
            ));
        }
        for s in list {
            c_string(field, s, ARG_MAX_BYTES)?;
        }
    }
    if let Some(bad) = env.iter().find(|e| e.find('=').is_none_or(|i| i == 0)) {
        return Err(PodError::invalid(
            Field::Env,
            format!("entry {bad:?} is not of the form KEY=value"),
        ));
    }
    let total: usize = command.iter().chain(env).map(|s| s.len() + 1).sum();
    if total > ARGV_ENV_MAX_BYTES {
        return Err(PodError::invalid(
            Field::Command,
            format!("command and env take {total} bytes, more than {ARGV_ENV_MAX_BYTES}"),
        ));
    }
    Ok(())
}

/// A host name: 1 to [`HOSTNAME_MAX_BYTES`] letters, digits, '.', '-' or
/// '_' (the id's alphabet, since the id is the default host name).
pub fn hostname(s: &str) -> Result<(), PodError> {
    c_string(Field::Hostname, s, HOSTNAME_MAX_BYTES)?;
    if s.is_empty() {
        return Err(PodError::invalid(Field::Hostname, "is empty"));
    }
    if let Some(bad) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return Err(PodError::invalid(
            Field::Hostname,
            format!("contains {bad:?}; only letters, digits, '.', '-' and '_' are allowed"),
        ));
    }
    Ok(())
}

/// A rate limit: 1 ..= [`RATE_MAX`] bytes per second, a burst of
/// 1 ..= [`BURST_MAX`] bytes.
pub fn check_limit(l: &Limit) -> Result<(), PodError> {
    in_range(Field::BytesPerSecond, l.bytes_per_second, 1, RATE_MAX)?;
    in_range(Field::Burst, l.burst, 1, BURST_MAX)?;
    Ok(())
}

/// One side of a pty window: 1 ..= [`WINDOW_MAX`].
fn side(field: Field, v: u16) -> Result<u16, PodError> {
    in_range(field, v, 1, WINDOW_MAX)
}

/// A window size for Resize: both sides in range.
pub fn window(width: u16, height: u16) -> Result<(u16, u16), PodError> {
    Ok((side(Field::Width, width)?, side(Field::Height, height)?))
}

/// A pty's initial size, as CreateContainer and Exec take it: `width` and
/// `height` come together, only with `terminal`, each in range.
pub fn console_size(
    width: Option<u16>,
    height: Option<u16>,
    terminal: bool,
) -> Result<Option<(u16, u16)>, PodError> {
    match (width, height) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(PodError::invalid(Field::Width, "needs height too")),
        (None, Some(_)) => Err(PodError::invalid(Field::Height, "needs width too")),
        (Some(_), Some(_)) if !terminal => {
            Err(PodError::invalid(Field::Width, "only with terminal"))
        }
        (Some(w), Some(h)) => window(w, h).map(Some),
    }
}

/// ReadLogs' `tail`: 0 ..= [`TAIL_MAX`] records.
pub fn tail(n: Option<i64>) -> Result<Option<usize>, PodError> {
    n.map(|n| in_range(Field::Tail, n, 0, TAIL_MAX).map(|n| n as usize))
        .transpose()
}

/// ExecSync's `timeoutSeconds`: more than 0, at most [`TIMEOUT_MAX_SECONDS`].
pub fn timeout(t: Option<f64>) -> Result<Option<Duration>, PodError> {
    let Some(t) = t else { return Ok(None) };
    // NaN fails both comparisons, so it is refused too.
    if !(t > 0.0 && t <= TIMEOUT_MAX_SECONDS) {
        return Err(PodError::invalid(
            Field::TimeoutSeconds,
            format!("{t} is not a number of seconds in (0, {TIMEOUT_MAX_SECONDS}]"),
        ));
    }
    Ok(Some(Duration::from_secs_f64(t)))
}

/// Shutdown's `timeout`: 0 ..= [`SHUTDOWN_TIMEOUT_MAX`] whole seconds,
/// default [`SHUTDOWN_TIMEOUT_DEFAULT`] (0 sends SIGKILL at once).
pub fn shutdown_timeout(t: Option<i64>) -> Result<Duration, PodError> {
    let t = in_range(
        Field::Timeout,
        t.unwrap_or(SHUTDOWN_TIMEOUT_DEFAULT),
        0,
        SHUTDOWN_TIMEOUT_MAX,
    )?;
    Ok(Duration::from_secs(t as u64))
}

/// ExecSync's `maxOutput`: 0 ..= [`MAX_OUTPUT`], default [`MAX_OUTPUT`].
pub fn max_output(n: Option<u64>) -> Result<usize, PodError> {
    let n = in_range(Field::MaxOutput, n.unwrap_or(MAX_OUTPUT), 0, MAX_OUTPUT)?;
    Ok(n as usize)
}

/// An exec's uid and gid: any but `(uid_t)-1`.
pub fn user(user: Option<(u32, Option<u32>)>) -> Result<(), PodError> {
    let Some((uid, gid)) = user else {
        return Ok(());
    };
    if uid == ID_UNCHANGED || gid == Some(ID_UNCHANGED) {
        return Err(PodError::invalid(
            Field::User,
            format!("{ID_UNCHANGED} is not a usable uid or gid"),
        ));
    }
    Ok(())
}

/// What an exec runs: its command, env, cwd and user.
pub fn check_exec(spec: &super::exec::ExecSpec) -> Result<(), PodError> {
    argv_env(&spec.command, &spec.env)?;
    if let Some(cwd) = &spec.cwd {
        absolute_path(Field::Cwd, cwd)?;
    }
    user(spec.user)?;
    if spec.size.is_some() && !spec.terminal {
        return Err(PodError::invalid(Field::Width, "only with terminal"));
    }
    if let Some((w, h)) = spec.size {
        window(w, h)?;
    }
    Ok(())
}

/// The namespaces RunInPod may name (the pod may not have them all).
pub const NAMESPACES: &[&str] = &["net", "ipc", "uts", "pid"];

/// RunInPod's `namespaces`: default `["net"]`; each one of [`NAMESPACES`],
/// at least one, none twice.
pub fn namespaces(list: Option<Vec<String>>) -> Result<Vec<String>, PodError> {
    let list = list.unwrap_or_else(|| vec!["net".to_owned()]);
    if list.is_empty() {
        return Err(PodError::invalid(Field::Namespaces, "names no namespace"));
    }
    for (i, n) in list.iter().enumerate() {
        if !NAMESPACES.contains(&n.as_str()) {
            let known = NAMESPACES.join(", ");
            return Err(PodError::invalid(
                Field::Namespaces,
                format!("unknown namespace {n:?} (known: {known})"),
            ));
        }
        if list[..i].contains(n) {
            return Err(PodError::invalid(Field::Namespaces, format!("{n} twice")));
        }
    }
    Ok(list)
}

/// PortForward's `port`: 1 ..= 65535.
pub fn port(p: i64) -> Result<u16, PodError> {
    u16::try_from(p)
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| PodError::invalid(Field::Port, format!("{p} is not in 1..=65535")))
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
