//! Exec, ExecSync and Attach against a real `podmon serve` with runc: exit
//! codes, timeouts, output caps, the framing of upgraded connections,
//! terminals, shared attach sessions, slow clients and concurrency.

mod common;

use common::*;
use serde_json::{Value, json};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A long-running container process that ends at once on SIGTERM (so
/// dropping the Pod does not wait out podmon's 10 s grace period).
const IDLE: &str = "trap 'exit 0' TERM; while :; do sleep 0.2; done";

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const EXIT: u8 = 3;
const RESIZE: u8 = 4;
const ERROR: u8 = 5;

/// Create + start a container running `IDLE`; returns its ContainerInfo.
#[track_caller]
fn run_idle(pod: &Pod, id: &str) -> Value {
    pod.run(id, &["sh", "-c", IDLE])
}

/// ExecSync; returns the whole reply (so errors can be checked).
#[track_caller]
fn exec_sync_reply(pod: &Pod, id: &str, command: &[&str], extra: Value) -> Reply {
    let mut p = json!({ "id": id, "command": command });
    if let Value::Object(m) = extra {
        for (k, v) in m {
            p[k] = v;
        }
    }
    pod.call("io.podmon.Pod.ExecSync", p)
}

/// ExecSync that must succeed; returns its parameters.
#[track_caller]
fn exec_sync(pod: &Pod, id: &str, command: &[&str], extra: Value) -> Value {
    exec_sync_reply(pod, id, command, extra).ok()
}

/// What an upgraded session delivered.
#[derive(Debug, Default)]
struct Collected {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    exit: Option<i32>,
    error: Option<String>,
    /// The server closed the connection (with or without a last frame).
    eof: bool,
    /// Frames of a kind a client never expects (stdin/resize/unknown).
    odd: Vec<u8>,
}

impl Collected {
    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn done(&self) -> bool {
        self.exit.is_some() || self.error.is_some() || self.eof
    }
}

/// A connection upgraded by Exec or Attach: the frame protocol over a
/// plain std UnixStream.
struct Upgraded {
    stream: UnixStream,
    buf: Vec<u8>,
}

impl Upgraded {
    /// Sends `method` with `upgrade: true` and reads the one Varlink reply.
    /// Returns the whole reply message and the connection (whose further
    /// bytes are frames if the reply was not an error).
    fn open(pod: &Pod, method: &str, params: Value) -> (Value, Upgraded) {
        let stream = UnixStream::connect(&pod.socket).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        let mut u = Upgraded {
            stream,
            buf: Vec::new(),
        };
        let mut msg = serde_json::to_vec(&json!({
            "method": method,
            "parameters": params,
            "upgrade": true,
        }))
        .unwrap();
        msg.push(0);
        u.stream.write_all(&msg).expect("write call");
        let reply = u.read_message().expect("first reply");
        (reply, u)
    }

    /// One NUL-terminated Varlink message (the leftover stays buffered).
    fn read_message(&mut self) -> io::Result<Value> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == 0) {
                let m: Vec<u8> = self.buf.drain(..=i).collect();
                return serde_json::from_slice(&m[..i]).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("reply is not JSON ({e}): {:?}", String::from_utf8_lossy(&m)),
                    )
                });
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 65536];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    fn write_frame(&mut self, kind: u8, payload: &[u8]) {
        let mut f = vec![kind];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        self.stream.write_all(&f).expect("write frame");
    }

    fn stdin(&mut self, data: &[u8]) {
        self.write_frame(STDIN, data);
    }

    fn resize(&mut self, cols: u16, rows: u16) {
        let mut p = cols.to_be_bytes().to_vec();
        p.extend_from_slice(&rows.to_be_bytes());
        self.write_frame(RESIZE, &p);
    }

    /// One frame; Ok(None) on a clean EOF between frames.
    fn read_frame(&mut self) -> io::Result<Option<(u8, Vec<u8>)>> {
        loop {
            if self.buf.len() >= 5 {
                let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]])
                    as usize;
                if self.buf.len() >= 5 + len {
                    let kind = self.buf[0];
                    let payload = self.buf[5..5 + len].to_vec();
                    self.buf.drain(..5 + len);
                    return Ok(Some((kind, payload)));
                }
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) if self.buf.is_empty() => return Ok(None),
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("EOF inside a frame: {} bytes buffered", self.buf.len()),
                    ));
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset && self.buf.is_empty() => {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads frames into `c` until `stop(c)` holds, the session ends (exit,
    /// error, EOF) or `timeout` passes. Returns whether `stop` held or the
    /// session ended.
    fn read_into(
        &mut self,
        c: &mut Collected,
        timeout: Duration,
        stop: impl Fn(&Collected) -> bool,
    ) -> bool {
        let end = Instant::now() + timeout;
        while !stop(c) && !c.done() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            match self.read_frame() {
                Ok(None) => c.eof = true,
                Ok(Some((kind, p))) => match kind {
                    STDOUT => c.stdout.extend_from_slice(&p),
                    STDERR => c.stderr.extend_from_slice(&p),
                    EXIT => {
                        assert_eq!(p.len(), 4, "exit frame payload must be an i32: {p:?}");
                        c.exit = Some(i32::from_be_bytes([p[0], p[1], p[2], p[3]]));
                    }
                    ERROR => c.error = Some(String::from_utf8_lossy(&p).into_owned()),
                    other => c.odd.push(other),
                },
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return stop(c) || c.done();
                }
                Err(e) => panic!("reading frames failed: {e}; so far: {c:?}"),
            }
        }
        true
    }

    /// Reads until the session ends (exit frame, error frame or EOF).
    #[track_caller]
    fn collect(&mut self, c: &mut Collected, timeout: Duration) {
        let ok = self.read_into(c, timeout, |_| false);
        assert!(
            ok,
            "session did not end within {timeout:?}; so far: stdout {:?}, stderr {:?}",
            trunc(&c.stdout_text()),
            String::from_utf8_lossy(&c.stderr)
        );
    }

    /// Reads until stdout contains `needle`.
    #[track_caller]
    fn wait_stdout(&mut self, c: &mut Collected, needle: &str, timeout: Duration) {
        self.read_into(c, timeout, |c| c.stdout_text().contains(needle));
        assert!(
            c.stdout_text().contains(needle),
            "stdout never contained {needle:?} within {timeout:?}; got {c:?}"
        );
    }

    /// After the last frame the server must close the connection.
    #[track_caller]
    fn expect_eof(&mut self, timeout: Duration) {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
        match self.read_frame() {
            Ok(None) => {}
            Ok(Some((k, p))) => panic!("frame of kind {k} after the last frame: {p:?}"),
            Err(e) => panic!("connection not closed after the last frame: {e}"),
        }
    }
}

