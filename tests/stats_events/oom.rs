//! OOM kills and exit reasons, as WaitContainer, GetContainer, Stats and
//! WatchEvents report them.

use crate::common::*;
use crate::support::*;
use serde_json::{Value, json};
use std::fs;
use std::path::Path;
use std::time::Duration;

/// Runs "hog", which reads 200 MB into a shell variable under a `limit`
/// memory limit: WaitContainer's reply and the kernel's oom_kill count.
fn run_hog(pod: &Pod, limit: u64) -> (Value, u64) {
    // The shell's command substitution reads 200 MB into memory: far over 32 MiB.
    pod.create_with(
        "hog",
        &[
            "sh",
            "-c",
            r#"x=$(head -c 200000000 /dev/zero | tr "\0" a); echo survived ${#x}"#,
        ],
        json!({ "memoryMax": limit }),
    );
    // The limit really is in place (v1 here: memory.limit_in_bytes).
    let mem_dir = v1_dir("memory", &pod.name, "hog");
    assert_eq!(
        read_u64(&mem_dir.join("memory.limit_in_bytes")),
        limit,
        "runc did not set the memory limit"
    );
    pod.start_container("hog");
    let wr = pod.wait("hog");
    // It really was the OOM killer: the kernel's own counter says so.
    let kernel_kills = keyed(&mem_dir.join("memory.oom_control"), "oom_kill");
    assert!(
        kernel_kills >= 1,
        "the container did not run out of memory (oom_kill {kernel_kills}); wait: {wr}; log: {}",
        pod.log("hog")
    );
    assert!(
        !pod.log("hog").contains("survived"),
        "the shell survived: {}",
        pod.log("hog")
    );
    (wr, kernel_kills)
}

/// WaitContainer and the --oom-dir file say OOMKilled.
fn check_hog_wait(wr: &Value, oom_dir: &Path) {
    assert_eq!(wr["exitCode"], json!(137), "WaitContainer: {wr}");
    assert_eq!(wr["signal"], json!("SIGKILL"), "WaitContainer: {wr}");
    assert_eq!(wr["oomKilled"], json!(true), "WaitContainer: {wr}");
    assert_eq!(wr["reason"], json!("OOMKilled"), "WaitContainer: {wr}");
    assert!(
        oom_dir.join("hog").is_file(),
        "--oom-dir holds a file for the OOM-killed container"
    );
    assert_eq!(
        wr["container"]["oomKilled"],
        json!(true),
        "WaitContainer: {wr}"
    );
}

/// GetContainer and Stats of the OOM-killed hog.
fn check_hog_get_and_stats(pod: &Pod, limit: u64, kernel_kills: u64) {
    let c = pod.get("hog");
    assert_container_shape(pod, &c, "hog");
    assert_eq!(c["status"], json!("stopped"), "{c}");
    assert_eq!(c["oomKilled"], json!(true), "GetContainer: {c}");
    assert_eq!(c["exitReason"], json!("OOMKilled"), "GetContainer: {c}");
    assert_eq!(c["exitCode"], json!(137), "GetContainer: {c}");
    assert_eq!(c["signal"], json!("SIGKILL"), "GetContainer: {c}");

    let (s, m) = stats_of(&pod.socket, "hog");
    assert_monitor(&m, pod.pid);
    assert_eq!(s["cgroupVersion"], json!(1), "{s}");
    let kills = must(&s, "memory.oomKills");
    assert!(kills >= 1, "Stats memory.oomKills after an OOM kill: {s}");
    assert_eq!(
        kills, kernel_kills,
        "Stats oomKills vs memory.oom_control: {s}"
    );
    assert_eq!(must(&s, "memory.limit"), limit, "{s}");
    let peak = must(&s, "memory.peak");
    assert!(
        peak >= limit - 2 * MIB && peak <= limit,
        "memory.peak {peak} should be near the {limit} limit it hit: {s}"
    );
}

