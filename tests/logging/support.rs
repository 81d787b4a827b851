//! Helpers of the logging tests: the CRI record parser, numbered output,
//! a deterministic mixed stream, a tmpfs mount, and the HEAVY lock.

use crate::common::*;
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Serializes the CPU-heavy and timing-sensitive tests of this file.
static HEAVY: Mutex<()> = Mutex::new(());

pub fn heavy() -> MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

/// The longest record content podmon writes by default (logMaxLine).
pub const MAX_LINE: usize = 16384;

/// One CRI record, with its content as raw bytes.
#[derive(Debug, Clone)]
pub struct Rec {
    pub ts: String,
    pub stream: String,
    pub partial: bool,
    pub content: Vec<u8>,
}

impl Rec {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.content).into_owned()
    }
    /// A "podmon: dropped N bytes" marker: Some(N).
    pub fn dropped_marker(&self) -> Option<u64> {
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
pub fn for_each_record(
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

pub fn parse(log: &[u8]) -> Vec<Rec> {
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
pub fn rebuild<'a>(recs: impl IntoIterator<Item = &'a Rec>, stream: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for r in recs.into_iter().filter(|r| r.stream == stream) {
        out.extend_from_slice(&r.content);
        if !r.partial {
            out.push(b'\n');
        }
    }
    out
}

pub fn read_bytes(p: &Path) -> Vec<u8> {
    fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// Timestamp as seconds since the epoch, as f64.
pub fn ts_secs(ts: &str) -> f64 {
    let (s, ns) = rfc3339_to_unix(ts);
    s as f64 + f64::from(ns) / 1e9
}

/// Checks that every line of `data` is `"{prefix}{i:08}{suffix}"` for some i
/// and returns the numbers i in file order. `data` must end with '\n'.
pub fn check_numbered(data: &[u8], prefix: &str, suffix: &str, what: &str) -> Vec<u64> {
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
pub fn assert_sequence(nums: &[u64], n: u64, what: &str) {
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
pub fn numbered_awk(n: u64, prefix: &str, suffix: &str) -> String {
    format!("awk 'BEGIN {{ for (i = 1; i <= {n}; i++) printf \"{prefix}%08d{suffix}\\n\", i }}'")
}

/// A copy of the shared busybox rootfs under `dir`, which the test may change.
pub fn copy_rootfs(dir: &Path) -> PathBuf {
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
pub fn timed_get(pod: &Pod, id: &str) -> (Value, Duration) {
    let t = Instant::now();
    let c = pod.get(id);
    (c, t.elapsed())
}

pub fn limit(rate: u64, burst: u64, policy: &str) -> Value {
    json!({ "bytesPerSecond": rate, "burst": burst, "policy": policy })
}

/// Sum of content bytes (plus the newline of F records) of complete records
/// of `stream` in the log file now.
pub fn content_bytes_now(path: &Path, stream: &str) -> u64 {
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
        self.bytes(out, len, |x| ALPHA[(x & 0x7f) as usize % ALPHA.len()]);
    }
    fn binary(&mut self, out: &mut Vec<u8>, len: usize) {
        self.bytes(out, len, |x| x as u8);
    }
    /// Appends `len` bytes, each `byte(x)`: x is a fresh random word every
    /// 8 bytes, shifted right by 8 after each byte.
    fn bytes(&mut self, out: &mut Vec<u8>, len: usize, byte: impl Fn(u64) -> u8) {
        let start = out.len();
        out.resize(start + len, 0);
        let mut x = 0u64;
        for (i, b) in out[start..].iter_mut().enumerate() {
            if i % 8 == 0 {
                x = self.next();
            }
            *b = byte(x);
            x >>= 8;
        }
    }
}

/// A deterministic mix of about `size` bytes: many short lines, empty lines,
/// binary blobs (NULs, invalid UTF-8, stray '\r' and '\n'), lines around and
/// far beyond the 16 KiB record limit, and a last line without a newline.
pub fn mixed_stream(seed: u64, size: usize) -> Vec<u8> {
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
pub fn first_difference(a: &[u8], b: &[u8]) -> String {
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
pub struct TmpfsMount {
    dir: PathBuf,
}

impl TmpfsMount {
    pub fn mount(dir: &Path, size: &str) -> TmpfsMount {
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

    pub fn resize(&self, size: &str) {
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
