//! Test harness for podmon's integration tests.
//!
//! Nothing here skips: when the machine cannot run containers (not root, no
//! runc, no busybox) every test fails with a message that says what is
//! missing and how to install it (`scripts/install-deps`).
//!
//! Each `Pod` is one `podmon serve` process with its own socket, state, log
//! and exit directories under `$TMPDIR/podmon-tests/NAME.PID.N`, so tests
//! run in parallel. Dropping a `Pod` stops the server, deletes whatever
//! runc still holds in `STATE/runtime` and removes the directory (kept, with
//! the server's log printed, when the test failed).
#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Where scripts/install-deps puts varlinkctl and systemd-socket-activate.
pub const TOOLS_BIN: &str = "/opt/podmon-tools/bin";

/// How long one Varlink reply or one CLI command may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(60);

pub fn podmon_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_podmon"))
}

pub fn project_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Base directory of everything the tests create.
pub fn test_base() -> PathBuf {
    std::env::temp_dir().join("podmon-tests")
}

// ---------------------------------------------------------------------------
// Preconditions and the shared rootfs
// ---------------------------------------------------------------------------

pub struct TestEnv {
    /// Absolute path of runc.
    pub runc: PathBuf,
    /// A busybox rootfs made by scripts/make-rootfs, shared by the tests of this binary.
    pub rootfs: PathBuf,
}

fn is_executable(p: &Path) -> bool {
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Finds an executable on PATH and in the sbin directories (root's PATH may lack them).
pub fn find_executable(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    for d in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        dirs.push(PathBuf::from(d));
    }
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_absolute() && is_executable(p))
}

/// The test environment; panics (fails the test) with a clear message when
/// the machine cannot run the integration tests.
pub fn env() -> &'static TestEnv {
    static ENV: OnceLock<Result<TestEnv, String>> = OnceLock::new();
    match ENV.get_or_init(init_env) {
        Ok(e) => e,
        Err(msg) => panic!(
            "podmon integration tests cannot run here: {msg}\n\
             These tests need root and runc; run `sudo scripts/install-deps`, then `sudo scripts/test`."
        ),
    }
}

fn init_env() -> Result<TestEnv, String> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Err(format!("not running as root (euid {euid})"));
    }
    let runc = match std::env::var_os("PODMON_TEST_RUNC") {
        Some(p) => PathBuf::from(p),
        None => find_executable("runc").ok_or("runc not found on PATH or in /usr/sbin")?,
    };
    if !runc.is_absolute() || !is_executable(&runc) {
        return Err(format!(
            "runc at {} is not an executable absolute path",
            runc.display()
        ));
    }
    let out = Command::new(&runc)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", runc.display()))?;
    if !out.status.success() {
        return Err(format!("{} --version failed", runc.display()));
    }
    let base = test_base();
    fs::create_dir_all(&base).map_err(|e| format!("cannot create {}: {e}", base.display()))?;
    remove_stale(&base, &runc);
    let rootfs = base.join(format!("rootfs.{}", std::process::id()));
    let script = project_dir().join("scripts/make-rootfs");
    let out = Command::new("sh")
        .arg(&script)
        .arg(&rootfs)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {} failed: {}",
            script.display(),
            rootfs.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if !is_executable(&rootfs.join("bin/busybox")) || !rootfs.join("bin/sh").exists() {
        return Err(format!(
            "rootfs {} has no /bin/busybox or /bin/sh",
            rootfs.display()
        ));
    }
    // SAFETY: registers a plain function to run at process exit.
    unsafe { libc::atexit(remove_rootfs_at_exit) };
    Ok(TestEnv { runc, rootfs })
}

extern "C" fn remove_rootfs_at_exit() {
    let _ = fs::remove_dir_all(test_base().join(format!("rootfs.{}", std::process::id())));
}

/// Removes what earlier, dead test processes left in the base directory
/// (names carry the creating process's pid after the first dot).
fn remove_stale(base: &Path, runc: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.split('.').nth(1).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let dir = e.path();
        cleanup_runtime(runc, &dir.join("state/runtime"));
        let _ = fs::remove_dir_all(&dir);
    }
}

