//! Links planted where podmon writes its exit and OOM files are never
//! followed: the files land in the directory, the links' targets keep
//! their contents.

use crate::common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

/// A root-only file outside every directory podmon writes to.
fn victim(pod: &Pod) -> std::path::PathBuf {
    let v = pod.dir.join("victim");
    fs::write(&v, "precious").unwrap();
    fs::set_permissions(&v, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    v
}

#[track_caller]
fn assert_written(dir: &Path, id: &str, contents: &str, victim: &Path) {
    let f = dir.join(id);
    let m = fs::symlink_metadata(&f).unwrap();
    assert!(
        m.file_type().is_file(),
        "{} is not a regular file",
        f.display()
    );
    assert_eq!(fs::read_to_string(&f).unwrap().trim(), contents);
    assert_eq!(
        fs::read_to_string(victim).unwrap(),
        "precious",
        "the target changed"
    );
    assert!(
        !dir.join(format!(".{id}.tmp")).exists(),
        "temporary file left"
    );
}

#[test]
fn links_at_the_exit_file_and_its_temporary_are_not_followed() {
    umask_000();
    let pod = Pod::start("planted-exit");
    let v = victim(&pod);
    // The harness made the exit directory under umask 000: anyone may write in it.
    assert_eq!(mode_of(&pod.exit_dir), 0o777);
    symlink(&v, pod.exit_dir.join(".c1.tmp")).unwrap();
    symlink(&v, pod.exit_dir.join("c1")).unwrap();
    pod.run("c1", &["sh", "-c", "exit 3"]);
    assert_eq!(pod.wait("c1")["exitCode"], json!(3));
    assert_written(&pod.exit_dir, "c1", "3", &v);

    // The exit directory itself swapped for a link: nothing is written.
    let elsewhere = pod.dir.join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    fs::rename(&pod.exit_dir, pod.dir.join("exits.moved")).unwrap();
    symlink(&elsewhere, &pod.exit_dir).unwrap();
    pod.run("c2", &["true"]);
    pod.wait("c2");
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
    assert!(
        pod.server_log_text().contains("container c2: exit file"),
        "{}",
        pod.server_log_text()
    );
}

#[test]
fn links_at_the_oom_file_and_its_temporary_are_not_followed() {
    umask_000();
    let ooms = test_base().join(format!("planted-ooms.{}", std::process::id()));
    let _ = fs::remove_dir_all(&ooms);
    fs::create_dir_all(&ooms).unwrap();
    let pod = Pod::start_with(
        "planted-oom",
        PodOptions {
            extra_args: vec!["--oom-dir".into(), ooms.display().to_string()],
            ..PodOptions::default()
        },
    );
    let v = victim(&pod);
    symlink(&v, ooms.join(".hog.tmp")).unwrap();
    symlink(&v, ooms.join("hog")).unwrap();
    let hog = r#"x=$(head -c 200000000 /dev/zero | tr "\0" a); echo survived ${#x}"#;
    pod.create_with("hog", &["sh", "-c", hog], json!({"memoryMax": 32 << 20}));
    pod.start_container("hog");
    let wr = pod.wait("hog");
    assert_eq!(wr["reason"], json!("OOMKilled"), "{wr}");
    assert_written(&ooms, "hog", "", &v);
    drop(pod);
    let _ = fs::remove_dir_all(&ooms);
}
