//! `podmon port-forward` end to end.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use crate::common::*;
use crate::support::*;

/// The CLI process, killed on drop.
struct Cli(Child);

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn port_forward_cli_carries_a_local_connection() {
    let ns = NetNs::new();
    let pod = pod_in("podnet-cli", &ns);
    let _l = Listener::start(&ns, "echo", "::1", 9004);
    let mut cli = Cli(Command::new(podmon_bin())
        .arg("--socket")
        .arg(&pod.socket)
        .args(["port-forward", ":9004"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap());
    let mut lines = BufReader::new(cli.0.stdout.take().unwrap());
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    // "Forwarding from 127.0.0.1:PORT -> 9004"
    let rest = first
        .trim()
        .strip_prefix("Forwarding from 127.0.0.1:")
        .unwrap_or_else(|| panic!("{first:?}"));
    let (port, pod_port) = rest.split_once(" -> ").unwrap();
    assert_eq!(pod_port, "9004");
    let mut second = String::new();
    lines.read_line(&mut second).unwrap();
    assert_eq!(
        second.trim(),
        format!("Forwarding from [::1]:{port} -> 9004")
    );
    for host in ["127.0.0.1", "[::1]"] {
        let mut s = TcpStream::connect(format!("{host}:{port}")).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        let data = payload(1 << 20, 7);
        let mut w = s.try_clone().unwrap();
        let d2 = data.clone();
        let t = std::thread::spawn(move || {
            w.write_all(&d2).unwrap();
            w.shutdown(std::net::Shutdown::Write).unwrap();
        });
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        t.join().unwrap();
        assert!(got == data, "{host}: {} of {} bytes", got.len(), data.len());
    }
}
