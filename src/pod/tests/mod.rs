//! The pod's operations against a fake runtime, without root: the state
//! rules (what created / running / stopped containers allow) as the
//! operations apply them, and what the operations ask of the runtime.

mod exit;
mod fake;
mod hangup;
mod ids;
mod records;

use std::future::Future;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};

use self::fake::{Call, FakeRuntime};
use super::exec::{self, ExecSpec};
use super::lifecycle::{self, CreateRequest, LogOptions, Source};
use super::status::State;
use super::{Pod, PodConfig, PodError, Status, status::Operation};
use crate::logs::driver::DriverKind;
use crate::oci::runtime::Runtime;
use crate::reactor::{self, Backend};

/// Runs `body` on a fresh reactor thread (epoll: no io_uring needed).
pub(crate) fn on_reactor<F, Fut>(body: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let ran = std::thread::spawn(move || {
        reactor::init_with(Backend::Epoll, 64).expect("epoll");
        reactor::run(async move {
            body().await;
            reactor::stop();
        })
        .expect("run");
    })
    .join();
    if let Err(p) = ran {
        std::panic::resume_unwind(p);
    }
}

/// A pod in a fresh temporary directory, driven by a fake runtime, with a
/// bundle at `<dir>/bundle`.
fn pod() -> (Rc<Pod>, Rc<FakeRuntime>, PathBuf) {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("podmon-pod-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bundle = dir.join("bundle");
    std::fs::create_dir_all(&bundle).expect("mkdir");
    std::fs::write(
        bundle.join("config.json"),
        r#"{"process":{"terminal":false}}"#,
    )
    .expect("config.json");
    let config = PodConfig {
        name: "test".into(),
        runtime: Runtime::new("/nonexistent/fake".into(), dir.join("runtime")),
        state_dir: dir.join("state"),
        log_dir: dir.join("logs"),
        journal_socket: dir.join("journal.socket"),
        exit_dir: None,
        oom_dir: None,
        notifier: Rc::new(crate::sys::sdnotify::Notifier::none()),
        cgroup_parent: "/podmon/test".into(),
    };
    std::fs::create_dir_all(&config.state_dir).expect("mkdir state");
    let fake = Rc::new(FakeRuntime::default());
    let pod = Pod::with_driver(config, fake.clone()).expect("the event journal opens");
    (pod, fake, bundle)
}

fn request(id: &str, bundle: &std::path::Path) -> CreateRequest {
    CreateRequest {
        id: id.into(),
        source: Source::Bundle(bundle.to_owned()),
        log: LogOptions {
            driver: DriverKind::None,
            ..Default::default()
        },
        stdin: false,
        stdin_once: false,
        terminal: false,
        console_size: None,
        own_namespaces: vec![],
        join_pod: false,
    }
}

/// Creates `id` and, with `start`, starts it.
async fn container(pod: &Rc<Pod>, bundle: &std::path::Path, id: &str, start: bool) {
    lifecycle::create(pod, request(id, bundle), Default::default())
        .await
        .expect("create");
    if start {
        lifecycle::start(pod, id).await.expect("start");
    }
}

/// The reason of an InvalidState error, failing on anything else.
fn refused<T>(r: Result<T, PodError>, status: Status) -> String {
    match r {
        Err(PodError::InvalidState {
            status: s, reason, ..
        }) => {
            assert_eq!(s, status);
            reason
        }
        Err(e) => panic!("expected InvalidState, got {e}"),
        Ok(_) => panic!("expected InvalidState, got success"),
    }
}

fn spec(command: &[&str]) -> ExecSpec {
    ExecSpec {
        command: command.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// Kills what is left so the loop can end.
async fn clean_up(pod: &Rc<Pod>) {
    for c in pod.list() {
        lifecycle::delete(pod, &c.id, true)
            .await
            .expect("delete --force");
    }
}

#[test]
fn rules_by_status() {
    use Status::*;
    assert!(Created.can_start() && !Running.can_start() && !Stopped.can_start());
    assert!(!Created.can_exec() && Running.can_exec() && !Stopped.can_exec());
    assert!(Created.can_attach() && Running.can_attach() && !Stopped.can_attach());
    assert!(Created.can_delete(false) && Stopped.can_delete(false));
    assert!(!Running.can_delete(false) && Running.can_delete(true));
    assert!(Created.delete_kills() && Running.delete_kills() && !Stopped.delete_kills());
    let state = |status, exit| State {
        status,
        process: None,
        started_at: None,
        finished_at: None,
        exit,
        oom_killed: false,
        starting: false,
    };
    let exited = Some(crate::sys::process::ExitInfo::UNKNOWN);
    // Exited but still draining its output: no signals, no exec.
    let draining = state(Running, exited);
    assert_eq!(
        draining.refuses(Operation::Kill),
        Some("its process has exited")
    );
    assert!(draining.refuses(Operation::Exec).is_some());
    assert_eq!(draining.refuses(Operation::Attach), None);
    let starting = State {
        starting: true,
        ..state(Created, None)
    };
    assert_eq!(
        starting.refuses(Operation::Start),
        Some("it is being started")
    );
    let stopped = state(Stopped, exited);
    assert_eq!(stopped.refuses(Operation::Delete { force: false }), None);
}

#[test]
fn start_twice_is_refused() {
    on_reactor(|| async {
        let (pod, fake, bundle) = pod();
        container(&pod, &bundle, "c1", false).await;
        assert_eq!(pod.get("c1").unwrap().status(), Status::Created);
        lifecycle::start(&pod, "c1").await.expect("start");
        assert_eq!(pod.get("c1").unwrap().status(), Status::Running);
        let why = refused(lifecycle::start(&pod, "c1").await, Status::Running);
        assert_eq!(why, "only a created container can be started");
        let starts = fake
            .calls
            .borrow()
            .iter()
            .filter(|c| matches!(c, Call::Start(_)))
            .count();
        assert_eq!(starts, 1, "the runtime is not asked twice");
        clean_up(&pod).await;
    });
}

#[test]
fn exec_needs_a_running_container() {
    on_reactor(|| async {
        let (pod, fake, bundle) = pod();
        container(&pod, &bundle, "c1", false).await;
        let why = refused(
            exec::spawn_exec(&pod, "c1", &spec(&["true"]), false, None).await,
            Status::Created,
        );
        assert_eq!(why, "exec needs a running container");
        lifecycle::start(&pod, "c1").await.expect("start");
        let out = exec::exec_sync(&pod, "c1", &spec(&["echo", "hi"]), None, 1024)
            .await
            .expect("exec_sync");
        assert_eq!(out.stdout, b"hi\n");
        assert_eq!(out.status.code, Some(0));
        assert!(fake.calls.borrow().contains(&Call::Exec("c1".into())));
        lifecycle::kill(&pod, "c1", libc::SIGKILL, false)
            .await
            .expect("kill");
        lifecycle::wait(&pod, "c1").await.expect("wait");
        let why = refused(
            exec::spawn_exec(&pod, "c1", &spec(&["true"]), false, None).await,
            Status::Stopped,
        );
        assert_eq!(why, "exec needs a running container");
        clean_up(&pod).await;
    });
}

#[test]
fn delete_of_a_running_container_needs_force() {
    on_reactor(|| async {
        let (pod, fake, bundle) = pod();
        container(&pod, &bundle, "c1", true).await;
        let why = refused(lifecycle::delete(&pod, "c1", false).await, Status::Running);
        assert_eq!(why, "stop it first, or delete with force");
        assert!(pod.get("c1").is_ok(), "still there");
        lifecycle::delete(&pod, "c1", true).await.expect("force");
        assert!(matches!(pod.get("c1"), Err(PodError::NoSuchContainer(_))));
        let deletes: Vec<_> = fake
            .calls
            .borrow()
            .iter()
            .filter(|c| matches!(c, Call::Delete { .. }))
            .cloned()
            .collect();
        assert_eq!(
            deletes,
            [Call::Delete {
                id: "c1".into(),
                force: true
            }]
        );
    });
}

#[test]
fn kill_after_exit_is_refused() {
    on_reactor(|| async {
        let (pod, fake, bundle) = pod();
        container(&pod, &bundle, "c1", true).await;
        lifecycle::kill(&pod, "c1", libc::SIGTERM, false)
            .await
            .expect("kill");
        let c = lifecycle::wait(&pod, "c1").await.expect("wait");
        assert_eq!(
            c.state.borrow().exit.and_then(|e| e.signal),
            Some(libc::SIGTERM)
        );
        let why = refused(
            lifecycle::kill(&pod, "c1", libc::SIGTERM, false).await,
            Status::Stopped,
        );
        assert_eq!(why, "its process has exited");
        // `all` goes through the runtime; refused the same way.
        refused(lifecycle::kill(&pod, "c1", 9, true).await, Status::Stopped);
        assert!(
            !fake
                .calls
                .borrow()
                .iter()
                .any(|c| matches!(c, Call::Kill { .. }))
        );
        clean_up(&pod).await;
    });
}

#[test]
fn kill_all_goes_through_the_runtime() {
    on_reactor(|| async {
        let (pod, fake, bundle) = pod();
        container(&pod, &bundle, "c1", true).await;
        lifecycle::kill(&pod, "c1", libc::SIGKILL, true)
            .await
            .expect("kill --all");
        let kill = Call::Kill {
            id: "c1".into(),
            signal: libc::SIGKILL,
            all: true,
        };
        assert!(fake.calls.borrow().contains(&kill));
        lifecycle::wait(&pod, "c1").await.expect("wait");
        clean_up(&pod).await;
    });
}

#[test]
fn delete_of_a_stopped_container_asks_the_runtime_what_it_knows() {
    on_reactor(|| async {
        let (pod, fake, bundle) = pod();
        for id in ["gone", "kept"] {
            container(&pod, &bundle, id, true).await;
            lifecycle::kill(&pod, id, libc::SIGKILL, false)
                .await
                .expect("kill");
            lifecycle::wait(&pod, id).await.expect("wait");
        }
        fake.delete_fails.set(true);
        // The runtime failed but keeps no record: the delete succeeds,
        // whatever the runtime's message said.
        fake.forgets.set(true);
        lifecycle::delete(&pod, "gone", false)
            .await
            .expect("forgotten by the runtime");
        assert!(pod.get("gone").is_err());
        // It failed and still knows the container: the error is reported.
        fake.forgets.set(false);
        match lifecycle::delete(&pod, "kept", false).await {
            Err(PodError::Runtime(f)) => assert_eq!(f.command, "delete"),
            other => panic!("expected the runtime's error, got {other:?}"),
        }
        assert!(pod.get("kept").is_ok());
        assert!(fake.calls.borrow().contains(&Call::State("kept".into())));
        fake.delete_fails.set(false);
        clean_up(&pod).await;
    });
}
