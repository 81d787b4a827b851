//! `podmon events` and the one-shot pod commands' human output (`pod`,
//! `set-log-limit`).

use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, anyhow};
use serde_json::{Map, Value, json};

use super::errors;
use super::output;
use super::stats::human_bytes;
use crate::varlink::client::ClientError;
use crate::varlink::client::{Client, Mode};

/// The `WatchEvents` parameters.
pub fn events_request(id: Option<&str>) -> (&'static str, Value) {
    let p = match id {
        Some(id) => json!({ "id": id }),
        None => json!({}),
    };
    ("io.podmon.Pod.WatchEvents", p)
}

/// The lines for one `WatchEvents` reply: `state <id> <status>` per
/// container of the first (snapshot) reply, then one line per event:
/// `<timestamp> <kind> <id> [exit=N] [signal=S] [oom] [exec=E] [dropped=N]`.
pub fn event_lines(reply: &Map<String, Value>) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(containers) = reply.get("containers").and_then(Value::as_array) {
        for c in containers {
            let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("?");
            lines.push(format!("state {} {}", s("id"), s("status")));
        }
    }
    if let Some(e) = reply.get("event").filter(|e| e.is_object()) {
        let s = |k: &str| e.get(k).and_then(Value::as_str);
        let mut line = format!(
            "{} {} {}",
            s("timestamp").unwrap_or("?"),
            s("kind").unwrap_or("?"),
            s("id").unwrap_or("?")
        );
        if let Some(code) = e.get("exitCode").and_then(Value::as_i64) {
            line.push_str(&format!(" exit={code}"));
        }
        if let Some(signal) = s("signal") {
            line.push_str(&format!(" signal={signal}"));
        }
        if e.get("oomKilled").and_then(Value::as_bool) == Some(true) {
            line.push_str(" oom");
        }
        if let Some(exec) = s("execId") {
            line.push_str(&format!(" exec={exec}"));
        }
        if let Some(n) = e.get("bytesDropped").and_then(Value::as_i64) {
            line.push_str(&format!(" dropped={n}"));
        }
        lines.push(line);
    }
    lines
}

