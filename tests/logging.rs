//! The logging pipeline end to end, against a real `podmon serve` and runc:
//! byte-exact CRI logs for large mixed output, rate limits (block and drop,
//! changed at run time), rotation under load, ReopenLog, ReadLogs (follow,
//! tail, since), a full disk, and a flooding container next to a quiet one.
//!
//! Every test has its own pod. Tests that load the CPU (or whose timing a
//! loaded CPU would distort) take `HEAVY`, so that on a small machine they do
//! not run at the same time as each other.

mod common;

use common::*;
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Serializes the CPU-heavy and timing-sensitive tests of this file.
static HEAVY: Mutex<()> = Mutex::new(());

fn heavy() -> MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

/// The longest record content podmon writes by default (logMaxLine).
const MAX_LINE: usize = 16384;

/// One CRI record, with its content as raw bytes.
#[derive(Debug, Clone)]
struct Rec {
    ts: String,
    stream: String,
    partial: bool,
    content: Vec<u8>,
}

impl Rec {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.content).into_owned()
    }
    /// A "podmon: dropped N bytes" marker: Some(N).
    fn dropped_marker(&self) -> Option<u64> {
        let t = std::str::from_utf8(&self.content).ok()?;
        let rest = t.strip_prefix("podmon: dropped ")?;
        let n = rest.split(' ').next()?;
        assert!(
            rest[n.len()..].starts_with(" bytes"),
            "marker record without ' bytes' after the count: {t:?}"
        );
        Some(
            n.parse()
                .unwrap_or_else(|_| panic!("marker with a bad count: {t:?}")),
        )
    }
}

/// Calls `f(line_no, ts, stream, partial, content)` for every record of a CRI
/// log, checking each strictly (panics on anything malformed). With
/// `allow_torn_tail`, an incomplete last line (a write in progress) is
/// ignored; otherwise the log must end with '\n'.
fn for_each_record(
    log: &[u8],
    allow_torn_tail: bool,
    mut f: impl FnMut(usize, &str, &str, bool, &[u8]),
) {
    let mut start = 0;
    let mut line_no = 0;
    let mut last_ts: Vec<u8> = Vec::new();
    while start < log.len() {
        let Some(nl) = memchr::memchr(b'\n', &log[start..]) else {
            assert!(
                allow_torn_tail,
                "log does not end with a newline; last bytes: {:?}",
                String::from_utf8_lossy(&log[start..log.len().min(start + 200)])
            );
            return;
        };
        let line = &log[start..start + nl];
        line_no += 1;
        let show = || {
            format!(
                "record {line_no} at byte {start}: {:?}",
                String::from_utf8_lossy(&line[..line.len().min(200)])
            )
        };
        assert!(line.len() >= 40, "record too short: {}", show());
        let ts = &line[..30];
        // Records of one chunk share their timestamp: check each new one once.
        if ts != &last_ts[..] {
            let s = std::str::from_utf8(ts).unwrap_or("");
            assert!(is_rfc3339_nano_utc(s), "bad timestamp in {}", show());
            assert!(
                last_ts.is_empty() || ts > &last_ts[..],
                "timestamp goes backwards ({:?} before) in {}",
                String::from_utf8_lossy(&last_ts),
                show()
            );
            last_ts = ts.to_vec();
        }
        assert_eq!(line[30], b' ', "no space after the timestamp: {}", show());
        let stream = match &line[31..37] {
            b"stdout" => "stdout",
            b"stderr" => "stderr",
            _ => panic!("bad stream in {}", show()),
        };
        assert_eq!(line[37], b' ', "no space after the stream: {}", show());
        let partial = match line[38] {
            b'P' => true,
            b'F' => false,
            _ => panic!("bad tag in {}", show()),
        };
        assert_eq!(line[39], b' ', "no space after the tag: {}", show());
        let content = &line[40..];
        // The timestamp was checked above to be ASCII (RFC 3339).
        f(
            line_no,
            std::str::from_utf8(ts).unwrap(),
            stream,
            partial,
            content,
        );
        start += nl + 1;
    }
}

fn parse(log: &[u8]) -> Vec<Rec> {
    let mut out = Vec::new();
    for_each_record(log, false, |_, ts, stream, partial, content| {
        out.push(Rec {
            ts: ts.to_string(),
            stream: stream.to_string(),
            partial,
            content: content.to_vec(),
        })
    });
    out
}

/// The bytes a stream carried: contents, plus '\n' after each F record.
fn rebuild<'a>(recs: impl IntoIterator<Item = &'a Rec>, stream: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for r in recs.into_iter().filter(|r| r.stream == stream) {
        out.extend_from_slice(&r.content);
        if !r.partial {
            out.push(b'\n');
        }
    }
    out
}

