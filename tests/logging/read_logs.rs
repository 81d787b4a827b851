//! ReadLogs: follow, tail and since.

use crate::common::*;
use crate::support::*;
use serde_json::{Value, json};
use std::thread;
use std::time::{Duration, Instant};

/// What following container `f` from before its start saw.
struct Followed {
    /// Each record with the time it arrived (since the start).
    got: Vec<(Duration, Value)>,
    replies: usize,
    /// When the call ended (since the start).
    last: Duration,
    /// GetContainer right after the call ended.
    f_at_end: Value,
    /// WaitContainer's container.
    info: Value,
}

/// Sends ReadLogs with follow for `id`, lets it reach the server, starts
/// the container and returns the client and the start time.
fn follow_from_start(pod: &Pod, id: &str) -> (Client, Instant) {
    let mut client = pod.client();
    client.send_more(READ_LOGS, json!({ "id": id, "follow": true }));
    // Let the call reach the server before the container writes.
    thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    pod.start_container(id);
    (client, t0)
}

/// Creates `f` (n lines 100 ms apart) and follows its log to the end.
fn follow_ticks(pod: &Pod, n: usize) -> Followed {
    let script =
        format!("i=0; while [ $i -lt {n} ]; do i=$((i+1)); echo \"tick $i\"; usleep 100000; done");
    pod.create("f", &["sh", "-c", &script]);
    let (mut client, t0) = follow_from_start(pod, "f");
    let mut got: Vec<(Duration, Value)> = Vec::new();
    let mut replies = 0;
    let last = loop {
        let r = client.recv();
        let p = r.ok();
        replies += 1;
        for rec in p["records"].as_array().cloned().unwrap_or_default() {
            got.push((t0.elapsed(), rec));
        }
        if !r.continues() {
            break t0.elapsed();
        }
        assert!(replies < 1000, "too many replies");
    };
    // Checked at the end, after the other checks ran.
    let f_at_end = pod.get("f");
    let info = pod.wait("f")["container"].clone();
    Followed {
        got,
        replies,
        last,
        f_at_end,
        info,
    }
}

