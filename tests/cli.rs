//! The `podmon` command line as a person uses it, against a real
//! `podmon serve` with runc: exec (exit codes, streams, timeouts, piped
//! stdin, a pty), attach with the detach keys, logs, stats, pod, events,
//! and the messages and exit statuses of mistakes.
//!
//! Terminals are real pseudo-terminals opened here (openpty), with the
//! podmon client as the session leader whose controlling terminal is the
//! pty's slave side.

mod common;

use common::*;
use serde_json::Value;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A long-running container process that ends at once on SIGTERM (so
/// dropping the Pod does not wait out podmon's 10 s grace period).
const IDLE: &str = "trap 'exit 0' TERM; while :; do sleep 0.2; done";

/// The `podmon` command aimed at the pod's socket, as a user would type it.
fn podmon(pod: &Pod, args: &[&str]) -> Command {
    let mut cmd = Command::new(podmon_bin());
    cmd.arg("--socket").arg(&pod.socket).args(args);
    cmd.env_remove("PODMON_SOCKET");
    cmd
}

/// `podmon create ID --rootfs ROOTFS [OPTS...] -- CMD...` and `podmon start ID`
/// through the command line.
#[track_caller]
fn cli_run(pod: &Pod, id: &str, opts: &[&str], command: &[&str]) {
    let rootfs = rootfs().display().to_string();
    let mut args = vec!["create", id, "--rootfs", rootfs.as_str()];
    args.extend_from_slice(opts);
    args.push("--");
    args.extend_from_slice(command);
    let out = pod.cli_ok(&args);
    assert_eq!(out.stdout, format!("{id}\n"), "create prints the id");
    let out = pod.cli_ok(&["start", id]);
    assert_eq!(out.stdout, format!("{id}\n"), "start prints the id");
}

/// Output of a command whose output is compared as bytes.
struct BytesOut {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
    elapsed: Duration,
}

/// Runs `cmd` with `input` written to its stdin (then closed), collecting
/// stdout as bytes; fails the test after `timeout`.
fn run_with_input(mut cmd: Command, input: Vec<u8>, timeout: Duration) -> BytesOut {
    let desc = format!("{cmd:?}");
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {desc}: {e}"));
    let mut si = child.stdin.take().unwrap();
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let tin = thread::spawn(move || {
        let _ = si.write_all(&input);
    });
    let tout = thread::spawn(move || {
        let mut v = vec![];
        let _ = so.read_to_end(&mut v);
        v
    });
    let terr = thread::spawn(move || {
        let mut v = vec![];
        let _ = se.read_to_end(&mut v);
        v
    });
    let status = wait_child(&mut child, timeout, &desc);
    let elapsed = start.elapsed();
    tin.join().unwrap();
    BytesOut {
        status,
        stdout: tout.join().unwrap(),
        stderr: String::from_utf8_lossy(&terr.join().unwrap()).into_owned(),
        elapsed,
    }
}

/// Waits for a child; kills it and fails the test after `timeout`.
#[track_caller]
fn wait_child(child: &mut Child, timeout: Duration, what: &str) -> ExitStatus {
    let end = Instant::now() + timeout;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {timeout:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Lines a background command printed, collected by a thread, each with
/// the time it arrived.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<(Instant, String)>>>);

impl Lines {
    fn collect(stream: impl Read + Send + 'static) -> (Lines, JoinHandle<()>) {
        let lines = Lines::default();
        let l = lines.clone();
        let h = thread::spawn(move || {
            let mut r = io::BufReader::new(stream);
            let mut line = String::new();
            loop {
                line.clear();
                match io::BufRead::read_line(&mut r, &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        l.0.lock()
                            .unwrap()
                            .push((Instant::now(), line.trim_end_matches('\n').to_owned()))
                    }
                }
            }
        });
        (lines, h)
    }

    fn texts(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Waits until a line satisfies `f`; returns it.
    fn wait_for(&self, timeout: Duration, f: impl Fn(&str) -> bool) -> Option<String> {
        let mut found = None;
        wait_until(timeout, || {
            found = self.texts().into_iter().find(|l| f(l));
            found.is_some()
        });
        found
    }
}

// --- pseudo-terminals ------------------------------------------------------

/// A pty pair: the test types into the master and reads everything the
/// program writes to its terminal; the program gets the slave as stdin,
/// stdout, stderr and controlling terminal.
struct Pty {
    master: File,
    slave: OwnedFd,
    output: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl Pty {
    fn open(rows: u16, cols: u16) -> Pty {
        let mut master: libc::c_int = -1;
        let mut slave: libc::c_int = -1;
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: valid out pointers; a null name and termios are allowed.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &ws,
            )
        };
        assert_eq!(rc, 0, "openpty: {}", io::Error::last_os_error());
        // SAFETY: openpty returned two new descriptors that we now own.
        let (master, slave) = unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let output = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let mut m = master.try_clone().unwrap();
            let output = output.clone();
            let stop = stop.clone();
            thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while !stop.load(Ordering::SeqCst) {
                    let mut pfd = libc::pollfd {
                        fd: m.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd.
                    let n = unsafe { libc::poll(&mut pfd, 1, 50) };
                    if n <= 0 {
                        continue;
                    }
                    match m.read(&mut buf) {
                        Ok(0) => thread::sleep(Duration::from_millis(20)),
                        Ok(n) => output.lock().unwrap().extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => thread::sleep(Duration::from_millis(20)),
                    }
                }
            })
        };
        Pty {
            master,
            slave,
            output,
            stop,
            reader: Some(reader),
        }
    }

    /// Starts `cmd` in a new session with the slave as its controlling
    /// terminal and standard streams.
    fn spawn(&self, mut cmd: Command) -> Child {
        let fd = |_| Stdio::from(self.slave.try_clone().unwrap());
        cmd.stdin(fd(0)).stdout(fd(1)).stderr(fd(2));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.spawn().expect("spawn under the pty")
    }

    /// Types bytes, as a user at the keyboard.
    fn type_bytes(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
        self.master.flush().unwrap();
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits until the terminal showed `needle`.
    fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.text().contains(needle))
    }

    /// The slave's terminal settings: (iflag, oflag, cflag, lflag).
    fn modes(&self) -> (u32, u32, u32, u32) {
        // SAFETY: termios is plain data filled by tcgetattr.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: valid fd and out pointer.
        let rc = unsafe { libc::tcgetattr(self.slave.as_raw_fd(), &mut t) };
        assert_eq!(rc, 0, "tcgetattr: {}", io::Error::last_os_error());
        (t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag)
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }
}