fn read_bytes(p: &Path) -> Vec<u8> {
    fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// Timestamp as seconds since the epoch, as f64.
fn ts_secs(ts: &str) -> f64 {
    let (s, ns) = rfc3339_to_unix(ts);
    s as f64 + f64::from(ns) / 1e9
}

/// Checks that every line of `data` is `"{prefix}{i:08}{suffix}"` for some i
/// and returns the numbers i in file order. `data` must end with '\n'.
fn check_numbered(data: &[u8], prefix: &str, suffix: &str, what: &str) -> Vec<u64> {
    assert!(
        data.is_empty() || data.ends_with(b"\n"),
        "{what}: output does not end with a newline"
    );
    let text = String::from_utf8_lossy(data);
    let mut nums = Vec::new();
    for (k, line) in text.lines().enumerate() {
        let n = line
            .strip_prefix(prefix)
            .and_then(|r| r.get(..8))
            .and_then(|d| d.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{what}: line {k} is not a numbered line: {line:?}"));
        let want = format!("{prefix}{n:08}{suffix}");
        assert!(line == want, "{what}: line {k} is {line:?}, want {want:?}");
        nums.push(n);
    }
    nums
}

/// Asserts `nums` is exactly `1..=n`.
#[track_caller]
fn assert_sequence(nums: &[u64], n: u64, what: &str) {
    for (k, &x) in nums.iter().enumerate() {
        assert_eq!(
            x,
            k as u64 + 1,
            "{what}: line {} is number {x} (lost, duplicated or reordered lines); {} lines in all",
            k,
            nums.len()
        );
    }
    assert_eq!(nums.len() as u64, n, "{what}: wrong number of lines");
}

/// awk script printing `"{prefix}{i:08}{suffix}\n"` for i in 1..=n.
fn numbered_awk(n: u64, prefix: &str, suffix: &str) -> String {
    format!("awk 'BEGIN {{ for (i = 1; i <= {n}; i++) printf \"{prefix}%08d{suffix}\\n\", i }}'")
}

/// A copy of the shared busybox rootfs under `dir`, which the test may change.
fn copy_rootfs(dir: &Path) -> PathBuf {
    let dst = dir.join("rootfs-copy");
    let out = Command::new("cp")
        .arg("-a")
        .arg(rootfs())
        .arg(&dst)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cp -a rootfs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dst
}

/// GetContainer, timed.
fn timed_get(pod: &Pod, id: &str) -> (Value, Duration) {
    let t = Instant::now();
    let c = pod.get(id);
    (c, t.elapsed())
}

fn limit(rate: u64, burst: u64, policy: &str) -> Value {
    json!({ "bytesPerSecond": rate, "burst": burst, "policy": policy })
}

/// Sum of content bytes (plus the newline of F records) of complete records
/// of `stream` in the log file now.
fn content_bytes_now(path: &Path, stream: &str) -> u64 {
    let log = fs::read(path).unwrap_or_default();
    let mut n = 0u64;
    for_each_record(&log, true, |_, _, s, partial, c| {
        if s == stream {
            n += c.len() as u64 + u64::from(!partial);
        }
    });
    n
}

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn printable(&mut self, out: &mut Vec<u8>, len: usize) {
        const ALPHA: &[u8] =
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_/\t";
        let start = out.len();
        out.resize(start + len, 0);
        let mut x = 0u64;
        for (i, b) in out[start..].iter_mut().enumerate() {
            if i % 8 == 0 {
                x = self.next();
            }
            *b = ALPHA[(x & 0x7f) as usize % ALPHA.len()];
            x >>= 8;
        }
    }
    fn binary(&mut self, out: &mut Vec<u8>, len: usize) {
        let start = out.len();
        out.resize(start + len, 0);
        let mut x = 0u64;
        for (i, b) in out[start..].iter_mut().enumerate() {
            if i % 8 == 0 {
                x = self.next();
            }
            *b = x as u8;
            x >>= 8;
        }
    }
}

/// A deterministic mix of about `size` bytes: many short lines, empty lines,
/// binary blobs (NULs, invalid UTF-8, stray '\r' and '\n'), lines around and
/// far beyond the 16 KiB record limit, and a last line without a newline.
fn mixed_stream(seed: u64, size: usize) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    let mut out = Vec::with_capacity(size + 300_000);
    let mut n = 0u64;
    // The edge cases first, so even a small stream has them.
    for len in [
        MAX_LINE - 1,
        MAX_LINE,
        MAX_LINE + 1,
        2 * MAX_LINE,
        2 * MAX_LINE + 1,
    ] {
        r.printable(&mut out, len);
        out.push(b'\n');
    }
    out.extend_from_slice(
        b"\0\0nul\0\n\xff\xfe\xc3\x28 invalid utf-8 \xed\xa0\x80 \xf4\x90\x80\x80\n\r\n\n",
    );
    while out.len() < size {
        n += 1;
        // By count mostly short lines; by bytes a good share of binary
        // blobs and of lines longer than a record.
        match r.below(100_000) {
            0..=79_999 => {
                out.extend_from_slice(format!("line {n} ").as_bytes());
                let len = r.below(100) as usize;
                r.printable(&mut out, len);
                out.push(b'\n');
            }
            80_000..=94_889 => out.push(b'\n'),
            94_890..=99_889 => {
                let len = 1 + r.below(1024) as usize;
                r.binary(&mut out, len);
                if r.below(2) == 0 {
                    out.push(b'\n');
                }
            }
            99_890..=99_994 => {
                let len = MAX_LINE - 64 + r.below(4 * MAX_LINE as u64) as usize;
                r.printable(&mut out, len);
                out.push(b'\n');
            }
            _ => {
                // A line of 100 KB to 1 MB: many P records, then one F.
                let len = 100_000 + r.below(950_000) as usize;
                r.printable(&mut out, len);
                out.push(b'\n');
            }
        }
    }
    out.extend_from_slice(b"the last line has no newline \xff\x00 end");
    out
}

