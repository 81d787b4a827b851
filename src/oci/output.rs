//! Reading what the OCI runtime leaves behind: its error message (stderr
//! or the `--log` file, in any of the formats runc and crun use), the pid
//! file and `state` JSON.

use std::path::PathBuf;

use serde::Deserialize;
use thiserror::Error;

/// The runtime's own error message, from its stderr and/or `--log` file.
///
/// Understands JSON lines (`{"level":"error","msg":..}`, runc/crun with
/// `--log-format json`), logfmt (`time=".." level=error msg=".."`, runc's
/// default) and plain text. The log file wins over stderr (stderr of
/// `runc create` is shared with the container). The last error-level message
/// is preferred, then the last plain line, then the last message of any level.
/// `None` when nothing useful was printed: the caller words "exit status N".
pub fn error_message(stderr: &[u8], log_file: Option<&[u8]>) -> Option<String> {
    let sources = [log_file.unwrap_or_default(), stderr];
    let mut fallback = None;
    for source in sources {
        let mut best_error = None;
        let mut best_plain = None;
        let mut best_other = None;
        for line in source.split(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(line);
            match parse_log_line(line.trim()) {
                Some(LogLine::Structured { level, msg }) if !msg.is_empty() => {
                    if matches!(level.as_str(), "error" | "fatal" | "panic") {
                        best_error = Some(msg);
                    } else {
                        best_other = Some(msg);
                    }
                }
                Some(LogLine::Plain(text)) => best_plain = Some(text),
                _ => {}
            }
        }
        if let Some(msg) = best_error.or(best_plain) {
            return Some(clean(&msg));
        }
        fallback = fallback.or(best_other);
    }
    fallback.map(|m| clean(&m))
}

enum LogLine {
    Structured { level: String, msg: String },
    Plain(String),
}

fn parse_log_line(line: &str) -> Option<LogLine> {
    if line.is_empty() || is_usage_noise(line) {
        return None;
    }
    if line.starts_with('{')
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
    {
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
        return Some(LogLine::Structured {
            level: field("level").to_ascii_lowercase(),
            msg: field("msg").trim().to_owned(),
        });
    }
    if let Some((level, msg)) = parse_logfmt(line) {
        return Some(LogLine::Structured {
            level: level.to_ascii_lowercase(),
            msg: msg.trim().to_owned(),
        });
    }
    Some(LogLine::Plain(line.to_owned()))
}

/// Help text runc prints after "Incorrect Usage." is not the error.
fn is_usage_noise(line: &str) -> bool {
    line.starts_with("Incorrect Usage")
        || line.starts_with("NAME:")
        || line.starts_with("USAGE:")
        || line.starts_with("OPTIONS:")
}

/// `level` and `msg` of a logfmt line; None unless both are present.
fn parse_logfmt(line: &str) -> Option<(String, String)> {
    let mut level = None;
    let mut msg = None;
    let mut rest = line;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let eq = rest.find('=')?;
        let key = &rest[..eq];
        if key.is_empty() || key.contains(char::is_whitespace) {
            return None;
        }
        let (value, tail) = logfmt_value(&rest[eq + 1..])?;
        match key {
            "level" => level = Some(value),
            "msg" => msg = Some(value),
            _ => {}
        }
        rest = tail;
    }
    Some((level?, msg?))
}

