//! Under a service manager that delegated it the unit's cgroup
//! (`Delegate=yes`), podmon moves itself to `UNIT/monitor` and runc puts
//! each container in `UNIT/containers/ID`, in every hierarchy (runc's
//! cgroupfs `cgroupsPath`); otherwise, also when another process shares
//! that cgroup, the containers go to `/podmon/POD/ID`. The test plays
//! systemd: a fake `podmon-itest.slice/podmon@NAME.service` in the
//! hierarchies systemd tracks units with (cgroup2 and `name=systemd`), the
//! server started in it with `INVOCATION_ID` set.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use crate::common::*;

/// The mount points of the hierarchies systemd tracks units with.
fn tracking_mounts() -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let point = left.split_whitespace().nth(4)?;
            let mut r = right.split_whitespace();
            let fstype = r.next()?;
            let opts = r.nth(1).unwrap_or("");
            let systemd = fstype == "cgroup" && opts.split(',').any(|o| o == "name=systemd");
            (fstype == "cgroup2" || systemd).then(|| PathBuf::from(point))
        })
        .collect()
}

/// A unit's cgroup made in those hierarchies; removed with everything
/// under it, in every hierarchy, when dropped.
struct FakeUnit {
    /// `/podmon-itest.slice/podmon@NAME.PID.service`.
    path: String,
}

impl FakeUnit {
    fn make(name: &str) -> FakeUnit {
        let path = format!(
            "/podmon-itest.slice/podmon@{name}-{}.service",
            std::process::id()
        );
        let unit = FakeUnit { path };
        assert!(
            !tracking_mounts().is_empty(),
            "no cgroup2 or name=systemd mount"
        );
        for d in unit.dirs() {
            fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        }
        unit
    }

    /// Its directories in the tracking hierarchies.
    fn dirs(&self) -> Vec<PathBuf> {
        tracking_mounts()
            .iter()
            .map(|m| m.join(self.path.trim_start_matches('/')))
            .collect()
    }
}

/// Removes `dir` and the cgroups under it, deepest first.
fn remove_tree(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

impl Drop for FakeUnit {
    fn drop(&mut self) {
        let Ok(roots) = fs::read_dir("/sys/fs/cgroup") else {
            return;
        };
        let mut all = vec![PathBuf::from("/sys/fs/cgroup")];
        all.extend(roots.flatten().map(|e| e.path()));
        for root in all {
            remove_tree(&root.join(self.path.trim_start_matches('/')));
            let _ = fs::remove_dir(root.join("podmon-itest.slice"));
        }
    }
}

/// The cgroup path of `pid` in the hierarchy whose /proc/PID/cgroup line
/// has `controllers` ("" for cgroup2, "name=systemd", "memory").
fn cgroup_of(pid: u32, controllers: &str) -> String {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    text.lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, c, path) = (f.next()?, f.next()?, f.next()?);
            (c == controllers).then(|| path.to_owned())
        })
        .unwrap_or_else(|| panic!("no {controllers:?} line in:\n{text}"))
}

fn under_unit(unit: &FakeUnit, name: &str) -> Pod {
    Pod::start_with(
        name,
        PodOptions {
            env: vec![(
                "INVOCATION_ID".into(),
                "0123456789abcdef0123456789abcdef".into(),
            )],
            join_cgroups: unit.dirs(),
            ..Default::default()
        },
    )
}

/// The hierarchies to check: cgroup2's line and, on a hybrid or legacy
/// host, name=systemd's and memory's.
fn hierarchies(pid: u32) -> Vec<&'static str> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    ["", "name=systemd", "memory"]
        .into_iter()
        .filter(|c| text.lines().any(|l| l.split(':').nth(1) == Some(c)))
        .collect()
}

#[test]
fn containers_go_under_the_units_cgroup() {
    let unit = FakeUnit::make("cg");
    let pod = under_unit(&unit, "cg");
    for h in hierarchies(pod.pid) {
        if h != "memory" {
            assert_eq!(
                cgroup_of(pod.pid, h),
                format!("{}/monitor", unit.path),
                "{h:?}"
            );
        }
    }
    let c = pod.run("c", &["sleep", "100"]);
    let pid = c["pid"].as_u64().expect("a pid") as u32;
    for h in hierarchies(pid) {
        assert_eq!(
            cgroup_of(pid, h),
            format!("{}/containers/c", unit.path),
            "{h:?}"
        );
    }
    assert!(
        pod.server_log_text().contains("running as systemd unit"),
        "{}",
        pod.server_log_text()
    );
    pod.delete("c", true);
}

/// Another process in the cgroup: not podmon's unit (an engine's service
/// that started it), so nothing moves and the containers go to /podmon.
#[test]
fn a_shared_cgroup_is_left_alone() {
    let unit = FakeUnit::make("cg-shared");
    let mut other: Child = Command::new("sleep").arg("60").spawn().unwrap();
    for d in unit.dirs() {
        fs::write(d.join("cgroup.procs"), other.id().to_string()).unwrap();
    }
    let pod = under_unit(&unit, "cg-shared");
    assert_eq!(cgroup_of(pod.pid, hierarchies(pod.pid)[0]), unit.path);
    let c = pod.run("c", &["sleep", "100"]);
    let pid = c["pid"].as_u64().expect("a pid") as u32;
    assert_eq!(
        cgroup_of(pid, hierarchies(pid)[0]),
        format!("/podmon/{}/c", pod.name)
    );
    pod.delete("c", true);
    drop(pod);
    let _ = other.kill();
    let _ = other.wait();
}