/// First index where `a` and `b` differ, with some context, for messages.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let i = a
        .iter()
        .zip(b.iter())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let ctx = |v: &[u8]| {
        let s = i.saturating_sub(40);
        let e = (i + 40).min(v.len());
        format!("{:?}", String::from_utf8_lossy(&v[s..e]))
    };
    format!(
        "lengths {} vs {}; first difference at byte {i}: got {} want {}",
        a.len(),
        b.len(),
        ctx(a),
        ctx(b)
    )
}

/// A tmpfs mounted over a directory for one test; unmounted (lazily, since
/// podmon may still hold a file open there) when dropped, also on failure.
struct TmpfsMount {
    dir: PathBuf,
}

impl TmpfsMount {
    fn mount(dir: &Path, size: &str) -> TmpfsMount {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a tmpfs on {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        TmpfsMount {
            dir: dir.to_owned(),
        }
    }

    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "remounting {} failed: {}",
            self.dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).output();
    }
}

// ---------------------------------------------------------------------------
// 1. Byte-exact reconstruction
// ---------------------------------------------------------------------------

/// The spec's size, 128 MiB. Measured on the test machine (2 shared cores,
/// debug builds of podmon and of this test): about 15 s for this test alone
/// (generating 4.7 s, start..WaitContainer 2.7 s, checking 3.2 s; ~900000
/// records).
const EXACT_SIZE: usize = 128 << 20;

#[test]
fn byte_exact_reconstruction_of_mixed_output() {
    let _h = heavy();
    let pod = Pod::start("lg-exact");
    let t0 = Instant::now();
    let out_data = mixed_stream(0x5eed_0001, EXACT_SIZE);
    let err_data = mixed_stream(0x5eed_0002, 1 << 20);
    let root = copy_rootfs(&pod.dir);
    fs::write(root.join("out.bin"), &out_data).unwrap();
    fs::write(root.join("err.bin"), &err_data).unwrap();
    let gen_time = t0.elapsed();

    pod.create_with(
        "x",
        &["sh", "-c", "cat /out.bin & cat /err.bin >&2; wait"],
        json!({ "rootfs": root.display().to_string() }),
    );
    let t1 = Instant::now();
    pod.start_container("x");
    let w = pod.wait("x");
    let run_time = t1.elapsed();
    assert_eq!(w["exitCode"], json!(0), "{w}");

    let t2 = Instant::now();
    let log = read_bytes(&pod.log_path("x"));
    assert_eq!(
        w["container"]["logBytesWritten"],
        json!(log.len()),
        "logBytesWritten differs from the log file's size"
    );
    let mut out = Vec::with_capacity(out_data.len() + 1);
    let mut err = Vec::with_capacity(err_data.len() + 1);
    let (mut records, mut partials, mut longest) = (0usize, 0usize, 0usize);
    let (mut first_ts, mut last_ts) = (String::new(), String::new());
    for_each_record(&log, false, |_, ts, stream, partial, content| {
        records += 1;
        partials += usize::from(partial);
        longest = longest.max(content.len());
        if first_ts.is_empty() {
            first_ts = ts.to_string();
        }
        if last_ts.as_str() != ts {
            last_ts = ts.to_string();
        }
        let dst = if stream == "stdout" {
            &mut out
        } else {
            &mut err
        };
        dst.extend_from_slice(content);
        if !partial {
            dst.push(b'\n');
        }
    });
    assert!(
        longest <= MAX_LINE,
        "a record holds {longest} bytes, more than {MAX_LINE}"
    );
    for ts in [&first_ts, &last_ts] {
        let (s, _) = rfc3339_to_unix(ts);
        assert!((s - unix_now()).abs() < 300, "timestamp {ts} not near now");
    }
    assert!(
        out == out_data,
        "stdout differs: {}",
        first_difference(&out, &out_data)
    );
    assert!(
        err == err_data,
        "stderr differs: {}",
        first_difference(&err, &err_data)
    );
    eprintln!(
        "byte-exact: {} MiB stdout + {} KiB stderr; generating {gen_time:?}, \
         start..WaitContainer {run_time:?}, checking {:?}; {records} records, {partials} P, \
         log {} bytes",
        out_data.len() >> 20,
        err_data.len() >> 10,
        t2.elapsed(),
        log.len()
    );
}

// ---------------------------------------------------------------------------
// 2. Rate limit, block policy
// ---------------------------------------------------------------------------

