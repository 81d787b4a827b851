//! `run_client`'s output and exit status against a fake monitor.

use super::*;
use crate::varlink::frame::FrameDecoder;
use crate::varlink::message::{Call, Reply};
use serde_json::{Map, Value, json};
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::thread;

#[test]
fn pod_and_log_limit_output() {
    let reply = Reply::ok(obj(json!({"name": "p", "version": "1", "startedAt": "s",
        "uptimeSeconds": 1.0, "runtime": "runc", "created": 0, "running": 1, "stopped": 0,
        "memoryBytes": 0, "monitor": {"pid": 9}})));
    let (result, out, _) = run(ClientCommand::Pod, false, vec![reply]);
    assert_eq!(result.unwrap(), 0);
    assert!(out.starts_with("name:       p\n"), "{out}");
    assert!(out.contains("monitor:    pid 9\n"), "{out}");
    let reply = Reply::ok(obj(json!({"container": container("a", "running")})));
    let cmd = ClientCommand::SetLogLimit(super::super::LogLimitArgs {
        id: "a".into(),
        off: true,
        ..Default::default()
    });
    let (_, out, _) = run(cmd, false, vec![reply]);
    assert_eq!(out, "a: no log rate limit\n");
}

#[test]
fn exit_statuses() {
    use super::output::exit_status;
    assert_eq!(exit_status(Some(0)), 0);
    assert_eq!(exit_status(Some(3)), 3);
    assert_eq!(exit_status(Some(137)), 137);
    assert_eq!(exit_status(Some(255)), 255);
    assert_eq!(exit_status(Some(256)), 1);
    assert_eq!(exit_status(Some(-1)), 1);
    assert_eq!(exit_status(None), 1);
}

/// Answers calls on a socket pair with canned replies, checking the
/// method of each call.
fn fake_monitor(script: Vec<(&'static str, Vec<Reply>)>) -> (Client, thread::JoinHandle<()>) {
    let (a, mut b) = UnixStream::pair().unwrap();
    let handle = thread::spawn(move || {
        let mut dec = FrameDecoder::new(1 << 20);
        let mut buf = [0u8; 4096];
        for (method, replies) in script {
            let frame = loop {
                if let Some(f) = dec.next_frame().unwrap() {
                    break f;
                }
                let n = b.read(&mut buf).unwrap();
                assert!(n > 0);
                dec.push(&buf[..n]);
            };
            assert_eq!(Call::parse(&frame).unwrap().method, method);
            let mut out = Vec::new();
            for reply in replies {
                reply.encode(&mut out);
            }
            b.write_all(&out).unwrap();
        }
    });
    (Client::from_stream(a), handle)
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

/// A ContainerInfo as the monitor sends it.
fn container(id: &str, status: &str) -> Value {
    json!({"id": id, "status": status, "bundle": "/b", "logPath": "/l",
        "logBytesWritten": 0, "logBytesDropped": 0, "oomKilled": false, "terminal": false,
        "createdAt": "2024-01-01T00:00:00.5Z"})
}

fn run(cmd: ClientCommand, json: bool, replies: Vec<Reply>) -> (Result<i32, Stop>, String, String) {
    let Plan::Call(req) = plan(&cmd).unwrap() else {
        panic!("not a one-shot call")
    };
    let (mut client, h) = fake_monitor(vec![(req.method(), replies)]);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let result = execute(req, &mut client, json, &mut out, &mut err);
    h.join().unwrap();
    (
        result,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn wait_prints_code_and_exits_with_it() {
    let reply = Reply::ok(obj(json!({"exitCode": 137, "signal": "SIGKILL",
        "oomKilled": false, "reason": "Error", "container": container("a", "stopped")})));
    let (result, out, err) = run(ClientCommand::Wait { id: "a".into() }, false, vec![reply]);
    assert_eq!(result.unwrap(), 137);
    assert_eq!(out, "137\n");
    assert_eq!(err, "(killed by SIGKILL)\n");
}

#[test]
fn start_prints_id_and_json_prints_parameters() {
    let reply = Reply::ok(obj(json!({"container": container("a", "running")})));
    let (result, out, _) = run(
        ClientCommand::Start { id: "a".into() },
        false,
        vec![reply.clone()],
    );
    assert_eq!(result.unwrap(), 0);
    assert_eq!(out, "a\n");
    let (_, out, _) = run(ClientCommand::Start { id: "a".into() }, true, vec![reply]);
    let printed: Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(printed, json!({"container": container("a", "running")}));
}

#[test]
fn ps_human_and_json() {
    let replies = || {
        vec![Reply::ok(obj(json!({"containers": [
            container("a", "running"),
            container("b", "created")
        ]})))]
    };
    let (result, out, _) = run(ClientCommand::Ps, false, replies());
    assert_eq!(result.unwrap(), 0);
    assert_eq!(
        out,
        "ID   STATUS    PID   EXIT   CREATED\n\
         a    running   -     -      2024-01-01T00:00:00Z\n\
         b    created   -     -      2024-01-01T00:00:00Z\n"
    );
    let (_, out, _) = run(ClientCommand::Ps, true, replies());
    assert_eq!(out.lines().count(), 1, "one document: {out}");
    let printed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(printed["containers"][1]["id"], "b");
}

#[test]
fn ps_on_empty_pod() {
    let reply = Reply::ok(obj(json!({"containers": []})));
    let (result, out, _) = run(ClientCommand::Ps, true, vec![reply]);
    assert_eq!(result.unwrap(), 0);
    assert_eq!(out, "{\"containers\":[]}\n");
    // The single container is not printed twice.
    let reply = Reply::ok(obj(json!({"container": container("a", "running"),
        "containers": [container("a", "running")]})));
    let (_, out, _) = run(ClientCommand::Ps, true, vec![reply]);
    let printed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(printed, json!({"containers": [container("a", "running")]}));
}

#[test]
fn error_reply_is_a_readable_failure() {
    let reply =
        crate::varlink::VarlinkError::new("io.podmon.Pod.NoSuchContainer", json!({"id": "web"}))
            .into_reply();
    let (result, out, _) = run(
        ClientCommand::State { id: "web".into() },
        false,
        vec![reply],
    );
    let Err(Stop::Call(err)) = result else {
        panic!("expected a call failure")
    };
    assert_eq!(
        super::super::errors::describe(&err, Path::new("/s")),
        "no such container: web"
    );
    assert_eq!(out, "");
}

#[test]
fn run_client_without_monitor_names_the_socket() {
    let err = run_client(
        ClientCommand::Ps,
        Path::new("/nonexistent/podmon.sock"),
        false,
    )
    .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("/nonexistent/podmon.sock"), "{text}");
    assert_eq!(super::super::report(&err, false), 1);
    let failure = super::super::failure::of(&err);
    assert_eq!(failure.name, super::super::error_names::CANNOT_CONNECT);
    assert_eq!(failure.parameters["errno"], libc::ENOENT);
}
