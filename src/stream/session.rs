//! Exec and attach sessions: a process's output to one client and the
//! client's input to the process, either over an upgraded connection (raw
//! frames, see `frame`) or as Varlink replies with `more` for clients that
//! cannot upgrade.

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use super::frame::{self, ClientFrame, Kind};
use super::hub::{Next, Subscription};
use crate::cri::Stream;
use crate::reactor::ops;
use crate::reactor::sync::{self, Either};

/// A receive in flight on the client socket, handed over from the
/// connection so no byte is lost at the switch to frames.
pub type PendingRecv<'a> = Pin<Box<dyn Future<Output = (io::Result<usize>, Vec<u8>)> + 'a>>;

/// Where a session's output comes from.
pub enum Output {
    /// A container's output, shared with its log and other clients.
    Shared(Rc<Subscription>),
    /// An exec's own pipes (read directly: the client's pace is the exec's).
    Pipes(PipeMerge),
}

impl Output {
    async fn next(&mut self) -> Next {
        match self {
            Output::Shared(s) => s.next().await,
            Output::Pipes(p) => p.next().await,
        }
    }
}

type ReadFut = Pin<Box<dyn Future<Output = (io::Result<usize>, Vec<u8>)>>>;

/// Reads two pipes (stdout, stderr) at once and yields chunks as they come.
pub struct PipeMerge {
    fds: [Option<Rc<OwnedFd>>; 2],
    reads: [Option<ReadFut>; 2],
    give_up: Option<Pin<Box<dyn Future<Output = ()>>>>,
}

fn start_read(fd: &Rc<OwnedFd>) -> ReadFut {
    let fd = fd.clone();
    Box::pin(async move {
        let buf = Vec::with_capacity(64 * 1024);
        ops::read(fd.as_fd(), buf, usize::MAX).await
    })
}

impl PipeMerge {
    /// Merges the given pipes (either may be absent).
    pub fn new(stdout: Option<OwnedFd>, stderr: Option<OwnedFd>) -> Self {
        PipeMerge {
            fds: [stdout.map(Rc::new), stderr.map(Rc::new)],
            reads: [None, None],
            give_up: None,
        }
    }

    /// Stops reading (as if at end of file) once `give_up` resolves: for
    /// pipes a background child may hold open after the process exited.
    pub fn until(mut self, give_up: impl Future<Output = ()> + 'static) -> Self {
        self.give_up = Some(Box::pin(give_up));
        self
    }

    async fn next(&mut self) -> Next {
        poll_fn(|cx| {
            for i in 0..2 {
                let Some(fd) = &self.fds[i] else { continue };
                let read = self.reads[i].get_or_insert_with(|| start_read(fd));
                if let Poll::Ready((r, buf)) = read.as_mut().poll(cx) {
                    self.reads[i] = None;
                    match r {
                        Ok(n) if n > 0 => {
                            let stream = if i == 0 {
                                Stream::Stdout
                            } else {
                                Stream::Stderr
                            };
                            return Poll::Ready(Next::Chunk(stream, buf));
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                            cx.waker().wake_by_ref();
                            return Poll::Pending;
                        }
                        // End of file, or EIO from a pty whose other side closed.
                        _ => self.fds[i] = None,
                    }
                }
            }
            if let Some(g) = &mut self.give_up
                && g.as_mut().poll(cx).is_ready()
            {
                self.fds = [None, None];
                self.reads = [None, None];
            }
            if self.fds.iter().all(Option::is_none) {
                Poll::Ready(Next::Closed)
            } else {
                Poll::Pending
            }
        })
        .await
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
                    resize(pty.as_fd(), cols, rows);
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

/// Applies a terminal size to a pty master (TIOCSWINSZ); the process gets
/// SIGWINCH from the kernel.
pub fn resize(pty: BorrowedFd<'_>, cols: u16, rows: u16) {
    let ws = rustix::termios::Winsize {
        ws_col: cols,
        ws_row: rows,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    if let Err(e) = rustix::termios::tcsetwinsize(pty, ws) {
        log::debug!("TIOCSWINSZ: {e}");
    }
}

/// How the session ended.
pub enum End {
    /// The process exited with this code and everything was delivered.
    Exited(i32),
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
    pending: Option<PendingRecv<'_>>,
    mut output: Output,
    mut input: Input,
    exit_code: impl Future<Output = i32>,
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
        let code = exit_code.await;
        let mut out = Vec::new();
        frame::encode_exit(code, &mut out);
        if ops::send_all(sock, out).await.0.is_err() {
            return End::ClientGone;
        }
        End::Exited(code)
    };
    let inputs = async {
        let mut dec = frame::Decoder::default();
        dec.push(&leftover);
        let mut pending = pending;
        loop {
            loop {
                match dec.next_frame() {
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

/// Sends a session's output as `more` replies (chunks as text; invalid
/// UTF-8 replaced), then waits for the exit code. The caller sends the
/// final reply.
pub async fn replies(
    r: &mut crate::api::Replier<'_>,
    mut output: Output,
    exit_code: impl Future<Output = i32>,
) -> End {
    loop {
        match output.next().await {
            Next::Chunk(s, b) => {
                let text = Some(String::from_utf8_lossy(&b).into_owned());
                let mut m = serde_json::Map::new();
                let key = if s == Stream::Stdout {
                    "stdout"
                } else {
                    "stderr"
                };
                m.insert(key.into(), serde_json::Value::from(text));
                if r.reply_continues(m).await.is_err() {
                    return End::ClientGone;
                }
            }
            Next::Overflowed => return End::Overflowed,
            Next::Closed => break,
        }
    }
    End::Exited(exit_code.await)
}

/// Shared write end of a container's stdin, lent to one client at a time.
#[derive(Default)]
pub struct StdinSlot {
    fd: RefCell<Option<Rc<OwnedFd>>>,
    lent: std::cell::Cell<bool>,
    once: std::cell::Cell<bool>,
}

impl StdinSlot {
    /// A slot holding `fd`; with `once`, stdin closes when the first client
    /// that had it lets go (CRI's stdinOnce).
    pub fn new(fd: Option<OwnedFd>, once: bool) -> Rc<Self> {
        Rc::new(StdinSlot {
            fd: RefCell::new(fd.map(Rc::new)),
            lent: Default::default(),
            once: std::cell::Cell::new(once),
        })
    }

    /// Lends stdin to a client if nobody has it.
    pub fn lend(self: &Rc<Self>) -> Option<(Rc<OwnedFd>, StdinLease)> {
        if self.lent.get() {
            return None;
        }
        let fd = self.fd.borrow().clone()?;
        self.lent.set(true);
        Some((fd, StdinLease(self.clone())))
    }

    /// Closes the container's stdin (its process reads EOF once no client
    /// holds a copy).
    pub fn close(&self) {
        self.fd.borrow_mut().take();
    }
}

/// A client's hold on a container's stdin; released when dropped.
pub struct StdinLease(Rc<StdinSlot>);

impl Drop for StdinLease {
    fn drop(&mut self) {
        self.0.lent.set(false);
        if self.0.once.get() {
            self.0.close();
        }
    }
}