#[test]
fn rate_limit_block_paces_output_and_loses_nothing() {
    let pod = Pod::start("lg-block");
    let (rate, burst) = (200_000u64, 20_000u64);
    // 12000 lines of 100 bytes: 1.2 MB, written as fast as the pipe takes it.
    let n = 12_000u64;
    let pad = "x".repeat(90);
    let script = numbered_awk(n, "", &format!(" {pad}"));
    let total = n * 100;
    let c = pod.create_with(
        "b",
        &["sh", "-c", &script],
        json!({ "logRateLimit": limit(rate, burst, "block") }),
    );
    assert_eq!(c["logRateLimit"]["bytesPerSecond"], json!(rate), "{c}");
    assert_eq!(c["logRateLimit"]["burst"], json!(burst), "{c}");
    let t0 = Instant::now();
    pod.start_container("b");
    // While it runs, the limit holds the log back.
    thread::sleep(Duration::from_secs(2));
    let mid = content_bytes_now(&pod.log_path("b"), "stdout");
    let mid_t = t0.elapsed().as_secs_f64();
    let w = pod.wait("b");
    let elapsed = t0.elapsed().as_secs_f64();
    assert_eq!(w["exitCode"], json!(0), "{w}");
    // WaitContainer promises every byte is in the log when it answers. The
    // container itself exits early (the 1 MiB pipe holds most of its output),
    // so podmon goes on draining at the limited rate for seconds after the exit.
    let at_wait = content_bytes_now(&pod.log_path("b"), "stdout");
    let exited_after = ts_secs(w["container"]["finishedAt"].as_str().unwrap())
        - ts_secs(w["container"]["startedAt"].as_str().unwrap());
    if at_wait != total {
        let t = Instant::now();
        let mut later = at_wait;
        wait_until(Duration::from_secs(8), || {
            later = content_bytes_now(&pod.log_path("b"), "stdout");
            later >= total
        });
        panic!(
            "WaitContainer answered {elapsed:.3} s after the start with only {at_wait} of \
             {total} bytes in the log (the container exited {exited_after:.3} s after its \
             start); {:.2} s later the log held {later} bytes",
            t.elapsed().as_secs_f64()
        );
    }
    let measured = (total - burst) as f64 / elapsed;
    eprintln!(
        "block: {total} bytes in {elapsed:.3} s: {measured:.0} B/s after the burst \
         (limit {rate}); {mid} bytes after {mid_t:.2} s"
    );
    assert!(
        (measured - rate as f64).abs() <= rate as f64 * 0.10,
        "block policy: {total} bytes took {elapsed:.3} s, i.e. {measured:.0} B/s after the \
         {burst}-byte burst; want {rate} B/s ±10%"
    );
    let mid_limit = (rate as f64 * mid_t + burst as f64) * 1.10;
    assert!(
        (mid as f64) <= mid_limit,
        "after {mid_t:.2} s the log already held {mid} bytes, more than rate*t+burst ({:.0})",
        mid_limit / 1.1
    );
    assert_eq!(w["container"]["logBytesDropped"], json!(0), "{w}");
    let recs = parse(&read_bytes(&pod.log_path("b")));
    let nums = check_numbered(&rebuild(&recs, "stdout"), "", &format!(" {pad}"), "block");
    assert_sequence(&nums, n, "block policy");
    assert!(
        recs.iter().all(|r| r.dropped_marker().is_none()),
        "block policy wrote a drop marker"
    );
}

// ---------------------------------------------------------------------------
// 3. Rate limit, drop policy
// ---------------------------------------------------------------------------

#[test]
fn rate_limit_drop_keeps_the_rate_and_reports_drops() {
    let _h = heavy();
    let pod = Pod::start("lg-drop");
    let (rate, burst) = (200_000u64, 20_000u64);
    let secs = 5u64;
    // Floods stdout for 5 s; `tee` copies the flood to stdout and `wc`
    // counts it, so the test learns how much the container wrote. The count
    // goes to stderr after a pause that refills the bucket.
    let line = "drop policy flood line 0123456789 abcdefghijklmnopqrstuvwxyz";
    let script = format!(
        "exec 3>&1; n=$(timeout {secs} yes '{line}' | tee /proc/self/fd/3 | wc -c); \
         sleep 1; echo \"total=$n\" >&2"
    );
    pod.create_with(
        "d",
        &["sh", "-c", &script],
        json!({ "logRateLimit": limit(rate, burst, "drop") }),
    );
    pod.start_container("d");
    let w = pod.wait("d");
    assert_eq!(w["exitCode"], json!(0), "{w}");
    let c = pod.get("d");
    let dropped = c["logBytesDropped"].as_u64().unwrap();
    let recs = parse(&read_bytes(&pod.log_path("d")));

    let total: u64 = recs
        .iter()
        .filter(|r| r.stream == "stderr")
        .find_map(|r| {
            r.text()
                .strip_prefix("total=")
                .map(|t| t.trim().parse().unwrap())
        })
        .unwrap_or_else(|| {
            panic!(
                "no total=N line on stderr; stderr records: {:?}",
                recs.iter()
                    .filter(|r| r.stream == "stderr")
                    .map(Rec::text)
                    .collect::<Vec<_>>()
            )
        });
    let mut kept = 0u64;
    let mut marker_sum = 0u64;
    let mut markers = Vec::new();
    for r in recs.iter().filter(|r| r.stream == "stdout") {
        if let Some(n) = r.dropped_marker() {
            marker_sum += n;
            markers.push(r.text());
        } else {
            kept += r.content.len() as u64 + u64::from(!r.partial);
        }
    }
    let expect = (rate * secs + burst) as f64;
    eprintln!(
        "drop: container wrote {total} bytes in {secs} s; kept {kept} (expected ~{expect:.0}), \
         logBytesDropped {dropped}, {} markers summing to {marker_sum}; first markers: {:?}",
        markers.len(),
        &markers[..markers.len().min(3)]
    );
    assert!(dropped > 0, "nothing dropped: {c}");
    assert!(
        !markers.is_empty(),
        "no 'podmon: dropped N bytes' marker record"
    );
    assert_eq!(
        marker_sum, dropped,
        "markers report {marker_sum} dropped bytes, logBytesDropped says {dropped}"
    );
    assert_eq!(
        kept + dropped,
        total,
        "kept ({kept}) + dropped ({dropped}) is not what the container wrote ({total})"
    );
    assert!(
        (kept as f64 - expect).abs() <= expect * 0.10,
        "drop policy kept {kept} bytes of a {secs} s flood; want rate*{secs}+burst = {expect:.0} ±10%"
    );
    // What was kept is pieces of the flood: every record holds (part of) the line.
    let bad = recs
        .iter()
        .filter(|r| r.stream == "stdout" && r.dropped_marker().is_none())
        .map(Rec::text)
        .filter(|t| !line.contains(t.as_str()))
        .take(3)
        .collect::<Vec<_>>();
    assert!(bad.is_empty(), "kept output has foreign text: {bad:?}");
}

