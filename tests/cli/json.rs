//! The `--json` contract, command by command: one JSON document on stdout
//! (one per line for events, logs -f, stats --watch, port-forward), and a
//! failure as one `{"error": NAME, "parameters": {...}}` line on stderr
//! with a non-zero exit: the monitor's Varlink errors by their name,
//! the command line's own as io.podmon.Cli.*.

use crate::common::*;
use crate::support::*;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Runs `podmon --json ARGS` and returns its exit code and the one
/// document it printed (stderr must be empty).
#[track_caller]
fn doc(pod: &Pod, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = pod.cli(&all);
    assert_eq!(out.stderr, "", "{out:?}");
    assert_eq!(out.stdout.lines().count(), 1, "one line: {out:?}");
    let v = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {out:?}"));
    (out.code(), v)
}

/// The one document of a command that succeeds.
#[track_caller]
fn ok(pod: &Pod, args: &[&str]) -> Value {
    let (code, v) = doc(pod, args);
    assert_eq!(code, 0, "{args:?}: {v}");
    v
}

/// Checks a failure's stderr: one JSON line with exactly `error` and
/// `parameters`, nothing on stdout, exit `code`; returns the parameters.
#[track_caller]
fn failure(out: &Out, name: &str, code: i32) -> Value {
    assert_eq!(out.code(), code, "{out:?}");
    assert_eq!(out.stdout, "", "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "one line: {out:?}");
    let v: Value = serde_json::from_str(&out.stderr)
        .unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {out:?}"));
    assert_eq!(v["error"], name, "{v}");
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["error", "parameters"], "{v}");
    assert!(v["parameters"].is_object(), "{v}");
    v["parameters"].clone()
}

#[track_caller]
fn fails(pod: &Pod, args: &[&str], name: &str, code: i32) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    failure(&pod.cli(&all), name, code)
}

/// Starts `podmon --json ARGS` with its stdout collected line by line.
fn spawn(pod: &Pod, args: &[&str]) -> (Child, Lines) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let mut cmd = podmon(pod, &all);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let (lines, _) = Lines::collect(child.stdout.take().unwrap());
    (child, lines)
}

/// Every line collected so far as JSON.
#[track_caller]
fn docs(lines: &Lines) -> Vec<Value> {
    lines
        .texts()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}