/// Deletes (with force) every container runc still has under `root`.
pub fn cleanup_runtime(runc: &Path, root: &Path) -> Vec<String> {
    if !root.exists() {
        return vec![];
    }
    let Ok(out) = Command::new(runc)
        .arg("--root")
        .arg(root)
        .args(["list", "-q"])
        .output()
    else {
        return vec![];
    };
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    for id in &ids {
        let _ = Command::new(runc)
            .arg("--root")
            .arg(root)
            .args(["delete", "--force", id])
            .output();
    }
    ids
}

pub fn rootfs() -> &'static Path {
    &env().rootfs
}

pub fn runc() -> &'static Path {
    &env().runc
}

/// varlinkctl (systemd >= 257), from /opt/podmon-tools/bin or PATH.
pub fn varlinkctl() -> PathBuf {
    tool("varlinkctl")
}

pub fn socket_activate_bin() -> PathBuf {
    tool("systemd-socket-activate")
}

fn tool(name: &str) -> PathBuf {
    let p = Path::new(TOOLS_BIN).join(name);
    if is_executable(&p) {
        return p;
    }
    // Only a new enough one from PATH: bookworm's systemd 252 has no varlinkctl.
    if let Some(p) = find_executable(name) {
        return p;
    }
    panic!("{name} not found in {TOOLS_BIN} or on PATH: run `sudo scripts/install-deps`");
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// Polls `f` until it returns true or `timeout` passes; returns the last result.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// True for `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`: RFC 3339, UTC, nine fraction digits.
pub fn is_rfc3339_nano_utc(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 30 {
        return false;
    }
    let pattern = b"dddd-dd-ddTdd:dd:dd.dddddddddZ";
    let shape_ok = b.iter().zip(pattern.iter()).all(|(c, p)| match p {
        b'd' => c.is_ascii_digit(),
        other => c == other,
    });
    if !shape_ok {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap();
    (1..=12).contains(&num(5..7))
        && (1..=31).contains(&num(8..10))
        && num(11..13) < 24
        && num(14..16) < 60
        && num(17..19) < 61
}

/// Parses such a timestamp into (seconds since epoch, nanoseconds), for ordering and sanity checks.
pub fn rfc3339_to_unix(s: &str) -> (i64, u32) {
    assert!(
        is_rfc3339_nano_utc(s),
        "not an RFC 3339 UTC nanosecond timestamp: {s:?}"
    );
    let y: i64 = s[0..4].parse().unwrap();
    let m: i64 = s[5..7].parse().unwrap();
    let d: i64 = s[8..10].parse().unwrap();
    let hh: i64 = s[11..13].parse().unwrap();
    let mm: i64 = s[14..16].parse().unwrap();
    let ss: i64 = s[17..19].parse().unwrap();
    let ns: u32 = s[20..29].parse().unwrap();
    // days from civil (Howard Hinnant)
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = if y2 >= 0 { y2 } else { y2 - 399 } / 400;
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    (days * 86400 + hh * 3600 + mm * 60 + ss, ns)
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Asserts `s` is a timestamp within a minute of now.
pub fn assert_recent_timestamp(what: &str, v: &Value) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
    assert!(
        is_rfc3339_nano_utc(s),
        "{what} = {s:?} is not RFC 3339 UTC with nanoseconds"
    );
    let (secs, _) = rfc3339_to_unix(s);
    let now = unix_now();
    assert!(
        (secs - now).abs() < 120,
        "{what} = {s} is not near now ({now})"
    );
}

/// Child pids of every thread of `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut out = vec![];
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        if let Ok(s) = fs::read_to_string(t.path().join("children")) {
            out.extend(s.split_whitespace().filter_map(|x| x.parse::<u32>().ok()));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// State letter of a process (R, S, Z, ...) from /proc/PID/stat, None if gone.
pub fn proc_state(pid: u32) -> Option<char> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 1..];
    after.trim_start().chars().next()
}

pub fn proc_comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Whether the process exists and is not a zombie.
pub fn proc_alive(pid: u32) -> bool {
    matches!(proc_state(pid), Some(c) if c != 'Z' && c != 'X')
}

/// Zombie children of `pid`, as "PID (comm)".
pub fn zombie_children(pid: u32) -> Vec<String> {
    children_of(pid)
        .into_iter()
        .filter(|c| proc_state(*c) == Some('Z'))
        .map(|c| format!("{c} ({})", proc_comm(c)))
        .collect()
}

/// Context switches of every thread of `pid`: tid -> (voluntary, nonvoluntary, name).
pub fn ctx_switches(pid: u32) -> BTreeMap<u32, (u64, u64, String)> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let Ok(tid) = t.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = fs::read_to_string(t.path().join("status")) else {
            continue;
        };
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let vol = field("voluntary_ctxt_switches:").parse().unwrap_or(0);
        let nonvol = field("nonvoluntary_ctxt_switches:").parse().unwrap_or(0);
        out.insert(tid, (vol, nonvol, field("Name:")));
    }
    out
}

