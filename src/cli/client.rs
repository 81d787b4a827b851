//! Runs one client subcommand: builds the Varlink call, makes it, prints the
//! result and picks the exit status.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use serde_json::{Map, Value, json};

use super::output::{self, ContainerView};
use super::{ClientCommand, CreateArgs};
use super::{errors, events, interactive, logs, stats};
use crate::varlink::client::{Client, ClientError};

/// The Varlink interface the client subcommands call.
pub const INTERFACE: &str = "io.podmon.Pod";

/// Runs `cmd` against the monitor at `socket` and returns the process exit
/// status: 0 on success, the container's exit code for `wait`.
///
/// Failures come back as errors whose message is already readable (e.g.
/// "no such container: web"); print them with [`report`], which also gives
/// the exit status 1.
pub fn run_client(cmd: ClientCommand, socket: &Path, json: bool) -> anyhow::Result<i32> {
    // Streaming subcommands drive their connections themselves.
    match &cmd {
        ClientCommand::Exec(args) => return interactive::exec(args, socket, json),
        ClientCommand::Attach { id, no_stdin } => {
            return interactive::attach(id, !no_stdin, socket);
        }
        ClientCommand::Logs(args) => return logs::run(args, socket, json),
        ClientCommand::Stats { id, watch } => {
            return stats::run(id.as_deref(), *watch, socket, json);
        }
        ClientCommand::Events { id } => return events::run(id.as_deref(), socket, json),
        _ => {}
    }
    let (method, mut parameters) = request(&cmd)?;
    // A terminal container's pty starts at our window's size.
    if let ClientCommand::Create(args) = &cmd
        && args.terminal
        && args.rootfs.is_some()
        && let Some((cols, rows)) = super::term::window_size()
    {
        parameters["width"] = json!(cols);
        parameters["height"] = json!(rows);
    }
    let mut client =
        Client::connect(socket).map_err(|err| anyhow!(errors::describe(&err, socket)))?;
    let stdout = io::stdout();
    let stderr = io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    let code = execute(
        &cmd,
        method,
        parameters,
        &mut client,
        json,
        &mut out,
        &mut err,
    )
    .map_err(|e| match e {
        Failure::Call(call) => anyhow!(errors::describe(&call, socket)),
        Failure::Output(io) => anyhow::Error::new(io).context("cannot write output"),
    })?;
    out.flush().context("cannot write output")?;
    Ok(code)
}

/// Prints `podmon: <message>` on stderr and returns the exit status for a
/// failed command (1).
pub fn report(err: &anyhow::Error) -> i32 {
    eprintln!("podmon: {err:#}");
    1
}

