//! `exec` and `attach`: a process's I/O over an upgraded connection, or
//! (`exec --sync`/`--timeout`) the whole output of `ExecSync` at the end.

use std::io::{self, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use anyhow::Context;

use super::ExecArgs;
use super::failure::{Failure, names};
use super::output::{self, exit_status};
use super::term::{self, DetachKeys, RawMode};
use super::upgrade::FrameReader;
use crate::proto::frame::Frame;
use crate::proto::{self, call};
use crate::varlink::client::{Client, ClientError};

/// What `exec` calls: `ExecSync` when [`ExecArgs::uses_sync`], else
/// `Exec` (made with `upgrade`).
#[derive(Debug, Clone, PartialEq)]
pub enum ExecRequest {
    /// Run to completion, output at the end.
    Sync(proto::ExecSync),
    /// Stream the I/O over an upgraded connection.
    Stream(proto::Exec),
}

/// The `exec` request for `args`.
pub fn exec_request(args: &ExecArgs, sync: bool) -> ExecRequest {
    let env = (!args.env.is_empty()).then(|| args.env.clone());
    if sync {
        return ExecRequest::Sync(proto::ExecSync {
            id: args.id.clone(),
            command: args.command.clone(),
            env,
            cwd: args.cwd.clone(),
            user: args.user.clone(),
            timeout_seconds: args.timeout.map(|t| t.as_secs_f64()),
            max_output: None,
            // The exact bytes: written raw, or as text in the JSON output.
            encoding: Some("base64".to_owned()),
        });
    }
    ExecRequest::Stream(proto::Exec {
        id: args.id.clone(),
        command: args.command.clone(),
        env,
        cwd: args.cwd.clone(),
        user: args.user.clone(),
        terminal: args.tty.then_some(true),
        interactive: args.interactive.then_some(true),
        ..proto::Exec::default()
    })
}

/// Runs `podmon exec`; returns the command's exit code as our status.
pub fn exec(args: &ExecArgs, socket: &Path, json: bool) -> anyhow::Result<i32> {
    let describe = |err: ClientError| Failure::client(&err, socket);
    let mut req = match exec_request(args, args.uses_sync(json)) {
        ExecRequest::Sync(req) => {
            let mut client = Client::connect(socket).map_err(describe)?;
            let reply = call::call(&mut client, &req).map_err(describe)?;
            return print_exec_sync(&reply, json, &mut io::stdout(), &mut io::stderr())
                .context("cannot write output");
        }
        ExecRequest::Stream(req) => req,
    };
    // The pty starts at our window's size, so the command sees it from its
    // first instruction (a resize frame would come too late for `stty size`).
    if args.tty
        && let Some((cols, rows)) = term::window_size()
    {
        req.width = Some(cols);
        req.height = Some(rows);
    }
    let conn = Client::connect(socket).map_err(describe)?;
    let (_, up) = call::upgrade(conn, &req).map_err(describe)?;
    let opts = Session {
        raw: args.tty && args.interactive && term::stdin_is_tty(),
        resize: args.tty,
        stdin: args.interactive,
        detach_keys: false,
    };
    run_session(up.stream, up.leftover, &opts)
}

/// Prints an `ExecSync` reply made with `encoding: "base64"`: the exact
/// bytes on our stdout and stderr (or the reply as JSON, the output as
/// text), notes about truncation and timeouts on stderr.
pub fn print_exec_sync(
    reply: &proto::ExecSyncReply,
    json: bool,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<i32> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let stdout = b64.decode(&reply.stdout).context("stdout is not base64")?;
    let stderr = b64.decode(&reply.stderr).context("stderr is not base64")?;
    if json {
        let text = proto::ExecSyncReply {
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            ..reply.clone()
        };
        writeln!(out, "{}", output::json_line(&call::to_map(&text)))?;
    } else {
        out.write_all(&stdout)?;
        out.flush()?;
        err.write_all(&stderr)?;
        if reply.stdout_truncated {
            writeln!(err, "podmon: stdout was truncated")?;
        }
        if reply.stderr_truncated {
            writeln!(err, "podmon: stderr was truncated")?;
        }
        if reply.timed_out {
            writeln!(err, "podmon: the command timed out and was killed")?;
        } else if let Some(note) = output::signal_note(reply.signal.as_deref()) {
            writeln!(err, "podmon: {note}")?;
        }
    }
    out.flush()?;
    Ok(exit_status(Some(i64::from(reply.exit_code))))
}

/// Runs `podmon attach`; returns the container's exit code, or 0 after
/// detaching with ctrl-p ctrl-q.
pub fn attach(id: &str, want_stdin: bool, socket: &Path) -> anyhow::Result<i32> {
    let describe = |err: ClientError| Failure::client(&err, socket);
    // The container's terminal decides raw mode; asking first also fails
    // early and clearly for an unknown id.
    let mut client = Client::connect(socket).map_err(describe)?;
    let get = proto::GetContainer { id: id.to_owned() };
    let terminal = call::call(&mut client, &get)
        .map_err(describe)?
        .container
        .terminal;
    drop(client);
    let conn = Client::connect(socket).map_err(describe)?;
    let (reply, up) = call::upgrade(conn, &attach_request(id, want_stdin)).map_err(describe)?;
    let got_stdin = reply.stdin.unwrap_or(false);
    if want_stdin && !got_stdin {
        eprintln!(
            "podmon: no stdin for this client (the container was created without --stdin, \
             or another client holds it); showing output only"
        );
    }
    let raw = got_stdin && terminal && term::stdin_is_tty();
    let opts = Session {
        raw,
        resize: terminal,
        stdin: got_stdin,
        detach_keys: raw,
    };
    run_session(up.stream, up.leftover, &opts)
}

/// The `Attach` request: stdin only when asked for.
pub fn attach_request(id: &str, want_stdin: bool) -> proto::Attach {
    proto::Attach {
        id: id.to_owned(),
        stdin: want_stdin.then_some(true),
    }
}

/// How a session uses our terminal and stdin.
#[derive(Debug, Clone, Copy)]
struct Session {
    /// Put our terminal in raw mode.
    raw: bool,
    /// Send our window size (at the start and on SIGWINCH).
    resize: bool,
    /// Forward our stdin.
    stdin: bool,
    /// Watch our input for ctrl-p ctrl-q.
    detach_keys: bool,
}

/// Shared writer for frames: the stdin thread and the signal thread both
/// send, one whole frame per write.
type FrameWriter = Arc<Mutex<UnixStream>>;

fn send(writer: &FrameWriter, frame: &Frame) -> io::Result<()> {
    let bytes = frame.to_bytes();
    writer
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .write_all(&bytes)
}

fn send_size(writer: &FrameWriter) {
    if let Some((cols, rows)) = term::window_size() {
        let _ = send(writer, &Frame::Resize { cols, rows });
    }
}

/// Drives an upgraded session until the exit frame: frames to our stdout
/// and stderr on this thread, our stdin to frames on another.
fn run_session(sock: UnixStream, leftover: Vec<u8>, opts: &Session) -> anyhow::Result<i32> {
    let writer: FrameWriter = Arc::new(Mutex::new(
        sock.try_clone().context("cannot clone the socket")?,
    ));
    // Before any other thread starts, so they inherit the blocked signals.
    let winch_writer = writer.clone();
    let resize = opts.resize;
    term::handle_signals(move || {
        if resize {
            send_size(&winch_writer);
        }
    })
    .context("cannot set up signal handling")?;
    if opts.resize {
        send_size(&writer);
    }
    let raw = if opts.raw {
        Some(RawMode::enter().context("cannot put the terminal in raw mode")?)
    } else {
        None
    };
    let detached = Arc::new(AtomicBool::new(false));
    if opts.stdin {
        let writer = writer.clone();
        let detached = detached.clone();
        let detach_keys = opts.detach_keys;
        thread::Builder::new()
            .name("stdin".into())
            .spawn(move || copy_stdin(&writer, detach_keys, &detached))
            .context("cannot start the stdin thread")?;
    }
    let result = copy_frames(FrameReader::new(&sock, leftover));
    drop(raw);
    if detached.load(Ordering::SeqCst) {
        // In raw mode the cursor is wherever the container left it.
        eprintln!("{}detached", if opts.raw { "\n" } else { "" });
        return Ok(0);
    }
    match result? {
        Ended::Exit(code) => Ok(exit_status(Some(i64::from(code)))),
        Ended::Error(message) => Err(Failure::new(
            names::SESSION_ERROR,
            serde_json::json!({ "message": message }),
            message,
        )
        .into()),
        Ended::Closed => Err(Failure::new(
            names::CONNECTION_CLOSED,
            serde_json::json!({}),
            "the monitor closed the connection before the exit code",
        )
        .into()),
    }
}

/// Copies our stdin into stdin frames; an empty frame at its end closes
/// the process's stdin. On ctrl-p ctrl-q, sets `detached` and shuts the
/// socket down so the reading thread stops.
fn copy_stdin(writer: &FrameWriter, detach_keys: bool, detached: &AtomicBool) {
    let mut keys = DetachKeys::default();
    let mut buf = vec![0u8; 32 * 1024];
    let mut forward = Vec::new();
    loop {
        let n = match rustix::io::read(rustix::stdio::stdin(), &mut buf) {
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => 0,
        };
        if n == 0 {
            let _ = send(writer, &Frame::Stdin(Vec::new()));
            return;
        }
        forward.clear();
        let detach = if detach_keys {
            keys.feed(&buf[..n], &mut forward)
        } else {
            forward.extend_from_slice(&buf[..n]);
            false
        };
        if !forward.is_empty() && send(writer, &Frame::Stdin(forward.clone())).is_err() {
            return;
        }
        if detach {
            detached.store(true, Ordering::SeqCst);
            let sock = writer.lock().unwrap_or_else(|e| e.into_inner());
            let _ = sock.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// How the frame stream ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// The exit frame.
    Exit(i32),
    /// An error frame.
    Error(String),
    /// End of stream without either.
    Closed,
}

fn copy_frames<R: io::Read>(mut frames: FrameReader<R>) -> anyhow::Result<Ended> {
    let stdout = io::stdout();
    let stderr = io::stderr();
    loop {
        let frame = match frames.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(Ended::Closed),
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok(Ended::Closed),
            Err(err) => return Err(anyhow::Error::new(err).context("reading from the monitor")),
        };
        match frame {
            Frame::Stdout(bytes) => {
                let mut out = stdout.lock();
                out.write_all(&bytes)
                    .and_then(|()| out.flush())
                    .context("cannot write output")?;
            }
            Frame::Stderr(bytes) => {
                let mut err = stderr.lock();
                err.write_all(&bytes)
                    .and_then(|()| err.flush())
                    .context("cannot write output")?;
            }
            Frame::Exit(code) => return Ok(Ended::Exit(code)),
            Frame::Error(message) => return Ok(Ended::Error(message)),
            // Client-to-monitor kinds; nothing to do if one came back.
            Frame::Stdin(_) | Frame::Resize { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::time::Duration;

    fn wire(r: ExecRequest) -> (&'static str, Value) {
        match r {
            ExecRequest::Sync(r) => call::wire(&r),
            ExecRequest::Stream(r) => call::wire(&r),
        }
    }

    fn args() -> ExecArgs {
        ExecArgs {
            id: "c".into(),
            command: vec!["sh".into(), "-c".into(), "true".into()],
            ..ExecArgs::default()
        }
    }

    #[test]
    fn exec_requests() {
        let a = ExecArgs {
            env: vec!["A=1".into()],
            cwd: Some("/tmp".into()),
            user: Some("1:2".into()),
            timeout: Some(Duration::from_millis(1500)),
            ..args()
        };
        assert!(a.uses_sync(false));
        assert_eq!(
            wire(exec_request(&a, true)),
            (
                "io.podmon.Pod.ExecSync",
                json!({"id": "c", "command": ["sh", "-c", "true"], "env": ["A=1"],
                       "cwd": "/tmp", "user": "1:2", "timeoutSeconds": 1.5,
                       "encoding": "base64"})
            )
        );
        let it = ExecArgs {
            interactive: true,
            tty: true,
            ..args()
        };
        assert!(!it.uses_sync(true));
        assert_eq!(
            wire(exec_request(&it, false)),
            (
                "io.podmon.Pod.Exec",
                json!({"id": "c", "command": ["sh", "-c", "true"], "terminal": true, "interactive": true})
            )
        );
        assert!(!args().uses_sync(false));
        assert!(args().uses_sync(true));
        assert!(
            ExecArgs {
                sync: true,
                ..args()
            }
            .uses_sync(false)
        );
    }

    #[test]
    fn exec_sync_output() {
        let reply: proto::ExecSyncReply = serde_json::from_value(json!({"exitCode": 137,
            "signal": "SIGKILL", "stdout": "b3V0AP8K", "stderr": "ZXJyCg==", "stdoutTruncated": true,
            "stderrTruncated": false, "timedOut": true}))
        .unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(
            print_exec_sync(&reply, false, &mut out, &mut err).unwrap(),
            137
        );
        assert_eq!(out, b"out\0\xff\n");
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "err\npodmon: stdout was truncated\npodmon: the command timed out and was killed\n"
        );
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(
            print_exec_sync(&reply, true, &mut out, &mut err).unwrap(),
            137
        );
        let printed: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(printed["stdout"], "out\0\u{fffd}\n");
        assert!(err.is_empty());
    }

    #[test]
    fn frames_end_with_exit_or_error() {
        let mut bytes = Frame::Exit(7).to_bytes();
        assert_eq!(
            copy_frames(FrameReader::new(&bytes[..], Vec::new())).unwrap(),
            Ended::Exit(7)
        );
        bytes = Frame::Error("client too slow".into()).to_bytes();
        assert_eq!(
            copy_frames(FrameReader::new(&bytes[..], Vec::new())).unwrap(),
            Ended::Error("client too slow".into())
        );
        assert_eq!(
            copy_frames(FrameReader::new(&b""[..], Vec::new())).unwrap(),
            Ended::Closed
        );
    }
}