// ---------------------------------------------------------------------------
// 4. SetLogRateLimit at run time
// ---------------------------------------------------------------------------

#[test]
fn set_log_rate_limit_changes_and_removes_the_limit() {
    let _h = heavy();
    let pod = Pod::start("lg-setrl");
    // 20000 lines of 1000 bytes: 20 MB, as fast as the pipe takes it.
    let n = 20_000u64;
    let pad = "y".repeat(990);
    let suffix = format!(" {pad}");
    let script = numbered_awk(n, "", &suffix);
    let total = n * 1000;
    pod.create_with(
        "r",
        &["sh", "-c", &script],
        json!({ "logRateLimit": limit(100_000, 10_000, "block") }),
    );
    let path = pod.log_path("r");
    pod.start_container("r");

    // Rate over a window: content bytes in the file per second.
    let measure = |settle: f64, window: f64| -> f64 {
        thread::sleep(Duration::from_secs_f64(settle));
        let (a, ta) = (content_bytes_now(&path, "stdout"), Instant::now());
        thread::sleep(Duration::from_secs_f64(window));
        let (b, tb) = (content_bytes_now(&path, "stdout"), Instant::now());
        (b - a) as f64 / (tb - ta).as_secs_f64()
    };
    let r1 = measure(0.5, 2.0);
    let c = pod
        .call(
            "io.podmon.Pod.SetLogRateLimit",
            json!({ "id": "r", "limit": limit(400_000, 40_000, "block") }),
        )
        .ok()["container"]
        .clone();
    assert_eq!(c["logRateLimit"]["bytesPerSecond"], json!(400_000), "{c}");
    assert_eq!(pod.get("r")["logRateLimit"]["burst"], json!(40_000));
    let r2 = measure(0.3, 1.5);
    let before_removal = content_bytes_now(&path, "stdout");
    let c = pod
        .call("io.podmon.Pod.SetLogRateLimit", json!({ "id": "r" }))
        .ok()["container"]
        .clone();
    assert!(!present(&c, "logRateLimit"), "limit still shown: {c}");
    let t = Instant::now();
    let w = pod.wait("r");
    let rest = t.elapsed().as_secs_f64();
    let r3 = (total - before_removal) as f64 / rest;
    eprintln!(
        "SetLogRateLimit: {r1:.0} B/s at 100000, {r2:.0} B/s at 400000, {r3:.0} B/s without \
         a limit ({} bytes in {rest:.3} s)",
        total - before_removal
    );
    assert!(
        (r1 - 100_000.0).abs() <= 15_000.0,
        "under a 100000 B/s limit the log grew at {r1:.0} B/s"
    );
    assert!(
        (r2 - 400_000.0).abs() <= 60_000.0,
        "after SetLogRateLimit to 400000 B/s the log grew at {r2:.0} B/s"
    );
    assert!(
        r3 > 2_000_000.0,
        "after removing the limit the log grew at only {r3:.0} B/s"
    );
    assert_eq!(w["exitCode"], json!(0), "{w}");
    assert!(!present(&w["container"], "logRateLimit"), "{w}");
    let recs = parse(&read_bytes(&path));
    let nums = check_numbered(&rebuild(&recs, "stdout"), "", &suffix, "SetLogRateLimit");
    assert_sequence(&nums, n, "SetLogRateLimit");
}

// ---------------------------------------------------------------------------
// 5. Rotation under load
// ---------------------------------------------------------------------------

#[test]
fn rotation_under_load_keeps_every_line_in_order() {
    let _h = heavy();
    let pod = Pod::start("lg-rotate");
    let (max_size, max_files) = (200_000u64, 50u32);
    // 60000 lines of 50 bytes: 3 MB; with record prefixes about 5.4 MB of log.
    let n = 60_000u64;
    let suffix = " rotation under load abcdefghijklmnopqrstuvw";
    pod.create_with(
        "rot",
        &["sh", "-c", &numbered_awk(n, "", suffix)],
        json!({ "logMaxSize": max_size, "logMaxFiles": max_files }),
    );
    pod.start_container("rot");
    let w = pod.wait("rot");
    assert_eq!(w["exitCode"], json!(0), "{w}");

    let base = pod.log_path("rot");
    let rotated = |k: u32| PathBuf::from(format!("{}.{k}", base.display()));
    let count = (1..=max_files + 1)
        .take_while(|&k| rotated(k).exists())
        .count() as u32;
    let listing: Vec<String> = fs::read_dir(&pod.log_dir)
        .unwrap()
        .flatten()
        .map(|e| {
            format!(
                "{} ({} bytes)",
                e.file_name().to_string_lossy(),
                e.metadata().map(|m| m.len()).unwrap_or(0)
            )
        })
        .collect();
    eprintln!("rotation: {count} rotated files: {listing:?}");
    assert!(count >= 2, "no rotation happened: {listing:?}");
    assert!(
        count <= max_files,
        "more than {max_files} rotated files: {listing:?}"
    );
    let mut all = Vec::new();
    for k in (1..=count).rev() {
        let data = read_bytes(&rotated(k));
        // Rotation happens once a file reached the size, between records.
        assert!(
            data.len() as u64 >= max_size,
            "{}.{k} has only {} bytes, below logMaxSize",
            base.display(),
            data.len()
        );
        let recs = parse(&data);
        all.extend(recs);
    }
    assert!(base.exists(), "{} is gone after rotation", base.display());
    all.extend(parse(&read_bytes(&base)));
    let nums = check_numbered(&rebuild(&all, "stdout"), "", suffix, "rotation");
    assert_sequence(&nums, n, "rotated files .log.N … .log.1, .log");
}

