//! Helpers of the command-line tests: the `podmon` command, create+start
//! through it, running with piped input, and lines collected as they come.

use crate::common::*;
use std::io::{self, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A long-running container process that ends at once on SIGTERM (so
/// dropping the Pod does not wait out podmon's 10 s grace period).
pub const IDLE: &str = "trap 'exit 0' TERM; while :; do sleep 0.2; done";

/// The `podmon` command aimed at the pod's socket, as a user would type it.
pub fn podmon(pod: &Pod, args: &[&str]) -> Command {
    let mut cmd = Command::new(podmon_bin());
    cmd.arg("--socket").arg(&pod.socket).args(args);
    cmd.env_remove("PODMON_SOCKET");
    cmd
}

/// `podmon create ID --rootfs ROOTFS [OPTS...] -- CMD...` and `podmon start ID`
/// through the command line.
#[track_caller]
pub fn cli_run(pod: &Pod, id: &str, opts: &[&str], command: &[&str]) {
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
pub struct BytesOut {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Runs `cmd` with `input` written to its stdin (then closed), collecting
/// stdout as bytes; fails the test after `timeout`.
pub fn run_with_input(mut cmd: Command, input: Vec<u8>, timeout: Duration) -> BytesOut {
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
pub fn wait_child(child: &mut Child, timeout: Duration, what: &str) -> ExitStatus {
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
pub struct Lines(Arc<Mutex<Vec<(Instant, String)>>>);

impl Lines {
    pub fn collect(stream: impl Read + Send + 'static) -> (Lines, JoinHandle<()>) {
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

    pub fn texts(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Waits until a line satisfies `f`; returns it.
    pub fn wait_for(&self, timeout: Duration, f: impl Fn(&str) -> bool) -> Option<String> {
        let mut found = None;
        wait_until(timeout, || {
            found = self.texts().into_iter().find(|l| f(l));
            found.is_some()
        });
        found
    }
}

/// A reproducible megabyte with every byte value (so not text).
pub fn binary_megabyte() -> Vec<u8> {
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

pub fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or_else(|| (a.len() != b.len()).then(|| a.len().min(b.len())))
}
