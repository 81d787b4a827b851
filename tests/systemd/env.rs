//! What a socket-activated monitor under a service manager got
//! (`LISTEN_FDS`, `LISTEN_PID`, `NOTIFY_SOCKET`, `WATCHDOG_USEC`,
//! `INVOCATION_ID`) reaches neither the runtime nor a container: read
//! from a runtime wrapper's `env`, the container's `/proc/1/environ` and
//! an exec's `env`.

use std::fs;

use crate::common::*;
use crate::manager::Manager;

const SERVICE_VARS: [&str; 6] = [
    "LISTEN_",
    "NOTIFY_SOCKET",
    "WATCHDOG_",
    "INVOCATION_ID",
    "PODMON_REEXEC",
    "JOURNAL_STREAM",
];

#[track_caller]
fn assert_clean(what: &str, env: &str) {
    assert!(!env.trim().is_empty(), "{what}: nothing read");
    for line in env.lines() {
        assert!(
            !SERVICE_VARS.iter().any(|v| line.starts_with(v)),
            "{what} has {line}:\n{env}"
        );
    }
}

#[test]
fn service_variables_reach_neither_runtime_nor_container() {
    let m = Manager::bind("env");
    let wrapper = wrapper_runtime("env", "env > \"$dir/env.$verb\"");
    let pod = Pod::start_with(
        "env",
        PodOptions {
            socket_activated: true,
            runtime: Some(wrapper.path.clone()),
            env: vec![
                ("NOTIFY_SOCKET".into(), m.address()),
                ("WATCHDOG_USEC".into(), "60000000".into()),
                ("INVOCATION_ID".into(), "0123456789abcdef".into()),
                ("JOURNAL_STREAM".into(), "8:1234".into()),
            ],
            ..Default::default()
        },
    );
    // The monitor itself did get them (socket-activate set LISTEN_*).
    let own = fs::read(format!("/proc/{}/environ", pod.pid)).unwrap();
    let own = String::from_utf8_lossy(&own).replace('\0', "\n");
    assert!(own.contains("NOTIFY_SOCKET="), "{own}");

    pod.run(
        "c",
        &[
            "sh",
            "-c",
            "tr '\\0' '\\n' < /proc/1/environ; echo; sleep 100",
        ],
    );
    let log = wait_for_log(&pod, "c", "PATH=");
    assert_clean("the container's /proc/1/environ", &log);

    let out = pod.cli_ok(&["exec", "c", "--", "env"]);
    assert_clean("an exec's env", &out.stdout);

    for verb in ["create", "start", "exec"] {
        let env = fs::read_to_string(wrapper.dir.join(format!("env.{verb}")))
            .unwrap_or_else(|e| panic!("runtime {verb}: {e}"));
        assert_clean(&format!("the runtime's {verb}"), &env);
    }
    pod.delete("c", true);
}

/// The container's log once it holds `needle`: the lines' contents,
/// without the CRI prefix (time, stream, tag).
fn wait_for_log(pod: &Pod, id: &str, needle: &str) -> String {
    let mut log = String::new();
    let found = wait_until(std::time::Duration::from_secs(10), || {
        log = pod.log(id);
        log.contains(needle)
    });
    assert!(found, "no {needle} in the log: {log}");
    log.lines()
        .filter_map(|l| l.splitn(4, ' ').nth(3))
        .collect::<Vec<_>>()
        .join("\n")
}