/// Asserts that podmon (every thread of `pod`) is not scheduled at all for
/// 10 s: the idle monitor sleeps in the kernel, with no timers or polling.
/// Measured with the per-thread context switch counters in /proc.
pub fn assert_no_wakeups_for_10s(pod: &Pod) {
    // Let start-up work (runc exiting, log pipes, accept) settle.
    std::thread::sleep(Duration::from_secs(1));
    let before = ctx_switches(pod.pid);
    assert!(
        !before.is_empty(),
        "no threads found for podmon {}",
        pod.pid
    );
    std::thread::sleep(Duration::from_secs(10));
    let after = ctx_switches(pod.pid);

    let mut report = vec![];
    let mut total = 0u64;
    for (tid, (v1, n1, name)) in &after {
        let (v0, n0) = before.get(tid).map(|(v, n, _)| (*v, *n)).unwrap_or((0, 0));
        total += (v1 - v0) + (n1 - n0);
        report.push(format!(
            "tid {tid} ({name}): voluntary +{}, nonvoluntary +{}{}",
            v1 - v0,
            n1 - n0,
            if before.contains_key(tid) {
                ""
            } else {
                " (new thread)"
            }
        ));
    }
    let gone: Vec<_> = before.keys().filter(|t| !after.contains_key(t)).collect();
    assert!(
        total == 0 && gone.is_empty() && after.len() == before.len(),
        "podmon was scheduled {total} times in 10 s while idle (threads gone: {gone:?}):\n{}",
        report.join("\n")
    );
}

/// The cgroup limit file of a process for "pids" or "memory", on cgroup v1 or v2.
/// Returns (path, trimmed content).
pub fn cgroup_limit(pid: u32, controller: &str) -> (PathBuf, String) {
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/cgroup: {e}"));
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let path = if v2 {
        let rel = cg
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .unwrap_or_else(|| panic!("no cgroup v2 line in {cg}"));
        let file = if controller == "memory" {
            "memory.max"
        } else {
            "pids.max"
        };
        Path::new("/sys/fs/cgroup")
            .join(rel.trim_start_matches('/'))
            .join(file)
    } else {
        let rel = cg
            .lines()
            .find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let _n = parts.next()?;
                let ctrls = parts.next()?;
                let p = parts.next()?;
                ctrls.split(',').any(|c| c == controller).then_some(p)
            })
            .unwrap_or_else(|| panic!("no {controller} cgroup in {cg}"));
        let file = if controller == "memory" {
            "memory.limit_in_bytes"
        } else {
            "pids.max"
        };
        Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(rel.trim_start_matches('/'))
            .join(file)
    };
    let v = fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (cgroup of {pid}: {cg})",
            path.display()
        )
    });
    (path, v.trim().to_string())
}

/// Runs a command with a timeout, collecting its output.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Out {
    let desc = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {desc}: {e}"));
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = thread::spawn(move || {
        let mut v = vec![];
        let _ = so.read_to_end(&mut v);
        v
    });
    let t2 = thread::spawn(move || {
        let mut v = vec![];
        let _ = se.read_to_end(&mut v);
        v
    });
    let end = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            let so = t1.join().unwrap();
            let se = t2.join().unwrap();
            panic!(
                "{desc} did not finish within {timeout:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&so),
                String::from_utf8_lossy(&se)
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    Out {
        cmd: desc,
        status,
        stdout: String::from_utf8_lossy(&t1.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&t2.join().unwrap()).into_owned(),
    }
}

