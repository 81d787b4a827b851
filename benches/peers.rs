//! podmon against conmon, side by side in one run.
//!
//! `cargo bench --bench peers` (`-- --quick` for a smoke run of a minute
//! or two, `-- --json` for JSON on stdout) installs Debian's conmon when
//! it is missing and measures both monitors, taking turns (A B A B) so a
//! slow stretch of the machine hits both alike:
//!   - idle memory with 1, 10 and 100 containers: Pss, USS
//!     (smaps_rollup) and RssAnon, summed over the monitor's processes
//!     (podmon: one per pod; conmon: one per container), each monitor
//!     from a private copy of its binary so no page of it is shared with
//!     a process outside the bench; and the Pss per extra container;
//!   - idle wakeups (context switches of every thread) at 1 and 10;
//!   - log throughput of 1 GiB of 100-byte lines (MiB/s, and the
//!     monitor's CPU seconds per GiB);
//!   - exec of `true`: podmon's ExecSync, conmon's exec-sync (`conmon -e`)
//!     and bare `runc exec`;
//!   - create+start until running; exit detection (SIGKILL to the
//!     container's process until podmon's WaitContainer answers / conmon
//!     has written its exit file).
//!
//! Every container runs from the same config.json (the one podmon writes
//! for the busybox rootfs, with only the command and cgroup path set),
//! under runc. It prints min / median / max per monitor and the ratio of
//! the medians, podmon/conmon. It is not a test: it exits non-zero only
//! when the bench itself breaks.

mod common;
#[path = "peers/conmon.rs"]
mod conmon;
#[path = "peers/env.rs"]
mod env;
#[path = "peers/idle.rs"]
mod idle;
#[path = "peers/logs.rs"]
mod logs;
#[path = "peers/monitor.rs"]
mod monitor;
#[path = "peers/ops.rs"]
mod ops;
#[path = "peers/report.rs"]
mod report;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Instant;

use common::ScratchDir;
use env::{Bundles, Opts, Sizes};
use monitor::{Monitor, Podmon};
use report::Table;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// What every phase needs.
pub struct Ctx {
    pub sizes: Sizes,
    pub bundles: Bundles,
    pub scratch: PathBuf,
    pub podmon_bin: PathBuf,
    pub conmon_bin: PathBuf,
    pub exec_spec: serde_json::Value,
    started: Instant,
}

impl Ctx {
    fn podmon(&self, tag: &str) -> Result<Podmon> {
        Podmon::start(&self.scratch.join(tag), tag, &self.podmon_bin)
    }

    fn conmon(&self, tag: &str) -> Result<conmon::Conmon> {
        conmon::Conmon::new(&self.scratch.join(tag), &self.conmon_bin, &self.exec_spec)
    }

    fn progress(&self, what: &str) {
        eprintln!(
            "peers: [{:5.1} s] {what}",
            self.started.elapsed().as_secs_f64()
        );
    }
}

/// The busybox rootfs, private binaries and the shared config.json.
fn setup(opts: Opts, scratch: &Path) -> Result<Ctx> {
    let rootfs = scratch.join("rootfs");
    common::make_rootfs(&rootfs)?;
    logs::write_block(&rootfs)?;
    let bin = scratch.join("bin");
    let podmon_bin = env::private_copy(&common::podmon_bin(), &bin)?;
    let conmon_bin = env::private_copy(Path::new(env::CONMON), &bin)?;
    let template = scratch.join("config.json");
    let mut p = Podmon::start(&scratch.join("t"), "template", &podmon_bin)?;
    p.template_config(&rootfs, &template)?;
    p.shutdown()?;
    let bundles = Bundles::new(&template, &scratch.join("b"))?;
    let exec_spec = bundles.process(&["true"]);
    Ok(Ctx {
        sizes: Sizes::new(opts.quick),
        bundles,
        scratch: scratch.to_owned(),
        podmon_bin,
        conmon_bin,
        exec_spec,
        started: Instant::now(),
    })
}

/// The idle ramp, a fresh monitor of each kind per round.
fn idle_phase(ctx: &Ctx, t: &mut Table) -> Result<()> {
    for r in 0..ctx.sizes.mem_rounds {
        ctx.progress(&format!(
            "idle round {} of {}: podmon",
            r + 1,
            ctx.sizes.mem_rounds
        ));
        let mut p = ctx.podmon(&format!("i{r}p"))?;
        idle::ramp(ctx, &mut p, r, t)?;
        p.shutdown()?;
        idle::pods(ctx, r, t)?;
        ctx.progress(&format!(
            "idle round {} of {}: conmon",
            r + 1,
            ctx.sizes.mem_rounds
        ));
        let mut c = ctx.conmon(&format!("i{r}c"))?;
        idle::ramp(ctx, &mut c, r, t)?;
        c.shutdown()?;
    }
    Ok(())
}

/// Exec, create+start, exit detection and logs on one monitor of each.
fn ops_phase(ctx: &Ctx, t: &mut Table) -> Result<()> {
    let mut p = ctx.podmon("op")?;
    let mut c = ctx.conmon("oc")?;
    {
        let mut ms: [&mut dyn Monitor; 2] = [&mut p, &mut c];
        ctx.progress("exec latency");
        ops::exec(ctx, &mut ms, t)?;
        ctx.progress("create+start");
        ops::create_start(ctx, &mut ms, t)?;
        ctx.progress("exit detection");
        ops::exit_detection(ctx, &mut ms, t)?;
        ctx.progress(&format!(
            "log throughput ({} MiB per run)",
            ctx.sizes.log_mib
        ));
        logs::throughput(ctx, &mut ms, t)?;
    }
    p.shutdown()?;
    c.shutdown()?;
    Ok(())
}

fn print_header(h: &serde_json::Value, quick: bool) {
    let s = |k: &str| h[k].as_str().unwrap_or("?").to_owned();
    println!(
        "peers{}: {}; {} × {} ({} MiB), Linux {}; load at start {}",
        if quick { " (--quick)" } else { "" },
        s("date"),
        h["cpus"],
        s("cpu"),
        h["memory_mib"],
        s("kernel"),
        s("loadavg_at_start")
    );
    println!(
        "{} ({} bytes), {}, {}",
        s("podmon"),
        h["podmon_binary_bytes"],
        s("conmon"),
        s("runc")
    );
    println!();
}

fn run() -> Result<()> {
    let opts = Opts::parse()?;
    common::check_preconditions()?;
    env::ensure_conmon()?;
    env::clean_stale_runs(&common::scratch_base());
    let scratch = ScratchDir::new("peers")?;
    let ctx = setup(opts, scratch.path())?;
    let header = env::describe(&ctx.podmon_bin);
    let mut t = Table::default();
    let res = idle_phase(&ctx, &mut t).and_then(|()| ops_phase(&ctx, &mut t));
    ctx.bundles.remove_cgroups();
    res?;
    ctx.progress("done");
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&t.json(&header))?);
    } else {
        print_header(&header, opts.quick);
        print!("{}", t.markdown());
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("peers: {e}");
        std::process::exit(1);
    }
}
