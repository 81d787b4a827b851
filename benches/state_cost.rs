//! The cost of the state records on create+start: since issue 10 every
//! create, start, exit and delete writes a record durably (temp file,
//! fsync, rename, fsync of the directory), so a restarted or upgraded
//! monitor can re-adopt its containers. This measures what that adds.
//!
//! `cargo bench --bench state_cost` builds the podmon binary of the
//! baseline revision (`ee2b160`, the last before issue 10;
//! `PODMON_BENCH_BASELINE=<rev>` picks another) from git into
//! `target/bench-baseline/` (reused while its recorded revision matches),
//! then runs 20 rounds of CreateContainer + StartContainer of a
//! `sleep 1000` container on each binary, interleaved A B A B, each on its
//! own server, state directory and socket. It prints medians, p90 and the
//! ratio current/baseline (goal ≤ 1.05).
//!
//! It exits non-zero only when the bench itself breaks (no git history to
//! build the baseline from included); missing the goal prints FAIL.

mod common;

use std::error::Error;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::ScratchDir;
use common::server::Server;
use common::stats::{median, ms, percentile};
use common::varlink::Client;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The last commit before issue 10's state records.
const DEFAULT_BASELINE: &str = "ee2b160";
/// Rounds per binary; `PODMON_BENCH_ROUNDS` sets another count (the
/// medians of 20 still move by several percent from run to run).
const ROUNDS: usize = 20;
/// Untimed rounds first, so page cache and runc's first-run costs land in
/// neither sample.
const WARMUP: usize = 3;
const GOAL_RATIO: f64 = 1.05;
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
const COMMAND: &[&str] = &["sleep", "1000"];
/// State records a create and a start write (one each).
const RECORDS: u32 = 2;

fn rounds() -> usize {
    std::env::var("PODMON_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(ROUNDS)
}

/// What one durable record write costs on the state directory's file
/// system, done the way the monitor does it (temp file, fsync, rename,
/// fsync of the directory): the floor of what the records can add.
fn durable_write(dir: &Path) -> Result<Duration> {
    let (tmp, dst) = (dir.join("record.tmp"), dir.join("record.json"));
    let t0 = Instant::now();
    let mut f = fs::File::create(&tmp)?;
    f.write_all(br#"{"id":"sleeper","pid":12345,"status":"running"}"#)?;
    f.sync_all()?;
    fs::rename(&tmp, &dst)?;
    fs::File::open(dir)?.sync_all()?;
    Ok(t0.elapsed())
}

/// The checkout this bench was built from (benches run with the package
/// root as their manifest directory).
fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The full hash of `rev`, or an error saying the history is missing.
fn resolve_rev(root: &Path, rev: &str) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "--verify", "--quiet"])
        .arg(format!("{rev}^{{commit}}"))
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git history missing: revision {rev} is not in the repository at {} \
             (a copy without history, or a shallow clone?); fetch it, or set \
             PODMON_BENCH_BASELINE to a revision that is there",
            root.display()
        )
        .into());
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// Exports `rev`'s tree into `dest` (emptied first) with `git archive`,
/// which leaves no worktree behind to clean up.
fn export_tree(root: &Path, rev: &str, dest: &Path) -> Result<()> {
    let _ = fs::remove_dir_all(dest);
    fs::create_dir_all(dest)?;
    let mut archive = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["archive", "--format=tar", rev])
        .stdout(Stdio::piped())
        .spawn()?;
    let tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(dest)
        .stdin(archive.stdout.take().ok_or("no git archive pipe")?)
        .status()?;
    let git = archive.wait()?;
    if !git.success() || !tar.success() {
        return Err(format!("git archive {rev} | tar -x: {git}, {tar}").into());
    }
    Ok(())
}

/// The baseline's release binary, `target/bench-baseline/podmon`, with the
/// revision it was built from in `podmon.rev` beside it: reused when that
/// matches, else built now (a release build of the whole crate: minutes).
fn baseline_binary(root: &Path, rev: &str) -> Result<PathBuf> {
    let dir = root.join("target/bench-baseline");
    let (bin, rev_file) = (dir.join("podmon"), dir.join("podmon.rev"));
    let built = fs::read_to_string(&rev_file).unwrap_or_default();
    if bin.exists() && built.trim() == rev {
        println!("baseline: reusing {} (built from {rev})", bin.display());
        return Ok(bin);
    }
    let src = dir.join("src");
    let target = dir.join("target");
    println!(
        "baseline: building {rev} (cargo build --release --bin podmon in {}, target {})",
        src.display(),
        target.display()
    );
    export_tree(root, rev, &src)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let st = Command::new(cargo)
        .args(["build", "--release", "--bin", "podmon"])
        .current_dir(&src)
        .env("CARGO_TARGET_DIR", &target)
        .status()?;
    if !st.success() {
        return Err(format!("building the baseline {rev} failed: {st}").into());
    }
    let _ = fs::remove_file(&rev_file);
    fs::copy(target.join("release/podmon"), &bin)?;
    fs::write(&rev_file, format!("{rev}\n"))?;
    Ok(bin)
}

/// The binary under test: the one cargo built for this bench (the bench
/// profile inherits release, so `target/release/podmon`, rebuilt by
/// `cargo bench` when stale), or `PODMON_BIN`.
fn current_binary() -> Result<PathBuf> {
    let bin = common::podmon_bin();
    let how = if std::env::var_os("PODMON_BIN").is_some() {
        "PODMON_BIN"
    } else {
        "built by cargo bench"
    };
    println!("current: {} ({how})", bin.display());
    if !bin.components().any(|c| c.as_os_str() == "release") {
        println!("warning: {} may not be a release build", bin.display());
    }
    Ok(bin)
}

