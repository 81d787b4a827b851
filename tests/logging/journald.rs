//! The journald log driver against a real systemd-journald (systemd 257
//! from /opt/podmon-tools), not PID 1: it runs in a mount namespace of
//! its own (`unshare -m`) where a tmpfs covers /run and the test's own
//! directories are bound at /run/systemd/journal (its sockets) and
//! /run/log/journal (its journal files, volatile storage). A socket bound
//! there is the test directory's file, so `podmon serve --journal-socket
//! DIR/sock/socket` reaches it from outside the namespace, and
//! `journalctl --directory` reads what journald wrote. Entries are told
//! apart by CONTAINER_ID_FULL (journald also imports the kernel's and the
//! audit messages here).

use crate::common::*;
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const TOOLS: &str = "/opt/podmon-tools/root/usr";

/// The loader and library path the tools' binaries need (as the
/// varlinkctl wrapper runs them).
fn tool(binary: &str) -> Command {
    let mut c = Command::new(format!("{TOOLS}/lib64/ld-linux-x86-64.so.2"));
    c.arg("--library-path").arg(format!(
        "{TOOLS}/lib/x86_64-linux-gnu:{TOOLS}/lib/x86_64-linux-gnu/systemd"
    ));
    c.arg(format!("{TOOLS}/{binary}"));
    c
}

/// A private systemd-journald; stopped (it is our child) when dropped.
struct Journald {
    dir: PathBuf,
    child: Child,
}

impl Journald {
    fn start(name: &str) -> Journald {
        let dir = test_base().join(format!("{name}.journald.{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for d in ["sock", "log"] {
            fs::create_dir_all(dir.join(d)).unwrap();
        }
        let loader = format!("{TOOLS}/lib64/ld-linux-x86-64.so.2");
        let libs = format!("{TOOLS}/lib/x86_64-linux-gnu:{TOOLS}/lib/x86_64-linux-gnu/systemd");
        let script = format!(
            "set -e; mount -t tmpfs tmpfs /run; \
             mkdir -p /run/systemd/journal /run/log/journal; \
             mount --bind '{d}/sock' /run/systemd/journal; \
             mount --bind '{d}/log' /run/log/journal; \
             exec '{loader}' --library-path '{libs}' '{TOOLS}/lib/systemd/systemd-journald'",
            d = dir.display()
        );
        let log = fs::File::create(dir.join("journald.out")).unwrap();
        let child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("unshare runs");
        let j = Journald { dir, child };
        let end = Instant::now() + TIMEOUT;
        while !j.socket().exists() {
            assert!(
                Instant::now() < end,
                "systemd-journald made no socket: {}",
                fs::read_to_string(j.dir.join("journald.out")).unwrap_or_default()
            );
            thread::sleep(Duration::from_millis(20));
        }
        j
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("sock/socket")
    }

    /// journald's own pid (sh execs it), for SIGSTOP and SIGCONT.
    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }

    /// Every entry of container `id`, in the journal's order.
    fn entries(&self, id: &str) -> Vec<Value> {
        let out = tool("bin/journalctl")
            .arg("--directory")
            .arg(self.dir.join("log"))
            .args(["-o", "json", "--all", "--no-pager"])
            .arg(format!("CONTAINER_ID_FULL={id}"))
            .output()
            .expect("journalctl runs");
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// Container `id`'s entries once `done` holds for them (journald
    /// takes them a little after podmon sent them), or at the timeout.
    fn wait_for(&self, id: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let end = Instant::now() + TIMEOUT;
        loop {
            let e = self.entries(id);
            if done(&e) || Instant::now() >= end {
                return e;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Journald {
    fn drop(&mut self) {
        self.signal(libc::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A field's bytes: journalctl writes a string, or an array of byte
/// values for one that is not printable UTF-8.
fn field(e: &Value, key: &str) -> Vec<u8> {
    match &e[key] {
        Value::String(s) => s.clone().into_bytes(),
        Value::Array(a) => a.iter().map(|b| b.as_u64().unwrap() as u8).collect(),
        other => panic!("field {key} is {other} in {e}"),
    }
}

fn text(e: &Value, key: &str) -> String {
    String::from_utf8(field(e, key)).unwrap()
}

fn partial(e: &Value) -> bool {
    match e.get("CONTAINER_PARTIAL_MESSAGE") {
        None => false,
        Some(v) => {
            assert_eq!(v, "true", "{e}");
            true
        }
    }
}

/// The bytes of one stream rebuilt from its entries: MESSAGE, plus a
/// newline after each entry that is not partial.
fn rebuild(entries: &[Value], priority: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries.iter().filter(|e| e["PRIORITY"] == priority) {
        out.extend(field(e, "MESSAGE"));
        if !partial(e) {
            out.push(b'\n');
        }
    }
    out
}

fn pod_with(journal: &Journald, name: &str) -> Pod {
    let mut sock = journal.socket().into_os_string().into_string().unwrap();
    // The option's value, not a relative path.
    assert!(Path::new(&sock).is_absolute());
    sock.insert_str(0, "--journal-socket=");
    Pod::start_with(
        name,
        PodOptions {
            extra_args: vec![sock],
            ..Default::default()
        },
    )
}

/// What the container of the field test prints: stdout and stderr lines,
/// a line longer than logMaxLine (1024 here), one with control and
/// non-UTF-8 bytes, and an unterminated tail.
const MIXED: &str = "echo out-1; echo err-1 >&2; \
    L=$(head -c 2500 /dev/zero | tr '\\0' L); echo \"$L\"; \
    printf 'bin\\001\\002\\377end\\n'; echo err-2 >&2; printf tail-no-newline";

fn expected_stdout() -> Vec<u8> {
    let mut v = b"out-1\n".to_vec();
    v.extend(vec![b'L'; 2500]);
    v.extend(b"\nbin\x01\x02\xffend\ntail-no-newline\n");
    v
}

#[test]
fn journald_entries_carry_the_fields_the_stream_and_partial_markers() {
    let journal = Journald::start("jd-fields");
    let pod = pod_with(&journal, "jd-fields");
    let id = "jd-fields-0123456789";
    let c = pod.create_with(
        id,
        &["sh", "-c", MIXED],
        json!({"logDrivers": ["cri", "journald"], "logTag": "tagged", "logMaxLine": 1024}),
    );
    assert!(c["logPath"].is_string(), "cri+journald keeps the file: {c}");
    pod.start_container(id);
    assert_eq!(pod.wait(id)["exitCode"], json!(0));
    let complete = |e: &[Value]| {
        let mut out = rebuild(e, "6");
        out.push(b'\n');
        out == expected_stdout() && rebuild(e, "3") == b"err-1\nerr-2\n"
    };
    let entries = journal.wait_for(id, complete);
    assert!(complete(&entries), "{entries:#?}");
    for e in &entries {
        assert_eq!(text(e, "CONTAINER_ID"), &id[..12], "{e}");
        assert_eq!(text(e, "CONTAINER_ID_FULL"), id);
        assert_eq!(text(e, "CONTAINER_NAME"), id);
        assert_eq!(text(e, "CONTAINER_TAG"), "tagged");
        assert_eq!(text(e, "SYSLOG_IDENTIFIER"), "tagged");
        assert_eq!(
            e["_TRANSPORT"], "journal",
            "sent in the native protocol: {e}"
        );
    }
    let stdout: Vec<&Value> = entries.iter().filter(|e| e["PRIORITY"] == "6").collect();
    let stderr: Vec<&Value> = entries.iter().filter(|e| e["PRIORITY"] == "3").collect();
    assert_eq!(stderr.len(), 2, "{entries:#?}");
    // Where the reads of the pipe ended is up to the kernel; the split
    // at logMaxLine and the partial tail are not.
    let msgs: Vec<(usize, bool)> = stdout
        .iter()
        .map(|e| (field(e, "MESSAGE").len(), partial(e)))
        .collect();
    assert!(msgs.iter().all(|&(n, _)| n <= 1024), "{msgs:?}");
    assert!(
        msgs.iter().filter(|&&m| m == (1024, true)).count() >= 2,
        "the 2500-byte line is not in partial pieces of logMaxLine: {msgs:?}"
    );
    let last = stdout.last().unwrap();
    assert_eq!(field(last, "MESSAGE"), b"tail-no-newline");
    assert!(partial(last), "an unterminated tail is partial: {last}");
    assert!(
        stdout
            .iter()
            .any(|e| field(e, "MESSAGE") == b"bin\x01\x02\xffend"),
        "the binary line is one entry: {msgs:?}"
    );

    // The CRI file holds the same lines, split the same way.
    let recs = crate::support::parse(&fs::read(pod.log_path(id)).unwrap());
    let mut cri_stdout = crate::support::rebuild(&recs, "stdout");
    cri_stdout.push(b'\n');
    assert_eq!(cri_stdout, expected_stdout());
    assert_eq!(crate::support::rebuild(&recs, "stderr"), b"err-1\nerr-2\n");
    let cri_pieces: Vec<(usize, bool)> = recs
        .iter()
        .filter(|r| r.stream == "stdout")
        .map(|r| (r.content.len(), r.partial))
        .collect();
    assert_eq!(cri_pieces, msgs, "the file and the journal split alike");
}

#[test]
fn journald_only_defaults_the_tag_to_the_id_and_has_no_file_to_read() {
    let journal = Journald::start("jd-only");
    let pod = pod_with(&journal, "jd-only");
    let c = pod.create_with(
        "only",
        &["sh", "-c", "echo hello; echo oops >&2"],
        json!({"logDriver": "journald"}),
    );
    assert!(c.get("logPath").is_none(), "no file: {c}");
    pod.start_container("only");
    pod.wait("only");
    let entries = journal.wait_for("only", |e| e.len() >= 2);
    assert_eq!(entries.len(), 2, "{entries:#?}");
    for e in &entries {
        assert_eq!(text(e, "SYSLOG_IDENTIFIER"), "only");
        assert_eq!(text(e, "CONTAINER_TAG"), "only");
        assert_eq!(text(e, "CONTAINER_ID"), "only");
        assert!(!partial(e));
    }
    assert_eq!(rebuild(&entries, "6"), b"hello\n");
    assert_eq!(rebuild(&entries, "3"), b"oops\n");
    assert!(!pod.log_path("only").exists());
    let r = pod.call("io.podmon.Pod.ReadLogs", json!({"id": "only"}));
    let e = r.err("io.podmon.Pod.SystemError");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("writes no file")),
        "{e}"
    );
}

#[test]
fn an_entry_too_big_for_a_datagram_goes_through_a_memfd() {
    let journal = Journald::start("jd-memfd");
    let pod = pod_with(&journal, "jd-memfd");
    // 300 KiB in one write (dd collects it): podmon reads it in pieces of
    // at most 256 KiB, still more than a datagram can carry.
    let n = 300 << 10;
    let script = format!(
        "head -c {n} /dev/zero | tr '\\0' Z | dd bs=1M iflag=fullblock 2>/dev/null; echo; echo after"
    );
    pod.create_with(
        "big",
        &["sh", "-c", &script],
        json!({"logDriver": "journald", "logMaxLine": 1 << 20}),
    );
    pod.start_container("big");
    pod.wait("big");
    let mut want = vec![b'Z'; n];
    want.extend(b"\nafter\n");
    let entries = journal.wait_for("big", |e| rebuild(e, "6") == want);
    let got = rebuild(&entries, "6");
    assert!(
        got == want,
        "{} bytes back from the journal, {} written",
        got.len(),
        want.len()
    );
    let longest = entries
        .iter()
        .map(|e| field(e, "MESSAGE").len())
        .max()
        .unwrap();
    let dgram_max = 212_992;
    assert!(
        longest > dgram_max,
        "no entry above a datagram's {dgram_max} bytes (longest {longest}): the memfd path was not taken"
    );
}

#[test]
fn a_stopped_journald_holds_the_log_back_and_nothing_is_lost() {
    let journal = Journald::start("jd-slow");
    let pod = pod_with(&journal, "jd-slow");
    let n = 2000;
    journal.signal(libc::SIGSTOP);
    pod.create_with(
        "slow",
        &["sh", "-c", &crate::support::numbered_awk(n, "slow-", "")],
        json!({"logDriver": "journald"}),
    );
    pod.start_container("slow");
    // The container is done long before its log is: the monitor answers
    // meanwhile, and the log waits for journald.
    thread::sleep(Duration::from_millis(500));
    let c = pod.get("slow");
    assert!(c["logBytesWritten"].as_u64().unwrap() < 2000 * 40, "{c}");
    journal.signal(libc::SIGCONT);
    pod.wait("slow");
    let lines = |e: &[Value]| e.iter().filter(|e| !partial(e)).count() as u64;
    let entries = journal.wait_for("slow", |e| lines(e) >= n);
    let nums = crate::support::check_numbered(&rebuild(&entries, "6"), "slow-", "", "journal");
    crate::support::assert_sequence(&nums, n, "journal");
}

#[test]
fn a_missing_journal_fails_the_create_and_bad_driver_lists_are_refused() {
    let journal = Journald::start("jd-bad");
    let pod = pod_with(&journal, "jd-bad");
    let bad = |extra: Value, param: &str| {
        let req = json!({"id": "x", "rootfs": rootfs(), "command": ["true"]});
        let mut p = req.as_object().unwrap().clone();
        p.extend(extra.as_object().unwrap().clone());
        let r = pod.call("io.podmon.Pod.CreateContainer", Value::Object(p));
        let e = r.err("io.podmon.Pod.InvalidValue");
        assert_eq!(e["parameter"], param, "{extra}: {e}");
    };
    bad(
        json!({"logDriver": "cri", "logDrivers": ["journald"]}),
        "logDrivers",
    );
    bad(json!({"logDrivers": ["cri", "cri"]}), "logDrivers");
    bad(json!({"logDrivers": ["none", "journald"]}), "logDrivers");
    bad(json!({"logDrivers": []}), "logDrivers");
    bad(json!({"logTag": "t"}), "logTag");
    bad(json!({"logDriver": "journald", "logTag": "a\nb"}), "logTag");
    bad(
        json!({"logDriver": "journald", "logMaxSize": 1 << 20}),
        "logDriver",
    );
    drop(journal);
    let r = pod.call(
        "io.podmon.Pod.CreateContainer",
        json!({"id": "gone", "rootfs": rootfs(), "command": ["true"], "logDriver": "journald"}),
    );
    let e = r.err("io.podmon.Pod.SystemError");
    assert_eq!(e["errno"], json!(libc::ENOENT), "{e}");
    assert!(e["path"].as_str().unwrap().ends_with("sock/socket"), "{e}");
    let r = pod.call("io.podmon.Pod.GetContainer", json!({"id": "gone"}));
    r.err("io.podmon.Pod.NoSuchContainer");
}

#[test]
fn after_a_live_upgrade_the_journal_goes_on_with_the_same_tag() {
    let journal = Journald::start("jd-upgrade");
    let pod = pod_with(&journal, "jd-upgrade");
    let gate = pod.gate("up");
    pod.create_with(
        "up",
        &["sh", "-c", &gate.script("echo after; echo after-err >&2")],
        json!({"logDrivers": ["journald", "cri"], "logTag": "kept"}),
    );
    pod.start_container("up");
    let before = pod.call("io.podmon.Pod.GetPod", json!({})).ok()["startedAt"].clone();
    pod.cli_ok(&["upgrade"]);
    let after = pod.call("io.podmon.Pod.GetPod", json!({})).ok()["startedAt"].clone();
    assert_ne!(before, after, "the monitor was not exec'd");
    assert!(pod.server_log_text().contains("re-adopted container up"));
    gate.open();
    assert_eq!(pod.wait("up")["exitCode"], json!(0));
    let entries = journal.wait_for("up", |e| e.len() >= 2);
    assert_eq!(rebuild(&entries, "6"), b"after\n", "{entries:#?}");
    assert_eq!(rebuild(&entries, "3"), b"after-err\n");
    for e in &entries {
        assert_eq!(text(e, "SYSLOG_IDENTIFIER"), "kept", "{e}");
    }
    let recs = crate::support::parse(&fs::read(pod.log_path("up")).unwrap());
    assert_eq!(crate::support::rebuild(&recs, "stdout"), b"after\n");
}
