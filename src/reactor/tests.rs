//! The operations under both backends: each test body runs once on a fresh
//! thread with io_uring (skipped where the kernel refuses it) and once with
//! epoll.

use std::future::Future;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::sync::{Either, join, select, timeout};
use super::{Backend, epoll, init_with, ops, run, spawn};

/// Runs `body` to completion under each backend, on its own thread (the
/// reactor and executor are per thread). Other modules' tests of code that
/// runs on the loop use it too.
pub(crate) fn on_both<F, Fut>(body: F)
where
    F: Fn(Backend) -> Fut + Send + Copy + 'static,
    Fut: Future<Output = ()> + 'static,
{
    for b in [Backend::IoUring, Backend::Epoll] {
        let ran = std::thread::spawn(move || {
            if let Err(e) = init_with(b, 64) {
                assert_eq!(b, Backend::IoUring, "{e}");
                eprintln!("io_uring unavailable here, testing epoll only: {e}");
                return;
            }
            run(body(b)).unwrap();
        })
        .join();
        if let Err(p) = ran {
            eprintln!("failed under {b:?}");
            std::panic::resume_unwind(p);
        }
    }
}

pub(crate) fn pipe() -> (OwnedFd, OwnedFd) {
    crate::sys::process::pipe().unwrap()
}

/// With epoll, nothing is left registered once the operations are gone.
pub(crate) fn assert_clean(b: Backend) {
    if b == Backend::Epoll {
        assert_eq!(epoll::pending(), (0, 0), "(fds, timers) still registered");
    }
}

#[test]
fn pipe_read_waits_for_the_writer() {
    on_both(|b| async move {
        let (r, w) = pipe();
        let start = Instant::now();
        spawn(async move {
            ops::sleep(Duration::from_millis(50)).await;
            let (res, _) = ops::write_all(w.as_fd(), b"hello".to_vec()).await;
            res.unwrap();
        });
        let (res, buf) = ops::read(r.as_fd(), Vec::with_capacity(64), usize::MAX).await;
        assert_eq!(res.unwrap(), 5);
        assert_eq!(buf, b"hello");
        assert!(start.elapsed() >= Duration::from_millis(45));
        // The writer is gone: end of file.
        ops::sleep(Duration::from_millis(1)).await;
        let (res, _) = ops::read(r.as_fd(), Vec::with_capacity(64), usize::MAX).await;
        assert_eq!(res.unwrap(), 0);
        assert_clean(b);
    });
}

#[test]
fn sleep_sleeps_and_timers_fire_in_order() {
    on_both(|b| async move {
        let start = Instant::now();
        ops::sleep(Duration::from_millis(30)).await;
        let slept = start.elapsed();
        assert!(slept >= Duration::from_millis(30), "{slept:?}");
        assert!(slept < Duration::from_secs(2), "{slept:?}");
        let order = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let (o1, o2) = (order.clone(), order.clone());
        join(
            async move {
                ops::sleep(Duration::from_millis(40)).await;
                o1.borrow_mut().push(2);
            },
            async move {
                ops::sleep(Duration::from_millis(10)).await;
                o2.borrow_mut().push(1);
            },
        )
        .await;
        assert_eq!(*order.borrow(), vec![1, 2]);
        assert_clean(b);
    });
}

#[test]
fn timeout_and_select() {
    on_both(|b| async move {
        let (r, w) = pipe();
        // Nothing to read: the timeout wins and cancels the read.
        let got = timeout(
            Duration::from_millis(20),
            ops::read(r.as_fd(), Vec::with_capacity(8), usize::MAX),
        )
        .await;
        assert!(got.is_none());
        assert_clean(b);
        rustix::io::write(&w, b"x").unwrap();
        // Data ready: the read wins and the sleep is cancelled.
        let got = timeout(
            Duration::from_secs(5),
            ops::read(r.as_fd(), Vec::with_capacity(8), usize::MAX),
        )
        .await;
        assert_eq!(got.unwrap().1, b"x");
        // readable: not while empty, at once when there is data.
        match select(
            ops::sleep(Duration::from_millis(20)),
            ops::readable(r.as_fd()),
        )
        .await
        {
            Either::Left(()) => {}
            Either::Right(_) => panic!("empty pipe readable"),
        }
        rustix::io::write(&w, b"y").unwrap();
        match select(
            ops::sleep(Duration::from_secs(10)),
            ops::readable(r.as_fd()),
        )
        .await
        {
            Either::Left(()) => panic!("readable pipe not reported"),
            Either::Right(res) => res.unwrap(),
        }
        assert_clean(b);
    });
}

