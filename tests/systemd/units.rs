//! `systemd-analyze verify` of contrib/systemd's units, with systemd 252
//! (the host's) and 257 (scripts/install-varlinkctl's), failing on any
//! warning. `verify` wants ExecStart's binary to exist, so a copy of the
//! units points it at the built podmon.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{TOOLS_BIN, podmon_bin, project_dir, test_base};

/// The systemd-analyze binaries there are; at least one must be.
fn analyzers() -> Vec<PathBuf> {
    let found: Vec<PathBuf> = [
        Path::new("/usr/bin/systemd-analyze").to_owned(),
        Path::new(TOOLS_BIN).join("systemd-analyze"),
    ]
    .into_iter()
    .filter(|p| p.exists())
    .collect();
    assert!(
        !found.is_empty(),
        "no systemd-analyze: install systemd or run scripts/install-varlinkctl"
    );
    found
}

/// The units copied to a fresh directory, ExecStart on the built binary.
fn units_copy(name: &str) -> PathBuf {
    let dir = test_base().join(format!("units-{name}.{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    for unit in ["podmon@.service", "podmon@.socket"] {
        let text = fs::read_to_string(project_dir().join("contrib/systemd").join(unit)).unwrap();
        let text = text.replace("/usr/local/bin/podmon", &podmon_bin().display().to_string());
        fs::write(dir.join(unit), text).unwrap();
    }
    dir
}

/// Runs `verify` on an instance of both units; returns its output.
fn verify(analyze: &Path, dir: &Path) -> (bool, String) {
    let out = Command::new(analyze)
        .arg("verify")
        .arg(dir.join("podmon@web.service"))
        .arg(dir.join("podmon@web.socket"))
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn units_verify_without_a_warning() {
    let dir = units_copy("clean");
    let service = fs::read_to_string(dir.join("podmon@.service")).unwrap();
    for line in [
        "Type=notify",
        "Delegate=yes",
        "FileDescriptorStoreMax=4096",
        "WatchdogSec=30s",
        "KillMode=process",
    ] {
        assert!(service.lines().any(|l| l == line), "no {line} in the unit");
    }
    for analyze in analyzers() {
        let (ok, text) = verify(&analyze, &dir);
        assert!(ok && text.is_empty(), "{}:\n{text}", analyze.display());
    }
    let _ = fs::remove_dir_all(&dir);
}

/// The check above means something: verify does complain of a bad line.
#[test]
fn verify_reports_a_bad_line() {
    let dir = units_copy("bad");
    let path = dir.join("podmon@.service");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(
        &path,
        text.replace("KillMode=process", "KillMode=process\nNoSuchKey=1"),
    )
    .unwrap();
    for analyze in analyzers() {
        let (_, text) = verify(&analyze, &dir);
        assert!(text.contains("NoSuchKey"), "{}:\n{text}", analyze.display());
    }
    let _ = fs::remove_dir_all(&dir);
}
