//! Log throughput: how fast podmon moves a container's stdout into its CRI
//! log file, against the disk's own speed.
//!
//! `cargo bench --bench log_throughput` writes the same bytes (1 GiB of
//! 100-byte lines; `PODMON_BENCH_MIB` scales it) in these ways, all
//! produced by the same busybox generator:
//!   1. to a file on the same file system as podmon's log dir (raw `cat`),
//!   2. into a pipe the bench drains and discards (the generator's ceiling),
//!   3. from a container's stdout through podmon into `<log-dir>/<id>.log`,
//!      once per log sync policy (`never`, `interval`, `exit`; timed from
//!      StartContainer to WaitContainer, so `exit` includes its sync).
//!
//! Raw and the three podmon paths run interleaved, [`RUNS`] rounds, and
//! each prints min/median/max MiB/s and CPU seconds per GiB, with the
//! median's ratio to raw's median. It exits non-zero only when the bench
//! itself breaks; missing the goal prints FAIL.

mod common;

use std::error::Error;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::server::Server;
use common::stats::mib_per_s;
use common::varlink;
use common::{ScratchDir, procfs};
use podmon::proto;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Bytes per line, newline included.
const LINE: usize = 100;
/// Lines per block file. The generator `cat`s one block file over and
/// over: busybox cat copies with sendfile and a few hundred execs cost
/// little, whereas `yes | head -c` tops out near 200 MiB/s here and would
/// be the bottleneck.
const BLOCK_LINES: usize = 40_000;
const BLOCK_BYTES: u64 = (LINE * BLOCK_LINES) as u64;
/// Goals: podmon at least half the raw file speed, at most 1 CPU-s/GiB.
const GOAL_RATIO: f64 = 0.5;
const GOAL_CPU_PER_GIB: f64 = 1.0;
/// Rounds of raw and of each podmon path, for min/median/max: single runs
/// vary up to twofold here (a fresh file's block allocation, writeback of
/// the previous run, the scheduler's placement on 2 cores).
const RUNS: usize = 5;
/// The podmon paths: each log sync policy.
const POLICIES: [(&str, proto::LogSync); 3] = [
    ("never", proto::LogSync::Never),
    ("interval", proto::LogSync::Interval),
    ("exit", proto::LogSync::Exit),
];
/// Longest the container may take to write its output.
const WAIT_TIMEOUT: Duration = Duration::from_secs(1800);
/// Pipe and read sizes of podmon's log pumps (src/logs/mod.rs), used for
/// the generator-alone run so it drains the pipe the way podmon does.
const PIPE_SIZE: usize = 1 << 20;
const READ_SIZE: usize = 256 * 1024;

/// Cats `$2` `$3` times with the busybox at `$1`; fails on a failed cat.
const GENERATOR: &str =
    r#"i=0; while [ "$i" -lt "$3" ]; do "$1" cat "$2" || exit 1; i=$((i+1)); done"#;

/// What the generator writes: `repeats` copies of one block of lines.
struct Workload {
    repeats: u64,
}

impl Workload {
    /// The block count nearest to `mib` MiB (at least one block).
    fn new(mib: u64) -> Workload {
        let repeats = ((mib << 20) as f64 / BLOCK_BYTES as f64).round().max(1.0) as u64;
        Workload { repeats }
    }

    fn bytes(&self) -> u64 {
        self.repeats * BLOCK_BYTES
    }

    fn lines(&self) -> u64 {
        self.repeats * BLOCK_LINES as u64
    }

    /// The generator's argv, for a busybox and block file at these paths
    /// (host paths outside the container, rootfs paths inside).
    fn command(&self, busybox: &str, block: &str) -> Vec<String> {
        [
            busybox,
            "sh",
            "-c",
            GENERATOR,
            "gen",
            busybox,
            block,
            &self.repeats.to_string(),
        ]
        .map(String::from)
        .to_vec()
    }
}

