//! What the pod sandbox adds to a pod's start: `podmon serve` until it
//! takes a connection, with `--namespaces net,ipc,uts,pid` (the init cloned
//! into new namespaces, lo up, four bind mounts, the record) against
//! without. 20 rounds each, interleaved A B A B, each on its own state
//! directory; prints medians, p90 and the difference (goal: under 10 ms).
//! Each server is stopped with `--kill-on-exit` semantics (SIGTERM), so
//! its sandbox is removed before the next round.

mod common;

use std::error::Error;
use std::time::{Duration, Instant};

use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

use common::ScratchDir;
use common::stats::{median, ms, percentile};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const ROUNDS: usize = 20;
const WARMUP: usize = 2;
const GOAL: Duration = Duration::from_millis(10);

/// One start until the socket takes a connection (it is bound after the
/// sandbox is made, in a fresh directory, so no stale file answers),
/// polled every 0.2 ms; then SIGTERM with `--kill-on-exit` (not timed),
/// which removes the sandbox.
fn one(scratch: &ScratchDir, round: usize, sandboxed: bool) -> Result<Duration> {
    let name = format!("start{round}{}", if sandboxed { "ns" } else { "" });
    let dir = scratch.path().join(&name);
    std::fs::create_dir_all(&dir)?;
    let socket = dir.join("pod.sock");
    let mut cmd = Command::new(common::podmon_bin());
    cmd.args([
        "serve",
        "--pod",
        &name,
        "--runtime",
        common::RUNC,
        "--kill-on-exit",
    ])
    .arg("--socket")
    .arg(&socket)
    .arg("--state-dir")
    .arg(dir.join("state"))
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(dir.join("server.log"))?);
    if sandboxed {
        cmd.args(["--namespaces", "net,ipc,uts,pid", "--ns-base"])
            .arg(dir.join("ns"));
    }
    let t = Instant::now();
    let mut child = cmd.spawn()?;
    let deadline = t + Duration::from_secs(15);
    while UnixStream::connect(&socket).is_err() {
        if Instant::now() > deadline || child.try_wait()?.is_some() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::fs::read_to_string(dir.join("server.log"))?.into());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let took = t.elapsed();
    // Its signal handling is set up just after the bind: let it get there.
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: a signal to our own child, not reaped yet.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let st = child.wait()?;
    if !st.success() {
        return Err(format!("podmon serve exited with {st}").into());
    }
    Ok(took)
}

fn main() -> Result<()> {
    common::check_preconditions()?;
    let scratch = ScratchDir::new("sandbox-start")?;
    let (mut plain, mut ns): (Vec<Duration>, Vec<Duration>) = (Vec::new(), Vec::new());
    for round in 0..WARMUP + ROUNDS {
        let a = one(&scratch, round, false)?;
        let b = one(&scratch, round, true)?;
        if round >= WARMUP {
            plain.push(a);
            ns.push(b);
        }
    }
    let (mp, mn) = (median(&plain), median(&ns));
    println!(
        "pod start without namespaces: median {} ms, p90 {} ms",
        ms(mp),
        ms(percentile(&plain, 90.0))
    );
    println!(
        "pod start with net,ipc,uts,pid: median {} ms, p90 {} ms",
        ms(mn),
        ms(percentile(&ns, 90.0))
    );
    let more = mn.saturating_sub(mp);
    let verdict = if more < GOAL { "ok" } else { "FAIL" };
    println!(
        "sandbox adds {} ms (goal < {} ms): {verdict}",
        ms(more),
        ms(GOAL)
    );
    Ok(())
}