/// The method and parameters for a subcommand; relative bundle and rootfs
/// paths are made absolute because the monitor runs in another directory.
pub fn request(cmd: &ClientCommand) -> anyhow::Result<(&'static str, Value)> {
    Ok(match cmd {
        ClientCommand::Create(args) => ("io.podmon.Pod.CreateContainer", create_parameters(args)?),
        ClientCommand::Start { id } => ("io.podmon.Pod.StartContainer", json!({ "id": id })),
        ClientCommand::Kill { id, signal, all } => {
            let mut p = Map::new();
            p.insert("id".into(), json!(id));
            if let Some(signal) = signal {
                p.insert("signal".into(), json!(signal));
            }
            if *all {
                p.insert("all".into(), json!(true));
            }
            ("io.podmon.Pod.KillContainer", Value::Object(p))
        }
        ClientCommand::Wait { id } => ("io.podmon.Pod.WaitContainer", json!({ "id": id })),
        ClientCommand::Delete { id, force } => {
            let mut p = Map::new();
            p.insert("id".into(), json!(id));
            if *force {
                p.insert("force".into(), json!(true));
            }
            ("io.podmon.Pod.DeleteContainer", Value::Object(p))
        }
        ClientCommand::State { id } => ("io.podmon.Pod.GetContainer", json!({ "id": id })),
        ClientCommand::Ps => ("io.podmon.Pod.ListContainers", json!({})),
        ClientCommand::Exec(args) => interactive::exec_request(args, args.uses_sync(false)),
        ClientCommand::Attach { id, no_stdin } => {
            let mut p = Map::new();
            p.insert("id".into(), json!(id));
            if !no_stdin {
                p.insert("stdin".into(), json!(true));
            }
            ("io.podmon.Pod.Attach", Value::Object(p))
        }
        ClientCommand::Logs(args) => logs::logs_request(args, std::time::SystemTime::now())?,
        ClientCommand::Stats { id, .. } => match id {
            Some(id) => ("io.podmon.Pod.Stats", json!({ "id": id })),
            None => ("io.podmon.Pod.Stats", json!({})),
        },
        ClientCommand::Events { id } => events::events_request(id.as_deref()),
        ClientCommand::Pod => ("io.podmon.Pod.GetPod", json!({})),
        ClientCommand::SetLogLimit(args) => {
            let mut p = Map::new();
            p.insert("id".into(), json!(args.id));
            if let (false, Some(rate)) = (args.off, args.rate) {
                let mut limit = Map::new();
                limit.insert("bytesPerSecond".into(), json!(rate));
                // One second's worth unless told otherwise.
                limit.insert("burst".into(), json!(args.burst.unwrap_or(rate)));
                if let Some(policy) = &args.policy {
                    limit.insert("policy".into(), json!(policy));
                }
                p.insert("limit".into(), Value::Object(limit));
            }
            ("io.podmon.Pod.SetLogRateLimit", Value::Object(p))
        }
        ClientCommand::ReopenLog { id } => ("io.podmon.Pod.ReopenLog", json!({ "id": id })),
        ClientCommand::Resize { id, cols, rows } => (
            "io.podmon.Pod.Resize",
            json!({ "id": id, "width": cols, "height": rows }),
        ),
    })
}

fn create_parameters(args: &CreateArgs) -> anyhow::Result<Value> {
    let mut p = Map::new();
    p.insert("id".into(), json!(args.id));
    if let Some(bundle) = &args.bundle {
        p.insert("bundle".into(), json!(absolute_str(bundle, "--bundle")?));
    }
    if let Some(rootfs) = &args.rootfs {
        p.insert("rootfs".into(), json!(absolute_str(rootfs, "--rootfs")?));
    }
    if !args.command.is_empty() {
        p.insert("command".into(), json!(args.command));
    }
    if !args.env.is_empty() {
        p.insert("env".into(), json!(args.env));
    }
    if let Some(cwd) = &args.cwd {
        p.insert("cwd".into(), json!(cwd));
    }
    if let Some(hostname) = &args.hostname {
        p.insert("hostname".into(), json!(hostname));
    }
    if let Some(bytes) = args.memory_max {
        p.insert("memoryMax".into(), json!(bytes));
    }
    if let Some(n) = args.pids_max {
        p.insert("pidsMax".into(), json!(n));
    }
    if let Some(driver) = &args.log_driver {
        p.insert("logDriver".into(), json!(driver));
    }
    if let (Some(rate), Some(burst)) = (args.log_rate, args.log_burst) {
        let mut limit = Map::new();
        limit.insert("bytesPerSecond".into(), json!(rate));
        limit.insert("burst".into(), json!(burst));
        if let Some(policy) = &args.log_policy {
            limit.insert("policy".into(), json!(policy));
        }
        p.insert("logRateLimit".into(), Value::Object(limit));
    }
    for (key, value) in [
        ("logMaxLine", args.log_max_line),
        ("logMaxSize", args.log_max_size),
        ("logMaxFiles", args.log_max_files),
    ] {
        if let Some(value) = value {
            p.insert(key.into(), json!(value));
        }
    }
    for (key, set) in [
        ("stdin", args.stdin),
        ("stdinOnce", args.stdin_once),
        ("terminal", args.terminal),
    ] {
        if set {
            p.insert(key.into(), json!(true));
        }
    }
    Ok(Value::Object(p))
}