/// Writes the block file: 99 printable bytes (a running digit pattern, so
/// a line is not one repeated byte) and a newline, `BLOCK_LINES` times.
fn write_block(path: &Path) -> Result<()> {
    let mut line: Vec<u8> = (0..LINE - 1).map(|i| b'0' + (i % 10) as u8).collect();
    line.push(b'\n');
    let mut f = File::create(path)?;
    f.write_all(&line.repeat(BLOCK_LINES))?;
    Ok(())
}

/// One measured run.
struct Measured {
    elapsed: Duration,
    cpu: Duration,
}

impl Measured {
    fn cpu_per_gib(&self, bytes: u64) -> f64 {
        self.cpu.as_secs_f64() * (1u64 << 30) as f64 / bytes as f64
    }
}

/// CPU time of every child reaped so far; the delta over a run is the CPU
/// the run's processes (generator shell, its cats, the pipe reader) used.
fn children_cpu() -> Duration {
    // SAFETY: rusage is plain data; getrusage only writes it.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Runs the generator on the host with stdout going to `out`.
fn run_host(cmd: &[String], out: Stdio) -> Result<Measured> {
    let cpu0 = children_cpu();
    let t0 = Instant::now();
    let st = Command::new(&cmd[0]).args(&cmd[1..]).stdout(out).status()?;
    let elapsed = t0.elapsed();
    if !st.success() {
        return Err(format!("generator failed: {st}").into());
    }
    Ok(Measured {
        elapsed,
        cpu: children_cpu() - cpu0,
    })
}

/// The generator into a pipe that this process drains and discards, with
/// podmon's pipe size and read size: what a pipe reader could get at best.
/// (Straight into /dev/null would measure nothing: sendfile to /dev/null
/// copies no bytes.)
fn measure_generator(cmd: &[String], expected: u64) -> Result<Measured> {
    let cpu0 = children_cpu();
    let t0 = Instant::now();
    let mut gen_proc = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut pipe = gen_proc.stdout.take().ok_or("no generator pipe")?;
    let _ = rustix::pipe::fcntl_setpipe_size(&pipe, PIPE_SIZE);
    let mut buf = vec![0u8; READ_SIZE];
    let mut total = 0u64;
    loop {
        match pipe.read(&mut buf)? {
            0 => break,
            n => total += n as u64,
        }
    }
    let st = gen_proc.wait()?;
    let elapsed = t0.elapsed();
    if !st.success() || total != expected {
        return Err(format!("generator failed: {st}, {total} of {expected} bytes").into());
    }
    Ok(Measured {
        elapsed,
        cpu: children_cpu() - cpu0,
    })
}

/// Drops dirty pages of earlier runs so one run's writeback does not slow
/// the next.
fn sync_disks() {
    rustix::fs::sync();
}

/// The generator into a fresh file, once.
fn measure_raw(cmd: &[String], out: &Path) -> Result<Measured> {
    sync_disks();
    let m = run_host(cmd, Stdio::from(File::create(out)?))?;
    fs::remove_file(out)?;
    sync_disks();
    Ok(m)
}

/// What one podmon run measured, and what its log file held.
struct PodmonRun {
    m: Measured,
    log_bytes: u64,
    check: LogCheck,
}

/// Runs the generator in a container and times StartContainer through
/// WaitContainer, which answers once every byte is in the log; then reads
/// the log back and deletes it (each run leaves ~1.4 GiB).
fn measure_podmon(
    server: &Server,
    rootfs: &Path,
    cmd: &[String],
    id: &str,
    sync: proto::LogSync,
) -> Result<PodmonRun> {
    let mut c = server.client(WAIT_TIMEOUT)?;
    let argv: Vec<&str> = cmd.iter().map(String::as_str).collect();
    c.create_with(id, rootfs, &argv, Some(sync))?;
    let cpu0 = procfs::cpu_time(server.pid())?;
    let t0 = Instant::now();
    c.start(id)?;
    let reply = c.wait(id)?;
    let elapsed = t0.elapsed();
    let cpu = procfs::cpu_time(server.pid())? - cpu0;
    if reply.exit_code != Some(0) {
        return Err(format!(
            "the generator container exited with {:?}: {}",
            Some(reply.exit_code),
            varlink::json(&reply)
        )
        .into());
    }
    let log_bytes = reply.container.log_bytes_written;
    c.delete(id, false)?;
    let log = server.log_path(id);
    let check = check_log(&log)?;
    fs::remove_file(&log)?;
    sync_disks();
    Ok(PodmonRun {
        m: Measured { elapsed, cpu },
        log_bytes,
        check,
    })
}

/// Every run of one round: raw first, then each podmon path.
struct Round {
    raw: Measured,
    pods: Vec<PodmonRun>,
}

/// `RUNS` rounds, raw and the podmon paths interleaved so that a slow
/// stretch of the disk hits every path alike.
fn measure_rounds(
    server: &Server,
    rootfs: &Path,
    host_cmd: &[String],
    container_cmd: &[String],
    raw_out: &Path,
) -> Result<Vec<Round>> {
    let mut rounds = Vec::new();
    for i in 0..RUNS {
        let raw = measure_raw(host_cmd, raw_out)?;
        let mut pods = Vec::new();
        for (name, sync) in POLICIES {
            let id = format!("gen-{name}-{i}");
            pods.push(measure_podmon(server, rootfs, container_cmd, &id, sync)?);
        }
        rounds.push(Round { raw, pods });
    }
    Ok(rounds)
}

/// Counts of the log's records.
#[derive(Debug, Default)]
struct LogCheck {
    records: u64,
    /// Partial records: a line cut where a read of the pipe ended.
    partial: u64,
    /// Lines (a run of P records closed by an F record) of exactly the
    /// generated length, on stdout.
    good_lines: u64,
    /// Anything else: wrong stream, tag or length.
    bad: u64,
}

/// Reads the CRI log back: every line the generator wrote should come out
/// as `<ts> stdout F <99 bytes>`, possibly preceded by P records holding
/// its first part.
fn check_log(path: &Path) -> Result<LogCheck> {
    let mut r = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut record = Vec::with_capacity(256);
    let mut check = LogCheck::default();
    let mut pending = 0; // bytes of the current line seen in P records
    loop {
        record.clear();
        if r.read_until(b'\n', &mut record)? == 0 {
            if pending != 0 {
                check.bad += 1;
            }
            return Ok(check);
        }
        check.records += 1;
        let mut fields = record
            .strip_suffix(b"\n")
            .unwrap_or(&record)
            .splitn(4, |&b| b == b' ');
        let (_ts, stream, tag, text) = (fields.next(), fields.next(), fields.next(), fields.next());
        let len = text.map_or(0, <[u8]>::len);
        match (stream, tag) {
            (Some(b"stdout"), Some(b"P")) => {
                check.partial += 1;
                pending += len;
            }
            (Some(b"stdout"), Some(b"F")) if pending + len == LINE - 1 => {
                check.good_lines += 1;
                pending = 0;
            }
            _ => {
                check.bad += 1;
                pending = 0;
            }
        }
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

/// One podmon run: its time and what its log held.
fn run_summary(w: &Workload, r: &PodmonRun) -> String {
    let c = &r.check;
    format!(
        "{:.2} s, {:.2} CPU-s, log {:.0} MiB, {} records ({} partial), {} whole lines of {} expected, {} malformed: {}",
        r.m.elapsed.as_secs_f64(),
        r.m.cpu.as_secs_f64(),
        r.log_bytes as f64 / (1 << 20) as f64,
        c.records,
        c.partial,
        c.good_lines,
        w.lines(),
        c.bad,
        verdict(c.good_lines == w.lines() && c.bad == 0)
    )
}

/// Min, median and max of `xs`.
fn spread(mut xs: Vec<f64>) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    (xs[0], xs[xs.len() / 2], xs[xs.len() - 1])
}

/// One table row: MiB/s and CPU-s/GiB, min / median / max; returns the
/// medians.
fn row(name: &str, runs: &[&Measured], bytes: u64, who: &str) -> (f64, f64) {
    let rate = spread(runs.iter().map(|m| mib_per_s(bytes, m.elapsed)).collect());
    let cpu = spread(runs.iter().map(|m| m.cpu_per_gib(bytes)).collect());
    println!(
        "| {name} | {:.0} / {:.0} / {:.0} | {:.2} / {:.2} / {:.2} ({who}) |",
        rate.0, rate.1, rate.2, cpu.0, cpu.1, cpu.2
    );
    (rate.1, cpu.1)
}

fn print_report(w: &Workload, generator: &Measured, rounds: &[Round]) {
    let bytes = w.bytes();
    println!();
    println!("| path ({RUNS} runs) | MiB/s min / median / max | CPU-s/GiB min / median / max |");
    println!("| --- | ---: | ---: |");
    let raws: Vec<&Measured> = rounds.iter().map(|r| &r.raw).collect();
    let (raw_rate, _) = row("raw `cat` > file", &raws, bytes, "writer");
    row(
        "generator → pipe → discarded (1 run)",
        &[generator],
        bytes,
        "generator",
    );
    let mut goals = Vec::new();
    for (i, (name, _)) in POLICIES.iter().enumerate() {
        let runs: Vec<&Measured> = rounds.iter().map(|r| &r.pods[i].m).collect();
        let (rate, cpu) = row(&format!("podmon, logSync {name}"), &runs, bytes, "podmon");
        let slowest = runs
            .iter()
            .map(|m| mib_per_s(bytes, m.elapsed))
            .fold(f64::MAX, f64::min);
        goals.push((name, rate / raw_rate, slowest / raw_rate, cpu));
    }
    println!();
    for (name, ratio, worst, cpu) in &goals {
        println!(
            "podmon ({name})/raw, medians: {ratio:.2}, slowest run: {worst:.2}; goal every run ≥ {GOAL_RATIO} → {}, median ≤ {GOAL_CPU_PER_GIB} CPU-s/GiB → {}",
            verdict(*worst >= GOAL_RATIO),
            verdict(*cpu <= GOAL_CPU_PER_GIB)
        );
    }
    for r in rounds.iter().flat_map(|r| &r.pods) {
        println!("podmon run: {}", run_summary(w, r));
    }
    let fastest = rounds
        .iter()
        .flat_map(|r| &r.pods)
        .map(|p| p.m.elapsed)
        .min();
    if fastest.is_some_and(|f| generator.elapsed >= f.mul_f64(0.8)) {
        println!(
            "warning: the generator alone is close to podmon's time; it may be the bottleneck"
        );
    }
}

fn run() -> Result<()> {
    common::check_preconditions()?;
    let mib: u64 = match std::env::var("PODMON_BENCH_MIB") {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("PODMON_BENCH_MIB={v:?} is not a number of MiB"))?,
        Err(_) => 1024,
    };
    let w = Workload::new(mib);
    let scratch = ScratchDir::new("log-bench")?;
    let rootfs = scratch.path().join("rootfs");
    common::make_rootfs(&rootfs)?;
    fs::create_dir_all(rootfs.join("bench"))?;
    write_block(&rootfs.join("bench/block"))?;
    let server = Server::start(scratch.path(), "logbench")?;
    println!(
        "log_throughput: {} lines of {LINE} bytes ({:.1} MiB) per run; log dir {} ({}); raw file in {} ({})",
        w.lines(),
        w.bytes() as f64 / (1 << 20) as f64,
        server.log_dir.display(),
        common::fs_type(&server.log_dir),
        scratch.path().display(),
        common::fs_type(scratch.path()),
    );

    let busybox = rootfs.join("bin/busybox");
    let host_cmd = w.command(
        &busybox.to_string_lossy(),
        &rootfs.join("bench/block").to_string_lossy(),
    );
    let generator = measure_generator(&host_cmd, w.bytes())?;
    let container_cmd = w.command("/bin/busybox", "/bench/block");
    let raw_out = scratch.path().join("raw.out");
    let rounds = measure_rounds(&server, &rootfs, &host_cmd, &container_cmd, &raw_out)?;
    print_report(&w, &generator, &rounds);
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("log_throughput: {e}");
        std::process::exit(1);
    }
}