/// Output of a finished command.
#[derive(Debug)]
pub struct Out {
    pub cmd: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Exit code, or -1 when a signal ended the command.
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    #[track_caller]
    pub fn assert_ok(self) -> Self {
        assert!(
            self.success(),
            "{} failed with {}\nstdout: {}\nstderr: {}",
            self.cmd,
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn assert_code(self, code: i32) -> Self {
        assert_eq!(
            self.code(),
            code,
            "{}: expected exit code {code}\nstdout: {}\nstderr: {}",
            self.cmd,
            self.stdout,
            self.stderr
        );
        self
    }
}

// ---------------------------------------------------------------------------
// A tiny blocking Varlink client
// ---------------------------------------------------------------------------

/// One reply message.
#[derive(Debug, Clone)]
pub struct Reply(pub Value);

impl Reply {
    pub fn error(&self) -> Option<&str> {
        self.0.get("error").and_then(Value::as_str)
    }

    pub fn continues(&self) -> bool {
        self.0
            .get("continues")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// The parameters object ({} when absent).
    pub fn params(&self) -> Value {
        self.0
            .get("parameters")
            .cloned()
            .unwrap_or_else(|| json!({}))
    }

    /// Parameters of a successful reply; panics showing the error otherwise.
    #[track_caller]
    pub fn ok(&self) -> Value {
        if let Some(e) = self.error() {
            panic!("expected a successful reply, got error {e}: {}", self.0);
        }
        self.params()
    }

    /// Parameters of the error `name`; panics if the reply is anything else.
    #[track_caller]
    pub fn err(&self, name: &str) -> Value {
        assert_eq!(
            self.error(),
            Some(name),
            "expected error {name}, got reply {}",
            self.0
        );
        self.params()
    }
}

pub struct Client {
    pub stream: UnixStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(path: &Path) -> Client {
        let stream = UnixStream::connect(path)
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", path.display()));
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        Client {
            stream,
            buf: vec![],
        }
    }

    pub fn set_read_timeout(&self, d: Duration) {
        self.stream.set_read_timeout(Some(d)).unwrap();
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// The bytes of one call message, NUL included.
    pub fn encode(method: &str, params: Value, more: bool, oneway: bool) -> Vec<u8> {
        let mut m = json!({ "method": method });
        if !params.is_null() {
            m["parameters"] = params;
        }
        if more {
            m["more"] = json!(true);
        }
        if oneway {
            m["oneway"] = json!(true);
        }
        let mut b = serde_json::to_vec(&m).unwrap();
        b.push(0);
        b
    }

    pub fn send(&mut self, method: &str, params: Value) {
        let b = Self::encode(method, params, false, false);
        self.send_raw(&b).expect("write call");
    }

    pub fn send_more(&mut self, method: &str, params: Value) {
        let b = Self::encode(method, params, true, false);
        self.send_raw(&b).expect("write call");
    }

    pub fn send_oneway(&mut self, method: &str, params: Value) {
        let b = Self::encode(method, params, false, true);
        self.send_raw(&b).expect("write call");
    }

    /// Reads one NUL-terminated message. Ok(None) on a clean EOF before any byte of a message.
    pub fn read_raw(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == 0) {
                let msg = self.buf[..i].to_vec();
                self.buf.drain(..=i);
                return Ok(Some(msg));
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "EOF inside a message: {:?}",
                        String::from_utf8_lossy(&self.buf)
                    ),
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads one reply; panics on EOF, timeout or invalid JSON.
    #[track_caller]
    pub fn recv(&mut self) -> Reply {
        match self.read_raw() {
            Ok(Some(b)) => Reply(serde_json::from_slice(&b).unwrap_or_else(|e| {
                panic!("reply is not JSON ({e}): {:?}", String::from_utf8_lossy(&b))
            })),
            Ok(None) => panic!("server closed the connection instead of replying"),
            Err(e) => panic!("reading a reply failed: {e}"),
        }
    }

    #[track_caller]
    pub fn call(&mut self, method: &str, params: Value) -> Reply {
        self.send(method, params);
        self.recv()
    }

    /// Calls with `more` and collects replies until one without `continues` (or an error).
    #[track_caller]
    pub fn call_more(&mut self, method: &str, params: Value) -> Vec<Reply> {
        self.send_more(method, params);
        let mut out = vec![];
        loop {
            let r = self.recv();
            let done = !r.continues() || r.error().is_some();
            out.push(r);
            if done {
                return out;
            }
            assert!(out.len() < 10_000, "endless stream of replies");
        }
    }

    /// Waits for the server to close the connection; returns the bytes received before.
    pub fn expect_eof(&mut self, timeout: Duration) -> Result<Vec<u8>, String> {
        self.set_read_timeout(timeout);
        let mut got = std::mem::take(&mut self.buf);
        let mut chunk = [0u8; 65536];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(got),
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(got),
                Err(e) => {
                    return Err(format!(
                        "connection not closed within {timeout:?} ({e}); received {:?}",
                        String::from_utf8_lossy(&got)
                    ));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// A podmon server for one test
// ---------------------------------------------------------------------------

static POD_COUNTER: AtomicUsize = AtomicUsize::new(0);

#[derive(Default)]
pub struct PodOptions {
    /// Start through systemd-socket-activate (LISTEN_FDS=1) instead of --socket.
    pub socket_activated: bool,
    /// Extra arguments to `podmon serve`.
    pub extra_args: Vec<String>,
    /// Extra environment variables for `podmon serve`.
    pub env: Vec<(String, String)>,
}

/// The environment the server gets on top of the test's: the reactor
/// backend chosen by PODMON_TEST_REACTOR (e.g. `epoll`, to run the whole
/// suite on the fallback), then the options' own variables.
fn server_env(opts: &PodOptions) -> Vec<(String, String)> {
    let mut env = vec![];
    if let Ok(r) = std::env::var("PODMON_TEST_REACTOR")
        && !r.is_empty()
    {
        env.push(("PODMON_REACTOR".to_string(), r));
    }
    env.extend(opts.env.iter().cloned());
    env
}

/// Whether the servers of this run use the epoll backend.
fn epoll_run() -> bool {
    std::env::var("PODMON_TEST_REACTOR").is_ok_and(|r| r == "epoll")
}

pub struct Pod {
    pub name: String,
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    pub log_dir: PathBuf,
    pub exit_dir: PathBuf,
    pub server_log: PathBuf,
    /// PID of the podmon server process.
    pub pid: u32,
    child: Option<Child>,
}

impl Pod {
    pub fn start(name: &str) -> Pod {
        Self::start_with(name, PodOptions::default())
    }

    pub fn start_with(name: &str, opts: PodOptions) -> Pod {
        let env = env();
        let n = POD_COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = test_base().join(format!("{name}.{}.{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("pod.sock");
        assert!(
            socket.as_os_str().len() < 100,
            "socket path too long for sun_path: {}",
            socket.display()
        );
        let state_dir = dir.join("state");
        let log_dir = dir.join("logs");
        let exit_dir = dir.join("exits");
        // The engine owns the log and exit directories; the monitor its state directory.
        fs::create_dir_all(&log_dir).unwrap();
        fs::create_dir_all(&exit_dir).unwrap();
        let server_log = dir.join("server.log");
        let log = fs::File::create(&server_log).unwrap();

        let mut serve_args: Vec<String> = vec![
            "serve".into(),
            "--pod".into(),
            name.into(),
            "--runtime".into(),
            env.runc.display().to_string(),
            "--state-dir".into(),
            state_dir.display().to_string(),
            "--log-dir".into(),
            log_dir.display().to_string(),
            "--exit-dir".into(),
            exit_dir.display().to_string(),
        ];
        let mut cmd = if opts.socket_activated {
            // systemd-socket-activate passes on only a few variables of its own.
            let level = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
            let mut c = Command::new(socket_activate_bin());
            c.arg("-l")
                .arg(&socket)
                .arg(format!("--setenv=RUST_LOG={level}"))
                .args(
                    server_env(&opts)
                        .iter()
                        .map(|(k, v)| format!("--setenv={k}={v}")),
                )
                .arg(podmon_bin())
                .args(&serve_args);
            c
        } else {
            serve_args.push("--socket".into());
            serve_args.push(socket.display().to_string());
            let mut c = Command::new(podmon_bin());
            c.args(&serve_args);
            c
        };
        cmd.args(&opts.extra_args);
        cmd.envs(server_env(&opts));
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        cmd.env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES");
        cmd.env_remove("PODMON_SOCKET");
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let mut pod = Pod {
            name: name.into(),
            dir,
            socket,
            state_dir,
            log_dir,
            exit_dir,
            server_log,
            pid: child.id(),
            child: Some(child),
        };
        pod.wait_ready();
        // A run meant for the epoll backend must really be on it (the
        // variable reaches the server, socket-activated or not).
        if epoll_run() {
            let log = pod.server_log_text();
            assert!(
                log.contains("using the epoll backend"),
                "PODMON_TEST_REACTOR=epoll, but the server does not say it uses epoll:\n{log}"
            );
        }
        pod
    }

    fn wait_ready(&mut self) {
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "podmon serve exited with {st} before its socket answered; its log:\n{}",
                    self.server_log_text()
                );
            }
            if self.socket.exists() && UnixStream::connect(&self.socket).is_ok() {
                // A full round trip: the server is accepting and answering.
                let mut c = Client::connect(&self.socket);
                c.call("org.varlink.service.GetInfo", json!({})).ok();
                return;
            }
            if Instant::now() >= end {
                panic!(
                    "podmon serve did not listen on {} within 15 s; its log:\n{}",
                    self.socket.display(),
                    self.server_log_text()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn server_log_text(&self) -> String {
        fs::read_to_string(&self.server_log).unwrap_or_default()
    }

    /// Panics if the server process has exited.
    #[track_caller]
    pub fn assert_alive(&mut self) {
        if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
            panic!(
                "podmon serve died ({st}); its log:\n{}",
                self.server_log_text()
            );
        }
    }

    /// Stops the server with SIGTERM (SIGKILL after 20 s: podmon gives
    /// containers that ignore SIGTERM 10 s before it kills them); returns its exit status.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= end {
                let _ = child.kill();
                return child.wait().ok();
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.socket)
    }

    /// One call on a new connection.
    #[track_caller]
    pub fn call(&self, method: &str, params: Value) -> Reply {
        self.client().call(method, params)
    }

    /// Runs `podmon --socket SOCK ARGS...`.
    pub fn cli(&self, args: &[&str]) -> Out {
        let mut cmd = Command::new(podmon_bin());
        cmd.arg("--socket").arg(&self.socket).args(args);
        cmd.env_remove("PODMON_SOCKET");
        run_with_timeout(&mut cmd, TIMEOUT)
    }

    #[track_caller]
    pub fn cli_ok(&self, args: &[&str]) -> Out {
        self.cli(args).assert_ok()
    }

    /// CreateContainer from the shared rootfs; returns the container.
    #[track_caller]
    pub fn create(&self, id: &str, command: &[&str]) -> Value {
        self.create_with(id, command, json!({}))
    }

    /// CreateContainer with extra parameters merged in.
    #[track_caller]
    pub fn create_with(&self, id: &str, command: &[&str], extra: Value) -> Value {
        let mut p = json!({
            "id": id,
            "rootfs": rootfs().display().to_string(),
            "command": command,
        });
        if let Value::Object(m) = extra {
            for (k, v) in m {
                p[k] = v;
            }
        }
        let r = self.call("io.podmon.Pod.CreateContainer", p);
        r.ok()["container"].clone()
    }

    #[track_caller]
    pub fn start_container(&self, id: &str) -> Value {
        self.call("io.podmon.Pod.StartContainer", json!({ "id": id }))
            .ok()["container"]
            .clone()
    }

    /// create + start.
    #[track_caller]
    pub fn run(&self, id: &str, command: &[&str]) -> Value {
        self.create(id, command);
        self.start_container(id)
    }

    #[track_caller]
    pub fn get(&self, id: &str) -> Value {
        self.call("io.podmon.Pod.GetContainer", json!({ "id": id }))
            .ok()["container"]
            .clone()
    }

    /// WaitContainer; returns the reply parameters.
    #[track_caller]
    pub fn wait(&self, id: &str) -> Value {
        self.call("io.podmon.Pod.WaitContainer", json!({ "id": id }))
            .ok()
    }

    #[track_caller]
    pub fn kill(&self, id: &str, signal: &str) {
        self.call(
            "io.podmon.Pod.KillContainer",
            json!({ "id": id, "signal": signal }),
        )
        .ok();
    }

    #[track_caller]
    pub fn delete(&self, id: &str, force: bool) {
        self.call(
            "io.podmon.Pod.DeleteContainer",
            json!({ "id": id, "force": force }),
        )
        .ok();
    }

    pub fn log_path(&self, id: &str) -> PathBuf {
        self.log_dir.join(format!("{id}.log"))
    }

    pub fn log(&self, id: &str) -> String {
        let p = self.log_path(id);
        fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read log {}: {e}", p.display()))
    }

    pub fn exit_file(&self, id: &str) -> Option<String> {
        fs::read_to_string(self.exit_dir.join(id)).ok()
    }

    /// A file the test creates to let a container go on (see `gated_command`).
    pub fn gate(&self, id: &str) -> Gate {
        let name = format!("gate-{}-{}-{id}", self.name, std::process::id());
        let host = rootfs().join("tmp").join(&name);
        let _ = fs::remove_file(&host);
        Gate {
            host,
            inside: format!("/tmp/{name}"),
        }
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        let status = self.stop();
        let leftovers = cleanup_runtime(runc(), &self.state_dir.join("runtime"));
        if thread::panicking() {
            eprintln!(
                "--- pod {}: server exit {status:?}, runc leftovers {leftovers:?}, dir kept: {}\n--- server log:\n{}--- end of server log",
                self.name,
                self.dir.display(),
                self.server_log_text()
            );
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A gate: the container waits until the host creates a file in the shared rootfs's /tmp.
pub struct Gate {
    host: PathBuf,
    inside: String,
}

impl Gate {
    /// `sh -c` script that waits for the gate, then runs `then`.
    pub fn script(&self, then: &str) -> String {
        format!(
            "while [ ! -e {} ]; do usleep 20000; done; {then}",
            self.inside
        )
    }

    pub fn open(&self) {
        fs::write(&self.host, b"go").unwrap();
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.host);
    }
}

/// Asserts the common shape of a ContainerInfo.
#[track_caller]
pub fn assert_container_shape(pod: &Pod, c: &Value, id: &str) {
    assert_eq!(c["id"], json!(id), "container: {c}");
    let status = c["status"]
        .as_str()
        .unwrap_or_else(|| panic!("status missing: {c}"));
    assert!(
        ["created", "running", "stopped"].contains(&status),
        "status {status}: {c}"
    );
    assert!(
        c["bundle"].as_str().is_some_and(|b| !b.is_empty()),
        "bundle: {c}"
    );
    assert_eq!(
        c["logPath"].as_str().map(PathBuf::from),
        Some(pod.log_path(id)),
        "logPath is not LOGDIR/ID.log: {c}"
    );
    assert_recent_timestamp("createdAt", &c["createdAt"]);
    let idl_fields = idl_type_fields("ContainerInfo");
    let extra: Vec<&String> = c
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !idl_fields.contains(k))
        .collect();
    assert!(
        extra.is_empty(),
        "ContainerInfo has fields the IDL does not declare: {extra:?}: {c}"
    );
}

/// Field names of `type NAME(...)` in varlink/io.podmon.Pod.varlink.
pub fn idl_type_fields(name: &str) -> Vec<String> {
    let idl = fs::read_to_string(project_dir().join("varlink/io.podmon.Pod.varlink")).unwrap();
    let start = idl
        .find(&format!("type {name}"))
        .unwrap_or_else(|| panic!("no type {name} in the IDL"));
    let body = &idl[start..];
    let open = body.find('(').unwrap();
    let mut depth = 0;
    let mut end = open;
    for (i, ch) in body[open..].char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    end = open + i;
                    break;
                }
            }
            _ => {}
        }
    }
    body[open + 1..end]
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.trim().to_string()))
        .filter(|k| !k.is_empty())
        .collect()
}

/// Keys of a JSON object whose values are not null (absent and null are the same in Varlink).
pub fn present(c: &Value, key: &str) -> bool {
    c.get(key).is_some_and(|v| !v.is_null())
}

pub fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}
