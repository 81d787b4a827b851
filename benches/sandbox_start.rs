//! What the pod sandbox adds to a pod's start: `podmon serve` until it
//! answers a call, with `--namespaces net,ipc,uts,pid` (the init cloned
//! into new namespaces, lo up, four bind mounts, the record) against
//! without. 20 rounds each, interleaved A B A B, each on its own state
//! directory; prints medians, p90 and the difference (goal: under 10 ms).
//! Each server is stopped with `--kill-on-exit` semantics (SIGTERM), so
//! its sandbox is removed before the next round.

mod common;

use std::error::Error;
use std::time::{Duration, Instant};

use common::ScratchDir;
use common::server::Server;
use common::stats::{median, ms, percentile};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const ROUNDS: usize = 20;
const WARMUP: usize = 2;
const GOAL: Duration = Duration::from_millis(10);

/// One start until the first answer, then the stop (not timed).
fn one(scratch: &ScratchDir, round: usize, sandboxed: bool) -> Result<Duration> {
    let name = format!("start{round}{}", if sandboxed { "ns" } else { "" });
    let dir = scratch.path().join(&name);
    std::fs::create_dir_all(&dir)?;
    let extra: Vec<String> = if sandboxed {
        vec![
            "--namespaces".into(),
            "net,ipc,uts,pid".into(),
            "--ns-base".into(),
            dir.join("ns").display().to_string(),
        ]
    } else {
        vec![]
    };
    let t = Instant::now();
    let mut server = Server::start_extra(&dir, &name, &common::podmon_bin(), true, &extra)?;
    let took = t.elapsed();
    server.stop()?;
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
