//! `podmon upgrade`: asks the monitor to exec the binary on disk
//! (`Reexec`), then waits until the new image answers on the same socket.
//! The call's connection closes at the exec; the new image is the one
//! whose `GetPod` names a later start than the one asked.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

use super::errors;
use super::output;
use crate::proto::{self, call};
use crate::varlink::client::Client;

/// Pause between attempts to reach the upgraded monitor.
const RETRY: Duration = Duration::from_millis(20);

/// Runs the upgrade and prints the new monitor's version and pid.
pub fn run(socket: &Path, timeout: Duration, json: bool) -> anyhow::Result<i32> {
    let describe = |e| anyhow!(errors::describe(&e, socket));
    let mut client = Client::connect(socket).map_err(describe)?;
    let before = call::call(&mut client, &proto::GetPod {}).map_err(describe)?;
    call::call(&mut client, &proto::Reexec {}).map_err(describe)?;
    // The old image answers on this connection until it ends them all.
    let end = Instant::now() + timeout;
    while call::call(&mut client, &proto::GetPod {}).is_ok() {
        if Instant::now() >= end {
            bail!("the monitor did not exec within {}s", timeout.as_secs());
        }
        std::thread::sleep(RETRY);
    }
    let after = loop {
        let reply = Client::connect(socket).and_then(|mut c| call::call(&mut c, &proto::GetPod {}));
        match reply {
            Ok(p) if p.started_at != before.started_at => break p,
            Ok(_) | Err(_) if Instant::now() < end => std::thread::sleep(RETRY),
            Ok(_) => bail!("the monitor still runs its old image"),
            Err(e) => return Err(describe(e)).context("the upgraded monitor does not answer"),
        }
    };
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", output::json_line(&call::to_map(&after)))?;
    } else {
        writeln!(
            out,
            "upgraded: podmon {} (was {}), pid {}",
            after.version, before.version, after.monitor.pid
        )?;
    }
    if after.monitor.pid != before.monitor.pid {
        bail!(
            "the monitor's pid changed ({} to {}): it was restarted, not upgraded in place",
            before.monitor.pid,
            after.monitor.pid
        );
    }
    Ok(0)
}
