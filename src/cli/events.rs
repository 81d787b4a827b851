//! `podmon events` and the one-shot pod commands' human output (`pod`,
//! `set-log-limit`).

use std::io::{self, Write};
use std::path::Path;

use super::failure::Failure;
use super::output;
use super::stats::human_bytes;
use crate::proto::{
    self, ContainerReply, EventDetail, GetPodReply, LogPolicy, WatchEventsReply, call,
};
use crate::varlink::client::{Client, ClientError, Mode};
use anyhow::Context;

/// The `WatchEvents` parameters.
pub fn events_request(id: Option<&str>, since: Option<u64>) -> proto::WatchEvents {
    proto::WatchEvents {
        id: id.map(str::to_owned),
        since,
    }
}

/// The lines for one `WatchEvents` reply: `state <id> <status>` per
/// container of the first (snapshot) reply, then one line per event:
/// `<seq> <timestamp> <kind> <id> [exit=N] [signal=S] [oom] [exec=E]
/// [dropped=N]` (the seq first, to pass to `--since` later).
pub fn event_lines(reply: &WatchEventsReply) -> Vec<String> {
    let mut lines = Vec::new();
    for c in reply.containers.iter().flatten() {
        lines.push(format!("state {} {}", c.id, c.status.as_str()));
    }
    if let Some(e) = &reply.event {
        let kind = serde_json::to_value(e.detail.kind()).unwrap_or_default();
        let mut line = format!(
            "{} {} {} {}",
            e.seq,
            e.timestamp,
            kind.as_str().unwrap_or("?"),
            e.id
        );
        let exit = |line: &mut String, code: Option<i32>, signal: &Option<String>| {
            match code {
                Some(code) => line.push_str(&format!(" exit={code}")),
                None => line.push_str(" exit=unknown"),
            }
            if let Some(signal) = signal {
                line.push_str(&format!(" signal={signal}"));
            }
        };
        match &e.detail {
            EventDetail::Exited {
                exit_code,
                signal,
                oom_killed,
            } => {
                exit(&mut line, *exit_code, signal);
                if *oom_killed {
                    line.push_str(" oom");
                }
            }
            EventDetail::ExecStarted { exec_id } => line.push_str(&format!(" exec={exec_id}")),
            EventDetail::ExecExited {
                exec_id,
                exit_code,
                signal,
            } => {
                exit(&mut line, Some(*exit_code), signal);
                line.push_str(&format!(" exec={exec_id}"));
            }
            EventDetail::LogDropped { bytes_dropped } => {
                line.push_str(&format!(" dropped={bytes_dropped}"));
            }
            EventDetail::Created
            | EventDetail::Started
            | EventDetail::Oom
            | EventDetail::Deleted => {}
        }
        lines.push(line);
    }
    lines
}

