//! Rendering of replies for people (`state`, `ps`) and for scripts (`--json`).
//!
//! Everything here is a pure function from reply data to text, so the exact
//! output is unit-tested without a running monitor.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::proto;

/// The fields of an `io.podmon.Pod.ContainerInfo` the CLI shows.
///
/// Lenient on purpose: unknown fields are ignored and missing ones default,
/// because clients should keep working when the service adds fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerView {
    /// Container id.
    pub id: String,
    /// created, running or stopped.
    pub status: String,
    /// PID of the init process while it runs.
    pub pid: Option<i64>,
    /// OCI bundle path.
    pub bundle: String,
    /// CRI log file path; absent with the "none" log driver.
    pub log_path: Option<String>,
    /// The last log write error, while writing fails.
    pub log_error: Option<String>,
    /// Bytes of output dropped by a "drop" rate limit.
    pub log_bytes_dropped: u64,
    /// Exit code once stopped.
    pub exit_code: Option<i64>,
    /// Name of the signal that killed it.
    pub signal: Option<String>,
    /// The kernel's OOM killer ended it.
    pub oom_killed: bool,
    /// "Completed", "Error" or "OOMKilled" once stopped.
    pub exit_reason: Option<String>,
    /// It has a pty.
    pub terminal: bool,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Start time, RFC 3339.
    pub started_at: Option<String>,
    /// Exit time, RFC 3339.
    pub finished_at: Option<String>,
}

impl From<&proto::ContainerInfo> for ContainerView {
    fn from(c: &proto::ContainerInfo) -> Self {
        ContainerView {
            id: c.id.clone(),
            status: c.status.as_str().to_owned(),
            pid: c.pid.map(i64::from),
            bundle: c.bundle.clone(),
            log_path: c.log_path.clone(),
            log_error: c.log_error.clone(),
            log_bytes_dropped: c.log_bytes_dropped,
            exit_code: c.exit_code.map(i64::from),
            signal: c.signal.clone(),
            oom_killed: c.oom_killed,
            exit_reason: c.exit_reason.clone(),
            terminal: c.terminal,
            created_at: c.created_at.clone(),
            started_at: c.started_at.clone(),
            finished_at: c.finished_at.clone(),
        }
    }
}

