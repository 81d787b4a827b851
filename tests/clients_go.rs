//! The generated clients against the IDL, and the Go client package
//! (clients/go/podmon) driving a real podmon as an engine would: `go test`
//! in GOPATH mode against Debian's golang-github-varlink-go-dev.

mod common;

use common::*;
use std::fs;
use std::process::Command;
use std::time::Duration;

/// Fails when clients/ was not regenerated after an IDL change.
#[test]
fn generated_clients_match_the_idl() {
    let mut c = Command::new(project_dir().join("scripts/gen-clients"));
    c.arg("--check");
    let out = run_with_timeout(&mut c, Duration::from_secs(60));
    assert!(
        out.success(),
        "the generated clients are stale: run scripts/gen-clients\n{out:?}"
    );
}

#[test]
fn go_client_drives_podmon_as_an_engine() {
    let go = find_executable("go").expect("go not found: run scripts/install-deps");
    let run = test_base().join(format!("go-engine.{}", std::process::id()));
    let _ = fs::remove_dir_all(&run);
    fs::create_dir_all(&run).unwrap();
    let cache = test_base().join("gocache");
    fs::create_dir_all(&cache).unwrap();
    let mut c = Command::new(&go);
    c.current_dir(project_dir().join("clients/go/podmon"))
        .args(["test", "-count=1", "-v", "."])
        // GOPATH mode with Debian's packaged sources: no module download.
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOCACHE", &cache)
        .env("PODMON_BIN", podmon_bin())
        .env("PODMON_RUNTIME", runc())
        .env("PODMON_ROOTFS", rootfs())
        .env("PODMON_RUN_DIR", &run)
        .env("PODMON_REACTOR", reactor());
    let out = run_with_timeout(&mut c, Duration::from_secs(400));
    let server_log = fs::read_to_string(run.join("server.log")).unwrap_or_default();
    let leftover = cleanup_runtime(runc(), &run.join("state/runtime"));
    assert!(
        out.success() && out.stdout.contains("--- PASS: TestEngineLifecycle"),
        "go test failed:\n{out:?}\nserver log:\n{server_log}"
    );
    assert!(leftover.is_empty(), "containers left in runc: {leftover:?}");
    if reactor() == "epoll" {
        assert!(
            server_log.contains("using the epoll backend"),
            "{server_log}"
        );
    }
    let _ = fs::remove_dir_all(&run);
}

/// The reactor backend this run asks for (PODMON_TEST_REACTOR), passed to
/// the monitor the Go client starts.
fn reactor() -> String {
    std::env::var("PODMON_TEST_REACTOR").unwrap_or_default()
}