/// Runs `podmon events` until interrupted (or until the monitor ends the
/// call).
pub fn run(id: Option<&str>, since: Option<u64>, socket: &Path, json: bool) -> anyhow::Result<i32> {
    let describe = |err: ClientError| Failure::client(&err, socket);
    let mut conn = Client::connect(socket).map_err(describe)?;
    call::send(&mut conn, &events_request(id, since), Mode::More).map_err(describe)?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    loop {
        let (reply, continues) = call::next::<proto::WatchEvents>(&mut conn).map_err(describe)?;
        let mut text = String::new();
        if json {
            text.push_str(&output::json_line(&call::to_map(&reply)));
            text.push('\n');
        } else {
            for line in event_lines(&reply) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .context("cannot write output")?;
        if !continues {
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
pub fn format_pod(r: &GetPodReply) -> String {
    let mut mon = vec![format!("pid {}", r.monitor.pid)];
    if let Some(rss) = r.monitor.rss_bytes {
        mon.push(format!("rss {}", human_bytes(rss)));
    }
    if let Some(fds) = r.monitor.open_fds {
        mon.push(format!("{fds} open fds"));
    }
    let mut rows = vec![
        ("name", r.name.clone()),
        ("version", r.version.clone()),
        ("started", output::short_time(&r.started_at)),
        ("uptime", format_uptime(r.uptime_seconds)),
        ("runtime", r.runtime.clone()),
        (
            "containers",
            format!(
                "{} created, {} running, {} stopped",
                r.created, r.running, r.stopped
            ),
        ),
        ("pod memory", human_bytes(r.memory_bytes)),
        ("monitor", mon.join(", ")),
    ];
    if let Some(init) = &r.init {
        let rss = init.rss_bytes.map(|b| format!(", rss {}", human_bytes(b)));
        rows.push((
            "pod init",
            format!("pid {}{}", init.pid, rss.unwrap_or_default()),
        ));
    }
    for n in r.namespaces.iter().flatten() {
        let path = n.path.clone().unwrap_or_else(|| "host".into());
        rows.push(("namespace", format!("{} {path}", n.kind)));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    rows.iter()
        .map(|(k, v)| format!("{:<width$} {v}\n", format!("{k}:")))
        .collect()
}

/// What `set-log-limit` prints: the limit now in force, from the reply's
/// container.
pub fn format_log_limit(reply: &ContainerReply) -> String {
    let id = &reply.container.id;
    match &reply.container.log_rate_limit {
        None => format!("{id}: no log rate limit\n"),
        Some(l) => {
            let policy = match l.policy {
                Some(LogPolicy::Drop) => "drop",
                Some(LogPolicy::Block) | None => "block",
            };
            format!(
                "{id}: log rate limit {}/s, burst {}, {policy}\n",
                human_bytes(l.bytes_per_second),
                human_bytes(l.burst)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;
    use serde_json::{Value, json};

    /// A reply as the monitor sends it, read as the CLI reads it.
    fn obj<T: DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    /// A container record with only `fields` differing from a fresh one.
    fn info(fields: Value) -> Value {
        let mut c = json!({"id": "c", "status": "created", "bundle": "/b",
            "logBytesWritten": 0, "logBytesDropped": 0, "oomKilled": false,
            "createdAt": "t", "terminal": false});
        for (k, v) in fields.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    #[test]
    fn snapshot_and_event_lines() {
        let snapshot = obj(json!({"containers": [
            info(json!({"id": "a", "status": "running"})),
            info(json!({"id": "b", "status": "stopped"}))
        ]}));
        assert_eq!(
            event_lines(&snapshot),
            vec!["state a running", "state b stopped"]
        );
        let exited = obj(json!({"event": {
            "seq": 7, "kind": "exited", "id": "a", "timestamp": "2024-05-01T10:00:00.5Z",
            "exitCode": 137, "signal": "SIGKILL", "oomKilled": true
        }}));
        assert_eq!(
            event_lines(&exited),
            vec!["7 2024-05-01T10:00:00.5Z exited a exit=137 signal=SIGKILL oom"]
        );
        let exec = obj(
            json!({"event": {"seq": 8, "kind": "execExited", "id": "a", "timestamp": "t",
            "exitCode": 0, "oomKilled": false, "execId": "e1"}}),
        );
        assert_eq!(event_lines(&exec), vec!["8 t execExited a exit=0 exec=e1"]);
        let dropped = obj(
            json!({"event": {"seq": 9, "kind": "logDropped", "id": "a", "timestamp": "t", "bytesDropped": 4096}}),
        );
        assert_eq!(event_lines(&dropped), vec!["9 t logDropped a dropped=4096"]);
        assert!(event_lines(&obj(json!({"containers": []}))).is_empty());
        assert_eq!(
            call::wire(&events_request(Some("a"), None)),
            ("io.podmon.Pod.WatchEvents", json!({"id": "a"}))
        );
        assert_eq!(
            call::wire(&events_request(None, Some(41))),
            ("io.podmon.Pod.WatchEvents", json!({"since": 41}))
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
        let set = obj(json!({"container": info(json!({"id": "c",
            "logRateLimit": {"bytesPerSecond": 1048576, "burst": 4194304, "policy": "drop"}}))}));
        assert_eq!(
            format_log_limit(&set),
            "c: log rate limit 1.00MiB/s, burst 4.00MiB, drop\n"
        );
        let off = obj(json!({"container": info(json!({"id": "c", "logRateLimit": null}))}));
        assert_eq!(format_log_limit(&off), "c: no log rate limit\n");
    }
}
