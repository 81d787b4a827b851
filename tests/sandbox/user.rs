//! A pod user namespace (`--namespaces ...,user --uid-map --gid-map`): the
//! monitor makes it first, so it owns the pod's other new namespaces; the
//! pod's init and every container run in it as root inside, mapped ids
//! outside; the options are checked before anything starts.

use super::*;

const MAPS: [&str; 4] = ["--uid-map", "0:100000:65536", "--gid-map", "0:100000:65536"];

/// The `Uid:` (or `Gid:`) line's real id of process `pid`, seen from here.
fn host_id(pid: u64, which: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(which))
        .unwrap_or_else(|| panic!("no {which} in /proc/{pid}/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn containers_run_in_the_pods_user_namespace() {
    let (mut pod, base) = sandboxed("userns", "net,ipc,uts,pid,user", &MAPS);
    let got = get_pod(&pod);
    let ns = got["namespaces"].as_array().expect("namespaces in GetPod");
    let user = ns
        .iter()
        .find(|n| n["kind"] == "user")
        .unwrap_or_else(|| panic!("no user namespace in {got}"));
    let pin = base.join("userns").join(&pod.name);
    assert_eq!(user["path"].as_str().unwrap(), pin.display().to_string());
    let init = got["init"]["pid"].as_u64().unwrap();
    assert_eq!(host_id(init, "Uid:"), 100000, "the init is root inside");
    assert_eq!(host_id(init, "Gid:"), 100000);

    let script = "id -u; id -g; cat /proc/self/uid_map; readlink /proc/self/ns/user; touch /tmp/w && echo wrote";
    pod.create_with(
        "a",
        &["sh", "-c", &format!("{script}; sleep 60")],
        json!({}),
    );
    pod.start_container("a");
    let pid = pod.call(GET_CONTAINER, json!({"id": "a"})).ok()["container"]["pid"]
        .as_u64()
        .unwrap();
    assert_eq!(
        host_id(pid, "Uid:"),
        100000,
        "container root is 100000 outside"
    );
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap(),
        std::fs::read_link(format!("/proc/{init}/ns/user")).unwrap(),
        "the container is in the pod's user namespace"
    );
    let (code, b) = run_to_end(&pod, "b", script, json!({}));
    assert_eq!(code, 0, "{b:?}");
    assert_eq!(b[0], "0");
    assert_eq!(b[1], "0");
    assert_eq!(
        b[2].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    assert_eq!(
        std::path::PathBuf::from(&b[3]),
        std::fs::read_link(format!("/proc/{init}/ns/user")).unwrap()
    );
    assert_eq!(b[4], "wrote");

    shutdown_kill(&mut pod);
    assert_eq!(mounts_under(&base), Vec::<String>::new());
    assert!(!pin.exists(), "the user namespace pin is gone");
    assert!(!proc_alive(init as u32), "the init outlived the pod");
}

/// `podmon serve ARGS` refuses to start, saying `why`, and makes nothing.
fn refused(name: &str, args: &[&str], why: &str) {
    let dir = test_base().join(format!("{name}.{}", std::process::id()));
    let out = std::process::Command::new(podmon_bin())
        .args(["serve", "--pod", name])
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--socket")
        .arg(dir.join("s.sock"))
        .arg("--ns-base")
        .arg(dir.join("ns"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} started anyway: {stderr}");
    assert!(stderr.contains(why), "{args:?}: {stderr}");
    assert!(!dir.join("s.sock").exists(), "nothing is made first");
    assert!(!dir.join("ns").exists(), "no pin is made first");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn user_namespace_options_are_checked_first() {
    refused(
        "user-nomaps",
        &["--namespaces", "net,user"],
        "a user namespace needs --uid-map and --gid-map",
    );
    refused(
        "user-noroot",
        &[
            "--namespaces",
            "user",
            "--uid-map",
            "1:100000:10",
            "--gid-map",
            "0:100000:10",
        ],
        "each mapping container id 0",
    );
    refused(
        "user-join",
        &[
            "--namespaces",
            "user=/proc/1/ns/user",
            "--uid-map",
            "0:1:1",
            "--gid-map",
            "0:1:1",
        ],
        "user=PATH is not supported",
    );
    refused(
        "maps-nouser",
        &[
            "--namespaces",
            "net",
            "--uid-map",
            "0:100000:10",
            "--gid-map",
            "0:100000:10",
        ],
        "need a user namespace",
    );
    refused(
        "user-badmap",
        &[
            "--namespaces",
            "user",
            "--uid-map",
            "0:100000",
            "--gid-map",
            "0:1:1",
        ],
        "--uid-map \"0:100000\": give CONTAINER:HOST:SIZE",
    );
    refused(
        "user-overlap",
        &[
            "--namespaces",
            "user",
            "--uid-map",
            "0:100000:10",
            "--uid-map",
            "5:300000:10",
            "--gid-map",
            "0:1:1",
        ],
        "overlap",
    );
}

#[test]
fn own_user_namespace_is_refused() {
    let (mut pod, _base) = sandboxed("userns-own", "net,user", &MAPS);
    let r = pod.call(
        CREATE_CONTAINER,
        json!({"id": "c", "rootfs": rootfs(), "command": ["true"], "ownNamespaces": ["user"]}),
    );
    let e = r.err("io.podmon.Pod.InvalidValue");
    assert_eq!(e["parameter"], "ownNamespaces", "{e}");
    shutdown_kill(&mut pod);
}

#[test]
fn bundle_joining_the_pod_gets_its_user_namespace_and_maps() {
    let (mut pod, _base) = sandboxed("userns-bundle", "net,user", &MAPS);
    let dir = callers_bundle_dir(&pod);
    // The caller's config: podmon's own for a rootfs container, without
    // the pod's user namespace and maps (a plain host-userns config).
    pod.create_with(
        "tmpl",
        &["sh", "-c", "id -u; cat /proc/self/uid_map"],
        json!({}),
    );
    let written = pod.state_dir.join("containers/tmpl/config.json");
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(written).unwrap()).unwrap();
    pod.delete("tmpl", true);
    cfg["root"]["path"] = json!("rootfs");
    let linux = cfg["linux"].as_object_mut().unwrap();
    assert!(linux.remove("uidMappings").is_some(), "{cfg}");
    linux.remove("gidMappings");
    linux["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "user" && n["type"] != "network");
    let text = serde_json::to_vec_pretty(&cfg).unwrap();
    std::fs::write(dir.join("config.json"), &text).unwrap();

    let p = json!({"id": "joined", "bundle": dir.display().to_string(), "joinPod": true});
    pod.call(CREATE_CONTAINER, p).ok();
    pod.start_container("joined");
    assert_eq!(exit_code(&pod, "joined"), 0);
    let out = stdout_lines(&pod.log("joined"));
    assert_eq!(out[0], "0");
    assert_eq!(
        out[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    assert_eq!(
        std::fs::read(dir.join("config.json")).unwrap(),
        text,
        "untouched"
    );
    shutdown_kill(&mut pod);
}
