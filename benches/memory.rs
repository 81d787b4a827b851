//! Memory of an idle monitor (issue 14): `podmon serve` with 1, 10 and 100
//! runc busybox `sleep` containers against Debian's conmon (one process
//! per container), measured in the same run, rounds interleaved.
//!
//! `cargo bench --bench memory` (root; `PODMON_BENCH_ROUNDS=N`, default 3;
//! `PODMON_BENCH_CONMON=0` skips the baseline). It uses the release-profile
//! binary cargo built for the bench (or `PODMON_BIN`) and runs a private
//! copy of every binary, so no page is shared with another process: Pss and
//! USS (Private_Clean + Private_Dirty) from `smaps_rollup`, RssAnon from
//! `status`, read once the monitor has been idle for [`SETTLE`] (podmon
//! sheds its own code pages when its last connection closes). Also: the
//! binary's size, the per-container delta, and RssAnon before and after
//! 10 clients x 10 ExecSync. conmon is installed with apt-get when missing.
//!
//! Prints min / median / max per figure and the ratios against conmon; it
//! exits non-zero only when the bench itself breaks.

mod common;

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::server::Server;
use common::{RUNC, ScratchDir};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const COUNTS: [usize; 3] = [1, 10, 100];
/// conmon runs one process per container; 100 of them take long to set
/// up and say nothing the sum of 10 does not.
const CONMON_COUNTS: [usize; 2] = [1, 10];
/// Idle time before a reading: podmon sheds at once when its last
/// connection closes; conmon gets the same time to settle.
const SETTLE: Duration = Duration::from_secs(7);
const CONMON: &str = "/usr/bin/conmon";
const EXEC_CLIENTS: usize = 10;
const EXEC_CALLS: usize = 10;

/// One reading of one process (or the sum over several), in kB.
#[derive(Clone, Copy, Default)]
struct Mem {
    pss: u64,
    uss: u64,
    anon: u64,
}

impl std::ops::Add for Mem {
    type Output = Mem;
    fn add(self, o: Mem) -> Mem {
        Mem {
            pss: self.pss + o.pss,
            uss: self.uss + o.uss,
            anon: self.anon + o.anon,
        }
    }
}

