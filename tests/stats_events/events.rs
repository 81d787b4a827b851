//! WatchEvents: order and exactly-once delivery, exec and log-drop events,
//! late subscribers, the id filter and ExpectedMore.

use crate::common::*;
use crate::support::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// The exit code of the i-th quick container: 0, 2, 4, 6, 0, ...
fn code(i: usize) -> i64 {
    (i % 4) as i64 * 2
}

/// Creates, starts, waits for and deletes the quick containers `ids`; the
/// ContainerInfo of each from WaitContainer.
fn run_quick(pod: &Pod, ids: &[String]) -> Vec<Value> {
    for (i, id) in ids.iter().enumerate() {
        if code(i) == 0 {
            pod.create(id, &["true"]);
        } else {
            pod.create(id, &["sh", "-c", &format!("exit {}", code(i))]);
        }
        pod.start_container(id);
    }
    let mut infos = vec![];
    for (i, id) in ids.iter().enumerate() {
        let w = pod.wait(id);
        assert_eq!(w["exitCode"], json!(code(i)), "{id}: {w}");
        infos.push(w["container"].clone());
    }
    for id in ids {
        pod.delete(id, false);
    }
    infos
}

/// The exact multiset of (kind, id): nothing missing, nothing twice; and
/// each exited event's code.
fn check_exactly_once(ev: &[Value], ids: &[String]) {
    let mut got: Vec<(String, String)> = ev
        .iter()
        .map(|e| (kind(e).to_string(), eid(e).to_string()))
        .collect();
    got.sort();
    let mut expected: Vec<(String, String)> = ids
        .iter()
        .flat_map(|id| {
            ["created", "started", "exited", "deleted"].map(|k| (k.to_string(), id.clone()))
        })
        .collect();
    expected.sort();
    assert_eq!(got, expected, "events (in arrival order):\n{}", show(ev));

    for (i, id) in ids.iter().enumerate() {
        let x = of(ev, id)
            .into_iter()
            .find(|e| kind(e) == "exited")
            .unwrap();
        assert_eq!(x["exitCode"], json!(code(i)), "{x}");
        assert_eq!(x["oomKilled"], json!(false), "{x}");
        assert!(!present(x, "signal"), "{x}");
    }
}

/// Order: each container's events come as created, started, exited,
/// deleted, and the stream's timestamps never go back.
fn check_order(ev: &[Value], ids: &[String], infos: &[Value]) {
    let wrong: Vec<String> = ids
        .iter()
        .filter(|id| kinds_of(ev, id) != ["created", "started", "exited", "deleted"])
        .map(|id| format!("{id}: {:?}", kinds_of(ev, id)))
        .collect();
    let ts: Vec<(i64, u32)> = ev
        .iter()
        .map(|e| rfc3339_to_unix(e["timestamp"].as_str().unwrap()))
        .collect();
    let back = ts.windows(2).filter(|p| p[0] > p[1]).count();
    // And a container's startedAt is not after its finishedAt.
    let time_travel: Vec<String> = infos
        .iter()
        .filter(|c| {
            let s = rfc3339_to_unix(c["startedAt"].as_str().unwrap_or_else(|| panic!("{c}")));
            let f = rfc3339_to_unix(c["finishedAt"].as_str().unwrap_or_else(|| panic!("{c}")));
            s > f
        })
        .map(|c| {
            format!(
                "{}: startedAt {} > finishedAt {}",
                c["id"], c["startedAt"], c["finishedAt"]
            )
        })
        .collect();
    assert!(
        wrong.is_empty() && back == 0 && time_travel.is_empty(),
        "events out of order for {} of {} containers: {wrong:#?}\n\
         {back} times an event's timestamp is earlier than the one before;\n\
         startedAt after finishedAt: {time_travel:#?}\nall events:\n{}",
        wrong.len(),
        ids.len(),
        show(ev)
    );
}

#[test]
fn events_for_twenty_quick_containers_in_order_and_exactly_once() {
    let pod = Pod::start(&pod_name("ev20"));
    let mut w = Watch::start(&pod.socket, json!({}));
    assert!(w.snapshot.is_empty(), "{:?}", w.snapshot);

    let ids: Vec<String> = (0..20).map(|i| format!("q{i:02}")).collect();
    let infos = run_quick(&pod, &ids);

    let want = ids.len() * 4;
    let ev = w.collect_until(Duration::from_secs(30), |got| got.len() >= want);
    let extra = w.drain(Duration::from_millis(500));
    assert!(
        extra.is_empty(),
        "events beyond the expected {want}:\n{}",
        show(&extra)
    );
    check_exactly_once(&ev, &ids);
    check_order(&ev, &ids, &infos);
}

