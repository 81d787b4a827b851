//! `ops::read_until` under both backends: a stop never loses or repeats a
//! byte, whenever it comes (before the kernel saw the read, while data
//! arrives, many times over, on a pty master).

use std::future::Future;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use super::ops;
use super::sync::join;
use super::tests::{assert_clean, on_both, pipe};

/// Resolves on its second poll (it wakes itself after the first): a stop
/// that arrives after the read was queued but before the kernel saw it.
fn next_poll() -> impl Future<Output = ()> {
    let mut polled = false;
    std::future::poll_fn(move |cx| {
        if polled {
            return std::task::Poll::Ready(());
        }
        polled = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
}

#[test]
fn read_until_stopped_before_data_reads_nothing() {
    on_both(|b| async move {
        let (r, w) = pipe();
        // Stopped at once: nothing is even asked of the kernel.
        let (res, buf) = ops::read_until(
            r.as_fd(),
            Vec::with_capacity(16),
            usize::MAX,
            std::future::ready(()),
        )
        .await;
        assert!(ops::is_stopped(&res.unwrap_err()));
        assert!(
            buf.is_empty() && buf.capacity() >= 16,
            "the buffer comes back"
        );
        // Stopped while the read waits in the kernel (or for readiness).
        let start = Instant::now();
        let (res, buf) = ops::read_until(
            r.as_fd(),
            buf,
            usize::MAX,
            ops::sleep(Duration::from_millis(20)),
        )
        .await;
        assert!(ops::is_stopped(&res.unwrap_err()), "{b:?}");
        assert!(buf.is_empty());
        assert!(start.elapsed() >= Duration::from_millis(15));
        assert_clean(b);
        // The cancelled reads took nothing: a plain read gets what follows.
        rustix::io::write(&w, b"later").unwrap();
        let (res, buf) = ops::read(r.as_fd(), buf, usize::MAX).await;
        assert_eq!(res.unwrap(), 5);
        assert_eq!(buf, b"later");
        // And a stop that never comes is a plain read.
        rustix::io::write(&w, b"more").unwrap();
        let (res, buf) = ops::read_until(r.as_fd(), buf, usize::MAX, std::future::pending()).await;
        assert_eq!(res.unwrap(), 4);
        assert_eq!(buf, b"latermore", "appended after the buffer's length");
        assert_clean(b);
    });
}

/// Stops `read_until` right after data arrived; returns what came back from
/// it and what a plain read finds left in the pipe afterwards.
async fn race_stop_against(r: &OwnedFd, w: &OwnedFd, data: &[u8], settle: bool) -> Vec<u8> {
    // Polled with the read whenever the task runs; the writer's wake-up
    // (`next_poll`) makes it run once the flag is up.
    let flag = std::cell::Cell::new(false);
    let stop = std::future::poll_fn(|_| match flag.get() {
        true => std::task::Poll::Ready(()),
        false => std::task::Poll::Pending,
    });
    let ((res, mut got), ()) = join(
        ops::read_until(r.as_fd(), Vec::with_capacity(64), usize::MAX, stop),
        async {
            if settle {
                // Let the read reach the kernel (io_uring) or epoll first.
                ops::sleep(Duration::from_millis(5)).await;
            }
            rustix::io::write(w, data).unwrap();
            flag.set(true);
            next_poll().await;
        },
    )
    .await;
    match res {
        Ok(n) => assert_eq!(n, got.len()),
        Err(e) => assert!(ops::is_stopped(&e), "{e}"),
    }
    // Whatever read_until did not return must still be in the pipe.
    rustix::io::write(w, b"|").unwrap();
    loop {
        let (res, buf) = ops::read(r.as_fd(), got, usize::MAX).await;
        got = buf;
        res.unwrap();
        if got.ends_with(b"|") {
            got.pop();
            return got;
        }
    }
}

#[test]
fn read_until_keeps_data_that_arrived_before_the_stop() {
    on_both(|b| async move {
        let (r, w) = pipe();
        // Data waiting already: it is read, the far-off stop is irrelevant.
        rustix::io::write(&w, b"ready").unwrap();
        let (res, buf) = ops::read_until(
            r.as_fd(),
            Vec::with_capacity(16),
            usize::MAX,
            ops::sleep(Duration::from_secs(10)),
        )
        .await;
        assert_eq!(res.unwrap(), 5);
        assert_eq!(buf, b"ready");
        // Data and stop in the same moment, before and after the read
        // reached the kernel: the bytes come back exactly once, from the
        // read or from the pipe.
        for settle in [false, true] {
            for _ in 0..20 {
                assert_eq!(race_stop_against(&r, &w, b"racy", settle).await, b"racy");
            }
        }
        assert_clean(b);
    });
}

/// Writes 4-byte counters in bursts of varying size, pausing briefly
/// between bursts so reads often wait and stops often win.
fn counter_writer(w: OwnedFd, count: u32) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut file = std::fs::File::from(w);
        let mut seed = 12345u32;
        let mut next = 0u32;
        while next < count {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let burst = (seed >> 16) % 128 + 1;
            let end = (next + burst).min(count);
            let bytes: Vec<u8> = (next..end).flat_map(u32::to_le_bytes).collect();
            file.write_all(&bytes).unwrap();
            next = end;
            std::thread::sleep(Duration::from_micros(u64::from(seed % 60)));
        }
    })
}

