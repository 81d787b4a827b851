//! Per-operation latencies, the monitors taking turns: exec of `true`
//! (and bare `runc exec` as the floor), create+start to running, and
//! exit detection (SIGKILL to the monitor reporting the exit).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::RUNC;
use crate::monitor::Monitor;
use crate::report::{Table, Who};
use crate::{Ctx, Result};

const WARMUP: usize = 3;

fn sleeper() -> Vec<String> {
    ["sleep", "100000"].map(String::from).to_vec()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn timed(f: impl FnOnce() -> Result<()>) -> Result<f64> {
    let t0 = Instant::now();
    f()?;
    Ok(ms(t0.elapsed()))
}

/// `runc exec ID true` with no monitor in between.
fn runc_exec(root: &Path, id: &str) -> Result<()> {
    let st = Command::new(RUNC)
        .arg("--root")
        .arg(root)
        .args(["exec", id, "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()?;
    if !st.success() {
        return Err(format!("runc exec {id} true: {st}").into());
    }
    Ok(())
}

const EXEC: &str = "exec of `true`, ExecSync / exec-sync";

/// Exec latency: one sleeper per monitor; podmon, conmon and bare runc
/// take turns.
pub fn exec(ctx: &Ctx, ms_: &mut [&mut dyn Monitor], t: &mut Table) -> Result<()> {
    for m in ms_.iter_mut() {
        let b = ctx.bundles.write(m.name(), "execd", &sleeper())?;
        m.run("execd", &b)?;
    }
    let root = ms_[0].runtime_root();
    for _ in 0..WARMUP {
        for m in ms_.iter_mut() {
            m.exec_true("execd")?;
        }
        runc_exec(&root, "execd")?;
    }
    for _ in 0..ctx.sizes.exec_samples {
        for m in ms_.iter_mut() {
            let d = timed(|| m.exec_true("execd"))?;
            t.push(EXEC, "ms", Who::of(m.name()), d);
        }
        let d = timed(|| runc_exec(&root, "execd"))?;
        t.push(EXEC, "ms", Who::Runc, d);
    }
    for m in ms_.iter_mut() {
        m.remove("execd")?;
    }
    Ok(())
}

/// Create+start of a sleeper until the monitor says it runs; each
/// deleted again, untimed.
pub fn create_start(ctx: &Ctx, ms_: &mut [&mut dyn Monitor], t: &mut Table) -> Result<()> {
    for i in 0..WARMUP + ctx.sizes.create_rounds {
        for m in ms_.iter_mut() {
            let id = format!("cs{i}");
            let b = ctx.bundles.write(m.name(), &id, &sleeper())?;
            let d = timed(|| m.run(&id, &b).map(drop))?;
            if i >= WARMUP {
                t.push("create+start → running", "ms", Who::of(m.name()), d);
            }
            m.remove(&id)?;
        }
    }
    Ok(())
}

/// SIGKILL to the container's process until the monitor reports the
/// exit: podmon's WaitContainer answer, conmon's exit file.
pub fn exit_detection(ctx: &Ctx, ms_: &mut [&mut dyn Monitor], t: &mut Table) -> Result<()> {
    for i in 0..ctx.sizes.exit_rounds {
        for m in ms_.iter_mut() {
            let id = format!("ex{i}");
            let b = ctx.bundles.write(m.name(), &id, &sleeper())?;
            let pid = m.run(&id, &b)?;
            std::thread::sleep(Duration::from_millis(50));
            let d = m.kill_detect(&id, pid)?;
            t.push(
                "exit detection, SIGKILL → reported",
                "ms",
                Who::of(m.name()),
                ms(d),
            );
            m.remove(&id)?;
        }
    }
    Ok(())
}
