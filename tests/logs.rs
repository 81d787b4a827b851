//! Container output in the CRI (kubelet) log format:
//! `TIMESTAMP STREAM TAG CONTENT\n`, TAG `F` for a full line, `P` for a partial one.

mod common;

use common::*;
use serde_json::json;

/// One parsed CRI record.
#[derive(Debug, Clone, PartialEq)]
struct Record {
    ts: String,
    stream: String,
    tag: String,
    content: String,
}

/// Parses a CRI log strictly; panics on any malformed line.
fn parse(log: &str) -> Vec<Record> {
    assert!(
        log.is_empty() || log.ends_with('\n'),
        "log does not end with a newline: {log:?}"
    );
    log.lines()
        .map(|line| {
            let mut it = line.splitn(4, ' ');
            let ts = it.next().unwrap_or("").to_string();
            let stream = it.next().unwrap_or("").to_string();
            let tag = it.next().unwrap_or("").to_string();
            let content = it
                .next()
                .unwrap_or_else(|| panic!("record without the space before content: {line:?}"))
                .to_string();
            assert!(is_rfc3339_nano_utc(&ts), "bad timestamp {ts:?} in {line:?}");
            assert!(
                stream == "stdout" || stream == "stderr",
                "bad stream in {line:?}"
            );
            assert!(tag == "F" || tag == "P", "bad tag in {line:?}");
            Record {
                ts,
                stream,
                tag,
                content,
            }
        })
        .collect()
}

fn without_ts(recs: &[Record], stream: &str) -> Vec<String> {
    recs.iter()
        .filter(|r| r.stream == stream)
        .map(|r| format!("{} {} {}", r.stream, r.tag, r.content))
        .collect()
}

