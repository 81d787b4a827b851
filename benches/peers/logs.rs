//! Log throughput: a container writes N MiB of 100-byte lines to stdout
//! and the monitor turns them into a CRI log file; timed from the start
//! to the monitor reporting the exit with every byte in the log (both
//! sync the log at exit by default: podmon's `logSync: exit`, conmon
//! without `--no-sync-log`), with the monitor's CPU time over that span.
//!
//! The generator is the one of the `log_throughput` bench: busybox `cat`
//! of one block file over and over (sendfile, so the generator is not the
//! bottleneck, which `yes | head -c` would be at ~200 MiB/s here).

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::common::stats::mib_per_s;
use crate::monitor::Monitor;
use crate::report::{Table, Who};
use crate::{Ctx, Result};

/// Bytes per line, newline included, and lines per block file.
const LINE: usize = 100;
const BLOCK_LINES: usize = 40_000;
const BLOCK_BYTES: u64 = (LINE * BLOCK_LINES) as u64;
/// Where the block file is, inside the rootfs.
pub const BLOCK: &str = "bench/block";

/// Cats `$2` `$3` times with the busybox at `$1`; fails on a failed cat.
const GENERATOR: &str =
    r#"i=0; while [ "$i" -lt "$3" ]; do "$1" cat "$2" || exit 1; i=$((i+1)); done"#;

/// Writes the block file into the rootfs: 99 printable bytes (a running
/// digit pattern) and a newline, `BLOCK_LINES` times.
pub fn write_block(rootfs: &Path) -> Result<()> {
    let path = rootfs.join(BLOCK);
    fs::create_dir_all(path.parent().ok_or("block path without a parent")?)?;
    let mut line: Vec<u8> = (0..LINE - 1).map(|i| b'0' + (i % 10) as u8).collect();
    line.push(b'\n');
    File::create(&path)?.write_all(&line.repeat(BLOCK_LINES))?;
    Ok(())
}

/// Block copies nearest to `mib` MiB (at least one).
fn repeats(mib: u64) -> u64 {
    ((mib << 20) as f64 / BLOCK_BYTES as f64).round().max(1.0) as u64
}

fn command(repeats: u64) -> Vec<String> {
    let block = format!("/{BLOCK}");
    let n = repeats.to_string();
    [
        "/bin/busybox",
        "sh",
        "-c",
        GENERATOR,
        "gen",
        "/bin/busybox",
        &block,
        &n,
    ]
    .map(String::from)
    .to_vec()
}

/// The rounds, the monitors taking turns; the disk is synced between
/// runs so one run's writeback does not slow the next.
pub fn throughput(ctx: &Ctx, ms_: &mut [&mut dyn Monitor], t: &mut Table) -> Result<()> {
    let n = repeats(ctx.sizes.log_mib);
    let bytes = n * BLOCK_BYTES;
    let mib = bytes >> 20;
    let cmd = command(n);
    for i in 0..ctx.sizes.log_rounds {
        for m in ms_.iter_mut() {
            let id = format!("log{i}");
            let b = ctx.bundles.write(m.name(), &id, &cmd)?;
            rustix::fs::sync();
            let r = m.run_to_exit(&id, &b)?;
            rustix::fs::sync();
            if r.log_bytes < bytes {
                return Err(format!(
                    "{}: log of {} bytes for {bytes} of output",
                    m.name(),
                    r.log_bytes
                )
                .into());
            }
            let who = Who::of(m.name());
            let gib = bytes as f64 / (1u64 << 30) as f64;
            t.push(
                &format!("log throughput, {mib} MiB"),
                "MiB/s",
                who,
                mib_per_s(bytes, r.elapsed),
            );
            t.push(
                &format!("monitor CPU, {mib} MiB of logs"),
                "CPU-s/GiB",
                who,
                r.cpu.as_secs_f64() / gib,
            );
        }
    }
    Ok(())
}
