//! Modes under umask 000: the socket 0600, the directories podmon makes
//! 0700 and its state files 0600; wider only for the peers allowed in.

use crate::common::*;
use std::os::unix::fs::MetadataExt;

#[test]
fn umask_000_still_gives_a_0600_socket_and_0700_directories() {
    umask_000();
    let pod = Pod::start("modes-umask");
    assert_eq!(mode_of(&pod.socket), 0o600, "socket");
    assert_eq!(mode_of(&pod.state_dir), 0o700, "state directory");
    for sub in ["runtime", "containers"] {
        assert_eq!(mode_of(&pod.state_dir.join(sub)), 0o700, "STATE/{sub}");
    }
    assert_eq!(mode_of(&pod.state_dir.join("monitor.lock")), 0o600);
    pod.run("c1", &["true"]);
    pod.wait("c1");
    let cdir = pod.state_dir.join("containers/c1");
    assert_eq!(mode_of(&cdir), 0o700, "container directory");
    assert_eq!(mode_of(&cdir.join("config.json")), 0o600, "config.json");
    assert_eq!(mode_of(&cdir.join("state.json")), 0o600, "state.json");
    assert_eq!(mode_of(&pod.state_dir.join("pod.json")), 0o600, "pod.json");
    // Exit files say nothing secret: 0644, whatever the umask.
    assert_eq!(mode_of(&pod.exit_dir.join("c1")), 0o644, "exit file");
    // No socket staging directory is left next to the socket.
    let names: Vec<String> = std::fs::read_dir(&pod.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(names.is_empty(), "leftovers: {names:?}");
}

#[test]
fn directories_podmon_creates_for_the_engine_are_0700() {
    umask_000();
    // The harness makes the log and exit directories; --oom-dir is new.
    let base = test_base().join(format!("modes-oom.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let ooms = base.join("new/ooms");
    let pod = Pod::start_with(
        "modes-new-dir",
        PodOptions {
            extra_args: vec!["--oom-dir".into(), ooms.display().to_string()],
            ..PodOptions::default()
        },
    );
    assert_eq!(mode_of(&ooms), 0o700);
    assert_eq!(mode_of(&base.join("new")), 0o700, "missing parents too");
    drop(pod);
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn an_allowed_group_shares_the_socket_and_an_allowed_uid_opens_it() {
    umask_000();
    let pod = Pod::start_with(
        "modes-group",
        PodOptions {
            extra_args: vec!["--read-only-gid".into(), NOBODY.to_string()],
            ..PodOptions::default()
        },
    );
    assert_eq!(mode_of(&pod.socket), 0o660);
    assert_eq!(std::fs::metadata(&pod.socket).unwrap().gid(), NOBODY);
    assert_eq!(mode_of(&pod.state_dir), 0o700, "the state is root's alone");

    let pod = Pod::start_with(
        "modes-uid",
        PodOptions {
            extra_args: vec!["--allow-uid".into(), NOBODY.to_string()],
            ..PodOptions::default()
        },
    );
    // A socket cannot be opened for one uid only: the peer check is the gate.
    assert_eq!(mode_of(&pod.socket), 0o666);
    assert_eq!(mode_of(&pod.state_dir), 0o700);
}