/// A reproducible megabyte with every byte value (so not text).
fn binary_megabyte() -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..(1 << 20))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 11) as u8
        })
        .collect()
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or_else(|| (a.len() != b.len()).then(|| a.len().min(b.len())))
}

// ---------------------------------------------------------------------------
// 1. exec: exit codes, streams, --timeout, piped stdin
// ---------------------------------------------------------------------------

#[test]
fn exec_exit_status_streams_timeout_and_piped_stdin() {
    let pod = Pod::start("cliexec");
    cli_run(&pod, "c1", &[], &["sh", "-c", IDLE]);

    // The command's exit status is podmon's.
    let out = pod.cli(&["exec", "c1", "--", "true"]).assert_code(0);
    assert_eq!(out.stdout, "", "{out:?}");
    assert_eq!(out.stderr, "", "{out:?}");
    pod.cli(&["exec", "c1", "--", "sh", "-c", "exit 3"])
        .assert_code(3);
    pod.cli(&["exec", "c1", "--", "sh", "-c", "kill -9 $$"])
        .assert_code(137);
    pod.cli(&["exec", "--sync", "c1", "--", "sh", "-c", "exit 3"])
        .assert_code(3);

    // stdout and stderr land on the matching streams, streamed or synchronous.
    for sync in [false, true] {
        let mut args = vec!["exec"];
        if sync {
            args.push("--sync");
        }
        args.extend([
            "c1",
            "--",
            "sh",
            "-c",
            "echo to-out; echo to-err >&2; echo more-out; exit 0",
        ]);
        let out = pod.cli(&args).assert_code(0);
        assert_eq!(out.stdout, "to-out\nmore-out\n", "sync={sync}: {out:?}");
        assert_eq!(out.stderr, "to-err\n", "sync={sync}: {out:?}");
    }

    // --timeout kills the command: status 137 and a note on stderr.
    let t = Instant::now();
    let out = pod
        .cli(&["exec", "--timeout", "1", "c1", "--", "sleep", "10"])
        .assert_code(137);
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "exec --timeout 1 took {took:?}"
    );
    assert!(
        took >= Duration::from_millis(900),
        "exec --timeout 1 ended after only {took:?}: {out:?}"
    );
    assert!(
        out.stderr.starts_with("podmon: ") && out.stderr.contains("timed out"),
        "a note about the timeout on stderr: {out:?}"
    );
    assert_eq!(out.stdout, "", "{out:?}");

    // -i: data piped to stdin round-trips byte for byte.
    let data = binary_megabyte();
    let out = run_with_input(
        podmon(&pod, &["exec", "-i", "c1", "--", "cat"]),
        data.clone(),
        Duration::from_secs(30),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "exec -i cat: {} (stderr {:?})",
        out.status,
        out.stderr
    );
    assert_eq!(out.stderr, "");
    assert!(
        out.stdout == data,
        "exec -i cat returned {} bytes for {} (first difference at {:?}) in {:?}",
        out.stdout.len(),
        data.len(),
        first_difference(&out.stdout, &data),
        out.elapsed
    );

    // Without -i the command's stdin is closed: cat ends at once, piped data or not.
    let out = run_with_input(
        podmon(&pod, &["exec", "c1", "--", "cat"]),
        b"not for cat\n".to_vec(),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", out.stderr);
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

// ---------------------------------------------------------------------------
// 2. exec -it under a pty
// ---------------------------------------------------------------------------

#[test]
fn exec_it_under_a_pty_gets_the_window_size_and_exit_status() {
    let pod = Pod::start("cliexecit");
    cli_run(&pod, "c1", &[], &["sh", "-c", IDLE]);

    // `exec -it` under a terminal of 33 rows and 101 columns.
    let run_it = |script: &str| {
        let pty = Pty::open(33, 101);
        let before = pty.modes();
        let mut child = pty.spawn(podmon(
            &pod,
            &["exec", "-it", "c1", "--", "sh", "-c", script],
        ));
        let status = wait_child(&mut child, Duration::from_secs(20), "podmon exec -it");
        // Whatever is still in flight through the pty.
        pty.wait_for("\n", Duration::from_secs(2));
        thread::sleep(Duration::from_millis(100));
        let shown = pty.text();
        // The raw mode podmon set for the session is undone on the way out.
        assert_eq!(
            pty.modes(),
            before,
            "terminal modes restored after exec -it"
        );
        (status, shown)
    };

    // A command that looks at its window size a moment after it started.
    let (status, late) = run_it("sleep 0.5; stty size; exit 7");
    assert_eq!(
        status.code(),
        Some(7),
        "exec -it status; terminal showed {late:?}"
    );
    assert!(
        late.contains("33 101"),
        "stty size (after 0.5 s) inside the exec shows our window size: {late:?}"
    );

    // A tty exec has one stream: stderr comes through the terminal too.
    let (status, shown) = run_it("tty; echo err-line >&2");
    assert_eq!(status.code(), Some(0), "{shown:?}");
    assert!(shown.contains("/dev/pts/"), "the exec has a pty: {shown:?}");
    assert!(shown.contains("err-line"), "{shown:?}");

    // A command that asks for the size at once (as `stty size`, a shell
    // or an editor do when they start) must see it too.
    // Three tries, as the size may or may not win the race to the command.
    let mut seen = vec![];
    for _ in 0..3 {
        let (status, shown) = run_it("stty size; exit 7");
        assert_eq!(
            status.code(),
            Some(7),
            "exec -it status; terminal showed {shown:?}"
        );
        seen.push(shown);
    }
    assert!(
        seen.iter().all(|s| s.contains("33 101")),
        "stty size, run at once inside `exec -it`, shows our window size (33 rows, 101 \
         columns); three runs showed {seen:?} (the same command after 0.5 s showed \
         {late:?}): the exec's pty only gets the size from the resize frame sent after \
         it started"
    );
}

// ---------------------------------------------------------------------------
// 3. attach, detach with ctrl-p ctrl-q, attach again
// ---------------------------------------------------------------------------

#[test]
fn attach_types_detaches_and_reattaches() {
    let pod = Pod::start("cliattach");
    cli_run(&pod, "c1", &["--terminal", "--stdin"], &["sh"]);
    assert_eq!(pod.get("c1")["status"], "running");

    // First session: type a command, see its output, detach.
    let mut pty = Pty::open(30, 100);
    let before = pty.modes();
    let mut child = pty.spawn(podmon(&pod, &["attach", "c1"]));
    pty.type_bytes(b"echo hi-$((1+2))\r");
    assert!(
        pty.wait_for("hi-3", Duration::from_secs(10)),
        "the shell's output shows through attach: {:?}",
        pty.text()
    );
    assert!(child.try_wait().unwrap().is_none(), "attach still running");
    pty.type_bytes(&[0x10, 0x11]);
    let status = wait_child(
        &mut child,
        Duration::from_secs(10),
        "podmon attach (detach)",
    );
    pty.wait_for("detached", Duration::from_secs(2));
    let shown = pty.text();
    assert_eq!(status.code(), Some(0), "detach exits 0: {shown:?}");
    assert!(
        shown.contains("detached"),
        "the client says it detached: {shown:?}"
    );
    assert_eq!(pty.modes(), before, "terminal modes restored after detach");
    thread::sleep(Duration::from_millis(300));
    let c = pod.get("c1");
    assert_eq!(
        c["status"], "running",
        "detaching leaves the container running: {c}"
    );
    let state = pod.cli_ok(&["state", "c1"]);
    assert!(
        state
            .stdout
            .lines()
            .any(|l| l.starts_with("status:") && l.ends_with("running")),
        "{state:?}"
    );
    drop(pty);

    // Second session: the shell is still there and still takes our input.
    let mut pty = Pty::open(30, 100);
    let mut child = pty.spawn(podmon(&pod, &["attach", "c1"]));
    pty.type_bytes(b"echo again-$((2*3))\r");
    assert!(
        pty.wait_for("again-6", Duration::from_secs(10)),
        "second attach: {:?}",
        pty.text()
    );
    pty.type_bytes(b"exit 5\r");
    let status = wait_child(
        &mut child,
        Duration::from_secs(10),
        "podmon attach (exit 5)",
    );
    assert_eq!(
        status.code(),
        Some(5),
        "attach exits with the container's status: {:?}",
        pty.text()
    );
    let out = pod.cli(&["wait", "c1"]).assert_code(5);
    assert_eq!(out.stdout, "5\n");
}

// ---------------------------------------------------------------------------
// 4. logs
// ---------------------------------------------------------------------------

#[test]
fn logs_streams_tail_timestamps_and_follow() {
    let pod = Pod::start("clilogs");
    cli_run(
        &pod,
        "c1",
        &[],
        &[
            "sh",
            "-c",
            "echo o1; usleep 100000; echo e1 >&2; usleep 100000; echo o2; usleep 100000; \
             echo e2 >&2; usleep 100000; echo o3",
        ],
    );
    pod.cli(&["wait", "c1"]).assert_code(0);

    // Each record on the stream it was written to, in order.
    let out = pod.cli_ok(&["logs", "c1"]);
    assert_eq!(out.stdout, "o1\no2\no3\n", "{out:?}");
    assert_eq!(out.stderr, "e1\ne2\n", "{out:?}");

    // --tail 2: the last two records, e2 (stderr) and o3 (stdout).
    let out = pod.cli_ok(&["logs", "--tail", "2", "c1"]);
    assert_eq!(out.stdout, "o3\n", "{out:?}");
    assert_eq!(out.stderr, "e2\n", "{out:?}");

    // --timestamps: an RFC 3339 time, a space, the line; times never go back.
    let out = pod.cli_ok(&["logs", "--timestamps", "c1"]);
    let mut times = vec![];
    for (stream, text, want) in [
        ("stdout", &out.stdout, ["o1", "o2", "o3"].as_slice()),
        ("stderr", &out.stderr, ["e1", "e2"].as_slice()),
    ] {
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), want.len(), "{stream}: {text:?}");
        for (line, w) in lines.iter().zip(want) {
            let (ts, rest) = line
                .split_once(' ')
                .unwrap_or_else(|| panic!("no timestamp: {line:?}"));
            assert_recent_timestamp(&format!("{stream} timestamp"), &Value::from(ts));
            assert_eq!(rest, *w, "{line:?}");
            times.push((rfc3339_to_unix(ts), *w));
        }
    }
    times.sort();
    let order: Vec<&str> = times.iter().map(|(_, w)| *w).collect();
    assert_eq!(
        order,
        ["o1", "e1", "o2", "e2", "o3"],
        "timestamps follow the output order"
    );

    // -f on a running container: lines as they come, exit when it exits.
    let g1 = pod.gate("f1");
    let g2 = pod.gate("f2");
    let script = format!(
        "echo first; {}",
        g1.script(&format!(
            "echo second; echo second-err >&2; {}",
            g2.script("echo last; exit 0")
        ))
    );
    cli_run(&pod, "c2", &[], &["sh", "-c", &script]);
    let mut cmd = podmon(&pod, &["logs", "-f", "c2"]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let (out_lines, h1) = Lines::collect(child.stdout.take().unwrap());
    let (err_lines, h2) = Lines::collect(child.stderr.take().unwrap());
    assert!(
        out_lines
            .wait_for(Duration::from_secs(10), |l| l == "first")
            .is_some(),
        "logs -f shows the first line: {:?}",
        out_lines.texts()
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "logs -f goes on while c2 runs"
    );
    g1.open();
    assert!(
        out_lines
            .wait_for(Duration::from_secs(10), |l| l == "second")
            .is_some(),
        "logs -f shows a line written later: {:?}",
        out_lines.texts()
    );
    assert!(
        err_lines
            .wait_for(Duration::from_secs(10), |l| l == "second-err")
            .is_some(),
        "stderr lines go to stderr: {:?}",
        err_lines.texts()
    );
    thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "logs -f still follows");
    g2.open();
    let w = pod.wait("c2");
    let exited = Instant::now();
    assert_eq!(w["exitCode"], 0, "{w}");
    let status = wait_child(&mut child, Duration::from_secs(10), "podmon logs -f");
    let lag = exited.elapsed();
    h1.join().unwrap();
    h2.join().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "logs -f exits 0 when the container has exited"
    );
    assert!(
        lag < Duration::from_secs(1),
        "logs -f ended {lag:?} after the container's exit"
    );
    assert_eq!(out_lines.texts(), ["first", "second", "last"]);
    assert_eq!(err_lines.texts(), ["second-err"]);
}

