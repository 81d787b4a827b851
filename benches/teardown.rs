//! Teardown: how long a pod's `Shutdown(killContainers, timeout 0)` takes
//! with 100 running containers (`sleep 1000`, PID 1, so SIGKILL ends them),
//! from the call to its reply (which comes once every one is deleted from
//! the runtime, its directory removed and its exit code written).
//!
//! The same for 100 `DeleteContainer(force)` calls from 16 clients at once.
//!
//! `cargo bench --bench teardown`: interleaved A B A B, each round on a
//! fresh pod, A with the default bound of runtime processes at once (16),
//! B with `--runtime-concurrency 1`, the one-after-another baseline of
//! before. Prints min/median/max of each and the ratio of the medians
//! (goal: A ≤ 2 s). `PODMON_TEARDOWN_ROUNDS` (default 3) and
//! `PODMON_TEARDOWN_CONTAINERS` (default 100) change the sizes.
//!
//! It exits non-zero only when the bench itself breaks; missing the goal
//! prints FAIL.

mod common;

use std::error::Error;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use common::server::Server;
use common::stats::median;
use common::{RUNC, ScratchDir};
use podmon::proto;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const GOAL: Duration = Duration::from_secs(2);
/// Client threads creating the containers (not timed).
const CREATORS: usize = 4;
/// Client connections deleting at once in the `Deletes` way.
const DELETERS: usize = 16;
const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// The bound podmon uses unless told (`oci::limit::DEFAULT_CONCURRENCY`).
const DEFAULT_BOUND: usize = 16;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Creates and starts `n` containers, `CREATORS` clients at once.
fn populate(server: &Server, rootfs: &Path, n: usize) -> Result<()> {
    thread::scope(|s| {
        let workers: Vec<_> = (0..CREATORS)
            .map(|w| {
                s.spawn(move || -> std::result::Result<(), String> {
                    let mut c = server.client(CALL_TIMEOUT).map_err(|e| e.to_string())?;
                    for i in (w..n).step_by(CREATORS) {
                        let id = format!("c{i}");
                        c.create(&id, rootfs, &["sleep", "1000"])
                            .map_err(|e| format!("create {id}: {e}"))?;
                        c.start(&id).map_err(|e| format!("start {id}: {e}"))?;
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join().map_err(|_| "a creator panicked")??;
        }
        Ok(())
    })
}

/// How the containers are torn down.
#[derive(Clone, Copy)]
enum Way {
    /// One `Shutdown(killContainers, timeout 0)`: the pod's own teardown.
    Shutdown,
    /// `DeleteContainer(force)` of every running container, from
    /// `DELETERS` clients at once (as an engine removing a pod would).
    Deletes,
}

/// Deletes `c0..cN` with force, `DELETERS` connections at once.
fn delete_all(server: &Server, n: usize) -> std::result::Result<(), String> {
    thread::scope(|s| {
        let workers: Vec<_> = (0..DELETERS)
            .map(|w| {
                s.spawn(move || -> std::result::Result<(), String> {
                    let mut c = server.client(CALL_TIMEOUT).map_err(|e| e.to_string())?;
                    for i in (w..n).step_by(DELETERS) {
                        c.delete(&format!("c{i}"), true)
                            .map_err(|e| format!("delete c{i}: {e}"))?;
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join().map_err(|_| "a deleter panicked")??;
        }
        Ok(())
    })
}

/// What `runc list` still shows in the pod's runtime root.
fn left_in_runtime(root: &Path) -> Result<usize> {
    let out = std::process::Command::new(RUNC)
        .arg("--root")
        .arg(root)
        .args(["list", "-q"])
        .output()?;
    Ok(String::from_utf8_lossy(&out.stdout).lines().count())
}

/// One round: a fresh pod with `n` running containers, then the timed
/// Shutdown. Checks every container went.
fn one(
    scratch: &ScratchDir,
    rootfs: &Path,
    round: usize,
    bound: usize,
    n: usize,
    way: Way,
) -> Result<Duration> {
    let name = format!("td{round}b{bound}{}", way as u8);
    let dir = scratch.path().join(&name);
    std::fs::create_dir_all(&dir)?;
    let bound_arg = bound.to_string();
    let mut server = Server::start_args(
        &dir,
        &name,
        &common::podmon_bin(),
        true,
        &["--runtime-concurrency", &bound_arg],
    )?;
    populate(&server, rootfs, n).map_err(|e| format!("{e}; log:\n{}", server.log_text()))?;
    let t = Instant::now();
    let reply = match way {
        Way::Shutdown => server
            .client(CALL_TIMEOUT)?
            .call(&proto::Shutdown {
                kill_containers: Some(true),
                timeout: Some(0),
            })
            .map(drop)
            .map_err(|e| e.to_string()),
        Way::Deletes => delete_all(&server, n),
    };
    if let Err(e) = reply {
        let log = server.log_text();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        return Err(format!("Shutdown: {e}; the server's log ends:\n{}", tail.join("\n")).into());
    }
    let took = t.elapsed();
    server.stop()?;
    let left = left_in_runtime(&server.runtime_root())?;
    if left != 0 {
        return Err(format!(
            "{left} containers left in the runtime; log:\n{}",
            server.log_text()
        )
        .into());
    }
    Ok(took)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn row(label: &str, samples: &[Duration]) {
    let (min, max) = (samples.iter().min().unwrap(), samples.iter().max().unwrap());
    println!(
        "{label:<34} min {:>8}  median {:>8}  max {:>8}",
        secs(*min),
        secs(median(samples)),
        secs(*max)
    );
}

fn main() -> Result<()> {
    common::check_preconditions()?;
    let rounds = env_usize("PODMON_TEARDOWN_ROUNDS", 3).max(1);
    let n = env_usize("PODMON_TEARDOWN_CONTAINERS", 100).max(1);
    let scratch = ScratchDir::new("teardown")?;
    let rootfs = scratch.path().join("rootfs");
    common::make_rootfs(&rootfs)?;
    // podmon's own default (oci::limit::DEFAULT_CONCURRENCY), passed as is.
    let default = DEFAULT_BOUND;
    for (way, what) in [
        (Way::Shutdown, "Shutdown(killContainers, timeout 0)"),
        (Way::Deletes, "DeleteContainer(force), 16 clients at once"),
    ] {
        let (mut fast, mut slow) = (vec![], vec![]);
        for round in 0..rounds {
            fast.push(one(&scratch, &rootfs, round, default, n, way)?);
            slow.push(one(&scratch, &rootfs, round, 1, n, way)?);
            eprintln!(
                "{what} round {round}: bound {default} {}, bound 1 {}",
                secs(fast[round]),
                secs(slow[round])
            );
        }
        println!("teardown of {n} running containers by {what}, {rounds} rounds");
        row(&format!("  bound {default} (default)"), &fast);
        row("  bound 1 (one after another)", &slow);
        let ratio = median(&slow).as_secs_f64() / median(&fast).as_secs_f64();
        let verdict = if median(&fast) <= GOAL { "ok" } else { "FAIL" };
        println!(
            "  ratio bound 1 / bound {default} (medians): {ratio:.1}x; goal median ≤ {}: {verdict}",
            secs(GOAL)
        );
    }
    Ok(())
}
