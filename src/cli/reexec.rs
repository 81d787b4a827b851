//! `podmon upgrade`: asks the monitor to exec the binary on disk
//! (`Reexec`), then waits until the new image answers on the same socket.
//! The call's connection closes at the exec; the new image is the one
//! whose `GetPod` names a later start than the one asked.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use super::failure::{Failure, names};
use super::output;
use crate::proto::{self, call};
use crate::varlink::client::Client;

/// Pause between attempts to reach the upgraded monitor.
const RETRY: Duration = Duration::from_millis(20);

/// An upgrade that did not happen as asked.
fn failed(message: String) -> anyhow::Error {
    Failure::new(
        names::UPGRADE_FAILED,
        json!({ "message": message }),
        message,
    )
    .into()
}

/// Runs the upgrade and prints the new monitor's version and pid (with
/// `json`, its `GetPod` reply).
pub fn run(socket: &Path, timeout: Duration, json: bool) -> anyhow::Result<i32> {
    let describe = |e| Failure::client(&e, socket);
    let mut client = Client::connect(socket).map_err(describe)?;
    let before = call::call(&mut client, &proto::GetPod {}).map_err(describe)?;
    call::call(&mut client, &proto::Reexec {}).map_err(describe)?;
    // The old image answers on this connection until it ends them all.
    let end = Instant::now() + timeout;
    while call::call(&mut client, &proto::GetPod {}).is_ok() {
        if Instant::now() >= end {
            return Err(failed(format!(
                "the monitor did not exec within {}s",
                timeout.as_secs()
            )));
        }
        std::thread::sleep(RETRY);
    }
    let after = loop {
        let reply = Client::connect(socket).and_then(|mut c| call::call(&mut c, &proto::GetPod {}));
        match reply {
            Ok(p) if p.started_at != before.started_at => break p,
            Ok(_) | Err(_) if Instant::now() < end => std::thread::sleep(RETRY),
            Ok(_) => return Err(failed("the monitor still runs its old image".into())),
            Err(e) => {
                return Err(anyhow::Error::new(describe(e)))
                    .context("the upgraded monitor does not answer");
            }
        }
    };
    if after.monitor.pid != before.monitor.pid {
        return Err(failed(format!(
            "the monitor's pid changed ({} to {}): it was restarted, not upgraded in place",
            before.monitor.pid, after.monitor.pid
        )));
    }
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
    Ok(0)
}