/// ExecSync in "runner": execStarted and execExited with the same execId.
fn check_exec_events(pod: &Pod, w: &mut Watch) {
    let r = pod
        .call(
            EXEC_SYNC,
            json!({ "id": "runner", "command": ["sh", "-c", "echo hi; exit 4"] }),
        )
        .ok();
    assert_eq!(r["exitCode"], json!(4), "{r}");
    assert_eq!(r["stdout"], json!("hi\n"), "{r}");

    let ev = w.collect_until(Duration::from_secs(20), |got| {
        got.iter().any(|e| kind(e) == "execExited")
    });
    assert_eq!(
        ev.iter().map(kind).collect::<Vec<_>>(),
        ["execStarted", "execExited"],
        "events:\n{}",
        show(&ev)
    );
    let exec_id = ev[0]["execId"]
        .as_str()
        .unwrap_or_else(|| panic!("execStarted without execId: {}", ev[0]));
    assert!(!exec_id.is_empty());
    assert_eq!(
        ev[1]["execId"],
        json!(exec_id),
        "the same exec: {}",
        show(&ev)
    );
    assert_eq!(ev[1]["exitCode"], json!(4), "{}", ev[1]);
    assert!(ev.iter().all(|e| eid(e) == "runner"), "{}", show(&ev));
}

/// Runs "flood", a 300 kB flood through a 1 kB/s drop limit: its
/// logBytesDropped.
fn run_flood(pod: &Pod) -> u64 {
    pod.create_with(
        "flood",
        &[
            "sh",
            "-c",
            "yes 0123456789012345678901234567890123456789 | head -c 300000; echo end",
        ],
        json!({ "logRateLimit": { "bytesPerSecond": 1000, "burst": 1000, "policy": "drop" } }),
    );
    pod.start_container("flood");
    let fw = pod.wait("flood");
    assert_eq!(fw["exitCode"], json!(0), "{fw}");
    let c = pod.get("flood");
    let dropped_total = must(&c, "logBytesDropped");
    assert!(
        dropped_total > 0,
        "nothing dropped from a 300 kB flood at 1 kB/s: {c}"
    );
    assert!(
        pod.log("flood").contains("podmon: dropped"),
        "no drop marker in the log"
    );
    dropped_total
}

/// The flood's events: one each of created, started, exited; logDropped
/// events summing to `dropped_total`. Returns the events and flood's kinds.
fn check_flood_events(pod: &Pod, w: &mut Watch, dropped_total: u64) -> (Vec<Value>, Vec<String>) {
    let ev = w.collect_until(Duration::from_secs(20), |got| {
        // Both: podmon may send them in either order (see the order check below).
        ["started", "exited"]
            .iter()
            .all(|k| got.iter().any(|e| kind(e) == *k))
    });
    let fk = kinds_of(&ev, "flood");
    for k in ["created", "started", "exited"] {
        assert_eq!(
            fk.iter().filter(|x| *x == k).count(),
            1,
            "one {k} event for flood:\n{}",
            show(&ev)
        );
    }
    let drops: Vec<&Value> = ev.iter().filter(|e| kind(e) == "logDropped").collect();
    assert!(!drops.is_empty(), "no logDropped event:\n{}", show(&ev));
    let mut sum = 0;
    for d in &drops {
        assert_eq!(eid(d), "flood", "{d}");
        let b = must(d, "bytesDropped");
        assert!(b > 0, "logDropped with bytesDropped 0: {d}");
        sum += b;
    }
    assert_eq!(
        sum,
        dropped_total,
        "logDropped events' bytes vs logBytesDropped; events:\n{}",
        show(&ev)
    );
    let (s, _) = stats_of(&pod.socket, "flood");
    assert_eq!(must(&s, "log.bytesDropped"), dropped_total, "{s}");
    assert!(
        w.drain(Duration::from_millis(300)).is_empty(),
        "unexpected further events"
    );
    (ev, fk)
}

