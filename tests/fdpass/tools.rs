//! Real clients: a Python client on `socket.send_fds` / `recv_fds`.

use std::process::Command;
use std::time::Duration;

use crate::common::*;
use crate::settled_fds;

#[test]
fn python_client_passes_and_receives_descriptors() {
    let pod = Pod::start("fd-python");
    let before = settled_fds(pod.pid);
    let script = project_dir().join("tests/clients/fdpass.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script).arg(&pod.socket).arg(rootfs());
    let out = run_with_timeout(&mut cmd, Duration::from_secs(120));
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains("fdpass ok"), "{out:?}");
    assert_fds_back_to(&pod, before, Duration::from_secs(10));
}

/// varlinkctl from systemd >= 258 (`--push-fd`), installed by
/// scripts/install-varlinkctl from Debian sid.
fn varlinkctl_sid() -> std::path::PathBuf {
    let p = std::path::PathBuf::from("/opt/podmon-tools-sid/bin/varlinkctl");
    assert!(
        p.exists(),
        "{} is missing: run scripts/install-deps (or scripts/install-varlinkctl)",
        p.display()
    );
    p
}

/// `varlinkctl ARGS` with `fd` as its fd 3.
fn varlinkctl_with_fd3(fd: std::os::fd::BorrowedFd<'_>, args: &[&str]) -> Out {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let raw = fd.as_raw_fd();
    let mut cmd = Command::new(varlinkctl_sid());
    cmd.arg("--no-pager").args(args);
    // SAFETY: dup2 is async-signal-safe; `raw` stays open across the spawn.
    unsafe {
        cmd.pre_exec(move || {
            // dup2 onto itself keeps close-on-exec: clear it instead.
            let rc = if raw == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(raw, 3)
            };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    run_with_timeout(&mut cmd, Duration::from_secs(60))
}

#[test]
fn varlinkctl_push_fd_hands_a_listening_socket_to_a_socket_activated_container() {
    use std::io::Read;
    use std::os::fd::AsFd;
    let pod = Pod::start("fd-activated");
    // A bundle container running the host's Python (the host's /usr bound
    // read-only over the rootfs's), serving one connection on its fd 3.
    let tmpl = pod.create("tmpl", &["true"]);
    let src = std::path::Path::new(tmpl["bundle"].as_str().unwrap()).join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(src).unwrap()).unwrap();
    pod.delete("tmpl", true);
    let serve = "import socket\ns = socket.socket(fileno=3)\nc, _ = s.accept()\nc.sendall(b'served on fd 3')\nc.close()\n";
    spec["process"]["args"] = serde_json::json!([
        "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        "--library-path",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/bin/python3",
        "-c",
        serve
    ]);
    if let Some(p) = spec["linux"]["cgroupsPath"].as_str() {
        spec["linux"]["cgroupsPath"] = serde_json::json!(p.replace("tmpl", "web"));
    }
    spec["mounts"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "destination": "/usr", "type": "bind", "source": "/usr",
            "options": ["rbind", "ro"]
        }));
    let bundle = pod.dir.join("bundle-web");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::write(bundle.join("config.json"), spec.to_string()).unwrap();
    let before = settled_fds(pod.pid);
    let path = pod.dir.join("web.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let params = serde_json::json!({
        "id": "web", "bundle": bundle.display().to_string(), "preserveFds": [0]
    })
    .to_string();
    let sock = pod.socket.display().to_string();
    let out = varlinkctl_with_fd3(
        listener.as_fd(),
        &[
            "--push-fd=3",
            "call",
            &sock,
            "io.podmon.Pod.CreateContainer",
            &params,
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains("\"created\""), "{out:?}");
    drop(listener);
    pod.start_container("web");
    let mut conn = std::os::unix::net::UnixStream::connect(&path).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut got = String::new();
    conn.read_to_string(&mut got).unwrap();
    assert_eq!(got, "served on fd 3", "log: {}", pod.log("web"));
    assert_eq!(pod.wait("web")["exitCode"], 0, "log: {}", pod.log("web"));
    // varlinkctl --push-fd to a method that takes none: refused by name.
    let r = std::fs::File::open("/dev/null").unwrap();
    let out = varlinkctl_with_fd3(
        r.as_fd(),
        &[
            "--push-fd=3",
            "call",
            &sock,
            "io.podmon.Pod.GetContainer",
            "{\"id\":\"web\"}",
        ],
    );
    assert!(!out.status.success(), "{out:?}");
    assert!(
        out.stderr.contains("io.podmon.Pod.InvalidValue") && out.stdout.contains("fileDescriptors"),
        "{out:?}"
    );
    pod.delete("web", false);
    assert_fds_back_to(&pod, before, Duration::from_secs(10));
}

#[test]
fn varlinkctl_exec_receives_the_pty_master_of_open_console() {
    let pod = Pod::start("fd-vl-console");
    pod.create_with("t", &["sh"], serde_json::json!({"terminal": true}));
    pod.start_container("t");
    let before = settled_fds(pod.pid);
    let sock = pod.socket.display().to_string();
    // varlinkctl --exec runs the command with the reply's descriptors as
    // its fds 3, ...: it types into the container's shell.
    let mut cmd = Command::new(varlinkctl_sid());
    cmd.args([
        "--exec",
        "call",
        &sock,
        "io.podmon.Pod.OpenConsole",
        "{\"id\":\"t\"}",
        "--",
        "/bin/sh",
        "-c",
        "cat >/dev/null; [ -t 3 ] && printf 'exit 5\\n' >&3",
    ]);
    let out = run_with_timeout(&mut cmd, Duration::from_secs(60));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(pod.wait("t")["exitCode"], 5, "{out:?}");
    pod.delete("t", false);
    assert_fds_back_to(&pod, before, Duration::from_secs(10));
}
