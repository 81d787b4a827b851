//! Network namespaces and listeners for the tests, each cleaned up by its
//! guard.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

pub const IP: &str = "/usr/sbin/ip";
pub const PORT_FORWARD: &str = "io.podmon.Pod.PortForward";
pub const NO_NAMESPACE: &str = "io.podmon.Pod.NoNamespace";
pub const CONNECTION_REFUSED: &str = "io.podmon.Pod.ConnectionRefused";

static N: AtomicUsize = AtomicUsize::new(0);

/// A network namespace pinned at /run/netns/NAME with its loopback up;
/// deleted on drop.
pub struct NetNs {
    pub name: String,
}

impl NetNs {
    pub fn new() -> NetNs {
        let name = format!(
            "podmon-t{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        run_ok(Command::new(IP).args(["netns", "add", &name]));
        let ns = NetNs { name };
        run_ok(Command::new(IP).args(["-n", &ns.name, "link", "set", "lo", "up"]));
        ns
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// `ip netns exec NAME args...`
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(IP);
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new(IP).args(["netns", "del", &self.name]).status();
    }
}

fn run_ok(c: &mut Command) {
    let st = c.status().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(st.success(), "{c:?}: {st}");
}

/// A pod whose monitor joins `ns` (`--namespaces net=PATH`).
pub fn pod_in(name: &str, ns: &NetNs) -> Pod {
    Pod::start_with(
        name,
        PodOptions {
            extra_args: vec![
                "--namespaces".into(),
                format!("net={}", ns.path().display()),
            ],
            ..PodOptions::default()
        },
    )
}

/// The listener program: "echo" sends back what it reads (threads, any
/// number of connections); "sink" reads one connection to its end, then
/// sends "COUNT SHA256" and closes.
const LISTENER: &str = r#"
import socket, sys, hashlib, threading
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.bind((host, port)); s.listen(128)
print("ready", flush=True)
def echo(c):
    while True:
        d = c.recv(1 << 18)
        if not d: break
        c.sendall(d)
    c.shutdown(socket.SHUT_WR); c.close()
def sink(c):
    h = hashlib.sha256(); n = 0
    while True:
        d = c.recv(1 << 20)
        if not d: break
        h.update(d); n += len(d)
    c.sendall(f"{n} {h.hexdigest()}".encode()); c.close()
while True:
    c, _ = s.accept()
    if mode == "sink":
        sink(c); break
    threading.Thread(target=echo, args=(c,), daemon=True).start()
"#;

/// A listener inside a namespace, killed on drop.
pub struct Listener(Child);

impl Listener {
    pub fn start(ns: &NetNs, mode: &str, host: &str, port: u16) -> Listener {
        let mut child = ns
            .command(&["python3", "-c", LISTENER, mode, host, &port.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 listener");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the listener did not start");
        Listener(child)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One RunInPod call.
pub fn run_in_pod(pod: &Pod, params: Value) -> Reply {
    pod.client().call(RUN_IN_POD, params)
}

/// A PortForward call with `upgrade`: the reply, and on success the
/// connection that now carries the TCP bytes.
pub fn forward(pod: &Pod, port: i64) -> (Reply, UnixStream, Vec<u8>) {
    let (reply, s, leftover) = pod.client().upgrade(PORT_FORWARD, json!({ "port": port }));
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    (reply, s, leftover)
}

/// Deterministic bytes that are not a short repetition.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Sends `data` (then shuts the write side) while reading everything that
/// comes back until the other side ends; returns what came back.
pub fn exchange(s: UnixStream, leftover: Vec<u8>, data: Vec<u8>) -> Vec<u8> {
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        w.write_all(&data).unwrap();
        w.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut got = leftover;
    let mut r = s;
    r.read_to_end(&mut got).unwrap();
    writer.join().unwrap();
    got
}

/// sha256 of `data`, by sha256sum, as hex.
pub fn sha256(data: &[u8]) -> String {
    let mut c = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = c.stdin.take().unwrap();
    let data = data.to_vec();
    let w = std::thread::spawn(move || stdin.write_all(&data).unwrap());
    let out = c.wait_with_output().unwrap();
    w.join().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

pub const LONG: Duration = Duration::from_secs(120);