#[test]
fn dropped_read_consumes_nothing() {
    on_both(|b| async move {
        let (r, w) = pipe();
        {
            let mut read = Box::pin(ops::read(r.as_fd(), Vec::with_capacity(8), usize::MAX));
            match select(&mut read, ops::sleep(Duration::from_millis(10))).await {
                Either::Left(_) => panic!("read an empty pipe"),
                Either::Right(()) => {}
            }
            // `read` is dropped here, while waiting.
        }
        assert_clean(b);
        // With io_uring the cancellation completes on the next turn.
        ops::sleep(Duration::from_millis(5)).await;
        rustix::io::write(&w, b"kept").unwrap();
        let (res, buf) = ops::read(r.as_fd(), Vec::with_capacity(8), usize::MAX).await;
        assert_eq!(res.unwrap(), 4);
        assert_eq!(buf, b"kept");
        assert_clean(b);
    });
}

#[test]
fn aborted_task_cancels_its_operations() {
    on_both(|b| async move {
        let (r, _w) = pipe();
        let task = spawn(async move {
            let _ = ops::read(r.as_fd(), Vec::with_capacity(8), usize::MAX).await;
            panic!("read an empty pipe");
        });
        let sleeper = spawn(async {
            ops::sleep(Duration::from_secs(3600)).await;
        });
        ops::sleep(Duration::from_millis(10)).await;
        super::abort(task);
        super::abort(sleeper);
        assert_clean(b);
    });
}

#[test]
fn full_pipe_write_waits_for_the_reader() {
    on_both(|b| async move {
        let (r, w) = pipe();
        rustix::pipe::fcntl_setpipe_size(&w, 4096).unwrap();
        let big = vec![7u8; 256 * 1024];
        let (wr, rd) = join(ops::write_all(w.as_fd(), big), async {
            let mut total = 0;
            let mut buf = Vec::with_capacity(8192);
            while total < 256 * 1024 {
                buf.clear();
                let (res, b) = ops::read(r.as_fd(), buf, usize::MAX).await;
                buf = b;
                let n = res.unwrap();
                assert!(n > 0);
                assert!(buf.iter().all(|&c| c == 7));
                total += n;
            }
            total
        })
        .await;
        wr.0.unwrap();
        assert_eq!(rd, 256 * 1024);
        assert_clean(b);
    });
}

#[test]
fn socket_send_recv_and_hangup() {
    on_both(|b| async move {
        let (a, c) = UnixStream::pair().unwrap();
        let (a, c) = (OwnedFd::from(a), OwnedFd::from(c));
        let big: Vec<u8> = (0..2_000_000u32).map(|i| i as u8).collect();
        let expect = big.clone();
        let (sent, got) = join(
            async {
                let (res, _) = ops::send_all(a.as_fd(), big).await;
                res.unwrap();
                rustix::net::shutdown(&a, rustix::net::Shutdown::Write).unwrap();
            },
            async {
                let mut got = Vec::new();
                loop {
                    let (res, buf) = ops::recv(c.as_fd(), Vec::with_capacity(65536)).await;
                    if res.unwrap() == 0 {
                        return got;
                    }
                    got.extend_from_slice(&buf);
                }
            },
        )
        .await;
        let () = sent;
        assert!(got == expect, "received {} bytes, differently", got.len());
        // A closed peer: sending fails instead of raising SIGPIPE.
        drop(c);
        let (res, _) = ops::send_all(a.as_fd(), b"late".to_vec()).await;
        assert!(res.is_err());
        assert_clean(b);
    });
}

#[test]
fn accept_waits_for_a_connection() {
    on_both(|b| async move {
        let dir = std::env::temp_dir().join(format!("podmon-reactor-{}-{b:?}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s");
        let listener = OwnedFd::from(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let p = path.clone();
        let client = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            let mut s = UnixStream::connect(p).unwrap();
            s.write_all(b"ping").unwrap();
            let mut back = [0u8; 4];
            s.read_exact(&mut back).unwrap();
            back
        });
        let sock = ops::accept(listener.as_fd()).await.unwrap();
        let (res, buf) = ops::recv(sock.as_fd(), Vec::with_capacity(4)).await;
        assert_eq!(res.unwrap(), 4);
        assert_eq!(buf, b"ping");
        ops::send_all(sock.as_fd(), b"pong".to_vec())
            .await
            .0
            .unwrap();
        // Blocks this (the loop's) thread briefly; fine in a test.
        assert_eq!(&client.join().unwrap(), b"pong");
        let _ = std::fs::remove_dir_all(&dir);
        assert_clean(b);
    });
}

