//! PortForward throughput: 1 GiB through podmon's PortForward against the
//! same 1 GiB over a direct loopback connection inside the same network
//! namespace, measured in the same run, interleaved (best of 3 each).
//! Goal: PortForward at least 0.5x the direct connection.
//!
//! `cargo bench --bench port_forward` (root: it makes a network namespace
//! with `ip netns add`, removed at the end). The sink is a thread of this
//! process switched into the namespace: it reads each connection to its
//! end and answers with the byte count, so both paths end the same way.
//! It exits non-zero only when the bench itself breaks; missing the goal
//! prints FAIL.

mod common;

use std::error::Error;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::ScratchDir;
use common::server::Server;
use common::stats::mib_per_s;
use podmon::proto::{self, call};
use podmon::varlink::client::Client;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const IP: &str = "/usr/sbin/ip";
const PORT: u16 = 9100;
const TOTAL: u64 = 1 << 30;
const CHUNK: usize = 256 * 1024;
const ROUNDS: usize = 3;
const GOAL: f64 = 0.5;

/// The namespace, deleted on drop.
struct NetNs(String);

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new(IP).args(["netns", "del", &self.0]).status();
    }
}

fn netns() -> Result<NetNs> {
    let name = format!("podmon-bench-{}", std::process::id());
    if !Command::new(IP)
        .args(["netns", "add", &name])
        .status()?
        .success()
    {
        return Err("ip netns add failed".into());
    }
    let ns = NetNs(name);
    let up = Command::new(IP)
        .args(["-n", &ns.0, "link", "set", "lo", "up"])
        .status()?;
    if !up.success() {
        return Err("ip link set lo up failed".into());
    }
    Ok(ns)
}

/// Moves the calling thread into the namespace.
fn enter(name: &str) -> Result<()> {
    let f = std::fs::File::open(format!("/run/netns/{name}"))?;
    // SAFETY: setns only reads the fd; it moves this thread alone.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(())
}

/// Reads each connection to its end, answers with the count (8 bytes).
fn sink(listener: TcpListener) {
    for conn in listener.incoming().flatten() {
        thread::spawn(move || {
            let mut c = conn;
            let mut buf = vec![0u8; CHUNK];
            let mut n: u64 = 0;
            loop {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => n += k as u64,
                }
            }
            let _ = c.write_all(&n.to_be_bytes());
        });
    }
}

/// Sends TOTAL bytes, shuts the write side, reads the sink's count.
fn push<S: Read + Write>(mut s: S, shut: impl Fn(&S)) -> Result<Duration> {
    let buf = vec![0x5au8; CHUNK];
    let t0 = Instant::now();
    let mut sent = 0u64;
    while sent < TOTAL {
        s.write_all(&buf)?;
        sent += CHUNK as u64;
    }
    shut(&s);
    let mut count = [0u8; 8];
    s.read_exact(&mut count)?;
    let took = t0.elapsed();
    if u64::from_be_bytes(count) != TOTAL {
        return Err(format!("the sink counted {}", u64::from_be_bytes(count)).into());
    }
    Ok(took)
}

/// From a thread of its own inside the namespace: a connection straight
/// to the sink.
fn direct(ns: &NetNs) -> Result<Duration> {
    let name = ns.0.clone();
    let r = thread::spawn(move || -> std::result::Result<Duration, String> {
        let run = || -> Result<Duration> {
            enter(&name)?;
            let s = TcpStream::connect(("127.0.0.1", PORT))?;
            push(s, |s| {
                let _ = s.shutdown(Shutdown::Write);
            })
        };
        run().map_err(|e| e.to_string())
    })
    .join()
    .map_err(|_| "direct thread panicked")?;
    Ok(r?)
}

/// Through the monitor: a PortForward call with `upgrade`.
fn forwarded(server: &Server) -> Result<Duration> {
    let client = Client::connect(&server.socket)?;
    let (_, up) = call::upgrade(client, &proto::PortForward { port: PORT.into() })?;
    if !up.leftover.is_empty() {
        return Err("bytes before any were sent".into());
    }
    push(up.stream, |s| {
        let _ = s.shutdown(Shutdown::Write);
    })
}

fn main() -> Result<()> {
    common::check_preconditions()?;
    let ns = netns()?;
    let listener = {
        let name = ns.0.clone();
        thread::spawn(move || -> std::result::Result<TcpListener, String> {
            enter(&name)
                .and_then(|()| Ok(TcpListener::bind(("127.0.0.1", PORT))?))
                .map_err(|e| e.to_string())
        })
        .join()
        .map_err(|_| "listener thread panicked")??
    };
    thread::spawn(move || sink(listener));
    let dir = ScratchDir::new("port-forward")?;
    let netns_path = format!("/run/netns/{}", ns.0);
    let bin = common::podmon_bin();
    let mut server = Server::start_args(
        dir.path(),
        "pf-bench",
        &bin,
        true,
        &["--netns", &netns_path],
    )?;
    let (mut best_direct, mut best_fwd) = (Duration::MAX, Duration::MAX);
    for round in 0..ROUNDS {
        let d = direct(&ns)?;
        let f = forwarded(&server)?;
        println!(
            "round {round}: direct {:.0} MiB/s, PortForward {:.0} MiB/s",
            mib_per_s(TOTAL, d),
            mib_per_s(TOTAL, f)
        );
        best_direct = best_direct.min(d);
        best_fwd = best_fwd.min(f);
    }
    server.stop()?;
    let (d, f) = (mib_per_s(TOTAL, best_direct), mib_per_s(TOTAL, best_fwd));
    let ratio = f / d;
    let verdict = if ratio >= GOAL { "PASS" } else { "FAIL" };
    println!(
        "1 GiB best of {ROUNDS}: direct {d:.0} MiB/s, PortForward {f:.0} MiB/s, ratio {ratio:.2} (goal >= {GOAL}): {verdict}"
    );
    Ok(())
}