/// The lines of one stream: partial (P) records joined with the records
/// that complete them. A line may be cut into P records wherever a read
/// of the pipe happened to end (kubelet joins them the same way).
fn lines_of(recs: &[Record], stream: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for r in recs.iter().filter(|r| r.stream == stream) {
        cur.push_str(&r.content);
        if r.tag == "F" {
            lines.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

fn assert_ts_ordered(recs: &[Record]) {
    for w in recs.windows(2) {
        assert!(
            rfc3339_to_unix(&w[0].ts) <= rfc3339_to_unix(&w[1].ts),
            "timestamps go backwards: {:?} then {:?}",
            w[0],
            w[1]
        );
    }
}

#[test]
fn cri_records_exact() {
    let pod = Pod::start("log-exact");
    pod.run(
        "x",
        &[
            "sh",
            "-c",
            "printf 'one\\ntwo\\n'; printf 'err\\n' >&2; printf 'partial'",
        ],
    );
    let w = pod.wait("x");
    assert_eq!(w["exitCode"], json!(0));
    assert_eq!(
        w["container"]["logPath"],
        json!(pod.log_path("x").display().to_string())
    );
    let log = pod.log("x");
    let recs = parse(&log);
    assert_eq!(recs.len(), 4, "log: {log:?}");
    // Order between the two streams depends on the pipes; within each it is fixed.
    assert_eq!(
        without_ts(&recs, "stdout"),
        ["stdout F one", "stdout F two", "stdout P partial"],
        "log: {log:?}"
    );
    assert_eq!(
        without_ts(&recs, "stderr"),
        ["stderr F err"],
        "log: {log:?}"
    );
    for r in &recs {
        let (secs, _) = rfc3339_to_unix(&r.ts);
        assert!(
            (secs - unix_now()).abs() < 120,
            "timestamp not near now: {r:?}"
        );
    }
    assert_ts_ordered(&recs);
    // Byte-exact: each line is exactly "TS STREAM TAG CONTENT\n".
    let rebuilt: String = recs
        .iter()
        .map(|r| format!("{} {} {} {}\n", r.ts, r.stream, r.tag, r.content))
        .collect();
    assert_eq!(rebuilt, log);
}

#[test]
fn empty_lines_and_special_bytes() {
    let pod = Pod::start("log-empty");
    // Empty lines are full records with empty content ("TS stdout F \n"),
    // as the kubelet writes them. Tabs, spaces and UTF-8 pass unchanged.
    pod.run(
        "e",
        &[
            "sh",
            "-c",
            "printf '\\n\\na\\tb  c\\n\\303\\251t\\303\\251\\n'",
        ],
    );
    pod.wait("e");
    let log = pod.log("e");
    let recs = parse(&log);
    assert_eq!(
        without_ts(&recs, "stdout"),
        ["stdout F ", "stdout F ", "stdout F a\tb  c", "stdout F été"],
        "log: {log:?}"
    );
}

#[test]
fn all_output_present_when_wait_returns() {
    let pod = Pod::start("log-big");
    // 40000 numbered lines of 30 bytes: 1.2 MB, written as fast as the pipe takes it.
    let n = 40000;
    let script = format!(
        "awk 'BEGIN {{ for (i = 1; i <= {n}; i++) printf \"line %08d abcdefghijklmnop\\n\", i }}'; \
         echo last >&2"
    );
    pod.run("big", &["sh", "-c", &script]);
    let w = pod.wait("big");
    assert_eq!(w["exitCode"], json!(0), "{w}");
    // No sleep: WaitContainer promises every byte is in the log when it answers.
    let log = pod.log("big");
    let recs = parse(&log);
    let out = lines_of(&recs, "stdout");
    let err = lines_of(&recs, "stderr");
    assert_eq!(err, ["last"], "stderr lines");
    assert_eq!(out.len(), n, "stdout lines: got {}, want {n}", out.len());
    for (i, line) in out.iter().enumerate() {
        let want = format!("line {:08} abcdefghijklmnop", i + 1);
        assert_eq!(*line, want, "line {i}");
    }
    assert_ts_ordered(&recs);
    // The CLI's wait gives the same guarantee.
    pod.run("big2", &["sh", "-c", &script]);
    pod.cli(&["wait", "big2"]).assert_code(0);
    let recs2 = parse(&pod.log("big2"));
    assert_eq!(lines_of(&recs2, "stdout").len(), n);
}

#[test]
fn long_line_reassembles() {
    let pod = Pod::start("log-long");
    // One 200000-byte line: the monitor may split it into P records, but
    // they must end with an F record and join back to the original line.
    let len = 200_000;
    let script = format!(
        "awk 'BEGIN {{ for (i = 0; i < {len}; i++) printf \"%c\", 97 + i % 26; printf \"\\n\" }}'"
    );
    pod.run("l", &["sh", "-c", &script]);
    pod.wait("l");
    let log = pod.log("l");
    let recs = parse(&log);
    assert!(!recs.is_empty());
    let (last, rest) = recs.split_last().unwrap();
    assert_eq!(last.tag, "F", "last record of the line is not F");
    assert!(
        rest.iter().all(|r| r.tag == "P"),
        "records before the last must be P"
    );
    let joined: String = recs.iter().map(|r| r.content.as_str()).collect();
    let want: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    assert_eq!(joined.len(), want.len());
    assert!(joined == want, "reassembled line differs from the original");
}

#[test]
fn stderr_and_stdout_separate_and_interleaved_in_time() {
    let pod = Pod::start("log-inter");
    pod.run(
        "i",
        &[
            "sh",
            "-c",
            "for i in 1 2 3; do echo out$i; sleep 0.2; echo err$i >&2; sleep 0.2; done",
        ],
    );
    pod.wait("i");
    let log = pod.log("i");
    let recs = parse(&log);
    let got: Vec<String> = recs
        .iter()
        .map(|r| format!("{} {}", r.stream, r.content))
        .collect();
    // With 200 ms between writes, file order follows time order.
    assert_eq!(
        got,
        [
            "stdout out1",
            "stderr err1",
            "stdout out2",
            "stderr err2",
            "stdout out3",
            "stderr err3"
        ],
        "log: {log:?}"
    );
    assert_ts_ordered(&recs);
}

#[test]
fn log_written_while_running() {
    let pod = Pod::start("log-live");
    let gate2 = pod.gate("s");
    let script = format!("echo early; {}", gate2.script("echo late"));
    pod.run("s", &["sh", "-c", &script]);
    let ok = wait_until(std::time::Duration::from_secs(5), || {
        std::fs::read_to_string(pod.log_path("s"))
            .map(|l| l.contains(" stdout F early\n"))
            .unwrap_or(false)
    });
    assert!(
        ok,
        "'early' not in the log while the container runs: {:?}",
        std::fs::read_to_string(pod.log_path("s"))
    );
    assert_eq!(pod.get("s")["status"], json!("running"));
    gate2.open();
    pod.wait("s");
    let c: Vec<String> = parse(&pod.log("s"))
        .into_iter()
        .map(|r| r.content)
        .collect();
    assert_eq!(c, ["early", "late"]);
}