#[test]
fn logs_keep_the_order_across_streams_on_one_terminal() {
    let pod = Pod::start("clilogorder");
    cli_run(
        &pod,
        "c1",
        &[],
        &[
            "sh",
            "-c",
            "echo o1; usleep 100000; echo e1 >&2; usleep 100000; echo o2; usleep 100000; \
             echo e2 >&2; usleep 100000; echo o3",
        ],
    );
    pod.cli(&["wait", "c1"]).assert_code(0);
    let want = "o1\ne1\no2\ne2\no3\n";

    // At a terminal (stdout and stderr both the user's screen).
    let pty = Pty::open(24, 80);
    let mut child = pty.spawn(podmon(&pod, &["logs", "c1"]));
    let status = wait_child(
        &mut child,
        Duration::from_secs(20),
        "podmon logs at a terminal",
    );
    pty.wait_for("o3", Duration::from_secs(2));
    pty.wait_for("e2", Duration::from_secs(2));
    let screen = pty.text().replace("\r\n", "\n");
    assert_eq!(status.code(), Some(0), "{screen:?}");

    // Both streams into one (2>&1): the lines in the order they were written.
    let out = run_with_timeout(
        Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" 2>&1")
            .arg(podmon_bin())
            .arg("--socket")
            .arg(&pod.socket)
            .args(["logs", "c1"]),
        TIMEOUT,
    )
    .assert_ok();
    assert!(
        screen == want && out.stdout == want,
        "the log's records (o1 e1 o2 e2 o3, in this order in the CRI log) come out \
         in another order when stdout and stderr are one place:\n\
         at a terminal: {screen:?}\n`podmon logs c1 2>&1`: {:?}\nCRI log:\n{}",
        out.stdout,
        pod.log("c1")
    );
}

