//! Containers of one pod share its network, IPC and UTS namespaces (busybox
//! nc has no -s: the listener binds every address of the pod netns, lo alone); one
//! that asks for its own network namespace does not see the others'
//! listener; the pins go at Shutdown(killContainers); a restarted monitor
//! finds and reuses them; a bundle container joins with joinPod.

use super::*;

/// The namespace links and the host name, printed first by each container.
const IDENTITY: &str =
    "readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; hostname";

#[test]
fn containers_share_net_ipc_uts_and_own_net_is_apart() {
    let (mut pod, base) = sandboxed("shared", "net,ipc,uts", &["--hostname", "podhost"]);
    let got = get_pod(&pod);
    let ns = got["namespaces"].as_array().expect("namespaces in GetPod");
    let kinds: Vec<&str> = ns.iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["net", "ipc", "uts"]);
    assert_eq!(
        ns[0]["path"].as_str().unwrap(),
        base.join("netns").join(&pod.name).display().to_string()
    );
    assert!(got["init"]["pid"].as_u64().unwrap() > 0, "{got}");
    assert!(got["init"]["rssBytes"].as_u64().unwrap() > 0, "{got}");
    assert_eq!(mounts_under(&base).len(), 3, "{:?}", mounts_under(&base));

    pod.create_with(
        "server",
        &["sh", "-c", &format!("{IDENTITY}; nc -l -p 8080")],
        json!({}),
    );
    pod.start_container("server");
    // Listening once netstat inside the pod's network says so.
    let listening = eventually(Duration::from_secs(10), || {
        let r = pod.call(
            EXEC_SYNC,
            json!({"id": "server", "command": ["sh", "-c", "netstat -ltn | grep -q :8080"]}),
        );
        r.ok()["exitCode"] == 0
    });
    assert!(listening, "nc never listened");

    let (code, apart) = run_to_end(
        &pod,
        "apart",
        &format!("{IDENTITY}; echo no | nc -w 2 127.0.0.1 8080"),
        json!({"ownNamespaces": ["net"]}),
    );
    assert_ne!(
        code, 0,
        "a container with its own netns reached the listener"
    );

    let (code, client) = run_to_end(
        &pod,
        "client",
        &format!("{IDENTITY}; echo hi | nc 127.0.0.1 8080"),
        json!({}),
    );
    assert_eq!(code, 0, "{client:?}");
    assert_eq!(exit_code(&pod, "server"), 0);
    let server = stdout_lines(&pod.log("server"));
    assert_eq!(server[..4], client[..4], "same net, ipc, uts and host name");
    assert_eq!(server[3], "podhost");
    assert_eq!(server.last().unwrap(), "hi");
    assert_ne!(apart[0], server[0], "own network namespace");
    assert_eq!(apart[1..4], server[1..4], "but the pod's ipc and uts");

    shutdown_kill(&mut pod);
    assert_eq!(mounts_under(&base), Vec::<String>::new());
    assert!(!base.join("netns").join(&pod.name).exists());
    let init = got["init"]["pid"].as_u64().unwrap() as u32;
    assert!(!proc_alive(init), "the init outlived the pod");
}

