//! `podmon stats`: a `podman stats`-like table, with CPU % from the change
//! of cgroup CPU time between two samples.

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use serde::Deserialize;

use super::failure::Failure;
use super::output;
use crate::proto::{self, call};
use crate::varlink::client::{Client, ClientError};

/// Time between the two samples of a one-shot `stats`.
pub const SAMPLE_GAP: Duration = Duration::from_secs(1);
/// Refresh period of `stats --watch`.
pub const WATCH_PERIOD: Duration = Duration::from_secs(2);

/// The numbers of one `ContainerStats` the table shows; lenient like
/// [`output::ContainerView`], every number optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Sample {
    /// Container id.
    pub id: String,
    /// When the monitor read the numbers, RFC 3339.
    pub timestamp: String,
    /// CPU time.
    pub cpu: CpuSample,
    /// Memory.
    pub memory: LimitSample,
    /// Processes.
    pub pids: LimitSample,
    /// Block I/O.
    pub block_io: IoSample,
    /// Logging.
    pub log: LogSample,
}

/// `CpuStats`, the part the table needs.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CpuSample {
    /// Total CPU time in nanoseconds.
    pub usage_ns: Option<u64>,
}

/// A current value and its limit (memory, pids).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LimitSample {
    /// Now.
    pub current: Option<u64>,
    /// The limit; absent when unlimited.
    pub limit: Option<u64>,
}

/// `BlockIoStats`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct IoSample {
    /// Bytes read.
    pub read_bytes: Option<u64>,
    /// Bytes written.
    pub write_bytes: Option<u64>,
}

/// `LogStats`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LogSample {
    /// Bytes of log records written.
    pub bytes_written: u64,
    /// Bytes dropped by a rate limit.
    pub bytes_dropped: u64,
}

impl Sample {
    /// The numbers of a `ContainerStats` record.
    pub fn from_stats(s: &proto::ContainerStats) -> Sample {
        Sample {
            id: s.id.clone(),
            timestamp: s.timestamp.clone(),
            cpu: CpuSample {
                usage_ns: s.cpu.usage_ns,
            },
            memory: LimitSample {
                current: s.memory.current,
                limit: s.memory.limit,
            },
            pids: LimitSample {
                current: s.pids.current,
                limit: s.pids.limit,
            },
            block_io: IoSample {
                read_bytes: s.block_io.read_bytes,
                write_bytes: s.block_io.write_bytes,
            },
            log: LogSample {
                bytes_written: s.log.bytes_written,
                bytes_dropped: s.log.bytes_dropped,
            },
        }
    }

    fn time(&self) -> Option<SystemTime> {
        crate::sys::time::parse_rfc3339(&self.timestamp)
    }
}

/// CPU use between two samples of one container in percent of one CPU
/// (so 250% means two and a half CPUs busy), as `podman stats` shows it.
/// The monitor's timestamps give the interval; `fallback` (measured here)
/// is used when they are missing. `None` when it cannot be computed.
pub fn cpu_percent(prev: &Sample, cur: &Sample, fallback: Duration) -> Option<f64> {
    let used = cur.cpu.usage_ns?.checked_sub(prev.cpu.usage_ns?)?;
    let wall = match (prev.time(), cur.time()) {
        (Some(a), Some(b)) => b.duration_since(a).ok()?,
        _ => fallback,
    };
    let wall_ns = wall.as_nanos();
    (wall_ns > 0).then(|| used as f64 * 100.0 / wall_ns as f64)
}

/// Bytes in binary units with three significant digits: `512B`,
/// `1.50KiB`, `12.3MiB`, `128GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = if value < 10.0 {
        format!("{value:.2}")
    } else if value < 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    };
    format!("{text}{}", UNITS[unit])
}

fn opt_bytes(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "--".to_owned(), human_bytes)
}

