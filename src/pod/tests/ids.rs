//! An id no container could have is InvalidValue naming the id, in every
//! operation, before anything is looked up or asked of the runtime.

use super::fake::Call;
use super::*;
use crate::pod::Field;

fn is_invalid_id<T>(r: Result<T, PodError>) -> bool {
    matches!(
        r,
        Err(PodError::InvalidValue {
            field: Field::Id,
            ..
        })
    )
}

#[test]
fn an_impossible_id_is_invalid_value_in_every_operation() {
    on_reactor(|| async {
        let (pod, fake, bundle) = pod();
        container(&pod, &bundle, "c1", true).await;
        for id in ["../x", "", ".c1", "c1/..", "c 1"] {
            assert!(is_invalid_id(pod.get(id)), "get {id:?}");
            assert!(
                is_invalid_id(lifecycle::start(&pod, id).await),
                "start {id:?}"
            );
            let killed = lifecycle::kill(&pod, id, libc::SIGTERM, false).await;
            assert!(is_invalid_id(killed), "kill {id:?}");
            assert!(
                is_invalid_id(lifecycle::wait(&pod, id).await),
                "wait {id:?}"
            );
            let deleted = lifecycle::delete(&pod, id, true).await;
            assert!(is_invalid_id(deleted), "delete {id:?}");
            let spec = ExecSpec {
                command: vec!["true".into()],
                ..ExecSpec::default()
            };
            let spawned = exec::spawn_exec(&pod, id, &spec, false, None).await;
            assert!(is_invalid_id(spawned.map(|_| ())), "exec {id:?}");
        }
        // A well-formed id of no container is still "no such container".
        assert!(matches!(
            pod.get("ghost"),
            Err(PodError::NoSuchContainer(_))
        ));
        // The runtime was asked nothing for any of them.
        let calls = fake.calls.borrow();
        assert!(
            calls.iter().all(|c| !matches!(c, Call::Delete { .. })),
            "{calls:?}"
        );
        drop(calls);
        assert_eq!(pod.get("c1").unwrap().status(), Status::Running);
    });
}