#[test]
fn restarted_monitor_reuses_the_pins() {
    let base = ns_base("reuse");
    let args = vec![
        "--namespaces".to_string(),
        "net,uts".into(),
        "--ns-base".into(),
        base.display().to_string(),
    ];
    let opts = || PodOptions {
        extra_args: args.clone(),
        leave_containers: true,
        ..Default::default()
    };
    let mut pod = Pod::start_with("reuse", opts());
    let before = get_pod(&pod);
    pod.run(
        "c",
        &["sh", "-c", "readlink /proc/self/ns/net; exec sleep 1000"],
    );
    // Its line is in the log before the monitor goes (no fd store keeps
    // its pipe for the next one).
    assert!(
        eventually(Duration::from_secs(10), || !stdout_lines(
            &std::fs::read_to_string(pod.log_path("c")).unwrap_or_default()
        )
        .is_empty()),
        "c printed nothing"
    );
    // Plain SIGTERM: the containers and the sandbox stay.
    pod.stop();
    assert_eq!(mounts_under(&base).len(), 2);
    pod.serve_again(&opts());
    let after = get_pod(&pod);
    assert_eq!(after["init"]["pid"], before["init"]["pid"], "{after}");
    assert_eq!(after["namespaces"], before["namespaces"]);
    assert!(
        pod.server_log_text()
            .contains("re-adopted the pod's sandbox"),
        "{}",
        pod.server_log_text()
    );
    // A live upgrade keeps it too (the init is still our child).
    pod.cli_ok(&["upgrade"]);
    assert_eq!(get_pod(&pod)["init"]["pid"], before["init"]["pid"]);
    // New containers still join the same network namespace.
    let (_, out) = run_to_end(&pod, "d", "readlink /proc/self/ns/net", json!({}));
    assert_eq!(out[0], stdout_lines(&pod.log("c"))[0]);
    shutdown_kill(&mut pod);
    assert_eq!(mounts_under(&base), Vec::<String>::new());
}

#[test]
fn bundle_joins_with_join_pod_and_is_left_untouched() {
    let (mut pod, _base) = sandboxed("bundle", "net", &[]);
    // A bundle of our own making: the config podmon writes for a rootfs
    // container, from a container created without joining (own net).
    let dir = callers_bundle_dir(&pod);
    pod.create_with(
        "tmpl",
        &["sh", "-c", "readlink /proc/self/ns/net"],
        json!({"ownNamespaces": ["net"]}),
    );
    let written = pod.state_dir.join("containers/tmpl/config.json");
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(written).unwrap()).unwrap();
    cfg["root"]["path"] = json!("rootfs");
    let text = serde_json::to_vec_pretty(&cfg).unwrap();
    std::fs::write(dir.join("config.json"), &text).unwrap();
    pod.delete("tmpl", true);

    let (_, inside) = run_to_end(&pod, "ref", "readlink /proc/self/ns/net", json!({}));
    let req = |id: &str, join: bool| {
        let mut p = json!({"id": id, "bundle": dir.display().to_string()});
        if join {
            p["joinPod"] = json!(true);
        }
        pod.call(CREATE_CONTAINER, p).ok();
        pod.start_container(id);
        exit_code(&pod, id);
        stdout_lines(&pod.log(id))
    };
    assert_eq!(req("joined", true), inside, "joinPod: the pod's netns");
    assert_ne!(req("alone", false), inside, "no joinPod: its own");
    assert_eq!(std::fs::read(dir.join("config.json")).unwrap(), text);
    shutdown_kill(&mut pod);
}

#[test]
fn init_death_is_noticed_and_the_pins_stay_usable() {
    let (mut pod, base) = sandboxed("initdeath", "net", &[]);
    let stats = pod.call(STATS, json!({})).ok();
    let init = stats["init"]["pid"].as_u64().expect("init in Stats") as u32;
    assert!(stats["init"]["rssBytes"].as_u64().unwrap() > 0, "{stats}");
    let (_, before) = run_to_end(&pod, "a", "readlink /proc/self/ns/net", json!({}));
    // SAFETY: a signal to the pod's init, a process of this test's making.
    unsafe { libc::kill(init as i32, libc::SIGKILL) };
    assert!(
        eventually(Duration::from_secs(5), || {
            pod.server_log_text().contains("before the pod")
        }),
        "no error logged: {}",
        pod.server_log_text()
    );
    assert!(
        eventually(Duration::from_secs(5), || proc_state(init).is_none()),
        "the dead init is left a zombie"
    );
    let (_, after) = run_to_end(&pod, "b", "readlink /proc/self/ns/net", json!({}));
    assert_eq!(before, after, "the pinned netns outlives its init");
    shutdown_kill(&mut pod);
    assert_eq!(mounts_under(&base), Vec::<String>::new());
}
