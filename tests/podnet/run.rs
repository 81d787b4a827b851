//! RunInPod: host programs in the pod's network namespace.

use serde_json::json;

use crate::common::*;
use crate::support::*;

/// The interface names /proc/net/dev lists.
fn interfaces(dev: &str) -> Vec<String> {
    dev.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(name, _)| name.trim().to_owned())
        .collect()
}

#[test]
fn run_in_pod_sees_only_the_pods_loopback() {
    let ns = NetNs::new();
    let pod = pod_in("podnet-run", &ns);
    let host = std::fs::read_to_string("/proc/net/dev").unwrap();
    assert!(interfaces(&host).len() > 1, "the host has only lo:\n{host}");
    let r = run_in_pod(&pod, json!({ "command": ["cat", "/proc/net/dev"] })).ok();
    assert_eq!(r["exitCode"], json!(0), "{r}");
    assert_eq!(
        interfaces(r["stdout"].as_str().unwrap()),
        ["lo"],
        "{}",
        r["stdout"]
    );
    let r = run_in_pod(&pod, json!({ "command": ["ip", "-o", "link"] })).ok();
    let links: Vec<&str> = r["stdout"].as_str().unwrap().lines().collect();
    assert_eq!(links.len(), 1, "{links:?}");
    assert!(links[0].contains(": lo:"), "{links:?}");
    let r = run_in_pod(&pod, json!({ "command": ["ip", "addr"] })).ok();
    let out = r["stdout"].as_str().unwrap();
    assert!(out.contains("127.0.0.1"), "{out}");
    assert_eq!(
        out.lines().filter(|l| !l.starts_with(' ')).count(),
        1,
        "{out}"
    );
    // The monitor itself stayed in the host's namespace.
    let own = std::fs::metadata(format!("/proc/{}/ns/net", pod.pid)).unwrap();
    let host_ns = std::fs::metadata("/proc/self/ns/net").unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(own.ino(), host_ns.ino());
}

#[test]
fn exit_codes_output_stdin_timeouts_and_missing_programs() {
    let ns = NetNs::new();
    let pod = pod_in("podnet-codes", &ns);
    let r = run_in_pod(&pod, json!({ "command": ["sh", "-c", "exit 3"] })).ok();
    assert_eq!(r["exitCode"], json!(3), "{r}");
    assert_eq!(r["timedOut"], json!(false));
    let r = run_in_pod(
        &pod,
        json!({ "command": ["sh", "-c", "echo out; echo err >&2; echo $GREETING; cat"],
                "env": ["GREETING=hi"], "stdin": "from stdin" }),
    )
    .ok();
    assert_eq!(r["stdout"], json!("out\nhi\nfrom stdin"), "{r}");
    assert_eq!(r["stderr"], json!("err\n"), "{r}");
    let r = run_in_pod(
        &pod,
        json!({ "command": ["sh", "-c", "head -c 100000 /dev/zero"], "maxOutput": 10 }),
    )
    .ok();
    assert_eq!(r["stdoutTruncated"], json!(true), "{r}");
    let t = std::time::Instant::now();
    let r = run_in_pod(
        &pod,
        json!({ "command": ["sh", "-c", "sleep 100 & sleep 100"], "timeoutSeconds": 0.5 }),
    )
    .ok();
    assert_eq!(r["timedOut"], json!(true), "{r}");
    assert_eq!(r["exitCode"], json!(137), "{r}");
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
    // A program that is not there ends with 127, one that cannot be
    // executed with 126, as in a shell; stderr names it.
    for (bin, code) in [
        ("no-such-cmd-xyz", 127),
        ("/no/such-binary-xyz", 127),
        ("/etc", 126),
        ("/etc/passwd", 126),
    ] {
        let r = run_in_pod(&pod, json!({ "command": [bin] })).ok();
        assert_eq!(r["exitCode"], json!(code), "{bin}: {r}");
        let stderr = r["stderr"].as_str().unwrap();
        assert!(stderr.starts_with(&format!("{bin}: ")), "{bin}: {r}");
    }
}

#[test]
fn parameters_are_checked_and_missing_namespaces_named() {
    let ns = NetNs::new();
    let pod = pod_in("podnet-params", &ns);
    let bad = [
        json!({ "command": [] }),
        json!({ "command": ["true"], "namespaces": ["foo"] }),
        json!({ "command": ["true"], "namespaces": [] }),
        json!({ "command": ["true"], "namespaces": ["net", "net"] }),
        json!({ "command": ["true"], "timeoutSeconds": 0 }),
        json!({ "command": ["true"], "maxOutput": 1u64 << 40 }),
    ];
    let names = [
        "command",
        "namespaces",
        "namespaces",
        "namespaces",
        "timeoutSeconds",
        "maxOutput",
    ];
    for (p, name) in bad.into_iter().zip(names) {
        let e = run_in_pod(&pod, p.clone()).err(INVALID_VALUE);
        assert_eq!(e["parameter"], json!(name), "{p}: {e}");
    }
    let e =
        run_in_pod(&pod, json!({ "command": ["true"], "namespaces": ["ipc"] })).err(NO_NAMESPACE);
    assert_eq!(e["namespace"], json!("ipc"));
}

#[test]
fn the_older_netns_option_is_net_path_and_not_both() {
    let ns = NetNs::new();
    let pod = Pod::start_with(
        "podnet-old",
        PodOptions {
            extra_args: vec!["--netns".into(), ns.path().display().to_string()],
            ..PodOptions::default()
        },
    );
    let got = pod.call(GET_POD, json!({})).ok();
    assert_eq!(
        got["namespaces"],
        json!([{"kind": "net", "path": ns.path().display().to_string()}])
    );
    let r = run_in_pod(&pod, json!({ "command": ["cat", "/proc/net/dev"] })).ok();
    assert_eq!(interfaces(r["stdout"].as_str().unwrap()), ["lo"], "{r}");
    let dir = test_base().join(format!("podnet-both.{}", std::process::id()));
    let out = std::process::Command::new(podmon_bin())
        .args(["serve", "--pod", "both", "--namespaces", "net"])
        .arg("--netns")
        .arg(ns.path())
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--socket")
        .arg(dir.join("s.sock"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("namespace kind net given twice"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_pod_without_a_network_namespace_says_so() {
    let pod = Pod::start("podnet-none");
    let e = run_in_pod(&pod, json!({ "command": ["true"] })).err(NO_NAMESPACE);
    assert_eq!(e["namespace"], json!("net"));
    let (reply, _s, _) = forward(&pod, 80);
    assert_eq!(reply.err(NO_NAMESPACE)["namespace"], json!("net"));
}

/// Pids whose command line is exactly `argv`.
fn pids_running(argv: &[&str]) -> Vec<u32> {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want))
        .collect()
}

#[test]
fn a_client_that_hangs_up_takes_its_program_with_it() {
    let ns = NetNs::new();
    let pod = pod_in("podnet-hangup", &ns);
    let argv = ["sleep", "1234.5"];
    let mut c = pod.client();
    c.send(RUN_IN_POD, json!({ "command": argv }));
    let start = std::time::Instant::now();
    while pids_running(&argv).is_empty() {
        assert!(start.elapsed() < LONG, "the program never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(c);
    while !pids_running(&argv).is_empty() {
        assert!(start.elapsed() < LONG, "the program outlived its caller");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    pod.client().call(GET_POD, json!({})).ok();
}
