//! Helpers shared by the benches: a scratch directory on a real disk, a
//! busybox rootfs, a `podmon serve` process, podmon's Varlink client with
//! shorthands for the benches' calls, and readings from /proc.
//!
//! Each bench uses only part of this module, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod crilog;
pub mod procfs;
pub mod server;
pub mod stats;
pub mod varlink;

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// The OCI runtime podmon drives, and that the benches call directly.
pub const RUNC: &str = "/usr/sbin/runc";
/// A statically linked busybox: the only program in the container rootfs.
pub const BUSYBOX: &str = "/bin/busybox";

/// The podmon binary: `PODMON_BIN` if set (to bench another build), else the
/// one cargo built for this bench (benches get `CARGO_BIN_EXE_*` like tests).
pub fn podmon_bin() -> PathBuf {
    std::env::var_os("PODMON_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_podmon")))
}

/// Fails the bench early with a readable message when the machine cannot
/// run it (the benches need root to run containers).
pub fn check_preconditions() -> io::Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(io::Error::other(
            "the benches run containers: run them as root",
        ));
    }
    for p in [RUNC, BUSYBOX] {
        if !Path::new(p).exists() {
            return Err(io::Error::other(format!("{p} is missing")));
        }
    }
    Ok(())
}

/// Where the benches' scratch directories go: `$PODMON_BENCH_DIR` or
/// /var/tmp (as [`ScratchDir::new`] picks it).
pub fn scratch_base() -> PathBuf {
    std::env::var_os("PODMON_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"))
}

/// A directory for one bench run, removed (with everything in it, logs of
/// a GiB included) when dropped.
pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    /// `$PODMON_BENCH_DIR` or /var/tmp: a disk file system, not tmpfs, so
    /// the log write path is the one production sees. The path stays short
    /// because the Varlink socket lives in it (sun_path is 108 bytes).
    pub fn new(name: &str) -> io::Result<ScratchDir> {
        let base = std::env::var_os("PODMON_BENCH_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/tmp"));
        let dir = base.join(format!("podmon-{name}.{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        Ok(ScratchDir(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The file system type of `p` ("ext4", "tmpfs", or the magic number), so
/// the output says where the bytes went.
pub fn fs_type(p: &Path) -> String {
    let Ok(st) = rustix::fs::statfs(p) else {
        return "unknown".into();
    };
    match st.f_type as u64 {
        0xEF53 => "ext4".into(),
        0x0102_1994 => "tmpfs".into(),
        0x5846_5342 => "xfs".into(),
        0x9123_683E => "btrfs".into(),
        0x794C_7630 => "overlayfs".into(),
        other => format!("0x{other:x}"),
    }
}

/// A minimal rootfs: /bin/busybox plus one symlink per applet, and the
/// empty mount points runc expects.
pub fn make_rootfs(dir: &Path) -> io::Result<()> {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin)?;
    for d in ["proc", "sys", "dev", "tmp", "etc"] {
        fs::create_dir_all(dir.join(d))?;
    }
    fs::copy(BUSYBOX, bin.join("busybox"))?;
    let list = std::process::Command::new(BUSYBOX).arg("--list").output()?;
    if !list.status.success() {
        return Err(io::Error::other("busybox --list failed"));
    }
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if !applet.is_empty() && applet != "busybox" {
            symlink("busybox", bin.join(applet))?;
        }
    }
    Ok(())
}
