//! The Python client package (clients/python/podmon, on the PyPI `varlink`
//! package) against a real podmon: tests/clients/python_engine.py.

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn python_client_drives_podmon() {
    let mut pod = Pod::start("py-engine");
    let mut c = Command::new("python3");
    c.arg(project_dir().join("tests/clients/python_engine.py"))
        .arg(format!("unix:{}", pod.socket.display()))
        .arg(rootfs())
        .env("PYTHONPATH", project_dir().join("clients/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let out = run_with_timeout(&mut c, Duration::from_secs(120)).assert_ok();
    assert_eq!(out.stdout.trim(), "ok", "{out:?}");
    assert!(
        listed_ids(&pod).is_empty(),
        "containers left: {:?}",
        listed_ids(&pod)
    );
    pod.assert_alive();
}
