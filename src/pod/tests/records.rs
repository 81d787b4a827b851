//! The operations keep each container's state record current: what a new
//! monitor would find after each step.

use super::{container, on_reactor, pod};
use crate::logs::ratelimit::{Limit, Policy};
use crate::pod::state::{ContainerRecord, ExitReason, pidstat};
use crate::pod::{Pod, Status, lifecycle};

/// The one container record in the pod's state directory.
fn only_record(pod: &Pod) -> ContainerRecord {
    let loaded = pod.store.load_all().expect("load");
    assert!(loaded.skipped.is_empty(), "{:?}", loaded.skipped);
    match <[ContainerRecord; 1]>::try_from(loaded.containers) {
        Ok([r]) => r,
        Err(all) => panic!("expected one record, got {all:?}"),
    }
}

#[test]
fn records_follow_create_start_limit_exit_and_delete() {
    on_reactor(|| async {
        let (pod, _fake, bundle) = pod();
        container(&pod, &bundle, "c1", false).await;
        let c = pod.get("c1").unwrap();
        let r = only_record(&pod);
        assert_eq!((r.id.as_str(), r.status), ("c1", Status::Created));
        let pid = r.pid.expect("pid");
        assert_eq!(pid, c.settings.pid);
        assert_eq!(r.pid_start_time, Some(pidstat::start_time(pid).unwrap()));
        assert_eq!((r.started_at, r.exit), (None, None));
        assert_eq!(r.bundle, bundle);

        lifecycle::start(&pod, "c1").await.expect("start");
        let r = only_record(&pod);
        assert_eq!(r.status, Status::Running);
        assert_eq!(r.started_at, c.state.borrow().started_at);

        let limit = Limit {
            bytes_per_second: 2048,
            burst: 4096,
            policy: Policy::Drop,
        };
        lifecycle::set_log_limit(&pod, &c, Some(limit));
        assert_eq!(only_record(&pod).log.limit, Some(limit));

        lifecycle::kill(&pod, "c1", libc::SIGKILL, false)
            .await
            .expect("kill");
        lifecycle::wait(&pod, "c1").await.expect("wait");
        let r = only_record(&pod);
        assert_eq!(r.status, Status::Stopped);
        let exit = r.exit.expect("exit");
        assert_eq!((exit.code, exit.signal), (None, Some(libc::SIGKILL)));
        assert_eq!((exit.reason, exit.oom_killed), (ExitReason::Error, false));
        assert_eq!(r.finished_at, c.state.borrow().finished_at);

        lifecycle::delete(&pod, "c1", false).await.expect("delete");
        let loaded = pod.store.load_all().expect("load");
        assert!(loaded.containers.is_empty() && loaded.skipped.is_empty());
    });
}
