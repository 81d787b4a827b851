//! What the integration tests need from the machine: root, runc, the shared
//! busybox rootfs and the systemd tools, checked once per test binary; and
//! the removal of what dead test runs left behind.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where scripts/install-deps puts varlinkctl and systemd-socket-activate.
pub const TOOLS_BIN: &str = "/opt/podmon-tools/bin";

pub fn podmon_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_podmon"))
}

pub fn project_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Base directory of everything the tests create.
pub fn test_base() -> PathBuf {
    std::env::temp_dir().join("podmon-tests")
}

pub struct TestEnv {
    /// Absolute path of runc.
    pub runc: PathBuf,
    /// A busybox rootfs made by scripts/make-rootfs, shared by the tests of this binary.
    pub rootfs: PathBuf,
}

fn is_executable(p: &Path) -> bool {
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Finds an executable on PATH and in the sbin directories (root's PATH may lack them).
pub fn find_executable(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    for d in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        dirs.push(PathBuf::from(d));
    }
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_absolute() && is_executable(p))
}

/// The test environment; panics (fails the test) with a clear message when
/// the machine cannot run the integration tests.
pub fn env() -> &'static TestEnv {
    static ENV: OnceLock<Result<TestEnv, String>> = OnceLock::new();
    match ENV.get_or_init(init_env) {
        Ok(e) => e,
        Err(msg) => panic!(
            "podmon integration tests cannot run here: {msg}\n\
             These tests need root and runc; run `sudo scripts/install-deps`, then `sudo scripts/test`."
        ),
    }
}

fn init_env() -> Result<TestEnv, String> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Err(format!("not running as root (euid {euid})"));
    }
    let runc = match std::env::var_os("PODMON_TEST_RUNC") {
        Some(p) => PathBuf::from(p),
        None => find_executable("runc").ok_or("runc not found on PATH or in /usr/sbin")?,
    };
    if !runc.is_absolute() || !is_executable(&runc) {
        return Err(format!(
            "runc at {} is not an executable absolute path",
            runc.display()
        ));
    }
    let out = Command::new(&runc)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", runc.display()))?;
    if !out.status.success() {
        return Err(format!("{} --version failed", runc.display()));
    }
    let base = test_base();
    fs::create_dir_all(&base).map_err(|e| format!("cannot create {}: {e}", base.display()))?;
    remove_stale(&base, &runc);
    let rootfs = base.join(format!("rootfs.{}", std::process::id()));
    let script = project_dir().join("scripts/make-rootfs");
    let out = Command::new("sh")
        .arg(&script)
        .arg(&rootfs)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {} failed: {}",
            script.display(),
            rootfs.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if !is_executable(&rootfs.join("bin/busybox")) || !rootfs.join("bin/sh").exists() {
        return Err(format!(
            "rootfs {} has no /bin/busybox or /bin/sh",
            rootfs.display()
        ));
    }
    // SAFETY: registers a plain function to run at process exit.
    unsafe { libc::atexit(remove_rootfs_at_exit) };
    Ok(TestEnv { runc, rootfs })
}

extern "C" fn remove_rootfs_at_exit() {
    let _ = fs::remove_dir_all(test_base().join(format!("rootfs.{}", std::process::id())));
}

/// Removes what earlier, dead test processes left in the base directory
/// (names carry the creating process's pid after the first dot).
fn remove_stale(base: &Path, runc: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.split('.').nth(1).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let dir = e.path();
        cleanup_runtime(runc, &dir.join("state/runtime"));
        let _ = fs::remove_dir_all(&dir);
    }
}

/// Deletes (with force) every container runc still has under `root`.
pub fn cleanup_runtime(runc: &Path, root: &Path) -> Vec<String> {
    if !root.exists() {
        return vec![];
    }
    let Ok(out) = Command::new(runc)
        .arg("--root")
        .arg(root)
        .args(["list", "-q"])
        .output()
    else {
        return vec![];
    };
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    for id in &ids {
        let _ = Command::new(runc)
            .arg("--root")
            .arg(root)
            .args(["delete", "--force", id])
            .output();
    }
    ids
}

pub fn rootfs() -> &'static Path {
    &env().rootfs
}

pub fn runc() -> &'static Path {
    &env().runc
}

/// varlinkctl (systemd >= 257), from /opt/podmon-tools/bin or PATH.
pub fn varlinkctl() -> PathBuf {
    tool("varlinkctl")
}

pub fn socket_activate_bin() -> PathBuf {
    tool("systemd-socket-activate")
}

fn tool(name: &str) -> PathBuf {
    let p = Path::new(TOOLS_BIN).join(name);
    if is_executable(&p) {
        return p;
    }
    // Only a new enough one from PATH: bookworm's systemd 252 has no varlinkctl.
    if let Some(p) = find_executable(name) {
        return p;
    }
    panic!("{name} not found in {TOOLS_BIN} or on PATH: run `sudo scripts/install-deps`");
}