fn kb_field(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn read_mem(pid: u32) -> Result<Mem> {
    let roll = fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(Mem {
        pss: kb_field(&roll, "Pss:"),
        uss: kb_field(&roll, "Private_Clean:") + kb_field(&roll, "Private_Dirty:"),
        anon: kb_field(&status, "RssAnon:"),
    })
}

/// A copy of `bin` that only the processes of this bench map.
fn private_copy(bin: &Path, dir: &Path, name: &str) -> Result<PathBuf> {
    let to = dir.join(name);
    fs::copy(bin, &to)?;
    Ok(to)
}

/// What one podmon round measured.
struct PodmonRound {
    idle: Vec<Mem>,
    /// RssAnon of the 1-container monitor before and after the exec burst.
    exec_anon: (u64, u64),
}

/// One monitor with `n` sleeping containers, read after [`SETTLE`]; with
/// one container also the exec burst and a second reading.
fn podmon_count(dir: &Path, bin: &Path, rootfs: &Path, n: usize) -> Result<(Mem, Option<u64>)> {
    fs::create_dir_all(dir)?;
    let mut server = Server::start_with(dir, &format!("mem{n}"), bin, true)?;
    let mut c = server.client(Duration::from_secs(60))?;
    for i in 0..n {
        let id = format!("c{i}");
        c.create(&id, rootfs, &["sleep", "100000"])?;
        c.start(&id)?;
    }
    drop(c);
    thread::sleep(SETTLE);
    let idle = read_mem(server.pid())?;
    let mut after = None;
    if n == 1 {
        exec_burst(&server)?;
        thread::sleep(SETTLE);
        after = Some(read_mem(server.pid())?.anon);
    }
    server.stop()?;
    Ok((idle, after))
}

/// 10 clients doing 10 ExecSync of `true` each, at once.
fn exec_burst(server: &Server) -> Result<()> {
    let handles: Vec<_> = (0..EXEC_CLIENTS)
        .map(|_| {
            let c = server.client(Duration::from_secs(60));
            thread::spawn(move || -> std::result::Result<(), String> {
                let mut c = c.map_err(|e| e.to_string())?;
                for _ in 0..EXEC_CALLS {
                    c.exec_sync("c0", &["true"]).map_err(|e| e.to_string())?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "exec client panicked")??;
    }
    Ok(())
}

fn podmon_round(scratch: &Path, round: usize, bin: &Path, rootfs: &Path) -> Result<PodmonRound> {
    let mut idle = Vec::new();
    let mut exec_anon = (0, 0);
    for n in COUNTS {
        let dir = scratch.join(format!("p{round}.{n}"));
        let (m, after) = podmon_count(&dir, bin, rootfs, n)?;
        if let Some(a) = after {
            exec_anon = (m.anon, a);
        }
        idle.push(m);
        let _ = fs::remove_dir_all(&dir);
    }
    Ok(PodmonRound { idle, exec_anon })
}

/// Installs Debian's conmon when it is missing (as the issue's bench
/// does); false when it cannot be had.
fn ensure_conmon() -> bool {
    if Path::new(CONMON).exists() {
        return true;
    }
    eprintln!("conmon missing: apt-get install -y conmon");
    let ok = Command::new("apt-get")
        .args(["install", "-y", "conmon"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok && Path::new(CONMON).exists()
}

/// A bundle for `id`: `runc spec`'s config with our rootfs and `sleep`.
fn conmon_bundle(dir: &Path, rootfs: &Path) -> Result<()> {
    fs::create_dir_all(dir)?;
    let st = Command::new(RUNC).arg("spec").current_dir(dir).status()?;
    if !st.success() {
        return Err("runc spec failed".into());
    }
    let path = dir.join("config.json");
    let mut cfg: serde_json::Value = serde_json::from_slice(&fs::read(&path)?)?;
    cfg["root"]["path"] = rootfs.to_string_lossy().into_owned().into();
    cfg["process"]["terminal"] = false.into();
    cfg["process"]["args"] = serde_json::json!(["sleep", "100000"]);
    fs::write(&path, serde_json::to_vec(&cfg)?)?;
    Ok(())
}

/// Waits for a file to appear and returns its contents.
fn wait_file(p: &Path) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(s) = fs::read_to_string(p)
            && !s.trim().is_empty()
        {
            return Ok(s);
        }
        if Instant::now() > deadline {
            return Err(format!("{} did not appear", p.display()).into());
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// One conmon for container `id`, the container started; its pid.
fn conmon_one(dir: &Path, bin: &Path, root: &Path, rootfs: &Path, id: &str) -> Result<u32> {
    let bundle = dir.join(id);
    conmon_bundle(&bundle, rootfs)?;
    let cpid = bundle.join("conmon.pid");
    let st = Command::new(bin)
        .args([
            "--api-version",
            "1",
            "-c",
            id,
            "-u",
            id,
            "-n",
            id,
            "-r",
            RUNC,
        ])
        .arg("-b")
        .arg(&bundle)
        .arg("-p")
        .arg(bundle.join("pid"))
        .arg("-l")
        .arg(format!("k8s-file:{}", bundle.join("ctr.log").display()))
        .arg("--exit-dir")
        .arg(dir.join("exits"))
        .arg("--socket-dir-path")
        .arg(dir.join("s"))
        .arg("--conmon-pidfile")
        .arg(&cpid)
        .arg(format!("--runtime-arg=--root={}", root.display()))
        .args(["--log-level", "error"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()?;
    if !st.success() {
        return Err(format!("conmon for {id}: {st}").into());
    }
    wait_file(&bundle.join("pid"))?;
    let st = Command::new(RUNC)
        .arg("--root")
        .arg(root)
        .args(["start", id])
        .status()?;
    if !st.success() {
        return Err(format!("runc start {id}: {st}").into());
    }
    Ok(wait_file(&cpid)?.trim().parse()?)
}

/// `n` conmons, one container each: the sum of their readings.
fn conmon_count(dir: &Path, bin: &Path, rootfs: &Path, n: usize) -> Result<Mem> {
    let root = dir.join("runc");
    fs::create_dir_all(dir.join("exits"))?;
    fs::create_dir_all(dir.join("s"))?;
    let mut pids = Vec::new();
    let mut result = Ok(Mem::default());
    for i in 0..n {
        match conmon_one(dir, bin, &root, rootfs, &format!("k{i}")) {
            Ok(p) => pids.push(p),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if result.is_ok() {
        thread::sleep(SETTLE);
        result = pids
            .iter()
            .try_fold(Mem::default(), |acc, &p| Ok(acc + read_mem(p)?));
    }
    for i in 0..n {
        let _ = Command::new(RUNC)
            .arg("--root")
            .arg(&root)
            .args(["delete", "--force", &format!("k{i}")])
            .stderr(Stdio::null())
            .status();
    }
    result
}

fn stats(v: &[u64]) -> (u64, u64, u64) {
    let mut s = v.to_vec();
    s.sort_unstable();
    (s[0], s[s.len() / 2], s[s.len() - 1])
}

fn mmm(v: &[u64]) -> String {
    let (a, b, c) = stats(v);
    format!("{a} / {b} / {c}")
}

fn med(v: &[u64]) -> f64 {
    stats(v).1 as f64
}

fn main() -> Result<()> {
    common::check_preconditions()?;
    let rounds: usize = std::env::var("PODMON_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let with_conmon = std::env::var("PODMON_BENCH_CONMON").as_deref() != Ok("0");
    let scratch = ScratchDir::new("memory")?;
    let rootfs = scratch.path().join("rootfs");
    common::make_rootfs(&rootfs)?;
    let bin = private_copy(&common::podmon_bin(), scratch.path(), "podmon")?;
    let conmon = (with_conmon && ensure_conmon())
        .then(|| private_copy(Path::new(CONMON), scratch.path(), "conmon"))
        .transpose()?;
    let mut podmon: Vec<PodmonRound> = Vec::new();
    let mut base: Vec<Vec<Mem>> = Vec::new();
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        podmon.push(podmon_round(scratch.path(), round, &bin, &rootfs)?);
        if let Some(cm) = &conmon {
            let mut r = Vec::new();
            for n in CONMON_COUNTS {
                let dir = scratch.path().join(format!("k{round}.{n}"));
                r.push(conmon_count(&dir, cm, &rootfs, n)?);
                let _ = fs::remove_dir_all(&dir);
            }
            base.push(r);
        }
    }
    report(&bin, conmon.as_deref(), &podmon, &base);
    Ok(())
}

fn column(rounds: &[Vec<Mem>], i: usize, f: fn(&Mem) -> u64) -> Vec<u64> {
    rounds.iter().map(|r| f(&r[i])).collect()
}

fn report(bin: &Path, conmon: Option<&Path>, podmon: &[PodmonRound], base: &[Vec<Mem>]) {
    let size = |p: &Path| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    println!("podmon binary: {} bytes", size(bin));
    if let Some(c) = conmon {
        println!("conmon binary: {} bytes", size(c));
    }
    let idle: Vec<Vec<Mem>> = podmon.iter().map(|r| r.idle.clone()).collect();
    println!("\n| monitor | containers | Pss kB min / median / max | USS kB | RssAnon kB |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (i, n) in COUNTS.iter().enumerate() {
        row("podmon", *n, &idle, i);
    }
    for (i, n) in CONMON_COUNTS.iter().enumerate() {
        if !base.is_empty() {
            row("conmon (sum)", *n, base, i);
        }
    }
    let pss = |i| column(&idle, i, |m| m.pss);
    let per = (med(&pss(2)) - med(&pss(0))) / 99.0;
    println!("\npodmon per extra container (1 -> 100, medians): {per:.1} kB Pss (goal <= 25)");
    let before: Vec<u64> = podmon.iter().map(|r| r.exec_anon.0).collect();
    let after: Vec<u64> = podmon.iter().map(|r| r.exec_anon.1).collect();
    println!(
        "RssAnon, 1 container, before / {SETTLE:?} after {EXEC_CLIENTS} clients x {EXEC_CALLS} ExecSync: {} -> {} kB (medians)",
        med(&before),
        med(&after)
    );
    if base.is_empty() {
        println!("no conmon baseline (not installed, or PODMON_BENCH_CONMON=0)");
        return;
    }
    for (i, n) in CONMON_COUNTS.iter().enumerate() {
        let j = COUNTS.iter().position(|c| c == n).unwrap_or(0);
        let r = med(&pss(j)) / med(&column(base, i, |m| m.pss));
        let goal = if *n == 1 { " (goal <= 1.0)" } else { "" };
        println!("Pss ratio podmon / conmon, {n} container(s): {r:.2}{goal}");
    }
    let u = med(&column(&idle, 0, |m| m.uss));
    println!("podmon USS, 1 container: {u} kB (goal <= 1024)");
}

fn row(name: &str, n: usize, rounds: &[Vec<Mem>], i: usize) {
    println!(
        "| {name} | {n} | {} | {} | {} |",
        mmm(&column(rounds, i, |m| m.pss)),
        mmm(&column(rounds, i, |m| m.uss)),
        mmm(&column(rounds, i, |m| m.anon))
    );
}
