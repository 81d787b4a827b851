//! One monitor per state directory, create never touching a container it
//! does not own, and `--socket` never replacing anything but a stale socket.

use crate::common::*;
use serde_json::json;
use std::fs;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn a_second_monitor_on_the_same_state_directory_is_refused() {
    umask_000();
    let pod = Pod::start("two-monitors");
    pod.run("c1", &["sleep", "100"]);
    let other = pod.dir.join("other.sock");
    let out = run_with_timeout(&mut serve_again(&pod, &other, &[]), Duration::from_secs(20));
    assert_eq!(out.code(), 1, "{out:?}");
    let want = format!(
        "podmon: state directory {} is in use by another monitor (pid {})",
        pod.state_dir.display(),
        pod.pid
    );
    assert!(out.stderr.contains(&want), "{out:?}");
    assert!(!other.exists(), "the refused monitor left a socket");
    // The first monitor's container and socket are untouched.
    assert_eq!(pod.get("c1")["status"], json!("running"));
    assert!(crate::runc_state(&pod, "c1").contains("running"));
}

#[test]
fn create_refuses_an_id_the_runtime_knows_and_leaves_it_alone() {
    umask_000();
    let pod = Pod::start("foreign");
    let c = pod.create("mine", &["sleep", "100"]);
    // A container in the pod's runtime state that this monitor did not
    // make (an earlier monitor's, or someone's runc): same bundle, other id.
    let bundle = pod.dir.join("foreign-bundle");
    fs::create_dir(&bundle).unwrap();
    let cfg = std::path::Path::new(c["bundle"].as_str().unwrap()).join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&fs::read(cfg).unwrap()).unwrap();
    spec["linux"]["cgroupsPath"] = json!(format!("/podmon-foreign-{}", std::process::id()));
    fs::write(bundle.join("config.json"), spec.to_string()).unwrap();
    // Its init holds its stdio until started: nothing is piped, or the
    // read would wait for it.
    let status = Command::new(runc())
        .arg("--root")
        .arg(pod.state_dir.join("runtime"))
        .args(["create", "--bundle"])
        .arg(&bundle)
        .arg("theirs")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "runc create: {status}");
    let r = pod.call(
        CREATE_CONTAINER,
        json!({"id": "theirs", "rootfs": rootfs().display().to_string(), "command": ["true"]}),
    );
    assert_eq!(r.err(CONTAINER_EXISTS)["id"], json!("theirs"));
    assert!(crate::runc_state(&pod, "theirs").contains("created"));
    assert!(!pod.state_dir.join("containers/theirs").exists());
}

#[test]
fn a_socket_path_holding_anything_else_is_refused_and_kept() {
    umask_000();
    let pod = Pod::start("socket-file");
    let file = pod.dir.join("file.sock");
    fs::write(&file, "data").unwrap();
    let dir = pod.dir.join("dir.sock");
    fs::create_dir(&dir).unwrap();
    let link = pod.dir.join("link.sock");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    for (path, kind) in [
        (&file, "regular file"),
        (&dir, "directory"),
        (&link, "symbolic link"),
    ] {
        // Another state directory, so the lock does not refuse it first.
        let state = pod.dir.join(format!("state-{kind}"));
        let mut cmd = Command::new(podmon_bin());
        cmd.args(["serve", "--pod", "other", "--runtime"])
            .arg(runc())
            .arg("--state-dir")
            .arg(&state)
            .arg("--socket")
            .arg(path);
        let out = run_with_timeout(&mut cmd, Duration::from_secs(20));
        assert_eq!(out.code(), 1, "{out:?}");
        let want = format!("{} exists and is a {kind}, not a socket", path.display());
        assert!(out.stderr.contains(&want), "{out:?}");
    }
    assert_eq!(fs::read_to_string(&file).unwrap(), "data");
    assert!(dir.is_dir());
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // A live monitor's socket is not taken over either.
    let out = run_with_timeout(
        Command::new(podmon_bin())
            .args(["serve", "--pod", "other", "--runtime"])
            .arg(runc())
            .arg("--state-dir")
            .arg(pod.dir.join("state-live"))
            .arg("--socket")
            .arg(&pod.socket),
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("in use by a running server"), "{out:?}");
    pod.call(GET_POD, json!({})).ok();
}

#[test]
fn a_state_directory_others_could_write_to_or_own_is_refused() {
    umask_000();
    let pod = Pod::start("unsafe-state");
    let wide = pod.dir.join("wide");
    fs::create_dir(&wide).unwrap();
    fs::set_permissions(&wide, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let theirs = pod.dir.join("theirs");
    fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(NOBODY), Some(NOBODY)).unwrap();
    let link = pod.dir.join("link");
    std::os::unix::fs::symlink(&pod.state_dir, &link).unwrap();
    for (state, want) in [
        (&wide, "has mode 777: others may write in it".to_owned()),
        (
            &theirs,
            format!("{} is owned by uid {NOBODY}", theirs.display()),
        ),
        (
            &link,
            format!("{} is not a directory but a symbolic link", link.display()),
        ),
    ] {
        let socket = pod.dir.join("unsafe.sock");
        let mut cmd = Command::new(podmon_bin());
        cmd.args(["serve", "--pod", "other", "--runtime"])
            .arg(runc())
            .arg("--state-dir")
            .arg(state)
            .arg("--socket")
            .arg(&socket);
        let out = run_with_timeout(&mut cmd, Duration::from_secs(20));
        assert_eq!(out.code(), 1, "{out:?}");
        assert!(out.stderr.contains(&want), "{want}: {out:?}");
        assert!(!socket.exists());
        if state != &link {
            assert_eq!(fs::read_dir(state).unwrap().count(), 0, "nothing in it");
        }
    }
    assert_eq!(
        mode_of(&wide),
        0o777,
        "an existing directory keeps its mode"
    );
}
