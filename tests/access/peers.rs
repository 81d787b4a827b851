//! The peer check: root only by default, `--allow-uid`/`--allow-gid` for
//! the full role, `--read-only-uid`/`--read-only-gid` for the methods that
//! only look; a refused peer gets PermissionDenied and is disconnected.

use crate::common::*;
use podmon::varlink::client::Mode;
use serde_json::json;
use std::time::{Duration, Instant};

fn pod_with(name: &str, args: &[&str]) -> Pod {
    umask_000();
    Pod::start_with(
        name,
        PodOptions {
            extra_args: args.iter().map(|a| a.to_string()).collect(),
            ..PodOptions::default()
        },
    )
}

#[test]
fn by_default_only_root_gets_in() {
    let pod = pod_with("peer-default", &[]);
    // The socket's mode already keeps others out.
    let e = connect_as(&pod.socket, NOBODY, NOBODY).expect_err("0600 socket");
    assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}");
    let out = cli_as(&pod, NOBODY, NOBODY, &["ps"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("permission denied"), "{out:?}");
    pod.cli_ok(&["ps"]);
}

#[test]
fn a_peer_not_on_the_list_is_refused_and_disconnected() {
    // Another uid is allowed, so the socket is 0666 and only the peer check
    // stands between nobody and the pod.
    let pod = pod_with("peer-refused", &["--allow-uid", "4242"]);
    let mut p = Peer::connect(&pod, NOBODY, NOBODY);
    p.denied(GET_POD, json!({}));
    p.expect_closed(Duration::from_secs(5));

    // Through the CLI: a clear message and a non-zero exit.
    let rootfs = rootfs().display().to_string();
    let out = cli_as(
        &pod,
        NOBODY,
        NOBODY,
        &["create", "x", "--rootfs", &rootfs, "--", "true"],
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr
            .contains("permission denied for io.podmon.Pod.CreateContainer")
            && out.stderr.contains("uid 65534"),
        "{out:?}"
    );
    pod.call(GET_CONTAINER, json!({"id": "x"}))
        .err(NO_SUCH_CONTAINER);

    // A refused peer that sends nothing is not kept for long.
    let mut idle = Peer::connect(&pod, NOBODY, NOBODY);
    let t = Instant::now();
    idle.expect_closed(Duration::from_secs(10));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    pod.call(GET_POD, json!({})).ok();
    assert!(
        pod.server_log_text()
            .contains("refused a connection from uid 65534")
    );
}

#[test]
fn an_allowed_uid_and_an_allowed_gid_may_do_everything() {
    let pod = pod_with(
        "peer-allowed",
        &["--allow-uid", "65534", "--allow-gid", "4243"],
    );
    let rootfs = rootfs().display().to_string();
    let mut p = Peer::connect(&pod, NOBODY, NOBODY);
    let req = json!({"id": "mine", "rootfs": rootfs, "command": ["sh", "-c", "exit 7"]});
    p.call(CREATE_CONTAINER, req).ok();
    p.call(START_CONTAINER, json!({"id": "mine"})).ok();
    assert_eq!(
        p.call(WAIT_CONTAINER, json!({"id": "mine"})).ok()["exitCode"],
        json!(7)
    );
    // By its (primary) group: uid 4244 is on no list, gid 4243 is.
    let mut g = Peer::connect(&pod, 4244, 4243);
    g.call(DELETE_CONTAINER, json!({"id": "mine"})).ok();
    let out = cli_as(&pod, 4244, 4243, &["ps"]);
    assert_eq!(out.code(), 0, "{out:?}");
    // Or a supplementary group (SO_PEERGROUPS).
    let mut s = Peer::connect_in(&pod, 4247, 4247, &[4243]);
    s.call(LIST_CONTAINERS, json!({})).ok();
    s.call(KILL_CONTAINER, json!({"id": "none", "signal": "KILL"}))
        .err(NO_SUCH_CONTAINER);
    let mut n = Peer::connect_in(&pod, 4247, 4247, &[4248]);
    n.denied(LIST_CONTAINERS, json!({}));
}