// ---------------------------------------------------------------------------
// 5. stats, pod, events
// ---------------------------------------------------------------------------

#[test]
fn stats_pod_and_events() {
    let pod = Pod::start("clistats");
    cli_run(&pod, "c1", &["--memory-max", "64M"], &["sh", "-c", IDLE]);

    // stats ID: a table with the id, a CPU % and the memory limit.
    let out = pod.cli_ok(&["stats", "c1"]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "a header and one row: {out:?}");
    assert!(
        lines[0].starts_with("ID")
            && lines[0].contains("CPU %")
            && lines[0].contains("MEM USAGE / LIMIT"),
        "{out:?}"
    );
    let row = lines[1];
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[0], "c1", "{row:?}");
    let cpu = cells[1]
        .strip_suffix('%')
        .and_then(|p| p.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("CPU % is a percentage: {row:?}"));
    assert!(
        (0.0..=200.0).contains(&cpu),
        "CPU % {cpu} on 2 cores: {row:?}"
    );
    assert!(row.contains(" / 64.0MiB"), "memory limit 64 MiB: {row:?}");
    let usage = cells[2];
    assert!(
        usage.ends_with("iB") || usage.ends_with('B'),
        "memory usage before the limit: {row:?}"
    );

    // stats --json: JSON lines that parse, with the numbers.
    let out = pod.cli_ok(&["stats", "--json", "c1"]);
    let replies: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect();
    assert!(!replies.is_empty(), "{out:?}");
    for r in &replies {
        assert_eq!(r["stats"]["id"], "c1", "{r}");
        assert_eq!(r["stats"]["memory"]["limit"], 64 << 20, "{r}");
    }

    // pod: the name and counts.
    let out = pod.cli_ok(&["pod"]);
    let field = |key: &str| {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}:")))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {key}: line in {out:?}"))
            .to_owned()
    };
    assert_eq!(field("name"), "clistats");
    assert_eq!(field("containers"), "0 created, 1 running, 0 stopped");
    assert!(
        field("monitor").starts_with(&format!("pid {}", pod.pid)),
        "{out:?}"
    );

    // events: the current state, then created/started/exited of a container run meanwhile.
    let mut cmd = podmon(&pod, &["events"]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut events = cmd.spawn().unwrap();
    let (lines, h) = Lines::collect(events.stdout.take().unwrap());
    let mut events_err = events.stderr.take().unwrap();
    assert!(
        lines
            .wait_for(Duration::from_secs(10), |l| l == "state c1 running")
            .is_some(),
        "events starts with the current state: {:?}",
        lines.texts()
    );
    cli_run(&pod, "c2", &[], &["sh", "-c", "exit 4"]);
    let out = pod.cli(&["wait", "c2"]).assert_code(4);
    assert_eq!(out.stdout, "4\n");
    let exited = lines.wait_for(Duration::from_secs(5), |l| l.contains(" exited c2"));
    thread::sleep(Duration::from_millis(200));
    let _ = events.kill();
    let _ = events.wait();
    h.join().unwrap();
    let mut err = String::new();
    let _ = events_err.read_to_string(&mut err);
    let got = lines.texts();
    assert!(exited.is_some(), "no exited line: {got:?} (stderr {err:?})");
    let find = |kind: &str| {
        got.iter()
            .position(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() >= 3 && w[1] == kind && w[2] == "c2"
            })
            .unwrap_or_else(|| panic!("no {kind} c2 line: {got:?}"))
    };
    let (created, started, exited) = (find("created"), find("started"), find("exited"));
    assert!(created < started && started < exited, "in order: {got:?}");
    assert!(got[exited].ends_with(" exit=4"), "{got:?}");
    for i in [created, started, exited] {
        let ts = got[i].split_whitespace().next().unwrap();
        assert!(
            is_rfc3339_nano_utc(ts),
            "event line starts with its time: {:?}",
            got[i]
        );
    }
    assert_eq!(err, "", "events wrote nothing on stderr");
}

