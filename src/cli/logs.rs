//! `podmon logs`: log records back as the container wrote them, and
//! `--since` in the forms people type (RFC 3339 or "10m").

use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::LogsArgs;
use super::failure::Failure;
use super::output;
use crate::proto::{self, call};
use crate::sys::time::rfc3339_nanos;
use crate::varlink::client::{Client, ClientError, Mode};
use anyhow::{Context, anyhow};

/// The `ReadLogs` parameters; `now` anchors a relative `--since`.
pub fn logs_request(args: &LogsArgs, now: SystemTime) -> anyhow::Result<proto::ReadLogs> {
    Ok(proto::ReadLogs {
        id: args.id.clone(),
        tail: args.tail.map(|n| n.min(i64::MAX as u64) as i64),
        since: args
            .since
            .as_deref()
            .map(|since| since_time(since, now))
            .transpose()?,
        follow: args.follow.then_some(true),
    })
}

/// Turns `--since` into RFC 3339: a time is passed on as given; a duration
/// (`10s`, `5m`, `2h`, `1d`, combined as in `1h30m`, fractions as in `1.5h`)
/// means that long before `now`.
pub fn since_time(text: &str, now: SystemTime) -> anyhow::Result<String> {
    if crate::sys::time::parse_rfc3339(text).is_some() {
        return Ok(text.to_owned());
    }
    let ago = parse_duration(text).ok_or_else(|| {
        anyhow!(
            "expected an RFC 3339 time (2024-05-01T10:00:00Z) \
             or a duration such as 10s, 5m, 2h, 1h30m"
        )
    })?;
    let then = now.checked_sub(ago).unwrap_or(UNIX_EPOCH);
    Ok(rfc3339_nanos(then))
}

/// Parses `90s`, `5m`, `2h`, `1d`, `1h30m`, `1.5h`, `250ms`; every number
/// needs a unit.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(split);
        let number: f64 = number.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return None,
        };
        total += number * seconds;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// One record of a `ReadLogs` reply.
pub type Record = proto::LogRecord;

/// Rebuilds the lines of both streams from records. Partial records are
/// joined per stream, and with timestamps only a line's first record gives
/// its prefix, so the output matches what the container wrote.
#[derive(Debug, Default)]
pub struct LogPrinter {
    timestamps: bool,
    /// Whether stdout / stderr is in the middle of a line.
    mid_line: [bool; 2],
}

impl LogPrinter {
    /// A printer; `timestamps` prefixes each line with its time.
    pub fn new(timestamps: bool) -> Self {
        LogPrinter {
            timestamps,
            mid_line: [false; 2],
        }
    }

    /// Writes one record to `out` (stdout records) or `err` (stderr).
    pub fn print(
        &mut self,
        r: &Record,
        out: &mut impl Write,
        err: &mut impl Write,
    ) -> io::Result<()> {
        let (w, i): (&mut dyn Write, usize) = if r.stream == "stderr" {
            (err, 1)
        } else {
            (out, 0)
        };
        if self.timestamps && !self.mid_line[i] {
            write!(w, "{} ", r.timestamp)?;
        }
        w.write_all(r.text.as_bytes())?;
        if !r.partial {
            w.write_all(b"\n")?;
        }
        self.mid_line[i] = r.partial;
        Ok(())
    }
}

