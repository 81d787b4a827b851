//! Live upgrade: how long the API and a container's log go unserved while
//! the monitor execs a new image in place (`io.podmon.Pod.Reexec`).
//!
//! `cargo bench --bench upgrade` runs 20 rounds against one monitor. Each
//! round starts a container that writes to stdout as fast as it can, then
//! measures two equal windows, interleaved so both see the same load:
//!   1. no upgrade (the baseline: the machine's normal jitter),
//!   2. an upgrade: Reexec, then waiting until `GetPod` names a new
//!      `startedAt` (same pid).
//!
//! Meanwhile a prober thread calls `org.varlink.service.GetInfo` on a fresh
//! connection in a tight loop; the unavailability of a window is the
//! largest gap between consecutive completed probes (goal: median < 50 ms
//! over the upgrades). The flooding container's CRI log, read back after
//! each round, gives the longest stall the container saw (its largest gap
//! between record timestamps). It also checks that a container started
//! before an upgrade reports its exit code afterwards, and that
//! `podmon upgrade` and SIGHUP upgrade too.
//!
//! It exits non-zero only when the bench itself breaks (an upgrade that
//! never completes included); missing a goal prints FAIL.

mod common;

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use common::ScratchDir;
use common::crilog::{self, WindowGaps};
use common::server::Server;
use common::stats::{median, ms, percentile};
use common::varlink::Client;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const ROUNDS: usize = 20;
/// Length of each window: long enough to hold an upgrade and what follows
/// it (a new image that re-adopts slowly shows as a larger gap).
const WINDOW: Duration = Duration::from_secs(1);
/// Time for the flooding container to get going before the first window.
const RAMP_UP: Duration = Duration::from_millis(200);
const GOAL_MEDIAN: Duration = Duration::from_millis(50);
/// How long the flooding container runs on after the upgrade window.
const TAIL: Duration = Duration::from_millis(300);
/// Longest one call may take before it counts as broken.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest an upgrade may take before the bench gives up.
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between looks for the new image.
const POLL: Duration = Duration::from_millis(5);
/// Writes as fast as busybox can: `seq` lines, a pipe write per block.
const FLOOD: &[&str] = &["sh", "-c", "while :; do seq 1 100000; done"];
/// Ends during the upgrade window's aftermath, under the new image.
const EXITER: &[&str] = &["sh", "-c", "sleep 2; exit 7"];
const EXITER_ID: &str = "exiter";
const EXPECTED_EXIT: i32 = 7;

/// What the prober saw: when each successful probe completed, and how
/// many failed.
#[derive(Default)]
struct ProbeLog {
    done: Vec<Instant>,
    failures: u64,
    first_failure: Option<String>,
}

/// Probes until `stop`: connect, GetInfo, close, again. A failed probe
/// (a connection the old image accepted and closed at the exec) waits
/// 1 ms so a dead socket does not spin a core.
fn probe_loop(socket: &Path, stop: &AtomicBool) -> ProbeLog {
    let mut log = ProbeLog::default();
    while !stop.load(Ordering::Relaxed) {
        match Client::connect(socket, CALL_TIMEOUT).and_then(|mut c| c.get_info()) {
            Ok(()) => log.done.push(Instant::now()),
            Err(e) => {
                log.failures += 1;
                log.first_failure.get_or_insert_with(|| e.to_string());
                thread::sleep(Duration::from_millis(1));
            }
        }
    }
    log
}

/// The largest gap between consecutive probe completions that overlaps
/// `[start, end]`.
fn probe_gap(done: &[Instant], start: Instant, end: Instant) -> Option<Duration> {
    done.windows(2)
        .filter(|p| p[1] >= start && p[0] <= end)
        .map(|p| p[1] - p[0])
        .max()
}

/// A window on both clocks: the prober's (monotonic) and the log's (wall).
#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
    wall: (i64, i64),
}

/// Runs `f` and sleeps until `WINDOW` after the start: the window.
fn window(f: impl FnOnce() -> Result<()>) -> Result<Window> {
    let (start, wall0) = (Instant::now(), SystemTime::now());
    f()?;
    let end = start + WINDOW;
    thread::sleep(end.saturating_duration_since(Instant::now()));
    let wall1 = wall0 + (Instant::now() - start);
    Ok(Window {
        start,
        end: Instant::now(),
        wall: (crilog::system_nanos(wall0), crilog::system_nanos(wall1)),
    })
}

/// The monitor's `startedAt`, on a fresh connection (the image's).
fn started_at(socket: &Path) -> Result<String> {
    let mut c = Client::connect(socket, CALL_TIMEOUT)?;
    Ok(c.get_pod()?.started_at)
}