// ---------------------------------------------------------------------------
// 6. mistakes: unknown ids, no monitor, bad arguments
// ---------------------------------------------------------------------------

#[test]
fn errors_name_what_is_wrong() {
    let pod = Pod::start("clierr");

    // An unknown container, for every subcommand that takes one.
    let cases: &[&[&str]] = &[
        &["start", "ghost"],
        &["kill", "ghost"],
        &["kill", "ghost", "KILL", "--all"],
        &["wait", "ghost"],
        &["delete", "ghost"],
        &["delete", "--force", "ghost"],
        &["state", "ghost"],
        &["exec", "ghost", "--", "true"],
        &["exec", "--sync", "ghost", "--", "true"],
        &["exec", "--timeout", "1", "ghost", "--", "true"],
        &["exec", "-i", "ghost", "--", "cat"],
        &["exec", "-it", "ghost", "--", "sh"],
        &["attach", "ghost"],
        &["attach", "--no-stdin", "ghost"],
        &["logs", "ghost"],
        &["logs", "-f", "ghost"],
        &["logs", "--tail", "1", "--timestamps", "ghost"],
        &["stats", "ghost"],
        &["stats", "--json", "ghost"],
        &["events", "ghost"],
        &["set-log-limit", "ghost", "--rate", "1M"],
        &["set-log-limit", "ghost", "--off"],
        &["reopen-log", "ghost"],
        &["resize", "ghost", "80", "24"],
    ];
    let mut failures = vec![];
    for args in cases {
        let t = Instant::now();
        let out = pod.cli(args);
        let took = t.elapsed();
        let ok = out.code() == 1
            && out.stderr.starts_with("podmon: ")
            && out.stderr.contains("ghost")
            && out.stderr.lines().count() == 1
            && out.stdout.is_empty()
            && took < Duration::from_secs(5);
        if !ok {
            failures.push(format!(
                "{args:?}: exit {} after {took:?}, stdout {:?}, stderr {:?}",
                out.code(),
                out.stdout,
                out.stderr
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "an unknown id must fail with exit 1 and one `podmon: ...ghost...` line:\n{}",
        failures.join("\n")
    );
    let out = pod.cli(&["state", "ghost"]);
    assert_eq!(out.stderr, "podmon: no such container: ghost\n");

    // A container that exists: creating it again names it.
    cli_run(&pod, "c1", &[], &["sh", "-c", IDLE]);
    let r = rootfs().display().to_string();
    let out = pod.cli(&["create", "c1", "--rootfs", &r, "--", "true"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(out.stderr, "podmon: container already exists: c1\n");
    let out = pod.cli(&["delete", "c1"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.starts_with("podmon: ")
            && out.stderr.contains("c1")
            && out.stderr.contains("running"),
        "{out:?}"
    );

    // No monitor at the socket path: the message names the path.
    let missing = pod.dir.join("nobody-here.sock");
    let missing_s = missing.display().to_string();
    for args in [
        &["ps"][..],
        &["state", "c1"],
        &["exec", "c1", "--", "true"],
        &["exec", "--sync", "c1", "--", "true"],
        &["attach", "c1"],
        &["logs", "c1"],
        &["stats"],
        &["events"],
        &["pod"],
    ] {
        let out = run_with_timeout(
            Command::new(podmon_bin())
                .arg("--socket")
                .arg(&missing)
                .args(args)
                .env_remove("PODMON_SOCKET"),
            Duration::from_secs(10),
        );
        assert_eq!(out.code(), 1, "{args:?}: {out:?}");
        assert!(
            out.stderr.starts_with("podmon: ") && out.stderr.contains(&missing_s),
            "{args:?}: the message names {missing_s}: {out:?}"
        );
    }
    // The same through PODMON_SOCKET.
    let out = run_with_timeout(
        Command::new(podmon_bin())
            .arg("ps")
            .env("PODMON_SOCKET", &missing),
        Duration::from_secs(10),
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains(&missing_s), "{out:?}");
    // A socket file nobody listens on any more.
    let stale = pod.dir.join("stale.sock");
    drop(UnixListener::bind(&stale).unwrap());
    let out = run_with_timeout(
        Command::new(podmon_bin())
            .arg("--socket")
            .arg(&stale)
            .arg("ps")
            .env_remove("PODMON_SOCKET"),
        Duration::from_secs(10),
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.starts_with("podmon: ") && out.stderr.contains(&stale.display().to_string()),
        "{out:?}"
    );
    // No socket at all: say how to give one.
    let out = run_with_timeout(
        Command::new(podmon_bin())
            .arg("ps")
            .env_remove("PODMON_SOCKET"),
        Duration::from_secs(10),
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains("--socket") && out.stderr.contains("PODMON_SOCKET"),
        "{out:?}"
    );

    // Usage errors: exit 2, before anything reaches the monitor.
    let out = pod.cli(&[
        "create",
        "c9",
        "--rootfs",
        &r,
        "--memory-max",
        "12Q",
        "--",
        "true",
    ]);
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(
        out.stderr.contains("12Q") && out.stderr.contains("--memory-max"),
        "{out:?}"
    );
    let out = pod.cli(&["create", "c9", "--bundle", &r, "--rootfs", &r, "--", "true"]);
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(
        out.stderr.contains("cannot be used with") && out.stderr.contains("Usage:"),
        "{out:?}"
    );
    let out = pod.cli(&["exec", "-i", "--timeout", "5", "c1", "--", "cat"]);
    assert_eq!(out.code(), 2, "{out:?}");
    let out = pod.cli(&["logs", "--since", "yesterday", "c1"]);
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(out.stderr.contains("yesterday"), "{out:?}");
    let out = pod.cli_ok(&["ps", "--json"]);
    let ids: Vec<String> = out
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["container"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids, ["c1"], "usage errors created nothing");
}