#[test]
fn read_until_stopped_many_times_loses_and_repeats_nothing() {
    on_both(|b| async move {
        const COUNT: u32 = 100_000;
        let (r, w) = pipe();
        let writer = counter_writer(w, COUNT);
        let mut got = Vec::with_capacity(COUNT as usize * 4);
        // Stops that won at once (kind 0) and those that won later.
        let (mut stops, mut late_stops, mut reads) = (0u32, 0u32, 0u32);
        let mut seed = 99u32;
        let mut buf = Vec::with_capacity(64);
        loop {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let max = (seed >> 16) as usize % 64 + 1;
            let micros = u64::from(seed % 100);
            buf.clear();
            let stop = async move {
                match seed % 4 {
                    0 => {}
                    1 => next_poll().await,
                    2 => ops::sleep(Duration::from_micros(micros)).await,
                    _ => ops::sleep(Duration::from_secs(10)).await,
                }
            };
            let (res, b) = ops::read_until(r.as_fd(), buf, max, stop).await;
            buf = b;
            match res {
                Ok(0) => break,
                Ok(n) => {
                    assert_eq!(n, buf.len());
                    got.extend_from_slice(&buf);
                    reads += 1;
                }
                Err(e) if ops::is_stopped(&e) => {
                    stops += 1;
                    late_stops += u32::from(!seed.is_multiple_of(4));
                }
                Err(e) => panic!("{e}"),
            }
        }
        writer.join().unwrap();
        eprintln!("{b:?}: {reads} reads, {stops} stops ({late_stops} after waiting)");
        // How often a late stop wins depends on the machine's load (9 of
        // 4117 on a busy one): at least one must, or the cancel of a read
        // already in the kernel went untested.
        assert!(late_stops > 0, "no stop won after the read was submitted");
        assert_eq!(got.len(), COUNT as usize * 4, "bytes lost or repeated");
        for (i, c) in got.chunks_exact(4).enumerate() {
            let v = u32::from_le_bytes(c.try_into().unwrap());
            assert_eq!(v, i as u32, "counter {i} lost or repeated");
        }
        assert_clean(b);
    });
}

#[test]
fn read_until_stops_on_a_pty_master_too() {
    // A terminal container's output is a pty master: its reads may run on
    // an io-wq worker, where a cancel interrupts them instead.
    on_both(|b| async move {
        use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
        let master =
            openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).expect("openpt");
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave = std::fs::OpenOptions::new()
            .write(true)
            .open(name.to_str().unwrap())
            .unwrap();
        for _ in 0..3 {
            let stop = ops::sleep(Duration::from_millis(10));
            let (res, buf) =
                ops::read_until(master.as_fd(), Vec::with_capacity(64), 64, stop).await;
            assert!(ops::is_stopped(&res.unwrap_err()), "{b:?}");
            assert!(buf.is_empty());
        }
        rustix::io::write(&slave, b"abc").unwrap();
        let (res, buf) = ops::read(master.as_fd(), Vec::with_capacity(64), 64).await;
        assert_eq!(res.unwrap(), 3);
        assert_eq!(buf, b"abc");
        assert_clean(b);
    });
}