#[test]
fn reader_and_writer_share_one_descriptor() {
    // A socket with a reader and a writer waiting at once (as a streaming
    // session does): epoll registers the descriptor once for both.
    on_both(|b| async move {
        let (a, mut c) = UnixStream::pair().unwrap();
        let a = OwnedFd::from(a);
        const LEN: usize = 4 << 20;
        let peer = std::thread::spawn(move || {
            // Start late, so that the send fills the buffer and waits.
            std::thread::sleep(Duration::from_millis(30));
            let mut got = vec![0u8; LEN];
            c.read_exact(&mut got).unwrap();
            c.write_all(b"ok").unwrap();
        });
        let (recv, send) = join(ops::recv(a.as_fd(), Vec::with_capacity(16)), async {
            ops::send_all(a.as_fd(), vec![1u8; LEN]).await.0
        })
        .await;
        send.unwrap();
        let (res, buf) = recv;
        assert_eq!(res.unwrap(), 2);
        assert_eq!(buf, b"ok");
        peer.join().unwrap();
        assert_clean(b);
    });
}

#[test]
fn a_flooding_pipe_does_not_starve_other_tasks() {
    // A pipe that is always full never says EAGAIN: the epoll loop must
    // still get round to other descriptors and timers.
    on_both(|b| async move {
        let (r, w) = pipe();
        let _ = rustix::pipe::fcntl_setpipe_size(&w, 1 << 20);
        let flooder = std::thread::spawn(move || {
            let chunk = vec![b'f'; 65536];
            while rustix::io::write(&w, &chunk).is_ok() {}
        });
        let reader = spawn(async move {
            // Small reads: the flooder keeps the pipe full.
            let mut buf = Vec::with_capacity(4096);
            loop {
                buf.clear();
                let (res, b) = ops::read(r.as_fd(), buf, 4096).await;
                buf = b;
                if res.unwrap() == 0 {
                    return;
                }
            }
        });
        let (qr, qw) = pipe();
        let quiet = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            rustix::io::write(&qw, b"q").unwrap();
        });
        let start = Instant::now();
        let got = timeout(
            Duration::from_secs(5),
            ops::read(qr.as_fd(), Vec::with_capacity(8), usize::MAX),
        )
        .await;
        assert_eq!(got.expect("starved: the quiet pipe was not read").1, b"q");
        ops::sleep(Duration::from_millis(10)).await;
        assert!(start.elapsed() < Duration::from_secs(5));
        // Dropping the read end ends the flooder (EPIPE); with io_uring only
        // once the loop has turned and the cancelled read let go of it.
        super::abort(reader);
        while !flooder.is_finished() || !quiet.is_finished() {
            ops::sleep(Duration::from_millis(5)).await;
        }
        flooder.join().unwrap();
        quiet.join().unwrap();
        assert_clean(b);
    });
}

#[test]
fn a_write_from_past_the_end_is_invalid_input_on_both_backends() {
    on_both(|b| async move {
        let (r, w) = pipe();
        let data = b"abc".to_vec();
        for offloaded in [false, true] {
            let (res, buf) = if offloaded {
                ops::write_offloaded(w.as_fd(), data.clone(), 4).await
            } else {
                ops::write(w.as_fd(), data.clone(), 4).await
            };
            let e = res.expect_err("offset 4 of a 3-byte buffer");
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{b:?}: {e}");
            assert_eq!(buf, data, "the buffer comes back untouched");
            // The end itself is a valid (empty) start.
            let (res, _) = ops::write(w.as_fd(), data.clone(), 3).await;
            assert_eq!(res.unwrap(), 0);
        }
        let (res, _) = ops::write(w.as_fd(), data.clone(), 1).await;
        assert_eq!(res.unwrap(), 2);
        drop(w);
        let (res, buf) = ops::read(r.as_fd(), Vec::with_capacity(8), usize::MAX).await;
        assert_eq!(res.unwrap(), 2);
        assert_eq!(buf, b"bc", "nothing of the refused writes reached the pipe");
        assert_clean(b);
    });
}
