//! What the peers bench runs with: its options and sizes, the machine and
//! versions it reports, conmon (installed when missing), private copies
//! of the monitors' binaries, and the one config.json every container of
//! either monitor runs from.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::Result;
use crate::common::RUNC;

/// Debian's conmon, as the package installs it.
pub const CONMON: &str = "/usr/bin/conmon";

/// Command line options: `--quick`, `--json`. cargo adds `--bench`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Opts {
    pub quick: bool,
    pub json: bool,
}

impl Opts {
    pub fn parse() -> Result<Opts> {
        let mut o = Opts::default();
        for a in std::env::args().skip(1) {
            match a.as_str() {
                "--quick" => o.quick = true,
                "--json" => o.json = true,
                "--bench" => {}
                "-h" | "--help" => {
                    println!("usage: cargo bench --bench peers [-- --quick] [--json]");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other:?} (--quick, --json)").into()),
            }
        }
        Ok(o)
    }
}

/// How much of each measurement one run does.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Rounds of the idle ramp (memory and wakeups), per monitor.
    pub mem_rounds: usize,
    /// Container counts of the ramp, ascending.
    pub counts: Vec<usize>,
    /// Counts at which idle wakeups are counted too.
    pub wake_counts: Vec<usize>,
    /// Pods of one container each for the deployment figure (a count
    /// of the ramp, whose conmon figure it reuses).
    pub pods: usize,
    /// Pause after the last create before reading memory.
    pub settle_ms: u64,
    /// Idle window over which wakeups are counted.
    pub wake_window_ms: u64,
    pub log_mib: u64,
    pub log_rounds: usize,
    pub exec_samples: usize,
    pub create_rounds: usize,
    pub exit_rounds: usize,
}

impl Sizes {
    pub fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                mem_rounds: 3,
                counts: vec![1, 5],
                wake_counts: vec![1, 5],
                pods: 5,
                settle_ms: 300,
                wake_window_ms: 1000,
                log_mib: 64,
                log_rounds: 2,
                exec_samples: 10,
                create_rounds: 5,
                exit_rounds: 5,
            }
        } else {
            Sizes {
                mem_rounds: 3,
                counts: vec![1, 10, 100],
                wake_counts: vec![1, 10],
                pods: 10,
                settle_ms: 1000,
                wake_window_ms: 5000,
                log_mib: 1024,
                log_rounds: 3,
                exec_samples: 40,
                create_rounds: 15,
                exit_rounds: 10,
            }
        }
    }
}

/// Installs Debian's conmon when it is missing (as root, with apt-get),
/// so the bench is one command on a fresh machine.
pub fn ensure_conmon() -> Result<()> {
    if Path::new(CONMON).exists() {
        return Ok(());
    }
    eprintln!("peers: {CONMON} is missing; installing Debian's conmon (apt-get install conmon)");
    let st = Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", "conmon"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run apt-get to install conmon: {e}"))?;
    if !st.success() || !Path::new(CONMON).exists() {
        return Err(format!("apt-get install conmon failed ({st}); install it and rerun").into());
    }
    Ok(())
}

/// First line of `prog ARGS`' output, for the versions line.
fn first_line(prog: &Path, args: &[&str]) -> String {
    Command::new(prog)
        .args(args)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Date, machine and versions: the header of the table and of the JSON.
pub fn describe(podmon: &Path) -> Value {
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map_or("unknown".into(), |(_, m)| m.trim().to_owned());
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    serde_json::json!({
        "date": date,
        "kernel": fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "cpu": cpu,
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "memory_mib": mem_kib / 1024,
        "podmon": first_line(podmon, &["--version"]),
        "podmon_binary_bytes": fs::metadata(podmon).map_or(0, |m| m.len()),
        "conmon": first_line(Path::new(CONMON), &["--version"]),
        "runc": first_line(Path::new(RUNC), &["--version"]),
        "loadavg_at_start": fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
    })
}

/// Copies `bin` into `dir` so no page of the monitor's binary is shared
/// with a process outside the bench: Pss then charges the whole binary
/// to the monitors measured (shared libraries stay shared, as deployed).
pub fn private_copy(bin: &Path, dir: &Path) -> Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let name = bin.file_name().ok_or("binary path without a name")?;
    let dst = dir.join(name);
    fs::copy(bin, &dst).map_err(|e| format!("copying {}: {e}", bin.display()))?;
    Ok(dst)
}

/// Writes the bundles: podmon's own config.json for a rootfs container,
/// with only the command and the cgroup path changed, so both monitors
/// run identical containers.
pub struct Bundles {
    template: Value,
    dir: PathBuf,
    cgroup_parent: String,
}

