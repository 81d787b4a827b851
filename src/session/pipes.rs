//! An exec's own stdout and stderr pipes, read together: the client's pace
//! is the exec's.

use std::future::{Future, poll_fn};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use crate::logs::cri::Stream;
use crate::logs::hub::Next;
use crate::reactor::ops;

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

    pub(super) async fn next(&mut self) -> Next {
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
