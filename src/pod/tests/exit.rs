//! How the pod ends with its monitor: exit requests and the claims that
//! hold them back, and the two ways `shutdown` leaves the containers.

use std::time::Duration;

use super::fake::Call;
use super::{clean_up, container, on_reactor, pod};
use crate::pod::{ExitRequest, Status, lifecycle};
use crate::reactor::sync;

fn stop(kill_containers: bool) -> ExitRequest {
    ExitRequest::Stop {
        kill_containers,
        grace: Duration::from_secs(1),
    }
}

#[test]
fn a_claim_holds_the_exit_back_and_the_first_request_wins() {
    on_reactor(|| async {
        let (pod, _fake, _bundle) = pod();
        let soon = Duration::from_millis(50);
        assert_eq!(sync::timeout(soon, pod.exit_requested()).await, None);
        // A Shutdown call is stopping the containers; a signal comes.
        let claim = pod.claim_exit(stop(true));
        pod.request_exit(stop(false));
        assert_eq!(
            sync::timeout(soon, pod.exit_requested()).await,
            None,
            "the server must wait for the Shutdown call to end"
        );
        // Dropped (replied, or its client gone): the exit goes ahead, as
        // the first request said.
        let waiting = pod.exit_requested();
        drop(claim);
        assert_eq!(sync::timeout(soon, waiting).await, Some(stop(false)));
        pod.request_exit(stop(true));
        assert_eq!(pod.exit_requested().await, stop(false));
    });
}

#[test]
fn shutdown_without_kill_leaves_containers_and_records() {
    on_reactor(|| async {
        let (pod, fake, bundle) = pod();
        container(&pod, &bundle, "run", true).await;
        container(&pod, &bundle, "made", false).await;
        let calls = fake.calls.borrow().len();
        lifecycle::shutdown(&pod, false, Duration::from_secs(1)).await;
        assert_eq!(fake.calls.borrow().len(), calls, "{:?}", fake.calls);
        assert_eq!(pod.get("run").unwrap().status(), Status::Running);
        assert_eq!(pod.get("made").unwrap().status(), Status::Created);
        let loaded = pod.store.load_all().expect("load");
        assert_eq!(loaded.containers.len(), 2);
        clean_up(&pod).await;
    });
}

#[test]
fn shutdown_with_kill_deletes_every_container() {
    on_reactor(|| async {
        let (pod, fake, bundle) = pod();
        container(&pod, &bundle, "run", true).await;
        container(&pod, &bundle, "made", false).await;
        // The fake's init is a plain `sleep`: SIGTERM ends it.
        lifecycle::shutdown(&pod, true, Duration::from_secs(5)).await;
        assert!(pod.list().is_empty());
        let calls = fake.calls.borrow();
        for id in ["run", "made"] {
            assert!(
                calls
                    .iter()
                    .any(|c| matches!(c, Call::Delete { id: d, .. } if d == id)),
                "{id} not deleted: {calls:?}"
            );
        }
        let loaded = pod.store.load_all().expect("load");
        assert!(loaded.containers.is_empty());
    });
}