/// Waits until the monitor answers with a `startedAt` other than
/// `before`: the new image serves. Returns its `startedAt` and pid.
fn wait_new_image(socket: &Path, before: &str) -> Result<(String, u32)> {
    let deadline = Instant::now() + UPGRADE_TIMEOUT;
    loop {
        let reply = Client::connect(socket, CALL_TIMEOUT).and_then(|mut c| c.get_pod());
        if let Ok(p) = reply
            && p.started_at != before
        {
            return Ok((p.started_at, p.monitor.pid));
        }
        if Instant::now() > deadline {
            return Err(format!("no new image within {UPGRADE_TIMEOUT:?} of the upgrade").into());
        }
        thread::sleep(POLL);
    }
}

/// One upgrade through Reexec, timed from the call to the new image's
/// first answer.
struct Upgrade {
    took: Duration,
    pid: u32,
}

fn reexec(socket: &Path, started: &mut String) -> Result<Upgrade> {
    let t0 = Instant::now();
    Client::connect(socket, CALL_TIMEOUT)?.reexec()?;
    let (new, pid) = wait_new_image(socket, started)?;
    *started = new;
    Ok(Upgrade {
        took: t0.elapsed(),
        pid,
    })
}

/// What one round measured.
struct Round {
    base: Window,
    up: Window,
    upgrade: Upgrade,
    flood: [WindowGaps; 2],
    malformed: u64,
}

/// One round: a fresh flooding container, a window without and one with
/// an upgrade, then the container's log read back (and removed: each
/// round writes hundreds of MiB). Round 0 also starts the exiting
/// container just before its upgrade.
fn round(server: &Server, rootfs: &Path, i: usize, started: &mut String) -> Result<Round> {
    let id = format!("flood-{i}");
    let mut c = server.client(CALL_TIMEOUT)?;
    c.create(&id, rootfs, FLOOD)?;
    c.start(&id)?;
    thread::sleep(RAMP_UP);
    let base = window(|| Ok(()))?;
    if i == 0 {
        c.create(EXITER_ID, rootfs, EXITER)?;
        c.start(EXITER_ID)?;
    }
    let mut upgrade = None;
    let up = window(|| {
        upgrade = Some(reexec(&server.socket, started)?);
        Ok(())
    })?;
    // Records stamped after the window tell a log that went on from one
    // that stopped; the tail gives them time to come.
    thread::sleep(TAIL);
    // The exec closed `c`.
    server.client(CALL_TIMEOUT)?.delete(&id, true)?;
    let log = server.log_path(&id);
    let (gaps, malformed) = crilog::gaps_in_windows(&log, &[base.wall, up.wall])?;
    fs::remove_file(&log)?;
    Ok(Round {
        base,
        up,
        upgrade: upgrade.ok_or("no upgrade ran")?,
        flood: [gaps[0], gaps[1]],
        malformed,
    })
}

/// The container started before round 0's upgrade and ending after it:
/// the new image must report its exit code. Returns what it reported.
fn check_exit(server: &Server) -> Result<Option<i32>> {
    let mut c = server.client(CALL_TIMEOUT)?;
    let reply = c.wait(EXITER_ID)?;
    c.delete(EXITER_ID, true)?;
    Ok(reply.exit_code)
}

