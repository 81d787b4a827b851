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

/// Go's toolchain in GOPATH mode with Debian's packaged sources (no module
/// download).
fn go_command(dir: &std::path::Path, args: &[&str]) -> Command {
    let go = find_executable("go").expect("go not found: run scripts/install-deps");
    let cache = test_base().join("gocache");
    fs::create_dir_all(&cache).unwrap();
    let mut c = Command::new(go);
    c.current_dir(dir)
        .args(args)
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOCACHE", &cache);
    c
}

/// The generator handles the whole IDL grammar (maps, sets, nested
/// anonymous structs and enums, keywords as names), not only what the IDL
/// uses today: its output for tests/clients/grammar.varlink compiles in Go
/// (with the package's transport) and imports in Python.
#[test]
fn generator_covers_the_idl_grammar() {
    let dir = test_base().join(format!("gen-grammar.{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    for f in ["client.go", "frames.go"] {
        fs::copy(project_dir().join("clients/go/podmon").join(f), dir.join(f)).unwrap();
    }
    let mut c = Command::new(project_dir().join("scripts/gen-clients"));
    c.arg("--idl")
        .arg(project_dir().join("tests/clients/grammar.varlink"))
        .arg("--go-out")
        .arg(dir.join("zz_generated.go"))
        .arg("--py-out")
        .arg(dir.join("_generated.py"));
    run_with_timeout(&mut c, Duration::from_secs(60)).assert_ok();
    // gofmt aligns fields: compare with single spaces.
    let go = fs::read_to_string(dir.join("zz_generated.go"))
        .unwrap()
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    for needle in [
        "Dict map[string]int64 `json:\"dict\"`",
        "Set map[string]struct{} `json:\"set\"`",
        "Inner *EverythingNestedInner `json:\"inner,omitempty\"`",
        "EverythingModeSlow EverythingMode = \"slow\"",
        "func (c *Client) WatchMore(",
        "func (c *Client) EverythingUpgrade(",
        "func (e *Failed) ErrorName() string",
    ] {
        assert!(go.contains(needle), "generated Go lacks {needle:?}:\n{go}");
    }
    assert!(
        !go.contains("func (c *Client) Watch("),
        "Watch requires more"
    );
    run_with_timeout(
        &mut go_command(&dir, &["vet", "."]),
        Duration::from_secs(300),
    )
    .assert_ok();
    let mut py = Command::new("python3");
    py.current_dir(&dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .arg("-c")
        .arg(
            "import inspect, _generated as g\n\
         assert set(g.ERRORS) == {'org.example.Grammar.Failed', 'org.example.Grammar.Gone'}\n\
         e = g.Failed(parameters={'reason': 'r'}); assert e.reason == 'r' and e.detail is None\n\
         assert 'class_' in inspect.signature(g.Methods.everything).parameters\n\
         assert not hasattr(g.Methods, 'watch') and hasattr(g.Methods, 'watch_more')\n",
        );
    run_with_timeout(&mut py, Duration::from_secs(60)).assert_ok();
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn go_client_drives_podmon_as_an_engine() {
    let run = test_base().join(format!("go-engine.{}", std::process::id()));
    let _ = fs::remove_dir_all(&run);
    fs::create_dir_all(&run).unwrap();
    let dir = project_dir().join("clients/go/podmon");
    let mut c = go_command(&dir, &["test", "-count=1", "-v", "."]);
    c.env("PODMON_BIN", podmon_bin())
        .env("PODMON_RUNTIME", runc())
        .env("PODMON_ROOTFS", rootfs())
        .env("PODMON_RUN_DIR", &run)
        .env("PODMON_REACTOR", reactor());
    let out = run_with_timeout(&mut c, Duration::from_secs(400));
    let server_log = fs::read_to_string(run.join("server.log")).unwrap_or_default();
    let mut leftover = cleanup_runtime(runc(), &run.join("state/runtime"));
    for sub in ["oom", "restart"] {
        leftover.extend(cleanup_runtime(
            runc(),
            &run.join(sub).join("state/runtime"),
        ));
    }
    assert!(
        out.success()
            && out.stdout.contains("--- PASS: TestEngineLifecycle")
            && out.stdout.contains("--- PASS: TestEngineOOMExitPaths")
            && out
                .stdout
                .contains("--- PASS: TestEngineRestartKeepsExitPaths"),
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