/// One value: `"quoted with \" escapes"` or a bare word; returns (value, rest).
fn logfmt_value(s: &str) -> Option<(String, &str)> {
    let Some(quoted) = s.strip_prefix('"') else {
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        return Some((s[..end].to_owned(), &s[end..]));
    };
    let mut out = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &quoted[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// Drops the "runc create failed: " style prefix (the caller knows the
/// operation) and surrounding whitespace.
fn clean(msg: &str) -> String {
    let msg = msg.trim();
    let stripped = msg
        .split_once(" failed: ")
        .filter(|(head, _)| {
            let mut words = head.split(' ');
            matches!(words.next(), Some("runc" | "crun"))
                && words.next().is_some()
                && words.next().is_none()
        })
        .map(|(_, tail)| tail.trim())
        .filter(|tail| !tail.is_empty());
    stripped.unwrap_or(msg).to_owned()
}

/// What `runc state` / `crun state` print, reduced to what podmon uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RuntimeState {
    /// The container id.
    pub id: String,
    /// Host pid of the container init (0 once stopped).
    pub pid: i32,
    /// "creating", "created", "running", "stopped" or "paused".
    pub status: String,
    /// Absolute bundle path.
    pub bundle: PathBuf,
}

/// Why runtime output could not be parsed.
#[derive(Debug, Error)]
pub enum ParseError {
    /// `state` output was not the expected JSON.
    #[error("unexpected runtime state output: {0}")]
    State(#[from] serde_json::Error),
    /// The pid file was empty.
    #[error("pid file is empty")]
    EmptyPidFile,
    /// The pid file did not hold a positive decimal pid.
    #[error("pid file holds {0:?}, not a pid")]
    BadPid(String),
}

/// Parses `runc state` JSON (extra fields are ignored).
pub fn parse_state(stdout: &[u8]) -> Result<RuntimeState, ParseError> {
    Ok(serde_json::from_slice(stdout)?)
}

/// Parses the `--pid-file` contents: a decimal pid, maybe without newline.
pub fn parse_pid_file(contents: &[u8]) -> Result<i32, ParseError> {
    let text = contents.trim_ascii();
    if text.is_empty() {
        return Err(ParseError::EmptyPidFile);
    }
    let bad = || ParseError::BadPid(String::from_utf8_lossy(text).into_owned());
    if !text.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse::<i32>().ok())
        .filter(|&pid| pid > 0)
        .ok_or_else(bad)
}

/// The shell's code for a runtime's message about a process it could not
/// start: 127 when the command does not exist, 126 when it exists but
/// cannot be executed. runc says `exec: "CMD": executable file not found
/// in $PATH`, `exec: "/P": stat /P: no such file or directory` or `exec:
/// "/P": permission denied`; crun `executable file `CMD` not found` or
/// `exec container process `/P`: Permission denied`. None for the rest.
pub fn not_executable(message: &str) -> Option<i32> {
    let m = message.to_ascii_lowercase();
    let about_exec = m.contains("start container process: exec:")
        || m.contains("executable file")
        || m.contains("exec container process");
    if !about_exec {
        return None;
    }
    if m.contains("not found") || m.contains("no such file or directory") {
        Some(127)
    } else if m.contains("permission denied")
        || m.contains("is a directory")
        || m.contains("exec format error")
        || m.contains("not a directory")
    {
        Some(126)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Messages below were captured from runc 1.1.5 on this machine.

    #[test]
    fn error_from_json_log() {
        let log =
            br#"{"level":"error","msg":"container does not exist","time":"2026-11-23T13:25:31Z"}
"#;
        assert_eq!(
            error_message(b"container does not exist\n", Some(log)).as_deref(),
            Some("container does not exist")
        );
        let log = br#"{"level":"error","msg":"runc create failed: unable to start container process: exec: \"sh\": executable file not found in $PATH","time":"2026-11-23T13:29:54Z"}"#;
        assert_eq!(
            error_message(b"", Some(log)).as_deref(),
            Some(
                r#"unable to start container process: exec: "sh": executable file not found in $PATH"#
            )
        );
        let log = br#"{"level":"error","msg":"runc create failed: unable to start container process: error during container init: error setting cgroup config for procHooks process: unable to set memory limit to 4096 (current usage: 2277376, peak usage: 2764800)","time":"2026-11-23T13:30:15Z"}"#;
        assert_eq!(
            error_message(b"", Some(log)).as_deref(),
            Some(
                "unable to start container process: error during container init: error setting cgroup config for procHooks process: unable to set memory limit to 4096 (current usage: 2277376, peak usage: 2764800)"
            )
        );
    }

    #[test]
    fn log_file_wins_over_container_output_on_stderr() {
        // runc create's stderr is the container's stderr.
        let stderr =
            b"some container output\nrunc create failed: container with given ID already exists\n";
        let log = br#"{"level":"error","msg":"runc create failed: container with given ID already exists","time":"2026-11-23T13:30:09Z"}"#;
        assert_eq!(
            error_message(stderr, Some(log)).as_deref(),
            Some("container with given ID already exists")
        );
    }

    #[test]
    fn prefers_last_error_level() {
        let log = br#"{"level":"debug","msg":"nsexec started","time":"t"}
{"level":"error","msg":"first problem","time":"t"}
{"level":"warning","msg":"cgroup v1 is deprecated","time":"t"}
{"level":"error","msg":"runc create failed: second problem","time":"t"}
{"level":"info","msg":"bye","time":"t"}
"#;
        assert_eq!(
            error_message(b"", Some(log)).as_deref(),
            Some("second problem")
        );
        // Only warnings: use the last one rather than nothing.
        let log = br#"{"level":"warning","msg":"just a warning","time":"t"}"#;
        assert_eq!(
            error_message(b"", Some(log)).as_deref(),
            Some("just a warning")
        );
        // Warnings in the log but a plain error on stderr: stderr wins.
        assert_eq!(
            error_message(b"crun: boom\n", Some(log)).as_deref(),
            Some("crun: boom")
        );
    }

    #[test]
    fn error_from_logfmt_stderr() {
        let stderr = br#"time="2026-11-23T13:25:31Z" level=error msg="container does not exist"
"#;
        assert_eq!(
            error_message(stderr, None).as_deref(),
            Some("container does not exist")
        );
        let stderr = br#"time="2026-11-23T13:30:09Z" level=error msg="unknown signal \"BOGUS\"""#;
        assert_eq!(
            error_message(stderr, None).as_deref(),
            Some(r#"unknown signal "BOGUS""#)
        );
        let stderr = br#"time="2026-11-23T13:30:09Z" level=error msg="cannot delete container c2 that is not stopped: running"
"#;
        assert_eq!(
            error_message(stderr, Some(b"")).as_deref(),
            Some("cannot delete container c2 that is not stopped: running")
        );
        let stderr = br#"time="2026-11-23T13:25:35Z" level=warning msg="deprecated"
time="2026-11-23T13:25:35Z" level=error msg="runc: \"kill\" requires a minimum of 1 argument(s)"
"#;
        assert_eq!(
            error_message(stderr, None).as_deref(),
            Some(r#"runc: "kill" requires a minimum of 1 argument(s)"#)
        );
    }

    #[test]
    fn error_from_json_stderr() {
        // --log-format json without --log: JSON goes to stderr.
        let stderr =
            br#"{"level":"error","msg":"container does not exist","time":"2026-11-23T13:25:35Z"}"#;
        assert_eq!(
            error_message(stderr, None).as_deref(),
            Some("container does not exist")
        );
    }

    #[test]
    fn error_from_plain_text() {
        assert_eq!(
            error_message(b"crun: container `x` does not exist\n\n", None).as_deref(),
            Some("crun: container `x` does not exist")
        );
        assert_eq!(
            error_message(b"line one\n  last line  \n", None).as_deref(),
            Some("last line")
        );
        // Invalid UTF-8 does not break anything.
        assert_eq!(
            error_message(b"bad \xff byte\n", None).as_deref(),
            Some("bad \u{fffd} byte")
        );
        // A prefix that merely looks similar is kept.
        assert_eq!(
            error_message(b"my runc create failed: x", None).as_deref(),
            Some("my runc create failed: x")
        );
    }

    #[test]
    fn usage_noise_is_ignored() {
        let stderr = b"Incorrect Usage. flag provided but not defined: -bogus\n\nNAME:\n";
        assert_eq!(error_message(stderr, None), None);
        let stderr = b"Incorrect Usage.\n\ntime=\"t\" level=error msg=\"flag provided but not defined: -bogus\"\n";
        assert_eq!(
            error_message(stderr, None).as_deref(),
            Some("flag provided but not defined: -bogus")
        );
    }

    #[test]
    fn nothing_printed_is_none() {
        assert_eq!(error_message(b"", None), None);
        assert_eq!(error_message(b"\n  \n", Some(b"\n")), None);
        assert_eq!(
            error_message(b"", Some(br#"{"level":"error","msg":"","time":"t"}"#)),
            None
        );
        assert_eq!(
            error_message(b"", Some(b"runc create failed: ")).as_deref(),
            Some("runc create failed:")
        );
    }

    #[test]
    fn malformed_structured_lines_are_plain() {
        assert_eq!(
            error_message(b"{not json\n", None).as_deref(),
            Some("{not json")
        );
        assert_eq!(
            error_message(br#"level=error msg="unterminated"#, None).as_deref(),
            Some(r#"level=error msg="unterminated"#)
        );
        assert_eq!(
            error_message(b"key=value without msg\n", None).as_deref(),
            Some("key=value without msg")
        );
    }

    #[test]
    fn parses_state() {
        let out = br#"{
  "ociVersion": "1.0.2-dev",
  "id": "c1",
  "pid": 9313,
  "status": "created",
  "bundle": "/tmp/rt/b1",
  "rootfs": "/tmp/rt/b1/rootfs",
  "created": "2026-11-23T13:29:58.582041784Z",
  "owner": ""
}"#;
        let st = parse_state(out).expect("valid");
        assert_eq!(
            st,
            RuntimeState {
                id: "c1".into(),
                pid: 9313,
                status: "created".into(),
                bundle: "/tmp/rt/b1".into(),
            }
        );
        let stopped = br#"{"ociVersion":"1.0.2-dev","id":"c1","pid":0,"status":"stopped","bundle":"/b","rootfs":"/b/rootfs","created":"x","owner":""}"#;
        assert_eq!(
            parse_state(stopped).map(|s| (s.pid, s.status)).ok(),
            Some((0, "stopped".into()))
        );
        assert!(parse_state(b"").is_err());
        assert!(parse_state(b"{\"id\":\"c1\"}").is_err());
        assert!(parse_state(b"container does not exist").is_err());
    }

    #[test]
    fn parses_pid_file() {
        assert_eq!(parse_pid_file(b"9313").ok(), Some(9313));
        assert_eq!(parse_pid_file(b"9313\n").ok(), Some(9313));
        assert_eq!(parse_pid_file(b" 42 \n").ok(), Some(42));
        assert!(matches!(parse_pid_file(b""), Err(ParseError::EmptyPidFile)));
        assert!(matches!(
            parse_pid_file(b"\n"),
            Err(ParseError::EmptyPidFile)
        ));
        for bad in [
            &b"0"[..],
            b"-1",
            b"+5",
            b"12a",
            b"1 2",
            b"99999999999",
            b"\xff",
        ] {
            assert!(
                matches!(parse_pid_file(bad), Err(ParseError::BadPid(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn not_executable_codes() {
        let runc = |t: &str| {
            format!("exec failed: unable to start container process: exec: {t} (exit status 255)")
        };
        assert_eq!(
            not_executable(&runc(r#""nosuch": executable file not found in $PATH"#)),
            Some(127)
        );
        assert_eq!(
            not_executable(&runc(
                r#""/no/such": stat /no/such: no such file or directory"#
            )),
            Some(127)
        );
        assert_eq!(
            not_executable(&runc(r#""/etc": permission denied"#)),
            Some(126)
        );
        assert_eq!(
            not_executable(
                "executable file `nosuch` not found in $PATH: No such file or directory"
            ),
            Some(127)
        );
        assert_eq!(
            not_executable("exec container process `/etc/passwd`: Permission denied"),
            Some(126)
        );
        assert_eq!(not_executable("container not running"), None);
        assert_eq!(
            not_executable("open /run/runc/x/state.json: no such file or directory"),
            None
        );
    }
}