/// `podmon --socket S upgrade` (waits for the new image itself), then
/// SIGHUP; each must leave a new `startedAt` and the same pid.
fn check_other_triggers(server: &Server, started: &mut String) -> Result<[bool; 2]> {
    let st = Command::new(common::podmon_bin())
        .arg("--socket")
        .arg(&server.socket)
        .arg("upgrade")
        .output()?;
    let now = started_at(&server.socket)?;
    let cli_ok = st.status.success() && now != *started;
    if !st.status.success() {
        eprintln!(
            "podmon upgrade: {}: {}",
            st.status,
            String::from_utf8_lossy(&st.stderr)
        );
    }
    *started = now;
    // SAFETY: kill on our own child's pid, which we have not reaped.
    unsafe { libc::kill(server.pid() as libc::pid_t, libc::SIGHUP) };
    let (now, pid) = wait_new_image(&server.socket, started)?;
    *started = now;
    Ok([cli_ok, pid == server.pid()])
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

/// `| name | median | p90 | max |` in milliseconds.
fn row(name: &str, s: &[Duration]) {
    let max = s.iter().max().copied().unwrap_or_default();
    println!(
        "| {name} | {} | {} | {} |",
        ms(median(s)),
        ms(percentile(s, 90.0)),
        ms(max)
    );
}

fn print_report(rounds: &[Round], probes: &ProbeLog) -> Result<()> {
    let gap = |w: &Window| probe_gap(&probes.done, w.start, w.end).ok_or("no probes in a window");
    let unavail: Vec<Duration> = rounds
        .iter()
        .map(|r| gap(&r.up))
        .collect::<std::result::Result<_, _>>()?;
    let jitter: Vec<Duration> = rounds
        .iter()
        .map(|r| gap(&r.base))
        .collect::<std::result::Result<_, _>>()?;
    let took: Vec<Duration> = rounds.iter().map(|r| r.upgrade.took).collect();
    let stall: Vec<Duration> = rounds.iter().map(|r| r.flood[1].max_gap).collect();
    let calm: Vec<Duration> = rounds.iter().map(|r| r.flood[0].max_gap).collect();
    println!();
    println!("| {ROUNDS} rounds, {WINDOW:?} windows | median (ms) | p90 (ms) | max (ms) |");
    println!("| --- | ---: | ---: | ---: |");
    row("API unavailability: largest probe gap, upgrade", &unavail);
    row("largest probe gap, no upgrade (baseline)", &jitter);
    row("Reexec call → new image answers GetPod", &took);
    row("flooding container: longest stall, upgrade", &stall);
    row("flooding container: longest stall, no upgrade", &calm);
    let ratio = |a: &[Duration], b: &[Duration]| median(a).as_secs_f64() / median(b).as_secs_f64();
    println!();
    println!(
        "median ratios upgrade/no upgrade: API {:.1}, container stall {:.1}",
        ratio(&unavail, &jitter),
        ratio(&stall, &calm)
    );
    let records = |k: usize| -> u64 { rounds.iter().map(|r| r.flood[k].records).sum() };
    let went_on = rounds.iter().filter(|r| r.flood[1].continued).count();
    let malformed: u64 = rounds.iter().map(|r| r.malformed).sum();
    println!(
        "probes: {} ok, {} failed{}; flood records per window: {} upgrade, {} no upgrade (malformed lines: {malformed})",
        probes.done.len(),
        probes.failures,
        probes
            .first_failure
            .as_ref()
            .map_or(String::new(), |e| format!(" (first: {e})")),
        records(1) / ROUNDS as u64,
        records(0) / ROUNDS as u64,
    );
    println!(
        "flooding container's log went on after the upgrade: {went_on} of {ROUNDS} rounds → {}",
        verdict(went_on == ROUNDS)
    );
    println!(
        "goal: median API unavailability < {} ms → {}",
        GOAL_MEDIAN.as_millis(),
        verdict(median(&unavail) < GOAL_MEDIAN)
    );
    Ok(())
}

/// The rounds, with the prober running throughout.
fn measure(server: &Server, rootfs: &Path) -> Result<(Vec<Round>, ProbeLog, String)> {
    let mut started = started_at(&server.socket)?;
    let stop = Arc::new(AtomicBool::new(false));
    let prober = {
        let (socket, stop) = (server.socket.clone(), stop.clone());
        thread::spawn(move || probe_loop(&socket, &stop))
    };
    let mut rounds = Vec::new();
    let result = (|| -> Result<()> {
        for i in 0..ROUNDS {
            rounds.push(round(server, rootfs, i, &mut started)?);
        }
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    let probes = prober.join().map_err(|_| "prober panicked")?;
    result?;
    Ok((rounds, probes, started))
}

fn run() -> Result<()> {
    common::check_preconditions()?;
    let scratch = ScratchDir::new("upgrade-bench")?;
    let rootfs: PathBuf = scratch.path().join("rootfs");
    common::make_rootfs(&rootfs)?;
    let server = Server::start(scratch.path(), "upgradebench")?;
    println!(
        "upgrade: podmon {} pid {}, {ROUNDS} upgrades by Reexec; log dir {} ({})",
        common::podmon_bin().display(),
        server.pid(),
        server.log_dir.display(),
        common::fs_type(&server.log_dir)
    );
    let (rounds, probes, mut started) = measure(&server, &rootfs)?;
    print_report(&rounds, &probes)?;
    let same_pid = rounds.iter().all(|r| r.upgrade.pid == server.pid());
    println!(
        "monitor pid unchanged by every Reexec: {}",
        verdict(same_pid)
    );
    let code = check_exit(&server)?;
    println!(
        "container started before an upgrade, ended after it: exitCode {code:?} (expected {EXPECTED_EXIT}) → {}",
        verdict(code == Some(EXPECTED_EXIT))
    );
    let [cli, hup] = check_other_triggers(&server, &mut started)?;
    println!(
        "`podmon upgrade` → {}; SIGHUP (same pid, new startedAt) → {}",
        verdict(cli),
        verdict(hup)
    );
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("upgrade: {e}");
        std::process::exit(1);
    }
}