#[test]
fn exec_and_log_drop_events() {
    let pod = Pod::start(&pod_name("evx"));
    pod.run("runner", &["sleep", "100"]);
    let mut w = Watch::start(&pod.socket, json!({}));
    assert_eq!(w.snapshot.len(), 1, "{:?}", w.snapshot);
    assert_eq!(w.snapshot[0]["id"], json!("runner"));
    assert_eq!(w.snapshot[0]["status"], json!("running"));

    check_exec_events(&pod, &mut w);
    let dropped_total = run_flood(&pod);
    let (ev, fk) = check_flood_events(&pod, &mut w, dropped_total);
    pod.kill("runner", "KILL");
    pod.wait("runner");

    // Order: created, started, then drops, exited last.
    assert!(
        fk.len() >= 4 && fk[0] == "created" && fk[1] == "started" && fk[fk.len() - 1] == "exited",
        "flood's events out of order: {fk:?}; events:\n{}",
        show(&ev)
    );
}

/// A subscriber without a filter: the snapshot holds the stopped "gone"
/// and the created "other".
fn check_full_snapshot(pod: &Pod) -> Watch {
    let w_all = Watch::start(&pod.socket, json!({}));
    let snap: BTreeMap<String, Value> = w_all
        .snapshot
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_string(), c.clone()))
        .collect();
    assert_eq!(snap.len(), 2, "{snap:?}");
    let g = &snap["gone"];
    assert_container_shape(pod, g, "gone");
    assert_eq!(g["status"], json!("stopped"), "{g}");
    assert_eq!(g["exitCode"], json!(7), "{g}");
    assert_eq!(g["exitReason"], json!("Error"), "{g}");
    assert_eq!(
        snap["other"]["status"],
        json!("created"),
        "{}",
        snap["other"]
    );

    w_all
}

#[test]
fn late_subscriber_gets_state_and_id_filter_works() {
    let pod = Pod::start(&pod_name("late"));
    pod.run("gone", &["sh", "-c", "exit 7"]);
    pod.wait("gone");
    pod.create("other", &["sh", "-c", "exit 1"]);

    let w_all = check_full_snapshot(&pod);
    let mut w_gone = Watch::start(&pod.socket, json!({ "id": "gone" }));
    assert_eq!(w_gone.snapshot.len(), 1, "{:?}", w_gone.snapshot);
    assert_eq!(w_gone.snapshot[0]["id"], json!("gone"));
    assert_eq!(w_gone.snapshot[0]["exitCode"], json!(7));
    let mut w_other = Watch::start(&pod.socket, json!({ "id": "other" }));
    assert_eq!(w_other.snapshot.len(), 1, "{:?}", w_other.snapshot);
    assert_eq!(w_other.snapshot[0]["id"], json!("other"));

    pod.start_container("other");
    pod.wait("other");
    pod.delete("other", false);
    pod.delete("gone", false);

    let eo = w_other.collect_until(Duration::from_secs(10), |g| g.len() >= 3);
    let mut eo_sorted: Vec<(&str, &str)> = eo.iter().map(|e| (kind(e), eid(e))).collect();
    eo_sorted.sort();
    assert_eq!(
        eo_sorted,
        [
            ("deleted", "other"),
            ("exited", "other"),
            ("started", "other")
        ],
        "the id filter passes exactly other's events:\n{}",
        show(&eo)
    );
    let x = eo.iter().find(|e| kind(e) == "exited").unwrap();
    assert_eq!(x["exitCode"], json!(1), "{x}");
    let eg = w_gone.collect_until(Duration::from_secs(10), |g| !g.is_empty());
    assert_eq!(
        eg.iter().map(|e| (kind(e), eid(e))).collect::<Vec<_>>(),
        [("deleted", "gone")],
        "{}",
        show(&eg)
    );
    assert!(w_gone.drain(Duration::from_millis(300)).is_empty());
    assert!(w_other.drain(Duration::from_millis(100)).is_empty());

    // Without more.
    let r = pod.call(WATCH_EVENTS, json!({}));
    r.err("org.varlink.service.ExpectedMore");
    // An unknown id.
    let mut c = pod.client();
    c.send_more(WATCH_EVENTS, json!({ "id": "nope" }));
    let r = c.recv();
    assert_eq!(r.err(NO_SUCH_CONTAINER)["id"], json!("nope"));
    drop(w_all);

    // Order, last: started before exited.
    assert_eq!(
        eo.iter().map(kind).collect::<Vec<_>>(),
        ["started", "exited", "deleted"],
        "other's events out of order:\n{}",
        show(&eo)
    );
}
