//! Teardown runs the runtime's deletes side by side, never more at once
//! than the bound: observed through a wrapper that counts the runtime
//! processes alive at each start (its own file from start to runc's end),
//! slowed a little so that overlapping ones are seen to overlap.

use super::*;
use serde_json::json;
use std::fs;

/// Containers per teardown: more than the default bound of 16.
const COUNT: usize = 20;

/// Counts concurrent `delete` and `state` runs in `$dir/counts`; the
/// container named in `$dir/fail` is refused, as a broken runtime would.
const COUNTING: &str = r#"case "$verb" in delete|state)
  mkdir -p "$dir/running"
  : > "$dir/running/$$"
  ls "$dir/running" | wc -l >> "$dir/counts"
  sleep 0.2
  if [ "$verb" = delete ] && [ "$id" = "$(cat "$dir/fail" 2>/dev/null)" ]; then
    rm -f "$dir/running/$$"
    echo "wrapper: refusing to delete $id" >&2
    exit 1
  fi
  "$RUNC" "$@"; rc=$?
  rm -f "$dir/running/$$"
  exit $rc;;
esac"#;

fn ids() -> Vec<String> {
    (0..COUNT).map(|i| format!("c{i}")).collect()
}

/// The most runtime processes the wrapper saw at once, and how many ran.
fn peak(wrapper: &Wrapper) -> (usize, usize) {
    let text = fs::read_to_string(wrapper.dir.join("counts")).unwrap_or_default();
    let counts: Vec<usize> = text.lines().map(|l| l.trim().parse().unwrap()).collect();
    (counts.iter().copied().max().unwrap_or(0), counts.len())
}

/// Every container is gone from the runtime and from podmon's state
/// directory, and its exit code was written.
#[track_caller]
fn all_gone(pod: &Pod, keep: &[&str], code: &str) {
    let root = pod.state_dir.join("runtime");
    for id in ids() {
        let kept = keep.contains(&id.as_str());
        assert_eq!(root.join(&id).exists(), kept, "runtime state of {id}");
        let dir = pod.state_dir.join("containers").join(&id);
        assert_eq!(dir.exists(), kept, "podmon's directory of {id}");
        let exit = pod.exit_file(&id).unwrap_or_default();
        assert_eq!(exit.trim(), code, "exit file of {id}");
    }
    assert_eq!(cleanup_runtime(runc(), &root), keep);
}

#[test]
fn shutdown_deletes_side_by_side_within_the_bound_and_past_a_failure() {
    let wrapper = wrapper_runtime("teardown-bound", COUNTING);
    fs::write(wrapper.dir.join("fail"), "c7").unwrap();
    let mut pod = Pod::start_with(
        "teardown-bound",
        PodOptions {
            runtime: Some(wrapper.path.clone()),
            extra_args: vec!["--runtime-concurrency".into(), "4".into()],
            ..PodOptions::default()
        },
    );
    for id in ids() {
        // PID 1 ignores SIGTERM: each is killed at the end of the grace.
        pod.run(&id, &["sleep", "1000"]);
    }
    let _ = fs::remove_file(wrapper.dir.join("counts"));
    let r = pod.call(
        "io.podmon.Pod.Shutdown",
        json!({"killContainers": true, "timeout": 0}),
    );
    r.ok();
    let status = pod.wait_exit(Duration::from_secs(30)).expect("no exit");
    assert!(status.success(), "{status}");
    let (most, runs) = peak(&wrapper);
    assert!(runs >= COUNT, "{runs} runtime runs for {COUNT} deletes");
    assert!(most <= 4, "{most} runtime processes at once, bound 4");
    assert!(most >= 2, "the deletes ran one after another");
    let log = pod.server_log_text();
    assert!(
        log.contains("deleting container c7: ") && log.contains("refusing to delete c7"),
        "the failed delete is reported with the runtime's words:\n{log}"
    );
    assert!(log.contains("19 of 20 containers deleted"), "{log}");
    assert!(log.contains("not deleted: c7"), "{log}");
    all_gone(&pod, &["c7"], "137");
    pod.remove_pod_cgroups();
    assert_eq!(pod.pod_cgroups_left(), Vec::<std::path::PathBuf>::new());
}

#[test]
fn kill_on_exit_deletes_side_by_side_within_the_default_bound() {
    let wrapper = wrapper_runtime("teardown-exit", COUNTING);
    let mut pod = pod_with("teardown-exit", &wrapper, None, &[]);
    for id in ids() {
        pod.run(&id, &["sh", "-c", IDLE]);
    }
    let _ = fs::remove_file(wrapper.dir.join("counts"));
    let status = pod.stop().expect("no exit");
    assert!(status.success(), "{status}");
    let (most, runs) = peak(&wrapper);
    assert!(runs >= COUNT, "{runs} runtime runs for {COUNT} deletes");
    assert!(most <= 16, "{most} runtime processes at once, bound 16");
    assert!(most >= 2, "the deletes ran one after another");
    assert!(
        pod.server_log_text()
            .contains("20 of 20 containers deleted"),
        "{}",
        pod.server_log_text()
    );
    all_gone(&pod, &[], "0");
    assert_eq!(pod.pod_cgroups_left(), Vec::<std::path::PathBuf>::new());
}