#[test]
fn a_read_only_peer_may_look_but_not_touch() {
    let pod = pod_with(
        "peer-ro",
        &["--read-only-uid", "65534", "--read-only-gid", "4246"],
    );
    pod.run("c1", &["sh", "-c", "echo hello; sleep 100"]);
    let logged = || std::fs::read_to_string(pod.log_path("c1")).is_ok_and(|l| l.contains("hello"));
    assert!(
        wait_until(Duration::from_secs(10), logged),
        "c1 logged nothing"
    );
    let mut p = Peer::connect(&pod, NOBODY, NOBODY);
    let id = json!({"id": "c1"});
    assert_eq!(
        p.call(GET_CONTAINER, id.clone()).ok()["container"]["status"],
        json!("running")
    );
    p.call(LIST_CONTAINERS, json!({})).ok();
    p.call(STATS, json!({})).ok();
    p.call(GET_POD, json!({})).ok();
    p.call("org.varlink.service.GetInfo", json!({})).ok();
    let interface = json!({"interface": INTERFACE});
    p.call("org.varlink.service.GetInterfaceDescription", interface)
        .ok();
    let logs = p.call(READ_LOGS, id.clone()).ok();
    assert!(logs.to_string().contains("hello"), "{logs}");
    let first = p.call_mode(WATCH_EVENTS, json!({}), Mode::More);
    assert!(first.continues(), "{:?}", first.0);
    // WatchEvents goes on until the client leaves: a new connection.
    let mut p = Peer::connect(&pod, NOBODY, NOBODY);
    let rootfs = rootfs().display().to_string();
    let denied = [
        (
            CREATE_CONTAINER,
            json!({"id": "x", "rootfs": rootfs, "command": ["true"]}),
        ),
        (START_CONTAINER, id.clone()),
        (KILL_CONTAINER, id.clone()),
        (WAIT_CONTAINER, id.clone()),
        (DELETE_CONTAINER, json!({"id": "c1", "force": true})),
        (SET_LOG_RATE_LIMIT, id.clone()),
        (REOPEN_LOG, id.clone()),
        (EXEC_SYNC, json!({"id": "c1", "command": ["true"]})),
        (EXEC, json!({"id": "c1", "command": ["true"]})),
        (ATTACH, id.clone()),
        (RESIZE, json!({"id": "c1", "width": 80, "height": 24})),
        (SHUTDOWN, json!({"killContainers": true})),
    ];
    for (method, params) in denied {
        p.denied(method, params);
    }
    // Nor by taking the connection over.
    let r = p.call_mode(ATTACH, id.clone(), Mode::Upgrade);
    assert_eq!(r.error(), Some(PERMISSION_DENIED), "{:?}", r.0);
    // The connection stays, and the container was not touched.
    p.call(GET_POD, json!({})).ok();
    assert_eq!(pod.get("c1")["status"], json!("running"));
    assert!(
        pod.call(LIST_CONTAINERS, json!({}))
            .ok()
            .to_string()
            .contains("c1")
    );

    let out = cli_as(&pod, NOBODY, NOBODY, &["kill", "c1", "KILL"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr
            .contains("permission denied for io.podmon.Pod.KillContainer"),
        "{out:?}"
    );
    // Streamed exec (upgraded) and ExecSync alike.
    for args in [
        &["exec", "c1", "--", "true"][..],
        &["exec", "--sync", "c1", "--", "true"],
    ] {
        let out = cli_as(&pod, NOBODY, NOBODY, args);
        assert_ne!(out.code(), 0, "{out:?}");
        assert!(
            out.stderr
                .contains("permission denied for io.podmon.Pod.Exec"),
            "{out:?}"
        );
    }
    let out = cli_as(&pod, NOBODY, NOBODY, &["state", "c1"]);
    assert!(out.success() && out.stdout.contains("running"), "{out:?}");
    assert_eq!(pod.get("c1")["status"], json!("running"));

    // By its primary group as well.
    let mut g = Peer::connect(&pod, 4245, 4246);
    g.call(GET_CONTAINER, id.clone()).ok();
    g.denied(KILL_CONTAINER, id);
}
