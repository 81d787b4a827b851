//! `LISTEN_FDNAMES` from the real `systemd-socket-activate --fdname=`:
//! podmon serves the socket named `varlink` wherever it is among the passed
//! descriptors; the others are the file-descriptor store's (closed when
//! no container claims them), never accepted on.

use serde_json::json;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::activate::Activated;

#[test]
fn the_socket_named_varlink_is_served() {
    // fd 3 is pod.sock named "other", fd 4 is varlink.sock named "varlink".
    let a = Activated::start("fdnames", &["--fdname=other:varlink"], &["varlink.sock"]);
    let served = a.dir.join("varlink.sock");
    let mut c = crate::common::Client::connect(&served);
    c.set_read_timeout(Duration::from_secs(20));
    let pod = c.call("io.podmon.Pod.GetPod", json!({})).ok();
    assert_eq!(pod["name"], json!("fdnames"), "{pod}");
    let log = a.log_text();
    assert!(
        log.contains("the Varlink socket is fd 4"),
        "varlink.sock is not the one served:\n{log}"
    );
    assert!(
        log.contains(": other"),
        "the other descriptor is not reported:\n{log}"
    );
    // The other one is not podmon's to serve: a stored descriptor no
    // container claims is closed after re-adoption, so pod.sock refuses.
    let err = UnixStream::connect(&a.socket).expect_err("pod.sock still listens");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
}
