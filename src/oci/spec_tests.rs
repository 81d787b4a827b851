use super::*;
use serde_json::{Value, json};

fn simple() -> SimpleSpec {
    SimpleSpec {
        rootfs: "/var/lib/podmon/c1/rootfs".into(),
        args: vec!["sh".into(), "-c".into(), "echo hi".into()],
        env: vec!["FOO=bar".into()],
        cwd: "/".into(),
        hostname: "c1".into(),
        memory_max: Some(64 << 20),
        pids_max: Some(100),
        cgroups_path: "/podmon/pod1/c1".into(),
        terminal: false,
        console_size: None,
        joins: vec![],
        id_maps: None,
    }
}

fn to_json(s: &SimpleSpec) -> Value {
    let spec = build_spec(s).expect("valid spec");
    serde_json::to_value(&spec).expect("serializable")
}

#[test]
fn key_fields() {
    let v = to_json(&simple());
    assert_eq!(v["ociVersion"], "1.1.0");
    assert_eq!(
        v["root"],
        json!({"path": "/var/lib/podmon/c1/rootfs", "readonly": false})
    );
    assert_eq!(v["hostname"], "c1");
    let p = &v["process"];
    assert_eq!(p["terminal"], false);
    assert_eq!(p["user"], json!({"uid": 0, "gid": 0}));
    assert_eq!(p["args"], json!(["sh", "-c", "echo hi"]));
    assert_eq!(p["env"], json!([DEFAULT_PATH, "FOO=bar"]));
    assert_eq!(p["cwd"], "/");
    assert_eq!(p["noNewPrivileges"], true);
    assert_eq!(
        p["rlimits"],
        json!([{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}])
    );
    for set in ["bounding", "effective", "permitted", "ambient"] {
        let mut caps: Vec<String> =
            serde_json::from_value(p["capabilities"][set].clone()).expect("list");
        caps.sort();
        assert_eq!(
            caps,
            ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "{set}"
        );
    }
    let l = &v["linux"];
    assert_eq!(l["cgroupsPath"], "/podmon/pod1/c1");
    assert_eq!(l["resources"]["memory"], json!({"limit": 64 << 20}));
    assert_eq!(l["resources"]["pids"], json!({"limit": 100}));
    let ns: Vec<&str> = l["namespaces"]
        .as_array()
        .expect("array")
        .iter()
        .map(|n| n["type"].as_str().expect("type"))
        .collect();
    assert_eq!(ns, ["pid", "network", "ipc", "uts", "mount"]);
    assert!(l["namespaces"][1].get("path").is_none(), "new empty netns");
    assert_eq!(l["maskedPaths"].as_array().map(Vec::len), Some(10));
    assert_eq!(l["readonlyPaths"][3], "/proc/sys");
    let devices = l["resources"]["devices"].as_array().expect("devices");
    assert_eq!(devices[0], json!({"allow": false, "access": "rwm"}));
    assert_eq!(
        devices[1],
        json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"})
    );
    assert_eq!(
        devices[8],
        json!({"allow": true, "type": "c", "major": 136, "access": "rwm"})
    );
}

#[test]
fn pod_namespaces_joined() {
    let mut s = simple();
    s.joins = vec![
        ("network".into(), Some("/run/podmon/ns/netns/p".into())),
        ("uts".into(), Some("/run/podmon/ns/utsns/p".into())),
        ("ipc".into(), None),
    ];
    let v = to_json(&s);
    let ns = v["linux"]["namespaces"].as_array().unwrap();
    let types: Vec<&str> = ns.iter().map(|n| n["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["pid", "network", "uts", "mount"]);
    assert_eq!(ns[1]["path"], "/run/podmon/ns/netns/p");
    assert!(ns[0].get("path").is_none());
    assert!(
        v.get("hostname").is_none(),
        "the pod's uts has the pod's name"
    );
}

#[test]
fn pod_user_namespace_joined_with_its_maps() {
    let mut s = simple();
    s.joins = vec![("user".into(), Some("/ns/userns/p".into()))];
    s.id_maps = Some(IdMaps {
        uid: vec![IdMap::parse("uid", "0:100000:65536").unwrap()],
        gid: vec![IdMap::parse("gid", "0:200000:1000").unwrap()],
    });
    let v = to_json(&s);
    let ns = v["linux"]["namespaces"].as_array().unwrap();
    assert_eq!(ns.last().unwrap()["type"], "user");
    assert_eq!(ns.last().unwrap()["path"], "/ns/userns/p");
    assert_eq!(
        v["linux"]["uidMappings"],
        serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}])
    );
    assert_eq!(v["linux"]["gidMappings"][0]["size"], 1000);
}