/// Runs `podmon logs`. With `json`: one `{"records": [...]}` document
/// with every record, or with `--follow` one such line per reply that has
/// records (as they arrive).
pub fn run(args: &LogsArgs, socket: &Path, json: bool) -> anyhow::Result<i32> {
    let req = logs_request(args, SystemTime::now())?;
    let describe = |err: ClientError| Failure::client(&err, socket);
    let mut conn = Client::connect(socket).map_err(describe)?;
    call::send(&mut conn, &req, Mode::More).map_err(describe)?;
    let stdout = io::stdout();
    let stderr = io::stderr();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut err = io::BufWriter::new(stderr.lock());
    let mut printer = LogPrinter::new(args.timestamps);
    let mut all = Vec::new();
    loop {
        let (mut reply, continues) = call::next::<proto::ReadLogs>(&mut conn).map_err(describe)?;
        if json && !args.follow {
            all.append(&mut reply.records);
            if continues {
                continue;
            }
            let doc = proto::ReadLogsReply { records: all };
            writeln!(out, "{}", output::json_line(&call::to_map(&doc)))
                .and_then(|()| out.flush())
                .context("cannot write output")?;
            return Ok(0);
        } else if json {
            // The last reply of a follow has no records: it only ends it.
            if !reply.records.is_empty() {
                writeln!(out, "{}", output::json_line(&call::to_map(&reply)))
                    .context("cannot write output")?;
            }
        } else {
            let mut last_stream: Option<&str> = None;
            for r in &reply.records {
                // Where stdout and stderr end up in one place (a terminal,
                // `2>&1`), the records keep their order: switching streams
                // flushes the other one first.
                if last_stream.is_some_and(|s| s != r.stream) {
                    out.flush().context("cannot write output")?;
                    err.flush().context("cannot write output")?;
                }
                last_stream = Some(&r.stream);
                printer
                    .print(r, &mut out, &mut err)
                    .context("cannot write output")?;
            }
        }
        out.flush().context("cannot write output")?;
        err.flush().context("cannot write output")?;
        if !continues {
            break;
        }
    }
    if printer.mid_line.iter().any(|&m| m) {
        // The log ended inside a line; end ours so the prompt is not glued
        // to it (the container's own bytes are all printed already).
        if printer.mid_line[0] {
            writeln!(out).context("cannot write output")?;
        }
        if printer.mid_line[1] {
            writeln!(err).context("cannot write output")?;
        }
        out.flush().context("cannot write output")?;
        err.flush().context("cannot write output")?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Some(Duration::from_secs(86400)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        for bad in ["", "10", "s", "10x", "-5m", "1..5h", "5 m", "m5"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn since_relative_and_absolute() {
        let now = UNIX_EPOCH + Duration::from_secs(1_714_557_600); // 2024-05-01T10:00:00Z
        assert_eq!(
            since_time("10m", now).unwrap(),
            "2024-05-01T09:50:00.000000000Z"
        );
        assert_eq!(
            since_time("2h", now).unwrap(),
            "2024-05-01T08:00:00.000000000Z"
        );
        assert_eq!(
            since_time("2024-04-30T01:02:03+02:00", now).unwrap(),
            "2024-04-30T01:02:03+02:00"
        );
        assert!(since_time("yesterday", now).is_err());
        assert!(since_time("5", now).is_err());
    }

    #[test]
    fn logs_requests() {
        let now = UNIX_EPOCH + Duration::from_secs(60);
        let args = LogsArgs {
            id: "c".into(),
            follow: true,
            tail: Some(5),
            since: Some("1m".into()),
            timestamps: true,
        };
        assert_eq!(
            call::wire(&logs_request(&args, now).unwrap()),
            (
                "io.podmon.Pod.ReadLogs",
                json!({"id": "c", "tail": 5, "since": "1970-01-01T00:00:00.000000000Z", "follow": true})
            )
        );
    }

    fn rec(ts: &str, stream: &str, partial: bool, text: &str) -> Record {
        Record {
            timestamp: ts.into(),
            stream: stream.into(),
            partial,
            text: text.into(),
        }
    }

    #[test]
    fn partial_records_join_per_stream() {
        for timestamps in [false, true] {
            let mut p = LogPrinter::new(timestamps);
            let (mut out, mut err) = (Vec::new(), Vec::new());
            for r in [
                rec("t1", "stdout", true, "hel"),
                rec("t2", "stderr", false, "oops"),
                rec("t3", "stdout", false, "lo"),
                rec("t4", "stdout", false, ""),
            ] {
                p.print(&r, &mut out, &mut err).unwrap();
            }
            let (out, err) = (
                String::from_utf8(out).unwrap(),
                String::from_utf8(err).unwrap(),
            );
            if timestamps {
                assert_eq!(out, "t1 hello\nt4 \n");
                assert_eq!(err, "t2 oops\n");
            } else {
                assert_eq!(out, "hello\n\n");
                assert_eq!(err, "oops\n");
            }
        }
    }
}
