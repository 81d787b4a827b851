//! `podmon port-forward`: listens on local addresses and carries each
//! accepted TCP connection over its own PortForward call. The CLI is a
//! blocking client, so each connection gets two threads (one per
//! direction); half-close passes through: the end of one direction shuts
//! the other socket's write side down.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::thread;

use anyhow::{Context, anyhow};

use super::args::PortForwardArgs;
use super::failure::{self, Failure};
use crate::proto::{self, call};
use crate::varlink::client::Client;

/// Binds every address, prints "Forwarding from ADDR:PORT -> POD" for
/// each (with `json` one `{"address": "ADDR:PORT", "port": POD}` line),
/// then serves connections until the process is killed; a connection that
/// fails is reported on stderr (as JSON with `json`) and the rest go on.
pub fn run(args: &PortForwardArgs, socket: &Path, json: bool) -> anyhow::Result<i32> {
    let (local, pod) = args.ports;
    let defaults = args.address.is_empty();
    let addrs: Vec<IpAddr> = if defaults {
        vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()]
    } else {
        args.address.clone()
    };
    let mut listeners = Vec::new();
    for ip in addrs {
        // A local port picked by the first bind is used for the rest.
        let port = listeners
            .first()
            .and_then(|l: &TcpListener| l.local_addr().ok())
            .map_or(local, |a| a.port());
        match TcpListener::bind(SocketAddr::new(ip, port)) {
            Ok(l) => listeners.push(l),
            // The default ::1 is skipped where the host has no IPv6.
            Err(e) if defaults && ip.is_ipv6() => {
                let note = Failure::other(format!("not listening on {ip}: {e}"));
                failure::print(&note, json, &mut io::stderr().lock());
            }
            Err(e) => {
                return Err(anyhow!(
                    "cannot listen on {}: {e}",
                    SocketAddr::new(ip, port)
                ));
            }
        }
    }
    let mut out = io::stdout();
    for l in &listeners {
        let addr = l.local_addr()?;
        if json {
            let line = serde_json::json!({"address": addr.to_string(), "port": pod});
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "Forwarding from {addr} -> {pod}")?;
        }
    }
    out.flush().context("cannot write output")?;
    let handles: Vec<_> = listeners
        .into_iter()
        .map(|l| {
            let socket = socket.to_owned();
            thread::spawn(move || accept_loop(l, &socket, pod, json))
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    Ok(0)
}

fn accept_loop(listener: TcpListener, socket: &Path, pod: u16, json: bool) {
    for conn in listener.incoming() {
        match conn {
            Ok(tcp) => {
                let socket: PathBuf = socket.to_owned();
                thread::spawn(move || {
                    if let Err(e) = forward_one(tcp, &socket, pod) {
                        let e = e.context(format!("port-forward to {pod}"));
                        failure::print(&failure::of(&e), json, &mut io::stderr().lock());
                    }
                });
            }
            Err(e) => failure::print(
                &Failure::other(format!("accepting: {e}")),
                json,
                &mut io::stderr().lock(),
            ),
        }
    }
}

/// One local connection: a PortForward call with `upgrade`, then bytes
/// both ways until both directions ended.
fn forward_one(tcp: TcpStream, socket: &Path, pod: u16) -> anyhow::Result<()> {
    let client = Client::connect(socket).map_err(|e| Failure::client(&e, socket))?;
    let req = proto::PortForward {
        port: i64::from(pod),
    };
    let (_, up) = call::upgrade(client, &req).map_err(|e| Failure::client(&e, socket))?;
    let (unix, leftover) = (up.stream, up.leftover);
    let (tcp2, unix2) = (tcp.try_clone()?, unix.try_clone()?);
    let down = thread::spawn(move || {
        let mut tcp2 = tcp2;
        let r = tcp2
            .write_all(&leftover)
            .and_then(|()| copy_unix_to_tcp(unix2, &tcp2));
        let _ = tcp2.shutdown(Shutdown::Write);
        r
    });
    let up_res = copy_tcp_to_unix(tcp, &unix);
    let _ = unix.shutdown(Shutdown::Write);
    let down_res = down.join().map_err(|_| anyhow!("copy thread panicked"))?;
    up_res.and(down_res).map_err(Into::into)
}

fn copy_unix_to_tcp(mut from: UnixStream, mut to: &TcpStream) -> io::Result<()> {
    copy(&mut from, &mut to)
}

fn copy_tcp_to_unix(mut from: TcpStream, mut to: &UnixStream) -> io::Result<()> {
    copy(&mut from, &mut to)
}

/// Copies until end of file, with one 256 KiB buffer.
fn copy(from: &mut impl Read, to: &mut impl Write) -> io::Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
    }
}
