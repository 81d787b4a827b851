//! `holdFds`: kept open by the monitor while the container runs, closed
//! once it has exited; and the errors for bad indices.

use std::os::fd::AsFd;
use std::time::Duration;

use serde_json::json;

use crate::common::*;
use crate::settled_fds;
use crate::{FdClient, create_params, holds_pipe, pipe, read_now, set_nonblocking};

/// Whether the write end of the pipe whose read end is `r` is still open
/// somewhere (EAGAIN) rather than closed everywhere (EOF).
fn writer_open(r: &std::os::fd::OwnedFd) -> bool {
    set_nonblocking(r.as_fd());
    read_now(r.as_fd()).is_err()
}

#[test]
fn held_descriptors_stay_open_until_the_container_exits() {
    let pod = Pod::start("fd-hold");
    let before = settled_fds(pod.pid);
    let (r, w) = pipe();
    let gate = pod.gate("h1");
    let mut c = FdClient::connect(&pod);
    let (reply, _) = c.call(
        CREATE_CONTAINER,
        create_params(
            "h1",
            &["sh", "-c", &gate.script("exit 0")],
            json!({"holdFds": [0]}),
        ),
        &[w.as_fd()],
    );
    assert_eq!(
        reply["parameters"]["container"]["status"], "created",
        "{reply}"
    );
    drop(w);
    // Held by the monitor (the container has no copy).
    assert!(holds_pipe(pod.pid, &r));
    assert!(writer_open(&r));
    pod.start_container("h1");
    std::thread::sleep(Duration::from_millis(300));
    assert!(writer_open(&r), "closed while the container runs");
    assert!(holds_pipe(pod.pid, &r));
    gate.open();
    pod.wait("h1");
    assert!(
        wait_until(Duration::from_secs(5), || !writer_open(&r)),
        "still held after the exit"
    );
    pod.delete("h1", false);
    drop(c);
    assert_fds_back_to(&pod, before, Duration::from_secs(5));
}

#[test]
fn held_descriptors_close_when_a_created_container_is_deleted() {
    let pod = Pod::start("fd-hold-del");
    let before = settled_fds(pod.pid);
    let (r, w) = pipe();
    let mut c = FdClient::connect(&pod);
    let (reply, _) = c.call(
        CREATE_CONTAINER,
        create_params("h2", &["true"], json!({"holdFds": [0]})),
        &[w.as_fd()],
    );
    assert_eq!(
        reply["parameters"]["container"]["status"], "created",
        "{reply}"
    );
    drop(w);
    assert!(writer_open(&r) && holds_pipe(pod.pid, &r));
    pod.delete("h2", true);
    assert!(wait_until(Duration::from_secs(5), || !writer_open(&r)));
    drop(c);
    assert_fds_back_to(&pod, before, Duration::from_secs(5));
}

#[test]
fn bad_indices_are_invalid_values_naming_the_parameter() {
    let pod = Pod::start("fd-bad-index");
    let before = settled_fds(pod.pid);
    let (r, w) = pipe();
    let mut c = FdClient::connect(&pod);
    let cases = [
        (json!({"preserveFds": [1]}), "preserveFds", "index 1"),
        (json!({"holdFds": [-1]}), "holdFds", "index -1"),
        (json!({"preserveFds": [0, 0]}), "preserveFds", "twice"),
        (
            json!({"preserveFds": [0], "holdFds": [0]}),
            "holdFds",
            "twice",
        ),
    ];
    for (extra, parameter, reason) in cases {
        let (reply, _) = c.call(
            CREATE_CONTAINER,
            create_params("bad", &["true"], extra.clone()),
            &[w.as_fd()],
        );
        assert_eq!(reply["error"], INVALID_VALUE, "{extra}: {reply}");
        assert_eq!(reply["parameters"]["parameter"], parameter, "{reply}");
        let why = reply["parameters"]["reason"].as_str().unwrap();
        assert!(why.contains(reason), "{extra}: {why}");
    }
    // Indices without descriptors.
    let (reply, _) = c.call(
        CREATE_CONTAINER,
        create_params("bad", &["true"], json!({"holdFds": [0]})),
        &[],
    );
    assert_eq!(reply["parameters"]["parameter"], "holdFds", "{reply}");
    // Descriptors named by no parameter are closed; the create works.
    let (reply, _) = c.call(
        CREATE_CONTAINER,
        create_params("ok", &["true"], json!({})),
        &[w.as_fd(), w.as_fd()],
    );
    assert_eq!(
        reply["parameters"]["container"]["status"], "created",
        "{reply}"
    );
    drop(w);
    assert!(wait_until(Duration::from_secs(5), || !writer_open(&r)));
    // None of the refused calls made a container.
    let (reply, _) = c.call(GET_CONTAINER, json!({"id": "bad"}), &[]);
    assert_eq!(reply["error"], NO_SUCH_CONTAINER, "{reply}");
    pod.delete("ok", true);
    drop(c);
    assert_fds_back_to(&pod, before, Duration::from_secs(5));
}
