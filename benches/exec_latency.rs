//! Exec latency: what podmon adds to `runc exec`, and how it holds up under
//! concurrent execs.
//!
//! `cargo bench --bench exec_latency`, against one running container
//! (`sleep 1000`):
//!   1. 50 `ExecSync(["true"])` round trips through podmon and 50 direct
//!      `runc --root <state-dir>/runtime exec <id> true`, interleaved;
//!      median, p90 and the ratio of the medians (goal ≤ 1.1);
//!   2. 10 clients doing 10 ExecSync each at once: failures (goal 0) and
//!      podmon's RSS before, at peak and 2 s after (goal: back to idle);
//!   3. with crun (the one scripts/install-deps unpacks, if there): a
//!      second pod driven by crun, 50 ExecSync and 50 bare `crun exec`,
//!      interleaved. On a hybrid-cgroup host both go through a wrapper that
//!      unmounts /sys/fs/cgroup/unified in a mount namespace of its own
//!      (crun 1.8 refuses hybrid hosts), so both pay its `unshare` alike.
//!
//! It exits non-zero only when the bench itself breaks; missing a goal
//! prints FAIL.

mod common;

use std::error::Error;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::server::Server;
use common::stats::{median, ms, percentile};
use common::varlink::{self, Client};
use common::{RUNC, ScratchDir, procfs};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const ID: &str = "sleeper";
const SAMPLES: usize = 50;
/// Untimed calls first, so page cache and runc's first-run costs do not
/// land in either sample.
const WARMUP: usize = 3;
const CLIENTS: usize = 10;
const CALLS_PER_CLIENT: usize = 10;
/// Longest one call may take before it counts as broken.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long after the burst the idle RSS is read again.
const SETTLE: Duration = Duration::from_secs(2);
/// How often the RSS sampler looks during the burst.
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(5);
const GOAL_RATIO: f64 = 1.1;
/// "Back to idle ± a little": within 10 % or 1 MiB of the idle RSS.
fn rss_settled(before: u64, after: u64) -> bool {
    after <= before + (before / 10).max(1024)
}

/// One ExecSync of `true`; an error unless it ran and exited 0.
fn exec_podmon(c: &mut Client) -> Result<()> {
    let reply = c.exec_sync(ID, &["true"])?;
    match reply.exit_code {
        0 => Ok(()),
        _ => Err(format!("ExecSync reply: {}", varlink::json(&reply)).into()),
    }
}

/// Where scripts/install-deps unpacks crun.
const CRUN: &str = "/opt/podmon-tools/crun/bin/crun";

/// One `<runtime> exec <id> true` (runc, crun) on podmon's runtime root,
/// as podmon's caller would run it without podmon.
fn exec_bare(runtime: &Path, root: &Path) -> Result<()> {
    let st = Command::new(runtime)
        .arg("--root")
        .arg(root)
        .args(["exec", ID, "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()?;
    if !st.success() {
        return Err(format!("{} exec: {st}", runtime.display()).into());
    }
    Ok(())
}

fn timed(f: impl FnOnce() -> Result<()>) -> Result<Duration> {
    let t0 = Instant::now();
    f()?;
    Ok(t0.elapsed())
}

/// Sequential latencies of both paths. They alternate, so drift in the
/// machine's load hits both samples alike.
fn sequential(server: &Server, runtime: &Path) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let mut c = server.client(CALL_TIMEOUT)?;
    let root = server.runtime_root();
    for _ in 0..WARMUP {
        exec_podmon(&mut c)?;
        exec_bare(runtime, &root)?;
    }
    let (mut via_podmon, mut direct) = (Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        via_podmon.push(timed(|| exec_podmon(&mut c))?);
        direct.push(timed(|| exec_bare(runtime, &root))?);
    }
    Ok((via_podmon, direct))
}

/// A `crun` (by name: podmon's quirks key on it) that runs the unpacked
/// crun in a mount namespace without /sys/fs/cgroup/unified.
fn crun_wrapper(dir: &Path) -> Result<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let wdir = dir.join("crun-ns");
    std::fs::create_dir_all(&wdir)?;
    let path = wdir.join("crun");
    let script = format!(
        "#!/bin/sh\nexec unshare -m sh -c 'umount -l /sys/fs/cgroup/unified 2>/dev/null; exec {CRUN} \"$@\"' crun \"$@\"\n"
    );
    std::fs::write(&path, script)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
}

/// Part 3: ExecSync against bare `crun exec`, on a pod driven by crun.
fn with_crun(scratch: &ScratchDir, rootfs: &Path, runc_bare: &[Duration]) -> Result<()> {
    if !Path::new(CRUN).exists() {
        println!("\ncrun: {CRUN} missing (scripts/install-deps unpacks it): skipped");
        return Ok(());
    }
    let dir = scratch.path().join("crun");
    std::fs::create_dir_all(&dir)?;
    let crun = crun_wrapper(&dir)?;
    let server = Server::start_runtime(&dir, "execcrun", &common::podmon_bin(), &crun, true, &[])?;
    let mut c = server.client(CALL_TIMEOUT)?;
    c.create(ID, rootfs, &["sleep", "1000"])?;
    c.start(ID)?;
    let (via_podmon, direct) = sequential(&server, &crun)?;
    println!();
    println!("| exec of `true` with crun ({SAMPLES} each) | median (ms) | p90 (ms) |");
    println!("| --- | ---: | ---: |");
    for (name, s) in [
        ("podmon ExecSync round trip (crun)", &via_podmon[..]),
        ("direct `crun exec`", &direct[..]),
    ] {
        println!(
            "| {name} | {} | {} |",
            ms(median(s)),
            ms(percentile(s, 90.0))
        );
    }
    let ratio = median(&via_podmon).as_secs_f64() / median(&direct).as_secs_f64();
    let vs_runc = median(runc_bare).as_secs_f64() / median(&direct).as_secs_f64();
    println!();
    println!(
        "median ratio podmon/crun: {ratio:.2} (goal ≤ {GOAL_RATIO}: {}); bare runc/crun: {vs_runc:.2}",
        verdict(ratio <= GOAL_RATIO)
    );
    c.delete(ID, true)?;
    Ok(())
}