/// Time of one create + start, and of the forced delete after it.
struct Sample {
    create_start: Duration,
    delete: Duration,
}

/// One round on one server: CreateContainer through StartContainer's
/// reply, timed; then a forced delete, timed apart.
fn create_start(c: &mut Client, rootfs: &Path, id: &str) -> Result<Sample> {
    let t0 = Instant::now();
    c.create(id, rootfs, COMMAND)?;
    c.start(id)?;
    let create_start = t0.elapsed();
    let t1 = Instant::now();
    c.delete(id, true)?;
    Ok(Sample {
        create_start,
        delete: t1.elapsed(),
    })
}

/// Both servers' samples, taken in turn so drift in the machine's load
/// hits both alike.
/// Also times one bare durable write in `scratch` per round.
fn measure(servers: [&Server; 2], rootfs: &Path, scratch: &Path) -> Result<Measured> {
    let mut clients = [
        servers[0].client(CALL_TIMEOUT)?,
        servers[1].client(CALL_TIMEOUT)?,
    ];
    let (mut samples, mut writes) = ([Vec::new(), Vec::new()], Vec::new());
    for i in 0..WARMUP + rounds() {
        // A B, then B A: whichever goes second finds the other's page
        // cache and writeback; alternating shares that out.
        let order = if i % 2 == 0 { [0, 1] } else { [1, 0] };
        for k in order {
            let s = create_start(&mut clients[k], rootfs, &format!("sleeper-{i}"))?;
            if i >= WARMUP {
                samples[k].push(s);
            }
        }
        let w = durable_write(scratch)?;
        if i >= WARMUP {
            writes.push(w);
        }
    }
    Ok(Measured { samples, writes })
}

/// Samples of both binaries (current first) and of bare durable writes.
struct Measured {
    samples: [Vec<Sample>; 2],
    writes: Vec<Duration>,
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn print_report(rev: &str, m: &Measured) {
    let samples = &m.samples;
    let pick = |k: usize, f: fn(&Sample) -> Duration| -> Vec<Duration> {
        samples[k].iter().map(f).collect()
    };
    let cs = [pick(0, |s| s.create_start), pick(1, |s| s.create_start)];
    let del = [pick(0, |s| s.delete), pick(1, |s| s.delete)];
    let short = &rev[..rev.len().min(7)];
    println!();
    println!("| {} rounds each | median (ms) | p90 (ms) |", rounds());
    println!("| --- | ---: | ---: |");
    for (name, s) in [
        ("create+start, current (state records)".to_owned(), &cs[0]),
        (format!("create+start, baseline {short}"), &cs[1]),
        ("forced delete, current".to_owned(), &del[0]),
        (format!("forced delete, baseline {short}"), &del[1]),
        (
            "one bare durable write (file, fsync, rename, fsync dir)".to_owned(),
            &m.writes,
        ),
    ] {
        println!(
            "| {name} | {} | {} |",
            ms(median(s)),
            ms(percentile(s, 90.0))
        );
    }
    let ratio = |s: &[Vec<Duration>; 2]| median(&s[0]).as_secs_f64() / median(&s[1]).as_secs_f64();
    println!();
    println!(
        "create+start writes {RECORDS} records: at least {} ms, {:.1} % of the baseline's median, from the fsyncs alone",
        ms(median(&m.writes) * RECORDS),
        100.0 * (median(&m.writes) * RECORDS).as_secs_f64() / median(&cs[1]).as_secs_f64()
    );
    println!(
        "median ratio of delete current/baseline: {:.2}",
        ratio(&del)
    );
    println!(
        "median ratio of create+start current/baseline: {:.2} (goal ≤ {GOAL_RATIO}: {})",
        ratio(&cs),
        verdict(ratio(&cs) <= GOAL_RATIO)
    );
}

fn run() -> Result<()> {
    common::check_preconditions()?;
    let root = project_root();
    let wanted = std::env::var("PODMON_BENCH_BASELINE").unwrap_or_else(|_| DEFAULT_BASELINE.into());
    let rev = resolve_rev(&root, &wanted)?;
    let current = current_binary()?;
    let baseline = baseline_binary(&root, &rev)?;
    let scratch = ScratchDir::new("state-bench")?;
    let rootfs = scratch.path().join("rootfs");
    common::make_rootfs(&rootfs)?;
    let (dir_a, dir_b) = (scratch.path().join("cur"), scratch.path().join("base"));
    fs::create_dir_all(&dir_a)?;
    fs::create_dir_all(&dir_b)?;
    let a = Server::start_with(&dir_a, "statecur", &current, true)?;
    // Builds from before issue 10 have no --kill-on-exit; they stop their
    // containers on SIGTERM regardless.
    let b = Server::start_with(&dir_b, "statebase", &baseline, false)?;
    println!(
        "state_cost: create+start of `{}`; state dirs on {} ({})",
        COMMAND.join(" "),
        scratch.path().display(),
        common::fs_type(scratch.path())
    );
    let m = measure([&a, &b], &rootfs, scratch.path())?;
    print_report(&rev, &m);
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("state_cost: {e}");
        std::process::exit(1);
    }
}
