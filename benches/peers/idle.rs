//! Idle cost: memory (Pss, USS, RssAnon summed over the monitor's
//! processes) at each container count of the ramp, idle wakeups at the
//! small counts, and the Pss each extra container adds.

use std::thread;
use std::time::Duration;

use crate::common::procfs::{self, Memory};
use crate::monitor::Monitor;
use crate::report::{Table, Who};
use crate::{Ctx, Result};

const SLEEPER: [&str; 2] = ["sleep", "100000"];

/// Memory of every process of `m`, summed.
fn memory(m: &dyn Monitor) -> Result<Memory> {
    let mut total = Memory::default();
    for pid in m.pids() {
        total += procfs::memory_kib(pid)?;
    }
    Ok(total)
}

fn switches(m: &dyn Monitor) -> Result<u64> {
    let mut total = 0;
    for pid in m.pids() {
        total += procfs::context_switches(pid)?;
    }
    Ok(total)
}

/// Wakeups per second of `m`'s processes over an idle window.
fn wakeups(m: &dyn Monitor, window: Duration) -> Result<f64> {
    let before = switches(m)?;
    thread::sleep(window);
    let after = switches(m)?;
    Ok(after.saturating_sub(before) as f64 / window.as_secs_f64())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "container" } else { "containers" }
}

/// One round of the ramp on a fresh monitor: start containers up to each
/// count, let it settle, read memory (and wakeups).
pub fn ramp(ctx: &Ctx, m: &mut dyn Monitor, round: usize, t: &mut Table) -> Result<()> {
    let who = Who::of(m.name());
    let args: Vec<String> = SLEEPER.map(String::from).to_vec();
    let mut started = 0;
    let mut first: Option<(usize, u64)> = None;
    let mut last = (0, 0);
    for &count in &ctx.sizes.counts {
        while started < count {
            let id = format!("idle{round}-{started}");
            let bundle = ctx.bundles.write(m.name(), &id, &args)?;
            m.run(&id, &bundle)?;
            started += 1;
        }
        thread::sleep(Duration::from_millis(ctx.sizes.settle_ms));
        let mem = memory(m)?;
        let n = format!("{count} {}", plural(count));
        t.push(&format!("idle Pss, {n}"), "kB", who, mem.pss as f64);
        t.push(&format!("idle USS, {n}"), "kB", who, mem.uss as f64);
        t.push(
            &format!("idle RssAnon, {n}"),
            "kB",
            who,
            mem.rss_anon as f64,
        );
        first.get_or_insert((count, mem.pss));
        last = (count, mem.pss);
        if count == ctx.sizes.pods && who == Who::Conmon {
            // conmon's N pods of one container are its N conmons.
            t.push(&pods_label(count), "kB", who, mem.pss as f64 / count as f64);
        }
        if ctx.sizes.wake_counts.contains(&count) {
            let w = wakeups(m, Duration::from_millis(ctx.sizes.wake_window_ms))?;
            t.push(&format!("idle wakeups, {n}"), "per s", who, w);
        }
    }
    if let Some((n0, p0)) = first.filter(|&(n0, _)| last.0 > n0) {
        let per = (last.1 as f64 - p0 as f64) / (last.0 - n0) as f64;
        t.push(
            &format!("Pss per extra container, {n0} → {}", last.0),
            "kB",
            who,
            per,
        );
    }
    Ok(())
}

fn pods_label(n: usize) -> String {
    format!("{n} pods of 1 container, Pss per pod")
}

/// The deployment figure: `ctx.sizes.pods` pods of one container each,
/// so as many podmons sharing one binary, Pss per pod.
pub fn pods(ctx: &Ctx, round: usize, t: &mut Table) -> Result<()> {
    let n = ctx.sizes.pods;
    let args: Vec<String> = SLEEPER.map(String::from).to_vec();
    let mut monitors = Vec::new();
    for k in 0..n {
        let mut p = ctx.podmon(&format!("i{round}pod{k}"))?;
        let id = format!("pod{round}-{k}");
        let bundle = ctx.bundles.write(p.name(), &id, &args)?;
        p.run(&id, &bundle)?;
        monitors.push(p);
    }
    thread::sleep(Duration::from_millis(ctx.sizes.settle_ms));
    let mut total = Memory::default();
    for p in &monitors {
        total += memory(p)?;
    }
    t.push(
        &pods_label(n),
        "kB",
        Who::Podmon,
        total.pss as f64 / n as f64,
    );
    for mut p in monitors {
        p.shutdown()?;
    }
    Ok(())
}