/// Waits until `n` lines have come.
#[track_caller]
fn wait_lines(lines: &Lines, n: usize, what: &str) -> Vec<Value> {
    let came = wait_until(Duration::from_secs(15), || lines.texts().len() >= n);
    assert!(came, "{what}: {n} lines, got {:?}", lines.texts());
    docs(lines)
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// create, start, state, ps, wait, pod, set-log-limit, reopen-log: each
/// one document, the reply of its call.
fn check_one_shot(pod: &Pod, r: &str) {
    let v = ok(
        pod,
        &["create", "c1", "--rootfs", r, "--", "sh", "-c", IDLE],
    );
    assert_eq!(v["container"]["id"], "c1", "{v}");
    assert_eq!(v["container"]["status"], "created", "{v}");
    let v = ok(pod, &["start", "c1"]);
    assert_eq!(v["container"]["status"], "running", "{v}");
    let v = ok(pod, &["state", "c1"]);
    assert!(v["container"]["pid"].is_number(), "{v}");

    // ps: one document, one array, also for a single container.
    let v = ok(pod, &["ps"]);
    assert_eq!(
        v,
        json!({"containers": [ok(pod, &["state", "c1"])["container"]]})
    );
    let script = "echo one; echo two; echo three >&2";
    ok(
        pod,
        &["create", "c2", "--rootfs", r, "--", "sh", "-c", script],
    );
    ok(pod, &["start", "c2"]);
    let v = ok(pod, &["ps"]);
    let ids: Vec<&str> = v["containers"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c1", "c2"], "{v}");
    assert_eq!(v.as_object().unwrap().len(), 1, "only containers: {v}");

    let (code, v) = doc(pod, &["wait", "c2"]);
    assert_eq!((code, &v["exitCode"]), (0, &json!(0)), "{v}");
    let v = ok(pod, &["pod"]);
    assert_eq!(v["name"], pod.name, "{v}");
    assert_eq!(v["running"], 1, "{v}");
    let v = ok(pod, &["set-log-limit", "c1", "--rate", "1M"]);
    assert_eq!(v["container"]["logRateLimit"]["bytesPerSecond"], 1 << 20);
    assert_eq!(ok(pod, &["reopen-log", "c1"]), json!({}));
}

/// exec: the ExecSync reply, and the command's exit code as ours.
fn check_exec(pod: &Pod) {
    let v = ok(
        pod,
        &["exec", "c1", "--", "sh", "-c", "echo out; echo err >&2"],
    );
    assert_eq!(v["stdout"], "out\n", "{v}");
    assert_eq!(v["stderr"], "err\n", "{v}");
    assert_eq!(v["exitCode"], 0, "{v}");
    let (code, v) = doc(pod, &["exec", "c1", "--", "sh", "-c", "exit 3"]);
    assert_eq!((code, &v["exitCode"]), (3, &json!(3)), "{v}");
}

/// logs: every record in one document, no empty record at its end; -f
/// one document per batch as it comes, until the container has stopped.
fn check_logs(pod: &Pod) {
    let v = ok(pod, &["logs", "c2"]);
    let records = v["records"].as_array().unwrap_or_else(|| panic!("{v}"));
    let texts: Vec<&str> = records
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    let mut sorted = texts.clone();
    sorted.sort();
    assert_eq!(sorted, ["one", "three", "two"], "{v}");
    assert_eq!(
        ok(pod, &["logs", "--tail", "1", "c2"])["records"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let (mut child, lines) = spawn(pod, &["logs", "-f", "c2"]);
    let status = wait_child(
        &mut child,
        Duration::from_secs(15),
        "logs -f of a stopped one",
    );
    assert!(status.success());
    let batches = docs(&lines);
    assert!(!batches.is_empty(), "{:?}", lines.texts());
    let mut followed = Vec::new();
    for b in &batches {
        let records = b["records"].as_array().unwrap_or_else(|| panic!("{b}"));
        assert!(!records.is_empty(), "no empty batch: {b}");
        followed.extend(
            records
                .iter()
                .map(|r| r["text"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(followed, texts, "the same records");
}

/// stats: one document (containers, or stats with an id); --watch one
/// per round.
fn check_stats(pod: &Pod) {
    let v = ok(pod, &["stats"]);
    let ids: Vec<&str> = v["containers"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c1", "c2"], "{v}");
    assert!(
        v["monitor"]["pid"].is_number() && v.get("stats").is_none(),
        "{v}"
    );
    let v = ok(pod, &["stats", "c1"]);
    assert_eq!(v["stats"]["id"], "c1", "{v}");
    assert!(v.get("containers").is_none(), "{v}");

    let (child, lines) = spawn(pod, &["stats", "--watch"]);
    let rounds = wait_lines(&lines, 2, "stats --watch");
    stop(child);
    for r in &rounds {
        assert_eq!(r["containers"].as_array().map(Vec::len), Some(2), "{r}");
    }
}

/// events: the snapshot, then one line per event; port-forward: one line
/// per listening address.
fn check_streams(pod: &Pod) {
    let (child, lines) = spawn(pod, &["events", "c1"]);
    let first = wait_lines(&lines, 1, "events snapshot");
    assert_eq!(first[0]["containers"][0]["id"], "c1", "{}", first[0]);
    ok(pod, &["kill", "c1", "KILL"]);
    let all = wait_lines(&lines, 2, "the exited event");
    stop(child);
    assert_eq!(all[1]["event"]["kind"], "exited", "{}", all[1]);
    let (code, v) = doc(pod, &["wait", "c1"]);
    assert_eq!((code, &v["exitCode"]), (137, &json!(137)), "{v}");

    let (child, lines) = spawn(pod, &["port-forward", "--address", "127.0.0.1", "0:80"]);
    let v = wait_lines(&lines, 1, "port-forward")[0].clone();
    stop(child);
    assert_eq!(v["port"], 80, "{v}");
    assert!(
        v["address"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{v}"
    );
}

/// Failures: the monitor's errors by name, the command line's own named
/// io.podmon.Cli.*, usage errors exit 2.
fn check_failures(pod: &Pod, r: &str) {
    let p = fails(pod, &["state", "ghost"], "io.podmon.Pod.NoSuchContainer", 1);
    assert_eq!(p, json!({"id": "ghost"}));
    for args in [
        &["logs", "ghost"][..],
        &["logs", "-f", "ghost"],
        &["stats", "ghost"],
        &["exec", "ghost", "--", "true"],
        &["events", "ghost"],
        &["wait", "ghost"],
    ] {
        fails(pod, args, "io.podmon.Pod.NoSuchContainer", 1);
    }
    let p = fails(pod, &["delete", "c2x"], "io.podmon.Pod.NoSuchContainer", 1);
    assert_eq!(p["id"], "c2x");
    let p = fails(
        pod,
        &["resize", "c2", "80", "24"],
        "io.podmon.Pod.InvalidState",
        1,
    );
    assert_eq!(p["id"], "c2", "{p}");
    let args = [
        "create",
        "c9",
        "--rootfs",
        r,
        "--memory-max",
        "1K",
        "--",
        "true",
    ];
    let p = fails(pod, &args, "io.podmon.Pod.InvalidValue", 1);
    assert_eq!(p["parameter"], "memoryMax", "{p}");

    // The command line's own.
    let args = [
        "create",
        "c9",
        "--rootfs",
        r,
        "--memory-max",
        "12Q",
        "--",
        "true",
    ];
    let p = fails(pod, &args, "io.podmon.Cli.InvalidArgument", 2);
    assert_eq!(p["value"], "12Q", "{p}");
    assert!(
        p["argument"].as_str().unwrap().contains("--memory-max"),
        "{p}"
    );
    let p = fails(pod, &["kill"], "io.podmon.Cli.InvalidArgument", 2);
    assert!(p["message"].as_str().unwrap().contains("<ID>"), "{p}");
    let p = fails(pod, &["attach", "c2"], "io.podmon.Cli.JsonUnsupported", 2);
    assert_eq!(p["command"], "attach", "{p}");
    fails(
        pod,
        &["exec", "-it", "c2", "--", "sh"],
        "io.podmon.Cli.JsonUnsupported",
        2,
    );
    fails(
        pod,
        &["exec", "-i", "c2", "--", "cat"],
        "io.podmon.Cli.JsonUnsupported",
        2,
    );

    let missing = pod.dir.join("nobody.sock");
    for args in [
        &["ps"][..],
        &["logs", "c1"],
        &["stats"],
        &["events"],
        &["exec", "c1", "--", "true"],
    ] {
        let out = run_with_timeout(
            Command::new(podmon_bin())
                .args(["--json", "--socket"])
                .arg(&missing)
                .args(args)
                .env_remove("PODMON_SOCKET"),
            Duration::from_secs(10),
        );
        let p = failure(&out, "io.podmon.Cli.CannotConnect", 1);
        assert_eq!(p["socket"], missing.display().to_string(), "{p}");
        assert_eq!(p["errno"], libc::ENOENT, "{p}");
    }
    let out = run_with_timeout(
        Command::new(podmon_bin())
            .args(["--json", "ps"])
            .env_remove("PODMON_SOCKET"),
        Duration::from_secs(10),
    );
    failure(&out, "io.podmon.Cli.NoSocket", 1);
    // `--json` after `--` is the container's, not ours: text as usual.
    let out = pod.cli(&["state", "ghost", "--", "--json"]);
    assert!(out.stderr.starts_with("error: "), "{out:?}");
}

#[test]
fn json_contract() {
    let pod = Pod::start("clijson");
    let r = rootfs().display().to_string();
    check_one_shot(&pod, &r);
    check_exec(&pod);
    check_logs(&pod);
    check_stats(&pod);
    check_streams(&pod);
    check_failures(&pod, &r);
    assert_eq!(ok(&pod, &["delete", "c2"]), json!({}));
    // upgrade: the upgraded monitor's GetPod reply, same pid.
    let v = ok(&pod, &["upgrade"]);
    assert_eq!(v["monitor"]["pid"], pod.pid, "{v}");
    assert_eq!(v["name"], pod.name, "{v}");
}