/// The followed records are f's lines, streamed as written, and the call
/// ended with the container.
fn check_followed(fl: &Followed, n: usize) {
    let Followed {
        got,
        replies,
        last,
        info,
        ..
    } = fl;
    let last = *last;
    let texts: Vec<String> = got
        .iter()
        .map(|(_, r)| r["text"].as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = (1..=n).map(|i| format!("tick {i}")).collect();
    eprintln!(
        "ReadLogs follow: {replies} replies; first record after {:?}, end after {last:?}",
        got.first().map(|g| g.0)
    );
    assert_eq!(texts, want, "followed records");
    for (_, r) in got {
        assert_eq!(r["stream"], json!("stdout"), "{r}");
        assert_eq!(r["partial"], json!(false), "{r}");
        assert!(is_rfc3339_nano_utc(r["timestamp"].as_str().unwrap()), "{r}");
    }
    let first = got[0].0;
    assert!(
        first < Duration::from_millis(800),
        "the first line arrived {first:?} after the start; the container runs ~2 s"
    );
    // Lines arrive as they are written: the 10th well before the end.
    let tenth = got[9].0;
    assert!(
        tenth + Duration::from_millis(500) < last,
        "the 10th line arrived at {tenth:?}, the end at {last:?}: not streamed"
    );
    // The call ended after the exit, not long after.
    let finished = ts_secs(info["finishedAt"].as_str().unwrap());
    let started = ts_secs(info["startedAt"].as_str().unwrap());
    let lifetime = finished - started;
    assert!(
        last.as_secs_f64() + 0.2 >= lifetime,
        "ReadLogs follow ended {last:?} after the start, the container lived {lifetime:.3} s"
    );
    assert!(
        last.as_secs_f64() < lifetime + 2.0,
        "ReadLogs follow ended {last:?} after the start, long after the exit ({lifetime:.3} s)"
    );
}

/// ReadLogs of f with `params` added to its id: the records' texts.
fn read_texts(pod: &Pod, params: Value) -> Vec<String> {
    let mut p = json!({ "id": "f" });
    for (k, v) in params.as_object().unwrap() {
        p[k] = v.clone();
    }
    let r = pod.call(READ_LOGS, p);
    let recs = r.ok()["records"].as_array().cloned().unwrap();
    recs.iter()
        .map(|r| r["text"].as_str().unwrap().to_string())
        .collect()
}

/// tail, since (inclusive, to the nanosecond), and tail after since.
fn check_tail_and_since(pod: &Pod, got: &[(Duration, Value)], n: usize) {
    assert_eq!(
        read_texts(pod, json!({ "tail": 3 })),
        ["tick 18", "tick 19", "tick 20"]
    );

    // since: the 10th record's own timestamp includes it
    let since = got[9].1["timestamp"].as_str().unwrap().to_string();
    let texts = read_texts(pod, json!({ "since": since }));
    let want: Vec<String> = (10..=n).map(|i| format!("tick {i}")).collect();
    assert_eq!(texts, want, "since {since}");
    // ... one nanosecond later excludes it; and tail applies after since.
    let (s, ns) = rfc3339_to_unix(&since);
    let later = format!("{}{:09}Z", &since[..20], ns + 1);
    assert!(ns < 999_999_999 && rfc3339_to_unix(&later) == (s, ns + 1));
    assert_eq!(
        read_texts(pod, json!({ "since": later, "tail": 5 })),
        ["tick 16", "tick 17", "tick 18", "tick 19", "tick 20"]
    );
    let r = pod.call(READ_LOGS, json!({ "id": "f", "since": later }));
    let recs = r.ok()["records"].as_array().cloned().unwrap();
    assert_eq!(recs.len(), 10, "since {later}: {recs:?}");
    assert_eq!(recs[0]["text"], json!("tick 11"));
}

/// Follows `g`, which closes its stdout and stderr, then lives 1 s more:
/// the texts, when the call ended, and GetContainer right then.
fn follow_closed_pipes(pod: &Pod) -> (Vec<String>, Duration, Value) {
    pod.create(
        "g",
        &["sh", "-c", "echo before-close; exec >&- 2>&-; sleep 1"],
    );
    let (mut client, t0) = follow_from_start(pod, "g");
    let mut texts = Vec::new();
    let end = loop {
        let r = client.recv();
        for rec in r.ok()["records"].as_array().cloned().unwrap_or_default() {
            texts.push(rec["text"].as_str().unwrap().to_string());
        }
        if !r.continues() {
            break t0.elapsed();
        }
    };
    let g_at_end = pod.get("g");
    (texts, end, g_at_end)
}

#[test]
fn read_logs_follow_tail_and_since() {
    let pod = Pod::start("lg-read");
    let n = 20;
    let fl = follow_ticks(&pod, n);
    check_followed(&fl, n);
    check_tail_and_since(&pod, &fl.got, n);

    // Following ends with the container, not with its pipes.
    let (texts, end, g_at_end) = follow_closed_pipes(&pod);
    assert_eq!(texts, ["before-close"]);
    pod.wait("g");
    let (last, f_at_end) = (fl.last, &fl.f_at_end);
    let mut early = Vec::new();
    if f_at_end["status"] != json!("stopped") {
        early.push(format!(
            "ReadLogs follow of 'f' (20 lines in 2 s) ended {last:?} after the start while the \
             container was still {}: {f_at_end}",
            f_at_end["status"]
        ));
    }
    if g_at_end["status"] != json!("stopped") {
        early.push(format!(
            "ReadLogs follow of 'g' ended {end:?} after the start while the container was still \
             {} (it closed its stdout and stderr, then sleeps 1 s): {g_at_end}",
            g_at_end["status"]
        ));
    }
    assert!(early.is_empty(), "{}", early.join("\n"));
    assert!(
        end >= Duration::from_millis(900),
        "follow ended after {end:?}"
    );
}