/// Runs `podmon events` until interrupted (or until the monitor ends the
/// call).
pub fn run(id: Option<&str>, socket: &Path, json: bool) -> anyhow::Result<i32> {
    let describe = |err: ClientError| anyhow!(errors::describe(&err, socket));
    let (method, parameters) = events_request(id);
    let mut conn = Client::connect(socket).map_err(describe)?;
    conn.send(method, parameters, Mode::More)
        .map_err(describe)?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    loop {
        let step = conn.next_reply().map_err(describe)?;
        let mut text = String::new();
        if json {
            text.push_str(&output::json_line(&step.parameters));
            text.push('\n');
        } else {
            for line in event_lines(&step.parameters) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .context("cannot write output")?;
        if !step.continues {
            return Ok(0);
        }
    }
}

/// `1d 2h 3m 4s`, leading zero units left out.
pub fn format_uptime(seconds: f64) -> String {
    let total = if seconds.is_finite() && seconds > 0.0 {
        seconds as u64
    } else {
        0
    };
    let parts = [
        (total / 86400, "d"),
        (total % 86400 / 3600, "h"),
        (total % 3600 / 60, "m"),
        (total % 60, "s"),
    ];
    let first = parts.iter().position(|&(n, _)| n > 0).unwrap_or(3);
    parts[first..]
        .iter()
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `pod` block: `key: value` lines, keys aligned.
pub fn format_pod(r: &Map<String, Value>) -> String {
    let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
    let n = |v: Option<&Value>| v.and_then(Value::as_u64);
    let count = |k: &str| n(r.get(k)).unwrap_or(0);
    let monitor = r.get("monitor");
    let field = |k: &str| monitor.and_then(|m| m.get(k));
    let mut mon = vec![format!(
        "pid {}",
        n(field("pid")).map_or_else(|| "?".to_owned(), |p| p.to_string())
    )];
    if let Some(rss) = n(field("rssBytes")) {
        mon.push(format!("rss {}", human_bytes(rss)));
    }
    if let Some(fds) = n(field("openFds")) {
        mon.push(format!("{fds} open fds"));
    }
    let rows = [
        ("name", s("name")),
        ("version", s("version")),
        ("started", output::short_time(&s("startedAt"))),
        (
            "uptime",
            format_uptime(
                r.get("uptimeSeconds")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0),
            ),
        ),
        ("runtime", s("runtime")),
        (
            "containers",
            format!(
                "{} created, {} running, {} stopped",
                count("created"),
                count("running"),
                count("stopped")
            ),
        ),
        ("pod memory", human_bytes(count("memoryBytes"))),
        ("monitor", mon.join(", ")),
    ];
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    rows.iter()
        .map(|(k, v)| format!("{:<width$} {v}\n", format!("{k}:")))
        .collect()
}

/// What `set-log-limit` prints: the limit now in force, from the reply's
/// container.
pub fn format_log_limit(reply: &Map<String, Value>) -> String {
    let container = reply.get("container");
    let id = container
        .and_then(|c| c.get("id"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    let limit = container
        .and_then(|c| c.get("logRateLimit"))
        .filter(|l| l.is_object());
    match limit {
        None => format!("{id}: no log rate limit\n"),
        Some(l) => {
            let bytes = |k: &str| {
                l.get(k)
                    .and_then(Value::as_u64)
                    .map_or_else(|| "?".to_owned(), human_bytes)
            };
            let policy = l.get("policy").and_then(Value::as_str).unwrap_or("block");
            format!(
                "{id}: log rate limit {}/s, burst {}, {policy}\n",
                bytes("bytesPerSecond"),
                bytes("burst")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn snapshot_and_event_lines() {
        let snapshot = obj(json!({"containers": [
            {"id": "a", "status": "running"}, {"id": "b", "status": "stopped"}
        ]}));
        assert_eq!(
            event_lines(&snapshot),
            vec!["state a running", "state b stopped"]
        );
        let exited = obj(json!({"event": {
            "kind": "exited", "id": "a", "timestamp": "2024-05-01T10:00:00.5Z",
            "exitCode": 137, "signal": "SIGKILL", "oomKilled": true
        }}));
        assert_eq!(
            event_lines(&exited),
            vec!["2024-05-01T10:00:00.5Z exited a exit=137 signal=SIGKILL oom"]
        );
        let exec = obj(
            json!({"event": {"kind": "execExited", "id": "a", "timestamp": "t",
            "exitCode": 0, "oomKilled": false, "execId": "e1"}}),
        );
        assert_eq!(event_lines(&exec), vec!["t execExited a exit=0 exec=e1"]);
        let dropped = obj(
            json!({"event": {"kind": "logDropped", "id": "a", "timestamp": "t", "bytesDropped": 4096}}),
        );
        assert_eq!(event_lines(&dropped), vec!["t logDropped a dropped=4096"]);
        assert!(event_lines(&obj(json!({"containers": []}))).is_empty());
        assert_eq!(
            events_request(Some("a")),
            ("io.podmon.Pod.WatchEvents", json!({"id": "a"}))
        );
    }

    #[test]
    fn uptimes() {
        assert_eq!(format_uptime(0.4), "0s");
        assert_eq!(format_uptime(59.9), "59s");
        assert_eq!(format_uptime(3600.0), "1h 0m 0s");
        assert_eq!(format_uptime(90061.0), "1d 1h 1m 1s");
    }

    #[test]
    fn pod_block() {
        let reply = obj(json!({
            "name": "p", "version": "0.1.0", "startedAt": "2024-05-01T10:00:00.123Z",
            "uptimeSeconds": 75.5, "runtime": "/usr/sbin/runc", "created": 1, "running": 2,
            "stopped": 0, "memoryBytes": 3145728,
            "monitor": {"pid": 42, "rssBytes": 5242880, "openFds": 17}
        }));
        assert_eq!(
            format_pod(&reply),
            "name:       p\n\
             version:    0.1.0\n\
             started:    2024-05-01T10:00:00Z\n\
             uptime:     1m 15s\n\
             runtime:    /usr/sbin/runc\n\
             containers: 1 created, 2 running, 0 stopped\n\
             pod memory: 3.00MiB\n\
             monitor:    pid 42, rss 5.00MiB, 17 open fds\n"
        );
    }

    #[test]
    fn log_limit_lines() {
        let set = obj(json!({"container": {"id": "c",
            "logRateLimit": {"bytesPerSecond": 1048576, "burst": 4194304, "policy": "drop"}}}));
        assert_eq!(
            format_log_limit(&set),
            "c: log rate limit 1.00MiB/s, burst 4.00MiB, drop\n"
        );
        let off = obj(json!({"container": {"id": "c", "logRateLimit": null}}));
        assert_eq!(format_log_limit(&off), "c: no log rate limit\n");
    }
}