/// What the concurrent burst observed.
struct Burst {
    failures: u64,
    first_failure: Option<String>,
    elapsed: Duration,
    rss_before: u64,
    rss_peak: u64,
    rss_after: u64,
}

/// Samples podmon's RSS until `stop`; returns the highest value seen.
fn sample_peak_rss(pid: u32, stop: Arc<AtomicBool>) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let mut peak = 0;
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(procfs::rss_kib(pid).unwrap_or(0));
            thread::sleep(RSS_SAMPLE_EVERY);
        }
        peak.max(procfs::rss_kib(pid).unwrap_or(0))
    })
}

/// One client's share of the burst, on its own connection; returns the
/// first failure's message, if any.
fn client_calls(server: &Server, failures: &AtomicU64) -> Option<String> {
    let mut first = None;
    let mut fail = |e: String| {
        failures.fetch_add(1, Ordering::Relaxed);
        first.get_or_insert(e);
    };
    let mut c = match server.client(CALL_TIMEOUT) {
        Ok(c) => c,
        Err(e) => {
            // Every call of this client is lost.
            for _ in 0..CALLS_PER_CLIENT {
                fail(format!("connect: {e}"));
            }
            return first;
        }
    };
    for _ in 0..CALLS_PER_CLIENT {
        if let Err(e) = exec_podmon(&mut c) {
            fail(e.to_string());
        }
    }
    first
}

fn burst(server: &Server) -> Result<Burst> {
    let pid = server.pid();
    let rss_before = procfs::rss_kib(pid)?;
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_peak_rss(pid, stop.clone());
    let failures = AtomicU64::new(0);
    let t0 = Instant::now();
    let first_failure = thread::scope(|s| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| s.spawn(|| client_calls(server, &failures)))
            .collect();
        clients
            .into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .next()
    });
    let elapsed = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    let rss_peak = sampler.join().map_err(|_| "RSS sampler panicked")?;
    thread::sleep(SETTLE);
    Ok(Burst {
        failures: failures.into_inner(),
        first_failure,
        elapsed,
        rss_before,
        rss_peak,
        rss_after: procfs::rss_kib(pid)?,
    })
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn print_latency(via_podmon: &[Duration], direct: &[Duration]) {
    println!();
    println!("| exec of `true` ({SAMPLES} each) | median (ms) | p90 (ms) |");
    println!("| --- | ---: | ---: |");
    for (name, s) in [
        ("podmon ExecSync round trip", via_podmon),
        ("direct `runc exec`", direct),
    ] {
        println!(
            "| {name} | {} | {} |",
            ms(median(s)),
            ms(percentile(s, 90.0))
        );
    }
    let ratio = median(via_podmon).as_secs_f64() / median(direct).as_secs_f64();
    println!();
    println!(
        "median ratio podmon/runc: {ratio:.2} (goal ≤ {GOAL_RATIO}: {})",
        verdict(ratio <= GOAL_RATIO)
    );
}

fn print_burst(b: &Burst) {
    let calls = CLIENTS * CALLS_PER_CLIENT;
    println!();
    println!("| {CLIENTS} clients × {CALLS_PER_CLIENT} ExecSync | value |");
    println!("| --- | ---: |");
    println!("| failures | {} of {calls} |", b.failures);
    println!(
        "| wall time | {:.2} s ({:.1} execs/s) |",
        b.elapsed.as_secs_f64(),
        calls as f64 / b.elapsed.as_secs_f64()
    );
    println!("| podmon RSS before | {} KiB |", b.rss_before);
    println!("| podmon RSS peak | {} KiB |", b.rss_peak);
    println!(
        "| podmon RSS {} s after | {} KiB |",
        SETTLE.as_secs(),
        b.rss_after
    );
    println!();
    if let Some(e) = &b.first_failure {
        println!("first failure: {e}");
    }
    println!(
        "goal: 0 failures → {}; RSS back to idle (within 10 % or 1 MiB) → {}",
        verdict(b.failures == 0),
        verdict(rss_settled(b.rss_before, b.rss_after))
    );
}

fn run() -> Result<()> {
    common::check_preconditions()?;
    let scratch = ScratchDir::new("exec-bench")?;
    let rootfs = scratch.path().join("rootfs");
    common::make_rootfs(&rootfs)?;
    let server = Server::start(scratch.path(), "execbench")?;
    let mut c = server.client(CALL_TIMEOUT)?;
    c.create(ID, &rootfs, &["sleep", "1000"])?;
    c.start(ID)?;
    println!(
        "exec_latency: container {ID} (sleep 1000), podmon pid {}",
        server.pid()
    );

    let (via_podmon, direct) = sequential(&server, Path::new(RUNC))?;
    print_latency(&via_podmon, &direct);
    let b = burst(&server)?;
    print_burst(&b);
    c.delete(ID, true)?;
    with_crun(&scratch, &rootfs, &direct)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("exec_latency: {e}");
        std::process::exit(1);
    }
}