fn trunc(s: &str) -> String {
    if s.len() > 400 {
        format!(
            "{}...({} bytes)",
            s.chars().take(400).collect::<String>(),
            s.len()
        )
    } else {
        s.to_string()
    }
}

fn params_of(reply: &Value) -> Value {
    reply.get("parameters").cloned().unwrap_or(json!({}))
}

#[track_caller]
fn assert_no_error(reply: &Value) {
    assert!(
        reply.get("error").is_none(),
        "expected a successful reply, got {reply}"
    );
}

/// Host pids whose cmdline is exactly `args` and whose cgroup is `cgroup`.
fn procs_with_cmdline_in_cgroup(args: &[&str], cgroup: &str) -> Vec<u32> {
    let mut want = Vec::new();
    for a in args {
        want.extend_from_slice(a.as_bytes());
        want.push(0);
    }
    let mut out = vec![];
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if fs::read(format!("/proc/{pid}/cmdline")).ok().as_deref() != Some(&want[..]) {
            continue;
        }
        if fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .ok()
            .as_deref()
            == Some(cgroup)
        {
            out.push(pid);
        }
    }
    out
}

fn exec_dirs(pod: &Pod, id: &str) -> Vec<String> {
    let dir: PathBuf = pod.state_dir.join("containers").join(id).join("execs");
    fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Sum of the text lengths of a CRI log's records, and the records' count.
fn cri_text_len(log: &str) -> (usize, usize) {
    let mut total = 0;
    let mut n = 0;
    for line in log.split_terminator('\n') {
        // TIMESTAMP STREAM TAG TEXT
        let mut parts = line.splitn(4, ' ');
        let (_ts, _stream, _tag) = (parts.next(), parts.next(), parts.next());
        total += parts.next().map_or(0, str::len);
        n += 1;
    }
    (total, n)
}

// ---------------------------------------------------------------------------
// 1. ExecSync exit codes
// ---------------------------------------------------------------------------

#[test]
fn exec_sync_exit_codes() {
    let pod = Pod::start("es-codes");
    run_idle(&pod, "c1");

    let r = exec_sync(
        &pod,
        "c1",
        &["sh", "-c", "echo out; echo err >&2"],
        json!({}),
    );
    assert_eq!(r["exitCode"], json!(0), "{r}");
    assert!(!present(&r, "signal"), "no signal for a normal exit: {r}");
    assert_eq!(r["stdout"], json!("out\n"), "{r}");
    assert_eq!(r["stderr"], json!("err\n"), "{r}");
    assert_eq!(r["timedOut"], json!(false), "{r}");
    assert_eq!(r["stdoutTruncated"], json!(false), "{r}");
    assert_eq!(r["stderrTruncated"], json!(false), "{r}");

    let r = exec_sync(&pod, "c1", &["sh", "-c", "exit 3"], json!({}));
    assert_eq!(r["exitCode"], json!(3), "{r}");
    assert!(!present(&r, "signal"), "no signal for exit 3: {r}");
    assert_eq!(r["timedOut"], json!(false), "{r}");

    let r = exec_sync(&pod, "c1", &["sh", "-c", "kill -9 $$"], json!({}));
    assert_eq!(r["exitCode"], json!(137), "{r}");
    assert_eq!(r["signal"], json!("SIGKILL"), "{r}");
    assert_eq!(r["timedOut"], json!(false), "{r}");

    // The container itself is untouched by its execs.
    assert_eq!(pod.get("c1")["status"], json!("running"));
}

// ---------------------------------------------------------------------------
// 2. ExecSync timeout kills the whole tree and cleans up
// ---------------------------------------------------------------------------

#[test]
fn exec_sync_timeout_kills_everything() {
    let pod = Pod::start("es-timeout");
    let c = run_idle(&pod, "c1");
    let init = c["pid"].as_u64().expect("running container has a pid") as u32;
    let cgroup = fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();

    let socket = pod.socket.clone();
    let t0 = Instant::now();
    let worker = thread::spawn(move || {
        let mut cl = Client::connect(&socket);
        let r = cl.call(
            "io.podmon.Pod.ExecSync",
            json!({
                "id": "c1",
                "command": ["sh", "-c", "sleep 30 & sleep 30"],
                "timeoutSeconds": 1.0,
            }),
        );
        (r, t0.elapsed())
    });
    // While it runs: its working directory exists, and both sleeps run in
    // the container's cgroup (so the checks below are not vacuous).
    assert!(
        wait_until(Duration::from_secs(5), || !exec_dirs(&pod, "c1").is_empty()),
        "no exec directory under {} while the exec runs",
        pod.state_dir.join("containers/c1/execs").display()
    );
    let both_seen = wait_until(Duration::from_secs(5), || {
        procs_with_cmdline_in_cgroup(&["sleep", "30"], &cgroup).len() == 2
    });
    let (r, took) = worker.join().unwrap();
    let r = r.ok();
    assert!(
        both_seen,
        "never saw both `sleep 30` in the container's cgroup"
    );
    assert_eq!(r["timedOut"], json!(true), "{r}");
    assert!(took < Duration::from_secs(5), "ExecSync took {took:?}: {r}");
    assert!(
        took >= Duration::from_millis(900),
        "ExecSync returned before its timeout ({took:?}): {r}"
    );
    assert_eq!(r["exitCode"], json!(137), "killed by SIGKILL: {r}");
    assert_eq!(r["signal"], json!("SIGKILL"), "{r}");

    // Nothing of the exec is left: no sleep, no zombie, no directory.
    let gone = wait_until(Duration::from_secs(2), || {
        procs_with_cmdline_in_cgroup(&["sleep", "30"], &cgroup)
            .into_iter()
            .all(|p| !proc_alive(p))
    });
    assert!(
        gone,
        "`sleep 30` still runs in the container after the timeout: {:?}",
        procs_with_cmdline_in_cgroup(&["sleep", "30"], &cgroup)
            .iter()
            .map(|p| format!("{p} state {:?}", proc_state(*p)))
            .collect::<Vec<_>>()
    );
    let no_zombies = wait_until(Duration::from_secs(2), || {
        zombie_children(pod.pid).is_empty()
    });
    assert!(
        no_zombies,
        "zombie children of podmon: {:?}",
        zombie_children(pod.pid)
    );
    assert!(
        wait_until(Duration::from_secs(2), || exec_dirs(&pod, "c1").is_empty()),
        "exec directories left behind: {:?}",
        exec_dirs(&pod, "c1")
    );
    // Inside the container too, no sleep 30 (ps sees the container's pid namespace).
    let ps = exec_sync(&pod, "c1", &["ps", "-o", "pid,args"], json!({}));
    assert!(
        !ps["stdout"].as_str().unwrap().contains("sleep 30"),
        "ps in the container: {}",
        ps["stdout"]
    );
    assert_eq!(pod.get("c1")["status"], json!("running"));
}

// ---------------------------------------------------------------------------
// 3. Large output and the cap
// ---------------------------------------------------------------------------

#[test]
fn exec_sync_large_output_and_truncation() {
    let pod = Pod::start("es-large");
    run_idle(&pod, "c1");

    let r = exec_sync(
        &pod,
        "c1",
        &["head", "-c", "20000000", "/dev/zero"],
        json!({ "maxOutput": 1000000 }),
    );
    let out = r["stdout"].as_str().expect("stdout is a string");
    assert_eq!(out.len(), 1_000_000, "stdout length (cap 1000000)");
    assert!(out.bytes().all(|b| b == 0), "stdout is not all NUL bytes");
    assert_eq!(r["stdoutTruncated"], json!(true));
    assert_eq!(r["stderrTruncated"], json!(false));
    assert_eq!(
        r["exitCode"],
        json!(0),
        "head must not be blocked or killed"
    );
    assert_eq!(r["timedOut"], json!(false));

    let r = exec_sync(
        &pod,
        "c1",
        &["sh", "-c", "head -c 5000000 /dev/zero | tr '\\000' a"],
        json!({}),
    );
    let out = r["stdout"].as_str().expect("stdout is a string");
    assert_eq!(out.len(), 5_000_000, "5 MB without a cap");
    assert!(out.bytes().all(|b| b == b'a'), "stdout is not all 'a'");
    assert_eq!(r["stdoutTruncated"], json!(false));
    assert_eq!(r["exitCode"], json!(0));
}

// ---------------------------------------------------------------------------
// 4. env, cwd, user
// ---------------------------------------------------------------------------

#[test]
fn exec_sync_env_cwd_user() {
    let pod = Pod::start("es-env");
    run_idle(&pod, "c1");
    let r = exec_sync(
        &pod,
        "c1",
        &["sh", "-c", "echo $FOO; pwd; id -u; id -g"],
        json!({ "env": ["FOO=bar"], "cwd": "/tmp", "user": "1000:1000" }),
    );
    assert_eq!(r["stdout"], json!("bar\n/tmp\n1000\n1000\n"), "{r}");
    assert_eq!(r["exitCode"], json!(0), "{r}");

    // Defaults: the container's cwd (/) and user (root); FOO unset.
    let r = exec_sync(
        &pod,
        "c1",
        &["sh", "-c", "echo \"[$FOO]\"; pwd; id -u"],
        json!({}),
    );
    assert_eq!(r["stdout"], json!("[]\n/\n0\n"), "{r}");
}

// ---------------------------------------------------------------------------
// 5. Exec with `more` (no upgrade)
// ---------------------------------------------------------------------------

#[test]
fn exec_more_replies_with_stdin_parameter() {
    let pod = Pod::start("ex-more");
    run_idle(&pod, "c1");
    let input = "hello streaming\nsecond line\n";
    let mut cl = pod.client();
    let replies = cl.call_more(
        "io.podmon.Pod.Exec",
        json!({ "id": "c1", "command": ["cat"], "stdin": input }),
    );
    assert!(replies.len() >= 3, "first, output, last: {replies:?}");
    let first = replies[0].ok();
    assert!(
        replies[0].continues(),
        "first reply must continue: {replies:?}"
    );
    let exec_id = first["execId"].as_str().unwrap_or_default();
    assert!(!exec_id.is_empty(), "first reply has an execId: {first}");
    assert!(
        first["pid"].as_i64().is_some_and(|p| p > 1),
        "first reply has a pid: {first}"
    );
    let last = replies.last().unwrap();
    let lp = last.ok();
    assert!(!last.continues(), "{replies:?}");
    assert_eq!(lp["exitCode"], json!(0), "last reply: {lp}");
    let mut stdout = String::new();
    for r in &replies[1..replies.len() - 1] {
        let p = r.ok();
        assert!(r.continues(), "middle replies continue: {replies:?}");
        assert!(!present(&p, "execId") && !present(&p, "exitCode"), "{p}");
        assert!(!present(&p, "stderr"), "cat wrote to stderr: {p}");
        stdout.push_str(p["stdout"].as_str().expect("output reply carries stdout"));
    }
    assert_eq!(stdout, input);
    // The connection is still a Varlink connection afterwards.
    cl.call("io.podmon.Pod.GetPod", json!({})).ok();

    // Without more or upgrade: ExpectedMore.
    pod.call(
        "io.podmon.Pod.Exec",
        json!({ "id": "c1", "command": ["true"] }),
    )
    .err("org.varlink.service.ExpectedMore");
}

// ---------------------------------------------------------------------------
// 6. Upgraded interactive Exec
// ---------------------------------------------------------------------------

#[test]
fn exec_upgraded_interactive_stdin_round_trip() {
    let pod = Pod::start("ex-upg");
    run_idle(&pod, "c1");
    let (first, mut u) = Upgraded::open(
        &pod,
        "io.podmon.Pod.Exec",
        json!({ "id": "c1", "command": ["cat"], "interactive": true }),
    );
    assert_no_error(&first);
    assert_ne!(
        first["continues"],
        json!(true),
        "one reply then frames: {first}"
    );
    let p = params_of(&first);
    assert!(
        p["execId"].as_str().is_some_and(|s| !s.is_empty()),
        "{first}"
    );
    assert!(p["pid"].as_i64().is_some_and(|x| x > 1), "{first}");

    let mut c = Collected::default();
    u.stdin(b"hello\n");
    u.wait_stdout(&mut c, "hello\n", Duration::from_secs(10));
    assert!(
        c.exit.is_none(),
        "cat exited before stdin was closed: {c:?}"
    );
    u.stdin(b""); // EOF
    u.collect(&mut c, Duration::from_secs(10));
    assert_eq!(c.stdout_text(), "hello\n");
    assert!(c.stderr.is_empty(), "{c:?}");
    assert_eq!(c.error, None);
    assert_eq!(c.exit, Some(0), "cat exits 0 at EOF: {c:?}");
    assert!(c.odd.is_empty(), "unexpected frame kinds: {:?}", c.odd);
    u.expect_eof(Duration::from_secs(5));
    assert!(
        wait_until(Duration::from_secs(3), || exec_dirs(&pod, "c1").is_empty()),
        "exec directory left: {:?}",
        exec_dirs(&pod, "c1")
    );

    // A client that hangs up takes its exec (and what it started) with it.
    let init = pod.get("c1")["pid"].as_u64().unwrap() as u32;
    let cgroup = fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    let (first, u) = Upgraded::open(
        &pod,
        "io.podmon.Pod.Exec",
        json!({ "id": "c1", "command": ["sh", "-c", "sleep 33 & sleep 33"], "interactive": true }),
    );
    assert_no_error(&first);
    assert!(
        wait_until(Duration::from_secs(5), || {
            procs_with_cmdline_in_cgroup(&["sleep", "33"], &cgroup).len() == 2
        }),
        "the exec's two sleeps never ran"
    );
    drop(u);
    assert!(
        wait_until(Duration::from_secs(5), || {
            procs_with_cmdline_in_cgroup(&["sleep", "33"], &cgroup)
                .into_iter()
                .all(|p| !proc_alive(p))
        }),
        "the exec outlived its client: {:?}",
        procs_with_cmdline_in_cgroup(&["sleep", "33"], &cgroup)
    );
    assert!(
        wait_until(Duration::from_secs(3), || exec_dirs(&pod, "c1").is_empty()
            && zombie_children(pod.pid).is_empty()),
        "after the client left: exec dirs {:?}, zombies {:?}",
        exec_dirs(&pod, "c1"),
        zombie_children(pod.pid)
    );
}

// ---------------------------------------------------------------------------
// 7. Terminal exec and resize frames
// ---------------------------------------------------------------------------

#[test]
fn exec_terminal_resize() {
    let pod = Pod::start("ex-tty");
    run_idle(&pod, "c1");
    let (first, mut u) = Upgraded::open(
        &pod,
        "io.podmon.Pod.Exec",
        json!({
            "id": "c1",
            "command": ["sh", "-c", "sleep 0.5; stty size; tty"],
            "terminal": true,
            "interactive": true,
        }),
    );
    assert_no_error(&first);
    u.resize(100, 40);
    let mut c = Collected::default();
    u.collect(&mut c, Duration::from_secs(10));
    let out = c.stdout_text();
    assert!(
        out.contains("40 100"),
        "stty size after resize 100x40: {out:?} ({c:?})"
    );
    assert!(out.contains("/dev/pts/"), "the exec has a pty: {out:?}");
    assert!(c.stderr.is_empty(), "a terminal has one stream: {c:?}");
    assert_eq!(c.exit, Some(0), "{c:?}");
    assert_eq!(c.error, None);
}

// ---------------------------------------------------------------------------
// 8. Attach: two clients, stdin for the first, output from attach time on
// ---------------------------------------------------------------------------

#[test]
fn attach_two_clients_share_output_one_gets_stdin() {
    let pod = Pod::start("at-two");
    let script = "echo early; while read l; do [ \"$l\" = quit ] && exit 0; echo got:$l; done";
    pod.create_with("c1", &["sh", "-c", script], json!({ "stdin": true }));
    pod.start_container("c1");
    assert!(
        wait_until(Duration::from_secs(10), || pod.log("c1").contains("early")),
        "log: {}",
        pod.log("c1")
    );

    let (fa, mut a) = Upgraded::open(
        &pod,
        "io.podmon.Pod.Attach",
        json!({ "id": "c1", "stdin": true }),
    );
    assert_no_error(&fa);
    assert_eq!(
        params_of(&fa)["stdin"],
        json!(true),
        "first client gets stdin: {fa}"
    );
    let mut ca = Collected::default();
    a.stdin(b"one\n");
    a.wait_stdout(&mut ca, "got:one", Duration::from_secs(10));

    let (fb, mut b) = Upgraded::open(
        &pod,
        "io.podmon.Pod.Attach",
        json!({ "id": "c1", "stdin": true }),
    );
    assert_no_error(&fb);
    assert_eq!(
        params_of(&fb)["stdin"],
        json!(false),
        "stdin is taken: {fb}"
    );
    let mut cb = Collected::default();
    // B has no stdin: what it sends must not reach the container.
    b.stdin(b"fromb\n");
    thread::sleep(Duration::from_millis(200));

    a.stdin(b"x\n");
    a.wait_stdout(&mut ca, "got:x", Duration::from_secs(10));
    b.wait_stdout(&mut cb, "got:x", Duration::from_secs(10));

    a.stdin(b"quit\n");
    a.collect(&mut ca, Duration::from_secs(10));
    b.collect(&mut cb, Duration::from_secs(10));
    assert_eq!(ca.exit, Some(0), "A: {ca:?}");
    assert_eq!(cb.exit, Some(0), "B: {cb:?}");
    assert_eq!(pod.wait("c1")["exitCode"], json!(0));

    let (sa, sb) = (ca.stdout_text(), cb.stdout_text());
    assert!(
        !sa.contains("early"),
        "A got output from before it attached: {sa:?}"
    );
    assert!(
        !sb.contains("early"),
        "B got output from before it attached: {sb:?}"
    );
    assert!(
        !sb.contains("got:one"),
        "B got output from before it attached: {sb:?}"
    );
    assert_eq!(sa, "got:one\ngot:x\n", "A's output");
    assert_eq!(sb, "got:x\n", "B's output");
    let log = pod.log("c1");
    assert!(
        !log.contains("fromb"),
        "stdin of a client without stdin reached the container: {log}"
    );
}

// ---------------------------------------------------------------------------
// 9. A client that stops reading does not block anything
// ---------------------------------------------------------------------------

#[test]
fn attach_stuck_client_does_not_block() {
    const FLOOD: usize = 50_000_000;
    let pod = Pod::start("at-stuck");
    let g1 = pod.gate("flood");
    let g2 = pod.gate("end");
    let script = format!(
        "{}; {}",
        g1.script(&format!("head -c {FLOOD} /dev/zero | tr '\\000' a")),
        g2.script("echo; echo end; exit 0")
    );
    pod.run("c1", &["sh", "-c", &script]);

    // The stuck client: attaches, then never reads.
    let (fs_, mut stuck) = Upgraded::open(&pod, "io.podmon.Pod.Attach", json!({ "id": "c1" }));
    assert_no_error(&fs_);

    let t0 = Instant::now();
    g1.open();
    let mut max_latency = Duration::ZERO;
    let mut probes_while_flooding = 0;
    let mut flooded = false;
    while t0.elapsed() < Duration::from_secs(20) {
        let t = Instant::now();
        let gp = pod.call("io.podmon.Pod.GetPod", json!({})).ok();
        let c = pod.get("c1");
        max_latency = max_latency.max(t.elapsed());
        assert_eq!(gp["running"], json!(1), "{gp}");
        let written = c["logBytesWritten"].as_u64().unwrap_or(0) as usize;
        if written >= FLOOD {
            flooded = true;
            break;
        }
        if written > 0 {
            probes_while_flooding += 1;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let flood_time = t0.elapsed();
    assert!(
        flooded,
        "the container's {FLOOD} bytes did not reach the log within 20 s (logBytesWritten {})",
        pod.get("c1")["logBytesWritten"]
    );
    assert!(
        max_latency < Duration::from_secs(2),
        "GetPod/GetContainer took up to {max_latency:?} during the flood"
    );
    eprintln!(
        "flood of {FLOOD} bytes logged in {flood_time:?}; {probes_while_flooding} probes during it, max latency {max_latency:?}"
    );

    // A client that reads, attached after the flood, sees the end and the exit frame.
    let (fr, mut reader) = Upgraded::open(&pod, "io.podmon.Pod.Attach", json!({ "id": "c1" }));
    assert_no_error(&fr);
    assert_eq!(params_of(&fr)["stdin"], json!(false), "{fr}");
    let t1 = Instant::now();
    g2.open();
    let w = pod.wait("c1");
    assert!(
        t1.elapsed() < Duration::from_secs(10),
        "WaitContainer took {:?}",
        t1.elapsed()
    );
    assert_eq!(w["exitCode"], json!(0), "{w}");
    let mut cr = Collected::default();
    reader.collect(&mut cr, Duration::from_secs(10));
    assert!(
        cr.stdout_text().ends_with("end\n"),
        "reader: {:?}",
        trunc(&cr.stdout_text())
    );
    assert_eq!(cr.exit, Some(0), "reader sees the exit frame: {cr:?}");
    assert_eq!(cr.error, None);

    // The log has every byte.
    let log = pod.log("c1");
    let (text, records) = cri_text_len(&log);
    assert_eq!(
        text,
        FLOOD + "end".len(),
        "log text bytes ({records} records)"
    );

    // The stuck client, reading at last, finds it was cut off: an error
    // frame or EOF, never the whole output nor the exit frame.
    let mut cs = Collected::default();
    stuck.collect(&mut cs, Duration::from_secs(10));
    assert!(
        cs.error.is_some() || cs.eof,
        "stuck client: neither error frame nor EOF: {:?}",
        (cs.stdout.len(), &cs.error, cs.exit, cs.eof)
    );
    assert_eq!(
        cs.exit, None,
        "the stuck client was not cut off: got the exit frame"
    );
    assert!(
        cs.stdout.len() < FLOOD,
        "the stuck client received all {} bytes",
        cs.stdout.len()
    );
    eprintln!(
        "stuck client: {} bytes, error {:?}, eof {}",
        cs.stdout.len(),
        cs.error,
        cs.eof
    );
}

// ---------------------------------------------------------------------------
// 10. Concurrency: execs together, attach/ReopenLog during an exec, kill
// ---------------------------------------------------------------------------

/// Sends a streaming Exec with `more`; returns the client and first reply's parameters.
fn exec_more_start(pod: &Pod, id: &str, command: &[&str]) -> (Client, Value) {
    let mut cl = pod.client();
    cl.send_more(
        "io.podmon.Pod.Exec",
        json!({ "id": id, "command": command }),
    );
    let first = cl.recv();
    assert!(first.continues(), "{first:?}");
    (cl, first.ok())
}

/// Reads the rest of a streaming Exec: (stdout, last parameters).
fn exec_more_finish(cl: &mut Client, timeout: Duration) -> (String, Value) {
    cl.set_read_timeout(timeout);
    let mut out = String::new();
    loop {
        let r = cl.recv();
        let p = r.ok();
        if let Some(s) = p["stdout"].as_str() {
            out.push_str(s);
        }
        if !r.continues() {
            return (out, p);
        }
    }
}

/// A process that exits 137 by itself was not killed: the exit reports the
/// code and no signal (as `waitid` says), in Exec's last reply and its
/// `execExited` event alike; one killed by SIGKILL names the signal.
#[test]
fn exec_exit_137_by_itself_is_not_a_signal() {
    let pod = Pod::start("ex-137");
    run_idle(&pod, "c1");
    let (mut cl, _) = exec_more_start(&pod, "c1", &["sh", "-c", "exit 137"]);
    let (_, last) = exec_more_finish(&mut cl, Duration::from_secs(10));
    assert_eq!(last["exitCode"], json!(137), "{last}");
    assert!(!present(&last, "signal"), "exit 137 is not SIGKILL: {last}");

    let (mut cl, _) = exec_more_start(&pod, "c1", &["sh", "-c", "kill -9 $$"]);
    let (_, last) = exec_more_finish(&mut cl, Duration::from_secs(10));
    assert_eq!(last["exitCode"], json!(137), "{last}");
    assert_eq!(last["signal"], json!("SIGKILL"), "{last}");

    let r = exec_sync(&pod, "c1", &["sh", "-c", "exit 137"], json!({}));
    assert_eq!(r["exitCode"], json!(137), "{r}");
    assert!(!present(&r, "signal"), "{r}");
}

#[test]
fn concurrent_execs_attach_reopen_and_kill() {
    let pod = Pod::start("ex-conc");
    pod.run(
        "c1",
        &[
            "sh",
            "-c",
            "trap 'exit 0' TERM; while :; do echo tick; sleep 0.2; done",
        ],
    );

    // Two execs at once.
    let (mut e1, f1) = exec_more_start(&pod, "c1", &["sh", "-c", "sleep 1.5; echo one"]);
    let (mut e2, f2) = exec_more_start(&pod, "c1", &["sh", "-c", "echo two; exit 4"]);
    let (id1, id2) = (
        f1["execId"].as_str().unwrap(),
        f2["execId"].as_str().unwrap(),
    );
    assert_ne!(id1, id2, "execIds must differ");
    assert_ne!(f1["pid"], f2["pid"]);
    let (o2, l2) = exec_more_finish(&mut e2, Duration::from_secs(10));
    assert_eq!(o2, "two\n");
    assert_eq!(l2["exitCode"], json!(4), "{l2}");

    // Attach while exec 1 still runs: the container's output, not the exec's.
    let mut at = pod.client();
    at.send_more("io.podmon.Pod.Attach", json!({ "id": "c1" }));
    let af = at.recv();
    assert_eq!(af.ok()["stdin"], json!(false), "{af:?}");
    let mut got = String::new();
    while !got.contains("tick") {
        let r = at.recv();
        got.push_str(r.ok()["stdout"].as_str().unwrap_or(""));
    }
    drop(at);

    // ReopenLog while exec 1 still runs (as an outside rotator would).
    let log = pod.log_path("c1");
    let old = log.with_extension("log.rotated");
    fs::rename(&log, &old).unwrap();
    pod.call("io.podmon.Pod.ReopenLog", json!({ "id": "c1" }))
        .ok();
    assert!(
        wait_until(Duration::from_secs(5), || fs::read_to_string(&log)
            .is_ok_and(|s| s.contains("tick"))),
        "no new log with output after ReopenLog"
    );

    let (o1, l1) = exec_more_finish(&mut e1, Duration::from_secs(10));
    assert_eq!(o1, "one\n");
    assert_eq!(l1["exitCode"], json!(0), "{l1}");
    let all_logs = fs::read_to_string(&old).unwrap() + &fs::read_to_string(&log).unwrap();
    assert!(
        !all_logs.contains("one") && !all_logs.contains("two"),
        "exec output went into the container's log"
    );

    // KillContainer while an exec runs kills the container.
    let (mut e3, _f3) = exec_more_start(&pod, "c1", &["sleep", "31"]);
    pod.kill("c1", "KILL");
    let mut wc = pod.client();
    wc.set_read_timeout(Duration::from_secs(10));
    let w = wc
        .call("io.podmon.Pod.WaitContainer", json!({ "id": "c1" }))
        .ok();
    assert_eq!(
        w["exitCode"],
        json!(137),
        "container killed by SIGKILL: {w}"
    );
    assert_eq!(w["signal"], json!("SIGKILL"), "{w}");
    // The exec dies with its container (its pid namespace ends).
    let (_, l3) = exec_more_finish(&mut e3, Duration::from_secs(10));
    assert!(present(&l3, "exitCode"), "{l3}");
    assert_ne!(l3["exitCode"], json!(0), "{l3}");
    assert!(
        wait_until(Duration::from_secs(3), || exec_dirs(&pod, "c1").is_empty()),
        "exec directories left: {:?}",
        exec_dirs(&pod, "c1")
    );
    assert!(
        wait_until(Duration::from_secs(3), || zombie_children(pod.pid)
            .is_empty()),
        "zombies: {:?}",
        zombie_children(pod.pid)
    );
}

// ---------------------------------------------------------------------------
// 11. Errors
// ---------------------------------------------------------------------------

#[test]
fn exec_errors() {
    let pod = Pod::start("ex-err");

    // Exited container.
    pod.run("done", &["true"]);
    pod.wait("done");
    let e = exec_sync_reply(&pod, "done", &["true"], json!({})).err("io.podmon.Pod.InvalidState");
    assert_eq!(e["id"], json!("done"), "{e}");
    assert_eq!(e["status"], json!("stopped"), "{e}");
    assert!(e["reason"].as_str().is_some_and(|r| !r.is_empty()), "{e}");
    let mut cl = pod.client();
    let r = cl.call_more(
        "io.podmon.Pod.Exec",
        json!({ "id": "done", "command": ["true"] }),
    );
    assert_eq!(r.len(), 1, "{r:?}");
    let e = r[0].err("io.podmon.Pod.InvalidState");
    assert!(e["reason"].as_str().is_some_and(|r| !r.is_empty()), "{e}");
    let (reply, _u) = Upgraded::open(&pod, "io.podmon.Pod.Attach", json!({ "id": "done" }));
    assert_eq!(
        reply["error"],
        json!("io.podmon.Pod.InvalidState"),
        "{reply}"
    );

    // Created but not started.
    pod.create("fresh", &["true"]);
    let e = exec_sync_reply(&pod, "fresh", &["true"], json!({})).err("io.podmon.Pod.InvalidState");
    assert_eq!(e["status"], json!("created"), "{e}");
    assert!(e["reason"].as_str().is_some_and(|r| !r.is_empty()), "{e}");

    // Unknown container, over a plain and an upgraded connection (which
    // stays a Varlink connection when the call fails).
    let e =
        exec_sync_reply(&pod, "nope", &["true"], json!({})).err("io.podmon.Pod.NoSuchContainer");
    assert_eq!(e["id"], json!("nope"));
    let (reply, mut u) = Upgraded::open(
        &pod,
        "io.podmon.Pod.Exec",
        json!({ "id": "nope", "command": ["true"], "interactive": true }),
    );
    assert_eq!(
        reply["error"],
        json!("io.podmon.Pod.NoSuchContainer"),
        "{reply}"
    );
    assert_eq!(params_of(&reply)["id"], json!("nope"), "{reply}");
    let mut msg = serde_json::to_vec(&json!({ "method": "io.podmon.Pod.GetPod" })).unwrap();
    msg.push(0);
    u.stream.write_all(&msg).unwrap();
    let gp = u.read_message().expect("GetPod after a failed upgrade");
    assert!(
        gp.get("error").is_none() && params_of(&gp)["name"] == json!("ex-err"),
        "{gp}"
    );

    // A binary that does not exist: the runtime's error names it.
    run_idle(&pod, "c1");
    for bin in ["/no/such-binary-xyz", "no-such-cmd-xyz"] {
        let e = exec_sync_reply(&pod, "c1", &[bin], json!({})).err("io.podmon.Pod.RuntimeError");
        let name = bin.rsplit('/').next().unwrap();
        assert!(
            e["message"].as_str().is_some_and(|m| m.contains(name)),
            "RuntimeError message does not name {bin}: {e}"
        );
        assert_eq!(e["command"], json!("exec"), "{e}");
        assert!(
            e["runtime"].as_str().is_some_and(|r| r.contains("runc")),
            "{e}"
        );
    }
    assert!(
        wait_until(Duration::from_secs(2), || exec_dirs(&pod, "c1").is_empty()),
        "failed execs left directories: {:?}",
        exec_dirs(&pod, "c1")
    );
    // The container is fine.
    let r = exec_sync(&pod, "c1", &["echo", "ok"], json!({}));
    assert_eq!(r["stdout"], json!("ok\n"));
}

/// Open file descriptors of a process.
fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn attach_stdin_once_closes_stdin_when_the_client_leaves() {
    let pod = Pod::start("at-once");
    // `cat` ends when its stdin reaches end of file.
    pod.create_with(
        "c1",
        &["sh", "-c", "cat; echo stdin-closed"],
        json!({ "stdin": true, "stdinOnce": true }),
    );
    pod.start_container("c1");
    let (first, mut a) = Upgraded::open(
        &pod,
        "io.podmon.Pod.Attach",
        json!({ "id": "c1", "stdin": true }),
    );
    assert_eq!(params_of(&first)["stdin"], json!(true), "{first}");
    let mut ca = Collected::default();
    a.stdin(b"line\n");
    a.wait_stdout(&mut ca, "line", Duration::from_secs(10));
    assert_eq!(pod.get("c1")["status"], json!("running"));
    // The client leaves without closing stdin itself: with stdinOnce the
    // container's stdin closes, cat ends, the container exits.
    drop(a);
    let w = pod.wait("c1");
    assert_eq!(w["exitCode"], json!(0), "{w}");
    assert!(pod.log("c1").contains("stdin-closed"), "{}", pod.log("c1"));
}

#[test]
fn execs_leave_no_fds_behind() {
    let pod = Pod::start("ex-fds");
    run_idle(&pod, "c1");
    // Warm up once (lazily opened descriptors, io-wq), then measure.
    exec_sync(&pod, "c1", &["true"], json!({}));
    let before = fd_count(pod.pid);
    for _ in 0..10 {
        exec_sync(
            &pod,
            "c1",
            &["sh", "-c", "echo out; echo err >&2"],
            json!({}),
        );
        exec_sync(
            &pod,
            "c1",
            &["sleep", "5"],
            json!({ "timeoutSeconds": 0.2 }),
        );
    }
    let (_, mut s) = Upgraded::open(
        &pod,
        "io.podmon.Pod.Exec",
        json!({ "id": "c1", "command": ["cat"], "interactive": true, "terminal": true }),
    );
    s.stdin(b"");
    drop(s);
    assert!(
        // At most as many: a connection of the harness that was still open
        // when counting may have closed since.
        wait_until(Duration::from_secs(10), || fd_count(pod.pid) <= before),
        "podmon had {before} fds before 21 execs and {} after",
        fd_count(pod.pid)
    );
    assert!(
        exec_dirs(&pod, "c1").is_empty(),
        "{:?}",
        exec_dirs(&pod, "c1")
    );
    assert!(zombie_children(pod.pid).is_empty());
}

#[test]
fn streaming_exec_ends_after_its_process_even_if_a_child_holds_the_pipes() {
    let pod = Pod::start("ex-bg");
    run_idle(&pod, "c1");
    let t0 = Instant::now();
    let (first, mut s) = Upgraded::open(
        &pod,
        "io.podmon.Pod.Exec",
        json!({ "id": "c1", "command": ["sh", "-c", "sleep 20 & echo hi; exit 4"] }),
    );
    assert_no_error(&first);
    let mut c = Collected::default();
    s.collect(&mut c, Duration::from_secs(15));
    assert_eq!(c.exit, Some(4), "{c:?}");
    assert_eq!(c.stdout_text(), "hi\n");
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "the exit frame came {took:?} after the start: the background child's pipes held it"
    );
}