/// One table row per container: ID, CPU %, MEM USAGE / LIMIT, MEM %, PIDS,
/// BLOCK I/O (read / written), LOG (written / dropped). `cpu` holds each
/// row's CPU % when known.
pub fn format_table(rows: &[(Sample, Option<f64>)]) -> String {
    let header = [
        "ID",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "PIDS",
        "BLOCK I/O",
        "LOG / DROPPED",
    ]
    .map(str::to_owned);
    let mut table = vec![header];
    for (s, cpu) in rows {
        let mem = &s.memory;
        let mem_pct = match (mem.current, mem.limit) {
            (Some(cur), Some(limit)) if limit > 0 => {
                format!("{:.2}%", cur as f64 * 100.0 / limit as f64)
            }
            _ => "--".to_owned(),
        };
        let limit = mem
            .limit
            .map_or_else(|| "unlimited".to_owned(), human_bytes);
        let pids = format!(
            "{} / {}",
            s.pids
                .current
                .map_or_else(|| "--".to_owned(), |n| n.to_string()),
            s.pids
                .limit
                .map_or_else(|| "unlimited".to_owned(), |n| n.to_string())
        );
        table.push([
            s.id.clone(),
            cpu.map_or_else(|| "--".to_owned(), |p| format!("{p:.2}%")),
            format!("{} / {limit}", opt_bytes(mem.current)),
            mem_pct,
            pids,
            format!(
                "{} / {}",
                opt_bytes(s.block_io.read_bytes),
                opt_bytes(s.block_io.write_bytes)
            ),
            format!(
                "{} / {}",
                human_bytes(s.log.bytes_written),
                human_bytes(s.log.bytes_dropped)
            ),
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &table {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(&format!("{cell:<width$}   ", width = widths[i]));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Pairs each current sample with its CPU % against the previous round.
pub fn with_cpu(
    prev: &[Sample],
    cur: Vec<Sample>,
    fallback: Duration,
) -> Vec<(Sample, Option<f64>)> {
    cur.into_iter()
        .map(|s| {
            let cpu = prev
                .iter()
                .find(|p| p.id == s.id)
                .and_then(|p| cpu_percent(p, &s, fallback));
            (s, cpu)
        })
        .collect()
}

/// One round of `Stats`: the reply (for `--json`) and the samples in it.
type Round = (proto::StatsReply, Vec<Sample>);

/// One `Stats` call without `more`: one container's (`stats`), or every
/// container's in one reply (`containers`, and then no `stats`, which
/// would only repeat the single container of a one-container pod).
fn sample(client: &mut Client, id: Option<&str>) -> Result<Round, ClientError> {
    let req = proto::Stats {
        id: id.map(str::to_owned),
    };
    let mut reply = call::call(client, &req)?;
    if reply.containers.is_some() {
        reply.stats = None;
    }
    let samples = reply
        .stats
        .iter()
        .chain(reply.containers.iter().flatten())
        .map(Sample::from_stats)
        .collect();
    Ok((reply, samples))
}

/// Runs `podmon stats`. With `json`: the `Stats` reply as one document
/// (at once, without the second sample the CPU % needs), and with `watch`
/// one such line per round.
pub fn run(id: Option<&str>, watch: bool, socket: &Path, json: bool) -> anyhow::Result<i32> {
    let describe = |err: ClientError| Failure::client(&err, socket);
    let mut client = Client::connect(socket).map_err(describe)?;
    let stdout = io::stdout();
    let clear = watch && stdout.is_terminal();
    let mut out = stdout.lock();
    let (reply, mut prev) = sample(&mut client, id).map_err(describe)?;
    let mut prev_at = Instant::now();
    if json {
        print_json(&mut out, &reply)?;
        if !watch {
            return Ok(0);
        }
    }
    let mut gap = SAMPLE_GAP;
    loop {
        thread::sleep(gap);
        let (reply, cur) = sample(&mut client, id).map_err(describe)?;
        let elapsed = prev_at.elapsed();
        prev_at = Instant::now();
        if json {
            print_json(&mut out, &reply)?;
        } else {
            let rows = with_cpu(&prev, cur.clone(), elapsed);
            let mut text = String::new();
            if clear {
                text.push_str("\x1b[H\x1b[2J");
            }
            text.push_str(&format_table(&rows));
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .context("cannot write output")?;
        }
        if !watch {
            return Ok(0);
        }
        prev = cur;
        gap = WATCH_PERIOD;
    }
}

fn print_json(out: &mut impl Write, reply: &proto::StatsReply) -> anyhow::Result<()> {
    writeln!(out, "{}", output::json_line(&call::to_map(reply)))
        .and_then(|()| out.flush())
        .context("cannot write output")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn sample_at(id: &str, ts: &str, usage: Option<u64>) -> Sample {
        Sample {
            id: id.into(),
            timestamp: ts.into(),
            cpu: CpuSample { usage_ns: usage },
            ..Sample::default()
        }
    }

    #[test]
    fn cpu_from_usage_deltas() {
        let a = sample_at("c", "2024-05-01T10:00:00.000000000Z", Some(1_000_000_000));
        let b = sample_at("c", "2024-05-01T10:00:02.000000000Z", Some(1_500_000_000));
        let pct = cpu_percent(&a, &b, Duration::from_secs(9)).unwrap();
        assert!((pct - 25.0).abs() < 1e-9, "{pct}");
        // Two busy CPUs over one second.
        let c = sample_at("c", "2024-05-01T10:00:03.000000000Z", Some(3_500_000_000));
        assert!((cpu_percent(&b, &c, Duration::ZERO).unwrap() - 200.0).abs() < 1e-9);
        // Without timestamps the locally measured gap is used.
        let (x, y) = (
            sample_at("c", "", Some(0)),
            sample_at("c", "", Some(100_000_000)),
        );
        assert!((cpu_percent(&x, &y, Duration::from_secs(1)).unwrap() - 10.0).abs() < 1e-9);
        assert_eq!(cpu_percent(&x, &y, Duration::ZERO), None);
        // Unknown or going backwards (a restarted cgroup): no number.
        assert_eq!(
            cpu_percent(&a, &sample_at("c", "", None), Duration::from_secs(1)),
            None
        );
        assert_eq!(cpu_percent(&b, &a, Duration::from_secs(1)), None);
        let rows = with_cpu(
            std::slice::from_ref(&a),
            vec![b.clone(), sample_at("new", "", Some(5))],
            Duration::from_secs(1),
        );
        assert!((rows[0].1.unwrap() - 25.0).abs() < 1e-9);
        assert_eq!(rows[1].1, None);
    }

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(1023), "1023B");
        assert_eq!(human_bytes(1536), "1.50KiB");
        assert_eq!(human_bytes(12 * 1024 * 1024 + 300 * 1024), "12.3MiB");
        assert_eq!(human_bytes(64 << 20), "64.0MiB");
        assert_eq!(human_bytes(128 << 30), "128GiB");
    }

    #[test]
    fn table() {
        let Value::Object(reply) = json!({"stats": {
            "id": "web", "timestamp": "t", "cgroupVersion": 2,
            "cpu": {"usageNs": 5},
            "memory": {"current": 1048576, "limit": 67108864},
            "pids": {"current": 3, "limit": 10},
            "blockIo": {"readBytes": 0, "writeBytes": 4096},
            "log": {"bytesWritten": 2048, "bytesDropped": 0}
        }, "monitor": {"pid": 1}}) else {
            unreachable!()
        };
        let stats = serde_json::from_value(reply["stats"].clone()).unwrap();
        let web = Sample::from_stats(&stats);
        let bare = Sample {
            id: "batch".into(),
            ..Sample::default()
        };
        assert_eq!(
            format_table(&[(web, Some(12.345)), (bare, None)]),
            "ID      CPU %    MEM USAGE / LIMIT   MEM %   PIDS             BLOCK I/O      LOG / DROPPED\n\
             web     12.35%   1.00MiB / 64.0MiB   1.56%   3 / 10           0B / 4.00KiB   2.00KiB / 0B\n\
             batch   --       -- / unlimited      --      -- / unlimited   -- / --        0B / 0B\n"
        );
    }
}
