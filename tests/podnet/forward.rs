//! PortForward: a TCP connection in the pod over an upgraded connection.

use std::io::{Read, Write};

use serde_json::json;

use crate::common::*;
use crate::support::*;

#[test]
fn a_hundred_mib_echoed_byte_exact() {
    let ns = NetNs::new();
    let pod = pod_in("podnet-big", &ns);
    let _l = Listener::start(&ns, "echo", "127.0.0.1", 9000);
    let (reply, s, leftover) = forward(&pod, 9000);
    assert_eq!(reply.ok(), json!({}));
    let data = payload(100 << 20, 1);
    let got = exchange(s, leftover, data.clone());
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the echoed bytes differ");
}

#[test]
fn an_ipv6_only_listener_is_reached_and_half_close_passes_through() {
    let ns = NetNs::new();
    let pod = pod_in("podnet-v6", &ns);
    let _l = Listener::start(&ns, "sink", "::1", 9001);
    let (reply, s, leftover) = forward(&pod, 9001);
    reply.ok();
    let data = payload(8 << 20, 2);
    // The sink answers only after it saw our EOF.
    let got = exchange(s, leftover, data.clone());
    let got = String::from_utf8(got).unwrap();
    assert_eq!(got, format!("{} {}", data.len(), sha256(&data)));
}

#[test]
fn half_close_with_busybox_nc() {
    let ns = NetNs::new();
    let pod = pod_in("podnet-nc", &ns);
    let out = pod.dir.join("nc.out");
    // This busybox's nc has no -s: it listens on every address of the pod.
    let mut nc = Killed(
        ns.command(&["/bin/busybox", "nc", "-l", "-p", "9002"])
            .stdout(std::fs::File::create(&out).unwrap())
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = std::time::Instant::now();
    let (mut s, leftover) = loop {
        let (reply, s, leftover) = forward(&pod, 9002);
        if reply.error().is_none() {
            break (s, leftover);
        }
        assert!(start.elapsed() < LONG, "nc never listened: {:?}", reply.0);
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    s.write_all(b"hello from outside\n").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = leftover;
    s.read_to_end(&mut rest).unwrap();
    let st = nc.0.wait().unwrap();
    assert!(st.success(), "{st}");
    assert_eq!(std::fs::read(&out).unwrap(), b"hello from outside\n");
}

#[test]
fn refused_ports_and_bad_ports_are_named_errors() {
    let ns = NetNs::new();
    let pod = pod_in("podnet-refused", &ns);
    let (reply, _s, _) = forward(&pod, 9999);
    let e = reply.err(CONNECTION_REFUSED);
    assert_eq!(e["port"], json!(9999), "{e}");
    assert!(e["message"].as_str().unwrap().contains("[::1]:9999"), "{e}");
    for port in [0, 65536, -1] {
        let (reply, _s, _) = forward(&pod, port);
        assert_eq!(reply.err(INVALID_VALUE)["parameter"], json!("port"));
    }
    let e = pod.client().call(PORT_FORWARD, json!({ "port": 80 }));
    assert_eq!(
        e.error(),
        Some("org.varlink.service.ExpectedUpgrade"),
        "{:?}",
        e.0
    );
    // The connection that got the error still speaks Varlink.
    let mut c = pod.client();
    let (reply, _, _) = {
        let c2 = pod.client();
        c2.upgrade(PORT_FORWARD, json!({ "port": 9999 }))
    };
    reply.err(CONNECTION_REFUSED);
    c.call(GET_POD, json!({})).ok();
}

#[test]
fn fifty_forwards_at_once_each_byte_exact() {
    let ns = NetNs::new();
    let pod = pod_in("podnet-many", &ns);
    let _l = Listener::start(&ns, "echo", "127.0.0.1", 9003);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let pod = &pod;
                scope.spawn(move || {
                    let (reply, s, leftover) = forward(pod, 9003);
                    reply.ok();
                    let data = payload(64 * 1024 + i * 7, i as u64 + 10);
                    let got = exchange(s, leftover, data.clone());
                    assert!(
                        got == data,
                        "forward {i}: {} of {} bytes",
                        got.len(),
                        data.len()
                    );
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
    pod.client().call(GET_POD, json!({})).ok();
}

/// A child killed and reaped when dropped (a failing test leaves no nc
/// behind); std's kill sends nothing to a child already waited for.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
