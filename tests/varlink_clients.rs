//! Third-party Varlink clients against podmon: systemd's varlinkctl, the
//! Python `varlink` package, the Go github.com/varlink/go package, and
//! systemd-socket-activate passing the listening socket (LISTEN_FDS).

mod common;

use common::*;
use serde_json::{Value, json};
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn idl_path() -> PathBuf {
    project_dir().join("varlink/io.podmon.Pod.varlink")
}

fn vctl(args: &[&str]) -> Out {
    let mut c = Command::new(common::varlinkctl());
    c.arg("--no-pager").args(args);
    run_with_timeout(&mut c, Duration::from_secs(60))
}

fn sock(pod: &Pod) -> String {
    pod.socket.display().to_string()
}

#[test]
fn get_info_and_interface_description_verbatim() {
    let pod = Pod::start("vl-info");
    let info = pod.call("org.varlink.service.GetInfo", json!({})).ok();
    for k in ["vendor", "product", "version", "url"] {
        assert!(info[k].is_string(), "GetInfo lacks {k}: {info}");
    }
    let ifaces: Vec<&str> = info["interfaces"]
        .as_array()
        .unwrap_or_else(|| panic!("no interfaces: {info}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(ifaces.contains(&"io.podmon.Pod"), "{info}");
    assert!(ifaces.contains(&"org.varlink.service"), "{info}");

    let d = pod
        .call(
            "org.varlink.service.GetInterfaceDescription",
            json!({"interface": "io.podmon.Pod"}),
        )
        .ok();
    let want = fs::read_to_string(idl_path()).unwrap();
    assert_eq!(
        d["description"].as_str(),
        Some(want.as_str()),
        "IDL not served verbatim"
    );

    let d = pod
        .call(
            "org.varlink.service.GetInterfaceDescription",
            json!({"interface": "org.varlink.service"}),
        )
        .ok();
    assert!(
        d["description"]
            .as_str()
            .unwrap_or("")
            .contains("interface org.varlink.service"),
        "{d}"
    );
}

#[test]
fn varlinkctl_validate_idl() {
    let p = idl_path().display().to_string();
    vctl(&["validate-idl", &p]).assert_ok();
}

#[test]
fn varlinkctl_info_and_introspect() {
    let pod = Pod::start("vctl-info");
    let s = sock(&pod);
    let info = vctl(&["info", &s]).assert_ok();
    assert!(info.stdout.contains("io.podmon.Pod"), "{info:?}");
    assert!(info.stdout.contains("org.varlink.service"), "{info:?}");

    let intro = vctl(&["introspect", &s, "io.podmon.Pod"]).assert_ok();
    for needle in [
        "interface io.podmon.Pod",
        "type ContainerInfo",
        "method CreateContainer",
        "method ListContainers",
        "error NoSuchContainer",
        "error InvalidValue",
    ] {
        assert!(
            intro.stdout.contains(needle),
            "introspect lacks {needle:?}: {}",
            intro.stdout
        );
    }
    let methods = vctl(&["list-methods", &s, "io.podmon.Pod"]).assert_ok();
    for m in [
        "CreateContainer",
        "StartContainer",
        "KillContainer",
        "WaitContainer",
        "DeleteContainer",
        "GetContainer",
        "ListContainers",
    ] {
        assert!(
            methods.stdout.contains(&format!("io.podmon.Pod.{m}")),
            "{methods:?}"
        );
    }
}

#[test]
fn varlinkctl_call_and_more() {
    let pod = Pod::start("vctl-call");
    let s = sock(&pod);
    pod.create("a", &["true"]);
    pod.create("b", &["true"]);
    pod.run("c", &["sleep", "100"]);

    let out = vctl(&["call", "--json=short", &s, GET_CONTAINER, r#"{"id":"c"}"#]).assert_ok();
    let v: Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("varlinkctl output not JSON ({e}): {out:?}"));
    assert_eq!(v["container"]["id"], json!("c"), "{v}");
    assert_eq!(v["container"]["status"], json!("running"), "{v}");

    let out = vctl(&["call", "--more", "--json=short", &s, LIST_CONTAINERS, "{}"]).assert_ok();
    let mut ids: Vec<String> = out
        .stdout
        .lines()
        .filter(|l| {
            !l.trim_matches(|c: char| c.is_whitespace() || c == '\u{1e}')
                .is_empty()
        })
        .map(|l| {
            // --more prints JSON-SEQ (RFC 7464): each record starts with RS (0x1e).
            let l = l.trim_start_matches('\u{1e}');
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}"));
            v["container"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{v}"))
                .to_string()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, ["a", "b", "c"], "{out:?}");

    // A Varlink error: non-zero exit, error name on stderr.
    let out = vctl(&["call", &s, GET_CONTAINER, r#"{"id":"nope"}"#]);
    assert!(!out.success(), "{out:?}");
    assert!(
        out.stderr.contains(NO_SUCH_CONTAINER) || out.stdout.contains(NO_SUCH_CONTAINER),
        "{out:?}"
    );
    // varlinkctl checks parameters against the introspected IDL on its own
    // side; a call with every parameter type exercised must be accepted.
    let rootfs = rootfs().display().to_string();
    let p = json!({
        "id": "full", "rootfs": rootfs, "command": ["true"], "env": ["A=1"],
        "cwd": "/", "hostname": "h", "memoryMax": 67108864, "pidsMax": 10
    })
    .to_string();
    let out = vctl(&["call", "--json=short", &s, CREATE_CONTAINER, &p]).assert_ok();
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["container"]["status"], json!("created"));
    pod.delete("c", true);
}

#[test]
fn python_varlink_client() {
    let pod = Pod::start("py-client");
    pod.run("p", &["sh", "-c", "exit 4"]);
    pod.wait("p");
    let script = project_dir().join("tests/clients/get_container.py");
    let addr = format!("unix:{}", sock(&pod));
    let mut c = Command::new("python3");
    c.arg(&script).arg(&addr).arg("p");
    let out = run_with_timeout(&mut c, Duration::from_secs(60)).assert_ok();
    let v: Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("python client output not JSON ({e}): {out:?}"));
    assert_eq!(v["container"]["id"], json!("p"), "{v}");
    assert_eq!(v["container"]["status"], json!("stopped"), "{v}");
    assert_eq!(v["container"]["exitCode"], json!(4), "{v}");

    let mut c = Command::new("python3");
    c.arg(&script).arg(&addr).arg("missing");
    let out = run_with_timeout(&mut c, Duration::from_secs(60)).assert_code(3);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["error"], json!(NO_SUCH_CONTAINER), "{v}");
    assert_eq!(v["parameters"]["id"], json!("missing"), "{v}");
}

#[test]
fn go_varlink_client() {
    let go = find_executable("go").expect("go not found: run scripts/install-deps");
    let pod = Pod::start("go-client");
    pod.create("g1", &["true"]);
    pod.create("g2", &["true"]);
    pod.run("g3", &["sleep", "100"]);
    let cache = test_base().join("gocache");
    fs::create_dir_all(&cache).unwrap();
    let bin = pod.dir.join("list_containers");
    let mut build = Command::new(&go);
    build
        .current_dir(pod.dir.clone())
        .args(["build", "-o"])
        .arg(&bin)
        .arg(project_dir().join("tests/clients/list_containers.go"))
        // GOPATH mode with Debian's packaged sources: no module download.
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOCACHE", &cache);
    run_with_timeout(&mut build, Duration::from_secs(300)).assert_ok();
    let mut c = Command::new(&bin);
    c.arg(format!("unix:{}", sock(&pod)));
    let out = run_with_timeout(&mut c, Duration::from_secs(60)).assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.last(), Some(&"replies: 3"), "{out:?}");
    let mut ids: Vec<String> = lines[..lines.len() - 1]
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["container"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, ["g1", "g2", "g3"]);
    pod.delete("g3", true);
}

#[test]
fn socket_activation_listen_fds() {
    let opts = PodOptions {
        socket_activated: true,
        ..Default::default()
    };
    let mut pod = Pod::start_with("sockact", opts);
    // systemd-socket-activate execs podmon in its own process.
    assert!(
        wait_until(Duration::from_secs(5), || proc_comm(pod.pid) == "podmon"),
        "process {} is {:?}, not podmon",
        pod.pid,
        proc_comm(pod.pid)
    );
    pod.assert_alive();
    let environ = fs::read(format!("/proc/{}/environ", pod.pid)).unwrap_or_default();
    let environ = String::from_utf8_lossy(&environ);
    assert!(
        environ.split('\0').any(|e| e == "LISTEN_FDS=1"),
        "podmon got no LISTEN_FDS=1"
    );

    // The passed socket serves many connections and real work.
    for _ in 0..3 {
        pod.call("org.varlink.service.GetInfo", json!({})).ok();
    }
    pod.run("sa", &["sh", "-c", "echo activated; exit 6"]);
    assert_eq!(pod.wait("sa")["exitCode"], json!(6));
    assert!(pod.log("sa").contains(" stdout F activated\n"));
    let out = pod.cli(&["wait", "sa"]).assert_code(6);
    assert_eq!(out.stdout.trim(), "6");
    // It did not also bind the default socket for the pod.
    assert!(!std::path::Path::new("/run/podmon/sockact.sock").exists());
    pod.assert_alive();
}