// ---------------------------------------------------------------------------
// 6. ReopenLog
// ---------------------------------------------------------------------------

#[test]
fn reopen_log_after_outside_rename() {
    let pod = Pod::start("lg-reopen");
    let script = "i=0; while :; do i=$((i+1)); printf 'reopen %08d\\n' $i; usleep 20000; done";
    pod.run("ro", &["sh", "-c", script]);
    thread::sleep(Duration::from_millis(1000));
    let path = pod.log_path("ro");
    let outside = PathBuf::from(format!("{}.outside", path.display()));
    fs::rename(&path, &outside).unwrap();
    // Output read between the rename and the call still goes to the old file.
    thread::sleep(Duration::from_millis(200));
    let r = pod.call("io.podmon.Pod.ReopenLog", json!({ "id": "ro" }));
    r.ok();
    assert!(
        path.exists(),
        "ReopenLog did not create a new {}",
        path.display()
    );
    thread::sleep(Duration::from_millis(1000));
    assert!(
        fs::metadata(&path).unwrap().len() > 0,
        "nothing written to the new log within 1 s of ReopenLog"
    );
    pod.kill("ro", "SIGKILL");
    pod.wait("ro");

    let old = parse(&read_bytes(&outside));
    let new = parse(&read_bytes(&path));
    let old_nums = check_numbered(&rebuild(&old, "stdout"), "reopen ", "", "renamed log");
    let new_nums = check_numbered(&rebuild(&new, "stdout"), "reopen ", "", "reopened log");
    eprintln!(
        "reopen: {} lines in the renamed file, {} in the new one",
        old_nums.len(),
        new_nums.len()
    );
    assert!(
        old_nums.len() >= 20,
        "renamed file has few lines: {old_nums:?}"
    );
    assert!(new_nums.len() >= 20, "new file has few lines: {new_nums:?}");
    let mut all = old_nums.clone();
    all.extend(&new_nums);
    let n = all.len() as u64;
    assert_sequence(&all, n, "renamed log followed by the reopened log");
    // The new file holds records read after the reopen: later timestamps.
    assert!(
        old.last().unwrap().ts <= new.first().unwrap().ts,
        "new file's first record ({}) is older than the old file's last ({})",
        new.first().unwrap().ts,
        old.last().unwrap().ts
    );
}

// ---------------------------------------------------------------------------
// 7. ReadLogs: follow, tail, since
// ---------------------------------------------------------------------------