/// The hog's events: one exited (OOM-killed), oom events once per kill at
/// most, all in order.
fn check_hog_events(w: &mut Watch, kernel_kills: u64) {
    let ev = w.collect_until(Duration::from_secs(20), |got| {
        got.iter().any(|e| kind(e) == "exited")
    });
    let exited: Vec<&Value> = of(&ev, "hog")
        .into_iter()
        .filter(|e| kind(e) == "exited")
        .collect();
    assert_eq!(exited.len(), 1, "events:\n{}", show(&ev));
    let x = exited[0];
    assert_eq!(x["oomKilled"], json!(true), "exited event: {x}");
    assert_eq!(x["exitCode"], json!(137), "exited event: {x}");
    assert_eq!(x["signal"], json!("SIGKILL"), "exited event: {x}");
    // Anything late (an oom event must not come after exited, but look).
    let mut ev = ev;
    ev.extend(w.drain(Duration::from_millis(300)));
    let kinds = kinds_of(&ev, "hog");
    assert_eq!(
        kinds.iter().filter(|k| *k == "exited").count(),
        1,
        "events:\n{}",
        show(&ev)
    );

    // Last, the oom event: present, once per kill the kernel counted,
    // between started and exited.
    let ooms = kinds.iter().filter(|k| *k == "oom").count() as u64;
    assert!(
        ooms >= 1,
        "no oom event for a container the OOM killer killed ({kernel_kills} kill(s) in \
         memory.oom_control, oomKilled true everywhere else); events:\n{}",
        show(&ev)
    );
    assert!(
        ooms <= kernel_kills,
        "{ooms} oom events for {kernel_kills} kills:\n{}",
        show(&ev)
    );
    let want: Vec<&str> = ["created", "started"]
        .into_iter()
        .chain(std::iter::repeat_n("oom", ooms as usize))
        .chain(["exited"])
        .collect();
    assert_eq!(kinds, want, "order of hog's events:\n{}", show(&ev));
}

#[test]
fn oom_kill_is_reported_by_wait_get_stats_and_events() {
    let oom_dir = test_base().join(format!("oom-files.{}", std::process::id()));
    let _ = fs::remove_dir_all(&oom_dir);
    let pod = Pod::start_with(
        &pod_name("oom"),
        PodOptions {
            extra_args: vec!["--oom-dir".into(), oom_dir.display().to_string()],
            ..PodOptions::default()
        },
    );
    let mut w = Watch::start(&pod.socket, json!({}));
    assert!(
        w.snapshot.is_empty(),
        "a new pod has no containers: {:?}",
        w.snapshot
    );

    let limit = 32 * MIB;
    let (wr, kernel_kills) = run_hog(&pod, limit);
    check_hog_wait(&wr, &oom_dir);
    check_hog_get_and_stats(&pod, limit, kernel_kills);
    check_hog_events(&mut w, kernel_kills);
}

#[test]
fn exit_reasons_completed_error_and_plain_sigkill() {
    let pod = Pod::start(&pod_name("reasons"));
    pod.run("ok", &["true"]);
    pod.run("err", &["sh", "-c", "exit 3"]);
    // Has a memory limit (so an OOM watch is set up) but is killed by us.
    pod.create_with(
        "victim",
        &["sleep", "100"],
        json!({ "memoryMax": 64 * MIB }),
    );
    pod.start_container("victim");

    let ok = pod.wait("ok");
    assert_eq!(ok["exitCode"], json!(0), "{ok}");
    assert_eq!(ok["oomKilled"], json!(false), "{ok}");
    assert_eq!(ok["reason"], json!("Completed"), "{ok}");
    assert!(!present(&ok, "signal"), "{ok}");
    assert_eq!(pod.get("ok")["exitReason"], json!("Completed"));

    let err = pod.wait("err");
    assert_eq!(err["exitCode"], json!(3), "{err}");
    assert_eq!(err["oomKilled"], json!(false), "{err}");
    assert_eq!(err["reason"], json!("Error"), "{err}");
    assert_eq!(pod.get("err")["exitReason"], json!("Error"));

    pod.kill("victim", "KILL");
    let v = pod.wait("victim");
    assert_eq!(v["exitCode"], json!(137), "{v}");
    assert_eq!(v["signal"], json!("SIGKILL"), "{v}");
    assert_eq!(
        v["oomKilled"],
        json!(false),
        "SIGKILL from KillContainer is no OOM kill: {v}"
    );
    assert_eq!(v["reason"], json!("Error"), "{v}");
    let c = pod.get("victim");
    assert_eq!(c["oomKilled"], json!(false), "{c}");
    assert_eq!(c["exitReason"], json!("Error"), "{c}");
    let (s, _) = stats_of(&pod.socket, "victim");
    assert_eq!(must(&s, "memory.oomKills"), 0, "{s}");
}