#[test]
fn mounts_match_runc_spec() {
    let v = to_json(&simple());
    let mounts = v["mounts"].as_array().expect("mounts");
    let dsts: Vec<&str> = mounts
        .iter()
        .map(|m| m["destination"].as_str().expect("dst"))
        .collect();
    assert_eq!(
        dsts,
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/dev/shm",
            "/dev/mqueue",
            "/sys",
            "/sys/fs/cgroup"
        ]
    );
    assert_eq!(
        mounts[0],
        json!({"destination": "/proc", "type": "proc", "source": "proc"})
    );
    assert_eq!(
        mounts[1]["options"],
        json!(["nosuid", "strictatime", "mode=755", "size=65536k"])
    );
    assert_eq!(mounts[2]["type"], "devpts");
    assert_eq!(
        mounts[2]["options"],
        json!([
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5"
        ])
    );
    assert_eq!(
        mounts[5]["options"],
        json!(["nosuid", "noexec", "nodev", "ro"])
    );
}

#[test]
fn optional_parts() {
    let mut s = simple();
    s.memory_max = None;
    s.pids_max = None;
    s.terminal = true;
    s.env = vec!["PATH=/bin".into()];
    let v = to_json(&s);
    assert!(v["linux"]["resources"].get("memory").is_none());
    assert!(v["linux"]["resources"].get("pids").is_none());
    assert_eq!(v["process"]["terminal"], true);
    assert_eq!(v["process"]["env"], json!(["PATH=/bin", "TERM=xterm"]));
    s.memory_max = Some(-1);
    s.pids_max = Some(-1);
    let v = to_json(&s);
    assert_eq!(v["linux"]["resources"]["pids"]["limit"], -1);
}

#[test]
fn rejects_bad_input() {
    type Mutate = fn(&mut SimpleSpec);
    let cases: [(Mutate, &str); 7] = [
        (|s| s.rootfs = "rootfs".into(), "not an absolute path"),
        (|s| s.args.clear(), "empty"),
        (|s| s.cwd = "tmp".into(), "working directory"),
        (|s| s.env.push("NOEQUALS".into()), "KEY=value"),
        (|s| s.env.push("=x".into()), "KEY=value"),
        (|s| s.memory_max = Some(0), "memory limit 0"),
        (|s| s.pids_max = Some(-2), "pids limit -2"),
    ];
    for (mutate, msg) in cases {
        let mut s = simple();
        mutate(&mut s);
        let err = build_spec(&s).expect_err(msg).to_string();
        assert!(err.contains(msg), "{err:?} should contain {msg:?}");
    }
}

#[test]
fn write_config_round_trips() {
    let dir = std::env::temp_dir().join(format!("podmon-spec-test-{}", std::process::id()));
    let bundle = dir.join("nested/bundle");
    let spec = build_spec(&simple()).expect("spec");
    write_config(&bundle, &spec).expect("write");
    let loaded = Spec::load(bundle.join("config.json")).expect("load");
    assert_eq!(loaded, spec);
    assert!(!bundle.join(".config.json.tmp").exists());
    // Overwriting works too.
    write_config(&bundle, &spec).expect("rewrite");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn write_config_reports_path() {
    let err = write_config(
        Path::new("/proc/nonexistent/bundle"),
        &build_spec(&simple()).expect("spec"),
    )
    .expect_err("cannot create under /proc");
    assert!(err.to_string().contains("/proc/nonexistent"), "{err}");
}