#[test]
fn read_logs_follow_tail_and_since() {
    let pod = Pod::start("lg-read");
    let n = 20;
    let script =
        format!("i=0; while [ $i -lt {n} ]; do i=$((i+1)); echo \"tick $i\"; usleep 100000; done");
    pod.create("f", &["sh", "-c", &script]);
    let mut client = pod.client();
    client.send_more(
        "io.podmon.Pod.ReadLogs",
        json!({ "id": "f", "follow": true }),
    );
    // Let the call reach the server before the container writes.
    thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    pod.start_container("f");
    let mut got: Vec<(Duration, Value)> = Vec::new();
    let mut replies = 0;
    let last = loop {
        let r = client.recv();
        let p = r.ok();
        replies += 1;
        for rec in p["records"].as_array().cloned().unwrap_or_default() {
            got.push((t0.elapsed(), rec));
        }
        if !r.continues() {
            break t0.elapsed();
        }
        assert!(replies < 1000, "too many replies");
    };
    // Checked at the end, after the other checks ran.
    let f_at_end = pod.get("f");
    let info = pod.wait("f")["container"].clone();
    let texts: Vec<String> = got
        .iter()
        .map(|(_, r)| r["text"].as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = (1..=n).map(|i| format!("tick {i}")).collect();
    eprintln!(
        "ReadLogs follow: {replies} replies; first record after {:?}, end after {last:?}",
        got.first().map(|g| g.0)
    );
    assert_eq!(texts, want, "followed records");
    for (_, r) in &got {
        assert_eq!(r["stream"], json!("stdout"), "{r}");
        assert_eq!(r["partial"], json!(false), "{r}");
        assert!(is_rfc3339_nano_utc(r["timestamp"].as_str().unwrap()), "{r}");
    }
    let first = got[0].0;
    assert!(
        first < Duration::from_millis(800),
        "the first line arrived {first:?} after the start; the container runs ~2 s"
    );
    // Lines arrive as they are written: the 10th well before the end.
    let tenth = got[9].0;
    assert!(
        tenth + Duration::from_millis(500) < last,
        "the 10th line arrived at {tenth:?}, the end at {last:?}: not streamed"
    );
    // The call ended after the exit, not long after.
    let finished = ts_secs(info["finishedAt"].as_str().unwrap());
    let started = ts_secs(info["startedAt"].as_str().unwrap());
    let lifetime = finished - started;
    assert!(
        last.as_secs_f64() + 0.2 >= lifetime,
        "ReadLogs follow ended {last:?} after the start, the container lived {lifetime:.3} s"
    );
    assert!(
        last.as_secs_f64() < lifetime + 2.0,
        "ReadLogs follow ended {last:?} after the start, long after the exit ({lifetime:.3} s)"
    );

    // tail
    let r = pod.call("io.podmon.Pod.ReadLogs", json!({ "id": "f", "tail": 3 }));
    let recs = r.ok()["records"].as_array().cloned().unwrap();
    let tail: Vec<&str> = recs.iter().map(|r| r["text"].as_str().unwrap()).collect();
    assert_eq!(tail, ["tick 18", "tick 19", "tick 20"]);

    // since: the 10th record's own timestamp includes it
    let since = got[9].1["timestamp"].as_str().unwrap().to_string();
    let r = pod.call(
        "io.podmon.Pod.ReadLogs",
        json!({ "id": "f", "since": since }),
    );
    let recs = r.ok()["records"].as_array().cloned().unwrap();
    let texts: Vec<&str> = recs.iter().map(|r| r["text"].as_str().unwrap()).collect();
    let want: Vec<String> = (10..=n).map(|i| format!("tick {i}")).collect();
    assert_eq!(texts, want, "since {since}");
    // ... one nanosecond later excludes it; and tail applies after since.
    let (s, ns) = rfc3339_to_unix(&since);
    let later = format!("{}{:09}Z", &since[..20], ns + 1);
    assert!(ns < 999_999_999 && rfc3339_to_unix(&later) == (s, ns + 1));
    let r = pod.call(
        "io.podmon.Pod.ReadLogs",
        json!({ "id": "f", "since": later, "tail": 5 }),
    );
    let recs = r.ok()["records"].as_array().cloned().unwrap();
    let texts: Vec<&str> = recs.iter().map(|r| r["text"].as_str().unwrap()).collect();
    assert_eq!(
        texts,
        ["tick 16", "tick 17", "tick 18", "tick 19", "tick 20"]
    );
    let r = pod.call(
        "io.podmon.Pod.ReadLogs",
        json!({ "id": "f", "since": later }),
    );
    let recs = r.ok()["records"].as_array().cloned().unwrap();
    assert_eq!(recs.len(), 10, "since {later}: {recs:?}");
    assert_eq!(recs[0]["text"], json!("tick 11"));

    // Following ends with the container, not with its pipes: this one
    // closes its stdout and stderr, then lives 1 s more.
    pod.create(
        "g",
        &["sh", "-c", "echo before-close; exec >&- 2>&-; sleep 1"],
    );
    let mut client = pod.client();
    client.send_more(
        "io.podmon.Pod.ReadLogs",
        json!({ "id": "g", "follow": true }),
    );
    thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    pod.start_container("g");
    let mut texts = Vec::new();
    let end = loop {
        let r = client.recv();
        for rec in r.ok()["records"].as_array().cloned().unwrap_or_default() {
            texts.push(rec["text"].as_str().unwrap().to_string());
        }
        if !r.continues() {
            break t0.elapsed();
        }
    };
    let g_at_end = pod.get("g");
    assert_eq!(texts, ["before-close"]);
    pod.wait("g");
    let mut early = Vec::new();
    if f_at_end["status"] != json!("stopped") {
        early.push(format!(
            "ReadLogs follow of 'f' (20 lines in 2 s) ended {last:?} after the start while the \
             container was still {}: {f_at_end}",
            f_at_end["status"]
        ));
    }
    if g_at_end["status"] != json!("stopped") {
        early.push(format!(
            "ReadLogs follow of 'g' ended {end:?} after the start while the container was still \
             {} (it closed its stdout and stderr, then sleeps 1 s): {g_at_end}",
            g_at_end["status"]
        ));
    }
    assert!(early.is_empty(), "{}", early.join("\n"));
    assert!(
        end >= Duration::from_millis(900),
        "follow ended after {end:?}"
    );
}

// ---------------------------------------------------------------------------
// 8. A full disk
// ---------------------------------------------------------------------------

#[test]
fn full_disk_blocks_then_resumes_without_loss() {
    let _h = heavy();
    let pod = Pod::start("lg-enospc");
    // The harness's log directory, with a 1 MiB tmpfs mounted over it
    // before the container (and so its log file) exists.
    let mnt = TmpfsMount::mount(&pod.log_dir, "1m");
    // 300000 lines of 21 bytes: 6.3 MB of output, about 19 MB of log: more
    // than the tmpfs, podmon's buffers and the pipe hold together, so the
    // container must block.
    let n = 300_000u64;
    let suffix = " enospc line";
    pod.create("full", &["sh", "-c", &numbered_awk(n, "", suffix)]);
    pod.start_container("full");

    let mut c = Value::Null;
    let ok = wait_until(Duration::from_secs(15), || {
        c = pod.get("full");
        present(&c, "logError")
    });
    assert!(ok, "no logError within 15 s of filling a 1 MiB disk: {c}");
    let err = c["logError"].as_str().unwrap().to_string();
    assert!(
        err.contains("No space left") || err.contains("ENOSPC") || err.contains("os error 28"),
        "logError does not say the disk is full: {err:?}"
    );
    // The container stays blocked on its pipe; podmon keeps answering.
    thread::sleep(Duration::from_millis(1500));
    let (c2, t_get) = timed_get(&pod, "full");
    let t = Instant::now();
    let p = pod.call("io.podmon.Pod.GetPod", json!({})).ok();
    let t_pod = t.elapsed();
    eprintln!("full disk: logError {err:?}; GetContainer {t_get:?}, GetPod {t_pod:?}");
    assert_eq!(
        c2["status"],
        json!("running"),
        "container did not stay blocked: {c2}"
    );
    assert!(
        present(&c2, "logError"),
        "logError went away on a full disk: {c2}"
    );
    assert_eq!(p["running"], json!(1), "{p}");
    assert!(
        t_get < Duration::from_secs(1),
        "GetContainer took {t_get:?}"
    );
    assert!(t_pod < Duration::from_secs(1), "GetPod took {t_pod:?}");
    let pid = c2["pid"].as_u64().unwrap() as u32;
    assert!(proc_alive(pid), "container process {pid} is gone");

    // Room again: writing resumes, the container finishes.
    mnt.resize("64m");
    let t = Instant::now();
    let w = pod.wait("full");
    eprintln!(
        "full disk: WaitContainer {:?} after the remount",
        t.elapsed()
    );
    assert_eq!(w["exitCode"], json!(0), "{w}");
    assert!(!present(&w["container"], "logError"), "logError stays: {w}");
    assert!(!present(&pod.get("full"), "logError"));
    let recs = parse(&read_bytes(&pod.log_path("full")));
    let nums = check_numbered(&rebuild(&recs, "stdout"), "", suffix, "full disk");
    assert_sequence(&nums, n, "log written across a full disk");
    drop(mnt);
}

// ---------------------------------------------------------------------------
// 9. A flood does not starve a quiet neighbour or the API
// ---------------------------------------------------------------------------

#[test]
fn flood_does_not_starve_quiet_container_or_api() {
    let _h = heavy();
    let pod = Pod::start("lg-flood");
    // Unlimited flood; rotation keeps the disk use bounded (two 32 MB files).
    pod.create_with(
        "flood",
        &[
            "yes",
            "flood flood flood flood flood flood flood flood flood flood",
        ],
        json!({ "logMaxSize": 32 << 20, "logMaxFiles": 1 }),
    );
    pod.start_container("flood");
    thread::sleep(Duration::from_millis(500));
    let w0 = pod.get("flood")["logBytesWritten"].as_u64().unwrap();

    let quiet = "i=0; while [ $i -lt 10 ]; do i=$((i+1)); echo \"quiet $i\"; usleep 100000; done";
    pod.create("quiet", &["sh", "-c", quiet]);
    // Poll the API from another thread while the quiet container runs.
    let socket = pod.socket.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let poller = thread::spawn(move || {
        let mut times = Vec::new();
        while !stop2.load(std::sync::atomic::Ordering::SeqCst) {
            let t = Instant::now();
            let mut c = Client::connect(&socket);
            c.call("io.podmon.Pod.GetContainer", json!({ "id": "flood" }))
                .ok();
            times.push(t.elapsed());
            thread::sleep(Duration::from_millis(50));
        }
        times
    });
    let t0 = Instant::now();
    pod.start_container("quiet");
    let w = pod.wait("quiet");
    let quiet_time = t0.elapsed();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let times = poller.join().unwrap();
    let flood = pod.get("flood");
    let w1 = flood["logBytesWritten"].as_u64().unwrap();
    let max_get = times.iter().max().copied().unwrap_or_default();
    eprintln!(
        "flood: quiet container start..WaitContainer {quiet_time:?}; {} GetContainer calls, \
         slowest {max_get:?}; flood wrote {} MB meanwhile",
        times.len(),
        (w1 - w0) >> 20
    );
    assert_eq!(w["exitCode"], json!(0), "{w}");
    assert_eq!(
        flood["status"],
        json!("running"),
        "the flood stopped: {flood}"
    );
    assert!(
        w1 > w0 + (10 << 20),
        "the flood hardly flooded: {w0} -> {w1}"
    );
    assert!(
        quiet_time < Duration::from_millis(1500),
        "the quiet container (1 s of work) took {quiet_time:?} from start to WaitContainer"
    );
    assert!(
        max_get < Duration::from_millis(200),
        "GetContainer took up to {max_get:?} during the flood: {times:?}"
    );
    // Its lines were read as they came: ~100 ms apart, not bunched up.
    let recs = parse(&read_bytes(&pod.log_path("quiet")));
    let texts: Vec<String> = recs.iter().map(Rec::text).collect();
    let want: Vec<String> = (1..=10).map(|i| format!("quiet {i}")).collect();
    assert_eq!(texts, want);
    let gaps: Vec<f64> = recs
        .windows(2)
        .map(|p| ts_secs(&p[1].ts) - ts_secs(&p[0].ts))
        .collect();
    assert!(
        gaps.iter().all(|&g| (0.05..0.25).contains(&g)),
        "the quiet lines were not read as written (gaps in s: {gaps:?})"
    );
    pod.kill("flood", "SIGKILL");
    pod.wait("flood");
}