/// The `state` block: one `key: value` line per known field, absent optional
/// fields left out, keys aligned.
pub fn format_state(c: &ContainerView) -> String {
    let mut rows: Vec<(&str, String)> = vec![("id", c.id.clone()), ("status", c.status.clone())];
    if let Some(pid) = c.pid {
        rows.push(("pid", pid.to_string()));
    }
    if let Some(code) = c.exit_code {
        rows.push(("exit code", code.to_string()));
    }
    if let Some(signal) = &c.signal {
        rows.push(("signal", signal.clone()));
    }
    if let Some(reason) = &c.exit_reason {
        rows.push(("exit reason", reason.clone()));
    }
    if c.oom_killed {
        rows.push(("oom killed", "yes".to_owned()));
    }
    if c.terminal {
        rows.push(("terminal", "yes".to_owned()));
    }
    rows.push(("bundle", c.bundle.clone()));
    rows.push((
        "log",
        c.log_path.clone().unwrap_or_else(|| "none".to_owned()),
    ));
    if let Some(err) = &c.log_error {
        rows.push(("log error", err.clone()));
    }
    if c.log_bytes_dropped > 0 {
        rows.push(("log dropped", format!("{} bytes", c.log_bytes_dropped)));
    }
    rows.push(("created", c.created_at.clone()));
    if let Some(t) = &c.started_at {
        rows.push(("started", t.clone()));
    }
    if let Some(t) = &c.finished_at {
        rows.push(("finished", t.clone()));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for (key, value) in rows {
        let line = format!("{:<width$} {value}", format!("{key}:"));
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The `ps` table: ID, STATUS, PID, EXIT, CREATED, columns padded to their
/// widest cell; `-` where a value does not apply.
pub fn format_table(containers: &[ContainerView]) -> String {
    let header = ["ID", "STATUS", "PID", "EXIT", "CREATED"].map(str::to_owned);
    let mut rows = vec![header];
    for c in containers {
        rows.push([
            c.id.clone(),
            c.status.clone(),
            c.pid.map_or_else(|| "-".to_owned(), |p| p.to_string()),
            exit_cell(c),
            short_time(&c.created_at),
        ]);
    }
    let mut widths = [0usize; 5];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}   ", width = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `137 (SIGKILL)`, `137 (OOMKilled)`, `0`, or `-` while the container has
/// not exited.
fn exit_cell(c: &ContainerView) -> String {
    match (c.exit_code, &c.signal) {
        (Some(code), _) if c.oom_killed => format!("{code} (OOMKilled)"),
        (Some(code), Some(signal)) => format!("{code} ({signal})"),
        (Some(code), None) => code.to_string(),
        (None, _) => "-".to_owned(),
    }
}

/// Drops the fractional seconds of an RFC 3339 time, which only clutter a
/// table: `2024-05-01T10:00:00.123456789Z` becomes `2024-05-01T10:00:00Z`.
pub fn short_time(rfc3339: &str) -> String {
    match rfc3339.find('.') {
        Some(dot) => {
            let rest = &rfc3339[dot + 1..];
            let frac_len = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            format!("{}{}", &rfc3339[..dot], &rest[frac_len..])
        }
        None => rfc3339.to_owned(),
    }
}

/// Reply parameters as one line of JSON, for `--json`.
pub fn json_line(parameters: &Map<String, Value>) -> String {
    Value::Object(parameters.clone()).to_string()
}

/// The container's exit code as our own exit status; codes a process cannot
/// exit with (or none at all) become 1 so failure is never reported as 0.
pub fn exit_status(code: Option<i64>) -> i32 {
    match code {
        Some(code @ 0..=255) => code as i32,
        _ => 1,
    }
}

/// The note `wait` prints on stderr when a signal ended the process.
pub fn signal_note(signal: Option<&str>) -> Option<String> {
    signal.map(|s| format!("(killed by {s})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn running() -> ContainerView {
        ContainerView {
            id: "web".into(),
            status: "running".into(),
            pid: Some(4242),
            bundle: "/run/podmon/p/bundles/web".into(),
            log_path: Some("/run/podmon/p/logs/web.log".into()),
            created_at: "2024-05-01T10:00:00.123456789Z".into(),
            started_at: Some("2024-05-01T10:00:01.000000001Z".into()),
            ..ContainerView::default()
        }
    }

    fn killed() -> ContainerView {
        ContainerView {
            id: "batch-job".into(),
            status: "stopped".into(),
            pid: None,
            exit_code: Some(137),
            signal: Some("SIGKILL".into()),
            created_at: "2024-05-01T09:00:00.5Z".into(),
            ..ContainerView::default()
        }
    }

    #[test]
    fn state_block() {
        assert_eq!(
            format_state(&running()),
            "id:      web\n\
             status:  running\n\
             pid:     4242\n\
             bundle:  /run/podmon/p/bundles/web\n\
             log:     /run/podmon/p/logs/web.log\n\
             created: 2024-05-01T10:00:00.123456789Z\n\
             started: 2024-05-01T10:00:01.000000001Z\n"
        );
        let text = format_state(&killed());
        assert!(text.contains("exit code: 137\n"), "{text}");
        assert!(text.contains("signal:    SIGKILL\n"), "{text}");
        assert!(!text.contains("pid:"), "{text}");
        assert!(text.contains("log:       none\n"), "{text}");

        let oom = ContainerView {
            oom_killed: true,
            exit_reason: Some("OOMKilled".into()),
            log_error: Some("No space left on device".into()),
            log_bytes_dropped: 12,
            ..killed()
        };
        let text = format_state(&oom);
        assert!(text.contains("exit reason: OOMKilled\n"), "{text}");
        assert!(text.contains("oom killed:  yes\n"), "{text}");
        assert!(
            text.contains("log error:   No space left on device\n"),
            "{text}"
        );
        assert!(text.contains("log dropped: 12 bytes\n"), "{text}");
        assert!(format_table(&[oom]).contains("137 (OOMKilled)"));
    }

    #[test]
    fn ps_table() {
        assert_eq!(
            format_table(&[running(), killed()]),
            "ID          STATUS    PID    EXIT            CREATED\n\
             web         running   4242   -               2024-05-01T10:00:00Z\n\
             batch-job   stopped   -      137 (SIGKILL)   2024-05-01T09:00:00Z\n"
        );
        assert_eq!(format_table(&[]), "ID   STATUS   PID   EXIT   CREATED\n");
    }

    #[test]
    fn short_times() {
        assert_eq!(
            short_time("2024-05-01T10:00:00.123456789Z"),
            "2024-05-01T10:00:00Z"
        );
        assert_eq!(
            short_time("2024-05-01T10:00:00.1+02:00"),
            "2024-05-01T10:00:00+02:00"
        );
        assert_eq!(short_time("2024-05-01T10:00:00Z"), "2024-05-01T10:00:00Z");
        assert_eq!(short_time(""), "");
    }

    #[test]
    fn json_and_notes() {
        let Value::Object(p) = json!({"exitCode": 0}) else {
            unreachable!()
        };
        assert_eq!(json_line(&p), r#"{"exitCode":0}"#);
        assert_eq!(
            signal_note(Some("SIGKILL")).as_deref(),
            Some("(killed by SIGKILL)")
        );
        assert_eq!(signal_note(None), None);
    }
}
