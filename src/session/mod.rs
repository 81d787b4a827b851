//! Exec and attach sessions: a process's output to one client and the
//! client's input to the process over an upgraded connection (raw frames,
//! see `proto::frame`). The api sends the same output as `more` replies to
//! clients that cannot upgrade.

mod forward;
mod pipes;

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;

pub use forward::forward;
pub use pipes::PipeMerge;

use crate::logs::cri::Stream;
use crate::logs::hub::{Next, Subscription};
use crate::proto::frame::{self, ClientFrame, Decoder, Frame, Kind, MAX_CLIENT_PAYLOAD};
use crate::reactor::ops;
use crate::reactor::sync::{self, Either};
use crate::sys::process::ExitInfo;

/// Where a session's output comes from.
pub enum Output {
    /// A container's output, shared with its log and other clients.
    Shared(Rc<Subscription>),
    /// An exec's own pipes (read directly: the client's pace is the exec's).
    Pipes(PipeMerge),
}

impl Output {
    pub(crate) async fn next(&mut self) -> Next {
        match self {
            Output::Shared(s) => s.next().await,
            Output::Pipes(p) => p.next().await,
        }
    }
}

/// Where a session's input goes.
pub struct Input {
    /// The process's stdin (a pipe, or the pty master), when the client may write.
    pub stdin: Option<Rc<OwnedFd>>,
    /// Called when the client closes stdin (a 0-length stdin frame).
    pub on_stdin_eof: Option<Box<dyn FnOnce()>>,
    /// The pty master, for resize frames.
    pub pty: Option<Rc<OwnedFd>>,
}

impl Input {
    async fn handle(&mut self, f: ClientFrame) -> io::Result<()> {
        match f {
            ClientFrame::Stdin(bytes) => {
                if let Some(fd) = &self.stdin {
                    let (r, _) = ops::write_all(fd.as_fd(), bytes).await;
                    if let Err(e) = r {
                        log::debug!("stdin write: {e}");
                        self.close_stdin();
                    }
                }
            }
            ClientFrame::StdinEof => self.close_stdin(),
            ClientFrame::Resize { cols, rows } => {
                if let Some(pty) = &self.pty {
                    crate::sys::console::resize(pty.as_fd(), cols, rows);
                }
            }
        }
        Ok(())
    }

    fn close_stdin(&mut self) {
        self.stdin = None;
        if let Some(f) = self.on_stdin_eof.take() {
            f();
        }
    }
}

/// How the session ended.
pub enum End {
    /// The process exited with this code and everything was delivered.
    Exited(ExitInfo),
    /// The client left.
    ClientGone,
    /// The client fell too far behind and was cut off.
    Overflowed,
}

/// Runs an upgraded session: output frames to the client, client frames to
/// the process, until the process exited (exit frame) or the client left.
pub async fn run_upgraded(
    sock: BorrowedFd<'_>,
    leftover: Vec<u8>,
    pending: Option<crate::reactor::PendingRecv<'_>>,
    mut output: Output,
    mut input: Input,
    exit: impl Future<Output = ExitInfo>,
) -> End {
    let send = |kind: Kind, payload: Vec<u8>| async move {
        let mut out = Vec::with_capacity(frame::HEADER + payload.len());
        frame::encode(kind, &payload, &mut out);
        ops::send_all(sock, out).await.0
    };
    let outputs = async {
        loop {
            match output.next().await {
                Next::Chunk(s, bytes) => {
                    let kind = if s == Stream::Stdout {
                        Kind::Stdout
                    } else {
                        Kind::Stderr
                    };
                    if send(kind, bytes).await.is_err() {
                        return End::ClientGone;
                    }
                }
                Next::Overflowed => {
                    let _ = send(
                        Kind::Error,
                        b"client too slow: output overflowed its buffer".to_vec(),
                    )
                    .await;
                    return End::Overflowed;
                }
                Next::Closed => break,
            }
        }
        let exit = exit.await;
        let out = Frame::Exit(exit.exit_code()).to_bytes();
        if ops::send_all(sock, out).await.0.is_err() {
            return End::ClientGone;
        }
        End::Exited(exit)
    };
    let inputs = async {
        let mut dec = Decoder::new(MAX_CLIENT_PAYLOAD);
        dec.push(&leftover);
        let mut pending = pending;
        loop {
            loop {
                match dec.next_client_frame() {
                    Ok(Some(f)) => {
                        if input.handle(f).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        log::info!("closing session: {e}");
                        return;
                    }
                }
            }
            let recv = pending
                .take()
                .unwrap_or_else(|| Box::pin(ops::recv(sock, Vec::with_capacity(64 * 1024))));
            let (r, buf) = recv.await;
            match r {
                Ok(0) | Err(_) => return,
                Ok(_) => dec.push(&buf),
            }
        }
    };
    match sync::select(outputs, inputs).await {
        Either::Left(end) => end,
        Either::Right(()) => End::ClientGone,
    }
}
