//! Connections beyond what the monitor takes: over the bound on open
//! connections, and while it has no descriptor left. Either way the new
//! client gets a named error and the close instead of waiting in the
//! backlog, the connections already open are served, and the monitor
//! accepts again once connections close.

use serde_json::json;
use std::io::ErrorKind;
use std::time::Duration;

use crate::common::*;
use crate::fd_count;
use crate::table::{GET_INFO, LIMIT_EXCEEDED, SYSTEM_ERROR};

/// The server's bound on open connections (`MAX_CONNECTIONS` in
/// src/server/accept.rs).
const MAX_CONNECTIONS: usize = 512;

/// The last message of a refused connection, then its close.
#[track_caller]
fn refused(c: &mut Client) -> serde_json::Value {
    let v = refused_or_served(c);
    match c.read_raw() {
        Ok(None) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("want the close after {v}, got {other:?}"),
    }
    v
}

/// The first reply on `c`, within 10 s.
#[track_caller]
fn refused_or_served(c: &mut Client) -> serde_json::Value {
    c.set_read_timeout(Duration::from_secs(10));
    match c.read_raw() {
        Ok(Some(b)) => serde_json::from_slice(&b).unwrap(),
        other => panic!("want a reply, got {other:?}"),
    }
}

/// A connection the server has accepted and answered.
fn served(pod: &Pod) -> Client {
    let mut c = pod.client();
    c.call(GET_INFO, json!({})).ok();
    c
}

#[test]
fn connections_over_the_bound_get_limit_exceeded() {
    let pod = Pod::start("bad-conns");
    let before = fd_count(pod.pid);
    let mut open: Vec<Client> = (0..MAX_CONNECTIONS).map(|_| served(&pod)).collect();
    let mut extra = pod.client();
    let v = refused(&mut extra);
    assert_eq!(
        v,
        json!({"error": LIMIT_EXCEEDED, "parameters": {"limit": "connections", "max": MAX_CONNECTIONS}})
    );
    // The open ones are served as ever.
    open[0].call(GET_INFO, json!({})).ok();
    open[MAX_CONNECTIONS - 1].call(GET_INFO, json!({})).ok();
    // One closes: a new one gets its place (once the server saw the close).
    drop(open.pop());
    let back = wait_until(Duration::from_secs(5), || {
        let mut c = pod.client();
        let _ = c.send_raw(&Client::encode(GET_INFO, json!({}), false, false));
        c.read_raw()
            .ok()
            .flatten()
            .is_some_and(|b| !String::from_utf8_lossy(&b).contains("error"))
    });
    assert!(back, "no connection accepted after one closed");
    drop(open);
    let closed = wait_until(Duration::from_secs(10), || fd_count(pod.pid) <= before);
    assert!(closed, "{} descriptors, {before} before", fd_count(pod.pid));
}

/// Sets the soft RLIMIT_NOFILE of process `pid` (the hard one stays).
fn set_nofile(pid: u32, soft: u64) -> u64 {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit(2) with a null new limit only reads into `old`.
    let r = unsafe { libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, std::ptr::null(), &mut old) };
    assert_eq!(r, 0, "prlimit: {}", std::io::Error::last_os_error());
    let new = libc::rlimit {
        rlim_cur: soft,
        rlim_max: old.rlim_max,
    };
    // SAFETY: prlimit(2) reads `new`, a valid rlimit, and writes nothing.
    let r = unsafe { libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, &new, std::ptr::null_mut()) };
    assert_eq!(r, 0, "prlimit: {}", std::io::Error::last_os_error());
    old.rlim_cur
}

/// A descriptor limit that leaves process `pid` `free` unused numbers
/// (descriptors take the lowest free number below the limit).
fn limit_leaving(pid: u32, free: usize) -> u64 {
    let used: std::collections::BTreeSet<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    let mut unused = 0;
    (0..)
        .find(|n| {
            if !used.contains(n) {
                unused += 1;
            }
            unused == free
        })
        .unwrap()
        + 1
}

#[test]
fn out_of_descriptors_new_clients_are_refused_visibly_then_served_again() {
    let pod = Pod::start("bad-emfile");
    // Room for three more connections, then none.
    let old = set_nofile(pod.pid, limit_leaving(pod.pid, 3));
    let (mut open, mut refusals) = (vec![], 0);
    while refusals < 3 {
        assert!(open.len() < 64, "64 connections accepted, none refused");
        let mut c = pod.client();
        // A refused client may find the connection closed before it writes.
        let _ = c.send_raw(&Client::encode(GET_INFO, json!({}), false, false));
        let v = refused_or_served(&mut c);
        if v.get("error").is_none() {
            open.push(c);
            continue;
        }
        refusals += 1;
        match c.read_raw() {
            Ok(None) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("want the close after {v}, got {other:?}"),
        }
        assert_eq!(v["error"], json!(SYSTEM_ERROR), "{v}");
        assert_eq!(v["parameters"]["errno"], json!(libc::EMFILE), "{v}");
        assert_eq!(
            v["parameters"]["operation"],
            json!("accepting a connection"),
            "{v}"
        );
    }
    assert!(!open.is_empty(), "no connection accepted under the limit");
    // The open connections do not notice.
    for c in &mut open {
        c.call(GET_INFO, json!({})).ok();
    }
    // Descriptors free again: new clients are served.
    open.clear();
    let back = wait_until(Duration::from_secs(5), || {
        let mut c = pod.client();
        let _ = c.send_raw(&Client::encode(GET_INFO, json!({}), false, false));
        c.read_raw()
            .ok()
            .flatten()
            .is_some_and(|b| !String::from_utf8_lossy(&b).contains("error"))
    });
    assert!(back, "not accepting again after descriptors were freed");
    set_nofile(pod.pid, old);
    let log = pod.server_log_text();
    let warned = log.matches("refusing new connections").count();
    assert_eq!(warned, 1, "want the shortage logged once:\n{log}");
    assert!(log.contains("accepting connections again"), "{log}");
}