impl Bundles {
    /// `template` is the config.json podmon wrote for a container of the
    /// bench's rootfs.
    pub fn new(template: &Path, dir: &Path) -> Result<Bundles> {
        let text = fs::read(template).map_err(|e| format!("{}: {e}", template.display()))?;
        Ok(Bundles {
            template: serde_json::from_slice(&text)?,
            dir: dir.to_owned(),
            cgroup_parent: format!("/podmon-peers.{}", std::process::id()),
        })
    }

    /// The bundle of container `id` of monitor `who`, running `args`.
    pub fn write(&self, who: &str, id: &str, args: &[String]) -> Result<PathBuf> {
        let mut cfg = self.template.clone();
        cfg["process"]["args"] = serde_json::json!(args);
        cfg["linux"]["cgroupsPath"] = format!("{}/{who}-{id}", self.cgroup_parent).into();
        let bundle = self.dir.join(who).join(id);
        fs::create_dir_all(&bundle)?;
        fs::write(bundle.join("config.json"), serde_json::to_vec(&cfg)?)?;
        Ok(bundle)
    }

    /// The process spec of an exec of `args` in these containers (what
    /// conmon's `--exec-process-spec` takes).
    pub fn process(&self, args: &[&str]) -> Value {
        let mut p = self.template["process"].clone();
        p["args"] = serde_json::json!(args);
        p
    }

    /// Removes the (by now empty) cgroup parents runc made in every
    /// hierarchy; a container cgroup still there means a monitor left a
    /// container behind, which is worth a warning.
    pub fn remove_cgroups(&self) {
        let rel = self.cgroup_parent.trim_start_matches('/');
        let mut dirs: Vec<PathBuf> = fs::read_dir("/sys/fs/cgroup")
            .map(|hs| hs.flatten().map(|h| h.path().join(rel)).collect())
            .unwrap_or_default();
        dirs.push(Path::new("/sys/fs/cgroup").join(rel));
        let mut left: Vec<String> = dirs.iter().flat_map(|d| child_dirs(d)).collect();
        left.sort();
        left.dedup();
        if !left.is_empty() {
            eprintln!("peers: warning: container cgroups left behind: {left:?}");
        }
        for d in &dirs {
            remove_cgroup_tree(d);
        }
    }
}

/// Names of the subdirectories of `dir`.
fn child_dirs(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|es| {
            es.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Cleans up after runs that were interrupted (their scratch directory
/// is still there but their process is gone): deletes their containers
/// with `runc delete --force` (their conmons then exit by themselves;
/// podmon got the same Ctrl-C as the bench), their cgroup parents and
/// their directory.
pub fn clean_stale_runs(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("podmon-peers.") else {
            continue;
        };
        if pid.parse::<u32>().is_err() || Path::new("/proc").join(pid).exists() {
            continue;
        }
        eprintln!("peers: cleaning up after interrupted run {pid}");
        for root in runtime_roots(&e.path(), 3) {
            delete_all(&root);
        }
        let parent = format!("podmon-peers.{pid}");
        if let Ok(hs) = fs::read_dir("/sys/fs/cgroup") {
            for h in hs.flatten() {
                remove_cgroup_tree(&h.path().join(&parent));
            }
        }
        remove_cgroup_tree(&Path::new("/sys/fs/cgroup").join(&parent));
        let _ = fs::remove_dir_all(e.path());
    }
}

/// Directories named `runtime` (runc roots) down to `depth` levels.
fn runtime_roots(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if !e.file_type().is_ok_and(|t| t.is_dir()) || p.ends_with("rootfs") {
            continue;
        }
        if p.ends_with("runtime") {
            out.push(p);
        } else if depth > 1 {
            out.extend(runtime_roots(&p, depth - 1));
        }
    }
    out
}

/// `runc delete --force` of every container under runc root `root`.
fn delete_all(root: &Path) {
    let Ok(list) = Command::new(RUNC)
        .arg("--root")
        .arg(root)
        .args(["list", "-q"])
        .output()
    else {
        return;
    };
    for id in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        let _ = Command::new(RUNC)
            .arg("--root")
            .arg(root)
            .args(["delete", "--force", id])
            .stderr(Stdio::null())
            .status();
    }
}

/// Removes an (empty) cgroup directory and its empty children.
fn remove_cgroup_tree(dir: &Path) {
    if let Ok(children) = fs::read_dir(dir) {
        for c in children.flatten() {
            if c.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = fs::remove_dir(c.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}
