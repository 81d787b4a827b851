//! The event journal against real containers and a real restart: every
//! event once, numbered in order, and `WatchEvents(since)` after the
//! monitor restarted on the same state directory giving exactly the events
//! after the last one seen, numbering going on.

#[path = "../common/mod.rs"]
mod common;

use common::*;
use serde_json::{Value, json};
use std::io;
use std::time::{Duration, Instant};

/// A WatchEvents call: its first reply's state and `seq`, then events.
struct Watch {
    client: Client,
    snapshot: Vec<Value>,
    seq: u64,
}

impl Watch {
    #[track_caller]
    fn start(pod: &Pod, params: Value) -> Watch {
        let mut client = pod.client();
        client.send_more(WATCH_EVENTS, params);
        let first = client.recv();
        let p = first.ok();
        assert!(
            first.continues(),
            "the first reply must continue: {}",
            first.0
        );
        assert!(
            p.get("event").is_none(),
            "the first reply is the state: {p}"
        );
        let snapshot = p["containers"].as_array().expect("containers").clone();
        let seq = p["seq"]
            .as_u64()
            .unwrap_or_else(|| panic!("the first reply has no seq: {p}"));
        Watch {
            client,
            snapshot,
            seq,
        }
    }

    /// The next event within `timeout`, or None.
    #[track_caller]
    fn next(&mut self, timeout: Duration) -> Option<Value> {
        self.client.set_read_timeout(timeout);
        match self.client.read_raw() {
            Ok(Some(b)) => {
                let r = Reply(serde_json::from_slice(&b).expect("JSON"));
                let e = r.ok()["event"].clone();
                assert!(r.continues() && e.is_object(), "not an event: {}", r.0);
                Some(e)
            }
            Ok(None) => panic!("the server closed the WatchEvents connection"),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => panic!("reading an event: {e}"),
        }
    }

    /// Events until `n` have come (panics after 30 s), then checks that
    /// nothing more comes for half a second.
    #[track_caller]
    fn exactly(&mut self, n: usize) -> Vec<Value> {
        let end = Instant::now() + Duration::from_secs(30);
        let mut got = vec![];
        while got.len() < n {
            assert!(
                Instant::now() < end,
                "only {} of {n} events: {got:#?}",
                got.len()
            );
            got.extend(self.next(Duration::from_secs(1)));
        }
        let extra: Vec<Value> =
            std::iter::from_fn(|| self.next(Duration::from_millis(500))).collect();
        assert!(
            extra.is_empty(),
            "events beyond {n}: {extra:#?}\nafter {got:#?}"
        );
        got
    }
}

/// `(seq, kind, id)` of each event.
fn summary(ev: &[Value]) -> Vec<(u64, String, String)> {
    ev.iter()
        .map(|e| {
            (
                e["seq"].as_u64().unwrap_or_else(|| panic!("no seq: {e}")),
                e["kind"].as_str().unwrap().to_owned(),
                e["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn of(ev: &[(u64, String, String)]) -> Vec<(String, String)> {
    ev.iter().map(|(_, k, i)| (k.clone(), i.clone())).collect()
}

fn pair(k: &str, id: &str) -> (String, String) {
    (k.to_owned(), id.to_owned())
}

#[test]
fn events_survive_a_restart_of_the_monitor() {
    let mut pod = Pod::start(&format!("jr-{}", std::process::id()));
    pod.create("j1", &["sh", "-c", "exit 3"]);
    pod.start_container("j1");
    assert_eq!(pod.wait("j1")["exitCode"], json!(3));

    // From the start: every event once, numbered 1, 2, 3.
    let mut w = Watch::start(&pod, json!({"since": 0}));
    assert_eq!(w.seq, 3, "the state follows three events");
    assert_eq!(w.snapshot.len(), 1);
    let first = summary(&w.exactly(3));
    assert_eq!(
        first.iter().map(|e| e.0).collect::<Vec<_>>(),
        [1, 2, 3],
        "{first:?}"
    );
    assert_eq!(
        of(&first),
        [
            pair("created", "j1"),
            pair("started", "j1"),
            pair("exited", "j1")
        ]
    );
    drop(w);
    let last_seen = 3;

    // SIGTERM deletes j1 (a journaled event too); the new monitor goes on.
    let status = pod.restart();
    assert!(
        status.is_some_and(|s| s.success()),
        "old monitor: {status:?}"
    );
    let mut w = Watch::start(&pod, json!({"since": last_seen}));
    assert!(w.snapshot.is_empty(), "{:?}", w.snapshot);
    assert_eq!(w.seq, 4, "the old monitor's delete is journaled");
    let after = summary(&w.exactly(1));
    assert_eq!(after, [(4, "deleted".into(), "j1".into())]);

    // Live events on the same watch go on from there.
    pod.create("j2", &["true"]);
    let live = summary(&w.exactly(1));
    assert_eq!(live, [(5, "created".into(), "j2".into())]);

    // The whole history, once, from either monitor.
    let mut all = Watch::start(&pod, json!({"since": 0}));
    let all = summary(&all.exactly(5));
    assert_eq!(all.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    // A container that is gone still has its history, with the id filter.
    let mut one = Watch::start(&pod, json!({"id": "j1", "since": 0}));
    assert!(one.snapshot.is_empty());
    assert_eq!(one.exactly(4).len(), 4);

    // A seq no event has yet is InvalidValue "since".
    let mut c = pod.client();
    c.send_more(WATCH_EVENTS, json!({"since": 99}));
    let e = c.recv().err(INVALID_VALUE);
    assert_eq!(e["parameter"], json!("since"), "{e}");
}
