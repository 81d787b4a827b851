//! The Python client package (clients/python/podmon, on the PyPI `varlink`
//! package) driving a real podmon as an engine would:
//! tests/clients/python_engine.py starts the monitor through `podmon.new`.

mod common;

use common::*;
use std::fs;
use std::process::Command;
use std::time::Duration;

#[test]
fn python_client_drives_podmon_as_an_engine() {
    let run = test_base().join(format!("py-engine.{}", std::process::id()));
    let _ = fs::remove_dir_all(&run);
    fs::create_dir_all(&run).unwrap();
    let reactor = std::env::var("PODMON_TEST_REACTOR").unwrap_or_default();
    let mut c = Command::new("python3");
    c.arg(project_dir().join("tests/clients/python_engine.py"))
        .arg(podmon_bin())
        .arg(runc())
        .arg(rootfs())
        .arg(&run)
        .env("PYTHONPATH", project_dir().join("clients/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PODMON_REACTOR", &reactor);
    let out = run_with_timeout(&mut c, Duration::from_secs(120));
    let server_log = fs::read_to_string(run.join("server.log")).unwrap_or_default();
    let leftover = cleanup_runtime(runc(), &run.join("state/runtime"));
    assert!(
        out.success() && out.stdout.trim() == "ok",
        "the Python client test failed:\n{out:?}\nserver log:\n{server_log}"
    );
    assert!(leftover.is_empty(), "containers left in runc: {leftover:?}");
    if reactor == "epoll" {
        assert!(
            server_log.contains("using the epoll backend"),
            "{server_log}"
        );
    }
    let _ = fs::remove_dir_all(&run);
}