/// The path made absolute against the current directory, as UTF-8 (JSON
/// strings cannot carry other bytes).
fn absolute_str(path: &Path, option: &str) -> anyhow::Result<String> {
    let absolute: PathBuf = std::path::absolute(path)
        .with_context(|| format!("cannot resolve {option} {}", path.display()))?;
    absolute.into_os_string().into_string().map_err(|raw| {
        anyhow!(
            "{option} path is not valid UTF-8: {}",
            Path::new(&raw).display()
        )
    })
}

/// What stopped a subcommand after connecting.
#[derive(Debug)]
enum Failure {
    /// The call failed (error reply, broken connection, ...).
    Call(ClientError),
    /// Printing the result failed.
    Output(io::Error),
}

impl From<ClientError> for Failure {
    fn from(err: ClientError) -> Self {
        Failure::Call(err)
    }
}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Self {
        Failure::Output(err)
    }
}

/// Makes the call and prints its result to `out` (and notes to `err`).
fn execute(
    cmd: &ClientCommand,
    method: &str,
    parameters: Value,
    client: &mut Client,
    json: bool,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<i32, Failure> {
    if let ClientCommand::Ps = cmd {
        return list(client, method, parameters, json, out);
    }
    let reply = client.call(method, parameters)?;
    if json {
        writeln!(out, "{}", output::json_line(&reply))?;
    }
    match cmd {
        ClientCommand::Create(_) | ClientCommand::Start { .. } => {
            if !json {
                let shown = ContainerView::from_reply(&reply)
                    .map_or_else(|| cmd.id().unwrap_or_default().to_owned(), |c| c.id);
                writeln!(out, "{shown}")?;
            }
            Ok(0)
        }
        ClientCommand::Wait { .. } => {
            let code = reply.get("exitCode").and_then(Value::as_i64);
            let signal = reply.get("signal").and_then(Value::as_str);
            if !json {
                match code {
                    Some(code) => writeln!(out, "{code}")?,
                    None => writeln!(out, "?")?,
                }
                if let Some(note) = output::signal_note(signal) {
                    writeln!(err, "{note}")?;
                }
            }
            Ok(exit_status(code))
        }
        ClientCommand::State { .. } => {
            if !json {
                let view = ContainerView::from_reply(&reply).unwrap_or_default();
                write!(out, "{}", output::format_state(&view))?;
            }
            Ok(0)
        }
        ClientCommand::Pod => {
            if !json {
                write!(out, "{}", events::format_pod(&reply))?;
            }
            Ok(0)
        }
        ClientCommand::SetLogLimit(_) => {
            if !json {
                write!(out, "{}", events::format_log_limit(&reply))?;
            }
            Ok(0)
        }
        ClientCommand::Kill { .. }
        | ClientCommand::Delete { .. }
        | ClientCommand::Ps
        | ClientCommand::ReopenLog { .. }
        | ClientCommand::Resize { .. } => Ok(0),
        // Handled by run_client before any generic call.
        ClientCommand::Exec(_)
        | ClientCommand::Attach { .. }
        | ClientCommand::Logs(_)
        | ClientCommand::Stats { .. }
        | ClientCommand::Events { .. } => Ok(0),
    }
}

/// `ps`: one reply per container with `more`.
fn list(
    client: &mut Client,
    method: &str,
    parameters: Value,
    json: bool,
    out: &mut impl Write,
) -> Result<i32, Failure> {
    let mut containers = Vec::new();
    let mut lines = Vec::new();
    client.call_more(method, parameters, |reply| {
        if let Some(view) = ContainerView::from_reply(&reply) {
            containers.push(view);
            lines.push(output::json_line(&reply));
        }
    })?;
    if json {
        for line in lines {
            writeln!(out, "{line}")?;
        }
    } else {
        write!(out, "{}", output::format_table(&containers))?;
    }
    Ok(0)
}

/// The container's exit code as our own exit status; codes a process cannot
/// exit with (or none at all) become 1 so failure is never reported as 0.
pub fn exit_status(code: Option<i64>) -> i32 {
    match code {
        Some(code @ 0..=255) => code as i32,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::varlink::frame::FrameDecoder;
    use crate::varlink::message::{Call, Reply};
    use std::io::Read;
    use std::os::unix::net::UnixStream;
    use std::thread;

    #[test]
    fn create_request_omits_unset_options() {
        let args = CreateArgs {
            id: "web".into(),
            bundle: Some("/b".into()),
            ..CreateArgs::default()
        };
        let (method, params) = request(&ClientCommand::Create(Box::new(args))).unwrap();
        assert_eq!(method, "io.podmon.Pod.CreateContainer");
        assert_eq!(params, json!({"id": "web", "bundle": "/b"}));
    }

    #[test]
    fn create_request_with_rootfs() {
        let args = CreateArgs {
            id: "web".into(),
            rootfs: Some("/r".into()),
            env: vec!["A=1".into()],
            cwd: Some("/srv".into()),
            hostname: Some("h".into()),
            memory_max: Some(64 << 20),
            pids_max: Some(10),
            command: vec!["sh".into(), "-c".into(), "true".into()],
            ..CreateArgs::default()
        };
        let (_, params) = request(&ClientCommand::Create(Box::new(args))).unwrap();
        assert_eq!(
            params,
            json!({
                "id": "web", "rootfs": "/r", "env": ["A=1"], "cwd": "/srv", "hostname": "h",
                "memoryMax": 67108864, "pidsMax": 10, "command": ["sh", "-c", "true"]
            })
        );
    }

    #[test]
    fn create_request_with_log_options() {
        let args = CreateArgs {
            id: "web".into(),
            bundle: Some("/b".into()),
            stdin: true,
            stdin_once: true,
            log_driver: Some("cri".into()),
            log_max_line: Some(100),
            log_max_size: Some(200),
            log_max_files: Some(3),
            log_rate: Some(10),
            log_burst: Some(20),
            log_policy: Some("drop".into()),
            ..CreateArgs::default()
        };
        let (_, params) = request(&ClientCommand::Create(Box::new(args))).unwrap();
        assert_eq!(
            params,
            json!({
                "id": "web", "bundle": "/b", "stdin": true, "stdinOnce": true, "logDriver": "cri",
                "logMaxLine": 100, "logMaxSize": 200, "logMaxFiles": 3,
                "logRateLimit": {"bytesPerSecond": 10, "burst": 20, "policy": "drop"}
            })
        );
    }

    #[test]
    fn relative_paths_become_absolute() {
        let args = CreateArgs {
            id: "web".into(),
            bundle: Some("bundles/web".into()),
            ..CreateArgs::default()
        };
        let (_, params) = request(&ClientCommand::Create(Box::new(args))).unwrap();
        let bundle = params["bundle"].as_str().unwrap();
        assert!(
            bundle.starts_with('/') && bundle.ends_with("bundles/web"),
            "{bundle}"
        );
    }

    #[test]
    fn other_requests() {
        let kill = |signal: Option<&str>, all| ClientCommand::Kill {
            id: "a".into(),
            signal: signal.map(str::to_owned),
            all,
        };
        assert_eq!(
            request(&kill(None, false)).unwrap(),
            ("io.podmon.Pod.KillContainer", json!({"id": "a"}))
        );
        assert_eq!(
            request(&kill(Some("KILL"), true)).unwrap(),
            (
                "io.podmon.Pod.KillContainer",
                json!({"id": "a", "signal": "KILL", "all": true})
            )
        );
        assert_eq!(
            request(&ClientCommand::Delete {
                id: "a".into(),
                force: true
            })
            .unwrap(),
            (
                "io.podmon.Pod.DeleteContainer",
                json!({"id": "a", "force": true})
            )
        );
        assert_eq!(
            request(&ClientCommand::Start { id: "a".into() }).unwrap().0,
            "io.podmon.Pod.StartContainer"
        );
        assert_eq!(
            request(&ClientCommand::Wait { id: "a".into() }).unwrap().0,
            "io.podmon.Pod.WaitContainer"
        );
        assert_eq!(
            request(&ClientCommand::State { id: "a".into() }).unwrap().0,
            "io.podmon.Pod.GetContainer"
        );
        assert_eq!(
            request(&ClientCommand::Ps).unwrap(),
            ("io.podmon.Pod.ListContainers", json!({}))
        );
    }

    #[test]
    fn new_requests() {
        use super::super::LogLimitArgs;
        let limit = |args: LogLimitArgs| request(&ClientCommand::SetLogLimit(args)).unwrap();
        assert_eq!(
            limit(LogLimitArgs {
                id: "a".into(),
                rate: Some(100),
                ..LogLimitArgs::default()
            }),
            (
                "io.podmon.Pod.SetLogRateLimit",
                json!({"id": "a", "limit": {"bytesPerSecond": 100, "burst": 100}})
            )
        );
        assert_eq!(
            limit(LogLimitArgs {
                id: "a".into(),
                rate: Some(100),
                burst: Some(400),
                policy: Some("drop".into()),
                off: false,
            })
            .1,
            json!({"id": "a", "limit": {"bytesPerSecond": 100, "burst": 400, "policy": "drop"}})
        );
        assert_eq!(
            limit(LogLimitArgs {
                id: "a".into(),
                off: true,
                ..LogLimitArgs::default()
            })
            .1,
            json!({"id": "a"})
        );
        assert_eq!(
            request(&ClientCommand::Resize {
                id: "a".into(),
                cols: 80,
                rows: 24
            })
            .unwrap(),
            (
                "io.podmon.Pod.Resize",
                json!({"id": "a", "width": 80, "height": 24})
            )
        );
        assert_eq!(
            request(&ClientCommand::ReopenLog { id: "a".into() }).unwrap(),
            ("io.podmon.Pod.ReopenLog", json!({"id": "a"}))
        );
        assert_eq!(
            request(&ClientCommand::Pod).unwrap(),
            ("io.podmon.Pod.GetPod", json!({}))
        );
        assert_eq!(
            request(&ClientCommand::Attach {
                id: "a".into(),
                no_stdin: false
            })
            .unwrap(),
            ("io.podmon.Pod.Attach", json!({"id": "a", "stdin": true}))
        );
    }

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

    fn container(id: &str, status: &str) -> Value {
        json!({"id": id, "status": status, "bundle": "/b", "logPath": "/l", "createdAt": "2024-01-01T00:00:00.5Z"})
    }

    fn run(
        cmd: ClientCommand,
        json: bool,
        replies: Vec<Reply>,
    ) -> (Result<i32, Failure>, String, String) {
        let (method, params) = request(&cmd).unwrap();
        let (mut client, h) = fake_monitor(vec![(method, replies)]);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let result = execute(&cmd, method, params, &mut client, json, &mut out, &mut err);
        h.join().unwrap();
        (
            result,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn wait_prints_code_and_exits_with_it() {
        let reply = Reply::ok(obj(
            json!({"exitCode": 137, "signal": "SIGKILL", "container": container("a", "stopped")}),
        ));
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
            vec![
                Reply::continues(obj(json!({"container": container("a", "running")}))),
                Reply::ok(obj(json!({"container": container("b", "created")}))),
            ]
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
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["container"]["id"], "b");
    }

    #[test]
    fn ps_on_empty_pod() {
        let (result, out, _) = run(ClientCommand::Ps, true, vec![Reply::ok(Map::new())]);
        assert_eq!(result.unwrap(), 0);
        assert_eq!(out, "");
    }

    #[test]
    fn error_reply_is_a_readable_failure() {
        let reply = crate::varlink::VarlinkError::new(
            "io.podmon.Pod.NoSuchContainer",
            json!({"id": "web"}),
        )
        .into_reply();
        let (result, out, _) = run(
            ClientCommand::State { id: "web".into() },
            false,
            vec![reply],
        );
        let Err(Failure::Call(err)) = result else {
            panic!("expected a call failure")
        };
        assert_eq!(
            errors::describe(&err, Path::new("/s")),
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
        assert_eq!(report(&err), 1);
    }
}
